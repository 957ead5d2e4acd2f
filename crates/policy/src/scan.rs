//! The built-in security scan: a rule pack written in Rego (`rules/*.rego`, embedded at
//! build time) with its catalog (`rules/catalog.json`: ID, severity, title,
//! remediation), evaluated against the plan document.
//!
//! Each rule file is a package `terrane.scan.<topic>` with a `findings` set of
//! `{rule, address, message}` objects. This module runs them, joins the results with
//! the catalog, places each finding at the file and line of its declaration and applies
//! suppressions (inline `# terrane:ignore:RULE reason` comments, and the configuration's
//! `scan { suppress { ... } }` blocks), which always carry a reason.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regorus::{Engine, Value};
use serde::{Deserialize, Serialize};

include!(concat!(env!("OUT_DIR"), "/pack.rs"));

/// How bad a finding is; ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A rule of the built-in pack, from the catalog.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RuleMeta {
    pub id: String,
    pub severity: Severity,
    pub title: String,
    pub remediation: String,
    #[serde(default)]
    pub resource_types: Vec<String>,
    /// Checkov checks that flag the same misconfiguration (for the comparison script).
    #[serde(default)]
    pub checkov: Vec<String>,
}

/// The catalog of the built-in rules.
pub fn catalog() -> &'static [RuleMeta] {
    static CATALOG: OnceLock<Vec<RuleMeta>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        // A broken catalog is a build defect, caught by the unit tests below.
        serde_json::from_str(include_str!("../rules/catalog.json"))
            .expect("rules/catalog.json is valid")
    })
}

pub fn rule(id: &str) -> Option<&'static RuleMeta> {
    catalog().iter().find(|r| r.id == id)
}

/// A finding as a rule reports it, before it is placed and suppressions applied.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct RawFinding {
    pub rule: String,
    pub address: String,
    #[serde(default)]
    pub message: String,
}

/// One misconfiguration of one resource.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub title: String,
    pub address: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub message: String,
    pub remediation: String,
    /// The reason, when the finding is suppressed.
    pub suppressed: Option<String>,
}

/// The rule pack compiled into a Rego engine, ready to scan many documents.
pub struct Scanner {
    engine: Engine,
    /// `data.terrane.scan.<topic>.findings` for every rule file that has one.
    queries: Vec<(String, &'static str)>,
}

impl Scanner {
    pub fn new() -> Result<Scanner, Vec<String>> {
        let mut engine = Engine::new();
        let mut queries = Vec::new();
        let mut errors = Vec::new();
        for (name, text) in PACK {
            let path = format!("builtin/{name}");
            match engine.add_policy(path.clone(), text.to_string()) {
                Ok(package) => {
                    if engine
                        .has_declared_rule_rooted_at(&path, "findings")
                        .unwrap_or(false)
                    {
                        queries.push((format!("{package}.findings"), *name));
                    }
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        if errors.is_empty() {
            Ok(Scanner { engine, queries })
        } else {
            Err(errors)
        }
    }

    /// Runs every rule against `input`.
    pub fn run(&mut self, input: &Value) -> Result<Vec<RawFinding>, Vec<String>> {
        self.engine.set_input(input.clone());
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (query, file) in &self.queries {
            let started = std::time::Instant::now();
            let result = self.engine.eval_rule(query.clone());
            tracing::debug!(
                rule_file = *file,
                ms = started.elapsed().as_secs_f64() * 1e3,
                "scan rule file evaluated"
            );
            match result {
                Ok(v) => {
                    let json = serde_json::to_value(&v).unwrap_or_default();
                    let items = match json {
                        serde_json::Value::Array(items) => items,
                        _ => Vec::new(),
                    };
                    for item in items {
                        match serde_json::from_value::<RawFinding>(item.clone()) {
                            Ok(f) => out.push(f),
                            Err(e) => errors.push(format!(
                                "builtin/{file}: a finding is not {{rule, address, message}}: {item} ({e})"
                            )),
                        }
                    }
                }
                Err(e) => errors.push(format!("builtin/{file}: {e}")),
            }
        }
        if errors.is_empty() {
            out.sort();
            out.dedup();
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

/// The resource types the pack reads: every `"aws_..."` / `"local_..."` string in it.
pub fn pack_types() -> &'static std::collections::HashSet<String> {
    static TYPES: OnceLock<std::collections::HashSet<String>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut out = std::collections::HashSet::new();
        for (_, text) in PACK {
            for piece in text.split('"').skip(1).step_by(2) {
                let is_type = (piece.starts_with("aws_") || piece.starts_with("local_"))
                    && piece
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if is_type {
                    out.insert(piece.to_string());
                }
            }
        }
        out
    })
}

/// Fragments of every name the secrets rules treat as secret-like (a superset: the
/// rules decide; this only keeps what they could flag).
const SECRET_FRAGMENTS: [&str; 7] = ["pass", "secret", "token", "key", "private", "auth", "cred"];

pub fn secret_like(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    SECRET_FRAGMENTS.iter().any(|f| l.contains(f))
}

/// Whether a configuration body (attributes and nested blocks, as expressions) has an
/// attribute, or a key of a literal map, that could hold a secret.
fn may_hold_secret(expressions: &serde_json::Value) -> bool {
    fn literal(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(o) => o.iter().any(|(k, v)| secret_like(k) || literal(v)),
            serde_json::Value::Array(a) => a.iter().any(literal),
            _ => false,
        }
    }
    let Some(attrs) = expressions.as_object() else {
        return false;
    };
    attrs.iter().any(|(name, e)| {
        secret_like(name)
            || e.get("constant_value").is_some_and(literal)
            || e.as_array()
                .is_some_and(|blocks| blocks.iter().any(may_hold_secret))
    })
}

/// The part of a plan document the built-in pack can find anything in: resource
/// changes and configuration of the types its rules read, and of resources whose
/// configuration could hold a literal secret; all variables and provider blocks. On a
/// large plan of other types this is most of the scan's cost saved (the rules would
/// skip those resources anyway).
pub fn relevant_part(doc: &serde_json::Value) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let types = pack_types();
    let mut kept = std::collections::HashSet::new();
    fn module(
        m: &Value,
        types: &std::collections::HashSet<String>,
        kept: &mut std::collections::HashSet<String>,
    ) -> Value {
        let resources: Vec<Value> = m["resources"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter(|r| {
                        let keep = r["type"].as_str().is_some_and(|t| types.contains(t))
                            || may_hold_secret(&r["expressions"]);
                        if keep {
                            if let Some(a) = r["address"].as_str() {
                                kept.insert(a.to_string());
                            }
                        }
                        keep
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let calls: Map<String, Value> = m["module_calls"]
            .as_object()
            .map(|cs| {
                cs.iter()
                    .map(|(name, c)| {
                        let mut c2 = Map::new();
                        c2.insert("source".into(), c["source"].clone());
                        c2.insert("expressions".into(), c["expressions"].clone());
                        c2.insert("module".into(), module(&c["module"], types, kept));
                        (name.clone(), Value::Object(c2))
                    })
                    .collect()
            })
            .unwrap_or_default();
        json!({ "resources": resources, "variables": m["variables"], "module_calls": calls })
    }
    let config = &doc["configuration"];
    let root = module(&config["root_module"], types, &mut kept);
    let changes: Vec<Value> = doc["resource_changes"]
        .as_array()
        .map(|rcs| {
            rcs.iter()
                .filter(|rc| {
                    rc["type"].as_str().is_some_and(|t| types.contains(t))
                        || rc["address"]
                            .as_str()
                            .is_some_and(|a| kept.contains(&declaration_key(a)))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    json!({
        "resource_changes": changes,
        "configuration": {
            "provider_config": config["provider_config"],
            "root_module": root,
        }
    })
}

/// How many rules the pack has.
pub fn rule_count() -> usize {
    catalog().len()
}

/// Whether a [`relevant_part`] holds nothing at all: no change, no resource, variable,
/// module call or provider block. On such an input the pack finds nothing (a test
/// checks it), so its compilation and first evaluation — about 15 ms, most of a small
/// scan — can be skipped.
pub fn nothing_to_scan(part: &serde_json::Value) -> bool {
    let empty = |v: &serde_json::Value| match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    };
    let root = &part["configuration"]["root_module"];
    let known = |v: &serde_json::Value, keys: &[&str]| {
        v.as_object()
            .is_some_and(|o| o.keys().all(|k| keys.contains(&k.as_str())))
    };
    known(part, &["resource_changes", "configuration"])
        && known(&part["configuration"], &["provider_config", "root_module"])
        && known(root, &["resources", "variables", "module_calls"])
        && empty(&part["resource_changes"])
        && empty(&part["configuration"]["provider_config"])
        && ["resources", "variables", "module_calls"]
            .iter()
            .all(|k| empty(&root[*k]))
}

/// Where an address (a resource without its index, `var.x`, `provider.aws`) is
/// declared, and the suppression comments on its block.
#[derive(Clone, Debug, Default)]
pub struct Declaration {
    pub file: String,
    pub line: usize,
    pub inline: Vec<InlineSuppression>,
}

/// `# terrane:ignore:RULE reason` in a block or on the line above it.
#[derive(Clone, Debug, PartialEq)]
pub struct InlineSuppression {
    pub rule: String,
    pub reason: String,
    pub line: usize,
}

/// What starts a suppression comment.
pub const IGNORE_MARK: &str = "terrane:ignore:";

/// Finds suppression comments (`#` or `//`) in numbered lines.
pub fn inline_suppressions<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
) -> Vec<InlineSuppression> {
    let mut out = Vec::new();
    for (n, line) in lines {
        let Some(at) = line.find(IGNORE_MARK) else {
            continue;
        };
        let before = line[..at].trim_end();
        if !(before.ends_with('#') || before.ends_with("//")) {
            continue;
        }
        let rest = &line[at + IGNORE_MARK.len()..];
        let (rule, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        out.push(InlineSuppression {
            rule: rule.trim().to_string(),
            reason: reason.trim().to_string(),
            line: n,
        });
    }
    out
}

/// A `suppress` block of the configuration's `scan` block.
#[derive(Clone, Debug)]
pub struct ConfigSuppression {
    pub rule: String,
    pub address: Option<String>,
    pub reason: String,
    /// `file:line` of the block, for messages.
    pub origin: String,
}

/// `aws_s3_bucket.b["x"]` → `aws_s3_bucket.b`; `module.m[0].aws_vpc.v` → `module.m.aws_vpc.v`.
pub fn declaration_key(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut depth = 0usize;
    let mut in_str = false;
    let mut prev = '\0';
    for c in address.chars() {
        match c {
            '"' if depth > 0 && prev != '\\' => in_str = !in_str,
            '[' if !in_str => depth += 1,
            ']' if !in_str => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
        prev = c;
    }
    out
}

/// The findings of one scan.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScanReport {
    pub findings: Vec<Finding>,
    /// How many resource instances and rules were checked.
    pub resources: usize,
    pub rules: usize,
}

impl ScanReport {
    /// Findings that are not suppressed.
    pub fn active(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.suppressed.is_none())
    }

    pub fn suppressed(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.suppressed.is_some())
    }

    /// Unsuppressed findings at or above `level`.
    pub fn failing(&self, level: Severity) -> usize {
        self.active().filter(|f| f.severity >= level).count()
    }
}

/// Joins raw findings with the catalog, places them and applies suppressions. Every
/// suppression must name a known rule and give a reason: otherwise the scan cannot be
/// trusted and the errors (with file and line) are returned instead.
pub fn finish(
    raw: Vec<RawFinding>,
    declarations: &BTreeMap<String, Declaration>,
    config: &[ConfigSuppression],
) -> Result<Vec<Finding>, Vec<String>> {
    let mut errors = Vec::new();
    for s in config {
        if rule(&s.rule).is_none() {
            errors.push(format!(
                "{}: the suppression names {:?}, which is not a rule of the built-in pack (see terrane scan --list-rules)",
                s.origin, s.rule
            ));
        }
    }
    for d in declarations.values() {
        for s in &d.inline {
            if rule(&s.rule).is_none() {
                errors.push(format!(
                    "{}:{}: the suppression comment names {:?}, which is not a rule of the built-in pack (see terrane scan --list-rules)",
                    d.file, s.line, s.rule
                ));
            } else if s.reason.is_empty() {
                errors.push(format!(
                    "{}:{}: the suppression of {} gives no reason; write it after the rule ID: # terrane:ignore:{} <why this is accepted>",
                    d.file, s.line, s.rule, s.rule
                ));
            }
        }
    }
    let mut out = Vec::new();
    for f in raw {
        let Some(meta) = rule(&f.rule) else {
            errors.push(format!(
                "the built-in pack reported {:?}, which is not in its catalog",
                f.rule
            ));
            continue;
        };
        let key = declaration_key(&f.address);
        let decl = declarations.get(&key);
        let inline = decl.and_then(|d| d.inline.iter().find(|s| s.rule == f.rule));
        let configured = config.iter().find(|s| {
            s.rule == f.rule
                && s.address
                    .as_deref()
                    .is_none_or(|a| a == f.address || a == key)
        });
        let suppressed = inline
            .map(|s| s.reason.clone())
            .or_else(|| configured.map(|s| s.reason.clone()));
        out.push(Finding {
            rule: meta.id.clone(),
            severity: meta.severity,
            title: meta.title.clone(),
            file: decl.map(|d| d.file.clone()),
            line: decl.map(|d| d.line),
            message: if f.message.is_empty() {
                meta.title.clone()
            } else {
                f.message
            },
            remediation: meta.remediation.clone(),
            address: f.address,
            suppressed,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.address.cmp(&b.address))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_parses_and_every_pack_rule_is_in_it() {
        let ids: Vec<&str> = catalog().iter().map(|r| r.id.as_str()).collect();
        assert!(ids.len() >= 18, "{ids:?}");
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "duplicate rule IDs");
        for (_, text) in PACK {
            for (at, _) in text.match_indices("\"TRN-") {
                let id: String = text[at + 1..].chars().take_while(|c| *c != '"').collect();
                assert!(ids.contains(&id.as_str()), "{id} is not in the catalog");
            }
        }
    }

    #[test]
    fn the_pack_finds_nothing_where_there_is_nothing_to_scan() {
        let mut s = Scanner::new().unwrap_or_else(|e| panic!("{e:?}"));
        let empties = [
            serde_json::Value::Null,
            serde_json::json!({}),
            serde_json::json!([]),
        ];
        for config in [
            serde_json::Value::Null,
            serde_json::json!({}),
            serde_json::json!([]),
        ] {
            for vars in &empties {
                for calls in [serde_json::Value::Null, serde_json::json!({})] {
                    let part = relevant_part(&serde_json::json!({
                        "resource_changes": [],
                        "configuration": {"provider_config": config,
                            "root_module": {"resources": [], "variables": vars, "module_calls": calls}},
                    }));
                    assert!(nothing_to_scan(&part), "{part}");
                    let raw = s
                        .run(&crate::rego::input_value(part))
                        .unwrap_or_else(|e| panic!("{e:?}"));
                    assert!(raw.is_empty());
                }
            }
        }
        // Anything in it is scanned.
        for doc in [
            serde_json::json!({"resource_changes": [{"address": "aws_s3_bucket.b", "type": "aws_s3_bucket"}]}),
            serde_json::json!({"configuration": {"provider_config": {"aws": {"name": "aws"}}}}),
            serde_json::json!({"configuration": {"root_module": {"variables": {"db_password": {}}}}}),
            serde_json::json!({"configuration": {"root_module": {"module_calls": {"m": {}}}}}),
        ] {
            assert!(!nothing_to_scan(&relevant_part(&doc)), "{doc}");
        }
    }

    #[test]
    fn the_pack_compiles() {
        let s = Scanner::new().unwrap_or_else(|e| panic!("{e:?}"));
        assert!(!s.queries.is_empty());
    }

    #[test]
    fn the_relevant_part_keeps_what_the_rules_read() {
        let doc = serde_json::json!({
            "resource_changes": [
                {"address": "null_resource.n[0]", "type": "null_resource"},
                {"address": "aws_s3_bucket.b", "type": "aws_s3_bucket"},
                {"address": "aws_s3_bucket_versioning.v", "type": "aws_s3_bucket_versioning"},
                {"address": "null_resource.creds", "type": "null_resource"},
            ],
            "configuration": {"root_module": {
                "resources": [
                    {"address": "null_resource.n", "type": "null_resource",
                     "expressions": {"triggers": {"references": ["x.y"]}}},
                    {"address": "null_resource.creds", "type": "null_resource",
                     "expressions": {"triggers": {"constant_value": {"DB_PASSWORD": "x"}}}},
                    {"address": "aws_s3_bucket.b", "type": "aws_s3_bucket", "expressions": {}},
                ],
                "variables": {"v": {}},
            }},
        });
        let part = relevant_part(&doc);
        let addrs: Vec<&str> = part["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["address"].as_str().unwrap())
            .collect();
        assert_eq!(
            addrs,
            [
                "aws_s3_bucket.b",
                "aws_s3_bucket_versioning.v",
                "null_resource.creds"
            ]
        );
        assert_eq!(
            part["configuration"]["root_module"]["resources"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert!(part["configuration"]["root_module"]["variables"]["v"].is_object());
    }

    #[test]
    fn declaration_keys_drop_instance_keys() {
        assert_eq!(declaration_key("aws_s3_bucket.b"), "aws_s3_bucket.b");
        assert_eq!(declaration_key("aws_s3_bucket.b[3]"), "aws_s3_bucket.b");
        assert_eq!(
            declaration_key("aws_s3_bucket.b[\"a]b\"]"),
            "aws_s3_bucket.b"
        );
        assert_eq!(
            declaration_key("module.m[0].aws_vpc.v[\"x\"]"),
            "module.m.aws_vpc.v"
        );
    }

    #[test]
    fn suppression_comments_are_found_with_their_reason() {
        let text = "resource \"aws_s3_bucket\" \"b\" {\n  # terrane:ignore:TRN-S3-002 logs are write-once\n  bucket = \"x\" // terrane:ignore:TRN-S3-003\n  tag = \"terrane:ignore:TRN-S3-001 not a comment\"\n}\n";
        let found = inline_suppressions(text.lines().enumerate().map(|(i, l)| (i + 1, l)));
        assert_eq!(
            found,
            vec![
                InlineSuppression {
                    rule: "TRN-S3-002".into(),
                    reason: "logs are write-once".into(),
                    line: 2
                },
                InlineSuppression {
                    rule: "TRN-S3-003".into(),
                    reason: String::new(),
                    line: 3
                },
            ]
        );
    }

    fn raw(rule: &str, address: &str) -> RawFinding {
        RawFinding {
            rule: rule.into(),
            address: address.into(),
            message: String::new(),
        }
    }

    #[test]
    fn suppressions_must_name_a_known_rule_and_give_a_reason() {
        let mut decls = BTreeMap::new();
        decls.insert(
            "aws_s3_bucket.b".to_string(),
            Declaration {
                file: "main.tf".into(),
                line: 4,
                inline: vec![InlineSuppression {
                    rule: "TRN-NOPE-1".into(),
                    reason: "x".into(),
                    line: 5,
                }],
            },
        );
        let errs = finish(vec![], &decls, &[]).unwrap_err();
        assert!(
            errs[0].starts_with("main.tf:5:") && errs[0].contains("TRN-NOPE-1"),
            "{errs:?}"
        );

        decls.get_mut("aws_s3_bucket.b").unwrap().inline[0] = InlineSuppression {
            rule: catalog()[0].id.clone(),
            reason: String::new(),
            line: 6,
        };
        let errs = finish(vec![], &decls, &[]).unwrap_err();
        assert!(errs[0].contains("gives no reason"), "{errs:?}");
    }

    #[test]
    fn findings_are_placed_suppressed_and_ordered_by_severity() {
        let (low, high) = {
            let mut c: Vec<&RuleMeta> = catalog().iter().collect();
            c.sort_by_key(|r| r.severity);
            (c[0].clone(), c[c.len() - 1].clone())
        };
        let mut decls = BTreeMap::new();
        decls.insert(
            "aws_x.a".to_string(),
            Declaration {
                file: "main.tf".into(),
                line: 7,
                inline: vec![],
            },
        );
        let config = [ConfigSuppression {
            rule: high.id.clone(),
            address: Some("aws_x.a[1]".into()),
            reason: "accepted".into(),
            origin: "main.tf:20".into(),
        }];
        let out = finish(
            vec![
                raw(&low.id, "aws_x.a[0]"),
                raw(&high.id, "aws_x.a[0]"),
                raw(&high.id, "aws_x.a[1]"),
            ],
            &decls,
            &config,
        )
        .unwrap();
        assert_eq!(out[0].severity, high.severity);
        assert_eq!(out[0].address, "aws_x.a[0]");
        assert_eq!(out[0].suppressed, None);
        assert_eq!(out[1].suppressed.as_deref(), Some("accepted"));
        assert_eq!(
            (out[2].file.as_deref(), out[2].line),
            (Some("main.tf"), Some(7))
        );
        assert_eq!(out[2].rule, low.id);
    }
}
