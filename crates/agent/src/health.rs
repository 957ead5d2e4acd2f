//! Health checks: an HTTP GET that must answer 2xx or 3xx, or a TCP connect, each
//! within the check's timeout.

use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::spec::HealthCheck;

pub async fn check(port: u16, hc: &HealthCheck) -> Result<(), String> {
    let timeout = Duration::from_millis(hc.timeout_ms.max(10));
    let probe = async {
        match &hc.http_path {
            None => tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map(|_| ())
                .map_err(|e| format!("connect to port {port}: {e}")),
            Some(path) => {
                let client: Client<_, Empty<Bytes>> =
                    Client::builder(TokioExecutor::new()).build_http();
                let path = if path.starts_with('/') {
                    path.clone()
                } else {
                    format!("/{path}")
                };
                let uri: hyper::Uri = format!("http://127.0.0.1:{port}{path}")
                    .parse()
                    .map_err(|e| format!("invalid health check path {path:?}: {e}"))?;
                let resp = client
                    .get(uri)
                    .await
                    .map_err(|e| format!("GET {path} on port {port}: {e}"))?;
                let status = resp.status();
                if status.is_success() || status.is_redirection() {
                    Ok(())
                } else {
                    Err(format!("GET {path} on port {port} answered {status}"))
                }
            }
        }
    };
    match tokio::time::timeout(timeout, probe).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no answer on port {port} within {} ms",
            timeout.as_millis()
        )),
    }
}
