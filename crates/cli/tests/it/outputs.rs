//! `terrane output`.

use serde_json::{json, Value};

use crate::Ws;

const CONFIG: &str = r#"
resource "terraform_data" "d" {
  input = "payload"
}

output "greeting" {
  value = "hello ${terraform_data.d.output}"
}

output "numbers" {
  value = [1, 2, 3]
}

output "token" {
  value     = "s3cr3t-${terraform_data.d.output}"
  sensitive = true
}
"#;

#[test]
fn outputs_plain_json_and_raw() {
    let ws = Ws::with_main(CONFIG);
    ws.run(&["output"]).success().contains("no outputs found");
    ws.apply()
        .contains("Outputs:")
        .contains("greeting = \"hello payload\"")
        .contains("token    = (sensitive value)")
        .lacks("s3cr3t");

    let all = ws.run(&["output"]);
    all.success()
        .contains("greeting = \"hello payload\"")
        .contains("numbers = [1, 2, 3]")
        .contains("token = (sensitive value)")
        .lacks("s3cr3t");

    ws.run(&["output", "greeting"])
        .success()
        .contains("\"hello payload\"");
    let raw = ws.run(&["output", "greeting", "--raw"]);
    assert_eq!(raw.success().stdout, "hello payload");

    // By name, a sensitive output's value is printed, as Terraform prints it; listings
    // hide it (above).
    let tok = ws.run(&["output", "token"]);
    assert_eq!(tok.success().stdout.trim(), "\"s3cr3t-payload\"");
    let tok_raw = ws.run(&["output", "token", "--raw"]);
    assert_eq!(tok_raw.success().stdout, "s3cr3t-payload");

    let j = ws.run(&["output", "--json"]);
    let doc: Value = serde_json::from_str(&j.success().stdout).expect("output --json is JSON");
    assert_eq!(
        doc["greeting"],
        json!({"sensitive": false, "type": "string", "value": "hello payload"})
    );
    assert_eq!(doc["numbers"]["value"], json!([1, 2, 3]));
    assert_eq!(doc["token"]["sensitive"], json!(true));
    assert_eq!(
        doc["token"]["value"],
        json!("s3cr3t-payload"),
        "as Terraform prints it"
    );

    let one: Value =
        serde_json::from_str(&ws.run(&["output", "numbers", "--json"]).stdout).expect("json");
    assert_eq!(one, json!([1, 2, 3]));

    ws.run(&["output", "numbers", "--raw"])
        .expect_code(1)
        .contains("--raw prints only");
    ws.run(&["output", "nope"])
        .expect_code(1)
        .contains("not found")
        .contains("greeting");
}

#[test]
fn outputs_follow_changes_and_destroy() {
    let ws = Ws::with_main(CONFIG);
    ws.apply();
    ws.write(
        "main.tf",
        &CONFIG.replace("input = \"payload\"", "input = \"changed\""),
    );
    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("Changes to Outputs:")
        // As Terraform: terraform_data's output is known after apply when its input
        // changes, and so is what is made of it.
        .contains("greeting = \"hello payload\" -> (known after apply)");
    ws.apply();
    assert_eq!(
        ws.run(&["output", "greeting", "--raw"]).stdout,
        "hello changed"
    );
    // An output-only change is a change too.
    ws.write(
        "main.tf",
        &format!(
            "{}\noutput \"extra\" {{\n  value = 42\n}}\n",
            CONFIG.replace("input = \"payload\"", "input = \"changed\"")
        ),
    );
    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("+ extra");
    ws.apply();
    assert_eq!(ws.run(&["output", "extra", "--raw"]).stdout, "42");
    ws.run(&["destroy", "--auto-approve"]).success();
    ws.run(&["output", "greeting"]).expect_code(1);
}
