//! EC2 networking: `aws_vpc`, `aws_subnet`, `aws_internet_gateway`,
//! `aws_security_group` (with inline rules), and the `aws_availability_zones` data
//! source.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, IpPermission, IpRange, Ipv6Range, ResourceType, Tag,
    TagSpecification,
};
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, BlockSchema, DataSource, ImportKey, PlannedChange, ProviderError, Resource, Result,
    Schema,
};

use crate::context::{api_error, deleted, found, tags_value, Aws};
use crate::util::{
    bool_attr, default_to, import_by, num_attr, object, opt_str, own_tags, set, str_attr,
    string_map,
};
use crate::{plan_tags, tag_attrs};

pub(crate) fn id_of(v: &Value) -> Result<String> {
    str_attr(v, "id")
        .map(str::to_string)
        .ok_or_else(|| ProviderError::internal("the object's ID is not known"))
}

/// The most values one EC2 `Describe*` filter takes.
const FILTER_VALUES_LIMIT: usize = 200;

/// Reads EC2 objects of one type for many states in as few calls as the API allows:
/// `describe` lists the objects matching a filter on `id_name` (`instance-id`, ...) for
/// up to 200 IDs at a time; an ID filter leaves an object that no longer exists out of
/// the answer, where an ID list would fail the whole call. `fill` turns one object into
/// the state. One code path serves `read` (one state) and `read_batch` (many), so the
/// batched read is what every test drives.
pub(crate) async fn read_by_id_filter<T, D, DF, F, FF>(
    states: Vec<Value>,
    id_name: &str,
    describe: D,
    fill: F,
) -> Result<Vec<Option<Value>>>
where
    T: Clone,
    D: Fn(Filter) -> DF,
    DF: std::future::Future<Output = Result<Vec<(String, T)>>>,
    F: Fn(Value, T) -> FF,
    FF: std::future::Future<Output = Result<Option<Value>>>,
{
    let ids = states.iter().map(id_of).collect::<Result<Vec<_>>>()?;
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(FILTER_VALUES_LIMIT) {
        let filter = Filter::builder()
            .name(id_name)
            .set_values(Some(chunk.to_vec()))
            .build();
        found.extend(describe(filter).await?);
    }
    let mut out = Vec::with_capacity(states.len());
    for (state, id) in states.into_iter().zip(&ids) {
        out.push(match found.get(id) {
            Some(obj) => fill(state, obj.clone()).await?,
            None => None,
        });
    }
    Ok(out)
}

pub(crate) fn ec2_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(crate) fn tag_spec(kind: ResourceType, aws: &Aws, planned: &Value) -> Option<TagSpecification> {
    let all = aws.tags_all(&string_map(planned.get("tags")));
    (!all.is_empty()).then(|| {
        TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(ec2_tags(&all)))
            .build()
    })
}

pub(crate) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// Sets `tags` and `tags_all` on a read object from the tags AWS holds.
pub(crate) fn read_tags(aws: &Aws, state: &mut Value, actual: &[Tag]) {
    let actual = tag_map(actual);
    let own = own_tags(state, &actual, &aws.settings.default_tags);
    set(state, "tags", own);
    set(state, "tags_all", tags_value(&actual));
}

/// Brings an object's tags from `prior.tags_all` to the planned ones.
pub(crate) async fn update_tags(aws: &Aws, id: &str, prior: &Value, planned: &Value) -> Result<()> {
    let ec2 = aws.ec2().await?;
    aws.sync_tags(
        id,
        prior,
        planned,
        |keys| {
            let gone = keys.iter().map(|k| Tag::builder().key(k).build()).collect();
            ec2.delete_tags().resources(id).set_tags(Some(gone)).send()
        },
        |all| {
            Ok(ec2
                .create_tags()
                .resources(id)
                .set_tags(Some(ec2_tags(&all)))
                .send())
        },
    )
    .await
}

/// Parses an IPv4 CIDR block.
pub(crate) fn cidr(s: &str) -> Option<(std::net::Ipv4Addr, u8)> {
    let (ip, len) = s.split_once('/')?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((ip.parse().ok()?, len))
}

pub struct Vpc;

#[async_trait]
impl Resource<Aws> for Vpc {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr("cidr_block", AttrSchema::required(Type::String).force_new())
                .attr(
                    "instance_tenancy",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr(
                    "enable_dns_support",
                    AttrSchema::optional_computed(Type::Bool),
                )
                .attr(
                    "enable_dns_hostnames",
                    AttrSchema::optional_computed(Type::Bool),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .attr("owner_id", AttrSchema::computed(Type::String))
                .attr("main_route_table_id", AttrSchema::computed(Type::String))
                .attr(
                    "default_security_group_id",
                    AttrSchema::computed(Type::String),
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
        if let Some(c) = str_attr(config, "cidr_block") {
            match cidr(c) {
                Some((_, len)) if (16..=28).contains(&len) => {}
                Some((_, len)) => {
                    return Err(ProviderError::config(format!(
                        "cidr_block {c:?}: a VPC's block is /16 to /28, not /{len}"
                    )))
                }
                None => {
                    return Err(ProviderError::config(format!(
                        "cidr_block {c:?} is not an IPv4 CIDR block such as 10.0.0.0/16"
                    )))
                }
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "instance_tenancy", "default");
        default_to(&mut change.planned, "enable_dns_support", true);
        default_to(&mut change.planned, "enable_dns_hostnames", false);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let block = str_attr(&planned, "cidr_block")
            .unwrap_or_default()
            .to_string();
        let out = aws
            .ec2()
            .await?
            .create_vpc()
            .cidr_block(&block)
            .set_instance_tenancy(
                str_attr(&planned, "instance_tenancy").map(aws_sdk_ec2::types::Tenancy::from),
            )
            .set_tag_specifications(tag_spec(ResourceType::Vpc, aws, &planned).map(|t| vec![t]))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating a VPC for {block}"), e))?;
        let id = out
            .vpc()
            .and_then(|v| v.vpc_id())
            .unwrap_or_default()
            .to_string();
        set(&mut planned, "id", id.as_str());
        self.set_dns(aws, &id, &planned, None).await?;
        self.read_back(aws, planned, &format!("VPC {id}")).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = id_of(&state)?;
        let ec2 = aws.ec2().await?;
        let Some(out) = found(
            &format!("reading VPC {id}"),
            ec2.describe_vpcs().vpc_ids(&id).send().await,
        )?
        else {
            return Ok(None);
        };
        let Some(vpc) = out.vpcs().first() else {
            return Ok(None);
        };
        set(&mut state, "cidr_block", opt_str(vpc.cidr_block()));
        set(
            &mut state,
            "instance_tenancy",
            opt_str(vpc.instance_tenancy().map(|t| t.as_str())),
        );
        set(&mut state, "owner_id", opt_str(vpc.owner_id()));
        set(
            &mut state,
            "arn",
            format!(
                "arn:aws:ec2:{}:{}:vpc/{id}",
                aws.region(),
                vpc.owner_id().unwrap_or_default()
            ),
        );
        read_tags(aws, &mut state, vpc.tags());
        for (attr, name) in [
            (
                aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
                "enable_dns_support",
            ),
            (
                aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
                "enable_dns_hostnames",
            ),
        ] {
            let out = ec2
                .describe_vpc_attribute()
                .vpc_id(&id)
                .attribute(attr.clone())
                .send()
                .await
                .map_err(|e| api_error(&format!("reading {name} of VPC {id}"), e))?;
            let on = match attr {
                aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
                _ => out.enable_dns_hostnames(),
            }
            .and_then(|v| v.value())
            .unwrap_or(false);
            set(&mut state, name, on);
        }
        let vpc_filter = Filter::builder().name("vpc-id").values(&id).build();
        let main = ec2
            .describe_route_tables()
            .filters(vpc_filter.clone())
            .filters(
                Filter::builder()
                    .name("association.main")
                    .values("true")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the main route table of VPC {id}"), e))?;
        set(
            &mut state,
            "main_route_table_id",
            opt_str(main.route_tables().first().and_then(|r| r.route_table_id())),
        );
        let sg = ec2
            .describe_security_groups()
            .filters(vpc_filter)
            .filters(
                Filter::builder()
                    .name("group-name")
                    .values("default")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                api_error(
                    &format!("reading the default security group of VPC {id}"),
                    e,
                )
            })?;
        set(
            &mut state,
            "default_security_group_id",
            opt_str(sg.security_groups().first().and_then(|g| g.group_id())),
        );
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let id = id_of(&prior)?;
        self.set_dns(aws, &id, &planned, Some(&prior)).await?;
        update_tags(aws, &id, &prior, &planned).await?;
        let mut planned = planned;
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("VPC {id}")).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        deleted(
            &format!("deleting VPC {id}"),
            aws.ec2().await?.delete_vpc().vpc_id(&id).send().await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("VPC {id}"))
    }
}

impl Vpc {
    /// Sets the DNS attributes that differ from AWS's defaults (on create) or from the
    /// prior state (on update); AWS takes one attribute per call.
    async fn set_dns(
        &self,
        aws: &Aws,
        id: &str,
        planned: &Value,
        prior: Option<&Value>,
    ) -> Result<()> {
        let ec2 = aws.ec2().await?;
        for (name, default) in [
            ("enable_dns_support", true),
            ("enable_dns_hostnames", false),
        ] {
            let want = planned
                .get(name)
                .and_then(Value::as_bool)
                .unwrap_or(default);
            let had = prior
                .and_then(|p| p.get(name))
                .and_then(Value::as_bool)
                .unwrap_or(default);
            if want == had {
                continue;
            }
            let value = AttributeBooleanValue::builder().value(want).build();
            let req = ec2.modify_vpc_attribute().vpc_id(id);
            let req = if name == "enable_dns_support" {
                req.enable_dns_support(value)
            } else {
                req.enable_dns_hostnames(value)
            };
            req.send()
                .await
                .map_err(|e| api_error(&format!("setting {name} of VPC {id}"), e))?;
        }
        Ok(())
    }
}

pub struct Subnet;

/// Subnets for many states in one `DescribeSubnets` call per 200.
async fn read_subnets(aws: &Aws, states: Vec<Value>) -> Result<Vec<Option<Value>>> {
    let ec2 = &aws.ec2().await?;
    let describe = |filter: Filter| async move {
        let items = ec2
            .describe_subnets()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<Vec<_>, _>>()
            .await
            .map_err(|e| api_error("reading subnets", e))?;
        Ok(items
            .into_iter()
            .filter_map(|s| Some((s.subnet_id()?.to_string(), s)))
            .collect())
    };
    let fill = |mut state: Value, s: aws_sdk_ec2::types::Subnet| async move {
        set(&mut state, "vpc_id", opt_str(s.vpc_id()));
        set(&mut state, "cidr_block", opt_str(s.cidr_block()));
        set(
            &mut state,
            "availability_zone",
            opt_str(s.availability_zone()),
        );
        set(
            &mut state,
            "map_public_ip_on_launch",
            s.map_public_ip_on_launch().unwrap_or(false),
        );
        set(&mut state, "arn", opt_str(s.subnet_arn()));
        read_tags(aws, &mut state, s.tags());
        Ok(Some(state))
    };
    read_by_id_filter(states, "subnet-id", describe, fill).await
}

#[async_trait]
impl Resource<Aws> for Subnet {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr("vpc_id", AttrSchema::required(Type::String).force_new())
                .attr("cidr_block", AttrSchema::required(Type::String).force_new())
                .attr(
                    "availability_zone",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr(
                    "map_public_ip_on_launch",
                    AttrSchema::optional_computed(Type::Bool),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String)),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        if let Some(c) = str_attr(config, "cidr_block") {
            if !cidr(c).is_some_and(|(_, len)| (16..=28).contains(&len)) {
                return Err(ProviderError::config(format!(
                    "cidr_block {c:?} is not an IPv4 CIDR block of /16 to /28 such as 10.0.1.0/24"
                )));
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "map_public_ip_on_launch", false);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let vpc = str_attr(&planned, "vpc_id").unwrap_or_default().to_string();
        let block = str_attr(&planned, "cidr_block")
            .unwrap_or_default()
            .to_string();
        let ec2 = aws.ec2().await?;
        let out = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(&block)
            .set_availability_zone(str_attr(&planned, "availability_zone").map(str::to_string))
            .set_tag_specifications(tag_spec(ResourceType::Subnet, aws, &planned).map(|t| vec![t]))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating subnet {block} in {vpc}"), e))?;
        let id = out
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_string();
        set(&mut planned, "id", id.as_str());
        if bool_attr(&planned, "map_public_ip_on_launch") {
            self.set_public_ip(aws, &id, true).await?;
        }
        self.read_back(aws, planned, &format!("subnet {id}")).await
    }

    async fn read(&self, aws: &Aws, state: Value) -> Result<Option<Value>> {
        Ok(read_subnets(aws, vec![state]).await?.pop().flatten())
    }

    async fn read_batch(
        &self,
        aws: &Aws,
        states: Vec<Value>,
    ) -> Option<Result<Vec<Option<Value>>>> {
        Some(read_subnets(aws, states).await)
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let id = id_of(&prior)?;
        if prior.get("map_public_ip_on_launch") != planned.get("map_public_ip_on_launch") {
            self.set_public_ip(aws, &id, bool_attr(&planned, "map_public_ip_on_launch"))
                .await?;
        }
        update_tags(aws, &id, &prior, &planned).await?;
        let mut planned = planned;
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("subnet {id}")).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        deleted(
            &format!("deleting subnet {id}"),
            aws.ec2().await?.delete_subnet().subnet_id(&id).send().await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("subnet {id}"))
    }
}

impl Subnet {
    async fn set_public_ip(&self, aws: &Aws, id: &str, on: bool) -> Result<()> {
        aws.ec2()
            .await?
            .modify_subnet_attribute()
            .subnet_id(id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
            .send()
            .await
            .map_err(|e| {
                api_error(
                    &format!("setting map_public_ip_on_launch of subnet {id}"),
                    e,
                )
            })?;
        Ok(())
    }
}

pub struct InternetGateway;

#[async_trait]
impl Resource<Aws> for InternetGateway {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr("vpc_id", AttrSchema::optional(Type::String))
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String)),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let mut change = plan_by_schema(schema, prior, config);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let out = aws
            .ec2()
            .await?
            .create_internet_gateway()
            .set_tag_specifications(
                tag_spec(ResourceType::InternetGateway, aws, &planned).map(|t| vec![t]),
            )
            .send()
            .await
            .map_err(|e| api_error("creating an internet gateway", e))?;
        let id = out
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .unwrap_or_default()
            .to_string();
        set(&mut planned, "id", id.as_str());
        if let Some(vpc) = str_attr(&planned, "vpc_id") {
            self.attach(aws, &id, vpc).await?;
        }
        self.read_back(aws, planned, &format!("internet gateway {id}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = id_of(&state)?;
        let Some(out) = found(
            &format!("reading internet gateway {id}"),
            aws.ec2()
                .await?
                .describe_internet_gateways()
                .internet_gateway_ids(&id)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(g) = out.internet_gateways().first() else {
            return Ok(None);
        };
        set(
            &mut state,
            "vpc_id",
            opt_str(g.attachments().first().and_then(|a| a.vpc_id())),
        );
        set(
            &mut state,
            "arn",
            format!(
                "arn:aws:ec2:{}:{}:internet-gateway/{id}",
                aws.region(),
                g.owner_id().unwrap_or_default()
            ),
        );
        read_tags(aws, &mut state, g.tags());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let id = id_of(&prior)?;
        let (old, new) = (str_attr(&prior, "vpc_id"), str_attr(&planned, "vpc_id"));
        if old != new {
            if let Some(vpc) = old {
                self.detach(aws, &id, vpc).await?;
            }
            if let Some(vpc) = new {
                self.attach(aws, &id, vpc).await?;
            }
        }
        update_tags(aws, &id, &prior, &planned).await?;
        let mut planned = planned;
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("internet gateway {id}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        if let Some(vpc) = str_attr(&state, "vpc_id") {
            self.detach(aws, &id, vpc).await?;
        }
        deleted(
            &format!("deleting internet gateway {id}"),
            aws.ec2()
                .await?
                .delete_internet_gateway()
                .internet_gateway_id(&id)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("internet gateway {id}"))
    }
}

impl InternetGateway {
    async fn attach(&self, aws: &Aws, id: &str, vpc: &str) -> Result<()> {
        aws.ec2()
            .await?
            .attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
            .map_err(|e| api_error(&format!("attaching internet gateway {id} to {vpc}"), e))?;
        Ok(())
    }

    async fn detach(&self, aws: &Aws, id: &str, vpc: &str) -> Result<()> {
        deleted(
            &format!("detaching internet gateway {id} from {vpc}"),
            aws.ec2()
                .await?
                .detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(vpc)
                .send()
                .await,
        )
    }
}

/// One inline security group rule, as terrane compares them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rule {
    protocol: String,
    from_port: i64,
    to_port: i64,
    cidr_blocks: Vec<String>,
    ipv6_cidr_blocks: Vec<String>,
    description: String,
}

fn strings(v: &Value, name: &str) -> Vec<String> {
    let mut out: Vec<String> = v
        .get(name)
        .and_then(Value::as_items)
        .unwrap_or(&[])
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

impl Rule {
    fn from_value(v: &Value) -> Rule {
        let protocol = match str_attr(v, "protocol").unwrap_or("-1") {
            "all" | "-1" => "-1".to_string(),
            p => p.to_ascii_lowercase(),
        };
        let all = protocol == "-1";
        Rule {
            from_port: if all {
                0
            } else {
                num_attr(v, "from_port").unwrap_or(0)
            },
            to_port: if all {
                0
            } else {
                num_attr(v, "to_port").unwrap_or(0)
            },
            protocol,
            cidr_blocks: strings(v, "cidr_blocks"),
            ipv6_cidr_blocks: strings(v, "ipv6_cidr_blocks"),
            description: str_attr(v, "description").unwrap_or_default().to_string(),
        }
    }

    fn to_value(&self) -> Value {
        let list =
            |xs: &[String]| Value::List(xs.iter().map(|x| Value::from(x.as_str())).collect());
        object([
            ("protocol", Value::from(self.protocol.as_str())),
            ("from_port", Value::from(self.from_port)),
            ("to_port", Value::from(self.to_port)),
            ("cidr_blocks", list(&self.cidr_blocks)),
            ("ipv6_cidr_blocks", list(&self.ipv6_cidr_blocks)),
            ("description", Value::from(self.description.as_str())),
        ])
    }

    fn permission(&self) -> IpPermission {
        let desc = (!self.description.is_empty()).then(|| self.description.clone());
        IpPermission::builder()
            .ip_protocol(&self.protocol)
            .set_from_port((self.protocol != "-1").then_some(self.from_port as i32))
            .set_to_port((self.protocol != "-1").then_some(self.to_port as i32))
            .set_ip_ranges(Some(
                self.cidr_blocks
                    .iter()
                    .map(|c| {
                        IpRange::builder()
                            .cidr_ip(c)
                            .set_description(desc.clone())
                            .build()
                    })
                    .collect(),
            ))
            .set_ipv6_ranges(Some(
                self.ipv6_cidr_blocks
                    .iter()
                    .map(|c| {
                        Ipv6Range::builder()
                            .cidr_ipv6(c)
                            .set_description(desc.clone())
                            .build()
                    })
                    .collect(),
            ))
            .build()
    }

    fn from_permission(p: &IpPermission) -> Rule {
        let mut cidrs: Vec<String> = p
            .ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip().map(str::to_string))
            .collect();
        cidrs.sort();
        let mut v6: Vec<String> = p
            .ipv6_ranges()
            .iter()
            .filter_map(|r| r.cidr_ipv6().map(str::to_string))
            .collect();
        v6.sort();
        let description = p
            .ip_ranges()
            .iter()
            .find_map(|r| r.description())
            .or_else(|| p.ipv6_ranges().iter().find_map(|r| r.description()))
            .unwrap_or_default()
            .to_string();
        let protocol = p.ip_protocol().unwrap_or("-1").to_string();
        let all = protocol == "-1";
        Rule {
            from_port: if all {
                0
            } else {
                p.from_port().unwrap_or(0) as i64
            },
            to_port: if all {
                0
            } else {
                p.to_port().unwrap_or(0) as i64
            },
            protocol,
            cidr_blocks: cidrs,
            ipv6_cidr_blocks: v6,
            description,
        }
    }
}

fn rules_of(v: &Value, block: &str) -> Vec<Rule> {
    let mut rules: Vec<Rule> = v
        .get(block)
        .and_then(Value::as_items)
        .unwrap_or(&[])
        .iter()
        .map(Rule::from_value)
        .collect();
    rules.sort();
    rules
}

fn rules_value(rules: &[Rule]) -> Value {
    Value::List(rules.iter().map(Rule::to_value).collect())
}

pub struct SecurityGroup;

impl SecurityGroup {
    async fn apply_rules(
        &self,
        aws: &Aws,
        id: &str,
        egress: bool,
        old: &[Rule],
        new: &[Rule],
    ) -> Result<()> {
        let ec2 = aws.ec2().await?;
        let gone: Vec<IpPermission> = old
            .iter()
            .filter(|r| !new.contains(r))
            .map(Rule::permission)
            .collect();
        let added: Vec<IpPermission> = new
            .iter()
            .filter(|r| !old.contains(r))
            .map(Rule::permission)
            .collect();
        let what = if egress { "egress" } else { "ingress" };
        if !gone.is_empty() {
            let op = format!("revoking {what} rules of {id}");
            if egress {
                ec2.revoke_security_group_egress()
                    .group_id(id)
                    .set_ip_permissions(Some(gone))
                    .send()
                    .await
                    .map_err(|e| api_error(&op, e))?;
            } else {
                ec2.revoke_security_group_ingress()
                    .group_id(id)
                    .set_ip_permissions(Some(gone))
                    .send()
                    .await
                    .map_err(|e| api_error(&op, e))?;
            }
        }
        if !added.is_empty() {
            let op = format!("authorizing {what} rules of {id}");
            if egress {
                ec2.authorize_security_group_egress()
                    .group_id(id)
                    .set_ip_permissions(Some(added))
                    .send()
                    .await
                    .map_err(|e| api_error(&op, e))?;
            } else {
                ec2.authorize_security_group_ingress()
                    .group_id(id)
                    .set_ip_permissions(Some(added))
                    .send()
                    .await
                    .map_err(|e| api_error(&op, e))?;
            }
        }
        Ok(())
    }
}

fn rule_schema() -> BlockSchema {
    let list = || AttrSchema::optional(Type::List(Box::new(Type::String)));
    BlockSchema::list(
        Schema::new()
            .attr("from_port", AttrSchema::required(Type::Number))
            .attr("to_port", AttrSchema::required(Type::Number))
            .attr("protocol", AttrSchema::required(Type::String))
            .attr("cidr_blocks", list())
            .attr("ipv6_cidr_blocks", list())
            .attr("description", AttrSchema::optional(Type::String)),
    )
}

#[async_trait]
impl Resource<Aws> for SecurityGroup {
    fn schema(&self) -> Schema {
        tag_attrs(
            crate::util::name_attrs(Schema::new())
                .attr(
                    "description",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr(
                    "vpc_id",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .attr("owner_id", AttrSchema::computed(Type::String))
                .block("ingress", rule_schema())
                .block("egress", rule_schema()),
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
        for block in ["ingress", "egress"] {
            for (i, r) in config
                .get(block)
                .and_then(Value::as_items)
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                for c in strings(r, "cidr_blocks") {
                    if cidr(&c).is_none() {
                        problems.push(format!("{block} {i}: {c:?} is not an IPv4 CIDR block"));
                    }
                }
                let (from, to) = (num_attr(r, "from_port"), num_attr(r, "to_port"));
                if let (Some(f), Some(t)) = (from, to) {
                    if f > t {
                        problems.push(format!("{block} {i}: from_port {f} is above to_port {t}"));
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(ProviderError::config(problems.join("\n")));
        }
        let mut change = plan_by_schema(schema, prior, config);
        for block in ["ingress", "egress"] {
            if !has_blocks(config, block) {
                // No inline rules configured: the group's rules are managed elsewhere
                // (aws_vpc_security_group_*_rule resources), as in Terraform; keep
                // what is there.
                let kept = prior
                    .and_then(|p| p.get(block))
                    .cloned()
                    .unwrap_or(Value::List(Vec::new()));
                set(&mut change.planned, block, kept);
            } else if config.get(block).is_some_and(Value::is_wholly_known) {
                // Rules are a set: planned in the order reads return them.
                let rules = rules_of(config, block);
                set(&mut change.planned, block, rules_value(&rules));
            }
        }
        default_to(&mut change.planned, "description", "Managed by Terraform");
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let name = str_attr(&planned, "name")
            .map(str::to_string)
            .unwrap_or_else(|| {
                crate::messaging::generated_name(
                    str_attr(&planned, "name_prefix").unwrap_or("terraform-"),
                )
            });
        let ec2 = aws.ec2().await?;
        let out = ec2
            .create_security_group()
            .group_name(&name)
            .description(str_attr(&planned, "description").unwrap_or("Managed by Terraform"))
            .set_vpc_id(str_attr(&planned, "vpc_id").map(str::to_string))
            .set_tag_specifications(
                tag_spec(ResourceType::SecurityGroup, aws, &planned).map(|t| vec![t]),
            )
            .send()
            .await
            .map_err(|e| api_error(&format!("creating security group {name}"), e))?;
        let id = out.group_id().unwrap_or_default().to_string();
        set(&mut planned, "id", id.as_str());
        set(&mut planned, "name", name.as_str());
        // AWS adds an allow-all egress rule to a new group in a VPC; like Terraform, the
        // group gets exactly the egress rules configured.
        let created = self
            .read_back(aws, planned.clone(), &format!("security group {id}"))
            .await?;
        self.apply_rules(
            aws,
            &id,
            true,
            &rules_of(&created, "egress"),
            &rules_of(&planned, "egress"),
        )
        .await?;
        self.apply_rules(
            aws,
            &id,
            false,
            &rules_of(&created, "ingress"),
            &rules_of(&planned, "ingress"),
        )
        .await?;
        self.read_back(aws, planned, &format!("security group {id}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = id_of(&state)?;
        let Some(out) = found(
            &format!("reading security group {id}"),
            aws.ec2()
                .await?
                .describe_security_groups()
                .group_ids(&id)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(g) = out.security_groups().first() else {
            return Ok(None);
        };
        set(&mut state, "name", opt_str(g.group_name()));
        set(&mut state, "description", opt_str(g.description()));
        set(&mut state, "vpc_id", opt_str(g.vpc_id()));
        set(&mut state, "owner_id", opt_str(g.owner_id()));
        set(
            &mut state,
            "arn",
            format!(
                "arn:aws:ec2:{}:{}:security-group/{id}",
                aws.region(),
                g.owner_id().unwrap_or_default()
            ),
        );
        for (block, perms) in [
            ("ingress", g.ip_permissions()),
            ("egress", g.ip_permissions_egress()),
        ] {
            if state.get(block).is_some_and(|b| !b.is_null()) && !has_blocks(&state, block) {
                // Not managed inline (see plan).
                continue;
            }
            let mut rules: Vec<Rule> = perms.iter().map(Rule::from_permission).collect();
            rules.sort();
            set(&mut state, block, rules_value(&rules));
        }
        read_tags(aws, &mut state, g.tags());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let id = id_of(&prior)?;
        for (block, egress) in [("ingress", false), ("egress", true)] {
            self.apply_rules(
                aws,
                &id,
                egress,
                &rules_of(&prior, block),
                &rules_of(&planned, block),
            )
            .await?;
        }
        update_tags(aws, &id, &prior, &planned).await?;
        let mut planned = planned;
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("security group {id}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        deleted(
            &format!("deleting security group {id}"),
            aws.ec2()
                .await?
                .delete_security_group()
                .group_id(&id)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("security group {id}"))
    }
}

/// `aws_availability_zones`: the zones of the region that are available.
pub struct AvailabilityZones;

#[async_trait]
impl DataSource<Aws> for AvailabilityZones {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("state", AttrSchema::optional(Type::String))
            .attr("id", AttrSchema::computed(Type::String))
            .attr(
                "names",
                AttrSchema::computed(Type::List(Box::new(Type::String))),
            )
            .attr(
                "zone_ids",
                AttrSchema::computed(Type::List(Box::new(Type::String))),
            )
    }

    async fn read(&self, aws: &Aws, mut config: Value) -> Result<Value> {
        let mut req = aws.ec2().await?.describe_availability_zones();
        if let Some(s) = str_attr(&config, "state") {
            req = req.filters(Filter::builder().name("state").values(s).build());
        }
        let out = req
            .send()
            .await
            .map_err(|e| api_error("listing availability zones", e))?;
        let mut zones: Vec<(String, String)> = out
            .availability_zones()
            .iter()
            .map(|z| {
                (
                    z.zone_name().unwrap_or_default().to_string(),
                    z.zone_id().unwrap_or_default().to_string(),
                )
            })
            .collect();
        zones.sort();
        set(&mut config, "id", aws.region());
        set(
            &mut config,
            "names",
            Value::List(zones.iter().map(|(n, _)| Value::from(n.as_str())).collect()),
        );
        set(
            &mut config,
            "zone_ids",
            Value::List(zones.iter().map(|(_, i)| Value::from(i.as_str())).collect()),
        );
        Ok(config)
    }
}

/// `aws_route_table`: a VPC's route table with inline `route` blocks (IPv4
/// destinations through an internet gateway or NAT gateway). The implicit `local`
/// route is AWS's and is not listed.
pub struct RouteTable;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Route {
    cidr_block: String,
    gateway_id: String,
    nat_gateway_id: String,
}

impl Route {
    fn from_value(v: &Value) -> Route {
        Route {
            cidr_block: str_attr(v, "cidr_block").unwrap_or_default().to_string(),
            gateway_id: str_attr(v, "gateway_id").unwrap_or_default().to_string(),
            nat_gateway_id: str_attr(v, "nat_gateway_id")
                .unwrap_or_default()
                .to_string(),
        }
    }

    fn to_value(&self) -> Value {
        let opt = |s: &str| {
            if s.is_empty() {
                Value::Null
            } else {
                Value::from(s)
            }
        };
        object([
            ("cidr_block", Value::from(self.cidr_block.as_str())),
            ("gateway_id", opt(&self.gateway_id)),
            ("nat_gateway_id", opt(&self.nat_gateway_id)),
        ])
    }
}

fn routes_of(v: &Value) -> Vec<Route> {
    let mut routes: Vec<Route> = v
        .get("route")
        .and_then(Value::as_items)
        .unwrap_or(&[])
        .iter()
        .map(Route::from_value)
        .collect();
    routes.sort();
    routes
}

impl RouteTable {
    async fn apply_routes(&self, aws: &Aws, id: &str, old: &[Route], new: &[Route]) -> Result<()> {
        let ec2 = aws.ec2().await?;
        for r in old.iter().filter(|r| !new.contains(r)) {
            let result = ec2
                .delete_route()
                .route_table_id(id)
                .destination_cidr_block(&r.cidr_block)
                .send()
                .await;
            deleted(
                &format!("deleting the route to {} from {id}", r.cidr_block),
                result,
            )?;
        }
        for r in new.iter().filter(|r| !old.contains(r)) {
            let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
            ec2.create_route()
                .route_table_id(id)
                .destination_cidr_block(&r.cidr_block)
                .set_gateway_id(nonempty(&r.gateway_id))
                .set_nat_gateway_id(nonempty(&r.nat_gateway_id))
                .send()
                .await
                .map_err(|e| {
                    api_error(&format!("adding the route to {} to {id}", r.cidr_block), e)
                })?;
        }
        Ok(())
    }
}

#[async_trait]
impl Resource<Aws> for RouteTable {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr("vpc_id", AttrSchema::required(Type::String).force_new())
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .block(
                    "route",
                    BlockSchema::list(
                        Schema::new()
                            .attr("cidr_block", AttrSchema::required(Type::String))
                            .attr("gateway_id", AttrSchema::optional(Type::String))
                            .attr("nat_gateway_id", AttrSchema::optional(Type::String)),
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
        for (i, r) in config
            .get("route")
            .and_then(Value::as_items)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            if let Some(c) = str_attr(r, "cidr_block") {
                if cidr(c).is_none() {
                    problems.push(format!(
                        "route {i}: cidr_block {c:?} is not an IPv4 CIDR block"
                    ));
                }
            }
            let targets = ["gateway_id", "nat_gateway_id"]
                .iter()
                .filter(|t| r.get(t).is_some_and(|v| !v.is_null()))
                .count();
            if targets != 1 {
                problems.push(format!(
                    "route {i} needs exactly one target: gateway_id or nat_gateway_id"
                ));
            }
        }
        if !problems.is_empty() {
            return Err(ProviderError::config(problems.join("\n")));
        }
        let mut change = plan_by_schema(schema, prior, config);
        // No inline routes: the table's routes are left to `aws_route` resources (and
        // what AWS adds), as Terraform leaves them when `route` is not configured.
        if let (true, Some(p)) = (routes_of(config).is_empty(), prior) {
            set(
                &mut change.planned,
                "route",
                p.get("route").cloned().unwrap_or(Value::List(Vec::new())),
            );
        } else if config.get("route").is_some_and(Value::is_wholly_known) {
            let routes = routes_of(config);
            set(
                &mut change.planned,
                "route",
                Value::List(routes.iter().map(Route::to_value).collect()),
            );
        }
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let vpc = str_attr(&planned, "vpc_id").unwrap_or_default().to_string();
        let out = aws
            .ec2()
            .await?
            .create_route_table()
            .vpc_id(&vpc)
            .set_tag_specifications(
                tag_spec(ResourceType::RouteTable, aws, &planned).map(|t| vec![t]),
            )
            .send()
            .await
            .map_err(|e| api_error(&format!("creating a route table in {vpc}"), e))?;
        let id = out
            .route_table()
            .and_then(|r| r.route_table_id())
            .unwrap_or_default()
            .to_string();
        set(&mut planned, "id", id.as_str());
        self.apply_routes(aws, &id, &[], &routes_of(&planned))
            .await?;
        self.read_back(aws, planned, &format!("route table {id}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = id_of(&state)?;
        let Some(out) = found(
            &format!("reading route table {id}"),
            aws.ec2()
                .await?
                .describe_route_tables()
                .route_table_ids(&id)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(t) = out.route_tables().first() else {
            return Ok(None);
        };
        let mut routes: Vec<Route> = t
            .routes()
            .iter()
            .filter(|r| r.gateway_id() != Some("local"))
            .filter_map(|r| {
                Some(Route {
                    cidr_block: r.destination_cidr_block()?.to_string(),
                    gateway_id: r.gateway_id().unwrap_or_default().to_string(),
                    nat_gateway_id: r.nat_gateway_id().unwrap_or_default().to_string(),
                })
            })
            .collect();
        routes.sort();
        set(
            &mut state,
            "route",
            Value::List(routes.iter().map(Route::to_value).collect()),
        );
        set(&mut state, "vpc_id", opt_str(t.vpc_id()));
        set(
            &mut state,
            "arn",
            format!(
                "arn:aws:ec2:{}:{}:route-table/{id}",
                aws.region(),
                t.owner_id().unwrap_or_default()
            ),
        );
        read_tags(aws, &mut state, t.tags());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let id = id_of(&prior)?;
        self.apply_routes(aws, &id, &routes_of(&prior), &routes_of(&planned))
            .await?;
        update_tags(aws, &id, &prior, &planned).await?;
        let mut planned = planned;
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("route table {id}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        deleted(
            &format!("deleting route table {id}"),
            aws.ec2()
                .await?
                .delete_route_table()
                .route_table_id(&id)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("route table {id}"))
    }
}

/// `aws_route_table_association`: a subnet's route table.
pub struct RouteTableAssociation;

#[async_trait]
impl Resource<Aws> for RouteTableAssociation {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("subnet_id", AttrSchema::required(Type::String).force_new())
            .attr(
                "route_table_id",
                AttrSchema::required(Type::String).force_new(),
            )
            .attr("id", AttrSchema::computed(Type::String))
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let subnet = str_attr(&planned, "subnet_id")
            .unwrap_or_default()
            .to_string();
        let table = str_attr(&planned, "route_table_id")
            .unwrap_or_default()
            .to_string();
        let out = aws
            .ec2()
            .await?
            .associate_route_table()
            .subnet_id(&subnet)
            .route_table_id(&table)
            .send()
            .await
            .map_err(|e| api_error(&format!("associating {subnet} with {table}"), e))?;
        set(&mut planned, "id", opt_str(out.association_id()));
        Ok(planned)
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = id_of(&state)?;
        let out = aws
            .ec2()
            .await?
            .describe_route_tables()
            .filters(
                Filter::builder()
                    .name("association.route-table-association-id")
                    .values(&id)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| api_error(&format!("reading route table association {id}"), e))?;
        let found = out.route_tables().iter().find_map(|t| {
            t.associations()
                .iter()
                .find(|a| a.route_table_association_id() == Some(id.as_str()))
                .map(|a| (t.route_table_id(), a.subnet_id()))
        });
        let Some((table, subnet)) = found else {
            return Ok(None);
        };
        set(&mut state, "route_table_id", opt_str(table));
        set(&mut state, "subnet_id", opt_str(subnet));
        Ok(Some(state))
    }

    async fn update(&self, _aws: &Aws, _prior: Value, planned: Value) -> Result<Value> {
        Ok(planned)
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        deleted(
            &format!("removing route table association {id}"),
            aws.ec2()
                .await?
                .disassociate_route_table()
                .association_id(&id)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        Some(ImportKey {
            attr: "id",
            null: &[],
            what: |id| format!("route table association {id}"),
        })
    }
}

/// Whether a value has at least one `block` (inline rule blocks, for instance).
fn has_blocks(v: &Value, block: &str) -> bool {
    v.get(block)
        .and_then(Value::as_items)
        .is_some_and(|items| !items.is_empty())
        || v.get(block).is_some_and(|b| !b.is_wholly_known())
}

/// `aws_vpc_security_group_ingress_rule` and `aws_vpc_security_group_egress_rule`: one
/// rule of a security group as its own resource (one source per rule: an IPv4 or IPv6
/// block, a prefix list or another group). Everything but the group changes in place.
pub struct SecurityGroupRule {
    pub egress: bool,
}

impl SecurityGroupRule {
    fn what(&self) -> &'static str {
        if self.egress {
            "egress rule"
        } else {
            "ingress rule"
        }
    }

    fn request(planned: &Value) -> aws_sdk_ec2::types::SecurityGroupRuleRequest {
        let port = |a: &str| num_attr(planned, a).map(|n| n as i32);
        aws_sdk_ec2::types::SecurityGroupRuleRequest::builder()
            .set_ip_protocol(str_attr(planned, "ip_protocol").map(str::to_string))
            .set_from_port(port("from_port"))
            .set_to_port(port("to_port"))
            .set_cidr_ipv4(str_attr(planned, "cidr_ipv4").map(str::to_string))
            .set_cidr_ipv6(str_attr(planned, "cidr_ipv6").map(str::to_string))
            .set_prefix_list_id(str_attr(planned, "prefix_list_id").map(str::to_string))
            .set_referenced_group_id(
                str_attr(planned, "referenced_security_group_id").map(str::to_string),
            )
            .set_description(str_attr(planned, "description").map(str::to_string))
            .build()
    }

    fn permission(planned: &Value) -> IpPermission {
        let port = |a: &str| num_attr(planned, a).map(|n| n as i32);
        IpPermission::builder()
            .set_ip_protocol(str_attr(planned, "ip_protocol").map(str::to_string))
            .set_from_port(port("from_port"))
            .set_to_port(port("to_port"))
            .set_ip_ranges(str_attr(planned, "cidr_ipv4").map(|c| {
                vec![IpRange::builder()
                    .cidr_ip(c)
                    .set_description(str_attr(planned, "description").map(str::to_string))
                    .build()]
            }))
            .set_ipv6_ranges(str_attr(planned, "cidr_ipv6").map(|c| {
                vec![Ipv6Range::builder()
                    .cidr_ipv6(c)
                    .set_description(str_attr(planned, "description").map(str::to_string))
                    .build()]
            }))
            .set_prefix_list_ids(str_attr(planned, "prefix_list_id").map(|p| {
                vec![aws_sdk_ec2::types::PrefixListId::builder()
                    .prefix_list_id(p)
                    .set_description(str_attr(planned, "description").map(str::to_string))
                    .build()]
            }))
            .set_user_id_group_pairs(str_attr(planned, "referenced_security_group_id").map(|g| {
                vec![aws_sdk_ec2::types::UserIdGroupPair::builder()
                    .group_id(g)
                    .set_description(str_attr(planned, "description").map(str::to_string))
                    .build()]
            }))
            .build()
    }
}

#[async_trait]
impl Resource<Aws> for SecurityGroupRule {
    fn schema(&self) -> Schema {
        let s = || AttrSchema::optional(Type::String);
        tag_attrs(
            Schema::new()
                .attr(
                    "security_group_id",
                    AttrSchema::required(Type::String).force_new(),
                )
                .attr("ip_protocol", AttrSchema::required(Type::String))
                .attr("from_port", AttrSchema::optional(Type::Number))
                .attr("to_port", AttrSchema::optional(Type::Number))
                .attr("cidr_ipv4", s())
                .attr("cidr_ipv6", s())
                .attr("prefix_list_id", s())
                .attr("referenced_security_group_id", s())
                .attr("description", s())
                .attr("id", AttrSchema::computed(Type::String))
                .attr("security_group_rule_id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String)),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let sources = [
            "cidr_ipv4",
            "cidr_ipv6",
            "prefix_list_id",
            "referenced_security_group_id",
        ];
        let set_sources: Vec<&str> = sources
            .iter()
            .copied()
            .filter(|a| config.get(a).is_some_and(|v| !v.is_null()))
            .collect();
        if set_sources.len() != 1 {
            return Err(ProviderError::config(format!(
                "a security group rule takes exactly one of {} (got {})",
                sources.join(", "),
                if set_sources.is_empty() {
                    "none".to_string()
                } else {
                    set_sources.join(", ")
                }
            )));
        }
        if let Some(c) = str_attr(config, "cidr_ipv4") {
            if cidr(c).is_none() {
                return Err(ProviderError::config(format!(
                    "cidr_ipv4 {c:?} is not an IPv4 CIDR block such as 10.0.0.0/16"
                )));
            }
        }
        let all = str_attr(config, "ip_protocol").is_some_and(|p| p == "-1" || p == "all");
        let ports = ["from_port", "to_port"]
            .iter()
            .filter(|a| config.get(a).is_some_and(|v| !v.is_null()))
            .count();
        if !all
            && ports != 2
            && config
                .get("ip_protocol")
                .is_some_and(Value::is_wholly_known)
        {
            let p = str_attr(config, "ip_protocol").unwrap_or_default();
            if matches!(p, "tcp" | "udp" | "6" | "17") {
                return Err(ProviderError::config(format!(
                    "a {p} rule needs from_port and to_port (ip_protocol = \"-1\" means all traffic, without ports)"
                )));
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let group = str_attr(&planned, "security_group_id")
            .unwrap_or_default()
            .to_string();
        let ec2 = aws.ec2().await?;
        let tags = tag_spec(ResourceType::SecurityGroupRule, aws, &planned).map(|t| vec![t]);
        let perm = Self::permission(&planned);
        let op = format!("adding an {} to {group}", self.what());
        let rules = if self.egress {
            ec2.authorize_security_group_egress()
                .group_id(&group)
                .ip_permissions(perm)
                .set_tag_specifications(tags)
                .send()
                .await
                .map_err(|e| api_error(&op, e))?
                .security_group_rules()
                .to_vec()
        } else {
            ec2.authorize_security_group_ingress()
                .group_id(&group)
                .ip_permissions(perm)
                .set_tag_specifications(tags)
                .send()
                .await
                .map_err(|e| api_error(&op, e))?
                .security_group_rules()
                .to_vec()
        };
        let id = rules
            .first()
            .and_then(|r| r.security_group_rule_id())
            .unwrap_or_default()
            .to_string();
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("{} {id}", self.what()))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = id_of(&state)?;
        let Some(out) = found(
            &format!("reading {} {id}", self.what()),
            aws.ec2()
                .await?
                .describe_security_group_rules()
                .security_group_rule_ids(&id)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(r) = out.security_group_rules().first() else {
            return Ok(None);
        };
        // "All traffic" rules have no ports; AWS answers -1.
        let port = |p: Option<i32>| match p {
            Some(-1) | None => Value::Null,
            Some(n) => Value::from(n as f64),
        };
        for (name, v) in [
            ("security_group_rule_id", Value::from(id.as_str())),
            ("security_group_id", opt_str(r.group_id())),
            ("ip_protocol", opt_str(r.ip_protocol())),
            ("from_port", port(r.from_port())),
            ("to_port", port(r.to_port())),
            ("cidr_ipv4", opt_str(r.cidr_ipv4())),
            ("cidr_ipv6", opt_str(r.cidr_ipv6())),
            ("prefix_list_id", opt_str(r.prefix_list_id())),
            (
                "referenced_security_group_id",
                opt_str(r.referenced_group_info().and_then(|g| g.group_id())),
            ),
            (
                "description",
                opt_str(r.description().filter(|d| !d.is_empty())),
            ),
        ] {
            set(&mut state, name, v);
        }
        set(
            &mut state,
            "arn",
            aws.arn("ec2", &format!("security-group-rule/{id}"), false)
                .await?,
        );
        read_tags(aws, &mut state, r.tags());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let id = id_of(&prior)?;
        let group = str_attr(&prior, "security_group_id")
            .unwrap_or_default()
            .to_string();
        let rule_attrs = [
            "ip_protocol",
            "from_port",
            "to_port",
            "cidr_ipv4",
            "cidr_ipv6",
            "prefix_list_id",
            "referenced_security_group_id",
            "description",
        ];
        if rule_attrs.iter().any(|a| planned.get(a) != prior.get(a)) {
            aws.ec2()
                .await?
                .modify_security_group_rules()
                .group_id(&group)
                .security_group_rules(
                    aws_sdk_ec2::types::SecurityGroupRuleUpdate::builder()
                        .security_group_rule_id(&id)
                        .security_group_rule(Self::request(&planned))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| api_error(&format!("changing {} {id}", self.what()), e))?;
        }
        update_tags(aws, &id, &prior, &planned).await?;
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("{} {id}", self.what()))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        let group = str_attr(&state, "security_group_id")
            .unwrap_or_default()
            .to_string();
        let ec2 = aws.ec2().await?;
        let op = format!("removing {} {id}", self.what());
        if self.egress {
            deleted(
                &op,
                ec2.revoke_security_group_egress()
                    .group_id(&group)
                    .security_group_rule_ids(&id)
                    .send()
                    .await,
            )
        } else {
            deleted(
                &op,
                ec2.revoke_security_group_ingress()
                    .group_id(&group)
                    .security_group_rule_ids(&id)
                    .send()
                    .await,
            )
        }
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("security group rule {id}"))
    }
}
