//! `terrane cost` (the breakdown of a plan), `terrane cost diff` (against a saved
//! breakdown), `terrane cost catalog`, and the cost line every plan ends with; the
//! pricing is `terrane_workspace::cost`.

use std::path::Path;

use terrane_cost::{report, CostDiff, PlanCost};
use terrane_engine::render::Style;
use terrane_engine::Plan;
use terrane_workspace::cost::{plan_cost, terraform_plan, terraform_plan_cost, PlanPrice, Sources};
use terrane_workspace::Workspace;

use crate::args::{CostFormat, PriceArgs};
use crate::session::fail;

/// The line `terrane plan` ends with: the monthly cost before and after.
pub fn print_plan_line(ws: &Workspace, plan: &Plan, price: &PlanPrice, style: Style) {
    match price.get(ws, plan) {
        Ok(cost) => outln!("\n{}", style.bold(&report::plan_line(cost))),
        Err(e) => outln!("\nNo cost estimate: {e}"),
    }
}

/// What `terrane cost` prices.
pub enum Source<'a> {
    /// A fresh plan of the workspace.
    Fresh(&'a crate::args::PlanArgs),
    /// A plan file: terrane's own (`terrane plan --out`), or a Terraform JSON plan
    /// (`terraform show -json`).
    File(&'a Path),
}

/// Prices a terrane plan, a Terraform JSON plan, or a fresh plan.
async fn price(
    dir: &Path,
    source: Source<'_>,
    args: &PriceArgs,
    style: Style,
) -> Result<PlanCost, u8> {
    let sources = Sources::load(dir, &args.files()).map_err(fail)?;
    for w in sources.unused_usage_keys() {
        eprintln!("Warning: {w}");
    }
    if let Source::File(p) = source {
        let path = dir.join(p);
        if let Some(tf) = terraform_plan(&path).map_err(fail)? {
            return Ok(terraform_plan_cost(&tf, &sources));
        }
    }
    let Some(mut ws) = crate::session::load(dir, style.color).await else {
        return Err(1);
    };
    let plan = match source {
        Source::File(p) => {
            terrane_workspace::ops::read_planfile(dir, Some(&ws), p).map_err(fail)?
        }
        Source::Fresh(plan_args) => crate::session::plan_quietly(&mut ws, plan_args, style)
            .await
            .ok_or(1u8)?,
    };
    Ok(plan_cost(&ws, &plan.prior, Some(&plan), &sources))
}

fn print_cost(cost: &PlanCost, format: CostFormat) {
    match format {
        CostFormat::Json => outln!("{}", serde_json::to_string_pretty(cost).unwrap_or_default()),
        CostFormat::Table => out!("{}", report::table(cost)),
    }
}

/// `terrane cost`.
pub async fn cost_cmd(
    dir: &Path,
    source: Source<'_>,
    args: &PriceArgs,
    format: CostFormat,
    style: Style,
) -> u8 {
    match price(dir, source, args, style).await {
        Ok(cost) => {
            print_cost(&cost, format);
            0
        }
        Err(code) => code,
    }
}

/// `terrane cost diff --compare-to BASELINE`.
pub async fn diff_cmd(
    dir: &Path,
    baseline: &Path,
    source: Source<'_>,
    args: &PriceArgs,
    format: CostFormat,
    style: Style,
) -> u8 {
    let shown = baseline.display().to_string();
    let base = or_fail!(PlanCost::read_baseline(&dir.join(baseline), &shown));
    let current = or_return!(price(dir, source, args, style).await);
    let d = CostDiff::between(&base, &current);
    match format {
        CostFormat::Json => outln!("{}", serde_json::to_string_pretty(&d).unwrap_or_default()),
        CostFormat::Table => out!("{}", report::diff(&d, &shown)),
    }
    0
}

/// `terrane cost catalog`: what the prices are and where they come from.
pub fn catalog_cmd(dir: &Path, args: &PriceArgs) -> u8 {
    let sources = or_fail!(Sources::load(dir, &args.files()));
    let c = sources.catalog();
    outln!("{}: {} prices", c.name, c.rows().len());
    outln!("\nPrices by service and kind:");
    for ((service, kind), (n, regions)) in &c.kinds() {
        let regions: Vec<_> = regions.iter().cloned().collect();
        outln!("  {service:<12} {kind:<38} {n:>5}  {}", regions.join(" "));
    }
    outln!("\nSources (each price carries its own):");
    for (source, n) in c.sources() {
        outln!("  {n:>5}  {source}");
    }
    0
}
