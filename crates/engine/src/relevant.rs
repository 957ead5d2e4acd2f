//! Terraform's `relevant_attributes`: the resource attributes a plan's changes read.
//!
//! Starting from every resource that changes, every root output that changes and every
//! module output (never recorded in state, so always changing), the
//! references of their configuration are followed through locals, module inputs and
//! outputs and the resources they name (whose own references are followed in turn).
//! Every resource attribute reached is listed once, with the module instance it lives
//! in: `module.many["a"].terraform_data.inner` and `["input"]`. Consumers read it to
//! tell which drift matters to the plan.

use std::collections::BTreeSet;

use serde_json::{json, Value as Json};
use terrane_core::{InstanceKey, ModulePath, Value};
use terrane_lang::ast::TravOp;
use terrane_lang::{Expr, ExprKind, Reference};

use terrane_lang::Module;

use crate::plan::{Action, Plan};

/// One entry: the resource (instance) address and the attribute path read of it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RelevantAttr {
    pub resource: String,
    /// The attribute read, as Terraform writes it: its name, or none when the
    /// resource is read whole (`terraform_data.d[*].id`).
    pub attribute: Vec<String>,
}

impl RelevantAttr {
    pub fn to_json(&self) -> Json {
        json!({ "resource": self.resource, "attribute": self.attribute })
    }
}

/// What a reference leads to next: a configuration object in a module instance.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    Resource(ModulePath, String),
    Local(ModulePath, String),
    Output(ModulePath, String),
    /// A module's input variable: its value is the call's argument in the parent.
    Var(ModulePath, String),
}

/// The module at `path` (its configuration path) under `root`.
fn module_at<'m>(root: &'m Module, path: &ModulePath) -> Option<&'m Module> {
    path.config()
        .0
        .iter()
        .try_fold(root, |m, name| m.module_calls.get(name).map(|c| &*c.module))
}

/// The attributes the changes of `plan` read in the configuration `root`, in a stable
/// order. Built when a document asks for them (computing them costs a walk over every
/// changing resource's configuration).
pub fn relevant_attributes(root: &Module, plan: &Plan) -> Vec<RelevantAttr> {
    let mut todo: Vec<Item> = plan
        .changes
        .iter()
        .filter(|c| !matches!(c.action, Action::NoOp | Action::Read))
        .map(|c| Item::Resource(c.addr.resource.module.clone(), c.addr.resource.local_name()))
        .collect();
    todo.extend(
        plan.outputs
            .iter()
            .filter(|o| o.action() != Action::NoOp && !plan.untargeted_outputs.contains(&o.name))
            .map(|o| Item::Output(ModulePath::root(), o.name.clone())),
    );
    // A module's outputs are not recorded in state, so every plan changes them (as
    // Terraform counts them): each module instance's outputs are read too.
    let mut instances = BTreeSet::new();
    let paths = plan
        .changes
        .iter()
        .map(|c| &c.addr.resource.module)
        // A targeted plan reads only the modules it changes.
        .chain(
            plan.prior
                .resources
                .keys()
                .filter(|_| plan.targets.is_empty())
                .map(|a| &a.resource.module),
        );
    for path in paths {
        let mut p = path.clone();
        while !p.is_root() {
            instances.insert(p.clone());
            p = p.parent().unwrap_or_default();
        }
    }
    for m in instances {
        if let Some(module) = module_at(root, &m) {
            todo.extend(
                module
                    .outputs
                    .keys()
                    .map(|o| Item::Output(m.clone(), o.clone())),
            );
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = BTreeSet::new();
    while let Some(item) = todo.pop() {
        if !seen.insert(item.clone()) {
            continue;
        }
        let (module, exprs) = match &item {
            Item::Resource(m, key) => {
                let Some(r) = module_at(root, m).and_then(|c| c.resources.get(key)) else {
                    continue;
                };
                let mut exprs = Vec::new();
                body_exprs(&r.body, &mut exprs);
                exprs.extend(r.count.iter().chain(&r.for_each));
                (m.clone(), exprs)
            }
            Item::Local(m, name) => match module_at(root, m).and_then(|c| c.locals.get(name)) {
                Some(l) => (m.clone(), vec![&l.expr]),
                None => continue,
            },
            Item::Output(m, name) => match module_at(root, m).and_then(|c| c.outputs.get(name)) {
                Some(o) => (m.clone(), vec![&o.expr]),
                None => continue,
            },
            Item::Var(m, name) => {
                let Some(parent) = m.parent() else { continue };
                let call_name = m.0.last().map(|s| s.split('[').next().unwrap_or(s));
                let call = call_name
                    .and_then(|n| module_at(root, &parent).and_then(|p| p.module_calls.get(n)));
                let Some(call) = call else { continue };
                match call.inputs.attrs.get(name) {
                    Some(a) => (parent, vec![&a.expr]),
                    None => continue,
                }
            }
        };
        for e in exprs {
            e.each_reference(|r, rest| follow(&module, r, rest, &mut todo, &mut out));
        }
    }
    out.into_iter().collect()
}

/// Every attribute expression of a body and of its nested blocks.
fn body_exprs<'a>(body: &'a terrane_lang::Body, out: &mut Vec<&'a Expr>) {
    out.extend(body.attrs.values().map(|a| &a.expr));
    for b in &body.blocks {
        body_exprs(&b.body, out);
    }
}

/// A literal index step as an instance key.
fn literal_key(op: &TravOp) -> Option<InstanceKey> {
    match op {
        TravOp::Index(Expr {
            kind: ExprKind::Literal(v),
            ..
        }) => match v {
            Value::Number(n) => n.as_i64().map(InstanceKey::Int),
            Value::String(s) => Some(InstanceKey::Str(s.clone())),
            _ => None,
        },
        _ => None,
    }
}

fn follow(
    module: &ModulePath,
    r: Reference,
    rest: &[TravOp],
    todo: &mut Vec<Item>,
    out: &mut BTreeSet<RelevantAttr>,
) {
    let prefix = if module.is_root() {
        String::new()
    } else {
        format!("{module}.")
    };
    match r {
        Reference::Resource { type_name, name } => {
            let local = format!("{type_name}.{name}");
            resource(&prefix, local, rest, module, todo, out);
        }
        Reference::Data { type_name, name } => {
            let local = format!("data.{type_name}.{name}");
            resource(&prefix, local, rest, module, todo, out);
        }
        Reference::Local(name) => todo.push(Item::Local(module.clone(), name)),
        Reference::Var(name) if !module.is_root() => todo.push(Item::Var(module.clone(), name)),
        Reference::ModuleOutput {
            module: call,
            output,
        } => {
            let (key, output) = match (output, rest.first()) {
                (Some(o), _) => (InstanceKey::None, Some(o)),
                (None, Some(op)) => {
                    let key = literal_key(op).unwrap_or(InstanceKey::None);
                    let name = rest.get(1).and_then(|op| match op {
                        TravOp::Attr(a, _) => Some(a.clone()),
                        _ => None,
                    });
                    (key, name)
                }
                (None, None) => (InstanceKey::None, None),
            };
            if let Some(output) = output {
                todo.push(Item::Output(module.child_instance(&call, &key), output));
            }
        }
        _ => {}
    }
}

/// A reference to a resource: its entry, then its own references.
fn resource(
    prefix: &str,
    local: String,
    rest: &[TravOp],
    module: &ModulePath,
    todo: &mut Vec<Item>,
    out: &mut BTreeSet<RelevantAttr>,
) {
    let (key, rest) = match rest.first().and_then(literal_key) {
        Some(k) => (k, &rest[1..]),
        None => (InstanceKey::None, rest),
    };
    let attribute = rest
        .iter()
        .map_while(|op| match op {
            TravOp::Attr(a, _) => Some(a.clone()),
            _ => None,
        })
        .take(1)
        .collect();
    out.insert(RelevantAttr {
        resource: format!("{prefix}{local}{key}"),
        attribute,
    });
    todo.push(Item::Resource(module.clone(), local));
}
