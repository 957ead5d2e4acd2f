//! The usage file (`terrane-usage.yml`): monthly quantities for usage-based cost
//! components, per resource address (with `*` wildcards) and per resource type.
//!
//! ```yaml
//! version: 0.1
//! resource_type_default_usage:
//!   aws_lambda_function:
//!     monthly_requests: 1000000
//! resource_usage:
//!   aws_s3_bucket.assets:
//!     storage_gb: 500
//!   "aws_nat_gateway.egress[*]":
//!     monthly_data_processed_gb: 100
//! ```
//!
//! For one resource, an exact address wins over a wildcard, a more specific wildcard
//! (more literal characters) over a less specific one, and any address entry over the
//! type's default. Keys are merged: an address entry overrides only the keys it names.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// The usage file's name in a workspace.
pub const FILE_NAME: &str = "terrane-usage.yml";

type Quantities = BTreeMap<String, f64>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    resource_type_default_usage: BTreeMap<String, Quantities>,
    #[serde(default)]
    resource_usage: BTreeMap<String, Quantities>,
}

/// A loaded usage file.
#[derive(Debug, Default)]
pub struct Usage {
    /// Where it came from, for reports.
    pub source: Option<String>,
    by_type: BTreeMap<String, Quantities>,
    exact: BTreeMap<String, Quantities>,
    /// Wildcard patterns, most specific first.
    patterns: Vec<(String, Quantities)>,
}

/// A usage file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl Usage {
    /// No usage at all: every usage-based component stays unpriced.
    pub fn none() -> Usage {
        Usage::default()
    }

    pub fn load(path: &Path) -> Result<Usage, UsageError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError(format!(
                "cannot read the usage file {}: {e}",
                path.display()
            ))
        })?;
        Usage::parse(&text, &path.display().to_string())
    }

    /// Parses usage YAML; `name` names the file in errors.
    pub fn parse(text: &str, name: &str) -> Result<Usage, UsageError> {
        // A file of nothing but comments and blank lines gives no usage.
        let blank = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
        if blank {
            return Ok(Usage {
                source: Some(name.to_string()),
                ..Usage::default()
            });
        }
        let file: File = serde_yaml_ng::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            UsageError(format!(
                "{name}{at}: {e}\n  A usage file has `version: 0.1`, `resource_usage` (address → quantities) and `resource_type_default_usage` (type → quantities); every quantity is a number."
            ))
        })?;
        if let Some(v) = &file.version {
            let ok = match v {
                serde_yaml_ng::Value::Number(n) => n.as_f64() == Some(0.1),
                serde_yaml_ng::Value::String(s) => s == "0.1",
                _ => false,
            };
            if !ok {
                return Err(UsageError(format!(
                    "{name}: usage file version {v:?} is not supported; use `version: 0.1`"
                )));
            }
        }
        for (what, entries) in [
            ("resource_usage", &file.resource_usage),
            (
                "resource_type_default_usage",
                &file.resource_type_default_usage,
            ),
        ] {
            for (target, quantities) in entries {
                for (k, q) in quantities {
                    if !q.is_finite() || *q < 0.0 {
                        return Err(UsageError(format!(
                            "{name}: {what}.{target}.{k} is {q}; a quantity must be zero or more"
                        )));
                    }
                }
            }
        }
        let mut usage = Usage {
            source: Some(name.to_string()),
            by_type: file.resource_type_default_usage,
            ..Usage::default()
        };
        for (address, q) in file.resource_usage {
            if address.contains('*') {
                usage.patterns.push((address, q));
            } else {
                usage.exact.insert(address, q);
            }
        }
        usage
            .patterns
            .sort_by_key(|(p, _)| std::cmp::Reverse(literal_len(p)));
        Ok(usage)
    }

    /// The quantities that apply to one resource instance, merged as described in the
    /// module documentation.
    pub fn for_resource(&self, address: &str, type_name: &str) -> Quantities {
        let mut merged = self.by_type.get(type_name).cloned().unwrap_or_default();
        let mut layers: Vec<&Quantities> = self
            .patterns
            .iter()
            .filter(|(p, _)| glob(p, address))
            .map(|(_, q)| q)
            .collect();
        // Least specific first, so more specific entries override.
        layers.reverse();
        layers.extend(self.exact.get(address));
        for layer in layers {
            merged.extend(layer.iter().map(|(k, v)| (k.clone(), *v)));
        }
        merged
    }

    /// Every (entry, key) pair the file gives, for checking keys against what the
    /// resource types read.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Quantities)> {
        self.by_type
            .iter()
            .chain(self.exact.iter())
            .map(|(k, v)| (k.as_str(), v))
            .chain(self.patterns.iter().map(|(k, v)| (k.as_str(), v)))
    }

    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty() && self.exact.is_empty() && self.patterns.is_empty()
    }
}

fn literal_len(pattern: &str) -> usize {
    pattern.chars().filter(|&c| c != '*').count()
}

/// `*` matches any run of characters (including none); everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_shell_globs() {
        assert!(glob("aws_s3_bucket.*", "aws_s3_bucket.logs"));
        assert!(glob(
            "aws_nat_gateway.egress[*]",
            "aws_nat_gateway.egress[2]"
        ));
        assert!(!glob(
            "aws_nat_gateway.egress[*]",
            "aws_nat_gateway.other[2]"
        ));
        assert!(glob("*", "anything"));
        assert!(glob(
            "module.*.aws_s3_bucket.x",
            "module.app.aws_s3_bucket.x"
        ));
        assert!(!glob("a*b", "ab_"));
        assert!(glob("a*b*b", "abb"));
        assert!(!glob("a*bb", "ab"));
    }

    #[test]
    fn exact_beats_wildcard_beats_type_default_key_by_key() {
        let u = Usage::parse(
            "version: 0.1\nresource_type_default_usage:\n  aws_s3_bucket:\n    storage_gb: 1\n    monthly_tier_1_requests: 5\nresource_usage:\n  \"aws_s3_bucket.*\":\n    storage_gb: 10\n  \"*\":\n    storage_gb: 99\n  aws_s3_bucket.logs:\n    monthly_tier_2_requests: 7\n",
            "u.yml",
        )
        .unwrap();
        let q = u.for_resource("aws_s3_bucket.logs", "aws_s3_bucket");
        assert_eq!(q["storage_gb"], 10.0);
        assert_eq!(q["monthly_tier_1_requests"], 5.0);
        assert_eq!(q["monthly_tier_2_requests"], 7.0);
        let q = u.for_resource("aws_s3_bucket.other", "aws_s3_bucket");
        assert_eq!(q["storage_gb"], 10.0);
        assert!(!q.contains_key("monthly_tier_2_requests"));
    }

    #[test]
    fn a_file_of_comments_is_no_usage() {
        let u = Usage::parse("# usage for later\n\n", "u.yml").unwrap();
        assert!(u.is_empty());
        assert_eq!(u.source.as_deref(), Some("u.yml"));
    }

    #[test]
    fn bad_files_name_the_place_and_the_rule() {
        let e = Usage::parse(
            "resource_usage:\n  aws_s3_bucket.x:\n    storage_gb: lots\n",
            "u.yml",
        )
        .unwrap_err();
        assert!(e.0.starts_with("u.yml:3:"), "{}", e.0);
        let e = Usage::parse("resource_usage: {}\nextra: 1\n", "u.yml").unwrap_err();
        assert!(e.0.contains("unknown field `extra`"), "{}", e.0);
        let e = Usage::parse("version: 2\n", "u.yml").unwrap_err();
        assert!(e.0.contains("not supported"), "{}", e.0);
        let e = Usage::parse("resource_usage:\n  a.b:\n    storage_gb: -1\n", "u.yml").unwrap_err();
        assert!(e.0.contains("must be zero or more"), "{}", e.0);
    }
}
