//! The machine-readable plan, in the shape of Terraform's JSON plan format, so that
//! tools and policies written for `terraform show -json` read it unchanged. Sensitive
//! values are left out (`null`) and flagged in `*_sensitive`; unknown values are
//! `null` and flagged in `after_unknown`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as Json};
use terrane_core::doc::Projection;
use terrane_core::{Doc, InstanceAddr, InstanceKey, ResourceMode, Value};
use terrane_lang::ast::TravOp;
use terrane_lang::ExprKind;
use terrane_state::Snapshot;

use crate::plan::{Action, Plan, ResourceChange};
use terrane_provider::{full_provider_name, Sources};

fn resource_header(addr: &InstanceAddr, provider: &str, sources: &Sources) -> Map<String, Json> {
    resource_header_entries::<Json>(addr, provider, sources)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// The fields every resource entry starts with, in Terraform's order.
fn resource_header_entries<D: Doc>(
    addr: &InstanceAddr,
    provider: &str,
    sources: &Sources,
) -> Vec<(&'static str, D)> {
    let mut m = Vec::with_capacity(12);
    push_header_entries(&mut m, addr, provider, sources, &Projection::all());
    m
}

/// The header fields `p` reaches.
fn push_header_entries<D: Doc>(
    m: &mut Vec<(&'static str, D)>,
    addr: &InstanceAddr,
    provider: &str,
    sources: &Sources,
    p: &Projection,
) {
    let mut push = |key: &'static str, value: &dyn Fn() -> D| {
        if p.field(key).is_some() {
            m.push((key, value()));
        }
    };
    push("address", &|| D::string(&addr.to_string()));
    if !addr.resource.module.is_root() {
        push("module_address", &|| {
            D::string(&addr.resource.module.to_string())
        });
    }
    push("mode", &|| {
        D::string(if addr.resource.mode == ResourceMode::Data {
            "data"
        } else {
            "managed"
        })
    });
    push("type", &|| D::string(&addr.resource.type_name));
    push("name", &|| D::string(&addr.resource.name));
    match &addr.key {
        InstanceKey::None => {}
        InstanceKey::Int(i) => push("index", &|| D::number(&terrane_core::Number::from(*i))),
        InstanceKey::Str(s) => push("index", &|| D::string(s)),
    }
    // The full source address, as Terraform writes it.
    push("provider_name", &|| {
        D::string(&full_provider_name(provider, sources))
    });
}

/// One entry of `resource_changes`, built in any document model (the policy engine
/// builds its input with this directly).
pub fn resource_change_doc<D: Doc>(c: &ResourceChange, sources: &Sources) -> D {
    resource_change_doc_projected(c, &Projection::all(), sources)
}

/// The part of an entry of `resource_changes` that `p` reaches: what policies that
/// read only those paths need, for less work on a large plan.
pub fn resource_change_doc_projected<D: Doc>(
    c: &ResourceChange,
    p: &Projection,
    sources: &Sources,
) -> D {
    let mut m = Vec::with_capacity(12);
    push_header_entries(&mut m, &c.addr, &c.provider, sources, p);
    if let Some(pc) = p.field("change") {
        let mut change = Vec::with_capacity(7);
        let mut push = |key: &'static str, value: &dyn Fn(&Projection) -> D| {
            if let Some(p) = pc.field(key) {
                change.push((key, value(p)));
            }
        };
        let value = |v: &Option<Value>, p: &Projection| {
            v.as_ref()
                .map_or_else(D::null, |v| v.to_doc_projected(true, p))
        };
        push("actions", &|_| {
            D::array(
                c.action
                    .json_actions()
                    .iter()
                    .map(|a| D::string(a))
                    .collect(),
            )
        });
        push("before", &|p| value(&c.before, p));
        push("after", &|p| value(&c.after, p));
        // As Terraform: `{}` when nothing is unknown (also for a delete).
        push("after_unknown", &|_| match &c.after {
            Some(a) if !a.is_wholly_known() => mask_doc(Some(a), Value::unknown_mask_doc),
            _ => D::object(Vec::new()),
        });
        push("before_sensitive", &|_| {
            mask_doc(c.before.as_ref(), Value::sensitive_mask_doc)
        });
        push("after_sensitive", &|_| {
            mask_doc(c.after.as_ref(), Value::sensitive_mask_doc)
        });
        // The attributes that force a replacement, as Terraform lists them.
        let paths: Vec<&String> = c.attribute_replace_paths().collect();
        if !paths.is_empty() {
            push("replace_paths", &|_| {
                D::array(paths.iter().map(|p| D::array(vec![D::string(p)])).collect())
            });
        }
        m.push(("change", D::object(change)));
    }
    if let Some(r) = &c.reason {
        if p.field("action_reason").is_some() {
            m.push(("action_reason", D::string(r)));
        }
    }
    D::object(m)
}

/// A mask of an optional value: `false` when absent, `{}` when nothing is marked.
fn mask_doc<D: Doc>(v: Option<&Value>, mask: fn(&Value) -> Option<D>) -> D {
    match v {
        Some(v) => mask(v).unwrap_or_else(|| D::object(Vec::new())),
        None => D::bool(false),
    }
}

fn opt_json(v: &Option<Value>, f: fn(&Value) -> Json, absent: Json) -> Json {
    v.as_ref().map(f).unwrap_or(absent)
}

fn sensitive_mask(v: Option<&Value>) -> Json {
    mask_doc(v, Value::sensitive_mask_doc)
}

/// A value's type as Terraform writes it in JSON (`"string"`, `["tuple", [...]]`,
/// `["object", {...}]`), read from the value: a literal list is a tuple and a map an
/// object, as Terraform types them.
pub fn type_json(v: &Value) -> Json {
    match v {
        Value::Null | Value::Unknown => json!("dynamic"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::List(items) => json!(["tuple", items.iter().map(type_json).collect::<Vec<_>>()]),
        Value::Set(items) => json!(["set", items.first().map_or(json!("dynamic"), type_json)]),
        Value::Map(m) => json!([
            "object",
            m.iter()
                .map(|(k, v)| (k.clone(), type_json(v)))
                .collect::<Map<String, Json>>()
        ]),
        Value::Sensitive(inner) => type_json(inner),
    }
}

/// Builds Terraform's nested `root_module` / `child_modules` structure.
fn module_tree(resources: Vec<(InstanceAddr, Json)>) -> Json {
    let mut by_module: BTreeMap<Vec<String>, Vec<Json>> = BTreeMap::new();
    for (addr, r) in resources {
        by_module
            .entry(addr.resource.module.0.clone())
            .or_default()
            .push(r);
    }
    fn build(path: &[String], by_module: &BTreeMap<Vec<String>, Vec<Json>>) -> Json {
        let mut m = Map::new();
        if !path.is_empty() {
            let addr: Vec<String> = path.iter().map(|p| format!("module.{p}")).collect();
            m.insert("address".into(), json!(addr.join(".")));
        }
        let resources = by_module.get(path).cloned().unwrap_or_default();
        if !resources.is_empty() {
            m.insert("resources".into(), Json::Array(resources));
        }
        let children: Vec<Json> = by_module
            .keys()
            .filter(|k| k.len() == path.len() + 1 && k.starts_with(path))
            .map(|k| build(k, by_module))
            .collect();
        if !children.is_empty() {
            m.insert("child_modules".into(), Json::Array(children));
        }
        Json::Object(m)
    }
    // Make sure intermediate modules exist so children are reachable.
    let keys: Vec<Vec<String>> = by_module.keys().cloned().collect();
    for k in keys {
        for i in 0..k.len() {
            by_module.entry(k[..i].to_vec()).or_default();
        }
    }
    build(&[], &by_module)
}

/// The state's outputs as `terrane output --json` prints them, as Terraform does: name
/// → `sensitive` and `value`, sensitive values included (scripts read them from here;
/// human listings hide them). Null outputs are left out, as Terraform never records
/// them.
pub fn outputs(snapshot: &Snapshot) -> serde_json::Map<String, Json> {
    snapshot
        .outputs
        .iter()
        .filter(|(_, o)| !o.value.is_null())
        .map(|(k, o)| {
            let value = o.value.unmark().0;
            let doc = json!({
                "sensitive": o.sensitive,
                "type": type_json(&value),
                "value": value.to_json(),
            });
            (k.clone(), doc)
        })
        .collect()
}

/// The state part (`prior_state`) in Terraform's shape.
pub fn state_json(snapshot: &Snapshot, sources: &Sources) -> Json {
    state_json_with(snapshot, &snapshot.outputs, sources)
}

/// [`state_json`] with `outputs` in place of the snapshot's own.
fn state_json_with(
    snapshot: &Snapshot,
    outputs: &BTreeMap<String, terrane_state::OutputState>,
    sources: &Sources,
) -> Json {
    let resources = snapshot
        .resources
        .values()
        .map(|inst| {
            let mut m = resource_header(&inst.addr, &inst.provider, sources);
            m.remove("module_address");
            m.insert("schema_version".into(), json!(0));
            m.insert("values".into(), inst.value.to_json_redacted());
            m.insert("sensitive_values".into(), sensitive_mask(Some(&inst.value)));
            if !inst.dependencies.is_empty() {
                m.insert("depends_on".into(), json!(inst.dependencies));
            }
            (inst.addr.clone(), Json::Object(m))
        })
        .collect();
    let outputs: Map<String, Json> = outputs
        .iter()
        .map(|(k, o)| {
            (
                k.clone(),
                json!({
                    "sensitive": o.sensitive,
                    "type": type_json(&o.value),
                    "value": o.value.to_json_redacted(),
                }),
            )
        })
        .collect();
    json!({
        "format_version": "1.0",
        "terraform_version": concat!("terrane-", env!("CARGO_PKG_VERSION")),
        "serial": snapshot.serial,
        "lineage": snapshot.lineage,
        "values": if outputs.is_empty() {
            json!({ "root_module": module_tree(resources) })
        } else {
            json!({ "outputs": outputs, "root_module": module_tree(resources) })
        }
    })
}

/// The root outputs of the state as refreshed before planning, as Terraform's
/// `prior_state` shows them: evaluated with the configuration as it is now where they
/// are known before apply (the others keep their recorded values; a destroy plan keeps
/// them all). The refreshed objects are `plan.prior`'s own.
fn refreshed_outputs(plan: &Plan) -> BTreeMap<String, terrane_state::OutputState> {
    let mut outputs = plan.prior.outputs.clone();
    if plan.destroy {
        return outputs;
    }
    for o in &plan.outputs {
        if plan.untargeted_outputs.contains(&o.name) {
            continue;
        }
        match &o.after {
            Some(value) if value.is_wholly_known() && !value.is_null() => {
                let output = terrane_state::OutputState {
                    value: value.clone(),
                    sensitive: o.sensitive,
                };
                outputs.insert(o.name.clone(), output);
            }
            // Known only after apply: the recorded value stays.
            Some(value) if !value.is_wholly_known() => {}
            _ => {
                outputs.remove(&o.name);
            }
        }
    }
    outputs
}

/// An empty array or object.
fn is_empty(v: &Json) -> bool {
    match v {
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The current state as a plan document in which nothing changes: every object is a
/// `no-op` resource change with `before` and `after` equal to its recorded value, and
/// the state itself is `prior_state`. Policies written for plans evaluate it unchanged;
/// the agent's compliance monitoring and `terrane policy status` use it.
pub fn state_plan_json(snapshot: &Snapshot) -> Json {
    let sources = Sources::new();
    let changes: Vec<Json> = snapshot
        .resources
        .values()
        .map(|inst| {
            let mut m = resource_header(&inst.addr, &inst.provider, &sources);
            let value = inst.value.to_json_redacted();
            let mask = sensitive_mask(Some(&inst.value));
            m.insert(
                "change".into(),
                json!({
                    "actions": ["no-op"],
                    "before": value,
                    "after": value,
                    "after_unknown": {},
                    "before_sensitive": mask,
                    "after_sensitive": mask,
                }),
            );
            Json::Object(m)
        })
        .collect();
    json!({
        "format_version": "1.2",
        "terraform_version": concat!("terrane-", env!("CARGO_PKG_VERSION")),
        "resource_changes": changes,
        "prior_state": state_json(snapshot, &sources),
    })
}

/// The whole plan document.
pub fn plan_json(plan: &Plan) -> Json {
    plan_json_where(plan, &|_| true)
}

/// The plan document with only the resource changes `keep` selects (for a consumer
/// that reads a few types out of a large plan, such as the built-in scan).
pub fn plan_json_where(plan: &Plan, keep: &dyn Fn(&crate::plan::ResourceChange) -> bool) -> Json {
    plan_json_parts(plan, keep, &|_| true)
}

/// The plan document with only the top-level keys `part` selects (and, of those, only
/// the resource changes `keep` selects). A policy set that reads `input.resource_changes`
/// alone need not pay for `prior_state` and `planned_values` on a large plan.
pub fn plan_json_parts(
    plan: &Plan,
    keep: &dyn Fn(&crate::plan::ResourceChange) -> bool,
    part: &dyn Fn(&str) -> bool,
) -> Json {
    let (want_changes, want_planned) = (part("resource_changes"), part("planned_values"));
    let sources = &plan.provider_sources;
    let mut resource_changes = Vec::new();
    let mut planned = Vec::new();
    for c in plan.changes.iter().filter(|c| keep(c)) {
        if want_planned && c.addr.resource.mode == ResourceMode::Managed {
            if let Some(after) = &c.after {
                let mut p = resource_header(&c.addr, &c.provider, sources);
                p.remove("module_address");
                p.insert("schema_version".into(), json!(0));
                p.insert("values".into(), after.to_json_redacted());
                p.insert("sensitive_values".into(), sensitive_mask(Some(after)));
                planned.push((c.addr.clone(), Json::Object(p)));
            }
        }
        if !want_changes {
            continue;
        }
        let mut doc = resource_change_doc::<Json>(c, sources);
        // Terraform's `previous_address`: where a `moved` block found the object.
        if let (Some(m), Some(o)) = (
            plan.moves.iter().find(|m| m.to == c.addr),
            doc.as_object_mut(),
        ) {
            o.insert("previous_address".into(), json!(m.from.to_string()));
        }
        // And `change.importing`: the ID an `import` block reads the object by.
        if let Some((_, id)) = plan.imports.iter().find(|(a, _)| *a == c.addr) {
            if let Some(change) = doc.get_mut("change").and_then(|c| c.as_object_mut()) {
                change.insert("importing".into(), json!({ "id": id }));
            }
        }
        resource_changes.push(doc);
    }
    let mut output_changes = Map::new();
    let mut planned_outputs = Map::new();
    for o in plan
        .outputs
        .iter()
        .filter(|o| !plan.untargeted_outputs.contains(&o.name))
    {
        let mark = |v: &Option<Value>| v.as_ref().map(|v| v.clone().mark_if(o.sensitive));
        let (before, after) = (mark(&o.before), mark(&o.after));
        let partly_unknown = after.as_ref().is_some_and(|a| !a.is_wholly_known());
        let unknown = after
            .as_ref()
            .is_some_and(|a| partly_unknown && a.unknown_mask() == json!(true));
        let mut change = json!({
            "actions": o.action().json_actions(),
            "before": opt_json(&before, Value::to_json_redacted, Json::Null),
            "after": opt_json(&after, Value::to_json_redacted, Json::Null),
            "after_unknown": match &after {
                Some(a) if partly_unknown => a.unknown_mask(),
                _ => json!(false),
            },
            "before_sensitive": o.sensitive,
            "after_sensitive": o.sensitive,
        });
        // A value known only after apply has no `after`, as Terraform writes it.
        if let (true, Some(c)) = (unknown, change.as_object_mut()) {
            c.remove("after");
        }
        output_changes.insert(o.name.clone(), change);
        if let Some(a) = &after {
            let mut planned = json!({ "sensitive": o.sensitive });
            if !partly_unknown {
                planned["type"] = type_json(a);
                planned["value"] = a.to_json_redacted();
            }
            planned_outputs.insert(o.name.clone(), planned);
        }
    }
    // Drift can be as large as the state: built only when asked for (outputs and
    // variables are small).
    let drift: Vec<Json> = plan
        .drift
        .iter()
        .filter(|_| part("resource_drift"))
        .map(|d| {
            let provider = plan
                .prior
                .resources
                .get(&d.addr)
                .map(|s| s.provider.clone())
                .unwrap_or_default();
            let mut m = resource_header(&d.addr, &provider, sources);
            let action = if d.after.is_some() {
                Action::Update
            } else {
                Action::Delete
            };
            m.insert(
                "change".into(),
                json!({
                    "actions": action.json_actions(),
                    "before": d.before.to_json_redacted(),
                    "after": opt_json(&d.after, Value::to_json_redacted, Json::Null),
                    "before_sensitive": sensitive_mask(Some(&d.before)),
                    "after_sensitive": sensitive_mask(d.after.as_ref()),
                }),
            );
            Json::Object(m)
        })
        .collect();
    // Every root variable with the value the plan gave it (converted to its type,
    // defaults included), as Terraform lists them; a plan saved before values were
    // kept falls back to what was set.
    let mut variables: Map<String, Json> = plan
        .variable_values
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json_redacted()))
        .collect();
    for (k, v) in &plan.variables {
        if !variables.contains_key(k) {
            let value = match v {
                crate::run::RawVar::Text(t) => json!(t),
                crate::run::RawVar::Value(v) => v.to_json_redacted(),
            };
            variables.insert(k.clone(), value);
        }
    }
    for (k, v) in variables.iter_mut() {
        let value = if plan.sensitive_variables.contains(k) {
            Json::Null
        } else {
            v.take()
        };
        *v = json!({ "value": value });
    }
    variables.sort_keys();
    let mut doc = json!({
        "format_version": "1.2",
        "terraform_version": concat!("terrane-", env!("CARGO_PKG_VERSION")),
        "variables": variables,
        "planned_values": { "outputs": planned_outputs, "root_module": module_tree(planned) },
        "resource_drift": drift,
        "resource_changes": resource_changes,
        "output_changes": output_changes,
    });
    if let Json::Object(m) = &mut doc {
        // The state the plan starts from, when there is one (without terrane's
        // serial and lineage, which Terraform's plan does not carry).
        if part("prior_state") {
            let outputs = refreshed_outputs(plan);
            if !(plan.prior.resources.is_empty() && outputs.is_empty()) {
                let mut state = state_json_with(&plan.prior, &outputs, sources);
                if let Some(o) = state.as_object_mut() {
                    o.remove("serial");
                    o.remove("lineage");
                }
                m.insert("prior_state".into(), state);
            }
        }
        // Empty parts are left out, as Terraform leaves them out.
        for key in [
            "variables",
            "resource_drift",
            "resource_changes",
            "output_changes",
        ] {
            if m.get(key).is_some_and(is_empty) {
                m.remove(key);
            }
        }
        if let Some(planned) = m.get_mut("planned_values").and_then(Json::as_object_mut) {
            if planned.get("outputs").is_some_and(is_empty) {
                planned.remove("outputs");
            }
        }
        m.insert("errored".into(), json!(plan.errored));
        // As Terraform 1.6+: whether applying the plan would do anything, and whether
        // it covers the whole configuration (a targeted plan does not).
        m.insert(
            "applyable".into(),
            json!(!plan.errored && plan.has_changes()),
        );
        m.insert("complete".into(), json!(plan.targets.is_empty()));
        if !plan.checks.is_null() {
            m.insert("checks".into(), plan.checks.clone());
        }
        if !plan.timestamp.is_empty() {
            m.insert("timestamp".into(), json!(plan.timestamp));
        }
        m.retain(|k, _| part(k));
    }
    doc
}

/// The `configuration` part of Terraform's plan format: every module's resources with
/// their expressions (`constant_value` for a literal, `references` for what it refers
/// to), variables (with `sensitive`), module calls and root provider blocks. Policies
/// read it to tell a secret written as a literal from one passed by reference, and to
/// find which bucket an encryption resource points at before any ID is known.
///
/// A literal given to a sensitive attribute (by the provider's schema), to a sensitive
/// variable of a module, or as a sensitive variable's default is not written: its
/// `constant_value` is the placeholder [`REDACTED`] and `sensitive` is true, so a
/// policy still sees that a secret was written in the configuration, never the secret.
pub fn configuration_json(
    root: &terrane_lang::Module,
    registry: &terrane_provider::Registry,
) -> Json {
    configuration_json_where(root, registry, &|_| true)
}

/// The configuration section with only the resources `keep` selects.
pub fn configuration_json_where(
    root: &terrane_lang::Module,
    registry: &terrane_provider::Registry,
    keep: &dyn Fn(&terrane_lang::config::Resource) -> bool,
) -> Json {
    // Every provider a resource uses, then the root module's provider blocks with
    // their arguments, keyed `NAME` or `NAME.ALIAS` and sorted, as Terraform lists them.
    let entry = |name: &str| {
        let mut o = Map::new();
        o.insert("name".into(), json!(name));
        o.insert(
            "full_name".into(),
            json!(registry
                .get(name)
                .map(|f| f.source())
                .unwrap_or_else(|| terrane_provider::default_source(name))),
        );
        let required = root.terraform.required_providers.get(name);
        if let Some(v) = required.and_then(|r| r.version.as_ref()) {
            o.insert("version_constraint".into(), json!(v));
        }
        o
    };
    let mut used = std::collections::BTreeSet::new();
    providers_used(root, &mut used);
    let mut providers: Map<String, Json> = used
        .iter()
        .map(|name| (name.clone(), Json::Object(entry(name))))
        .collect();
    for p in &root.providers {
        let key = match &p.alias {
            Some(a) => format!("{}.{a}", p.name),
            None => p.name.clone(),
        };
        let schema = registry.get(&p.name).map(|f| &f.schema().provider);
        let mut o = entry(&p.name);
        if let Some(a) = &p.alias {
            o.insert("alias".into(), json!(a));
        }
        let expressions = body_json(
            &p.body,
            &|name| schema.is_some_and(|s| s.attributes.get(name).is_some_and(|a| a.sensitive)),
            schema,
        );
        if expressions.as_object().is_some_and(|e| !e.is_empty()) {
            o.insert("expressions".into(), expressions);
        }
        providers.insert(key, Json::Object(o));
    }
    providers.sort_keys();
    json!({ "provider_config": providers, "root_module": module_json(root, registry, keep) })
}

/// The local names of the providers the resources of `m` and its module calls use.
fn providers_used(m: &terrane_lang::Module, out: &mut std::collections::BTreeSet<String>) {
    out.extend(m.resources.values().map(|r| r.provider_name()));
    for c in m.module_calls.values() {
        providers_used(&c.module, out);
    }
}

/// What a redacted literal reads as in the configuration section.
pub const REDACTED: &str = "(sensitive value)";

fn resource_schema<'r>(
    r: &terrane_lang::config::Resource,
    registry: &'r terrane_provider::Registry,
) -> Option<&'r terrane_provider::Schema> {
    let p = registry.get(&r.provider_name())?.schema();
    if r.mode == ResourceMode::Data {
        p.data_sources.get(&r.type_name)
    } else {
        p.resources.get(&r.type_name)
    }
}

/// One module of the configuration section, as Terraform writes it: resources sorted
/// by their address within the module, outputs, variables and module calls, each left
/// out when empty.
fn module_json(
    m: &terrane_lang::Module,
    registry: &terrane_provider::Registry,
    keep: &dyn Fn(&terrane_lang::config::Resource) -> bool,
) -> Json {
    let mut resources: Vec<(String, Json)> = m
        .resources
        .values()
        .filter(|r| keep(r))
        .map(|r| {
            let local = if r.mode == ResourceMode::Data {
                format!("data.{}.{}", r.type_name, r.name)
            } else {
                format!("{}.{}", r.type_name, r.name)
            };
            let schema = resource_schema(r, registry);
            let mut o = Map::new();
            o.insert("address".into(), json!(local));
            o.insert(
                "mode".into(),
                json!(if r.mode == ResourceMode::Data {
                    "data"
                } else {
                    "managed"
                }),
            );
            o.insert("type".into(), json!(r.type_name));
            o.insert("name".into(), json!(r.name));
            o.insert("provider_config_key".into(), json!(r.provider_name()));
            let expressions = body_json(
                &r.body,
                &|name| schema.is_some_and(|s| s.attributes.get(name).is_some_and(|a| a.sensitive)),
                schema,
            );
            if expressions.as_object().is_some_and(|e| !e.is_empty()) {
                o.insert("expressions".into(), expressions);
            }
            if let Some(c) = &r.count {
                o.insert("count_expression".into(), expr_json(c, false));
            }
            if let Some(f) = &r.for_each {
                o.insert("for_each_expression".into(), expr_json(f, false));
            }
            o.insert(
                "schema_version".into(),
                json!(schema.map_or(0, |s| s.version)),
            );
            let depends_on = depends_on_json(&r.depends_on);
            if !depends_on.is_empty() {
                o.insert("depends_on".into(), json!(depends_on));
            }
            (local, Json::Object(o))
        })
        .collect();
    resources.sort_by(|a, b| a.0.cmp(&b.0));
    let outputs: Map<String, Json> = m
        .outputs
        .values()
        .map(|out| {
            let mut o = Map::new();
            o.insert("expression".into(), expr_json(&out.expr, out.sensitive));
            if let Some(d) = &out.description {
                o.insert("description".into(), json!(d));
            }
            if out.sensitive {
                o.insert("sensitive".into(), json!(true));
            }
            let depends_on = depends_on_json(&out.depends_on);
            if !depends_on.is_empty() {
                o.insert("depends_on".into(), json!(depends_on));
            }
            (out.name.clone(), Json::Object(o))
        })
        .collect();
    let variables: Map<String, Json> = m
        .variables
        .values()
        .map(|v| {
            let mut o = Map::new();
            if let Some(d) = v.default.as_ref().and_then(const_json) {
                o.insert(
                    "default".into(),
                    if v.sensitive { json!(REDACTED) } else { d },
                );
            }
            if let Some(d) = &v.description {
                o.insert("description".into(), json!(d));
            }
            if v.sensitive {
                o.insert("sensitive".into(), json!(true));
            }
            (v.name.clone(), Json::Object(o))
        })
        .collect();
    let calls: Map<String, Json> = m
        .module_calls
        .values()
        .map(|c| {
            let child = &c.module;
            (
                c.name.clone(),
                json!({
                    "source": c.source,
                    "expressions": body_json(&c.inputs, &|name| {
                        child.variables.get(name).is_some_and(|v| v.sensitive)
                    }, None),
                    "module": module_json(child, registry, keep),
                }),
            )
        })
        .collect();
    let mut doc = Map::new();
    if !outputs.is_empty() {
        doc.insert("outputs".into(), Json::Object(outputs));
    }
    if !resources.is_empty() {
        let resources = resources.into_iter().map(|(_, r)| r).collect();
        doc.insert("resources".into(), Json::Array(resources));
    }
    if !calls.is_empty() {
        doc.insert("module_calls".into(), Json::Object(calls));
    }
    if !variables.is_empty() {
        doc.insert("variables".into(), Json::Object(variables));
    }
    Json::Object(doc)
}

/// `depends_on` as the addresses written.
fn depends_on_json(exprs: &[terrane_lang::Expr]) -> Vec<String> {
    exprs.iter().filter_map(|e| e.address_text()).collect()
}

/// Attributes as expressions; nested blocks as lists of bodies, as Terraform writes them.
fn body_json(
    body: &terrane_lang::Body,
    sensitive: &dyn Fn(&str) -> bool,
    schema: Option<&terrane_provider::Schema>,
) -> Json {
    let mut o = Map::new();
    for (name, a) in &body.attrs {
        o.insert(name.clone(), expr_json(&a.expr, sensitive(name)));
    }
    for b in &body.blocks {
        let inner = schema
            .and_then(|s| s.blocks.get(&b.kind))
            .map(|bs| &bs.schema);
        let nested = body_json(
            &b.body,
            &|name| inner.is_some_and(|s| s.attributes.get(name).is_some_and(|a| a.sensitive)),
            inner,
        );
        let entry = o
            .entry(b.kind.clone())
            .or_insert_with(|| Json::Array(Vec::new()));
        if let Json::Array(items) = entry {
            items.push(nested);
        }
    }
    Json::Object(o)
}

fn expr_json(e: &terrane_lang::Expr, sensitive: bool) -> Json {
    if let Some(v) = const_json(e) {
        return if sensitive {
            json!({ "constant_value": REDACTED, "sensitive": true })
        } else {
            json!({ "constant_value": v })
        };
    }
    let mut refs: Vec<String> = Vec::new();
    e.each_reference(|r, rest| refs.extend(reference_strings(&r, rest)));
    json!({ "references": refs })
}

/// A reference as Terraform's JSON lists it: the reference with the static steps after
/// it (`aws_x.a[0].id`), then what contains it, outermost last (`aws_x.a[0]`,
/// `aws_x.a`; `var.m["k"]`, `var.m`; `module.m.out`, `module.m`).
fn reference_strings(r: &terrane_lang::Reference, rest: &[TravOp]) -> Vec<String> {
    use terrane_lang::Reference as R;
    let subject = match r {
        R::Var(n) => format!("var.{n}"),
        R::Local(n) => format!("local.{n}"),
        R::Resource { type_name, name } => format!("{type_name}.{name}"),
        R::Data { type_name, name } => format!("data.{type_name}.{name}"),
        R::ModuleOutput { module, output } => match output {
            Some(o) => format!("module.{module}.{o}"),
            None => format!("module.{module}"),
        },
        R::CountIndex => "count.index".into(),
        R::EachKey => "each.key".into(),
        R::EachValue => "each.value".into(),
        R::Path(p) => format!("path.{p}"),
        R::Workspace => "terraform.workspace".into(),
        R::SelfRef | R::Invalid(_) => return Vec::new(),
    };
    // The steps Terraform renders: attributes and literal indexes, up to the first
    // splat or computed index.
    let steps: Vec<String> = rest
        .iter()
        .map_while(|op| match op {
            TravOp::Attr(a, _) => Some(format!(".{a}")),
            TravOp::Index(i) => match &i.kind {
                ExprKind::Literal(Value::Number(n)) => Some(format!("[{n}]")),
                _ => i.as_literal_str().map(|k| format!("[{k:?}]")),
            },
            TravOp::Splat | TravOp::AttrSplat => None,
        })
        .collect();
    let mut out = vec![format!("{subject}{}", steps.concat())];
    let resource = matches!(r, R::Resource { .. } | R::Data { .. });
    // A resource's instance key belongs to its subject.
    let keyed = resource && steps.first().is_some_and(|s| s.starts_with('['));
    let instance = if keyed {
        format!("{subject}{}", steps[0])
    } else {
        subject.clone()
    };
    if steps.len() > usize::from(keyed) {
        out.push(instance);
    }
    if keyed {
        out.push(subject);
    } else if let R::ModuleOutput {
        module,
        output: Some(_),
    } = r
    {
        out.push(format!("module.{module}"));
    }
    out
}

/// The value of an expression made only of literals (a string without interpolation, a
/// number, a list or object of such), as Terraform's `constant_value`.
fn const_json(e: &terrane_lang::Expr) -> Option<Json> {
    use terrane_lang::ast::TemplatePart;
    use terrane_lang::ExprKind as K;
    match &e.kind {
        K::Literal(v) => Some(v.to_json()),
        K::Template(parts) => {
            let mut s = String::new();
            for p in parts {
                match p {
                    TemplatePart::Literal(l) => s.push_str(l),
                    _ => return None,
                }
            }
            Some(json!(s))
        }
        K::Tuple(items) => items
            .iter()
            .map(const_json)
            .collect::<Option<Vec<_>>>()
            .map(Json::Array),
        K::Object(items) => {
            let mut o = Map::new();
            for (k, v) in items {
                let key = match const_json(k)? {
                    Json::String(s) => s,
                    _ => k.as_traversal_path()?,
                };
                o.insert(key, const_json(v)?);
            }
            Some(Json::Object(o))
        }
        K::Unary(terrane_lang::ast::UnOp::Neg, inner) => match const_json(inner)? {
            Json::Number(n) => n.as_f64().map(|f| json!(-f)),
            _ => None,
        },
        _ => None,
    }
}
