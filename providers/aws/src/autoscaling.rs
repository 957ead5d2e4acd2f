//! Auto Scaling: `aws_autoscaling_group` and `aws_autoscaling_policy`.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    LaunchTemplateSpecification, MetricType, PredefinedMetricSpecification, Tag,
    TargetTrackingConfiguration,
};
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, BlockSchema, Dispatch, PlannedChange, ProviderError, Resource, Result, Schema,
};

use crate::context::{api_error, deleted, Aws};
use crate::util::{
    bool_attr, check_timeouts, default_to, num_attr, object, opt_num, opt_str, set, str_attr,
    str_list, str_set_value, timeout, timeouts_block, wait_for,
};

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.resource("aws_autoscaling_group", Group)
        .resource("aws_autoscaling_policy", Policy)
}

fn name_of(v: &Value) -> Result<String> {
    str_attr(v, "name")
        .or_else(|| str_attr(v, "id"))
        .map(str::to_string)
        .ok_or_else(|| ProviderError::internal("the group's name is not known"))
}

async fn describe_group(
    aws: &Aws,
    name: &str,
) -> Result<Option<aws_sdk_autoscaling::types::AutoScalingGroup>> {
    let out = aws
        .autoscaling()
        .await?
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(|e| api_error(&format!("reading Auto Scaling group {name}"), e))?;
    // A group being deleted is as good as gone.
    Ok(out
        .auto_scaling_groups()
        .first()
        .filter(|g| g.status().is_none_or(|s| !s.starts_with("Delete")))
        .cloned())
}

/// `aws_autoscaling_group`: keeps `desired_capacity` instances (between `min_size` and
/// `max_size`) from a launch template, registered with target groups. Create waits
/// for the desired instances to be InService (`wait_for_capacity_timeout`, "0" to skip).
pub struct Group;

#[async_trait]
impl Resource<Aws> for Group {
    fn schema(&self) -> Schema {
        let strings = || Type::Set(Box::new(Type::String));
        crate::util::name_attrs(Schema::new())
            .attr("min_size", AttrSchema::required(Type::Number))
            .attr("max_size", AttrSchema::required(Type::Number))
            .attr(
                "desired_capacity",
                AttrSchema::optional_computed(Type::Number),
            )
            .attr(
                "vpc_zone_identifier",
                AttrSchema::optional_computed(strings()),
            )
            .attr(
                "availability_zones",
                AttrSchema::optional_computed(strings()),
            )
            .attr(
                "target_group_arns",
                AttrSchema::optional_computed(strings()),
            )
            .attr(
                "health_check_type",
                AttrSchema::optional_computed(Type::String),
            )
            .attr(
                "health_check_grace_period",
                AttrSchema::optional_computed(Type::Number),
            )
            .attr(
                "default_cooldown",
                AttrSchema::optional_computed(Type::Number),
            )
            .attr(
                "termination_policies",
                AttrSchema::optional(Type::List(Box::new(Type::String))),
            )
            .attr("force_delete", AttrSchema::optional(Type::Bool))
            .attr(
                "wait_for_capacity_timeout",
                AttrSchema::optional(Type::String),
            )
            .attr("id", AttrSchema::computed(Type::String))
            .attr("arn", AttrSchema::computed(Type::String))
            .block(
                "launch_template",
                BlockSchema::single(
                    Schema::new()
                        .attr("id", AttrSchema::optional(Type::String))
                        .attr("name", AttrSchema::optional(Type::String))
                        .attr("version", AttrSchema::optional(Type::String)),
                ),
            )
            .block(
                "tag",
                BlockSchema::list(
                    Schema::new()
                        .attr("key", AttrSchema::required(Type::String))
                        .attr("value", AttrSchema::required(Type::String))
                        .attr("propagate_at_launch", AttrSchema::required(Type::Bool)),
                ),
            )
            .block("timeouts", timeouts_block())
    }

    fn plan(
        &self,
        _aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        check_timeouts(config)?;
        let min = num_attr(config, "min_size");
        let max = num_attr(config, "max_size");
        let desired = num_attr(config, "desired_capacity");
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                return Err(ProviderError::config(format!(
                    "min_size ({min}) is larger than max_size ({max})"
                )));
            }
            if let Some(d) = desired.filter(|d| *d < min || *d > max) {
                return Err(ProviderError::config(format!(
                    "desired_capacity ({d}) must lie between min_size ({min}) and max_size ({max})"
                )));
            }
        }
        if config.get("launch_template").is_none_or(Value::is_null) {
            return Err(ProviderError::config(
                "an Auto Scaling group needs a launch_template block (id or name, and version)",
            ));
        }
        if str_list(config, "vpc_zone_identifier").is_empty()
            && str_list(config, "availability_zones").is_empty()
            && config
                .get("vpc_zone_identifier")
                .is_none_or(Value::is_wholly_known)
        {
            return Err(ProviderError::config(
                "set vpc_zone_identifier (subnet IDs) or availability_zones",
            ));
        }
        if let Some(t) = str_attr(config, "health_check_type") {
            if !["EC2", "ELB", "VPC_LATTICE"].contains(&t) {
                return Err(ProviderError::config(format!(
                    "health_check_type = {t:?}: must be EC2, ELB or VPC_LATTICE"
                )));
            }
        }
        if let Some(w) = str_attr(config, "wait_for_capacity_timeout") {
            terrane_provider::parse_duration(w)
                .map_err(|e| ProviderError::config(format!("wait_for_capacity_timeout: {e}")))?;
        }
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "health_check_type", "EC2");
        default_to(&mut change.planned, "health_check_grace_period", 300.0);
        default_to(&mut change.planned, "default_cooldown", 300.0);
        if desired.is_none() && prior.is_none() {
            if let Some(min) = min {
                set(&mut change.planned, "desired_capacity", min as f64);
            }
        }
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
        let subnets = str_list(&planned, "vpc_zone_identifier");
        let zones = str_list(&planned, "availability_zones");
        let tgs = str_list(&planned, "target_group_arns");
        let policies = str_list(&planned, "termination_policies");
        aws.autoscaling()
            .await?
            .create_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .set_min_size(num_attr(&planned, "min_size").map(|n| n as i32))
            .set_max_size(num_attr(&planned, "max_size").map(|n| n as i32))
            .set_desired_capacity(num_attr(&planned, "desired_capacity").map(|n| n as i32))
            .set_vpc_zone_identifier((!subnets.is_empty()).then(|| subnets.join(",")))
            .set_availability_zones((!zones.is_empty()).then_some(zones))
            .set_target_group_arns((!tgs.is_empty()).then_some(tgs))
            .set_termination_policies((!policies.is_empty()).then_some(policies))
            .set_health_check_type(str_attr(&planned, "health_check_type").map(str::to_string))
            .set_health_check_grace_period(
                num_attr(&planned, "health_check_grace_period").map(|n| n as i32),
            )
            .set_default_cooldown(num_attr(&planned, "default_cooldown").map(|n| n as i32))
            .set_launch_template(launch_template(&planned))
            .set_tags(Some(tags(&planned, &name)?))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating Auto Scaling group {name}"), e))?;
        set(&mut planned, "id", name.as_str());
        set(&mut planned, "name", name.as_str());
        self.wait_capacity(aws, &name, &planned).await?;
        self.read_back(aws, planned, &format!("Auto Scaling group {name}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let name = name_of(&state)?;
        let Some(g) = describe_group(aws, &name).await? else {
            return Ok(None);
        };
        set(&mut state, "id", name.as_str());
        set(&mut state, "name", name.as_str());
        set(&mut state, "arn", opt_str(g.auto_scaling_group_arn()));
        set(&mut state, "min_size", opt_num(g.min_size()));
        set(&mut state, "max_size", opt_num(g.max_size()));
        set(
            &mut state,
            "desired_capacity",
            opt_num(g.desired_capacity()),
        );
        let subnets = g
            .vpc_zone_identifier()
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty());
        set(&mut state, "vpc_zone_identifier", str_set_value(subnets));
        set(
            &mut state,
            "availability_zones",
            str_set_value(g.availability_zones()),
        );
        set(
            &mut state,
            "target_group_arns",
            str_set_value(g.target_group_arns()),
        );
        set(
            &mut state,
            "health_check_type",
            opt_str(g.health_check_type()),
        );
        set(
            &mut state,
            "health_check_grace_period",
            opt_num(g.health_check_grace_period()),
        );
        set(
            &mut state,
            "default_cooldown",
            opt_num(g.default_cooldown()),
        );
        if let Some(lt) = g.launch_template() {
            let configured = state.get("launch_template").cloned().unwrap_or(Value::Null);
            // The template is named by id or by name, as configured.
            let by_name = str_attr(&configured, "name").is_some();
            set(
                &mut state,
                "launch_template",
                object([
                    (
                        "id",
                        if by_name {
                            Value::Null
                        } else {
                            opt_str(lt.launch_template_id())
                        },
                    ),
                    (
                        "name",
                        if by_name {
                            opt_str(lt.launch_template_name())
                        } else {
                            Value::Null
                        },
                    ),
                    ("version", opt_str(lt.version())),
                ]),
            );
        }
        let configured_tags = state
            .get("tag")
            .and_then(Value::as_items)
            .map(<[Value]>::len);
        let mut actual: Vec<Value> = g
            .tags()
            .iter()
            .filter(|t| !t.key().unwrap_or_default().starts_with("aws:"))
            .map(|t| {
                object([
                    ("key", opt_str(t.key())),
                    ("value", opt_str(t.value())),
                    (
                        "propagate_at_launch",
                        Value::Bool(t.propagate_at_launch().unwrap_or(false)),
                    ),
                ])
            })
            .collect();
        actual.sort_by(|a, b| str_attr(a, "key").cmp(&str_attr(b, "key")));
        let tag_value = if actual.is_empty() && configured_tags.is_none() {
            Value::Null
        } else {
            Value::List(order_like(state.get("tag"), actual))
        };
        set(&mut state, "tag", tag_value);
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let name = name_of(&prior)?;
        let asg = aws.autoscaling().await?;
        let subnets = str_list(&planned, "vpc_zone_identifier");
        let policies = str_list(&planned, "termination_policies");
        asg.update_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .set_min_size(num_attr(&planned, "min_size").map(|n| n as i32))
            .set_max_size(num_attr(&planned, "max_size").map(|n| n as i32))
            .set_desired_capacity(num_attr(&planned, "desired_capacity").map(|n| n as i32))
            .set_vpc_zone_identifier((!subnets.is_empty()).then(|| subnets.join(",")))
            .set_termination_policies((!policies.is_empty()).then_some(policies))
            .set_health_check_type(str_attr(&planned, "health_check_type").map(str::to_string))
            .set_health_check_grace_period(
                num_attr(&planned, "health_check_grace_period").map(|n| n as i32),
            )
            .set_default_cooldown(num_attr(&planned, "default_cooldown").map(|n| n as i32))
            .set_launch_template(launch_template(&planned))
            .send()
            .await
            .map_err(|e| api_error(&format!("updating Auto Scaling group {name}"), e))?;
        let before = str_list(&prior, "target_group_arns");
        let after = str_list(&planned, "target_group_arns");
        let added: Vec<String> = after
            .iter()
            .filter(|a| !before.contains(a))
            .cloned()
            .collect();
        let removed: Vec<String> = before
            .iter()
            .filter(|b| !after.contains(b))
            .cloned()
            .collect();
        if !added.is_empty() {
            asg.attach_load_balancer_target_groups()
                .auto_scaling_group_name(&name)
                .set_target_group_arns(Some(added))
                .send()
                .await
                .map_err(|e| api_error(&format!("attaching target groups to {name}"), e))?;
        }
        if !removed.is_empty()
            && planned
                .get("target_group_arns")
                .is_some_and(|v| !v.is_null())
        {
            asg.detach_load_balancer_target_groups()
                .auto_scaling_group_name(&name)
                .set_target_group_arns(Some(removed))
                .send()
                .await
                .map_err(|e| api_error(&format!("detaching target groups from {name}"), e))?;
        }
        if planned.get("tag") != prior.get("tag") {
            self.sync_tags(aws, &name, &prior, &planned).await?;
        }
        set(&mut planned, "id", name.as_str());
        set(&mut planned, "name", name.as_str());
        self.wait_capacity(aws, &name, &planned).await?;
        self.read_back(aws, planned, &format!("Auto Scaling group {name}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let name = name_of(&state)?;
        let asg = aws.autoscaling().await?;
        let force = bool_attr(&state, "force_delete");
        if !force {
            // Drain the group first, as AWS refuses to delete a group with instances.
            deleted(
                &format!("draining Auto Scaling group {name}"),
                asg.update_auto_scaling_group()
                    .auto_scaling_group_name(&name)
                    .min_size(0)
                    .max_size(0)
                    .desired_capacity(0)
                    .send()
                    .await,
            )?;
        }
        let r = asg
            .delete_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .force_delete(true)
            .send()
            .await;
        if let Err(e) = r {
            if describe_group(aws, &name).await?.is_some() {
                return Err(api_error(&format!("deleting Auto Scaling group {name}"), e));
            }
        }
        let limit = timeout(&state, "delete", Duration::from_secs(600))?;
        wait_for(
            &format!("Auto Scaling group {name} to be gone"),
            limit,
            || async { Ok(describe_group(aws, &name).await?.is_none().then_some(())) },
        )
        .await
    }

    async fn import(&self, aws: &Aws, id: &str) -> Result<Value> {
        self.import_from(
            aws,
            object([("id", Value::from(id)), ("name", Value::from(id))]),
            &format!("Auto Scaling group {id}"),
        )
        .await
    }
}

impl Group {
    /// Waits until the group has `desired_capacity` InService instances.
    async fn wait_capacity(&self, aws: &Aws, name: &str, planned: &Value) -> Result<()> {
        let limit = match str_attr(planned, "wait_for_capacity_timeout") {
            Some(w) => terrane_provider::parse_duration(w).map_err(ProviderError::config)?,
            None => timeout(planned, "create", Duration::from_secs(600))?,
        };
        if limit.is_zero() {
            return Ok(());
        }
        let want = num_attr(planned, "desired_capacity").unwrap_or(0) as usize;
        wait_for(
            &format!("{want} InService instances in Auto Scaling group {name}"),
            limit,
            || async {
                let Some(g) = describe_group(aws, name).await? else {
                    return Err(ProviderError::api(format!(
                        "Auto Scaling group {name} vanished while starting its instances"
                    )));
                };
                let up = g
                    .instances()
                    .iter()
                    .filter(|i| {
                        i.lifecycle_state()
                            .is_some_and(|s| s.as_str() == "InService")
                    })
                    .count();
                Ok((up >= want).then_some(()))
            },
        )
        .await
    }

    async fn sync_tags(&self, aws: &Aws, name: &str, prior: &Value, planned: &Value) -> Result<()> {
        let asg = aws.autoscaling().await?;
        let keep: Vec<String> = planned
            .get("tag")
            .and_then(Value::as_items)
            .unwrap_or_default()
            .iter()
            .filter_map(|t| str_attr(t, "key").map(str::to_string))
            .collect();
        let gone: Vec<Tag> = prior
            .get("tag")
            .and_then(Value::as_items)
            .unwrap_or_default()
            .iter()
            .filter_map(|t| str_attr(t, "key"))
            .filter(|k| !keep.iter().any(|x| x == k))
            .map(|k| {
                Tag::builder()
                    .key(k)
                    .resource_id(name)
                    .resource_type("auto-scaling-group")
                    .build()
            })
            .collect();
        if !gone.is_empty() {
            asg.delete_tags()
                .set_tags(Some(gone))
                .send()
                .await
                .map_err(|e| api_error(&format!("untagging Auto Scaling group {name}"), e))?;
        }
        let all = tags(planned, name)?;
        if !all.is_empty() {
            asg.create_or_update_tags()
                .set_tags(Some(all))
                .send()
                .await
                .map_err(|e| api_error(&format!("tagging Auto Scaling group {name}"), e))?;
        }
        Ok(())
    }
}

/// Keeps read-back items in the configured order (by `key`), so a reordering by AWS is
/// no drift; items the configuration does not have come last.
fn order_like(configured: Option<&Value>, mut actual: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for c in configured.and_then(Value::as_items).unwrap_or_default() {
        if let Some(i) = actual
            .iter()
            .position(|a| str_attr(a, "key") == str_attr(c, "key"))
        {
            out.push(actual.remove(i));
        }
    }
    out.extend(actual);
    out
}

fn launch_template(planned: &Value) -> Option<LaunchTemplateSpecification> {
    let lt = planned.get("launch_template").filter(|l| !l.is_null())?;
    Some(
        LaunchTemplateSpecification::builder()
            .set_launch_template_id(str_attr(lt, "id").map(str::to_string))
            .set_launch_template_name(str_attr(lt, "name").map(str::to_string))
            .set_version(str_attr(lt, "version").map(str::to_string))
            .build(),
    )
}

fn tags(planned: &Value, name: &str) -> Result<Vec<Tag>> {
    Ok(planned
        .get("tag")
        .and_then(Value::as_items)
        .unwrap_or_default()
        .iter()
        .map(|t| {
            Tag::builder()
                .key(str_attr(t, "key").unwrap_or_default())
                .value(str_attr(t, "value").unwrap_or_default())
                .propagate_at_launch(bool_attr(t, "propagate_at_launch"))
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .build()
        })
        .collect())
}

const POLICY_TYPES: [&str; 4] = [
    "SimpleScaling",
    "StepScaling",
    "TargetTrackingScaling",
    "PredictiveScaling",
];

const PREDEFINED_METRICS: [&str; 4] = [
    "ASGAverageCPUUtilization",
    "ASGAverageNetworkIn",
    "ASGAverageNetworkOut",
    "ALBRequestCountPerTarget",
];

/// `aws_autoscaling_policy`: simple scaling or target tracking for a group.
pub struct Policy;

#[async_trait]
impl Resource<Aws> for Policy {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("name", AttrSchema::required(Type::String).force_new())
            .attr(
                "autoscaling_group_name",
                AttrSchema::required(Type::String).force_new(),
            )
            .attr("policy_type", AttrSchema::optional_computed(Type::String))
            .attr("adjustment_type", AttrSchema::optional(Type::String))
            .attr("scaling_adjustment", AttrSchema::optional(Type::Number))
            .attr("cooldown", AttrSchema::optional(Type::Number))
            .attr(
                "estimated_instance_warmup",
                AttrSchema::optional(Type::Number),
            )
            .attr("enabled", AttrSchema::optional_computed(Type::Bool))
            .attr("id", AttrSchema::computed(Type::String))
            .attr("arn", AttrSchema::computed(Type::String))
            .block(
                "target_tracking_configuration",
                BlockSchema::single(
                    Schema::new()
                        .attr("target_value", AttrSchema::required(Type::Number))
                        .attr("disable_scale_in", AttrSchema::optional(Type::Bool))
                        .block(
                            "predefined_metric_specification",
                            BlockSchema::single(
                                Schema::new()
                                    .attr(
                                        "predefined_metric_type",
                                        AttrSchema::required(Type::String),
                                    )
                                    .attr("resource_label", AttrSchema::optional(Type::String)),
                            ),
                        ),
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
        let kind = str_attr(config, "policy_type").unwrap_or("SimpleScaling");
        if !POLICY_TYPES.contains(&kind) {
            return Err(ProviderError::config(format!(
                "policy_type = {kind:?}: must be one of {}",
                POLICY_TYPES.join(", ")
            )));
        }
        let tracking = config
            .get("target_tracking_configuration")
            .filter(|t| !t.is_null());
        match (kind, tracking) {
            ("TargetTrackingScaling", None) => {
                return Err(ProviderError::config(
                    "a TargetTrackingScaling policy needs a target_tracking_configuration block",
                ))
            }
            ("TargetTrackingScaling", Some(t)) => {
                let metric = t
                    .get("predefined_metric_specification")
                    .and_then(|m| str_attr(m, "predefined_metric_type"));
                if let Some(m) = metric.filter(|m| !PREDEFINED_METRICS.contains(m)) {
                    return Err(ProviderError::config(format!(
                        "predefined_metric_type = {m:?}: must be one of {}",
                        PREDEFINED_METRICS.join(", ")
                    )));
                }
            }
            ("SimpleScaling", _) if config.get("scaling_adjustment").is_none_or(Value::is_null) => {
                return Err(ProviderError::config(
                    "a SimpleScaling policy needs scaling_adjustment (and adjustment_type)",
                ))
            }
            _ => {}
        }
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "policy_type", "SimpleScaling");
        default_to(&mut change.planned, "enabled", true);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, planned: Value) -> Result<Value> {
        self.put(aws, planned).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let name = str_attr(&state, "name").unwrap_or_default().to_string();
        let group = str_attr(&state, "autoscaling_group_name")
            .unwrap_or_default()
            .to_string();
        let out = aws
            .autoscaling()
            .await?
            .describe_policies()
            .auto_scaling_group_name(&group)
            .policy_names(&name)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading scaling policy {name}"), e))?;
        let Some(p) = out.scaling_policies().first() else {
            return Ok(None);
        };
        set(&mut state, "id", name.as_str());
        set(&mut state, "arn", opt_str(p.policy_arn()));
        set(&mut state, "policy_type", opt_str(p.policy_type()));
        set(&mut state, "adjustment_type", opt_str(p.adjustment_type()));
        set(
            &mut state,
            "scaling_adjustment",
            opt_num(p.scaling_adjustment()),
        );
        set(&mut state, "cooldown", opt_num(p.cooldown()));
        set(
            &mut state,
            "estimated_instance_warmup",
            opt_num(p.estimated_instance_warmup()),
        );
        set(&mut state, "enabled", p.enabled().unwrap_or(true));
        if let Some(t) = p.target_tracking_configuration() {
            let metric = t.predefined_metric_specification().map(|m| {
                object([
                    (
                        "predefined_metric_type",
                        opt_str(m.predefined_metric_type().map(|t| t.as_str())),
                    ),
                    ("resource_label", opt_str(m.resource_label())),
                ])
            });
            let configured_disable = state
                .get("target_tracking_configuration")
                .and_then(|c| c.get("disable_scale_in"))
                .is_some_and(|d| !d.is_null());
            set(
                &mut state,
                "target_tracking_configuration",
                object([
                    ("target_value", opt_num(t.target_value())),
                    (
                        "disable_scale_in",
                        if configured_disable {
                            Value::Bool(t.disable_scale_in().unwrap_or(false))
                        } else {
                            Value::Null
                        },
                    ),
                    (
                        "predefined_metric_specification",
                        metric.unwrap_or(Value::Null),
                    ),
                ]),
            );
        }
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, _prior: Value, planned: Value) -> Result<Value> {
        self.put(aws, planned).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let name = str_attr(&state, "name").unwrap_or_default().to_string();
        deleted(
            &format!("deleting scaling policy {name}"),
            aws.autoscaling()
                .await?
                .delete_policy()
                .set_auto_scaling_group_name(
                    str_attr(&state, "autoscaling_group_name").map(str::to_string),
                )
                .policy_name(&name)
                .send()
                .await,
        )
    }

    async fn import(&self, aws: &Aws, id: &str) -> Result<Value> {
        let Some((group, name)) = id.split_once('/') else {
            return Err(ProviderError::config(format!(
                "import ID {id:?}: give it as GROUP_NAME/POLICY_NAME"
            )));
        };
        self.import_from(
            aws,
            object([
                ("name", Value::from(name)),
                ("autoscaling_group_name", Value::from(group)),
            ]),
            &format!("scaling policy {id}"),
        )
        .await
    }
}

impl Policy {
    /// PutScalingPolicy both creates and replaces a policy.
    async fn put(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let name = str_attr(&planned, "name").unwrap_or_default().to_string();
        let tracking = planned
            .get("target_tracking_configuration")
            .filter(|t| !t.is_null())
            .map(|t| {
                let metric = t
                    .get("predefined_metric_specification")
                    .filter(|m| !m.is_null())
                    .map(|m| {
                        PredefinedMetricSpecification::builder()
                            .predefined_metric_type(MetricType::from(
                                str_attr(m, "predefined_metric_type").unwrap_or_default(),
                            ))
                            .set_resource_label(str_attr(m, "resource_label").map(str::to_string))
                            .build()
                    });
                TargetTrackingConfiguration::builder()
                    .target_value(t.get("target_value").and_then(Value::as_f64).unwrap_or(0.0))
                    .set_disable_scale_in(t.get("disable_scale_in").and_then(Value::as_bool))
                    .set_predefined_metric_specification(metric)
                    .build()
            });
        let out = aws
            .autoscaling()
            .await?
            .put_scaling_policy()
            .policy_name(&name)
            .set_auto_scaling_group_name(
                str_attr(&planned, "autoscaling_group_name").map(str::to_string),
            )
            .set_policy_type(str_attr(&planned, "policy_type").map(str::to_string))
            .set_adjustment_type(str_attr(&planned, "adjustment_type").map(str::to_string))
            .set_scaling_adjustment(num_attr(&planned, "scaling_adjustment").map(|n| n as i32))
            .set_cooldown(num_attr(&planned, "cooldown").map(|n| n as i32))
            .set_estimated_instance_warmup(
                num_attr(&planned, "estimated_instance_warmup").map(|n| n as i32),
            )
            .set_enabled(planned.get("enabled").and_then(Value::as_bool))
            .set_target_tracking_configuration(tracking)
            .send()
            .await
            .map_err(|e| api_error(&format!("writing scaling policy {name}"), e))?;
        set(&mut planned, "id", name.as_str());
        set(&mut planned, "arn", opt_str(out.policy_arn()));
        self.read_back(aws, planned, &format!("scaling policy {name}"))
            .await
    }
}
