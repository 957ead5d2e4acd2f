//! A plugin's schemas, mapped onto terrane's.

use std::collections::BTreeMap;

use prost::Message;
use terrane_core::types::{type_from, ObjectAttr};
use terrane_core::Type;
use terrane_provider::{AttrSchema, BlockSchema, Nesting, ProviderSchema, Schema};

use crate::proto::tfplugin5 as v5;
use crate::proto::tfplugin6 as v6;

/// Everything a plugin declares, in terrane's terms, with what terrane needs beside it.
#[derive(Clone, Debug, Default)]
pub struct PluginSchema {
    pub schema: ProviderSchema,
    /// The provider's functions (`provider::NAME::FUNC`).
    pub functions: BTreeMap<String, v6::Function>,
    /// The schemas as the plugin sent them, for `terrane providers schema -json`.
    pub raw: v6::get_provider_schema::Response,
}

/// Maps the plugin's answer to GetProviderSchema.
pub fn from_response(r: v6::get_provider_schema::Response) -> Result<PluginSchema, String> {
    let block = |s: &Option<v6::Schema>, what: &str| -> Result<Schema, String> {
        match s.as_ref().and_then(|s| s.block.as_ref()) {
            Some(b) => block_schema(b).map_err(|e| format!("{what}: {e}")),
            None => Ok(Schema::new()),
        }
    };
    let mut out = PluginSchema {
        functions: r.functions.clone().into_iter().collect(),
        ..PluginSchema::default()
    };
    out.schema.provider = block(&r.provider, "the provider configuration")?;
    for (name, s) in &r.resource_schemas {
        let mut schema = block(&Some(s.clone()), name)?;
        schema.version = u64::try_from(s.version).unwrap_or(0);
        out.schema.resources.insert(name.clone(), schema);
    }
    for (name, s) in &r.data_source_schemas {
        out.schema
            .data_sources
            .insert(name.clone(), block(&Some(s.clone()), name)?);
    }
    out.raw = r;
    Ok(out)
}

fn block_schema(b: &v6::schema::Block) -> Result<Schema, String> {
    let mut s = Schema::new();
    for a in &b.attributes {
        let ty = attribute_type(a).map_err(|e| format!("attribute {}: {e}", a.name))?;
        s.attributes.insert(
            a.name.clone(),
            AttrSchema {
                ty,
                required: a.required,
                optional: a.optional,
                computed: a.computed,
                sensitive: a.sensitive,
                force_new: false,
                description: "",
            },
        );
    }
    for nb in &b.block_types {
        let nesting = match v6::schema::nested_block::NestingMode::try_from(nb.nesting) {
            Ok(v6::schema::nested_block::NestingMode::Single) => Nesting::Single,
            Ok(v6::schema::nested_block::NestingMode::List) => Nesting::List,
            Ok(v6::schema::nested_block::NestingMode::Set) => Nesting::Set,
            Ok(v6::schema::nested_block::NestingMode::Map) => Nesting::Map,
            Ok(v6::schema::nested_block::NestingMode::Group) => Nesting::Group,
            _ => {
                return Err(format!(
                    "block {}: unknown nesting {}",
                    nb.type_name, nb.nesting
                ))
            }
        };
        let inner = match &nb.block {
            Some(b) => block_schema(b).map_err(|e| format!("block {}: {e}", nb.type_name))?,
            None => Schema::new(),
        };
        s.blocks.insert(
            nb.type_name.clone(),
            BlockSchema {
                nesting,
                schema: inner,
                force_new: false,
            },
        );
    }
    Ok(s)
}

/// An attribute's type: its cty type, or the type its nested attributes imply.
fn attribute_type(a: &v6::schema::Attribute) -> Result<Type, String> {
    if let Some(obj) = &a.nested_type {
        let mut attrs = BTreeMap::new();
        for inner in &obj.attributes {
            attrs.insert(
                inner.name.clone(),
                ObjectAttr {
                    ty: attribute_type(inner)?,
                    optional: !inner.required,
                    default: None,
                },
            );
        }
        let o = Type::Object(attrs);
        use v6::schema::object::NestingMode as N;
        return Ok(match N::try_from(obj.nesting) {
            Ok(N::Single) => o,
            Ok(N::List) => Type::List(Box::new(o)),
            Ok(N::Set) => Type::Set(Box::new(o)),
            Ok(N::Map) => Type::Map(Box::new(o)),
            _ => return Err(format!("unknown nesting {}", obj.nesting)),
        });
    }
    let json: serde_json::Value =
        serde_json::from_slice(&a.r#type).map_err(|e| format!("its type is not JSON: {e}"))?;
    type_from(&json)
}

/// A message re-read as another message with the same wire form.
fn transcode<A: Message, B: Message + Default>(a: &A) -> B {
    B::decode(a.encode_to_vec().as_slice()).unwrap_or_default()
}

/// Protocol 5's schema answer as protocol 6's: the one message whose fields moved
/// (`Schema.Attribute`) is converted field by field, the rest is the same on the wire.
pub fn response_from_v5(r: v5::get_provider_schema::Response) -> v6::get_provider_schema::Response {
    let map = |m: std::collections::HashMap<String, v5::Schema>| {
        m.into_iter().map(|(k, s)| (k, schema_from_v5(s))).collect()
    };
    v6::get_provider_schema::Response {
        provider: r.provider.map(schema_from_v5),
        resource_schemas: map(r.resource_schemas),
        data_source_schemas: map(r.data_source_schemas),
        functions: r
            .functions
            .iter()
            .map(|(k, f)| (k.clone(), transcode(f)))
            .collect(),
        ephemeral_resource_schemas: map(r.ephemeral_resource_schemas),
        diagnostics: r.diagnostics.iter().map(transcode).collect(),
        provider_meta: r.provider_meta.map(schema_from_v5),
        server_capabilities: r.server_capabilities.as_ref().map(transcode),
        ..Default::default()
    }
}

fn schema_from_v5(s: v5::Schema) -> v6::Schema {
    v6::Schema {
        version: s.version,
        block: s.block.map(block_from_v5),
    }
}

fn block_from_v5(b: v5::schema::Block) -> v6::schema::Block {
    v6::schema::Block {
        version: b.version,
        attributes: b
            .attributes
            .into_iter()
            .map(|a| v6::schema::Attribute {
                name: a.name,
                r#type: a.r#type,
                nested_type: None,
                description: a.description,
                required: a.required,
                optional: a.optional,
                computed: a.computed,
                sensitive: a.sensitive,
                description_kind: a.description_kind,
                deprecated: a.deprecated,
                write_only: a.write_only,
                deprecation_message: a.deprecation_message,
            })
            .collect(),
        block_types: b
            .block_types
            .into_iter()
            .map(|nb| v6::schema::NestedBlock {
                type_name: nb.type_name,
                block: nb.block.map(block_from_v5),
                nesting: nb.nesting,
                min_items: nb.min_items,
                max_items: nb.max_items,
            })
            .collect(),
        description: b.description,
        description_kind: b.description_kind,
        deprecated: b.deprecated,
        deprecation_message: b.deprecation_message,
    }
}

/// The schemas in Terraform's JSON form (`terraform providers schema -json`, one
/// provider's object).
pub fn terraform_json(r: &v6::get_provider_schema::Response) -> serde_json::Value {
    use serde_json::{json, Map, Value as J};
    fn kind(k: i32) -> &'static str {
        if k == v6::StringKind::Markdown as i32 {
            "markdown"
        } else {
            "plain"
        }
    }
    fn ty(bytes: &[u8]) -> J {
        serde_json::from_slice(bytes).unwrap_or(J::Null)
    }
    fn attr(a: &v6::schema::Attribute) -> J {
        let mut o = Map::new();
        if let Some(n) = &a.nested_type {
            let attrs: Map<String, J> = n
                .attributes
                .iter()
                .map(|a| (a.name.clone(), attr(a)))
                .collect();
            let mode = match v6::schema::object::NestingMode::try_from(n.nesting) {
                Ok(v6::schema::object::NestingMode::List) => "list",
                Ok(v6::schema::object::NestingMode::Set) => "set",
                Ok(v6::schema::object::NestingMode::Map) => "map",
                _ => "single",
            };
            o.insert(
                "nested_type".into(),
                json!({"attributes": attrs, "nesting_mode": mode}),
            );
        } else {
            o.insert("type".into(), ty(&a.r#type));
        }
        if !a.description.is_empty() {
            o.insert("description".into(), J::from(a.description.clone()));
        }
        o.insert("description_kind".into(), J::from(kind(a.description_kind)));
        for (k, on) in [
            ("deprecated", a.deprecated),
            ("required", a.required),
            ("optional", a.optional),
            ("computed", a.computed),
            ("sensitive", a.sensitive),
            ("write_only", a.write_only),
        ] {
            if on {
                o.insert(k.into(), J::Bool(true));
            }
        }
        J::Object(o)
    }
    fn block(b: &v6::schema::Block) -> J {
        let mut o = Map::new();
        if !b.attributes.is_empty() {
            let attrs: Map<String, J> = b
                .attributes
                .iter()
                .map(|a| (a.name.clone(), attr(a)))
                .collect();
            o.insert("attributes".into(), J::Object(attrs));
        }
        if !b.block_types.is_empty() {
            let blocks: Map<String, J> = b
                .block_types
                .iter()
                .map(|nb| {
                    use v6::schema::nested_block::NestingMode as N;
                    let mode = match N::try_from(nb.nesting) {
                        Ok(N::List) => "list",
                        Ok(N::Set) => "set",
                        Ok(N::Map) => "map",
                        Ok(N::Group) => "group",
                        _ => "single",
                    };
                    let mut bo = Map::new();
                    bo.insert("nesting_mode".into(), J::from(mode));
                    bo.insert(
                        "block".into(),
                        nb.block.as_ref().map(block).unwrap_or_else(|| json!({})),
                    );
                    if nb.min_items > 0 {
                        bo.insert("min_items".into(), J::from(nb.min_items));
                    }
                    if nb.max_items > 0 {
                        bo.insert("max_items".into(), J::from(nb.max_items));
                    }
                    (nb.type_name.clone(), J::Object(bo))
                })
                .collect();
            o.insert("block_types".into(), J::Object(blocks));
        }
        if !b.description.is_empty() {
            o.insert("description".into(), J::from(b.description.clone()));
        }
        o.insert("description_kind".into(), J::from(kind(b.description_kind)));
        if b.deprecated {
            o.insert("deprecated".into(), J::Bool(true));
        }
        J::Object(o)
    }
    fn schema(s: &v6::Schema) -> J {
        json!({
            "version": s.version,
            "block": s.block.as_ref().map(block).unwrap_or_else(|| json!({"description_kind": "plain"})),
        })
    }
    fn schemas(m: &std::collections::HashMap<String, v6::Schema>) -> J {
        let sorted: BTreeMap<&String, J> = m.iter().map(|(k, s)| (k, schema(s))).collect();
        serde_json::to_value(sorted).unwrap_or(J::Null)
    }
    let mut o = Map::new();
    o.insert(
        "provider".into(),
        r.provider
            .as_ref()
            .map(schema)
            .unwrap_or_else(|| json!({"version": 0, "block": {"description_kind": "plain"}})),
    );
    if !r.resource_schemas.is_empty() {
        o.insert("resource_schemas".into(), schemas(&r.resource_schemas));
    }
    if !r.data_source_schemas.is_empty() {
        o.insert(
            "data_source_schemas".into(),
            schemas(&r.data_source_schemas),
        );
    }
    if !r.ephemeral_resource_schemas.is_empty() {
        o.insert(
            "ephemeral_resource_schemas".into(),
            schemas(&r.ephemeral_resource_schemas),
        );
    }
    if !r.functions.is_empty() {
        let param = |p: &v6::function::Parameter| {
            let mut po = Map::new();
            po.insert("name".into(), J::from(p.name.clone()));
            po.insert("type".into(), ty(&p.r#type));
            if !p.description.is_empty() {
                po.insert("description".into(), J::from(p.description.clone()));
            }
            if p.allow_null_value {
                po.insert("is_nullable".into(), J::Bool(true));
            }
            J::Object(po)
        };
        let funcs: BTreeMap<&String, J> = r
            .functions
            .iter()
            .map(|(name, f)| {
                let mut fo = Map::new();
                if !f.description.is_empty() {
                    fo.insert("description".into(), J::from(f.description.clone()));
                }
                if !f.summary.is_empty() {
                    fo.insert("summary".into(), J::from(f.summary.clone()));
                }
                fo.insert(
                    "return_type".into(),
                    f.r#return
                        .as_ref()
                        .map(|r| ty(&r.r#type))
                        .unwrap_or(J::Null),
                );
                if !f.parameters.is_empty() {
                    fo.insert(
                        "parameters".into(),
                        J::Array(f.parameters.iter().map(param).collect()),
                    );
                }
                if let Some(v) = &f.variadic_parameter {
                    fo.insert("variadic_parameter".into(), param(v));
                }
                (name, J::Object(fo))
            })
            .collect();
        o.insert(
            "functions".into(),
            serde_json::to_value(funcs).unwrap_or(J::Null),
        );
    }
    J::Object(o)
}
