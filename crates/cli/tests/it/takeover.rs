//! Moving in from Terraform and back: a state Terraform 1.15 applied is taken over by
//! `terrane state migrate --from`, planned without changes, changed by terrane, written
//! back with `--to FILE.tfstate`, and planned by Terraform without changes.

use crate::terraform::{terraform, Pair};

const MAIN: &str = r#"
variable "n" {
  default = 2
}

resource "terraform_data" "a" {
  count = var.n
  input = { i = count.index, big = 12345678901234567890 }
}

resource "terraform_data" "b" {
  input      = terraform_data.a[0].output
  depends_on = [terraform_data.a]
}

module "c" {
  source = "./m"
  count  = 2
  v      = "c${count.index}"
}

module "e" {
  source   = "./m"
  for_each = { k = "v" }
  v        = each.value
}

output "secret" {
  value     = "hunter2"
  sensitive = true
}

output "c" {
  value = module.c[*].o
}
"#;

const MODULE: &str = r#"
variable "v" {}

resource "terraform_data" "r" {
  for_each = toset(["x", "y"])
  input    = "${var.v}-${each.key}"
}

output "o" {
  value = [for r in terraform_data.r : r.output]
}
"#;

fn sorted(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn a_terraform_state_is_taken_over_planned_changed_and_given_back() {
    let pair = Pair::new(&[("main.tf", MAIN), ("m/main.tf", MODULE)]);
    terraform(pair.tf.path(), &["apply", "-auto-approve", "-no-color"]).success();
    let tf_list = sorted(&terraform(pair.tf.path(), &["state", "list"]).stdout);
    assert_eq!(tf_list.len(), 9, "{tf_list:?}");
    let source = std::fs::read(pair.tf.path().join("terraform.tfstate")).unwrap();
    std::fs::write(pair.tr.path().join("terraform.tfstate"), &source).unwrap();

    // Beside an unmigrated Terraform state, terrane refuses to plan every object anew.
    pair.tr
        .run(&["plan"])
        .expect_code(1)
        .contains("terraform.tfstate is a Terraform state with 9 resource instances")
        .contains("terrane state migrate --from terraform.tfstate")
        .lacks("Plan:");

    pair.tr
        .run(&["state", "migrate", "--from", "terraform.tfstate"])
        .success()
        .contains("9 resource instances and 2 outputs");
    let after = std::fs::read(pair.tr.path().join("terraform.tfstate")).unwrap();
    assert_eq!(after, source, "the Terraform state must not be changed");
    assert_eq!(sorted(&pair.tr.state_list().join("\n")), tf_list);
    // Terraform's lineage and serial are kept.
    let tf_doc: serde_json::Value = serde_json::from_slice(&source).unwrap();
    let pulled: serde_json::Value =
        serde_json::from_str(&pair.tr.run(&["state", "pull"]).success().stdout).unwrap();
    assert_eq!(pulled["lineage"], tf_doc["lineage"]);
    assert_eq!(pulled["serial"], tf_doc["serial"]);

    // Nothing changed, so nothing to do; values and sensitivity came along.
    pair.tr.run(&["plan", "-detailed-exitcode"]).expect_code(0);
    pair.tr
        .run(&["output", "-raw", "secret"])
        .success()
        .contains("hunter2");
    pair.tr
        .run(&["show", "-json"])
        .success()
        .contains("12345678901234567890");
    // A second takeover would overwrite terrane's state: refused.
    pair.tr
        .run(&["state", "migrate", "--from", "terraform.tfstate"])
        .expect_code(1)
        .contains("already holds a terrane state");

    // terrane changes something, then hands the state back.
    pair.tr
        .run(&["apply", "-auto-approve", "-var", "n=3"])
        .success()
        .contains("1 added, 0 changed, 0 destroyed");
    pair.tr
        .run(&["state", "migrate", "--to", "back.tfstate"])
        .success()
        .contains("10 resource instances");
    let back = pair.tr.path().join("back.tfstate");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&back).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o600,
        "a state holding secrets is for its owner alone"
    );
    pair.tr
        .run(&["state", "migrate", "--to", "back.tfstate"])
        .expect_code(1)
        .contains("already exists");
    std::fs::copy(&back, pair.tf.path().join("terraform.tfstate")).unwrap();
    let plan = terraform(
        pair.tf.path(),
        &["plan", "-var", "n=3", "-detailed-exitcode", "-no-color"],
    );
    assert_eq!(
        plan.code, 0,
        "Terraform should see no changes in the state terrane wrote:\n{}{}",
        plan.stdout, plan.stderr
    );
    terraform(pair.tf.path(), &["output", "-raw", "secret"])
        .success()
        .contains("hunter2");
}

#[test]
fn files_that_are_not_terraform_states_are_refused_and_nothing_is_written() {
    let pair = Pair::new(&[(
        "main.tf",
        MODULE
            .replace(
                "variable \"v\" {}",
                "variable \"v\" {\n  default = \"d\"\n}",
            )
            .as_str(),
    )]);
    let ws = &pair.tr;
    ws.write("not.tfstate", "hello");
    ws.run(&["state", "migrate", "--from", "not.tfstate"])
        .expect_code(1)
        .contains("not.tfstate is not a Terraform state file: not JSON");
    ws.write(
        "newer.tfstate",
        r#"{"version": 5, "serial": 1, "lineage": "x"}"#,
    );
    ws.run(&["state", "migrate", "--from", "newer.tfstate"])
        .expect_code(1)
        .contains("format version 5")
        .contains("nothing was read");
    assert!(ws.state_list().is_empty(), "nothing is half migrated");
    ws.run(&["state", "migrate", "--from", "missing.tfstate"])
        .expect_code(1)
        .contains("reading missing.tfstate");
    // A tainted object comes over tainted, and goes back so.
    ws.write(
        "tainted.tfstate",
        r#"{"version": 4, "serial": 1, "lineage": "x", "resources": [{"mode": "managed",
        "type": "terraform_data", "name": "t", "provider": "provider[\"terraform.io/builtin/terraform\"]",
        "instances": [{"status": "tainted", "schema_version": 0, "attributes": {"id": "1"}}]}]}"#,
    );
    ws.run(&["state", "migrate", "--from", "tainted.tfstate"])
        .success();
    assert_eq!(ws.state_list(), ["terraform_data.t"]);
    ws.run(&["state", "migrate", "--to", "back.tfstate"])
        .success();
    let back: serde_json::Value =
        serde_json::from_str(&ws.read("back.tfstate")).expect("a state document");
    assert_eq!(back["resources"][0]["instances"][0]["status"], "tainted");
}

/// A small configuration for the backend tests, and Terraform's `backend` block.
fn backend_pair(backend: &str) -> Pair {
    let pair = Pair::new(&[("main.tf", MODULE)]);
    pair.tf.write(
        "main.tf",
        &format!(
            "terraform {{\n{backend}\n}}\n{}",
            MODULE.replace(
                "variable \"v\" {}",
                "variable \"v\" {\n  default = \"b\"\n}"
            )
        ),
    );
    pair.tr.write(
        "main.tf",
        &MODULE.replace(
            "variable \"v\" {}",
            "variable \"v\" {\n  default = \"b\"\n}",
        ),
    );
    pair
}

/// Terraform's `pg` backend state, read in place (real PostgreSQL). With the `pg`
/// backend block kept, terrane (whose own state in that database is empty) refuses to
/// plan and names the migration; after it, terrane and Terraform both plan no changes.
#[test]
fn a_state_in_terraforms_pg_backend_is_taken_over_in_place() {
    let (url, _server) = terrane_state::testpg::shared(crate::free_port());
    let workspace = format!("tf{}", std::process::id());
    let pair = backend_pair(&format!(
        "  backend \"pg\" {{\n    conn_str = \"{url}?sslmode=disable\"\n  }}"
    ));
    terraform(
        pair.tf.path(),
        &["init", "-no-color", "-input=false", "-reconfigure"],
    )
    .success();
    terraform(
        pair.tf.path(),
        &["workspace", "new", "-no-color", &workspace],
    )
    .success();
    terraform(pair.tf.path(), &["apply", "-auto-approve", "-no-color"]).success();
    assert!(!pair.tf.path().join("terraform.tfstate").exists());

    let body = MODULE.replace(
        "variable \"v\" {}",
        "variable \"v\" {\n  default = \"b\"\n}",
    );
    pair.tr.write(
        "main.tf",
        &format!("terraform {{\n  backend \"pg\" {{\n    conn_str  = \"{url}\"\n    workspace = \"{workspace}\"\n  }}\n}}\n{body}"),
    );
    pair.tr
        .run(&["plan"])
        .expect_code(1)
        .contains("This PostgreSQL database's Terraform state (schema terraform_remote_state) is a Terraform state with 2 resource instances")
        .contains("terrane state migrate --from")
        .lacks("Plan:");
    let from = format!("{url}?workspace={workspace}");
    pair.tr
        .run(&["state", "migrate", "--from", &from])
        .success()
        .contains("Took over the Terraform pg backend")
        .contains("2 resource instances");
    assert_eq!(
        pair.tr.state_list(),
        vec!["terraform_data.r[\"x\"]", "terraform_data.r[\"y\"]"]
    );
    pair.tr.run(&["plan", "-detailed-exitcode"]).expect_code(0);
    // terraform_remote_state reads the same row, in the workspace named.
    let reader = crate::Ws::with_main(&format!(
        r#"
data "terraform_remote_state" "app" {{
  backend   = "pg"
  workspace = "{workspace}"
  config = {{
    conn_str = "{url}"
  }}
}}
output "o" {{
  value = data.terraform_remote_state.app.outputs.o
}}
"#
    ));
    reader.run(&["apply", "-auto-approve"]).success();
    reader
        .run(&["output", "-json", "o"])
        .success()
        .contains(r#"["b-x","b-y"]"#);
    // Terraform's state was only read: Terraform still plans no changes from it.
    let plan = terraform(pair.tf.path(), &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    pair.tr
        .run(&[
            "state",
            "migrate",
            "--from",
            &format!("{url}?workspace=nope"),
        ])
        .expect_code(1)
        .contains("holds no state for workspace \"nope\"");
}

/// Terraform's `s3` backend state on moto, read in place.
#[cfg(feature = "aws")]
#[test]
fn a_state_in_terraforms_s3_backend_is_taken_over_in_place() {
    let moto = crate::aws::Moto::start();
    let env = moto.env();
    let endpoint = env
        .iter()
        .find(|(k, _)| *k == "AWS_ENDPOINT_URL")
        .map(|(_, v)| v.clone())
        .unwrap();
    let s3 = moto.s3();
    crate::aws::runtime().block_on(async {
        s3.create_bucket().bucket("tfstate").send().await.unwrap();
    });
    let pair = backend_pair(&format!(
        r#"  backend "s3" {{
    bucket                      = "tfstate"
    key                         = "app/terraform.tfstate"
    region                      = "us-east-1"
    endpoints                   = {{ s3 = "{endpoint}" }}
    use_path_style              = true
    access_key                  = "testing"
    secret_key                  = "testing"
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
  }}"#
    ));
    terraform(
        pair.tf.path(),
        &["init", "-no-color", "-input=false", "-reconfigure"],
    )
    .success();
    terraform(pair.tf.path(), &["apply", "-auto-approve", "-no-color"]).success();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Another configuration reads the outputs where Terraform keeps them.
    let reader = crate::Ws::with_main(&format!(
        r#"
data "terraform_remote_state" "app" {{
  backend = "s3"
  config = {{
    bucket    = "tfstate"
    key       = "app/terraform.tfstate"
    region    = "us-east-1"
    endpoints = {{ s3 = "{endpoint}" }}
  }}
}}
output "o" {{
  value = data.terraform_remote_state.app.outputs.o
}}
"#
    ));
    reader.run_env(&["apply", "-auto-approve"], &env).success();
    reader
        .run(&["output", "-json", "o"])
        .success()
        .contains(r#"["b-x","b-y"]"#);
    let from = format!("s3://tfstate/app/terraform.tfstate?region=us-east-1&endpoint={endpoint}");
    pair.tr
        .run_env(&["state", "migrate", "--from", &from], &env)
        .success()
        .contains("Took over s3://tfstate/app/terraform.tfstate")
        .contains("2 resource instances");
    pair.tr.run(&["plan", "-detailed-exitcode"]).expect_code(0);
    pair.tr
        .run_env(
            &[
                "state",
                "migrate",
                "--from",
                &from.replace("app/", "other/"),
            ],
            &env,
        )
        .expect_code(1)
        .contains("holds no state");
}

/// Objects a provider plugin wrote under Terraform come over too: the same Python
/// plugin (a real one, through `dev_overrides` for both tools) plans no changes in
/// terrane after the takeover.
#[test]
fn a_plugin_providers_objects_are_taken_over_without_changes() {
    const MAIN: &str = r#"
terraform {
  required_providers {
    pyvider = { source = "local/pyvider" }
  }
}

resource "pyvider_file_content" "f" {
  filename = "${path.module}/hello.txt"
  content  = "hello"
}
"#;
    let peers = std::env::var("TERRANE_PLUGIN_PEERS").expect(
        "TERRANE_PLUGIN_PEERS must name the directory of the test plugins: `bash .ci/run` installs them",
    );
    let tf = crate::Ws::with_main(MAIN);
    let tr = crate::Ws::with_main(MAIN);
    let rc = format!(
        "provider_installation {{\n  dev_overrides {{\n    \"local/pyvider\" = \"{peers}\"\n  }}\n  direct {{}}\n}}\n"
    );
    for ws in [&tf, &tr] {
        ws.write("cli.tfrc", &rc);
    }
    let mut c =
        crate::terraform::terraform_cmd(tf.path(), &["apply", "-auto-approve", "-no-color"]);
    c.env("TF_CLI_CONFIG_FILE", tf.file("cli.tfrc"));
    crate::terraform::with_input(c, "").success();
    std::fs::copy(
        tf.path().join("terraform.tfstate"),
        tr.path().join("terraform.tfstate"),
    )
    .unwrap();
    // The object is the file Terraform's plugin wrote: give terrane's copy of the
    // directory the same file, so that the plugin finds it as it was.
    std::fs::copy(tf.path().join("hello.txt"), tr.path().join("hello.txt")).ok();
    let cfg = tr.file("cli.tfrc");
    let env = [("TF_CLI_CONFIG_FILE", cfg.to_str().unwrap())];
    tr.run_env(&["state", "migrate", "--from", "terraform.tfstate"], &env)
        .success()
        .contains("1 resource instances")
        .lacks("has no provider");
    tr.run_env(&["plan", "-detailed-exitcode"], &env)
        .expect_code(0);
}

/// `terraform_remote_state` reads terrane's own state too: a SQLite state (as
/// `backend = "sqlite"`, as a `local` path, and as a `terrane` URL), sensitive outputs
/// unsealed with the other workspace's key and still sensitive.
#[test]
fn terraform_remote_state_reads_terranes_own_state() {
    let root = tempfile::tempdir().expect("a directory");
    let network = root.path().join("network");
    let app = root.path().join("app");
    std::fs::create_dir_all(&network).expect("network");
    std::fs::create_dir_all(&app).expect("app");
    std::fs::write(
        network.join("main.tf"),
        "output \"vpc_id\" {\n  value = \"vpc-0abc\"\n}\noutput \"cidrs\" {\n  value = [\"10.0.0.0/24\", \"10.0.1.0/24\"]\n}\noutput \"token\" {\n  value     = \"s3cr3t\"\n  sensitive = true\n}\n",
    )
    .expect("network config");
    let run = |dir: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new(crate::BIN)
            .arg("-C")
            .arg(dir)
            .arg("--no-color")
            .args(args)
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .output()
            .expect("terrane runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, text) = run(&network, &["apply", "--auto-approve"]);
    assert!(ok, "{text}");
    std::fs::write(
        app.join("main.tf"),
        r#"
data "terraform_remote_state" "sqlite" {
  backend = "sqlite"
  config  = { path = "../network/.terrane/state.db" }
}
data "terraform_remote_state" "local" {
  backend = "local"
  config  = { path = "../network/.terrane/state.db" }
}
data "terraform_remote_state" "url" {
  backend = "terrane"
  config  = { url = "sqlite:../network/.terrane/state.db" }
}
output "seen" {
  value = [
    data.terraform_remote_state.sqlite.outputs.vpc_id,
    data.terraform_remote_state.local.outputs.cidrs[1],
    data.terraform_remote_state.url.outputs.vpc_id,
  ]
}
output "token" {
  value     = data.terraform_remote_state.sqlite.outputs.token
  sensitive = true
}
output "token_length" {
  value = nonsensitive(length(data.terraform_remote_state.url.outputs.token))
}
"#,
    )
    .expect("app config");
    let (ok, text) = run(&app, &["apply", "--auto-approve"]);
    assert!(ok, "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    let (ok, seen) = run(&app, &["output", "--json", "seen"]);
    assert!(ok, "{seen}");
    let seen: serde_json::Value = serde_json::from_str(&seen).expect("JSON");
    assert_eq!(
        seen,
        serde_json::json!(["vpc-0abc", "10.0.1.0/24", "vpc-0abc"])
    );
    let (ok, length) = run(&app, &["output", "--raw", "token_length"]);
    assert!(ok && length.trim() == "6", "{length}");
    // A state that does not exist is a clear error.
    std::fs::write(
        app.join("main.tf"),
        "data \"terraform_remote_state\" \"x\" {\n  backend = \"sqlite\"\n  config  = { path = \"../nowhere/state.db\" }\n}\n",
    )
    .expect("config");
    let (ok, text) = run(&app, &["plan"]);
    assert!(
        !ok && text.contains("Unable to find remote state"),
        "{text}"
    );
}
