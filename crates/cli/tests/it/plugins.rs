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
        .contains("Provider plugins: pyvider = local/pyvider (development override)")
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
    terraform_env(ws, args, &[])
}

/// [`terraform`] with extra environment variables (which Terraform passes on to the
/// plugins it starts, as terrane does).
fn terraform_env(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> Out {
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
        .envs(env.iter().copied())
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
/// replacement, a data source, a provider function, destroy (pyvider's file resource
/// cannot be imported: [`terraform_and_terrane_import_alike`] covers import).
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
    // The plugin's schemas as both tools print them (`providers schema -json`): the
    // sections terrane writes are Terraform's, value for value.
    let schemas = |o: &Out| -> serde_json::Value {
        let doc: serde_json::Value = serde_json::from_str(&o.stdout).expect("schema json");
        doc["provider_schemas"]["registry.terraform.io/local/pyvider"].clone()
    };
    let tf_schema = schemas(terraform(&tf, &["providers", "schema", "-json"]).success());
    let tr_schema = schemas(run(&tr, &["providers", "schema", "-json"]).success());
    for section in [
        "provider",
        "resource_schemas",
        "data_source_schemas",
        "ephemeral_resource_schemas",
        "functions",
    ] {
        assert_eq!(
            tf_schema[section], tr_schema[section],
            "providers schema -json differs in {section}"
        );
    }
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

// --- Protocol 5, and plugins that fail: terrane's own test plugin ---
// crates/plugin/tests/proto5/terraform-provider-proto5, installed as `local/proto5` by
// scripts/plugin-peers. It keeps its items in `items/items.json` in the workspace; its
// faults are switched on by environment variables, which terrane passes on to it.

const PROTO5_ITEMS: &str = r#"
terraform {
  required_providers {
    proto5 = { source = "local/proto5" }
  }
}

variable "first" {
  default = "one"
}

variable "suffix" {
  default = ""
}

provider "proto5" {
  dir = "${path.module}/items"
}

resource "proto5_item" "i" {
  count = 3
  name  = count.index == 2 ? "item-2${var.suffix}" : "item-${count.index}"
  value = count.index == 0 ? var.first : "v${count.index}"
}

data "proto5_item" "first" {
  name = proto5_item.i[0].name
}

output "first_id" {
  value = data.proto5_item.first.id
}

output "first_value" {
  value = data.proto5_item.first.value
}

output "shout" {
  value = provider::proto5::shout(proto5_item.i[0].value)
}
"#;

/// A workspace with the `local/proto5` plugin configured to keep its items in `items/`,
/// and `resources` after that.
fn proto5_ws(resources: &str) -> Ws {
    with_overrides(
        &format!(
            r#"
terraform {{
  required_providers {{
    proto5 = {{ source = "local/proto5" }}
  }}
}}
provider "proto5" {{
  dir = "${{path.module}}/items"
}}
{resources}"#
        ),
        &["proto5"],
    )
}

/// The items the plugin keeps: id → {name, value}.
fn proto5_items(ws: &Ws) -> serde_json::Map<String, serde_json::Value> {
    if !ws.exists("items/items.json") {
        return serde_json::Map::new();
    }
    match serde_json::from_str(&ws.read("items/items.json")).expect("items.json") {
        serde_json::Value::Object(m) => m,
        other => panic!("items.json holds {other}"),
    }
}

fn proto5_run(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> Out {
    let cfg = ws.file("cli.tfrc");
    let mut all = vec![("TF_CLI_CONFIG_FILE", cfg.to_str().unwrap())];
    all.extend_from_slice(env);
    ws.run_env(args, &all)
}

fn output_json(ws: &Ws) -> serde_json::Value {
    let o = run(ws, &["output", "-json"]);
    o.success();
    serde_json::from_str(&o.stdout).expect("output -json")
}

/// A protocol 5 plugin through the `terrane` binary: create three items, a no-op plan,
/// an update in place, a replacement, a data source, a provider function, import,
/// destroy.
#[test]
fn a_protocol_5_plugin_creates_updates_replaces_imports_and_destroys() {
    let ws = with_overrides(PROTO5_ITEMS, &["proto5"]);
    run(&ws, &["apply", "--auto-approve"])
        .success()
        .contains("proto5_item.i[0]: Creation complete")
        .contains("Resources: 3 added, 0 changed, 0 destroyed");
    let items = proto5_items(&ws);
    assert_eq!(items.len(), 3, "{items:?}");
    let out = output_json(&ws);
    let first_id = out["first_id"]["value"]
        .as_str()
        .expect("first_id")
        .to_string();
    assert_eq!(items[&first_id]["name"], "item-0");
    assert_eq!(out["first_value"]["value"], "one");
    assert_eq!(out["shout"]["value"], "ONE!");
    // The schema came over protocol 5, write-only attribute and all.
    run(&ws, &["providers", "schema", "-json"])
        .success()
        .contains("\"sensitive\":true,\"write_only\":true");
    // Nothing to do.
    run(&ws, &["plan", "-detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");
    // An update in place.
    run(&ws, &["apply", "-auto-approve", "-var", "first=uno"])
        .success()
        .contains("~ value = \"one\" -> \"uno\"")
        .contains("Resources: 0 added, 1 changed, 0 destroyed");
    assert_eq!(proto5_items(&ws)[&first_id]["value"], "uno");
    let out = output_json(&ws);
    assert_eq!(out["first_id"]["value"], first_id.as_str());
    assert_eq!(out["shout"]["value"], "UNO!");
    // A new name forces replacement.
    let vars = ["-var", "first=uno", "-var", "suffix=-b"];
    let mut plan = vec!["plan"];
    plan.extend_from_slice(&vars);
    run(&ws, &plan)
        .success()
        .contains("proto5_item.i[2] must be replaced")
        .contains("# forces replacement")
        .contains("Plan: 1 to add, 0 to change, 1 to destroy.");
    let mut apply = vec!["apply", "-auto-approve"];
    apply.extend_from_slice(&vars);
    run(&ws, &apply)
        .success()
        .contains("Resources: 1 added, 0 changed, 1 destroyed");
    let names: Vec<String> = proto5_items(&ws)
        .values()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names.contains(&"item-2-b".to_string()), "{names:?}");
    assert!(!names.contains(&"item-2".to_string()), "{names:?}");
    // Import an item made outside terrane.
    let mut items = proto5_items(&ws);
    items.insert(
        "outside1".into(),
        serde_json::json!({"name": "outside", "value": "made by hand"}),
    );
    ws.write(
        "items/items.json",
        &serde_json::to_string_pretty(&items).unwrap(),
    );
    ws.write(
        "main.tf",
        &format!(
            "{PROTO5_ITEMS}\nresource \"proto5_item\" \"outside\" {{\n  name  = \"outside\"\n  value = \"made by hand\"\n}}\n"
        ),
    );
    let mut import = vec!["import"];
    import.extend_from_slice(&vars);
    import.extend_from_slice(&["proto5_item.outside", "outside1"]);
    run(&ws, &import).success();
    assert!(state_list(&ws).contains(&"proto5_item.outside".to_string()));
    let mut plan = vec!["plan", "-detailed-exitcode"];
    plan.extend_from_slice(&vars);
    run(&ws, &plan).expect_code(0);
    // Destroy.
    let mut destroy = vec!["destroy", "-auto-approve"];
    destroy.extend_from_slice(&vars);
    run(&ws, &destroy)
        .success()
        .contains("Resources: 4 destroyed");
    assert!(proto5_items(&ws).is_empty(), "{:?}", proto5_items(&ws));
}

/// `state list` with the workspace's CLI configuration.
fn state_list(ws: &Ws) -> Vec<String> {
    let o = run(ws, &["state", "list"]);
    o.success();
    o.stdout.lines().map(str::to_string).collect()
}

const PROTO5_FIVE: &str = r#"
terraform {
  required_providers {
    proto5 = { source = "local/proto5" }
  }
}

provider "proto5" {
  dir = "${path.module}/items"
}

resource "proto5_item" "n" {
  count = 5
  name  = "n-${count.index}"
}
"#;

/// A plugin that dies during the third of five creates: the apply fails saying the plugin
/// exited and what it wrote last; the state holds the two items that were made, and the
/// next apply makes the rest.
#[test]
fn a_plugin_that_dies_mid_apply_leaves_the_completed_items_in_state() {
    let ws = with_overrides(PROTO5_FIVE, &["proto5"]);
    let out = proto5_run(
        &ws,
        &["apply", "--auto-approve", "--parallelism", "1"],
        &[("PROTO5_DIE_ON_APPLY", "3")],
    );
    out.expect_code(1)
        .contains("failed the call ApplyResourceChange")
        .contains("The plugin process has exited (exit status: 7)")
        .contains("proto5: injected failure: dying during ApplyResourceChange #3");
    let listed: Vec<String> = state_list(&ws)
        .into_iter()
        .filter(|a| a.starts_with("proto5_item.n["))
        .collect();
    let items = proto5_items(&ws);
    assert_eq!(listed.len(), 2, "state: {listed:?}\n{}", out.all());
    assert_eq!(items.len(), 2, "items: {items:?}");
    // The state records the very items the plugin made.
    let shown = run(&ws, &["show", "-json"]);
    shown.success();
    for id in items.keys() {
        assert!(
            shown.stdout.contains(id.as_str()),
            "{id} is not in the state"
        );
    }
    // Without the fault, the next apply makes the other three.
    run(&ws, &["apply", "--auto-approve", "--parallelism", "1"])
        .success()
        .contains("Resources: 3 added, 0 changed, 0 destroyed");
    assert_eq!(state_list(&ws).len(), 5);
    assert_eq!(proto5_items(&ws).len(), 5);
    run(&ws, &["plan", "-detailed-exitcode"]).expect_code(0);
}

/// Whether a process is gone (or a zombie about to be reaped).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// A plugin that hangs in a call and ignores StopProvider: Ctrl-C makes terrane send
/// StopProvider, kill the plugin once the stop grace has passed, and exit; no plugin
/// process or socket is left behind.
#[test]
fn ctrl_c_with_a_hung_plugin_stops_then_kills_it() {
    use std::time::{Duration, Instant};
    let ws = proto5_ws(
        r#"

resource "proto5_item" "h" {
  name = "hung"
}
"#,
    );
    let log = ws.file("plugin.log");
    let mut c = ws.cmd(&["apply", "--auto-approve"]);
    c.env("TF_CLI_CONFIG_FILE", ws.file("cli.tfrc"))
        .env("PROTO5_HANG", "ApplyResourceChange")
        .env("PROTO5_LOG", &log)
        .stdout(std::fs::File::create(ws.file("stdout")).unwrap())
        .stderr(std::fs::File::create(ws.file("stderr")).unwrap());
    let mut child = c.spawn().expect("spawn terrane");
    let outputs = |ws: &Ws| format!("{}{}", ws.read("stdout"), ws.read("stderr"));
    let started = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("call ApplyResourceChange")
    {
        if started.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("the apply never reached the plugin:\n{}", outputs(&ws));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    #[allow(unsafe_code)]
    // SAFETY: kill(2) on the child we spawned and have not reaped.
    let rc = unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGINT) };
    assert_eq!(rc, 0);
    let interrupted = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if interrupted.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("terrane did not exit after Ctrl-C:\n{}", outputs(&ws));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let all = outputs(&ws);
    assert!(!status.success(), "{all}");
    assert!(all.contains("Interrupt received"), "{all}");
    assert!(
        all.contains("terrane killed it: it was still busy 10 s after it was asked to stop"),
        "{all}"
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("call Stop"), "no StopProvider:\n{log}");
    // Each plugin process terrane started is gone, none of them by noticing on its own
    // that terrane had exited, and its socket is removed.
    let starts: Vec<(u32, String)> = log
        .lines()
        .filter_map(|l| {
            let (pid, rest) = l.split_once(' ')?;
            let socket = rest.strip_prefix("start ")?;
            Some((pid.parse().ok()?, socket.to_string()))
        })
        .collect();
    assert!(!starts.is_empty(), "{log}");
    assert!(!log.contains("exit orphaned"), "{log}");
    let deadline = Instant::now() + Duration::from_secs(5);
    for (pid, socket) in &starts {
        while !process_gone(*pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(process_gone(*pid), "plugin process {pid} is still running");
        assert!(
            !std::path::Path::new(socket).exists(),
            "{socket} is left behind"
        );
    }
}

/// Each object records that a plugin wrote it (with the plugin's private bytes and
/// schema version), and terrane will not plan a plugin's object with a native provider
/// or the other way round.
#[test]
fn objects_remember_which_implementation_wrote_them() {
    let ws = with_overrides(PYVIDER_FILE, &["pyvider"]);
    run(&ws, &["apply", "-auto-approve"]).success();
    let pulled = run(&ws, &["state", "pull"]);
    let doc: serde_json::Value = serde_json::from_str(&pulled.success().stdout).unwrap();
    let file = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "pyvider_file_content.f")
        .expect("the file in state");
    let meta: serde_json::Value = serde_json::from_str(file["meta"].as_str().unwrap()).unwrap();
    assert_eq!(meta["plugin"], true, "{meta}");
    // The same object, as if a native provider had written it.
    let mut forged = doc.clone();
    for r in forged["resources"].as_array_mut().unwrap() {
        r["meta"] = serde_json::Value::from("");
    }
    ws.write("forged.json", &forged.to_string());
    run(&ws, &["state", "push", "--force", "forged.json"]).success();
    run(&ws, &["plan"])
        .expect_code(1)
        .contains("Object written by another implementation of its provider")
        .contains("pyvider_file_content.f was recorded by terrane's native provider");
    assert_eq!(ws.read("hello.txt"), "hello world", "nothing was touched");
}

/// A plugin whose result differs from its own plan fails the apply as Terraform reports
/// it, and the object it made is still recorded.
#[test]
fn an_inconsistent_result_after_apply_is_an_error_and_the_object_is_kept() {
    let ws = proto5_ws(
        r#"
resource "proto5_item" "x" {
  name  = "x"
  value = "planned"
}
"#,
    );
    proto5_run(
        &ws,
        &["apply", "--auto-approve"],
        &[("PROTO5_INCONSISTENT", "1")],
    )
    .expect_code(1)
    .contains("Provider produced inconsistent result after apply")
    .contains(".value was \"planned\", but now \"not what was planned\"");
    assert_eq!(state_list(&ws), vec!["proto5_item.x".to_string()]);
}

/// A plugin's diagnostics name attributes; terrane shows each at the line and column
/// where the configuration writes that attribute, as Terraform does: the resource's
/// validation (ValidateResourceTypeConfig) and the provider's (PrepareProviderConfig).
#[test]
fn plugin_diagnostics_point_at_the_attribute_they_name() {
    let ws = proto5_ws(
        r#"
resource "proto5_item" "ok" {
  name = "fine"
}
resource "proto5_item" "bad" {
  value = "v"
  name  = ""
}
"#,
    );
    let o = proto5_run(&ws, &["plan"], &[]);
    o.expect_code(1)
        .contains("Error: Invalid name")
        .contains("on main.tf line 16, column 11:")
        .contains("proto5_item.bad: name must not be empty");
    assert!(!o.stderr.contains("proto5_item.ok"), "{}", o.stderr);
    // The provider block's own validation.
    let _ = std::fs::remove_dir_all(ws.file("items"));
    ws.write("items", "a file where the plugin wants a directory");
    proto5_run(&ws, &["plan"], &[])
        .expect_code(1)
        .contains("the provider configuration is not valid: Not a directory")
        .contains("exists and is not a directory (at dir)");
}

/// Import through Terraform 1.15 and terrane with the same protocol 5 plugin: each
/// makes an item, forgets it (`state rm`) and imports it again by id
/// (ImportResourceState, then ReadResource); the imported objects are the same, and a
/// plan afterwards has nothing to do in both.
#[test]
fn terraform_and_terrane_import_alike() {
    let main = r#"
resource "proto5_item" "x" {
  name  = "imported"
  value = "kept"
}
"#;
    let tf = proto5_ws(main);
    let tr = proto5_ws(main);
    terraform(&tf, &["apply", "-auto-approve", "-no-color"])
        .success()
        .contains("Resources: 1 added");
    run(&tr, &["apply", "-auto-approve"])
        .success()
        .contains("Resources: 1 added");
    let values = |o: &Out| -> serde_json::Value {
        let doc: serde_json::Value = serde_json::from_str(&o.stdout).expect("show -json");
        let r = &doc["values"]["root_module"]["resources"];
        let r = r
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["address"] == "proto5_item.x"))
            .unwrap_or_else(|| panic!("no proto5_item.x in {doc}"));
        r["values"].clone()
    };
    let created = (
        values(terraform(&tf, &["show", "-json"]).success()),
        values(run(&tr, &["show", "-json"]).success()),
    );
    for (ws, is_tf) in [(&tf, true), (&tr, false)] {
        let id = proto5_items(ws).keys().next().expect("one item").clone();
        let o = if is_tf {
            terraform(ws, &["state", "rm", "-no-color", "proto5_item.x"])
        } else {
            run(ws, &["state", "rm", "proto5_item.x"])
        };
        o.success();
        let o = if is_tf {
            terraform(ws, &["import", "-no-color", "proto5_item.x", &id])
        } else {
            run(ws, &["import", "proto5_item.x", &id])
        };
        o.success();
    }
    let imported = (
        values(terraform(&tf, &["show", "-json"]).success()),
        values(run(&tr, &["show", "-json"]).success()),
    );
    // Item ids are random: equal to what each tool created, the rest equal across tools.
    assert_eq!(
        imported.0, created.0,
        "Terraform: import differs from create"
    );
    assert_eq!(imported.1, created.1, "terrane: import differs from create");
    let without_id = |v: &serde_json::Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("id");
        v
    };
    assert_eq!(without_id(&imported.0), without_id(&imported.1));
    terraform(&tf, &["plan", "-detailed-exitcode", "-no-color"]).expect_code(0);
    run(&tr, &["plan", "-detailed-exitcode"]).expect_code(0);
}

/// The provider's private data travels as in Terraform: planned at create, stored
/// with the object, given to ReadResource at refresh, and what the read returns is
/// what the next PlanResourceChange and the state get.
#[test]
fn private_data_goes_to_reads_and_back() {
    let ws = with_overrides(
        r#"
terraform {
  required_providers {
    proto5 = { source = "local/proto5" }
  }
}
variable "value" {
  default = "a"
}
provider "proto5" {
  dir = "${path.module}/items"
}
resource "proto5_item" "p" {
  name  = "p"
  value = var.value
}
"#,
        &["proto5"],
    );
    let log = ws.file("plugin.log");
    let env = [("PROTO5_LOG", log.to_str().unwrap())];
    proto5_run(&ws, &["apply", "-auto-approve"], &env).success();
    let calls = |ws: &Ws| -> Vec<String> {
        let text = ws.read("plugin.log");
        let lines = text
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(_, e)| e.to_string()))
            .filter(|e| {
                ["read ", "plan ", "apply "]
                    .iter()
                    .any(|p| e.starts_with(p))
            })
            .collect();
        std::fs::remove_file(ws.file("plugin.log")).unwrap();
        lines
    };
    // Planned, then planned again with the final values at apply, as Terraform does.
    assert_eq!(
        calls(&ws),
        [
            "plan prior_private=",
            "plan prior_private=",
            "apply planned_private=proto5-private"
        ]
    );
    // An update: the read gets what the create stored, the plan what the read returned.
    proto5_run(&ws, &["apply", "-auto-approve", "-var", "value=b"], &env).success();
    assert_eq!(
        calls(&ws),
        [
            "read private=proto5-private",
            "plan prior_private=proto5-private;read",
            "plan prior_private=proto5-private;read",
            "apply planned_private=proto5-private;read",
        ]
    );
    // The update stored the read's private data.
    proto5_run(&ws, &["plan", "-var", "value=b"], &env).success();
    assert_eq!(
        calls(&ws),
        [
            "read private=proto5-private;read",
            "plan prior_private=proto5-private;read",
        ]
    );
    // A delete is an ApplyResourceChange with the object's private data.
    proto5_run(&ws, &["destroy", "-auto-approve", "-var", "value=b"], &env).success();
    assert_eq!(calls(&ws), ["apply planned_private=proto5-private;read"]);
}

/// Blocks nested as a map (`tag "KEY" { ... }`, the protocol's MAP nesting) through
/// Terraform 1.15 and terrane: the same object in state, keyed by label, and nothing
/// to do on the next plan. A label on a block type that takes none is an error.
#[test]
fn map_nested_blocks_are_keyed_by_label_as_in_terraform() {
    let main = r#"
resource "proto5_item" "m" {
  name = "with-tags"
  tag "env" {
    text = "prod"
  }
  tag "team" {
    text = "core"
  }
}
"#;
    let tf = proto5_ws(main);
    let tr = proto5_ws(main);
    terraform(&tf, &["apply", "-auto-approve", "-no-color"]).success();
    run(&tr, &["apply", "-auto-approve"]).success();
    let values = |o: &Out| -> serde_json::Value {
        let doc: serde_json::Value = serde_json::from_str(&o.stdout).expect("show -json");
        let mut v = doc["values"]["root_module"]["resources"][0]["values"].clone();
        v.as_object_mut().unwrap().remove("id");
        v
    };
    let a = values(terraform(&tf, &["show", "-json"]).success());
    let b = values(run(&tr, &["show", "-json"]).success());
    assert_eq!(a, b);
    assert_eq!(b["tag"]["team"]["text"], "core", "{b}");
    terraform(&tf, &["plan", "-detailed-exitcode", "-no-color"]).expect_code(0);
    run(&tr, &["plan", "-detailed-exitcode"]).expect_code(0);
    // A block that needs no label, given one.
    let bad = proto5_ws(
        r#"
resource "proto5_item" "m" {
  name = "x"
  tag {
    text = "no label"
  }
}
"#,
    );
    run(&bad, &["plan"])
        .expect_code(1)
        .contains("each tag block needs a label");
}

/// The provider's private data and the plan/apply/read calls it rides on, as Terraform
/// 1.15 sends them: the same configuration, created then updated, through Terraform
/// and through terrane, with the plugin logging what private bytes each call carried.
#[test]
fn private_data_travels_as_terraform_sends_it() {
    let main = r#"
variable "value" {
  default = "a"
}
resource "proto5_item" "p" {
  name  = "p"
  value = var.value
}
"#;
    let (tf, tr) = (proto5_ws(main), proto5_ws(main));
    let calls = |ws: &Ws| -> Vec<String> {
        let text = ws.read("plugin.log");
        std::fs::remove_file(ws.file("plugin.log")).unwrap();
        text.lines()
            .filter_map(|l| l.split_once(' ').map(|(_, e)| e.to_string()))
            .filter(|e| {
                ["read ", "plan ", "apply "]
                    .iter()
                    .any(|p| e.starts_with(p))
            })
            .collect()
    };
    for step in [
        &["apply", "-auto-approve"][..],
        &["apply", "-auto-approve", "-var", "value=b"],
    ] {
        let (tf_log, tr_log) = (tf.file("plugin.log"), tr.file("plugin.log"));
        let mut tf_args = step.to_vec();
        tf_args.push("-no-color");
        terraform_env(&tf, &tf_args, &[("PROTO5_LOG", tf_log.to_str().unwrap())]).success();
        proto5_run(&tr, step, &[("PROTO5_LOG", tr_log.to_str().unwrap())]).success();
        assert_eq!(calls(&tf), calls(&tr), "{step:?}");
    }
}

/// `import` blocks through Terraform 1.15 and terrane with the same protocol 5 plugin:
/// an item made and forgotten (`state rm`) comes back through an `import` block; both
/// plans say "1 to import" with `change.importing.id`, the apply records the object as
/// read (the same values as created), and the next plan is empty.
#[test]
fn import_blocks_import_as_terraform_does() {
    let main = "resource \"proto5_item\" \"x\" {\n  name  = \"imported\"\n  value = \"kept\"\n}\n";
    let tf = proto5_ws(main);
    let tr = proto5_ws(main);
    terraform(&tf, &["apply", "-auto-approve", "-no-color"]).success();
    run(&tr, &["apply", "-auto-approve"]).success();
    for (ws, is_tf) in [(&tf, true), (&tr, false)] {
        let id = proto5_items(ws).keys().next().expect("one item").clone();
        if is_tf {
            terraform(ws, &["state", "rm", "-no-color", "proto5_item.x"]).success();
        } else {
            run(ws, &["state", "rm", "proto5_item.x"]).success();
        }
        ws.write(
            "import.tf",
            &format!("import {{\n  to = proto5_item.x\n  id = \"{id}\"\n}}\n"),
        );
    }
    let importing = |plan_json: &str| -> Vec<(String, serde_json::Value, serde_json::Value)> {
        let doc: serde_json::Value = serde_json::from_str(plan_json).expect("plan JSON");
        doc["resource_changes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    c["address"].as_str().unwrap_or("?").to_string(),
                    c["change"]["actions"].clone(),
                    c["change"]["importing"].is_object().into(),
                )
            })
            .collect()
    };
    terraform(&tf, &["plan", "-out=tf.plan", "-no-color"])
        .success()
        .contains("1 to import");
    run(&tr, &["plan", "-out=tr.plan"])
        .success()
        .contains("1 to import");
    let a = importing(&terraform(&tf, &["show", "-json", "tf.plan"]).stdout);
    let b = importing(&run(&tr, &["show", "-json", "tr.plan"]).stdout);
    assert_eq!(a, b);
    assert_eq!(
        b,
        vec![(
            "proto5_item.x".to_string(),
            serde_json::json!(["no-op"]),
            serde_json::json!(true)
        )]
    );
    terraform(&tf, &["apply", "-no-color", "tf.plan"]).success();
    run(&tr, &["apply", "tr.plan"]).success();
    run(&tr, &["state", "list"])
        .success()
        .contains("proto5_item.x");
    terraform(&tf, &["plan", "-detailed-exitcode", "-no-color"]).expect_code(0);
    run(&tr, &["plan", "-detailed-exitcode"]).expect_code(0);
}
