//! The secret store, sensitive values end to end, and encryption at rest: a secret
//! used in a configuration must not appear in anything terrane writes.

use std::path::Path;

use base64::Engine as _;

use crate::{Out, Ws};

const SECRET: &str = "Tr0ub4dor&3-horse-battery-staple";

fn config(extra: &str) -> String {
    format!(
        r#"
data "terrane_secret" "db" {{
  name = "db-password"
}}

resource "terraform_data" "app" {{
  input = {{
    user     = "app"
    password = data.terrane_secret.db.value
    dsn      = "postgres://app:${{data.terrane_secret.db.value}}@db.internal/app"
  }}
}}

output "password" {{
  value     = data.terrane_secret.db.value
  sensitive = true
}}

output "user" {{
  value = terraform_data.app.output.user
}}
{extra}"#
    )
}

/// Every form of `secret` a careless program could write.
fn forms(secret: &str) -> Vec<String> {
    let b = secret.as_bytes();
    let mut out = vec![secret.to_string(), hex::encode(b), hex::encode_upper(b)];
    for engine in [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ] {
        out.push(engine.encode(b));
        // A secret inside a larger base64 text is encoded at one of three offsets.
        for pad in 1..3 {
            let mut shifted = vec![b'x'; pad];
            shifted.extend_from_slice(b);
            let enc = engine.encode(&shifted);
            out.push(enc[4..enc.len() - 4].to_string());
        }
    }
    out
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn assert_no_leak(ws: &Ws, outputs: &[(String, Out)]) {
    let forms = forms(SECRET);
    let mut files = Vec::new();
    files_under(ws.path(), &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("state.db")),
        "the state database is searched"
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for form in &forms {
            assert!(
                !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                "{} holds the secret (as {form:?})",
                f.display()
            );
        }
    }
    for (what, o) in outputs {
        for form in &forms {
            assert!(
                !o.all().contains(form.as_str()),
                "{what} printed the secret (as {form:?}):\n{}",
                o.all()
            );
        }
    }
}

/// A local service that gets the secret in its environment: the agent keeps it to
/// restart replicas, so its runtime file is searched too.
const SERVICE: &str = r#"
resource "local_service" "worker" {
  name         = "worker"
  command      = "sh"
  args         = ["-c", "exec sleep 600"]
  replicas     = 1
  grace_period = "1s"
  env = {
    DB_PASSWORD = data.terrane_secret.db.value
    MODE        = "batch"
  }
}
"#;

#[test]
fn a_secret_never_appears_in_anything_terrane_writes() {
    let ws = Ws::with_main(&config(SERVICE));
    let _cleanup = crate::Cleanup(&ws);
    let mut outs: Vec<(String, Out)> = Vec::new();
    macro_rules! run {
        ($what:expr, $args:expr) => {{
            let o = ws.run_env($args, &[("TERRANE_LOG", "trace")]);
            outs.push(($what.to_string(), o.clone()));
            o
        }};
    }
    // Before the secret exists: a clear error naming it.
    run!("plan (no secret)", &["plan"])
        .expect_code(1)
        .contains("no secret named \"db-password\"")
        .contains("terrane secret set db-password");
    let set = ws.run_env(
        &["secret", "set", "db-password", "--from-env", "DB_PW"],
        &[("DB_PW", SECRET), ("TERRANE_LOG", "trace")],
    );
    set.success().contains("version 1");
    outs.push(("secret set".into(), set));
    run!("secret list", &["secret", "list"])
        .success()
        .contains("db-password")
        .contains("1");
    run!("plan --out", &["plan", "--out", "app.plan"])
        .success()
        .contains("(sensitive value)");
    run!("show PLAN", &["show", "app.plan"]).success();
    run!("show --json PLAN", &["show", "--json", "app.plan"]).success();
    run!("apply PLAN", &["apply", "app.plan"]).success();
    run!("plan", &["plan"]).success().contains("No changes");
    run!("plan --json", &["plan", "--json"]).success();
    run!("state show", &["state", "show", "terraform_data.app"])
        .success()
        .contains("(sensitive value)");
    run!(
        "state show data",
        &["state", "show", "data.terrane_secret.db"]
    );
    run!("show --json", &["show", "--json"]).success();
    run!("output", &["output"]).success();
    // `output --json` and `output NAME` print sensitive values, as Terraform does;
    // checked in json.rs. The listing hides them.
    ws.run(&["output", "password"]).success();
    run!("policy check", &["policy", "check"]).success();
    run!("scan", &["scan"]);
    run!("state history", &["state", "history"]).success();
    run!("status", &["status"]).success().contains("worker");
    run!("status --json", &["status", "--json"]).success();
    run!("events", &["events"]).success();
    run!(
        "state show service",
        &["state", "show", "local_service.worker"]
    )
    .success()
    .contains("env            = (sensitive value)");
    assert!(
        ws.exists(".terrane/agent/runtime.json"),
        "the agent's runtime file is searched"
    );
    // Errors on purpose: a function that fails on the secret, and a bad address.
    ws.write(
        "broken.tf",
        "output \"n\" {\n  value = tonumber(data.terrane_secret.db.value)\n}\n",
    );
    run!("plan (error)", &["plan"]).expect_code(1);
    std::fs::remove_file(ws.file("broken.tf")).unwrap();
    ws.write(
        "broken.tf",
        "output \"m\" {\n  value = data.terrane_secret.db.value\n}\n",
    );
    run!("plan (unmarked output)", &["plan"]).expect_code(1);
    std::fs::remove_file(ws.file("broken.tf")).unwrap();
    // A new version: the diff reveals neither value.
    let set2 = ws.run_env(
        &["secret", "set", "db-password", "--from-env", "DB_PW"],
        &[
            ("DB_PW", "second-Version-of-the-pw"),
            ("TERRANE_LOG", "trace"),
        ],
    );
    set2.success().contains("version 2");
    run!("apply (rotated secret)", &["apply", "--auto-approve"]).success();
    // The deliberate ways to read it work, and are the only ones.
    let raw = ws.run(&["output", "password", "--raw"]);
    assert_eq!(raw.stdout, "second-Version-of-the-pw");
    let got = ws.run(&["secret", "get", "db-password", "--version", "1"]);
    assert_eq!(got.stdout, SECRET);
    assert_no_leak(&ws, &outs);
    for (what, o) in &outs {
        assert!(
            !o.all().contains("second-Version-of-the-pw"),
            "{what} printed the second version"
        );
    }
}

fn sql(ws: &Ws, statement: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nr=c.execute(sys.argv[2]).fetchall()\nc.commit()\nprint(r)",
            ws.file(".terrane/state.db").to_str().unwrap(),
            statement,
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const PASSPHRASE_CONFIG: &str = r#"
terraform {
  encryption {
    key_provider "passphrase" {}
  }
}
"#;

#[test]
fn a_wrong_or_missing_key_and_a_tampered_value_are_refused_and_change_nothing() {
    let ws = Ws::with_main(&config(PASSPHRASE_CONFIG));
    let good = [("TERRANE_PASSPHRASE", "correct horse"), ("DB_PW", SECRET)];
    ws.run_env(
        &["secret", "set", "db-password", "--from-env", "DB_PW"],
        &good,
    )
    .success();
    ws.run_env(&["apply", "--auto-approve"], &good).success();
    ws.run_env(&["plan", "--out", "p.plan"], &good).success();
    let rows = sql(&ws, "SELECT value, sealed FROM resources");
    assert!(rows.contains("tsv1:") && !rows.contains(SECRET), "{rows}");
    let history = sql(&ws, "SELECT count(*) FROM serials");

    // The wrong passphrase.
    let wrong = [("TERRANE_PASSPHRASE", "battery staple")];
    for args in [
        &["plan"][..],
        &["apply", "--auto-approve"],
        &["secret", "get", "db-password"],
        &["state", "show", "terraform_data.app"],
        &["apply", "p.plan"],
    ] {
        ws.run_env(args, &wrong)
            .expect_code(1)
            .contains("wrong passphrase")
            .lacks(SECRET);
    }
    // No passphrase at all (and no terminal to ask on).
    ws.run(&["plan"])
        .expect_code(1)
        .contains("a passphrase is needed")
        .contains("TERRANE_PASSPHRASE");
    assert_eq!(sql(&ws, "SELECT count(*) FROM serials"), history);

    // One byte of a sealed value altered in the database.
    let before = sql(&ws, "SELECT value FROM resources WHERE serial_to IS NULL");
    sql(
        &ws,
        // One character of the ciphertext, past "tsv1:<12-character key id>:".
        "UPDATE resources SET value = substr(value, 1, instr(value, 'tsv1:') + 37) || CASE WHEN substr(value, instr(value, 'tsv1:') + 38, 1) = 'A' THEN 'B' ELSE 'A' END || substr(value, instr(value, 'tsv1:') + 39) WHERE serial_to IS NULL",
    );
    let tampered = sql(&ws, "SELECT value FROM resources WHERE serial_to IS NULL");
    assert_ne!(before, tampered);
    ws.run_env(&["apply", "--auto-approve"], &good)
        .expect_code(1)
        .contains("failed its integrity check")
        .contains("terraform_data.app");
    assert_eq!(
        sql(&ws, "SELECT value FROM resources WHERE serial_to IS NULL"),
        tampered,
        "a refused state is not overwritten"
    );
    assert_eq!(sql(&ws, "SELECT count(*) FROM serials"), history);

    // A tampered secret version.
    sql(
        &ws,
        "UPDATE secrets SET value = substr(value, 1, length(value) - 4) || 'AAA='",
    );
    ws.run_env(&["secret", "get", "db-password"], &good)
        .expect_code(1)
        .contains("failed its integrity check");
    // A tampered plan file.
    let plan = ws.read("p.plan");
    let at = plan
        .find("\"$sealed\":\"tsv1:")
        .expect("the plan file holds sealed values")
        + 40;
    let flipped = if &plan[at..at + 1] == "A" { "B" } else { "A" };
    ws.write(
        "p.plan",
        &format!("{}{flipped}{}", &plan[..at], &plan[at + 1..]),
    );
    ws.run_env(&["apply", "p.plan"], &good)
        .expect_code(1)
        .contains("failed its integrity check");
}

#[test]
fn rotating_the_key_moves_everything_to_the_new_provider() {
    let ws = Ws::with_main(&config(PASSPHRASE_CONFIG));
    let old = [("TERRANE_PASSPHRASE", "old passphrase"), ("DB_PW", SECRET)];
    ws.run_env(
        &["secret", "set", "db-password", "--from-env", "DB_PW"],
        &old,
    )
    .success();
    ws.run_env(&["apply", "--auto-approve"], &old).success();
    let keys_before = sql(&ws, "SELECT id FROM keys");
    // The new provider is the workspace's age identity; the passphrase is the fallback.
    let rotated = config(
        r#"
terraform {
  encryption {
    key_provider "age" {}
    fallback "passphrase" {}
  }
}
"#,
    );
    ws.write("main.tf", &rotated);
    // Without the fallback's passphrase, the old keys cannot be read: nothing changes.
    ws.run(&["secret", "rotate-key"])
        .expect_code(1)
        .contains("TERRANE_PASSPHRASE_FALLBACK");
    assert_eq!(sql(&ws, "SELECT id FROM keys"), keys_before);
    ws.run_env(
        &["secret", "rotate-key"],
        &[("TERRANE_PASSPHRASE_FALLBACK", "old passphrase")],
    )
    .success()
    .contains("re-encrypted 3 state rows and 1 secret versions");
    assert!(ws.exists(".terrane/identity.txt"));
    assert_ne!(sql(&ws, "SELECT id FROM keys"), keys_before);
    assert!(sql(&ws, "SELECT provider FROM keys").contains("age:age1"));
    // From now on only the new key is needed: no fallback, no passphrase.
    ws.write(
        "main.tf",
        &config("terraform {\n  encryption {\n    key_provider \"age\" {}\n  }\n}\n"),
    );
    ws.run(&["plan"]).success().contains("No changes");
    assert_eq!(ws.run(&["secret", "get", "db-password"]).stdout, SECRET);
    assert_eq!(ws.run(&["output", "password", "--raw"]).stdout, SECRET);
    // And the old passphrase alone no longer opens anything.
    ws.write("main.tf", &config(PASSPHRASE_CONFIG));
    ws.run_env(&["plan"], &[("TERRANE_PASSPHRASE", "old passphrase")])
        .expect_code(1)
        .contains("wrapped by the age identity");
}

/// AWS KMS wraps the data key, against the moto emulator; the environment points the
/// SDK at it as a user would (`AWS_ENDPOINT_URL`).
#[cfg(feature = "aws")]
#[test]
fn aws_kms_wraps_the_data_key() {
    let moto = crate::aws::Moto::start();
    let kms = aws_sdk_kms::Client::new(&moto.sdk());
    let create = |desc: &'static str| {
        let kms = kms.clone();
        crate::aws::runtime().block_on(async move {
            kms.create_key()
                .description(desc)
                .send()
                .await
                .expect("create a KMS key")
                .key_metadata
                .unwrap()
                .key_id
        })
    };
    let (key, other) = (create("terrane state"), create("another application"));
    let block = |id: &str| {
        config(&format!(
            "terraform {{\n  encryption {{\n    key_provider \"aws_kms\" {{\n      key_id = \"{id}\"\n    }}\n  }}\n}}\n"
        ))
    };
    let ws = Ws::with_main(&block(&key));
    let env = moto.env();
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("DB_PW", SECRET));
    ws.run_env(
        &["secret", "set", "db-password", "--from-env", "DB_PW"],
        &pairs,
    )
    .success();
    ws.run_env(&["apply", "--auto-approve"], &pairs).success();
    ws.run_env(&["plan"], &pairs)
        .success()
        .contains("No changes");
    assert_eq!(
        ws.run_env(&["output", "password", "--raw"], &pairs).stdout,
        SECRET
    );
    assert!(sql(&ws, "SELECT provider FROM keys").contains(&format!("aws_kms:{key}")));
    assert!(!sql(&ws, "SELECT value FROM secrets").contains(SECRET));
    // Another KMS key cannot unwrap it: the error names both.
    ws.write("main.tf", &block(&other));
    ws.run_env(&["plan"], &pairs)
        .expect_code(1)
        .contains(&format!("wrapped by AWS KMS key {key}"))
        .lacks(SECRET);
    // KMS unreachable: a clear error, nothing changed.
    ws.write("main.tf", &block(&key));
    let dead: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| {
            if *k == "AWS_ENDPOINT_URL" {
                (*k, "http://127.0.0.1:9")
            } else {
                (*k, *v)
            }
        })
        .collect();
    ws.run_env(&["secret", "get", "db-password"], &dead)
        .expect_code(1)
        .contains("AWS KMS Decrypt with key");
}
