//! The state writer: a thread that owns a second handle to the state backend and
//! commits changes for the apply walk.
//!
//! Operations that finish at about the same time are committed together in one
//! transaction (group commit), and the walk keeps running other operations while a
//! commit is under way. A caller's `write` returns only once its changes are durable,
//! so the apply invariant — a change reported done is in state — still holds.

use std::thread::JoinHandle;
use std::time::Instant;

use terrane_state::{Backend, Change};
use tokio::sync::{mpsc, oneshot};

/// The most changes committed in one transaction.
const MAX_BATCH: usize = 1024;

type Ack = oneshot::Sender<Result<u64, WriteError>>;

/// Why changes were not recorded. Every operation of a group commit hears the same
/// error, so the backend's error travels shared.
#[derive(Clone, Debug, thiserror::Error)]
pub enum WriteError {
    /// The writer thread is gone (it could not start, or it panicked).
    #[error("the state writer has stopped")]
    Stopped,
    /// The backend refused or failed the write.
    #[error("{0}")]
    State(std::sync::Arc<terrane_state::StateError>),
}

pub struct Writer {
    tx: Option<mpsc::UnboundedSender<(Vec<Change>, Ack)>>,
    thread: Option<JoinHandle<Option<u64>>>,
}

impl Writer {
    /// Starts the writer on `backend`; the serial is begun with `operation` at the first write.
    pub fn start(backend: Box<dyn Backend>, operation: &'static str) -> Writer {
        let (tx, rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("terrane-state-writer".into())
            .spawn(move || run(backend, rx, operation))
            .ok();
        Writer {
            tx: Some(tx),
            thread,
        }
    }

    /// Commits `changes`; returns the serial they were written under.
    pub async fn write(&self, changes: Vec<Change>) -> Result<u64, WriteError> {
        let (ack, done) = oneshot::channel();
        let tx = self.tx.as_ref().ok_or(WriteError::Stopped)?;
        tx.send((changes, ack)).map_err(|_| WriteError::Stopped)?;
        done.await.map_err(|_| WriteError::Stopped)?
    }

    /// Waits for every pending write and returns the serial written, if any.
    pub fn finish(mut self) -> Option<u64> {
        self.tx.take();
        self.thread.take().and_then(|t| t.join().ok()).flatten()
    }
}

fn run(
    mut backend: Box<dyn Backend>,
    mut rx: mpsc::UnboundedReceiver<(Vec<Change>, Ack)>,
    operation: &str,
) -> Option<u64> {
    let mut serial: Option<u64> = None;
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let mut changes = Vec::new();
        let mut acks = Vec::with_capacity(batch.len());
        for (c, ack) in batch {
            changes.extend(c);
            acks.push(ack);
        }
        let started = Instant::now();
        let result = (|| {
            let s = match serial {
                Some(s) => s,
                None => {
                    let s = backend.begin(operation)?;
                    serial = Some(s);
                    s
                }
            };
            backend.write(s, &changes)?;
            Ok(s)
        })()
        .map_err(|e| WriteError::State(std::sync::Arc::new(e)));
        tracing::debug!(
            rows = changes.len(),
            operations = acks.len(),
            micros = started.elapsed().as_micros() as u64,
            "state write"
        );
        for ack in acks {
            let _ = ack.send(result.clone());
        }
    }
    serial
}
