//! apply / plan / destroy on real files: creation, no-op re-plans, updates,
//! replacements, count and for_each, drift, import and saved plans.

use crate::{mode_of, Ws};

const FILES: &str = r#"
resource "local_file" "greeting" {
  filename             = "${path.module}/out/greeting.txt"
  content              = "hello, world\n"
  file_permission      = "0640"
  directory_permission = "0750"
}

resource "local_sensitive_file" "key" {
  filename = "${path.module}/out/key.pem"
  content  = "not-really-a-key"
}
"#;

#[test]
fn apply_creates_files_then_replan_is_clean_and_destroy_removes_them() {
    let ws = Ws::with_main(FILES);
    let plan = ws.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(2)
        .contains("Plan: 2 to add, 0 to change, 0 to destroy.");
    assert!(
        !ws.exists("out/greeting.txt"),
        "plan must not create anything"
    );

    ws.apply()
        .contains("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    assert_eq!(ws.read("out/greeting.txt"), "hello, world\n");
    assert_eq!(mode_of(&ws.file("out/greeting.txt")), 0o640);
    assert_eq!(mode_of(&ws.file("out")), 0o750);
    assert_eq!(ws.read("out/key.pem"), "not-really-a-key");
    // local_sensitive_file defaults to owner-only permissions.
    assert_eq!(mode_of(&ws.file("out/key.pem")), 0o700);
    assert_eq!(
        ws.state_list(),
        vec!["local_file.greeting", "local_sensitive_file.key"]
    );

    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");
    // A second apply is a no-op as well.
    ws.run(&["apply", "--auto-approve"])
        .success()
        .contains("No changes")
        .lacks("Creating...");

    let d = ws.run(&["destroy", "--auto-approve"]);
    d.success()
        .contains("Destroy complete! Resources: 2 destroyed.");
    assert!(!ws.exists("out/greeting.txt"));
    assert!(!ws.exists("out/key.pem"));
    assert!(ws.state_list().is_empty());
    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("Plan: 2 to add");
}

#[test]
fn apply_without_approval_changes_nothing() {
    let ws = Ws::with_main(FILES);
    // stdin is empty: the confirmation prompt gets no "yes".
    ws.run(&["apply"])
        .expect_code(1)
        .contains("Apply cancelled");
    assert!(!ws.exists("out/greeting.txt"));
    assert!(ws.state_list().is_empty());
    // A declined destroy says so in its own words.
    ws.apply();
    ws.run(&["destroy"])
        .expect_code(1)
        .contains("Destroy cancelled")
        .lacks("Apply cancelled");
    assert_eq!(ws.state_list().len(), 2);
}

#[test]
fn changing_a_force_new_attribute_replaces_the_file() {
    let ws = Ws::with_main(FILES);
    ws.apply();
    ws.write("main.tf", &FILES.replace("hello, world\\n", "goodbye\\n"));

    let plan = ws.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(2)
        .contains("# local_file.greeting must be replaced")
        .contains("-/+ resource \"local_file\" \"greeting\" {")
        .contains("Plan: 1 to add, 0 to change, 1 to destroy.")
        .lacks("local_sensitive_file.key must be replaced");
    // The content diff of a multi-line string is one heredoc with its changed lines
    // marked, the note on its first line (as Terraform shows it).
    let lines: Vec<&str> = plan.stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with("~ content "))
        .unwrap_or_else(|| panic!("no content diff in:\n{}", plan.stdout));
    let end = (start + 1..lines.len())
        .find(|&i| lines[i].trim() == "EOT")
        .unwrap_or_else(|| panic!("no closing EOT in:\n{}", plan.stdout));
    let diff = lines[start..=end].join("\n");
    assert!(
        lines[start].ends_with("= <<-EOT # forces replacement"),
        "{diff}"
    );
    assert!(
        diff.contains("- hello, world") && diff.contains("+ goodbye"),
        "{diff}"
    );
    assert!(!diff.contains("EOT ->"), "{diff}");
    let forcing: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("# forces replacement"))
        .collect();
    assert_eq!(
        forcing.len(),
        1,
        "only content forces the replacement: {forcing:?}"
    );

    let replaced = ws.apply();
    replaced.contains("Apply complete! Resources: 1 added, 0 changed, 1 destroyed.");
    // The old object's id goes with its destruction, not with the new object's create.
    let creating = replaced
        .stdout
        .lines()
        .find(|l| l.contains("Creating..."))
        .expect("a Creating line");
    assert!(!creating.contains("[id="), "{creating}");
    assert_eq!(ws.read("out/greeting.txt"), "goodbye\n");
    assert_eq!(mode_of(&ws.file("out/greeting.txt")), 0o640);
    ws.assert_converged();
}

#[test]
fn changing_an_updatable_attribute_updates_in_place() {
    let ws = Ws::with_main("resource \"terraform_data\" \"d\" {\n  input = \"one\"\n}\n");
    ws.apply();
    let id_before = ws
        .run(&["state", "show", "terraform_data.d"])
        .stdout
        .clone();
    ws.write(
        "main.tf",
        "resource \"terraform_data\" \"d\" {\n  input = \"two\"\n}\n",
    );
    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("# terraform_data.d will be updated in-place")
        .contains("~ input  = \"one\" -> \"two\"")
        .contains("Plan: 0 to add, 1 to change, 0 to destroy.")
        .lacks("forces replacement");
    ws.apply()
        .contains("Resources: 0 added, 1 changed, 0 destroyed.");
    let shown = ws.run(&["state", "show", "terraform_data.d"]);
    shown.success().contains("output = \"two\"");
    let id = |s: &str| {
        s.lines()
            .find(|l| l.trim_start().starts_with("id"))
            .map(str::to_string)
    };
    assert_eq!(
        id(&id_before),
        id(&shown.stdout),
        "an in-place update keeps the id"
    );
    ws.assert_converged();
}

const COUNTED: &str = r#"
variable "n" {
  type    = number
  default = 3
}

resource "local_file" "f" {
  count    = var.n
  filename = "${path.module}/f${count.index}.txt"
  content  = "file ${count.index}"
}
"#;

#[test]
fn lowering_count_deletes_the_last_index() {
    let ws = Ws::with_main(COUNTED);
    ws.apply().contains("3 added");
    for i in 0..3 {
        assert_eq!(ws.read(&format!("f{i}.txt")), format!("file {i}"));
    }
    let plan = ws.run(&["plan", "--detailed-exitcode", "--var", "n=2"]);
    plan.expect_code(2)
        .contains("# local_file.f[2] will be destroyed")
        .contains("(because index [2] is out of range for count)")
        .contains("Plan: 0 to add, 0 to change, 1 to destroy.")
        .lacks("local_file.f[0] will")
        .lacks("local_file.f[1] will");
    ws.run(&["apply", "--auto-approve", "--var", "n=2"])
        .success()
        .contains("0 added, 0 changed, 1 destroyed");
    assert!(!ws.exists("f2.txt"));
    assert!(ws.exists("f0.txt") && ws.exists("f1.txt"));
    assert_eq!(ws.state_list(), vec!["local_file.f[0]", "local_file.f[1]"]);
    ws.run(&["plan", "--detailed-exitcode", "--var", "n=2"])
        .expect_code(0);
}

#[test]
fn count_accepts_a_number_given_as_text() {
    // An untyped variable set on the command line is a string; count converts it to
    // a number like Terraform does.
    let ws = Ws::with_main(
        "variable \"n\" {\n  default = 1\n}\n\nresource \"null_resource\" \"r\" {\n  count = var.n\n}\n",
    );
    ws.run(&["apply", "--auto-approve", "--var", "n=2"])
        .success()
        .contains("2 added");
    assert_eq!(
        ws.state_list(),
        vec!["null_resource.r[0]", "null_resource.r[1]"]
    );
}

#[test]
fn for_each_keys_added_and_removed() {
    let cfg = |keys: &str| {
        format!(
            "resource \"local_file\" \"e\" {{\n  for_each = toset([{keys}])\n  filename = \"${{path.module}}/e-${{each.key}}.txt\"\n  content  = \"each ${{each.value}}\"\n}}\n"
        )
    };
    let ws = Ws::with_main(&cfg("\"a\", \"b\""));
    ws.apply().contains("2 added");
    assert_eq!(ws.read("e-a.txt"), "each a");
    assert_eq!(ws.read("e-b.txt"), "each b");

    ws.write("main.tf", &cfg("\"b\", \"c\""));
    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("# local_file.e[\"a\"] will be destroyed")
        .contains("(because key [\"a\"] is not in for_each map)")
        .contains("# local_file.e[\"c\"] will be created")
        .lacks("local_file.e[\"b\"] will")
        .contains("Plan: 1 to add, 0 to change, 1 to destroy.");
    ws.apply().contains("1 added, 0 changed, 1 destroyed");
    assert!(!ws.exists("e-a.txt"));
    assert_eq!(ws.read("e-b.txt"), "each b");
    assert_eq!(ws.read("e-c.txt"), "each c");
    assert_eq!(
        ws.state_list(),
        vec!["local_file.e[\"b\"]", "local_file.e[\"c\"]"]
    );
    ws.assert_converged();
}

const DRIFT: &str = r#"
resource "local_file" "a" {
  filename = "${path.module}/a.txt"
  content  = "managed a"
}

resource "local_file" "b" {
  filename = "${path.module}/b.txt"
  content  = "managed b"
}
"#;

#[test]
fn a_file_edited_outside_is_shown_as_drift_and_restored() {
    let ws = Ws::with_main(DRIFT);
    ws.apply();
    ws.write("a.txt", "edited by hand");
    let plan = ws.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(2)
        .contains("Objects have changed outside of terrane")
        .contains("# local_file.a has changed")
        .contains("\"managed a\" -> \"edited by hand\"")
        .contains("# local_file.a must be replaced")
        .lacks("local_file.b has")
        .lacks("local_file.b must");
    ws.apply();
    assert_eq!(ws.read("a.txt"), "managed a");
    ws.assert_converged();
}

#[test]
fn a_file_deleted_outside_is_shown_and_recreated() {
    let ws = Ws::with_main(DRIFT);
    ws.apply();
    std::fs::remove_file(ws.file("b.txt")).expect("rm");
    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("# local_file.b has been deleted")
        .contains("# local_file.b will be created")
        .contains("Plan: 1 to add, 0 to change, 0 to destroy.");
    ws.apply().contains("1 added");
    assert_eq!(ws.read("b.txt"), "managed b");
    ws.assert_converged();
}

#[test]
fn import_brings_an_existing_file_under_management() {
    let ws = Ws::with_main(
        "resource \"local_file\" \"x\" {\n  filename        = \"existing.txt\"\n  content         = \"already here\"\n  file_permission = \"0644\"\n}\n",
    );
    ws.write("existing.txt", "already here");
    std::fs::set_permissions(
        ws.file("existing.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    ws.run(&["import", "local_file.x", "existing.txt"])
        .success()
        .contains("Import successful!");
    assert_eq!(ws.state_list(), vec!["local_file.x"]);
    ws.run(&["state", "show", "local_file.x"])
        .success()
        .contains("content")
        .contains("\"already here\"");
    ws.assert_converged();
    // Importing again is refused.
    ws.run(&["import", "local_file.x", "existing.txt"])
        .expect_code(1)
        .contains("already managed");
    // An address without a resource block is refused and nothing is recorded.
    ws.run(&["import", "local_file.nope", "existing.txt"])
        .expect_code(1)
        .contains("does not exist");
    assert_eq!(ws.state_list(), vec!["local_file.x"]);
    assert_eq!(ws.read("existing.txt"), "already here");
}

/// `plan -generate-config-out`: an `import` block whose target has no resource block
/// gets one written from the object read, the plan imports it, and after the apply
/// the generated configuration plans no change. The file is never overwritten.
#[test]
fn generate_config_out_writes_the_block_of_an_imported_object() {
    let ws = Ws::with_main("import {\n  to = local_file.notes\n  id = \"notes.txt\"\n}\n");
    ws.write("notes.txt", "kept \"as is\" ${not interpolated}\n");
    std::fs::set_permissions(
        ws.file("notes.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    ws.run(&["plan", "-generate-config-out=generated.tf", "-out=p.plan"])
        .success()
        .contains("Configuration generated")
        .contains("1 to import");
    let generated = ws.read("generated.tf");
    assert!(
        generated.starts_with("# __generated__ by terrane"),
        "{generated}"
    );
    assert!(
        generated.contains("resource \"local_file\" \"notes\" {"),
        "{generated}"
    );
    assert!(generated.contains("filename"), "{generated}");
    assert!(generated.contains("$${not interpolated}"), "{generated}");
    ws.run(&["apply", "p.plan"]).success();
    assert_eq!(ws.state_list(), vec!["local_file.notes"]);
    ws.run(&["plan", "-detailed-exitcode"]).expect_code(0);
    assert_eq!(ws.read("notes.txt"), "kept \"as is\" ${not interpolated}\n");
    // Generating into a file that exists is refused; with nothing left to generate
    // (the target is declared now), nothing is written.
    ws.write(
        "main.tf",
        "import {\n  to = local_file.other\n  id = \"notes.txt\"\n}\n",
    );
    ws.run(&["plan", "-generate-config-out=generated.tf"])
        .expect_code(1)
        .contains("exists already");
    assert_eq!(ws.read("generated.tf"), generated);
}

#[test]
fn import_of_a_type_without_import_says_so_and_reads_no_file() {
    let ws = Ws::with_main(
        "resource \"local_file\" \"kept\" {\n  filename = \"kept.txt\"\n  content  = \"kept\"\n}\n",
    );
    ws.apply().success();
    ws.write(
        "main.tf",
        "resource \"local_file\" \"kept\" {\n  filename = \"kept.txt\"\n  content  = \"kept\"\n}\n\nresource \"local_service\" \"x\" {\n  command = \"sleep\"\n  args    = [\"60\"]\n}\n",
    );
    // The ID names a file that exists: it must not be imported as a file.
    ws.write("SOMEFILE", "not a service");
    let before = ws.run(&["state", "pull"]).success().stdout.clone();
    ws.run(&["import", "local_service.x", "SOMEFILE"])
        .expect_code(1)
        .contains("local_service.x: import failed: local_service does not support import")
        .contains("cannot be rebuilt from the ID \"SOMEFILE\"")
        .lacks("Import successful");
    assert_eq!(ws.run(&["state", "pull"]).success().stdout, before);
    assert_eq!(ws.state_list(), vec!["local_file.kept"]);
    assert_eq!(ws.read("SOMEFILE"), "not a service");
}

#[test]
fn saved_plan_applies_once_and_then_is_stale() {
    let ws = Ws::with_main(
        "resource \"local_file\" \"a\" {\n  filename = \"a.txt\"\n  content  = \"A\"\n}\n",
    );
    ws.run(&["plan", "--out", "tf.plan"])
        .success()
        .contains("Saved the plan to");
    assert!(ws.exists("tf.plan"));
    assert!(!ws.exists("a.txt"));
    ws.run(&["show", "tf.plan"])
        .success()
        .contains("# local_file.a will be created");
    ws.run(&["apply", "tf.plan"])
        .success()
        .contains("Apply complete! Resources: 1 added");
    assert_eq!(ws.read("a.txt"), "A");
    let history = ws.run(&["state", "history"]).stdout.clone();

    // The same plan again: the state moved on, so it is refused and nothing changes.
    std::fs::remove_file(ws.file("a.txt")).expect("rm");
    let again = ws.run(&["apply", "tf.plan"]);
    again.expect_code(1).contains("stale").lacks("Creating...");
    assert!(!ws.exists("a.txt"), "a stale plan must not be applied");
    assert_eq!(
        ws.run(&["state", "history"]).stdout,
        history,
        "a stale plan must not write state"
    );
}

#[test]
fn saved_plan_is_refused_after_the_configuration_changed() {
    let ws = Ws::with_main(
        "resource \"local_file\" \"a\" {\n  filename = \"a.txt\"\n  content  = \"A\"\n}\n",
    );
    ws.run(&["plan", "--out", "tf.plan"]).success();
    ws.write(
        "main.tf",
        "resource \"local_file\" \"a\" {\n  filename = \"a.txt\"\n  content  = \"B\"\n}\n",
    );
    ws.run(&["apply", "tf.plan"])
        .expect_code(1)
        .contains("does not match the configuration");
    assert!(!ws.exists("a.txt"));
    assert!(ws.state_list().is_empty());
}

#[test]
fn destroy_plan_lists_every_object() {
    let ws = Ws::with_main(FILES);
    ws.apply();
    ws.run(&["plan", "--destroy", "--detailed-exitcode"])
        .expect_code(2)
        .contains("# local_file.greeting will be destroyed")
        .contains("# local_sensitive_file.key will be destroyed")
        .contains("Plan: 0 to add, 0 to change, 2 to destroy.");
    assert!(
        ws.exists("out/greeting.txt"),
        "plan --destroy must not delete anything"
    );
}
