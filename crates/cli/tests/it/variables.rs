//! Root variables: sources and their precedence, types and validation.

use crate::Ws;

const FOUR: &str = r#"
variable "a" {
  type    = string
  default = "default"
}

variable "b" {
  type    = string
  default = "default"
}

variable "c" {
  type    = string
  default = "default"
}

variable "d" {
  type    = string
  default = "default"
}

output "all" {
  value = "${var.a},${var.b},${var.c},${var.d}"
}
"#;

fn all(ws: &Ws, extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut args = vec!["apply", "--auto-approve"];
    args.extend_from_slice(extra);
    ws.run_env(&args, env).success();
    ws.run(&["output", "all", "--raw"]).success().stdout.clone()
}

#[test]
fn defaults_apply_without_any_source() {
    let ws = Ws::with_main(FOUR);
    assert_eq!(all(&ws, &[], &[]), "default,default,default,default");
}

#[test]
fn precedence_env_then_tfvars_then_auto_tfvars_then_cli() {
    let ws = Ws::with_main(FOUR);
    ws.write(
        "terraform.tfvars",
        "a = \"tfvars\"\nb = \"tfvars\"\nc = \"tfvars\"\n",
    );
    ws.write("x.auto.tfvars", "b = \"auto\"\nc = \"auto\"\n");
    let env = [("TERRANE_VAR_a", "env"), ("TERRANE_VAR_d", "env")];
    // a: env < terraform.tfvars; b: tfvars < auto; c: auto < --var; d: env only.
    assert_eq!(all(&ws, &["--var", "c=cli"], &env), "tfvars,auto,cli,env");
    // Without --var the auto file wins for c.
    assert_eq!(all(&ws, &[], &env), "tfvars,auto,auto,env");
}

#[test]
fn auto_tfvars_files_apply_in_name_order_and_var_file_is_read() {
    let ws = Ws::with_main(FOUR);
    ws.write("1.auto.tfvars", "a = \"first\"\nb = \"first\"\n");
    ws.write("2.auto.tfvars", "a = \"second\"\n");
    ws.write("extra.tfvars", "c = \"from-file\"\nd = \"from-file\"\n");
    assert_eq!(
        all(&ws, &["--var-file", "extra.tfvars", "--var", "d=cli"], &[]),
        "second,first,from-file,cli"
    );
}

#[test]
fn environment_variable_alone() {
    let ws = Ws::with_main(FOUR);
    assert_eq!(
        all(&ws, &[], &[("TERRANE_VAR_b", "from env")]),
        "default,from env,default,default"
    );
}

const VALIDATED: &str = r#"
variable "environment" {
  type = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "replicas" {
  type    = number
  default = 1
}

resource "terraform_data" "d" {
  input = "${var.environment}-${var.replicas}"
}
"#;

#[test]
fn failing_validation_is_an_error_with_the_message() {
    let ws = Ws::with_main(VALIDATED);
    let o = ws.run(&["plan", "--var", "environment=qa"]);
    o.expect_code(1)
        .contains("environment must be dev or prod.")
        .contains("on main.tf line 6")
        .lacks("Plan:");
    ws.run(&["apply", "--auto-approve", "--var", "environment=qa"])
        .expect_code(1)
        .contains("environment must be dev or prod.");
    assert!(ws.state_list().is_empty());
    ws.run(&["apply", "--auto-approve", "--var", "environment=prod"])
        .success();
    ws.run(&["state", "show", "terraform_data.d"])
        .success()
        .contains("\"prod-1\"");
}

#[test]
fn validation_also_applies_to_tfvars_and_env() {
    let ws = Ws::with_main(VALIDATED);
    ws.write("terraform.tfvars", "environment = \"staging\"\n");
    ws.run(&["plan"])
        .expect_code(1)
        .contains("environment must be dev or prod.");
    std::fs::remove_file(ws.file("terraform.tfvars")).expect("rm");
    ws.run_env(&["plan"], &[("TERRANE_VAR_environment", "test")])
        .expect_code(1)
        .contains("environment must be dev or prod.");
    ws.run_env(&["plan"], &[("TERRANE_VAR_environment", "dev")])
        .success();
}

#[test]
fn a_value_of_the_wrong_type_is_rejected() {
    let ws = Ws::with_main(VALIDATED);
    ws.write(
        "terraform.tfvars",
        "environment = \"dev\"\nreplicas = \"many\"\n",
    );
    ws.run(&["plan"])
        .expect_code(1)
        .contains("Invalid value for input variable")
        .contains("a number is required")
        .contains("var.replicas");
}

#[test]
fn a_missing_required_variable_is_an_error() {
    let ws = Ws::with_main(VALIDATED);
    ws.run(&["plan"]).expect_code(1).contains("environment");
    assert!(ws.state_list().is_empty());
}

#[test]
fn an_undeclared_cli_variable_is_an_error_with_a_suggestion() {
    let ws = Ws::with_main(VALIDATED);
    ws.run(&["plan", "--var", "environment=dev", "--var", "replica=3"])
        .expect_code(1)
        .contains("Value for undeclared variable")
        .contains("Did you mean \"replicas\"?");
}
