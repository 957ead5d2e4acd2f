//! A real PostgreSQL server for tests: a throwaway cluster (initdb + pg_ctl) on a
//! loopback port, stopped and deleted on drop. `.ci/run` installs the server package;
//! a test that needs PostgreSQL starts one here, or uses the one `.ci/run` started
//! (`TERRANE_TEST_PG`), and fails loudly when neither works — it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct PgServer {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

/// The directory holding `initdb` and `pg_ctl` (the newest installed version).
fn bin_dir() -> PathBuf {
    if let Ok(d) = std::env::var("TERRANE_PG_BIN") {
        return PathBuf::from(d);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions.pop().expect(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb). Run `bash .ci/run`, which installs it, or `apt-get install -y postgresql`",
    )
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool; as root, as the `postgres` user (initdb refuses root).
fn pg_tool(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let exe = bin.join(tool);
    let mut cmd = if is_root() {
        let mut c = Command::new(runuser());
        c.args(["-u", "postgres", "--"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {:?}: {e}", cmd))
}

/// util-linux's `runuser`, which lives in /usr/sbin: found there too when the PATH
/// leaves the sbin directories out.
fn runuser() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join("runuser"))
        .find(|p| p.is_file());
    on_path.unwrap_or_else(|| PathBuf::from("runuser"))
}

impl PgServer {
    /// Starts a new cluster on `port`.
    pub fn start(port: u16) -> PgServer {
        let bin = bin_dir();
        let dir = std::env::temp_dir().join(format!("terrane-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let data = dir.join("data");
        let out = pg_tool(
            &bin,
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let server = PgServer { port, dir, bin };
        server.pg_ctl_start();
        server
    }

    fn pg_ctl_start(&self) {
        let data = self.dir.join("data");
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        let out = pg_tool(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-o",
                &opts,
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server (fast shutdown: connections are cut).
    pub fn stop(&self) {
        let data = self.dir.join("data");
        pg_tool(
            &self.bin,
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"],
        );
    }

    /// Starts the server again after [`PgServer::stop`].
    pub fn restart(&self) {
        self.pg_ctl_start();
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Waits until the server accepts TCP connections.
    pub fn wait_ready(&self) {
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "PostgreSQL did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server URL for tests that only need *a* PostgreSQL: the one `.ci/run` started
/// (`TERRANE_TEST_PG`), or one started for this test process on `port`.
pub fn shared(port: u16) -> (String, Option<PgServer>) {
    match std::env::var("TERRANE_TEST_PG") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let s = PgServer::start(port);
            (s.url(), Some(s))
        }
    }
}
