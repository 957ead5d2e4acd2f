//! The expression checks of `terrane validate`: every expression of a module and its
//! children is evaluated with each reference unknown (`path.*` excepted, which is known
//! without state). Unknown values propagate, so what is left to fail is what would fail
//! whatever the inputs: unknown functions, wrong argument counts, type errors among
//! constants. The diagnostics are the evaluator's own, the same a plan gives.

use std::borrow::Cow;
use std::path::Path;

use terrane_core::{Diagnostic, Diagnostics, Span, Value};

use crate::ast::Reference;
use crate::config::Module;
use crate::eval::{eval, eval_body, Scope};
use crate::Expr;

/// References are unknown; `path.module`, `path.root` and `path.cwd` are known.
struct UnknownScope<'a> {
    dir: &'a Path,
    root: &'a Path,
}

impl Scope for UnknownScope<'_> {
    fn lookup(&self, reference: &Reference, _: &Span) -> Result<Cow<'_, Value>, Diagnostic> {
        let known = match reference {
            Reference::Path(p) if p == "module" => Some(self.dir),
            Reference::Path(p) if p == "root" || p == "cwd" => Some(self.root),
            _ => None,
        };
        Ok(Cow::Owned(match known {
            Some(p) => Value::String(p.display().to_string()),
            None => Value::Unknown,
        }))
    }

    fn base_dir(&self) -> &Path {
        self.dir
    }

    /// Provider functions are known once the provider runs: unknown here.
    fn provider_function(
        &self,
        _: &str,
        _: &str,
        _: Vec<Value>,
        _: &Span,
    ) -> Result<Value, Diagnostic> {
        Ok(Value::Unknown)
    }
}

/// Checks every expression of `root` and the modules it calls.
pub fn check_expressions(root: &Module) -> Diagnostics {
    let mut diags = Diagnostics::default();
    check_module(root, &root.dir, &mut diags);
    diags
}

fn check_module(m: &Module, root: &Path, diags: &mut Diagnostics) {
    let scope = UnknownScope { dir: &m.dir, root };
    let mut expr = |e: &Expr| {
        if let Err(d) = eval(e, &scope) {
            diags.push(d);
        }
    };
    for v in m.variables.values() {
        for val in &v.validations {
            expr(&val.condition);
            expr(&val.error_message);
        }
    }
    for l in m.locals.values() {
        expr(&l.expr);
    }
    for o in m.outputs.values() {
        expr(&o.expr);
    }
    for r in m.resources.values() {
        for e in r.count.iter().chain(&r.for_each) {
            expr(e);
        }
    }
    let mut body = |b: &crate::config::Body| {
        if let Err(d) = eval_body(b, &scope) {
            diags.extend(d);
        }
    };
    for r in m.resources.values() {
        body(&r.body);
    }
    for p in &m.providers {
        body(&p.body);
    }
    for call in m.module_calls.values() {
        body(&call.inputs);
    }
    for call in m.module_calls.values() {
        check_module(&call.module, root, diags);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.tf"), src).unwrap();
        let mut sources = terrane_core::SourceMap::default();
        let (m, d) = crate::load_root(dir.path(), &mut sources);
        assert!(!d.has_errors(), "{d:?}");
        check_expressions(&m)
            .iter()
            .map(|d| format!("{}: {}", d.summary, d.detail))
            .collect()
    }

    #[test]
    fn finds_what_fails_whatever_the_inputs() {
        let found = check(
            r#"
variable "n" { type = number }
locals {
  a = upperr("x")
  b = 1 + "two"
  c = upper("x", "y")
  d = upper(var.n, 2)
}
"#,
        );
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found[0].contains("Call to unknown function"), "{found:?}");
        assert!(found[1].contains("Invalid operand"), "{found:?}");
        assert!(found[2].contains("upper"), "{found:?}");
        assert!(found[3].contains("upper"), "{found:?}");
    }

    #[test]
    fn references_stay_unknown_and_pass() {
        let found = check(
            r#"
variable "n" { type = number }
resource "x_y" "z" {
  count = var.n
  name  = "${upper(var.n)}-${count.index}"
  dynamic "rule" {
    for_each = var.n > 1 ? ["a"] : []
    content {
      v = rule.value
    }
  }
}
output "o" { value = x_y.z[0].name }
"#,
        );
        assert!(found.is_empty(), "{found:#?}");
    }
}
