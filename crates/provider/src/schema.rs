//! Resource schemas and the schema-driven default plan.

use std::collections::BTreeMap;

use terrane_core::{Type, Value};

use crate::PlannedChange;

#[derive(Clone, Debug, PartialEq)]
pub struct AttrSchema {
    pub ty: Type,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    /// A change to this attribute replaces the object.
    pub force_new: bool,
    pub description: &'static str,
}

impl AttrSchema {
    pub fn required(ty: Type) -> AttrSchema {
        AttrSchema {
            ty,
            required: true,
            optional: false,
            computed: false,
            sensitive: false,
            force_new: false,
            description: "",
        }
    }

    pub fn optional(ty: Type) -> AttrSchema {
        AttrSchema {
            required: false,
            optional: true,
            ..AttrSchema::required(ty)
        }
    }

    pub fn computed(ty: Type) -> AttrSchema {
        AttrSchema {
            required: false,
            optional: false,
            computed: true,
            ..AttrSchema::required(ty)
        }
    }

    /// Optional, and computed by the provider when not set.
    pub fn optional_computed(ty: Type) -> AttrSchema {
        AttrSchema {
            computed: true,
            ..AttrSchema::optional(ty)
        }
    }

    pub fn force_new(mut self) -> AttrSchema {
        self.force_new = true;
        self
    }

    pub fn sensitive(mut self) -> AttrSchema {
        self.sensitive = true;
        self
    }

    pub fn describe(mut self, text: &'static str) -> AttrSchema {
        self.description = text;
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// At most one block; its value is an object (or null).
    Single,
    /// Any number of blocks; its value is a list of objects.
    List,
    /// Any number of blocks, unordered; its value is a set of objects.
    Set,
    /// Blocks with one label each; its value is a map of objects by label.
    Map,
    /// Exactly one block, which may be left out: its value is always an object, with
    /// null attributes when the block is absent.
    Group,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BlockSchema {
    pub nesting: Nesting,
    pub schema: Schema,
    pub force_new: bool,
}

impl BlockSchema {
    /// At most one block, its value an object.
    pub fn single(schema: Schema) -> BlockSchema {
        BlockSchema {
            nesting: Nesting::Single,
            schema,
            force_new: false,
        }
    }

    /// Any number of blocks, their value a list of objects.
    pub fn list(schema: Schema) -> BlockSchema {
        BlockSchema {
            nesting: Nesting::List,
            schema,
            force_new: false,
        }
    }

    /// Any number of blocks, unordered: their value a set of objects.
    pub fn set(schema: Schema) -> BlockSchema {
        BlockSchema {
            nesting: Nesting::Set,
            schema,
            force_new: false,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    pub attributes: BTreeMap<String, AttrSchema>,
    pub blocks: BTreeMap<String, BlockSchema>,
    pub description: &'static str,
    /// The schema's version: state written at an older one is upgraded
    /// ([`crate::Provider::upgrade_state`]) before it is read or planned.
    pub version: u64,
}

impl Schema {
    pub fn new() -> Schema {
        Schema::default()
    }

    pub fn attr(mut self, name: &str, attr: AttrSchema) -> Schema {
        self.attributes.insert(name.to_string(), attr);
        self
    }

    pub fn block(mut self, name: &str, block: BlockSchema) -> Schema {
        self.blocks.insert(name.to_string(), block);
        self
    }

    /// The type of a value of this block: an object of its attributes and nested blocks.
    pub fn implied_type(&self) -> Type {
        use terrane_core::types::ObjectAttr;
        let attr = |ty: Type| ObjectAttr {
            ty,
            optional: false,
            default: None,
        };
        let mut attrs: BTreeMap<String, ObjectAttr> = self
            .attributes
            .iter()
            .map(|(k, a)| (k.clone(), attr(a.ty.clone())))
            .collect();
        for (k, b) in &self.blocks {
            let obj = b.schema.implied_type();
            let ty = match b.nesting {
                Nesting::Single | Nesting::Group => obj,
                Nesting::List => Type::List(Box::new(obj)),
                Nesting::Set => Type::Set(Box::new(obj)),
                Nesting::Map => Type::Map(Box::new(obj)),
            };
            attrs.insert(k.clone(), attr(ty));
        }
        Type::Object(attrs)
    }

    /// Applies sensitive marks to the attributes the schema declares sensitive.
    pub fn mark_sensitive(&self, value: Value) -> Value {
        match value {
            Value::Map(mut m) => {
                for (name, attr) in &self.attributes {
                    if attr.sensitive {
                        if let Some(v) = m.remove(name) {
                            m.insert(name.clone(), v.into_sensitive());
                        }
                    }
                }
                Value::Map(m)
            }
            other => other,
        }
    }

    /// Shapes an evaluated block body to the schema: nested blocks with single nesting
    /// become an object, absent attributes become null. Problems are returned as
    /// `(attribute path, message)` for the caller to attach a source location.
    pub fn conform(&self, value: Value) -> (Value, Vec<ConfigProblem>) {
        let mut problems = Vec::new();
        let v = self.conform_into(value, &mut Vec::new(), &mut problems);
        (v, problems)
    }

    fn conform_into(
        &self,
        value: Value,
        path: &mut Vec<String>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Value {
        let (mut input, sensitive) = match value {
            Value::Sensitive(inner) => match *inner {
                Value::Map(m) => (m, true),
                other => return other.into_sensitive(),
            },
            Value::Map(m) => (m, false),
            other => return other,
        };
        let mut out = terrane_core::ObjectMap::new();
        for (name, attr) in &self.attributes {
            let v = input.remove(name).unwrap_or(Value::Null);
            path.push(name.clone());
            let v = if v.is_null() {
                if attr.required {
                    problems.push(ConfigProblem::Missing(path.clone()));
                }
                v
            } else if !attr.required && !attr.optional {
                problems.push(ConfigProblem::ComputedSet(path.clone()));
                Value::Null
            } else {
                match attr.ty.convert(v) {
                    Ok(v) => v,
                    Err(msg) => {
                        problems.push(ConfigProblem::Type(path.clone(), msg));
                        Value::Null
                    }
                }
            };
            path.pop();
            out.insert(name.clone(), v);
        }
        for (name, block) in &self.blocks {
            let v = input.remove(name).unwrap_or(Value::Null);
            path.push(name.clone());
            let items: Vec<Value> = match v {
                Value::List(items) => items,
                Value::Null => Vec::new(),
                other => vec![other],
            };
            // A block written with a label arrives as `[label, body]` (see
            // terrane_lang's eval_body); only a map-nested block type takes one.
            let mut labelled = terrane_core::ObjectMap::new();
            let mut plain = Vec::new();
            for item in items {
                match item {
                    Value::List(pair) if pair.len() == 2 && matches!(pair[0], Value::String(_)) => {
                        let mut pair = pair.into_iter();
                        let (Some(Value::String(label)), Some(body)) = (pair.next(), pair.next())
                        else {
                            continue;
                        };
                        if block.nesting != Nesting::Map {
                            problems.push(ConfigProblem::Type(
                                path.clone(),
                                format!("a {name} block takes no label, but it has {label:?}"),
                            ));
                            continue;
                        }
                        if labelled.contains_key(&label) {
                            problems.push(ConfigProblem::Type(
                                path.clone(),
                                format!("two {name} blocks have the label {label:?}"),
                            ));
                        }
                        path.push(label.clone());
                        let body = block.schema.conform_into(body, path, problems);
                        path.pop();
                        labelled.insert(label, body);
                    }
                    other => plain.push(block.schema.conform_into(other, path, problems)),
                }
            }
            let items = plain;
            let v = match block.nesting {
                Nesting::List => Value::List(items),
                Nesting::Set => Value::set(items),
                Nesting::Map => {
                    if !items.is_empty() {
                        problems.push(ConfigProblem::Type(
                            path.clone(),
                            format!("each {name} block needs a label, its key in the map: {name} \"KEY\" {{ ... }}"),
                        ));
                    }
                    Value::Map(labelled)
                }
                Nesting::Group if items.is_empty() => block.schema.conform_into(
                    Value::Map(terrane_core::ObjectMap::new()),
                    path,
                    problems,
                ),
                Nesting::Single | Nesting::Group => {
                    if items.len() > 1 {
                        problems.push(ConfigProblem::TooManyBlocks(path.clone()));
                    }
                    items.into_iter().next().unwrap_or(Value::Null)
                }
            };
            path.pop();
            out.insert(name.clone(), v);
        }
        for (name, _) in input {
            let mut p = path.clone();
            p.push(name);
            problems.push(ConfigProblem::Unsupported(p));
        }
        Value::Map(out).mark_if(sensitive)
    }
}

/// A mismatch between a configuration and a schema.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigProblem {
    Missing(Vec<String>),
    Unsupported(Vec<String>),
    ComputedSet(Vec<String>),
    Type(Vec<String>, String),
    TooManyBlocks(Vec<String>),
}

/// Schemas of a provider's configuration, resource types and data sources.
#[derive(Clone, Debug, Default)]
pub struct ProviderSchema {
    pub provider: Schema,
    pub resources: BTreeMap<String, Schema>,
    pub data_sources: BTreeMap<String, Schema>,
}

/// The default plan: configured values win, computed attributes keep their prior value
/// (or become unknown when there is none or the object is replaced), and a change to a
/// force-new attribute or block requires replacement.
pub fn plan_by_schema(schema: &Schema, prior: Option<&Value>, config: &Value) -> PlannedChange {
    let cfg = config.as_map();
    let prior_map = prior.and_then(|p| p.as_map());
    let mut requires_replace = Vec::new();
    if let Some(prior_map) = prior_map {
        for (name, attr) in &schema.attributes {
            if !attr.force_new {
                continue;
            }
            let c = cfg
                .and_then(|c| c.get(name))
                .cloned()
                .unwrap_or(Value::Null);
            if c.is_null() && attr.computed {
                continue;
            }
            let p = prior_map.get(name).cloned().unwrap_or(Value::Null);
            if !c.same_as(&p) {
                requires_replace.push(name.clone());
            }
        }
        for (name, block) in &schema.blocks {
            if !block.force_new {
                continue;
            }
            let c = cfg
                .and_then(|c| c.get(name))
                .cloned()
                .unwrap_or(Value::Null);
            let p = prior_map.get(name).cloned().unwrap_or(Value::Null);
            if !c.same_as(&p) {
                requires_replace.push(name.clone());
            }
        }
    }
    let keep_prior = requires_replace.is_empty();
    let mut planned = terrane_core::ObjectMap::new();
    for (name, attr) in &schema.attributes {
        let c = cfg
            .and_then(|c| c.get(name))
            .cloned()
            .unwrap_or(Value::Null);
        let v = if !c.is_null() || !attr.computed {
            c
        } else {
            // An update keeps a computed attribute's prior value, null included: a
            // value the remote object does not have is no change.
            match prior_map.and_then(|p| p.get(name)) {
                Some(p) if keep_prior => p.clone(),
                _ => Value::Unknown,
            }
        };
        planned.insert(name.clone(), v);
    }
    for name in schema.blocks.keys() {
        let c = cfg
            .and_then(|c| c.get(name))
            .cloned()
            .unwrap_or(Value::Null);
        planned.insert(name.clone(), c);
    }
    PlannedChange {
        planned: Value::Map(planned),
        requires_replace,
        private: Vec::new(),
        legacy_type_system: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::new()
            .attr("id", AttrSchema::computed(Type::String))
            .attr("name", AttrSchema::required(Type::String).force_new())
            .attr("size", AttrSchema::optional(Type::Number))
    }

    #[test]
    fn create_leaves_computed_unknown() {
        let cfg = Value::map([
            ("name", Value::from("a")),
            ("size", Value::Null),
            ("id", Value::Null),
        ]);
        let p = plan_by_schema(&schema(), None, &cfg);
        assert_eq!(p.planned.get("id"), Some(&Value::Unknown));
        assert!(p.requires_replace.is_empty());
    }

    #[test]
    fn force_new_change_requires_replace_and_recomputes() {
        let prior = Value::map([
            ("id", Value::from("x1")),
            ("name", Value::from("a")),
            ("size", Value::from(1.0)),
        ]);
        let cfg = Value::map([("name", Value::from("b")), ("size", Value::from(1.0))]);
        let p = plan_by_schema(&schema(), Some(&prior), &cfg);
        assert_eq!(p.requires_replace, vec!["name".to_string()]);
        assert_eq!(p.planned.get("id"), Some(&Value::Unknown));
        let cfg = Value::map([("name", Value::from("a")), ("size", Value::from(2.0))]);
        let p = plan_by_schema(&schema(), Some(&prior), &cfg);
        assert!(p.requires_replace.is_empty());
        assert_eq!(p.planned.get("id"), Some(&Value::from("x1")));
    }

    #[test]
    fn conform_reports_missing_and_unsupported() {
        let (_, problems) = schema().conform(Value::map([("nme", Value::from("a"))]));
        assert_eq!(
            problems,
            vec![
                ConfigProblem::Missing(vec!["name".into()]),
                ConfigProblem::Unsupported(vec!["nme".into()])
            ]
        );
    }
}
