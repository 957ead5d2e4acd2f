//! Policy sets on plan and apply, `terrane policy check|test`, and `terrane scan`: its
//! findings on the fixtures, formats, exit codes and suppressions.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::{Cleanup, Ws};

/// A local file, plus a policy set directory the test fills in.
fn ws_with_policy(level: &str, rego: &[(&str, &str)]) -> Ws {
    let ws = Ws::with_main(&format!(
        r#"
resource "local_file" "report" {{
  filename = "${{path.module}}/report.txt"
  content  = "quarterly numbers"
}}

policy "files" {{
  source            = "./policy"
  enforcement_level = "{level}"
}}
"#
    ));
    for (name, text) in rego {
        ws.write(&format!("policy/{name}"), text);
    }
    ws
}

/// Denies files whose name ends in report.txt, in the classic syntax (as most
/// conftest policies are written), and warns about every file in rego.v1 syntax.
const DENY_REPORT_V0: &str = r#"package files.naming

deny[msg] {
  rc := input.resource_changes[_]
  rc.type == "local_file"
  endswith(rc.change.after.filename, "report.txt")
  msg := sprintf("%s: report files must go through the reports pipeline", [rc.address])
}
"#;

const WARN_V1: &str = r#"package files.audit

import rego.v1

warn contains {"msg": msg, "id": "AUDIT-1"} if {
  some rc in input.resource_changes
  rc.mode == "managed"
  "create" in rc.change.actions
  msg := sprintf("%s will be created", [rc.address])
}
"#;

#[test]
fn a_hard_mandatory_policy_blocks_the_apply_and_nothing_changes() {
    let ws = ws_with_policy(
        "hard_mandatory",
        &[("naming.rego", DENY_REPORT_V0), ("audit.rego", WARN_V1)],
    );
    let plan = ws.run(&["plan", "--no-color"]);
    plan.expect_code(1)
        .contains("Policy set \"files\" (hard_mandatory): FAILED (blocks apply)")
        .contains("deny: local_file.report: report files must go through the reports pipeline")
        .contains("warn: local_file.report will be created")
        .contains("would be blocked");
    let apply = ws.run(&["apply", "--auto-approve", "--no-color"]);
    apply.expect_code(1).contains("the apply is blocked");
    assert!(
        !ws.exists("report.txt"),
        "a blocked apply must change nothing"
    );
    assert!(ws.state_list().is_empty());
    // An override does not lift a hard_mandatory set.
    ws.run(&[
        "apply",
        "--auto-approve",
        "--override-policy",
        "quarter end",
    ])
    .expect_code(1);
    assert!(!ws.exists("report.txt"));
}

/// The input is built with only the top-level keys the sets name; each part a policy
/// reads must still be there, by `input.x`, `input["x"]` or the whole document.
#[test]
fn policies_see_every_part_of_the_plan_they_read() {
    let parts = r#"package files.parts

import rego.v1

deny contains "configuration" if {
  some r in input.configuration.root_module.resources
  r.expressions.content.constant_value == "quarterly numbers"
}

deny contains "planned_values" if {
  some r in input["planned_values"].root_module.resources
  r.values.content == "quarterly numbers"
}

deny contains "variables" if input.variables.owner.value == "finance"
"#;
    let ws = ws_with_policy("advisory", &[("parts.rego", parts)]);
    ws.write(
        "vars.tf",
        "variable \"owner\" {\n  default = \"finance\"\n}\n",
    );
    let named = ws.run(&["plan", "--no-color"]);
    named
        .success()
        .contains("deny: configuration")
        .contains("deny: planned_values")
        .contains("deny: variables");
    // A set that reads the document whole (here through object.keys) gets all of it.
    ws.write(
        "policy/whole.rego",
        "package files.whole\n\nimport rego.v1\n\ndeny contains k if {\n  some k in object.keys(input)\n  k in {\"prior_state\", \"configuration\", \"resource_changes\"}\n}\n",
    );
    // Nothing is recorded yet, so there is no prior state (as in Terraform's plan),
    // until an apply records some.
    ws.run(&["plan", "--no-color"])
        .success()
        .contains("deny: configuration")
        .contains("deny: resource_changes")
        .lacks("deny: prior_state");
    ws.run(&["apply", "--auto-approve", "--no-color"]).success();
    ws.run(&["plan", "--no-color"])
        .success()
        .contains("deny: prior_state");
}

/// On a large plan the policy check takes each change as the engine settles it
/// (rules over one change run then, on another thread) and finishes while the plan is
/// printed: the verdicts must be those of the whole document, also for a rule that
/// counts every change, and a `-target` plan (whose changes are cut after planning)
/// must be judged on what it keeps.
#[test]
fn a_large_plan_is_checked_while_it_is_made_with_the_verdicts_of_the_whole() {
    let ws = Ws::with_main(
        r#"
resource "null_resource" "n" {
  count    = 2500
  triggers = { i = count.index }
}

policy "sample" {
  source            = "./policy"
  enforcement_level = "advisory"
}
"#,
    );
    ws.write(
        "policy/sample.rego",
        r#"package sample

import rego.v1

deny contains msg if {
  some rc in input.resource_changes
  to_number(rc.change.after.triggers.i) % 1000 == 7
  msg := sprintf("%s is unlucky", [rc.address])
}

warn contains msg if {
  n := count([rc | some rc in input.resource_changes; "create" in rc.change.actions])
  msg := sprintf("%d creates", [n])
}
"#,
    );
    let debug = [("TERRANE_LOG", "terrane=debug,warn")];
    let plan = ws.run_env(&["plan", "--no-color"], &debug);
    plan.success()
        .contains("deny: null_resource.n[7] is unlucky")
        .contains("deny: null_resource.n[1007] is unlucky")
        .contains("deny: null_resource.n[2007] is unlucky")
        .contains("warn: 2500 creates")
        .contains("was_fed=true");
    assert_eq!(
        plan.stdout.matches("is unlucky").count(),
        3,
        "{}",
        plan.stdout
    );
    // The same verdicts on stderr when stdout carries the JSON plan.
    let json = ws.run_env(&["plan", "--json"], &debug);
    json.success();
    assert_eq!(
        json.stderr.matches("is unlucky").count(),
        3,
        "{}",
        json.stderr
    );
    assert!(
        json.stderr.contains("warn: 2500 creates"),
        "{}",
        json.stderr
    );
    // A -target plan keeps one instance: only its change is judged.
    let targeted = ws.run_env(
        &["plan", "--no-color", "--target", "null_resource.n[1007]"],
        &debug,
    );
    targeted
        .success()
        .contains("deny: null_resource.n[1007] is unlucky")
        .lacks("null_resource.n[7] is unlucky")
        .contains("warn: 1 creates");
    // The built-in scan runs on every plan unless the configuration turns it off.
    plan.contains("resources checked against");
    ws.write("scan.tf", "scan {\n  on_plan = false\n}\n");
    ws.run(&["plan", "--no-color"])
        .success()
        .lacks("resources checked against")
        .contains("warn: 2500 creates");
}

#[test]
fn a_soft_mandatory_policy_can_be_overridden_and_the_reason_is_recorded() {
    let ws = ws_with_policy("soft_mandatory", &[("naming.rego", DENY_REPORT_V0)]);
    ws.run(&["apply", "--auto-approve", "--no-color"])
        .expect_code(1)
        .contains("--override-policy");
    assert!(!ws.exists("report.txt"));
    ws.run(&[
        "apply",
        "--auto-approve",
        "--no-color",
        "--override-policy",
        "board meeting needs the numbers today",
    ])
    .success()
    .contains("overridden");
    assert!(ws.exists("report.txt"));
    let audit = ws.read(".terrane/audit.jsonl");
    let entry: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(entry["event"], "policy_override");
    assert_eq!(entry["reason"], "board meeting needs the numbers today");
    assert_eq!(entry["policy_sets"], serde_json::json!(["files"]));
    assert_eq!(entry["operation"], "apply");
}

#[test]
fn an_advisory_policy_reports_and_lets_the_apply_through() {
    let ws = ws_with_policy("advisory", &[("naming.rego", DENY_REPORT_V0)]);
    ws.run(&["plan", "--no-color"])
        .success()
        .contains("FAILED (advisory)");
    ws.run(&["apply", "--auto-approve", "--no-color"]).success();
    assert!(ws.exists("report.txt"));
}

#[test]
fn a_policy_that_cannot_be_evaluated_fails_closed_with_its_location() {
    let ws = ws_with_policy(
        "advisory",
        &[(
            "broken.rego",
            "package broken\n\nimport rego.v1\n\ndeny contains msg if {\n  msg := \n}\n",
        )],
    );
    // Even an advisory set reports the error; a hard_mandatory one passed on the
    // command line blocks.
    ws.run(&["plan", "--no-color"])
        .contains("broken.rego:")
        .contains("FAILED");
    ws.run(&["validate", "--no-color"])
        .expect_code(1)
        .contains("Invalid policy set \"files\"")
        .contains("broken.rego:");
    ws.write("strict/undefined.rego", "package strict\nimport rego.v1\ndeny contains msg if {\n  msg := no_such_rule_or_function(input)\n}\n");
    let out = ws.run(&[
        "apply",
        "--auto-approve",
        "--no-color",
        "--policy",
        "strict",
    ]);
    out.expect_code(1).contains("undefined.rego");
    assert!(!ws.exists("report.txt"));
}

#[test]
fn policy_check_evaluates_a_saved_plan_and_prints_json() {
    let ws = ws_with_policy("advisory", &[("naming.rego", DENY_REPORT_V0)]);
    ws.run(&["plan", "--out", "p.plan"]).success();
    ws.run(&["policy", "check", "--plan", "p.plan", "--no-color"])
        .success()
        .contains("FAILED (advisory)");
    let out = ws.run(&[
        "policy", "check", "--plan", "p.plan", "--json", "--policy", "policy",
    ]);
    out.expect_code(1);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["blocks_apply"], true);
    let sets = doc["policy_sets"].as_array().unwrap();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[1]["enforcement_level"], "hard_mandatory");
    assert_eq!(
        sets[1]["denials"][0]["msg"],
        "local_file.report: report files must go through the reports pipeline"
    );
}

#[test]
fn policy_test_runs_the_test_rules() {
    let ws = ws_with_policy(
        "advisory",
        &[
            ("naming.rego", DENY_REPORT_V0),
            (
                "naming_test.rego",
                r#"package files.naming

test_report_denied {
  count(deny) == 1 with input as {"resource_changes": [{"address": "local_file.r", "type": "local_file", "change": {"after": {"filename": "/x/report.txt"}}}]}
}

test_other_allowed {
  count(deny) == 0 with input as {"resource_changes": [{"address": "local_file.r", "type": "local_file", "change": {"after": {"filename": "/x/notes.txt"}}}]}
}

test_wrong_expectation {
  count(deny) == 2 with input as {"resource_changes": []}
}
"#,
            ),
        ],
    );
    let out = ws.run(&["policy", "test", "--no-color"]);
    out.expect_code(1)
        .contains("data.files.naming.test_wrong_expectation: FAIL")
        .contains("the test evaluated to false")
        .contains("data.files.naming.test_report_denied: PASS")
        .contains("data.files.naming.test_other_allowed: PASS")
        .contains("PASS: 2/3")
        .lacks("test_report_denied: FAIL");
    ws.write(
        "policy/naming_test.rego",
        "package files.naming\n\ntest_ok {\n  true\n}\n",
    );
    ws.run(&["policy", "test", "--no-color"])
        .success()
        .contains("data.files.naming.test_ok: PASS")
        .contains("PASS: 1/1");
}

#[test]
fn plan_json_carries_the_configuration_with_references_and_literals() {
    let ws = Ws::with_main(
        r#"
variable "token" {
  type      = string
  default   = "x"
  sensitive = true
}
resource "random_id" "suffix" {
  byte_length = 4
}
resource "local_file" "f" {
  filename = "${path.module}/f-${random_id.suffix.hex}.txt"
  content  = "literal"
}
resource "local_sensitive_file" "key" {
  filename = "${path.module}/key.pem"
  content  = "PRIVATE-KEY-LITERAL-1234"
}
"#,
    );
    let out = ws.run(&["plan", "--json"]);
    out.success();
    let doc: Value = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    let root = &doc["configuration"]["root_module"];
    let f = root["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "local_file.f")
        .unwrap();
    assert_eq!(f["expressions"]["content"]["constant_value"], "literal");
    let refs = f["expressions"]["filename"]["references"]
        .as_array()
        .unwrap();
    assert!(refs.contains(&Value::from("random_id.suffix")), "{refs:?}");
    assert_eq!(root["variables"]["token"]["sensitive"], true);
    // A literal secret is visible as a literal, never as its value.
    let key = root["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "local_sensitive_file.key")
        .unwrap();
    assert_eq!(key["expressions"]["content"]["sensitive"], true);
    assert_eq!(
        key["expressions"]["content"]["constant_value"],
        "(sensitive value)"
    );
    assert!(!out.stdout.contains("PRIVATE-KEY-LITERAL-1234"));
}

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy/tests/fixtures/scan")
}

fn pairs(v: &Value) -> BTreeSet<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["address"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn scan_reports_exactly_the_expected_findings_on_every_fixture() {
    let mut dirs: Vec<_> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.json").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 8, "fixtures missing: {dirs:?}");
    let mut failures = Vec::new();
    for dir in dirs {
        let ws = Ws::copy_of(&dir);
        let out = ws.run(&["scan", "--format", "json"]);
        assert!(
            out.code == 0 || out.code == 2,
            "{}: {}",
            dir.display(),
            out.all()
        );
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        let all = doc["findings"].as_array().unwrap();
        let active: Vec<Value> = all
            .iter()
            .filter(|f| f["suppressed"].is_null())
            .cloned()
            .collect();
        let suppressed: Vec<Value> = all
            .iter()
            .filter(|f| !f["suppressed"].is_null())
            .cloned()
            .collect();
        let want = pairs(&expected["findings"]);
        let got = pairs(&Value::Array(active.clone()));
        if want != got {
            failures.push(format!(
                "{}:\n  missing {:?}\n  unexpected {:?}",
                dir.display(),
                want.difference(&got).collect::<Vec<_>>(),
                got.difference(&want).collect::<Vec<_>>()
            ));
        }
        let want_s = pairs(expected.get("suppressed").unwrap_or(&Value::Array(vec![])));
        let got_s = pairs(&Value::Array(suppressed));
        if want_s != got_s {
            failures.push(format!(
                "{}: suppressed {got_s:?}, expected {want_s:?}",
                dir.display()
            ));
        }
        // Every finding points at its declaration.
        for f in &active {
            assert!(
                f["file"].is_string() && f["line"].as_u64().unwrap_or(0) > 0,
                "{f}"
            );
        }
        assert_eq!(
            out.code,
            if got.is_empty() { 0 } else { 2 },
            "{}",
            dir.display()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const ONE_MEDIUM: &str = r#"
resource "local_file" "shared" {
  filename        = "${path.module}/shared.txt"
  content         = "x"
  file_permission = "0666"
}
"#;

#[test]
fn scan_formats_fail_on_and_exit_codes() {
    let ws = Ws::with_main(ONE_MEDIUM);
    let human = ws.run(&["scan", "--no-color"]);
    human
        .expect_code(2)
        .contains("MEDIUM (1)")
        .contains("TRN-LOCAL-001 local_file.shared  main.tf:2")
        .contains("fix:");
    ws.run(&["scan", "--fail-on", "high"]).expect_code(0);
    ws.run(&["scan", "--fail-on", "nonsense"])
        .expect_code(1)
        .contains("not a severity");

    let sarif: Value =
        serde_json::from_str(&ws.run(&["scan", "--format", "sarif"]).stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "TRN-LOCAL-001");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "main.tf"
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );

    let junit = ws.run(&["scan", "--format", "junit"]).stdout;
    assert!(
        junit.contains("<testsuites name=\"terrane scan\"") && junit.contains("failures=\"1\""),
        "{junit}"
    );

    let rules = ws.run(&["scan", "--list-rules", "--format", "json"]);
    let list: Value = serde_json::from_str(&rules.success().stdout).unwrap();
    assert!(list.as_array().unwrap().len() >= 19);

    // The same checks run on every plan, reported without blocking.
    ws.run(&["plan", "--no-color"])
        .success()
        .contains("TRN-LOCAL-001")
        .contains("Scan: 1 finding");
}

#[test]
fn suppressions_need_a_known_rule_and_a_reason() {
    let ws = Ws::with_main(&ONE_MEDIUM.replace(
        "  content ",
        "  # terrane:ignore:TRN-LOCAL-001 a scratch file shared with the test container\n  content ",
    ));
    ws.run(&["scan", "--no-color"])
        .success()
        .contains("SUPPRESSED (1)")
        .contains("reason: a scratch file shared with the test container");

    ws.write(
        "main.tf",
        &ONE_MEDIUM.replace(
            "  content ",
            "  # terrane:ignore:TRN-NOPE-9 whatever\n  content ",
        ),
    );
    ws.run(&["scan"])
        .expect_code(1)
        .contains("main.tf:4")
        .contains("TRN-NOPE-9");

    ws.write(
        "main.tf",
        &ONE_MEDIUM.replace("  content ", "  # terrane:ignore:TRN-LOCAL-001\n  content "),
    );
    ws.run(&["scan"]).expect_code(1).contains("gives no reason");

    ws.write(
        "main.tf",
        &format!("{ONE_MEDIUM}\nscan {{\n  suppress {{\n    rule   = \"TRN-LOCAL-001\"\n    reason = \"shared on purpose\"\n  }}\n}}\n"),
    );
    ws.run(&["scan", "--no-color"])
        .success()
        .contains("reason: shared on purpose");

    ws.write(
        "main.tf",
        &format!("{ONE_MEDIUM}\nscan {{\n  suppress {{\n    rule = \"TRN-LOCAL-001\"\n  }}\n}}\n"),
    );
    ws.run(&["scan"]).expect_code(1).contains("reason");
}

#[test]
fn the_agent_records_when_the_workspace_drifts_out_of_policy() {
    let ws = Ws::with_main(
        r#"
resource "local_service" "web" {
  name     = "web"
  command  = "sh"
  args     = ["-c", "exec python3 -m http.server $PORT --bind $HOST"]
  replicas = 1
  health_check {
    http_path = "/"
    interval  = "200ms"
  }
}

resource "local_file" "cfg" {
  filename             = "${path.root}/app.conf"
  content              = "port = 8080\n"
  file_permission      = "0640"
  directory_permission = "0750"
}

policy "files" {
  source            = "./policy"
  enforcement_level = "advisory"
}
"#,
    );
    ws.write(
        "policy/perms.rego",
        "package files.perms\nimport rego.v1\ndeny contains msg if {\n  some rc in input.resource_changes\n  rc.type == \"local_file\"\n  rc.change.after.file_permission == \"0666\"\n  msg := sprintf(\"%s is shared\", [rc.address])\n}\n",
    );
    let _cleanup = Cleanup(&ws);
    let env = [
        ("TERRANE_AGENT_COMPLIANCE_INTERVAL_MS", "200"),
        ("TERRANE_AGENT_LISTEN", "127.0.0.1:0"),
    ];
    ws.run_env(&["apply", "--auto-approve", "--no-color"], &env)
        .success();
    ws.run(&["policy", "status", "--no-color"])
        .success()
        .contains("In policy:");

    // The team tightens the rule: what is deployed is now out of policy.
    ws.write(
        "policy/perms.rego",
        "package files.perms\nimport rego.v1\ndeny contains msg if {\n  some rc in input.resource_changes\n  rc.type == \"local_file\"\n  rc.change.after.file_permission != \"0600\"\n  msg := sprintf(\"%s must be owner-only (0600)\", [rc.address])\n}\n",
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let events = ws.run(&["events"]);
        if events.stdout.contains("out of policy") {
            events.contains("local_file.cfg must be owner-only (0600)");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no compliance event: {}",
            events.all()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let status = ws.run(&["policy", "status", "--json"]);
    status.expect_code(2);
    let doc: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(doc["compliant"], false);
    assert_eq!(doc["agent_last_check"]["compliant"], false);
    assert!(doc["problems"][0]
        .as_str()
        .unwrap()
        .contains("must be owner-only"));
}

#[test]
fn each_result_is_counted_once_and_credited_to_the_file_that_holds_the_rule() {
    // One package in three files: the rule, a helper, and tests.
    let ws = ws_with_policy(
        "advisory",
        &[
            ("naming.rego", DENY_REPORT_V0),
            (
                "helpers.rego",
                "package files.naming\n\nreport_suffix := \"report.txt\"\n",
            ),
            (
                "naming_test.rego",
                "package files.naming\n\ntest_nothing_denied_for_no_changes {\n  count(deny) == 0 with input as {\"resource_changes\": []}\n}\n",
            ),
        ],
    );
    ws.run(&["plan", "--out", "p.plan"]).success();
    let out = ws.run(&["policy", "check", "--plan", "p.plan", "--json"]);
    out.success();
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let denials = doc["policy_sets"][0]["denials"].as_array().unwrap();
    assert_eq!(denials.len(), 1, "{denials:#?}");
    let text = serde_json::to_string(&denials[0]).unwrap();
    assert!(text.contains("naming.rego"), "{text}");
    assert!(
        !text.contains("helpers.rego") && !text.contains("naming_test.rego"),
        "{text}"
    );
}
