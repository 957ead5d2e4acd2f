//! A provider's schema as JSON, and a provider that has only that schema.
//!
//! Validation, the security scan and pricing need a provider's schema, not its code.
//! A build without a provider's code (terrane without the `aws` feature, which leaves
//! out the AWS SDK) registers a [`SchemaOnly`] factory made from the schema snapshot
//! the provider's own tests keep current. It plans by its schema; every call that would
//! reach the cloud fails with a message saying how to get the full provider.
//!
//! Types are written as Terraform writes them in `providers schema -json`: `"string"`,
//! `["list", T]`, `["object", {NAME: T}]`, with object attributes that are optional
//! listed in a third element.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value as Json};
use terrane_core::types::{type_from, type_json};
use terrane_core::Value;

use crate::{
    AttrSchema, BlockSchema, Nesting, Provider, ProviderError, ProviderFactory, ProviderSchema,
    Result, Schema,
};

/// The JSON form of a provider's schema (descriptions are left out).
pub fn to_json(p: &ProviderSchema) -> Json {
    let map = |m: &BTreeMap<String, Schema>| -> Json {
        Json::Object(m.iter().map(|(k, s)| (k.clone(), schema_json(s))).collect())
    };
    json!({
        "format_version": 1,
        "provider": schema_json(&p.provider),
        "resource_schemas": map(&p.resources),
        "data_source_schemas": map(&p.data_sources),
    })
}

/// Reads a schema written by [`to_json`].
pub fn from_json(j: &Json) -> std::result::Result<ProviderSchema, String> {
    if j["format_version"] != 1 {
        return Err(format!(
            "unsupported schema format_version {}",
            j["format_version"]
        ));
    }
    let map = |key: &str| -> std::result::Result<BTreeMap<String, Schema>, String> {
        j[key]
            .as_object()
            .ok_or_else(|| format!("{key} is not an object"))?
            .iter()
            .map(|(k, s)| Ok((k.clone(), schema_from(s).map_err(|e| format!("{k}: {e}"))?)))
            .collect()
    };
    Ok(ProviderSchema {
        provider: schema_from(&j["provider"])?,
        resources: map("resource_schemas")?,
        data_sources: map("data_source_schemas")?,
    })
}

fn schema_json(s: &Schema) -> Json {
    let attrs: serde_json::Map<String, Json> = s
        .attributes
        .iter()
        .map(|(k, a)| {
            let mut o = serde_json::Map::new();
            o.insert("type".into(), type_json(&a.ty));
            for (flag, on) in [
                ("required", a.required),
                ("optional", a.optional),
                ("computed", a.computed),
                ("sensitive", a.sensitive),
                ("force_new", a.force_new),
            ] {
                if on {
                    o.insert(flag.into(), Json::Bool(true));
                }
            }
            (k.clone(), Json::Object(o))
        })
        .collect();
    let blocks: serde_json::Map<String, Json> = s
        .blocks
        .iter()
        .map(|(k, b)| {
            let mut o = serde_json::Map::new();
            o.insert(
                "nesting".into(),
                Json::from(match b.nesting {
                    Nesting::Single => "single",
                    Nesting::List => "list",
                    Nesting::Set => "set",
                    Nesting::Map => "map",
                    Nesting::Group => "group",
                }),
            );
            if b.force_new {
                o.insert("force_new".into(), Json::Bool(true));
            }
            o.insert("block".into(), schema_json(&b.schema));
            (k.clone(), Json::Object(o))
        })
        .collect();
    json!({ "attributes": attrs, "block_types": blocks })
}

fn schema_from(j: &Json) -> std::result::Result<Schema, String> {
    let mut s = Schema::new();
    for (k, a) in j["attributes"].as_object().into_iter().flatten() {
        let flag = |f: &str| a[f].as_bool().unwrap_or(false);
        s.attributes.insert(
            k.clone(),
            AttrSchema {
                ty: type_from(&a["type"]).map_err(|e| format!("attribute {k}: {e}"))?,
                required: flag("required"),
                optional: flag("optional"),
                computed: flag("computed"),
                sensitive: flag("sensitive"),
                force_new: flag("force_new"),
                description: "",
            },
        );
    }
    for (k, b) in j["block_types"].as_object().into_iter().flatten() {
        let nesting = match b["nesting"].as_str() {
            Some("single") => Nesting::Single,
            Some("list") => Nesting::List,
            Some("set") => Nesting::Set,
            Some("map") => Nesting::Map,
            Some("group") => Nesting::Group,
            other => return Err(format!("block {k}: unknown nesting {other:?}")),
        };
        s.blocks.insert(
            k.clone(),
            BlockSchema {
                nesting,
                schema: schema_from(&b["block"]).map_err(|e| format!("block {k}: {e}"))?,
                force_new: b["force_new"].as_bool().unwrap_or(false),
            },
        );
    }
    Ok(s)
}

/// A provider known only by its schema (see the module docs).
pub struct SchemaOnly {
    name: String,
    /// Read at the first use: a process that never looks at the provider's types (the
    /// agent, `state list`) does not pay for reading the snapshot.
    schema: std::sync::OnceLock<ProviderSchema>,
    load: fn() -> ProviderSchema,
    /// Why the provider cannot act, and how to get one that can.
    why: String,
}

impl SchemaOnly {
    /// A provider whose schema `load` gives when it is first needed.
    pub fn new(name: &str, load: fn() -> ProviderSchema, why: String) -> SchemaOnly {
        SchemaOnly {
            name: name.to_string(),
            schema: std::sync::OnceLock::new(),
            load,
            why,
        }
    }
}

impl ProviderFactory for SchemaOnly {
    fn name(&self) -> &str {
        &self.name
    }

    fn schema(&self) -> &ProviderSchema {
        self.schema.get_or_init(self.load)
    }

    fn configure(&self, _: &Value) -> Result<Arc<dyn Provider>> {
        Ok(Arc::new(NoCalls {
            why: self.why.clone(),
        }))
    }

    fn schema_only(&self) -> Option<&str> {
        Some(&self.why)
    }
}

/// Plans by the schema (the trait's default); refuses every call to the cloud.
struct NoCalls {
    why: String,
}

impl NoCalls {
    fn refuse<T>(&self) -> Result<T> {
        Err(ProviderError::config(self.why.clone()))
    }
}

#[async_trait]
impl Provider for NoCalls {
    async fn create(&self, _: &str, _: Value) -> Result<Value> {
        self.refuse()
    }

    async fn read(&self, _: &str, _: Value) -> Result<Option<Value>> {
        self.refuse()
    }

    async fn update(&self, _: &str, _: Value, _: Value) -> Result<Value> {
        self.refuse()
    }

    async fn delete(&self, _: &str, _: Value) -> Result<()> {
        self.refuse()
    }

    async fn import(&self, _: &str, _: &str) -> Result<Value> {
        self.refuse()
    }

    async fn read_data(&self, _: &str, _: Value) -> Result<Value> {
        self.refuse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use terrane_core::types::ObjectAttr;
    use terrane_core::Type;

    #[test]
    fn a_schema_survives_the_round_trip() {
        let mut attrs = BTreeMap::new();
        attrs.insert(
            "port".to_string(),
            ObjectAttr {
                ty: Type::Number,
                optional: true,
                default: Some(Value::from(80.0)),
            },
        );
        attrs.insert(
            "cidrs".to_string(),
            ObjectAttr {
                ty: Type::List(Box::new(Type::String)),
                optional: false,
                default: None,
            },
        );
        let rule = Schema::new()
            .attr("from", AttrSchema::required(Type::Object(attrs)))
            .attr(
                "tags",
                AttrSchema::optional(Type::Map(Box::new(Type::String))),
            )
            .attr("secret", AttrSchema::optional(Type::String).sensitive())
            .attr(
                "id",
                AttrSchema::computed(Type::Tuple(vec![Type::Bool, Type::Any])),
            );
        let p = ProviderSchema {
            provider: Schema::new().attr("region", AttrSchema::optional(Type::String)),
            resources: BTreeMap::from([(
                "x_group".to_string(),
                Schema::new()
                    .attr("name", AttrSchema::required(Type::String).force_new())
                    .block("rule", BlockSchema::list(rule.clone()))
                    .block(
                        "meta",
                        BlockSchema {
                            force_new: true,
                            ..BlockSchema::single(Schema::new())
                        },
                    ),
            )]),
            data_sources: BTreeMap::from([("x_thing".to_string(), rule)]),
        };
        let back = from_json(&to_json(&p)).unwrap();
        assert_eq!(back.provider, p.provider);
        assert_eq!(back.resources, p.resources);
        assert_eq!(back.data_sources, p.data_sources);
    }
}
