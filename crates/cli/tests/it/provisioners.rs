//! Provisioners end to end: `local-exec` on this host, and `file` and `remote-exec`
//! against a real OpenSSH server (Debian's `openssh-server`) that each test starts on a
//! loopback port with a throwaway host key and user key.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Ws;

/// An `sshd` on 127.0.0.1 that admits the current user with one key, until dropped.
pub struct Sshd {
    child: Child,
    pub port: u16,
    pub user: String,
    dir: tempfile::TempDir,
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "terrane-test", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen runs (Debian's openssh-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Sshd {
    pub fn start() -> Sshd {
        let sshd = PathBuf::from("/usr/sbin/sshd");
        assert!(
            sshd.exists(),
            "/usr/sbin/sshd is missing: install Debian's openssh-server (.ci/run does)"
        );
        let dir = tempfile::tempdir().expect("a directory for sshd");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("user_key"));
        keygen(&d.join("other_key"));
        fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).expect("authorized_keys");
        let user = String::from_utf8(
            Command::new("id")
                .arg("-un")
                .output()
                .expect("id runs")
                .stdout,
        )
        .expect("a user name")
        .trim()
        .to_string();
        if user == "root" {
            // sshd's privilege separation directory.
            fs::create_dir_all("/run/sshd").expect("/run/sshd");
        }
        let port = crate::free_port();
        fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\nPermitRootLogin yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nAllowTcpForwarding yes\n\
                 LogLevel ERROR\n",
                d = d.display()
            ),
        )
        .expect("sshd_config");
        let child = Command::new(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Sshd {
            child,
            port,
            user,
            dir,
        }
    }

    pub fn key(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The host's public key, as `host_key` takes it.
    pub fn host_key(&self) -> String {
        fs::read_to_string(self.key("host_key.pub"))
            .expect("the host key")
            .trim()
            .to_string()
    }

    /// A `connection` block for this server with the user's key.
    pub fn connection(&self, extra: &str) -> String {
        format!(
            "connection {{\n    type        = \"ssh\"\n    host        = \"127.0.0.1\"\n    port        = {}\n    user        = \"{}\"\n    private_key = file(\"{}\")\n    host_key    = \"{}\"\n    agent       = false\n{extra}  }}\n",
            self.port,
            self.user,
            self.key("user_key").display(),
            self.host_key()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn local_exec_runs_on_create_and_destroy_streams_its_output_and_hides_secrets() {
    let ws = Ws::new();
    let log = ws.file("log.txt");
    ws.write(
        "main.tf",
        &format!(
            r#"
variable "token" {{
  type      = string
  sensitive = true
  default   = "tok-93f1"
}}
variable "release" {{
  default = "1"
}}
resource "terraform_data" "deploy" {{
  triggers_replace = var.release
  input            = "r${{var.release}}"

  provisioner "local-exec" {{
    command     = "echo created $NAME ${{self.output}} >> {log}; echo token is $TOKEN"
    environment = {{
      NAME  = "deploy"
      TOKEN = var.token
    }}
  }}
  provisioner "local-exec" {{
    when    = destroy
    command = "echo destroyed ${{self.output}} >> {log}"
  }}
}}
"#,
            log = log.display()
        ),
    );
    ws.run(&["apply", "--auto-approve"])
        .success()
        .contains("terraform_data.deploy (local-exec): Executing: [\"/bin/sh\" \"-c\" \"echo created $NAME r1")
        .contains("terraform_data.deploy (local-exec): token is (sensitive value)")
        .lacks("tok-93f1");
    assert_eq!(ws.read("log.txt"), "created deploy r1\n");
    // Nothing to do: provisioners run on create only.
    ws.run(&["apply", "--auto-approve"]).success();
    assert_eq!(ws.read("log.txt"), "created deploy r1\n");
    // A new release replaces the object: destroy-time, then creation-time provisioners.
    ws.run(&["apply", "--auto-approve", "--var", "release=2"])
        .success();
    assert_eq!(
        ws.read("log.txt"),
        "created deploy r1\ndestroyed r1\ncreated deploy r2\n"
    );
    ws.run(&["destroy", "--auto-approve", "--var", "release=2"])
        .success();
    assert_eq!(
        ws.read("log.txt"),
        "created deploy r1\ndestroyed r1\ncreated deploy r2\ndestroyed r2\n"
    );
}

#[test]
fn a_failed_provisioner_taints_the_instance_and_the_next_apply_replaces_it() {
    let ws = Ws::new();
    let main = |command: &str, on_failure: &str| {
        format!(
            "resource \"terraform_data\" \"job\" {{\n  input = \"x\"\n  provisioner \"local-exec\" {{\n    command    = \"{command}\"\n    on_failure = {on_failure}\n  }}\n}}\n"
        )
    };
    ws.write("main.tf", &main("echo failing; exit 3", "fail"));
    ws.run(&["apply", "--auto-approve"])
        .expect_code(1)
        .contains("local-exec provisioner error")
        .contains("exit status 3")
        .contains("is tainted");
    ws.run(&["state", "show", "terraform_data.job"])
        .success()
        .contains("# terraform_data.job: (tainted)");
    ws.run(&["plan"])
        .success()
        .contains("terraform_data.job is tainted, so must be replaced");
    // untaint keeps it; taint marks it again.
    ws.run(&["untaint", "terraform_data.job"]).success();
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    ws.run(&["taint", "terraform_data.job"]).success();
    // The command fixed, the next apply replaces the tainted object.
    ws.write("main.tf", &main("echo fine", "fail"));
    ws.run(&["apply", "--auto-approve"])
        .success()
        .contains("1 added, 0 changed, 1 destroyed");
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    // on_failure = continue: a warning, and the object is kept as configured.
    ws.run(&["taint", "terraform_data.job"]).success();
    ws.write("main.tf", &main("exit 4", "continue"));
    ws.run(&["apply", "--auto-approve"])
        .success()
        .contains("local-exec provisioner failed")
        .contains("on_failure = continue");
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn file_and_remote_exec_run_over_ssh_directly_and_through_a_bastion() {
    let sshd = Sshd::start();
    let ws = Ws::new();
    let remote = tempfile::tempdir().expect("the remote side's directory");
    let r = remote.path().display().to_string();
    ws.write("site/index.html", "<h1>hi</h1>\n");
    ws.write("site/css/a.css", "body{}\n");
    ws.write(
        "setup.sh",
        "#!/bin/sh\necho setup ran on $(hostname) >&2\ntouch \"$1\"/never\nexit 0\n",
    );
    let conn = sshd.connection("");
    let bastion = sshd.connection(&format!(
        "    bastion_host = \"127.0.0.1\"\n    bastion_port = {}\n",
        sshd.port
    ));
    ws.write(
        "main.tf",
        &format!(
            r#"
resource "terraform_data" "host" {{
  input = "web"
  {conn}
  provisioner "file" {{
    content     = "name=${{self.output}}\n"
    destination = "{r}/app.conf"
  }}
  provisioner "file" {{
    source      = "${{path.module}}/site/"
    destination = "{r}/www"
  }}
  provisioner "file" {{
    source      = "${{path.module}}/site"
    destination = "{r}/copy"
  }}
  provisioner "remote-exec" {{
    inline = [
      "echo remote sees $(cat {r}/app.conf)",
      "ls {r}/www {r}/www/css {r}/copy/site > {r}/listing",
    ]
  }}
  provisioner "remote-exec" {{
    script = "${{path.module}}/setup.sh"
  }}
  provisioner "remote-exec" {{
    inline = ["echo via bastion > {r}/bastion.txt"]
    {bastion}
  }}
  provisioner "remote-exec" {{
    when   = destroy
    inline = ["echo bye ${{self.output}} > {r}/destroyed.txt"]
  }}
}}
"#
        ),
    );
    ws.run(&["apply", "--auto-approve"])
        .success()
        .contains("terraform_data.host (remote-exec): Connected!")
        .contains("terraform_data.host (remote-exec): remote sees name=web")
        .contains("terraform_data.host (remote-exec): setup ran on");
    let read =
        |p: &str| fs::read_to_string(remote.path().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(read("app.conf"), "name=web\n");
    assert_eq!(read("www/index.html"), "<h1>hi</h1>\n");
    assert_eq!(read("www/css/a.css"), "body{}\n");
    assert_eq!(read("copy/site/css/a.css"), "body{}\n");
    assert!(read("listing").contains("index.html"));
    assert_eq!(read("bastion.txt"), "via bastion\n");
    ws.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(read("destroyed.txt"), "bye web\n");
}

#[test]
fn ssh_failures_name_the_host_the_user_and_the_provisioner_and_taint() {
    let sshd = Sshd::start();
    let ws = Ws::new();
    let resource = |name: &str, conn: &str, command: &str| {
        format!(
            "resource \"terraform_data\" \"{name}\" {{\n  input = \"x\"\n  {conn}\n  provisioner \"remote-exec\" {{\n    inline = [\"{command}\"]\n  }}\n}}\n"
        )
    };
    // The server refuses the key: retried until the timeout, then a clear error.
    let refused = sshd
        .connection("    timeout = \"2s\"\n")
        .replace("user_key", "other_key");
    ws.write("main.tf", &resource("refused", &refused, "true"));
    let started = Instant::now();
    ws.run(&["apply", "--auto-approve"])
        .expect_code(1)
        .contains("remote-exec provisioner error")
        .contains("timeout after 2s connecting to 127.0.0.1")
        .contains(&format!("as user \"{}\"", sshd.user))
        .contains("refused authentication");
    assert!(started.elapsed() < Duration::from_secs(30));
    ws.run(&["state", "show", "terraform_data.refused"])
        .success()
        .contains("(tainted)");

    // Nothing answers on the port.
    let silent = sshd.connection("    timeout = \"1s\"\n").replace(
        &format!("port        = {}", sshd.port),
        &format!("port        = {}", crate::free_port()),
    );
    ws.write("main.tf", &resource("silent", &silent, "true"));
    ws.run(&["apply", "--auto-approve"])
        .expect_code(1)
        .contains("timeout after 1s connecting to 127.0.0.1");

    // A host key that is not the server's is refused at once.
    let other = fs::read_to_string(sshd.key("other_key.pub")).expect("a key");
    let spoofed = sshd.connection("").replace(&sshd.host_key(), other.trim());
    ws.write("main.tf", &resource("spoofed", &spoofed, "true"));
    ws.run(&["apply", "--auto-approve"])
        .expect_code(1)
        .contains("host key mismatch");

    // A command that fails: its status, and its output on the way.
    ws.write(
        "main.tf",
        &resource(
            "failing",
            &sshd.connection(""),
            "echo about to fail; exit 3",
        ),
    );
    ws.run(&["apply", "--auto-approve"])
        .expect_code(1)
        .contains("terraform_data.failing (remote-exec): about to fail")
        .contains("Process exited with status 3");

    // No connection at all is refused before anything runs.
    ws.write(
        "main.tf",
        "resource \"terraform_data\" \"none\" {\n  provisioner \"remote-exec\" {\n    inline = [\"true\"]\n  }\n}\n",
    );
    ws.run(&["plan"])
        .expect_code(1)
        .contains("Missing connection configuration");
}

/// `agent = true` (the default) authenticates with the keys of the SSH agent at
/// `SSH_AUTH_SOCK`: a real `ssh-agent` holding the user's key, and no key in the
/// configuration.
#[test]
fn remote_exec_authenticates_through_an_ssh_agent() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("a directory");
    let socket = dir.path().join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-agent starts (Debian's openssh-client)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "ssh-agent did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let added = Command::new("ssh-add")
        .arg(sshd.key("user_key"))
        .env("SSH_AUTH_SOCK", &socket)
        .output()
        .expect("ssh-add runs");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let remote = tempfile::tempdir().expect("the remote side's directory");
    let marker = remote.path().join("agent.txt");
    let ws = Ws::with_main(&format!(
        r#"resource "terraform_data" "a" {{
  connection {{
    host     = "127.0.0.1"
    port     = {port}
    user     = "{user}"
    host_key = "{host_key}"
    timeout  = "5s"
  }}
  provisioner "remote-exec" {{
    inline = ["echo through the agent > {marker}"]
  }}
}}
"#,
        port = sshd.port,
        user = sshd.user,
        host_key = sshd.host_key(),
        marker = marker.display()
    ));
    let socket_text = socket.display().to_string();
    let out = ws.run_env(
        &["apply", "--auto-approve"],
        &[("SSH_AUTH_SOCK", socket_text.as_str())],
    );
    let _ = agent.kill();
    let _ = agent.wait();
    out.success()
        .contains("terraform_data.a (remote-exec):   SSH Agent: true")
        .contains("terraform_data.a (remote-exec): Connected!");
    assert_eq!(
        fs::read_to_string(&marker).expect("the marker"),
        "through the agent\n"
    );
}

/// What Terraform 1.15 itself prints and plans for the same `local-exec` provisioners:
/// the same `ADDR (local-exec): ...` lines, and after a failed one the same tainted
/// instance, planned for replacement by both.
#[test]
fn local_exec_output_and_taint_match_terraform() {
    use crate::terraform::{terraform, Pair};
    let config = |command: &str| {
        format!(
            "resource \"terraform_data\" \"x\" {{\n  triggers_replace = \"v\"\n  provisioner \"local-exec\" {{\n    command     = \"{command}\"\n    environment = {{ NAME = \"world\" }}\n  }}\n}}\n"
        )
    };
    let pair = Pair::new(&[("main.tf", &config("echo hello $NAME"))]);
    let lines = |out: &crate::Out| -> Vec<String> {
        out.stdout
            .lines()
            .filter(|l| l.contains("(local-exec):"))
            .map(|l| l.trim().to_string())
            .collect()
    };
    let tf = terraform(pair.tf.path(), &["apply", "-auto-approve", "-no-color"]);
    let tr = pair.tr.run(&["apply", "--auto-approve"]);
    tf.success();
    tr.success();
    assert_eq!(lines(&tr), lines(&tf), "terraform said:\n{}", tf.stdout);
    assert_eq!(
        lines(&tf),
        [
            r#"terraform_data.x (local-exec): Executing: ["/bin/sh" "-c" "echo hello $NAME"]"#,
            "terraform_data.x (local-exec): hello world"
        ]
    );

    // A failing provisioner on a replacement: both fail, both leave it tainted.
    for ws in [&pair.tf, &pair.tr] {
        ws.write(
            "main.tf",
            &config("exit 3").replace("triggers_replace = \"v\"", "triggers_replace = \"w\""),
        );
    }
    let tf = terraform(pair.tf.path(), &["apply", "-auto-approve", "-no-color"]);
    let tr = pair.tr.run(&["apply", "--auto-approve"]);
    assert_eq!((tf.code, tr.code), (1, 1), "{}\n{}", tf.all(), tr.all());
    assert!(
        tf.all().contains("local-exec provisioner error"),
        "{}",
        tf.all()
    );
    assert!(
        tr.all().contains("local-exec provisioner error"),
        "{}",
        tr.all()
    );
    let tf = terraform(pair.tf.path(), &["plan", "-no-color"]);
    let tr = pair.tr.run(&["plan"]);
    for out in [&tf, &tr] {
        assert!(
            out.stdout
                .contains("terraform_data.x is tainted, so must be replaced"),
            "{}",
            out.all()
        );
    }
}
