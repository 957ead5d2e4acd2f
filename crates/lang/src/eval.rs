//! The expression evaluator.
//!
//! Evaluation is a pure function of an expression and a [`Scope`] that answers
//! references. Unknown values propagate (an operation on an unknown value is unknown),
//! and the sensitive mark propagates to every value computed from a sensitive one.
//! References into large collections (`null_resource.r[9999].id`) are navigated by
//! reference and only the final value is cloned, so plans stay linear in the size of
//! the configuration.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use terrane_core::{Diagnostic, Diagnostics, Number, Span, Value};

use crate::ast::{
    BinOp, Converter, Expr, ExprKind, ForExpr, Reference, TemplatePart, TravOp, UnOp,
};
use crate::config::Body;
use crate::funcs;

/// Answers references during evaluation.
pub trait Scope {
    fn lookup(&self, reference: &Reference, span: &Span) -> Result<Cow<'_, Value>, Diagnostic>;
    /// The directory of the module being evaluated (for `file()` and `path.module`).
    fn base_dir(&self) -> &Path;

    /// True while applying: `timestamp()`, `uuid()` and `bcrypt()` then give values;
    /// while planning (the default) they are known after apply, as in Terraform.
    fn applying(&self) -> bool {
        false
    }

    /// Calls a provider-defined function, `provider::PROVIDER::NAME(args)`, with known
    /// arguments (without sensitive marks). The default knows none.
    fn provider_function(
        &self,
        provider: &str,
        name: &str,
        args: Vec<Value>,
        span: &Span,
    ) -> Result<Value, Diagnostic> {
        let _ = args;
        Err(Diagnostic::error(
            "Call to unknown function",
            format!("There is no function provider::{provider}::{name} here: provider functions are called in the resources, data sources, locals and outputs of a module whose configuration requires the provider."),
        )
        .with_span(Some(span.clone())))
    }
}

/// A scope with no references at all: for constants such as variable defaults.
pub struct EmptyScope;

impl Scope for EmptyScope {
    fn lookup(&self, _: &Reference, span: &Span) -> Result<Cow<'_, Value>, Diagnostic> {
        Err(Diagnostic::error(
            "Variables not allowed",
            "References are not allowed here; use a literal value.",
        )
        .with_span(Some(span.clone())))
    }

    fn base_dir(&self) -> &Path {
        Path::new(".")
    }
}

pub fn eval_constant(e: &Expr) -> Result<Value, Diagnostic> {
    eval(e, &EmptyScope)
}

/// Evaluates an expression.
pub fn eval(e: &Expr, scope: &dyn Scope) -> Result<Value, Diagnostic> {
    Evaluator {
        scope,
        bound: Vec::new(),
    }
    .eval(e)
}

/// Evaluates an expression with extra names bound (such as `dynamic` block iterators).
pub fn eval_with(
    e: &Expr,
    scope: &dyn Scope,
    bound: Vec<(String, Value)>,
) -> Result<Value, Diagnostic> {
    Evaluator { scope, bound }.eval(e)
}

/// Evaluates a block body to an object: attributes by name, nested blocks as lists of
/// objects under their block type (expanding `dynamic` blocks). All errors are returned.
pub fn eval_body(body: &Body, scope: &dyn Scope) -> Result<Value, Diagnostics> {
    let mut ev = Evaluator {
        scope,
        bound: Vec::new(),
    };
    let mut diags = Diagnostics::new();
    let v = ev.eval_body(body, &mut diags);
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(v)
    }
}

struct Evaluator<'s> {
    scope: &'s dyn Scope,
    bound: Vec<(String, Value)>,
}

fn err(summary: &str, detail: String, span: &Span) -> Diagnostic {
    Diagnostic::error(summary, detail).with_span(Some(span.clone()))
}

impl Evaluator<'_> {
    fn bound_value(&self, name: &str) -> Option<&Value> {
        self.bound
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    fn eval_body(&mut self, body: &Body, diags: &mut Diagnostics) -> Value {
        let mut out = terrane_core::ObjectMap::new();
        for (name, attr) in &body.attrs {
            match self.eval(&attr.expr) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(d) => diags.push(d),
            }
        }
        let mut blocks: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for b in &body.blocks {
            if b.kind == "dynamic" {
                self.expand_dynamic(b, &mut blocks, diags);
                continue;
            }
            let v = self.eval_body(&b.body, diags);
            // A labelled block (`setting "name" { ... }`, for a block type nested as a
            // map) keeps its label beside its body: `[label, body]`; the schema
            // (`Schema::conform`) turns those into the map.
            let v = match b.labels.as_slice() {
                [] => v,
                [label, ..] => Value::List(vec![Value::String(label.clone()), v]),
            };
            blocks.entry(b.kind.clone()).or_default().push(v);
        }
        for (k, v) in blocks {
            out.insert(k, Value::List(v));
        }
        Value::Map(out)
    }

    fn expand_dynamic(
        &mut self,
        b: &crate::config::NestedBlock,
        blocks: &mut BTreeMap<String, Vec<Value>>,
        diags: &mut Diagnostics,
    ) {
        let Some(kind) = b.labels.first() else {
            diags.push(err("Missing dynamic block label", "A dynamic block needs the name of the block type to generate, e.g. dynamic \"ingress\" { ... }.".into(), &b.span));
            return;
        };
        let iterator = b
            .body
            .attrs
            .get("iterator")
            .and_then(|a| a.expr.as_traversal_path())
            .unwrap_or_else(|| kind.clone());
        let Some(fe) = b.body.attrs.get("for_each") else {
            diags.push(err(
                "Missing for_each in dynamic block",
                "A dynamic block needs for_each = <collection>.".into(),
                &b.span,
            ));
            return;
        };
        let Some(content) = b.body.blocks.iter().find(|c| c.kind == "content") else {
            diags.push(err(
                "Missing content block",
                "A dynamic block needs a nested content { ... } block.".into(),
                &b.span,
            ));
            return;
        };
        let coll = match self.eval(&fe.expr) {
            Ok(v) => v,
            Err(d) => {
                diags.push(d);
                return;
            }
        };
        let (coll, sensitive) = coll.unmark();
        let entries: Vec<(Value, Value)> = match coll {
            Value::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i), v))
                .collect(),
            Value::Set(items) => items.into_iter().map(|v| (v.clone(), v)).collect(),
            Value::Map(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            Value::Null => Vec::new(),
            Value::Unknown => {
                blocks.entry(kind.clone()).or_default().push(Value::Unknown);
                return;
            }
            other => {
                diags.push(err(
                    "Invalid dynamic for_each value",
                    format!(
                        "Cannot iterate over a {}; for_each needs a list, set or map.",
                        other.type_name()
                    ),
                    &fe.expr.span,
                ));
                return;
            }
        };
        for (k, v) in entries {
            self.bound.push((
                iterator.clone(),
                Value::map([("key", k), ("value", v.mark_if(sensitive))]),
            ));
            let out = self.eval_body(&content.body, diags);
            self.bound.pop();
            blocks.entry(kind.clone()).or_default().push(out);
        }
    }

    fn eval(&mut self, e: &Expr) -> Result<Value, Diagnostic> {
        match &e.kind {
            ExprKind::Literal(v) => Ok(v.clone()),
            ExprKind::Template(parts) => {
                // A template that is one interpolation and nothing else is that value,
                // with its type, as in Terraform (`"${local.n}"` is a number).
                if let [TemplatePart::Interp(inner)] = parts.as_slice() {
                    return self.eval(inner);
                }
                let mut out = String::new();
                let mut state = Marks::default();
                self.eval_template(parts, &mut out, &mut state)?;
                Ok(state.finish(Value::String(out)))
            }
            ExprKind::Var(name) => {
                if let Some(v) = self.bound_value(name) {
                    return Ok(v.clone());
                }
                let (r, _) = Reference::split(name, &[]);
                self.lookup(&r, &e.span).map(Cow::into_owned)
            }
            ExprKind::Traversal(root, ops) => self.eval_traversal(root, ops, e),
            ExprKind::Call {
                name,
                args,
                expand_final,
            } => self.eval_call(name, args, *expand_final, e),
            ExprKind::Cond(c, t, f) => {
                let cond = self.eval(c)?;
                let (cond, sensitive) = cond.unmark();
                // A string "true" or "false" converts to bool, as Terraform converts it.
                let cond = match cond {
                    Value::String(s) if s == "true" => Value::Bool(true),
                    Value::String(s) if s == "false" => Value::Bool(false),
                    other => other,
                };
                let (chosen, other) = match cond {
                    Value::Bool(true) => (t, f),
                    _ => (f, t),
                };
                match cond {
                    Value::Unknown => Ok(Value::Unknown.mark_if(sensitive)),
                    Value::Bool(_) => {
                        let v = self.eval(chosen)?;
                        // The two results unify to one type: a number or bool beside a
                        // string becomes a string (`true ? 1 : "2"` is "1"). The other
                        // result is evaluated only when that can matter.
                        let to_string = matches!(v.peel(), Value::Number(_) | Value::Bool(_))
                            && self
                                .eval(other)
                                .is_ok_and(|o| matches!(o.peel(), Value::String(_)));
                        let v = match funcs::prim_str(&v).filter(|_| to_string) {
                            Some(text) => {
                                Value::String(text).mark_if(matches!(v, Value::Sensitive(_)))
                            }
                            None => v,
                        };
                        Ok(v.mark_if(sensitive))
                    }
                    other => Err(err(
                        "Invalid condition result",
                        format!(
                            "The condition must be true or false, but it is {}.",
                            other.type_name()
                        ),
                        &c.span,
                    )),
                }
            }
            ExprKind::Unary(op, a) => {
                let (v, sensitive) = self.eval(a)?.unmark();
                let out = match (op, v) {
                    (_, Value::Unknown) => Value::Unknown,
                    (UnOp::Neg, Value::Number(n)) => Value::Number(n.neg()),
                    (UnOp::Not, Value::Bool(b)) => Value::Bool(!b),
                    (op, other) => {
                        return Err(err(
                            "Invalid operand",
                            format!(
                                "The {} operator needs a {}, but got {}.",
                                if *op == UnOp::Neg { "-" } else { "!" },
                                if *op == UnOp::Neg { "number" } else { "bool" },
                                other.type_name()
                            ),
                            &a.span,
                        ))
                    }
                };
                Ok(out.mark_if(sensitive))
            }
            ExprKind::Binary(op, a, b) => {
                let (l, ls) = self.eval(a)?.unmark();
                let (r, rs) = self.eval(b)?.unmark();
                Ok(binary(*op, l, r, a, b)?.mark_if(ls || rs))
            }
            ExprKind::Tuple(items) => Ok(Value::List(
                items
                    .iter()
                    .map(|i| self.eval(i))
                    .collect::<Result<_, _>>()?,
            )),
            ExprKind::Object(items) => {
                let mut out = terrane_core::ObjectMap::new();
                let mut unknown_key = false;
                for (k, v) in items {
                    let key = self.eval(k)?;
                    let val = self.eval(v)?;
                    match key.peel() {
                        Value::String(s) => {
                            out.insert(s.clone(), val);
                        }
                        Value::Number(n) => {
                            out.insert(n.to_string(), val);
                        }
                        Value::Bool(b) => {
                            out.insert(b.to_string(), val);
                        }
                        Value::Unknown => unknown_key = true,
                        other => {
                            return Err(err(
                                "Invalid object key",
                                format!(
                                    "Object keys must be strings, but this one is {}.",
                                    other.type_name()
                                ),
                                &k.span,
                            ))
                        }
                    }
                }
                Ok(if unknown_key {
                    Value::Unknown
                } else {
                    Value::Map(out)
                })
            }
            ExprKind::For(f) => self.eval_for(f, e),
        }
    }

    fn lookup(&self, r: &Reference, span: &Span) -> Result<Cow<'_, Value>, Diagnostic> {
        if let Reference::Invalid(name) = r {
            return Err(err(
                "Invalid reference",
                format!("{name:?} alone is not a reference. References look like var.NAME, local.NAME, TYPE.NAME.ATTRIBUTE, data.TYPE.NAME.ATTRIBUTE, module.NAME.OUTPUT, count.index or each.key."),
                span,
            ));
        }
        self.scope.lookup(r, span)
    }

    fn eval_traversal(
        &mut self,
        root: &Expr,
        ops: &[TravOp],
        whole: &Expr,
    ) -> Result<Value, Diagnostic> {
        // Evaluate index expressions first so navigation can borrow the root value.
        let mut indexes = Vec::new();
        for op in ops {
            if let TravOp::Index(ix) = op {
                indexes.push(self.eval(ix)?);
            }
        }
        if let ExprKind::Var(name) = &root.kind {
            if let Some(v) = self.bound_value(name) {
                return navigate(v, ops, &indexes);
            }
            let (r, rest) = Reference::split(name, ops);
            let skipped = ops.len() - rest.len();
            let skipped_indexes = ops[..skipped]
                .iter()
                .filter(|o| matches!(o, TravOp::Index(_)))
                .count();
            let base = self.lookup(&r, &whole.span)?;
            return navigate(&base, rest, &indexes[skipped_indexes..]);
        }
        let v = self.eval(root)?;
        navigate(&v, ops, &indexes)
    }

    fn eval_template(
        &mut self,
        parts: &[TemplatePart],
        out: &mut String,
        marks: &mut Marks,
    ) -> Result<(), Diagnostic> {
        for p in parts {
            match p {
                TemplatePart::Literal(s) => out.push_str(s),
                TemplatePart::Interp(e) => {
                    let (v, sensitive) = self.eval(e)?.unmark();
                    marks.sensitive |= sensitive;
                    match v {
                        Value::String(s) => out.push_str(&s),
                        Value::Number(n) => out.push_str(&n.to_string()),
                        Value::Bool(b) => out.push_str(&b.to_string()),
                        Value::Unknown => marks.unknown = true,
                        Value::Null => {
                            return Err(err(
                                "Invalid template interpolation value",
                                "The expression result is null. Cannot include a null value in a string template; use coalesce() or a conditional to supply a fallback.".into(),
                                &e.span,
                            ))
                        }
                        other => {
                            return Err(err(
                                "Invalid template interpolation value",
                                format!("Cannot include a {} in a string template; only strings, numbers and bools can be interpolated. Use jsonencode() or join() to turn it into a string.", other.type_name()),
                                &e.span,
                            ))
                        }
                    }
                }
                TemplatePart::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    let (c, sensitive) = self.eval(cond)?.unmark();
                    marks.sensitive |= sensitive;
                    match c {
                        Value::Bool(true) => self.eval_template(then, out, marks)?,
                        Value::Bool(false) => self.eval_template(otherwise, out, marks)?,
                        Value::Unknown => marks.unknown = true,
                        other => {
                            return Err(err(
                                "Invalid condition result",
                                format!(
                                    "The %{{if}} condition must be a bool, but it is {}.",
                                    other.type_name()
                                ),
                                &cond.span,
                            ))
                        }
                    }
                }
                TemplatePart::For {
                    key_var,
                    value_var,
                    collection,
                    body,
                } => {
                    let (c, sensitive) = self.eval(collection)?.unmark();
                    marks.sensitive |= sensitive;
                    let entries = match iterate(c, &collection.span)? {
                        Some(e) => e,
                        None => {
                            marks.unknown = true;
                            continue;
                        }
                    };
                    for (k, v) in entries {
                        let n = self.bound.len();
                        if let Some(kv) = key_var {
                            self.bound.push((kv.clone(), k));
                        }
                        self.bound.push((value_var.clone(), v));
                        let res = self.eval_template(body, out, marks);
                        self.bound.truncate(n);
                        res?;
                    }
                }
            }
        }
        Ok(())
    }

    fn eval_for(&mut self, f: &ForExpr, whole: &Expr) -> Result<Value, Diagnostic> {
        let (coll, sensitive) = self.eval(&f.collection)?.unmark();
        let Some(entries) = iterate(coll, &f.collection.span)? else {
            return Ok(Value::Unknown.mark_if(sensitive));
        };
        let mut list = Vec::new();
        let mut map = terrane_core::ObjectMap::new();
        let mut unknown = false;
        for (k, v) in entries {
            let n = self.bound.len();
            if let Some(kv) = &f.key_var {
                self.bound.push((kv.clone(), k));
            }
            self.bound.push((f.value_var.clone(), v));
            let res = (|| -> Result<(), Diagnostic> {
                if let Some(c) = &f.cond {
                    match self.eval(c)?.peel() {
                        Value::Bool(true) => {}
                        Value::Bool(false) => return Ok(()),
                        Value::Unknown => {
                            unknown = true;
                            return Ok(());
                        }
                        other => {
                            return Err(err(
                                "Invalid for condition",
                                format!(
                                    "The if clause must produce a bool, but produced {}.",
                                    other.type_name()
                                ),
                                &c.span,
                            ))
                        }
                    }
                }
                let value = self.eval(&f.value_expr)?;
                match &f.key_expr {
                    None => list.push(value),
                    Some(ke) => {
                        let key = self.eval(ke)?;
                        let key = match key.peel() {
                            Value::String(s) => s.clone(),
                            Value::Number(n) => n.to_string(),
                            Value::Bool(b) => b.to_string(),
                            Value::Unknown => {
                                unknown = true;
                                return Ok(());
                            }
                            other => {
                                return Err(err(
                                    "Invalid object key",
                                    format!(
                                        "A for expression key must be a string, but is {}.",
                                        other.type_name()
                                    ),
                                    &ke.span,
                                ))
                            }
                        };
                        if f.grouping {
                            // Grouping entries are created as lists just here.
                            if let Value::List(items) =
                                map.entry(key).or_insert_with(|| Value::List(Vec::new()))
                            {
                                items.push(value);
                            }
                        } else {
                            match map.entry(key) {
                                terrane_core::map::Entry::Occupied(o) => {
                                    return Err(err(
                                        "Duplicate object key",
                                        format!("Two elements produce the key {:?}. If duplicates are expected, add an ellipsis (...) after the value expression to group them into lists.", o.key()),
                                        &whole.span,
                                    ));
                                }
                                terrane_core::map::Entry::Vacant(v) => {
                                    v.insert(value);
                                }
                            }
                        }
                    }
                }
                Ok(())
            })();
            self.bound.truncate(n);
            res?;
        }
        let out = if unknown {
            Value::Unknown
        } else if f.key_expr.is_some() {
            Value::Map(map)
        } else {
            Value::List(list)
        };
        Ok(out.mark_if(sensitive))
    }

    fn eval_call(
        &mut self,
        name: &str,
        args: &[Expr],
        expand_final: bool,
        whole: &Expr,
    ) -> Result<Value, Diagnostic> {
        match name {
            "try" => {
                let mut last = None;
                for a in args {
                    match self.eval(a) {
                        Ok(v) => return Ok(v),
                        Err(d) => last = Some(d),
                    }
                }
                return Err(last.unwrap_or_else(|| {
                    err(
                        "Invalid function call",
                        "try() needs at least one argument.".into(),
                        &whole.span,
                    )
                }));
            }
            "can" => {
                let [a] = args else {
                    return Err(err(
                        "Invalid function call",
                        "can() takes exactly one argument.".into(),
                        &whole.span,
                    ));
                };
                return Ok(match self.eval(a) {
                    Ok(v) if !v.is_wholly_known() => Value::Unknown,
                    Ok(_) => Value::Bool(true),
                    Err(_) => Value::Bool(false),
                });
            }
            _ => {}
        }
        let mut values = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let v = self.eval(a)?;
            if expand_final && i + 1 == args.len() {
                let (v, s) = v.unmark();
                match v {
                    Value::List(items) | Value::Set(items) => values.extend(items.into_iter().map(|x| x.mark_if(s))),
                    Value::Unknown => return Ok(Value::Unknown),
                    other => return Err(err("Invalid expanding argument", format!("The final argument is expanded with ..., so it must be a list, but it is {}.", other.type_name()), &a.span)),
                }
            } else {
                values.push(v);
            }
        }
        match name {
            "sensitive" => return one_arg(values, whole).map(Value::into_sensitive),
            "nonsensitive" => return one_arg(values, whole).map(|v| v.unmark().0),
            "timestamp" | "uuid" | "bcrypt" | "plantimestamp" => {
                return self.clock_or_random(name, values, whole)
            }
            "type" => {
                return one_arg(values, whole).map(|v| Value::String(v.type_name().to_string()))
            }
            _ => {}
        }
        let mut sensitive = false;
        let mut known = true;
        // A function that reads only its argument's shape (`length`, `keys`) has a
        // known result while the elements are not known yet, as in Terraform.
        let shape_only = funcs::reads_only_shape(name);
        let plain: Vec<Value> = values
            .into_iter()
            .map(|v| {
                known &= if shape_only {
                    !matches!(v.peel(), Value::Unknown)
                } else {
                    v.is_wholly_known()
                };
                let (p, s) = v.unmark();
                sensitive |= s;
                p
            })
            .collect();
        if let Some(rest) = name.strip_prefix("provider::") {
            let Some((provider, func)) = rest.split_once("::") else {
                return Err(err(
                    "Invalid function call",
                    format!("{name:?} is not a provider function: write provider::PROVIDER::FUNCTION(...)."),
                    &whole.span,
                ));
            };
            if !known {
                return Ok(Value::Unknown.mark_if(sensitive));
            }
            return self
                .scope
                .provider_function(provider, func, plain, &whole.span)
                .map(|v| v.mark_if(sensitive));
        }
        if name == "templatefile" || name == "templatestring" {
            if !known {
                return Ok(Value::Unknown.mark_if(sensitive));
            }
            return if name == "templatefile" {
                self.templatefile(plain, whole)
            } else {
                self.templatestring(args, plain, whole)
            }
            .map(|v| v.mark_if(sensitive));
        }
        if !funcs::exists(name) {
            return Err(err(
                "Call to unknown function",
                format!(
                    "There is no function named {name:?}.{} terrane supports Terraform's built-in functions listed in docs/language.md.",
                    suggest(name, funcs::names().map(str::to_string).collect::<Vec<_>>().iter())
                ),
                &whole.span,
            ));
        }
        if let Err((summary, msg)) = funcs::check_arity(name, plain.len()) {
            return Err(err(
                summary,
                format!("Call to function {name:?} failed: {msg}"),
                &whole.span,
            ));
        }
        if !known {
            return Ok(Value::Unknown.mark_if(sensitive));
        }
        let ctx = funcs::FuncContext {
            base_dir: self.scope.base_dir().to_path_buf(),
        };
        match funcs::call(name, plain, &ctx) {
            Ok(v) => Ok(v.mark_if(sensitive)),
            Err(msg) => Err(err(
                "Error in function call",
                // A message from a function about a sensitive argument must not echo it.
                if sensitive {
                    format!("Call to function {name:?} failed (details hidden because an argument is sensitive).")
                } else {
                    format!("Call to function {name:?} failed: {msg}")
                },
                &whole.span,
            )),
        }
    }

    /// The functions that read the clock or make random values. `plantimestamp()` is
    /// the time this process first asked for it (one plan, one time); the others are
    /// known only when applying.
    fn clock_or_random(
        &mut self,
        name: &str,
        values: Vec<Value>,
        whole: &Expr,
    ) -> Result<Value, Diagnostic> {
        let arity = |lo: usize, hi: usize| {
            (values.len() < lo || values.len() > hi).then(|| {
                let (summary, msg) = funcs::check_arity(name, values.len()).err().unwrap_or((
                    "Invalid function call",
                    format!("{name}() takes {lo} to {hi} arguments"),
                ));
                err(
                    summary,
                    format!("Call to function {name:?} failed: {msg}"),
                    &whole.span,
                )
            })
        };
        if let Some(e) = arity(
            usize::from(name == "bcrypt"),
            if name == "bcrypt" { 2 } else { 0 },
        ) {
            return Err(e);
        }
        if name == "plantimestamp" {
            return Ok(Value::String(funcs::plan_timestamp()));
        }
        if !self.scope.applying() {
            return Ok(Value::Unknown);
        }
        match name {
            "timestamp" => Ok(Value::String(funcs::now_rfc3339())),
            "uuid" => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
            _ => {
                let sensitive = values.iter().any(Value::contains_sensitive);
                let plain: Vec<Value> = values.into_iter().map(|v| v.unmark().0).collect();
                funcs::bcrypt(&plain)
                    .map(|v| v.mark_if(sensitive))
                    .map_err(|m| {
                        err(
                            "Invalid function argument",
                            format!("Call to function \"bcrypt\" failed: {m}"),
                            &whole.span,
                        )
                    })
            }
        }
    }

    /// `templatestring(ref, vars)`: renders a string held in a variable, local or
    /// attribute as a template. Like Terraform, the first argument must be a reference,
    /// not a literal (a literal would be a template already).
    fn templatestring(
        &mut self,
        args: &[Expr],
        values: Vec<Value>,
        whole: &Expr,
    ) -> Result<Value, Diagnostic> {
        if let Some(first) = args.first() {
            if !matches!(first.kind, ExprKind::Traversal(..) | ExprKind::Var(_)) {
                return Err(err(
                    "Invalid function argument",
                    "Call to function \"templatestring\" failed: the template must be given as a reference to a string (a variable, local value or attribute), not as a literal: write the template directly instead.".into(),
                    &first.span,
                ));
            }
        }
        let (text, vars) = match values.as_slice() {
            [Value::String(t), Value::Map(v)] => (t.clone(), v.clone()),
            _ => {
                return Err(err(
                    "Invalid function call",
                    "templatestring() takes a string and an object of variables.".into(),
                    &whole.span,
                ))
            }
        };
        self.render_template(&text, "templatestring()", vars, whole)
    }

    fn templatefile(&mut self, args: Vec<Value>, whole: &Expr) -> Result<Value, Diagnostic> {
        let (path, vars) = match args.as_slice() {
            [Value::String(p), Value::Map(v)] => (p.clone(), v.clone()),
            _ => {
                return Err(err(
                    "Invalid function call",
                    "templatefile() takes a path and an object of variables.".into(),
                    &whole.span,
                ))
            }
        };
        let full = self.scope.base_dir().join(&path);
        let text = std::fs::read_to_string(&full).map_err(|e| {
            err(
                "Error in function call",
                format!("templatefile() cannot read {}: {e}.", full.display()),
                &whole.span,
            )
        })?;
        self.render_template(&text, &path, vars, whole)
    }

    /// Evaluates template text with only `vars` in scope; `path` names it in errors.
    fn render_template(
        &mut self,
        text: &str,
        path: &str,
        vars: terrane_core::ObjectMap,
        whole: &Expr,
    ) -> Result<Value, Diagnostic> {
        let tpl = hcl_edit::parser::parse_template(text).map_err(|e| {
            err(
                "Invalid template file",
                format!(
                    "{} line {}, column {}: {}",
                    path,
                    e.location().line(),
                    e.location().column(),
                    e.message()
                ),
                &whole.span,
            )
        })?;
        let cv = Converter {
            file: Arc::from(path),
            base: 0,
            renamed_keys: Default::default(),
            source: Arc::from(text),
        };
        let parts = cv.template(&tpl, crate::ast::TemplateKind::Bare);
        let scope = TemplateScope {
            base_dir: self.scope.base_dir(),
        };
        let mut inner = Evaluator {
            scope: &scope,
            bound: vars.into_iter().collect(),
        };
        let mut out = String::new();
        let mut marks = Marks::default();
        inner
            .eval_template(&parts, &mut out, &mut marks)
            .map_err(|d| {
                err(
                    "Error in template file",
                    format!("In {path}: {}: {}", d.summary, d.detail),
                    &whole.span,
                )
            })?;
        Ok(marks.finish(Value::String(out)))
    }
}

struct TemplateScope<'a> {
    base_dir: &'a Path,
}

impl Scope for TemplateScope<'_> {
    fn lookup(&self, r: &Reference, span: &Span) -> Result<Cow<'_, Value>, Diagnostic> {
        Err(err(
            "Invalid reference in template",
            format!("A template file can only use the variables passed to templatefile(); {r:?} is not one of them."),
            span,
        ))
    }

    fn base_dir(&self) -> &Path {
        self.base_dir
    }
}

#[derive(Default)]
struct Marks {
    unknown: bool,
    sensitive: bool,
}

impl Marks {
    fn finish(&self, v: Value) -> Value {
        let v = if self.unknown { Value::Unknown } else { v };
        v.mark_if(self.sensitive)
    }
}

fn one_arg(values: Vec<Value>, whole: &Expr) -> Result<Value, Diagnostic> {
    let mut it = values.into_iter();
    match (it.next(), it.next()) {
        (Some(v), None) => Ok(v),
        _ => Err(err(
            "Invalid function call",
            "This function takes exactly one argument.".into(),
            &whole.span,
        )),
    }
}

/// Key/value pairs of a collection for `for` expressions; `None` when unknown.
fn iterate(coll: Value, span: &Span) -> Result<Option<Vec<(Value, Value)>>, Diagnostic> {
    Ok(Some(match coll {
        Value::List(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (Value::from(i), v))
            .collect(),
        Value::Set(items) => items.into_iter().map(|v| (v.clone(), v)).collect(),
        Value::Map(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
        Value::Unknown => return Ok(None),
        other => {
            return Err(err(
                "Iteration over non-iterable value",
                format!(
                    "A for expression needs a list, set, tuple, map or object, but got {}.",
                    other.type_name()
                ),
                span,
            ))
        }
    }))
}

fn navigate(base: &Value, ops: &[TravOp], indexes: &[Value]) -> Result<Value, Diagnostic> {
    let mut cur = base;
    let mut sensitive = false;
    let mut ix = 0;
    for (i, op) in ops.iter().enumerate() {
        while let Value::Sensitive(inner) = cur {
            sensitive = true;
            cur = inner;
        }
        if matches!(cur, Value::Unknown) {
            return Ok(Value::Unknown.mark_if(sensitive));
        }
        match op {
            TravOp::Attr(name, span) => match cur {
                Value::Map(m) => match m.get(name) {
                    Some(v) => cur = v,
                    None => {
                        return Err(err(
                            "Unsupported attribute",
                            format!("This object does not have an attribute named {name:?}.{}", suggest(name, m.keys())),
                            span,
                        ))
                    }
                },
                Value::Null => {
                    return Err(err("Attempt to get attribute from null value", format!("This value is null, so it does not have an attribute named {name:?}."), span))
                }
                Value::List(_) | Value::Set(_) => {
                    return Err(err(
                        "Unsupported attribute",
                        format!("This value is a list, which has no attribute {name:?}. Select one element with an index such as [0], or all of them with a splat such as [*].{name}."),
                        span,
                    ))
                }
                other => return Err(err("Unsupported attribute", format!("Cannot get attribute {name:?} of a {}.", other.type_name()), span)),
            },
            TravOp::Index(ixe) => {
                let (key, ks) = indexes[ix].unmark();
                ix += 1;
                sensitive |= ks;
                match (cur, key) {
                    (_, Value::Unknown) => return Ok(Value::Unknown.mark_if(sensitive)),
                    (Value::List(items), Value::Number(n)) => {
                        match n.as_usize().and_then(|i| items.get(i)) {
                            Some(v) => cur = v,
                            None => {
                                return Err(err(
                                    "Invalid index",
                                    format!("The index {n} is out of range: the collection has {} element(s).", items.len()),
                                    &ixe.span,
                                ))
                            }
                        }
                    }
                    (Value::List(items), Value::String(s)) if s.parse::<usize>().is_ok() => {
                        let n: usize = s.parse().unwrap_or(usize::MAX);
                        match items.get(n) {
                            Some(v) => cur = v,
                            None => return Err(err("Invalid index", format!("The index {n} is out of range: the collection has {} element(s).", items.len()), &ixe.span)),
                        }
                    }
                    (Value::Map(m), key) => {
                        let k = match &key {
                            Value::String(s) => s.clone(),
                            Value::Number(n) => n.to_string(),
                            other => return Err(err("Invalid index", format!("A map key must be a string, not {}.", other.type_name()), &ixe.span)),
                        };
                        match m.get(&k) {
                            Some(v) => cur = v,
                            None => {
                                return Err(err(
                                    "Invalid index",
                                    format!("The given key {k:?} does not identify an element in this collection.{}", suggest(&k, m.keys())),
                                    &ixe.span,
                                ))
                            }
                        }
                    }
                    (Value::Set(_), _) => {
                        return Err(err("Invalid index", "Elements of a set have no index. Convert it with tolist() first, or iterate with for.".into(), &ixe.span))
                    }
                    (Value::Null, _) => return Err(err("Attempt to index null value", "This value is null, so it cannot be indexed.".into(), &ixe.span)),
                    (other, _) => return Err(err("Invalid index", format!("A {} cannot be indexed.", other.type_name()), &ixe.span)),
                }
            }
            TravOp::AttrSplat => {
                let rest = &ops[i + 1..];
                let items = splat_elements(cur);
                let each = rest
                    .iter()
                    .position(|o| !matches!(o, TravOp::Attr(..)))
                    .unwrap_or(rest.len());
                let out = items
                    .into_iter()
                    .map(|v| navigate(v, &rest[..each], &[]))
                    .collect::<Result<Vec<_>, _>>()?;
                let list = Value::List(out);
                return navigate(&list, &rest[each..], &indexes[ix..])
                    .map(|v| v.mark_if(sensitive));
            }
            TravOp::Splat => {
                let rest = &ops[i + 1..];
                let rest_ix = &indexes[ix..];
                let items = splat_elements(cur);
                let out = items
                    .into_iter()
                    .map(|v| navigate(v, rest, rest_ix))
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(Value::List(out).mark_if(sensitive));
            }
        }
    }
    Ok(cur.clone().mark_if(sensitive))
}

/// What a splat applies to: a list's or set's elements, nothing for null, else the
/// value itself as a one-element list (as Terraform treats a single object).
fn splat_elements(cur: &Value) -> Vec<&Value> {
    match cur {
        Value::List(items) | Value::Set(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        single => vec![single],
    }
}

/// A "Did you mean" hint for a misspelled name.
pub fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a String>) -> String {
    let best = candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, c)) => format!(" Did you mean {c:?}?"),
        None => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn to_number(v: &Value) -> Option<Number> {
    match v {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => Number::parse(s),
        _ => None,
    }
}

/// Equality as cty decides it when parts are unknown: `None` (unknown) only when the
/// known parts cannot settle it. A value of known shape is not null even if its
/// elements are unknown (`[x, unknown] != null` is true), collections of different
/// lengths or keys differ, and a known difference wins over an unknown part.
fn equals(l: &Value, r: &Value) -> Option<bool> {
    match (l, r) {
        (Value::Sensitive(a), b) | (b, Value::Sensitive(a)) => equals(a, b),
        (Value::Unknown, _) | (_, Value::Unknown) => None,
        _ if l.is_wholly_known() && r.is_wholly_known() => Some(l.same_as(r)),
        (Value::Null, _) | (_, Value::Null) => Some(false),
        (Value::List(a), Value::List(b)) => all_equal(a.len() == b.len(), a.iter().zip(b)),
        (Value::Map(a), Value::Map(b)) => all_equal(
            a.len() == b.len() && a.keys().all(|k| b.contains_key(k)),
            a.iter().filter_map(|(k, x)| Some((x, b.get(k)?))),
        ),
        _ => None,
    }
}

fn all_equal<'a>(
    same_shape: bool,
    pairs: impl Iterator<Item = (&'a Value, &'a Value)>,
) -> Option<bool> {
    if !same_shape {
        return Some(false);
    }
    let mut known = true;
    for (x, y) in pairs {
        match equals(x, y) {
            Some(false) => return Some(false),
            Some(true) => {}
            None => known = false,
        }
    }
    known.then_some(true)
}

fn binary(op: BinOp, l: Value, r: Value, le: &Expr, re: &Expr) -> Result<Value, Diagnostic> {
    if matches!(l, Value::Unknown) || matches!(r, Value::Unknown) {
        return Ok(Value::Unknown);
    }
    let num = |v: &Value, e: &Expr| {
        to_number(v).ok_or_else(|| {
            err(
                "Invalid operand",
                format!("A number is required here, but got {}.", v.type_name()),
                &e.span,
            )
        })
    };
    let boolean = |v: &Value, e: &Expr| match v {
        Value::Bool(b) => Ok(*b),
        other => Err(err(
            "Invalid operand",
            format!("A bool is required here, but got {}.", other.type_name()),
            &e.span,
        )),
    };
    Ok(match op {
        BinOp::Eq => equals(&l, &r).map_or(Value::Unknown, Value::Bool),
        BinOp::NotEq => equals(&l, &r).map_or(Value::Unknown, |b| Value::Bool(!b)),
        BinOp::And => Value::Bool(boolean(&l, le)? && boolean(&r, re)?),
        BinOp::Or => Value::Bool(boolean(&l, le)? || boolean(&r, re)?),
        BinOp::Less => Value::Bool(num(&l, le)? < num(&r, re)?),
        BinOp::LessEq => Value::Bool(num(&l, le)? <= num(&r, re)?),
        BinOp::Greater => Value::Bool(num(&l, le)? > num(&r, re)?),
        BinOp::GreaterEq => Value::Bool(num(&l, le)? >= num(&r, re)?),
        BinOp::Add => Value::Number(num(&l, le)?.add(&num(&r, re)?)),
        BinOp::Sub => Value::Number(num(&l, le)?.sub(&num(&r, re)?)),
        BinOp::Mul => Value::Number(num(&l, le)?.mul(&num(&r, re)?)),
        BinOp::Div => match num(&l, le)?.div(&num(&r, re)?) {
            Some(q) => Value::Number(q),
            None => {
                return Err(err(
                    "Division by zero",
                    "The divisor is zero.".into(),
                    &re.span,
                ))
            }
        },
        BinOp::Mod => match num(&l, le)?.rem(&num(&r, re)?) {
            Some(q) => Value::Number(q),
            None => {
                return Err(err(
                    "Division by zero",
                    "The divisor of % is zero.".into(),
                    &re.span,
                ))
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Converter;

    /// A scope with `var.*` values only.
    struct Vars(Value);

    impl Scope for Vars {
        fn lookup(&self, r: &Reference, span: &Span) -> Result<Cow<'_, Value>, Diagnostic> {
            match r {
                Reference::Var(n) => self
                    .0
                    .get(n)
                    .map(Cow::Borrowed)
                    .ok_or_else(|| err("Undeclared", n.clone(), span)),
                _ => Err(err("Unsupported", format!("{r:?}"), span)),
            }
        }

        fn base_dir(&self) -> &Path {
            Path::new(".")
        }
    }

    fn eval_str(src: &str, vars: Value) -> Result<Value, Diagnostic> {
        let e = hcl_edit::parser::parse_expr(src).expect("test expression parses");
        let cv = Converter {
            file: Arc::from("test.tf"),
            base: 0,
            renamed_keys: Default::default(),
            source: Arc::from(src),
        };
        eval(&cv.expr(&e), &Vars(vars))
    }

    fn vars() -> Value {
        Value::map([
            ("name", Value::from("web")),
            ("secret", Value::from("hunter2").into_sensitive()),
            ("later", Value::Unknown),
            (
                "ports",
                Value::List(vec![Value::from(80.0), Value::from(443.0)]),
            ),
            (
                "tags",
                Value::map([("env", Value::from("dev")), ("team", Value::from("core"))]),
            ),
        ])
    }

    #[test]
    fn templates_conditionals_and_for_expressions() {
        assert_eq!(
            eval_str(r#""${var.name}-${length(var.ports)}""#, vars()).unwrap(),
            Value::from("web-2")
        );
        assert_eq!(
            eval_str(r#"var.name == "web" ? 1 : 2"#, vars()).unwrap(),
            Value::from(1)
        );
        assert_eq!(
            eval_str(r#"[for p in var.ports : p + 1 if p > 100]"#, vars()).unwrap(),
            Value::List(vec![Value::from(444)])
        );
        assert_eq!(
            eval_str(r#"{for k, v in var.tags : upper(k) => v}"#, vars()).unwrap(),
            Value::map([("ENV", Value::from("dev")), ("TEAM", Value::from("core"))])
        );
        assert_eq!(
            eval_str(r#"[{a = 1}, {a = 2}][*].a"#, vars()).unwrap(),
            Value::List(vec![Value::from(1), Value::from(2)])
        );
    }

    /// Expected values are Terraform 1.15's (the differential case
    /// `template_strip_lines` checks more against Terraform itself).
    #[test]
    fn strip_markers_trim_one_token() {
        let cases = [
            // A quoted string's text is one token, escapes read inside directives too.
            (r#""a\nb%{ if true ~}\n\n  x%{ endif }""#, "a\nbx"),
            // In a heredoc each line is a token: `~}` eats the rest of its line only.
            ("<<EOT\nx\n  %{~ if true ~}\n\n  y%{ endif }\nEOT", "x\n\n  y\n"),
            // `<<-` removes indentation after stripping: a stripped line counts as none.
            (
                "<<-EOT\n    a\n    %{~ for i in [1, 2] ~}\n    i${i}\n    %{~ endfor ~}\n    b\n  EOT",
                "    a\n    i1\n    i2\n    b\n",
            ),
            // Blank lines do not count and keep their spaces.
            ("<<-EOT\n    a\n      \n      b\n  EOT", "a\n      \n  b\n"),
        ];
        for (src, want) in cases {
            assert_eq!(eval_str(src, vars()).unwrap(), Value::from(want), "{src}");
        }
    }

    #[test]
    fn unknown_values_propagate() {
        assert_eq!(
            eval_str(r#""x-${var.later}""#, vars()).unwrap(),
            Value::Unknown
        );
        assert_eq!(
            eval_str("upper(var.later)", vars()).unwrap(),
            Value::Unknown
        );
        assert_eq!(
            eval_str("var.later ? 1 : 2", vars()).unwrap(),
            Value::Unknown
        );
        assert_eq!(
            eval_str("[var.later, 1]", vars()).unwrap(),
            Value::List(vec![Value::Unknown, Value::from(1)])
        );
    }

    #[test]
    fn sensitive_values_propagate_and_never_reach_messages() {
        let v = eval_str(r#""pw=${upper(var.secret)}""#, vars()).unwrap();
        assert!(matches!(v, Value::Sensitive(_)));
        assert_eq!(v.to_display(), "(sensitive value)");
        assert_eq!(
            eval_str("nonsensitive(var.secret)", vars()).unwrap(),
            Value::from("hunter2")
        );
        let e = eval_str("element(var.secret, 0)", vars()).unwrap_err();
        assert!(!e.detail.contains("hunter2"), "{}", e.detail);
    }

    #[test]
    fn errors_point_at_the_offending_expression() {
        let e = eval_str("var.tags.nope", vars()).unwrap_err();
        assert_eq!(e.summary, "Unsupported attribute");
        assert!(e.detail.contains("\"nope\""));
        let e = eval_str("var.ports[5]", vars()).unwrap_err();
        assert_eq!(e.summary, "Invalid index");
        let e = eval_str("nosuchfn(1)", vars()).unwrap_err();
        assert_eq!(e.summary, "Call to unknown function");
        assert_eq!(e.span.map(|s| (s.start, s.end)), Some((0, 11)));
        let e = eval_str(r#"var.tags.tem"#, vars()).unwrap_err();
        assert!(e.detail.contains("Did you mean \"team\""), "{}", e.detail);
    }

    /// The size of a collection and a map's keys are known while its elements are not.
    #[test]
    fn length_and_keys_of_partly_unknown_collections_are_known() {
        let v = Value::map([
            ("items", Value::List(vec![Value::Unknown, Value::Unknown])),
            (
                "objs",
                Value::map([("b", Value::Unknown), ("a", Value::Unknown)]),
            ),
        ]);
        assert_eq!(
            eval_str("length(var.items)", v.clone()).unwrap(),
            Value::from(2)
        );
        assert_eq!(
            eval_str("length(var.objs)", v.clone()).unwrap(),
            Value::from(2)
        );
        assert_eq!(
            eval_str("keys(var.objs)", v.clone()).unwrap(),
            Value::List(vec![Value::from("a"), Value::from("b")])
        );
        assert_eq!(eval_str("values(var.objs)", v).unwrap(), Value::Unknown);
    }
}
