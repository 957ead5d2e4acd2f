//! `terrane init` installs modules from git, served by a real `git daemon` on loopback;
//! plan and apply then use them. The `github.com/ORG/REPO` shorthand is followed as
//! Terraform follows it (`https://github.com/ORG/REPO.git`), and git's own `insteadOf`
//! setting (given in the environment, as a user would put it in `~/.gitconfig`) points
//! that URL at the loopback daemon: nothing reaches GitHub.

use std::fs;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Ws;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `git daemon` serving the bare repositories under a directory, until dropped.
pub struct GitDaemon {
    child: Child,
    pub port: u16,
    pub base: tempfile::TempDir,
}

impl GitDaemon {
    pub fn start() -> GitDaemon {
        let base = tempfile::tempdir().expect("a base directory");
        let port = crate::free_port();
        let child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.path().display()))
            .arg(base.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts (Debian's git)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "git daemon did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        GitDaemon { child, port, base }
    }

    /// Publishes a repository at `PATH.git` whose tags `v1`, `v2`, ... hold `versions`.
    pub fn publish(&self, path: &str, versions: &[&[(&str, &str)]]) {
        let work = tempfile::tempdir().expect("a work tree");
        git(work.path(), &["init", "-q", "-b", "main"]);
        for (index, files) in versions.iter().enumerate() {
            for (name, text) in *files {
                let p = work.path().join(name);
                fs::create_dir_all(p.parent().expect("a parent")).expect("dirs");
                fs::write(p, text).expect("a file");
            }
            git(work.path(), &["add", "-A"]);
            git(work.path(), &["commit", "-q", "-m", "release"]);
            git(work.path(), &["tag", &format!("v{}", index + 1)]);
        }
        let bare = self.base.path().join(format!("{path}.git"));
        fs::create_dir_all(bare.parent().expect("a parent")).expect("dirs");
        git(
            work.path(),
            &["clone", "-q", "--bare", ".", &bare.display().to_string()],
        );
    }

    /// git's configuration, in the environment, that sends GitHub URLs here.
    pub fn github_instead(&self) -> Vec<(String, String)> {
        vec![
            ("GIT_CONFIG_COUNT".into(), "1".into()),
            (
                "GIT_CONFIG_KEY_0".into(),
                format!("url.git://127.0.0.1:{}/.insteadOf", self.port),
            ),
            ("GIT_CONFIG_VALUE_0".into(), "https://github.com/".into()),
        ]
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const MODULE_V1: &[(&str, &str)] = &[(
    "files/main.tf",
    r#"variable "name" {
  type = string
}
resource "local_file" "f" {
  filename = "${path.root}/out-${var.name}.txt"
  content  = "v1 ${var.name}"
}
output "path" {
  value = local_file.f.filename
}
"#,
)];

const MODULE_V2: &[(&str, &str)] = &[(
    "files/main.tf",
    r#"variable "name" {
  type = string
}
resource "local_file" "f" {
  filename = "${path.root}/out-${var.name}.txt"
  content  = "v2 ${var.name}"
}
output "path" {
  value = local_file.f.filename
}
"#,
)];

fn main_tf(reference: &str) -> String {
    format!(
        r#"module "files" {{
  source = "github.com/acme/blocks//files?ref={reference}"
  name   = "a"
}}

output "written" {{
  value = module.files.path
}}
"#
    )
}

#[test]
fn init_installs_git_modules_that_plan_and_apply_use() {
    let daemon = GitDaemon::start();
    daemon.publish("acme/blocks", &[MODULE_V1, MODULE_V2]);
    let env = daemon.github_instead();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let ws = Ws::with_main(&main_tf("v1"));

    ws.run_env(&["plan"], &env)
        .expect_code(1)
        .contains("Module not installed")
        .contains("on main.tf line 2")
        .contains("terrane init");

    ws.run_env(&["init"], &env)
        .success()
        .contains("Initializing modules...")
        .contains("Downloading git::https://github.com/acme/blocks.git//files?ref=v1 for files...")
        .contains("- files in .terraform/modules/files/files");
    let manifest = ws.read(".terraform/modules/modules.json");
    assert!(
        manifest.contains(r#""Source":"git::https://github.com/acme/blocks.git//files?ref=v1""#),
        "{manifest}"
    );

    ws.run_env(&["apply", "--auto-approve"], &env)
        .success()
        .contains("module.files.local_file.f");
    assert_eq!(ws.read("out-a.txt"), "v1 a");

    // A new ref needs init again, and then updates the file.
    ws.write("main.tf", &main_tf("v2"));
    ws.run_env(&["plan"], &env)
        .expect_code(1)
        .contains("Module source has changed");
    ws.run_env(&["init"], &env).success();
    ws.run_env(&["apply", "--auto-approve"], &env).success();
    assert_eq!(ws.read("out-a.txt"), "v2 a");

    // A ref that does not exist: init says which module, which source and why, and the
    // installed module stays as it was.
    ws.write("main.tf", &main_tf("v9"));
    ws.run_env(&["init"], &env)
        .expect_code(1)
        .contains("module \"files\"")
        .contains("the ref \"v9\" does not exist");
    assert!(ws.exists(".terraform/modules/files/files/main.tf"));
}
