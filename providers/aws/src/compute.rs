//! EC2 compute and storage: `aws_instance`, `aws_launch_template`, `aws_eip`,
//! `aws_ebs_volume`, and the `aws_ami`, `aws_vpc` and `aws_subnets` data sources.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    DomainType, Filter, HttpTokensState, IamInstanceProfileSpecification,
    InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, InstanceStateName, InstanceType,
    LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataOptionsRequest, RequestLaunchTemplateData, ResourceType,
    RunInstancesMonitoringEnabled, VolumeType,
};
use base64::Engine as _;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, BlockSchema, DataSource, Dispatch, ImportKey, PlannedChange, ProviderError,
    Resource, Result, Schema,
};

use crate::context::{api_error, deleted, found, Aws};
use crate::ec2::{id_of, read_by_id_filter, read_tags, tag_map, tag_spec, update_tags};
use crate::util::{
    bool_attr, check_timeouts, default_to, import_by, num_attr, opt_num, opt_str, read_block, set,
    str_attr, str_list, str_list_value, str_set_value, timeout, timeouts_block, wait_for,
};
use crate::{plan_tags, tag_attrs};

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.resource("aws_instance", Instance)
        .resource("aws_launch_template", LaunchTemplate)
        .resource("aws_eip", Eip)
        .resource("aws_ebs_volume", EbsVolume)
        .data_source("aws_ami", Ami)
        .data_source("aws_vpc", VpcData)
        .data_source("aws_subnets", Subnets)
}

fn strings() -> Type {
    Type::Set(Box::new(Type::String))
}

/// `metadata_options`: how the instance metadata service answers (IMDSv2 when
/// `http_tokens = "required"`).
fn metadata_options_block() -> BlockSchema {
    BlockSchema::single(
        Schema::new()
            .attr("http_endpoint", AttrSchema::optional(Type::String))
            .attr("http_tokens", AttrSchema::optional(Type::String))
            .attr(
                "http_put_response_hop_limit",
                AttrSchema::optional(Type::Number),
            )
            .attr("instance_metadata_tags", AttrSchema::optional(Type::String)),
    )
}

fn check_metadata_options(config: &Value) -> Result<()> {
    let Some(m) = config.get("metadata_options").filter(|m| !m.is_null()) else {
        return Ok(());
    };
    for (attr, allowed) in [
        ("http_tokens", &["optional", "required"][..]),
        ("http_endpoint", &["enabled", "disabled"][..]),
        ("instance_metadata_tags", &["enabled", "disabled"][..]),
    ] {
        if let Some(v) = str_attr(m, attr) {
            if !allowed.contains(&v) {
                return Err(ProviderError::config(format!(
                    "metadata_options.{attr} = {v:?}: must be one of {}",
                    allowed.join(", ")
                )));
            }
        }
    }
    if let Some(n) = num_attr(m, "http_put_response_hop_limit") {
        if !(1..=64).contains(&n) {
            return Err(ProviderError::config(format!(
                "metadata_options.http_put_response_hop_limit = {n}: must be 1 to 64"
            )));
        }
    }
    Ok(())
}

fn instance_metadata_request(m: &Value) -> InstanceMetadataOptionsRequest {
    InstanceMetadataOptionsRequest::builder()
        .set_http_tokens(str_attr(m, "http_tokens").map(HttpTokensState::from))
        .set_http_endpoint(str_attr(m, "http_endpoint").map(InstanceMetadataEndpointState::from))
        .set_http_put_response_hop_limit(
            num_attr(m, "http_put_response_hop_limit").map(|n| n as i32),
        )
        .set_instance_metadata_tags(
            str_attr(m, "instance_metadata_tags")
                .map(aws_sdk_ec2::types::InstanceMetadataTagsState::from),
        )
        .build()
}

/// Instance types are family.size (`t3.micro`, `m7g.2xlarge`); anything else is a typo.
fn check_instance_type(config: &Value, attr: &str) -> Result<()> {
    let Some(t) = str_attr(config, attr) else {
        return Ok(());
    };
    let ok = t.split_once('.').is_some_and(|(family, size)| {
        !family.is_empty()
            && !size.is_empty()
            && family
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && size.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if ok {
        Ok(())
    } else {
        Err(ProviderError::config(format!(
            "{attr} {t:?} is not an EC2 instance type such as \"t3.micro\""
        )))
    }
}

/// `aws_instance`: one EC2 instance, waited for until it runs. Changing the instance
/// type stops and starts it; the security groups, metadata options and tags change in
/// place; the AMI, subnet, key and user data replace it.
pub struct Instance;

/// Instances for many states in one `DescribeInstances` call per 200.
async fn read_instances(aws: &Aws, states: Vec<Value>) -> Result<Vec<Option<Value>>> {
    let ec2 = &aws.ec2().await?;
    let describe = |filter: Filter| async move {
        let pages = ec2
            .describe_instances()
            .filters(filter)
            .into_paginator()
            .send()
            .collect::<std::result::Result<Vec<_>, _>>()
            .await
            .map_err(|e| api_error("reading instances", e))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.reservations())
            .flat_map(|r| r.instances())
            .filter_map(|i| Some((i.instance_id()?.to_string(), i.clone())))
            .collect())
    };
    let fill = |mut state: Value, i: aws_sdk_ec2::types::Instance| async move {
        let id = id_of(&state)?;
        let st = i.state().and_then(|s| s.name());
        if matches!(
            st,
            Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)
        ) {
            return Ok(None);
        }
        set(&mut state, "ami", opt_str(i.image_id()));
        set(
            &mut state,
            "instance_type",
            opt_str(i.instance_type().map(|t| t.as_str())),
        );
        set(
            &mut state,
            "instance_state",
            opt_str(st.map(|s| s.as_str())),
        );
        set(&mut state, "subnet_id", opt_str(i.subnet_id()));
        set(
            &mut state,
            "availability_zone",
            opt_str(i.placement().and_then(|p| p.availability_zone())),
        );
        set(
            &mut state,
            "vpc_security_group_ids",
            str_set_value(i.security_groups().iter().filter_map(|g| g.group_id())),
        );
        set(&mut state, "private_ip", opt_str(i.private_ip_address()));
        set(&mut state, "public_ip", opt_str(i.public_ip_address()));
        set(&mut state, "private_dns", opt_str(i.private_dns_name()));
        set(&mut state, "public_dns", opt_str(i.public_dns_name()));
        if state
            .get("associate_public_ip_address")
            .is_none_or(|v| v.is_null() || v.is_unknown())
        {
            set(
                &mut state,
                "associate_public_ip_address",
                i.public_ip_address().is_some(),
            );
        }
        set(
            &mut state,
            "primary_network_interface_id",
            opt_str(
                i.network_interfaces()
                    .iter()
                    .find(|n| n.attachment().and_then(|a| a.device_index()) == Some(0))
                    .and_then(|n| n.network_interface_id()),
            ),
        );
        set(
            &mut state,
            "monitoring",
            i.monitoring()
                .and_then(|m| m.state())
                .is_some_and(|s| s.as_str() == "enabled"),
        );
        set(
            &mut state,
            "ebs_optimized",
            i.ebs_optimized().unwrap_or(false),
        );
        set(
            &mut state,
            "arn",
            aws.arn("ec2", &format!("instance/{id}"), false).await?,
        );
        if let Some(m) = i.metadata_options() {
            let read = read_block(
                state.get("metadata_options"),
                &[
                    (
                        "http_endpoint",
                        opt_str(m.http_endpoint().map(|v| v.as_str())),
                    ),
                    ("http_tokens", opt_str(m.http_tokens().map(|v| v.as_str()))),
                    (
                        "http_put_response_hop_limit",
                        opt_num(m.http_put_response_hop_limit()),
                    ),
                    (
                        "instance_metadata_tags",
                        opt_str(m.instance_metadata_tags().map(|v| v.as_str())),
                    ),
                ],
            );
            set(&mut state, "metadata_options", read);
        }
        read_tags(aws, &mut state, i.tags());
        Ok(Some(state))
    };
    read_by_id_filter(states, "instance-id", describe, fill).await
}

#[async_trait]
impl Resource<Aws> for Instance {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr("ami", AttrSchema::required(Type::String).force_new())
                .attr("instance_type", AttrSchema::required(Type::String))
                .attr(
                    "subnet_id",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr(
                    "availability_zone",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr(
                    "vpc_security_group_ids",
                    AttrSchema::optional_computed(strings()),
                )
                .attr("key_name", AttrSchema::optional(Type::String).force_new())
                .attr("user_data", AttrSchema::optional(Type::String).force_new())
                .attr(
                    "user_data_base64",
                    AttrSchema::optional(Type::String).force_new(),
                )
                .attr(
                    "iam_instance_profile",
                    AttrSchema::optional(Type::String).force_new(),
                )
                .attr(
                    "associate_public_ip_address",
                    AttrSchema::optional_computed(Type::Bool).force_new(),
                )
                .attr(
                    "private_ip",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr("monitoring", AttrSchema::optional_computed(Type::Bool))
                .attr(
                    "ebs_optimized",
                    AttrSchema::optional_computed(Type::Bool).force_new(),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .attr("instance_state", AttrSchema::computed(Type::String))
                .attr("public_ip", AttrSchema::computed(Type::String))
                .attr("public_dns", AttrSchema::computed(Type::String))
                .attr("private_dns", AttrSchema::computed(Type::String))
                .attr(
                    "primary_network_interface_id",
                    AttrSchema::computed(Type::String),
                )
                .block("metadata_options", metadata_options_block())
                .block(
                    "root_block_device",
                    BlockSchema {
                        force_new: true,
                        ..BlockSchema::single(
                            Schema::new()
                                .attr("volume_size", AttrSchema::optional(Type::Number))
                                .attr("volume_type", AttrSchema::optional(Type::String))
                                .attr("encrypted", AttrSchema::optional(Type::Bool))
                                .attr("kms_key_id", AttrSchema::optional(Type::String))
                                .attr("delete_on_termination", AttrSchema::optional(Type::Bool)),
                        )
                    },
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
        check_instance_type(config, "instance_type")?;
        check_metadata_options(config)?;
        check_timeouts(config)?;
        if str_attr(config, "user_data").is_some() && str_attr(config, "user_data_base64").is_some()
        {
            return Err(ProviderError::config(
                "user_data and user_data_base64 are alternatives: set one of them",
            ));
        }
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "monitoring", false);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let ami = str_attr(&planned, "ami").unwrap_or_default().to_string();
        let groups = str_list(&planned, "vpc_security_group_ids");
        let user_data = match (
            str_attr(&planned, "user_data"),
            str_attr(&planned, "user_data_base64"),
        ) {
            (Some(text), _) => Some(base64::engine::general_purpose::STANDARD.encode(text)),
            (None, b64) => b64.map(str::to_string),
        };
        let mut req = aws
            .ec2()
            .await?
            .run_instances()
            .image_id(&ami)
            .set_instance_type(str_attr(&planned, "instance_type").map(InstanceType::from))
            .min_count(1)
            .max_count(1)
            .set_key_name(str_attr(&planned, "key_name").map(str::to_string))
            .set_user_data(user_data)
            .set_ebs_optimized(planned.get("ebs_optimized").and_then(Value::as_bool))
            .monitoring(
                RunInstancesMonitoringEnabled::builder()
                    .enabled(bool_attr(&planned, "monitoring"))
                    .build(),
            )
            .set_iam_instance_profile(str_attr(&planned, "iam_instance_profile").map(|p| {
                let b = IamInstanceProfileSpecification::builder();
                if p.starts_with("arn:") {
                    b.arn(p).build()
                } else {
                    b.name(p).build()
                }
            }))
            .set_metadata_options(
                planned
                    .get("metadata_options")
                    .filter(|m| !m.is_null())
                    .map(instance_metadata_request),
            )
            .set_placement(str_attr(&planned, "availability_zone").map(|z| {
                aws_sdk_ec2::types::Placement::builder()
                    .availability_zone(z)
                    .build()
            }))
            .set_tag_specifications(
                tag_spec(ResourceType::Instance, aws, &planned).map(|t| vec![t]),
            );
        let subnet = str_attr(&planned, "subnet_id").map(str::to_string);
        let private_ip = str_attr(&planned, "private_ip").map(str::to_string);
        if let Some(public) = planned
            .get("associate_public_ip_address")
            .and_then(Value::as_bool)
        {
            // A public address is asked for on the primary network interface, which
            // then carries the subnet and the groups too.
            req = req.network_interfaces(
                aws_sdk_ec2::types::InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .associate_public_ip_address(public)
                    .set_subnet_id(subnet)
                    .set_private_ip_address(private_ip)
                    .set_groups((!groups.is_empty()).then_some(groups))
                    .build(),
            );
        } else {
            req = req
                .set_subnet_id(subnet)
                .set_private_ip_address(private_ip)
                .set_security_group_ids((!groups.is_empty()).then_some(groups));
        }
        if let Some(root) = planned.get("root_block_device").filter(|r| !r.is_null()) {
            req = req.block_device_mappings(root_mapping(aws, &ami, root).await?);
        }
        let out = req
            .send()
            .await
            .map_err(|e| api_error(&format!("launching an instance of {ami}"), e))?;
        let id = out
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .unwrap_or_default()
            .to_string();
        set(&mut planned, "id", id.as_str());
        let limit = timeout(&planned, "create", Duration::from_secs(600))?;
        self.wait_state(aws, &id, InstanceStateName::Running, limit)
            .await?;
        self.read_back(aws, planned, &format!("instance {id}"))
            .await
    }

    async fn read(&self, aws: &Aws, state: Value) -> Result<Option<Value>> {
        Ok(read_instances(aws, vec![state]).await?.pop().flatten())
    }

    async fn read_batch(
        &self,
        aws: &Aws,
        states: Vec<Value>,
    ) -> Option<Result<Vec<Option<Value>>>> {
        Some(read_instances(aws, states).await)
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let id = id_of(&prior)?;
        let ec2 = aws.ec2().await?;
        let limit = timeout(&planned, "update", Duration::from_secs(600))?;
        if str_attr(&prior, "instance_type") != str_attr(&planned, "instance_type") {
            let new_type = str_attr(&planned, "instance_type").unwrap_or_default();
            ec2.stop_instances()
                .instance_ids(&id)
                .send()
                .await
                .map_err(|e| api_error(&format!("stopping instance {id}"), e))?;
            self.wait_state(aws, &id, InstanceStateName::Stopped, limit)
                .await?;
            ec2.modify_instance_attribute()
                .instance_id(&id)
                .instance_type(
                    aws_sdk_ec2::types::AttributeValue::builder()
                        .value(new_type)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| api_error(&format!("changing the type of instance {id}"), e))?;
            ec2.start_instances()
                .instance_ids(&id)
                .send()
                .await
                .map_err(|e| api_error(&format!("starting instance {id}"), e))?;
            self.wait_state(aws, &id, InstanceStateName::Running, limit)
                .await?;
        }
        let groups = str_list(&planned, "vpc_security_group_ids");
        if planned
            .get("vpc_security_group_ids")
            .is_some_and(Value::is_wholly_known)
            && !groups.is_empty()
            && planned.get("vpc_security_group_ids") != prior.get("vpc_security_group_ids")
        {
            ec2.modify_instance_attribute()
                .instance_id(&id)
                .set_groups(Some(groups))
                .send()
                .await
                .map_err(|e| api_error(&format!("changing the groups of instance {id}"), e))?;
        }
        if planned.get("metadata_options") != prior.get("metadata_options") {
            if let Some(m) = planned.get("metadata_options").filter(|m| !m.is_null()) {
                ec2.modify_instance_metadata_options()
                    .instance_id(&id)
                    .set_http_tokens(str_attr(m, "http_tokens").map(HttpTokensState::from))
                    .set_http_endpoint(
                        str_attr(m, "http_endpoint").map(InstanceMetadataEndpointState::from),
                    )
                    .set_http_put_response_hop_limit(
                        num_attr(m, "http_put_response_hop_limit").map(|n| n as i32),
                    )
                    .send()
                    .await
                    .map_err(|e| api_error(&format!("changing the metadata options of {id}"), e))?;
            }
        }
        if planned.get("monitoring") != prior.get("monitoring") {
            let op = format!("changing the monitoring of {id}");
            if bool_attr(&planned, "monitoring") {
                ec2.monitor_instances()
                    .instance_ids(&id)
                    .send()
                    .await
                    .map_err(|e| api_error(&op, e))?;
            } else {
                ec2.unmonitor_instances()
                    .instance_ids(&id)
                    .send()
                    .await
                    .map_err(|e| api_error(&op, e))?;
            }
        }
        update_tags(aws, &id, &prior, &planned).await?;
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("instance {id}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        deleted(
            &format!("terminating instance {id}"),
            aws.ec2()
                .await?
                .terminate_instances()
                .instance_ids(&id)
                .send()
                .await,
        )?;
        let limit = timeout(&state, "delete", Duration::from_secs(1200))?;
        self.wait_state(aws, &id, InstanceStateName::Terminated, limit)
            .await
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("instance {id}"))
    }
}

impl Instance {
    /// Waits until the instance is in `want` (an instance that is gone counts as
    /// terminated).
    async fn wait_state(
        &self,
        aws: &Aws,
        id: &str,
        want: InstanceStateName,
        limit: Duration,
    ) -> Result<()> {
        let what = format!("instance {id} to be {}", want.as_str());
        wait_for(&what, limit, || async {
            let now = describe_instance(aws, id)
                .await?
                .and_then(|i| i.state().and_then(|s| s.name()).cloned())
                .unwrap_or(InstanceStateName::Terminated);
            if now == want {
                return Ok(Some(()));
            }
            if now == InstanceStateName::Terminated {
                return Err(ProviderError::api(format!(
                    "instance {id} terminated while waiting for it to be {} (see its console output and state reason)",
                    want.as_str()
                )));
            }
            Ok(None)
        })
        .await
    }
}

async fn describe_instance(aws: &Aws, id: &str) -> Result<Option<aws_sdk_ec2::types::Instance>> {
    Ok(found(
        &format!("reading instance {id}"),
        aws.ec2()
            .await?
            .describe_instances()
            .instance_ids(id)
            .send()
            .await,
    )?
    .and_then(|out| {
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .cloned()
    }))
}

/// The root volume's block device mapping: the AMI names the root device.
async fn root_mapping(
    aws: &Aws,
    ami: &str,
    root: &Value,
) -> Result<aws_sdk_ec2::types::BlockDeviceMapping> {
    let image = aws
        .ec2()
        .await?
        .describe_images()
        .image_ids(ami)
        .send()
        .await
        .map_err(|e| api_error(&format!("reading AMI {ami}"), e))?;
    let device = image
        .images()
        .first()
        .and_then(|i| i.root_device_name())
        .unwrap_or("/dev/xvda")
        .to_string();
    Ok(aws_sdk_ec2::types::BlockDeviceMapping::builder()
        .device_name(device)
        .ebs(
            aws_sdk_ec2::types::EbsBlockDevice::builder()
                .set_volume_size(num_attr(root, "volume_size").map(|n| n as i32))
                .set_volume_type(str_attr(root, "volume_type").map(VolumeType::from))
                .set_encrypted(root.get("encrypted").and_then(Value::as_bool))
                .set_kms_key_id(str_attr(root, "kms_key_id").map(str::to_string))
                .set_delete_on_termination(
                    root.get("delete_on_termination").and_then(Value::as_bool),
                )
                .build(),
        )
        .build())
}

/// `aws_launch_template`: instance settings for Auto Scaling groups. Every change
/// writes a new template version; `update_default_version` makes it the default.
pub struct LaunchTemplate;

#[async_trait]
impl Resource<Aws> for LaunchTemplate {
    fn schema(&self) -> Schema {
        tag_attrs(
            crate::util::name_attrs(Schema::new())
                .attr("description", AttrSchema::optional(Type::String))
                .attr("image_id", AttrSchema::optional(Type::String))
                .attr("instance_type", AttrSchema::optional(Type::String))
                .attr("key_name", AttrSchema::optional(Type::String))
                .attr("user_data", AttrSchema::optional(Type::String))
                .attr("vpc_security_group_ids", AttrSchema::optional(strings()))
                .attr("ebs_optimized", AttrSchema::optional(Type::Bool))
                .attr("update_default_version", AttrSchema::optional(Type::Bool))
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .attr("latest_version", AttrSchema::computed(Type::Number))
                .attr(
                    "default_version",
                    AttrSchema::optional_computed(Type::Number),
                )
                .block(
                    "iam_instance_profile",
                    BlockSchema::single(
                        Schema::new()
                            .attr("name", AttrSchema::optional(Type::String))
                            .attr("arn", AttrSchema::optional(Type::String)),
                    ),
                )
                .block("metadata_options", metadata_options_block()),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        check_instance_type(config, "instance_type")?;
        check_metadata_options(config)?;
        if let Some(name) = str_attr(config, "name") {
            if name.len() < 3
                || name.len() > 128
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "()./_-".contains(c))
            {
                return Err(ProviderError::config(format!(
                    "launch template name {name:?} must be 3 to 128 letters, digits and ( ) . / _ -"
                )));
            }
        }
        if config.get("default_version").is_some_and(|v| !v.is_null())
            && bool_attr(config, "update_default_version")
        {
            return Err(ProviderError::config(
                "default_version and update_default_version conflict: set the default version by number, or let each new version become the default, not both",
            ));
        }
        let mut change = plan_by_schema(schema, prior, config);
        if let Some(p) = prior {
            // A new version is written when the template data changes.
            let data_changed = Self::DATA.iter().any(|a| change.planned.get(a) != p.get(a));
            if data_changed {
                set(&mut change.planned, "latest_version", Value::Unknown);
                if bool_attr(&change.planned, "update_default_version") {
                    set(&mut change.planned, "default_version", Value::Unknown);
                }
            }
        }
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let name = match (
            str_attr(&planned, "name"),
            str_attr(&planned, "name_prefix"),
        ) {
            (Some(n), _) => n.to_string(),
            (None, prefix) => format!(
                "{}{}",
                prefix.unwrap_or("terraform-"),
                &uuid::Uuid::new_v4().simple().to_string()[..26]
            ),
        };
        let out = aws
            .ec2()
            .await?
            .create_launch_template()
            .launch_template_name(&name)
            .set_version_description(str_attr(&planned, "description").map(str::to_string))
            .launch_template_data(Self::data(&planned))
            .set_tag_specifications(
                tag_spec(ResourceType::LaunchTemplate, aws, &planned).map(|t| vec![t]),
            )
            .send()
            .await
            .map_err(|e| api_error(&format!("creating launch template {name}"), e))?;
        let id = out
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .unwrap_or_default()
            .to_string();
        set(&mut planned, "id", id.as_str());
        set(&mut planned, "name", name.as_str());
        self.read_back(aws, planned, &format!("launch template {name}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = id_of(&state)?;
        let ec2 = aws.ec2().await?;
        let Some(out) = found(
            &format!("reading launch template {id}"),
            ec2.describe_launch_templates()
                .launch_template_ids(&id)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(t) = out.launch_templates().first() else {
            return Ok(None);
        };
        let latest = t.latest_version_number().unwrap_or(1);
        set(&mut state, "name", opt_str(t.launch_template_name()));
        set(&mut state, "latest_version", latest as f64);
        set(
            &mut state,
            "default_version",
            t.default_version_number().unwrap_or(1) as f64,
        );
        set(
            &mut state,
            "arn",
            aws.arn("ec2", &format!("launch-template/{id}"), false)
                .await?,
        );
        read_tags(aws, &mut state, t.tags());
        let versions = ec2
            .describe_launch_template_versions()
            .launch_template_id(&id)
            .versions(latest.to_string())
            .send()
            .await
            .map_err(|e| api_error(&format!("reading launch template {id}"), e))?;
        if let Some(v) = versions.launch_template_versions().first() {
            set(&mut state, "description", opt_str(v.version_description()));
            if let Some(d) = v.launch_template_data() {
                set(&mut state, "image_id", opt_str(d.image_id()));
                set(
                    &mut state,
                    "instance_type",
                    opt_str(d.instance_type().map(|t| t.as_str())),
                );
                set(&mut state, "key_name", opt_str(d.key_name()));
                set(&mut state, "user_data", opt_str(d.user_data()));
                let groups = d.security_group_ids();
                set(
                    &mut state,
                    "vpc_security_group_ids",
                    if groups.is_empty() {
                        Value::Null
                    } else {
                        str_set_value(groups)
                    },
                );
            }
        }
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let id = id_of(&prior)?;
        let ec2 = aws.ec2().await?;
        if Self::DATA.iter().any(|a| planned.get(a) != prior.get(a)) {
            let out = ec2
                .create_launch_template_version()
                .launch_template_id(&id)
                .set_version_description(str_attr(&planned, "description").map(str::to_string))
                .launch_template_data(Self::data(&planned))
                .send()
                .await
                .map_err(|e| api_error(&format!("writing a version of launch template {id}"), e))?;
            let version = out
                .launch_template_version()
                .and_then(|v| v.version_number())
                .unwrap_or(1);
            if bool_attr(&planned, "update_default_version") {
                ec2.modify_launch_template()
                    .launch_template_id(&id)
                    .default_version(version.to_string())
                    .send()
                    .await
                    .map_err(|e| api_error(&format!("setting the default version of {id}"), e))?;
            }
        }
        // A default version chosen by number (AWS provider v6's settable default_version).
        let wanted = planned.get("default_version").and_then(Value::as_f64);
        if wanted.is_some() && wanted != prior.get("default_version").and_then(Value::as_f64) {
            let wanted = wanted.unwrap_or(1.0) as i64;
            ec2.modify_launch_template()
                .launch_template_id(&id)
                .default_version(wanted.to_string())
                .send()
                .await
                .map_err(|e| {
                    api_error(&format!("making version {wanted} the default of {id}"), e)
                })?;
        }
        update_tags(aws, &id, &prior, &planned).await?;
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("launch template {id}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        deleted(
            &format!("deleting launch template {id}"),
            aws.ec2()
                .await?
                .delete_launch_template()
                .launch_template_id(&id)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("launch template {id}"))
    }
}

impl LaunchTemplate {
    /// The attributes that make up the template data (a change writes a new version).
    const DATA: [&'static str; 9] = [
        "description",
        "image_id",
        "instance_type",
        "key_name",
        "user_data",
        "vpc_security_group_ids",
        "ebs_optimized",
        "iam_instance_profile",
        "metadata_options",
    ];

    fn data(planned: &Value) -> RequestLaunchTemplateData {
        let groups = str_list(planned, "vpc_security_group_ids");
        RequestLaunchTemplateData::builder()
            .set_image_id(str_attr(planned, "image_id").map(str::to_string))
            .set_instance_type(str_attr(planned, "instance_type").map(InstanceType::from))
            .set_key_name(str_attr(planned, "key_name").map(str::to_string))
            .set_user_data(str_attr(planned, "user_data").map(str::to_string))
            .set_ebs_optimized(planned.get("ebs_optimized").and_then(Value::as_bool))
            .set_security_group_ids((!groups.is_empty()).then_some(groups))
            .set_iam_instance_profile(
                planned
                    .get("iam_instance_profile")
                    .filter(|p| !p.is_null())
                    .map(|p| {
                        LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                            .set_name(str_attr(p, "name").map(str::to_string))
                            .set_arn(str_attr(p, "arn").map(str::to_string))
                            .build()
                    }),
            )
            .set_metadata_options(
                planned
                    .get("metadata_options")
                    .filter(|m| !m.is_null())
                    .map(|m| {
                        LaunchTemplateInstanceMetadataOptionsRequest::builder()
                            .set_http_tokens(
                                str_attr(m, "http_tokens")
                                    .map(aws_sdk_ec2::types::LaunchTemplateHttpTokensState::from),
                            )
                            .set_http_endpoint(str_attr(m, "http_endpoint").map(
                                aws_sdk_ec2::types::LaunchTemplateInstanceMetadataEndpointState::from,
                            ))
                            .set_http_put_response_hop_limit(
                                num_attr(m, "http_put_response_hop_limit").map(|n| n as i32),
                            )
                            .build()
                    }),
            )
            .build()
    }
}

/// `aws_eip`: an Elastic IP address, associated with an instance when `instance` is set.
pub struct Eip;

#[async_trait]
impl Resource<Aws> for Eip {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr(
                    "domain",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr("instance", AttrSchema::optional(Type::String))
                .attr("id", AttrSchema::computed(Type::String))
                .attr("allocation_id", AttrSchema::computed(Type::String))
                .attr("association_id", AttrSchema::computed(Type::String))
                .attr("public_ip", AttrSchema::computed(Type::String))
                .attr("public_dns", AttrSchema::computed(Type::String))
                .attr("private_ip", AttrSchema::computed(Type::String))
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
        if let Some(d) = str_attr(config, "domain") {
            if d != "vpc" && d != "standard" {
                return Err(ProviderError::config(format!(
                    "domain {d:?}: must be \"vpc\" (or the retired \"standard\")"
                )));
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "domain", "vpc");
        if change.planned.get("instance") != prior.and_then(|p| p.get("instance")) {
            set(&mut change.planned, "association_id", Value::Unknown);
            set(&mut change.planned, "private_ip", Value::Unknown);
        }
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let out = aws
            .ec2()
            .await?
            .allocate_address()
            .domain(DomainType::from(
                str_attr(&planned, "domain").unwrap_or("vpc"),
            ))
            .set_tag_specifications(
                tag_spec(ResourceType::ElasticIp, aws, &planned).map(|t| vec![t]),
            )
            .send()
            .await
            .map_err(|e| api_error("allocating an Elastic IP", e))?;
        let id = out.allocation_id().unwrap_or_default().to_string();
        set(&mut planned, "id", id.as_str());
        if let Some(instance) = str_attr(&planned, "instance") {
            self.associate(aws, &id, instance).await?;
        }
        self.read_back(aws, planned, &format!("Elastic IP {id}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = id_of(&state)?;
        let Some(a) = describe_address(aws, &id).await? else {
            return Ok(None);
        };
        set(&mut state, "allocation_id", id.as_str());
        set(
            &mut state,
            "domain",
            opt_str(a.domain().map(|d| d.as_str())),
        );
        // An address used by a NAT gateway or an interface has no instance.
        set(
            &mut state,
            "instance",
            opt_str(a.instance_id().filter(|i| !i.is_empty())),
        );
        set(&mut state, "association_id", opt_str(a.association_id()));
        set(&mut state, "public_ip", opt_str(a.public_ip()));
        set(&mut state, "private_ip", opt_str(a.private_ip_address()));
        set(
            &mut state,
            "public_dns",
            a.public_ip()
                .map(|ip| {
                    Value::from(format!(
                        "ec2-{}.{}.compute.amazonaws.com",
                        ip.replace('.', "-"),
                        aws.region()
                    ))
                })
                .unwrap_or(Value::Null),
        );
        set(
            &mut state,
            "arn",
            aws.arn("ec2", &format!("elastic-ip/{id}"), false).await?,
        );
        read_tags(aws, &mut state, a.tags());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let id = id_of(&prior)?;
        if planned.get("instance") != prior.get("instance") {
            if let Some(assoc) = str_attr(&prior, "association_id") {
                deleted(
                    &format!("disassociating Elastic IP {id}"),
                    aws.ec2()
                        .await?
                        .disassociate_address()
                        .association_id(assoc)
                        .send()
                        .await,
                )?;
            }
            if let Some(instance) = str_attr(&planned, "instance") {
                self.associate(aws, &id, instance).await?;
            }
        }
        update_tags(aws, &id, &prior, &planned).await?;
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("Elastic IP {id}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        let ec2 = aws.ec2().await?;
        if let Some(assoc) = describe_address(aws, &id)
            .await?
            .and_then(|a| a.association_id().map(str::to_string))
        {
            deleted(
                &format!("disassociating Elastic IP {id}"),
                ec2.disassociate_address()
                    .association_id(assoc)
                    .send()
                    .await,
            )?;
        }
        deleted(
            &format!("releasing Elastic IP {id}"),
            ec2.release_address().allocation_id(&id).send().await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("Elastic IP {id}"))
    }
}

impl Eip {
    async fn associate(&self, aws: &Aws, id: &str, instance: &str) -> Result<()> {
        aws.ec2()
            .await?
            .associate_address()
            .allocation_id(id)
            .instance_id(instance)
            .send()
            .await
            .map_err(|e| api_error(&format!("associating Elastic IP {id} with {instance}"), e))?;
        Ok(())
    }
}

async fn describe_address(aws: &Aws, id: &str) -> Result<Option<aws_sdk_ec2::types::Address>> {
    Ok(found(
        &format!("reading Elastic IP {id}"),
        aws.ec2()
            .await?
            .describe_addresses()
            .allocation_ids(id)
            .send()
            .await,
    )?
    .and_then(|out| out.addresses().first().cloned()))
}

/// `aws_ebs_volume`: a block storage volume. Size, type, IOPS and throughput change in
/// place (ModifyVolume); a smaller size is refused at plan time, as AWS refuses it.
pub struct EbsVolume;

const VOLUME_TYPES: [&str; 7] = ["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"];

/// Volumes for many states in one `DescribeVolumes` call per 200.
async fn read_volumes(aws: &Aws, states: Vec<Value>) -> Result<Vec<Option<Value>>> {
    let ec2 = &aws.ec2().await?;
    let describe = |filter: Filter| async move {
        let items = ec2
            .describe_volumes()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<Vec<_>, _>>()
            .await
            .map_err(|e| api_error("reading volumes", e))?;
        Ok(items
            .into_iter()
            .filter_map(|v| Some((v.volume_id()?.to_string(), v)))
            .collect())
    };
    let fill = |mut state: Value, v: aws_sdk_ec2::types::Volume| async move {
        let id = id_of(&state)?;
        if v.state().is_some_and(|s| s.as_str() == "deleted") {
            return Ok(None);
        }
        set(
            &mut state,
            "availability_zone",
            opt_str(v.availability_zone()),
        );
        set(
            &mut state,
            "size",
            v.size().map(|n| n as f64).unwrap_or(0.0),
        );
        set(
            &mut state,
            "type",
            opt_str(v.volume_type().map(|t| t.as_str())),
        );
        set(&mut state, "iops", opt_num(v.iops()));
        set(&mut state, "throughput", opt_num(v.throughput()));
        set(&mut state, "encrypted", v.encrypted().unwrap_or(false));
        set(&mut state, "kms_key_id", opt_str(v.kms_key_id()));
        set(
            &mut state,
            "snapshot_id",
            opt_str(v.snapshot_id().filter(|s| !s.is_empty())),
        );
        set(
            &mut state,
            "arn",
            aws.arn("ec2", &format!("volume/{id}"), false).await?,
        );
        read_tags(aws, &mut state, v.tags());
        Ok(Some(state))
    };
    read_by_id_filter(states, "volume-id", describe, fill).await
}

#[async_trait]
impl Resource<Aws> for EbsVolume {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr(
                    "availability_zone",
                    AttrSchema::required(Type::String).force_new(),
                )
                .attr("size", AttrSchema::optional_computed(Type::Number))
                .attr("type", AttrSchema::optional_computed(Type::String))
                .attr("iops", AttrSchema::optional_computed(Type::Number))
                .attr("throughput", AttrSchema::optional_computed(Type::Number))
                .attr(
                    "encrypted",
                    AttrSchema::optional_computed(Type::Bool).force_new(),
                )
                .attr(
                    "kms_key_id",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr(
                    "snapshot_id",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
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
        if let Some(t) = str_attr(config, "type") {
            if !VOLUME_TYPES.contains(&t) {
                return Err(ProviderError::config(format!(
                    "type {t:?}: must be one of {}",
                    VOLUME_TYPES.join(", ")
                )));
            }
        }
        if config.get("size").is_none_or(Value::is_null)
            && config.get("snapshot_id").is_none_or(Value::is_null)
        {
            return Err(ProviderError::config(
                "an EBS volume needs a size (GiB) or a snapshot_id to start from",
            ));
        }
        if let (Some(old), Some(new)) = (
            prior.and_then(|p| num_attr(p, "size")),
            num_attr(config, "size"),
        ) {
            if new < old {
                return Err(ProviderError::config(format!(
                    "size {new}: an EBS volume cannot shrink (it is {old} GiB); create a new volume and copy the data"
                )));
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "type", "gp2");
        default_to(&mut change.planned, "encrypted", false);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let zone = str_attr(&planned, "availability_zone")
            .unwrap_or_default()
            .to_string();
        let out = aws
            .ec2()
            .await?
            .create_volume()
            .availability_zone(&zone)
            .set_size(num_attr(&planned, "size").map(|n| n as i32))
            .set_volume_type(str_attr(&planned, "type").map(VolumeType::from))
            .set_iops(num_attr(&planned, "iops").map(|n| n as i32))
            .set_throughput(num_attr(&planned, "throughput").map(|n| n as i32))
            .set_encrypted(planned.get("encrypted").and_then(Value::as_bool))
            .set_kms_key_id(str_attr(&planned, "kms_key_id").map(str::to_string))
            .set_snapshot_id(str_attr(&planned, "snapshot_id").map(str::to_string))
            .set_tag_specifications(tag_spec(ResourceType::Volume, aws, &planned).map(|t| vec![t]))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating a volume in {zone}"), e))?;
        let id = out.volume_id().unwrap_or_default().to_string();
        set(&mut planned, "id", id.as_str());
        let limit = timeout(&planned, "create", Duration::from_secs(300))?;
        wait_for(&format!("volume {id} to be available"), limit, || async {
            Ok(describe_volume(aws, &id)
                .await?
                .filter(|v| v.state().is_some_and(|s| s.as_str() == "available"))
                .map(|_| ()))
        })
        .await?;
        self.read_back(aws, planned, &format!("volume {id}")).await
    }

    async fn read(&self, aws: &Aws, state: Value) -> Result<Option<Value>> {
        Ok(read_volumes(aws, vec![state]).await?.pop().flatten())
    }

    async fn read_batch(
        &self,
        aws: &Aws,
        states: Vec<Value>,
    ) -> Option<Result<Vec<Option<Value>>>> {
        Some(read_volumes(aws, states).await)
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let id = id_of(&prior)?;
        let changed = |a: &str| {
            planned.get(a) != prior.get(a) && planned.get(a).is_some_and(|v| !v.is_null())
        };
        if ["size", "type", "iops", "throughput"]
            .iter()
            .any(|a| changed(a))
        {
            aws.ec2()
                .await?
                .modify_volume()
                .volume_id(&id)
                .set_size(changed("size").then(|| num_attr(&planned, "size").unwrap_or(0) as i32))
                .set_volume_type(
                    changed("type")
                        .then(|| VolumeType::from(str_attr(&planned, "type").unwrap_or("gp2"))),
                )
                .set_iops(changed("iops").then(|| num_attr(&planned, "iops").unwrap_or(0) as i32))
                .set_throughput(
                    changed("throughput")
                        .then(|| num_attr(&planned, "throughput").unwrap_or(0) as i32),
                )
                .send()
                .await
                .map_err(|e| api_error(&format!("modifying volume {id}"), e))?;
        }
        update_tags(aws, &id, &prior, &planned).await?;
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("volume {id}")).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        deleted(
            &format!("deleting volume {id}"),
            aws.ec2().await?.delete_volume().volume_id(&id).send().await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("volume {id}"))
    }
}

async fn describe_volume(aws: &Aws, id: &str) -> Result<Option<aws_sdk_ec2::types::Volume>> {
    Ok(found(
        &format!("reading volume {id}"),
        aws.ec2()
            .await?
            .describe_volumes()
            .volume_ids(id)
            .send()
            .await,
    )?
    .and_then(|out| out.volumes().first().cloned()))
}

/// `filter { name = ..., values = [...] }` blocks, as the EC2 Describe calls take them.
fn filter_block() -> BlockSchema {
    BlockSchema::list(
        Schema::new()
            .attr("name", AttrSchema::required(Type::String))
            .attr(
                "values",
                AttrSchema::required(Type::List(Box::new(Type::String))),
            ),
    )
}

fn filters(config: &Value) -> Vec<Filter> {
    let mut out: Vec<Filter> = config
        .get("filter")
        .and_then(Value::as_items)
        .unwrap_or_default()
        .iter()
        .map(|f| {
            Filter::builder()
                .name(str_attr(f, "name").unwrap_or_default())
                .set_values(Some(str_list(f, "values")))
                .build()
        })
        .collect();
    for (k, v) in crate::util::string_map(config.get("tags")) {
        out.push(Filter::builder().name(format!("tag:{k}")).values(v).build());
    }
    out
}

/// `data "aws_ami"`: the image matching owners, filters and a name pattern; the newest
/// with `most_recent`, else the only one.
pub struct Ami;

#[async_trait]
impl DataSource<Aws> for Ami {
    fn schema(&self) -> Schema {
        let out = |s: Schema, n: &str| s.attr(n, AttrSchema::computed(Type::String));
        [
            "id",
            "image_id",
            "name",
            "architecture",
            "creation_date",
            "description",
            "owner_id",
            "root_device_name",
            "root_device_type",
            "virtualization_type",
            "platform_details",
            "arn",
        ]
        .iter()
        .fold(Schema::new(), |s, n| out(s, n))
        .attr("most_recent", AttrSchema::optional(Type::Bool))
        .attr(
            "owners",
            AttrSchema::optional(Type::List(Box::new(Type::String))),
        )
        .attr("name_regex", AttrSchema::optional(Type::String))
        .block("filter", filter_block())
    }

    async fn read(&self, aws: &Aws, mut config: Value) -> Result<Value> {
        let owners = str_list(&config, "owners");
        let out = aws
            .ec2()
            .await?
            .describe_images()
            .set_owners((!owners.is_empty()).then_some(owners))
            .set_filters(Some(filters(&config)))
            .send()
            .await
            .map_err(|e| api_error("looking up AMIs", e))?;
        let pattern = str_attr(&config, "name_regex")
            .map(|p| {
                regex_lite::Regex::new(p).map_err(|e| {
                    ProviderError::config(format!(
                        "name_regex {p:?} is not a regular expression: {e}"
                    ))
                })
            })
            .transpose()?;
        let mut images: Vec<&aws_sdk_ec2::types::Image> = out
            .images()
            .iter()
            .filter(|i| {
                pattern
                    .as_ref()
                    .is_none_or(|re| re.is_match(i.name().unwrap_or_default()))
            })
            .collect();
        images
            .sort_by_key(|i| std::cmp::Reverse(i.creation_date().unwrap_or_default().to_string()));
        let image = match images.as_slice() {
            [] => return Err(ProviderError::not_found(
                "no AMI matches these owners and filters; widen the filters or check the region",
            )),
            [one] => *one,
            [first, ..] if bool_attr(&config, "most_recent") => *first,
            many => {
                return Err(ProviderError::config(format!(
                    "{} AMIs match; narrow the filters or set most_recent = true",
                    many.len()
                )))
            }
        };
        let id = image.image_id().unwrap_or_default();
        for (name, v) in [
            ("id", Some(id)),
            ("image_id", Some(id)),
            ("name", image.name()),
            ("architecture", image.architecture().map(|a| a.as_str())),
            ("creation_date", image.creation_date()),
            ("description", image.description()),
            ("owner_id", image.owner_id()),
            ("root_device_name", image.root_device_name()),
            (
                "root_device_type",
                image.root_device_type().map(|a| a.as_str()),
            ),
            (
                "virtualization_type",
                image.virtualization_type().map(|a| a.as_str()),
            ),
            ("platform_details", image.platform_details()),
        ] {
            set(&mut config, name, opt_str(v));
        }
        set(
            &mut config,
            "arn",
            format!("arn:aws:ec2:{}::image/{id}", aws.region()),
        );
        Ok(config)
    }
}

/// `data "aws_vpc"`: one VPC by ID, `default = true`, tags or filters.
pub struct VpcData;

#[async_trait]
impl DataSource<Aws> for VpcData {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("id", AttrSchema::optional_computed(Type::String))
            .attr("default", AttrSchema::optional_computed(Type::Bool))
            .attr("cidr_block", AttrSchema::optional_computed(Type::String))
            .attr(
                "tags",
                AttrSchema::optional_computed(Type::Map(Box::new(Type::String))),
            )
            .attr("arn", AttrSchema::computed(Type::String))
            .attr("owner_id", AttrSchema::computed(Type::String))
            .attr("instance_tenancy", AttrSchema::computed(Type::String))
            .attr("main_route_table_id", AttrSchema::computed(Type::String))
            .block("filter", filter_block())
    }

    async fn read(&self, aws: &Aws, mut config: Value) -> Result<Value> {
        let mut f = filters(&config);
        if let Some(d) = config.get("default").and_then(Value::as_bool) {
            f.push(
                Filter::builder()
                    .name("is-default")
                    .values(d.to_string())
                    .build(),
            );
        }
        if let Some(c) = str_attr(&config, "cidr_block") {
            f.push(Filter::builder().name("cidr").values(c).build());
        }
        let out = aws
            .ec2()
            .await?
            .describe_vpcs()
            .set_vpc_ids(str_attr(&config, "id").map(|i| vec![i.to_string()]))
            .set_filters(Some(f))
            .send()
            .await
            .map_err(|e| api_error("looking up VPCs", e))?;
        let vpc = match out.vpcs() {
            [one] => one,
            [] => {
                return Err(ProviderError::not_found(
                    "no VPC matches; check the id, tags and filters",
                ))
            }
            many => {
                return Err(ProviderError::config(format!(
                    "{} VPCs match; narrow the search to one",
                    many.len()
                )))
            }
        };
        let id = vpc.vpc_id().unwrap_or_default();
        set(&mut config, "id", id);
        set(&mut config, "default", vpc.is_default().unwrap_or(false));
        set(&mut config, "cidr_block", opt_str(vpc.cidr_block()));
        set(&mut config, "owner_id", opt_str(vpc.owner_id()));
        set(
            &mut config,
            "instance_tenancy",
            opt_str(vpc.instance_tenancy().map(|t| t.as_str())),
        );
        set(
            &mut config,
            "tags",
            crate::context::tags_value(&tag_map(vpc.tags())),
        );
        set(
            &mut config,
            "arn",
            format!(
                "arn:aws:ec2:{}:{}:vpc/{id}",
                aws.region(),
                vpc.owner_id().unwrap_or_default()
            ),
        );
        let main = aws
            .ec2()
            .await?
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(id).build())
            .filters(
                Filter::builder()
                    .name("association.main")
                    .values("true")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the main route table of {id}"), e))?;
        set(
            &mut config,
            "main_route_table_id",
            opt_str(main.route_tables().first().and_then(|r| r.route_table_id())),
        );
        Ok(config)
    }
}

/// `data "aws_subnets"`: the IDs of the subnets matching filters and tags.
pub struct Subnets;

#[async_trait]
impl DataSource<Aws> for Subnets {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr(
                "tags",
                AttrSchema::optional(Type::Map(Box::new(Type::String))),
            )
            .attr("id", AttrSchema::computed(Type::String))
            .attr(
                "ids",
                AttrSchema::computed(Type::List(Box::new(Type::String))),
            )
            .block("filter", filter_block())
    }

    async fn read(&self, aws: &Aws, mut config: Value) -> Result<Value> {
        let out = aws
            .ec2()
            .await?
            .describe_subnets()
            .set_filters(Some(filters(&config)))
            .send()
            .await
            .map_err(|e| api_error("looking up subnets", e))?;
        let mut ids: Vec<&str> = out.subnets().iter().filter_map(|s| s.subnet_id()).collect();
        ids.sort_unstable();
        set(&mut config, "id", aws.region());
        set(&mut config, "ids", str_list_value(ids));
        Ok(config)
    }
}
