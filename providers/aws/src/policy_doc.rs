//! Data sources that are pure computation, as public modules use them:
//! `aws_iam_policy_document` (an IAM policy as JSON, byte for byte as the AWS
//! provider writes it), `aws_partition` and `aws_region`.

use async_trait::async_trait;
use serde_json::{json, Map, Value as Json};
use terrane_core::{Type, Value};
use terrane_provider::{
    AttrSchema, BlockSchema, DataSource, Dispatch, ProviderError, Result, Schema,
};

use crate::context::Aws;
use crate::util::set;

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.data_source("aws_iam_policy_document", PolicyDocument)
        .data_source("aws_partition", Partition)
        .data_source("aws_region", Region)
}

fn strings() -> Type {
    Type::Set(Box::new(Type::String))
}

fn principals() -> BlockSchema {
    BlockSchema::set(
        Schema::new()
            .attr("type", AttrSchema::required(Type::String))
            .attr("identifiers", AttrSchema::required(strings())),
    )
}

pub struct PolicyDocument;

#[async_trait]
impl DataSource<Aws> for PolicyDocument {
    fn schema(&self) -> Schema {
        let list = Type::List(Box::new(Type::String));
        Schema::new()
            .attr("version", AttrSchema::optional(Type::String))
            .attr("policy_id", AttrSchema::optional(Type::String))
            .attr(
                "source_policy_documents",
                AttrSchema::optional(list.clone()),
            )
            .attr(
                "override_policy_documents",
                AttrSchema::optional(list.clone()),
            )
            .attr("json", AttrSchema::computed(Type::String))
            .attr("minified_json", AttrSchema::computed(Type::String))
            .attr("id", AttrSchema::computed(Type::String))
            .block(
                "statement",
                BlockSchema::list(
                    Schema::new()
                        .attr("sid", AttrSchema::optional(Type::String))
                        .attr("effect", AttrSchema::optional(Type::String))
                        .attr("actions", AttrSchema::optional(strings()))
                        .attr("not_actions", AttrSchema::optional(strings()))
                        .attr("resources", AttrSchema::optional(strings()))
                        .attr("not_resources", AttrSchema::optional(strings()))
                        .block("principals", principals())
                        .block("not_principals", principals())
                        .block(
                            "condition",
                            BlockSchema::set(
                                Schema::new()
                                    .attr("test", AttrSchema::required(Type::String))
                                    .attr("variable", AttrSchema::required(Type::String))
                                    .attr("values", AttrSchema::required(list)),
                            ),
                        ),
                ),
            )
    }

    async fn read(&self, _aws: &Aws, mut config: Value) -> Result<Value> {
        let doc = document(&config).map_err(ProviderError::config)?;
        let pretty = go_json(&serde_json::to_string_pretty(&doc).unwrap_or_default());
        let minified = go_json(&doc.to_string());
        let id = crc32fast::hash(pretty.as_bytes()).to_string();
        if config.get("version").is_none_or(Value::is_null) {
            set(&mut config, "version", Value::from("2012-10-17"));
        }
        set(&mut config, "json", Value::String(pretty));
        set(&mut config, "minified_json", Value::String(minified));
        set(&mut config, "id", Value::String(id));
        Ok(config)
    }
}

/// A policy document being merged: its version, id and statements (each a JSON object
/// with keys in the order the provider writes them).
#[derive(Default)]
struct Doc {
    version: String,
    id: String,
    statements: Vec<Map<String, Json>>,
}

impl Doc {
    /// Merges `other` in as the provider does: its id wins, a later version wins, and
    /// a statement replaces the one with the same `Sid` or is appended.
    fn merge(&mut self, other: Doc) {
        if !other.id.is_empty() {
            self.id = other.id;
        }
        if other.version > self.version {
            self.version = other.version;
        }
        for st in other.statements {
            let sid = st.get("Sid").and_then(Json::as_str).unwrap_or_default();
            let same = (!sid.is_empty())
                .then(|| {
                    self.statements
                        .iter()
                        .position(|s| s.get("Sid").and_then(Json::as_str) == Some(sid))
                })
                .flatten();
            match same {
                Some(i) => self.statements[i] = st,
                None => self.statements.push(st),
            }
        }
    }

    fn to_json(&self) -> Json {
        let mut m = Map::new();
        if !self.version.is_empty() {
            m.insert("Version".into(), json!(self.version));
        }
        if !self.id.is_empty() {
            m.insert("Id".into(), json!(self.id));
        }
        if !self.statements.is_empty() {
            let sts = self.statements.iter().cloned().map(Json::Object).collect();
            m.insert("Statement".into(), Json::Array(sts));
        }
        Json::Object(m)
    }
}

fn str_of<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

fn list_of(v: &Value, name: &str) -> Vec<String> {
    match v.get(name).map(|x| x.unmark().0) {
        Some(Value::List(items) | Value::Set(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn blocks<'a>(v: &'a Value, name: &str) -> Vec<&'a Value> {
    match v.get(name) {
        Some(Value::List(items) | Value::Set(items)) => items.iter().collect(),
        _ => Vec::new(),
    }
}

/// The merged document: the source documents, this one's statements, then the
/// override documents.
fn document(config: &Value) -> std::result::Result<Json, String> {
    let version = str_of(config, "version")
        .unwrap_or("2012-10-17")
        .to_string();
    if !["2008-10-17", "2012-10-17"].contains(&version.as_str()) {
        return Err(format!(
            "version must be 2012-10-17 or 2008-10-17, got {version:?}"
        ));
    }
    let mut merged = Doc::default();
    let mut seen_sids = std::collections::BTreeSet::new();
    for (i, text) in list_of(config, "source_policy_documents")
        .iter()
        .enumerate()
    {
        let doc = parse_doc(text).map_err(|e| format!("merging source document {i}: {e}"))?;
        for (n, st) in doc.statements.iter().enumerate() {
            if let Some(sid) = st
                .get("Sid")
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
            {
                if !seen_sids.insert(sid.to_string()) {
                    return Err(format!("merging source document {i}: duplicate Sid ({sid}) in source_policy_documents (statement {n}). Remove the Sid or make the Sids unique"));
                }
            }
        }
        merged.merge(doc);
    }
    let mut doc = Doc {
        version: version.clone(),
        id: str_of(config, "policy_id").unwrap_or_default().to_string(),
        statements: Vec::new(),
    };
    let mut sids = std::collections::BTreeSet::new();
    for st in blocks(config, "statement") {
        let sid = str_of(st, "sid").unwrap_or_default();
        if !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "statement sid {sid:?} must only include alphanumeric characters"
            ));
        }
        if !sid.is_empty() && !sids.insert(sid.to_string()) {
            return Err(format!(
                "duplicate Sid ({sid}). Remove the Sid or make it unique"
            ));
        }
        let effect = str_of(st, "effect").unwrap_or("Allow");
        if effect != "Allow" && effect != "Deny" {
            return Err(format!(
                "statement effect must be Allow or Deny, got {effect:?}"
            ));
        }
        let mut m = Map::new();
        if !sid.is_empty() {
            m.insert("Sid".into(), json!(sid));
        }
        m.insert("Effect".into(), json!(effect));
        for (attr, key, vars) in [
            ("actions", "Action", false),
            ("not_actions", "NotAction", false),
            ("resources", "Resource", true),
            ("not_resources", "NotResource", true),
        ] {
            let items = list_of(st, attr);
            if !items.is_empty() {
                m.insert(key.into(), one_or_many(substitute(items, vars, &version)?));
            }
        }
        for (block, key) in [
            ("principals", "Principal"),
            ("not_principals", "NotPrincipal"),
        ] {
            let ps = blocks(st, block);
            if !ps.is_empty() {
                m.insert(key.into(), principal_json(&ps, &version)?);
            }
        }
        let conds = blocks(st, "condition");
        if !conds.is_empty() {
            m.insert("Condition".into(), condition_json(&conds, &version)?);
        }
        doc.statements.push(m);
    }
    merged.merge(doc);
    for (i, text) in list_of(config, "override_policy_documents")
        .iter()
        .enumerate()
    {
        let doc = parse_doc(text).map_err(|e| format!("merging override document {i}: {e}"))?;
        merged.merge(doc);
    }
    Ok(merged.to_json())
}

/// A set of strings as the provider writes it: one string alone, else the distinct
/// strings in reverse order.
fn one_or_many(mut items: Vec<String>) -> Json {
    items.sort();
    items.dedup();
    if items.len() == 1 {
        return json!(items[0]);
    }
    items.reverse();
    json!(items)
}

/// `&{aws:username}` is how a configuration writes the policy variable `${aws:username}`
/// (HCL would interpolate the latter); version 2008-10-17 has no policy variables.
fn substitute(
    items: Vec<String>,
    vars: bool,
    version: &str,
) -> std::result::Result<Vec<String>, String> {
    if !vars {
        return Ok(items);
    }
    items
        .into_iter()
        .map(|s| {
            if version == "2008-10-17" && s.contains("&{") {
                Err(format!("found &{{ sequence in ({s}), which is not supported in document version 2008-10-17"))
            } else {
                Ok(s.replace("&{", "${"))
            }
        })
        .collect()
}

/// `principals` blocks: identifiers by type (types in order, a type's identifiers in
/// reverse order, one alone as a string); a single `*` of type `*` is `"*"`.
fn principal_json(blocks: &[&Value], version: &str) -> std::result::Result<Json, String> {
    let mut by_type: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for b in blocks {
        let ty = str_of(b, "type").unwrap_or_default().to_string();
        let ids = substitute(list_of(b, "identifiers"), true, version)?;
        if blocks.len() == 1 && ty == "*" && ids == ["*"] {
            return Ok(json!("*"));
        }
        let mut ids = ids;
        ids.sort();
        ids.dedup();
        ids.reverse();
        by_type.entry(ty).or_default().extend(ids);
    }
    Ok(Json::Object(
        by_type
            .into_iter()
            .map(|(t, ids)| {
                let v = if ids.len() == 1 {
                    json!(ids[0])
                } else {
                    json!(ids)
                };
                (t, v)
            })
            .collect(),
    ))
}

/// `condition` blocks: values by test and variable (both in order), values in the order
/// written, one alone as a string.
fn condition_json(blocks: &[&Value], version: &str) -> std::result::Result<Json, String> {
    let mut by_test: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, Vec<String>>,
    > = Default::default();
    for b in blocks {
        let test = str_of(b, "test").unwrap_or_default().to_string();
        let var = str_of(b, "variable").unwrap_or_default().to_string();
        let values = substitute(list_of(b, "values"), true, version)?;
        by_test
            .entry(test)
            .or_default()
            .entry(var)
            .or_default()
            .extend(values);
    }
    Ok(Json::Object(
        by_test
            .into_iter()
            .map(|(test, vars)| {
                let vars = vars
                    .into_iter()
                    .map(|(k, v)| (k, if v.len() == 1 { json!(v[0]) } else { json!(v) }))
                    .collect();
                (test, Json::Object(vars))
            })
            .collect(),
    ))
}

/// A policy document given as JSON (a source or override document), its statements
/// in the provider's key order and forms.
fn parse_doc(text: &str) -> std::result::Result<Doc, String> {
    let j: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let field = |k: &str| {
        j.get(k)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let statements = match j.get("Statement") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items
            .iter()
            .map(statement_from_json)
            .collect::<std::result::Result<_, _>>()?,
        Some(one) => vec![statement_from_json(one)?],
    };
    Ok(Doc {
        version: field("Version"),
        id: field("Id"),
        statements,
    })
}

fn statement_from_json(s: &Json) -> std::result::Result<Map<String, Json>, String> {
    let Json::Object(o) = s else {
        return Err("a statement is not a JSON object".into());
    };
    let mut m = Map::new();
    for key in ["Sid", "Effect"] {
        if let Some(v) = o
            .get(key)
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        {
            m.insert(key.into(), v.clone());
        }
    }
    for key in ["Action", "NotAction", "Resource", "NotResource"] {
        match o.get(key) {
            None | Some(Json::Null) => {}
            Some(Json::Array(a)) if a.is_empty() => {}
            Some(v) => {
                m.insert(key.into(), v.clone());
            }
        }
    }
    for key in ["Principal", "NotPrincipal"] {
        match o.get(key) {
            None | Some(Json::Null) => {}
            Some(Json::String(_)) => {
                m.insert(key.into(), json!("*"));
            }
            Some(Json::Object(p)) => {
                let mut out = Map::new();
                let mut keys: Vec<&String> = p.keys().collect();
                keys.sort();
                for k in keys {
                    let v = match &p[k] {
                        Json::Array(ids) => {
                            let mut ids: Vec<String> = ids
                                .iter()
                                .filter_map(|i| i.as_str().map(str::to_string))
                                .collect();
                            ids.sort();
                            ids.reverse();
                            json!(ids)
                        }
                        other => other.clone(),
                    };
                    out.insert(k.clone(), v);
                }
                m.insert(key.into(), Json::Object(out));
            }
            Some(other) => return Err(format!("{key} must be \"*\" or an object, got {other}")),
        }
    }
    if let Some(Json::Object(c)) = o.get("Condition") {
        let mut out = Map::new();
        let mut tests: Vec<&String> = c.keys().collect();
        tests.sort();
        for t in tests {
            let Json::Object(vars) = &c[t] else { continue };
            let mut vm = Map::new();
            let mut names: Vec<&String> = vars.keys().collect();
            names.sort();
            for n in names {
                let v = match &vars[n] {
                    Json::Bool(b) => json!(b.to_string()),
                    Json::Array(a) if a.len() == 1 => a[0].clone(),
                    other => other.clone(),
                };
                vm.insert(n.clone(), v);
            }
            out.insert(t.clone(), Json::Object(vm));
        }
        if !out.is_empty() {
            m.insert("Condition".into(), Json::Object(out));
        }
    }
    Ok(m)
}

/// JSON text as Go's encoder writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped.
fn go_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `aws_partition`: the partition of the provider's region and its DNS names.
pub struct Partition;

/// A region's partition: (partition, DNS suffix, reverse DNS prefix).
fn partition_of(region: &str) -> (&'static str, &'static str, &'static str) {
    if region.starts_with("cn-") {
        ("aws-cn", "amazonaws.com.cn", "cn.com.amazonaws")
    } else if region.starts_with("us-gov-") {
        ("aws-us-gov", "amazonaws.com", "com.amazonaws")
    } else if region.starts_with("us-isob-") {
        ("aws-iso-b", "sc2s.sgov.gov", "gov.sgov.sc2s")
    } else if region.starts_with("us-iso-") {
        ("aws-iso", "c2s.ic.gov", "gov.ic.c2s")
    } else {
        ("aws", "amazonaws.com", "com.amazonaws")
    }
}

#[async_trait]
impl DataSource<Aws> for Partition {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("id", AttrSchema::computed(Type::String))
            .attr("partition", AttrSchema::computed(Type::String))
            .attr("dns_suffix", AttrSchema::computed(Type::String))
            .attr("reverse_dns_prefix", AttrSchema::computed(Type::String))
    }

    async fn read(&self, aws: &Aws, mut config: Value) -> Result<Value> {
        let (partition, dns, reverse) = partition_of(&aws.region());
        set(&mut config, "id", Value::from(partition));
        set(&mut config, "partition", Value::from(partition));
        set(&mut config, "dns_suffix", Value::from(dns));
        set(&mut config, "reverse_dns_prefix", Value::from(reverse));
        Ok(config)
    }
}

/// `aws_region`: the provider's region (or the one named), with its EC2 endpoint.
pub struct Region;

#[async_trait]
impl DataSource<Aws> for Region {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("id", AttrSchema::computed(Type::String))
            .attr("name", AttrSchema::optional_computed(Type::String))
            .attr("region", AttrSchema::optional_computed(Type::String))
            .attr("endpoint", AttrSchema::optional_computed(Type::String))
            .attr("description", AttrSchema::computed(Type::String))
    }

    async fn read(&self, aws: &Aws, mut config: Value) -> Result<Value> {
        let region = str_of(&config, "region")
            .or_else(|| str_of(&config, "name"))
            .map(str::to_string)
            .unwrap_or_else(|| aws.region());
        if !crate::context::valid_region(&region) {
            return Err(ProviderError::config(format!(
                "{region:?} is not an AWS region"
            )));
        }
        let (_, dns, _) = partition_of(&region);
        set(&mut config, "id", Value::from(region.as_str()));
        set(&mut config, "name", Value::from(region.as_str()));
        set(&mut config, "region", Value::from(region.as_str()));
        set(
            &mut config,
            "endpoint",
            Value::String(format!("ec2.{region}.{dns}")),
        );
        set(
            &mut config,
            "description",
            Value::String(crate::context::region_description(&region)),
        );
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document a configuration (given as JSON) makes, pretty-printed.
    fn pretty(config: Json) -> String {
        let doc = document(&Value::from_json(&config)).unwrap();
        go_json(&serde_json::to_string_pretty(&doc).unwrap())
    }

    fn stmt(sid: &str, actions: &[&str], resources: &[&str]) -> Json {
        json!({"sid": sid, "actions": actions, "resources": resources})
    }

    // The expected texts are the AWS provider documentation's examples, as the
    // provider writes them today (an empty Sid is left out; the documentation still
    // shows `"Sid": ""` from older versions).
    #[test]
    fn the_documented_examples_come_out_as_the_provider_writes_them() {
        let multi = pretty(json!({"statement": [{
        "actions": ["kms:Decrypt", "kms:GenerateDataKey"], "resources": ["*"],
        "condition": [
            {"test": "ForAnyValue:StringEquals", "variable": "kms:EncryptionContext:service", "values": ["pi"]},
            {"test": "ForAnyValue:StringEquals", "variable": "kms:EncryptionContext:aws:pi:service", "values": ["rds"]}
        ]}]}));
        assert_eq!(
            multi,
            r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "kms:GenerateDataKey",
        "kms:Decrypt"
      ],
      "Resource": "*",
      "Condition": {
        "ForAnyValue:StringEquals": {
          "kms:EncryptionContext:aws:pi:service": "rds",
          "kms:EncryptionContext:service": "pi"
        }
      }
    }
  ]
}"#
        );
        let source = pretty(
            json!({"statement": [stmt("", &["ec2:*"], &["*"]), stmt("SidToOverride", &["s3:*"], &["*"])]}),
        );
        let with_source = pretty(json!({
            "source_policy_documents": [source],
            "statement": [stmt("SidToOverride", &["s3:*"], &["arn:aws:s3:::somebucket", "arn:aws:s3:::somebucket/*"])]
        }));
        assert_eq!(
            with_source,
            r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "ec2:*",
      "Resource": "*"
    },
    {
      "Sid": "SidToOverride",
      "Effect": "Allow",
      "Action": "s3:*",
      "Resource": [
        "arn:aws:s3:::somebucket/*",
        "arn:aws:s3:::somebucket"
      ]
    }
  ]
}"#
        );
        let over =
            pretty(json!({"statement": [stmt("OverridePlaceholder", &["s3:GetObject"], &["*"])]}));
        let src = pretty(
            json!({"statement": [stmt("OverridePlaceholder", &["ec2:DescribeAccountAttributes"], &["*"])]}),
        );
        let politik =
            pretty(json!({"source_policy_documents": [src], "override_policy_documents": [over]}));
        assert_eq!(
            politik,
            r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "OverridePlaceholder",
      "Effect": "Allow",
      "Action": "s3:GetObject",
      "Resource": "*"
    }
  ]
}"#
        );
    }

    #[test]
    fn principals_variables_and_escapes() {
        let doc = pretty(json!({"statement": [{
            "actions": ["s3:GetObject"],
            "resources": ["arn:aws:s3:::b/home/&{aws:username}/*"],
            "principals": [{"type": "*", "identifiers": ["*"]}],
            "condition": [{"test": "StringLike", "variable": "aws:Referer", "values": ["<a&b>", "z"]}]
        }]}));
        assert!(doc.contains(r#""Principal": "*""#), "{doc}");
        assert!(doc.contains("home/${aws:username}/*"), "{doc}");
        assert!(doc.contains(r#""\u003ca\u0026b\u003e","#), "{doc}");
        let e = document(&Value::from_json(
            &json!({"statement": [stmt("A", &["x"], &["*"]), stmt("A", &["y"], &["*"])]}),
        ))
        .unwrap_err();
        assert!(e.contains("duplicate Sid (A)"), "{e}");
        let e = document(&Value::from_json(&json!({"version": "2008-10-17", "statement": [stmt("", &["x"], &["a/&{aws:username}"])]}))).unwrap_err();
        assert!(
            e.contains("not supported in document version 2008-10-17"),
            "{e}"
        );
    }
}
