//! Route 53: `aws_route53_zone` and `aws_route53_record`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType, Tag,
    TagResourceType,
};
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, BlockSchema, Dispatch, ImportKey, PlannedChange, ProviderError, Resource, Result,
    Schema,
};

use crate::context::{api_error, build_err, deleted, found, is_not_found, tags_value, Aws};
use crate::util::{
    bool_attr, import_by, object, opt_num, opt_str, own_tags, set, str_attr, str_list,
    str_set_value,
};
use crate::{plan_tags, tag_attrs};

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.resource("aws_route53_zone", Zone)
        .resource("aws_route53_record", Record)
}

/// A DNS name as Route 53 keys it: lower case, no trailing dot.
fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Route 53 answers zone IDs as `/hostedzone/Z123`; Terraform's IDs are the last part.
fn zone_id(raw: &str) -> String {
    raw.rsplit('/').next().unwrap_or(raw).to_string()
}

fn check_domain(name: &str, attr: &str) -> Result<()> {
    let n = name.trim_end_matches('.');
    let ok = !n.is_empty()
        && n.len() <= 253
        && n.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*')
        });
    if ok {
        Ok(())
    } else {
        Err(ProviderError::config(format!(
            "{attr} {name:?} is not a DNS name such as \"example.com\""
        )))
    }
}

/// `aws_route53_zone`: a public hosted zone, or a private one with `vpc` blocks.
/// `force_destroy` deletes the zone's records first.
pub struct Zone;

#[async_trait]
impl Resource<Aws> for Zone {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr("name", AttrSchema::required(Type::String).force_new())
                .attr("comment", AttrSchema::optional_computed(Type::String))
                .attr("force_destroy", AttrSchema::optional(Type::Bool))
                .attr(
                    "delegation_set_id",
                    AttrSchema::optional(Type::String).force_new(),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("zone_id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .attr(
                    "name_servers",
                    AttrSchema::computed(Type::List(Box::new(Type::String))),
                )
                .block(
                    "vpc",
                    BlockSchema {
                        force_new: true,
                        ..BlockSchema::list(
                            Schema::new()
                                .attr("vpc_id", AttrSchema::required(Type::String))
                                .attr("vpc_region", AttrSchema::optional(Type::String)),
                        )
                    },
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
        if let Some(n) = str_attr(config, "name") {
            check_domain(n, "name")?;
        }
        let mut change = plan_by_schema(schema, prior, config);
        crate::util::default_to(&mut change.planned, "comment", "Managed by Terraform");
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let name = str_attr(&planned, "name").unwrap_or_default().to_string();
        let vpcs = planned
            .get("vpc")
            .and_then(Value::as_items)
            .unwrap_or_default();
        let first_vpc = vpcs.first().map(|v| {
            aws_sdk_route53::types::Vpc::builder()
                .set_vpc_id(str_attr(v, "vpc_id").map(str::to_string))
                .vpc_region(aws_sdk_route53::types::VpcRegion::from(
                    str_attr(v, "vpc_region")
                        .map(str::to_string)
                        .unwrap_or_else(|| aws.region())
                        .as_str(),
                ))
                .build()
        });
        let out = aws
            .route53()
            .await?
            .create_hosted_zone()
            .name(&name)
            .caller_reference(uuid::Uuid::new_v4().to_string())
            .set_delegation_set_id(str_attr(&planned, "delegation_set_id").map(str::to_string))
            .set_vpc(first_vpc)
            .hosted_zone_config(
                aws_sdk_route53::types::HostedZoneConfig::builder()
                    .set_comment(str_attr(&planned, "comment").map(str::to_string))
                    .private_zone(!vpcs.is_empty())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| api_error(&format!("creating hosted zone {name}"), e))?;
        let id = zone_id(out.hosted_zone().map(|z| z.id()).unwrap_or_default());
        set(&mut planned, "id", id.as_str());
        set(&mut planned, "zone_id", id.as_str());
        self.sync_tags(aws, &id, &Value::Null, &planned).await?;
        self.read_back(aws, planned, &format!("hosted zone {name}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = zone_id(str_attr(&state, "id").unwrap_or_default());
        let r53 = aws.route53().await?;
        let Some(out) = found(
            &format!("reading hosted zone {id}"),
            r53.get_hosted_zone().id(&id).send().await,
        )?
        else {
            return Ok(None);
        };
        let Some(z) = out.hosted_zone() else {
            return Ok(None);
        };
        // The configured spelling wins when it names the same zone.
        let name = normal(z.name());
        if str_attr(&state, "name").map(normal) != Some(name.clone()) {
            set(&mut state, "name", name.as_str());
        }
        set(&mut state, "id", id.as_str());
        set(&mut state, "zone_id", id.as_str());
        set(
            &mut state,
            "comment",
            opt_str(z.config().and_then(|c| c.comment())),
        );
        set(
            &mut state,
            "arn",
            format!("arn:aws:route53:::hostedzone/{id}"),
        );
        let vpcs: Vec<Value> = out
            .vpcs()
            .iter()
            .map(|v| {
                // vpc_region as configured when it was left out (it defaults to the
                // provider's region).
                let configured = state
                    .get("vpc")
                    .and_then(Value::as_items)
                    .unwrap_or_default()
                    .iter()
                    .find(|c| str_attr(c, "vpc_id") == v.vpc_id())
                    .map(|c| c.get("vpc_region").cloned().unwrap_or(Value::Null));
                object([
                    ("vpc_id", opt_str(v.vpc_id())),
                    (
                        "vpc_region",
                        configured.unwrap_or_else(|| opt_str(v.vpc_region().map(|r| r.as_str()))),
                    ),
                ])
            })
            .collect();
        set(&mut state, "vpc", Value::List(vpcs));
        let servers = out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default();
        set(
            &mut state,
            "name_servers",
            crate::util::str_list_value(servers),
        );
        let tags = r53
            .list_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(&id)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the tags of hosted zone {id}"), e))?;
        let actual: BTreeMap<String, String> = tags
            .resource_tag_set()
            .map(|s| s.tags())
            .unwrap_or_default()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect();
        let own = own_tags(&state, &actual, &aws.settings.default_tags);
        set(&mut state, "tags", own);
        set(&mut state, "tags_all", tags_value(&actual));
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let id = zone_id(str_attr(&prior, "id").unwrap_or_default());
        if planned.get("comment") != prior.get("comment") {
            aws.route53()
                .await?
                .update_hosted_zone_comment()
                .id(&id)
                .set_comment(str_attr(&planned, "comment").map(str::to_string))
                .send()
                .await
                .map_err(|e| api_error(&format!("changing the comment of zone {id}"), e))?;
        }
        self.sync_tags(aws, &id, &prior, &planned).await?;
        set(&mut planned, "id", id.as_str());
        set(&mut planned, "zone_id", id.as_str());
        self.read_back(aws, planned, &format!("hosted zone {id}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = zone_id(str_attr(&state, "id").unwrap_or_default());
        if bool_attr(&state, "force_destroy") {
            self.empty(aws, &id).await?;
        }
        let r = aws
            .route53()
            .await?
            .delete_hosted_zone()
            .id(&id)
            .send()
            .await;
        if let Err(e) = &r {
            if crate::context::error_code(e) == Some("HostedZoneNotEmpty") {
                return Err(ProviderError::api(format!(
                    "hosted zone {id} still has records terrane does not manage: delete them, or set force_destroy = true"
                )));
            }
        }
        deleted(&format!("deleting hosted zone {id}"), r)
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("hosted zone {id}"))
    }
}

impl Zone {
    async fn sync_tags(&self, aws: &Aws, id: &str, prior: &Value, planned: &Value) -> Result<()> {
        let Some(change) = aws.tag_change(prior, planned) else {
            return Ok(());
        };
        let add: Vec<Tag> = change
            .all
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        aws.route53()
            .await?
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(id)
            .set_add_tags((!add.is_empty()).then_some(add))
            .set_remove_tag_keys((!change.removed.is_empty()).then_some(change.removed))
            .send()
            .await
            .map_err(|e| api_error(&format!("tagging hosted zone {id}"), e))?;
        Ok(())
    }

    /// Deletes every record but the zone's own SOA and apex NS.
    async fn empty(&self, aws: &Aws, id: &str) -> Result<()> {
        let r53 = aws.route53().await?;
        let zone = r53
            .get_hosted_zone()
            .id(id)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading hosted zone {id}"), e))?;
        let apex = normal(zone.hosted_zone().map(|z| z.name()).unwrap_or_default());
        let mut changes = Vec::new();
        let mut start: Option<(String, RrType)> = None;
        loop {
            let mut req = r53.list_resource_record_sets().hosted_zone_id(id);
            if let Some((name, kind)) = &start {
                req = req.start_record_name(name).start_record_type(kind.clone());
            }
            let page = req
                .send()
                .await
                .map_err(|e| api_error(&format!("listing the records of zone {id}"), e))?;
            for rs in page.resource_record_sets() {
                let own =
                    normal(rs.name()) == apex && matches!(rs.r#type(), RrType::Soa | RrType::Ns);
                if !own {
                    changes.push(
                        Change::builder()
                            .action(ChangeAction::Delete)
                            .resource_record_set(rs.clone())
                            .build()
                            .map_err(build_err)?,
                    );
                }
            }
            match (
                page.is_truncated(),
                page.next_record_name(),
                page.next_record_type(),
            ) {
                (true, Some(n), Some(t)) => start = Some((n.to_string(), t.clone())),
                _ => break,
            }
        }
        for chunk in changes.chunks(100) {
            r53.change_resource_record_sets()
                .hosted_zone_id(id)
                .change_batch(
                    ChangeBatch::builder()
                        .set_changes(Some(chunk.to_vec()))
                        .build()
                        .map_err(build_err)?,
                )
                .send()
                .await
                .map_err(|e| api_error(&format!("emptying hosted zone {id}"), e))?;
        }
        Ok(())
    }
}

const RECORD_TYPES: [&str; 13] = [
    "A", "AAAA", "CAA", "CNAME", "DS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV", "TXT",
];

/// `aws_route53_record`: one record set (plain records with a TTL, or an alias to a
/// load balancer or another record). `allow_overwrite` takes over an existing one.
pub struct Record;

#[async_trait]
impl Resource<Aws> for Record {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("zone_id", AttrSchema::required(Type::String).force_new())
            .attr("name", AttrSchema::required(Type::String).force_new())
            .attr("type", AttrSchema::required(Type::String).force_new())
            .attr("ttl", AttrSchema::optional(Type::Number))
            .attr(
                "records",
                AttrSchema::optional(Type::Set(Box::new(Type::String))),
            )
            .attr(
                "set_identifier",
                AttrSchema::optional(Type::String).force_new(),
            )
            .attr("allow_overwrite", AttrSchema::optional(Type::Bool))
            .attr("id", AttrSchema::computed(Type::String))
            .attr("fqdn", AttrSchema::computed(Type::String))
            .block(
                "alias",
                BlockSchema::single(
                    Schema::new()
                        .attr("name", AttrSchema::required(Type::String))
                        .attr("zone_id", AttrSchema::required(Type::String))
                        .attr("evaluate_target_health", AttrSchema::required(Type::Bool)),
                ),
            )
    }

    fn plan(
        &self,
        _aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        if let Some(t) = str_attr(config, "type") {
            if !RECORD_TYPES.contains(&t) {
                return Err(ProviderError::config(format!(
                    "type {t:?}: must be one of {}",
                    RECORD_TYPES.join(", ")
                )));
            }
        }
        if let Some(n) = str_attr(config, "name") {
            check_domain(n, "name")?;
        }
        let alias = config.get("alias").is_some_and(|a| !a.is_null());
        let records = config.get("records").is_some_and(|r| !r.is_null());
        let ttl = config.get("ttl").is_some_and(|r| !r.is_null());
        match (alias, records, ttl) {
            (true, false, false) | (false, true, true) => {}
            (true, _, _) => {
                return Err(ProviderError::config(
                    "an alias record takes no records or ttl: remove them, or the alias block",
                ))
            }
            (false, _, _) => {
                return Err(ProviderError::config(
                    "a record needs records and ttl, or an alias block",
                ))
            }
        }
        Ok(plan_by_schema(schema, prior, config))
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let (zone, fqdn, kind) = self.key(aws, &planned).await?;
        let action = if bool_attr(&planned, "allow_overwrite") {
            ChangeAction::Upsert
        } else {
            ChangeAction::Create
        };
        self.change(aws, &zone, action, &planned, &fqdn).await?;
        let id = match str_attr(&planned, "set_identifier") {
            Some(s) => format!("{zone}_{fqdn}_{kind}_{s}"),
            None => format!("{zone}_{fqdn}_{kind}"),
        };
        set(&mut planned, "id", id);
        set(&mut planned, "fqdn", fqdn.as_str());
        self.read_back(aws, planned, &format!("record {fqdn} {kind}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let (zone, fqdn, kind) = self.key(aws, &state).await?;
        let Some(rs) = self
            .find(aws, &zone, &fqdn, &kind, str_attr(&state, "set_identifier"))
            .await?
        else {
            return Ok(None);
        };
        set(&mut state, "fqdn", fqdn.as_str());
        if let Some(a) = rs.alias_target() {
            let configured = state.get("alias").cloned().unwrap_or(Value::Null);
            let name = if str_attr(&configured, "name").map(normal) == Some(normal(a.dns_name())) {
                configured.get("name").cloned().unwrap_or(Value::Null)
            } else {
                Value::from(normal(a.dns_name()))
            };
            set(
                &mut state,
                "alias",
                object([
                    ("name", name),
                    ("zone_id", Value::from(a.hosted_zone_id())),
                    (
                        "evaluate_target_health",
                        Value::Bool(a.evaluate_target_health()),
                    ),
                ]),
            );
            set(&mut state, "records", Value::Null);
            set(&mut state, "ttl", Value::Null);
        } else {
            set(
                &mut state,
                "records",
                str_set_value(rs.resource_records().iter().map(|r| r.value())),
            );
            set(&mut state, "ttl", opt_num(rs.ttl().map(|t| t as f64)));
            set(&mut state, "alias", Value::Null);
        }
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, _prior: Value, planned: Value) -> Result<Value> {
        let (zone, fqdn, kind) = self.key(aws, &planned).await?;
        self.change(aws, &zone, ChangeAction::Upsert, &planned, &fqdn)
            .await?;
        self.read_back(aws, planned, &format!("record {fqdn} {kind}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let (zone, fqdn, kind) = self.key(aws, &state).await?;
        // Delete what is there now (Route 53 wants the exact record set).
        let Some(current) = self
            .find(aws, &zone, &fqdn, &kind, str_attr(&state, "set_identifier"))
            .await?
        else {
            return Ok(());
        };
        deleted(
            &format!("deleting record {fqdn} {kind}"),
            aws.route53()
                .await?
                .change_resource_record_sets()
                .hosted_zone_id(&zone)
                .change_batch(
                    ChangeBatch::builder()
                        .changes(
                            Change::builder()
                                .action(ChangeAction::Delete)
                                .resource_record_set(current)
                                .build()
                                .map_err(build_err)?,
                        )
                        .build()
                        .map_err(build_err)?,
                )
                .send()
                .await,
        )
    }

    async fn import(&self, aws: &Aws, id: &str) -> Result<Value> {
        let parts: Vec<&str> = id.splitn(4, '_').collect();
        let [zone, name, kind, rest @ ..] = parts.as_slice() else {
            return Err(ProviderError::config(format!(
                "import ID {id:?}: give it as ZONEID_NAME_TYPE (or ZONEID_NAME_TYPE_SETIDENTIFIER)"
            )));
        };
        let state = object([
            ("id", Value::from(id)),
            ("zone_id", Value::from(*zone)),
            ("name", Value::from(*name)),
            ("type", Value::from(*kind)),
            (
                "set_identifier",
                rest.first().map(|s| Value::from(*s)).unwrap_or(Value::Null),
            ),
        ]);
        self.read(aws, state)
            .await?
            .ok_or_else(|| ProviderError::not_found(format!("there is no record {id}")))
    }
}

impl Record {
    /// The zone, the fully qualified name (relative names are in the zone) and the type.
    async fn key(&self, aws: &Aws, v: &Value) -> Result<(String, String, String)> {
        let zone = zone_id(str_attr(v, "zone_id").unwrap_or_default());
        let name = normal(str_attr(v, "name").unwrap_or_default());
        let kind = str_attr(v, "type").unwrap_or_default().to_string();
        let apex = match aws
            .route53()
            .await?
            .get_hosted_zone()
            .id(&zone)
            .send()
            .await
        {
            Ok(z) => normal(z.hosted_zone().map(|z| z.name()).unwrap_or_default()),
            Err(e) if is_not_found(&e) => return Ok((zone, name, kind)),
            Err(e) => return Err(api_error(&format!("reading hosted zone {zone}"), e)),
        };
        let fqdn = if name == apex || name.ends_with(&format!(".{apex}")) {
            name
        } else {
            format!("{name}.{apex}")
        };
        Ok((zone, fqdn, kind))
    }

    async fn find(
        &self,
        aws: &Aws,
        zone: &str,
        fqdn: &str,
        kind: &str,
        set_identifier: Option<&str>,
    ) -> Result<Option<ResourceRecordSet>> {
        let Some(out) = found(
            &format!("reading record {fqdn} {kind}"),
            aws.route53()
                .await?
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .start_record_name(fqdn)
                .start_record_type(RrType::from(kind))
                .max_items(100)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        Ok(out
            .resource_record_sets()
            .iter()
            .find(|rs| {
                normal(rs.name()).replace("\\052", "*") == fqdn
                    && rs.r#type().as_str() == kind
                    && rs.set_identifier() == set_identifier
            })
            .cloned())
    }

    async fn change(
        &self,
        aws: &Aws,
        zone: &str,
        action: ChangeAction,
        planned: &Value,
        fqdn: &str,
    ) -> Result<()> {
        let kind = str_attr(planned, "type").unwrap_or_default();
        let mut rs = ResourceRecordSet::builder()
            .name(fqdn)
            .r#type(RrType::from(kind))
            .set_set_identifier(str_attr(planned, "set_identifier").map(str::to_string));
        if let Some(a) = planned.get("alias").filter(|a| !a.is_null()) {
            rs = rs.alias_target(
                AliasTarget::builder()
                    .dns_name(str_attr(a, "name").unwrap_or_default())
                    .hosted_zone_id(str_attr(a, "zone_id").unwrap_or_default())
                    .evaluate_target_health(bool_attr(a, "evaluate_target_health"))
                    .build()
                    .map_err(build_err)?,
            );
        } else {
            rs = rs
                .set_ttl(planned.get("ttl").and_then(Value::as_f64).map(|n| n as i64))
                .set_resource_records(Some(
                    str_list(planned, "records")
                        .into_iter()
                        .map(|r| {
                            ResourceRecord::builder()
                                .value(r)
                                .build()
                                .map_err(build_err)
                        })
                        .collect::<Result<Vec<_>>>()?,
                ));
        }
        aws.route53()
            .await?
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(
                ChangeBatch::builder()
                    .changes(
                        Change::builder()
                            .action(action)
                            .resource_record_set(rs.build().map_err(build_err)?)
                            .build()
                            .map_err(build_err)?,
                    )
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| api_error(&format!("writing record {fqdn} {kind}"), e))?;
        Ok(())
    }
}
