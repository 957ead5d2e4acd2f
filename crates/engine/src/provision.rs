//! Running a resource's provisioners during apply: creation-time ones after the
//! object is created (the instance is recorded tainted until they all succeed, so a
//! failure or a crash in between leaves it to be replaced), destroy-time ones before
//! it is destroyed (not for a tainted object, as in Terraform).
//!
//! Arguments are evaluated with `self` bound to the object; every line a provisioner
//! prints reaches the observer as [`Event::Provisioner`], sensitive values hidden.

use terrane_core::{Diagnostic, InstanceAddr, InstanceKey, ModulePath, Value};
use terrane_lang::config::{Body, Provisioner, Resource};
use terrane_lang::eval_body;
use terrane_provider::Schema;
use terrane_provision::{connection_schema, sensitive_strings, Kind, Output};

use crate::run::{Expansion, Run};
use crate::{Event, Observer};

/// Whether `r` has provisioners that run at this point (`destroy`: before a destroy;
/// otherwise after a create).
pub(crate) fn has_provisioners(r: &Resource, destroy: bool) -> bool {
    r.provisioners.iter().any(|p| p.when_destroy == destroy)
}

/// The repetition values a destroy-time provisioner sees for an instance key.
pub(crate) fn expansion_of(key: &InstanceKey) -> Expansion {
    Expansion {
        key: key.clone(),
        count_index: match key {
            InstanceKey::Int(i) => Some(*i),
            _ => None,
        },
        each: match key {
            InstanceKey::Str(k) => Some((Value::string(k.clone()), Value::Unknown)),
            _ => None,
        },
    }
}

/// Runs `r`'s provisioners for `when` in order. The first failure of one with
/// `on_failure = fail` stops and is returned; one with `continue` is a warning.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_provisioners(
    run: &Run<'_>,
    observer: &dyn Observer,
    module: &ModulePath,
    r: &Resource,
    exp: &Expansion,
    addr: &InstanceAddr,
    self_value: &Value,
    destroy: bool,
) -> Result<(), Diagnostic> {
    for p in r.provisioners.iter().filter(|p| p.when_destroy == destroy) {
        let Some(kind) = Kind::parse(&p.kind) else {
            continue;
        };
        let result = run_one(run, observer, module, r, p, kind, exp, addr, self_value).await;
        let Err(detail) = result else {
            continue;
        };
        if p.on_failure_continue {
            observer.event(Event::Warning(
                Diagnostic::warning(
                    format!("{} provisioner failed", kind.name()),
                    format!("{addr}: {detail} The apply goes on (on_failure = continue)."),
                )
                .with_span(Some(p.span.clone())),
            ));
            continue;
        }
        let after = if destroy {
            "The object was not destroyed; the next apply runs the destroy-time provisioners again."
        } else {
            "The object was created and is tainted: the next apply replaces it (terrane untaint keeps it instead)."
        };
        return Err(Diagnostic::error(
            format!("{} provisioner error", kind.name()),
            format!("{addr}: {detail} {after}"),
        )
        .with_span(Some(p.span.clone())));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn run_one(
    run: &Run<'_>,
    observer: &dyn Observer,
    module: &ModulePath,
    r: &Resource,
    p: &Provisioner,
    kind: Kind,
    exp: &Expansion,
    addr: &InstanceAddr,
    self_value: &Value,
) -> Result<(), String> {
    let evaluate = |body: &Body, schema: &Schema| -> Result<Value, String> {
        let v = run
            .with_self_scope(module, Some(exp), Some(self_value.clone()), |s| {
                eval_body(body, s)
            })
            .map_err(|d| {
                d.0.iter()
                    .map(|d| format!("{}: {}", d.summary, d.detail))
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
        let (v, problems) = schema.conform(v);
        if let Some(problem) = problems.into_iter().next() {
            let d = crate::run::problem_diag(problem, None, &format!("provisioner {:?}", p.kind));
            return Err(format!("{}: {}", d.summary, d.detail));
        }
        if !v.is_wholly_known() {
            return Err("an argument is not known even now, during apply.".into());
        }
        Ok(schema.mark_sensitive(v))
    };
    let config = evaluate(&p.body, &kind.schema())?;
    let connection = match (
        kind.remote(),
        p.connection.as_ref().or(r.connection.as_ref()),
    ) {
        (true, Some(c)) => Some(evaluate(c, &connection_schema())?),
        _ => None,
    };
    let mut secrets = sensitive_strings(&config);
    if let Some(c) = &connection {
        secrets.extend(sensitive_strings(c));
    }
    let name = kind.name().to_string();
    let sink = |line: &str| {
        observer.event(Event::Provisioner(
            addr.clone(),
            name.clone(),
            line.to_string(),
        ))
    };
    let out = Output::new(&sink, secrets);
    let plain_connection = connection.map(|c| c.unmark().0);
    terrane_provision::run(kind, &config.unmark().0, plain_connection.as_ref(), &out)
        .await
        .map_err(|e| e.0)
}
