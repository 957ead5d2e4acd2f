//! Planning: compare the configuration with the refreshed prior state and decide, for
//! every resource instance, whether to create, update in place, replace, delete, read
//! or leave it alone — and why.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;

use terrane_core::{
    Diagnostic, Diagnostics, InstanceAddr, InstanceKey, ModulePath, ResourceAddr, ResourceMode,
    Value,
};
use terrane_lang::config::Resource;
use terrane_lang::Reference;
use terrane_provider::{Applied, Schema};
use terrane_state::{InstanceState, OutputState, Snapshot};
use tokio::sync::Semaphore;

use crate::graph::{walk, NodeOutcome};
use crate::model::{resource_addr, resource_schema, Model, NodeKind};
use crate::run::{Expansion, RawVar, Run};
use crate::store::{Repetition, ResourceValues};
use crate::{Event, Observer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    NoOp,
    Create,
    Read,
    Update,
    DeleteThenCreate,
    CreateThenDelete,
    Delete,
    /// Taken out of state, the real object left alone (a `removed` block with
    /// `destroy = false`).
    Forget,
}

impl Action {
    /// Terraform's `change.actions` list.
    pub fn json_actions(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Read => &["read"],
            Action::Update => &["update"],
            Action::DeleteThenCreate => &["delete", "create"],
            Action::CreateThenDelete => &["create", "delete"],
            Action::Delete => &["delete"],
            Action::Forget => &["forget"],
        }
    }

    pub fn from_json_actions(actions: &[String]) -> Option<Action> {
        let a: Vec<&str> = actions.iter().map(String::as_str).collect();
        [
            Action::NoOp,
            Action::Create,
            Action::Read,
            Action::Update,
            Action::DeleteThenCreate,
            Action::CreateThenDelete,
            Action::Delete,
            Action::Forget,
        ]
        .into_iter()
        .find(|x| x.json_actions() == a.as_slice())
    }

    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }

    pub fn deletes(self) -> bool {
        matches!(
            self,
            Action::Delete | Action::DeleteThenCreate | Action::CreateThenDelete
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResourceChange {
    pub addr: InstanceAddr,
    pub provider: String,
    pub action: Action,
    /// Prior (refreshed) object, with sensitive marks.
    pub before: Option<Value>,
    /// Planned object, with unknown and sensitive marks.
    pub after: Option<Value>,
    /// Attributes that force replacement; also what else does, in parentheses
    /// (`(-replace)`, `(replace_triggered_by ADDR)`), for the human plan.
    pub replace_paths: Vec<String>,
    /// Terraform's `action_reason`.
    pub reason: Option<String>,
    pub dependencies: Vec<String>,
    pub create_before_destroy: bool,
}

impl ResourceChange {
    /// The attribute paths of `replace_paths`, without the reasons written in
    /// parentheses (plan JSON lists attributes only).
    pub fn attribute_replace_paths(&self) -> impl Iterator<Item = &String> {
        self.replace_paths.iter().filter(|p| !p.starts_with('('))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutputChange {
    pub name: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub sensitive: bool,
}

impl OutputChange {
    pub fn action(&self) -> Action {
        match (&self.before, &self.after) {
            (None, Some(_)) => Action::Create,
            (Some(_), None) => Action::Delete,
            (Some(b), Some(a)) if b.same_as(a) && a.is_wholly_known() => Action::NoOp,
            (Some(_), Some(_)) => Action::Update,
            (None, None) => Action::NoOp,
        }
    }
}

/// An object that changed outside terrane since the last apply.
#[derive(Clone, Debug, PartialEq)]
pub struct Drift {
    pub addr: InstanceAddr,
    pub before: Value,
    /// None when the object was deleted.
    pub after: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Plan {
    pub lineage: String,
    pub prior_serial: u64,
    pub destroy: bool,
    pub targets: Vec<String>,
    pub variables: BTreeMap<String, RawVar>,
    /// Root variables declared sensitive (their values are never shown).
    pub sensitive_variables: BTreeSet<String>,
    /// Every root variable's value as the plan evaluated it, defaults included (for
    /// the JSON document; a saved plan replays `variables`).
    pub variable_values: BTreeMap<String, Value>,
    pub changes: Vec<ResourceChange>,
    pub outputs: Vec<OutputChange>,
    pub drift: Vec<Drift>,
    /// The refreshed prior state.
    pub prior: Snapshot,
    /// SHA-256 over the configuration files the plan was made from.
    pub config_digest: String,
    /// True when planning failed part-way (only used for reporting).
    pub errored: bool,
    /// Objects the configuration's `moved` blocks renamed (`prior` has them at their
    /// new addresses already); the apply writes the renames to state.
    pub moves: Vec<crate::moves::Move>,
    /// A refresh-only plan: its changes are the drift, which applying records.
    pub refresh_only: bool,
    /// Objects `import` blocks bring under management (address, ID); `prior` holds
    /// them as read, and the apply records them.
    pub imports: Vec<(InstanceAddr, String)>,
    /// When the plan was made (RFC 3339, UTC), as `plantimestamp()` gives it.
    pub timestamp: String,
    /// Each provider's full source address by local name (plan JSON's `provider_name`).
    pub provider_sources: terrane_provider::Sources,
    /// Root outputs a targeted plan leaves out of its JSON, as Terraform does: those
    /// that depend on a resource outside the targets and what they depend on.
    pub untargeted_outputs: BTreeSet<String>,
    /// The checkable objects' results as plan JSON's `checks` (an array; null when
    /// there are none).
    pub checks: serde_json::Value,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| !matches!(c.action, Action::NoOp | Action::Read))
            || self.outputs.iter().any(|o| o.action() != Action::NoOp)
            || !self.moves.is_empty()
            || !self.imports.is_empty()
            || (self.refresh_only && !self.drift.is_empty())
    }

    /// (to add, to change, to destroy), counting a replacement as one add and one destroy.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for ch in &self.changes {
            match ch.action {
                Action::Create => c.0 += 1,
                Action::Update => c.1 += 1,
                Action::Delete => c.2 += 1,
                Action::DeleteThenCreate | Action::CreateThenDelete => {
                    c.0 += 1;
                    c.2 += 1;
                }
                Action::NoOp | Action::Read | Action::Forget => {}
            }
        }
        c
    }
}

#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub destroy: bool,
    pub refresh: bool,
    pub targets: Vec<InstanceAddr>,
    pub parallelism: usize,
    /// Plan without reading anything real: data sources are left unknown (as if their
    /// arguments were), for `terrane scan`, which needs no state and no credentials.
    /// Combine with `refresh: false` and an empty prior state.
    pub offline: bool,
    /// Instances to replace although nothing forces it (Terraform's `-replace`).
    pub replace: Vec<InstanceAddr>,
    /// Plan only to record what changed outside terrane (`-refresh-only`): no
    /// resource changes; applying writes the refreshed objects to state.
    pub refresh_only: bool,
}

struct Planner<'c> {
    run: Run<'c>,
    prior_by_resource: HashMap<ResourceAddr, Vec<&'c InstanceState>>,
    /// What `removed` blocks with `destroy = false` name: forgotten, not destroyed.
    forget: Vec<crate::moves::Endpoint>,
    opts: &'c PlanOptions,
    root_vars: &'c BTreeMap<String, RawVar>,
    /// Shared with the observer, which may still hold some when the plan is done.
    changes: RefCell<Vec<std::sync::Arc<ResourceChange>>>,
    drift: RefCell<Vec<Drift>>,
    refreshed: RefCell<BTreeMap<InstanceAddr, InstanceState>>,
    /// Resource addresses (as strings) with a planned change, for replace_triggered_by.
    changed: RefCell<BTreeSet<String>>,
    /// Objects `import` blocks brought in (address, ID).
    imported: RefCell<Vec<(InstanceAddr, String)>>,
    semaphore: Semaphore,
    observer: &'c dyn Observer,
}

/// Plans the changes that make the real world match the configuration.
// The arguments are the operation's independent inputs; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub async fn plan(
    model: &Model<'_>,
    registry: &terrane_provider::Registry,
    root_dir: &std::path::Path,
    prior: &Snapshot,
    root_vars: &BTreeMap<String, RawVar>,
    opts: &PlanOptions,
    observer: &dyn Observer,
    cancel: &AtomicBool,
) -> Result<Plan, Diagnostics> {
    // `moved` blocks rename objects before anything is planned.
    let moved_prior;
    let (moves, move_diags) = if model.modules.values().any(|m| !m.moved.is_empty()) {
        let mut p = prior.clone();
        let (moves, diags) = crate::moves::apply_moves(model, &mut p);
        moved_prior = p;
        (moves, diags)
    } else {
        moved_prior = Snapshot::default();
        (Vec::new(), Diagnostics::new())
    };
    if move_diags.has_errors() {
        return Err(move_diags);
    }
    let (forget, mut forget_diags) = crate::moves::forgotten(model);
    forget_diags.extend(crate::moves::check_import_targets(model));
    if forget_diags.has_errors() {
        return Err(forget_diags);
    }
    let prior = if moves.is_empty() {
        prior
    } else {
        &moved_prior
    };
    let mut prior_by_resource: HashMap<ResourceAddr, Vec<&InstanceState>> = HashMap::new();
    for inst in prior.resources.values() {
        prior_by_resource
            .entry(inst.addr.resource.clone())
            .or_default()
            .push(inst);
    }
    let planner = Planner {
        run: Run {
            tolerant: opts.destroy,
            ..Run::new(model, registry, root_dir)
        },
        prior_by_resource,
        forget,
        opts,
        root_vars,
        changes: RefCell::new(Vec::new()),
        drift: RefCell::new(Vec::new()),
        refreshed: RefCell::new(BTreeMap::new()),
        changed: RefCell::new(BTreeSet::new()),
        imported: RefCell::new(Vec::new()),
        semaphore: Semaphore::new(opts.parallelism.max(1)),
        observer,
    };
    planner.run.errors(move_diags);
    // The root module's variables first: a wrong value stops the plan before any
    // provider is configured or any object refreshed.
    if !planner.run.eval_root_vars(root_vars) {
        return Err(planner.run.diags.take());
    }
    let outcomes = planner
        .run
        .stopping_providers_on(
            cancel,
            walk(&model.graph, cancel, |node| planner.visit(node)),
        )
        .await;
    if outcomes.iter().any(|o| *o != NodeOutcome::Done) || planner.run.diags.borrow().has_errors() {
        let mut diags = planner.run.diags.take();
        if !diags.has_errors() {
            diags.push(Diagnostic::error(
                "Planning was interrupted",
                "terrane stopped before the plan was complete; nothing was changed.",
            ));
        }
        return Err(diags);
    }
    planner.orphans().await;
    let mut plan = Plan {
        lineage: prior.lineage.clone(),
        prior_serial: prior.serial,
        destroy: opts.destroy,
        targets: opts.targets.iter().map(ToString::to_string).collect(),
        variables: root_vars.clone(),
        sensitive_variables: model
            .modules
            .get(&ModulePath::root())
            .map(|m| {
                m.variables
                    .values()
                    .filter(|v| v.sensitive)
                    .map(|v| v.name.clone())
                    .collect()
            })
            .unwrap_or_default(),
        variable_values: planner
            .run
            .store
            .borrow()
            .vars
            .iter()
            .filter(|((m, _), _)| m.is_root())
            .map(|((_, n), v)| (n.clone(), v.clone()))
            .collect(),
        ..Default::default()
    };
    let mut changes: Vec<ResourceChange> = planner
        .changes
        .take()
        .into_iter()
        .map(|c| std::sync::Arc::try_unwrap(c).unwrap_or_else(|c| (*c).clone()))
        .collect();
    if !opts.targets.is_empty() {
        plan.untargeted_outputs = untargeted_outputs(model, &opts.targets);
        let allowed = targeted_resources(model, &opts.targets);
        changes.retain(|c| {
            allowed.contains(&crate::model::prefixed(
                &c.addr.resource.module.config(),
                &c.addr.resource.local_name(),
            )) || opts.targets.iter().any(|t| {
                t.resource == c.addr.resource && (t.key == InstanceKey::None || t.key == c.addr.key)
            })
        });
    }
    changes.sort_by(|a, b| a.addr.cmp(&b.addr));
    plan.changes = changes;
    plan.drift = planner.drift.take();
    plan.drift.sort_by(|a, b| a.addr.cmp(&b.addr));
    // Root outputs.
    let store = planner.run.store.borrow();
    let mut names: BTreeSet<String> = prior.outputs.keys().cloned().collect();
    if let Some(root) = model.modules.get(&ModulePath::root()) {
        names.extend(root.outputs.keys().cloned());
    }
    for name in names {
        let before = prior.outputs.get(&name).map(|o| o.value.clone());
        let decl = model
            .modules
            .get(&ModulePath::root())
            .and_then(|m| m.outputs.get(&name));
        let after = if opts.destroy {
            None
        } else {
            store
                .outputs
                .get(&(ModulePath::root(), name.clone()))
                .cloned()
        };
        let sensitive = decl
            .map(|d| d.sensitive)
            .unwrap_or_else(|| prior.outputs.get(&name).is_some_and(|o| o.sensitive));
        plan.outputs.push(OutputChange {
            name,
            before,
            after,
            sensitive,
        });
    }
    drop(store);
    let mut refreshed = prior.clone();
    for (addr, inst) in planner.refreshed.take() {
        refreshed.resources.insert(addr, inst);
    }
    plan.prior = refreshed;
    plan.moves = moves;
    plan.imports = planner.imported.take();
    plan.timestamp = terrane_lang::funcs::plan_timestamp();
    plan.provider_sources = registry.sources();
    if opts.refresh_only {
        // Nothing is to change but state: the drift is the plan, and outputs keep
        // what state has.
        plan.refresh_only = true;
        plan.changes.clear();
        plan.outputs.retain(|o| o.before.is_some());
        for o in &mut plan.outputs {
            o.after = o.before.clone();
        }
    }
    let checks = checkable_objects(model, planner.run.checks.take(), opts);
    if !checks.is_empty() {
        plan.checks = checks.to_json();
    }
    let warnings = planner.run.diags.take();
    for w in warnings.iter() {
        observer.event(Event::Warning(w.clone()));
    }
    Ok(plan)
}

/// Every checkable object of the configuration with the results the run recorded; a
/// targeted plan keeps only those of the targets, what they depend on and the root
/// outputs within them, as Terraform evaluates no others; a destroy plan checks no
/// variable and leaves the root outputs' preconditions unknown.
fn checkable_objects(
    model: &Model<'_>,
    mut checks: crate::checks::CheckResults,
    opts: &PlanOptions,
) -> crate::checks::CheckResults {
    use crate::checks::{Checkable, Status};
    let targets = &opts.targets;
    for (config, m) in &model.modules {
        for r in m.resources.values() {
            if !r.lifecycle.preconditions.is_empty() || !r.lifecycle.postconditions.is_empty() {
                let object = Checkable::Resource {
                    mode: r.mode,
                    type_name: r.type_name.clone(),
                    name: r.name.clone(),
                };
                checks.declare(config, object);
            }
        }
        for o in m.outputs.values().filter(|o| !o.preconditions.is_empty()) {
            let object = Checkable::Output(o.name.clone());
            if opts.destroy && config.is_root() {
                checks.record(
                    config,
                    object,
                    InstanceKey::None,
                    Status::Unknown,
                    Vec::new(),
                );
            } else {
                checks.declare(config, object);
            }
        }
        for v in m.variables.values().filter(|v| !v.validations.is_empty()) {
            checks.declare(config, Checkable::Var(v.name.clone()));
        }
        for c in m.checks.keys() {
            checks.declare(config, Checkable::Check(c.clone()));
        }
    }
    if opts.destroy {
        checks.retain(|_, object| !matches!(object, Checkable::Var(_)));
    }
    if !targets.is_empty() {
        let closure = model
            .graph
            .dependency_closure(&target_nodes(model, targets));
        let untargeted = untargeted_outputs(model, targets);
        checks.retain(|config, object| {
            let node = match object {
                Checkable::Resource {
                    mode,
                    type_name,
                    name,
                } => NodeKind::Resource(
                    config.clone(),
                    match mode {
                        ResourceMode::Managed => format!("{type_name}.{name}"),
                        ResourceMode::Data => format!("data.{type_name}.{name}"),
                    },
                ),
                Checkable::Output(n) if config.is_root() && !untargeted.contains(n) => return true,
                Checkable::Output(n) => NodeKind::Output(config.clone(), n.clone()),
                Checkable::Var(n) => NodeKind::Var(config.clone(), n.clone()),
                Checkable::Check(n) => NodeKind::Check(config.clone(), n.clone()),
            };
            model.node(&node).is_some_and(|i| closure[i])
        });
    }
    checks
}

/// Resource addresses that a targeted plan may change: the targets and everything they
/// depend on.
fn targeted_resources(model: &Model<'_>, targets: &[InstanceAddr]) -> BTreeSet<String> {
    let roots = target_nodes(model, targets);
    let closure = model.graph.dependency_closure(&roots);
    let root_set: BTreeSet<usize> = roots.iter().copied().collect();
    model
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| closure[*i] && !root_set.contains(i))
        .filter_map(|(_, k)| match k {
            NodeKind::Resource(m, key) => Some(crate::model::prefixed(m, key)),
            _ => None,
        })
        .collect()
}

/// The graph nodes of the resources `targets` name.
fn target_nodes(model: &Model<'_>, targets: &[InstanceAddr]) -> Vec<usize> {
    targets
        .iter()
        .filter_map(|t| {
            model.node(&NodeKind::Resource(
                t.resource.module.config(),
                t.resource.local_name(),
            ))
        })
        .collect()
}

/// Root outputs outside a targeted plan: those that depend on no resource, or on one
/// that is neither a target nor something a target depends on.
fn untargeted_outputs(model: &Model<'_>, targets: &[InstanceAddr]) -> BTreeSet<String> {
    let targeted = model
        .graph
        .dependency_closure(&target_nodes(model, targets));
    model
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, k)| match k {
            NodeKind::Output(m, name) if m.is_root() => {
                let deps = model.graph.dependency_closure(&[i]);
                let mut resources = model
                    .nodes
                    .iter()
                    .enumerate()
                    .filter(|(j, k)| deps[*j] && matches!(k, NodeKind::Resource(..)));
                let outside =
                    resources.clone().next().is_none() || resources.any(|(j, _)| !targeted[j]);
                outside.then(|| name.clone())
            }
            _ => None,
        })
        .collect()
}

/// Marks planned attributes sensitive where the configuration or the schema says so,
/// and any attribute whose text holds a sensitive string of the configuration: a
/// provider that copies or embeds a secret in a computed attribute (`terraform_data`'s
/// `output`, a connection string) does not strip its mark on the way back.
pub fn remark(planned: Value, config: &Value, schema: &Schema) -> Value {
    let planned = schema.mark_sensitive(planned);
    let secrets = config.sensitive_strings();
    match (planned, config.as_map()) {
        (Value::Map(mut m), Some(cfg)) => {
            for (k, v) in cfg {
                if v.contains_sensitive() {
                    if let Some(p) = m.remove(k) {
                        m.insert(k.clone(), p.into_sensitive());
                    }
                }
            }
            Value::Map(m).mark_texts(&secrets)
        }
        (other, _) => other,
    }
}

/// Sets ignored attributes of `config` to their prior values.
pub fn apply_ignore_changes(
    r: &Resource,
    config: Value,
    prior: Option<&Value>,
    schema: &Schema,
) -> Value {
    let Some(prior) = prior.and_then(Value::as_map) else {
        return config;
    };
    let Value::Map(mut cfg) = config else {
        return config;
    };
    if r.lifecycle.ignore_all_changes {
        for (name, attr) in &schema.attributes {
            if attr.required || attr.optional {
                if let Some(p) = prior.get(name) {
                    cfg.insert(name.clone(), p.clone());
                }
            }
        }
    } else {
        let prior = Value::Map(prior.clone());
        let mut config = Value::Map(cfg);
        for path in &r.lifecycle.ignore_changes {
            keep_prior_at(&mut config, &prior, path);
        }
        return config;
    }
    Value::Map(cfg)
}

/// Sets `config` at `path` to what `prior` holds there; a map key that `prior` lacks is
/// removed from `config` (the configuration's addition is ignored too).
fn keep_prior_at(config: &mut Value, prior: &Value, path: &[terrane_lang::config::IgnoreStep]) {
    use terrane_lang::config::IgnoreStep;
    let Some((first, rest)) = path.split_first() else {
        *config = prior.clone();
        return;
    };
    // Marks are the engine's to re-apply; compare and copy plain values.
    let config = match config {
        Value::Sensitive(inner) => inner.as_mut(),
        other => other,
    };
    let prior = prior.peel();
    match (first, config) {
        (IgnoreStep::Key(k), Value::Map(m)) => {
            let before = prior.as_map().and_then(|p| p.get(k));
            match (before, m.get_mut(k)) {
                (Some(b), Some(c)) => keep_prior_at(c, b, rest),
                (Some(b), None) if rest.is_empty() => {
                    m.insert(k.clone(), b.clone());
                }
                (None, Some(_)) if rest.is_empty() => {
                    m.remove(k);
                }
                _ => {}
            }
        }
        (IgnoreStep::Index(i), Value::List(items)) => {
            let before = match prior {
                Value::List(p) => p.get(*i),
                _ => None,
            };
            if let (Some(b), Some(c)) = (before, items.get_mut(*i)) {
                keep_prior_at(c, b, rest);
            }
        }
        _ => {}
    }
}

impl<'c> Planner<'c> {
    async fn visit(&self, node: usize) -> bool {
        match &self.run.model.nodes[node] {
            NodeKind::Resource(m, key) => {
                let Some(r) = self.run.model.resource(m, key) else {
                    return false;
                };
                let recorded = self.opts.destroy.then(|| self.prior_by_resource.keys());
                let instances = self.run.resource_module_instances(m, key, recorded);
                let mut ok = true;
                for mi in &instances {
                    ok &= self.plan_resource(node, mi, r).await;
                }
                ok
            }
            _ => self.run.visit_value_node(node, self.root_vars),
        }
    }

    fn provider_addr(&self, node: usize) -> String {
        self.run
            .model
            .resource_provider
            .get(&node)
            .cloned()
            .unwrap_or_default()
    }

    /// Reads one instance back; `announce` prints its "Refreshing" line (a batch that
    /// fell back to single reads has printed it already).
    async fn refresh(
        &self,
        inst: &InstanceState,
        provider: &dyn terrane_provider::Provider,
        announce: bool,
    ) -> Result<Option<Applied>, Diagnostic> {
        let _permit = self.semaphore.acquire().await;
        if announce {
            self.observer
                .event(Event::Refreshing(inst.addr.clone(), id_of(&inst.value)));
        }
        let (plain, _) = inst.value.unmark();
        let read = provider
            .read_object(&inst.addr.resource.type_name, plain, &inst.meta.private)
            .await;
        crate::forward_warnings(provider, self.observer);
        read.map_err(|e| {
            Diagnostic::error(
                "Error refreshing state",
                format!("{}: the provider failed to read the object: {e}", inst.addr),
            )
        })
    }

    /// The instances, each brought to the schema's current version by the provider.
    async fn upgrade_all(
        &self,
        insts: &[&InstanceState],
        provider: &dyn terrane_provider::Provider,
        schema: &Schema,
    ) -> Result<Vec<InstanceState>, Diagnostic> {
        let mut out = Vec::with_capacity(insts.len());
        for inst in insts {
            let mut s = (*inst).clone();
            if s.meta.schema_version < schema.version {
                let _permit = self.semaphore.acquire().await;
                let v = provider
                    .upgrade_state(
                        &inst.addr.resource.type_name,
                        inst.value.unmark().0,
                        s.meta.schema_version,
                        schema,
                    )
                    .await;
                crate::forward_warnings(provider, self.observer);
                let v = v.map_err(|e| {
                    Diagnostic::error(
                        "Error upgrading state",
                        format!(
                            "{}: the provider could not upgrade the object from schema version {} to {}: {e}",
                            inst.addr, s.meta.schema_version, schema.version
                        ),
                    )
                })?;
                s.value = remark_from_prior(v, &inst.value, schema);
                s.meta.schema_version = schema.version;
            }
            out.push(s);
        }
        Ok(out)
    }

    /// Refreshes the instances of one resource, with [`Provider::read_batch`] when
    /// there are several and the provider can read them in one call.
    async fn refresh_all<'i>(
        &self,
        insts: &[&'i InstanceState],
        provider: &dyn terrane_provider::Provider,
    ) -> Vec<(&'i InstanceState, Result<Option<Applied>, Diagnostic>)> {
        let mut announced = false;
        if insts.len() > 1 {
            let permit = self.semaphore.acquire().await;
            announced = true;
            let type_name = &insts[0].addr.resource.type_name;
            let states = insts
                .iter()
                .map(|inst| {
                    self.observer
                        .event(Event::Refreshing(inst.addr.clone(), id_of(&inst.value)));
                    inst.value.unmark().0
                })
                .collect();
            let batch = provider.read_batch(type_name, states).await;
            crate::forward_warnings(provider, self.observer);
            match batch {
                Some(Ok(values)) if values.len() == insts.len() => {
                    return insts
                        .iter()
                        .copied()
                        .zip(values)
                        .map(|(inst, v)| {
                            let v = v.map(|value| Applied {
                                value,
                                private: inst.meta.private.clone(),
                            });
                            (inst, Ok(v))
                        })
                        .collect();
                }
                Some(Ok(values)) => {
                    let d = Diagnostic::error(
                        "Error refreshing state",
                        format!(
                            "{}: the provider's batched read returned {} objects for {}",
                            insts[0].addr.resource,
                            values.len(),
                            insts.len()
                        ),
                    );
                    return vec![(insts[0], Err(d))];
                }
                Some(Err(e)) => {
                    let d = Diagnostic::error(
                        "Error refreshing state",
                        format!(
                            "{}: the provider failed to read the objects: {e}",
                            insts[0].addr.resource
                        ),
                    );
                    return vec![(insts[0], Err(d))];
                }
                // No batched read: release the permit, each read takes its own.
                None => drop(permit),
            }
        }
        let futs = insts
            .iter()
            .map(|inst| async move { (*inst, self.refresh(inst, provider, !announced).await) });
        futures_util::future::join_all(futs).await
    }

    async fn plan_resource(&self, node: usize, module: &ModulePath, r: &Resource) -> bool {
        let raddr = resource_addr(module, r);
        let Ok((_, schema)) = resource_schema(self.run.registry, r) else {
            return false;
        };
        let paddr = self.provider_addr(node);
        let Some(provider) = self.run.provider(&paddr) else {
            self.run.error(
                Diagnostic::error(
                    "Provider not configured",
                    format!("The provider {paddr} could not be configured."),
                )
                .with_span(Some(r.span.clone())),
            );
            return false;
        };
        let prior_insts: Vec<&InstanceState> = self
            .prior_by_resource
            .get(&raddr)
            .cloned()
            .unwrap_or_default();
        // `import` blocks: the objects they name join the prior objects, read now.
        let with_imports: Vec<InstanceState>;
        let prior_insts = match self
            .imports(module, r, &prior_insts, &*provider, schema, &paddr)
            .await
        {
            Ok(new) if new.is_empty() => prior_insts,
            Ok(new) => {
                with_imports = prior_insts
                    .iter()
                    .map(|i| (*i).clone())
                    .chain(new)
                    .collect();
                with_imports.iter().collect()
            }
            Err(d) => {
                self.run.errors(d);
                return false;
            }
        };
        // Objects written by a native provider are not read by a plugin of the same
        // name, nor the other way round: their attributes differ.
        let plugin = self.run.served_by_plugin(r);
        if let Some(other) = prior_insts.iter().find(|i| i.meta.plugin != plugin) {
            let (was, now) = if plugin {
                ("terrane's native provider", "a provider plugin")
            } else {
                ("a provider plugin", "terrane's native provider")
            };
            self.run.error(
                Diagnostic::error(
                    "Object written by another implementation of its provider",
                    format!(
                        "{} was recorded by {was}, but provider {:?} is now served by {now} (see `terrane providers`). Their attributes differ, so terrane will not plan it with the other. Serve the provider as before (the dependency lock file and dev_overrides decide; docs/providers.md), or remove the object from state (`terrane state rm`) and import it again.",
                        other.addr,
                        r.provider_name()
                    ),
                )
                .with_span(Some(r.span.clone())),
            );
            return false;
        }
        // State written at an older schema version is upgraded by the provider first.
        let upgraded: Vec<InstanceState>;
        let prior_insts = if r.mode == ResourceMode::Managed
            && prior_insts
                .iter()
                .any(|i| i.meta.schema_version < schema.version)
        {
            match self.upgrade_all(&prior_insts, &*provider, schema).await {
                Ok(u) => {
                    upgraded = u;
                    upgraded.iter().collect()
                }
                Err(d) => {
                    self.run.error(d.with_span(Some(r.span.clone())));
                    return false;
                }
            }
        } else {
            prior_insts
        };
        let deps = self
            .run
            .model
            .resource_deps
            .get(&node)
            .cloned()
            .unwrap_or_default();

        if self.opts.destroy {
            let mut values = BTreeMap::new();
            let mut repetition = Repetition::Single;
            for inst in &prior_insts {
                repetition = Repetition::of(&inst.addr.key);
                values.insert(inst.addr.key.clone(), inst.value.clone());
                if r.mode == ResourceMode::Managed {
                    if r.lifecycle.prevent_destroy {
                        self.prevent_destroy_error(r, &inst.addr);
                        return false;
                    }
                    self.push_change(ResourceChange {
                        addr: inst.addr.clone(),
                        provider: inst.provider.clone(),
                        action: Action::Delete,
                        before: Some(inst.value.clone()),
                        after: None,
                        replace_paths: Vec::new(),
                        reason: None,
                        dependencies: inst.dependencies.clone(),
                        create_before_destroy: inst.create_before_destroy,
                    });
                }
            }
            self.run.store.borrow_mut().resources.insert(
                (module.clone(), r.key()),
                ResourceValues::new(repetition, values),
            );
            return true;
        }

        let (repetition, expansions) = match self.run.expand(module, r) {
            Ok(x) => x,
            Err(d) => {
                self.run.error(d);
                return false;
            }
        };

        // Refresh every prior instance: in one batched read where the provider has one,
        // else concurrently.
        let mut refreshed: BTreeMap<InstanceKey, Option<Value>> = BTreeMap::new();
        let mut private: BTreeMap<InstanceKey, Vec<u8>> = prior_insts
            .iter()
            .map(|i| (i.addr.key.clone(), i.meta.private.clone()))
            .collect();
        if self.opts.refresh && r.mode == ResourceMode::Managed && !prior_insts.is_empty() {
            for (inst, res) in self.refresh_all(&prior_insts, &*provider).await {
                match res {
                    Ok(read) => {
                        let v = read.map(|a| {
                            private.insert(inst.addr.key.clone(), a.private);
                            remark_from_prior(a.value, &inst.value, schema)
                        });
                        let changed = match &v {
                            None => true,
                            Some(v) => !v.same_as(&inst.value),
                        };
                        if changed {
                            self.drift.borrow_mut().push(Drift {
                                addr: inst.addr.clone(),
                                before: inst.value.clone(),
                                after: v.clone(),
                            });
                        }
                        if let Some(v) = &v {
                            let mut s = (*inst).clone();
                            s.value = v.clone();
                            if let Some(p) = private.get(&inst.addr.key) {
                                s.meta.private = p.clone();
                            }
                            self.refreshed.borrow_mut().insert(inst.addr.clone(), s);
                        }
                        refreshed.insert(inst.addr.key.clone(), v);
                    }
                    Err(d) => {
                        self.run.error(d.with_span(Some(r.span.clone())));
                        return false;
                    }
                }
            }
        } else {
            for inst in &prior_insts {
                refreshed.insert(inst.addr.key.clone(), Some(inst.value.clone()));
            }
        }

        let mut values = BTreeMap::new();
        let mut ok = true;
        let keys: BTreeSet<InstanceKey> = expansions.iter().map(|e| e.key.clone()).collect();
        for exp in &expansions {
            let addr = raddr.instance(exp.key.clone());
            match self
                .plan_instance(
                    module,
                    r,
                    schema,
                    &paddr,
                    &provider,
                    exp,
                    &addr,
                    refreshed.get(&exp.key).cloned().flatten(),
                    private.get(&exp.key).map(Vec::as_slice).unwrap_or_default(),
                    &deps,
                    prior_insts
                        .iter()
                        .any(|i| i.addr.key == exp.key && i.meta.tainted),
                )
                .await
            {
                Ok(v) => {
                    values.insert(exp.key.clone(), v);
                }
                Err(d) => {
                    self.run.errors(d);
                    ok = false;
                }
            }
        }
        // Instances in state whose key is no longer configured.
        if r.mode == ResourceMode::Managed {
            for inst in &prior_insts {
                if keys.contains(&inst.addr.key) {
                    continue;
                }
                let Some(before) = refreshed.get(&inst.addr.key).cloned().flatten() else {
                    continue;
                };
                if r.lifecycle.prevent_destroy {
                    self.prevent_destroy_error(r, &inst.addr);
                    ok = false;
                    continue;
                }
                let reason = match (&inst.addr.key, repetition) {
                    (InstanceKey::Int(_), Repetition::Count) => "delete_because_count_index",
                    (InstanceKey::Str(_), Repetition::ForEach) => "delete_because_each_key",
                    (InstanceKey::None, _) => "delete_because_no_repetition",
                    _ => "delete_because_wrong_repetition",
                };
                self.push_change(ResourceChange {
                    addr: inst.addr.clone(),
                    provider: inst.provider.clone(),
                    action: Action::Delete,
                    before: Some(before),
                    after: None,
                    replace_paths: Vec::new(),
                    reason: Some(reason.into()),
                    dependencies: inst.dependencies.clone(),
                    create_before_destroy: inst.create_before_destroy,
                });
            }
        }
        self.run.store.borrow_mut().resources.insert(
            (module.clone(), r.key()),
            ResourceValues::new(repetition, values),
        );
        ok
    }

    /// The objects the root module's `import` blocks name for resource `r` in `module`
    /// that state does not hold yet, read through the provider's import.
    async fn imports(
        &self,
        module: &ModulePath,
        r: &Resource,
        prior: &[&InstanceState],
        provider: &dyn terrane_provider::Provider,
        schema: &Schema,
        paddr: &str,
    ) -> Result<Vec<InstanceState>, Diagnostics> {
        let root = ModulePath::root();
        let Some(blocks) = self.run.model.modules.get(&root).map(|m| &m.imports) else {
            return Ok(Vec::new());
        };
        let raddr = resource_addr(module, r);
        let mut out = Vec::new();
        for b in blocks {
            let expansions = match &b.for_each {
                None => vec![None],
                Some(f) => self
                    .run
                    .expand_meta(&root, None, Some(f))
                    .map_err(|d| Diagnostics(vec![d]))?
                    .1
                    .into_iter()
                    .map(Some)
                    .collect(),
            };
            for exp in expansions {
                let addr = crate::moves::import_address(&self.run, &b.to, exp.as_ref())
                    .map_err(|d| Diagnostics(vec![d]))?;
                if addr.resource != raddr
                    || prior.iter().any(|i| i.addr == addr)
                    || self.refreshed.borrow().contains_key(&addr)
                {
                    continue;
                }
                let id = self
                    .run
                    .with_scope(&root, exp.as_ref(), |s| terrane_lang::eval::eval(&b.id, s))
                    .map_err(|d| Diagnostics(vec![d]))?;
                let id = match id.unmark().0 {
                    Value::String(s) => s,
                    other => {
                        return Err(Diagnostics(vec![Diagnostic::error("Invalid import id", format!("The id of an import block must be a string known at plan time, not {}.", other.type_name())).with_span(Some(b.id.span.clone()))]))
                    }
                };
                let value = provider.import(&r.type_name, &id).await;
                crate::forward_warnings(provider, self.observer);
                let value = value.map_err(|e| {
                    Diagnostics(crate::provider_error(
                        "Cannot import non-existent remote object",
                        &addr,
                        r,
                        &e,
                    ))
                })?;
                self.imported.borrow_mut().push((addr.clone(), id));
                let inst = InstanceState {
                    addr: addr.clone(),
                    provider: paddr.to_string(),
                    value: schema.mark_sensitive(value),
                    dependencies: Vec::new(),
                    create_before_destroy: r.lifecycle.create_before_destroy,
                    meta: terrane_state::ObjectMeta {
                        private: Vec::new(),
                        schema_version: schema.version,
                        plugin: self.run.served_by_plugin(r),
                        tainted: false,
                    },
                };
                self.refreshed.borrow_mut().insert(addr, inst.clone());
                out.push(inst);
            }
        }
        Ok(out)
    }

    fn prevent_destroy_error(&self, r: &Resource, addr: &InstanceAddr) {
        self.run.error(
            Diagnostic::error(
                "Instance cannot be destroyed",
                format!("{addr} has lifecycle.prevent_destroy set, but the plan calls for it to be destroyed. To destroy it, remove prevent_destroy from the configuration first; otherwise change the plan so it keeps the object."),
            )
            .with_span(Some(r.span.clone())),
        );
    }

    fn push_change(&self, c: ResourceChange) {
        if c.action != Action::NoOp && c.action != Action::Read {
            self.changed
                .borrow_mut()
                .insert(c.addr.resource.to_string());
        }
        self.observer
            .event(Event::Planned(c.addr.clone(), c.action));
        let c = std::sync::Arc::new(c);
        self.observer.planned_change(&c);
        self.changes.borrow_mut().push(c);
    }

    #[allow(clippy::too_many_arguments)]
    async fn plan_instance(
        &self,
        module: &ModulePath,
        r: &Resource,
        schema: &Schema,
        paddr: &str,
        provider: &std::sync::Arc<dyn terrane_provider::Provider>,
        exp: &Expansion,
        addr: &InstanceAddr,
        prior: Option<Value>,
        prior_private: &[u8],
        deps: &[String],
        tainted: bool,
    ) -> Result<Value, Diagnostics> {
        self.run.conditions(module, r, exp, None)?;
        let config = self.run.instance_config(module, r, schema, exp)?;
        if r.mode == ResourceMode::Data {
            let value = self
                .plan_data(r, schema, provider, addr, config, paddr, deps)
                .await?;
            self.run.conditions(module, r, exp, Some(&value))?;
            return Ok(value);
        }
        let config = apply_ignore_changes(r, config, prior.as_ref(), schema);
        let (plain_config, _) = config.unmark();
        // `-replace`, and `replace_triggered_by` a resource that changes in this plan:
        // planned as the new object's create, like any replacement.
        let requested = prior.is_some() && self.opts.replace.contains(addr);
        let tainted = prior.is_some() && tainted && !requested;
        let triggers: Vec<String> = if prior.is_some() && !requested {
            self.replace_triggers(module, r)
        } else {
            Vec::new()
        };
        let fresh = requested || tainted || !triggers.is_empty();
        let plain_prior = prior.as_ref().filter(|_| !fresh).map(|p| p.unmark().0);
        let change = provider
            .plan(
                &r.type_name,
                plain_prior.as_ref(),
                if fresh { &[] } else { prior_private },
                &plain_config,
                schema,
            )
            .await
            .map_err(|e| {
                Diagnostics(crate::provider_error(
                    "Invalid resource configuration",
                    addr,
                    r,
                    &e,
                ))
            })?;
        let planned = remark(change.planned, &config, schema);
        let mut replace_paths = change.requires_replace;
        let mut reason = None;
        if !replace_paths.is_empty() {
            reason = Some("replace_because_cannot_update".to_string());
        }
        if requested {
            reason = Some("replace_by_request".to_string());
            replace_paths.push("(-replace)".into());
        }
        if !triggers.is_empty() {
            reason = Some("replace_by_triggers".into());
            for target in triggers {
                replace_paths.push(format!("(replace_triggered_by {target})"));
            }
        }
        if tainted {
            reason = Some("replace_because_tainted".into());
        }
        let action = match &prior {
            None => Action::Create,
            Some(_) if tainted || !replace_paths.is_empty() => {
                if r.lifecycle.create_before_destroy {
                    Action::CreateThenDelete
                } else {
                    Action::DeleteThenCreate
                }
            }
            Some(p) if p.same_as(&planned) && planned.is_wholly_known() => Action::NoOp,
            Some(_) => Action::Update,
        };
        if action.deletes() && r.lifecycle.prevent_destroy {
            self.prevent_destroy_error(r, addr);
            return Err(Diagnostics::new());
        }
        self.run.conditions(module, r, exp, Some(&planned))?;
        self.push_change(ResourceChange {
            addr: addr.clone(),
            provider: paddr.to_string(),
            action,
            before: prior,
            after: Some(planned.clone()),
            replace_paths,
            reason,
            dependencies: deps.to_vec(),
            create_before_destroy: r.lifecycle.create_before_destroy,
        });
        Ok(planned)
    }

    /// The resources of `r`'s `replace_triggered_by` that change in this plan.
    fn replace_triggers(
        &self,
        module: &ModulePath,
        r: &terrane_lang::config::Resource,
    ) -> Vec<String> {
        let changed = self.changed.borrow();
        r.lifecycle
            .replace_triggered_by
            .iter()
            .flat_map(|e| e.references())
            .filter_map(|(rf, _)| match rf {
                Reference::Resource { type_name, name } => Some(crate::model::prefixed(
                    module,
                    &format!("{type_name}.{name}"),
                )),
                _ => None,
            })
            .filter(|target| changed.contains(target))
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    async fn plan_data(
        &self,
        r: &Resource,
        schema: &Schema,
        provider: &std::sync::Arc<dyn terrane_provider::Provider>,
        addr: &InstanceAddr,
        config: Value,
        paddr: &str,
        deps: &[String],
    ) -> Result<Value, Diagnostics> {
        let depends_on_changes = {
            let changed = self.changed.borrow();
            deps.iter().any(|d| changed.contains(d))
        };
        if r.check.is_some() {
            return Ok(self
                .plan_check_data(r, schema, provider, addr, config, paddr, deps)
                .await);
        }
        if config.is_wholly_known() && !depends_on_changes && !self.opts.offline {
            let _permit = self.semaphore.acquire().await;
            self.observer.event(Event::Reading(addr.clone()));
            let (plain, _) = config.unmark();
            let v = provider.read_data(&r.type_name, plain).await;
            crate::forward_warnings(provider.as_ref(), self.observer);
            let v = v.map_err(|e| {
                Diagnostics(crate::provider_error(
                    "Error reading data source",
                    addr,
                    r,
                    &e,
                ))
            })?;
            return Ok(remark(v, &config, schema));
        }
        let planned =
            terrane_provider::schema::plan_by_schema(schema, None, &config.unmark().0).planned;
        let planned = remark(planned, &config, schema);
        let reason = if depends_on_changes {
            "read_because_dependency_pending"
        } else {
            "read_because_config_unknown"
        };
        self.push_read(addr, paddr, &planned, reason, deps);
        Ok(planned)
    }

    /// A data source declared in a `check` block, as Terraform plans it: read now when
    /// its configuration is known (a failed read is a warning and leaves the value
    /// unknown) and read again during apply, to verify the check then.
    #[allow(clippy::too_many_arguments)]
    async fn plan_check_data(
        &self,
        r: &Resource,
        schema: &Schema,
        provider: &std::sync::Arc<dyn terrane_provider::Provider>,
        addr: &InstanceAddr,
        config: Value,
        paddr: &str,
        deps: &[String],
    ) -> Value {
        let (plain, _) = config.unmark();
        let unread = || {
            let planned = terrane_provider::schema::plan_by_schema(schema, None, &plain).planned;
            remark(planned, &config, schema)
        };
        let value = if config.is_wholly_known() && !self.opts.offline {
            let _permit = self.semaphore.acquire().await;
            self.observer.event(Event::Reading(addr.clone()));
            let v = provider.read_data(&r.type_name, plain.clone()).await;
            crate::forward_warnings(provider.as_ref(), self.observer);
            match v {
                Ok(v) => remark(v, &config, schema),
                Err(e) => {
                    crate::check_data_warnings(addr, r, &e, self.observer);
                    unread()
                }
            }
        } else {
            unread()
        };
        self.push_read(addr, paddr, &value, "read_because_check_nested", deps);
        value
    }

    /// Records a data source read deferred to apply, with Terraform's `action_reason`.
    fn push_read(
        &self,
        addr: &InstanceAddr,
        paddr: &str,
        after: &Value,
        reason: &str,
        deps: &[String],
    ) {
        self.push_change(ResourceChange {
            addr: addr.clone(),
            provider: paddr.to_string(),
            action: Action::Read,
            before: None,
            after: Some(after.clone()),
            replace_paths: Vec::new(),
            reason: Some(reason.into()),
            dependencies: deps.to_vec(),
            create_before_destroy: false,
        });
    }

    /// Plans deletion of state entries whose resource left the configuration.
    async fn orphans(&self) {
        let model = self.run.model;
        let mut orphans: Vec<(&InstanceState, &'static str)> = Vec::new();
        for (raddr, insts) in &self.prior_by_resource {
            let config = raddr.module.config();
            // Gone from the configuration, or in a module instance that the module
            // call's count/for_each no longer makes.
            let instance_gone = || {
                !raddr.module.is_root()
                    && !self
                        .run
                        .instances(&config)
                        .iter()
                        .any(|(p, _)| *p == raddr.module)
            };
            let reason = if model
                .node(&NodeKind::Resource(config.clone(), raddr.local_name()))
                .is_none()
            {
                "delete_because_no_resource_config"
            } else if !self.opts.destroy && instance_gone() {
                "delete_because_no_module"
            } else {
                continue;
            };
            orphans.extend(insts.iter().map(|i| (*i, reason)));
        }
        orphans.sort_by(|a, b| a.0.addr.cmp(&b.0.addr));
        for (inst, reason) in orphans {
            let mut before = Some(inst.value.clone());
            let forget = !self.opts.destroy && self.forget.iter().any(|e| e.covers(&inst.addr));
            if self.opts.refresh && !self.opts.destroy && !forget {
                if let Some(p) = self.run.provider(&inst.provider) {
                    if let Ok(v) = self.refresh(inst, &*p, true).await {
                        if v.is_none() {
                            self.drift.borrow_mut().push(Drift {
                                addr: inst.addr.clone(),
                                before: inst.value.clone(),
                                after: None,
                            });
                        }
                        before = v.map(|a| a.value.mark_if(false));
                    }
                }
            }
            let Some(before) = before else { continue };
            self.push_change(ResourceChange {
                addr: inst.addr.clone(),
                provider: inst.provider.clone(),
                action: if forget {
                    Action::Forget
                } else {
                    Action::Delete
                },
                before: Some(before),
                after: None,
                replace_paths: Vec::new(),
                reason: Some(reason.into()),
                dependencies: inst.dependencies.clone(),
                create_before_destroy: inst.create_before_destroy,
            });
        }
    }
}

/// Re-applies the sensitive marks a prior state value had to a freshly read value:
/// whole attributes, marks nested inside them (where the path still exists), and any
/// text that holds one of the prior value's sensitive strings.
fn remark_from_prior(v: Value, prior: &Value, schema: &Schema) -> Value {
    let v = schema.mark_sensitive(v);
    let v = match (v, prior.as_map()) {
        (Value::Map(mut m), Some(p)) => {
            for (k, pv) in p {
                if matches!(pv, Value::Sensitive(_)) {
                    if let Some(x) = m.remove(k) {
                        m.insert(k.clone(), x.into_sensitive());
                    }
                }
            }
            Value::Map(m)
        }
        (other, _) => other,
    };
    // Most objects hold nothing sensitive: skip the walks that could only find nothing.
    if !prior.contains_sensitive() {
        return v;
    }
    let v = v.with_sensitive_paths(&prior.sensitive_paths());
    v.mark_texts(&prior.sensitive_strings())
}

/// The `id` attribute of an object, for progress messages.
pub fn id_of(v: &Value) -> Option<String> {
    match v.get("id") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Converts a plan's output changes into state outputs after apply.
pub fn output_state(o: &OutputChange) -> Option<OutputState> {
    o.after
        .clone()
        .filter(|v| !v.is_null())
        .map(|value| OutputState {
            value,
            sensitive: o.sensitive,
        })
}
