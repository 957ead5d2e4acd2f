//! Backups: create, list, verify, retention, and restore onto an empty machine; an
//! interrupted backup is never complete, and a corrupted one is refused.

use std::time::Duration;

use crate::Ws;

const PASS: (&str, &str) = ("TERRANE_PASSPHRASE", "correct horse battery");

const STACK: &str = r#"
resource "random_password" "db" {
  length = 20
}
resource "null_resource" "app" {
  count    = var.apps
  triggers = { pw = sha256(random_password.db.result) }
}
variable "apps" {
  default = 2
}
policy "guard" {
  source            = "./policies"
  enforcement_level = "advisory"
}
output "pw" {
  value     = random_password.db.result
  sensitive = true
}
"#;

const POLICY: &str =
    "package guard\n\nimport rego.v1\n\nwarn contains msg if {\n  false\n  msg := \"never\"\n}\n";

fn machine() -> Ws {
    let ws = Ws::with_main(STACK);
    ws.write("policies/guard.rego", POLICY);
    ws
}

fn run(ws: &Ws, args: &[&str]) -> crate::Out {
    ws.run_env(args, &[PASS, ("DB_URL", "postgres://app:s3cret@db/app")])
}

#[test]
fn a_backup_restores_onto_an_empty_machine_with_no_changes_to_plan() {
    let first = machine();
    run(&first, &["apply", "--auto-approve"]).success();
    run(&first, &["apply", "--auto-approve", "--var", "apps=3"]).success();
    run(&first, &["secret", "set", "db/url", "--from-env", "DB_URL"]).success();
    let pw = run(&first, &["output", "--raw", "pw"])
        .success()
        .stdout
        .clone();
    let store = tempfile::tempdir().unwrap();
    let to = store.path().to_str().unwrap();
    let created = run(&first, &["backup", "create", "--to", to])
        .success()
        .stdout
        .clone();
    assert!(created.contains("serial 2"), "{created}");
    let id = created.split_whitespace().nth(1).unwrap().to_string();
    run(&first, &["backup", "list", "--from", to])
        .success()
        .contains(&id);
    run(&first, &["backup", "verify", &id, "--from", to])
        .success()
        .contains("intact");
    // The backup holds no plaintext secret.
    let payload = std::fs::read_to_string(store.path().join(&id).join("payload")).unwrap();
    assert!(
        !payload.contains(pw.trim())
            && !payload.contains("s3cret")
            && !payload.contains("package guard")
    );

    // A new machine: the configuration (from version control) and the passphrase,
    // nothing else.
    let second = Ws::with_main(STACK);
    run(&second, &["restore", &id, "--from", to])
        .success()
        .contains("Restored backup")
        .contains("1 policy files written");
    run(&second, &["plan", "--detailed-exitcode", "--var", "apps=3"])
        .expect_code(0)
        .contains("No changes");
    assert_eq!(
        run(&second, &["state", "history"]).stdout,
        run(&first, &["state", "history"]).stdout
    );
    assert_eq!(
        run(&second, &["output", "--raw", "pw"]).success().stdout,
        pw
    );
    assert_eq!(
        run(&second, &["secret", "get", "db/url"])
            .success()
            .stdout
            .trim(),
        "postgres://app:s3cret@db/app"
    );
    assert_eq!(second.read("policies/guard.rego"), POLICY);
    // Restoring over a state that exists is refused.
    run(&second, &["restore", &id, "--from", to])
        .expect_code(1)
        .contains("already holds a state");
    // Without the key, the backup cannot be opened.
    let third = Ws::with_main(STACK);
    third
        .run_env(
            &["restore", &id, "--from", to],
            &[("TERRANE_PASSPHRASE", "wrong")],
        )
        .expect_code(1);
    assert!(third.run(&["state", "list"]).stdout.trim().is_empty());
}

#[test]
fn a_backup_under_the_default_identity_restores_on_a_new_machine_with_that_identity() {
    // No passphrase, no encryption block: the generated .terrane/identity.txt wraps
    // the keys.
    let first = machine();
    first.run(&["apply", "--auto-approve"]).success();
    let pw = first
        .run(&["output", "--raw", "pw"])
        .success()
        .stdout
        .clone();
    let store = tempfile::tempdir().unwrap();
    let to = store.path().to_str().unwrap();
    let created = first
        .run(&["backup", "create", "--to", to])
        .success()
        .stdout
        .clone();
    let id = created.split_whitespace().nth(1).unwrap().to_string();
    // A backup that is not there is named as such.
    first
        .run(&["backup", "verify", "20990101T000000Z-nothere", "--from", to])
        .expect_code(1)
        .contains("there is no backup 20990101T000000Z-nothere")
        .lacks("interrupted");

    // A new machine without the identity: told what the backup needs and how to give
    // it, and nothing generated.
    let second = Ws::with_main(STACK);
    second
        .run(&["restore", &id, "--from", to])
        .expect_code(1)
        .contains("age identity whose public key is age1")
        .contains("--identity FILE")
        .contains("only as recoverable as its key");
    assert!(
        !second.exists(".terrane/identity.txt"),
        "a new identity was generated"
    );
    assert!(second.run(&["state", "list"]).stdout.trim().is_empty());
    // With the original identity: restored, and the secrets open.
    let identity = first.file(".terrane/identity.txt");
    second
        .run(&[
            "restore",
            &id,
            "--from",
            to,
            "--identity",
            identity.to_str().unwrap(),
        ])
        .success()
        .contains("Restored backup");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(second.file(".terrane/identity.txt"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(second.run(&["output", "--raw", "pw"]).success().stdout, pw);
    second
        .run(&["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");
}

#[test]
fn a_corrupted_or_interrupted_backup_is_refused_and_retention_keeps_what_it_says() {
    let ws = machine();
    run(&ws, &["apply", "--auto-approve"]).success();
    let store = tempfile::tempdir().unwrap();
    let to = store.path().to_str().unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let out = run(&ws, &["backup", "create", "--to", to])
            .success()
            .stdout
            .clone();
        ids.push(out.split_whitespace().nth(1).unwrap().to_string());
        std::thread::sleep(Duration::from_millis(1100));
    }
    // Corruption: one flipped byte in the payload.
    let payload = store.path().join(&ids[0]).join("payload");
    let mut bytes = std::fs::read(&payload).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&payload, bytes).unwrap();
    run(&ws, &["backup", "verify", &ids[0], "--from", to])
        .expect_code(1)
        .contains("corrupt")
        .contains("SHA-256");
    let empty = Ws::with_main(STACK);
    run(&empty, &["restore", &ids[0], "--from", to])
        .expect_code(1)
        .contains("corrupt");
    assert!(
        run(&empty, &["state", "list"]).stdout.trim().is_empty(),
        "nothing was restored"
    );

    // Interrupted: the payload is written but the manifest never was.
    std::fs::remove_file(store.path().join(&ids[1]).join("manifest.json")).unwrap();
    let list = run(&ws, &["backup", "list", "--from", to])
        .success()
        .stdout
        .clone();
    let complete: Vec<&str> = list
        .lines()
        .filter(|l| !l.starts_with("incomplete") && !l.starts_with("ID"))
        .collect();
    assert_eq!(complete.len(), 2, "{list}");
    assert!(
        list.contains(&format!("incomplete (interrupted, not usable): {}", ids[1])),
        "{list}"
    );
    run(&ws, &["backup", "verify", &ids[1], "--from", to])
        .expect_code(1)
        .contains("not a complete backup");

    // Retention: everything is younger than an hour, so --keep-within 1h keeps all.
    run(
        &ws,
        &["backup", "prune", "--from", to, "--keep-within", "1h"],
    )
    .success()
    .contains("removed 0");
    // Keep the newest one.
    run(&ws, &["backup", "prune", "--from", to, "--keep-last", "1"])
        .success()
        .contains("removed 1");
    let list = run(&ws, &["backup", "list", "--from", to])
        .success()
        .stdout
        .clone();
    assert!(list.contains(&ids[2]) && !list.contains(&ids[0]), "{list}");
    run(&ws, &["backup", "prune", "--from", to])
        .expect_code(1)
        .contains("--keep-last");
}

#[test]
fn kill_9_during_a_backup_never_leaves_a_complete_looking_broken_backup() {
    let ws = Ws::with_main(
        "resource \"null_resource\" \"n\" {\n  count = 400\n  triggers = { i = count.index }\n}\n",
    );
    run(&ws, &["apply", "--auto-approve"]).success();
    let store = tempfile::tempdir().unwrap();
    let to = store.path().to_str().unwrap();
    for i in 0..12u64 {
        let mut child = ws
            .cmd(&["backup", "create", "--to", to])
            .env(PASS.0, PASS.1)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 + i * 9));
        unsafe_free_kill(child.id());
        let _ = child.wait();
    }
    let list = run(&ws, &["backup", "list", "--from", to])
        .success()
        .stdout
        .clone();
    for line in list
        .lines()
        .filter(|l| !l.starts_with("ID") && !l.starts_with("No "))
    {
        let id = line.rsplit(' ').next().unwrap();
        let id = if line.starts_with("incomplete") {
            id
        } else {
            line.split_whitespace().next().unwrap()
        };
        let v = run(&ws, &["backup", "verify", id, "--from", to]);
        if line.starts_with("incomplete") {
            v.expect_code(1);
        } else {
            v.success();
        }
    }
    // A killed backup leaves nothing that blocks the next one.
    run(&ws, &["backup", "create", "--to", to]).success();
}

/// SIGKILL through the `kill` command (the tests do not use unsafe code).
fn unsafe_free_kill(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
}
