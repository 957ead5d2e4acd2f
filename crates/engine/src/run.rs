//! What plan and apply walks share: evaluating variables, locals, outputs and provider
//! configurations, expanding `count`/`for_each`, and evaluating one resource instance's
//! configuration against its schema.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use terrane_core::{Diagnostic, Diagnostics, InstanceKey, ModulePath, Span, Value};
use terrane_lang::config::{Condition, Resource, Variable};
use terrane_lang::eval::{eval, eval_body, eval_constant, eval_with};
use terrane_provider::schema::ConfigProblem;
use terrane_provider::{Provider, Registry, Schema};

use crate::checks::{CheckResults, Checkable, Status};
use crate::model::{Model, NodeKind};
use crate::store::{ModuleScope, Repetition, Store};

use terrane_lang::vars::parse_cli_value;
pub use terrane_lang::vars::RawVar;

/// One instance to plan or apply: its key and the repetition values in scope.
#[derive(Clone, Debug)]
pub struct Expansion {
    pub key: InstanceKey,
    pub count_index: Option<i64>,
    pub each: Option<(Value, Value)>,
}

pub struct Run<'c> {
    /// How the checkable objects' conditions came out, for the plan's `checks`.
    pub checks: RefCell<CheckResults>,
    pub model: &'c Model<'c>,
    pub registry: &'c Registry,
    pub root_dir: &'c Path,
    pub store: RefCell<Store>,
    pub providers: RefCell<HashMap<String, Arc<dyn Provider>>>,
    pub diags: RefCell<Diagnostics>,
    /// In a destroy, locals and outputs that cannot be evaluated any more (their
    /// resources are going away) become unknown instead of failing the run.
    pub tolerant: bool,
    /// Applying, not planning: functions that read the clock or make random values
    /// (`timestamp`, `uuid`, `bcrypt`) give values instead of "known after apply".
    pub applying: bool,
}

pub fn module_rel(root_dir: &Path, model: &Model<'_>, module: &ModulePath) -> String {
    match model.modules.get(&module.config()) {
        Some(m) if !module.is_root() => {
            let rel = m.dir.strip_prefix(root_dir).unwrap_or(&m.dir);
            let s = rel.display().to_string();
            if s.is_empty() {
                ".".into()
            } else {
                s
            }
        }
        _ => ".".into(),
    }
}

impl<'c> Run<'c> {
    pub fn new(model: &'c Model<'c>, registry: &'c Registry, root_dir: &'c Path) -> Run<'c> {
        Run {
            model,
            registry,
            root_dir,
            store: RefCell::new(Store::default()),
            checks: RefCell::new(CheckResults::default()),
            providers: RefCell::new(HashMap::new()),
            diags: RefCell::new(Diagnostics::new()),
            tolerant: false,
            applying: false,
        }
    }

    /// Records a checked object of module instance `mi` (without instance key).
    fn record(&self, mi: &ModulePath, object: Checkable, checked: &Checked) {
        self.checks.borrow_mut().record(
            mi,
            object,
            terrane_core::InstanceKey::None,
            checked.status,
            checked.problems.clone(),
        );
    }

    pub fn error(&self, d: Diagnostic) {
        self.diags.borrow_mut().push(d);
    }

    pub fn errors(&self, d: Diagnostics) {
        self.diags.borrow_mut().extend(d);
    }

    /// Evaluates with a scope for `module` (and an instance's repetition values).
    pub fn with_scope<T>(
        &self,
        module: &ModulePath,
        exp: Option<&Expansion>,
        f: impl FnOnce(&ModuleScope<'_>) -> T,
    ) -> T {
        self.with_self_scope(module, exp, None, f)
    }

    /// Checks an instance's preconditions (`self_value` `None`) or its postconditions
    /// against `self_value`; a false condition is an error. Conditions not known yet
    /// pass: the apply checks them again.
    pub fn conditions(
        &self,
        module: &ModulePath,
        r: &Resource,
        exp: &Expansion,
        self_value: Option<&Value>,
    ) -> Result<(), Diagnostics> {
        let (conds, kind) = match self_value {
            None => (
                &r.lifecycle.preconditions,
                ConditionKind::ResourcePrecondition,
            ),
            Some(_) => (
                &r.lifecycle.postconditions,
                ConditionKind::ResourcePostcondition,
            ),
        };
        if conds.is_empty() {
            return Ok(());
        }
        let checked = self.with_self_scope(module, Some(exp), self_value.cloned(), |s| {
            check_conditions(conds, s, kind)
        });
        let addr = terrane_core::ResourceAddr {
            module: module.clone(),
            mode: r.mode,
            type_name: r.type_name.clone(),
            name: r.name.clone(),
        }
        .instance(exp.key.clone());
        self.checks
            .borrow_mut()
            .record_resource(&addr, checked.status, checked.problems);
        if checked.diags.is_empty() {
            Ok(())
        } else {
            Err(Diagnostics(checked.diags))
        }
    }

    /// [`Run::with_scope`] where `self` is `self_value` (an instance's postconditions).
    pub fn with_self_scope<T>(
        &self,
        module: &ModulePath,
        exp: Option<&Expansion>,
        self_value: Option<Value>,
        f: impl FnOnce(&ModuleScope<'_>) -> T,
    ) -> T {
        let store = self.store.borrow();
        let scope = ModuleScope {
            store: &store,
            registry: self.registry,
            module,
            root_dir: self.root_dir,
            module_rel: module_rel(self.root_dir, self.model, module),
            count_index: exp.and_then(|e| e.count_index),
            each: exp.and_then(|e| e.each.clone()),
            applying: self.applying,
            self_value,
            workspace: &self.model.workspace,
        };
        f(&scope)
    }

    /// Evaluates any non-resource node, in every instance of its module. Returns false
    /// (with diagnostics) on error.
    pub fn visit_value_node(&self, node: usize, root_vars: &BTreeMap<String, RawVar>) -> bool {
        let module = match &self.model.nodes[node] {
            NodeKind::Provider(addr) => return self.configure_provider(addr),
            NodeKind::Resource(..) => return true,
            NodeKind::Call(child) => return self.expand_call(child),
            NodeKind::Var(m, _)
            | NodeKind::Local(m, _)
            | NodeKind::Output(m, _)
            | NodeKind::Check(m, _) => m,
        };
        let mut ok = true;
        for (mi, exp) in self.instances(module) {
            ok &= self.visit_value_instance(node, &mi, exp.as_ref(), root_vars);
        }
        ok
    }

    /// The instances of a module (by its configuration path): each instance's path and
    /// the repetition values its call's arguments see. The root has one, and so does a
    /// module whose call has neither `count` nor `for_each` under a parent with one.
    pub fn instances(&self, module: &ModulePath) -> Vec<(ModulePath, Option<Expansion>)> {
        if module.is_root() {
            return vec![(ModulePath::root(), None)];
        }
        self.store
            .borrow()
            .module_instances
            .get(module)
            .map(|mi| {
                mi.instances
                    .iter()
                    .map(|(p, e)| (p.clone(), Some(e.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The module instances resource `key` of module `m` is planned or applied in: those
    /// the configuration makes, and (in a destroy) those `recorded` holds objects in,
    /// which the configuration may no longer make.
    pub fn resource_module_instances<'a>(
        &self,
        m: &ModulePath,
        key: &str,
        recorded: Option<impl Iterator<Item = &'a terrane_core::ResourceAddr>>,
    ) -> std::collections::BTreeSet<ModulePath> {
        let mut out: std::collections::BTreeSet<ModulePath> =
            self.instances(m).into_iter().map(|(p, _)| p).collect();
        out.extend(
            recorded
                .into_iter()
                .flatten()
                .filter(|a| a.module.config() == *m && a.local_name() == key)
                .map(|a| a.module.clone()),
        );
        out
    }

    /// Expands a module call's `count`/`for_each` in every instance of the calling
    /// module, recording the called module's instances.
    fn expand_call(&self, child: &ModulePath) -> bool {
        let Some(call) = self.model.calls.get(child) else {
            return false;
        };
        let parent = child.parent().unwrap_or_default();
        let mut out = crate::store::ModuleInstances::default();
        for (pi, _) in self.instances(&parent) {
            match self.expand_meta(&pi, call.count.as_ref(), call.for_each.as_ref()) {
                Ok((repetition, expansions)) => {
                    out.repetition = repetition;
                    for e in expansions {
                        out.instances
                            .push((pi.child_instance(&call.name, &e.key), e));
                    }
                }
                // A destroy plans from state: the module's objects are found there.
                Err(_) if self.tolerant => {}
                Err(d) => {
                    self.error(d);
                    return false;
                }
            }
        }
        self.store
            .borrow_mut()
            .module_instances
            .insert(child.clone(), out);
        true
    }

    /// Evaluates a variable, local, output or check in one module instance `mi`.
    fn visit_value_instance(
        &self,
        node: usize,
        mi: &ModulePath,
        exp: Option<&Expansion>,
        root_vars: &BTreeMap<String, RawVar>,
    ) -> bool {
        match &self.model.nodes[node] {
            // Root variables were evaluated before the walk ([`Run::eval_root_vars`]).
            NodeKind::Var(_, n)
                if self
                    .store
                    .borrow()
                    .vars
                    .contains_key(&(mi.clone(), n.clone())) =>
            {
                true
            }
            NodeKind::Var(_, n) => self.eval_var(mi, exp, n, root_vars, true),
            NodeKind::Local(m, n) => {
                let Some(l) = self.model.modules.get(m).and_then(|md| md.locals.get(n)) else {
                    return false;
                };
                match self.with_scope(mi, None, |s| eval(&l.expr, s)) {
                    Ok(v) => {
                        self.store
                            .borrow_mut()
                            .locals
                            .insert((mi.clone(), n.clone()), v);
                        true
                    }
                    Err(_) if self.tolerant => {
                        self.store
                            .borrow_mut()
                            .locals
                            .insert((mi.clone(), n.clone()), Value::Unknown);
                        true
                    }
                    Err(d) => {
                        self.error(d);
                        false
                    }
                }
            }
            NodeKind::Output(m, n) => {
                let Some(o) = self.model.modules.get(m).and_then(|md| md.outputs.get(n)) else {
                    return false;
                };
                if !self.tolerant && !o.preconditions.is_empty() {
                    let checked = self.with_scope(mi, None, |s| {
                        check_conditions(&o.preconditions, s, ConditionKind::OutputPrecondition)
                    });
                    self.record(mi, Checkable::Output(n.clone()), &checked);
                    if !checked.diags.is_empty() {
                        self.errors(Diagnostics(checked.diags));
                        return false;
                    }
                }
                let result = self.with_scope(mi, None, |s| eval(&o.expr, s));
                let result = match result {
                    Err(_) if self.tolerant => Ok(Value::Unknown),
                    other => other,
                };
                match result {
                    Ok(v) => {
                        if v.contains_sensitive() && !o.sensitive && m.is_root() {
                            self.error(
                                Diagnostic::error(
                                    "Output refers to sensitive values",
                                    format!("The value of output {n:?} includes sensitive data. Add sensitive = true to the output block to confirm it may be stored, and it will be shown as (sensitive value)."),
                                )
                                .with_span(Some(o.expr.span.clone())),
                            );
                            return false;
                        }
                        self.store
                            .borrow_mut()
                            .outputs
                            .insert((mi.clone(), n.clone()), v.mark_if(o.sensitive));
                        true
                    }
                    Err(d) => {
                        self.error(d);
                        false
                    }
                }
            }
            NodeKind::Provider(_) | NodeKind::Resource(..) | NodeKind::Call(_) => true,
            NodeKind::Check(m, n) => {
                // A destroy does not check (what the checks look at is going away).
                if let Some(c) = self.model.modules.get(m).and_then(|md| md.checks.get(n)) {
                    if !self.tolerant {
                        let checked = self.with_scope(mi, None, |s| {
                            check_conditions(&c.asserts, s, ConditionKind::CheckAssert)
                        });
                        self.record(mi, Checkable::Check(n.clone()), &checked);
                        self.errors(Diagnostics(checked.diags));
                    }
                }
                true
            }
        }
    }

    /// Evaluates and checks every root module variable, so a wrong value stops a run
    /// before any provider is configured or any object refreshed; false on an error.
    pub(crate) fn eval_root_vars(&self, root_vars: &BTreeMap<String, RawVar>) -> bool {
        let root = ModulePath::root();
        let Some(m) = self.model.modules.get(&root) else {
            return true;
        };
        // Every value first, then the validations, which may refer to other variables
        // (Terraform 1.9).
        let mut ok = true;
        for name in m.variables.keys() {
            ok &= self.eval_var(&root, None, name, root_vars, false);
        }
        for decl in m.variables.values().filter(|d| !d.validations.is_empty()) {
            let key = (root.clone(), decl.name.clone());
            let Some(value) = self.store.borrow().vars.get(&key).cloned() else {
                continue;
            };
            let checked = self.with_scope(&root, None, |s| validate_variable(decl, &value, s));
            self.record(&root, Checkable::Var(decl.name.clone()), &checked);
            for d in checked.diags {
                self.error(d);
                ok = false;
            }
        }
        ok
    }

    /// Evaluates a variable into the store; `validate` runs its validation rules too
    /// (the root module's run after all its variables are known).
    fn eval_var(
        &self,
        module: &ModulePath,
        exp: Option<&Expansion>,
        name: &str,
        root_vars: &BTreeMap<String, RawVar>,
        validate: bool,
    ) -> bool {
        let Some(decl) = self
            .model
            .modules
            .get(&module.config())
            .and_then(|m| m.variables.get(name))
        else {
            return false;
        };
        let given: Result<Option<Value>, Diagnostic> = if module.is_root() {
            match root_vars.get(name) {
                None => Ok(None),
                Some(RawVar::Value(v)) => Ok(Some(v.clone())),
                Some(RawVar::Text(t)) => parse_cli_value(decl, t).map(Some),
            }
        } else {
            let call = self.model.calls.get(&module.config());
            match call.and_then(|c| c.inputs.attrs.get(name)) {
                None => Ok(None),
                Some(a) => {
                    let parent = module.parent().unwrap_or_default();
                    self.with_scope(&parent, exp, |s| eval(&a.expr, s))
                        .map(Some)
                }
            }
        };
        let value = match given {
            Err(d) => {
                self.error(d);
                return false;
            }
            Ok(Some(v)) => v,
            Ok(None) => match &decl.default {
                Some(d) => match eval_constant(d) {
                    Ok(v) => v,
                    Err(d) => {
                        self.error(d);
                        return false;
                    }
                },
                None => {
                    self.error(
                        Diagnostic::error(
                            "No value for required variable",
                            format!(
                                "The root module input variable {name:?} is not set, and has no default value. Set it with --var {name}=VALUE, a terraform.tfvars file, or the environment variable TERRANE_VAR_{name}."
                            ),
                        )
                        .with_span(Some(decl.span.clone())),
                    );
                    return false;
                }
            },
        };
        let checked = convert_variable(decl, value).and_then(|v| {
            if validate && !decl.validations.is_empty() {
                let c = self.with_scope(module, None, |s| validate_variable(decl, &v, s));
                self.record(module, Checkable::Var(decl.name.clone()), &c);
                if let Some(d) = c.diags.into_iter().next() {
                    return Err(d);
                }
            }
            Ok(v)
        });
        match checked {
            Ok(v) => {
                self.store
                    .borrow_mut()
                    .vars
                    .insert((module.clone(), name.to_string()), v);
                true
            }
            Err(d) => {
                self.error(d);
                false
            }
        }
    }

    pub fn configure_provider(&self, addr: &str) -> bool {
        let Some(pn) = self.model.providers.get(addr) else {
            return false;
        };
        let Some(factory) = self.registry.get(&pn.name) else {
            self.error(Diagnostic::error(
                "Unknown provider",
                format!("terrane has no provider named {:?}.", pn.name),
            ));
            return false;
        };
        let config = match &pn.block {
            Some(b) => match self.with_scope(&pn.module, None, |s| eval_body(&b.body, s)) {
                Ok(v) => v,
                Err(d) => {
                    self.errors(d);
                    return false;
                }
            },
            None => Value::Map(terrane_core::ObjectMap::new()),
        };
        let span = pn.block.as_ref().map(|b| b.span.clone());
        let (config, problems) = factory.schema().provider.conform(config);
        if !problems.is_empty() {
            for p in problems {
                self.error(problem_diag(
                    p,
                    span.clone(),
                    &format!("provider {:?}", pn.name),
                ));
            }
            return false;
        }
        match factory.configure(&config.unmark().0) {
            Ok(p) => {
                self.providers.borrow_mut().insert(addr.to_string(), p);
                true
            }
            Err(e) => {
                self.error(
                    Diagnostic::error(
                        "Invalid provider configuration",
                        format!("Configuring provider {:?} failed: {e}", pn.name),
                    )
                    .with_span(span),
                );
                false
            }
        }
    }

    /// Runs `work`, and once `cancel` is set asks every configured provider to stop
    /// what it is doing ([`Provider::stop`]).
    pub async fn stopping_providers_on<T>(
        &self,
        cancel: &std::sync::atomic::AtomicBool,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        let watch = async {
            while !cancel.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            let providers: Vec<Arc<dyn Provider>> =
                self.providers.borrow().values().cloned().collect();
            for p in providers {
                p.stop();
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            out = work => out,
            () = watch => unreachable!("the watch never ends"),
        }
    }

    /// The configured provider for `addr`, configuring a default one if needed.
    /// Whether resource `r`'s provider is a plugin (not a native provider): recorded
    /// with each object, which the other implementation will not read.
    pub fn served_by_plugin(&self, r: &Resource) -> bool {
        self.registry
            .get(&r.provider_name())
            .is_some_and(|f| f.is_plugin())
    }

    pub fn provider(&self, addr: &str) -> Option<Arc<dyn Provider>> {
        if let Some(p) = self.providers.borrow().get(addr) {
            return Some(p.clone());
        }
        // Resources left in state whose provider has no node: use a default instance.
        let name = addr.rsplit("provider.").next()?.split('.').next()?;
        let factory = self.registry.get(name)?;
        let p = factory
            .configure(&Value::Map(terrane_core::ObjectMap::new()))
            .ok()?;
        self.providers
            .borrow_mut()
            .insert(addr.to_string(), p.clone());
        Some(p)
    }

    /// Evaluates count / for_each into the list of instances to plan.
    pub fn expand(
        &self,
        module: &ModulePath,
        r: &Resource,
    ) -> Result<(Repetition, Vec<Expansion>), Diagnostic> {
        self.expand_meta(module, r.count.as_ref(), r.for_each.as_ref())
    }

    /// The instances `count` or `for_each` (of a resource or a module call) ask for,
    /// evaluated in `module`; one unkeyed instance when there is neither.
    pub fn expand_meta(
        &self,
        module: &ModulePath,
        count: Option<&terrane_lang::Expr>,
        for_each: Option<&terrane_lang::Expr>,
    ) -> Result<(Repetition, Vec<Expansion>), Diagnostic> {
        if let Some(c) = count {
            let v = self.with_scope(module, None, |s| eval(c, s))?;
            let (v, _) = v.unmark();
            // Like Terraform, count converts its value to a number ("2" is 2).
            let v = match v {
                Value::String(_) => terrane_core::Type::Number.convert(v.clone()).unwrap_or(v),
                other => other,
            };
            let n = match v {
                Value::Number(n) if n.as_usize().is_some() => n.as_i64().unwrap_or_default(),
                Value::Unknown => {
                    return Err(Diagnostic::error(
                        "Invalid count argument",
                        "The count value depends on resource attributes that cannot be determined until apply, so terrane cannot predict how many instances will be created. Use values known at plan time (variables, locals), or apply the dependencies first with --target.",
                    )
                    .with_span(Some(c.span.clone())))
                }
                Value::Null => {
                    return Err(Diagnostic::error("Invalid count argument", "The count argument cannot be null.").with_span(Some(c.span.clone())))
                }
                other => {
                    return Err(Diagnostic::error(
                        "Invalid count argument",
                        format!("The count argument must be a non-negative whole number, but it is {}.", other.to_display()),
                    )
                    .with_span(Some(c.span.clone())))
                }
            };
            return Ok((
                Repetition::Count,
                (0..n)
                    .map(|i| Expansion {
                        key: InstanceKey::Int(i),
                        count_index: Some(i),
                        each: None,
                    })
                    .collect(),
            ));
        }
        if let Some(f) = for_each {
            let v = self.with_scope(module, None, |s| eval(f, s))?;
            if matches!(v, Value::Sensitive(_)) {
                return Err(Diagnostic::error(
                    "Invalid for_each argument",
                    "Sensitive values cannot be used as for_each arguments, because the instance keys would reveal them in the plan. Use nonsensitive() on the keys if they are not secret.",
                )
                .with_span(Some(f.span.clone())));
            }
            let entries: Vec<(String, Value)> = match v {
                Value::Map(m) => m.into_iter().collect(),
                Value::Set(items) => {
                    let mut out = Vec::new();
                    for it in items {
                        match it {
                            Value::String(s) => out.push((s.clone(), Value::String(s))),
                            Value::Unknown => return Err(unknown_for_each(&f.span)),
                            other => {
                                return Err(Diagnostic::error(
                                    "Invalid for_each set argument",
                                    format!("The set for for_each must contain only strings, but it contains {}.", other.type_name()),
                                )
                                .with_span(Some(f.span.clone())))
                            }
                        }
                    }
                    out
                }
                Value::List(_) => {
                    return Err(Diagnostic::error(
                        "Invalid for_each argument",
                        "The for_each argument must be a map or a set of strings, and you have provided a list. Convert it with toset(), or build a map with a for expression.",
                    )
                    .with_span(Some(f.span.clone())))
                }
                Value::Unknown => return Err(unknown_for_each(&f.span)),
                other => {
                    return Err(Diagnostic::error(
                        "Invalid for_each argument",
                        format!("The for_each argument must be a map or a set of strings, but it is {}.", other.type_name()),
                    )
                    .with_span(Some(f.span.clone())))
                }
            };
            return Ok((
                Repetition::ForEach,
                entries
                    .into_iter()
                    .map(|(k, v)| Expansion {
                        key: InstanceKey::Str(k.clone()),
                        count_index: None,
                        each: Some((Value::String(k), v)),
                    })
                    .collect(),
            ));
        }
        Ok((
            Repetition::Single,
            vec![Expansion {
                key: InstanceKey::None,
                count_index: None,
                each: None,
            }],
        ))
    }

    /// Evaluates one instance's configuration and shapes it to the schema.
    pub fn instance_config(
        &self,
        module: &ModulePath,
        r: &Resource,
        schema: &Schema,
        exp: &Expansion,
    ) -> Result<Value, Diagnostics> {
        let v = self.with_scope(module, Some(exp), |s| eval_body(&r.body, s))?;
        let (v, problems) = schema.conform(v);
        let mut diags = Diagnostics::new();
        for p in problems {
            let span = match &p {
                ConfigProblem::Type(path, _)
                | ConfigProblem::Unsupported(path)
                | ConfigProblem::Missing(path)
                | ConfigProblem::ComputedSet(path)
                | ConfigProblem::TooManyBlocks(path) => path
                    .first()
                    .and_then(|a| r.body.attrs.get(a))
                    .map(|a| a.expr.span.clone())
                    .unwrap_or(r.span.clone()),
            };
            // Missing/unsupported arguments were reported statically already; only report
            // what evaluation found (a null required value or a type mismatch).
            match &p {
                ConfigProblem::Missing(path)
                    if path.len() == 1 && !r.body.attrs.contains_key(&path[0]) =>
                {
                    continue
                }
                ConfigProblem::Unsupported(_) => continue,
                _ => {}
            }
            diags.push(problem_diag(
                p,
                Some(span),
                &format!("{} {:?}", r.type_name, r.name),
            ));
        }
        if diags.has_errors() {
            return Err(diags);
        }
        Ok(v)
    }
}

fn unknown_for_each(span: &Span) -> Diagnostic {
    Diagnostic::error(
        "Invalid for_each argument",
        "The for_each value depends on resource attributes that cannot be determined until apply, so terrane cannot predict how many instances will be created. Use keys known at plan time, or apply the dependencies first with --target.",
    )
    .with_span(Some(span.clone()))
}

pub fn problem_diag(p: ConfigProblem, span: Option<Span>, what: &str) -> Diagnostic {
    match p {
        ConfigProblem::Missing(path) => Diagnostic::error(
            "Missing required argument",
            format!(
                "The argument {:?} of {what} is required, but its value is null.",
                path.join(".")
            ),
        ),
        ConfigProblem::Unsupported(path) => Diagnostic::error(
            "Unsupported argument",
            format!(
                "An argument named {:?} is not expected in {what}.",
                path.join(".")
            ),
        ),
        ConfigProblem::ComputedSet(path) => Diagnostic::error(
            "Value for unconfigurable attribute",
            format!(
                "{:?} is computed by the provider and cannot be set.",
                path.join(".")
            ),
        ),
        ConfigProblem::Type(path, msg) => Diagnostic::error(
            "Incorrect attribute value type",
            format!(
                "Inappropriate value for attribute {:?} of {what}: {msg}.",
                path.join(".")
            ),
        ),
        ConfigProblem::TooManyBlocks(path) => Diagnostic::error(
            "Too many blocks",
            format!(
                "No more than one {:?} block is allowed in {what}.",
                path.join(".")
            ),
        ),
    }
    .with_span(span)
}

/// Converts a variable value to its type (a null where null is not allowed takes the
/// default), marked sensitive if the variable is.
pub fn convert_variable(decl: &Variable, value: Value) -> Result<Value, Diagnostic> {
    // A null given to a variable that is not nullable takes its default, as in
    // Terraform; without a default it is an error.
    let value = match (&decl.default, value.is_null() && !decl.nullable) {
        (Some(d), true) => eval_constant(d)?,
        (None, true) => {
            return Err(Diagnostic::error(
                "Invalid value for input variable",
                format!(
                    "The variable {:?} is declared nullable = false and has no default, so it cannot be null.",
                    decl.name
                ),
            )
            .with_span(Some(decl.span.clone())))
        }
        (_, false) => value,
    };
    let value = match &decl.ty {
        Some(t) => t.convert(value).map_err(|msg| {
            Diagnostic::error(
                "Invalid value for input variable",
                format!(
                    "The given value is not suitable for var.{}, which is declared as {t}: {msg}.",
                    decl.name
                ),
            )
            .with_span(Some(decl.span.clone()))
        })?,
        None => value,
    };
    Ok(value.mark_if(decl.sensitive))
}

/// Runs a variable's validation rules, which see its value and, through `module`, the
/// rest of its module.
pub fn validate_variable(
    decl: &Variable,
    value: &Value,
    module: &dyn terrane_lang::Scope,
) -> Checked {
    let mut status = Status::Pass;
    let failed = |status, problems, d| Checked {
        diags: vec![d],
        status,
        problems,
    };
    for val in &decl.validations {
        let scope = VarScope {
            name: &decl.name,
            value,
            module,
        };
        let ok = match eval_with(&val.condition, &scope, Vec::new()) {
            Ok(v) => v,
            Err(d) => return failed(Status::Error, Vec::new(), d),
        };
        match ok.peel() {
            Value::Bool(true) => {}
            Value::Unknown => status = status.max(Status::Unknown),
            Value::Bool(false) => {
                let msg = eval_with(&val.error_message, &scope, Vec::new())
                    .ok()
                    .and_then(|m| {
                        if m.contains_sensitive() {
                            None
                        } else {
                            m.as_str().map(str::to_string)
                        }
                    })
                    .unwrap_or_else(|| "The value is not valid.".to_string());
                // The offending value, as Terraform shows it (never a sensitive one).
                let shown = if value.contains_sensitive() {
                    String::new()
                } else {
                    format!("var.{} is {}. ", decl.name, value.to_display())
                };
                let d = Diagnostic::error(
                    "Invalid value for variable",
                    format!(
                        "{msg}\n\n{shown}This was checked by the validation rule of variable {:?}.",
                        decl.name
                    ),
                )
                .with_span(Some(val.condition.span.clone()));
                return failed(Status::Fail, vec![msg], d);
            }
            other => {
                let d = Diagnostic::error(
                    "Invalid validation condition",
                    format!(
                        "A validation condition must be true or false, but it produced {}.",
                        other.type_name()
                    ),
                )
                .with_span(Some(val.condition.span.clone()));
                return failed(Status::Error, Vec::new(), d);
            }
        }
    }
    Checked {
        diags: Vec::new(),
        status,
        problems: Vec::new(),
    }
}

/// A validation's scope: its variable's value being checked, then the module's.
struct VarScope<'a> {
    name: &'a str,
    value: &'a Value,
    module: &'a dyn terrane_lang::Scope,
}

impl terrane_lang::Scope for VarScope<'_> {
    fn lookup(
        &self,
        r: &terrane_lang::Reference,
        span: &Span,
    ) -> Result<std::borrow::Cow<'_, Value>, Diagnostic> {
        match r {
            terrane_lang::Reference::Var(n) if n == self.name => {
                Ok(std::borrow::Cow::Borrowed(self.value))
            }
            other => self.module.lookup(other, span),
        }
    }

    fn base_dir(&self) -> &Path {
        self.module.base_dir()
    }
}

/// Which kind of condition block is checked, for its diagnostics.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ConditionKind {
    ResourcePrecondition,
    ResourcePostcondition,
    OutputPrecondition,
    /// A `check` block's `assert`: a false one is a warning.
    CheckAssert,
}

/// Evaluates `conditions` in `scope` and returns a diagnostic for each that is false
/// (Terraform's summaries; the detail is the block's `error_message`) or cannot be
/// evaluated. A condition not known yet is skipped: the apply checks it again with
/// the values it produced.
pub fn check_conditions(
    conditions: &[Condition],
    scope: &dyn terrane_lang::Scope,
    kind: ConditionKind,
) -> Checked {
    let summary = match kind {
        ConditionKind::ResourcePrecondition => "Resource precondition failed",
        ConditionKind::ResourcePostcondition => "Resource postcondition failed",
        ConditionKind::OutputPrecondition => "Module output value precondition failed",
        ConditionKind::CheckAssert => "Check block assertion failed",
    };
    let mut out = Vec::new();
    let mut status = Status::Pass;
    let mut problems = Vec::new();
    for c in conditions {
        let invalid = |what: String| {
            Diagnostic::error(
                "Invalid condition result",
                format!("The condition must be true or false, but it is {what}."),
            )
            .with_span(Some(c.condition.span.clone()))
        };
        let holds = match eval(&c.condition, scope).map(|v| v.unmark()) {
            Err(d) => Err(d),
            Ok((Value::Unknown, _)) => {
                status = status.max(Status::Unknown);
                continue;
            }
            Ok((Value::Bool(b), _)) => Ok(b),
            Ok((Value::String(s), _)) if s == "true" || s == "false" => Ok(s == "true"),
            Ok((Value::Null, _)) => Err(invalid("null".into())),
            Ok((other, _)) => Err(invalid(format!("a {}", other.type_name()))),
        };
        match holds {
            Ok(true) => continue,
            Ok(false) => status = status.max(Status::Fail),
            Err(d) => {
                status = Status::Error;
                out.push(d);
                continue;
            }
        }
        let message = match eval(&c.error_message, scope).map(|v| v.unmark()) {
            Ok((_, true)) => {
                "(The error message refers to sensitive values, so it is not shown.)".to_string()
            }
            Ok((Value::Unknown, _)) => "(The error message is not known yet.)".to_string(),
            Ok((Value::String(s), _)) => s,
            Ok((v, _)) => v.to_display(),
            Err(d) => {
                status = Status::Error;
                out.push(d);
                continue;
            }
        };
        problems.push(message.clone());
        let d = if kind == ConditionKind::CheckAssert {
            Diagnostic::warning(summary, message)
        } else {
            Diagnostic::error(summary, message)
        };
        out.push(d.with_span(Some(c.condition.span.clone())));
    }
    Checked {
        diags: out,
        status,
        problems,
    }
}

/// How a checkable object's conditions came out: the diagnostics to report, and the
/// status and failure messages the plan's `checks` records.
pub struct Checked {
    pub diags: Vec<Diagnostic>,
    pub status: Status,
    pub problems: Vec<String>,
}
