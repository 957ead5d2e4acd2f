//! Results of the checkable objects of a run: resources with preconditions or
//! postconditions, outputs with preconditions, variables with validation rules and
//! `check` blocks. Each is recorded per instance as its conditions are evaluated, and
//! written as the `checks` part of the plan JSON.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};
use terrane_core::{InstanceAddr, InstanceKey, ModulePath, ResourceMode};

/// How a checkable object (or one of its instances) fared; the worst of an object's
/// instances is the object's (an error over a failure over unknown over a pass).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Pass,
    /// A condition not known until apply.
    Unknown,
    Fail,
    /// A condition that could not be evaluated.
    Error,
}

/// What kind of object is checked, with what Terraform's address names about it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Checkable {
    Resource {
        mode: ResourceMode,
        type_name: String,
        name: String,
    },
    Output(String),
    Var(String),
    Check(String),
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Unknown => "unknown",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

impl Checkable {
    /// The address within a module: `terraform_data.a`, `output.o`, `var.v`, `check.c`.
    fn local(&self) -> String {
        match self {
            Checkable::Resource {
                mode: ResourceMode::Managed,
                type_name,
                name,
            } => format!("{type_name}.{name}"),
            Checkable::Resource {
                type_name, name, ..
            } => format!("data.{type_name}.{name}"),
            Checkable::Output(n) => format!("output.{n}"),
            Checkable::Var(n) => format!("var.{n}"),
            Checkable::Check(n) => format!("check.{n}"),
        }
    }
}

/// One checked instance: the module instance it is in, its key, how it fared and the
/// messages of its failed conditions.
#[derive(Clone, Debug)]
pub struct Instance {
    pub module: ModulePath,
    pub key: InstanceKey,
    pub status: Status,
    pub problems: Vec<String>,
}

/// Every checked object, by module configuration path and object, with its instances
/// by their displayed address.
#[derive(Clone, Debug, Default)]
pub struct CheckResults(pub BTreeMap<String, (ModulePath, Checkable, BTreeMap<String, Instance>)>);

impl CheckResults {
    /// Records how one instance's conditions came out; an instance checked twice (its
    /// preconditions, then its postconditions) keeps the worse result and every problem.
    pub fn record(
        &mut self,
        module: &ModulePath,
        object: Checkable,
        key: InstanceKey,
        status: Status,
        problems: Vec<String>,
    ) {
        let config = module.config();
        let local = object.local();
        let display = |m: &ModulePath, k: &InstanceKey| {
            let prefix = if m.is_root() {
                String::new()
            } else {
                format!("{m}.")
            };
            format!("{prefix}{local}{k}")
        };
        let config_display = display(&config, &InstanceKey::None);
        let entry = self
            .0
            .entry(config_display)
            .or_insert_with(|| (config, object, BTreeMap::new()));
        let inst = entry
            .2
            .entry(display(module, &key))
            .or_insert_with(|| Instance {
                module: module.clone(),
                key,
                status,
                problems: Vec::new(),
            });
        inst.status = inst.status.max(status);
        inst.problems.extend(problems);
    }

    /// Records a resource instance's conditions.
    pub fn record_resource(&mut self, addr: &InstanceAddr, status: Status, problems: Vec<String>) {
        let r = &addr.resource;
        let object = Checkable::Resource {
            mode: r.mode,
            type_name: r.type_name.clone(),
            name: r.name.clone(),
        };
        self.record(&r.module, object, addr.key.clone(), status, problems);
    }

    /// Lists a checkable object of the configuration, evaluated or not (one with no
    /// instance recorded is reported as unknown, as Terraform reports the objects a
    /// targeted plan leaves out).
    pub fn declare(&mut self, config: &ModulePath, object: Checkable) {
        let prefix = if config.is_root() {
            String::new()
        } else {
            format!("{config}.")
        };
        self.0
            .entry(format!("{prefix}{}", object.local()))
            .or_insert_with(|| (config.clone(), object, BTreeMap::new()));
    }

    /// Forgets the results of the objects `keep` rejects (they stay listed).
    pub fn retain(&mut self, keep: impl Fn(&ModulePath, &Checkable) -> bool) {
        for (config, object, instances) in self.0.values_mut() {
            if !keep(config, object) {
                instances.clear();
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Terraform's `checks` array, objects and instances in address order.
    pub fn to_json(&self) -> Json {
        let objects = self.0.iter().map(|(display, (config, object, instances))| {
            let mut address = json!({ "to_display": display });
            let (kind, name) = match object {
                Checkable::Resource {
                    mode,
                    type_name,
                    name,
                } => {
                    address["mode"] = json!(match mode {
                        ResourceMode::Managed => "managed",
                        ResourceMode::Data => "data",
                    });
                    address["type"] = json!(type_name);
                    ("resource", name)
                }
                Checkable::Output(n) => ("output_value", n),
                Checkable::Var(n) => ("var", n),
                Checkable::Check(n) => ("check", n),
            };
            address["kind"] = json!(kind);
            address["name"] = json!(name);
            if !config.is_root() {
                address["module"] = json!(config.to_string());
            }
            sort_keys(&mut address);
            let status = instances
                .values()
                .map(|i| i.status)
                .max()
                .unwrap_or(Status::Unknown);
            let instances: Vec<Json> = instances
                .iter()
                .map(|(display, i)| {
                    let mut address = json!({ "to_display": display });
                    match &i.key {
                        InstanceKey::None => {}
                        InstanceKey::Int(n) => address["instance_key"] = json!(n),
                        InstanceKey::Str(s) => address["instance_key"] = json!(s),
                    }
                    if !i.module.is_root() {
                        address["module"] = json!(i.module.to_string());
                    }
                    sort_keys(&mut address);
                    let mut inst = json!({ "address": address, "status": i.status.as_str() });
                    if !i.problems.is_empty() {
                        inst["problems"] =
                            i.problems.iter().map(|m| json!({ "message": m })).collect();
                    }
                    inst
                })
                .collect();
            let mut object = json!({ "address": address, "status": status.as_str() });
            if !instances.is_empty() {
                object["instances"] = Json::Array(instances);
            }
            object
        });
        Json::Array(objects.collect())
    }
}

/// Keys in Terraform's (alphabetical) order.
fn sort_keys(v: &mut Json) {
    if let Json::Object(m) = v {
        m.sort_keys();
    }
}
