//! The keeper: a small parent process that runs the agent, restarts it when it dies, and
//! holds a copy of every listening socket the agent opened.
//!
//! While an agent process is being replaced, its load balancers, DNS zones and API keep
//! their sockets open in the keeper, so clients are queued by the kernel instead of
//! refused, and the new agent accepts them from the very same sockets. Only requests that
//! were in flight on the killed process's connections fail.
//!
//! The two sides talk over a `SOCK_SEQPACKET` socket pair: the agent sends
//! `+KEY` with the socket attached (`SCM_RIGHTS`) when it opens a listener and `-KEY`
//! when it closes one for good (the keeper answers `-KEY` with one byte, so the address
//! is free before the agent goes on). A restarted agent receives the sockets as inherited
//! descriptors named in [`ENV_FDS`].
//!
//! Keys are `api`, `tcp/ADDR` and `udp/ADDR`; addresses with port 0 are not kept, since
//! the next agent would not ask for the same socket.

// Passing descriptors between processes needs three unsafe operations, each commented
// where it happens: owning a descriptor number received from the kernel or the keeper,
// and clearing close-on-exec between fork and exec.
#![allow(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

/// `KEY=FD;KEY=FD`: the sockets a restarted agent inherits.
pub const ENV_FDS: &str = "TERRANE_AGENT_FDS";
/// The agent's end of the socket pair to its keeper.
pub const ENV_CHANNEL: &str = "TERRANE_AGENT_KEEPER_FD";
/// `N;REASON`: set when the keeper restarts a dead agent.
pub const ENV_RESTART: &str = "TERRANE_AGENT_RESTART";
/// The keeper's pid, so the agent can publish it.
pub const ENV_KEEPER_PID: &str = "TERRANE_AGENT_KEEPER_PID";

/// The key of the agent's API socket.
pub const API_KEY: &str = "api";

/// After this many restarts in a row that each died within [`QUICK_DEATH`], the keeper
/// gives up: the agent is failing on start, and restarting it again will not help.
const MAX_QUICK_DEATHS: u32 = 5;
const QUICK_DEATH: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// The agent's side: where listeners come from.

struct Held {
    fd: OwnedFd,
    /// Inherited sockets are unclaimed until a balancer or zone asks for them again.
    claimed: bool,
}

struct Registry {
    held: Mutex<HashMap<String, Held>>,
    channel: Option<Mutex<OwnedFd>>,
}

/// Takes over the sockets and channel named in the environment. Call it first thing in
/// the agent, before any process is spawned, so none of them inherits a descriptor.
pub fn init() {
    registry();
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::from_env)
}

/// Takes ownership of a descriptor named in the environment by the keeper, and marks it
/// close-on-exec again so the agent's replicas never inherit it.
fn adopt_fd(text: &str) -> Option<OwnedFd> {
    let raw: RawFd = text.trim().parse().ok()?;
    if raw < 3 {
        return None;
    }
    // SAFETY: the keeper opened the descriptor for exactly this process and named it in
    // the environment; nothing else in this process owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    fcntl(&fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).ok()?;
    Some(fd)
}

impl Registry {
    fn from_env() -> Registry {
        let mut held = HashMap::new();
        if let Ok(list) = std::env::var(ENV_FDS) {
            for item in list.split(';').filter(|s| !s.is_empty()) {
                if let Some((key, fd)) = item.rsplit_once('=') {
                    if let Some(fd) = adopt_fd(fd) {
                        held.insert(key.to_string(), Held { fd, claimed: false });
                    }
                }
            }
        }
        let channel = std::env::var(ENV_CHANNEL)
            .ok()
            .and_then(|v| adopt_fd(&v))
            .map(Mutex::new);
        Registry {
            held: Mutex::new(held),
            channel,
        }
    }

    fn send(&self, message: &str, fd: Option<BorrowedFd<'_>>) {
        let Some(channel) = &self.channel else { return };
        let channel = channel.lock().unwrap_or_else(|e| e.into_inner());
        let fds = fd.map(|f| [f.as_raw_fd()]);
        let cmsgs: Vec<ControlMessage> = fds
            .as_ref()
            .map(|f| vec![ControlMessage::ScmRights(f)])
            .unwrap_or_default();
        let sent = sendmsg::<()>(
            channel.as_raw_fd(),
            &[IoSlice::new(message.as_bytes())],
            &cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        );
        if let Err(e) = sent {
            // The keeper is gone (killed on its own); the agent goes on without it.
            tracing::debug!(error = %e, "cannot reach the agent's keeper");
            return;
        }
        if message.starts_with('-') {
            // Wait for the keeper to close its copy, so the address is free on return.
            let mut ack = [0u8; 1];
            let _ = nix::sys::socket::setsockopt(
                &*channel,
                nix::sys::socket::sockopt::ReceiveTimeout,
                &nix::sys::time::TimeVal::new(1, 0),
            );
            let _ = nix::unistd::read(&*channel, &mut ack);
        }
    }

    /// An open socket for `key`: the one this process already holds (a balancer that is
    /// reconfigured keeps its socket), the one inherited from the previous agent, or a new
    /// one from `open`, which is then shared with the keeper.
    fn socket(
        &self,
        key: &str,
        keep: bool,
        open: impl FnOnce() -> std::io::Result<OwnedFd>,
    ) -> std::io::Result<OwnedFd> {
        if keep {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(h) = held.get_mut(key) {
                h.claimed = true;
                return h.fd.try_clone();
            }
        }
        let fd = open()?;
        if keep {
            let copy = fd.try_clone()?;
            self.send(&format!("+{key}"), Some(copy.as_fd()));
            self.held.lock().unwrap_or_else(|e| e.into_inner()).insert(
                key.to_string(),
                Held {
                    fd: copy,
                    claimed: true,
                },
            );
        }
        Ok(fd)
    }

    fn release(&self, key: &str) {
        let removed = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        if removed.is_some() {
            drop(removed);
            self.send(&format!("-{key}"), None);
        }
    }
}

fn port_is_fixed(addr: &str) -> bool {
    addr.rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok_and(|p| p != 0))
}

/// A listening TCP socket on `addr`, kept across agent restarts (see the module docs).
pub fn tcp_listener(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    tcp_listener_keyed(&format!("tcp/{addr}"), addr)
}

/// Like [`tcp_listener`] under an explicit key (the API socket).
pub fn tcp_listener_keyed(key: &str, addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let keep = key == API_KEY || port_is_fixed(addr);
    let fd = registry().socket(key, keep, || {
        std::net::TcpListener::bind(addr).map(OwnedFd::from)
    })?;
    let listener = std::net::TcpListener::from(fd);
    listener.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(listener)
}

/// A bound UDP socket on `addr`, kept across agent restarts.
pub fn udp_socket(addr: &str) -> std::io::Result<tokio::net::UdpSocket> {
    let fd = registry().socket(&format!("udp/{addr}"), port_is_fixed(addr), || {
        std::net::UdpSocket::bind(addr).map(OwnedFd::from)
    })?;
    let socket = std::net::UdpSocket::from(fd);
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket)
}

/// Closes this process's and the keeper's copies of a TCP listener for good.
pub fn release_tcp(addr: &str) {
    registry().release(&format!("tcp/{addr}"));
}

/// Closes this process's and the keeper's copies of a UDP socket for good.
pub fn release_udp(addr: &str) {
    registry().release(&format!("udp/{addr}"));
}

/// Closes inherited sockets that nothing asked for after the restore (their balancer or
/// zone is gone), so their addresses are free again.
pub fn release_unclaimed() {
    let keys: Vec<String> = registry()
        .held
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|(_, h)| !h.claimed)
        .map(|(k, _)| k.clone())
        .collect();
    for k in keys {
        registry().release(&k);
    }
}

/// Why this agent process was started by its keeper after another one died, if it was.
pub fn restart_reason() -> Option<(u64, String)> {
    let v = std::env::var(ENV_RESTART).ok()?;
    let (n, reason) = v.split_once(';')?;
    Some((n.parse().ok()?, reason.to_string()))
}

pub fn keeper_pid() -> Option<u32> {
    std::env::var(ENV_KEEPER_PID).ok()?.parse().ok()
}

// ---------------------------------------------------------------------------------------
// The keeper's side.

type Sockets = Arc<Mutex<BTreeMap<String, OwnedFd>>>;

/// Serves one agent process's channel until it closes: stores shared sockets, drops
/// released ones and acknowledges releases.
fn serve_channel(channel: OwnedFd, sockets: Sockets) {
    loop {
        let mut buf = [0u8; 512];
        let mut cmsg = nix::cmsg_space!([RawFd; 4]);
        let (text, fds) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = match recvmsg::<()>(
                channel.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => m,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            };
            if msg.bytes == 0 {
                return; // the agent is gone
            }
            let mut fds = Vec::new();
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmRights(list) = c {
                        // SAFETY: the kernel just installed these descriptors for us.
                        fds.extend(list.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
                    }
                }
            }
            (msg.bytes, fds)
        };
        let text = String::from_utf8_lossy(&buf[..text]).to_string();
        let mut sockets = sockets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = text.strip_prefix('+') {
            if let Some(fd) = fds.into_iter().next() {
                sockets.insert(key.to_string(), fd);
            }
        } else if let Some(key) = text.strip_prefix('-') {
            sockets.remove(key);
            drop(sockets);
            let _ = nix::unistd::write(&channel, b"k");
        }
    }
}

/// Runs the agent as a child of this process and keeps it running: a child killed by a
/// signal or failing is started again at once with the sockets it held; a clean exit
/// (`terrane agent stop`, SIGTERM) ends the keeper too. SIGTERM and Ctrl-C sent to the
/// keeper stop the agent cleanly.
///
/// `api` is the agent's API listener, bound by the caller so that a taken address is an
/// error before anything starts. `command` builds the agent's command line.
pub async fn keep(
    workspace: &Path,
    api: std::net::TcpListener,
    command: impl Fn() -> std::process::Command,
) -> Result<(), String> {
    let sockets: Sockets = Arc::new(Mutex::new(BTreeMap::new()));
    sockets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(API_KEY.to_string(), OwnedFd::from(api));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let mut restarts = 0u64;
    let mut quick_deaths = 0u32;
    let mut restart_reason: Option<String> = None;
    loop {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| format!("cannot create the agent's channel: {e}"))?;
        let inherited: Vec<(String, RawFd)> = sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, fd)| (k.clone(), fd.as_raw_fd()))
            .collect();
        let mut cmd = command();
        cmd.env(
            ENV_FDS,
            inherited
                .iter()
                .map(|(k, fd)| format!("{k}={fd}"))
                .collect::<Vec<_>>()
                .join(";"),
        )
        .env(ENV_CHANNEL, theirs.as_raw_fd().to_string())
        .env(ENV_KEEPER_PID, std::process::id().to_string());
        // The agent is long-running and its load comes and goes: have the allocator
        // commit memory as it is used rather than ahead of it, so the agent's resident
        // memory follows its connections (at 1,000 connections: 48 MB instead of 70 MB).
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
            cmd.env("MIMALLOC_ARENA_EAGER_COMMIT", "0");
        }
        match &restart_reason {
            Some(reason) => cmd.env(ENV_RESTART, format!("{restarts};{reason}")),
            None => cmd.env_remove(ENV_RESTART),
        };
        let mut passed: Vec<RawFd> = inherited.iter().map(|(_, fd)| *fd).collect();
        passed.push(theirs.as_raw_fd());
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec the closure only calls fcntl, which is
            // async-signal-safe, on descriptors this process keeps open until the spawn.
            unsafe {
                cmd.pre_exec(move || {
                    for fd in &passed {
                        fcntl(
                            BorrowedFd::borrow_raw(*fd),
                            FcntlArg::F_SETFD(FdFlag::empty()),
                        )
                        .map_err(std::io::Error::from)?;
                    }
                    Ok(())
                });
            }
        }
        let started = Instant::now();
        let mut child = tokio::process::Command::from(cmd)
            .spawn()
            .map_err(|e| format!("cannot start the agent process: {e}"))?;
        drop(theirs);
        let served = {
            let sockets = sockets.clone();
            std::thread::spawn(move || serve_channel(ours, sockets))
        };
        let (status, stopping) = tokio::select! {
            s = child.wait() => (s, false),
            _ = term.recv() => (stop_child(&mut child).await, true),
            _ = tokio::signal::ctrl_c() => (stop_child(&mut child).await, true),
        };
        let status = status.map_err(|e| format!("waiting for the agent process: {e}"))?;
        // The channel ends once the dead agent's last messages are read, so the next
        // agent inherits every socket it shared.
        let _ = served.join();
        if status.success() || stopping {
            return Ok(());
        }
        let reason = describe(&status);
        if started.elapsed() < QUICK_DEATH {
            quick_deaths += 1;
        } else {
            quick_deaths = 0;
        }
        if quick_deaths >= MAX_QUICK_DEATHS {
            return Err(format!(
                "the agent for {} {reason} {MAX_QUICK_DEATHS} times in a row within {} s of starting; giving up (see .terrane/agent/agent.log)",
                workspace.display(),
                QUICK_DEATH.as_secs()
            ));
        }
        restarts += 1;
        tracing::warn!(
            restart = restarts,
            "The keeper's agent {reason}; the keeper starts it again."
        );
        // The first restart is immediate; an agent that keeps dying backs off.
        if quick_deaths > 1 {
            tokio::time::sleep(Duration::from_millis(100 << quick_deaths.min(6))).await;
        }
        restart_reason = Some(reason);
    }
}

async fn stop_child(
    child: &mut tokio::process::Child,
) -> std::io::Result<std::process::ExitStatus> {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    child.wait().await
}

fn describe(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(sig)) => {
            let name = nix::sys::signal::Signal::try_from(sig)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| sig.to_string());
            format!("was killed by {name}")
        }
        (Some(code), _) => format!("exited with status {code}"),
        _ => "ended".to_string(),
    }
}
