//! HTTP on a client connection: serving HTTP/1.1 until the connection closes or
//! drains, and proxying each request to a backend (route, pick, one retry, backend
//! slots), with hop-by-hop headers removed both ways.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HeaderName;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::{Balancer, Local};
use crate::upstream;

/// Serves HTTP/1.1 on one client connection until it closes, draining on stop.
pub(super) async fn serve_http<S>(local: Arc<Local>, stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let lb = local.lb.clone();
    let worker = local.worker;
    let service = hyper::service::service_fn(move |req| {
        let local = local.clone();
        async move { Ok::<_, std::convert::Infallible>(local.lb.proxy(req, local.worker).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // A client may shut down its sending side once its request is out and still
        // get the answer (HAProxy's default too). It also spares every request in
        // flight a read buffer and a read, which only watched for such an end of input.
        .half_close(true)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    // Also when the balancer stopped between accepting the connection and here.
    if !lb.shards[worker]
        .drain
        .run_until_stopped(conn.as_mut())
        .await
    {
        // Drain: finish the request in flight, then close.
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
    }
}

/// How long a request waits for a free backend connection before it fails with 503.
const SLOT_WAIT: Duration = Duration::from_secs(10);

pub(crate) type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// How many headers [`HOP_BY_HOP`] lists (a constant of its own: `HOP_BY_HOP.len()`
/// cannot size an array, since a `HeaderName` has a destructor).
const HOP_BY_HOP_COUNT: usize = 8;

/// Headers that belong to one connection and are not forwarded.
const HOP_BY_HOP: [HeaderName; HOP_BY_HOP_COUNT] = [
    hyper::header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    hyper::header::PROXY_AUTHENTICATE,
    hyper::header::PROXY_AUTHORIZATION,
    hyper::header::TE,
    hyper::header::TRAILER,
    hyper::header::UPGRADE,
];

/// Removes the hop-by-hop headers: those of [`HOP_BY_HOP`], and any other that a
/// `Connection` header names (RFC 9110, section 7.6.1).
fn strip_hop_by_hop(headers: &mut hyper::HeaderMap) {
    // One pass over the entries finds which of them are there, and whether a
    // `Connection` value names anything but the usual `keep-alive` or `close`; that
    // costs less than looking each of the eight up (most messages carry none of them,
    // or only `Connection: keep-alive`).
    let mut found = [false; HOP_BY_HOP_COUNT];
    let mut names_others = false;
    for (name, value) in headers.iter() {
        let Some(i) = HOP_BY_HOP.iter().position(|h| h == name) else {
            continue;
        };
        found[i] = true;
        if name == hyper::header::CONNECTION {
            let v = value.as_bytes();
            names_others |=
                !v.eq_ignore_ascii_case(b"keep-alive") && !v.eq_ignore_ascii_case(b"close");
        }
    }
    if names_others {
        let listed: Vec<HeaderName> = headers
            .get_all(hyper::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.eq_ignore_ascii_case("close") && !t.eq_ignore_ascii_case("keep-alive"))
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            // The route was chosen by `Host`: a peer cannot make it hop-by-hop.
            .filter(|n| n != hyper::header::HOST)
            .collect();
        for l in listed {
            headers.remove(l);
        }
    }
    for (name, _) in HOP_BY_HOP.iter().zip(found).filter(|(_, f)| *f) {
        headers.remove(name);
    }
}

fn text(status: StatusCode, msg: &str) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from(msg.to_string()))
        .map_err(|never| match never {})
        .boxed();
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r
}

impl Balancer {
    async fn proxy<B>(&self, req: Request<B>, worker: usize) -> Response<ProxyBody>
    where
        B: hyper::body::Body<Data = Bytes, Error = hyper::Error> + Send + Sync + 'static,
    {
        let shard = &self.shards[worker];
        shard.requests.fetch_add(1, Ordering::Relaxed);
        let route = if self.spec.routes.is_empty() {
            None
        } else {
            let host = req
                .headers()
                .get(hyper::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(|h| h.rsplit_once(':').map(|(name, _)| name).unwrap_or(h));
            let path = req.uri().path();
            self.spec.routes.iter().position(|r| r.matches(host, path))
        };
        let (services, statics) = match route {
            Some(i) => (&self.spec.routes[i].services, &self.spec.routes[i].backends),
            None => (&self.spec.services, &self.spec.backends),
        };
        if services.is_empty() && statics.is_empty() {
            return text(
                StatusCode::NOT_FOUND,
                &format!(
                    "terrane load balancer {}: no route matches this host and path\n",
                    self.name
                ),
            );
        }
        let table = shard
            .table
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let pool = match route {
            Some(i) => &table.routes[i],
            None => &table.default,
        };
        let (parts, body) = req.into_parts();
        let idempotent = matches!(
            parts.method.as_str(),
            "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE" | "TRACE"
        );
        let no_body = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .is_none_or(|v| v == "0")
            && !parts.headers.contains_key(hyper::header::TRANSFER_ENCODING);
        // A body can be sent only once, so only body-less idempotent requests are retried.
        let attempts = if idempotent && no_body { 2 } else { 1 };
        // Backends get the request in origin form (`/path?query`).
        let path = match parts.uri.path_and_query() {
            Some(p) => hyper::Uri::from(p.clone()),
            None => hyper::Uri::from_static("/"),
        };
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        let mut incoming = Some(body);
        let mut tried: Option<&str> = None;
        for attempt in 0..attempts {
            let Some(b) = self.pick(pool, tried, worker) else {
                break;
            };
            let req_body: ProxyBody = if no_body {
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed()
            } else {
                match incoming.take() {
                    Some(b) => b.boxed(),
                    None => break,
                }
            };
            let mut out = Request::new(req_body);
            *out.method_mut() = parts.method.clone();
            *out.uri_mut() = path.clone();
            *out.headers_mut() = if attempt + 1 < attempts {
                // The original goes out and a copy stays for a retry. hyper parses the
                // response into the map of the request it sent, and a copy has room for
                // exactly its own headers: the response would grow it header by header.
                let copy = headers.clone();
                std::mem::replace(&mut headers, copy)
            } else {
                std::mem::take(&mut headers)
            };
            if !out.headers().contains_key(hyper::header::HOST) {
                if let Ok(host) = hyper::header::HeaderValue::from_str(b.authority.as_str()) {
                    out.headers_mut().insert(hyper::header::HOST, host);
                }
            }
            let lane = b.stats.lane(worker);
            let slot = match lane.slots.clone().try_acquire_owned() {
                Ok(slot) => Some(slot),
                // Waiting is the rare path: boxed, it does not grow every request's future.
                Err(_) => Box::pin(tokio::time::timeout(
                    SLOT_WAIT,
                    lane.slots.clone().acquire_owned(),
                ))
                .await
                .ok()
                .and_then(Result::ok),
            };
            let Some(slot) = slot else {
                shard.failed.fetch_add(1, Ordering::Relaxed);
                return text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "terrane load balancer {}: backend {} is saturated\n",
                        self.name, b.addr
                    ),
                );
            };
            lane.in_flight.fetch_add(1, Ordering::Relaxed);
            lane.requests.fetch_add(1, Ordering::Relaxed);
            if let Some(c) = &b.counters {
                c.requests.fetch_add(1, Ordering::Relaxed);
                c.in_flight.fetch_add(1, Ordering::Relaxed);
            }
            let started = Instant::now();
            let result = upstream::send(&lane.idle, &b.addr, out).await;
            let took = started.elapsed();
            lane.latency.observe(took);
            shard.latency.observe(took);
            lane.in_flight.fetch_sub(1, Ordering::Relaxed);
            if let Some(c) = &b.counters {
                c.latency.observe(took);
                c.in_flight.fetch_sub(1, Ordering::Relaxed);
            }
            match result {
                Ok((resp, conn)) => {
                    self.record(b, !resp.status().is_server_error());
                    let (mut p, body) = resp.into_parts();
                    // Hop-by-hop headers describe the backend connection: a backend's
                    // `Connection: close` must not close the client's.
                    strip_hop_by_hop(&mut p.headers);
                    let body = upstream::ResponseBody::new(body, conn, lane.idle.clone(), slot);
                    return Response::from_parts(p, body.boxed());
                }
                Err(e) => {
                    self.record(b, false);
                    tracing::debug!(balancer = %self.name, backend = %b.addr, error = %e, attempt, "Backend request failed.");
                    // Idempotent requests may be sent again whatever went wrong (a refused
                    // connect, or a connection the dead backend had closed).
                    tried = Some(&b.addr);
                }
            }
        }
        shard.failed.fetch_add(1, Ordering::Relaxed);
        text(
            StatusCode::BAD_GATEWAY,
            &format!(
                "terrane load balancer {}: no backend could answer\n",
                self.name
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> hyper::HeaderMap {
        let mut h = hyper::HeaderMap::new();
        for (k, v) in lines {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn names(h: &hyper::HeaderMap) -> Vec<&str> {
        let mut n: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        n.sort();
        n
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let mut h = headers(&[
            ("host", "a.test"),
            ("connection", "keep-alive, X-Trace, Host"),
            ("connection", "Upgrade"),
            ("keep-alive", "timeout=5"),
            ("x-trace", "1"),
            ("upgrade", "h2c"),
            ("te", "trailers"),
            ("proxy-connection", "keep-alive"),
            ("x-kept", "yes"),
            ("content-length", "2"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["content-length", "host", "x-kept"]);
    }

    #[test]
    fn messages_without_hop_by_hop_headers_are_left_alone() {
        let mut h = headers(&[("host", "a.test"), ("x-a", "1"), ("x-a", "2")]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["host", "x-a"]);
        assert_eq!(h.get_all("x-a").iter().count(), 2);
        let mut h = headers(&[("connection", "close"), ("x-a", "1")]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["x-a"]);
        // A name in a second `Connection` line, after a plain `Keep-Alive` one.
        let mut h = headers(&[
            ("connection", "Keep-Alive"),
            ("connection", "x-b"),
            ("x-a", "1"),
            ("x-b", "2"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["x-a"]);
    }
}
