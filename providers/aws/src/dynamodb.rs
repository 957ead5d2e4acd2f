//! DynamoDB: `aws_dynamodb_table`.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ProvisionedThroughput,
    ScalarAttributeType, TableStatus, Tag,
};
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, BlockSchema, ImportKey, PlannedChange, ProviderError, Resource, Result, Schema,
};

use crate::context::{api_error, build_err, deleted, found, tags_value, Aws};
use crate::util::{import_by, num_attr, object, own_tags, set, str_attr, string_map};
use crate::{plan_tags, tag_attrs};

fn attributes(v: &Value) -> Vec<(String, String)> {
    v.get("attribute")
        .and_then(Value::as_items)
        .unwrap_or(&[])
        .iter()
        .filter_map(|a| {
            Some((
                str_attr(a, "name")?.to_string(),
                str_attr(a, "type")?.to_string(),
            ))
        })
        .collect()
}

fn provisioned(v: &Value) -> bool {
    str_attr(v, "billing_mode").unwrap_or("PROVISIONED") == "PROVISIONED"
}

pub struct Table;

impl Table {
    async fn wait_active(&self, aws: &Aws, name: &str) -> Result<()> {
        let ddb = aws.dynamodb().await?;
        let deadline = std::time::Instant::now() + Duration::from_secs(600);
        loop {
            let out = ddb
                .describe_table()
                .table_name(name)
                .send()
                .await
                .map_err(|e| api_error(&format!("waiting for table {name}"), e))?;
            if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(ProviderError::api(format!(
                    "table {name} did not become ACTIVE within 10 minutes"
                )));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    fn throughput(v: &Value) -> Result<Option<ProvisionedThroughput>> {
        if !provisioned(v) {
            return Ok(None);
        }
        ProvisionedThroughput::builder()
            .read_capacity_units(num_attr(v, "read_capacity").unwrap_or(1))
            .write_capacity_units(num_attr(v, "write_capacity").unwrap_or(1))
            .build()
            .map(Some)
            .map_err(build_err)
    }
}

#[async_trait]
impl Resource<Aws> for Table {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr("name", AttrSchema::required(Type::String).force_new())
                .attr("billing_mode", AttrSchema::optional_computed(Type::String))
                .attr("hash_key", AttrSchema::required(Type::String).force_new())
                .attr("range_key", AttrSchema::optional(Type::String).force_new())
                .attr("read_capacity", AttrSchema::optional_computed(Type::Number))
                .attr(
                    "write_capacity",
                    AttrSchema::optional_computed(Type::Number),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .block(
                    "attribute",
                    BlockSchema::list(
                        Schema::new()
                            .attr("name", AttrSchema::required(Type::String).force_new())
                            .attr("type", AttrSchema::required(Type::String).force_new()),
                    ),
                ),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let mut problems = Vec::new();
        let mode = str_attr(config, "billing_mode").unwrap_or("PROVISIONED");
        if !matches!(mode, "PROVISIONED" | "PAY_PER_REQUEST") {
            problems.push(format!(
                "billing_mode {mode:?} is not one of PROVISIONED, PAY_PER_REQUEST"
            ));
        }
        let attrs = attributes(config);
        for (name, ty) in &attrs {
            if !matches!(ty.as_str(), "S" | "N" | "B") {
                problems.push(format!(
                    "attribute {name:?} has type {ty:?}; key attributes are S, N or B"
                ));
            }
        }
        for key in ["hash_key", "range_key"] {
            if let Some(k) = str_attr(config, key) {
                if !attrs.iter().any(|(n, _)| n == k) {
                    problems.push(format!(
                        "{key} {k:?} needs an attribute block that declares its type"
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(ProviderError::config(problems.join("\n")));
        }
        let mut change = plan_by_schema(schema, prior, config);
        if mode == "PAY_PER_REQUEST" {
            set(&mut change.planned, "read_capacity", 0i64);
            set(&mut change.planned, "write_capacity", 0i64);
        }
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, planned: Value) -> Result<Value> {
        let name = str_attr(&planned, "name").unwrap_or_default().to_string();
        let defs = attributes(&planned)
            .into_iter()
            .map(|(n, t)| {
                AttributeDefinition::builder()
                    .attribute_name(n)
                    .attribute_type(ScalarAttributeType::from(t.as_str()))
                    .build()
                    .map_err(build_err)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut keys = vec![KeySchemaElement::builder()
            .attribute_name(str_attr(&planned, "hash_key").unwrap_or_default())
            .key_type(KeyType::Hash)
            .build()
            .map_err(build_err)?];
        if let Some(r) = str_attr(&planned, "range_key") {
            keys.push(
                KeySchemaElement::builder()
                    .attribute_name(r)
                    .key_type(KeyType::Range)
                    .build()
                    .map_err(build_err)?,
            );
        }
        let tags = aws
            .tags_all(&string_map(planned.get("tags")))
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err))
            .collect::<Result<Vec<_>>>()?;
        aws.dynamodb()
            .await?
            .create_table()
            .table_name(&name)
            .set_attribute_definitions(Some(defs))
            .set_key_schema(Some(keys))
            .billing_mode(BillingMode::from(
                str_attr(&planned, "billing_mode").unwrap_or("PROVISIONED"),
            ))
            .set_provisioned_throughput(Self::throughput(&planned)?)
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating table {name}"), e))?;
        self.wait_active(aws, &name).await?;
        self.read_back(aws, planned, &format!("table {name}")).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let name = str_attr(&state, "name")
            .or_else(|| str_attr(&state, "id"))
            .unwrap_or_default()
            .to_string();
        let ddb = aws.dynamodb().await?;
        let Some(out) = found(
            &format!("reading table {name}"),
            ddb.describe_table().table_name(&name).send().await,
        )?
        else {
            return Ok(None);
        };
        let Some(t) = out.table() else {
            return Ok(None);
        };
        let mode = t
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "PROVISIONED".to_string());
        let (r, w) = t
            .provisioned_throughput()
            .map(|p| {
                (
                    p.read_capacity_units().unwrap_or(0),
                    p.write_capacity_units().unwrap_or(0),
                )
            })
            .unwrap_or((0, 0));
        set(&mut state, "billing_mode", mode.as_str());
        set(&mut state, "read_capacity", r);
        set(&mut state, "write_capacity", w);
        for k in t.key_schema() {
            let attr = if k.key_type() == &KeyType::Hash {
                "hash_key"
            } else {
                "range_key"
            };
            set(&mut state, attr, k.attribute_name());
        }
        let mut attrs: Vec<Value> = t
            .attribute_definitions()
            .iter()
            .map(|a| {
                object([
                    ("name", Value::from(a.attribute_name())),
                    ("type", Value::from(a.attribute_type().as_str())),
                ])
            })
            .collect();
        // Keep the configuration's order, so a reordering in AWS's answer is no drift.
        let order = attributes(&state);
        attrs.sort_by_key(|a| {
            let n = str_attr(a, "name").unwrap_or_default();
            order.iter().position(|(o, _)| o == n).unwrap_or(usize::MAX)
        });
        set(&mut state, "attribute", Value::List(attrs));
        let arn = t.table_arn().unwrap_or_default().to_string();
        set(&mut state, "arn", arn.as_str());
        set(&mut state, "name", name.as_str());
        set(&mut state, "id", name.as_str());
        let actual: BTreeMap<String, String> = ddb
            .list_tags_of_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the tags of table {name}"), e))?
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        let own = own_tags(&state, &actual, &aws.settings.default_tags);
        set(&mut state, "tags", own);
        set(&mut state, "tags_all", tags_value(&actual));
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let name = str_attr(&prior, "name").unwrap_or_default().to_string();
        let ddb = aws.dynamodb().await?;
        let capacity = ["billing_mode", "read_capacity", "write_capacity"]
            .iter()
            .any(|a| prior.get(a) != planned.get(a));
        if capacity {
            ddb.update_table()
                .table_name(&name)
                .billing_mode(BillingMode::from(
                    str_attr(&planned, "billing_mode").unwrap_or("PROVISIONED"),
                ))
                .set_provisioned_throughput(Self::throughput(&planned)?)
                .send()
                .await
                .map_err(|e| api_error(&format!("updating table {name}"), e))?;
            self.wait_active(aws, &name).await?;
        }
        let arn = str_attr(&prior, "arn").unwrap_or_default();
        aws.sync_tags(
            &format!("table {name}"),
            &prior,
            &planned,
            |keys| {
                ddb.untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(keys))
                    .send()
            },
            |all| {
                let tags = all
                    .into_iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err))
                    .collect::<Result<Vec<_>>>()?;
                Ok(ddb
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(tags))
                    .send())
            },
        )
        .await?;
        self.read_back(aws, planned, &format!("table {name}")).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let name = str_attr(&state, "name").unwrap_or_default().to_string();
        deleted(
            &format!("deleting table {name}"),
            aws.dynamodb()
                .await?
                .delete_table()
                .table_name(&name)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("name", |id| format!("table named {id:?}"))
    }
}
