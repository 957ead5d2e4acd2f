//! Pricing one resource: the shared machinery the per-provider rules build on.

use std::collections::{BTreeMap, HashMap};

use terrane_core::Value;

use crate::catalog::Catalog;
use crate::model::{Component, ComponentStatus, ResourceCost, ResourceStatus, HOURS_PER_MONTH};
use crate::usage::Usage;

/// The usage key of data transfer out to the internet.
pub const DATA_TRANSFER_KEY: &str = "monthly_data_transfer_out_gb";

/// A resource instance to price: its planned or recorded attribute values.
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    pub address: &'a str,
    pub type_name: &'a str,
    /// The provider configuration that manages it: `aws`, `aws.west`, `local`, ...
    pub provider: &'a str,
    pub values: &'a Value,
    /// Addresses of the resources it refers to (to find, say, an auto scaling
    /// group's launch template).
    pub dependencies: &'a [String],
}

/// Everything pricing needs besides the resources.
pub struct Pricer<'a> {
    pub catalog: &'a Catalog,
    pub usage: &'a Usage,
    /// The region of each AWS provider configuration (`aws`, `aws.west`); `None`
    /// when the configuration has a region terrane cannot know (a sensitive value, or
    /// one computed from other resources). A configuration missing from the map uses
    /// the default `aws` one's.
    pub regions: &'a HashMap<String, Option<String>>,
}

/// The provider's local name from a provider configuration address:
/// `provider.aws.west` and `aws.west` are both `aws`.
pub fn provider_name(provider: &str) -> &str {
    let p = provider
        .rsplit_once("provider.")
        .map_or(provider, |(_, p)| p);
    let p = p
        .strip_prefix("provider[\"")
        .map_or(p, |p| p.trim_end_matches("\"]"));
    let p = p.rsplit('/').next().unwrap_or(p);
    p.split('.').next().unwrap_or(p)
}

/// The provider configuration key (`aws` or `aws.west`) of a provider address.
pub fn provider_key(provider: &str) -> &str {
    provider
        .rsplit_once("provider.")
        .map_or(provider, |(_, p)| p)
}

/// The pricing of one resource under way.
pub(crate) struct Bill<'a> {
    pub item: Item<'a>,
    pub catalog: &'a Catalog,
    pub region: Option<&'a str>,
    pub usage: BTreeMap<String, f64>,
    pub cost: ResourceCost,
    pub warnings: &'a mut Vec<String>,
    /// Every resource being priced, by address (for cross-resource lookups).
    pub all: &'a HashMap<&'a str, Item<'a>>,
}

impl<'a> Bill<'a> {
    /// A string attribute; `Err` when it is unknown until apply.
    pub fn str(&self, key: &str) -> Result<Option<&'a str>, ()> {
        attr_str(self.item.values, key)
    }

    pub fn num(&self, key: &str) -> Result<Option<f64>, ()> {
        attr_num(self.item.values, key)
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ()> {
        Ok(attr(self.item.values, key)?.and_then(Value::as_bool))
    }

    /// The first object of a nested block (`root_block_device`, `launch_template`).
    pub fn block(&self, key: &str) -> Option<&'a Value> {
        first_block(self.item.values, key)
    }

    pub fn free(mut self, reason: &str) -> ResourceCost {
        self.cost.status = ResourceStatus::Free;
        self.cost.reason = Some(reason.to_string());
        self.cost
    }

    pub fn unsupported(mut self, reason: String) -> ResourceCost {
        self.cost.status = ResourceStatus::Unsupported;
        self.cost.reason = Some(reason);
        self.cost
    }

    pub fn warn(&mut self, what: String) {
        self.warnings.push(format!("{}: {what}", self.item.address));
    }

    /// A component priced from the catalog: `quantity` units a month of the row
    /// (service, kind, this region, sku). A missing row is a warning and an unpriced
    /// component, never a zero.
    pub fn catalog(
        &mut self,
        name: String,
        unit: &str,
        service: &str,
        kind: &str,
        sku: &str,
        quantity: f64,
    ) {
        let Some(region) = self.region else {
            let reason = "the region is not known: set region in the provider block or AWS_REGION"
                .to_string();
            self.warn(reason.clone());
            self.not_priced_q(name, unit, Some(quantity), reason);
            return;
        };
        match self.catalog.price(service, kind, region, sku) {
            Some(row) if row.unit != catalog_unit(unit) => {
                let reason = format!(
                    "the catalog prices {sku} per {:?}, but this component is counted in {unit}",
                    row.unit
                );
                self.warn(reason.clone());
                self.not_priced_q(name, unit, Some(quantity), reason);
            }
            Some(row) => self.cost.components.push(Component {
                name,
                unit: unit.to_string(),
                quantity: Some(quantity),
                unit_price: Some(row.usd),
                monthly_cost: Some(row.usd * quantity),
                status: ComponentStatus::Priced,
                reason: None,
                price: Some(row.reference()),
            }),
            None => {
                let reason = if self.catalog.knows_region(region) {
                    format!("no price for {sku} in {region} in the catalog")
                } else {
                    format!("the catalog has no prices for region {region}")
                };
                self.warn(reason.clone());
                self.not_priced_q(name, unit, Some(quantity), reason);
            }
        }
    }

    /// Instance-style hourly charge: `count` instances running all month.
    pub fn hourly(&mut self, name: String, service: &str, kind: &str, sku: &str, count: f64) {
        self.catalog(name, "hours", service, kind, sku, HOURS_PER_MONTH * count);
    }

    /// A charge by use: priced from the usage file's `key` when given, else listed as
    /// usage-based. `price` names the catalog row, or is `Err(reason)` when terrane
    /// has no sourced price for it.
    pub fn usage_based(
        &mut self,
        name: &str,
        unit: &str,
        key: &str,
        per: f64,
        price: Result<(&str, &str, &str), &str>,
    ) {
        let Some(&q) = self.usage.get(key) else {
            return self.usage_missing(
                name,
                unit,
                &format!("usage-based: give {key} in the usage file"),
            );
        };
        match price {
            Ok((service, kind, sku)) => {
                self.catalog(name.to_string(), unit, service, kind, sku, q / per)
            }
            Err(reason) => {
                self.not_priced_q(name.to_string(), unit, Some(q / per), reason.to_string())
            }
        }
    }

    /// Data transfer out to the internet (`monthly_data_transfer_out_gb`), which the
    /// catalog has no sourced price for: listed as usage-based when `always`, else only
    /// when the usage file gives a quantity.
    pub fn data_transfer(&mut self, always: bool) {
        if always || self.usage.contains_key(DATA_TRANSFER_KEY) {
            self.usage_based(
                "Data transfer out to the internet",
                "GB",
                DATA_TRANSFER_KEY,
                1.0,
                Err("no sourced price in the catalog yet"),
            );
        }
    }

    /// A usage-based charge whose quantity the usage file does not give.
    pub fn usage_missing(&mut self, name: &str, unit: &str, reason: &str) {
        self.cost.components.push(Component {
            name: name.to_string(),
            unit: unit.to_string(),
            quantity: None,
            unit_price: None,
            monthly_cost: None,
            status: ComponentStatus::UsageBased,
            reason: Some(reason.to_string()),
            price: None,
        });
    }

    /// A charge terrane cannot price, with the reason.
    pub fn not_priced(
        &mut self,
        name: impl Into<String>,
        unit: &str,
        quantity: Option<f64>,
        reason: &str,
    ) {
        self.not_priced_q(name.into(), unit, quantity, reason.to_string());
    }

    fn not_priced_q(&mut self, name: String, unit: &str, quantity: Option<f64>, reason: String) {
        self.cost.components.push(Component {
            name,
            unit: unit.to_string(),
            quantity,
            unit_price: None,
            monthly_cost: None,
            status: ComponentStatus::NotPriced,
            reason: Some(reason),
            price: None,
        });
    }

    /// A component whose input is unknown until apply, or sensitive.
    pub fn unknown(&mut self, name: &str, unit: &str, attr: &str) {
        let why = if sensitive_key(self.item.values, attr, false) {
            format!("{attr} is sensitive, so it is neither shown nor priced")
        } else {
            format!("{attr} is known only after apply")
        };
        self.warn(format!("{why}: {name} is not priced"));
        self.not_priced(name, unit, None, &why);
    }

    pub fn finish(self) -> ResourceCost {
        self.cost.finish()
    }
}

/// The catalog's unit for a component's unit: `hours` are priced per `hour`,
/// `GB-months` per `GB-month`, and so on.
fn catalog_unit(unit: &str) -> &str {
    match unit {
        "hours" => "hour",
        "GB-months" => "GB-month",
        "IOPS-months" => "IOPS-month",
        other => other,
    }
}

/// An attribute's value, unless it is unknown until apply or sensitive (`Err`): a
/// sensitive value is never priced, named or looked up, so it cannot reach the cost
/// document (which is part of the policy input and `plan --json`).
fn attr<'v>(v: &'v Value, key: &str) -> Result<Option<&'v Value>, ()> {
    if matches!(v, Value::Sensitive(_)) {
        return Err(());
    }
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Unknown | Value::Sensitive(_)) => Err(()),
        Some(v) => Ok(Some(v)),
    }
}

pub(crate) fn attr_str<'v>(v: &'v Value, key: &str) -> Result<Option<&'v str>, ()> {
    Ok(attr(v, key)?.and_then(Value::as_str))
}

/// A number attribute; only finite amounts of zero or more count.
pub(crate) fn attr_num(v: &Value, key: &str) -> Result<Option<f64>, ()> {
    let n = match attr(v, key)? {
        Some(Value::String(s)) => s.parse().ok(),
        Some(v) => v.as_f64(),
        None => None,
    };
    Ok(n.filter(|n: &f64| n.is_finite() && *n >= 0.0))
}

/// Whether `key` holds a sensitive value anywhere in `v` (for messages); `under`: `v`
/// is inside a sensitive value.
fn sensitive_key(v: &Value, key: &str, under: bool) -> bool {
    match v {
        Value::Sensitive(inner) => sensitive_key(inner, key, true),
        Value::Map(m) => m.iter().any(|(k, x)| {
            (k == key && (under || matches!(x, Value::Sensitive(_))))
                || sensitive_key(x, key, under)
        }),
        Value::List(items) | Value::Set(items) => {
            items.iter().any(|x| sensitive_key(x, key, under))
        }
        _ => false,
    }
}

pub(crate) fn first_block<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    // A sensitive block stays wrapped, so its attributes read as sensitive.
    if let Some(s @ Value::Sensitive(_)) = v.get(key) {
        return Some(s);
    }
    match v.get(key).map(Value::peel) {
        Some(Value::List(items)) | Some(Value::Set(items)) => items.first(),
        Some(m @ Value::Map(_)) => Some(m),
        _ => None,
    }
}
