//! Policy as code on a workspace: the check every plan and apply runs (the
//! workspace's policy sets, its budgets and the built-in security scan, against the
//! plan document), the scan of an offline plan, and the compliance of the current
//! state. Results are values ([`Checked`], [`Gate`]); the CLI prints them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use terrane_core::diag::LineIndex;
use terrane_core::{SourceMap, Span};
use terrane_engine::{json, Observer, Plan};
use terrane_lang::Module;
use terrane_policy::rego::{self, Enforcement, PolicySet, SetOutcome};
use terrane_policy::scan::{self, ConfigSuppression, Declaration, ScanReport, Scanner};
use terrane_state::lock;

use crate::cost::PlanPrice;
use crate::Workspace;

/// The policy input: the plan in Terraform's JSON plan format with its `configuration`.
pub fn document(plan: &Plan, ws: &Workspace) -> serde_json::Value {
    document_parts(plan, ws, &PlanPrice::default(), &|_| true)
}

/// The plan document with only the top-level keys `part` accepts; `cost` is the
/// plan's price, priced here unless it already was.
fn document_parts(
    plan: &Plan,
    ws: &Workspace,
    price: &PlanPrice,
    part: &dyn Fn(&str) -> bool,
) -> serde_json::Value {
    let mut doc = json::plan_json_parts(plan, &|_| true, part);
    if part("configuration") {
        doc["configuration"] = json::configuration_json(&ws.module, &ws.registry);
    }
    if part("relevant_attributes") {
        let attrs = terrane_engine::relevant::relevant_attributes(&ws.module, plan);
        if !attrs.is_empty() {
            doc["relevant_attributes"] = attrs.iter().map(|r| r.to_json()).collect();
        }
    }
    if part("cost") {
        doc["cost"] = price.json(ws, plan);
    }
    doc
}

/// What the built-in scan reads of a plan, built directly: the changes and
/// configuration of the types its rules read and of resources whose configuration
/// could hold a literal secret. On a large plan of other types this skips most of the
/// document (see [`scan::relevant_part`], which it agrees with).
fn scan_document_of(plan: &Plan, ws: &Workspace) -> serde_json::Value {
    use terrane_lang::ast::TemplatePart;
    use terrane_lang::ExprKind;
    fn literal_keys(e: &terrane_lang::Expr) -> bool {
        match &e.kind {
            ExprKind::Object(items) => items.iter().any(|(k, v)| {
                let key = k
                    .as_literal_str()
                    .map(str::to_string)
                    .or_else(|| k.as_traversal_path());
                key.is_some_and(|k| scan::secret_like(&k)) || literal_keys(v)
            }),
            ExprKind::Tuple(items) => items.iter().any(literal_keys),
            ExprKind::Template(parts) => parts
                .iter()
                .any(|p| matches!(p, TemplatePart::Interp(e) if literal_keys(e))),
            _ => false,
        }
    }
    fn body_may_hold_secret(b: &terrane_lang::Body) -> bool {
        b.attrs
            .iter()
            .any(|(name, a)| scan::secret_like(name) || literal_keys(&a.expr))
            || b.blocks.iter().any(|nb| body_may_hold_secret(&nb.body))
    }
    fn collect(m: &Module, prefix: &str, out: &mut std::collections::HashSet<String>) {
        for (key, r) in &m.resources {
            if scan::pack_types().contains(&r.type_name) || body_may_hold_secret(&r.body) {
                out.insert(format!("{prefix}{key}"));
            }
        }
        for c in m.module_calls.values() {
            collect(&c.module, &format!("{prefix}module.{}.", c.name), out);
        }
    }
    let mut kept = std::collections::HashSet::new();
    collect(&ws.module, "", &mut kept);
    let types = scan::pack_types();
    // Of the plan, the pack reads only `resource_changes` (and `configuration`, below):
    // not `prior_state`, which on a large state is most of the document.
    let keep = |c: &terrane_engine::plan::ResourceChange| {
        types.contains(&c.addr.resource.type_name)
            || (!kept.is_empty() && kept.contains(&scan::declaration_key(&c.addr.to_string())))
    };
    let mut doc = json::plan_json_parts(plan, &keep, &|part| part == "resource_changes");
    doc["configuration"] = json::configuration_json_where(&ws.module, &ws.registry, &|r| {
        types.contains(&r.type_name) || body_may_hold_secret(&r.body)
    });
    doc
}

/// Byte offset → line, per file, computed once.
pub struct Lines<'s> {
    sources: &'s SourceMap,
    index: BTreeMap<String, LineIndex>,
}

impl<'s> Lines<'s> {
    pub fn new(sources: &'s SourceMap) -> Lines<'s> {
        let index = sources
            .iter()
            .map(|(name, text)| (name.to_string(), LineIndex::new(text)))
            .collect();
        Lines { sources, index }
    }

    fn line(&self, file: &str, offset: usize) -> usize {
        self.index.get(file).map_or(1, |i| i.line(offset))
    }

    /// The text of a line (1-based), without its line break; constant time.
    pub fn text(&self, file: &str, line: usize) -> Option<&'s str> {
        self.index.get(file)?.text(self.sources.get(file)?, line)
    }

    /// A block's declaration, with the suppression comments inside it and in the
    /// comment lines right above it.
    fn declaration(&self, header: &Span, end: Option<&Span>) -> Declaration {
        let file = header.file.to_string();
        let first = self.line(&file, header.start);
        let last = end.map(|e| self.line(&file, e.end)).unwrap_or(first);
        let mut top = first;
        while top > 1 {
            let above = self.text(&file, top - 1).unwrap_or_default().trim_start();
            if above.starts_with('#') || above.starts_with("//") {
                top -= 1;
            } else {
                break;
            }
        }
        let lines = (top..=last).filter_map(|n| self.text(&file, n).map(|t| (n, t)));
        let inline = scan::inline_suppressions(lines);
        Declaration {
            file,
            line: first,
            inline,
        }
    }
}

/// Where every resource, variable and provider of the configuration is declared.
/// Where the resources, variables and providers of the configuration are declared:
/// those named in `wanted` (the findings), and every block of a file that has a
/// suppression comment (so that each comment is checked). Other blocks are skipped:
/// on a large configuration they are most of the work and nothing reads them.
fn declarations(
    ws: &Workspace,
    wanted: &std::collections::HashSet<String>,
) -> BTreeMap<String, Declaration> {
    struct Walk<'a, 's> {
        lines: &'a Lines<'s>,
        marked: std::collections::HashSet<String>,
        wanted: &'a std::collections::HashSet<String>,
        out: BTreeMap<String, Declaration>,
    }
    impl Walk<'_, '_> {
        fn add(&mut self, key: String, header: &Span, end: Option<&Span>) {
            if self.wanted.contains(&key) || self.marked.contains(&*header.file) {
                let d = self.lines.declaration(header, end);
                self.out.insert(key, d);
            }
        }
        fn module(&mut self, m: &Module, prefix: &str) {
            for (key, r) in &m.resources {
                self.add(format!("{prefix}{key}"), &r.span, r.body.span.as_ref());
            }
            for v in m.variables.values() {
                self.add(format!("{prefix}var.{}", v.name), &v.span, None);
            }
            if prefix.is_empty() {
                for p in &m.providers {
                    let key = match &p.alias {
                        Some(a) => format!("provider.{}.{a}", p.name),
                        None => format!("provider.{}", p.name),
                    };
                    self.add(key, &p.span, p.body.span.as_ref());
                }
            }
            for c in m.module_calls.values() {
                self.module(&c.module, &format!("{prefix}module.{}.", c.name));
            }
        }
    }
    let lines = Lines::new(&ws.sources);
    let marked = ws
        .sources
        .iter()
        .filter(|(_, text)| text.contains(scan::IGNORE_MARK))
        .map(|(name, _)| name.to_string())
        .collect();
    let mut walk = Walk {
        lines: &lines,
        marked,
        wanted,
        out: BTreeMap::new(),
    };
    walk.module(&ws.module, "");
    walk.out
}

fn config_suppressions(ws: &Workspace) -> Vec<ConfigSuppression> {
    let lines = Lines::new(&ws.sources);
    ws.module
        .scan
        .suppressions
        .iter()
        .map(|s| ConfigSuppression {
            rule: s.rule.clone(),
            address: s.address.clone(),
            reason: s.reason.clone(),
            origin: format!("{}:{}", s.span.file, lines.line(&s.span.file, s.span.start)),
        })
        .collect()
}

/// The managed resource instances of a plan (what `resource_changes` lists of them).
fn managed_changes(plan: &Plan) -> usize {
    plan.changes
        .iter()
        .filter(|c| c.addr.resource.mode == terrane_core::ResourceMode::Managed)
        .count()
}

/// Runs the built-in rule pack over a plan document.
pub fn scan_document(ws: &Workspace, doc: &serde_json::Value) -> Result<ScanReport, Vec<String>> {
    let started = std::time::Instant::now();
    let part = scan::relevant_part(doc);
    let skip = scan::nothing_to_scan(&part);
    let input = rego::input_value(part);
    let converted = started.elapsed();
    let mut scanner = if skip { None } else { Some(Scanner::new()?) };
    let compiled = started.elapsed();
    let raw = match &mut scanner {
        Some(scanner) => scanner.run(&input)?,
        None => Vec::new(),
    };
    tracing::debug!(
        convert_ms = converted.as_secs_f64() * 1e3,
        compile_ms = (compiled - converted).as_secs_f64() * 1e3,
        run_ms = (started.elapsed() - compiled).as_secs_f64() * 1e3,
        skipped = skip,
        "scan of the plan document"
    );
    let wanted = raw
        .iter()
        .map(|f| scan::declaration_key(&f.address))
        .collect();
    let findings = scan::finish(raw, &declarations(ws, &wanted), &config_suppressions(ws))?;
    let resources = doc["resource_changes"]
        .as_array()
        .map(|a| a.iter().filter(|r| r["mode"] == "managed").count())
        .unwrap_or(0);
    Ok(ScanReport {
        findings,
        resources,
        rules: scan::rule_count(),
    })
}

/// The policy sets of a workspace: its `policy` blocks, its budgets, then `--policy`
/// paths (those are hard_mandatory).
pub fn policy_sets(ws: &Workspace, extra: &[PathBuf]) -> Result<Vec<PolicySet>, String> {
    let mut sets = Vec::new();
    for p in &ws.module.policies {
        let level = Enforcement::parse(&p.enforcement_level)
            .ok_or_else(|| format!("invalid enforcement level {:?}", p.enforcement_level))?;
        let path = ws.dir.join(&p.source);
        sets.push(PolicySet::load(&p.name, level, &path, &p.source).map_err(|e| e.to_string())?);
    }
    sets.extend(crate::cost::budget_sets(&ws.module.budgets)?);
    for path in extra {
        let shown = path.display().to_string();
        let full = ws.dir.join(path);
        sets.push(
            PolicySet::load(&shown, Enforcement::HardMandatory, &full, &shown)
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(sets)
}

/// `terrane validate`'s check of the policy sets: every file must load and parse.
pub fn validate_policies(ws: &Workspace) -> terrane_core::Diagnostics {
    let mut diags = terrane_core::Diagnostics::new();
    for p in &ws.module.policies {
        let problem = |detail: String| {
            terrane_core::Diagnostic::error(format!("Invalid policy set {:?}", p.name), detail)
                .with_span(Some(p.span.clone()))
        };
        let Some(level) = Enforcement::parse(&p.enforcement_level) else {
            continue;
        };
        match PolicySet::load(&p.name, level, &ws.dir.join(&p.source), &p.source) {
            Ok(set) => {
                if let Err(errors) = rego::compile(&set.files) {
                    diags.push(problem(errors.join("\n")));
                }
            }
            Err(e) => diags.push(problem(e.to_string())),
        }
    }
    diags
}

/// Evaluates the workspace's policy sets (plus `extra` paths) and, with `scan`, the
/// built-in scan against a document. A set or scan that cannot run is a failed outcome.
pub fn evaluate(
    ws: &Workspace,
    doc: serde_json::Value,
    extra: &[PathBuf],
    scan: bool,
) -> (Vec<SetOutcome>, Option<ScanReport>) {
    // The scan reads its part first; the policy sets then take the document itself.
    let scan = scan.then(|| scan_document(ws, &doc));
    let mut outcomes = evaluate_sets(policy_sets(ws, extra), || rego::input_value(doc));
    let scan = scan.and_then(|scan| scan_outcome(scan, &mut outcomes));
    (outcomes, scan)
}

/// Evaluates policy sets against the document `input` builds (only when there is a set
/// to read it). A set that cannot be loaded or evaluated is a failed outcome.
fn evaluate_sets(
    sets: Result<Vec<PolicySet>, String>,
    input: impl FnOnce() -> rego::Value,
) -> Vec<SetOutcome> {
    let sets = match to_evaluate(sets) {
        Ok(sets) => sets,
        Err(outcomes) => return outcomes,
    };
    let input = input();
    sets.iter().map(|s| rego::evaluate(s, &input)).collect()
}

/// The sets to evaluate, or the outcomes without evaluating: none for no sets, a failed
/// one when they could not be loaded.
fn to_evaluate(sets: Result<Vec<PolicySet>, String>) -> Result<Vec<PolicySet>, Vec<SetOutcome>> {
    match sets {
        Ok(sets) if sets.is_empty() => Err(Vec::new()),
        Ok(sets) => Ok(sets),
        Err(e) => Err(vec![failed_outcome("configuration", e)]),
    }
}

/// The built-in scan's report; a scan that could not run is a failed, hard-mandatory
/// outcome instead.
fn scan_outcome(
    scan: Result<ScanReport, Vec<String>>,
    outcomes: &mut Vec<SetOutcome>,
) -> Option<ScanReport> {
    match scan {
        Ok(r) => Some(r),
        Err(errors) => {
            outcomes.push(SetOutcome {
                name: "built-in scan".into(),
                level: Enforcement::HardMandatory,
                denials: Vec::new(),
                warnings: Vec::new(),
                errors,
            });
            None
        }
    }
}

/// What the policy check of a plan decided.
pub struct Gate {
    pub outcomes: Vec<SetOutcome>,
    pub scan: Option<ScanReport>,
    /// An apply must not go ahead.
    pub blocked: bool,
    /// Sets that failed but were overridden.
    pub overridden: Vec<String>,
}

/// What the policy sets and the built-in scan said about a plan.
pub struct Checked {
    pub outcomes: Vec<SetOutcome>,
    pub scan: Option<ScanReport>,
}

impl Checked {
    /// Decides whether an apply may go ahead; `override_reason` (from
    /// `--override-policy`) lets failing soft_mandatory sets pass.
    pub fn gate(self, override_reason: Option<&str>) -> Gate {
        let overridden = override_reason.is_some();
        let blocked = self.outcomes.iter().any(|o| o.blocks(overridden));
        let overridden_sets = self
            .outcomes
            .iter()
            .filter(|o| overridden && o.blocks(false) && !o.blocks(true))
            .map(|o| o.name.clone())
            .collect();
        Gate {
            outcomes: self.outcomes,
            scan: self.scan,
            blocked,
            overridden: overridden_sets,
        }
    }
}

/// The policy check of a plan, started before the plan is made. The policy sets are
/// loaded first; then, when the sets read `resource_changes` and the plan is fed
/// through [`PlanCheck::observer`], a worker thread builds every change into the
/// policies' input as soon as the engine settles it, and evaluates the rules that read
/// one change at a time on it — on the other core, while the plan is still being made.
/// [`PlanCheck::finish`] does what needs the whole plan.
pub struct PlanCheck {
    sets: Result<Vec<PolicySet>, String>,
    keys: Option<std::collections::BTreeSet<String>>,
    feed: Option<Feed>,
}

struct Feed {
    /// Changes go to the worker in batches: one message (and at most one wake-up of
    /// the worker) per [`FEED_BATCH`] changes keeps the planning thread's cost per
    /// change to an `Arc` clone.
    tx: std::sync::mpsc::Sender<Vec<std::sync::Arc<terrane_engine::ResourceChange>>>,
    pending: std::sync::Mutex<Vec<std::sync::Arc<terrane_engine::ResourceChange>>>,
    worker: std::thread::JoinHandle<Fed>,
}

const FEED_BATCH: usize = 128;

/// What the worker made of the changes fed to it.
struct Fed {
    evaluations: Vec<rego::Evaluation>,
    /// What any set can read of a change: only that is built.
    projection: terrane_core::doc::Projection,
    changes: Vec<(terrane_core::InstanceAddr, rego::Value)>,
    /// Provider source addresses, for `provider_name`.
    sources: terrane_provider::Sources,
}

impl Fed {
    fn new(sets: &[PolicySet], sources: terrane_provider::Sources) -> Fed {
        let evaluations: Vec<rego::Evaluation> = sets.iter().map(rego::Evaluation::new).collect();
        let mut projection = terrane_core::doc::Projection::none();
        evaluations
            .iter()
            .for_each(|e| projection.union(&e.change_projection()));
        Fed {
            evaluations,
            projection,
            changes: Vec::new(),
            sources,
        }
    }

    /// Takes one change: `early`, while the plan is made (the per-change rules run on
    /// each full batch); else kept for the end, which splits them over every core.
    fn push(&mut self, c: &terrane_engine::ResourceChange, early: bool) {
        let v = json::resource_change_doc_projected::<rego::RegoDoc>(
            c,
            &self.projection,
            &self.sources,
        )
        .0;
        for e in &mut self.evaluations {
            if early {
                e.push(v.clone());
            } else {
                e.keep(v.clone());
            }
        }
        self.changes.push((c.addr.clone(), v));
    }
}

impl PlanCheck {
    /// Loads the workspace's policy sets (and `extra` paths); with `feed`, starts the
    /// worker that takes changes while the plan is made.
    pub fn start(ws: &Workspace, extra: &[PathBuf], feed: bool) -> PlanCheck {
        let sets = policy_sets(ws, extra);
        let keys = sets.as_ref().ok().and_then(|sets| {
            rego::input_keys(sets.iter().flat_map(|s| &s.files).map(|f| f.text.as_str()))
        });
        let reads_changes = keys.as_ref().is_none_or(|k| k.contains("resource_changes"));
        let feed = match &sets {
            Ok(sets) if feed && reads_changes && !sets.is_empty() => {
                let sets = sets.clone();
                let sources = ws.registry.sources();
                let (tx, rx) = std::sync::mpsc::channel();
                let worker = std::thread::Builder::new()
                    .name("policy-feed".into())
                    .spawn(move || {
                        let mut fed = Fed::new(&sets, sources);
                        for batch in rx {
                            let batch: Vec<std::sync::Arc<terrane_engine::ResourceChange>> = batch;
                            batch.iter().for_each(|c| fed.push(c, true));
                        }
                        fed
                    })
                    .ok();
                worker.map(|worker| Feed {
                    tx,
                    pending: Default::default(),
                    worker,
                })
            }
            _ => None,
        };
        PlanCheck { sets, keys, feed }
    }

    /// The observer to plan with: `inner`, and every settled change to the worker.
    pub fn observer<'a>(&'a self, inner: &'a dyn Observer) -> impl Observer + 'a {
        Feeding { inner, check: self }
    }

    /// Evaluates the policy sets and runs the built-in scan against the finished plan,
    /// the scan on a thread of its own.
    /// `price` is the plan's price, shared with whoever else shows it.
    pub fn finish(self, ws: &Workspace, plan: &Plan, price: &PlanPrice) -> Checked {
        let start = std::time::Instant::now();
        std::thread::scope(|scope| {
            let scan = scope.spawn(|| {
                let started = std::time::Instant::now();
                let report = if ws.module.scan.on_plan {
                    // The scan reads only part of the plan; it checked every resource.
                    scan_document(ws, &scan_document_of(plan, ws)).map(|mut r| {
                        r.resources = managed_changes(plan);
                        Some(r)
                    })
                } else {
                    Ok(None)
                };
                (report, started.elapsed())
            });
            let mut outcomes = self.evaluate(ws, plan, price);
            let (scan, scanned) = scan
                .join()
                .unwrap_or_else(|_| (Err(vec!["the scan panicked".into()]), start.elapsed()));
            let scan = scan
                .transpose()
                .and_then(|scan| scan_outcome(scan, &mut outcomes));
            // bench/policy.py reads this line to weigh the check against the whole plan.
            tracing::debug!(
                scan_ms = scanned.as_secs_f64() * 1e3,
                total_ms = start.elapsed().as_secs_f64() * 1e3,
                sets = outcomes.len(),
                "policy check of the plan"
            );
            Checked { outcomes, scan }
        })
    }

    fn evaluate(self, ws: &Workspace, plan: &Plan, price: &PlanPrice) -> Vec<SetOutcome> {
        let sets = match to_evaluate(self.sets) {
            Ok(sets) => sets,
            Err(outcomes) => return outcomes,
        };
        let started = std::time::Instant::now();
        let keys = self.keys.as_ref();
        let wants = |k: &str| keys.is_none_or(|keys| keys.contains(k));
        let mut input = rego::input_value(document_parts(plan, ws, price, &|k| {
            k != "resource_changes" && wants(k)
        }));
        let fed = self.feed.and_then(|feed| {
            let rest = std::mem::take(&mut *feed.pending.lock().ok()?);
            let _ = feed.tx.send(rest);
            drop(feed.tx);
            let mut fed = feed.worker.join().ok()?;
            // What was fed must be the plan's changes exactly (a `-target` plan drops
            // some after planning): else everything is evaluated again below.
            fed.changes.sort_by(|a, b| a.0.cmp(&b.0));
            let same = fed.changes.len() == plan.changes.len()
                && fed
                    .changes
                    .iter()
                    .zip(&plan.changes)
                    .all(|(f, c)| f.0 == c.addr);
            same.then_some(fed)
        });
        let was_fed = fed.is_some();
        let fed = fed.unwrap_or_else(|| {
            let mut fed = Fed::new(&sets, plan.provider_sources.clone());
            if wants("resource_changes") {
                plan.changes.iter().for_each(|c| fed.push(c, false));
            }
            fed
        });
        let built = started.elapsed();
        if wants("resource_changes") {
            let changes: Vec<rego::Value> = fed.changes.into_iter().map(|(_, v)| v).collect();
            if let Ok(o) = input.as_object_mut() {
                o.insert(
                    rego::Value::from("resource_changes"),
                    rego::Value::from(changes),
                );
            }
        }
        let outcomes = fed
            .evaluations
            .into_iter()
            .map(|e| e.finish(&input))
            .collect();
        // Freeing a large plan's input value by value takes about 20 ms per 10,000
        // changes: done on the side, the verdicts need not wait for it.
        let _ = std::thread::Builder::new()
            .name("policy-free".into())
            .spawn(move || drop(input));
        tracing::debug!(
            was_fed,
            input_ms = built.as_secs_f64() * 1e3,
            evaluate_ms = (started.elapsed() - built).as_secs_f64() * 1e3,
            parts = ?keys,
            "policy sets evaluated"
        );
        outcomes
    }
}

struct Feeding<'a> {
    inner: &'a dyn Observer,
    check: &'a PlanCheck,
}

impl Observer for Feeding<'_> {
    fn event(&self, event: terrane_engine::Event) {
        self.inner.event(event);
    }

    fn planned_change(&self, change: &std::sync::Arc<terrane_engine::ResourceChange>) {
        if let Some(feed) = &self.check.feed {
            if let Ok(mut pending) = feed.pending.lock() {
                pending.push(change.clone());
                if pending.len() >= FEED_BATCH {
                    let _ = feed.tx.send(std::mem::take(&mut *pending));
                }
            }
        }
        self.inner.planned_change(change);
    }
}

fn failed_outcome(name: &str, error: String) -> SetOutcome {
    SetOutcome {
        name: name.into(),
        level: Enforcement::HardMandatory,
        denials: Vec::new(),
        warnings: Vec::new(),
        errors: vec![error],
    }
}

/// Appends an entry to the workspace's audit log (`.terrane/audit.jsonl`, next to
/// the state): who overrode which failing policy sets, why, and when.
pub fn record_override(
    ws: &Workspace,
    sets: &[String],
    reason: &str,
    operation: &str,
) -> Result<(), String> {
    let dir = ws.local_dir();
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("audit.jsonl");
    let entry = serde_json::json!({
        "time": format!("{} UTC", lock::format_time(lock::now_secs())),
        "user": lock::username(),
        "event": "policy_override",
        "operation": operation,
        "policy_sets": sets,
        "reason": reason,
    });
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot write the audit log {}: {e}", path.display()))?;
    writeln!(f, "{entry}")
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write the audit log {}: {e}", path.display()))
}

/// Evaluates the policy sets and the built-in scan against the workspace's current
/// state (read without taking the lock, as a plan in which nothing changes).
pub fn evaluate_state(dir: &Path) -> Result<(Vec<SetOutcome>, Option<ScanReport>, u64), String> {
    let (ws, diags) = Workspace::load(dir);
    if diags.has_errors() {
        let first = diags
            .iter()
            .next()
            .map(|d| d.summary.clone())
            .unwrap_or_default();
        return Err(format!("the configuration does not load: {first}"));
    }
    let snapshot = if ws.state_may_exist()? {
        let backend = ws.open_backend()?;
        backend.read_current().map_err(|e| e.to_string())?
    } else {
        terrane_state::Snapshot::default()
    };
    let mut doc = json::state_plan_json(&snapshot);
    doc["configuration"] = json::configuration_json(&ws.module, &ws.registry);
    doc["cost"] = crate::cost::state_cost_json(&ws, &snapshot);
    let (outcomes, scan) = evaluate(&ws, doc, &[], true);
    Ok((outcomes, scan, snapshot.serial))
}

pub fn problems(outcomes: &[SetOutcome], scan: Option<&ScanReport>) -> Vec<String> {
    let mut out = Vec::new();
    for o in outcomes {
        for e in &o.errors {
            out.push(format!("policy set {:?}: {e}", o.name));
        }
        for d in &o.denials {
            out.push(format!("policy set {:?}: {}", o.name, d.message));
        }
    }
    if let Some(r) = scan {
        for f in r.active() {
            out.push(format!("{} {}: {}", f.rule, f.address, f.message));
        }
    }
    out
}

/// The check `terrane agent` runs on an interval.
pub fn compliance(dir: &Path) -> Result<terrane_agent::compliance::Compliance, String> {
    let (outcomes, scan, _) = evaluate_state(dir)?;
    let problems = problems(&outcomes, scan.as_ref());
    Ok(terrane_agent::compliance::Compliance {
        compliant: problems.is_empty(),
        problems,
        checked_at: 0,
    })
}
