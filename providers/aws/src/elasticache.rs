//! ElastiCache: `aws_elasticache_cluster` (Memcached, or single-node Redis/Valkey).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticache::types::Tag;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, Dispatch, ImportKey, PlannedChange, ProviderError, Resource, Result, Schema,
};

use crate::context::{api_error, deleted, found, tags_value, Aws};
use crate::util::{
    bool_attr, check_timeouts, import_by, num_attr, object, opt_num, opt_str, own_tags, set,
    str_attr, str_list, str_set_value, string_map, timeout, timeouts_block, wait_for,
};
use crate::{plan_tags, tag_attrs};

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.resource("aws_elasticache_cluster", Cluster)
}

const ENGINES: [&str; 3] = ["memcached", "redis", "valkey"];

/// `aws_elasticache_cluster`. The node count, node type, parameter group, security
/// groups and snapshot retention change in place; the engine, ID, port and subnet
/// group replace the cluster.
pub struct Cluster;

#[async_trait]
impl Resource<Aws> for Cluster {
    fn schema(&self) -> Schema {
        let oc = AttrSchema::optional_computed;
        tag_attrs(
            Schema::new()
                .attr("cluster_id", AttrSchema::required(Type::String).force_new())
                .attr("engine", oc(Type::String).force_new())
                .attr("engine_version", oc(Type::String))
                .attr("node_type", oc(Type::String))
                .attr("num_cache_nodes", oc(Type::Number))
                .attr("parameter_group_name", oc(Type::String))
                .attr("port", oc(Type::Number).force_new())
                .attr("subnet_group_name", oc(Type::String).force_new())
                .attr("security_group_ids", oc(Type::Set(Box::new(Type::String))))
                .attr("az_mode", oc(Type::String))
                .attr("availability_zone", oc(Type::String).force_new())
                .attr("snapshot_retention_limit", oc(Type::Number))
                .attr("apply_immediately", AttrSchema::optional(Type::Bool))
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .attr("cluster_address", AttrSchema::computed(Type::String))
                .attr("configuration_endpoint", AttrSchema::computed(Type::String))
                .attr(
                    "cache_nodes",
                    AttrSchema::computed(Type::List(Box::new(Type::Any))),
                )
                .block("timeouts", timeouts_block()),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        check_timeouts(config)?;
        if let Some(id) = str_attr(config, "cluster_id") {
            let ok = !id.is_empty()
                && id.len() <= 50
                && id.starts_with(|c: char| c.is_ascii_lowercase())
                && !id.ends_with('-')
                && !id.contains("--")
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(ProviderError::config(format!(
                    "cluster_id {id:?} must be 1 to 50 lower-case letters, digits and hyphens, start with a letter, and have no \"--\" or trailing hyphen"
                )));
            }
        }
        let engine = str_attr(config, "engine");
        if let Some(e) = engine.filter(|e| !ENGINES.contains(e)) {
            return Err(ProviderError::config(format!(
                "engine {e:?}: must be one of {}",
                ENGINES.join(", ")
            )));
        }
        if let Some(t) = str_attr(config, "node_type").filter(|t| !t.starts_with("cache.")) {
            return Err(ProviderError::config(format!(
                "node_type {t:?} is not a cache node type such as \"cache.t3.micro\""
            )));
        }
        if let (Some("redis" | "valkey"), Some(n)) = (engine, num_attr(config, "num_cache_nodes")) {
            if n != 1 {
                return Err(ProviderError::config(format!(
                    "num_cache_nodes = {n}: a {} cluster has exactly one node (use a replication group for more)",
                    engine.unwrap_or_default()
                )));
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        let n = num_attr(&change.planned, "num_cache_nodes");
        if prior.is_some_and(|p| num_attr(p, "num_cache_nodes") != n) {
            set(&mut change.planned, "cache_nodes", Value::Unknown);
        }
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let id = str_attr(&planned, "cluster_id")
            .unwrap_or_default()
            .to_string();
        let groups = str_list(&planned, "security_group_ids");
        let tags: Vec<Tag> = aws
            .tags_all(&string_map(planned.get("tags")))
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        aws.elasticache()
            .await?
            .create_cache_cluster()
            .cache_cluster_id(&id)
            .set_engine(str_attr(&planned, "engine").map(str::to_string))
            .set_engine_version(str_attr(&planned, "engine_version").map(str::to_string))
            .set_cache_node_type(str_attr(&planned, "node_type").map(str::to_string))
            .set_num_cache_nodes(num_attr(&planned, "num_cache_nodes").map(|n| n as i32))
            .set_cache_parameter_group_name(
                str_attr(&planned, "parameter_group_name").map(str::to_string),
            )
            .set_port(num_attr(&planned, "port").map(|n| n as i32))
            .set_cache_subnet_group_name(
                str_attr(&planned, "subnet_group_name").map(str::to_string),
            )
            .set_security_group_ids((!groups.is_empty()).then_some(groups))
            .set_az_mode(
                str_attr(&planned, "az_mode").map(aws_sdk_elasticache::types::AzMode::from),
            )
            .set_preferred_availability_zone(
                str_attr(&planned, "availability_zone").map(str::to_string),
            )
            .set_snapshot_retention_limit(
                num_attr(&planned, "snapshot_retention_limit").map(|n| n as i32),
            )
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating cache cluster {id}"), e))?;
        set(&mut planned, "id", id.as_str());
        let limit = timeout(&planned, "create", Duration::from_secs(2400))?;
        self.wait_available(aws, &id, limit).await?;
        self.read_back(aws, planned, &format!("cache cluster {id}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = str_attr(&state, "cluster_id")
            .or_else(|| str_attr(&state, "id"))
            .unwrap_or_default()
            .to_string();
        let Some(c) = describe_cluster(aws, &id).await? else {
            return Ok(None);
        };
        if c.cache_cluster_status() == Some("deleting") {
            return Ok(None);
        }
        let nodes: Vec<Value> = c
            .cache_nodes()
            .iter()
            .map(|n| {
                object([
                    ("id", opt_str(n.cache_node_id())),
                    ("address", opt_str(n.endpoint().and_then(|e| e.address()))),
                    ("port", opt_num(n.endpoint().and_then(|e| e.port()))),
                    ("availability_zone", opt_str(n.customer_availability_zone())),
                ])
            })
            .collect();
        let config_endpoint = c
            .configuration_endpoint()
            .and_then(|e| Some(format!("{}:{}", e.address()?, e.port()?)));
        for (name, v) in [
            ("id", Value::from(id.as_str())),
            ("cluster_id", Value::from(id.as_str())),
            ("arn", opt_str(c.arn())),
            ("engine", opt_str(c.engine())),
            ("engine_version", opt_str(c.engine_version())),
            ("node_type", opt_str(c.cache_node_type())),
            ("num_cache_nodes", opt_num(c.num_cache_nodes())),
            (
                "parameter_group_name",
                opt_str(
                    c.cache_parameter_group()
                        .and_then(|g| g.cache_parameter_group_name()),
                ),
            ),
            ("subnet_group_name", opt_str(c.cache_subnet_group_name())),
            (
                "security_group_ids",
                str_set_value(
                    c.security_groups()
                        .iter()
                        .filter_map(|g| g.security_group_id()),
                ),
            ),
            (
                "availability_zone",
                opt_str(c.preferred_availability_zone()),
            ),
            (
                "snapshot_retention_limit",
                opt_num(c.snapshot_retention_limit()),
            ),
            (
                "configuration_endpoint",
                config_endpoint
                    .clone()
                    .map(Value::from)
                    .unwrap_or(Value::Null),
            ),
            (
                "cluster_address",
                opt_str(c.configuration_endpoint().and_then(|e| e.address())),
            ),
            ("cache_nodes", Value::List(nodes)),
        ] {
            set(&mut state, name, v);
        }
        let port = c
            .configuration_endpoint()
            .and_then(|e| e.port())
            .or_else(|| c.cache_nodes().first().and_then(|n| n.endpoint()?.port()));
        set(&mut state, "port", opt_num(port));
        if str_attr(&state, "az_mode").is_none() {
            set(&mut state, "az_mode", "single-az");
        }
        if let Some(arn) = c.arn() {
            let tags = aws
                .elasticache()
                .await?
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .map_err(|e| api_error(&format!("reading the tags of {arn}"), e))?;
            let actual: BTreeMap<String, String> = tags
                .tag_list()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ))
                })
                .collect();
            let own = own_tags(&state, &actual, &aws.settings.default_tags);
            set(&mut state, "tags", own);
            set(&mut state, "tags_all", tags_value(&actual));
        }
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let id = str_attr(&prior, "cluster_id")
            .unwrap_or_default()
            .to_string();
        let changed = |a: &str| {
            planned.get(a) != prior.get(a) && planned.get(a).is_some_and(|v| !v.is_null())
        };
        let ec = aws.elasticache().await?;
        if [
            "num_cache_nodes",
            "node_type",
            "parameter_group_name",
            "security_group_ids",
            "snapshot_retention_limit",
            "engine_version",
        ]
        .iter()
        .any(|a| changed(a))
        {
            let before = num_attr(&prior, "num_cache_nodes").unwrap_or(1);
            let after = num_attr(&planned, "num_cache_nodes").unwrap_or(before);
            let removed: Vec<String> = (after + 1..=before).map(|i| format!("{i:04}")).collect();
            ec.modify_cache_cluster()
                .cache_cluster_id(&id)
                .apply_immediately(bool_attr(&planned, "apply_immediately"))
                .set_num_cache_nodes(changed("num_cache_nodes").then_some(after as i32))
                .set_cache_node_ids_to_remove((!removed.is_empty()).then_some(removed))
                .set_cache_node_type(changed("node_type").then(|| {
                    str_attr(&planned, "node_type")
                        .unwrap_or_default()
                        .to_string()
                }))
                .set_cache_parameter_group_name(changed("parameter_group_name").then(|| {
                    str_attr(&planned, "parameter_group_name")
                        .unwrap_or_default()
                        .to_string()
                }))
                .set_security_group_ids(
                    changed("security_group_ids").then(|| str_list(&planned, "security_group_ids")),
                )
                .set_snapshot_retention_limit(
                    num_attr(&planned, "snapshot_retention_limit").map(|n| n as i32),
                )
                .set_engine_version(changed("engine_version").then(|| {
                    str_attr(&planned, "engine_version")
                        .unwrap_or_default()
                        .to_string()
                }))
                .send()
                .await
                .map_err(|e| api_error(&format!("modifying cache cluster {id}"), e))?;
            let limit = timeout(&planned, "update", Duration::from_secs(4800))?;
            self.wait_available(aws, &id, limit).await?;
        }
        if let Some(arn) = str_attr(&prior, "arn") {
            aws.sync_tags(
                arn,
                &prior,
                &planned,
                |keys| {
                    ec.remove_tags_from_resource()
                        .resource_name(arn)
                        .set_tag_keys(Some(keys))
                        .send()
                },
                |all| {
                    let tags = all
                        .iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect();
                    Ok(ec
                        .add_tags_to_resource()
                        .resource_name(arn)
                        .set_tags(Some(tags))
                        .send())
                },
            )
            .await?;
        }
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("cache cluster {id}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = str_attr(&state, "cluster_id")
            .unwrap_or_default()
            .to_string();
        deleted(
            &format!("deleting cache cluster {id}"),
            aws.elasticache()
                .await?
                .delete_cache_cluster()
                .cache_cluster_id(&id)
                .send()
                .await,
        )?;
        // Deleting cannot be stopped once accepted: the cluster counts as gone when it
        // is, or when AWS reports it deleting (emulators keep it in that state).
        let limit = timeout(&state, "delete", Duration::from_secs(2400))?;
        wait_for(
            &format!("cache cluster {id} to be deleted"),
            limit,
            || async {
                let c = describe_cluster(aws, &id).await?;
                Ok(
                    c.is_none_or(|c| c.cache_cluster_status() == Some("deleting"))
                        .then_some(()),
                )
            },
        )
        .await
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("cluster_id", |id| format!("cache cluster {id}"))
    }
}

impl Cluster {
    async fn wait_available(&self, aws: &Aws, id: &str, limit: Duration) -> Result<()> {
        wait_for(
            &format!("cache cluster {id} to be available"),
            limit,
            || async {
                let Some(c) = describe_cluster(aws, id).await? else {
                    return Err(ProviderError::api(format!(
                        "cache cluster {id} vanished while waiting for it"
                    )));
                };
                Ok((c.cache_cluster_status() == Some("available")).then_some(()))
            },
        )
        .await
    }
}

async fn describe_cluster(
    aws: &Aws,
    id: &str,
) -> Result<Option<aws_sdk_elasticache::types::CacheCluster>> {
    Ok(found(
        &format!("reading cache cluster {id}"),
        aws.elasticache()
            .await?
            .describe_cache_clusters()
            .cache_cluster_id(id)
            .show_cache_node_info(true)
            .send()
            .await,
    )?
    .and_then(|out| out.cache_clusters().first().cloned()))
}
