//! `plan --json` in Terraform's plan format, and sensitive values never leaking into
//! any output.

use serde_json::{json, Value};

use crate::Ws;

const SECRET_VAR: &str = "hunter2-SECRET-VAR-value";
const SECRET_FILE: &str = "topsecret-FILE-content";

fn config() -> String {
    format!(
        r#"
variable "secret" {{
  type      = string
  sensitive = true
}}

resource "random_password" "pw" {{
  length = 16
}}

resource "local_file" "plain" {{
  filename = "${{path.module}}/plain.txt"
  content  = "hello"
}}

resource "local_sensitive_file" "s" {{
  filename = "${{path.module}}/s.txt"
  content  = "{SECRET_FILE}"
}}

resource "null_resource" "uses_secret" {{
  triggers = {{ s = var.secret, pw = random_password.pw.id }}
}}

output "pw" {{
  value     = random_password.pw.result
  sensitive = true
}}

output "sec" {{
  value     = var.secret
  sensitive = true
}}

output "fname" {{
  value = local_file.plain.filename
}}
"#
    )
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("plan --json is not JSON ({e}):\n{text}"))
}

fn change<'a>(doc: &'a Value, address: &str) -> &'a Value {
    doc["resource_changes"]
        .as_array()
        .expect("resource_changes array")
        .iter()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("no resource change for {address} in {doc:#}"))
}

fn secret_var() -> String {
    format!("secret={SECRET_VAR}")
}

#[test]
fn plan_json_for_a_new_configuration() {
    let ws = Ws::with_main(&config());
    let out = ws.run(&["plan", "--json", "--var", &secret_var()]);
    out.success();
    let doc = parse(&out.stdout);
    assert!(
        doc["format_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "{}",
        doc["format_version"]
    );

    let pw = change(&doc, "random_password.pw");
    assert_eq!(pw["mode"], "managed");
    assert_eq!(pw["type"], "random_password");
    assert_eq!(pw["name"], "pw");
    assert_eq!(pw["change"]["actions"], json!(["create"]));
    assert_eq!(pw["change"]["before"], Value::Null);
    assert_eq!(pw["change"]["after"]["length"], json!(16));
    assert_eq!(pw["change"]["after_unknown"]["result"], json!(true));
    assert_eq!(pw["change"]["after_unknown"]["id"], json!(true));
    assert_eq!(pw["change"]["after_sensitive"]["result"], json!(true));
    assert!(
        pw["change"]["after_unknown"].get("length").is_none(),
        "length is known: {}",
        pw["change"]["after_unknown"]
    );

    let plain = change(&doc, "local_file.plain");
    assert_eq!(plain["change"]["actions"], json!(["create"]));
    assert_eq!(plain["change"]["after"]["content"], "hello");
    assert_eq!(plain["change"]["after_sensitive"], json!({}));

    let s = change(&doc, "local_sensitive_file.s");
    assert_eq!(
        s["change"]["after"]["content"],
        Value::Null,
        "sensitive content is left out"
    );
    assert_eq!(s["change"]["after_sensitive"]["content"], json!(true));

    let n = change(&doc, "null_resource.uses_secret");
    assert_eq!(
        n["change"]["after_sensitive"]["triggers"],
        json!(true),
        "a sensitive variable taints the attribute"
    );

    let outs = &doc["output_changes"];
    assert_eq!(outs["fname"]["actions"], json!(["create"]));
    assert_eq!(outs["fname"]["after"], "./plain.txt");
    assert_eq!(outs["pw"]["after_sensitive"], json!(true));
    assert_eq!(outs["pw"]["after_unknown"], json!(true));
    assert_eq!(outs["sec"]["after"], Value::Null);
    assert_eq!(outs["sec"]["after_sensitive"], json!(true));

    // Nothing is recorded yet; as in Terraform, the prior state holds the outputs known
    // before apply (a sensitive one redacted) and no resources.
    let prior = &doc["prior_state"]["values"];
    assert!(prior["root_module"].get("resources").is_none(), "{doc:#}");
    assert_eq!(prior["outputs"]["fname"]["value"], "./plain.txt");
    assert_eq!(prior["outputs"]["sec"]["value"], Value::Null);
    assert_eq!(doc["variables"]["secret"]["value"], Value::Null);

    assert!(
        !out.stdout.contains(SECRET_VAR),
        "sensitive variable value leaked into plan --json"
    );
    assert!(
        !out.stdout.contains(SECRET_FILE),
        "sensitive file content leaked into plan --json"
    );
    assert!(!out.stderr.contains(SECRET_VAR) && !out.stderr.contains(SECRET_FILE));
}

#[test]
fn plan_json_for_a_replacement_and_prior_state() {
    let ws = Ws::with_main(&config());
    ws.run(&["apply", "--auto-approve", "--var", &secret_var()])
        .success();
    ws.write(
        "main.tf",
        &config().replace("content  = \"hello\"", "content  = \"hello again\""),
    );
    let out = ws.run(&["plan", "--json", "--var", &secret_var()]);
    out.success();
    let doc = parse(&out.stdout);

    let plain = change(&doc, "local_file.plain");
    assert_eq!(plain["change"]["actions"], json!(["delete", "create"]));
    assert_eq!(plain["change"]["before"]["content"], "hello");
    assert_eq!(plain["change"]["after"]["content"], "hello again");
    assert!(
        plain["change"]["replace_paths"]
            .as_array()
            .is_some_and(|p| p.contains(&json!(["content"]))),
        "replace_paths: {}",
        plain["change"]["replace_paths"]
    );
    assert_eq!(
        change(&doc, "random_password.pw")["change"]["actions"],
        json!(["no-op"])
    );
    assert_eq!(
        change(&doc, "local_sensitive_file.s")["change"]["actions"],
        json!(["no-op"])
    );

    let prior = doc["prior_state"]["values"]["root_module"]["resources"]
        .as_array()
        .expect("prior resources");
    let addrs: Vec<&str> = prior.iter().filter_map(|r| r["address"].as_str()).collect();
    for a in [
        "local_file.plain",
        "local_sensitive_file.s",
        "null_resource.uses_secret",
        "random_password.pw",
    ] {
        assert!(
            addrs.contains(&a),
            "{a} missing from prior_state: {addrs:?}"
        );
    }
    let pw = prior
        .iter()
        .find(|r| r["address"] == "random_password.pw")
        .expect("pw");
    assert_eq!(
        pw["values"]["result"],
        Value::Null,
        "prior_state must redact the password"
    );
    assert_eq!(pw["sensitive_values"]["result"], json!(true));
    // Terraform's plan carries no serial or lineage of the state.
    assert!(doc["prior_state"].get("serial").is_none());
    assert_eq!(doc["output_changes"]["fname"]["actions"], json!(["no-op"]));

    assert!(!out.stdout.contains(SECRET_VAR));
    assert!(!out.stdout.contains(SECRET_FILE));
}

#[test]
fn sensitive_values_never_appear_in_any_output() {
    let ws = Ws::with_main(&config());
    let var = secret_var();
    let mut texts = Vec::new();
    let mut check = |what: &str, o: crate::Out| {
        assert!(
            !o.all().contains(SECRET_VAR),
            "{what} leaked the sensitive variable:\n{}",
            o.all()
        );
        assert!(
            !o.all().contains(SECRET_FILE),
            "{what} leaked the sensitive file content:\n{}",
            o.all()
        );
        texts.push(o);
    };
    check("plan", ws.run(&["plan", "--var", &var]));
    check(
        "plan --out",
        ws.run(&["plan", "--var", &var, "--out", "p.plan"]),
    );
    check("show PLAN", ws.run(&["show", "p.plan"]));
    check("show --json PLAN", ws.run(&["show", "--json", "p.plan"]));
    check("apply", ws.run(&["apply", "--auto-approve", "--var", &var]));
    for a in [
        "null_resource.uses_secret",
        "local_sensitive_file.s",
        "random_password.pw",
    ] {
        check("state show", ws.run(&["state", "show", a]));
    }
    check("show", ws.run(&["show"]));
    check("show --json", ws.run(&["show", "--json"]));
    check("output", ws.run(&["output"]));
    // Asked for by name or as JSON, an output's value is printed even when it is
    // sensitive, as Terraform prints it (scripts read it so): the one deliberate way
    // out besides `terrane secret get`.
    for args in [
        &["output", "--json"][..],
        &["output", "sec"],
        &["output", "-json", "sec"],
    ] {
        let o = ws.run(args);
        assert!(
            o.success().stdout.contains(SECRET_VAR),
            "{args:?}: {}",
            o.all()
        );
        assert!(!o.stdout.contains(SECRET_FILE), "{args:?}: {}", o.all());
    }
    // A changed secret: the diff must not reveal the old or the new value.
    check(
        "plan (changed secret)",
        ws.run(&["plan", "--var", "secret=another-SECRET-VAR-value"]),
    );
    check(
        "destroy",
        ws.run(&["destroy", "--auto-approve", "--var", &var]),
    );
    for o in &texts {
        o.success();
    }
    assert!(
        texts[0].stdout.contains("(sensitive value)"),
        "plan shows sensitive values as (sensitive value)"
    );
    assert!(!texts
        .iter()
        .any(|o| o.all().contains("another-SECRET-VAR-value")));
    // The secret file is written for real.
    assert!(!ws.exists("s.txt"), "destroy removed it");
}

#[test]
fn sensitive_file_content_is_written_to_disk() {
    let ws = Ws::with_main(&config());
    ws.run(&["apply", "--auto-approve", "--var", &secret_var()])
        .success();
    assert_eq!(ws.read("s.txt"), SECRET_FILE);
    ws.run(&["state", "show", "local_sensitive_file.s"])
        .success()
        .contains("content              = (sensitive value)");
}
