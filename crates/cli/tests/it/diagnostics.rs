//! Configuration errors: exit code 1, the file, line and column, the source line with
//! a `^` marker, and every error of a configuration reported in one run.

use crate::{Out, Ws};

/// Runs `plan` (which must fail) and returns its output.
fn plan_fails(main_tf: &str, extra: &[&str]) -> Out {
    let ws = Ws::with_main(main_tf);
    let mut args = vec!["plan"];
    args.extend_from_slice(extra);
    let o = ws.run(&args);
    o.expect_code(1).lacks("Plan:");
    assert!(ws.state_list().is_empty());
    // validate reports the same configuration errors (variables aside).
    if extra.is_empty() {
        ws.run(&["validate"]).expect_code(1);
    }
    o
}

/// Asserts one rendered diagnostic: summary, location, the quoted source line and a
/// `^` marker under the given column.
#[track_caller]
fn assert_diag(o: &Out, summary: &str, line: usize, column: usize, source: &str) {
    let err = &o.stderr;
    let heading = format!("Error: {summary}");
    let start = err
        .find(&heading)
        .unwrap_or_else(|| panic!("no {heading:?} in:\n{err}"));
    let block: Vec<&str> = err[start..].lines().collect();
    let loc = format!("on main.tf line {line}, column {column}:");
    let at = block
        .iter()
        .position(|l| l.contains(&loc))
        .unwrap_or_else(|| panic!("{heading:?} does not name {loc:?}:\n{err}"));
    let src = block.get(at + 1).copied().unwrap_or_default();
    assert!(
        src.contains(&format!("{line} | {source}")),
        "source line not shown after {loc:?}; got {src:?}\n{err}"
    );
    let marker = block.get(at + 2).copied().unwrap_or_default();
    let bar = marker
        .find('|')
        .unwrap_or_else(|| panic!("no marker line: {marker:?}\n{err}"));
    let caret = marker
        .find('^')
        .unwrap_or_else(|| panic!("no ^ marker: {marker:?}\n{err}"));
    assert_eq!(
        caret - bar - 1,
        column,
        "the ^ marker is not under column {column}: {marker:?}\n{err}"
    );
}

#[test]
fn syntax_error() {
    let o = plan_fails(
        "resource \"local_file\" \"a\" {\n  filename = \"a.txt\"\n  content = \"x\n}\n",
        &[],
    );
    insta::assert_snapshot!(o.stderr, @r#"
    Error: Invalid HCL syntax

      on main.tf line 3, column 3:
      3 |   content = "x
        |   ^

    The parser stopped here: invalid block body; expected `}`, newline or identifier. Check for a missing closing brace, quote or bracket, or an `=` between an attribute name and its value.
    "#);
}

#[test]
fn reference_to_an_undeclared_resource() {
    let o = plan_fails(
        "resource \"local_file\" \"a\" {\n  filename = \"a.txt\"\n  content  = local_file.missing.id\n}\n",
        &[],
    );
    assert_diag(
        &o,
        "Reference to undeclared resource",
        3,
        14,
        "  content  = local_file.missing.id",
    );
    o.contains("\"local_file\" \"missing\" has not been declared");
}

#[test]
fn unknown_attribute_suggests_the_right_name() {
    let o = plan_fails(
        "resource \"local_file\" \"a\" {\n  filename = \"a.txt\"\n  contnt   = \"x\"\n}\n",
        &[],
    );
    assert_diag(&o, "Unsupported argument", 3, 3, "  contnt   = \"x\"");
    insta::assert_snapshot!(o.stderr, @r#"
    Error: Unsupported argument

      on main.tf line 3, column 3:
      3 |   contnt   = "x"
        |   ^^^^^^

    An argument named "contnt" is not expected here. Did you mean "content"?
    "#);
}

#[test]
fn unknown_attribute_in_a_reference_suggests_the_right_name() {
    let ws = Ws::with_main("resource \"random_id\" \"r\" {\n  byte_length = 4\n}\n\noutput \"x\" {\n  value = random_id.r.hexx\n}\n");
    let o = ws.run(&["plan"]);
    o.expect_code(1).lacks("Plan:");
    assert_diag(
        &o,
        "Unsupported attribute",
        6,
        22,
        "  value = random_id.r.hexx",
    );
    o.contains("Did you mean \"hex\"?");
    // The schema is known without planning, so validate finds it as well.
    ws.run(&["validate"])
        .expect_code(1)
        .contains("Unsupported attribute")
        .contains("Did you mean \"hex\"?");
}

#[test]
fn missing_required_argument() {
    let o = plan_fails(
        "resource \"local_file\" \"a\" {\n  content = \"x\"\n}\n",
        &[],
    );
    assert_diag(
        &o,
        "Missing required argument",
        1,
        1,
        "resource \"local_file\" \"a\" {",
    );
    o.contains("\"filename\" is required");
}

#[test]
fn duplicate_resource() {
    let o = plan_fails(
        "resource \"null_resource\" \"a\" {}\n\nresource \"null_resource\" \"a\" {\n  triggers = { x = \"1\" }\n}\n",
        &[],
    );
    insta::assert_snapshot!(o.stderr, @r#"
    Error: Duplicate resource

      on main.tf line 3, column 1:
      3 | resource "null_resource" "a" {
        | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^

    A resource named "null_resource.a" was already declared in main.tf. Names must be unique within a module; rename or remove one of them.
    "#);
}

#[test]
fn dependency_cycle_lists_the_addresses() {
    let o = plan_fails(
        r#"resource "null_resource" "a" {
  triggers = { x = null_resource.b.id }
}

resource "null_resource" "b" {
  triggers = { x = null_resource.c.id }
}

resource "null_resource" "c" {
  triggers = { x = null_resource.a.id }
}

resource "null_resource" "outside" {}
"#,
        &[],
    );
    o.contains("Error: Cycle in the configuration");
    let detail = o
        .stderr
        .lines()
        .find(|l| l.contains("depend on each other"))
        .unwrap_or_default()
        .to_string();
    for a in ["null_resource.a", "null_resource.b", "null_resource.c"] {
        assert!(detail.contains(a), "{a} not named in the cycle: {detail}");
    }
    assert!(!detail.contains("outside"), "{detail}");
    // Like every configuration error, it points into the configuration.
    assert!(
        o.stderr.contains("on main.tf line "),
        "the cycle error names no location:\n{}",
        o.stderr
    );
    assert!(
        o.stderr
            .lines()
            .any(|l| l.trim_start().starts_with('|') && l.contains('^')),
        "no ^ marker:\n{}",
        o.stderr
    );
}

#[test]
fn invalid_variable_value() {
    let o = plan_fails(
        "variable \"port\" {\n  type = number\n}\n\nresource \"null_resource\" \"a\" {\n  triggers = { p = var.port }\n}\n",
        &["--var", "port=[1]"],
    );
    assert_diag(
        &o,
        "Invalid value for input variable",
        1,
        1,
        "variable \"port\" {",
    );
    o.contains("a number is required");
}

#[test]
fn invalid_variable_default() {
    let ws = Ws::with_main("variable \"port\" {\n  type    = number\n  default = \"eighty\"\n}\n\noutput \"p\" {\n  value = var.port\n}\n");
    let o = ws.run(&["plan"]);
    o.expect_code(1)
        .contains("a number is required")
        .contains("on main.tf line ");
    // The default is part of the configuration, so validate catches it too.
    ws.run(&["validate"])
        .expect_code(1)
        .contains("a number is required");
}

#[test]
fn every_error_is_reported_in_one_run() {
    let cfg = r#"resource "local_file" "a" {
  filename = "a.txt"
  contnt   = "x"
}

resource "local_file" "b" {
  content = local_file.missing.id
}

output "o" {
  value = var.nope
}
"#;
    let o = plan_fails(cfg, &[]);
    assert_diag(&o, "Unsupported argument", 3, 3, "  contnt   = \"x\"");
    assert_diag(
        &o,
        "Missing required argument",
        6,
        1,
        "resource \"local_file\" \"b\" {",
    );
    assert_diag(
        &o,
        "Reference to undeclared resource",
        7,
        13,
        "  content = local_file.missing.id",
    );
    assert_diag(
        &o,
        "Reference to undeclared input variable",
        11,
        11,
        "  value = var.nope",
    );
    assert_eq!(o.stderr.matches("Error: ").count(), 4, "{}", o.stderr);
    insta::assert_snapshot!(o.stderr, @r#"
    Error: Unsupported argument

      on main.tf line 3, column 3:
      3 |   contnt   = "x"
        |   ^^^^^^

    An argument named "contnt" is not expected here. Did you mean "content"?

    Error: Missing required argument

      on main.tf line 6, column 1:
      6 | resource "local_file" "b" {
        | ^^^^^^^^^^^^^^^^^^^^^^^^^

    The argument "filename" is required, but no definition was found. Add filename = <value> to this block.

    Error: Reference to undeclared input variable

      on main.tf line 11, column 11:
      11 |   value = var.nope
         |           ^^^^^^^^

    An input variable named "nope" has not been declared in the root module. Declare it with a variable "nope" {} block.

    Error: Reference to undeclared resource

      on main.tf line 7, column 13:
      7 |   content = local_file.missing.id
        |             ^^^^^^^^^^^^^^^^^^^^^

    A managed resource "local_file" "missing" has not been declared in the root module.
    "#);
}

#[test]
fn validate_json_lists_diagnostics_with_positions() {
    let ws = Ws::with_main(
        "resource \"local_file\" \"a\" {\n  filename = \"a.txt\"\n  contnt   = \"x\"\n}\n",
    );
    let o = ws.run(&["validate", "--json"]);
    o.expect_code(1);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).expect("validate --json is JSON");
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["error_count"], 1);
    let d = &doc["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["summary"], "Unsupported argument");
    assert_eq!(d["range"]["filename"], "main.tf");
    assert_eq!(d["range"]["start"]["line"], 3);
    assert_eq!(d["range"]["start"]["column"], 3);
}

#[test]
fn errors_in_a_second_file_name_that_file() {
    let ws = Ws::with_main("resource \"null_resource\" \"ok\" {}\n");
    ws.write(
        "extra.tf",
        "\n\nresource \"null_resource\" \"bad\" {\n  trigers = {}\n}\n",
    );
    ws.run(&["plan"])
        .expect_code(1)
        .contains("on extra.tf line 4, column 3:")
        .contains("4 |   trigers = {}")
        .contains("Did you mean \"triggers\"?");
}

#[test]
fn syntax_errors_in_several_files_are_all_reported() {
    let ws = Ws::with_main("resource \"null_resource\" \"a\" {\n  triggers = {\n}\n");
    ws.write("b.tf", "resource \"null_resource\" \"b\" {\n  x = = 1\n}\n");
    ws.write("c.tf", "variable \"v\" {\n  type = nope\n}\n");
    let o = ws.run(&["plan"]);
    o.expect_code(1)
        .contains("on main.tf line 3")
        .contains("on b.tf line 2, column 7:")
        .contains("2 |   x = = 1")
        .contains("on c.tf line 2, column 10:")
        .contains("\"nope\" is not a type");
    assert_eq!(o.stderr.matches("Error: ").count(), 3, "{}", o.stderr);
}

/// `required_version` is checked against the Terraform version terrane implements.
#[test]
fn required_version_is_checked() {
    let ws = Ws::with_main(
        r#"
terraform {
  required_version = ">= 2.0"
}
output "x" { value = 1 }
"#,
    );
    ws.run(&["validate"])
        .expect_code(1)
        .contains("Unsupported Terraform Core version")
        .contains("requires Terraform >= 2.0; terrane implements Terraform 1.15.5")
        .contains("on main.tf line 3");
    let ws = Ws::with_main(
        r#"
terraform {
  required_version = "~> 1.15"
}
output "x" { value = 1 }
"#,
    );
    ws.run(&["validate"]).success();
}

/// Preconditions, postconditions and check blocks are evaluated as Terraform does: a
/// false precondition or postcondition stops the run at its condition with its message,
/// a false check assertion is a warning, and `self` belongs to postconditions alone.
#[test]
fn conditions_and_checks_are_evaluated() {
    let ws = Ws::with_main(
        r#"
variable "n" {
  default = 5
}
resource "terraform_data" "r" {
  input = var.n
  lifecycle {
    precondition {
      condition     = var.n < 3
      error_message = "n must be under 3, not ${var.n}."
    }
  }
}
"#,
    );
    ws.run(&["plan"])
        .expect_code(1)
        .contains("Resource precondition failed")
        .contains("n must be under 3, not 5.")
        .contains("on main.tf line 9");
    ws.run(&["plan", "--var", "n=2"]).success();

    let ws = Ws::with_main(
        r#"
resource "terraform_data" "r" {
  input = "abcd"
  lifecycle {
    postcondition {
      condition     = length(self.output) == 3
      error_message = "three characters"
    }
  }
}
output "x" {
  value = terraform_data.r.output
  precondition {
    condition     = terraform_data.r.output != ""
    error_message = "empty"
  }
}
check "short" {
  assert {
    condition     = length(terraform_data.r.output) < 2
    error_message = "the output is long"
  }
}
"#,
    );
    // The planned output is known (terraform_data copies its input), so the plan
    // already fails; the check is only a warning.
    ws.run(&["apply", "--auto-approve"])
        .expect_code(1)
        .contains("Resource postcondition failed")
        .contains("three characters");
    ws.write(
        "main.tf",
        &std::fs::read_to_string(ws.path().join("main.tf"))
            .unwrap()
            .replace("== 3", "== 4"),
    );
    ws.run(&["apply", "--auto-approve"])
        .success()
        .contains("Check block assertion failed")
        .contains("the output is long");

    let ws = Ws::with_main(
        r#"
resource "terraform_data" "r" {
  input = self.id
}
"#,
    );
    ws.run(&["validate"])
        .expect_code(1)
        .contains("Invalid \"self\" reference");
}

/// A failed variable validation shows the offending value, as Terraform does, and a
/// validation may refer to another variable (Terraform 1.9).
#[test]
fn variable_validation_shows_the_value_and_may_refer_to_other_variables() {
    let ws = Ws::with_main(
        r#"
variable "min" {
  default = 1024
}
variable "port" {
  type    = number
  default = 80
  validation {
    condition     = var.port > var.min
    error_message = "The port must be above ${var.min}."
  }
}
output "port" { value = var.port }
"#,
    );
    ws.run(&["plan"])
        .expect_code(1)
        .contains("The port must be above 1024.")
        .contains("var.port is 80.");
    ws.run(&["plan", "--var", "port=8080"]).success();
}

/// Terraform's environment: TF_CLI_ARGS and TF_CLI_ARGS_<command> add arguments after
/// the command's name, TF_INPUT=0 (or -input=false) turns prompts into errors.
#[test]
fn tf_cli_args_and_tf_input_work_as_in_terraform() {
    let ws = Ws::with_main("variable \"n\" {}\noutput \"n\" { value = var.n }\n");
    ws.run_env(
        &["plan"],
        &[("TF_CLI_ARGS_plan", "-var 'n=from env' -detailed-exitcode")],
    )
    .expect_code(2)
    .contains("from env");
    ws.run_env(&["apply", "-var", "n=1"], &[("TF_INPUT", "0")])
        .expect_code(1)
        .contains("input is disabled");
    ws.run(&["apply", "-var", "n=1", "-input=false"])
        .expect_code(1)
        .contains("input is disabled");
    assert!(ws.state_list().is_empty());
}

/// `-refresh-only`: the plan shows what changed outside terrane and plans nothing
/// else; applying it records the real values in state and changes nothing real.
#[test]
fn refresh_only_records_drift_without_changing_anything() {
    let ws = Ws::with_main(
        "resource \"local_file\" \"f\" {\n  filename = \"${path.module}/out.txt\"\n  content  = \"hello\"\n}\n",
    );
    ws.apply();
    std::fs::write(ws.path().join("out.txt"), "edited by hand").unwrap();
    ws.run(&["plan", "-refresh-only", "-detailed-exitcode"])
        .expect_code(2)
        .contains("local_file.f has changed")
        .contains("This is a refresh-only plan");
    ws.run(&["apply", "-refresh-only", "-auto-approve"])
        .success()
        .contains("0 added, 0 changed, 0 destroyed");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("out.txt")).unwrap(),
        "edited by hand"
    );
    ws.run(&["state", "show", "local_file.f"])
        .success()
        .contains("edited by hand");
    ws.run(&["plan", "-refresh-only", "-detailed-exitcode"])
        .expect_code(0)
        .contains("still matches the configuration");
    // A normal plan now puts the file back as configured.
    ws.run(&["plan"]).success().contains("must be replaced");
}

/// `import` blocks with `for_each` bring existing objects under management at the
/// keys they name; an import block for an undeclared resource is an error.
#[test]
fn import_blocks_with_for_each_take_over_existing_objects() {
    let ws = Ws::with_main(
        r#"
resource "local_file" "f" {
  for_each        = toset(["a", "b"])
  filename        = "${path.module}/${each.key}.txt"
  content         = "hello\n"
  file_permission = "0644"
}
import {
  for_each = toset(["a", "b"])
  to       = local_file.f[each.key]
  id       = "${path.module}/${each.key}.txt"
}
"#,
    );
    for f in ["a.txt", "b.txt"] {
        std::fs::write(ws.path().join(f), "hello\n").unwrap();
        let mut p = std::fs::metadata(ws.path().join(f)).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o644);
        std::fs::set_permissions(ws.path().join(f), p).unwrap();
    }
    ws.run(&["plan"])
        .success()
        .contains("local_file.f[\"a\"] will be imported")
        .contains("Plan: 2 to import, 0 to add, 0 to change, 0 to destroy.");
    ws.run(&["apply", "-auto-approve"]).success();
    assert_eq!(
        ws.state_list(),
        vec!["local_file.f[\"a\"]", "local_file.f[\"b\"]"]
    );
    ws.run(&["plan", "-detailed-exitcode"]).expect_code(0);

    let ws = Ws::with_main("import {\n  to = local_file.nope\n  id = \"x\"\n}\n");
    ws.run(&["plan"])
        .expect_code(1)
        .contains("Configuration for import target does not exist");
}

#[test]
fn a_check_blocks_data_source_is_not_visible_outside_it() {
    let check = "check \"c\" {\n  data \"local_file\" \"f\" {\n    filename = \"f.txt\"\n  }\n  assert {\n    condition     = data.local_file.f.content != \"\"\n    error_message = \"empty\"\n  }\n}\n";
    let o = plan_fails(
        &format!("{check}output \"x\" {{ value = data.local_file.f.content }}\n"),
        &[],
    );
    assert_diag(
        &o,
        "Reference to scoped resource",
        10,
        22,
        "output \"x\" { value = data.local_file.f.content }",
    );
    o.contains("declared in check block \"c\"");
    let o = plan_fails(
        "check \"c\" {\n  data \"local_file\" \"f\" {\n    count    = 2\n    filename = \"f.txt\"\n  }\n  assert {\n    condition     = true\n    error_message = \"x\"\n  }\n}\n",
        &[],
    );
    assert_diag(&o, "Invalid nested data block", 3, 5, "    count    = 2");
}
