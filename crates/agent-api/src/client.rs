//! A client for the agent's API, used by the `local` provider and the CLI, and the
//! logic to find the workspace's agent ([`find`]), start one in the background
//! ([`ensure`]) or stop it ([`stop`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::autoscale::{AutoscalerSpec, AutoscalerStatus};
use crate::dns::{RecordSpec, ZoneSpec, ZoneStatus};
use crate::lb::{LbSpec, LbStatus};
use crate::spec::{AgentEvent, AgentInfo, ServiceSpec, ServiceStatus};

/// The default address of `terrane agent`: a free loopback port, picked when the
/// agent starts and recorded in `.terrane/agent/agent.json`, so the agents of several
/// workspaces run side by side.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:0";

pub fn agent_dir(workspace: &Path) -> PathBuf {
    workspace.join(".terrane").join("agent")
}

/// Why a call to the agent failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection, or it broke: the agent may be starting or restarting.
    #[error("cannot reach the agent at {agent}: {message}")]
    Unreachable { agent: String, message: String },
    #[error("the agent at {agent} did not answer within 30 s")]
    Timeout { agent: String },
    /// The agent answered with an error: what it said.
    #[error("{0}")]
    Refused(String),
    /// A request or answer that does not encode or decode (a bug, or another version).
    #[error("{0}")]
    Invalid(String),
}

impl ClientError {
    fn refused(body: &[u8]) -> ClientError {
        ClientError::Refused(String::from_utf8_lossy(body).trim().to_string())
    }

    /// True when the same call may succeed later (the agent was not reachable or did
    /// not answer in time); false when the agent answered and said no.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable { .. } | ClientError::Timeout { .. }
        )
    }
}

/// Callers that report errors as sentences take the message.
impl From<ClientError> for String {
    fn from(e: ClientError) -> String {
        e.to_string()
    }
}

#[derive(Clone)]
pub struct AgentClient {
    base: String,
    /// The agent's token (see [`crate::auth`]).
    token: Option<String>,
    http: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl AgentClient {
    pub fn new(address: &str, token: Option<String>) -> AgentClient {
        AgentClient {
            base: format!("http://{address}"),
            token,
            http: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        let fut = self.http.request(req);
        let resp = tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .map_err(|_| ClientError::Timeout {
                agent: self.base.clone(),
            })?
            .map_err(|e| ClientError::Unreachable {
                agent: self.base.clone(),
                message: e.to_string(),
            })?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::Unreachable {
                agent: self.base.clone(),
                message: e.to_string(),
            })?
            .to_bytes();
        Ok((status, body))
    }

    pub async fn healthy(&self) -> bool {
        matches!(self.call(Method::GET, "/healthz", None).await, Ok((s, _)) if s.is_success())
    }

    /// PUT a JSON body; the agent answers with the object's status.
    async fn put<T: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<R, ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::Invalid(e.to_string()))?;
        let (status, bytes) = self.call(Method::PUT, path, Some(body)).await?;
        if !status.is_success() {
            return Err(ClientError::refused(&bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Invalid(e.to_string()))
    }

    /// GET an object; `None` when the agent does not know it.
    async fn get<R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<R>, ClientError> {
        let (status, bytes) = self.call(Method::GET, path, None).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ClientError::Invalid(e.to_string()))
    }

    /// DELETE an object; deleting one that is already gone is not an error.
    async fn delete(&self, path: &str) -> Result<(), ClientError> {
        let (status, bytes) = self.call(Method::DELETE, path, None).await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(ClientError::refused(&bytes))
        }
    }

    pub async fn put_service(
        &self,
        name: &str,
        spec: &ServiceSpec,
    ) -> Result<ServiceStatus, ClientError> {
        self.put(&format!("/v1/services/{name}"), spec)
            .await
            .map_err(|e| match e {
                ClientError::Refused(m) => {
                    ClientError::Refused(format!("the agent refused the service: {m}"))
                }
                other => other,
            })
    }

    pub async fn service(&self, name: &str) -> Result<Option<ServiceStatus>, ClientError> {
        self.get(&format!("/v1/services/{name}")).await
    }

    pub async fn services(&self) -> Result<Vec<ServiceStatus>, ClientError> {
        Ok(self.get("/v1/services").await?.unwrap_or_default())
    }

    pub async fn delete_service(&self, name: &str) -> Result<(), ClientError> {
        self.delete(&format!("/v1/services/{name}")).await
    }

    pub async fn put_lb(&self, name: &str, spec: &LbSpec) -> Result<LbStatus, ClientError> {
        self.put(&format!("/v1/lbs/{name}"), spec).await
    }

    pub async fn lb(&self, name: &str) -> Result<Option<LbStatus>, ClientError> {
        self.get(&format!("/v1/lbs/{name}")).await
    }

    pub async fn lbs(&self) -> Result<Vec<LbStatus>, ClientError> {
        Ok(self.get("/v1/lbs").await?.unwrap_or_default())
    }

    pub async fn delete_lb(&self, name: &str) -> Result<(), ClientError> {
        self.delete(&format!("/v1/lbs/{name}")).await
    }

    pub async fn put_autoscaler(
        &self,
        name: &str,
        spec: &AutoscalerSpec,
    ) -> Result<AutoscalerStatus, ClientError> {
        self.put(&format!("/v1/autoscalers/{name}"), spec).await
    }

    pub async fn autoscaler(&self, name: &str) -> Result<Option<AutoscalerStatus>, ClientError> {
        self.get(&format!("/v1/autoscalers/{name}")).await
    }

    pub async fn autoscalers(&self) -> Result<Vec<AutoscalerStatus>, ClientError> {
        Ok(self.get("/v1/autoscalers").await?.unwrap_or_default())
    }

    pub async fn delete_autoscaler(&self, name: &str) -> Result<(), ClientError> {
        self.delete(&format!("/v1/autoscalers/{name}")).await
    }

    pub async fn put_backup_policy(
        &self,
        name: &str,
        spec: &crate::backup::BackupPolicySpec,
    ) -> Result<crate::backup::BackupPolicyStatus, ClientError> {
        self.put(&format!("/v1/backup-policies/{name}"), spec).await
    }

    pub async fn backup_policy(
        &self,
        name: &str,
    ) -> Result<Option<crate::backup::BackupPolicyStatus>, ClientError> {
        self.get(&format!("/v1/backup-policies/{name}")).await
    }

    pub async fn delete_backup_policy(&self, name: &str) -> Result<(), ClientError> {
        self.delete(&format!("/v1/backup-policies/{name}")).await
    }

    pub async fn put_zone(&self, id: &str, spec: &ZoneSpec) -> Result<ZoneStatus, ClientError> {
        self.put(&format!("/v1/dns/zones/{id}"), spec).await
    }

    pub async fn zone(&self, id: &str) -> Result<Option<ZoneStatus>, ClientError> {
        self.get(&format!("/v1/dns/zones/{id}")).await
    }

    pub async fn zones(&self) -> Result<Vec<ZoneStatus>, ClientError> {
        Ok(self.get("/v1/dns/zones").await?.unwrap_or_default())
    }

    pub async fn delete_zone(&self, id: &str) -> Result<(), ClientError> {
        self.delete(&format!("/v1/dns/zones/{id}")).await
    }

    pub async fn put_record(
        &self,
        zone: &str,
        id: &str,
        spec: &RecordSpec,
    ) -> Result<(), ClientError> {
        self.put::<_, ZoneStatus>(&format!("/v1/dns/zones/{zone}/records/{id}"), spec)
            .await
            .map(|_| ())
    }

    pub async fn delete_record(&self, zone: &str, id: &str) -> Result<(), ClientError> {
        self.delete(&format!("/v1/dns/zones/{zone}/records/{id}"))
            .await
    }

    pub async fn events(&self) -> Result<Vec<AgentEvent>, ClientError> {
        Ok(self.get("/v1/events").await?.unwrap_or_default())
    }

    pub async fn shutdown(&self) -> Result<(), ClientError> {
        self.call(Method::POST, "/v1/shutdown", None)
            .await
            .map(|_| ())
    }
}

/// The workspace's running agent, if there is one.
pub async fn find(workspace: &Path) -> Option<(AgentInfo, AgentClient)> {
    let dir = agent_dir(workspace);
    let text = std::fs::read_to_string(dir.join("agent.json")).ok()?;
    let info: AgentInfo = serde_json::from_str(&text).ok()?;
    let client = AgentClient::new(&info.address, crate::auth::read_token(&dir));
    client.healthy().await.then_some((info, client))
}

/// Asks the workspace's agent to stop and waits (up to 10 s) until it is gone.
pub async fn stop(workspace: &Path, agent: &AgentClient) -> Result<(), String> {
    agent.shutdown().await?;
    for _ in 0..100 {
        if find(workspace).await.is_none() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("it did not stop within 10 s".into())
}

/// Finds the workspace's agent or starts one in the background with `program agent`.
/// Returns the client and whether an agent was started.
pub async fn ensure(workspace: &Path, program: &Path) -> Result<(AgentClient, bool), String> {
    // Resources applied in parallel all ask for the agent: one of them starts it, the
    // others wait for it and find it.
    static STARTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = STARTING.lock().await;
    if let Some((_, c)) = find(workspace).await {
        return Ok((c, false));
    }
    let dir = agent_dir(workspace);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let log_path = dir.join("agent.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("opening the agent log: {e}"))?;
    // What this agent writes starts here; an earlier agent's lines are not its error.
    let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
    let listen =
        std::env::var("TERRANE_AGENT_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_string());
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new(program)
        .arg("-C")
        .arg(workspace)
        .arg("agent")
        .arg("--listen")
        .arg(&listen)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start `{} agent`: {e}", program.display()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some((_, c)) = find(workspace).await {
            return Ok((c, true));
        }
        if let Ok(Some(status)) = child.try_wait() {
            let why = last_error_line(&log_path, log_start)
                .unwrap_or_else(|| format!("it exited ({status}) without a message"));
            return Err(format!(
                "the agent for this workspace could not start: {why} (log: {})",
                log_path.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "started `terrane agent` but it did not come up within 10 s; see {}",
        log_path.display()
    ))
}

/// The line that says why an agent stopped: the last `Error:` line it wrote to its
/// log after `from`, or else its last line.
fn last_error_line(log: &Path, from: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(log).ok()?;
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut text = String::new();
    f.read_to_string(&mut text).ok()?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("Error") || l.contains("ERROR"))
        .or(lines.last())?;
    Some(line.strip_prefix("Error: ").unwrap_or(line).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An agent that is not there is worth retrying; one that answers "no" is not.
    #[tokio::test]
    async fn errors_say_whether_a_retry_can_help() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let gone = AgentClient::new(&format!("127.0.0.1:{port}"), None);
        let e = gone.services().await.unwrap_err();
        assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");
        assert!(e.retryable());

        let refused = ClientError::refused(b"replicas must be a whole number\n");
        assert_eq!(refused.to_string(), "replicas must be a whole number");
        assert!(!refused.retryable());
    }
}
