//! Applying a plan: walk the graph in dependency order (deletes in reverse order),
//! re-evaluate each resource's configuration now that its dependencies are known,
//! check the provider's final plan against the saved one, perform the change and
//! record it in state at once.
//!
//! **Invariant:** every change a provider reports as done is written to the state
//! backend before the next operation starts on that resource, so an error, Ctrl-C or
//! `kill -9` loses nothing that happened.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use terrane_core::{
    Diagnostic, Diagnostics, InstanceAddr, InstanceKey, ModulePath, ResourceAddr, ResourceMode,
    Value,
};
use terrane_lang::config::Resource;
use terrane_provider::{Provider, Schema};
use terrane_state::{Backend, Change, InstanceState, OutputState, SerialStatus};
use tokio::sync::Semaphore;

use crate::graph::{walk, Graph, NodeOutcome};
use crate::model::{resource_addr, resource_schema, Model, NodeKind};
use crate::plan::{apply_ignore_changes, id_of, remark, Action, Plan, ResourceChange};
use crate::run::{Expansion, Run};
use crate::store::ResourceValues;
use crate::writer::Writer;
use crate::{Event, Observer};

#[derive(Clone, Debug, Default)]
pub struct ApplyOutcome {
    pub serial: Option<u64>,
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    pub interrupted: bool,
    pub diagnostics: Diagnostics,
}

impl ApplyOutcome {
    pub fn failed(&self) -> bool {
        self.interrupted || self.diagnostics.has_errors()
    }
}

enum ApplyNode {
    Model(usize),
    Destroy(usize),
}

struct Applier<'c> {
    run: Run<'c>,
    plan: &'c Plan,
    by_resource: HashMap<ResourceAddr, Vec<&'c ResourceChange>>,
    writer: Writer,
    semaphore: Semaphore,
    observer: &'c dyn Observer,
    cancel: &'c AtomicBool,
    counts: RefCell<(usize, usize, usize)>,
}

/// Applies `plan`. State changes go to `backend` as they happen.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    model: &Model<'_>,
    registry: &terrane_provider::Registry,
    root_dir: &std::path::Path,
    plan: &Plan,
    backend: &mut dyn Backend,
    parallelism: usize,
    observer: &dyn Observer,
    cancel: &AtomicBool,
) -> ApplyOutcome {
    let mut by_resource: HashMap<ResourceAddr, Vec<&ResourceChange>> = HashMap::new();
    for c in &plan.changes {
        by_resource
            .entry(c.addr.resource.clone())
            .or_default()
            .push(c);
    }
    // The apply graph: the model's nodes plus one destroy node per deleted object.
    let mut graph = model.graph.clone();
    let mut nodes: Vec<ApplyNode> = (0..model.nodes.len()).map(ApplyNode::Model).collect();
    let mut destroy_node: HashMap<InstanceAddr, usize> = HashMap::new();
    for (i, c) in plan.changes.iter().enumerate() {
        if c.action.deletes() {
            let n = graph.add_node();
            nodes.push(ApplyNode::Destroy(i));
            destroy_node.insert(c.addr.clone(), n);
        }
    }
    add_destroy_edges(model, plan, &mut graph, &destroy_node);
    let mut outcome = ApplyOutcome::default();
    if let Some(cycle) = graph.find_cycle() {
        let names: Vec<String> = cycle
            .iter()
            .map(|&n| match &nodes[n] {
                ApplyNode::Model(m) => model.describe(*m),
                ApplyNode::Destroy(i) => format!("{} (destroy)", plan.changes[*i].addr),
            })
            .collect();
        outcome.diagnostics.push(Diagnostic::error(
            "Cycle in the apply order",
            format!(
                "The changes cannot be ordered: {}. This usually comes from create_before_destroy on a resource whose dependencies are replaced without it; set create_before_destroy on those dependencies as well.",
                names.join(" → ")
            ),
        ));
        return outcome;
    }
    let operation = if plan.destroy { "destroy" } else { "apply" };
    let writer = match backend.reopen() {
        Ok(b) => Writer::start(b, operation),
        Err(e) => {
            outcome.diagnostics.push(Diagnostic::error(
                "Cannot open the state for writing",
                e.to_string(),
            ));
            return outcome;
        }
    };
    let applier = Applier {
        run: Run {
            tolerant: plan.destroy,
            applying: true,
            ..Run::new(model, registry, root_dir)
        },
        plan,
        by_resource,
        writer,
        semaphore: Semaphore::new(parallelism.max(1)),
        observer,
        cancel,
        counts: RefCell::new((0, 0, 0)),
    };
    // A refresh-only plan records what the refresh found, and nothing else.
    if plan.refresh_only {
        let updates = plan
            .drift
            .iter()
            .map(|d| match plan.prior.resources.get(&d.addr) {
                Some(inst) if d.after.is_some() => Change::Put(inst.clone()),
                _ => Change::Remove(d.addr.clone()),
            })
            .collect();
        if let Err(d) = applier.write(updates).await {
            outcome.diagnostics.push(d);
        }
        let Applier { writer, .. } = applier;
        if let Some(serial) = writer.finish() {
            let status = if outcome.diagnostics.has_errors() {
                SerialStatus::Incomplete
            } else {
                SerialStatus::Complete
            };
            if let Err(e) = backend.finish(serial, status) {
                outcome.diagnostics.push(Diagnostic::error(
                    "Failed to finish the state serial",
                    e.to_string(),
                ));
            }
            outcome.serial = Some(serial);
        }
        return outcome;
    }
    // Renames from `moved` blocks first: the objects keep their identity and history;
    // what `removed` blocks forget leaves state without a provider call.
    // Objects `import` blocks brought in are recorded as read, before any change to them.
    let forgotten = plan.changes.iter().filter(|c| c.action == Action::Forget);
    let imported = plan
        .imports
        .iter()
        .filter_map(|(a, _)| plan.prior.resources.get(a))
        .cloned();
    if !plan.moves.is_empty() || !plan.imports.is_empty() || forgotten.clone().next().is_some() {
        let renames = plan
            .moves
            .iter()
            .flat_map(|m| {
                let put = plan.prior.resources.get(&m.to).cloned().map(Change::Put);
                std::iter::once(Change::Remove(m.from.clone())).chain(put)
            })
            .chain(forgotten.map(|c| Change::Remove(c.addr.clone())))
            .chain(imported.map(Change::Put))
            .collect();
        if let Err(d) = applier.write(renames).await {
            outcome.diagnostics.push(d);
            return outcome;
        }
    }
    let outcomes = applier
        .run
        .stopping_providers_on(cancel, walk(&graph, cancel, |n| applier.visit(&nodes[n])))
        .await;
    let interrupted = cancel.load(Ordering::SeqCst);
    let mut diags = applier.run.diags.take();
    if !diags.has_errors() && outcomes.contains(&NodeOutcome::Failed) {
        diags.push(Diagnostic::error(
            "Apply failed",
            "Some operations failed; see the messages above.",
        ));
    }
    // Root outputs.
    let mut output_changes = Vec::new();
    {
        let store = applier.run.store.borrow();
        for oc in &plan.outputs {
            let new = if plan.destroy {
                None
            } else {
                // A null output is not recorded, as in Terraform.
                store
                    .outputs
                    .get(&(ModulePath::root(), oc.name.clone()))
                    .filter(|v| !v.is_null())
                    .cloned()
            };
            let prior = plan.prior.outputs.get(&oc.name);
            match (&new, prior) {
                (Some(v), Some(p)) if v.same_as(&p.value) && p.sensitive == oc.sensitive => {}
                (None, None) => {}
                (None, Some(_))
                    if !plan.destroy
                        && !interrupted
                        && !outcomes.iter().all(|o| *o == NodeOutcome::Done) => {}
                _ => output_changes.push(Change::Output(
                    oc.name.clone(),
                    new.map(|value| OutputState {
                        value,
                        sensitive: oc.sensitive,
                    }),
                )),
            }
        }
    }
    if !output_changes.is_empty() {
        if let Err(d) = applier.write(output_changes).await {
            diags.push(d);
        }
    }
    let Applier { writer, counts, .. } = applier;
    let serial = writer.finish();
    if let Some(serial) = serial {
        let status = if interrupted || diags.has_errors() {
            SerialStatus::Incomplete
        } else {
            SerialStatus::Complete
        };
        if let Err(e) = backend.finish(serial, status) {
            diags.push(Diagnostic::error(
                "Failed to finish the state serial",
                e.to_string(),
            ));
        }
    }
    let (added, changed, destroyed) = *counts.borrow();
    outcome.serial = serial;
    outcome.added = added;
    outcome.changed = changed;
    outcome.destroyed = destroyed;
    outcome.interrupted = interrupted;
    outcome.diagnostics = diags;
    outcome
}

/// Orders deletions: dependents are destroyed before what they depend on; a replaced
/// object is destroyed before its successor is created (or after, with
/// create_before_destroy); an object that leaves the configuration is destroyed after
/// the resources that used to depend on it have been updated.
fn add_destroy_edges(
    model: &Model<'_>,
    plan: &Plan,
    graph: &mut Graph,
    destroy_node: &HashMap<InstanceAddr, usize>,
) {
    let resource_node = |addr: &ResourceAddr| {
        model.node(&NodeKind::Resource(addr.module.config(), addr.local_name()))
    };
    // For every resource address: the destroyed instances, and the resources still in
    // the configuration, that recorded a dependency on it.
    let mut destroyed_dependents: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut kept_dependents: HashMap<&str, Vec<usize>> = HashMap::new();
    for other in &plan.changes {
        for dep in &other.dependencies {
            if let Some(&on) = destroy_node.get(&other.addr) {
                destroyed_dependents
                    .entry(dep.as_str())
                    .or_default()
                    .push(on);
            }
            if !other.action.deletes() {
                if let Some(rn) = resource_node(&other.addr.resource) {
                    kept_dependents.entry(dep.as_str()).or_default().push(rn);
                }
            }
        }
    }
    let mut config_dependents: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, deps) in &model.resource_deps {
        for d in deps {
            config_dependents.entry(d.as_str()).or_default().push(*i);
        }
    }
    for c in &plan.changes {
        let Some(&dn) = destroy_node.get(&c.addr) else {
            continue;
        };
        let raddr = c.addr.resource.to_string();
        // Dependents' destroys first: Y depends on X ⇒ destroy(X) after destroy(Y).
        for &on in destroyed_dependents
            .get(raddr.as_str())
            .into_iter()
            .flatten()
        {
            if on != dn {
                graph.add_edge(dn, on);
            }
        }
        let own = resource_node(&c.addr.resource);
        match c.action {
            Action::DeleteThenCreate => {
                if let Some(rn) = own {
                    graph.add_edge(rn, dn);
                }
            }
            Action::CreateThenDelete => {
                if let Some(rn) = own {
                    graph.add_edge(dn, rn);
                    // Resources that reference the replaced one move to the new object first.
                    for &i in config_dependents.get(raddr.as_str()).into_iter().flatten() {
                        graph.add_edge(dn, i);
                    }
                }
            }
            _ => {
                // Resources still in the configuration that depended on it are updated first.
                for &on in kept_dependents.get(raddr.as_str()).into_iter().flatten() {
                    graph.add_edge(dn, on);
                }
            }
        }
    }
}

impl<'c> Applier<'c> {
    async fn write(&self, changes: Vec<Change>) -> Result<(), Diagnostic> {
        self.writer.write(changes).await.map(|_| ()).map_err(|e| {
            Diagnostic::error(
                "Failed to write state",
                format!("The change was made, but recording it in state failed: {e}. Fix the state storage and run terrane plan; objects created now may need terrane import."),
            )
        })
    }

    async fn visit(&self, node: &ApplyNode) -> bool {
        match node {
            ApplyNode::Destroy(i) => self.destroy(&self.plan.changes[*i]).await,
            ApplyNode::Model(n) => match &self.run.model.nodes[*n] {
                NodeKind::Resource(m, key) => {
                    let Some(r) = self.run.model.resource(m, key) else {
                        return false;
                    };
                    let recorded = self.plan.destroy.then(|| self.by_resource.keys());
                    let instances = self.run.resource_module_instances(m, key, recorded);
                    let mut ok = true;
                    for mi in &instances {
                        ok &= self.apply_resource(*n, mi, r).await;
                    }
                    ok
                }
                _ => self.run.visit_value_node(*n, &self.plan.variables),
            },
        }
    }

    async fn destroy(&self, c: &ResourceChange) -> bool {
        let Some(before) = &c.before else { return true };
        let permit = self.semaphore.acquire().await;
        if self.cancel.load(Ordering::SeqCst) {
            return false;
        }
        let Some(provider) = self.run.provider(&c.provider) else {
            self.run.error(Diagnostic::error(
                "Provider not available",
                format!("{}: cannot configure {} to destroy it.", c.addr, c.provider),
            ));
            return false;
        };
        let start = Instant::now();
        self.observer.event(Event::ApplyStarted(
            c.addr.clone(),
            Action::Delete,
            id_of(before),
        ));
        let prior = self.plan.prior.resources.get(&c.addr);
        let private = prior.map(|s| s.meta.private.as_slice()).unwrap_or_default();
        // Destroy-time provisioners, while the resource is still configured and its
        // object was not tainted.
        let module = &c.addr.resource.module;
        let configured = self.run.model.resource(
            &module.config(),
            &format!("{}.{}", c.addr.resource.type_name, c.addr.resource.name),
        );
        if let Some(r) = configured.filter(|r| {
            crate::provision::has_provisioners(r, true) && !prior.is_some_and(|p| p.meta.tainted)
        }) {
            let exp = crate::provision::expansion_of(&c.addr.key);
            if let Err(d) = crate::provision::run_provisioners(
                &self.run,
                self.observer,
                module,
                r,
                &exp,
                &c.addr,
                before,
                true,
            )
            .await
            {
                self.observer
                    .event(Event::ApplyFailed(c.addr.clone(), d.summary.clone()));
                self.run.error(d);
                return false;
            }
        }
        let result = provider
            .delete_object(&c.addr.resource.type_name, before.unmark().0, private)
            .await;
        crate::forward_warnings(provider.as_ref(), self.observer);
        // The slot is free for the next provider operation while the state write commits.
        drop(permit);
        match result {
            Ok(()) => {
                // With create_before_destroy the row already holds the new object.
                if c.action != Action::CreateThenDelete {
                    if let Err(d) = self.write(vec![Change::Remove(c.addr.clone())]).await {
                        self.run.error(d);
                        return false;
                    }
                }
                // A replacement counts as one added and one destroyed, as in the plan.
                self.counts.borrow_mut().2 += 1;
                self.observer.event(Event::ApplyDone(
                    c.addr.clone(),
                    Action::Delete,
                    start.elapsed(),
                    None,
                ));
                true
            }
            Err(e) => {
                let msg = if c.action == Action::CreateThenDelete {
                    format!("The replacement was created, but destroying the old object (id {}) failed: {e}. Delete it by hand.", id_of(before).unwrap_or_default())
                } else {
                    e.to_string()
                };
                self.observer
                    .event(Event::ApplyFailed(c.addr.clone(), msg.clone()));
                self.run.error(Diagnostic::error(
                    "Error destroying resource",
                    format!("{}: {msg}", c.addr),
                ));
                false
            }
        }
    }

    async fn apply_resource(&self, node: usize, module: &ModulePath, r: &Resource) -> bool {
        let raddr = resource_addr(module, r);
        let Ok((_, schema)) = resource_schema(self.run.registry, r) else {
            return false;
        };
        let paddr = self
            .run
            .model
            .resource_provider
            .get(&node)
            .cloned()
            .unwrap_or_default();
        let changes: HashMap<InstanceKey, &ResourceChange> = self
            .by_resource
            .get(&raddr)
            .map(|v| v.iter().map(|c| (c.addr.key.clone(), *c)).collect())
            .unwrap_or_default();
        if self.plan.destroy {
            let values: BTreeMap<InstanceKey, Value> = changes
                .iter()
                .filter_map(|(k, c)| c.before.clone().map(|b| (k.clone(), b)))
                .collect();
            let rep = values
                .keys()
                .next()
                .map(crate::store::Repetition::of)
                .unwrap_or_default();
            self.run
                .store
                .borrow_mut()
                .resources
                .insert((module.clone(), r.key()), ResourceValues::new(rep, values));
            return true;
        }
        let (repetition, expansions) = match self.run.expand(module, r) {
            Ok(x) => x,
            Err(d) => {
                self.run.error(d);
                return false;
            }
        };
        let Some(provider) = self.run.provider(&paddr) else {
            return false;
        };
        let deps = self
            .run
            .model
            .resource_deps
            .get(&node)
            .cloned()
            .unwrap_or_default();
        let futs = expansions.iter().map(|exp| {
            let addr = raddr.instance(exp.key.clone());
            let change = changes.get(&exp.key).copied();
            let provider = provider.clone();
            let deps = &deps;
            let paddr = &paddr;
            async move {
                let res = self
                    .apply_instance(
                        module, r, schema, &provider, exp, &addr, change, deps, paddr,
                    )
                    .await;
                (exp.key.clone(), res)
            }
        });
        let mut values = BTreeMap::new();
        let mut ok = true;
        for (key, res) in futures_util::future::join_all(futs).await {
            match res {
                Ok(v) => {
                    values.insert(key, v);
                }
                Err(ds) => {
                    for d in ds {
                        self.run.error(d);
                    }
                    ok = false;
                }
            }
        }
        self.run.store.borrow_mut().resources.insert(
            (module.clone(), r.key()),
            ResourceValues::new(repetition, values),
        );
        ok
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_instance(
        &self,
        module: &ModulePath,
        r: &Resource,
        schema: &Schema,
        provider: &Arc<dyn Provider>,
        exp: &Expansion,
        addr: &InstanceAddr,
        change: Option<&ResourceChange>,
        deps: &[String],
        paddr: &str,
    ) -> Result<Value, Vec<Diagnostic>> {
        let prior = self.plan.prior.resources.get(addr).map(|s| s.value.clone());
        if r.mode == ResourceMode::Data {
            let config = self
                .run
                .instance_config(module, r, schema, exp)
                .map_err(|d| d.0)?;
            let _permit = self.semaphore.acquire().await;
            self.observer.event(Event::Reading(addr.clone()));
            let v = provider.read_data(&r.type_name, config.unmark().0).await;
            crate::forward_warnings(provider.as_ref(), self.observer);
            let v = match v {
                // A check's data source that cannot be read leaves the check
                // unverified, with a warning; the apply goes on.
                Err(e) if r.check.is_some() => {
                    crate::check_data_warnings(addr, r, &e, self.observer);
                    return Ok(Value::Unknown);
                }
                v => {
                    v.map_err(|e| crate::provider_error("Error reading data source", addr, r, &e))?
                }
            };
            let v = remark(v, &config, schema);
            self.run
                .conditions(module, r, exp, Some(&v))
                .map_err(|d| d.0)?;
            return Ok(v);
        }
        let Some(change) = change else {
            // Not part of this plan (e.g. outside --target): keep what state has.
            return Ok(prior.unwrap_or(Value::Null));
        };
        if change.action == Action::NoOp {
            return Ok(change.before.clone().unwrap_or(Value::Null));
        }
        // Preconditions the plan could not decide (unknown then) are decided now.
        self.run.conditions(module, r, exp, None).map_err(|d| d.0)?;
        let config = self
            .run
            .instance_config(module, r, schema, exp)
            .map_err(|d| d.0)?;
        let before = change.before.clone();
        let config = apply_ignore_changes(r, config, before.as_ref(), schema);
        let plain_before = if change.action.is_replace() {
            None
        } else {
            before.as_ref().map(|b| b.unmark().0)
        };
        let prior_meta = self
            .plan
            .prior
            .resources
            .get(addr)
            .map(|s| s.meta.clone())
            .unwrap_or_default();
        let final_plan = provider
            .plan(
                &r.type_name,
                plain_before.as_ref(),
                if plain_before.is_some() {
                    &prior_meta.private
                } else {
                    &[]
                },
                &config.unmark().0,
                schema,
            )
            .await
            .map_err(|e| crate::provider_error("Invalid resource configuration", addr, r, &e))?;
        let planned = remark(final_plan.planned, &config, schema);
        let legacy = final_plan.legacy_type_system;
        if let Some(saved) = &change.after {
            if let Some(attr) = inconsistent(saved, &planned) {
                return Err(vec![Diagnostic::error(
                    "Provider produced inconsistent final plan",
                    format!("When applying {addr}, the attribute {attr:?} has a different value than the saved plan said it would. Run terrane plan again."),
                )]);
            }
        }
        let permit = self.semaphore.acquire().await;
        if self.cancel.load(Ordering::SeqCst) {
            return Err(Vec::new());
        }
        let start = Instant::now();
        let verb = if change.action == Action::Update {
            Action::Update
        } else {
            Action::Create
        };
        // A replacement's create starts a new object: the old one's id is not its own.
        let id = match verb {
            Action::Update => before.as_ref().and_then(id_of),
            _ => None,
        };
        self.observer
            .event(Event::ApplyStarted(addr.clone(), verb, id));
        let plain = planned.unmark().0;
        let prior = match change.action {
            Action::Update => Some(before.map(|b| b.unmark().0).unwrap_or_default()),
            _ => None,
        };
        let result = provider
            .apply(
                &r.type_name,
                prior,
                plain,
                &config.unmark().0,
                &final_plan.private,
            )
            .await;
        crate::forward_warnings(provider.as_ref(), self.observer);
        // The slot is free for the next provider operation while the state write commits.
        drop(permit);
        let (new, private) = match result {
            Ok(applied) => (remark(applied.value, &config, schema), applied.private),
            Err(e) => {
                self.observer
                    .event(Event::ApplyFailed(addr.clone(), e.to_string()));
                let summary = if verb == Action::Update {
                    "Error updating resource"
                } else {
                    "Error creating resource"
                };
                if !e.diagnostics.is_empty() {
                    return Err(crate::provider_error(summary, addr, r, &e));
                }
                return Err(vec![Diagnostic::error(
                    summary,
                    format!("{addr}: the provider reported: {e}"),
                )
                .with_span(Some(r.span.clone()))]);
            }
        };
        // Creation-time provisioners run on a new object only. Until they have all
        // succeeded the object is recorded tainted: a failure, Ctrl-C or a crash in
        // between leaves it to be replaced, never taken for configured.
        let provisioned = verb == Action::Create && crate::provision::has_provisioners(r, false);
        let mut state = InstanceState {
            addr: addr.clone(),
            provider: paddr.to_string(),
            value: new.clone(),
            dependencies: deps.to_vec(),
            create_before_destroy: r.lifecycle.create_before_destroy,
            meta: terrane_state::ObjectMeta {
                private,
                schema_version: schema.version,
                plugin: self.run.served_by_plugin(r),
                tainted: provisioned,
            },
        };
        self.write(vec![Change::Put(state.clone())])
            .await
            .map_err(|d| vec![d])?;
        if provisioned {
            let provisioners = crate::provision::run_provisioners(
                &self.run,
                self.observer,
                module,
                r,
                exp,
                addr,
                &new,
                false,
            )
            .await;
            if let Err(d) = provisioners {
                self.observer
                    .event(Event::ApplyFailed(addr.clone(), d.summary.clone()));
                return Err(vec![d]);
            }
            state.meta.tainted = false;
            self.write(vec![Change::Put(state)])
                .await
                .map_err(|d| vec![d])?;
        }
        // As Terraform checks a plugin's result against its own plan (the object is
        // recorded first: it exists).
        let plugin = self.run.served_by_plugin(r);
        if plugin {
            if let Some(attr) = inconsistent(&planned, &new) {
                let show = |v: Option<&Value>| {
                    v.map(|v| v.to_display()).unwrap_or_else(|| "absent".into())
                };
                let detail = format!(
                    "When applying changes to {addr}, provider {paddr} produced an unexpected new value: .{attr} was {}, but now {}. This is a bug in the provider, which should be reported in the provider's own issue tracker.",
                    show(planned.get(&attr)),
                    show(new.get(&attr))
                );
                if legacy {
                    tracing::warn!("{detail} (tolerated: the provider uses the legacy SDK)");
                } else {
                    self.observer
                        .event(Event::ApplyFailed(addr.clone(), detail.clone()));
                    return Err(vec![Diagnostic::error(
                        "Provider produced inconsistent result after apply",
                        detail,
                    )
                    .with_span(Some(r.span.clone()))]);
                }
            }
        }
        // Postconditions on what was applied; a failure fails the run, but the object
        // is recorded (it exists), as in Terraform.
        if let Err(d) = self.run.conditions(module, r, exp, Some(&new)) {
            self.observer.event(Event::ApplyFailed(
                addr.clone(),
                "a postcondition failed".into(),
            ));
            return Err(d.0);
        }
        {
            let mut c = self.counts.borrow_mut();
            match change.action {
                Action::Update => c.1 += 1,
                _ => c.0 += 1,
            }
        }
        self.observer.event(Event::ApplyDone(
            addr.clone(),
            verb,
            start.elapsed(),
            id_of(&new),
        ));
        Ok(new)
    }
}

/// The first top-level attribute whose value the saved plan knew and the final plan
/// changed.
fn inconsistent(saved: &Value, now: &Value) -> Option<String> {
    let (Some(s), Some(n)) = (saved.as_map(), now.as_map()) else {
        return None;
    };
    for (k, sv) in s {
        if !sv.is_wholly_known() {
            continue;
        }
        match n.get(k) {
            Some(nv) if nv.same_as(sv) => {}
            Some(nv) if !nv.is_wholly_known() => return Some(k.clone()),
            _ => return Some(k.clone()),
        }
    }
    None
}
