//! Provider plugins end to end: the `terrane` binary driving real plugins (installed
//! by `.ci/run` through scripts/plugin-peers, named by `TERRANE_PLUGIN_PEERS`).

use std::path::PathBuf;

use crate::{Out, Ws};

fn peers() -> PathBuf {
    PathBuf::from(std::env::var_os("TERRANE_PLUGIN_PEERS").expect(
        "TERRANE_PLUGIN_PEERS must name the directory of the test plugins: `bash .ci/run` installs them (scripts/plugin-peers) and sets it",
    ))
}

/// A workspace whose CLI configuration points the `local/NAME` providers at the peers
/// directory (`dev_overrides`).
fn with_overrides(main_tf: &str, names: &[&str]) -> Ws {
    let ws = Ws::with_main(main_tf);
    let lines: Vec<String> = names
        .iter()
        .map(|n| format!("    \"local/{n}\" = \"{}\"", peers().display()))
        .collect();
    ws.write(
        "cli.tfrc",
        &format!(
            "provider_installation {{\n  dev_overrides {{\n{}\n  }}\n  direct {{}}\n}}\n",
            lines.join("\n")
        ),
    );
    ws
}

fn run(ws: &Ws, args: &[&str]) -> Out {
    let cfg = ws.file("cli.tfrc");
    ws.run_env(args, &[("TF_CLI_CONFIG_FILE", cfg.to_str().unwrap())])
}

const PYVIDER_FILE: &str = r#"
terraform {
  required_providers {
    pyvider = { source = "local/pyvider" }
  }
}

variable "who" {
  default = "world"
}

resource "pyvider_file_content" "f" {
  filename = "${path.module}/hello.txt"
  content  = "hello ${var.who}"
}

data "pyvider_file_info" "i" {
  path = pyvider_file_content.f.filename
}

output "hash" {
  value = pyvider_file_content.f.content_hash
}

output "size" {
  value = data.pyvider_file_info.i.size
}
"#;

#[test]
fn a_python_plugin_creates_reads_updates_and_destroys() {
    let ws = with_overrides(PYVIDER_FILE, &["pyvider"]);
    run(&ws, &["apply", "--auto-approve"])
        .success()
        .contains("pyvider_file_content.f: Creation complete")
        .contains("size = 11");
    assert_eq!(ws.read("hello.txt"), "hello world");
    // The plugin computed the hash; terrane recorded it.
    let out = run(&ws, &["output", "-json"]);
    out.success()
        .contains("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
    // Terraform's single-dash spelling of flags, as scripts use it.
    run(&ws, &["plan", "-detailed-exitcode"]).expect_code(0);
    run(&ws, &["apply", "-auto-approve", "-var", "who=terrane"])
        .success()
        .contains("~ content      = \"hello world\" -> \"hello terrane\"")
        .contains("Resources: 0 added, 1 changed, 0 destroyed");
    assert_eq!(ws.read("hello.txt"), "hello terrane");
    run(&ws, &["destroy", "--auto-approve"])
        .success()
        .contains("Resources: 1 destroyed");
    assert!(!ws.exists("hello.txt"));
}

#[test]
fn a_provider_that_is_not_installed_says_to_run_init() {
    let ws = Ws::with_main(
        r#"
terraform {
  required_providers {
    thing = { source = "example/thing", version = "~> 1.0" }
  }
}
resource "thing_widget" "w" {}
"#,
    );
    ws.write("cli.tfrc", "");
    run(&ws, &["plan"])
        .expect_code(1)
        .contains("registry.terraform.io/example/thing")
        .contains("terrane init")
        .contains("on main.tf line 4");
}

#[test]
fn a_plugin_that_fails_its_handshake_shows_its_stderr() {
    let ws = Ws::with_main(
        r#"
terraform {
  required_providers {
    broken = { source = "local/broken" }
  }
}
resource "broken_thing" "t" {}
"#,
    );
    let dir = ws.file("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("terraform-provider-broken");
    std::fs::write(
        &exe,
        "#!/bin/sh\necho 'broken: cannot read my configuration' >&2\necho 'hello there'\nsleep 5\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    ws.write(
        "cli.tfrc",
        &format!(
            "provider_installation {{\n  dev_overrides {{\n    \"local/broken\" = \"{}\"\n  }}\n}}\n",
            dir.display()
        ),
    );
    run(&ws, &["plan"])
        .expect_code(1)
        .contains("sent a bad handshake")
        .contains("\"hello there\"")
        .contains("broken: cannot read my configuration");
}

/// A filesystem mirror in `ws` holding the pyvider plugin as `local/pyvider` 0.8.1, and
/// a CLI configuration that installs from it.
fn pyvider_mirror(ws: &Ws) {
    let dir = ws.file("mirror/registry.terraform.io/local/pyvider/0.8.1/linux_amd64");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        peers().join("terraform-provider-pyvider"),
        dir.join("terraform-provider-pyvider_v0.8.1"),
    )
    .unwrap();
    ws.write(
        "cli.tfrc",
        &format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
            ws.file("mirror").display()
        ),
    );
}

/// Terraform 1.15 itself (`TERRANE_TERRAFORM`) in `ws`, with the workspace's CLI
/// configuration.
fn terraform(ws: &Ws, args: &[&str]) -> Out {
    let program = std::env::var_os("TERRANE_TERRAFORM").expect(
        "TERRANE_TERRAFORM must name a Terraform 1.15 command: `bash .ci/run` installs one",
    );
    let mut c = std::process::Command::new(program);
    c.args(args)
        .current_dir(ws.path())
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_CLI_CONFIG_FILE", ws.file("cli.tfrc"))
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    ws.run_cmd(c)
}

const PYVIDER_MIRRORED: &str = r#"
terraform {
  required_providers {
    pyvider = { source = "local/pyvider", version = "~> 0.8" }
  }
}

variable "who" {
  default = "world"
}

variable "name" {
  default = "hello.txt"
}

resource "pyvider_file_content" "f" {
  filename = "${path.module}/${var.name}"
  content  = "hello ${var.who}"
}

data "pyvider_file_info" "i" {
  path = pyvider_file_content.f.filename
}

output "hash" {
  value = pyvider_file_content.f.content_hash
}

output "size" {
  value = data.pyvider_file_info.i.size
}

output "shout" {
  value = provider::pyvider::upper(pyvider_file_content.f.content)
}
"#;

/// The same plugin through Terraform 1.15 and terrane, step by step: init from a
/// filesystem mirror (the same lock file), create, a no-op plan, an update in place, a
/// replacement, a data source, a provider function, destroy.
#[test]
fn terraform_and_terrane_agree_on_a_plugin() {
    let tf = Ws::with_main(PYVIDER_MIRRORED);
    let tr = Ws::with_main(PYVIDER_MIRRORED);
    pyvider_mirror(&tf);
    pyvider_mirror(&tr);
    terraform(&tf, &["init", "-no-color"]).success();
    run(&tr, &["init"])
        .success()
        .contains("Installed local/pyvider v0.8.1");
    assert_eq!(
        tf.read(".terraform.lock.hcl"),
        tr.read(".terraform.lock.hcl"),
        "the lock files differ"
    );
    let outputs = |o: &Out| -> serde_json::Value {
        let doc: serde_json::Value = serde_json::from_str(&o.stdout).expect("output -json");
        doc.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["value"].clone()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let both = |tf_args: &[&str], tr_args: &[&str]| {
        let a = terraform(&tf, tf_args);
        let b = run(&tr, tr_args);
        (a, b)
    };
    // Create.
    let (a, b) = both(
        &["apply", "-auto-approve", "-no-color"],
        &["apply", "-auto-approve"],
    );
    a.success()
        .contains("Resources: 1 added, 0 changed, 0 destroyed");
    b.success()
        .contains("Resources: 1 added, 0 changed, 0 destroyed");
    assert_eq!(tf.read("hello.txt"), tr.read("hello.txt"));
    let (a, b) = both(&["output", "-json"], &["output", "-json"]);
    assert_eq!(outputs(a.success()), outputs(b.success()));
    assert_eq!(outputs(&b)["shout"], "HELLO WORLD");
    // Nothing to do.
    let (a, b) = both(
        &["plan", "-detailed-exitcode", "-no-color"],
        &["plan", "-detailed-exitcode"],
    );
    a.expect_code(0);
    b.expect_code(0);
    // An update in place.
    let (a, b) = both(
        &["apply", "-auto-approve", "-no-color", "-var", "who=terrane"],
        &["apply", "-auto-approve", "-var", "who=terrane"],
    );
    a.success()
        .contains("Resources: 0 added, 1 changed, 0 destroyed");
    b.success()
        .contains("Resources: 0 added, 1 changed, 0 destroyed");
    let (a, b) = both(&["output", "-json"], &["output", "-json"]);
    assert_eq!(outputs(a.success()), outputs(b.success()));
    // A change the plugin says forces replacement.
    let (a, b) = both(
        &[
            "plan",
            "-no-color",
            "-var",
            "who=terrane",
            "-var",
            "name=other.txt",
        ],
        &["plan", "-var", "who=terrane", "-var", "name=other.txt"],
    );
    let summary = |o: &Out| {
        o.stdout
            .lines()
            .find(|l| l.starts_with("Plan:"))
            .unwrap_or_else(|| panic!("no plan summary in {}", o.all()))
            .to_string()
    };
    assert_eq!(summary(a.success()), summary(b.success()));
    // Destroy.
    let (a, b) = both(
        &[
            "destroy",
            "-auto-approve",
            "-no-color",
            "-var",
            "who=terrane",
        ],
        &["destroy", "-auto-approve", "-var", "who=terrane"],
    );
    a.success().contains("Resources: 1 destroyed");
    b.success().contains("Resources: 1 destroyed");
    assert!(!tr.exists("hello.txt") && !tf.exists("hello.txt"));
}
