//! The agent's front door: who may talk to its API.
//!
//! The API starts and stops processes, so it is guarded like Docker's or Nomad's:
//! - **A bearer token.** Each agent generates a random 256-bit token when it starts
//!   (a keeper's restarted agent keeps its keeper's) and writes it to
//!   `.terrane/agent/token` with mode 0600. Only the user who owns the workspace can
//!   read it; the CLI and the `local` provider read it there (with
//!   [`terrane_agent_api::auth::read_token`]). The comparison takes the same time
//!   whatever the token sent.
//! - **The Host header.** A request must name the agent by an IP address or
//!   `localhost`: a web page that rebinds its own DNS name to 127.0.0.1 sends its own
//!   name and is refused (DNS rebinding).
//! - **No browsers.** A request with an `Origin` header comes from a browser and is
//!   refused, and no answer carries CORS headers, so no page can read one.
//!
//! `/healthz` and `/readyz` answer without the token, and so does `/metrics`: it holds
//! counters and names, changes nothing, and a Prometheus scraper should not need a
//! credential that changes every time the agent starts. The Host and Origin checks
//! apply to them too.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use subtle::ConstantTimeEq;

pub use terrane_agent_api::auth::{read_token, token_path};

/// The endpoints that answer without the token.
const OPEN: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Generates a new token and writes it, mode 0600, in place of the old one (a file
/// beside it, renamed over it, so a reader never sees half a token).
pub fn create_token(agent_dir: &Path) -> Result<String, String> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let path = token_path(agent_dir);
    let tmp = agent_dir.join(format!("token.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(token.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("writing the agent's token {}: {e}", path.display()));
    }
    Ok(token)
}

/// What the guard compares requests against.
pub struct Guard {
    token: String,
}

impl Guard {
    pub fn new(token: String) -> Arc<Guard> {
        Arc::new(Guard { token })
    }

    /// Why a request is refused, or `None` to let it through.
    fn refuse(&self, req: &Request) -> Option<(StatusCode, String)> {
        let headers = req.headers();
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !host_is_loopback_literal(host) {
            return Some((
                StatusCode::FORBIDDEN,
                format!(
                    "refused: the Host header {host:?} does not name this agent; address it by IP (127.0.0.1:PORT) or localhost\n"
                ),
            ));
        }
        if headers.contains_key(header::ORIGIN) {
            return Some((
                StatusCode::FORBIDDEN,
                "refused: the agent does not answer cross-origin (browser) requests\n".into(),
            ));
        }
        if OPEN.contains(&req.uri().path()) {
            return None;
        }
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("");
        if bool::from(sent.as_bytes().ct_eq(self.token.as_bytes())) {
            None
        } else {
            Some((
                StatusCode::UNAUTHORIZED,
                "refused: this endpoint needs the agent's token (Authorization: Bearer, from .terrane/agent/token)\n".into(),
            ))
        }
    }
}

/// The axum middleware in front of every route.
pub async fn guard(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    match g.refuse(&req) {
        None => next.run(req).await,
        Some((status, message)) => {
            tracing::warn!(
                path = %req.uri().path(),
                status = status.as_u16(),
                "Refused a request to the agent's API."
            );
            (status, [(header::WWW_AUTHENTICATE, "Bearer")], message).into_response()
        }
    }
}

/// Whether a Host header value is an IP address or `localhost`, with or without a port.
/// A DNS name other than `localhost` is what a rebinding attack sends.
fn host_is_loopback_literal(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port or [v6]
        match rest.split_once(']') {
            Some((v6, tail)) if tail.is_empty() || valid_port(tail.strip_prefix(':')) => v6,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if valid_port(Some(port)) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

fn valid_port(port: Option<&str>) -> bool {
    port.is_some_and(|p| p.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_name_the_agent_pass_and_dns_names_do_not() {
        for ok in [
            "127.0.0.1:7480",
            "127.0.0.1",
            "localhost:9",
            "LOCALHOST",
            "[::1]:7480",
            "[::1]",
            "10.0.0.5:80",
        ] {
            assert!(host_is_loopback_literal(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example:7480",
            "localhost.evil.example",
            "127.0.0.1.nip.io:7480",
            "127.0.0.1:notaport",
            "[::1",
            "[::1]x",
        ] {
            assert!(!host_is_loopback_literal(bad), "{bad}");
        }
    }

    #[test]
    fn the_token_file_is_private_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = create_token(dir.path()).unwrap();
        let second = create_token(dir.path()).unwrap();
        assert_ne!(first, second);
        assert_eq!(first.len(), 64);
        assert_eq!(read_token(dir.path()).as_deref(), Some(second.as_str()));
        let mode = std::fs::metadata(token_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
