//! End-to-end tests: every test runs the real `terrane` binary in its own temporary
//! working directory, with configurations written by the test.

mod agent;
#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "aws")]
mod aws_compute;
#[cfg(feature = "aws")]
mod aws_security;
mod backends;
mod backup;
mod cost;
mod crash;
mod diagnostics;
mod dr;
mod first_day;
mod json;
mod lifecycle;
mod locking;
mod modules;
mod outputs;
mod plugins;
mod policy;
mod provisioners;
mod secrets;
mod state;
mod takeover;
mod terraform;
mod tls;
mod tools;
mod variables;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_terrane");

/// Stops the workspace's agent and its services when the test ends, even on failure.
pub struct Cleanup<'a>(pub &'a Ws);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["destroy", "--auto-approve"]);
        let _ = self.0.run(&["agent", "stop"]);
    }
}

/// The result of one run of the binary.
#[derive(Clone, Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// stdout followed by stderr.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Panics (showing both streams) unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Out {
        assert_eq!(
            self.code, code,
            "unexpected exit code {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Out {
        self.expect_code(0)
    }

    /// Asserts that stdout or stderr contains `needle`.
    #[track_caller]
    pub fn contains(&self, needle: &str) -> &Out {
        assert!(
            self.all().contains(needle),
            "expected output to contain {needle:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn lacks(&self, needle: &str) -> &Out {
        assert!(
            !self.all().contains(needle),
            "expected output NOT to contain {needle:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A temporary working directory.
pub struct Ws {
    dir: tempfile::TempDir,
}

impl Default for Ws {
    fn default() -> Ws {
        Ws::new()
    }
}

impl Ws {
    pub fn new() -> Ws {
        Ws {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A workspace with `main.tf`.
    pub fn with_main(main_tf: &str) -> Ws {
        let ws = Ws::new();
        ws.write("main.tf", main_tf);
        ws
    }

    /// A copy of a directory (e.g. an example).
    pub fn copy_of(src: &Path) -> Ws {
        let ws = Ws::new();
        copy_dir(src, ws.path());
        ws
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        let p = self.file(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(p, text).expect("write file");
    }

    #[track_caller]
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.file(name).exists()
    }

    /// `terrane -C <dir> --no-color ARGS` with `NO_COLOR=1`, a clean `TERRANE_*`
    /// environment and no stdin.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("-C").arg(self.path()).arg("--no-color").args(args);
        for (k, _) in std::env::vars_os() {
            let k_str = k.to_string_lossy();
            if k_str.starts_with("TERRANE_") || k_str.starts_with("TF_VAR_") {
                c.env_remove(&k);
            }
        }
        c.env("NO_COLOR", "1").stdin(Stdio::null());
        // Terraform's CLI configuration (provider installation) is the test's own:
        // empty unless a test names one.
        c.env("TF_CLI_CONFIG_FILE", "/dev/null");
        // A background agent started by an apply listens on a free port, never 7480.
        c.env("TERRANE_AGENT_LISTEN", "127.0.0.1:0");
        c
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_cmd(self.cmd(args))
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut c = self.cmd(args);
        for (k, v) in env {
            c.env(k, v);
        }
        self.run_cmd(c)
    }

    pub fn run_cmd(&self, mut c: Command) -> Out {
        let o = c.output().expect("run terrane");
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn apply(&self) -> Out {
        let o = self.run(&["apply", "--auto-approve"]);
        o.success();
        o
    }

    /// `state list` as a vector of addresses.
    #[track_caller]
    pub fn state_list(&self) -> Vec<String> {
        let o = self.run(&["state", "list"]);
        o.success();
        o.stdout.lines().map(str::to_string).collect()
    }

    /// Asserts that a re-plan finds nothing to do.
    #[track_caller]
    pub fn assert_converged(&self) {
        self.run(&["plan", "--detailed-exitcode"])
            .expect_code(0)
            .contains("No changes");
    }

    /// Starts a long-running command whose stdout lines can be waited for.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let mut c = self.cmd(args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn terrane");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let seen = Arc::new(Mutex::new(String::new()));
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(mut s) = seen2.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
                let _ = tx.send(line);
            }
        });
        let stderr = child.stderr.take().expect("stderr");
        let err = Arc::new(Mutex::new(String::new()));
        let err2 = err.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut s) = err2.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        Running {
            child,
            lines: rx,
            stdout: seen,
            stderr: err,
        }
    }
}

/// A terrane process running in the background.
pub struct Running {
    pub child: Child,
    lines: Receiver<String>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Waits (at most `timeout`) for a stdout line containing every needle.
    #[track_caller]
    pub fn wait_for_line(&self, needles: &[&str], timeout: Duration) {
        self.wait_for_lines(&[needles], timeout);
    }

    /// Waits (at most `timeout`) until, for each group of needles, some stdout line
    /// contains all of them, in whatever order those lines come (parallel work prints
    /// in no fixed order).
    #[track_caller]
    pub fn wait_for_lines(&self, groups: &[&[&str]], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut missing: Vec<&[&str]> = groups.to_vec();
        while !missing.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => missing.retain(|g| !g.iter().all(|n| line.contains(n))),
                Err(_) => panic!(
                    "no stdout lines containing {missing:?} within {timeout:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.stdout.lock().map(|s| s.clone()).unwrap_or_default(),
                    self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
                ),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit and returns its (fully read) output.
    pub fn finish(mut self) -> Out {
        let status = self.child.wait().expect("wait");
        // Let the reader threads drain the pipes.
        let deadline = Instant::now() + Duration::from_secs(5);
        while self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
        {}
        std::thread::sleep(Duration::from_millis(20));
        Out {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout.lock().map(|s| s.clone()).unwrap_or_default(),
            stderr: self.stderr.lock().map(|s| s.clone()).unwrap_or_default(),
        }
    }

    /// Sends a signal to the process.
    #[allow(unsafe_code)]
    pub fn signal(&self, sig: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) with a pid we spawned and have not yet reaped.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
    }
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create dir");
    for e in std::fs::read_dir(src).expect("read dir") {
        let e = e.expect("dir entry");
        let p = e.path();
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') || name == "out" {
            continue;
        }
        if p.is_dir() {
            copy_dir(&p, &dst.join(&name));
        } else {
            std::fs::copy(&p, dst.join(&name)).expect("copy file");
        }
    }
}

/// The workspace root (for the examples).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// Unix permission bits of a file.
pub fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o7777
}

/// A loopback port for a test to give to a server it starts.
///
/// Ports come from 20000–32767, below Linux's ephemeral range (32768–60999), so the
/// kernel never hands one of them out for a `bind(0)` or an outgoing connection while
/// the test is using it; tests run in parallel processes, so each process starts at
/// its own offset, and no port is returned twice within one process.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_768;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let seed = std::process::id().wrapping_mul(2_654_435_761)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    let _ = NEXT.compare_exchange(u32::MAX, seed % SPAN, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free loopback port in {LOW}..{}", LOW + SPAN)
}
