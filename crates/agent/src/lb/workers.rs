//! The balancers' data plane: one single-threaded tokio runtime per core
//! (`terrane-lb-N` threads) that client connections are handed to, and [`Drain`], which
//! tells one worker's connections to finish their request in flight and close.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

/// The balancers' data plane: one single-threaded runtime per core. Each client
/// connection lives on one of them, together with the backend connections its requests
/// use (every worker has its own pool), so a request never hops between threads.
pub(super) struct Workers {
    pub(super) handles: Vec<tokio::runtime::Handle>,
}

pub(super) fn workers() -> &'static Workers {
    static WORKERS: OnceLock<Workers> = OnceLock::new();
    WORKERS.get_or_init(|| {
        let n = std::env::var("TERRANE_LB_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let handles = (0..n)
            .filter_map(|i| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                let handle = rt.handle().clone();
                std::thread::Builder::new()
                    .name(format!("terrane-lb-{i}"))
                    .spawn(move || rt.block_on(std::future::pending::<()>()))
                    .ok()?;
                Some(handle)
            })
            .collect();
        Workers { handles }
    })
}

/// The data-plane workers, for sizing per-worker state.
pub(super) fn worker_count() -> usize {
    workers().handles.len().max(1)
}

/// Tells one worker's client connections to drain. A connection registers its task's
/// waker once and then reads one flag each time it is polled, so the stop signal costs a
/// request nothing (a `watch` receiver polled beside every connection took a lock on
/// each poll).
#[derive(Default)]
pub(super) struct Drain {
    stopped: AtomicBool,
    next_id: AtomicU64,
    wakers: std::sync::Mutex<std::collections::HashMap<u64, std::task::Waker>>,
}

impl Drain {
    pub(super) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, w) in wakers {
            w.wake();
        }
    }

    /// Polls `conn` until it finishes (true) or a stop is asked for (false).
    pub(super) async fn run_until_stopped<F: std::future::Future>(
        &self,
        mut conn: std::pin::Pin<&mut F>,
    ) -> bool {
        /// Takes the connection's waker off the list however the wait ends, also when
        /// the task is dropped in the middle of it.
        struct Registration<'d> {
            drain: &'d Drain,
            id: u64,
            waker: Option<std::task::Waker>,
        }
        impl Drop for Registration<'_> {
            fn drop(&mut self) {
                if self.waker.is_some() {
                    self.drain
                        .wakers
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&self.id);
                }
            }
        }
        let mut registration = Registration {
            drain: self,
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            waker: None,
        };
        std::future::poll_fn(|cx| {
            if conn.as_mut().poll(cx).is_ready() {
                return std::task::Poll::Ready(true);
            }
            let r = &mut registration;
            if !r.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                let w = cx.waker().clone();
                self.wakers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(r.id, w.clone());
                r.waker = Some(w);
            }
            // After registering: a stop either is seen here or wakes this task.
            if self.stopped.load(Ordering::SeqCst) {
                return std::task::Poll::Ready(false);
            }
            std::task::Poll::Pending
        })
        .await
    }
}
