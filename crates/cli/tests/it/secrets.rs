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

#[test]
fn a_secret_never_appears_in_anything_terrane_writes() {
    let ws = Ws::with_main(&config(""));
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
    run!("output --json", &["output", "--json"]).success();
    run!("output password", &["output", "password"])
        .success()
        .contains("(sensitive value)");
    run!("policy check", &["policy", "check"]).success();
    run!("scan", &["scan"]);
    run!("state history", &["state", "history"]).success();
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
