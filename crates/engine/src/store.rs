//! The values computed so far during a walk, and the [`Scope`] that lets expressions
//! read them.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use terrane_core::{Diagnostic, InstanceKey, ModulePath, Span, Value};
use terrane_lang::ast::Reference;
use terrane_lang::Scope;

/// Instance values of one resource, by key.
#[derive(Clone, Debug, Default)]
pub struct ResourceValues {
    /// Whether the resource uses count (list), for_each (map) or neither (single object).
    pub repetition: Repetition,
    pub instances: BTreeMap<InstanceKey, Value>,
    /// The combined value references see, rebuilt when instances change.
    pub combined: Value,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Repetition {
    #[default]
    Single,
    Count,
    ForEach,
}

impl Repetition {
    /// The repetition an instance key implies (`[0]` → count, `["a"]` → for_each).
    pub fn of(key: &InstanceKey) -> Repetition {
        match key {
            InstanceKey::None => Repetition::Single,
            InstanceKey::Int(_) => Repetition::Count,
            InstanceKey::Str(_) => Repetition::ForEach,
        }
    }
}

impl ResourceValues {
    pub fn new(repetition: Repetition, instances: BTreeMap<InstanceKey, Value>) -> ResourceValues {
        let mut r = ResourceValues {
            repetition,
            instances,
            combined: Value::Null,
        };
        r.rebuild();
        r
    }

    pub fn rebuild(&mut self) {
        self.combined = match self.repetition {
            Repetition::Single => self
                .instances
                .get(&InstanceKey::None)
                .cloned()
                .unwrap_or(Value::Null),
            Repetition::Count => {
                let mut items: Vec<(i64, Value)> = self
                    .instances
                    .iter()
                    .filter_map(|(k, v)| match k {
                        InstanceKey::Int(i) => Some((*i, v.clone())),
                        _ => None,
                    })
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                Value::List(items.into_iter().map(|(_, v)| v).collect())
            }
            Repetition::ForEach => Value::Map(
                self.instances
                    .iter()
                    .filter_map(|(k, v)| match k {
                        InstanceKey::Str(s) => Some((s.clone(), v.clone())),
                        _ => None,
                    })
                    .collect(),
            ),
        };
    }
}

#[derive(Default)]
pub struct Store {
    /// The instances of each called module, by the module's configuration path (see
    /// [`crate::run::Run::instances`]).
    pub module_instances: HashMap<ModulePath, ModuleInstances>,
    pub vars: HashMap<(ModulePath, String), Value>,
    pub locals: HashMap<(ModulePath, String), Value>,
    pub outputs: HashMap<(ModulePath, String), Value>,
    pub resources: HashMap<(ModulePath, String), ResourceValues>,
}

/// The instances of one module call: how it repeats, and each instance's path with the
/// repetition values (`count.index`, `each`) its arguments see.
#[derive(Clone, Debug, Default)]
pub struct ModuleInstances {
    pub repetition: Repetition,
    pub instances: Vec<(ModulePath, crate::run::Expansion)>,
}

/// Evaluation scope for one module (and optionally one resource instance).
pub struct ModuleScope<'a> {
    pub store: &'a Store,
    /// The providers, for `provider::NAME::FUNC(...)`.
    pub registry: &'a terrane_provider::Registry,
    pub module: &'a ModulePath,
    pub root_dir: &'a Path,
    /// `path.module` relative to the root.
    pub module_rel: String,
    pub count_index: Option<i64>,
    pub each: Option<(Value, Value)>,
    /// See [`crate::run::Run::applying`].
    pub applying: bool,
    /// What `self` is: the instance's values, in its postconditions.
    pub self_value: Option<Value>,
    /// `terraform.workspace`.
    pub workspace: &'a str,
}

fn missing(what: &str, span: &Span) -> Diagnostic {
    Diagnostic::error(
        "Value not available",
        format!("{what} has no value at this point. This is a bug in terrane; please report it with the configuration that triggers it."),
    )
    .with_span(Some(span.clone()))
}

impl Scope for ModuleScope<'_> {
    fn provider_function(
        &self,
        provider: &str,
        name: &str,
        args: Vec<Value>,
        span: &Span,
    ) -> Result<Value, Diagnostic> {
        let unknown = |why: String| {
            Diagnostic::error("Call to unknown function", why).with_span(Some(span.clone()))
        };
        let Some(factory) = self.registry.get(provider) else {
            return Err(unknown(format!("There is no provider {provider:?} for provider::{provider}::{name}: add it to required_providers.")));
        };
        match factory.call_function(name, args) {
            None => Err(unknown(format!(
                "Provider {provider:?} has no function {name:?}."
            ))),
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(Diagnostic::error(
                "Error in function call",
                format!("Call to function provider::{provider}::{name} failed: {e}"),
            )
            .with_span(Some(span.clone()))),
        }
    }

    fn lookup(&self, r: &Reference, span: &Span) -> Result<Cow<'_, Value>, Diagnostic> {
        let m = self.module.clone();
        match r {
            Reference::Var(n) => self
                .store
                .vars
                .get(&(m, n.clone()))
                .map(Cow::Borrowed)
                .ok_or_else(|| missing(&format!("var.{n}"), span)),
            Reference::Local(n) => self
                .store
                .locals
                .get(&(m, n.clone()))
                .map(Cow::Borrowed)
                .ok_or_else(|| missing(&format!("local.{n}"), span)),
            Reference::Resource { type_name, name } => self
                .store
                .resources
                .get(&(m, format!("{type_name}.{name}")))
                .map(|r| Cow::Borrowed(&r.combined))
                .ok_or_else(|| missing(&format!("{type_name}.{name}"), span)),
            Reference::Data { type_name, name } => self
                .store
                .resources
                .get(&(m, format!("data.{type_name}.{name}")))
                .map(|r| Cow::Borrowed(&r.combined))
                .ok_or_else(|| missing(&format!("data.{type_name}.{name}"), span)),
            Reference::ModuleOutput { module, output } => {
                let child = self.module.child(module);
                let repeated = self
                    .store
                    .module_instances
                    .get(&self.module.config().child(module))
                    .filter(|mi| mi.repetition != Repetition::Single);
                if let Some(mi) = repeated {
                    if let Some(o) = output {
                        return Err(Diagnostic::error(
                            "Unsupported attribute",
                            format!("module.{module} has count or for_each, so it is a collection of instances; refer to one instance's output, e.g. module.{module}[0].{o} or module.{module}[\"key\"].{o}."),
                        )
                        .with_span(Some(span.clone())));
                    }
                    let outputs_of = |p: &ModulePath| {
                        Value::Map(
                            self.store
                                .outputs
                                .iter()
                                .filter(|((q, _), _)| q == p)
                                .map(|((_, n), v)| (n.clone(), v.clone()))
                                .collect(),
                        )
                    };
                    let mine = mi
                        .instances
                        .iter()
                        .filter(|(p, _)| p.parent().as_ref() == Some(self.module));
                    return Ok(Cow::Owned(match mi.repetition {
                        Repetition::Count => {
                            Value::List(mine.map(|(p, _)| outputs_of(p)).collect())
                        }
                        _ => Value::Map(
                            mine.filter_map(|(p, e)| match &e.key {
                                InstanceKey::Str(k) => Some((k.clone(), outputs_of(p))),
                                _ => None,
                            })
                            .collect(),
                        ),
                    }));
                }
                match output {
                    Some(o) => {
                        let v = self
                            .store
                            .outputs
                            .get(&(child, o.clone()))
                            .ok_or_else(|| missing(&format!("module.{module}.{o}"), span))?;
                        Ok(Cow::Borrowed(v))
                    }
                    None => Ok(Cow::Owned(Value::Map(
                        self.store
                            .outputs
                            .iter()
                            .filter(|((p, _), _)| *p == child)
                            .map(|((_, n), v)| (n.clone(), v.clone()))
                            .collect(),
                    ))),
                }
            }
            Reference::CountIndex => match self.count_index {
                Some(i) => Ok(Cow::Owned(Value::from(i))),
                None => Err(Diagnostic::error(
                    "Reference to \"count\" in non-counted context",
                    "count.index is only available in a resource with count.",
                )
                .with_span(Some(span.clone()))),
            },
            Reference::EachKey | Reference::EachValue => match &self.each {
                Some((k, v)) => Ok(Cow::Owned(if *r == Reference::EachKey {
                    k.clone()
                } else {
                    v.clone()
                })),
                None => Err(Diagnostic::error(
                    "Reference to \"each\" in context without for_each",
                    "each.key and each.value are only available in a resource with for_each.",
                )
                .with_span(Some(span.clone()))),
            },
            Reference::Path(p) => Ok(Cow::Owned(Value::String(match p.as_str() {
                "module" => self.module_rel.clone(),
                "root" => ".".to_string(),
                _ => self.root_dir.display().to_string(),
            }))),
            Reference::Workspace => Ok(Cow::Owned(Value::from(self.workspace))),
            Reference::SelfRef if self.self_value.is_some() => Ok(Cow::Borrowed(
                self.self_value.as_ref().unwrap_or(&Value::Null),
            )),
            Reference::SelfRef | Reference::Invalid(_) => Err(Diagnostic::error(
                "Invalid reference",
                "This reference is not valid here.",
            )
            .with_span(Some(span.clone()))),
        }
    }

    fn base_dir(&self) -> &Path {
        self.root_dir
    }

    fn applying(&self) -> bool {
        self.applying
    }
}
