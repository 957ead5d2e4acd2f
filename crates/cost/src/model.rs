//! What an estimate is made of: resources, their cost components, and the totals.

use serde::{Deserialize, Serialize};

use crate::catalog::PriceRef;

/// Hours in a month, as cloud bills and every cost tool count them.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Whether and how a cost component was priced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    /// Unit price × quantity.
    Priced,
    /// Charged by use, and the usage file gives no quantity for it.
    UsageBased,
    /// The quantity is known (or would be), but terrane has no sourced price for it,
    /// or its inputs are unknown until apply.
    NotPriced,
}

/// One line of a resource's bill: a charge with its unit, unit price and monthly
/// quantity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Component {
    pub name: String,
    /// The unit of `quantity`, e.g. `hours`, `GB-months`, `1k requests`.
    pub unit: String,
    /// Monthly quantity, when known.
    pub quantity: Option<f64>,
    /// USD per unit, when priced.
    pub unit_price: Option<f64>,
    /// USD per month, when priced.
    pub monthly_cost: Option<f64>,
    pub status: ComponentStatus,
    /// Why the component is not priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The catalog row the unit price came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceRef>,
}

/// How much of a resource terrane could price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceStatus {
    /// Every component is priced.
    Priced,
    /// Some components are priced, others are usage-based or not priced.
    #[serde(rename = "partly_priced")]
    Partial,
    /// It has charges, but none of them could be priced.
    NotPriced,
    /// It costs nothing (a local or logical resource, or one the cloud does not bill).
    Free,
    /// terrane has no cost model for this resource type.
    Unsupported,
}

impl ResourceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceStatus::Priced => "priced",
            ResourceStatus::Partial => "partly priced",
            ResourceStatus::NotPriced => "not priced",
            ResourceStatus::Free => "free",
            ResourceStatus::Unsupported => "not supported",
        }
    }

    /// Whether some of the resource's cost is missing from the totals.
    pub fn incomplete(self) -> bool {
        matches!(
            self,
            ResourceStatus::Partial | ResourceStatus::NotPriced | ResourceStatus::Unsupported
        )
    }
}

/// The cost of one resource instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceCost {
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub status: ResourceStatus,
    /// Why it is free, unsupported, or not priced as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The sum of its priced components, USD per month.
    pub monthly_cost: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
}

impl ResourceCost {
    pub(crate) fn new(address: &str, type_name: &str, region: Option<&str>) -> ResourceCost {
        ResourceCost {
            address: address.to_string(),
            type_name: type_name.to_string(),
            region: region.map(str::to_string),
            status: ResourceStatus::Priced,
            reason: None,
            monthly_cost: 0.0,
            components: Vec::new(),
        }
    }

    /// Sets the status and total from the components.
    pub(crate) fn finish(mut self) -> ResourceCost {
        if matches!(
            self.status,
            ResourceStatus::Free | ResourceStatus::Unsupported
        ) {
            return self;
        }
        self.monthly_cost = self.components.iter().filter_map(|c| c.monthly_cost).sum();
        let priced = self
            .components
            .iter()
            .filter(|c| c.status == ComponentStatus::Priced)
            .count();
        self.status = if priced == self.components.len() {
            ResourceStatus::Priced
        } else if priced == 0 {
            ResourceStatus::NotPriced
        } else {
            ResourceStatus::Partial
        };
        self
    }
}

/// The priced cost of a set of resources: a workspace's state, or what it will be
/// after a plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub total_monthly_cost: f64,
    pub resources: Vec<ResourceCost>,
    /// Resources that could not be fully priced (unknown instance types or regions,
    /// values unknown until apply), each naming the resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Estimate {
    pub fn get(&self, address: &str) -> Option<&ResourceCost> {
        self.resources
            .binary_search_by(|r| r.address.as_str().cmp(address))
            .ok()
            .map(|i| &self.resources[i])
    }

    /// How many resources have each status.
    pub fn count(&self, status: ResourceStatus) -> usize {
        self.resources.iter().filter(|r| r.status == status).count()
    }

    pub fn incomplete(&self) -> impl Iterator<Item = &ResourceCost> {
        self.resources.iter().filter(|r| r.status.incomplete())
    }

    /// Usage-based components without a quantity, across all resources.
    pub fn usage_based(&self) -> usize {
        self.resources
            .iter()
            .flat_map(|r| &r.components)
            .filter(|c| c.status == ComponentStatus::UsageBased)
            .count()
    }
}

/// Rounds a money amount for documents: to a hundredth of a cent, which hides
/// floating-point noise without changing any figure a person reads.
pub fn round_money(x: f64) -> f64 {
    let r = (x * 10_000.0).round() / 10_000.0;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}
