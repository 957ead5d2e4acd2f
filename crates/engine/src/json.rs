//! The machine-readable plan, in the shape of Terraform's JSON plan format, so that
//! tools and policies written for `terraform show -json` read it unchanged. Sensitive
//! values are left out (`null`) and flagged in `*_sensitive`; unknown values are
//! `null` and flagged in `after_unknown`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as Json};
use terrane_core::{InstanceAddr, InstanceKey, ResourceMode, Value};
use terrane_state::Snapshot;

use crate::plan::{Action, Plan};

fn index_json(key: &InstanceKey) -> Option<Json> {
    match key {
        InstanceKey::None => None,
        InstanceKey::Int(i) => Some(json!(i)),
        InstanceKey::Str(s) => Some(json!(s)),
    }
}

fn provider_name(provider: &str) -> String {
    // `provider.aws.west` → `aws`, as Terraform's provider_name is the provider type.
    provider
        .rsplit("provider.")
        .next()
        .and_then(|s| s.split('.').next())
        .unwrap_or(provider)
        .to_string()
}

fn resource_header(addr: &InstanceAddr, provider: &str) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("address".into(), json!(addr.to_string()));
    if !addr.resource.module.is_root() {
        m.insert(
            "module_address".into(),
            json!(addr.resource.module.to_string()),
        );
    }
    m.insert(
        "mode".into(),
        json!(if addr.resource.mode == ResourceMode::Data {
            "data"
        } else {
            "managed"
        }),
    );
    m.insert("type".into(), json!(addr.resource.type_name));
    m.insert("name".into(), json!(addr.resource.name));
    if let Some(i) = index_json(&addr.key) {
        m.insert("index".into(), i);
    }
    m.insert("provider_name".into(), json!(provider_name(provider)));
    m
}

fn opt_json(v: &Option<Value>, f: fn(&Value) -> Json, absent: Json) -> Json {
    v.as_ref().map(f).unwrap_or(absent)
}

fn sensitive_mask(v: &Option<Value>) -> Json {
    match v {
        Some(v) => match v.sensitive_mask() {
            Json::Bool(false) => json!({}),
            m => m,
        },
        None => json!(false),
    }
}

fn unknown_mask(v: &Option<Value>) -> Json {
    match v {
        Some(v) => match v.unknown_mask() {
            Json::Bool(false) => json!({}),
            m => m,
        },
        None => json!(false),
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
        m.insert(
            "resources".into(),
            Json::Array(by_module.get(path).cloned().unwrap_or_default()),
        );
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

/// The state part (`prior_state`) in Terraform's shape.
pub fn state_json(snapshot: &Snapshot) -> Json {
    let resources = snapshot
        .resources
        .values()
        .map(|inst| {
            let mut m = resource_header(&inst.addr, &inst.provider);
            m.insert("schema_version".into(), json!(0));
            m.insert("values".into(), inst.value.to_json_redacted());
            m.insert(
                "sensitive_values".into(),
                sensitive_mask(&Some(inst.value.clone())),
            );
            if !inst.dependencies.is_empty() {
                m.insert("depends_on".into(), json!(inst.dependencies));
            }
            (inst.addr.clone(), Json::Object(m))
        })
        .collect();
    let outputs: Map<String, Json> = snapshot
        .outputs
        .iter()
        .map(|(k, o)| {
            (
                k.clone(),
                json!({ "sensitive": o.sensitive, "value": o.value.to_json_redacted() }),
            )
        })
        .collect();
    json!({
        "format_version": "1.0",
        "terraform_version": concat!("terrane-", env!("CARGO_PKG_VERSION")),
        "serial": snapshot.serial,
        "lineage": snapshot.lineage,
        "values": { "outputs": outputs, "root_module": module_tree(resources) }
    })
}

/// The whole plan document.
pub fn plan_json(plan: &Plan) -> Json {
    let mut resource_changes = Vec::new();
    let mut planned = Vec::new();
    for c in &plan.changes {
        let mut m = resource_header(&c.addr, &c.provider);
        let mut change = Map::new();
        change.insert("actions".into(), json!(c.action.json_actions()));
        change.insert(
            "before".into(),
            opt_json(&c.before, Value::to_json_redacted, Json::Null),
        );
        change.insert(
            "after".into(),
            opt_json(&c.after, Value::to_json_redacted, Json::Null),
        );
        change.insert("after_unknown".into(), unknown_mask(&c.after));
        change.insert("before_sensitive".into(), sensitive_mask(&c.before));
        change.insert("after_sensitive".into(), sensitive_mask(&c.after));
        if !c.replace_paths.is_empty() {
            change.insert(
                "replace_paths".into(),
                json!(c
                    .replace_paths
                    .iter()
                    .map(|p| vec![p.clone()])
                    .collect::<Vec<_>>()),
            );
        }
        m.insert("change".into(), Json::Object(change));
        if let Some(r) = &c.reason {
            m.insert("action_reason".into(), json!(r));
        }
        resource_changes.push(Json::Object(m));
        if let Some(after) = &c.after {
            if c.addr.resource.mode == ResourceMode::Managed {
                let mut p = resource_header(&c.addr, &c.provider);
                p.insert("schema_version".into(), json!(0));
                p.insert("values".into(), after.to_json_redacted());
                p.insert(
                    "sensitive_values".into(),
                    sensitive_mask(&Some(after.clone())),
                );
                planned.push((c.addr.clone(), Json::Object(p)));
            }
        }
    }
    let mut output_changes = Map::new();
    let mut planned_outputs = Map::new();
    for o in &plan.outputs {
        let mark = |v: &Option<Value>| v.as_ref().map(|v| v.clone().mark_if(o.sensitive));
        let (before, after) = (mark(&o.before), mark(&o.after));
        output_changes.insert(
            o.name.clone(),
            json!({
                "actions": o.action().json_actions(),
                "before": opt_json(&before, Value::to_json_redacted, Json::Null),
                "after": opt_json(&after, Value::to_json_redacted, Json::Null),
                "after_unknown": after.as_ref().map(|a| !a.is_wholly_known() && a.unknown_mask() == json!(true)).unwrap_or(false),
                "before_sensitive": o.sensitive && before.is_some(),
                "after_sensitive": o.sensitive && after.is_some(),
            }),
        );
        if let Some(a) = &after {
            planned_outputs.insert(
                o.name.clone(),
                json!({ "sensitive": o.sensitive, "value": a.to_json_redacted() }),
            );
        }
    }
    let drift: Vec<Json> = plan
        .drift
        .iter()
        .map(|d| {
            let provider = plan
                .prior
                .resources
                .get(&d.addr)
                .map(|s| s.provider.clone())
                .unwrap_or_default();
            let mut m = resource_header(&d.addr, &provider);
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
                    "before_sensitive": sensitive_mask(&Some(d.before.clone())),
                    "after_sensitive": sensitive_mask(&d.after),
                }),
            );
            Json::Object(m)
        })
        .collect();
    let variables: Map<String, Json> = plan
        .variables
        .iter()
        .map(|(k, v)| {
            let value = match v {
                _ if plan.sensitive_variables.contains(k) => Json::Null,
                crate::run::RawVar::Text(t) => json!(t),
                crate::run::RawVar::Value(v) => v.to_json_redacted(),
            };
            (k.clone(), json!({ "value": value }))
        })
        .collect();
    json!({
        "format_version": "1.2",
        "terraform_version": concat!("terrane-", env!("CARGO_PKG_VERSION")),
        "variables": variables,
        "planned_values": { "outputs": planned_outputs, "root_module": module_tree(planned) },
        "resource_drift": drift,
        "resource_changes": resource_changes,
        "output_changes": output_changes,
        "prior_state": state_json(&plan.prior),
        "errored": plan.errored,
    })
}
