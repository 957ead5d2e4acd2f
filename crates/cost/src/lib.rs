//! Cost estimates: what a workspace costs a month before and after a plan, per
//! resource and per cost component, priced from a sourced catalog of on-demand list
//! prices (`catalog`), with usage-based quantities from a usage file (`usage`).
//!
//! The crate does no IO beyond reading the files it is pointed at; it prices
//! [`Item`]s (address, type, provider, attribute values) so it does not depend on the
//! engine. A missing price is never a zero: every component is priced, usage-based
//! (no quantity given), or not priced with its reason.

pub mod aws;
pub mod catalog;
pub mod model;
pub mod price;
pub mod report;
pub mod usage;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use catalog::{Catalog, CatalogError, PriceRef};
pub use model::{
    round_money, Component, ComponentStatus, Estimate, ResourceCost, ResourceStatus,
    HOURS_PER_MONTH,
};
pub use price::{provider_key, provider_name, Item, Pricer};
pub use usage::{Usage, UsageError};

use price::Bill;

impl Pricer<'_> {
    /// Prices every item; the result is sorted by address.
    pub fn estimate(&self, items: &[Item<'_>]) -> Estimate {
        let all: HashMap<&str, Item<'_>> = items
            .iter()
            .filter(|i| i.type_name == "aws_launch_template")
            .map(|i| (i.address, *i))
            .collect();
        let mut warnings = Vec::new();
        let mut resources: Vec<ResourceCost> = items
            .iter()
            .map(|item| {
                let provider = provider_name(item.provider);
                let region = if provider == "aws" {
                    self.regions
                        .get(provider_key(item.provider))
                        .or_else(|| self.regions.get("aws"))
                        .and_then(Option::as_deref)
                } else {
                    None
                };
                let bill = Bill {
                    item: *item,
                    catalog: self.catalog,
                    region,
                    usage: if self.usage.is_empty() {
                        Default::default()
                    } else {
                        self.usage.for_resource(item.address, item.type_name)
                    },
                    cost: ResourceCost::new(item.address, item.type_name, region),
                    warnings: &mut warnings,
                    all: &all,
                };
                match provider {
                    "aws" => aws::price(bill),
                    "local" => bill.free("runs on this host: no cloud charge"),
                    "random" | "null" | "terraform" | "time" | "tls" => {
                        bill.free("a logical resource: no cloud charge")
                    }
                    other => {
                        bill.unsupported(format!("terrane has no prices for the {other} provider"))
                    }
                }
            })
            .collect();
        resources.sort_by(|a, b| a.address.cmp(&b.address));
        Estimate {
            total_monthly_cost: resources.iter().map(|r| r.monthly_cost).sum(),
            resources,
            warnings,
        }
    }

    /// Usage file entries whose keys no resource type reads (likely typos).
    pub fn unused_usage_keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        let known: Vec<&str> = aws::USAGE_KEYS
            .iter()
            .flat_map(|(_, keys)| keys.iter().copied())
            .collect();
        for (entry, quantities) in self.usage.entries() {
            let ty = aws::USAGE_KEYS.iter().find(|(t, _)| {
                entry == *t
                    || entry.starts_with(&format!("{t}."))
                    || entry.contains(&format!(".{t}."))
            });
            for key in quantities.keys() {
                let ok = match ty {
                    Some((_, keys)) => keys.contains(&key.as_str()),
                    None => known.contains(&key.as_str()),
                };
                if !ok {
                    out.push(match ty {
                        Some((t, keys)) => format!(
                            "usage key {key:?} of {entry:?} is not read by {t} (it reads {})",
                            keys.join(", ")
                        ),
                        None => format!(
                            "usage key {key:?} of {entry:?} is not read by any resource type"
                        ),
                    });
                }
            }
        }
        out
    }
}

/// How many resources of an estimate have each status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub resources: usize,
    pub priced: usize,
    pub partly_priced: usize,
    pub not_priced: usize,
    pub free: usize,
    pub unsupported: usize,
    /// Usage-based components with no quantity in the usage file.
    pub usage_based_components: usize,
}

impl Summary {
    pub fn of(e: &Estimate) -> Summary {
        Summary {
            resources: e.resources.len(),
            priced: e.count(ResourceStatus::Priced),
            partly_priced: e.count(ResourceStatus::Partial),
            not_priced: e.count(ResourceStatus::NotPriced),
            free: e.count(ResourceStatus::Free),
            unsupported: e.count(ResourceStatus::Unsupported),
            usage_based_components: e.usage_based(),
        }
    }

    /// Resources whose cost is not all in the total.
    pub fn incomplete(&self) -> usize {
        self.partly_priced + self.not_priced + self.unsupported
    }
}

/// A resource after the plan, with what it cost before.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedCost {
    #[serde(flatten)]
    pub cost: ResourceCost,
    /// Its monthly cost before the plan; absent for a resource the plan creates.
    pub before_monthly_cost: Option<f64>,
}

impl<'de> Deserialize<'de> for PlannedCost {
    /// Read by hand: serde's `flatten` buffers numbers in a form that JSON numbers of
    /// arbitrary precision do not read back from.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut doc = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let before = match doc.remove("before_monthly_cost") {
            Some(v) => serde_json::from_value(v).map_err(D::Error::custom)?,
            None => None,
        };
        Ok(PlannedCost {
            cost: serde_json::from_value(serde_json::Value::Object(doc))
                .map_err(D::Error::custom)?,
            before_monthly_cost: before,
        })
    }
}

/// A resource the plan removes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Removed {
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub before_monthly_cost: f64,
}

/// The cost document of a plan (or a state): `terrane cost --format json`, and
/// `input.cost` for policies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanCost {
    pub currency: String,
    pub hours_per_month: f64,
    /// The price catalog used.
    pub catalog: String,
    pub usage_file: Option<String>,
    pub total_monthly_cost_before: f64,
    pub total_monthly_cost: f64,
    pub diff_monthly_cost: f64,
    pub summary: Summary,
    pub resources: Vec<PlannedCost>,
    pub removed: Vec<Removed>,
    pub warnings: Vec<String>,
}

impl PlanCost {
    /// A breakdown saved with `terrane cost --format json`, read back for `cost diff`;
    /// errors name the file as `shown` and the line and column.
    pub fn read_baseline(path: &std::path::Path, shown: &str) -> Result<PlanCost, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the baseline {shown}: {e}"))?;
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "{shown}:{}:{}: not a cost breakdown: {e}\n  Save one with `terrane cost --format json > {shown}`.",
                e.line(),
                e.column()
            )
        })
    }
}

impl PlanCost {
    /// The document comparing the workspace's cost before and after a plan.
    pub fn new(before: &Estimate, after: Estimate, catalog: &Catalog, usage: &Usage) -> PlanCost {
        let removed = before
            .resources
            .iter()
            .filter(|r| after.get(&r.address).is_none())
            .map(|r| Removed {
                address: r.address.clone(),
                type_name: r.type_name.clone(),
                before_monthly_cost: round_money(r.monthly_cost),
            })
            .collect();
        let summary = Summary::of(&after);
        let resources = after
            .resources
            .into_iter()
            .map(|mut cost| {
                let before_monthly_cost = before
                    .get(&cost.address)
                    .map(|b| round_money(b.monthly_cost));
                cost.monthly_cost = round_money(cost.monthly_cost);
                for c in &mut cost.components {
                    c.monthly_cost = c.monthly_cost.map(round_money);
                }
                PlannedCost {
                    cost,
                    before_monthly_cost,
                }
            })
            .collect();
        let mut warnings = before.warnings.clone();
        warnings.extend(after.warnings);
        warnings.sort();
        warnings.dedup();
        PlanCost {
            currency: "USD".into(),
            hours_per_month: HOURS_PER_MONTH,
            catalog: catalog.name.clone(),
            usage_file: usage.source.clone(),
            total_monthly_cost_before: round_money(before.total_monthly_cost),
            total_monthly_cost: round_money(after.total_monthly_cost),
            diff_monthly_cost: round_money(after.total_monthly_cost - before.total_monthly_cost),
            summary,
            resources,
            removed,
            warnings,
        }
    }
}

/// One resource's change between a baseline breakdown and the current one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceDiff {
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// `added`, `removed` or `changed`.
    pub change: String,
    pub baseline_monthly_cost: Option<f64>,
    pub monthly_cost: Option<f64>,
    pub diff_monthly_cost: f64,
    /// How much of it is priced, in the baseline and now: a resource not fully
    /// priced is shown as such, never as a plain figure.
    pub baseline_status: Option<ResourceStatus>,
    pub status: Option<ResourceStatus>,
    pub components: Vec<ComponentDiff>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentDiff {
    pub name: String,
    pub baseline_monthly_cost: Option<f64>,
    pub monthly_cost: Option<f64>,
    pub baseline_quantity: Option<f64>,
    pub quantity: Option<f64>,
}

/// `terrane cost diff`: the current breakdown against a saved one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostDiff {
    pub currency: String,
    pub baseline_monthly_cost: f64,
    pub total_monthly_cost: f64,
    pub diff_monthly_cost: f64,
    pub resources: Vec<ResourceDiff>,
}

impl CostDiff {
    pub fn between(baseline: &PlanCost, current: &PlanCost) -> CostDiff {
        let index = |p: &PlanCost| -> HashMap<String, ResourceCost> {
            p.resources
                .iter()
                .map(|r| (r.cost.address.clone(), r.cost.clone()))
                .collect()
        };
        let (old, new) = (index(baseline), index(current));
        let mut addresses: Vec<&String> = old.keys().chain(new.keys()).collect();
        addresses.sort();
        addresses.dedup();
        let mut resources = Vec::new();
        for address in addresses {
            let (b, a) = (old.get(address), new.get(address));
            let components = component_diffs(b, a);
            let change = match (b, a) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                _ if components.is_empty() && b.map(|r| r.status) == a.map(|r| r.status) => {
                    continue
                }
                _ => "changed",
            };
            let cost = |r: Option<&ResourceCost>| r.map(|r| r.monthly_cost);
            let r = a.or(b).expect("one side exists");
            resources.push(ResourceDiff {
                address: address.clone(),
                type_name: r.type_name.clone(),
                change: change.into(),
                baseline_monthly_cost: cost(b),
                monthly_cost: cost(a),
                diff_monthly_cost: round_money(cost(a).unwrap_or(0.0) - cost(b).unwrap_or(0.0)),
                baseline_status: b.map(|r| r.status),
                status: a.map(|r| r.status),
                components,
            });
        }
        CostDiff {
            currency: current.currency.clone(),
            baseline_monthly_cost: baseline.total_monthly_cost,
            total_monthly_cost: current.total_monthly_cost,
            diff_monthly_cost: round_money(
                current.total_monthly_cost - baseline.total_monthly_cost,
            ),
            resources,
        }
    }
}

fn component_diffs(b: Option<&ResourceCost>, a: Option<&ResourceCost>) -> Vec<ComponentDiff> {
    let empty = Vec::new();
    let (bc, ac) = (
        b.map_or(&empty, |r| &r.components),
        a.map_or(&empty, |r| &r.components),
    );
    let mut names: Vec<&str> = bc
        .iter()
        .chain(ac.iter())
        .map(|c| c.name.as_str())
        .collect();
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(*n));
    names
        .into_iter()
        .filter_map(|name| {
            let (x, y) = (bc.iter().find(|c| c.name == name), ac.iter().find(|c| c.name == name));
            let same = matches!((x, y), (Some(x), Some(y)) if x.monthly_cost == y.monthly_cost && x.quantity == y.quantity && x.status == y.status);
            (!same).then(|| ComponentDiff {
                name: name.to_string(),
                baseline_monthly_cost: x.and_then(|c| c.monthly_cost),
                monthly_cost: y.and_then(|c| c.monthly_cost),
                baseline_quantity: x.and_then(|c| c.quantity),
                quantity: y.and_then(|c| c.quantity),
            })
        })
        .collect()
}
