//! Active health checks of static backends: a TCP connect every two seconds, and a
//! backend that fails twice in a row is taken out until it answers again. (Replicas of
//! services are checked by the supervisor, which publishes only ready ones.)

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::Balancer;

impl Balancer {
    /// Actively checks static backends with a TCP connect every two seconds; one that
    /// fails twice in a row is taken out until it answers again.
    pub(super) fn start_backend_checks(self: &Arc<Self>) {
        let mut addrs: Vec<String> = self.spec.backends.clone();
        for r in &self.spec.routes {
            addrs.extend(r.backends.iter().cloned());
        }
        addrs.sort();
        addrs.dedup();
        if addrs.is_empty() {
            return;
        }
        let lb = Arc::downgrade(self);
        let mut stopped = self.stop.subscribe();
        tokio::spawn(async move {
            let mut failures: std::collections::HashMap<String, u32> =
                std::collections::HashMap::new();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = stopped.changed() => return,
                }
                let Some(lb) = lb.upgrade() else { return };
                for a in &addrs {
                    let ok = matches!(
                        tokio::time::timeout(
                            Duration::from_secs(1),
                            tokio::net::TcpStream::connect(a)
                        )
                        .await,
                        Ok(Ok(_))
                    );
                    let f = failures.entry(a.clone()).or_default();
                    *f = if ok { 0 } else { *f + 1 };
                    let st = lb.stats(a);
                    let was_down = st.down.swap(*f >= 2, Ordering::Relaxed);
                    if was_down != (*f >= 2) {
                        tracing::info!(balancer = %lb.name, backend = %a, up = ok, "Static backend changed health.");
                    }
                }
            }
        });
    }
}
