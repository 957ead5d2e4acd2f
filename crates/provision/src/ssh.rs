//! The SSH communicator of `file` and `remote-exec`, with Terraform's `connection`
//! semantics:
//!
//! - `host` (required), `port` (22), `user` (`root`), `timeout` (`5m`): connecting is
//!   retried until the timeout, and then the error names the host, the user, the
//!   provisioner and the last reason;
//! - authentication by `private_key`, then `password`, then the SSH agent
//!   (`SSH_AUTH_SOCK`) unless `agent = false`;
//! - `host_key` (an `authorized_keys` line, or its key alone): the server must present
//!   that key; without it any host key is accepted, as in Terraform;
//! - `bastion_host` (with `bastion_port`, `bastion_user`, `bastion_password`,
//!   `bastion_private_key`, `bastion_host_key`, each defaulting to the host's):
//!   the connection to the host is tunnelled through the bastion.
//!
//! Files are sent by the SCP protocol (`scp -t` on the remote side), as Terraform
//! sends them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::client::{self, Handle};
use russh::keys::{PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::ChannelMsg;
use terrane_core::Value;

use crate::{string_arg, Output, ProvisionError};

/// Where and how to connect.
#[derive(Clone)]
pub struct Connection {
    pub host: String,
    pub port: u16,
    pub user: String,
    password: Option<String>,
    private_key: Option<String>,
    pub agent: bool,
    pub timeout: Duration,
    host_key: Option<String>,
    pub script_path: String,
    bastion: Option<Box<Connection>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Terraform's default `script_path`; `%RAND%` becomes a random number.
pub const DEFAULT_SCRIPT_PATH: &str = "/tmp/terraform_%RAND%.sh";

impl Connection {
    /// Reads an evaluated `connection` block.
    pub fn from_value(v: &Value) -> Result<Connection, ProvisionError> {
        let kind = string_arg(v, "type").unwrap_or("ssh");
        if kind != "ssh" {
            return Err(ProvisionError(format!(
                "The connection type {kind:?} is not supported: terrane connects with ssh only (WinRM is not supported)."
            )));
        }
        let host = string_arg(v, "host").unwrap_or_default().to_string();
        if host.is_empty() {
            return Err(ProvisionError(
                "The connection has no host: set host (often self.public_ip or self.private_ip) in the connection block.".into(),
            ));
        }
        let port = |name: &str, default: u16| -> Result<u16, ProvisionError> {
            match v.get(name).and_then(Value::as_number) {
                None => Ok(default),
                Some(n) => n
                    .as_i64()
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(|| {
                        ProvisionError(format!("The connection's {name} {n} is not a port number."))
                    }),
            }
        };
        let timeout = match string_arg(v, "timeout") {
            Some(t) if !t.is_empty() => terrane_provider::parse_duration(t).map_err(|e| {
                ProvisionError(format!("The connection's timeout {t:?} is not a duration ({e}); write it as 30s, 5m or 1h."))
            })?,
            _ => Duration::from_secs(300),
        };
        let nonempty = |name: &str| {
            string_arg(v, name)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let user = nonempty("user").unwrap_or_else(|| "root".to_string());
        let password = nonempty("password");
        let private_key = nonempty("private_key");
        let host_key = nonempty("host_key");
        let agent = v.get("agent").and_then(Value::as_bool).unwrap_or(true);
        let bastion = match nonempty("bastion_host") {
            None => None,
            Some(bastion_host) => Some(Box::new(Connection {
                host: bastion_host,
                port: port("bastion_port", port("port", 22)?)?,
                user: nonempty("bastion_user").unwrap_or_else(|| user.clone()),
                password: nonempty("bastion_password").or_else(|| password.clone()),
                private_key: nonempty("bastion_private_key").or_else(|| private_key.clone()),
                agent,
                timeout,
                host_key: nonempty("bastion_host_key"),
                script_path: String::new(),
                bastion: None,
            })),
        };
        Ok(Connection {
            host,
            port: port("port", 22)?,
            user,
            password,
            private_key,
            agent,
            timeout,
            host_key,
            script_path: nonempty("script_path").unwrap_or_else(|| DEFAULT_SCRIPT_PATH.to_string()),
            bastion,
        })
    }

    fn describe(&self) -> String {
        format!("ssh://{}@{}:{}", self.user, self.host, self.port)
    }
}

/// The client side of a connection: accepts the server's key when it is the expected
/// one (or when none is expected).
struct Client {
    expected: Option<PublicKey>,
    mismatch: Arc<std::sync::Mutex<Option<String>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let Some(expected) = &self.expected else {
            return Ok(true);
        };
        let presented = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data().clone(),
            PublicKeyOrCertificate::Certificate(cert) => cert.public_key().clone(),
        };
        if &presented == expected.key_data() {
            return Ok(true);
        }
        if let Ok(mut m) = self.mismatch.lock() {
            *m = Some(format!(
                "the host presented the key {}, not the host_key given",
                PublicKey::from(presented)
                    .to_openssh()
                    .unwrap_or_else(|_| "(unprintable)".into())
            ));
        }
        Ok(false)
    }
}

fn parse_host_key(text: &str) -> Result<PublicKey, ProvisionError> {
    let line = text.trim();
    PublicKey::from_openssh(line)
        .or_else(|_| russh::keys::parse_public_key_base64(line).map_err(|e| e.to_string()))
        .map_err(|e| {
            ProvisionError(format!(
                "The host_key is not an SSH public key ({e}); give it as in known_hosts or authorized_keys: ssh-ed25519 AAAA..."
            ))
        })
}

/// An authenticated SSH session.
pub struct Session {
    handle: Handle<Client>,
    /// The bastion's session, kept open while the tunnelled one is in use.
    _bastion: Option<Handle<Client>>,
}

impl Session {
    /// Connects and authenticates, retrying until the connection's timeout; progress
    /// lines go to `out` as Terraform prints them.
    pub async fn connect(
        c: &Connection,
        provisioner: &str,
        out: &Output<'_>,
    ) -> Result<Session, ProvisionError> {
        out.line("Connecting to remote host via SSH...");
        out.line(&format!("  Host: {}", c.host));
        out.line(&format!("  User: {}", c.user));
        out.line(&format!("  Password: {}", c.password.is_some()));
        out.line(&format!("  Private key: {}", c.private_key.is_some()));
        out.line(&format!(
            "  SSH Agent: {}",
            c.agent && agent_socket().is_some()
        ));
        if let Some(b) = &c.bastion {
            out.line(&format!("  Bastion Host: {}", b.host));
            out.line(&format!("  Bastion User: {}", b.user));
        }
        let started = Instant::now();
        let mut delay = Duration::from_millis(250);
        loop {
            let remaining = c.timeout.saturating_sub(started.elapsed());
            let attempt = tokio::time::timeout(
                remaining.max(Duration::from_millis(100)),
                Session::attempt(c),
            )
            .await;
            let why = match attempt {
                Ok(Ok(session)) => {
                    out.line("Connected!");
                    return Ok(session);
                }
                Ok(Err(Attempt::Fatal(why))) => return Err(ProvisionError(out.mask(&why))),
                Ok(Err(Attempt::Retry(why))) => why,
                Err(_) => "the attempt did not finish in time".to_string(),
            };
            if started.elapsed() + delay >= c.timeout {
                return Err(ProvisionError(out.mask(&format!(
                    "{provisioner} provisioner: timeout after {} connecting to {} as user {:?}{}: last error: {why}",
                    humanize(c.timeout),
                    c.host,
                    c.user,
                    c.bastion
                        .as_ref()
                        .map(|b| format!(" through bastion {}", b.describe()))
                        .unwrap_or_default()
                ))));
            }
            tracing::debug!(host = %c.host, %why, "SSH connection failed; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    async fn attempt(c: &Connection) -> Result<Session, Attempt> {
        let (bastion, handle) = match &c.bastion {
            None => (None, dial(c, None).await?),
            Some(b) => {
                let bastion = dial(b, None).await.map_err(|e| e.context("the bastion"))?;
                let channel = bastion
                    .channel_open_direct_tcpip(c.host.clone(), u32::from(c.port), "127.0.0.1", 0)
                    .await
                    .map_err(|e| {
                        Attempt::Retry(format!(
                            "the bastion could not reach {}:{}: {e}",
                            c.host, c.port
                        ))
                    })?;
                let handle = dial(c, Some(channel.into_stream())).await?;
                (Some(bastion), handle)
            }
        };
        Ok(Session {
            handle,
            _bastion: bastion,
        })
    }

    /// A session channel running `command`.
    async fn start_command(
        &self,
        command: &str,
    ) -> Result<russh::Channel<client::Msg>, ProvisionError> {
        let channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| ProvisionError(format!("cannot open an SSH session channel: {e}")))?;
        channel
            .exec(true, command)
            .await
            .map_err(|e| ProvisionError(format!("cannot start {command:?}: {e}")))?;
        Ok(channel)
    }

    /// Runs `command`, streaming its output; returns its exit status.
    pub async fn exec(&self, command: &str, out: &Output<'_>) -> Result<u32, ProvisionError> {
        let mut channel = self.start_command(command).await?;
        let mut pending: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut status = None;
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } => emit_lines(&mut pending[0], &data, out),
                ChannelMsg::ExtendedData { data, .. } => emit_lines(&mut pending[1], &data, out),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    return Err(ProvisionError(format!(
                        "{command:?} was killed by signal {signal_name:?}"
                    )))
                }
                _ => {}
            }
        }
        for rest in pending.iter().filter(|p| !p.is_empty()) {
            out.line(&String::from_utf8_lossy(rest));
        }
        status.ok_or_else(|| {
            ProvisionError(format!(
                "{command:?} ended without an exit status (the connection closed)"
            ))
        })
    }

    /// Writes `data` to the remote file `dest` with `mode`, by `scp -t`.
    pub async fn upload(&self, data: &[u8], dest: &str, mode: u32) -> Result<(), ProvisionError> {
        let (dir, name) = match dest.rsplit_once('/') {
            Some(("", name)) => ("/", name),
            Some((dir, name)) => (dir, name),
            None => (".", dest),
        };
        let mut scp = Scp::start(self, &format!("scp -vt {}", shell_quote(dir))).await?;
        scp.file(name, data, mode).await?;
        scp.finish().await
    }

    /// Copies the local directory `src` into the remote directory `dest` (which is
    /// created), by `scp -rt`.
    pub async fn upload_dir(
        &self,
        src: &std::path::Path,
        dest: &str,
    ) -> Result<(), ProvisionError> {
        let mut scp = Scp::start(self, &format!("scp -rvt {}", shell_quote(dest))).await?;
        scp.tree(src).await?;
        scp.finish().await
    }

    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

enum Attempt {
    /// Trying again may help (refused, reset, a server that is still starting).
    Retry(String),
    /// It will not (a wrong host key, a key that cannot be read).
    Fatal(String),
}

impl Attempt {
    fn context(self, what: &str) -> Attempt {
        match self {
            Attempt::Retry(w) => Attempt::Retry(format!("{what}: {w}")),
            Attempt::Fatal(w) => Attempt::Fatal(format!("{what}: {w}")),
        }
    }
}

fn agent_socket() -> Option<String> {
    std::env::var("SSH_AUTH_SOCK")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Connects to `c` (over `stream` when tunnelled) and authenticates.
async fn dial(
    c: &Connection,
    stream: Option<russh::ChannelStream<client::Msg>>,
) -> Result<Handle<Client>, Attempt> {
    let expected = match &c.host_key {
        Some(k) => Some(parse_host_key(k).map_err(|e| Attempt::Fatal(e.0))?),
        None => None,
    };
    let key = match &c.private_key {
        Some(pem) => Some(Arc::new(russh::keys::decode_secret_key(pem, None).map_err(|e| {
            Attempt::Fatal(format!(
                "the private_key cannot be read ({e}); give the key itself (e.g. file(\"~/.ssh/id_ed25519\")), not its path, unencrypted"
            ))
        })?)),
        None => None,
    };
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(Duration::from_secs(600)),
        ..Default::default()
    });
    let mismatch = Arc::new(std::sync::Mutex::new(None));
    let handler = Client {
        expected,
        mismatch: mismatch.clone(),
    };
    let connected = match stream {
        None => client::connect(config, (c.host.as_str(), c.port), handler).await,
        Some(s) => client::connect_stream(config, s, handler).await,
    };
    let mut handle = match connected {
        Ok(h) => h,
        Err(e) => {
            if let Some(m) = mismatch.lock().ok().and_then(|m| m.clone()) {
                return Err(Attempt::Fatal(format!(
                    "host key mismatch at {}: {m}",
                    c.describe()
                )));
            }
            return Err(Attempt::Retry(format!(
                "connecting to {}: {e}",
                c.describe()
            )));
        }
    };
    let mut tried = Vec::new();
    if let Some(key) = key {
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten();
        let result = handle
            .authenticate_publickey(c.user.clone(), PrivateKeyWithHashAlg::new(key, hash))
            .await
            .map_err(|e| Attempt::Retry(e.to_string()))?;
        if result.success() {
            return Ok(handle);
        }
        tried.push("the private key");
    }
    if let Some(password) = &c.password {
        let result = handle
            .authenticate_password(c.user.clone(), password.clone())
            .await
            .map_err(|e| Attempt::Retry(e.to_string()))?;
        if result.success() {
            return Ok(handle);
        }
        tried.push("the password");
    }
    if c.agent && agent_socket().is_some() {
        if let Ok(mut agent) = russh::keys::agent::client::AgentClient::connect_env().await {
            let identities = agent.request_identities().await.unwrap_or_default();
            for identity in identities {
                let public = identity.public_key().into_owned();
                let hash = handle
                    .best_supported_rsa_hash()
                    .await
                    .ok()
                    .flatten()
                    .flatten();
                if let Ok(result) = handle
                    .authenticate_publickey_with(c.user.clone(), public, hash, &mut agent)
                    .await
                {
                    if result.success() {
                        return Ok(handle);
                    }
                }
            }
            tried.push("the SSH agent's keys");
        }
    }
    if tried.is_empty() {
        return Err(Attempt::Fatal(format!(
            "no way to authenticate to {}: set private_key or password in the connection block, or run an SSH agent (SSH_AUTH_SOCK)",
            c.describe()
        )));
    }
    Err(Attempt::Retry(format!(
        "{} refused authentication as {:?} by {}",
        c.describe(),
        c.user,
        tried.join(", ")
    )))
}

fn emit_lines(pending: &mut Vec<u8>, data: &[u8], out: &Output<'_>) {
    pending.extend_from_slice(data);
    while let Some(at) = pending.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = pending.drain(..=at).collect();
        let text = String::from_utf8_lossy(&line[..line.len() - 1]);
        out.line(text.trim_end_matches('\r'));
    }
}

/// `'text'` for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if secs > 0 {
        format!("{secs}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The source side of the SCP protocol over an exec channel.
struct Scp {
    channel: russh::Channel<client::Msg>,
    command: String,
    /// Bytes the remote side sent that are not read yet.
    buffer: Vec<u8>,
    stderr: Vec<u8>,
}

impl Scp {
    async fn start(session: &Session, command: &str) -> Result<Scp, ProvisionError> {
        let channel = session.start_command(command).await?;
        let mut scp = Scp {
            channel,
            command: command.to_string(),
            buffer: Vec::new(),
            stderr: Vec::new(),
        };
        scp.ack().await?;
        Ok(scp)
    }

    async fn byte(&mut self) -> Result<u8, ProvisionError> {
        loop {
            if !self.buffer.is_empty() {
                return Ok(self.buffer.remove(0));
            }
            match self.channel.wait().await {
                Some(ChannelMsg::Data { data }) => self.buffer.extend_from_slice(&data),
                Some(ChannelMsg::ExtendedData { data, .. }) => self.stderr.extend_from_slice(&data),
                Some(ChannelMsg::ExitStatus { exit_status }) if exit_status != 0 => {
                    return Err(self.failed(&format!("exited with status {exit_status}")))
                }
                Some(_) => {}
                None => return Err(self.failed("closed the connection")),
            }
        }
    }

    fn failed(&self, what: &str) -> ProvisionError {
        let said: Vec<String> = String::from_utf8_lossy(&self.stderr)
            .lines()
            .filter(|l| {
                !l.starts_with("Sink:") && !l.starts_with("Executing:") && !l.trim().is_empty()
            })
            .map(str::to_string)
            .collect();
        ProvisionError(format!(
            "upload failed: {:?} on the remote host {what}{}",
            self.command,
            if said.is_empty() {
                " (is scp installed there?)".to_string()
            } else {
                format!(": {}", said.join(" "))
            }
        ))
    }

    /// Reads the remote side's answer: `0` is fine, `1` a warning, `2` an error, each
    /// of the last two followed by a message line.
    async fn ack(&mut self) -> Result<(), ProvisionError> {
        match self.byte().await? {
            0 => Ok(()),
            code => {
                let mut message = Vec::new();
                loop {
                    match self.byte().await? {
                        b'\n' => break,
                        b => message.push(b),
                    }
                }
                let message = String::from_utf8_lossy(&message).to_string();
                if code == 1 {
                    tracing::warn!(%message, "scp warning");
                    Ok(())
                } else {
                    Err(ProvisionError(format!(
                        "upload failed: the remote scp said: {message}"
                    )))
                }
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), ProvisionError> {
        self.channel
            .data(bytes)
            .await
            .map_err(|e| ProvisionError(format!("upload failed: sending to the remote scp: {e}")))
    }

    async fn file(&mut self, name: &str, data: &[u8], mode: u32) -> Result<(), ProvisionError> {
        self.send(format!("C{:04o} {} {name}\n", mode & 0o7777, data.len()).as_bytes())
            .await?;
        self.ack().await?;
        self.send(data).await?;
        self.send(&[0]).await?;
        self.ack().await
    }

    fn tree<'a>(
        &'a mut self,
        dir: &'a std::path::Path,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ProvisionError>> + 'a>> {
        Box::pin(async move {
            let mut entries: Vec<_> = std::fs::read_dir(dir)
                .map_err(|e| ProvisionError(format!("cannot read {}: {e}", dir.display())))?
                .filter_map(Result::ok)
                .collect();
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let meta = std::fs::metadata(&path)
                    .map_err(|e| ProvisionError(format!("cannot read {}: {e}", path.display())))?;
                let mode = {
                    use std::os::unix::fs::PermissionsExt as _;
                    meta.permissions().mode()
                };
                if meta.is_dir() {
                    self.send(format!("D{:04o} 0 {name}\n", mode & 0o7777).as_bytes())
                        .await?;
                    self.ack().await?;
                    self.tree(&path).await?;
                    self.send(b"E\n").await?;
                    self.ack().await?;
                } else {
                    let data = std::fs::read(&path).map_err(|e| {
                        ProvisionError(format!("cannot read {}: {e}", path.display()))
                    })?;
                    self.file(&name, &data, mode).await?;
                }
            }
            Ok(())
        })
    }

    async fn finish(mut self) -> Result<(), ProvisionError> {
        let _ = self.channel.eof().await;
        loop {
            match self.channel.wait().await {
                Some(ChannelMsg::ExitStatus { exit_status }) if exit_status != 0 => {
                    return Err(self.failed(&format!("exited with status {exit_status}")))
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => self.stderr.extend_from_slice(&data),
                Some(_) => {}
                None => return Ok(()),
            }
        }
    }
}
