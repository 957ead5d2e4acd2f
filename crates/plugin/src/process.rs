//! Starting a plugin process and connecting to it: go-plugin's handshake.
//!
//! terrane starts the plugin with the magic cookie, the protocol versions it speaks,
//! a port range and a fresh client certificate in its environment. The plugin answers
//! with one line on stdout, `CORE|APP|NETWORK|ADDRESS|grpc|CERT`: the core protocol
//! (1), the provider protocol it chose (5 or 6), where it listens (a unix socket or a
//! TCP address) and its certificate (base64 DER, padded or not; empty without TLS).
//! Everything the plugin writes to stderr goes to terrane's log at debug level, and
//! its last lines go into every error about the plugin.
//!
//! When a run is interrupted terrane sends StopProvider; a plugin that has not finished
//! its calls [`Launch::stop_grace`] later is killed ([`Process::kill_if_busy_after`]), so
//! that an interrupted run ends even when a plugin hangs.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};

use crate::tls::ClientIdentity;

/// The cookie Terraform's plugins expect, so that they refuse to run when started by
/// hand.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// How to start one plugin.
#[derive(Clone, Debug)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    /// The provider, for messages: `registry.terraform.io/hashicorp/aws 5.1.0`.
    pub name: String,
    /// The provider protocol versions to offer.
    pub protocols: Vec<u32>,
    /// How long the plugin may take to print its handshake.
    pub start_timeout: Duration,
    /// How long a plugin asked to stop (StopProvider, on Ctrl-C) may take to finish the
    /// calls it is serving before terrane kills it.
    pub stop_grace: Duration,
}

impl Launch {
    pub fn new(program: PathBuf, name: impl Into<String>) -> Launch {
        Launch {
            program,
            args: Vec::new(),
            env: Vec::new(),
            name: name.into(),
            protocols: vec![5, 6],
            start_timeout: Duration::from_secs(60),
            stop_grace: Duration::from_secs(10),
        }
    }
}

/// Why a plugin could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not start the plugin {program}: {error}")]
    Spawn { program: String, error: String },
    #[error("{0}")]
    Handshake(String),
    #[error("could not connect to the plugin at {address}: {error}")]
    Connect { address: String, error: String },
}

/// The handshake line, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Handshake {
    pub core: u32,
    pub protocol: u32,
    pub address: Address,
    /// The server's certificate (DER), when it speaks TLS.
    pub cert: Option<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Address {
    Unix(PathBuf),
    Tcp(String),
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix:{}", p.display()),
            Address::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// Parses go-plugin's handshake line.
pub fn parse_handshake(line: &str) -> Result<Handshake, String> {
    let parts: Vec<&str> = line.trim().split('|').collect();
    if parts.len() < 5 {
        return Err(format!(
            "expected CORE|APP|NETWORK|ADDRESS|PROTOCOL[|CERT], got {line:?}"
        ));
    }
    let core: u32 = parts[0]
        .parse()
        .map_err(|_| format!("the core protocol version {:?} is not a number", parts[0]))?;
    if core != 1 {
        return Err(format!(
            "the plugin speaks go-plugin core protocol {core}; terrane speaks 1"
        ));
    }
    let protocol: u32 = parts[1].parse().map_err(|_| {
        format!(
            "the provider protocol version {:?} is not a number",
            parts[1]
        )
    })?;
    let address = match parts[2] {
        "unix" => Address::Unix(PathBuf::from(parts[3])),
        "tcp" => Address::Tcp(parts[3].to_string()),
        other => {
            return Err(format!(
                "unsupported network {other:?} (expected unix or tcp)"
            ))
        }
    };
    if parts[4] != "grpc" {
        return Err(format!(
            "the plugin speaks {:?}; terrane speaks only grpc (net/rpc plugins predate Terraform 0.12)",
            parts[4]
        ));
    }
    let cert = match parts.get(5).map(|c| c.trim_end_matches('=')) {
        None | Some("") => None,
        Some(c) => Some(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(c)
                .map_err(|e| format!("the server certificate is not base64: {e}"))?,
        ),
    };
    Ok(Handshake {
        core,
        protocol,
        address,
        cert,
    })
}

/// The last lines a plugin wrote to stderr.
#[derive(Debug, Default)]
pub struct StderrTail {
    lines: Mutex<VecDeque<String>>,
    /// Set when the plugin's stderr reached its end.
    closed: AtomicBool,
    closing: tokio::sync::Notify,
}

const TAIL_LINES: usize = 40;

impl StderrTail {
    fn push(&self, line: String) {
        let mut q = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() == TAIL_LINES {
            q.pop_front();
        }
        q.push_back(line);
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.closing.notify_waiters();
    }

    /// Waits (at most `limit`) until the plugin's stderr has been read to its end.
    async fn drained(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, async {
            loop {
                let notified = self.closing.notified();
                if self.closed.load(Ordering::SeqCst) {
                    return;
                }
                notified.await;
            }
        })
        .await;
    }

    /// The tail as text, indented, or empty.
    pub fn render(&self) -> String {
        let q = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if q.is_empty() {
            return String::new();
        }
        let mut s = String::from("\nThe plugin's stderr ended with:");
        for l in q.iter() {
            s.push_str("\n  ");
            s.push_str(l);
        }
        s
    }
}

/// A running plugin process and the gRPC channel to it.
pub struct Process {
    pub name: String,
    pub handshake: Handshake,
    pub channel: Channel,
    pub stderr: Arc<StderrTail>,
    child: Mutex<Option<Child>>,
    /// Calls being served (see [`Process::busy`]).
    in_flight: AtomicUsize,
    /// Why terrane killed the process, if it did.
    killed: Mutex<Option<String>>,
    stop_grace: Duration,
}

/// One call in flight on a plugin; see [`Process::busy`].
pub struct Busy<'a>(&'a Process);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl Process {
    /// Starts the plugin, reads its handshake and connects.
    pub async fn start(launch: &Launch) -> Result<Process, StartError> {
        let identity = ClientIdentity::generate().map_err(StartError::Handshake)?;
        let versions: Vec<String> = launch.protocols.iter().map(u32::to_string).collect();
        let mut cmd = Command::new(&launch.program);
        cmd.args(&launch.args)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
            .env("PLUGIN_PROTOCOL_VERSIONS", versions.join(","))
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
            .env("PLUGIN_CLIENT_CERT", &identity.cert_pem)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| StartError::Spawn {
            program: launch.program.display().to_string(),
            error: e.to_string(),
        })?;
        let stderr = Arc::new(StderrTail::default());
        if let Some(err) = child.stderr.take() {
            let tail = stderr.clone();
            let name = launch.name.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::debug!(target: "terrane::plugin", plugin = %name, "{line}");
                    tail.push(line);
                }
                tail.close();
            });
        }
        let out = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(out).lines();
        let first = tokio::time::timeout(launch.start_timeout, lines.next_line()).await;
        let failed = |why: String, stderr: &StderrTail| {
            StartError::Handshake(format!(
                "the plugin {} ({}) {why}{}",
                launch.name,
                launch.program.display(),
                stderr.render()
            ))
        };
        let line = match first {
            Err(_) => {
                let _ = child.start_kill();
                return Err(failed(
                    format!(
                        "printed no handshake within {} s",
                        launch.start_timeout.as_secs()
                    ),
                    &stderr,
                ));
            }
            Ok(Ok(Some(line))) => line,
            Ok(_) => {
                // Let the stderr reader drain what the dying process wrote.
                let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
                stderr.drained(Duration::from_secs(1)).await;
                let how = match status {
                    Ok(Ok(s)) => format!("exited ({s}) before its handshake"),
                    _ => "closed its stdout before its handshake".to_string(),
                };
                return Err(failed(how, &stderr));
            }
        };
        let handshake = match parse_handshake(&line) {
            Ok(h) => h,
            Err(why) => {
                let _ = child.start_kill();
                stderr.drained(Duration::from_secs(1)).await;
                return Err(failed(format!("sent a bad handshake: {why}"), &stderr));
            }
        };
        if !launch.protocols.contains(&handshake.protocol) {
            let _ = child.start_kill();
            return Err(failed(
                format!(
                    "chose provider protocol {}, which terrane did not offer (it speaks {})",
                    handshake.protocol,
                    versions.join(" and ")
                ),
                &stderr,
            ));
        }
        // The plugin's further stdout is log output too.
        let name = launch.name.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "terrane::plugin", plugin = %name, "stdout: {line}");
            }
        });
        let tls = match &handshake.cert {
            Some(der) => Some(Arc::new(
                identity
                    .client_config(der.clone())
                    .map_err(StartError::Handshake)?,
            )),
            None => None,
        };
        let address = handshake.address.clone();
        let connector = tower::service_fn(move |_: tonic::codegen::http::Uri| {
            let address = address.clone();
            let tls = tls.clone();
            async move {
                let io: Box<dyn Io> = match &address {
                    Address::Unix(p) => Box::new(tokio::net::UnixStream::connect(p).await?),
                    Address::Tcp(a) => Box::new(tokio::net::TcpStream::connect(a).await?),
                };
                let io: Pin<Box<dyn Io>> = match tls {
                    Some(config) => {
                        let name = rustls::pki_types::ServerName::try_from("localhost")
                            .expect("a valid name");
                        let conn = tokio_rustls::TlsConnector::from(config)
                            .connect(name, io)
                            .await?;
                        Box::pin(conn)
                    }
                    None => Box::pin(io),
                };
                Ok::<_, std::io::Error>(TokioIo::new(io))
            }
        });
        let channel = Endpoint::from_static("http://localhost")
            .connect_with_connector(connector)
            .await
            .map_err(|e| StartError::Connect {
                address: handshake.address.to_string(),
                error: format!("{}{}", error_chain(&e), stderr.render()),
            })?;
        Ok(Process {
            name: launch.name.clone(),
            handshake,
            channel,
            stderr,
            child: Mutex::new(Some(child)),
            in_flight: AtomicUsize::new(0),
            killed: Mutex::new(None),
            stop_grace: launch.stop_grace,
        })
    }

    /// Marks one call in flight until the guard is dropped.
    pub fn busy(&self) -> Busy<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(self)
    }

    /// After StopProvider: gives the plugin [`Launch::stop_grace`] to finish the calls it
    /// is serving, then kills it if it has not (a plugin that ignores StopProvider would
    /// otherwise keep an interrupted run waiting forever). Its calls then fail, saying
    /// why.
    pub fn kill_if_busy_after_stop(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let process = Arc::downgrade(self);
        let grace = self.stop_grace;
        handle.spawn(async move {
            tokio::time::sleep(grace).await;
            let Some(process) = process.upgrade() else {
                return;
            };
            if process.in_flight.load(Ordering::SeqCst) > 0 && process.exit_status().is_none() {
                let why = format!(
                    "terrane killed it: it was still busy {} s after it was asked to stop",
                    grace.as_secs_f32()
                );
                tracing::warn!(plugin = %process.name, "{why}");
                *process.killed.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
                process.kill();
            }
        });
    }

    /// After a call failed for want of a connection: waits a moment for the process to
    /// end, if it is ending, and for the rest of its stderr, so that the error can say
    /// how it ended and what it last wrote.
    pub async fn settle(&self) {
        for _ in 0..20 {
            if self.exit_status().is_some() {
                self.stderr.drained(Duration::from_secs(1)).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How the process ended, for errors: ` The plugin process has exited (...).`, or
    /// empty while it runs.
    pub fn ending(&self) -> String {
        let killed = self
            .killed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match (self.exit_status(), killed) {
            (_, Some(why)) => format!(" The plugin process has exited: {why}."),
            (Some(s), None) => format!(" The plugin process has exited ({s})."),
            (None, None) => String::new(),
        }
    }

    /// Asks the plugin to exit (go-plugin's controller), waits up to `grace`, then
    /// kills it; removes a socket file it left behind.
    pub async fn shutdown(&self, grace: Duration) {
        let shutdown = crate::rpc::call_path::<_, crate::proto::plugin::Empty>(
            &self.channel,
            "/plugin.GRPCController/Shutdown",
            crate::proto::plugin::Empty {},
        );
        let _ = tokio::time::timeout(grace, shutdown).await;
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut child) = child {
            if tokio::time::timeout(grace, child.wait()).await.is_err() {
                tracing::debug!(plugin = %self.name, "the plugin did not exit after Shutdown; killing it");
                let _ = child.kill().await;
            }
        }
        self.remove_socket();
    }

    /// Kills the process at once.
    pub fn kill(&self) {
        if let Some(child) = self
            .child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            let _ = child.start_kill();
        }
        self.remove_socket();
    }

    /// Whether the process has exited, and how.
    pub fn exit_status(&self) -> Option<std::process::ExitStatus> {
        self.child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn remove_socket(&self) {
        if let Address::Unix(p) = &self.handshake.address {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An error with its sources, `a: b: c`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_lines() {
        let h = parse_handshake("1|6|unix|/tmp/plugin123|grpc|\n").unwrap();
        assert_eq!(h.protocol, 6);
        assert_eq!(h.address, Address::Unix("/tmp/plugin123".into()));
        assert_eq!(h.cert, None);
        // Padded and unpadded base64 certificates.
        let h = parse_handshake("1|5|tcp|127.0.0.1:10001|grpc|AAEC").unwrap();
        assert_eq!(h.cert, Some(vec![0, 1, 2]));
        let h = parse_handshake("1|5|tcp|127.0.0.1:10001|grpc|AAECAw==").unwrap();
        assert_eq!(h.cert, Some(vec![0, 1, 2, 3]));
        assert!(parse_handshake("hello")
            .unwrap_err()
            .contains("CORE|APP|NETWORK"));
        assert!(parse_handshake("1|6|unix|/x|netrpc")
            .unwrap_err()
            .contains("only grpc"));
        assert!(parse_handshake("2|6|unix|/x|grpc")
            .unwrap_err()
            .contains("core protocol 2"));
    }
}
