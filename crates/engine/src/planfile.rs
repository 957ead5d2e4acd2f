//! The saved plan file: everything `terrane apply PLANFILE` and `terrane show PLANFILE`
//! need, including the state lineage and serial the plan was computed from and a
//! digest of the configuration, so that applying a stale plan is refused.
//!
//! The format is JSON with a `format`/`version` header. Values keep their marks:
//! unknown values are `{"$unknown": true}`, sensitive ones `{"$sensitive": ...}`, sets
//! `{"$set": [...]}`, and maps with `$`-prefixed keys are wrapped in `{"$map": {...}}`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value as Json};
use terrane_core::{InstanceAddr, Value};
use terrane_state::{InstanceState, OutputState, Snapshot};

use crate::plan::{Action, Drift, OutputChange, Plan, ResourceChange};
use crate::run::RawVar;

pub const PLANFILE_FORMAT: &str = "terrane-plan";
pub const PLANFILE_VERSION: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("{0} is not a terrane plan file")]
    NotAPlan(String),
    #[error("the plan file was written by a newer terrane (version {0}); upgrade terrane")]
    TooNew(u64),
    #[error("the plan file is damaged: {0}")]
    Damaged(String),
}

pub fn encode_value(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Number(_) | Value::String(_) => v.to_json(),
        Value::List(items) => Json::Array(items.iter().map(encode_value).collect()),
        Value::Set(items) => json!({ "$set": items.iter().map(encode_value).collect::<Vec<_>>() }),
        Value::Map(m) => {
            let obj: Map<String, Json> = m
                .iter()
                .map(|(k, v)| (k.clone(), encode_value(v)))
                .collect();
            if m.keys().any(|k| k.starts_with('$')) {
                json!({ "$map": obj })
            } else {
                Json::Object(obj)
            }
        }
        Value::Unknown => json!({ "$unknown": true }),
        Value::Sensitive(inner) => json!({ "$sensitive": encode_value(inner) }),
    }
}

pub fn decode_value(j: &Json) -> Value {
    match j {
        Json::Array(items) => Value::List(items.iter().map(decode_value).collect()),
        Json::Object(m) if m.len() == 1 => {
            let (k, v) = m
                .iter()
                .next()
                .map(|(k, v)| (k.as_str(), v))
                .unwrap_or(("", &Json::Null));
            match (k, v) {
                ("$unknown", _) => Value::Unknown,
                ("$sensitive", v) => decode_value(v).into_sensitive(),
                ("$set", Json::Array(items)) => {
                    Value::set(items.iter().map(decode_value).collect())
                }
                ("$map", Json::Object(inner)) => Value::Map(
                    inner
                        .iter()
                        .map(|(k, v)| (k.clone(), decode_value(v)))
                        .collect(),
                ),
                _ => Value::Map(
                    m.iter()
                        .map(|(k, v)| (k.clone(), decode_value(v)))
                        .collect(),
                ),
            }
        }
        Json::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), decode_value(v)))
                .collect(),
        ),
        other => Value::from_json(other),
    }
}

fn opt(v: &Option<Value>) -> Json {
    v.as_ref().map(encode_value).unwrap_or(Json::Null)
}

fn opt_dec(j: Option<&Json>) -> Option<Value> {
    match j {
        None | Some(Json::Null) => None,
        Some(j) => Some(decode_value(j)),
    }
}

fn instance_json(s: &InstanceState) -> Json {
    json!({
        "address": s.addr.to_string(),
        "provider": s.provider,
        "value": encode_value(&s.value),
        "dependencies": s.dependencies,
        "create_before_destroy": s.create_before_destroy,
        "meta": s.meta.encode(),
    })
}

pub fn encode(plan: &Plan) -> Json {
    let vars: Map<String, Json> = plan
        .variables
        .iter()
        .map(|(k, v)| {
            let j = match v {
                RawVar::Text(t) => json!({ "text": t }),
                RawVar::Value(v) => json!({ "value": encode_value(v) }),
            };
            (k.clone(), j)
        })
        .collect();
    json!({
        "format": PLANFILE_FORMAT,
        "version": PLANFILE_VERSION,
        "terrane_version": env!("CARGO_PKG_VERSION"),
        "lineage": plan.lineage,
        "prior_serial": plan.prior_serial,
        "destroy": plan.destroy,
        "targets": plan.targets,
        "config_digest": plan.config_digest,
        "variables": vars,
        "sensitive_variables": plan.sensitive_variables,
        "changes": plan.changes.iter().map(|c| json!({
            "address": c.addr.to_string(),
            "provider": c.provider,
            "actions": c.action.json_actions(),
            "before": opt(&c.before),
            "after": opt(&c.after),
            "replace_paths": c.replace_paths,
            "reason": c.reason,
            "dependencies": c.dependencies,
            "create_before_destroy": c.create_before_destroy,
        })).collect::<Vec<_>>(),
        "outputs": plan.outputs.iter().map(|o| {
            // A sensitive output's values are marked, so the plan file encrypts them.
            let mark = |v: &Option<Value>| v.clone().map(|v| v.mark_if(o.sensitive));
            json!({
                "name": o.name, "before": opt(&mark(&o.before)), "after": opt(&mark(&o.after)), "sensitive": o.sensitive,
            })
        }).collect::<Vec<_>>(),
        "refresh_only": plan.refresh_only,
        "timestamp": plan.timestamp,
        "provider_sources": plan.provider_sources,
        "untargeted_outputs": plan.untargeted_outputs,
        "checks": plan.checks,
        "variable_values": plan.variable_values.iter().map(|(k, v)| (k.clone(), encode_value(v))).collect::<serde_json::Map<_, _>>(),
        "imports": plan.imports.iter().map(|(a, id)| json!({"address": a.to_string(), "id": id})).collect::<Vec<_>>(),
        "moves": plan.moves.iter().map(|m| json!({"from": m.from.to_string(), "to": m.to.to_string()})).collect::<Vec<_>>(),
        "drift": plan.drift.iter().map(|d| json!({
            "address": d.addr.to_string(), "before": encode_value(&d.before), "after": opt(&d.after),
        })).collect::<Vec<_>>(),
        "prior": {
            "lineage": plan.prior.lineage,
            "serial": plan.prior.serial,
            "resources": plan.prior.resources.values().map(instance_json).collect::<Vec<_>>(),
            "outputs": plan.prior.outputs.iter().map(|(k, o)| json!({"name": k, "value": encode_value(&o.value), "sensitive": o.sensitive})).collect::<Vec<_>>(),
        },
    })
}

fn s<'a>(j: &'a Json, k: &str) -> Result<&'a str, PlanFileError> {
    j.get(k)
        .and_then(Json::as_str)
        .ok_or_else(|| PlanFileError::Damaged(format!("missing field {k}")))
}

fn addr(j: &Json) -> Result<InstanceAddr, PlanFileError> {
    InstanceAddr::parse(s(j, "address")?).map_err(|e| PlanFileError::Damaged(e.to_string()))
}

fn strings(j: Option<&Json>) -> Vec<String> {
    j.and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn decode(text: &str, name: &str) -> Result<Plan, PlanFileError> {
    let j: Json =
        serde_json::from_str(text).map_err(|_| PlanFileError::NotAPlan(name.to_string()))?;
    decode_json(&j, name)
}

/// Decodes a plan file already parsed as JSON (`name` is how it is shown in errors).
pub fn decode_json(j: &Json, name: &str) -> Result<Plan, PlanFileError> {
    if j.get("format").and_then(Json::as_str) != Some(PLANFILE_FORMAT) {
        return Err(PlanFileError::NotAPlan(name.to_string()));
    }
    let version = j.get("version").and_then(Json::as_u64).unwrap_or(0);
    if version > PLANFILE_VERSION {
        return Err(PlanFileError::TooNew(version));
    }
    let mut plan = Plan {
        lineage: s(j, "lineage")?.to_string(),
        prior_serial: j.get("prior_serial").and_then(Json::as_u64).unwrap_or(0),
        destroy: j.get("destroy").and_then(Json::as_bool).unwrap_or(false),
        targets: strings(j.get("targets")),
        config_digest: s(j, "config_digest")?.to_string(),
        sensitive_variables: strings(j.get("sensitive_variables"))
            .into_iter()
            .collect::<BTreeSet<_>>(),
        ..Default::default()
    };
    if let Some(vars) = j.get("variables").and_then(Json::as_object) {
        for (k, v) in vars {
            let raw = match (v.get("text").and_then(Json::as_str), v.get("value")) {
                (Some(t), _) => RawVar::Text(t.to_string()),
                (None, Some(v)) => RawVar::Value(decode_value(v)),
                _ => return Err(PlanFileError::Damaged(format!("variable {k}"))),
            };
            plan.variables.insert(k.clone(), raw);
        }
    }
    for c in j
        .get("changes")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let actions = strings(c.get("actions"));
        plan.changes.push(ResourceChange {
            addr: addr(c)?,
            provider: s(c, "provider")?.to_string(),
            action: Action::from_json_actions(&actions)
                .ok_or_else(|| PlanFileError::Damaged(format!("actions {actions:?}")))?,
            before: opt_dec(c.get("before")),
            after: opt_dec(c.get("after")),
            replace_paths: strings(c.get("replace_paths")),
            reason: c.get("reason").and_then(Json::as_str).map(str::to_string),
            dependencies: strings(c.get("dependencies")),
            create_before_destroy: c
                .get("create_before_destroy")
                .and_then(Json::as_bool)
                .unwrap_or(false),
        });
    }
    for i in j
        .get("imports")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        plan.imports.push((addr(i)?, s(i, "id")?.to_string()));
    }
    if let Some(m) = j.get("provider_sources").and_then(Json::as_object) {
        plan.provider_sources = m
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect();
    }
    plan.untargeted_outputs = strings(j.get("untargeted_outputs")).into_iter().collect();
    plan.checks = j.get("checks").cloned().unwrap_or_default();
    if let Some(m) = j.get("variable_values").and_then(Json::as_object) {
        plan.variable_values = m
            .iter()
            .map(|(k, v)| (k.clone(), decode_value(v)))
            .collect();
    }
    plan.timestamp = j
        .get("timestamp")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    plan.refresh_only = j
        .get("refresh_only")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    for m in j
        .get("moves")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let parse = |k: &str| {
            InstanceAddr::parse(s(m, k)?)
                .map_err(|e| PlanFileError::Damaged(format!("move {k}: {}", e.reason)))
        };
        plan.moves.push(crate::moves::Move {
            from: parse("from")?,
            to: parse("to")?,
        });
    }
    for o in j
        .get("outputs")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        plan.outputs.push(OutputChange {
            name: s(o, "name")?.to_string(),
            before: opt_dec(o.get("before")),
            after: opt_dec(o.get("after")),
            sensitive: o.get("sensitive").and_then(Json::as_bool).unwrap_or(false),
        });
    }
    for d in j
        .get("drift")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        plan.drift.push(Drift {
            addr: addr(d)?,
            before: d.get("before").map(decode_value).unwrap_or_default(),
            after: opt_dec(d.get("after")),
        });
    }
    let prior = j
        .get("prior")
        .ok_or_else(|| PlanFileError::Damaged("missing prior state".into()))?;
    let mut snap = Snapshot {
        lineage: s(prior, "lineage")?.to_string(),
        serial: prior.get("serial").and_then(Json::as_u64).unwrap_or(0),
        resources: BTreeMap::new(),
        outputs: BTreeMap::new(),
    };
    for r in prior
        .get("resources")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let a = addr(r)?;
        let meta = terrane_state::ObjectMeta::decode(
            r.get("meta").and_then(Json::as_str).unwrap_or_default(),
        )
        .map_err(|e| PlanFileError::Damaged(format!("{a}: {e}")))?;
        snap.resources.insert(
            a.clone(),
            InstanceState {
                addr: a,
                provider: s(r, "provider")?.to_string(),
                value: r.get("value").map(decode_value).unwrap_or_default(),
                dependencies: strings(r.get("dependencies")),
                create_before_destroy: r
                    .get("create_before_destroy")
                    .and_then(Json::as_bool)
                    .unwrap_or(false),
                meta,
            },
        );
    }
    for o in prior
        .get("outputs")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let sensitive = o.get("sensitive").and_then(Json::as_bool).unwrap_or(false);
        snap.outputs.insert(
            s(o, "name")?.to_string(),
            OutputState {
                value: o.get("value").map(decode_value).unwrap_or_default(),
                sensitive,
            },
        );
    }
    plan.prior = snap;
    Ok(plan)
}

/// Why a saved plan cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StalePlan {
    #[error("Saved plan is stale.\n\nThe state changed since this plan was made (the plan was computed from serial {plan_serial} of lineage {plan_lineage}; the state is now at serial {serial} of lineage {lineage}). Applying it could undo or repeat those changes. Run terrane plan again and apply the new plan.")]
    StateChanged {
        plan_serial: u64,
        plan_lineage: String,
        serial: u64,
        lineage: String,
    },
    #[error("Saved plan does not match the configuration.\n\nThe configuration files changed since this plan was made. Run terrane plan again and apply the new plan.")]
    ConfigChanged,
}

/// Checks that a saved plan still applies: it was computed from the state `prior` is
/// (same lineage and serial; a plan made before any state existed fits an empty
/// state) and from the configuration whose digest is `config_digest`.
pub fn check_applicable(
    plan: &Plan,
    prior: &terrane_state::Snapshot,
    config_digest: &str,
) -> Result<(), StalePlan> {
    let fresh = plan.lineage.is_empty() && prior.serial == 0;
    if !fresh && (plan.lineage != prior.lineage || plan.prior_serial != prior.serial) {
        return Err(StalePlan::StateChanged {
            plan_serial: plan.prior_serial,
            plan_lineage: plan.lineage.clone(),
            serial: prior.serial,
            lineage: prior.lineage.clone(),
        });
    }
    if plan.config_digest != config_digest {
        return Err(StalePlan::ConfigChanged);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_values_round_trip() {
        let v = Value::map([
            ("a", Value::Unknown),
            ("b", Value::from("x").into_sensitive()),
            ("c", Value::set(vec![Value::from("z"), Value::from("y")])),
            ("$odd", Value::List(vec![Value::from(1.5), Value::Null])),
        ]);
        let wrapped = Value::map([("inner", v.clone())]);
        assert_eq!(decode_value(&encode_value(&wrapped)), wrapped);
    }
}
