//! The price catalog: on-demand list prices keyed by service, kind, region and SKU,
//! each carrying the source it was taken from.
//!
//! The built-in catalog is `data/aws-prices.csv`, compiled into the binary; a newer
//! file in the same format replaces it (`--pricing-file`). Every row must name its
//! source: a price nobody can trace is not a price.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const BUILTIN_CSV: &str = include_str!("../data/aws-prices.csv");
/// What the built-in catalog is, for reports.
pub const BUILTIN_NAME: &str = "built-in AWS catalog (data/aws-prices.csv)";

/// The columns of a catalog file, in order.
pub const COLUMNS: [&str; 7] = [
    "service",
    "resource_kind",
    "region",
    "sku_or_type",
    "unit",
    "usd_per_unit",
    "source_note",
];

/// One price.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceRow {
    pub service: String,
    pub kind: String,
    pub region: String,
    pub sku: String,
    pub unit: String,
    pub usd: f64,
    /// The price exactly as the source wrote it.
    pub text: String,
    pub source: String,
}

/// Where a priced component's unit price came from, as shown in reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceRef {
    pub service: String,
    pub resource_kind: String,
    pub region: String,
    pub sku: String,
    pub unit: String,
    pub usd_per_unit: String,
    pub source: String,
}

impl PriceRow {
    pub fn reference(&self) -> PriceRef {
        PriceRef {
            service: self.service.clone(),
            resource_kind: self.kind.clone(),
            region: self.region.clone(),
            sku: self.sku.clone(),
            unit: self.unit.clone(),
            usd_per_unit: self.text.clone(),
            source: self.source.clone(),
        }
    }
}

/// A loaded catalog.
#[derive(Debug)]
pub struct Catalog {
    pub name: String,
    rows: Vec<PriceRow>,
    index: HashMap<String, usize>,
    regions: HashMap<String, usize>,
}

/// A catalog file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CatalogError(pub String);

fn key(service: &str, kind: &str, region: &str, sku: &str) -> String {
    let mut k = String::with_capacity(service.len() + kind.len() + region.len() + sku.len() + 3);
    for (i, part) in [service, kind, region, sku].into_iter().enumerate() {
        if i > 0 {
            k.push('\u{1f}');
        }
        k.push_str(part);
    }
    k
}

#[derive(Deserialize)]
struct Record {
    service: String,
    resource_kind: String,
    region: String,
    sku_or_type: String,
    unit: String,
    usd_per_unit: String,
    source_note: String,
}

impl Catalog {
    /// The catalog shipped in the binary (parsed once per process).
    pub fn builtin() -> &'static Catalog {
        static BUILTIN: OnceLock<Catalog> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Catalog::parse(BUILTIN_CSV, BUILTIN_NAME).expect("the built-in price catalog is valid")
        })
    }

    /// Reads a catalog file in the built-in format.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CatalogError(format!(
                "cannot read the pricing file {}: {e}",
                path.display()
            ))
        })?;
        Catalog::parse(&text, &path.display().to_string())
    }

    /// Parses catalog CSV text; `name` names it in errors and reports.
    pub fn parse(text: &str, name: &str) -> Result<Catalog, CatalogError> {
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| CatalogError(format!("{name}: {e}")))?
            .clone();
        if headers.iter().collect::<Vec<_>>() != COLUMNS {
            return Err(CatalogError(format!(
                "{name}:1: the header must be `{}`, found `{}`",
                COLUMNS.join(","),
                headers.iter().collect::<Vec<_>>().join(",")
            )));
        }
        let mut catalog = Catalog {
            name: name.to_string(),
            rows: Vec::new(),
            index: HashMap::new(),
            regions: HashMap::new(),
        };
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                CatalogError(format!("{name}:{line}: {e}"))
            })?;
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            let r: Record = record
                .deserialize(Some(&headers))
                .map_err(|e| CatalogError(format!("{name}:{line}: {e}")))?;
            let bad = |what: String| CatalogError(format!("{name}:{line}: {what}"));
            let usd: f64 =
                r.usd_per_unit.trim().parse().map_err(|_| {
                    bad(format!("usd_per_unit {:?} is not a number", r.usd_per_unit))
                })?;
            if !usd.is_finite() || usd < 0.0 {
                return Err(bad(format!(
                    "usd_per_unit {:?} must be zero or more",
                    r.usd_per_unit
                )));
            }
            if r.source_note.trim().is_empty() {
                return Err(bad(
                    "source_note is empty: every price must name where it comes from".into(),
                ));
            }
            for (col, v) in [
                ("service", &r.service),
                ("resource_kind", &r.resource_kind),
                ("region", &r.region),
                ("sku_or_type", &r.sku_or_type),
                ("unit", &r.unit),
            ] {
                if v.trim().is_empty() {
                    return Err(bad(format!("{col} is empty")));
                }
            }
            let k = key(&r.service, &r.resource_kind, &r.region, &r.sku_or_type);
            if catalog.index.contains_key(&k) {
                return Err(bad(format!(
                    "a second price for {} {} {} {}",
                    r.service, r.resource_kind, r.region, r.sku_or_type
                )));
            }
            catalog.index.insert(k, catalog.rows.len());
            *catalog.regions.entry(r.region.clone()).or_default() += 1;
            catalog.rows.push(PriceRow {
                service: r.service,
                kind: r.resource_kind,
                region: r.region,
                sku: r.sku_or_type,
                unit: r.unit,
                usd,
                text: r.usd_per_unit,
                source: r.source_note,
            });
        }
        Ok(catalog)
    }

    pub fn price(&self, service: &str, kind: &str, region: &str, sku: &str) -> Option<&PriceRow> {
        self.index
            .get(&key(service, kind, region, sku))
            .map(|&i| &self.rows[i])
    }

    /// Whether the catalog has any price in `region`.
    pub fn knows_region(&self, region: &str) -> bool {
        self.regions.contains_key(region)
    }

    pub fn rows(&self) -> &[PriceRow] {
        &self.rows
    }

    /// How many prices the catalog has for each (service, kind), and in which regions.
    pub fn kinds(&self) -> BTreeMap<(String, String), (usize, BTreeSet<String>)> {
        let mut kinds: BTreeMap<(String, String), (usize, BTreeSet<String>)> = BTreeMap::new();
        for r in &self.rows {
            let e = kinds
                .entry((r.service.clone(), r.kind.clone()))
                .or_default();
            e.0 += 1;
            e.1.insert(r.region.clone());
        }
        kinds
    }

    /// The distinct sources of the catalog with their row counts, most rows first.
    pub fn sources(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for r in &self.rows {
            *counts.entry(&r.source).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> = counts
            .into_iter()
            .map(|(s, n)| (s.to_string(), n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_loads_every_row_with_its_source() {
        let c = Catalog::builtin();
        assert_eq!(c.rows().len(), 2814);
        let m5 = c
            .price("ec2", "instance_linux_on_demand", "us-east-1", "m5.large")
            .expect("m5.large is priced in us-east-1");
        assert_eq!(m5.text, "0.096");
        assert!(m5.source.contains("ec2instances.info"), "{}", m5.source);
        assert!(c.knows_region("eu-west-1"));
        assert!(!c.knows_region("mars-north-1"));
        assert_eq!(c.sources().len(), 5);
    }

    #[test]
    fn a_row_without_a_source_or_with_a_bad_price_is_refused_with_its_line() {
        let head = COLUMNS.join(",");
        let err = Catalog::parse(
            &format!("{head}\nec2,instance_linux_on_demand,us-east-1,m5.large,hour,0.096,\n"),
            "p.csv",
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            "p.csv:2: source_note is empty: every price must name where it comes from"
        );
        let err = Catalog::parse(
            &format!("{head}\nec2,a,us-east-1,x,hour,0.1,s\nec2,a,us-east-1,y,hour,cheap,s\n"),
            "p.csv",
        )
        .unwrap_err();
        assert_eq!(err.0, "p.csv:3: usd_per_unit \"cheap\" is not a number");
        let err = Catalog::parse("a,b\n1,2\n", "p.csv").unwrap_err();
        assert!(
            err.0.starts_with("p.csv:1: the header must be"),
            "{}",
            err.0
        );
    }
}
