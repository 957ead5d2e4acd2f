//! `terrane console`: expressions evaluated against the configuration and the state,
//! as Terraform's console does. Variables come from their usual sources, locals and
//! outputs are computed, resources and data sources are what state records (one that
//! state lacks is known after apply). Nothing is refreshed, planned or written, and no
//! provider is configured.

use std::collections::BTreeMap;
use std::path::Path;

use terrane_core::{Diagnostic, Diagnostics, InstanceKey, ModulePath, ResourceAddr, Value};
use terrane_lang::eval::eval;
use terrane_provider::Registry;
use terrane_state::Snapshot;

use crate::model::{resource_addr, Model, NodeKind};
use crate::run::{RawVar, Run};
use crate::store::{Repetition, ResourceValues};

/// The root module's scope, filled from the configuration and the state.
pub struct Console<'c> {
    run: Run<'c>,
}

impl<'c> Console<'c> {
    pub fn new(
        model: &'c Model<'c>,
        registry: &'c Registry,
        root_dir: &'c Path,
        prior: &Snapshot,
        root_vars: &BTreeMap<String, RawVar>,
    ) -> Result<Console<'c>, Diagnostics> {
        let run = Run {
            tolerant: true,
            ..Run::new(model, registry, root_dir)
        };
        if !run.eval_root_vars(root_vars) {
            return Err(run.diags.take());
        }
        let mut recorded: BTreeMap<&ResourceAddr, BTreeMap<InstanceKey, Value>> = BTreeMap::new();
        for inst in prior.resources.values() {
            recorded
                .entry(&inst.addr.resource)
                .or_default()
                .insert(inst.addr.key.clone(), inst.value.clone());
        }
        for node in model.graph.topo_order() {
            match &model.nodes[node] {
                NodeKind::Resource(m, key) => {
                    let Some(r) = model.resource(m, key) else {
                        continue;
                    };
                    let repetition = if r.count.is_some() {
                        Repetition::Count
                    } else if r.for_each.is_some() {
                        Repetition::ForEach
                    } else {
                        Repetition::Single
                    };
                    for (mi, _) in run.instances(m) {
                        let mut values = recorded
                            .get(&resource_addr(&mi, r))
                            .cloned()
                            .unwrap_or_default();
                        if repetition == Repetition::Single && values.is_empty() {
                            values.insert(InstanceKey::None, Value::Unknown);
                        }
                        run.store
                            .borrow_mut()
                            .resources
                            .insert((mi, key.clone()), ResourceValues::new(repetition, values));
                    }
                }
                NodeKind::Provider(_) | NodeKind::Check(..) => {}
                _ => {
                    run.visit_value_node(node, root_vars);
                }
            }
        }
        // What could not be evaluated is unknown; the console reports it when asked.
        run.diags.take();
        Ok(Console { run })
    }

    /// Evaluates one expression in the root module.
    pub fn eval(&self, text: &str) -> Result<Value, Diagnostic> {
        let expr = terrane_lang::ast::parse_expression(text, "<console input>")?;
        let root = ModulePath::root();
        let model = self.run.model;
        for (r, _) in expr.references() {
            use terrane_lang::Reference as R;
            let (declared, what) = match &r {
                R::Var(n) => (
                    model
                        .node(&NodeKind::Var(root.clone(), n.clone()))
                        .is_some(),
                    format!("var.{n}"),
                ),
                R::Local(n) => (
                    model
                        .node(&NodeKind::Local(root.clone(), n.clone()))
                        .is_some(),
                    format!("local.{n}"),
                ),
                R::Resource { type_name, name } => (
                    model
                        .resource(&root, &format!("{type_name}.{name}"))
                        .is_some(),
                    format!("{type_name}.{name}"),
                ),
                R::Data { type_name, name } => (
                    model
                        .resource(&root, &format!("data.{type_name}.{name}"))
                        .is_some(),
                    format!("data.{type_name}.{name}"),
                ),
                R::ModuleOutput { module, .. } => (
                    model.calls.contains_key(&root.child(module)),
                    format!("module.{module}"),
                ),
                _ => (true, String::new()),
            };
            if !declared {
                return Err(Diagnostic::error(
                    "Reference to undeclared object",
                    format!("{what} is not declared in the root module of this configuration."),
                ));
            }
        }
        self.run
            .with_scope(&ModulePath::root(), None, |s| eval(&expr, s))
    }
}

/// A value as Terraform's console prints it: strings quoted (a multi-line one as a
/// heredoc), collections over several lines with two-space indents, sets as
/// `toset([...])`, sensitive values hidden, unknown ones "(known after apply)".
pub fn format(v: &Value) -> String {
    let mut out = String::new();
    write(v, 0, &mut out);
    out
}

fn write(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    let items = |items: &[Value], out: &mut String| {
        out.push_str("[\n");
        for it in items {
            out.push_str(&pad);
            out.push_str("  ");
            write(it, indent + 2, out);
            out.push_str(",\n");
        }
        out.push_str(&pad);
        out.push(']');
    };
    match v {
        Value::Unknown => out.push_str("(known after apply)"),
        Value::Sensitive(_) => out.push_str("(sensitive value)"),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) if s.contains('\n') && indent == 0 => {
            out.push_str("<<EOT\n");
            out.push_str(s);
            out.push_str("\nEOT");
        }
        // Inside a collection: an indented heredoc, every line at the value's indent.
        Value::String(s) if s.contains('\n') => {
            out.push_str("<<-EOT\n");
            for line in s.split('\n') {
                out.push_str(&format!("{pad}{line}\n"));
            }
            out.push_str(&pad);
            out.push_str("EOT");
        }
        Value::String(s) => out.push_str(&format!("{s:?}")),
        Value::List(x) if x.is_empty() => out.push_str("[]"),
        Value::List(x) => items(x, out),
        Value::Set(x) if x.is_empty() => out.push_str("toset([])"),
        Value::Set(x) => {
            out.push_str("toset(");
            items(x, out);
            out.push(')');
        }
        Value::Map(m) if m.is_empty() => out.push_str("{}"),
        Value::Map(m) => {
            out.push_str("{\n");
            for (k, v) in m {
                out.push_str(&format!("{pad}  {k:?} = "));
                write(v, indent + 2, out);
                out.push('\n');
            }
            out.push_str(&pad);
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format;
    use terrane_core::Value;

    #[test]
    fn values_print_as_in_terraform_console() {
        let v = Value::map([
            ("a", Value::from(1)),
            ("bbb", Value::List(vec![Value::from(1), Value::from("x")])),
            ("c", Value::map(Vec::<(&str, Value)>::new())),
        ]);
        assert_eq!(
            format(&v),
            "{\n  \"a\" = 1\n  \"bbb\" = [\n    1,\n    \"x\",\n  ]\n  \"c\" = {}\n}"
        );
        assert_eq!(
            format(&Value::from("multi\nline")),
            "<<EOT\nmulti\nline\nEOT"
        );
        assert_eq!(
            format(&Value::List(vec![Value::from("x\ny\n")])),
            "[\n  <<-EOT\n  x\n  y\n  \n  EOT,\n]"
        );
        assert_eq!(
            format(&Value::Set(vec![Value::from("a"), Value::from("b")])),
            "toset([\n  \"a\",\n  \"b\",\n])"
        );
        assert_eq!(format(&Value::Null), "null");
        assert_eq!(
            format(&Value::from("x").into_sensitive()),
            "(sensitive value)"
        );
    }
}
