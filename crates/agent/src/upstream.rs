//! Keep-alive connections from the load balancer to its backends.
//!
//! A backend connection has no task of its own. Whoever uses it drives it: the request
//! future while it waits for the response head, then the response body as the client
//! connection's task streams it out. So a proxied request runs start to finish in the
//! one task that serves the client connection, with no hand-off between tasks, no
//! shared pool lock and no per-request allocation for the pool.
//!
//! Each data-plane worker keeps its own idle connections per backend ([`Idle`]); a
//! connection is used by one request at a time and returns to its worker's list when
//! its response body has been read to the end. One whose response was cut short is
//! dropped instead, and one the backend closed is dropped when it is next taken.
//!
//! The task is woken only when it has something to do: the request arriving and the
//! response arriving. Checks that never wait are made with a waker that does nothing,
//! and while a request waits for its response head the connection is driven through a
//! [`Relay`], so the late wake-ups hyper leaves behind go nowhere.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::lb::ProxyBody;

/// How long a backend connection may sit idle before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting to a backend may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One HTTP/1.1 connection to a backend.
pub struct Conn {
    send: http1::SendRequest<ProxyBody>,
    io: http1::Connection<TokioIo<tokio::net::TcpStream>, ProxyBody>,
    idle_since: Instant,
    /// The relay, and the waker made of it once that the connection is driven with
    /// while a request waits for its head.
    relay: Arc<Relay>,
    relay_waker: std::task::Waker,
}

/// Passes wake-ups on to the task of the request waiting for its response head, and
/// drops them once the head is in.
///
/// hyper hands a response body's channel the last waker the connection was driven
/// with, and calls it when the body is read, even when the connection finished with
/// the body long before (a small response arrives whole with its head). With the
/// task's own waker, reading such a body would make the task poll both of its
/// connections once more for nothing; through a disarmed relay the call goes nowhere.
/// Whatever still matters is registered again with the task's own waker the next
/// time the body is read ([`ResponseBody`]) or the connection is used.
///
/// The waiting task is armed again each time the request is polled, so a wake-up may
/// use its waker up; disarming takes it out, so an idle connection does not keep a
/// finished request's task alive either.
#[derive(Default)]
struct Relay {
    /// The waiting request's task; none once the head is in (the relay is disarmed).
    task: AtomicWaker,
}

impl std::task::Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.task.wake();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.task.wake();
    }
}

/// Why a request to a backend failed.
#[derive(Debug)]
pub enum Failure {
    Connect(String),
    Http(hyper::Error),
    /// The backend closed the connection before it answered.
    Closed,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "cannot connect: {e}"),
            Failure::Http(e) => write!(f, "{e}"),
            Failure::Closed => f.write_str("the backend closed the connection before it answered"),
        }
    }
}

impl Conn {
    /// Boxed: a connection is large, and it moves between the idle list, the request
    /// future and the response body, which would otherwise all be sized for it.
    pub async fn open(addr: &str) -> Result<Box<Conn>, Failure> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| Failure::Connect(format!("timed out after {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| Failure::Connect(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (send, io) = http1::Builder::new()
            .max_buf_size(64 * 1024)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(Failure::Http)?;
        let relay = Arc::new(Relay::default());
        Ok(Box::new(Conn {
            send,
            io,
            idle_since: Instant::now(),
            relay_waker: std::task::Waker::from(relay.clone()),
            relay,
        }))
    }

    /// Advances the connection's I/O; false once it has closed.
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        Pin::new(&mut self.io).poll(cx).is_pending()
    }

    /// Whether the connection is open and waiting for its next request (the backend
    /// may have closed it; a response may still be finishing). Checked with a waker
    /// that does nothing: nothing waits on this check, and the request about to be
    /// handed to the connection would otherwise wake the task that sends it, for one
    /// more useless pass through the whole client connection.
    fn ready(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        self.drive(&mut cx) && matches!(self.send.poll_ready(&mut cx), Poll::Ready(Ok(())))
    }

    /// Sends a request and waits for the response head, driving the connection. A
    /// request the connection never sent (it had closed) comes back with the failure.
    async fn exchange(
        &mut self,
        req: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, (Failure, Option<Request<ProxyBody>>)> {
        // The response is polled with a waker that does nothing (below), so it must not
        // spend tokio's cooperative budget: with the budget spent, it would leave its
        // wake-up with that waker and the task would sleep on a response already in.
        let mut response =
            std::pin::pin!(tokio::task::unconstrained(self.send.try_send_request(req)));
        let io = &mut self.io;
        let (relay, relay_waker) = (&self.relay, &self.relay_waker);
        let mut open = true;
        let result = std::future::poll_fn(|cx| {
            if open {
                relay.task.register(cx.waker());
                let mut relayed = Context::from_waker(relay_waker);
                open = Pin::new(&mut *io).poll(&mut relayed).is_pending();
            }
            // Only driving the connection can complete the response, and it was just
            // driven with this task's waker; the response's own wake-up would only poll
            // the whole client connection once more for nothing.
            let mut quiet = Context::from_waker(std::task::Waker::noop());
            match response.as_mut().poll(if open { &mut quiet } else { cx }) {
                Poll::Ready(Ok(r)) => Poll::Ready(Ok(r)),
                Poll::Ready(Err(mut e)) => {
                    let unsent = e.take_message();
                    Poll::Ready(Err((Failure::Http(e.into_error()), unsent)))
                }
                Poll::Pending if !open => Poll::Ready(Err((Failure::Closed, None))),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        self.relay.task.take();
        result
    }
}

/// Sends a request to a backend over one of this worker's idle connections to it, or
/// a new one when none is idle or the idle ones turn out closed. Returns the response
/// head and the connection its body will arrive on.
pub async fn send(
    idle: &Idle,
    addr: &str,
    mut req: Request<ProxyBody>,
) -> Result<(Response<Incoming>, Box<Conn>), Failure> {
    while let Some(mut conn) = idle.take() {
        match conn.exchange(req).await {
            Ok(resp) => return Ok((resp, conn)),
            // Closed while idle, before the request went out: try the next one.
            Err((_, Some(unsent))) => req = unsent,
            Err((failure, None)) => return Err(failure),
        }
    }
    idle.opened
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // The connect is the rare path: boxed, it does not grow every request's future.
    Box::pin(async move {
        let mut conn = Conn::open(addr).await?;
        match conn.exchange(req).await {
            Ok(resp) => Ok((resp, conn)),
            Err((failure, _)) => Err(failure),
        }
    })
    .await
}

/// A worker's idle connections to one backend, most recently used last.
#[derive(Default)]
pub struct Idle {
    // Boxed so that taking one out and handing it to a response body moves a pointer:
    // the futures and bodies that hold a connection stay small.
    #[allow(clippy::vec_box)]
    conns: Mutex<Vec<Box<Conn>>>,
    /// Connections opened so far (a steady load should reuse, not open).
    opened: std::sync::atomic::AtomicU64,
}

/// Idle connections kept per backend and worker; a busier moment opens more and closes
/// them when done, so memory follows the load instead of its peak.
pub const IDLE_PER_WORKER: usize = 64;

impl Idle {
    /// A connection that can take a request now, if one is idle.
    pub fn take(&self) -> Option<Box<Conn>> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(mut c) = conns.pop() {
            if c.idle_since.elapsed() < IDLE_TIMEOUT && c.ready() {
                return Some(c);
            }
        }
        None
    }

    /// Keeps a connection whose response was read to the end, if it is waiting for its
    /// next request. That is one flag hyper sets in the same pass in which the
    /// connection goes idle, so it costs no further pass through hyper. A connection
    /// that is not waiting is dropped: the backend closed it, or answered before it had
    /// read the whole request body, which the connection would otherwise keep (and with
    /// it the client connection, waiting to hand over the rest).
    fn put(&self, mut conn: Box<Conn>) {
        if !conn.send.is_ready() {
            return;
        }
        conn.idle_since = Instant::now();
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if conns.len() < IDLE_PER_WORKER {
            conns.push(conn);
        }
    }

    /// Closes connections idle for longer than [`IDLE_TIMEOUT`].
    pub fn expire(&self) {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.retain(|c| c.idle_since.elapsed() < IDLE_TIMEOUT);
    }

    pub fn len(&self) -> usize {
        self.conns.lock().map(|c| c.len()).unwrap_or(0)
    }

    pub fn opened(&self) -> u64 {
        self.opened.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A backend's response body on its way to the client. It drives the backend
/// connection while the body streams, returns the connection to its worker's idle list
/// once the body is complete, and holds the backend connection slot until then.
pub struct ResponseBody {
    inner: Incoming,
    conn: Option<Box<Conn>>,
    home: Arc<Idle>,
    complete: bool,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl ResponseBody {
    pub fn new(
        inner: Incoming,
        conn: Box<Conn>,
        home: Arc<Idle>,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) -> Self {
        let complete = inner.is_end_stream();
        ResponseBody {
            inner,
            conn: Some(conn),
            home,
            complete,
            _slot: slot,
        }
    }

    /// Drives the connection (with a waker that does nothing if `quietly`), then polls
    /// the body. While the connection is open only driving it puts data in the body, so
    /// the body's own wake-up is never needed and it is polled with a waker that does
    /// nothing; once the connection has closed, with `cx`.
    fn advance(
        &mut self,
        cx: &mut Context<'_>,
        quietly: bool,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut quiet = Context::from_waker(std::task::Waker::noop());
        if let Some(c) = &mut self.conn {
            if !c.drive(if quietly { &mut quiet } else { cx }) {
                // Closed: what it had read is still in the body's channel.
                self.conn = None;
            }
        }
        let body_cx = if self.conn.is_some() { &mut quiet } else { cx };
        Pin::new(&mut self.inner).poll_frame(body_cx)
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        // First advance the connection without this task's waker. A chunk it has
        // already read sits in the body's channel, and while the body is still open the
        // connection waits for it to be taken with the waker it was last driven with;
        // driving it once more with a waker that does nothing replaces that one, so
        // taking the chunk does not wake this task for one more useless pass through
        // both connections (see [`Relay`] for a body the connection has finished with).
        let mut frame = this.advance(cx, true);
        if frame.is_pending() && this.conn.is_some() {
            // Nothing to send yet: wait for the backend with this task's waker.
            frame = this.advance(cx, false);
        }
        match &frame {
            Poll::Ready(None) => this.complete = true,
            Poll::Ready(Some(Ok(_))) => this.complete = this.inner.is_end_stream(),
            Poll::Ready(Some(Err(_))) => this.conn = None,
            Poll::Pending => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.complete || self.inner.is_end_stream() {
                self.home.put(conn);
            }
        }
    }
}
