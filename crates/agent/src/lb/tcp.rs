//! TCP mode: a balancer with `protocol = "tcp"` forwards whole connections, copying
//! bytes both ways between the client and a backend.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Balancer;

impl Balancer {
    /// TCP mode: connect to a backend (trying another when the connect fails) and copy
    /// bytes both ways until either side closes.
    pub(super) async fn forward_tcp(&self, mut client: tokio::net::TcpStream, worker: usize) {
        let shard = &self.shards[worker];
        shard.requests.fetch_add(1, Ordering::Relaxed);
        let table = shard
            .table
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut tried: Option<&str> = None;
        for _ in 0..2 {
            let Some(b) = self.pick(&table.default, tried, worker) else {
                break;
            };
            let connect = tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect(&b.addr),
            )
            .await;
            match connect {
                Ok(Ok(mut backend)) => {
                    self.record(b, true);
                    let _ = backend.set_nodelay(true);
                    let lane = b.stats.lane(worker);
                    lane.requests.fetch_add(1, Ordering::Relaxed);
                    lane.in_flight.fetch_add(1, Ordering::Relaxed);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
                    lane.in_flight.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
                _ => {
                    self.record(b, false);
                    tried = Some(&b.addr);
                }
            }
        }
        shard.failed.fetch_add(1, Ordering::Relaxed);
    }
}
