//! The configuration model: a module's variables, locals, resources, data sources,
//! outputs, module calls, providers and `terraform` settings, loaded from every `*.tf`
//! file in a directory, with nested modules loaded from local paths.
//!
//! Loading reports every problem it finds as a [`Diagnostic`] and keeps going, so the
//! user sees all mistakes at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hcl_edit::structure::{Block, BlockLabel, Body as HclBody, Structure};
use hcl_edit::Span as _;
use indexmap::IndexMap;
use terrane_core::types::ObjectAttr;
use terrane_core::{Diagnostic, Diagnostics, PathStep, ResourceMode, SourceMap, Span, Type, Value};

use crate::ast::{Converter, Expr, ExprKind, TravOp};

/// A block body: attributes and nested blocks, in source order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Body {
    pub attrs: IndexMap<String, Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub span: Option<Span>,
}

impl Body {
    /// Where the value at `path` (an attribute, then keys and indexes into it) is
    /// written: the innermost attribute, nested block or literal element the path
    /// reaches. `None` when the body does not write its first step (a computed
    /// attribute, or one left to its default).
    pub fn span_at(&self, path: &[PathStep]) -> Option<Span> {
        let (PathStep::Attr(name), rest) = path.split_first()? else {
            return None;
        };
        if let Some(a) = self.attrs.get(name) {
            return Some(expr_span_at(&a.expr, rest));
        }
        let mut blocks = self.blocks.iter().filter(|b| &b.kind == name).peekable();
        if blocks.peek().is_none() {
            // Written by a `dynamic "NAME"` block: its content stands for every element.
            let d = self
                .blocks
                .iter()
                .find(|b| b.kind == "dynamic" && b.labels.first() == Some(name))?;
            return Some(d.span.clone());
        }
        let (block, rest) = match rest.split_first() {
            Some((PathStep::Index(i), rest)) => (blocks.nth(usize::try_from(*i).ok()?)?, rest),
            Some((PathStep::Key(k), rest)) => (blocks.find(|b| b.labels.first() == Some(k))?, rest),
            _ => (blocks.next()?, rest),
        };
        Some(
            block
                .body
                .span_at(rest)
                .unwrap_or_else(|| block.span.clone()),
        )
    }
}

/// The part of `expr` at `path`, as far as the expression spells it out (object and
/// tuple constructors); the whole expression beyond that.
fn expr_span_at(expr: &Expr, path: &[PathStep]) -> Span {
    let Some((step, rest)) = path.split_first() else {
        return expr.span.clone();
    };
    let inner = match (&expr.kind, step) {
        (ExprKind::Tuple(items), PathStep::Index(i)) => {
            usize::try_from(*i).ok().and_then(|i| items.get(i))
        }
        (ExprKind::Object(items), PathStep::Attr(k) | PathStep::Key(k)) => items
            .iter()
            .find(|(key, _)| match &key.kind {
                ExprKind::Var(n) => n == k,
                ExprKind::Literal(Value::String(s)) => s.as_str() == k,
                _ => false,
            })
            .map(|(_, v)| v),
        _ => None,
    };
    match inner {
        Some(e) => expr_span_at(e, rest),
        None => expr.span.clone(),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub expr: Expr,
    pub name_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    pub kind: String,
    pub labels: Vec<String>,
    pub body: Body,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Module {
    pub dir: PathBuf,
    pub variables: IndexMap<String, Variable>,
    pub locals: IndexMap<String, Local>,
    pub outputs: IndexMap<String, Output>,
    /// Keyed by `type.name` for managed resources and `data.type.name` for data sources.
    pub resources: IndexMap<String, Resource>,
    pub module_calls: IndexMap<String, ModuleCall>,
    pub providers: Vec<ProviderBlock>,
    pub terraform: TerraformSettings,
    /// `policy "name" { ... }` blocks: Rego policy sets checked on every plan.
    pub policies: Vec<PolicyBlock>,
    /// `budget "name" { ... }` blocks: cost limits checked on every plan.
    pub budgets: Vec<BudgetBlock>,
    /// The `scan { ... }` block: settings of the built-in security scan.
    pub scan: ScanSettings,
    /// `check "name" { assert { ... } }` blocks: warnings, never errors.
    pub checks: IndexMap<String, Check>,
    /// `moved { from = ... to = ... }` blocks, in the order written.
    pub moved: Vec<Moved>,
    /// `removed { from = ... }` blocks.
    pub removed: Vec<Removed>,
    /// `import { to = ... id = ... }` blocks (the root module's).
    pub imports: Vec<ImportBlock>,
}

/// An `import` block: the existing object `id` is brought under management at `to`
/// by the next plan and apply. With `for_each`, `to`'s index and `id` may use
/// `each.key` and `each.value`.
#[derive(Clone, Debug)]
pub struct ImportBlock {
    pub to: Expr,
    pub id: Expr,
    pub for_each: Option<Expr>,
    pub span: Span,
}

/// A `removed` block: the objects recorded at `from` (a resource or a module call)
/// leave the configuration; with `lifecycle { destroy = false }` they are forgotten
/// (taken out of state) instead of destroyed.
#[derive(Clone, Debug)]
pub struct Removed {
    pub from: String,
    pub destroy: bool,
    pub span: Span,
}

/// A `moved` block: the object recorded at `from` (relative to the module) is now
/// configured at `to`. Both are address texts, e.g. `terraform_data.a`,
/// `terraform_data.a[0]`, `aws_instance.web["x"]`, `module.net` or
/// `module.net.aws_vpc.main`.
#[derive(Clone, Debug)]
pub struct Moved {
    pub from: String,
    pub to: String,
    pub span: Span,
}

/// A `precondition` or `postcondition` block, or a check block's `assert`: a condition
/// and the message shown when it is false.
#[derive(Clone, Debug)]
pub struct Condition {
    pub condition: Expr,
    pub error_message: Expr,
    pub span: Span,
}

/// A `check "name" { ... }` block: assertions about the infrastructure as a whole,
/// evaluated after every plan and apply; a false one is a warning.
#[derive(Clone, Debug)]
pub struct Check {
    pub name: String,
    pub asserts: Vec<Condition>,
    pub span: Span,
}

/// A policy set: the Rego files under `source` (a directory relative to the module, or
/// one file), checked with `enforcement_level` (`advisory`, `soft_mandatory` or
/// `hard_mandatory`).
#[derive(Clone, Debug)]
pub struct PolicyBlock {
    pub name: String,
    pub source: String,
    pub enforcement_level: String,
    pub span: Span,
}

/// A budget: limits on the workspace's monthly cost after a plan
/// (`monthly_limit`) and on how much one plan may add (`max_monthly_increase`), in
/// USD, enforced like a policy set with `enforcement_level`.
#[derive(Clone, Debug)]
pub struct BudgetBlock {
    pub name: String,
    pub monthly_limit: Option<f64>,
    pub max_monthly_increase: Option<f64>,
    pub enforcement_level: String,
    pub span: Span,
}

/// The enforcement levels a policy set may have.
pub const ENFORCEMENT_LEVELS: [&str; 3] = ["advisory", "soft_mandatory", "hard_mandatory"];

#[derive(Clone, Debug)]
pub struct ScanSettings {
    pub suppressions: Vec<Suppression>,
    /// Whether the built-in scan runs on every plan, apply and `policy check`
    /// (`on_plan`, default true); `terrane scan` and compliance checks run it regardless.
    pub on_plan: bool,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            suppressions: Vec::new(),
            on_plan: true,
        }
    }
}

/// `suppress { rule = "...", address = "...", reason = "..." }` in the `scan` block: a
/// finding of `rule` (on `address` only, when given) is reported as suppressed.
#[derive(Clone, Debug)]
pub struct Suppression {
    pub rule: String,
    pub address: Option<String>,
    pub reason: String,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Variable {
    pub name: String,
    pub ty: Option<Type>,
    pub default: Option<Expr>,
    pub description: Option<String>,
    pub sensitive: bool,
    pub nullable: bool,
    pub validations: Vec<Validation>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Validation {
    pub condition: Expr,
    pub error_message: Expr,
}

#[derive(Clone, Debug)]
pub struct Local {
    pub name: String,
    pub expr: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Output {
    pub name: String,
    pub expr: Expr,
    pub sensitive: bool,
    pub description: Option<String>,
    pub depends_on: Vec<Expr>,
    /// Checked before the value is recorded; a false one fails the run.
    pub preconditions: Vec<Condition>,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    pub create_before_destroy: bool,
    pub prevent_destroy: bool,
    /// Attribute paths (`tags`, `tags["Name"]`, `ingress[0].cidr_blocks`), step by step.
    pub ignore_changes: Vec<Vec<IgnoreStep>>,
    pub ignore_all_changes: bool,
    pub replace_triggered_by: Vec<Expr>,
    /// Checked before each instance is planned (`self` is not available).
    pub preconditions: Vec<Condition>,
    /// Checked on each instance's planned values, and again on the values the apply
    /// produced when the plan could not know them (`self` is the instance).
    pub postconditions: Vec<Condition>,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub mode: ResourceMode,
    pub type_name: String,
    pub name: String,
    /// `provider = aws.west` → ("aws", Some("west")).
    pub provider: Option<(String, Option<String>)>,
    pub count: Option<Expr>,
    pub for_each: Option<Expr>,
    pub depends_on: Vec<Expr>,
    pub lifecycle: Lifecycle,
    pub body: Body,
    /// The span of the block header (`resource "a" "b"`).
    pub span: Span,
    /// The `check` block a data source is declared in: it is read on every plan and
    /// apply, only that check may refer to it, and its errors are warnings.
    pub check: Option<String>,
    /// `provisioner` blocks, in order.
    pub provisioners: Vec<Provisioner>,
    /// The resource's `connection` block, for provisioners without their own.
    pub connection: Option<Body>,
}

/// A `provisioner "KIND"` block.
#[derive(Clone, Debug)]
pub struct Provisioner {
    pub kind: String,
    /// The arguments, without `when`, `on_failure` and the `connection` block.
    pub body: Body,
    /// Its own `connection` block, which replaces the resource's.
    pub connection: Option<Body>,
    /// `when = destroy`: run before the object is destroyed, not after it is created.
    pub when_destroy: bool,
    /// `on_failure = continue`: a failure is a warning; otherwise it fails the apply
    /// (and a creation-time one taints the instance).
    pub on_failure_continue: bool,
    /// The block header.
    pub span: Span,
}

impl Resource {
    /// The local provider name implied by the type (`aws_instance` → `aws`).
    pub fn provider_name(&self) -> String {
        match &self.provider {
            Some((name, _)) => name.clone(),
            None => implied_provider(&self.type_name),
        }
    }

    pub fn key(&self) -> String {
        match self.mode {
            ResourceMode::Managed => format!("{}.{}", self.type_name, self.name),
            ResourceMode::Data => format!("data.{}.{}", self.type_name, self.name),
        }
    }
}

/// Terraform's rule: the provider is the type name up to the first underscore.
pub fn implied_provider(type_name: &str) -> String {
    type_name.split('_').next().unwrap_or(type_name).to_string()
}

#[derive(Clone, Debug)]
pub struct ModuleCall {
    pub name: String,
    pub source: String,
    /// `count`/`for_each` on the call: one module instance per index or key.
    pub count: Option<Expr>,
    pub for_each: Option<Expr>,
    pub inputs: Body,
    pub depends_on: Vec<Expr>,
    pub module: Box<Module>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ProviderBlock {
    pub name: String,
    pub alias: Option<String>,
    pub body: Body,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct TerraformSettings {
    pub backend: Option<BackendBlock>,
    /// `required_providers { NAME = { source = "...", version = "..." } }`, by local name.
    pub required_providers: BTreeMap<String, RequiredProvider>,
    pub encryption: Option<EncryptionSettings>,
    pub backup: Option<BackupSettings>,
    /// `required_version = ">= 1.5"`: the Terraform versions the module accepts, with
    /// its span (checked by the workspace against [`terrane_core::TERRAFORM_VERSION`]).
    pub required_version: Option<(String, Span)>,
}

/// One entry of `required_providers`: where the provider comes from and which versions
/// the module accepts. The address and constraint syntax are checked where they are
/// used (`terrane-install`), with this entry's span.
#[derive(Clone, Debug)]
pub struct RequiredProvider {
    /// `[HOST/]NAMESPACE/TYPE`; None means `hashicorp/NAME`.
    pub source: Option<String>,
    /// A version constraint, e.g. `~> 5.0, != 5.3.1`.
    pub version: Option<String>,
    /// `configuration_aliases = [aws.west]`: provider configurations a caller passes in.
    pub configuration_aliases: Vec<String>,
    pub span: Span,
}

/// `terraform { backup { schedule = "0 3 * * *" ... } }`: scheduled backups of the
/// workspace, run by `terrane agent`.
#[derive(Clone, Debug)]
pub struct BackupSettings {
    /// A cron expression (five fields, or six with seconds first), in UTC.
    pub schedule: String,
    /// The destination directory (default `.terrane/backups`).
    pub to: Option<String>,
    pub keep_last: Option<usize>,
    /// A duration such as `7d`.
    pub keep_within: Option<String>,
    pub span: Span,
}

fn load_backup(b: NestedBlock, diags: &mut Diagnostics) -> Option<BackupSettings> {
    for (name, a) in &b.body.attrs {
        if !["schedule", "to", "keep_last", "keep_within"].contains(&name.as_str()) {
            diags.push(
                Diagnostic::error(
                    "Unsupported argument",
                    format!(
                        "A backup block takes schedule, to, keep_last and keep_within, not {name}."
                    ),
                )
                .with_span(Some(a.name_span.clone())),
            );
        }
    }
    let keep_last = match b.body.attrs.get("keep_last") {
        None => None,
        Some(a) => match &a.expr.kind {
            ExprKind::Literal(Value::Number(n)) if n.as_usize().is_some_and(|n| n >= 1) => {
                n.as_usize()
            }
            _ => {
                diags.push(
                    Diagnostic::error(
                        "Invalid keep_last value",
                        "keep_last must be a literal whole number of at least 1.",
                    )
                    .with_span(Some(a.expr.span.clone())),
                );
                None
            }
        },
    };
    let Some(schedule) = literal_string(&b.body, "schedule", diags) else {
        diags.push(
            Diagnostic::error(
                "Missing required argument",
                "A backup block needs schedule, a cron expression such as \"0 3 * * *\" (03:00 UTC every day).",
            )
            .with_span(Some(b.span.clone())),
        );
        return None;
    };
    Some(BackupSettings {
        schedule,
        to: literal_string(&b.body, "to", diags),
        keep_last,
        keep_within: literal_string(&b.body, "keep_within", diags),
        span: b.span,
    })
}

/// `terraform { encryption { ... } }`: how state values and secrets are encrypted.
#[derive(Clone, Debug)]
pub struct EncryptionSettings {
    /// `sensitive` (the default: sensitive values, one by one) or `all`.
    pub state: String,
    pub allow_unencrypted: bool,
    pub key_provider: Option<KeyProviderBlock>,
    /// The provider the keys were wrapped with before a rotation.
    pub fallback: Option<KeyProviderBlock>,
    pub span: Span,
}

/// `key_provider "age" { identity_file = "..." }`, `"passphrase"` or `"aws_kms"`.
#[derive(Clone, Debug)]
pub struct KeyProviderBlock {
    pub kind: String,
    /// Literal string arguments.
    pub args: BTreeMap<String, String>,
    pub span: Span,
}

const KEY_PROVIDERS: &[(&str, &[&str])] = &[
    ("age", &["identity_file"]),
    ("passphrase", &[]),
    ("aws_kms", &["key_id", "region", "endpoint"]),
];

fn load_key_provider(b: &NestedBlock, diags: &mut Diagnostics) -> Option<KeyProviderBlock> {
    if !expect_labels(
        b,
        1,
        "the key provider type (age, passphrase or aws_kms)",
        diags,
    ) {
        return None;
    }
    let kind = b.labels[0].clone();
    let Some((_, allowed)) = KEY_PROVIDERS.iter().find(|(k, _)| *k == kind) else {
        diags.push(
            Diagnostic::error(
                "Unknown key provider",
                format!("{kind:?} is not a key provider. Use \"age\" (an age identity file), \"passphrase\" (TERRANE_PASSPHRASE) or \"aws_kms\"."),
            )
            .with_span(Some(b.span.clone())),
        );
        return None;
    };
    let mut args = BTreeMap::new();
    for (name, a) in &b.body.attrs {
        if !allowed.contains(&name.as_str()) {
            diags.push(
                Diagnostic::error(
                    "Unsupported argument",
                    format!(
                        "A {kind} key provider takes {}.",
                        if allowed.is_empty() {
                            "no arguments".to_string()
                        } else {
                            allowed.join(", ")
                        }
                    ),
                )
                .with_span(Some(a.name_span.clone())),
            );
            continue;
        }
        if let Some(v) = literal_string(&b.body, name, diags) {
            args.insert(name.clone(), v);
        }
    }
    if kind == "aws_kms" && !args.contains_key("key_id") {
        diags.push(
            Diagnostic::error(
                "Missing required argument",
                "An aws_kms key provider needs key_id, for example: key_id = \"alias/terrane-state\".",
            )
            .with_span(Some(b.span.clone())),
        );
    }
    Some(KeyProviderBlock {
        kind,
        args,
        span: b.span.clone(),
    })
}

fn load_encryption(b: NestedBlock, diags: &mut Diagnostics) -> EncryptionSettings {
    let state = literal_string(&b.body, "state", diags).unwrap_or_else(|| "sensitive".into());
    if state != "sensitive" && state != "all" {
        let span = b.body.attrs.get("state").map(|a| a.expr.span.clone());
        diags.push(
            Diagnostic::error(
                "Invalid state value",
                format!("state = {state:?}: use \"sensitive\" (encrypt sensitive values, the default) or \"all\" (encrypt every attribute value)."),
            )
            .with_span(span),
        );
    }
    let mut out = EncryptionSettings {
        allow_unencrypted: literal_bool(&b.body, "allow_unencrypted", diags),
        state,
        key_provider: None,
        fallback: None,
        span: b.span.clone(),
    };
    for (name, a) in &b.body.attrs {
        if name != "state" && name != "allow_unencrypted" {
            diags.push(
                Diagnostic::error(
                    "Unsupported argument",
                    "An encryption block takes state, allow_unencrypted, and key_provider and fallback blocks.",
                )
                .with_span(Some(a.name_span.clone())),
            );
        }
    }
    for nb in &b.body.blocks {
        let slot = match nb.kind.as_str() {
            "key_provider" => &mut out.key_provider,
            "fallback" => &mut out.fallback,
            other => {
                diags.push(
                    Diagnostic::error(
                        "Unsupported block type",
                        format!("An encryption block holds key_provider and fallback blocks, not {other}."),
                    )
                    .with_span(Some(nb.span.clone())),
                );
                continue;
            }
        };
        if slot.is_some() {
            diags.push(
                Diagnostic::error(
                    format!("Duplicate {} block", nb.kind),
                    "An encryption block has at most one key_provider and one fallback.",
                )
                .with_span(Some(nb.span.clone())),
            );
            continue;
        }
        *slot = load_key_provider(nb, diags);
    }
    out
}

#[derive(Clone, Debug)]
pub struct BackendBlock {
    pub kind: String,
    pub body: Body,
    pub span: Span,
}

/// Loads the root module in `dir`, reading every `*.tf` file in name order.
pub fn load_root(dir: &Path, sources: &mut SourceMap) -> (Module, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut stack = Vec::new();
    let module = load_module(dir, dir, sources, &mut diags, &mut stack);
    (module, diags)
}

fn display_path(root: &Path, path: &Path) -> Arc<str> {
    let shown = path.strip_prefix(root).unwrap_or(path);
    Arc::from(shown.to_string_lossy().as_ref())
}

fn load_module(
    root: &Path,
    dir: &Path,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    stack: &mut Vec<(PathBuf, String)>,
) -> Module {
    let mut module = Module {
        dir: dir.to_path_buf(),
        ..Default::default()
    };
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "tf") && p.is_file())
            .collect(),
        Err(e) => {
            diags.push(Diagnostic::error(
                "Cannot read configuration directory",
                format!("Reading {}: {e}.", dir.display()),
            ));
            return module;
        }
    };
    files.sort();
    if files.is_empty() && stack.is_empty() {
        diags.push(Diagnostic::error(
            "No configuration files",
            format!(
                "The directory {} contains no *.tf files. Run terrane in a directory with a configuration, or point it at one with -C DIR.",
                dir.display()
            ),
        ));
    }
    for path in files {
        let name = display_path(root, &path);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "Cannot read configuration file",
                    format!("Reading {}: {e}.", path.display()),
                ));
                continue;
            }
        };
        let source: Arc<str> = Arc::from(text.as_str());
        sources.insert(name.clone(), source.clone());
        match parse_body(&text) {
            Ok((body, renamed_keys)) => {
                let cv = Converter {
                    file: name,
                    base: 0,
                    renamed_keys,
                    source,
                };
                load_file_body(root, &cv, &body, &mut module, sources, diags, stack);
            }
            Err(e) => diags.push(parse_error_diag(&name, &text, &e)),
        }
    }
    module
}

/// Parses a file as Terraform does, where an object may repeat a key and the last one
/// wins (`{ a = 1, a = 2 }`). hcl-edit refuses a repeated key, so each one it stops at
/// is renamed in a copy of the text to a placeholder of the same length (offsets, and
/// so every diagnostic's line and column, stay right); the returned map gives the real
/// name of the key at each renamed offset, for [`Converter::renamed_keys`].
pub fn parse_body(
    text: &str,
) -> Result<(hcl_edit::structure::Body, BTreeMap<usize, String>), hcl_edit::parser::Error> {
    let mut renamed = BTreeMap::new();
    let mut copy: Option<String> = None;
    let mut attempt = 0u32;
    loop {
        let current = copy.as_deref().unwrap_or(text);
        let err = match hcl_edit::parser::parse_body(current) {
            Ok(body) => return Ok((body, renamed)),
            Err(e) => e,
        };
        let first_error = || hcl_edit::parser::parse_body(text).map(|b| (b, BTreeMap::new()));
        if !err.message().contains("redefined object key") || attempt > 1000 {
            return first_error();
        }
        let offset = err.location().offset();
        let Some((range, name)) = key_at(current, offset) else {
            return first_error();
        };
        // The same offset again: the placeholder collided; the next candidate differs.
        let placeholder = placeholder(range.len(), attempt);
        let mut next = current.to_string();
        next.replace_range(range, &placeholder);
        renamed.entry(offset).or_insert(name);
        copy = Some(next);
        attempt += 1;
    }
}

/// The key at `offset` of an object item: the byte range to rename and its name.
fn key_at(text: &str, offset: usize) -> Option<(std::ops::Range<usize>, String)> {
    let rest = text.get(offset..)?;
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find(['"', '\\', '$', '%'])?;
        if !quoted[end..].starts_with('"') || end == 0 {
            return None;
        }
        return Some((offset + 1..offset + 1 + end, quoted[..end].to_string()));
    }
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    (end > 0).then(|| (offset..offset + end, rest[..end].to_string()))
}

/// An identifier of `len` ASCII letters, different for each `n`.
fn placeholder(len: usize, mut n: u32) -> String {
    let mut out = vec![b'Z'; len];
    for b in out.iter_mut().rev() {
        *b = b'A' + (n % 26) as u8;
        n /= 26;
        if n == 0 {
            break;
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Turns an hcl-edit parse error into a diagnostic pointing at its line and column.
pub fn parse_error_diag(file: &Arc<str>, text: &str, e: &hcl_edit::parser::Error) -> Diagnostic {
    let loc = e.location();
    let offset = loc.offset().min(text.len());
    Diagnostic::error(
        "Invalid HCL syntax",
        format!(
            "The parser stopped here: {}. Check for a missing closing brace, quote or bracket, or an `=` between an attribute name and its value.",
            e.message()
        ),
    )
    .with_span(Some(Span { file: file.clone(), start: offset, end: offset + 1 }))
}

fn label_str(l: &BlockLabel) -> String {
    match l {
        BlockLabel::Ident(i) => i.value().to_string(),
        BlockLabel::String(s) => s.value().to_string(),
    }
}

fn convert_body(cv: &Converter, body: &HclBody, diags: &mut Diagnostics) -> Body {
    let mut out = Body {
        span: Some(cv.span(body.span())),
        ..Default::default()
    };
    for st in body.iter() {
        match st {
            Structure::Attribute(a) => {
                let name = a.key.value().to_string();
                let name_span = cv.span(a.key.span());
                if let Some(prev) = out.attrs.get(&name) {
                    diags.push(
                        Diagnostic::error(
                            "Attribute redefined",
                            format!(
                                "The argument {name:?} was already set at byte {} of {}. Each argument may be set only once; remove one of them.",
                                prev.name_span.start, prev.name_span.file
                            ),
                        )
                        .with_span(Some(name_span.clone())),
                    );
                    continue;
                }
                out.attrs.insert(
                    name.clone(),
                    Attribute {
                        name,
                        expr: cv.expr(&a.value),
                        name_span,
                    },
                );
            }
            Structure::Block(b) => out.blocks.push(NestedBlock {
                kind: b.ident.value().to_string(),
                labels: b.labels.iter().map(label_str).collect(),
                body: convert_body(cv, &b.body, diags),
                span: block_header_span(cv, b),
            }),
        }
    }
    out
}

fn block_header_span(cv: &Converter, b: &Block) -> Span {
    let start = b.ident.span().map(|r| r.start);
    let end = b.labels.last().and_then(|l| l.span()).map(|r| r.end);
    match (start, end) {
        (Some(s), Some(e)) => cv.span(Some(s..e)),
        _ => cv.span(b.ident.span()),
    }
}

fn expect_labels(b: &NestedBlock, n: usize, what: &str, diags: &mut Diagnostics) -> bool {
    if b.labels.len() != n {
        diags.push(
            Diagnostic::error(
                format!("Wrong number of labels on {} block", b.kind),
                format!("A {} block needs {n} label(s): {what}.", b.kind),
            )
            .with_span(Some(b.span.clone())),
        );
        return false;
    }
    true
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn check_name(name: &str, span: &Span, diags: &mut Diagnostics) {
    if !valid_name(name) {
        diags.push(
            Diagnostic::error(
                "Invalid name",
                format!("{name:?} is not a valid name. A name starts with a letter or underscore and contains only letters, digits, underscores and dashes."),
            )
            .with_span(Some(span.clone())),
        );
    }
}

fn duplicate(kind: &str, name: &str, first: &Span, span: &Span, diags: &mut Diagnostics) {
    diags.push(
        Diagnostic::error(
            format!("Duplicate {kind}"),
            format!(
                "A {kind} named {name:?} was already declared in {}. Names must be unique within a module; rename or remove one of them.",
                first.file
            ),
        )
        .with_span(Some(span.clone())),
    );
}

fn literal_bool(body: &Body, name: &str, diags: &mut Diagnostics) -> bool {
    match body.attrs.get(name) {
        None => false,
        Some(a) => match &a.expr.kind {
            ExprKind::Literal(Value::Bool(b)) => *b,
            _ => {
                diags.push(
                    Diagnostic::error(
                        format!("Invalid {name} value"),
                        format!("{name} must be the literal true or false; it cannot be computed."),
                    )
                    .with_span(Some(a.expr.span.clone())),
                );
                false
            }
        },
    }
}

fn literal_string(body: &Body, name: &str, diags: &mut Diagnostics) -> Option<String> {
    let a = body.attrs.get(name)?;
    match a.expr.as_literal_str() {
        Some(s) => Some(s.to_string()),
        None => {
            diags.push(
                Diagnostic::error(
                    format!("Invalid {name} value"),
                    format!("{name} must be a literal string."),
                )
                .with_span(Some(a.expr.span.clone())),
            );
            None
        }
    }
}

fn expr_list(body: &Body, name: &str, diags: &mut Diagnostics) -> Vec<Expr> {
    match body.attrs.get(name) {
        None => Vec::new(),
        Some(a) => match &a.expr.kind {
            ExprKind::Tuple(items) => items.clone(),
            _ => {
                diags.push(
                    Diagnostic::error(
                        format!("Invalid {name}"),
                        format!("{name} must be a list of references, such as [aws_vpc.main]."),
                    )
                    .with_span(Some(a.expr.span.clone())),
                );
                Vec::new()
            }
        },
    }
}

fn load_file_body(
    root: &Path,
    cv: &Converter,
    hcl: &HclBody,
    module: &mut Module,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    stack: &mut Vec<(PathBuf, String)>,
) {
    let body = convert_body(cv, hcl, diags);
    for (name, attr) in &body.attrs {
        diags.push(
            Diagnostic::error(
                "Unexpected attribute at top level",
                format!("{name:?} is set outside of any block. Top-level content must be blocks such as resource, variable or output."),
            )
            .with_span(Some(attr.name_span.clone())),
        );
    }
    for b in body.blocks {
        match b.kind.as_str() {
            "resource" | "data" => {
                if !expect_labels(&b, 2, "the resource type and name", diags) {
                    continue;
                }
                let mode = if b.kind == "data" { ResourceMode::Data } else { ResourceMode::Managed };
                add_resource(module, load_resource(mode, b, diags), diags);
            }
            "variable" => {
                if !expect_labels(&b, 1, "the variable name", diags) {
                    continue;
                }
                let v = load_variable(b, diags);
                check_name(&v.name, &v.span, diags);
                if let Some(prev) = module.variables.get(&v.name) {
                    duplicate("variable", &v.name, &prev.span, &v.span, diags);
                } else {
                    module.variables.insert(v.name.clone(), v);
                }
            }
            "locals" => {
                for (name, a) in b.body.attrs {
                    if let Some(prev) = module.locals.get(&name) {
                        duplicate("local value", &name, &prev.span, &a.name_span, diags);
                        continue;
                    }
                    module.locals.insert(name.clone(), Local { name, expr: a.expr, span: a.name_span });
                }
            }
            "output" => {
                if !expect_labels(&b, 1, "the output name", diags) {
                    continue;
                }
                let Some(value) = b.body.attrs.get("value") else {
                    diags.push(
                        Diagnostic::error(
                            "Missing required argument",
                            "An output block needs a value argument: value = <expression>.",
                        )
                        .with_span(Some(b.span.clone())),
                    );
                    continue;
                };
                let o = Output {
                    name: b.labels[0].clone(),
                    expr: value.expr.clone(),
                    sensitive: literal_bool(&b.body, "sensitive", diags),
                    description: literal_string(&b.body, "description", diags),
                    depends_on: expr_list(&b.body, "depends_on", diags),
                    preconditions: conditions(&b.body, "precondition", diags),
                    span: b.span.clone(),
                };
                if let Some(prev) = module.outputs.get(&o.name) {
                    duplicate("output", &o.name, &prev.span, &o.span, diags);
                } else {
                    module.outputs.insert(o.name.clone(), o);
                }
            }
            "module" => {
                if !expect_labels(&b, 1, "the module name", diags) {
                    continue;
                }
                if let Some(m) = load_module_call(root, module, b, sources, diags, stack) {
                    if let Some(prev) = module.module_calls.get(&m.name) {
                        duplicate("module call", &m.name, &prev.span, &m.span, diags);
                    } else {
                        module.module_calls.insert(m.name.clone(), m);
                    }
                }
            }
            "provider" => {
                if !expect_labels(&b, 1, "the provider name", diags) {
                    continue;
                }
                let alias = literal_string(&b.body, "alias", diags);
                let mut body = b.body.clone();
                body.attrs.shift_remove("alias");
                body.attrs.shift_remove("version");
                module.providers.push(ProviderBlock { name: b.labels[0].clone(), alias, body, span: b.span });
            }
            "terraform" => load_terraform(b, module, diags),
            "policy" => {
                if !expect_labels(&b, 1, "the policy set name", diags) {
                    continue;
                }
                if let Some(p) = load_policy(b, diags) {
                    module.policies.push(p);
                }
            }
            "budget" => {
                if !expect_labels(&b, 1, "the budget name", diags) {
                    continue;
                }
                if let Some(budget) = load_budget(b, diags) {
                    module.budgets.push(budget);
                }
            }
            "scan" => load_scan(b, module, diags),
            "check" => {
                if !expect_labels(&b, 1, "the check name", diags) {
                    continue;
                }
                if let Some(c) = load_check(b, module, diags) {
                    if let Some(prev) = module.checks.get(&c.name) {
                        duplicate("check block", &c.name, &prev.span, &c.span, diags);
                    } else {
                        module.checks.insert(c.name.clone(), c);
                    }
                }
            }
            "moved" => {
                if let Some(m) = load_moved(&b, diags) {
                    module.moved.push(m);
                }
            }
            "removed" => {
                let from = b.body.attrs.get("from").and_then(|a| a.expr.address_text());
                let destroy = b
                    .body
                    .blocks
                    .iter()
                    .find(|nb| nb.kind == "lifecycle")
                    .map(|l| !l.body.attrs.contains_key("destroy") || literal_bool(&l.body, "destroy", diags))
                    .unwrap_or(true);
                match from {
                    Some(from) => module.removed.push(Removed { from, destroy, span: b.span }),
                    None => diags.push(
                        Diagnostic::error(
                            "Invalid removed block",
                            "A removed block needs from = the address of a resource or a module call, written as a reference (terraform_data.old, module.net).",
                        )
                        .with_span(Some(b.span)),
                    ),
                }
            }
            "import" => match (b.body.attrs.get("to"), b.body.attrs.get("id")) {
                (Some(to), Some(id)) => module.imports.push(ImportBlock {
                    to: to.expr.clone(),
                    id: id.expr.clone(),
                    for_each: b.body.attrs.get("for_each").map(|a| a.expr.clone()),
                    span: b.span,
                }),
                _ => diags.push(
                    Diagnostic::error(
                        "Invalid import block",
                        "An import block needs to (the resource address to import into) and id (the object's ID as its provider knows it): import { to = aws_instance.web  id = \"i-0abc\" }.",
                    )
                    .with_span(Some(b.span)),
                ),
            },
            other => diags.push(
                Diagnostic::error(
                    "Unsupported block type",
                    format!("Blocks of type {other:?} are not expected here. Top-level blocks are terraform, provider, variable, locals, resource, data, output, module, policy, budget and scan."),
                )
                .with_span(Some(b.span)),
            ),
        }
    }
}

/// The blocks of type `kind` (`precondition`, `postcondition`, `assert`) in `body`,
/// each with its `condition` and `error_message`.
fn conditions(body: &Body, kind: &str, diags: &mut Diagnostics) -> Vec<Condition> {
    let mut out = Vec::new();
    for nb in body.blocks.iter().filter(|nb| nb.kind == kind) {
        let get = |name: &str, diags: &mut Diagnostics| match nb.body.attrs.get(name) {
            Some(a) => Some(a.expr.clone()),
            None => {
                diags.push(
                    Diagnostic::error(
                        "Missing required argument",
                        format!("A {kind} block needs a {name} argument: condition = <bool expression> and error_message = \"<what is wrong>\"."),
                    )
                    .with_span(Some(nb.span.clone())),
                );
                None
            }
        };
        let condition = get("condition", diags);
        let error_message = get("error_message", diags);
        if let (Some(condition), Some(error_message)) = (condition, error_message) {
            out.push(Condition {
                condition,
                error_message,
                span: nb.span.clone(),
            });
        }
    }
    out
}

/// A `moved` block: `from` and `to`, each a static address (no expressions).
fn load_moved(b: &NestedBlock, diags: &mut Diagnostics) -> Option<Moved> {
    let mut end = |name: &str| -> Option<String> {
        let Some(a) = b.body.attrs.get(name) else {
            diags.push(
                Diagnostic::error(
                    "Missing required argument",
                    format!("A moved block needs from and to: moved {{ from = terraform_data.old  to = terraform_data.new }}; {name} is missing."),
                )
                .with_span(Some(b.span.clone())),
            );
            return None;
        };
        let text = a.expr.address_text();
        if text.is_none() {
            diags.push(
                Diagnostic::error(
                    "Invalid address",
                    format!("{name} must be the address of a resource, a resource instance or a module call, written as a reference (terraform_data.a, terraform_data.a[\"key\"], module.net), not an expression or a string."),
                )
                .with_span(Some(a.expr.span.clone())),
            );
        }
        text
    };
    let (from, to) = (end("from"), end("to"));
    Some(Moved {
        from: from?,
        to: to?,
        span: b.span.clone(),
    })
}

fn add_resource(module: &mut Module, r: Resource, diags: &mut Diagnostics) {
    check_name(&r.name, &r.span, diags);
    let key = r.key();
    if let Some(prev) = module.resources.get(&key) {
        let what = match r.mode {
            ResourceMode::Data => "data source",
            ResourceMode::Managed => "resource",
        };
        duplicate(what, &key, &prev.span, &r.span, diags);
    } else {
        module.resources.insert(key, r);
    }
}

/// A `check` block: its `assert` blocks, and the data sources declared inside it
/// (added to the module's, scoped to the check).
fn load_check(b: NestedBlock, module: &mut Module, diags: &mut Diagnostics) -> Option<Check> {
    for nb in b.body.blocks.iter().filter(|nb| nb.kind == "data") {
        if !expect_labels(nb, 2, "the data source type and name", diags) {
            continue;
        }
        if let Some(a) = ["count", "for_each"]
            .iter()
            .find_map(|m| nb.body.attrs.get(*m))
        {
            diags.push(
                Diagnostic::error(
                    "Invalid nested data block",
                    "A data source in a check block is read once: it cannot use count or for_each. Declare it outside the check block to repeat it.",
                )
                .with_span(Some(a.name_span.clone())),
            );
            continue;
        }
        let mut r = load_resource(ResourceMode::Data, nb.clone(), diags);
        r.check = Some(b.labels[0].clone());
        add_resource(module, r, diags);
    }
    let asserts = conditions(&b.body, "assert", diags);
    if asserts.is_empty() {
        diags.push(
            Diagnostic::error(
                "Missing assert block",
                "A check block needs at least one assert { condition = ... error_message = ... } block.",
            )
            .with_span(Some(b.span.clone())),
        );
        return None;
    }
    Some(Check {
        name: b.labels[0].clone(),
        asserts,
        span: b.span,
    })
}

fn load_terraform(b: NestedBlock, module: &mut Module, diags: &mut Diagnostics) {
    if let Some(a) = b.body.attrs.get("required_version") {
        match a.expr.as_literal_str() {
            Some(v) => module.terraform.required_version = Some((v.to_string(), a.expr.span.clone())),
            None => diags.push(
                Diagnostic::error(
                    "Invalid required_version",
                    "required_version must be a string of version constraints, e.g. \">= 1.5, < 2.0\".",
                )
                .with_span(Some(a.expr.span.clone())),
            ),
        }
    }
    for nb in b.body.blocks {
        match nb.kind.as_str() {
            "backend" if expect_labels(&nb, 1, "the backend type", diags) => {
                module.terraform.backend = Some(BackendBlock {
                    kind: nb.labels[0].clone(),
                    body: nb.body,
                    span: nb.span,
                });
            }
            "encryption" => {
                module.terraform.encryption = Some(load_encryption(nb, diags));
            }
            "backup" => {
                module.terraform.backup = load_backup(nb, diags);
            }
            "required_providers" => {
                for (name, attr) in nb.body.attrs {
                    if let Some(r) = required_provider(&name, &attr, diags) {
                        module.terraform.required_providers.insert(name, r);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `NAME = { source = "...", version = "..." }`, or the legacy `NAME = "VERSION"`.
fn required_provider(
    name: &str,
    attr: &Attribute,
    diags: &mut Diagnostics,
) -> Option<RequiredProvider> {
    let span = attr.expr.span.clone();
    let bad = |diags: &mut Diagnostics, what: String| {
        diags.push(
            Diagnostic::error("Invalid required_providers entry", what)
                .with_span(Some(span.clone())),
        );
        None
    };
    // configuration_aliases holds references (`aws.west`), so the object is read
    // entry by entry rather than evaluated whole.
    let value = match &attr.expr.kind {
        ExprKind::Object(entries) => {
            let mut m = terrane_core::ObjectMap::new();
            for (k, v) in entries {
                let key = match crate::eval::eval_constant(k) {
                    Ok(Value::String(k)) => k,
                    Ok(_) | Err(_) => match &k.kind {
                        ExprKind::Var(k) => k.clone(),
                        _ => {
                            return bad(
                                diags,
                                format!(
                                "{name}: the keys are source, version and configuration_aliases."
                            ),
                            )
                        }
                    },
                };
                if key == "configuration_aliases" {
                    m.insert(key, Value::Null);
                    continue;
                }
                match crate::eval::eval_constant(v) {
                    Ok(v) => m.insert(key, v),
                    Err(d) => {
                        diags.push(d);
                        return None;
                    }
                };
            }
            Value::Map(m)
        }
        _ => match crate::eval::eval_constant(&attr.expr) {
            Ok(v) => v,
            Err(d) => {
                diags.push(d);
                return None;
            }
        },
    };
    let mut r = RequiredProvider {
        source: None,
        version: None,
        configuration_aliases: Vec::new(),
        span: span.clone(),
    };
    match value {
        Value::String(v) => r.version = Some(v),
        Value::Map(m) => {
            for (k, v) in m.iter() {
                match (k.as_str(), v) {
                    ("source", Value::String(s)) => r.source = Some(s.clone()),
                    ("version", Value::String(s)) => r.version = Some(s.clone()),
                    ("configuration_aliases", _) => {}
                    ("source" | "version", other) => {
                        return bad(
                            diags,
                            format!("{name}.{k} must be a string, not {}.", other.type_name()),
                        )
                    }
                    _ => {
                        return bad(
                            diags,
                            format!("{name} takes source, version and configuration_aliases; {k:?} is not expected."),
                        )
                    }
                }
            }
        }
        other => {
            return bad(
                diags,
                format!("{name} must be an object such as {{ source = \"hashicorp/{name}\", version = \"~> 1.0\" }}, not {}.", other.type_name()),
            )
        }
    }
    Some(r)
}

fn required_string(
    b: &NestedBlock,
    name: &str,
    example: &str,
    diags: &mut Diagnostics,
) -> Option<String> {
    if !b.body.attrs.contains_key(name) {
        diags.push(
            Diagnostic::error(
                "Missing required argument",
                format!(
                    "A {} block needs {name}, for example: {name} = {example}.",
                    b.kind
                ),
            )
            .with_span(Some(b.span.clone())),
        );
        return None;
    }
    literal_string(&b.body, name, diags)
}

fn load_policy(b: NestedBlock, diags: &mut Diagnostics) -> Option<PolicyBlock> {
    let source = required_string(&b, "source", "\"./policy\"", diags)?;
    let level = enforcement_level(&b, diags)?;
    for name in b.body.attrs.keys() {
        if !["source", "enforcement_level"].contains(&name.as_str()) {
            diags.push(
                Diagnostic::error(
                    "Unsupported argument",
                    format!("A policy block takes source and enforcement_level; {name:?} is not expected."),
                )
                .with_span(Some(b.body.attrs[name].name_span.clone())),
            );
        }
    }
    Some(PolicyBlock {
        name: b.labels[0].clone(),
        source,
        enforcement_level: level,
        span: b.span,
    })
}

fn load_budget(b: NestedBlock, diags: &mut Diagnostics) -> Option<BudgetBlock> {
    const ARGS: [&str; 3] = ["monthly_limit", "max_monthly_increase", "enforcement_level"];
    let level = enforcement_level(&b, diags)?;
    let mut ok = true;
    for name in b.body.attrs.keys() {
        if !ARGS.contains(&name.as_str()) {
            ok = false;
            diags.push(
                Diagnostic::error(
                    "Unsupported argument",
                    format!("A budget block takes monthly_limit, max_monthly_increase and enforcement_level; {name:?} is not expected."),
                )
                .with_span(Some(b.body.attrs[name].name_span.clone())),
            );
        }
    }
    let mut amount = |name: &str| match b.body.attrs.get(name) {
        None => None,
        Some(a) => match &a.expr.kind {
            ExprKind::Literal(Value::Number(n)) if n.signum() >= 0 => Some(n.as_f64()),
            _ => {
                ok = false;
                diags.push(
                    Diagnostic::error(
                        format!("Invalid {name} value"),
                        format!("{name} must be a literal amount in USD per month, zero or more, such as {name} = 500."),
                    )
                    .with_span(Some(a.expr.span.clone())),
                );
                None
            }
        },
    };
    let monthly_limit = amount("monthly_limit");
    let max_monthly_increase = amount("max_monthly_increase");
    if ok && monthly_limit.is_none() && max_monthly_increase.is_none() {
        diags.push(
            Diagnostic::error(
                "Empty budget",
                "A budget needs monthly_limit (the most the workspace may cost a month after a plan), max_monthly_increase (the most one plan may add), or both.",
            )
            .with_span(Some(b.span.clone())),
        );
        return None;
    }
    ok.then(|| BudgetBlock {
        name: b.labels[0].clone(),
        monthly_limit,
        max_monthly_increase,
        enforcement_level: level,
        span: b.span,
    })
}

/// The `enforcement_level` of a policy or budget block (default `hard_mandatory`).
fn enforcement_level(b: &NestedBlock, diags: &mut Diagnostics) -> Option<String> {
    let level = literal_string(&b.body, "enforcement_level", diags)
        .unwrap_or_else(|| "hard_mandatory".to_string());
    if !ENFORCEMENT_LEVELS.contains(&level.as_str()) {
        let span = b
            .body
            .attrs
            .get("enforcement_level")
            .map(|a| a.expr.span.clone());
        diags.push(
            Diagnostic::error(
                "Invalid enforcement_level",
                format!(
                    "{level:?} is not an enforcement level; use one of {}.",
                    ENFORCEMENT_LEVELS.map(|l| format!("{l:?}")).join(", ")
                ),
            )
            .with_span(span),
        );
        return None;
    }
    Some(level)
}

fn load_scan(b: NestedBlock, module: &mut Module, diags: &mut Diagnostics) {
    for (name, a) in &b.body.attrs {
        match name.as_str() {
            "on_plan" => module.scan.on_plan = literal_bool(&b.body, "on_plan", diags),
            other => diags.push(
                Diagnostic::error(
                    "Unsupported argument",
                    format!("A scan block takes on_plan and suppress blocks; {other:?} is not expected."),
                )
                .with_span(Some(a.expr.span.clone())),
            ),
        }
    }
    for nb in b.body.blocks {
        if nb.kind != "suppress" {
            diags.push(
                Diagnostic::error(
                    "Unsupported block type",
                    format!(
                        "A scan block holds suppress blocks; {:?} is not expected.",
                        nb.kind
                    ),
                )
                .with_span(Some(nb.span)),
            );
            continue;
        }
        let rule = required_string(&nb, "rule", "\"TRN-S3-002\"", diags);
        let reason = required_string(&nb, "reason", "\"why this finding is accepted\"", diags);
        let address = literal_string(&nb.body, "address", diags);
        if let (Some(rule), Some(reason)) = (rule, reason) {
            if reason.trim().is_empty() {
                diags.push(
                    Diagnostic::error(
                        "Empty suppression reason",
                        "A suppression must say why the finding is accepted.",
                    )
                    .with_span(Some(nb.span.clone())),
                );
                continue;
            }
            module.scan.suppressions.push(Suppression {
                rule,
                address,
                reason,
                span: nb.span,
            });
        }
    }
}

fn load_resource(mode: ResourceMode, b: NestedBlock, diags: &mut Diagnostics) -> Resource {
    let mut body = b.body;
    let count = body.attrs.shift_remove("count").map(|a| a.expr);
    let for_each = body.attrs.shift_remove("for_each").map(|a| a.expr);
    if let (Some(_), Some(fe)) = (&count, &for_each) {
        diags.push(
            Diagnostic::error(
                "Invalid combination of count and for_each",
                "The count and for_each meta-arguments are mutually exclusive; only one may be used to create instances of a resource.",
            )
            .with_span(Some(fe.span.clone())),
        );
    }
    let depends_on = {
        let tmp = Body {
            attrs: body.attrs.clone(),
            ..Default::default()
        };
        let list = expr_list(&tmp, "depends_on", diags);
        body.attrs.shift_remove("depends_on");
        list
    };
    let provider = body.attrs.shift_remove("provider").and_then(|a| {
        match a.expr.as_traversal_path() {
            Some(p) => {
                let mut parts = p.splitn(2, '.');
                let name = parts.next().unwrap_or_default().to_string();
                Some((name, parts.next().map(str::to_string)))
            }
            None => {
                diags.push(
                    Diagnostic::error(
                        "Invalid provider reference",
                        "The provider argument takes a provider reference such as aws.west, not a string.",
                    )
                    .with_span(Some(a.expr.span.clone())),
                );
                None
            }
        }
    });
    let mut lifecycle = Lifecycle::default();
    let mut rest = Vec::new();
    let mut provisioners = Vec::new();
    let mut connection = None;
    for nb in std::mem::take(&mut body.blocks) {
        if nb.kind == "lifecycle" {
            lifecycle.create_before_destroy =
                literal_bool(&nb.body, "create_before_destroy", diags);
            lifecycle.prevent_destroy = literal_bool(&nb.body, "prevent_destroy", diags);
            if let Some(a) = nb.body.attrs.get("ignore_changes") {
                match &a.expr.kind {
                    ExprKind::Var(v) if v == "all" => lifecycle.ignore_all_changes = true,
                    ExprKind::Literal(Value::String(v)) if v == "all" => {
                        lifecycle.ignore_all_changes = true
                    }
                    ExprKind::Tuple(items) => {
                        for it in items {
                            match ignore_path(it) {
                                Some(p) => lifecycle.ignore_changes.push(p),
                                None => diags.push(
                                    Diagnostic::error(
                                        "Invalid ignore_changes entry",
                                        "Each entry of ignore_changes is an attribute path of this resource, such as tags, tags[\"Name\"] or ingress[0].cidr_blocks.",
                                    )
                                    .with_span(Some(it.span.clone())),
                                ),
                            }
                        }
                    }
                    _ => diags.push(
                        Diagnostic::error(
                            "Invalid ignore_changes",
                            "ignore_changes takes a list of attribute names, or the keyword all.",
                        )
                        .with_span(Some(a.expr.span.clone())),
                    ),
                }
            }
            lifecycle.replace_triggered_by = expr_list(&nb.body, "replace_triggered_by", diags);
            lifecycle.preconditions = conditions(&nb.body, "precondition", diags);
            lifecycle.postconditions = conditions(&nb.body, "postcondition", diags);
        } else if nb.kind == "provisioner" {
            if let Some(p) = load_provisioner(nb, diags) {
                provisioners.push(p);
            }
        } else if nb.kind == "connection" {
            if connection.is_some() {
                diags.push(
                    Diagnostic::error(
                        "Duplicate connection block",
                        "A resource may have one connection block; provisioners that need another have their own.",
                    )
                    .with_span(Some(nb.span.clone())),
                );
            }
            connection = Some(nb.body);
        } else {
            rest.push(nb);
        }
    }
    body.blocks = rest;
    Resource {
        mode,
        type_name: b.labels[0].clone(),
        name: b.labels[1].clone(),
        provider,
        count,
        for_each,
        depends_on,
        lifecycle,
        body,
        span: b.span,
        check: None,
        provisioners,
        connection,
    }
}

/// A keyword argument (`when = destroy`), as its name.
fn keyword(body: &Body, name: &str) -> Option<(String, Span)> {
    let a = body.attrs.get(name)?;
    let word = match &a.expr.kind {
        ExprKind::Var(v) => v.clone(),
        ExprKind::Literal(Value::String(v)) => v.clone(),
        _ => String::new(),
    };
    Some((word, a.expr.span.clone()))
}

fn load_provisioner(b: NestedBlock, diags: &mut Diagnostics) -> Option<Provisioner> {
    let kind = b.labels.first().cloned().unwrap_or_default();
    if !matches!(kind.as_str(), "local-exec" | "file" | "remote-exec") {
        let removed = matches!(
            kind.as_str(),
            "chef" | "habitat" | "puppet" | "salt-masterless"
        );
        diags.push(
            Diagnostic::error(
                "Invalid provisioner type",
                if removed {
                    format!("The {kind:?} provisioner was removed from Terraform in v0.15, and terrane does not run it. Use local-exec or remote-exec to run the tool instead.")
                } else {
                    format!("terrane runs the provisioners local-exec, file and remote-exec; {kind:?} is not one of them.")
                },
            )
            .with_span(Some(b.span.clone())),
        );
        return None;
    }
    let mut body = b.body;
    let mut when_destroy = false;
    let mut on_failure_continue = false;
    if let Some((word, span)) = keyword(&body, "when") {
        match word.as_str() {
            "destroy" => when_destroy = true,
            "create" => {}
            _ => diags.push(
                Diagnostic::error(
                    "Invalid \"when\" keyword",
                    "when takes the keyword create (the default: after the object is created) or destroy (before it is destroyed).",
                )
                .with_span(Some(span)),
            ),
        }
    }
    if let Some((word, span)) = keyword(&body, "on_failure") {
        match word.as_str() {
            "continue" => on_failure_continue = true,
            "fail" => {}
            _ => diags.push(
                Diagnostic::error(
                    "Invalid \"on_failure\" keyword",
                    "on_failure takes the keyword fail (the default: the apply fails) or continue (the failure is a warning).",
                )
                .with_span(Some(span)),
            ),
        }
    }
    body.attrs.shift_remove("when");
    body.attrs.shift_remove("on_failure");
    let mut connection = None;
    body.blocks.retain(|nb| {
        if nb.kind == "connection" {
            connection = Some(nb.body.clone());
            false
        } else {
            true
        }
    });
    Some(Provisioner {
        kind,
        body,
        connection,
        when_destroy,
        on_failure_continue,
        span: b.span,
    })
}

fn load_variable(b: NestedBlock, diags: &mut Diagnostics) -> Variable {
    let ty = b
        .body
        .attrs
        .get("type")
        .and_then(|a| match parse_type(&a.expr) {
            Ok(t) => Some(t),
            Err(d) => {
                diags.push(d);
                None
            }
        });
    let nullable = match b.body.attrs.get("nullable") {
        None => true,
        Some(_) => literal_bool(&b.body, "nullable", diags),
    };
    let validations = b
        .body
        .blocks
        .iter()
        .filter(|nb| nb.kind == "validation")
        .filter_map(|nb| {
            let condition = nb.body.attrs.get("condition")?.expr.clone();
            let error_message = nb.body.attrs.get("error_message")?.expr.clone();
            Some(Validation {
                condition,
                error_message,
            })
        })
        .collect();
    Variable {
        name: b.labels[0].clone(),
        ty,
        default: b.body.attrs.get("default").map(|a| a.expr.clone()),
        description: literal_string(&b.body, "description", diags),
        sensitive: literal_bool(&b.body, "sensitive", diags),
        nullable,
        validations,
        span: b.span,
    }
}

/// Parses a type constraint expression such as `map(object({ name = string }))`.
pub fn parse_type(e: &Expr) -> Result<Type, Diagnostic> {
    let bad = |what: &str| {
        Diagnostic::error(
            "Invalid type specification",
            format!("{what} Valid types are string, number, bool, any, list(T), set(T), map(T), tuple([T, ...]) and object({{name = T, ...}})."),
        )
        .with_span(Some(e.span.clone()))
    };
    match &e.kind {
        ExprKind::Var(name) => match name.as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "any" => Ok(Type::Any),
            "list" | "set" | "map" => Ok(match name.as_str() {
                "list" => Type::List(Box::new(Type::Any)),
                "set" => Type::Set(Box::new(Type::Any)),
                _ => Type::Map(Box::new(Type::Any)),
            }),
            other => Err(bad(&format!("{other:?} is not a type."))),
        },
        ExprKind::Call { name, args, .. } => {
            match (name.as_str(), args.as_slice()) {
                ("list", [t]) => Ok(Type::List(Box::new(parse_type(t)?))),
                ("set", [t]) => Ok(Type::Set(Box::new(parse_type(t)?))),
                ("map", [t]) => Ok(Type::Map(Box::new(parse_type(t)?))),
                ("tuple", [t]) => match &t.kind {
                    ExprKind::Tuple(items) => Ok(Type::Tuple(
                        items.iter().map(parse_type).collect::<Result<_, _>>()?,
                    )),
                    _ => Err(bad("tuple() takes a list of types.")),
                },
                ("object", [t]) => match &t.kind {
                    ExprKind::Object(items) => {
                        let mut attrs = BTreeMap::new();
                        for (k, v) in items {
                            let key = k
                                .as_literal_str()
                                .map(str::to_string)
                                .or_else(|| k.as_traversal_path())
                                .ok_or_else(|| {
                                    bad("object attribute names must be identifiers.")
                                })?;
                            let attr = match &v.kind {
                            ExprKind::Call { name, args, .. } if name == "optional" => match args.as_slice() {
                                [t] => ObjectAttr { ty: parse_type(t)?, optional: true, default: None },
                                [t, d] => ObjectAttr {
                                    ty: parse_type(t)?,
                                    optional: true,
                                    default: Some(crate::eval::eval_constant(d).map_err(|_| bad("the default of optional() must be a constant."))?),
                                },
                                _ => return Err(bad("optional() takes a type and an optional default.")),
                            },
                            _ => ObjectAttr { ty: parse_type(v)?, optional: false, default: None },
                        };
                            attrs.insert(key, attr);
                        }
                        Ok(Type::Object(attrs))
                    }
                    _ => Err(bad("object() takes an object of attribute types.")),
                },
                (other, _) => Err(bad(&format!("{other}(...) is not a type constructor."))),
            }
        }
        _ => Err(bad("This is not a type.")),
    }
}

fn load_module_call(
    root: &Path,
    parent: &Module,
    b: NestedBlock,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    stack: &mut Vec<(PathBuf, String)>,
) -> Option<ModuleCall> {
    let name = b.labels[0].clone();
    let Some(source) = literal_string(&b.body, "source", diags) else {
        diags.push(
            Diagnostic::error(
                "Missing module source",
                "A module block needs source = \"./path/to/module\".",
            )
            .with_span(Some(b.span.clone())),
        );
        return None;
    };
    let source_span = b
        .body
        .attrs
        .get("source")
        .map(|a| a.expr.span.clone())
        .unwrap_or(b.span.clone());
    let key = match stack.last() {
        Some((_, parent)) if !parent.is_empty() => format!("{parent}.{name}"),
        _ => name.clone(),
    };
    let dir = match installed_dir(root, &parent.dir, &key, &source) {
        Ok(dir) => dir,
        Err((summary, detail)) => {
            diags.push(Diagnostic::error(summary, detail).with_span(Some(source_span)));
            return None;
        }
    };
    let mut inputs = b.body.clone();
    for meta in ["source", "version", "providers", "depends_on"] {
        inputs.attrs.shift_remove(meta);
    }
    let count = inputs.attrs.shift_remove("count").map(|a| a.expr);
    let for_each = inputs.attrs.shift_remove("for_each").map(|a| a.expr);
    if let (Some(_), Some(f)) = (&count, &for_each) {
        diags.push(
            Diagnostic::error(
                "Invalid combination of \"count\" and \"for_each\"",
                "The count and for_each meta-arguments are mutually exclusive; only one may be used on a module call.",
            )
            .with_span(Some(f.span.clone())),
        );
    }
    let depends_on = expr_list(&b.body, "depends_on", diags);
    let canonical = dir.canonicalize().unwrap_or(dir.clone());
    if stack.iter().any(|(d, _)| d == &canonical) {
        diags.push(
            Diagnostic::error(
                "Module calls itself",
                format!(
                    "The module {source:?} includes itself, directly or through other modules."
                ),
            )
            .with_span(Some(b.span.clone())),
        );
        return None;
    }
    if !dir.is_dir() {
        diags.push(
            Diagnostic::error(
                "Module directory not found",
                format!(
                    "The module source {source:?} resolves to {}, which is not a directory.",
                    dir.display()
                ),
            )
            .with_span(Some(b.span.clone())),
        );
        return None;
    }
    stack.push((canonical, key));
    let child = load_module(root, &dir, sources, diags, stack);
    stack.pop();
    Some(ModuleCall {
        name,
        source,
        count,
        for_each,
        inputs,
        depends_on,
        module: Box::new(child),
        span: b.span,
    })
}

/// The directory of the module called at `key` with `source`: a local path is read in
/// place, any other source where `terrane init` (or `terraform init`) installed it, as
/// the module manifest records.
fn installed_dir(
    root: &Path,
    parent_dir: &Path,
    key: &str,
    source: &str,
) -> Result<PathBuf, (&'static str, String)> {
    use terrane_core::modsource::{Manifest, ModuleSource, MANIFEST_PATH};
    let parsed = match ModuleSource::parse(source) {
        Ok(ModuleSource::Local(path)) => return Ok(parent_dir.join(path)),
        Ok(parsed) => parsed,
        Err(e) => return Err(("Invalid module source address", e.0)),
    };
    let not_installed = || {
        (
            "Module not installed",
            format!("The module {key:?} ({source}) is not yet installed. Run \"terrane init\" to install all modules required by this configuration."),
        )
    };
    let manifest = match std::fs::read_to_string(root.join(MANIFEST_PATH)) {
        Ok(text) => Manifest::parse(&text).map_err(|e| {
            (
                "Invalid module manifest",
                format!("{MANIFEST_PATH} cannot be read ({e}). Run \"terrane init\" to install the modules again."),
            )
        })?,
        Err(_) => return Err(not_installed()),
    };
    let Some(record) = manifest.records.get(key) else {
        return Err(not_installed());
    };
    if record.source != parsed.to_string() {
        return Err((
            "Module source has changed",
            format!("The source address of module {key:?} was changed since this module was installed ({} then, {source} now). Run \"terrane init\" to install all modules required by this configuration.", record.source),
        ));
    }
    let dir = root.join(&record.dir);
    if !dir.is_dir() {
        return Err(not_installed());
    }
    Ok(dir)
}

/// The module calls of the module in `dir`, for `terrane init` to install: name,
/// source, version and where the call is. Only `module` blocks are read.
pub fn module_calls(dir: &Path) -> Result<Vec<ModuleCallSite>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("Reading {}: {e}.", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tf") && p.is_file())
        .collect();
    files.sort();
    let mut calls = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("Reading {}: {e}.", path.display()))?;
        let (body, _) = parse_body(&text).map_err(|e| {
            let loc = e.location();
            format!(
                "{}:{}:{}: {}",
                path.display(),
                loc.line(),
                loc.column(),
                e.message()
            )
        })?;
        for block in body.blocks().filter(|b| b.ident.as_str() == "module") {
            let Some(name) = block.labels.first().map(|l| match l {
                BlockLabel::String(s) => s.value().to_string(),
                BlockLabel::Ident(i) => i.as_str().to_string(),
            }) else {
                continue;
            };
            let literal = |key: &str| {
                block.body.get_attribute(key).and_then(|a| match &a.value {
                    hcl_edit::expr::Expression::String(s) => Some(s.value().to_string()),
                    _ => None,
                })
            };
            let line = block
                .span()
                .map_or(0, |r| text[..r.start].matches('\n').count() + 1);
            let Some(source) = literal("source") else {
                // The full load reports a missing or computed source.
                continue;
            };
            calls.push(ModuleCallSite {
                name,
                source,
                version: literal("version"),
                at: format!(
                    "{}:{line}",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ),
            });
        }
    }
    Ok(calls)
}

/// A module block as `terrane init` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleCallSite {
    pub name: String,
    pub source: String,
    pub version: Option<String>,
    /// `FILE:LINE`.
    pub at: String,
}

/// The root names of a `depends_on` entry, as a reference (for graph edges).
pub fn depends_on_reference(e: &Expr) -> Option<crate::ast::Reference> {
    match &e.kind {
        ExprKind::Traversal(root, ops) => match &root.kind {
            ExprKind::Var(name) => Some(crate::ast::Reference::split(name, ops).0),
            _ => None,
        },
        _ => None,
    }
    .filter(|_| {
        matches!(&e.kind, ExprKind::Traversal(_, ops) if ops.iter().all(|o| matches!(o, TravOp::Attr(..))))
    })
}

/// An `ignore_changes` entry as a path: `name`, `name.attr`, `name["key"]`,
/// `name[0]`, or a quoted attribute name.
fn ignore_path(e: &Expr) -> Option<Vec<IgnoreStep>> {
    use crate::ast::TravOp;
    if let Some(s) = e.as_literal_str() {
        return Some(vec![IgnoreStep::Key(s.to_string())]);
    }
    match &e.kind {
        ExprKind::Var(v) => Some(vec![IgnoreStep::Key(v.clone())]),
        ExprKind::Traversal(root, ops) => {
            let ExprKind::Var(v) = &root.kind else {
                return None;
            };
            let mut steps = vec![IgnoreStep::Key(v.clone())];
            for op in ops {
                steps.push(match op {
                    TravOp::Attr(a, _) => IgnoreStep::Key(a.clone()),
                    TravOp::Index(i) => match &i.kind {
                        ExprKind::Literal(Value::Number(n)) if n.as_usize().is_some() => {
                            IgnoreStep::Index(n.as_usize().unwrap_or_default())
                        }
                        _ => IgnoreStep::Key(i.as_literal_str()?.to_string()),
                    },
                    TravOp::Splat | TravOp::AttrSplat => return None,
                });
            }
            Some(steps)
        }
        _ => None,
    }
}

/// One step of an `ignore_changes` path.
#[derive(Clone, Debug, PartialEq)]
pub enum IgnoreStep {
    /// An attribute or a map key.
    Key(String),
    /// A list element.
    Index(usize),
}

#[cfg(test)]
mod ignore_path_tests {
    use super::IgnoreStep::{Index, Key};

    fn path(src: &str) -> Option<Vec<super::IgnoreStep>> {
        let parsed = hcl_edit::parser::parse_expr(src).unwrap();
        let cv = crate::ast::Converter {
            file: std::sync::Arc::from("t.tf"),
            base: 0,
            renamed_keys: Default::default(),
            source: std::sync::Arc::from(src),
        };
        super::ignore_path(&cv.expr(&parsed))
    }

    #[test]
    fn paths_with_keys_and_indexes_parse() {
        assert_eq!(path("tags"), Some(vec![Key("tags".into())]));
        assert_eq!(
            path("tags[\"Name\"]"),
            Some(vec![Key("tags".into()), Key("Name".into())])
        );
        assert_eq!(
            path("ingress[0].cidr_blocks"),
            Some(vec![
                Key("ingress".into()),
                Index(0),
                Key("cidr_blocks".into())
            ])
        );
        assert_eq!(
            path("m[\"a.b[c]\"].x"),
            Some(vec![Key("m".into()), Key("a.b[c]".into()), Key("x".into())])
        );
        assert_eq!(path("\"tags\""), Some(vec![Key("tags".into())]));
        assert_eq!(path("tags[*]"), None);
    }
}
