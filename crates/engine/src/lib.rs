//! The terrane engine: configuration → dependency graph → plan → apply.
//!
//! The engine performs no IO of its own. It reaches the world only through the
//! [`terrane_provider::Provider`] trait and the [`terrane_state::Backend`] trait, and
//! reports progress through an [`Observer`], so a whole plan/apply runs in unit tests
//! against the in-memory test provider.
//!
//! - [`model`] builds the graph of a configuration and checks it statically.
//! - [`plan`] refreshes prior state and decides every instance's action.
//! - [`apply`] performs a plan, writing each change to state as it completes.
//! - [`render`] and [`json`] present plans to humans and to tools; [`planfile`] saves them.

pub mod apply;
pub mod checks;
pub mod console;
pub mod generate;
pub mod graph;
pub mod import;
pub mod json;
pub mod model;
pub mod moves;
pub mod plan;
pub mod planfile;
mod provision;
pub mod relevant;
pub mod render;
pub mod run;
pub mod store;
pub mod writer;

use std::time::Duration;

use terrane_core::{Diagnostic, InstanceAddr};

pub use apply::{apply, ApplyOutcome};
pub use import::{import, ImportError};
pub use plan::{plan, Action, Plan, PlanOptions, ResourceChange};
pub use run::RawVar;

/// Progress of a plan or apply, for the CLI (and later the API server) to show.
#[derive(Clone, Debug)]
pub enum Event {
    Refreshing(InstanceAddr, Option<String>),
    Reading(InstanceAddr),
    Planned(InstanceAddr, Action),
    ApplyStarted(InstanceAddr, Action, Option<String>),
    ApplyDone(InstanceAddr, Action, Duration, Option<String>),
    ApplyFailed(InstanceAddr, String),
    Warning(Diagnostic),
    /// A line a provisioner printed (`local-exec`, `file`, `remote-exec`), sensitive
    /// values hidden.
    Provisioner(InstanceAddr, String, String),
}

pub trait Observer {
    fn event(&self, event: Event);

    /// A change the plan has settled on, as soon as it is settled (before the plan is
    /// complete, sorted, or cut down to `-target`s): for work that can start on each
    /// change while the rest is still being planned. The plan takes the change back
    /// when it is done (cloning it if a reference is still held then).
    fn planned_change(&self, _change: &std::sync::Arc<ResourceChange>) {}
}

/// Shows what a provider warned about in the calls it finished (see
/// [`terrane_provider::Provider::take_warnings`]); called after every provider call.
pub(crate) fn forward_warnings(provider: &dyn terrane_provider::Provider, observer: &dyn Observer) {
    for w in provider.take_warnings() {
        observer.event(Event::Warning(w));
    }
}

/// A failed read of a data source declared in a `check` block: its diagnostics as
/// warnings, as Terraform reports them (the check cannot be verified; nothing stops).
pub(crate) fn check_data_warnings(
    addr: &terrane_core::InstanceAddr,
    r: &terrane_lang::config::Resource,
    e: &terrane_provider::ProviderError,
    observer: &dyn Observer,
) {
    for mut d in provider_error("Error reading data source", addr, r, e) {
        d.severity = terrane_core::Severity::Warning;
        observer.event(Event::Warning(d));
    }
}

/// A provider's error as diagnostics: one per diagnostic the provider sent, each
/// shown at the attribute it names (or the resource block when the configuration
/// does not write that attribute), else one for the whole error at the block.
pub(crate) fn provider_error(
    summary: &str,
    addr: &terrane_core::InstanceAddr,
    r: &terrane_lang::config::Resource,
    e: &terrane_provider::ProviderError,
) -> Vec<Diagnostic> {
    if e.diagnostics.is_empty() {
        return vec![
            Diagnostic::error(summary, format!("{addr}: {e}")).with_span(Some(r.span.clone()))
        ];
    }
    e.diagnostics
        .iter()
        .map(|d| {
            let span = r.body.span_at(&d.path);
            let mut detail = format!("{addr}: ");
            if !d.path.is_empty() && span.is_none() {
                detail.push_str(&format!("{}: ", terrane_core::PathStep::display(&d.path)));
            }
            detail.push_str(if d.detail.is_empty() {
                &d.summary
            } else {
                &d.detail
            });
            Diagnostic::error(d.summary.clone(), detail)
                .with_span(Some(span.unwrap_or_else(|| r.span.clone())))
        })
        .collect()
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {
    fn event(&self, _event: Event) {}
}
