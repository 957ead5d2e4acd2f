//! Policy sets: Rego files checked against a plan, with an enforcement level.
//!
//! Every package of a set may define `deny`, `violation` (both block) and `warn`
//! (reported only): sets of messages, or of objects with a `msg`, as conftest reads
//! them. Files are parsed as Rego v1 first and, when that fails and the file does not
//! ask for v1 (`import rego.v1`), as the classic syntax, so both kinds of policy work
//! side by side in one set.

use std::collections::BTreeSet;
use std::path::Path;

use regorus::Engine;
/// The policy engine's values: what policies read as `input`.
pub use regorus::Value;
use terrane_core::doc::Projection;
use terrane_core::Doc;

/// What a failing policy set does to an apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Enforcement {
    /// Reported; never blocks.
    Advisory,
    /// Blocks an apply unless overridden with a recorded reason.
    SoftMandatory,
    /// Always blocks.
    HardMandatory,
}

impl Enforcement {
    pub fn parse(s: &str) -> Option<Enforcement> {
        match s {
            "advisory" => Some(Enforcement::Advisory),
            "soft_mandatory" => Some(Enforcement::SoftMandatory),
            "hard_mandatory" => Some(Enforcement::HardMandatory),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Advisory => "advisory",
            Enforcement::SoftMandatory => "soft_mandatory",
            Enforcement::HardMandatory => "hard_mandatory",
        }
    }
}

/// One Rego file: its path as shown to users, and its text.
#[derive(Clone, Debug)]
pub struct PolicyFile {
    pub path: String,
    pub text: String,
}

/// Why a policy set could not be loaded. Final: nothing here is retried.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the policy set {set:?} points at {path}, which does not exist")]
    Missing { set: String, path: String },
    #[error("the policy set {set:?} has no .rego files under {path}")]
    NoFiles { set: String, path: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// A named set of Rego files with one enforcement level.
#[derive(Clone, Debug)]
pub struct PolicySet {
    pub name: String,
    pub level: Enforcement,
    pub files: Vec<PolicyFile>,
}

impl PolicySet {
    /// Reads every `.rego` file under `path` (a directory, recursively, in name order;
    /// or a single file). `shown` is how `path` is written in messages.
    pub fn load(
        name: &str,
        level: Enforcement,
        path: &Path,
        shown: &str,
    ) -> Result<PolicySet, LoadError> {
        let mut paths = Vec::new();
        if path.is_file() {
            paths.push(path.to_path_buf());
        } else if path.is_dir() {
            collect_rego(path, &mut paths).map_err(|source| LoadError::Read {
                path: shown.to_string(),
                source,
            })?;
            if paths.is_empty() {
                return Err(LoadError::NoFiles {
                    set: name.to_string(),
                    path: shown.to_string(),
                });
            }
        } else {
            return Err(LoadError::Missing {
                set: name.to_string(),
                path: shown.to_string(),
            });
        }
        let mut files = Vec::new();
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|source| LoadError::Read {
                path: p.display().to_string(),
                source,
            })?;
            let rel = p.strip_prefix(path).unwrap_or(&p);
            let shown_path = if rel.as_os_str().is_empty() {
                shown.to_string()
            } else {
                Path::new(shown).join(rel).display().to_string()
            };
            files.push(PolicyFile {
                path: shown_path,
                text,
            });
        }
        Ok(PolicySet {
            name: name.to_string(),
            level,
            files,
        })
    }
}

fn collect_rego(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            collect_rego(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "rego") {
            out.push(p);
        }
    }
    Ok(())
}

/// The rule names read as results, and whether they block.
const RESULT_RULES: [(&str, bool); 3] = [("deny", true), ("violation", true), ("warn", false)];

/// One message from a `deny`, `violation` or `warn` rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// `data.<package>.<rule>`.
    pub rule: String,
    pub file: String,
    pub message: String,
    /// The whole result when it was an object (conftest-style `{"msg": ..., ...}`).
    pub details: Option<serde_json::Value>,
}

/// What one policy set said about one plan.
#[derive(Clone, Debug)]
pub struct SetOutcome {
    pub name: String,
    pub level: Enforcement,
    pub denials: Vec<Verdict>,
    pub warnings: Vec<Verdict>,
    /// Files that do not parse, rules that fail to evaluate: a set that cannot be
    /// evaluated fails, it never passes silently.
    pub errors: Vec<String>,
}

impl SetOutcome {
    pub fn failed(&self) -> bool {
        !self.denials.is_empty() || !self.errors.is_empty()
    }

    /// Whether this outcome stops an apply, given whether an override was given.
    pub fn blocks(&self, overridden: bool) -> bool {
        self.failed()
            && match self.level {
                Enforcement::Advisory => false,
                Enforcement::SoftMandatory => !overridden,
                Enforcement::HardMandatory => true,
            }
    }
}

/// A loaded module: where it came from and what it declares.
struct ModuleInfo {
    file: String,
    package: String,
    results: Vec<(&'static str, bool)>,
    tests: Vec<String>,
}

/// A policy set parsed into one Rego engine.
pub struct Compiled {
    engine: Engine,
    modules: Vec<ModuleInfo>,
    /// `data.<package>.<rule>` of the result rules that read one change at a time
    /// (see [`crate::split`]).
    pub(crate) per_change: BTreeSet<String>,
    /// What the set's rules can read of each change (see [`crate::split`]).
    pub(crate) changes: Projection,
}

/// Parses every file of a set. Errors name the file, line and column.
pub fn compile(files: &[PolicyFile]) -> Result<Compiled, Vec<String>> {
    let mut engine = Engine::new();
    let mut modules = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match add_file(&mut engine, f) {
            Ok(package) => modules.push(ModuleInfo {
                file: f.path.clone(),
                package,
                results: Vec::new(),
                tests: test_rule_names(&f.text),
            }),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        let results: Vec<&str> = RESULT_RULES.iter().map(|(r, _)| *r).collect();
        let ast: Option<serde_json::Value> = engine
            .get_ast_as_json()
            .ok()
            .and_then(|ast| serde_json::from_str(&ast).ok());
        // The result rules each file itself declares (the engine's own lookup answers
        // for the whole package, so every file of it would repeat the results).
        let declared = ast.as_ref().map(crate::split::rules_by_file);
        for m in &mut modules {
            for (rule, blocks) in RESULT_RULES {
                let here = match &declared {
                    Some(d) => d.get(&m.file).is_some_and(|names| names.contains(rule)),
                    None => engine
                        .has_declared_rule_rooted_at(&m.file, rule)
                        .unwrap_or(false),
                };
                if here {
                    m.results.push((rule, blocks));
                }
            }
        }
        let per_change = ast
            .as_ref()
            .map(|ast| crate::split::per_change_rules(ast, &results))
            .unwrap_or_default()
            .into_iter()
            .map(|(package, rule)| format!("{package}.{rule}"))
            .collect();
        let changes = ast
            .as_ref()
            .map_or_else(Projection::all, crate::split::change_projection);
        Ok(Compiled {
            engine,
            modules,
            per_change,
            changes,
        })
    } else {
        Err(errors)
    }
}

fn add_file(engine: &mut Engine, f: &PolicyFile) -> Result<String, String> {
    engine.set_rego_v0(false);
    let v1 = match engine.add_policy(f.path.clone(), f.text.clone()) {
        Ok(p) => return Ok(p),
        Err(e) => e,
    };
    if f.text.contains("import rego.v1") {
        return Err(first_line(&v1.to_string()));
    }
    // The classic syntax (`deny[msg] { ... }`), which most existing policies use.
    engine.set_rego_v0(true);
    let result = engine.add_policy(f.path.clone(), f.text.clone());
    engine.set_rego_v0(false);
    result.map_err(|v0| {
        format!(
            "{}\n  (the file is not valid Rego v1 either: {})",
            first_line(&v0.to_string()),
            first_line(&v1.to_string())
        )
    })
}

/// regorus errors end with the offending source line and a caret; the first line has
/// the file, line, column and message.
fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(s)
        .to_string()
}

/// Names of the `test_` rules of a file, as `opa test` finds them.
fn test_rule_names(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if !t.starts_with("test_") {
            continue;
        }
        let name: String = t
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The top-level keys of `input` that a set of Rego sources can read, or `None` when
/// they may read any of it.
///
/// Every use of the identifier `input` must be a field access by name (`input.x`,
/// `input["x"]`, also in `import input.x`); anything else — `input` passed whole to a
/// function, iterated, compared, indexed by a variable, or rebound with `with` — means
/// the whole document. Comments and strings are skipped, and `x.input` is a field of
/// something else. A caller can then leave out the parts of a large document no policy
/// names, which changes nothing the policies can observe.
pub fn input_keys<'a>(sources: impl IntoIterator<Item = &'a str>) -> Option<BTreeSet<String>> {
    let mut keys = BTreeSet::new();
    for src in sources {
        let b = src.as_bytes();
        let mut i = 0;
        let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        let skip_ws = |mut j: usize| {
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
            j
        };
        while i < b.len() {
            match b[i] {
                b'#' => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                b'"' => {
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                b'`' => {
                    i += 1;
                    while i < b.len() && b[i] != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                c if ident(c) => {
                    let start = i;
                    while i < b.len() && ident(b[i]) {
                        i += 1;
                    }
                    let after_dot = start > 0 && b[..start].trim_ascii_end().ends_with(b".");
                    if &b[start..i] != b"input" || after_dot {
                        continue;
                    }
                    let j = skip_ws(i);
                    if b.get(j) == Some(&b'.') {
                        let k = skip_ws(j + 1);
                        let end = (k..b.len()).find(|&e| !ident(b[e])).unwrap_or(b.len());
                        if end == k {
                            return None;
                        }
                        keys.insert(src[k..end].to_string());
                        i = end;
                    } else if b.get(j) == Some(&b'[') {
                        let k = skip_ws(j + 1);
                        let rest = &src[k..];
                        let lit = rest
                            .strip_prefix('"')
                            .and_then(|r| r.find('"').map(|e| &r[..e]))
                            .filter(|l| !l.contains('\\'));
                        let lit = lit?;
                        let close = skip_ws(k + lit.len() + 2);
                        if b.get(close) != Some(&b']') {
                            return None;
                        }
                        keys.insert(lit.to_string());
                        i = close + 1;
                    } else {
                        return None;
                    }
                }
                _ => i += 1,
            }
        }
    }
    Some(keys)
}

/// The engine's own values as a document model: a plan document built in it directly
/// skips a JSON tree that would only be converted (see [`terrane_core::doc`]).
pub struct RegoDoc(pub Value);

impl Doc for RegoDoc {
    fn null() -> Self {
        RegoDoc(Value::Null)
    }

    fn bool(b: bool) -> Self {
        RegoDoc(Value::Bool(b))
    }

    fn number(n: &terrane_core::Number) -> Self {
        // As JSON would carry it: integers as integers, other numbers with their digits.
        RegoDoc(match n.as_i64() {
            Some(i) if i >= 0 => Value::from(i as u64),
            Some(i) => Value::from(i),
            None if n.is_infinite() => Value::Null,
            // Through JSON, so that both ways of building a document agree.
            None => Value::from(serde_json::Value::Number(n.to_json())),
        })
    }

    fn string(s: &str) -> Self {
        RegoDoc(Value::from(s))
    }

    fn array(items: Vec<Self>) -> Self {
        RegoDoc(Value::from(
            items.into_iter().map(|d| d.0).collect::<Vec<_>>(),
        ))
    }

    fn object(entries: Vec<(&str, Self)>) -> Self {
        RegoDoc(Value::from(
            entries
                .into_iter()
                .map(|(k, v)| (key(k), v.0))
                .collect::<std::collections::BTreeMap<_, _>>(),
        ))
    }
}

/// An object key, shared between the objects of a document: a plan's ten thousand
/// changes have the same few dozen keys, and each would otherwise be an allocation of
/// its own. Short keys only, and a bounded number per thread.
fn key(k: &str) -> Value {
    const MAX_LEN: usize = 48;
    const MAX_KEYS: usize = 4_096;
    thread_local! {
        static KEYS: std::cell::RefCell<std::collections::HashMap<Box<str>, Value>> =
            Default::default();
    }
    if k.len() > MAX_LEN {
        return Value::from(k);
    }
    KEYS.with_borrow_mut(|keys| {
        if let Some(v) = keys.get(k) {
            return v.clone();
        }
        let v = Value::from(k);
        if keys.len() < MAX_KEYS {
            keys.insert(k.into(), v.clone());
        }
        v
    })
}

/// The engine's value for a JSON document, built once for many evaluations (the
/// document is moved in: a large plan is not copied on the way).
pub fn input_value(json: serde_json::Value) -> Value {
    Value::from(json)
}

/// Below this many changes, evaluating rules on parts of the plan costs more than it
/// saves.
const SPLIT_MIN_CHANGES: usize = 2_000;

/// Changes fed early are evaluated in batches of this many.
const BATCH: usize = 1_024;

/// Evaluates one policy set against `input` (the plan document). On a large plan, rules
/// that read one change at a time are evaluated on parts of it on every core while the
/// others read it whole.
pub fn evaluate(set: &PolicySet, input: &Value) -> SetOutcome {
    let mut e = Evaluation::new(set);
    if let Value::Array(changes) = &input["resource_changes"] {
        changes.iter().for_each(|c| e.keep(c.clone()));
    }
    e.finish(input)
}

/// The cores evaluation spreads over.
fn cores() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

/// One policy set's evaluation, which can be fed the plan's changes while the plan is
/// still being made: rules that read one change at a time (see [`crate::split`]) run on
/// each batch as it fills, and only the rest wait for the whole document.
pub struct Evaluation {
    name: String,
    level: Enforcement,
    compiled: Result<Compiled, Vec<String>>,
    /// The per-change rules, and the changes not yet evaluated by them.
    split: Vec<String>,
    batch: Vec<Value>,
    /// Results of the per-change rules over the batches evaluated so far.
    results: std::collections::BTreeMap<String, Result<Value, String>>,
    spent: std::time::Duration,
}

impl Evaluation {
    pub fn new(set: &PolicySet) -> Evaluation {
        let compiled = compile(&set.files);
        let split = match &compiled {
            Ok(c) => c.per_change.iter().cloned().collect(),
            Err(_) => Vec::new(),
        };
        Evaluation {
            name: set.name.clone(),
            level: set.level,
            compiled,
            split,
            batch: Vec::new(),
            results: Default::default(),
            spent: std::time::Duration::ZERO,
        }
    }

    /// What this set's rules can read of each entry of `resource_changes`: building
    /// only that part of each change changes no verdict. Everything when the set does
    /// not compile.
    pub fn change_projection(&self) -> Projection {
        match &self.compiled {
            Ok(c) => c.changes.clone(),
            Err(_) => Projection::all(),
        }
    }

    /// Whether some rules read one change at a time (what feeding changes early
    /// speeds up).
    #[cfg(test)]
    pub(crate) fn reads_changes_one_by_one(&self) -> bool {
        !self.split.is_empty()
    }

    /// Keeps one entry of `resource_changes` for [`Evaluation::finish`], which splits
    /// what it is given over every core: for changes that are all there already.
    pub fn keep(&mut self, change: Value) {
        if !self.split.is_empty() {
            self.batch.push(change);
        }
    }

    /// Feeds one entry of `resource_changes` (in the document's shape) while the plan
    /// is being made: the per-change rules run on every full batch.
    pub fn push(&mut self, change: Value) {
        if self.split.is_empty() {
            return;
        }
        self.batch.push(change);
        if self.batch.len() >= BATCH {
            let batch = std::mem::take(&mut self.batch);
            let started = std::time::Instant::now();
            if let Ok(c) = &mut self.compiled {
                let values = eval_part(&mut c.engine, &self.split, batch);
                merge(&mut self.results, &self.split, values);
            }
            self.spent += started.elapsed();
        }
    }

    /// Evaluates what is left against `input`, the whole document (whose
    /// `resource_changes` must be every change fed, in the document's order): the
    /// per-change rules on the changes not yet evaluated, split over every core on a
    /// large plan, while the other rules read `input`.
    pub fn finish(self, input: &Value) -> SetOutcome {
        self.finish_in_parts(input, cores(), SPLIT_MIN_CHANGES)
    }

    /// [`Evaluation::finish`], splitting the changes left into `parts` when there are
    /// at least `min_changes`.
    pub(crate) fn finish_in_parts(
        mut self,
        input: &Value,
        parts: usize,
        min_changes: usize,
    ) -> SetOutcome {
        let mut out = SetOutcome {
            name: self.name,
            level: self.level,
            denials: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
        };
        let mut compiled = match self.compiled {
            Ok(c) => c,
            Err(errors) => {
                out.errors = errors;
                return out;
            }
        };
        let split = self.split;
        let whole: Vec<String> = compiled
            .modules
            .iter()
            .flat_map(|m| {
                m.results
                    .iter()
                    .map(|(rule, _)| format!("{}.{rule}", m.package))
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|p| !split.contains(p))
            .collect();
        let parts = if self.batch.len() >= min_changes {
            parts.max(1)
        } else {
            1
        };
        let batch = std::mem::take(&mut self.batch);
        let mut results = self.results;
        // With no change at all, the per-change rules still run once (on none), so
        // that one that cannot be evaluated fails as it would on the whole document.
        if batch.is_empty() && split.iter().any(|p| !results.contains_key(p)) {
            let values = eval_part(&mut compiled.engine, &split, Vec::new());
            merge(&mut results, &split, values);
        }
        let started = std::time::Instant::now();
        std::thread::scope(|scope| {
            let workers: Vec<_> = batch
                .chunks(batch.len().div_ceil(parts).max(1))
                .filter(|_| !split.is_empty())
                .map(|chunk| {
                    let mut engine = compiled.engine.clone();
                    let split = &split;
                    scope.spawn(move || eval_part(&mut engine, split, chunk.to_vec()))
                })
                .collect();
            compiled.engine.set_input(input.clone());
            for p in &whole {
                results.insert(p.clone(), eval_one(&mut compiled.engine, p));
            }
            for w in workers {
                let values = w
                    .join()
                    .unwrap_or_else(|_| vec![Err("evaluation panicked".to_string()); split.len()]);
                merge(&mut results, &split, values);
            }
        });
        tracing::debug!(
            set = %out.name,
            ?split,
            ?whole,
            parts,
            fed_ms = self.spent.as_secs_f64() * 1e3,
            ms = started.elapsed().as_secs_f64() * 1e3,
            "policy set evaluated"
        );
        // A rule's result is reported once, credited to the files that hold the rule
        // (a package's other files do not repeat it).
        let mut holders: std::collections::BTreeMap<String, (bool, Vec<&str>)> =
            std::collections::BTreeMap::new();
        for m in &compiled.modules {
            for (rule, blocks) in &m.results {
                holders
                    .entry(format!("{}.{rule}", m.package))
                    .or_insert((*blocks, Vec::new()))
                    .1
                    .push(&m.file);
            }
        }
        for (path, (blocks, files)) in &holders {
            let file = files.join(", ");
            match results.get(path) {
                Some(Ok(v)) => {
                    let verdicts = verdicts(v, path, &file);
                    if *blocks {
                        out.denials.extend(verdicts);
                    } else {
                        out.warnings.extend(verdicts);
                    }
                }
                Some(Err(e)) => out
                    .errors
                    .push(format!("{file}: evaluating {path} failed: {e}")),
                None => {}
            }
        }
        out
    }
}

/// The per-change rules `split` over some of the changes.
fn eval_part(
    engine: &mut Engine,
    split: &[String],
    changes: Vec<Value>,
) -> Vec<Result<Value, String>> {
    let part = [(Value::from("resource_changes"), Value::from(changes))];
    engine.set_input(Value::from(
        part.into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
    ));
    split.iter().map(|p| eval_one(engine, p)).collect()
}

/// Adds one part's results of the per-change rules to those of the parts before.
fn merge(
    results: &mut std::collections::BTreeMap<String, Result<Value, String>>,
    split: &[String],
    values: Vec<Result<Value, String>>,
) {
    for (p, v) in split.iter().zip(values) {
        let merged = match (results.remove(p), v) {
            (None, v) => v,
            (Some(Err(e)), _) | (_, Err(e)) => Err(e),
            (Some(Ok(a)), Ok(b)) => union(a, b),
        };
        results.insert(p.clone(), merged);
    }
}

fn eval_one(engine: &mut Engine, path: &str) -> Result<Value, String> {
    engine
        .eval_rule(path.to_string())
        .map_err(|e| first_line(&e.to_string()))
}

/// The union of two parts' results of a partial set rule.
/// Anything but sets cannot come from a per-change rule: it is an error rather than a
/// result that would silently lose a part.
fn union(a: Value, b: Value) -> Result<Value, String> {
    match (a, b) {
        (Value::Set(a), Value::Set(b)) => {
            let mut all: BTreeSet<Value> = a.iter().cloned().collect();
            all.extend(b.iter().cloned());
            Ok(Value::from(all))
        }
        (Value::Undefined, v @ Value::Set(_)) | (v @ Value::Set(_), Value::Undefined) => Ok(v),
        (Value::Undefined, Value::Undefined) => Ok(Value::Undefined),
        (a, b) => Err(format!(
            "a rule evaluated on parts of the plan gave {a} and {b}, which do not combine"
        )),
    }
}

/// The messages of one result rule: a set or array of strings or `{msg: ...}` objects,
/// or a boolean for a complete rule (`deny if { ... }`).
fn verdicts(v: &Value, rule: &str, file: &str) -> Vec<Verdict> {
    let one = |item: &Value| -> Verdict {
        let json: serde_json::Value = serde_json::to_value(item).unwrap_or_default();
        let (message, details) = match &json {
            serde_json::Value::String(s) => (s.clone(), None),
            serde_json::Value::Object(o) => (
                o.get("msg")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| json.to_string()),
                Some(json.clone()),
            ),
            other => (other.to_string(), None),
        };
        Verdict {
            rule: rule.to_string(),
            file: file.to_string(),
            message,
            details,
        }
    };
    match v {
        Value::Set(items) => items.iter().map(one).collect(),
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Bool(true) => vec![Verdict {
            rule: rule.to_string(),
            file: file.to_string(),
            message: format!("{rule} is true"),
            details: None,
        }],
        Value::Bool(false) | Value::Undefined | Value::Null => Vec::new(),
        Value::String(_) | Value::Object(_) | Value::Number(_) => vec![one(v)],
    }
}

/// One `test_` rule's result.
#[derive(Clone, Debug)]
pub struct TestResult {
    /// `data.<package>.<test name>`.
    pub name: String,
    pub file: String,
    pub passed: bool,
    /// Why it failed, when it errored rather than evaluating to false.
    pub error: Option<String>,
    pub duration: std::time::Duration,
}

/// Runs every `test_` rule of a set, like `opa test`: a test passes when it evaluates
/// to true. The set's files must parse.
pub fn run_tests(set: &PolicySet) -> Result<Vec<TestResult>, Vec<String>> {
    let mut compiled = compile(&set.files)?;
    let mut out = Vec::new();
    for m in &compiled.modules {
        for t in &m.tests {
            let name = format!("{}.{t}", m.package);
            let start = std::time::Instant::now();
            let r = compiled.engine.eval_rule(name.clone());
            let duration = start.elapsed();
            let (passed, error) = match r {
                Ok(Value::Bool(true)) => (true, None),
                Ok(_) => (false, None),
                Err(e) => (false, Some(first_line(&e.to_string()))),
            };
            out.push(TestResult {
                name,
                file: m.file.clone(),
                passed,
                error,
                duration,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(files: &[(&str, &str)]) -> PolicySet {
        PolicySet {
            name: "t".into(),
            level: Enforcement::HardMandatory,
            files: files
                .iter()
                .map(|(p, t)| PolicyFile {
                    path: p.to_string(),
                    text: t.to_string(),
                })
                .collect(),
        }
    }

    const INPUT: &str = r#"{"resource_changes": [{"address": "aws_s3_bucket.a", "type": "aws_s3_bucket", "change": {"actions": ["create"], "after": {"acl": "public-read"}}}]}"#;

    #[test]
    fn classic_and_v1_syntax_both_evaluate_in_one_set() {
        let s = set(&[
            (
                "classic.rego",
                "package classic\ndeny[msg] {\n  r := input.resource_changes[_]\n  r.change.after.acl == \"public-read\"\n  msg := sprintf(\"%s is public\", [r.address])\n}\n",
            ),
            (
                "modern.rego",
                "package modern\nwarn contains {\"msg\": m, \"id\": \"X1\"} if {\n  some r in input.resource_changes\n  m := concat(\" \", [r.address, \"checked\"])\n}\n",
            ),
        ]);
        let out = evaluate(&s, &input_value(serde_json::from_str(INPUT).unwrap()));
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.denials.len(), 1);
        assert_eq!(out.denials[0].message, "aws_s3_bucket.a is public");
        assert_eq!(out.denials[0].rule, "data.classic.deny");
        assert_eq!(out.warnings.len(), 1);
        assert_eq!(out.warnings[0].message, "aws_s3_bucket.a checked");
        assert_eq!(out.warnings[0].details.as_ref().unwrap()["id"], "X1");
        assert!(out.blocks(false));
    }

    #[test]
    fn a_file_that_does_not_parse_fails_the_set_with_its_location() {
        let s = set(&[(
            "bad.rego",
            "package bad\n\ndeny contains msg if {\n  msg := \n}\n",
        )]);
        let out = evaluate(&s, &input_value(serde_json::from_str(INPUT).unwrap()));
        assert!(out.failed());
        assert!(out.errors[0].contains("bad.rego:"), "{}", out.errors[0]);
    }

    #[test]
    fn an_error_during_evaluation_fails_the_set() {
        // A rule calling a function that does not exist cannot be evaluated: the set
        // fails instead of passing with no denials.
        let s = set(&[(
            "undef.rego",
            "package undef\nimport rego.v1\ndeny contains msg if {\n  msg := no_such_function(input)\n}\n",
        )]);
        let out = evaluate(&s, &input_value(serde_json::from_str(INPUT).unwrap()));
        assert!(out.failed(), "{out:?}");
        assert!(out.denials.is_empty());
    }

    #[test]
    fn enforcement_levels_decide_what_blocks() {
        let mut o = SetOutcome {
            name: "x".into(),
            level: Enforcement::Advisory,
            denials: vec![Verdict {
                rule: "data.p.deny".into(),
                file: "p.rego".into(),
                message: "no".into(),
                details: None,
            }],
            warnings: vec![],
            errors: vec![],
        };
        assert!(!o.blocks(false));
        o.level = Enforcement::SoftMandatory;
        assert!(o.blocks(false) && !o.blocks(true));
        o.level = Enforcement::HardMandatory;
        assert!(o.blocks(true));
    }

    #[test]
    fn test_rules_pass_and_fail_like_opa_test() {
        let s = set(&[(
            "p.rego",
            "package p\nimport rego.v1\ndeny contains \"open\" if input.port == 22\n\ntest_ssh_denied if {\n  deny with input as {\"port\": 22}\n}\n\ntest_https_allowed if {\n  count(deny) == 1 with input as {\"port\": 443}\n}\n",
        )]);
        let results = run_tests(&s).unwrap();
        let by: Vec<(&str, bool)> = results
            .iter()
            .map(|r| (r.name.as_str(), r.passed))
            .collect();
        assert_eq!(
            by,
            vec![
                ("data.p.test_ssh_denied", true),
                ("data.p.test_https_allowed", false)
            ]
        );
    }

    #[test]
    fn input_keys_names_what_policies_read() {
        let keys = |src: &str| input_keys([src]).map(|k| k.into_iter().collect::<Vec<_>>());
        let policy = r#"package p
import rego.v1
import input.variables as vars
# input is whole here, but only in a comment
deny contains msg if {
    some rc in input.resource_changes
    rc.change.after.input == "input"
    x := input ["planned_values"].root_module
    msg := `input`
}"#;
        assert_eq!(
            keys(policy),
            Some(vec![
                "planned_values".into(),
                "resource_changes".into(),
                "variables".into()
            ])
        );
        // Anything but a named field reads the whole document.
        for whole in [
            "package p\nallow if { walk(input, [_, _]) }",
            "package p\nallow if { some k; input[k] }",
            "package p\nallow if { count(input) > 1 }",
            "package p\nimport input\nallow if { input.x }",
            "package p\nallow if { input[\"a\\\"b\"] }",
            "package p\ntest_x if { allow with input as {} }",
        ] {
            assert_eq!(keys(whole), None, "{whole}");
        }
    }
}
