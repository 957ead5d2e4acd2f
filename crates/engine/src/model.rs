//! The configuration as a graph: every variable, local, output, provider and resource
//! of every module becomes a node, and every reference an edge. Building the model
//! checks all references, resource types and arguments statically and reports every
//! problem as a diagnostic, so `terrane validate` needs neither state nor providers.

use std::collections::HashMap;
use std::sync::Arc;

use terrane_core::{Diagnostic, Diagnostics, ModulePath, ResourceAddr, ResourceMode, Span};
use terrane_lang::ast::Reference;
use terrane_lang::config::{Body, Condition, ModuleCall, ProviderBlock, Resource};
use terrane_lang::eval::suggest;
use terrane_lang::{Expr, Module};
use terrane_provider::{ProviderFactory, Registry, Schema};

use crate::graph::Graph;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Var(ModulePath, String),
    Local(ModulePath, String),
    Output(ModulePath, String),
    /// A resource or data source (all its instances), by `type.name` / `data.type.name`.
    Resource(ModulePath, String),
    /// A provider configuration, by address (`provider.aws`, `module.m.provider.aws.west`).
    Provider(String),
    /// A `check` block: its assertions are evaluated once what they refer to is.
    Check(ModulePath, String),
    /// A module call, by the configuration path of the module it calls: evaluating it
    /// expands `count`/`for_each` into the module's instances. Every node of the
    /// called module depends on it.
    Call(ModulePath),
}

/// A provider configuration node's details.
#[derive(Clone)]
pub struct ProviderNode {
    pub addr: String,
    pub name: String,
    pub module: ModulePath,
    /// None for an implied default configuration with no block.
    pub block: Option<ProviderBlock>,
}

pub struct Model<'c> {
    pub nodes: Vec<NodeKind>,
    pub graph: Graph,
    pub index: HashMap<NodeKind, usize>,
    pub modules: HashMap<ModulePath, &'c Module>,
    /// The call that instantiates each non-root module.
    pub calls: HashMap<ModulePath, &'c ModuleCall>,
    pub providers: HashMap<String, ProviderNode>,
    /// The provider address of each resource node.
    pub resource_provider: HashMap<usize, String>,
    /// Managed resources each resource node depends on, through locals, variables and outputs.
    pub resource_deps: HashMap<usize, Vec<String>>,
    /// The selected workspace, `terraform.workspace` (set by the caller; "default").
    pub workspace: String,
}

impl<'c> Model<'c> {
    pub fn node(&self, kind: &NodeKind) -> Option<usize> {
        self.index.get(kind).copied()
    }

    pub fn resource(&self, module: &ModulePath, key: &str) -> Option<&'c Resource> {
        self.modules.get(module).and_then(|m| m.resources.get(key))
    }

    /// Where a node is declared in the configuration.
    pub fn node_span(&self, node: usize) -> Option<Span> {
        match &self.nodes[node] {
            NodeKind::Var(m, n) => self
                .modules
                .get(m)
                .and_then(|x| x.variables.get(n))
                .map(|v| v.span.clone()),
            NodeKind::Local(m, n) => self
                .modules
                .get(m)
                .and_then(|x| x.locals.get(n))
                .map(|l| l.span.clone()),
            NodeKind::Output(m, n) => self
                .modules
                .get(m)
                .and_then(|x| x.outputs.get(n))
                .map(|o| o.span.clone()),
            NodeKind::Resource(m, k) => self.resource(m, k).map(|r| r.span.clone()),
            NodeKind::Provider(_) => None,
            NodeKind::Check(m, n) => self
                .modules
                .get(m)
                .and_then(|x| x.checks.get(n))
                .map(|c| c.span.clone()),
            NodeKind::Call(m) => self.calls.get(m).map(|c| c.span.clone()),
        }
    }

    pub fn describe(&self, node: usize) -> String {
        match &self.nodes[node] {
            NodeKind::Var(m, n) => prefixed(m, &format!("var.{n}")),
            NodeKind::Local(m, n) => prefixed(m, &format!("local.{n}")),
            NodeKind::Output(m, n) => prefixed(m, &format!("output.{n}")),
            NodeKind::Resource(m, k) => prefixed(m, k),
            NodeKind::Provider(a) => a.clone(),
            NodeKind::Check(m, n) => prefixed(m, &format!("check.{n}")),
            NodeKind::Call(m) => m.to_string(),
        }
    }
}

pub fn prefixed(module: &ModulePath, s: &str) -> String {
    if module.is_root() {
        s.to_string()
    } else {
        format!("{module}.{s}")
    }
}

pub fn resource_addr(module: &ModulePath, r: &Resource) -> ResourceAddr {
    ResourceAddr {
        module: module.clone(),
        mode: r.mode,
        type_name: r.type_name.clone(),
        name: r.name.clone(),
    }
}

/// Finds the schema of a resource type, or explains what is wrong.
pub fn resource_schema<'r>(
    registry: &'r Registry,
    r: &Resource,
) -> Result<(&'r Arc<dyn ProviderFactory>, &'r Schema), Diagnostic> {
    let pname = r.provider_name();
    let Some(factory) = registry.get(&pname) else {
        let known: Vec<String> = registry.names().cloned().collect();
        return Err(Diagnostic::error(
            "Unknown provider",
            format!(
                "The resource type {:?} belongs to the provider {pname:?}, which terrane does not have. Available providers: {}.{}",
                r.type_name,
                known.join(", "),
                suggest(&pname, known.iter())
            ),
        )
        .with_span(Some(r.span.clone())));
    };
    let schemas = match r.mode {
        ResourceMode::Managed => &factory.schema().resources,
        ResourceMode::Data => &factory.schema().data_sources,
    };
    match schemas.get(&r.type_name) {
        Some(s) => Ok((factory, s)),
        None => Err(Diagnostic::error(
            if r.mode == ResourceMode::Data {
                "Invalid data source"
            } else {
                "Invalid resource type"
            },
            format!(
                "The provider {pname:?} does not support the {} type {:?}.{}",
                if r.mode == ResourceMode::Data {
                    "data source"
                } else {
                    "resource"
                },
                r.type_name,
                suggest(&r.type_name, schemas.keys())
            ),
        )
        .with_span(Some(r.span.clone()))),
    }
}

/// Static argument checks: required arguments present, no unknown arguments or blocks.
pub fn check_body(body: &Body, schema: &Schema, header: &Span, diags: &mut Diagnostics) {
    for (name, attr) in &schema.attributes {
        if attr.required && !body.attrs.contains_key(name) {
            diags.push(
                Diagnostic::error(
                    "Missing required argument",
                    format!("The argument {name:?} is required, but no definition was found. Add {name} = <value> to this block."),
                )
                .with_span(Some(header.clone())),
            );
        }
    }
    for (name, a) in &body.attrs {
        match schema.attributes.get(name) {
            Some(attr) if !attr.required && !attr.optional => diags.push(
                Diagnostic::error(
                    "Value for unconfigurable attribute",
                    format!("{name:?} is computed by the provider and cannot be set in the configuration. Remove this argument."),
                )
                .with_span(Some(a.name_span.clone())),
            ),
            Some(_) => {}
            None => {
                let what = if schema.blocks.contains_key(name) {
                    format!("{name:?} is a block, not an argument: write {name} {{ ... }} without the equals sign.")
                } else {
                    let names: Vec<String> = schema.attributes.keys().chain(schema.blocks.keys()).cloned().collect();
                    format!("An argument named {name:?} is not expected here.{}", suggest(name, names.iter()))
                };
                diags.push(Diagnostic::error("Unsupported argument", what).with_span(Some(a.name_span.clone())));
            }
        }
    }
    for b in &body.blocks {
        if b.kind == "dynamic" {
            if let Some(kind) = b.labels.first() {
                if let (Some(bs), Some(content)) = (
                    schema.blocks.get(kind),
                    b.body.blocks.iter().find(|c| c.kind == "content"),
                ) {
                    check_body(&content.body, &bs.schema, &content.span, diags);
                    continue;
                }
            }
        }
        match schema.blocks.get(&b.kind) {
            Some(bs) => check_body(&b.body, &bs.schema, &b.span, diags),
            None => {
                let names: Vec<String> = schema.blocks.keys().cloned().collect();
                let hint = if schema.attributes.contains_key(&b.kind) {
                    format!(
                        " {:?} is an argument: write {} = {{ ... }} with an equals sign.",
                        b.kind, b.kind
                    )
                } else {
                    suggest(&b.kind, names.iter())
                };
                diags.push(
                    Diagnostic::error(
                        "Unsupported block type",
                        format!("Blocks of type {:?} are not expected here.{hint}", b.kind),
                    )
                    .with_span(Some(b.span.clone())),
                );
            }
        }
    }
}

struct Builder<'c> {
    registry: &'c Registry,
    model: Model<'c>,
    diags: Diagnostics,
    /// Edges to add once every node exists: (node, module, reference, span, context).
    pending: Vec<(usize, ModulePath, Reference, Span, RefContext)>,
    pending_attrs: Vec<(ModulePath, terrane_lang::ast::ResourceAttrRef)>,
}

#[derive(Clone, Copy)]
struct RefContext {
    count: bool,
    for_each: bool,
    /// `self` may be used (a postcondition).
    self_ok: bool,
}

const NO_REPETITION: RefContext = RefContext {
    count: false,
    for_each: false,
    self_ok: false,
};

/// Builds the model of a configuration and checks it. Errors are returned together.
pub fn build<'c>(root: &'c Module, registry: &'c Registry) -> (Model<'c>, Diagnostics) {
    let mut b = Builder {
        registry,
        model: Model {
            nodes: Vec::new(),
            graph: Graph::default(),
            index: HashMap::new(),
            modules: HashMap::new(),
            calls: HashMap::new(),
            providers: HashMap::new(),
            resource_provider: HashMap::new(),
            resource_deps: HashMap::new(),
            workspace: "default".into(),
        },
        diags: Diagnostics::new(),
        pending: Vec::new(),
        pending_attrs: Vec::new(),
    };
    b.add_module(ModulePath::root(), root);
    b.call_edges();
    b.resolve_pending();
    b.check_attr_refs();
    b.compute_resource_deps();
    if let Some(cycle) = b.model.graph.find_cycle() {
        let path: Vec<String> = cycle.iter().map(|&n| b.model.describe(n)).collect();
        // Point at the first object of the loop that has a place in the configuration.
        let span = cycle.iter().find_map(|&n| b.model.node_span(n));
        b.diags.push(
            Diagnostic::error(
                "Cycle in the configuration",
                format!(
                    "These objects depend on each other in a loop: {}. Break the loop by removing one of the references (or a depends_on entry).",
                    path.join(" → ")
                ),
            )
            .with_span(span),
        );
    }
    (b.model, b.diags)
}

impl<'c> Builder<'c> {
    /// Every node evaluated in a called module's instances waits for the call that
    /// makes them (its `count`/`for_each`): the module's variables, locals, outputs,
    /// resources and checks, and the calls it makes in turn.
    fn call_edges(&mut self) {
        for (i, kind) in self.model.nodes.clone().iter().enumerate() {
            let module = match kind {
                NodeKind::Var(m, _)
                | NodeKind::Local(m, _)
                | NodeKind::Output(m, _)
                | NodeKind::Resource(m, _)
                | NodeKind::Check(m, _) => m.clone(),
                NodeKind::Call(child) => child.parent().unwrap_or_default(),
                NodeKind::Provider(_) => continue,
            };
            if module.is_root() {
                continue;
            }
            if let Some(&call) = self.model.index.get(&NodeKind::Call(module)) {
                self.model.graph.add_edge(i, call);
            }
        }
    }

    fn add(&mut self, kind: NodeKind) -> usize {
        if let Some(&i) = self.model.index.get(&kind) {
            return i;
        }
        let i = self.model.graph.add_node();
        self.model.nodes.push(kind.clone());
        self.model.index.insert(kind, i);
        i
    }

    fn refs(&mut self, node: usize, module: &ModulePath, e: &Expr, ctx: RefContext) {
        self.refs_bound(node, module, e, ctx, &[]);
    }

    /// The references of condition blocks (their conditions and messages).
    fn condition_refs(
        &mut self,
        node: usize,
        module: &ModulePath,
        conds: &[Condition],
        ctx: RefContext,
    ) {
        for c in conds {
            self.refs(node, module, &c.condition, ctx);
            self.refs(node, module, &c.error_message, ctx);
        }
    }

    /// References of `e`, where the `bound` names (iterators of enclosing `dynamic`
    /// blocks) are local.
    fn refs_bound(
        &mut self,
        node: usize,
        module: &ModulePath,
        e: &Expr,
        ctx: RefContext,
        bound: &[String],
    ) {
        for (r, span) in e.references_bound(bound) {
            self.pending.push((node, module.clone(), r, span, ctx));
        }
        for a in e.resource_attr_refs() {
            let local = match &a.reference {
                Reference::Resource { type_name, .. } => bound.contains(type_name),
                _ => false,
            };
            if !local {
                self.pending_attrs.push((module.clone(), a));
            }
        }
    }

    /// Checks instance keys and attribute names of resource references against the
    /// referenced resource's declaration and schema.
    fn check_attr_refs(&mut self) {
        for (module, a) in std::mem::take(&mut self.pending_attrs) {
            let key = match &a.reference {
                Reference::Resource { type_name, name } => format!("{type_name}.{name}"),
                Reference::Data { type_name, name } => format!("data.{type_name}.{name}"),
                _ => continue,
            };
            let Some(r) = self
                .model
                .modules
                .get(&module)
                .and_then(|m| m.resources.get(&key))
            else {
                continue;
            };
            let repeated = r.count.is_some() || r.for_each.is_some();
            let shown = crate::model::prefixed(&module, &key);
            if repeated && !a.keyed && a.attr.is_some() {
                self.diags.push(
                    Diagnostic::error(
                        "Missing resource instance key",
                        format!(
                            "Because {shown} has {} set, its attributes must be read from a specific instance, such as {key}[{}].{} — or from all of them with {key}[*].{}.",
                            if r.count.is_some() { "count" } else { "for_each" },
                            if r.count.is_some() { "0" } else { "\"KEY\"" },
                            a.attr.as_ref().map(|x| x.0.as_str()).unwrap_or("id"),
                            a.attr.as_ref().map(|x| x.0.as_str()).unwrap_or("id"),
                        ),
                    )
                    .with_span(Some(a.span.clone())),
                );
                continue;
            }
            if !repeated && a.keyed {
                self.diags.push(
                    Diagnostic::error(
                        "Unexpected resource instance key",
                        format!("{shown} has neither count nor for_each, so it has a single instance: refer to it without an index, as {key}."),
                    )
                    .with_span(Some(a.span.clone())),
                );
                continue;
            }
            let Some((attr, span)) = &a.attr else {
                continue;
            };
            let Ok((_, schema)) = resource_schema(self.registry, r) else {
                continue;
            };
            if !schema.attributes.contains_key(attr) && !schema.blocks.contains_key(attr) {
                let names: Vec<String> = schema
                    .attributes
                    .keys()
                    .chain(schema.blocks.keys())
                    .cloned()
                    .collect();
                self.diags.push(
                    Diagnostic::error(
                        "Unsupported attribute",
                        format!(
                            "This object has no argument, nested block, or exported attribute named {attr:?}.{}",
                            suggest(attr, names.iter())
                        ),
                    )
                    .with_span(Some(span.clone())),
                );
            }
        }
    }

    /// The references of a resource's provisioners and connection blocks (`self` is
    /// the instance), and their static checks. Destroy-time provisioners may refer only
    /// to `self`, `count.index`, `each.key`, `path` and `terraform.workspace`: they run
    /// when the rest of the configuration may be gone.
    fn provisioner_refs(&mut self, n: usize, path: &ModulePath, r: &Resource, ctx: RefContext) {
        use terrane_provision::{connection_schema, Kind};
        let connection_schema = connection_schema();
        if let Some(c) = &r.connection {
            if r.provisioners.iter().any(|p| !p.when_destroy) {
                self.body_refs(n, path, c, ctx);
            }
            check_body(c, &connection_schema, &r.span, &mut self.diags);
        }
        for p in &r.provisioners {
            let Some(kind) = Kind::parse(&p.kind) else {
                continue;
            };
            check_body(&p.body, &kind.schema(), &p.span, &mut self.diags);
            let present: Vec<&str> = p.body.attrs.keys().map(String::as_str).collect();
            if let Err(detail) = kind.check_arguments(&present) {
                self.diags.push(
                    Diagnostic::error("Invalid provisioner arguments", detail)
                        .with_span(Some(p.span.clone())),
                );
            }
            if let Some(c) = &p.connection {
                check_body(c, &connection_schema, &p.span, &mut self.diags);
            }
            if kind.remote() && p.connection.is_none() && r.connection.is_none() {
                self.diags.push(
                    Diagnostic::error(
                        "Missing connection configuration",
                        format!("The {} provisioner runs on a remote machine: add a connection block (in the provisioner or the resource) with at least host, for example connection {{ host = self.public_ip, user = \"ubuntu\", private_key = file(\"~/.ssh/id_ed25519\") }}.", p.kind),
                    )
                    .with_span(Some(p.span.clone())),
                );
            }
            let bodies =
                std::iter::once(&p.body).chain(p.connection.as_ref().or(if p.when_destroy {
                    r.connection.as_ref()
                } else {
                    None
                }));
            if !p.when_destroy {
                for b in bodies {
                    self.body_refs(n, path, b, ctx);
                }
                continue;
            }
            for b in bodies {
                for e in b.attrs.values().map(|a| &a.expr).chain(
                    b.blocks
                        .iter()
                        .flat_map(|nb| nb.body.attrs.values().map(|a| &a.expr)),
                ) {
                    for (reference, span) in e.references() {
                        if !matches!(
                            reference,
                            Reference::SelfRef
                                | Reference::CountIndex
                                | Reference::EachKey
                                | Reference::Path(_)
                                | Reference::Workspace
                        ) {
                            self.diags.push(
                                Diagnostic::error(
                                    "Invalid reference from destroy provisioner",
                                    "Destroy-time provisioners and their connection configurations may only reference attributes of the related resource, via self, count.index or each.key (and path and terraform.workspace). They run when the rest of the configuration may already be gone; copy what they need into the resource (for example into terraform_data's input or triggers_replace) and read it through self.",
                                )
                                .with_span(Some(span)),
                            );
                        }
                    }
                }
            }
        }
    }

    fn body_refs(&mut self, node: usize, module: &ModulePath, body: &Body, ctx: RefContext) {
        self.body_refs_bound(node, module, body, ctx, &mut Vec::new());
    }

    fn body_refs_bound(
        &mut self,
        node: usize,
        module: &ModulePath,
        body: &Body,
        ctx: RefContext,
        bound: &mut Vec<String>,
    ) {
        for a in body.attrs.values() {
            self.refs_bound(node, module, &a.expr, ctx, bound);
        }
        for nb in &body.blocks {
            if nb.kind != "dynamic" {
                self.body_refs_bound(node, module, &nb.body, ctx, bound);
                continue;
            }
            // A dynamic block's iterator (its label, or `iterator = NAME`) is a name
            // local to its `content` and `labels`; `for_each` is outside its scope.
            if let Some(fe) = nb.body.attrs.get("for_each") {
                self.refs_bound(node, module, &fe.expr, ctx, bound);
            }
            let iterator = nb
                .body
                .attrs
                .get("iterator")
                .and_then(|a| a.expr.as_traversal_path())
                .or_else(|| nb.labels.first().cloned());
            let outer = bound.len();
            bound.extend(iterator);
            if let Some(labels) = nb.body.attrs.get("labels") {
                self.refs_bound(node, module, &labels.expr, ctx, bound);
            }
            for content in &nb.body.blocks {
                self.body_refs_bound(node, module, &content.body, ctx, bound);
            }
            bound.truncate(outer);
        }
    }

    fn add_module(&mut self, path: ModulePath, module: &'c Module) {
        self.model.modules.insert(path.clone(), module);
        if let (Some(call), Some(p)) = (
            self.model.calls.get(&path).copied(),
            module.providers.first(),
        ) {
            if call.count.is_some() || call.for_each.is_some() {
                self.diags.push(
                    Diagnostic::error(
                        "Module is incompatible with count and for_each",
                        format!("The module called by module.{} has its own provider block, so it cannot be called with count or for_each (each instance would need its own provider configuration). Move the provider block to the calling module and pass it in, then use count or for_each.", call.name),
                    )
                    .with_span(Some(p.span.clone())),
                );
            }
        }
        for p in &module.providers {
            let addr = provider_addr(&path, &p.name, p.alias.as_deref());
            let n = self.add(NodeKind::Provider(addr.clone()));
            self.model.providers.insert(
                addr.clone(),
                ProviderNode {
                    addr,
                    name: p.name.clone(),
                    module: path.clone(),
                    block: Some(p.clone()),
                },
            );
            self.body_refs(n, &path, &p.body, NO_REPETITION);
        }
        for v in module.variables.values() {
            let n = self.add(NodeKind::Var(path.clone(), v.name.clone()));
            if let Some(call) = self.model.calls.get(&path).copied() {
                let parent = path.parent().unwrap_or_default();
                if let Some(a) = call.inputs.attrs.get(&v.name) {
                    let ctx = RefContext {
                        count: call.count.is_some(),
                        for_each: call.for_each.is_some(),
                        self_ok: false,
                    };
                    self.refs(n, &parent, &a.expr, ctx);
                } else if v.default.is_none() {
                    self.diags.push(
                        Diagnostic::error(
                            "Missing required argument",
                            format!("The module {:?} needs a value for its variable {:?}, which has no default. Add {} = <value> to the module block.", call.name, v.name, v.name),
                        )
                        .with_span(Some(call.span.clone())),
                    );
                }
            }
            if let (Some(ty), Some(default)) = (&v.ty, &v.default) {
                if let Ok(value) = terrane_lang::eval::eval_constant(default) {
                    if let Err(msg) = ty.convert(value) {
                        self.diags.push(
                            Diagnostic::error(
                                "Invalid default value for variable",
                                format!("The default value of variable {:?} is not compatible with its type constraint {ty}: {msg}.", v.name),
                            )
                            .with_span(Some(default.span.clone())),
                        );
                    }
                }
            }
            for val in &v.validations {
                // A validation may refer to other variables, locals and data of its
                // module (Terraform 1.9): they are evaluated before the variable is
                // checked. Its own variable is the value being checked.
                for e in [&val.condition, &val.error_message] {
                    for (r, span) in e.references() {
                        if r != Reference::Var(v.name.clone()) {
                            self.pending.push((n, path.clone(), r, span, NO_REPETITION));
                        }
                    }
                }
            }
        }
        if let Some(call) = self.model.calls.get(&path).copied() {
            for (name, a) in &call.inputs.attrs {
                if !module.variables.contains_key(name) {
                    self.diags.push(
                        Diagnostic::error(
                            "Unsupported argument",
                            format!(
                                "The module {:?} has no variable named {name:?}.{}",
                                call.name,
                                suggest(name, module.variables.keys())
                            ),
                        )
                        .with_span(Some(a.name_span.clone())),
                    );
                }
            }
        }
        for l in module.locals.values() {
            let n = self.add(NodeKind::Local(path.clone(), l.name.clone()));
            self.refs(n, &path, &l.expr, NO_REPETITION);
        }
        for o in module.outputs.values() {
            let n = self.add(NodeKind::Output(path.clone(), o.name.clone()));
            self.refs(n, &path, &o.expr, NO_REPETITION);
            for d in &o.depends_on {
                self.refs(n, &path, d, NO_REPETITION);
            }
            self.condition_refs(n, &path, &o.preconditions, NO_REPETITION);
        }
        for c in module.checks.values() {
            let n = self.add(NodeKind::Check(path.clone(), c.name.clone()));
            self.condition_refs(n, &path, &c.asserts, NO_REPETITION);
        }
        for r in module.resources.values() {
            let n = self.add(NodeKind::Resource(path.clone(), r.key()));
            let ctx = RefContext {
                count: r.count.is_some(),
                for_each: r.for_each.is_some(),
                self_ok: false,
            };
            if let Some(c) = &r.count {
                self.refs(n, &path, c, NO_REPETITION);
            }
            if let Some(f) = &r.for_each {
                self.refs(n, &path, f, NO_REPETITION);
            }
            self.body_refs(n, &path, &r.body, ctx);
            for d in &r.depends_on {
                self.refs(n, &path, d, NO_REPETITION);
            }
            for d in &r.lifecycle.replace_triggered_by {
                self.refs(n, &path, d, ctx);
            }
            self.condition_refs(n, &path, &r.lifecycle.preconditions, ctx);
            let post = RefContext {
                self_ok: true,
                ..ctx
            };
            self.condition_refs(n, &path, &r.lifecycle.postconditions, post);
            self.provisioner_refs(n, &path, r, post);
            match resource_schema(self.registry, r) {
                Ok((_, schema)) => check_body(&r.body, schema, &r.span, &mut self.diags),
                Err(d) => self.diags.push(d),
            }
            // Provider configuration.
            let pname = r.provider_name();
            let alias = r.provider.as_ref().and_then(|(_, a)| a.clone());
            match self.find_provider(&path, &pname, alias.as_deref()) {
                Some(addr) => {
                    let pn = self.add(NodeKind::Provider(addr.clone()));
                    self.model.graph.add_edge(n, pn);
                    self.model.resource_provider.insert(n, addr);
                }
                None => self.diags.push(
                    Diagnostic::error(
                        "Provider configuration not present",
                        format!(
                            "The resource refers to the provider configuration {pname}.{}, but no provider block with alias = {:?} is declared in this module or a parent module.",
                            alias.clone().unwrap_or_default(),
                            alias.unwrap_or_default()
                        ),
                    )
                    .with_span(Some(r.span.clone())),
                ),
            }
        }
        for call in module.module_calls.values() {
            let child = path.child(&call.name);
            self.model.calls.insert(child.clone(), call);
            let n = self.add(NodeKind::Call(child.clone()));
            for e in call.count.iter().chain(&call.for_each) {
                self.refs(n, &path, e, NO_REPETITION);
            }
            self.add_module(child, &call.module);
        }
    }

    fn find_provider(
        &mut self,
        module: &ModulePath,
        name: &str,
        alias: Option<&str>,
    ) -> Option<String> {
        let mut p = Some(module.clone());
        while let Some(m) = p {
            let addr = provider_addr(&m, name, alias);
            if self.model.providers.contains_key(&addr) {
                return Some(addr);
            }
            p = m.parent();
        }
        if alias.is_some() {
            return None;
        }
        // An implied default configuration at the root.
        let addr = provider_addr(&ModulePath::root(), name, None);
        self.model
            .providers
            .entry(addr.clone())
            .or_insert(ProviderNode {
                addr: addr.clone(),
                name: name.to_string(),
                module: ModulePath::root(),
                block: None,
            });
        Some(addr)
    }

    fn resolve_pending(&mut self) {
        for (node, module, r, span, ctx) in std::mem::take(&mut self.pending) {
            match self
                .resolve(&module, &r, &span, ctx)
                .and_then(|t| self.check_scope(node, &module, &r, &span).map(|()| t))
            {
                Ok(targets) => {
                    for t in targets {
                        self.model.graph.add_edge(node, t);
                    }
                }
                Err(d) => self.diags.push(d),
            }
        }
    }

    /// A data source declared in a `check` block may be referred to only from inside
    /// that check (its assertions and its other data sources).
    fn check_scope(
        &self,
        node: usize,
        module: &ModulePath,
        r: &Reference,
        span: &Span,
    ) -> Result<(), Diagnostic> {
        let Reference::Data { type_name, name } = r else {
            return Ok(());
        };
        let Some(m) = self.model.modules.get(module) else {
            return Ok(());
        };
        let Some(scope) = m
            .resources
            .get(&format!("data.{type_name}.{name}"))
            .and_then(|d| d.check.as_ref())
        else {
            return Ok(());
        };
        let inside = match &self.model.nodes[node] {
            NodeKind::Check(_, c) => c == scope,
            NodeKind::Resource(_, key) => {
                m.resources.get(key).and_then(|x| x.check.as_ref()) == Some(scope)
            }
            _ => false,
        };
        if inside {
            return Ok(());
        }
        Err(Diagnostic::error(
            "Reference to scoped resource",
            format!("The referenced data resource {type_name:?} {name:?} is declared in check block {scope:?} and is not available from this context. Declare it outside the check block to use it elsewhere."),
        )
        .with_span(Some(span.clone())))
    }

    fn resolve(
        &self,
        module: &ModulePath,
        r: &Reference,
        span: &Span,
        ctx: RefContext,
    ) -> Result<Vec<usize>, Diagnostic> {
        let m = self.model.modules.get(module).copied();
        let err = |summary: &str, detail: String| {
            Err(Diagnostic::error(summary, detail).with_span(Some(span.clone())))
        };
        let in_module = if module.is_root() {
            "the root module".to_string()
        } else {
            format!("{module}")
        };
        match r {
            Reference::Var(name) => match self.model.index.get(&NodeKind::Var(module.clone(), name.clone())) {
                Some(&n) => Ok(vec![n]),
                None => err(
                    "Reference to undeclared input variable",
                    format!(
                        "An input variable named {name:?} has not been declared in {in_module}. Declare it with a variable \"{name}\" {{}} block.{}",
                        m.map(|m| suggest(name, m.variables.keys())).unwrap_or_default()
                    ),
                ),
            },
            Reference::Local(name) => match self.model.index.get(&NodeKind::Local(module.clone(), name.clone())) {
                Some(&n) => Ok(vec![n]),
                None => err(
                    "Reference to undeclared local value",
                    format!(
                        "A local value named {name:?} has not been declared in {in_module}.{}",
                        m.map(|m| suggest(name, m.locals.keys())).unwrap_or_default()
                    ),
                ),
            },
            Reference::Resource { type_name, name } | Reference::Data { type_name, name } => {
                let data = matches!(r, Reference::Data { .. });
                let key = if data { format!("data.{type_name}.{name}") } else { format!("{type_name}.{name}") };
                match self.model.index.get(&NodeKind::Resource(module.clone(), key.clone())) {
                    Some(&n) => Ok(vec![n]),
                    None => {
                        let keys: Vec<String> = m.map(|m| m.resources.keys().cloned().collect()).unwrap_or_default();
                        err(
                            if data { "Reference to undeclared data source" } else { "Reference to undeclared resource" },
                            format!(
                                "A {} {type_name:?} {name:?} has not been declared in {in_module}.{}",
                                if data { "data source" } else { "managed resource" },
                                suggest(&key, keys.iter())
                            ),
                        )
                    }
                }
            }
            Reference::ModuleOutput { module: child, output } => {
                let child_path = module.child(child);
                let Some(cm) = self.model.modules.get(&child_path) else {
                    let calls: Vec<String> = m.map(|m| m.module_calls.keys().cloned().collect()).unwrap_or_default();
                    return err(
                        "Reference to undeclared module",
                        format!("No module call named {child:?} is declared in {in_module}.{}", suggest(child, calls.iter())),
                    );
                };
                match output {
                    Some(o) => match self.model.index.get(&NodeKind::Output(child_path.clone(), o.clone())) {
                        Some(&n) => Ok(vec![n]),
                        None => err(
                            "Unsupported attribute",
                            format!("The module {child:?} has no output named {o:?}.{}", suggest(o, cm.outputs.keys())),
                        ),
                    },
                    None => Ok(cm
                        .outputs
                        .keys()
                        .filter_map(|o| self.model.index.get(&NodeKind::Output(child_path.clone(), o.clone())).copied())
                        .collect()),
                }
            }
            Reference::CountIndex if !ctx.count => err(
                "Reference to \"count\" in non-counted context",
                "count.index can only be used in a resource that sets the count argument.".into(),
            ),
            Reference::EachKey | Reference::EachValue if !ctx.for_each => err(
                "Reference to \"each\" in context without for_each",
                "each.key and each.value can only be used in a resource that sets the for_each argument.".into(),
            ),
            Reference::SelfRef if ctx.self_ok => Ok(Vec::new()),
            Reference::SelfRef => err("Invalid \"self\" reference", "self can only be used in a resource's postcondition, provisioner and connection blocks.".into()),
            Reference::Invalid(name) => err(
                "Invalid reference",
                format!("{name:?} is not a valid reference. References look like var.NAME, local.NAME, TYPE.NAME, data.TYPE.NAME, module.NAME.OUTPUT, count.index or each.key."),
            ),
            Reference::Path(p) if !matches!(p.as_str(), "module" | "root" | "cwd") => err(
                "Invalid \"path\" attribute",
                format!("path.{p} does not exist; use path.module, path.root or path.cwd."),
            ),
            _ => Ok(Vec::new()),
        }
    }

    fn compute_resource_deps(&mut self) {
        let graph = &self.model.graph;
        let nodes = &self.model.nodes;
        let mut out = HashMap::new();
        // seen[n] == i + 1 marks n as visited in the search from node i, so one array
        // serves every search without clearing (linear in the graph, not quadratic).
        let mut seen = vec![0usize; nodes.len()];
        for (i, kind) in nodes.iter().enumerate() {
            let NodeKind::Resource(..) = kind else {
                continue;
            };
            let mut stack: Vec<usize> = graph.deps(i).to_vec();
            let mut deps = Vec::new();
            while let Some(n) = stack.pop() {
                if std::mem::replace(&mut seen[n], i + 1) == i + 1 {
                    continue;
                }
                match &nodes[n] {
                    NodeKind::Resource(m, k) => {
                        if !k.starts_with("data.") {
                            deps.push(prefixed(m, k));
                        }
                        // Data sources pass on their own dependencies.
                        if k.starts_with("data.") {
                            stack.extend(graph.deps(n).iter().copied());
                        }
                    }
                    NodeKind::Provider(_) => {}
                    _ => stack.extend(graph.deps(n).iter().copied()),
                }
            }
            deps.sort();
            deps.dedup();
            out.insert(i, deps);
        }
        self.model.resource_deps = out;
    }
}

pub fn provider_addr(module: &ModulePath, name: &str, alias: Option<&str>) -> String {
    let base = match alias {
        Some(a) => format!("provider.{name}.{a}"),
        None => format!("provider.{name}"),
    };
    prefixed(module, &base)
}

impl Model<'_> {
    /// The graph in Graphviz's DOT language, as `terrane graph` prints it: nodes and
    /// edges sorted, resources as boxes, providers as diamonds.
    pub fn to_dot(&self) -> String {
        let model = self;
        let mut out = String::from(
            "digraph terrane {\n  compound = \"true\"\n  newrank = \"true\"\n  rankdir = \"RL\"\n",
        );
        let mut nodes: Vec<(String, usize)> = (0..model.nodes.len())
            .map(|i| (model.describe(i), i))
            .collect();
        nodes.sort();
        for (name, i) in &nodes {
            let shape = match model.nodes[*i] {
                NodeKind::Resource(..) => "box",
                NodeKind::Provider(_) => "diamond",
                _ => "note",
            };
            out.push_str(&format!(
                "  {name:?} [label = {name:?}, shape = \"{shape}\"]\n"
            ));
        }
        let mut edges = Vec::new();
        for (name, i) in &nodes {
            for &d in model.graph.deps(*i) {
                edges.push(format!("  {name:?} -> {:?}\n", model.describe(d)));
            }
        }
        edges.sort();
        for e in edges {
            out.push_str(&e);
        }
        out.push_str("}\n");
        out
    }
}
