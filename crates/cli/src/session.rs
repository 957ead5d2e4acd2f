//! What every command shares: loading the workspace (printing its diagnostics),
//! reporting why an operation did not happen, and the plans that commands other than
//! `plan` and `apply` make (offline, or quietly against the current state).

use std::path::Path;

use terrane_core::{Diagnostics, SourceMap};
use terrane_engine::model::Model;
use terrane_engine::render::Style;
use terrane_engine::Plan;
use terrane_workspace::ops::{self, OpError};
use terrane_workspace::Workspace;

use crate::args::{PlanArgs, VarArgs};
use crate::ui::{print_diags, Printer};

pub fn fail(msg: impl std::fmt::Display) -> u8 {
    eprintln!("Error: {msg}");
    1
}

/// Loads the workspace and starts its plugins, printing diagnostics; None on errors.
pub async fn load(dir: &Path, color: bool) -> Option<Workspace> {
    let (mut ws, diags) = Workspace::load(dir);
    print_diags(&diags, &ws.sources, color);
    if diags.has_errors() {
        return None;
    }
    let diags = ws.start_plugins().await;
    print_diags(&diags, &ws.sources, color);
    if diags.has_errors() {
        None
    } else {
        Some(ws)
    }
}

pub fn build_model<'c>(ws: &'c Workspace, color: bool) -> Option<Model<'c>> {
    ops::build_model(ws, &warner(color))
        .map_err(|e| report(e, &ws.sources, color))
        .ok()
}

/// Prints warnings as the workspace operations find them.
pub fn warner(color: bool) -> impl Fn(&Diagnostics, &SourceMap) {
    move |d: &Diagnostics, sources: &SourceMap| print_diags(d, sources, color)
}

/// Says why an operation did not happen; the exit code.
pub fn report(e: OpError, sources: &SourceMap, color: bool) -> u8 {
    match e {
        OpError::Diagnostics(d) => print_diags(&d, sources, color),
        OpError::Import(e) if matches!(*e, terrane_engine::ImportError::Config(_)) => {
            if let terrane_engine::ImportError::Config(d) = *e {
                print_diags(&d, sources, color);
            }
        }
        other => {
            eprintln!("Error: {other}");
        }
    }
    1
}

/// Plans the configuration without state, credentials or reads (for `terrane scan`):
/// every resource is a create, data sources and variables without a value are unknown.
pub async fn offline_plan(ws: &mut Workspace, vars: &VarArgs, color: bool) -> Option<Plan> {
    let printer = Printer::new(Style { color }, false, &ws.sources);
    match ops::offline_plan(ws, &vars.inputs(), &printer, &warner(color)).await {
        Ok(plan) => Some(plan),
        Err(e) => {
            report(e, &ws.sources, color);
            None
        }
    }
}

/// A plan of the configuration against the current state, printing nothing but errors
/// (see [`ops::assessment_plan`]).
pub async fn plan_quietly(ws: &mut Workspace, args: &PlanArgs, style: Style) -> Option<Plan> {
    let printer = Printer::new(style, false, &ws.sources);
    match ops::assessment_plan(ws, &args.request(), &printer, &warner(style.color)).await {
        Ok(plan) => Some(plan),
        Err(e) => {
            report(e, &ws.sources, style.color);
            None
        }
    }
}
