//! Human-readable cost reports: the breakdown table, the line `terrane plan` ends
//! with, and the diff against a baseline.

use std::fmt::Write;

use crate::model::{ComponentStatus, ResourceStatus};
use crate::{CostDiff, PlanCost};

/// `$1,234.56`; negative amounts as `-$1.00`.
pub fn money(x: f64) -> String {
    let cents = (x.abs() * 100.0).round() as u64;
    let sign = if x < 0.0 && cents > 0 { "-" } else { "" };
    format!("{sign}${}.{:02}", group(cents / 100), cents % 100)
}

/// `+$1.00`, `-$1.00` or `$0.00`.
pub fn signed_money(x: f64) -> String {
    if (x * 100.0).round() > 0.0 {
        format!("+{}", money(x))
    } else {
        money(x)
    }
}

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A quantity: whole numbers grouped, fractions to at most four places.
pub fn quantity(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return group(x.abs() as u64);
    }
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let int = group(int.parse::<u64>().unwrap_or(0));
    if frac.is_empty() {
        int
    } else {
        format!("{int}.{frac}")
    }
}

/// A unit price as precise as the catalog gives it, without trailing zeros.
pub fn unit_price(x: f64) -> String {
    let s = format!("{x:.10}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("${s}")
}

/// The line `terrane plan` ends with.
pub fn plan_line(cost: &PlanCost) -> String {
    let mut line = format!(
        "Monthly cost: {} before, {} after this plan ({}).",
        money(cost.total_monthly_cost_before),
        money(cost.total_monthly_cost),
        signed_money(cost.diff_monthly_cost)
    );
    let s = &cost.summary;
    let mut notes = Vec::new();
    if s.incomplete() > 0 {
        notes.push(format!(
            "{} of {} resources not fully priced",
            s.incomplete(),
            s.resources
        ));
    }
    if s.usage_based_components > 0 {
        notes.push(format!(
            "{} usage-based {} without usage",
            s.usage_based_components,
            if s.usage_based_components == 1 {
                "component"
            } else {
                "components"
            }
        ));
    }
    if s.free > 0 && s.free == s.resources {
        notes.push(format!(
            "{} {} cost nothing",
            s.free,
            if s.free == 1 { "resource" } else { "resources" }
        ));
    }
    if !notes.is_empty() {
        let _ = write!(line, " {}; see `terrane cost`.", notes.join(", "));
    }
    line
}

/// The breakdown table of `terrane cost`.
pub fn table(cost: &PlanCost) -> String {
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut free = Vec::new();
    let mut unsupported = Vec::new();
    for r in &cost.resources {
        let c = &r.cost;
        match c.status {
            ResourceStatus::Free => {
                free.push(format!(
                    "{} ({})",
                    c.address,
                    c.reason.as_deref().unwrap_or("free")
                ));
                continue;
            }
            ResourceStatus::Unsupported => {
                unsupported.push(format!(
                    "{} ({})",
                    c.address,
                    c.reason.as_deref().unwrap_or("not supported")
                ));
                continue;
            }
            _ => {}
        }
        let status = match c.status {
            ResourceStatus::Priced => String::new(),
            s => format!("  ({})", s.as_str()),
        };
        rows.push([
            c.address.clone(),
            String::new(),
            String::new(),
            String::new(),
            format!("{}{status}", money(c.monthly_cost)),
        ]);
        for comp in &c.components {
            let q = comp.quantity.map(quantity).unwrap_or_else(|| "-".into());
            let (price, monthly) = match comp.status {
                ComponentStatus::Priced => (
                    comp.unit_price.map(unit_price).unwrap_or_default(),
                    money(comp.monthly_cost.unwrap_or(0.0)),
                ),
                ComponentStatus::UsageBased => ("-".into(), "usage-based, not priced".into()),
                ComponentStatus::NotPriced => ("-".into(), "not priced".into()),
            };
            rows.push([
                format!("  {}", comp.name),
                q,
                comp.unit.clone(),
                price,
                monthly,
            ]);
            if comp.status != ComponentStatus::Priced {
                if let Some(reason) = &comp.reason {
                    rows.push([
                        format!("    ({reason})"),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                }
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Monthly cost estimate ({}, on-demand list prices, {} hours a month)",
        cost.currency, cost.hours_per_month
    );
    let _ = writeln!(out, "Prices: {}", cost.catalog);
    if let Some(u) = &cost.usage_file {
        let _ = writeln!(out, "Usage: {u}");
    }
    out.push('\n');
    if !rows.is_empty() {
        let header = [
            "Resource / component".to_string(),
            "Quantity".into(),
            "Unit".into(),
            "Unit price".into(),
            "Monthly".into(),
        ];
        // Reason lines do not widen the name column.
        let mut width = [0usize; 5];
        for row in
            std::iter::once(&header).chain(rows.iter().filter(|r| !r[0].starts_with("    (")))
        {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(rows.iter()) {
            if row[0].starts_with("    (") {
                let _ = writeln!(out, "{}", row[0]);
                continue;
            }
            let _ = writeln!(
                out,
                "{:<w0$}  {:>w1$}  {:<w2$}  {:>w3$}  {}",
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                w0 = width[0],
                w1 = width[1],
                w2 = width[2],
                w3 = width[3],
            );
        }
        out.push('\n');
    }
    if !unsupported.is_empty() {
        let _ = writeln!(out, "Without a cost model ({}):", unsupported.len());
        for u in &unsupported {
            let _ = writeln!(out, "  {u}");
        }
        out.push('\n');
    }
    if !free.is_empty() {
        let _ = writeln!(out, "Free ({}):", free.len());
        for f in &free {
            let _ = writeln!(out, "  {f}");
        }
        out.push('\n');
    }
    if !cost.removed.is_empty() {
        let _ = writeln!(out, "Removed by this plan ({}):", cost.removed.len());
        for r in &cost.removed {
            let _ = writeln!(out, "  {}  {}", r.address, money(-r.before_monthly_cost));
        }
        out.push('\n');
    }
    for w in &cost.warnings {
        let _ = writeln!(out, "Warning: {w}");
    }
    if !cost.warnings.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Total:        {}/month",
        money(cost.total_monthly_cost)
    );
    let _ = writeln!(
        out,
        "Before plan:  {}/month",
        money(cost.total_monthly_cost_before)
    );
    let _ = writeln!(
        out,
        "Change:       {}/month",
        signed_money(cost.diff_monthly_cost)
    );
    let s = &cost.summary;
    let _ = writeln!(
        out,
        "\n{} resources: {} priced, {} partly priced, {} not priced, {} free, {} without a cost model.",
        s.resources, s.priced, s.partly_priced, s.not_priced, s.free, s.unsupported
    );
    if s.incomplete() > 0 || s.usage_based_components > 0 {
        let _ = writeln!(
            out,
            "The total leaves out what is not priced; usage-based components are priced once {} gives their quantities.",
            crate::usage::FILE_NAME
        );
    }
    out
}

/// The human form of `terrane cost diff`.
pub fn diff(d: &CostDiff, baseline_name: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cost diff against {baseline_name} ({} per month)\n",
        d.currency
    );
    if d.resources.is_empty() {
        let _ = writeln!(out, "No cost changes.\n");
    }
    let opt = |x: Option<f64>| x.map(money).unwrap_or_else(|| "-".into());
    let side = |x: Option<f64>, s: Option<ResourceStatus>| match s {
        Some(s) if s.incomplete() => format!("{} ({})", opt(x), s.as_str()),
        _ => opt(x),
    };
    for r in &d.resources {
        let sign = match r.change.as_str() {
            "added" => "+",
            "removed" => "-",
            _ => "~",
        };
        let _ = writeln!(
            out,
            "{sign} {}  {} → {}  ({})",
            r.address,
            side(r.baseline_monthly_cost, r.baseline_status),
            side(r.monthly_cost, r.status),
            signed_money(r.diff_monthly_cost)
        );
        for c in &r.components {
            let sign = match (
                c.baseline_monthly_cost.is_some() || c.baseline_quantity.is_some(),
                c.monthly_cost.is_some() || c.quantity.is_some(),
            ) {
                (false, true) => "+",
                (true, false) => "-",
                _ => "~",
            };
            let quantities = match (c.baseline_quantity, c.quantity) {
                (Some(a), Some(b)) if a != b => {
                    format!("  (quantity {} → {})", quantity(a), quantity(b))
                }
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "    {sign} {}  {} → {}{quantities}",
                c.name,
                opt(c.baseline_monthly_cost),
                opt(c.monthly_cost)
            );
        }
    }
    let _ = writeln!(out, "\nBaseline: {}/month", money(d.baseline_monthly_cost));
    let _ = writeln!(out, "Now:      {}/month", money(d.total_monthly_cost));
    let _ = writeln!(out, "Change:   {}/month", signed_money(d.diff_monthly_cost));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_quantities_read_like_a_bill() {
        assert_eq!(money(1234.565), "$1,234.57");
        assert_eq!(money(0.0), "$0.00");
        assert_eq!(money(-62.05), "-$62.05");
        assert_eq!(signed_money(70.08), "+$70.08");
        assert_eq!(signed_money(-0.001), "$0.00");
        assert_eq!(quantity(1460.0), "1,460");
        assert_eq!(quantity(0.25), "0.25");
        assert_eq!(quantity(12345.5), "12,345.5");
        assert_eq!(unit_price(0.005), "$0.005");
        assert_eq!(unit_price(0.096), "$0.096");
    }
}
