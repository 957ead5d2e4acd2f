//! `moved` blocks: objects in the prior state are renamed before planning, so a
//! renamed resource, resource instance or module call keeps its objects instead of
//! being destroyed and created again. The plan lists the moves; the apply writes them
//! to state first, in the same serial as the plan's other changes.

use terrane_core::{
    Diagnostic, Diagnostics, InstanceAddr, InstanceKey, ModulePath, ResourceAddr, ResourceMode,
};
use terrane_state::Snapshot;

use crate::model::Model;

/// One object moved from one address to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub from: InstanceAddr,
    pub to: InstanceAddr,
}

/// One side of a `moved` block (or a `removed` block's `from`), made absolute.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Endpoint {
    Module(ModulePath),
    /// A resource; with a key, one instance of it (`None` key: the unrepeated one).
    Resource(ResourceAddr, Option<InstanceKey>),
}

impl Endpoint {
    /// Whether `addr` is (in) what this endpoint names.
    pub(crate) fn covers(&self, addr: &InstanceAddr) -> bool {
        match self {
            Endpoint::Module(m) => addr.resource.module.0.starts_with(&m.0),
            Endpoint::Resource(r, key) => {
                addr.resource == *r && key.as_ref().is_none_or(|k| *k == addr.key)
            }
        }
    }

    pub(crate) fn parse(module: &ModulePath, text: &str) -> Result<Endpoint, String> {
        let parts: Vec<&str> = text.split('.').collect();
        if !text.contains('[')
            && parts.len().is_multiple_of(2)
            && parts.chunks(2).all(|p| p[0] == "module")
        {
            let mut path = module.clone();
            for p in parts.chunks(2) {
                path = path.child(p[1]);
            }
            return Ok(Endpoint::Module(path));
        }
        // A module instance (`module.a[0]`, `module.b["x"].module.c`): read as the
        // module part of an address of a resource in it.
        if text.starts_with("module.") && InstanceAddr::parse(text).is_err() {
            if let Ok(a) = InstanceAddr::parse(&format!("{text}.terraform_data.endpoint")) {
                let mut full = module.0.clone();
                full.extend(a.resource.module.0.iter().cloned());
                return Ok(Endpoint::Module(ModulePath(full)));
            }
        }
        let addr = InstanceAddr::parse(text)
            .map_err(|e| format!("{text:?} is not an address: {}", e.reason))?;
        if addr.resource.mode == ResourceMode::Data {
            return Err(format!(
                "{text:?} is a data source; only managed resources and module calls can be moved."
            ));
        }
        let mut full = module.0.clone();
        full.extend(addr.resource.module.0.iter().cloned());
        let resource = ResourceAddr {
            module: ModulePath(full),
            ..addr.resource
        };
        Ok(Endpoint::Resource(
            resource,
            text.ends_with(']').then_some(addr.key),
        ))
    }
}

/// The new address of `addr` under a move from `from` to `to`, if the move applies.
fn moved_addr(addr: &InstanceAddr, from: &Endpoint, to: &Endpoint) -> Option<InstanceAddr> {
    match (from, to) {
        (Endpoint::Module(f), Endpoint::Module(t)) => {
            let rest = addr.resource.module.0.strip_prefix(f.0.as_slice())?;
            let mut module = t.0.clone();
            module.extend(rest.iter().cloned());
            Some(InstanceAddr {
                resource: ResourceAddr {
                    module: ModulePath(module),
                    ..addr.resource.clone()
                },
                key: addr.key.clone(),
            })
        }
        (Endpoint::Resource(fr, fk), Endpoint::Resource(tr, tk)) => {
            if addr.resource != *fr {
                return None;
            }
            let key = match (fk, tk) {
                (None, None) => addr.key.clone(),
                // `a` → `a[0]`: the unrepeated object becomes an instance, and back.
                (None, Some(k)) if addr.key == InstanceKey::None => k.clone(),
                (Some(k), to_key) if addr.key == *k => to_key.clone().unwrap_or(InstanceKey::None),
                _ => return None,
            };
            Some(InstanceAddr {
                resource: tr.clone(),
                key,
            })
        }
        _ => None,
    }
}

/// Renames the objects of `prior` as the configuration's `moved` blocks say, in the
/// order written (module by module), so chains (`a` → `b`, then `b` → `c`) resolve.
/// A move whose target already holds an object is skipped with a warning; a block
/// that makes no sense (a resource moved to a module call, to another resource type,
/// a data source) is an error.
pub fn apply_moves(model: &Model<'_>, prior: &mut Snapshot) -> (Vec<Move>, Diagnostics) {
    let mut moves: Vec<Move> = Vec::new();
    let mut diags = Diagnostics::new();
    let mut modules: Vec<_> = model.modules.iter().collect();
    modules.sort_by(|a, b| a.0.cmp(b.0));
    for (path, module) in modules {
        for m in &module.moved {
            let at = |d: Diagnostic| d.with_span(Some(m.span.clone()));
            let (from, to) = match (Endpoint::parse(path, &m.from), Endpoint::parse(path, &m.to)) {
                (Ok(f), Ok(t)) => (f, t),
                (Err(e), _) | (_, Err(e)) => {
                    diags.push(at(Diagnostic::error("Invalid moved block", e)));
                    continue;
                }
            };
            let problem = match (&from, &to) {
                (Endpoint::Module(_), Endpoint::Resource(..)) | (Endpoint::Resource(..), Endpoint::Module(_)) => {
                    Some("A moved block moves a resource to a resource, or a module call to a module call; from and to here are one of each.".to_string())
                }
                (Endpoint::Resource(f, _), Endpoint::Resource(t, _)) if f.type_name != t.type_name => Some(format!(
                    "Moving {} to another resource type ({}) is not supported yet; terrane moves objects between addresses of one type.",
                    f.type_name, t.type_name
                )),
                _ if from == to => Some("from and to are the same address.".to_string()),
                _ => None,
            };
            if let Some(p) = problem {
                diags.push(at(Diagnostic::error("Invalid moved block", p)));
                continue;
            }
            let matched: Vec<(InstanceAddr, InstanceAddr)> = prior
                .resources
                .keys()
                .filter_map(|a| moved_addr(a, &from, &to).map(|n| (a.clone(), n)))
                .collect();
            for (old, new) in matched {
                if prior.resources.contains_key(&new) {
                    diags.push(at(Diagnostic::warning(
                        "Moved object still exists",
                        format!("This moved block would move {old} to {new}, but an object is already recorded at {new}, so {old} stays where it is (and is planned as the configuration says). Remove one of them from state (terrane state rm) if that is not what you want."),
                    )));
                    continue;
                }
                let Some(mut inst) = prior.resources.remove(&old) else {
                    continue;
                };
                inst.addr = new.clone();
                prior.resources.insert(new.clone(), inst);
                // A chain moves one object twice: record where it started.
                match moves.iter_mut().find(|mv| mv.to == old) {
                    Some(mv) => mv.to = new,
                    None => moves.push(Move { from: old, to: new }),
                }
            }
        }
    }
    (moves, diags)
}

/// The `removed` blocks with `destroy = false`, made absolute: what they name is
/// forgotten instead of destroyed. A `removed` block whose `from` is still configured
/// is an error, as in Terraform.
pub(crate) fn forgotten(model: &Model<'_>) -> (Vec<Endpoint>, Diagnostics) {
    let (mut out, mut diags) = (Vec::new(), Diagnostics::new());
    for (path, module) in &model.modules {
        for r in &module.removed {
            let at = |d: Diagnostic| d.with_span(Some(r.span.clone()));
            match Endpoint::parse(path, &r.from) {
                Err(e) => diags.push(at(Diagnostic::error("Invalid removed block", e))),
                Ok(e) => {
                    let configured = match &e {
                        Endpoint::Module(m) => model.calls.contains_key(m),
                        Endpoint::Resource(ra, _) => model
                            .resource(&ra.module.config(), &ra.local_name())
                            .is_some(),
                    };
                    if configured {
                        diags.push(at(Diagnostic::error(
                            "Removed object still exists",
                            format!("This removed block says {} was removed, but it is still declared in the configuration. Remove its declaration, or this block.", r.from),
                        )));
                    } else if !r.destroy {
                        out.push(e);
                    }
                }
            }
        }
    }
    (out, diags)
}

/// The instance an `import` block's `to` names: a static address
/// (`module.net.aws_vpc.main`, `aws_instance.web["a"]`), or one whose final index is an
/// expression of `each` (`aws_instance.web[each.key]`), evaluated in `exp`.
pub(crate) fn import_address(
    run: &crate::run::Run<'_>,
    to: &terrane_lang::Expr,
    exp: Option<&crate::run::Expansion>,
) -> Result<InstanceAddr, Diagnostic> {
    use terrane_lang::ast::TravOp;
    let bad = |why: &str| {
        Diagnostic::error("Invalid import address", why.to_string())
            .with_span(Some(to.span.clone()))
    };
    if let Some(text) = to.address_text() {
        return InstanceAddr::parse(&text).map_err(|e| bad(&e.reason));
    }
    let terrane_lang::ExprKind::Traversal(root, ops) = &to.kind else {
        return Err(bad(
            "to must be a resource address, e.g. aws_instance.web or aws_instance.web[each.key]",
        ));
    };
    let (Some((TravOp::Index(index), names)), terrane_lang::ExprKind::Var(first)) =
        (ops.split_last(), &root.kind)
    else {
        return Err(bad("only the last index of to may be an expression"));
    };
    let mut text = first.clone();
    for op in names {
        match op {
            TravOp::Attr(a, _) => {
                text.push('.');
                text.push_str(a);
            }
            _ => return Err(bad("only the last index of to may be an expression")),
        }
    }
    let mut addr = InstanceAddr::parse(&text).map_err(|e| bad(&e.reason))?;
    let key = run.with_scope(&ModulePath::root(), exp, |s| {
        terrane_lang::eval::eval(index, s)
    })?;
    addr.key = match key.unmark().0 {
        terrane_core::Value::Number(n) if n.as_usize().is_some() => {
            InstanceKey::Int(n.as_i64().unwrap_or_default())
        }
        terrane_core::Value::String(s) => InstanceKey::Str(s),
        other => {
            return Err(bad(&format!(
                "the index of to must be a number or a string, not {}",
                other.type_name()
            )))
        }
    };
    Ok(addr)
}

/// `import` blocks whose `to` names a resource the configuration does not declare
/// (Terraform's "Configuration for import target does not exist").
pub(crate) fn check_import_targets(model: &Model<'_>) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let Some(root) = model.modules.get(&ModulePath::root()) else {
        return diags;
    };
    for b in &root.imports {
        let text = b.to.address_text().or_else(|| {
            // `type.name[each.key]`: the resource part is static.
            let terrane_lang::ExprKind::Traversal(r, ops) = &b.to.kind else {
                return None;
            };
            let terrane_lang::ExprKind::Var(first) = &r.kind else {
                return None;
            };
            let names: Vec<&str> = ops
                .iter()
                .map_while(|op| match op {
                    terrane_lang::ast::TravOp::Attr(a, _) => Some(a.as_str()),
                    _ => None,
                })
                .collect();
            Some(
                std::iter::once(first.as_str())
                    .chain(names)
                    .collect::<Vec<_>>()
                    .join("."),
            )
        });
        let declared = text
            .as_deref()
            .and_then(|t| InstanceAddr::parse(t).ok())
            .is_some_and(|a| {
                model
                    .resource(&a.resource.module.config(), &a.resource.local_name())
                    .is_some()
            });
        if !declared {
            diags.push(
                Diagnostic::error(
                    "Configuration for import target does not exist",
                    format!("The import block's to ({}) does not name a resource declared in the configuration. Add a resource block for it first.", text.unwrap_or_else(|| "?".into())),
                )
                .with_span(Some(b.to.span.clone())),
            );
        }
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> InstanceAddr {
        InstanceAddr::parse(s).unwrap()
    }

    fn mv(module: &ModulePath, from: &str, to: &str, a: &str) -> Option<String> {
        let (f, t) = (
            Endpoint::parse(module, from).unwrap(),
            Endpoint::parse(module, to).unwrap(),
        );
        moved_addr(&addr(a), &f, &t).map(|x| x.to_string())
    }

    #[test]
    fn endpoints_rename_what_they_name() {
        let root = ModulePath::root();
        assert_eq!(
            mv(
                &root,
                "terraform_data.a",
                "terraform_data.b",
                "terraform_data.a[\"k\"]"
            )
            .as_deref(),
            Some("terraform_data.b[\"k\"]")
        );
        assert_eq!(
            mv(
                &root,
                "terraform_data.a[0]",
                "terraform_data.a[\"x\"]",
                "terraform_data.a[0]"
            )
            .as_deref(),
            Some("terraform_data.a[\"x\"]")
        );
        assert_eq!(
            mv(
                &root,
                "terraform_data.a[0]",
                "terraform_data.a[\"x\"]",
                "terraform_data.a[1]"
            ),
            None
        );
        assert_eq!(
            mv(
                &root,
                "terraform_data.a",
                "terraform_data.a[0]",
                "terraform_data.a"
            )
            .as_deref(),
            Some("terraform_data.a[0]")
        );
        assert_eq!(
            mv(
                &root,
                "module.old",
                "module.new",
                "module.old.module.inner.terraform_data.x"
            )
            .as_deref(),
            Some("module.new.module.inner.terraform_data.x")
        );
        assert_eq!(
            mv(
                &root,
                "module.old",
                "module.new",
                "module.older.terraform_data.x"
            ),
            None
        );
        assert_eq!(
            mv(
                &root,
                "terraform_data.a",
                "module.m.terraform_data.a",
                "terraform_data.a"
            )
            .as_deref(),
            Some("module.m.terraform_data.a")
        );
        let child = ModulePath::root().child("m");
        assert_eq!(
            mv(
                &child,
                "terraform_data.a",
                "terraform_data.b",
                "module.m.terraform_data.a"
            )
            .as_deref(),
            Some("module.m.terraform_data.b")
        );
        assert!(Endpoint::parse(&root, "data.x.y").is_err());
    }
}
