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
