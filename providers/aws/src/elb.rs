//! Elastic Load Balancing v2: `aws_lb`, `aws_lb_target_group`, `aws_lb_listener` and
//! `aws_lb_target_group_attachment`.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, IpAddressType,
    LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum, Tag, TargetDescription, TargetTypeEnum,
};
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, BlockSchema, Dispatch, ImportKey, PlannedChange, ProviderError, Resource, Result,
    Schema,
};

use crate::context::{api_error, deleted, found, is_not_found, tags_value, Aws};
use crate::util::{
    bool_attr, check_timeouts, default_to, import_by, num_attr, object, opt_num, opt_str, own_tags,
    read_block, set, str_attr, str_list, str_set_value, timeout, timeouts_block, wait_for,
};
use crate::{plan_tags, tag_attrs};

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.resource("aws_lb", LoadBalancer)
        .resource("aws_alb", LoadBalancer)
        .resource("aws_lb_target_group", TargetGroup)
        .resource("aws_alb_target_group", TargetGroup)
        .resource("aws_lb_listener", Listener)
        .resource("aws_alb_listener", Listener)
        .resource("aws_lb_target_group_attachment", Attachment)
}

fn arn_of(v: &Value) -> Result<String> {
    str_attr(v, "arn")
        .or_else(|| str_attr(v, "id"))
        .map(str::to_string)
        .ok_or_else(|| ProviderError::internal("the object's ARN is not known"))
}

/// The part of a load balancer or target group ARN CloudWatch dimensions use.
fn arn_suffix(arn: &str) -> String {
    arn.split_once(":loadbalancer/")
        .map(|(_, s)| s.to_string())
        .or_else(|| arn.rsplit_once(':').map(|(_, s)| s.to_string()))
        .unwrap_or_default()
}

/// Names of load balancers and target groups: 1 to 32 letters, digits and hyphens,
/// not starting or ending with a hyphen.
fn check_name(config: &Value, what: &str) -> Result<()> {
    let Some(name) = str_attr(config, "name") else {
        return Ok(());
    };
    if name.is_empty()
        || name.len() > 32
        || name.starts_with('-')
        || name.ends_with('-')
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(ProviderError::config(format!(
            "{what} name {name:?} must be 1 to 32 letters, digits and hyphens, not starting or ending with a hyphen"
        )));
    }
    Ok(())
}

fn check_one_of(config: &Value, attr: &str, allowed: &[&str]) -> Result<()> {
    match str_attr(config, attr) {
        Some(v) if !allowed.contains(&v) => Err(ProviderError::config(format!(
            "{attr} = {v:?}: must be one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

fn generated_name(config: &Value) -> String {
    match (str_attr(config, "name"), str_attr(config, "name_prefix")) {
        (Some(n), _) => n.to_string(),
        (None, prefix) => {
            let prefix = prefix.unwrap_or("tf-");
            let rand = uuid::Uuid::new_v4().simple().to_string();
            format!(
                "{prefix}{}",
                &rand[..32usize.saturating_sub(prefix.len()).min(26)]
            )
        }
    }
}

async fn read_elb_tags(aws: &Aws, state: &mut Value, arn: &str) -> Result<()> {
    let out = aws
        .elbv2()
        .await?
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .map_err(|e| api_error(&format!("reading the tags of {arn}"), e))?;
    let actual: BTreeMap<String, String> = out
        .tag_descriptions()
        .iter()
        .flat_map(|d| d.tags())
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let own = own_tags(state, &actual, &aws.settings.default_tags);
    set(state, "tags", own);
    set(state, "tags_all", tags_value(&actual));
    Ok(())
}

fn elb_tags(aws: &Aws, planned: &Value) -> Option<Vec<Tag>> {
    let all = aws.tags_all(&crate::util::string_map(planned.get("tags")));
    (!all.is_empty()).then(|| tag_list(&all))
}

fn tag_list(all: &BTreeMap<String, String>) -> Vec<Tag> {
    all.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

async fn update_elb_tags(aws: &Aws, arn: &str, prior: &Value, planned: &Value) -> Result<()> {
    let elb = aws.elbv2().await?;
    aws.sync_tags(
        arn,
        prior,
        planned,
        |keys| {
            elb.remove_tags()
                .resource_arns(arn)
                .set_tag_keys(Some(keys))
                .send()
        },
        |all| {
            Ok(elb
                .add_tags()
                .resource_arns(arn)
                .set_tags(Some(tag_list(&all)))
                .send())
        },
    )
    .await
}

/// Load balancer attributes terrane manages: (argument, AWS key, default).
const LB_ATTRIBUTES: [(&str, &str, &str); 4] = [
    ("idle_timeout", "idle_timeout.timeout_seconds", "60"),
    (
        "enable_deletion_protection",
        "deletion_protection.enabled",
        "false",
    ),
    ("enable_http2", "routing.http2.enabled", "true"),
    (
        "drop_invalid_header_fields",
        "routing.http.drop_invalid_header_fields.enabled",
        "false",
    ),
];

/// A load balancer attribute's text ("true", "60") as the value the schema holds.
fn attribute_value(raw: &str) -> Value {
    match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        n => Value::from(n.parse().unwrap_or(0.0)),
    }
}

/// `aws_lb` (and its old name `aws_alb`): an application or network load balancer.
pub struct LoadBalancer;

#[async_trait]
impl Resource<Aws> for LoadBalancer {
    fn schema(&self) -> Schema {
        tag_attrs(
            crate::util::name_attrs(Schema::new())
                .attr(
                    "internal",
                    AttrSchema::optional_computed(Type::Bool).force_new(),
                )
                .attr(
                    "load_balancer_type",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr(
                    "security_groups",
                    AttrSchema::optional_computed(Type::Set(Box::new(Type::String))),
                )
                .attr(
                    "subnets",
                    AttrSchema::optional_computed(Type::Set(Box::new(Type::String))),
                )
                .attr(
                    "ip_address_type",
                    AttrSchema::optional_computed(Type::String),
                )
                .attr("idle_timeout", AttrSchema::optional_computed(Type::Number))
                .attr(
                    "enable_deletion_protection",
                    AttrSchema::optional_computed(Type::Bool),
                )
                .attr("enable_http2", AttrSchema::optional_computed(Type::Bool))
                .attr(
                    "drop_invalid_header_fields",
                    AttrSchema::optional_computed(Type::Bool),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .attr("arn_suffix", AttrSchema::computed(Type::String))
                .attr("dns_name", AttrSchema::computed(Type::String))
                .attr("zone_id", AttrSchema::computed(Type::String))
                .attr("vpc_id", AttrSchema::computed(Type::String))
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
        check_name(config, "load balancer")?;
        check_timeouts(config)?;
        check_one_of(
            config,
            "load_balancer_type",
            &["application", "network", "gateway"],
        )?;
        check_one_of(config, "ip_address_type", &["ipv4", "dualstack"])?;
        if str_list(config, "subnets").len() == 1
            && str_attr(config, "load_balancer_type").unwrap_or("application") == "application"
        {
            return Err(ProviderError::config(
                "an application load balancer needs subnets in at least two availability zones",
            ));
        }
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "internal", false);
        default_to(&mut change.planned, "load_balancer_type", "application");
        default_to(&mut change.planned, "ip_address_type", "ipv4");
        for (arg, _, default) in LB_ATTRIBUTES {
            default_to(&mut change.planned, arg, attribute_value(default));
        }
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let name = generated_name(&planned);
        let subnets = str_list(&planned, "subnets");
        let groups = str_list(&planned, "security_groups");
        let out = aws
            .elbv2()
            .await?
            .create_load_balancer()
            .name(&name)
            .set_subnets((!subnets.is_empty()).then_some(subnets))
            .set_security_groups((!groups.is_empty()).then_some(groups))
            .scheme(if bool_attr(&planned, "internal") {
                LoadBalancerSchemeEnum::Internal
            } else {
                LoadBalancerSchemeEnum::InternetFacing
            })
            .r#type(LoadBalancerTypeEnum::from(
                str_attr(&planned, "load_balancer_type").unwrap_or("application"),
            ))
            .set_ip_address_type(str_attr(&planned, "ip_address_type").map(IpAddressType::from))
            .set_tags(elb_tags(aws, &planned))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating load balancer {name}"), e))?;
        let arn = out
            .load_balancers()
            .first()
            .and_then(|l| l.load_balancer_arn())
            .unwrap_or_default()
            .to_string();
        set(&mut planned, "id", arn.as_str());
        set(&mut planned, "arn", arn.as_str());
        set(&mut planned, "name", name.as_str());
        self.set_attributes(aws, &arn, &planned, None).await?;
        let limit = timeout(&planned, "create", Duration::from_secs(600))?;
        wait_for(
            &format!("load balancer {name} to be active"),
            limit,
            || async {
                let lb = self.describe(aws, &arn).await?;
                Ok(lb
                    .filter(|l| {
                        l.state()
                            .and_then(|s| s.code())
                            .is_none_or(|c| c.as_str() == "active")
                    })
                    .map(|_| ()))
            },
        )
        .await?;
        self.read_back(aws, planned, &format!("load balancer {name}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let arn = arn_of(&state)?;
        let Some(lb) = self.describe(aws, &arn).await? else {
            return Ok(None);
        };
        set(&mut state, "id", arn.as_str());
        set(&mut state, "arn", arn.as_str());
        set(&mut state, "arn_suffix", arn_suffix(&arn));
        set(&mut state, "name", opt_str(lb.load_balancer_name()));
        set(&mut state, "dns_name", opt_str(lb.dns_name()));
        set(
            &mut state,
            "zone_id",
            opt_str(lb.canonical_hosted_zone_id()),
        );
        set(&mut state, "vpc_id", opt_str(lb.vpc_id()));
        set(
            &mut state,
            "internal",
            lb.scheme()
                .is_some_and(|s| *s == LoadBalancerSchemeEnum::Internal),
        );
        set(
            &mut state,
            "load_balancer_type",
            opt_str(lb.r#type().map(|t| t.as_str())),
        );
        set(
            &mut state,
            "ip_address_type",
            opt_str(lb.ip_address_type().map(|t| t.as_str())),
        );
        set(
            &mut state,
            "security_groups",
            str_set_value(lb.security_groups()),
        );
        set(
            &mut state,
            "subnets",
            str_set_value(lb.availability_zones().iter().filter_map(|z| z.subnet_id())),
        );
        let attrs = aws
            .elbv2()
            .await?
            .describe_load_balancer_attributes()
            .load_balancer_arn(&arn)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the attributes of {arn}"), e))?;
        let actual: BTreeMap<&str, &str> = attrs
            .attributes()
            .iter()
            .filter_map(|a| Some((a.key()?, a.value()?)))
            .collect();
        for (arg, key, default) in LB_ATTRIBUTES {
            let raw = actual.get(key).copied().unwrap_or(default);
            set(&mut state, arg, attribute_value(raw));
        }
        read_elb_tags(aws, &mut state, &arn).await?;
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let arn = arn_of(&prior)?;
        let elb = aws.elbv2().await?;
        let groups = str_list(&planned, "security_groups");
        if planned.get("security_groups") != prior.get("security_groups") && !groups.is_empty() {
            elb.set_security_groups()
                .load_balancer_arn(&arn)
                .set_security_groups(Some(groups))
                .send()
                .await
                .map_err(|e| api_error(&format!("changing the groups of {arn}"), e))?;
        }
        let subnets = str_list(&planned, "subnets");
        if planned.get("subnets") != prior.get("subnets") && !subnets.is_empty() {
            elb.set_subnets()
                .load_balancer_arn(&arn)
                .set_subnets(Some(subnets))
                .send()
                .await
                .map_err(|e| api_error(&format!("changing the subnets of {arn}"), e))?;
        }
        self.set_attributes(aws, &arn, &planned, Some(&prior))
            .await?;
        update_elb_tags(aws, &arn, &prior, &planned).await?;
        set(&mut planned, "id", arn.as_str());
        set(&mut planned, "arn", arn.as_str());
        self.read_back(aws, planned, &format!("load balancer {arn}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let arn = arn_of(&state)?;
        deleted(
            &format!("deleting load balancer {arn}"),
            aws.elbv2()
                .await?
                .delete_load_balancer()
                .load_balancer_arn(&arn)
                .send()
                .await,
        )?;
        let limit = timeout(&state, "delete", Duration::from_secs(600))?;
        wait_for(
            &format!("load balancer {arn} to be gone"),
            limit,
            || async { Ok(self.describe(aws, &arn).await?.is_none().then_some(())) },
        )
        .await
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("load balancer {id}"))
    }
}

impl LoadBalancer {
    async fn describe(
        &self,
        aws: &Aws,
        arn: &str,
    ) -> Result<Option<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>> {
        Ok(found(
            &format!("reading load balancer {arn}"),
            aws.elbv2()
                .await?
                .describe_load_balancers()
                .load_balancer_arns(arn)
                .send()
                .await,
        )?
        .and_then(|out| out.load_balancers().first().cloned()))
    }

    /// Writes the attributes that differ from the prior state (or, on create, from
    /// AWS's defaults).
    async fn set_attributes(
        &self,
        aws: &Aws,
        arn: &str,
        planned: &Value,
        prior: Option<&Value>,
    ) -> Result<()> {
        let mut changed = Vec::new();
        for (arg, key, default) in LB_ATTRIBUTES {
            let Some(v) = planned
                .get(arg)
                .filter(|v| v.is_wholly_known() && !v.is_null())
            else {
                continue;
            };
            let text = match v {
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            let before = prior.and_then(|p| p.get(arg));
            let same = match before {
                Some(b) => b == v,
                None => text == default,
            };
            if !same {
                changed.push(
                    LoadBalancerAttribute::builder()
                        .key(key)
                        .value(text)
                        .build(),
                );
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        aws.elbv2()
            .await?
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .set_attributes(Some(changed))
            .send()
            .await
            .map_err(|e| api_error(&format!("setting the attributes of {arn}"), e))?;
        Ok(())
    }
}

const PROTOCOLS: [&str; 7] = ["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE"];

fn health_check_block() -> BlockSchema {
    let n = || AttrSchema::optional(Type::Number);
    BlockSchema::single(
        Schema::new()
            .attr("enabled", AttrSchema::optional(Type::Bool))
            .attr("path", AttrSchema::optional(Type::String))
            .attr("port", AttrSchema::optional(Type::String))
            .attr("protocol", AttrSchema::optional(Type::String))
            .attr("matcher", AttrSchema::optional(Type::String))
            .attr("interval", n())
            .attr("timeout", n())
            .attr("healthy_threshold", n())
            .attr("unhealthy_threshold", n()),
    )
}

/// `aws_lb_target_group`: where a listener sends traffic, with its health check.
pub struct TargetGroup;

#[async_trait]
impl Resource<Aws> for TargetGroup {
    fn schema(&self) -> Schema {
        tag_attrs(
            crate::util::name_attrs(Schema::new())
                .attr("port", AttrSchema::optional(Type::Number).force_new())
                .attr("protocol", AttrSchema::optional(Type::String).force_new())
                .attr("vpc_id", AttrSchema::optional(Type::String).force_new())
                .attr(
                    "target_type",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr(
                    "deregistration_delay",
                    AttrSchema::optional_computed(Type::Number),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .attr("arn_suffix", AttrSchema::computed(Type::String))
                .block("health_check", health_check_block()),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        check_name(config, "target group")?;
        check_one_of(config, "protocol", &PROTOCOLS)?;
        check_one_of(config, "target_type", &["instance", "ip", "lambda", "alb"])?;
        let target_type = str_attr(config, "target_type").unwrap_or("instance");
        if target_type != "lambda" {
            for attr in ["port", "protocol", "vpc_id"] {
                if config.get(attr).is_none_or(Value::is_null) {
                    return Err(ProviderError::config(format!(
                        "{attr} is required for a target group of type {target_type:?}"
                    )));
                }
            }
        }
        if let Some(hc) = config.get("health_check").filter(|h| !h.is_null()) {
            check_one_of(hc, "protocol", &PROTOCOLS)?;
            for (attr, lo, hi) in [
                ("interval", 5, 300),
                ("timeout", 2, 120),
                ("healthy_threshold", 2, 10),
                ("unhealthy_threshold", 2, 10),
            ] {
                if let Some(n) = num_attr(hc, attr) {
                    if !(lo..=hi).contains(&n) {
                        return Err(ProviderError::config(format!(
                            "health_check.{attr} = {n}: must be {lo} to {hi}"
                        )));
                    }
                }
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "target_type", "instance");
        default_to(&mut change.planned, "deregistration_delay", 300.0);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let name = generated_name(&planned);
        let hc = planned.get("health_check").cloned().unwrap_or(Value::Null);
        let out = aws
            .elbv2()
            .await?
            .create_target_group()
            .name(&name)
            .set_port(num_attr(&planned, "port").map(|n| n as i32))
            .set_protocol(str_attr(&planned, "protocol").map(ProtocolEnum::from))
            .set_vpc_id(str_attr(&planned, "vpc_id").map(str::to_string))
            .set_target_type(str_attr(&planned, "target_type").map(TargetTypeEnum::from))
            .set_health_check_enabled(hc.get("enabled").and_then(Value::as_bool))
            .set_health_check_path(str_attr(&hc, "path").map(str::to_string))
            .set_health_check_port(str_attr(&hc, "port").map(str::to_string))
            .set_health_check_protocol(str_attr(&hc, "protocol").map(ProtocolEnum::from))
            .set_health_check_interval_seconds(num_attr(&hc, "interval").map(|n| n as i32))
            .set_health_check_timeout_seconds(num_attr(&hc, "timeout").map(|n| n as i32))
            .set_healthy_threshold_count(num_attr(&hc, "healthy_threshold").map(|n| n as i32))
            .set_unhealthy_threshold_count(num_attr(&hc, "unhealthy_threshold").map(|n| n as i32))
            .set_matcher(str_attr(&hc, "matcher").map(|m| Matcher::builder().http_code(m).build()))
            .set_tags(elb_tags(aws, &planned))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating target group {name}"), e))?;
        let arn = out
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .unwrap_or_default()
            .to_string();
        set(&mut planned, "id", arn.as_str());
        set(&mut planned, "arn", arn.as_str());
        set(&mut planned, "name", name.as_str());
        self.set_delay(aws, &arn, &planned, None).await?;
        self.read_back(aws, planned, &format!("target group {name}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let arn = arn_of(&state)?;
        let elb = aws.elbv2().await?;
        let Some(out) = found(
            &format!("reading target group {arn}"),
            elb.describe_target_groups()
                .target_group_arns(&arn)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(tg) = out.target_groups().first() else {
            return Ok(None);
        };
        set(&mut state, "id", arn.as_str());
        set(&mut state, "arn", arn.as_str());
        set(&mut state, "arn_suffix", arn_suffix(&arn));
        set(&mut state, "name", opt_str(tg.target_group_name()));
        set(&mut state, "port", opt_num(tg.port()));
        set(
            &mut state,
            "protocol",
            opt_str(tg.protocol().map(|p| p.as_str())),
        );
        set(&mut state, "vpc_id", opt_str(tg.vpc_id()));
        set(
            &mut state,
            "target_type",
            opt_str(tg.target_type().map(|t| t.as_str())),
        );
        let hc = read_block(
            state.get("health_check"),
            &[
                (
                    "enabled",
                    tg.health_check_enabled()
                        .map(Value::Bool)
                        .unwrap_or(Value::Null),
                ),
                ("path", opt_str(tg.health_check_path())),
                ("port", opt_str(tg.health_check_port())),
                (
                    "protocol",
                    opt_str(tg.health_check_protocol().map(|p| p.as_str())),
                ),
                ("matcher", opt_str(tg.matcher().and_then(|m| m.http_code()))),
                ("interval", opt_num(tg.health_check_interval_seconds())),
                ("timeout", opt_num(tg.health_check_timeout_seconds())),
                ("healthy_threshold", opt_num(tg.healthy_threshold_count())),
                (
                    "unhealthy_threshold",
                    opt_num(tg.unhealthy_threshold_count()),
                ),
            ],
        );
        set(&mut state, "health_check", hc);
        let attrs = elb
            .describe_target_group_attributes()
            .target_group_arn(&arn)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the attributes of {arn}"), e))?;
        let delay = attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
            .and_then(|a| a.value())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(300.0);
        set(&mut state, "deregistration_delay", delay);
        read_elb_tags(aws, &mut state, &arn).await?;
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let arn = arn_of(&prior)?;
        if planned.get("health_check") != prior.get("health_check") {
            let hc = planned.get("health_check").cloned().unwrap_or(Value::Null);
            aws.elbv2()
                .await?
                .modify_target_group()
                .target_group_arn(&arn)
                .set_health_check_enabled(hc.get("enabled").and_then(Value::as_bool))
                .set_health_check_path(str_attr(&hc, "path").map(str::to_string))
                .set_health_check_port(str_attr(&hc, "port").map(str::to_string))
                .set_health_check_protocol(str_attr(&hc, "protocol").map(ProtocolEnum::from))
                .set_health_check_interval_seconds(num_attr(&hc, "interval").map(|n| n as i32))
                .set_health_check_timeout_seconds(num_attr(&hc, "timeout").map(|n| n as i32))
                .set_healthy_threshold_count(num_attr(&hc, "healthy_threshold").map(|n| n as i32))
                .set_unhealthy_threshold_count(
                    num_attr(&hc, "unhealthy_threshold").map(|n| n as i32),
                )
                .set_matcher(
                    str_attr(&hc, "matcher").map(|m| Matcher::builder().http_code(m).build()),
                )
                .send()
                .await
                .map_err(|e| api_error(&format!("changing the health check of {arn}"), e))?;
        }
        self.set_delay(aws, &arn, &planned, Some(&prior)).await?;
        update_elb_tags(aws, &arn, &prior, &planned).await?;
        set(&mut planned, "id", arn.as_str());
        set(&mut planned, "arn", arn.as_str());
        self.read_back(aws, planned, &format!("target group {arn}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let arn = arn_of(&state)?;
        deleted(
            &format!("deleting target group {arn}"),
            aws.elbv2()
                .await?
                .delete_target_group()
                .target_group_arn(&arn)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("target group {id}"))
    }
}

impl TargetGroup {
    async fn set_delay(
        &self,
        aws: &Aws,
        arn: &str,
        planned: &Value,
        prior: Option<&Value>,
    ) -> Result<()> {
        let Some(delay) = num_attr(planned, "deregistration_delay") else {
            return Ok(());
        };
        let before = prior
            .and_then(|p| num_attr(p, "deregistration_delay"))
            .unwrap_or(300);
        if delay == before {
            return Ok(());
        }
        aws.elbv2()
            .await?
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(
                aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value(delay.to_string())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| api_error(&format!("setting the deregistration delay of {arn}"), e))?;
        Ok(())
    }
}

fn action_block() -> BlockSchema {
    BlockSchema::list(
        Schema::new()
            .attr("type", AttrSchema::required(Type::String))
            .attr("target_group_arn", AttrSchema::optional(Type::String))
            .attr("order", AttrSchema::optional(Type::Number))
            .block(
                "redirect",
                BlockSchema::single(
                    Schema::new()
                        .attr("port", AttrSchema::optional(Type::String))
                        .attr("protocol", AttrSchema::optional(Type::String))
                        .attr("host", AttrSchema::optional(Type::String))
                        .attr("path", AttrSchema::optional(Type::String))
                        .attr("query", AttrSchema::optional(Type::String))
                        .attr("status_code", AttrSchema::required(Type::String)),
                ),
            )
            .block(
                "fixed_response",
                BlockSchema::single(
                    Schema::new()
                        .attr("content_type", AttrSchema::required(Type::String))
                        .attr("message_body", AttrSchema::optional(Type::String))
                        .attr("status_code", AttrSchema::optional(Type::String)),
                ),
            ),
    )
}

fn actions(planned: &Value) -> Result<Vec<Action>> {
    let items = planned
        .get("default_action")
        .and_then(Value::as_items)
        .unwrap_or_default();
    items
        .iter()
        .map(|a| {
            let kind = str_attr(a, "type").unwrap_or_default();
            let redirect = a.get("redirect").filter(|r| !r.is_null()).map(|r| {
                RedirectActionConfig::builder()
                    .set_port(str_attr(r, "port").map(str::to_string))
                    .set_protocol(str_attr(r, "protocol").map(str::to_string))
                    .set_host(str_attr(r, "host").map(str::to_string))
                    .set_path(str_attr(r, "path").map(str::to_string))
                    .set_query(str_attr(r, "query").map(str::to_string))
                    .status_code(RedirectActionStatusCodeEnum::from(
                        str_attr(r, "status_code").unwrap_or("HTTP_301"),
                    ))
                    .build()
            });
            let fixed = a.get("fixed_response").filter(|r| !r.is_null()).map(|r| {
                FixedResponseActionConfig::builder()
                    .content_type(str_attr(r, "content_type").unwrap_or("text/plain"))
                    .set_message_body(str_attr(r, "message_body").map(str::to_string))
                    .set_status_code(str_attr(r, "status_code").map(str::to_string))
                    .build()
            });
            Ok(Action::builder()
                .r#type(ActionTypeEnum::from(kind))
                .set_target_group_arn(str_attr(a, "target_group_arn").map(str::to_string))
                .set_order(num_attr(a, "order").map(|n| n as i32))
                .set_redirect_config(redirect)
                .set_fixed_response_config(fixed)
                .build())
        })
        .collect()
}

fn read_actions(prior: &Value, actual: &[Action]) -> Value {
    let configured = prior
        .get("default_action")
        .and_then(Value::as_items)
        .unwrap_or_default();
    Value::List(
        actual
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let c = configured.get(i);
                let redirect = a.redirect_config().map(|r| {
                    read_block(
                        c.and_then(|c| c.get("redirect")),
                        &[
                            ("port", opt_str(r.port())),
                            ("protocol", opt_str(r.protocol())),
                            ("host", opt_str(r.host())),
                            ("path", opt_str(r.path())),
                            ("query", opt_str(r.query())),
                            ("status_code", opt_str(r.status_code().map(|s| s.as_str()))),
                        ],
                    )
                });
                let fixed = a.fixed_response_config().map(|r| {
                    read_block(
                        c.and_then(|c| c.get("fixed_response")),
                        &[
                            ("content_type", opt_str(r.content_type())),
                            ("message_body", opt_str(r.message_body())),
                            ("status_code", opt_str(r.status_code())),
                        ],
                    )
                });
                let order = match c.and_then(|c| c.get("order")) {
                    Some(o) if !o.is_null() => opt_num(a.order()),
                    _ => Value::Null,
                };
                object([
                    ("type", opt_str(a.r#type().map(|t| t.as_str()))),
                    ("target_group_arn", opt_str(a.target_group_arn())),
                    ("order", order),
                    ("redirect", redirect.unwrap_or(Value::Null)),
                    ("fixed_response", fixed.unwrap_or(Value::Null)),
                ])
            })
            .collect(),
    )
}

/// `aws_lb_listener`: a port on a load balancer and what it does with requests.
pub struct Listener;

#[async_trait]
impl Resource<Aws> for Listener {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr(
                    "load_balancer_arn",
                    AttrSchema::required(Type::String).force_new(),
                )
                .attr("port", AttrSchema::optional(Type::Number))
                .attr("protocol", AttrSchema::optional_computed(Type::String))
                .attr("ssl_policy", AttrSchema::optional_computed(Type::String))
                .attr("certificate_arn", AttrSchema::optional(Type::String))
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .block("default_action", action_block()),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        check_one_of(config, "protocol", &PROTOCOLS)?;
        let actions = config
            .get("default_action")
            .and_then(Value::as_items)
            .unwrap_or_default();
        if actions.is_empty() {
            return Err(ProviderError::config(
                "a listener needs a default_action block (forward, redirect or fixed-response)",
            ));
        }
        for a in actions {
            let kind = str_attr(a, "type").unwrap_or_default();
            let needs = match kind {
                "forward" => "target_group_arn",
                "redirect" => "redirect",
                "fixed-response" => "fixed_response",
                "authenticate-oidc" | "authenticate-cognito" => continue,
                other => {
                    return Err(ProviderError::config(format!(
                        "default_action.type = {other:?}: must be forward, redirect, fixed-response, authenticate-oidc or authenticate-cognito"
                    )))
                }
            };
            if a.get(needs).is_none_or(Value::is_null) {
                return Err(ProviderError::config(format!(
                    "a {kind} default_action needs {needs}"
                )));
            }
        }
        if matches!(str_attr(config, "protocol"), Some("HTTPS" | "TLS"))
            && config.get("certificate_arn").is_none_or(Value::is_null)
        {
            return Err(ProviderError::config(
                "an HTTPS or TLS listener needs certificate_arn",
            ));
        }
        let mut change = plan_by_schema(schema, prior, config);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let lb = str_attr(&planned, "load_balancer_arn")
            .unwrap_or_default()
            .to_string();
        let out = aws
            .elbv2()
            .await?
            .create_listener()
            .load_balancer_arn(&lb)
            .set_port(num_attr(&planned, "port").map(|n| n as i32))
            .set_protocol(str_attr(&planned, "protocol").map(ProtocolEnum::from))
            .set_ssl_policy(str_attr(&planned, "ssl_policy").map(str::to_string))
            .set_certificates(
                str_attr(&planned, "certificate_arn")
                    .map(|c| vec![Certificate::builder().certificate_arn(c).build()]),
            )
            .set_default_actions(Some(actions(&planned)?))
            .set_tags(elb_tags(aws, &planned))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating a listener on {lb}"), e))?;
        let arn = out
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .unwrap_or_default()
            .to_string();
        set(&mut planned, "id", arn.as_str());
        set(&mut planned, "arn", arn.as_str());
        self.read_back(aws, planned, &format!("listener {arn}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let arn = arn_of(&state)?;
        let Some(out) = found(
            &format!("reading listener {arn}"),
            aws.elbv2()
                .await?
                .describe_listeners()
                .listener_arns(&arn)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(l) = out.listeners().first() else {
            return Ok(None);
        };
        set(&mut state, "id", arn.as_str());
        set(&mut state, "arn", arn.as_str());
        set(
            &mut state,
            "load_balancer_arn",
            opt_str(l.load_balancer_arn()),
        );
        set(&mut state, "port", opt_num(l.port()));
        set(
            &mut state,
            "protocol",
            opt_str(l.protocol().map(|p| p.as_str())),
        );
        set(&mut state, "ssl_policy", opt_str(l.ssl_policy()));
        set(
            &mut state,
            "certificate_arn",
            opt_str(l.certificates().first().and_then(|c| c.certificate_arn())),
        );
        let actions = read_actions(&state, l.default_actions());
        set(&mut state, "default_action", actions);
        read_elb_tags(aws, &mut state, &arn).await?;
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let arn = arn_of(&prior)?;
        aws.elbv2()
            .await?
            .modify_listener()
            .listener_arn(&arn)
            .set_port(num_attr(&planned, "port").map(|n| n as i32))
            .set_protocol(str_attr(&planned, "protocol").map(ProtocolEnum::from))
            .set_ssl_policy(str_attr(&planned, "ssl_policy").map(str::to_string))
            .set_certificates(
                str_attr(&planned, "certificate_arn")
                    .map(|c| vec![Certificate::builder().certificate_arn(c).build()]),
            )
            .set_default_actions(Some(actions(&planned)?))
            .send()
            .await
            .map_err(|e| api_error(&format!("changing listener {arn}"), e))?;
        update_elb_tags(aws, &arn, &prior, &planned).await?;
        set(&mut planned, "id", arn.as_str());
        set(&mut planned, "arn", arn.as_str());
        self.read_back(aws, planned, &format!("listener {arn}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let arn = arn_of(&state)?;
        deleted(
            &format!("deleting listener {arn}"),
            aws.elbv2()
                .await?
                .delete_listener()
                .listener_arn(&arn)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("listener {id}"))
    }
}

/// `aws_lb_target_group_attachment`: one target (instance, IP or Lambda) registered
/// with a target group. Every argument replaces it.
pub struct Attachment;

impl Attachment {
    fn target(v: &Value) -> Result<TargetDescription> {
        Ok(TargetDescription::builder()
            .id(str_attr(v, "target_id").unwrap_or_default())
            .set_port(num_attr(v, "port").map(|n| n as i32))
            .set_availability_zone(str_attr(v, "availability_zone").map(str::to_string))
            .build())
    }
}

#[async_trait]
impl Resource<Aws> for Attachment {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr(
                "target_group_arn",
                AttrSchema::required(Type::String).force_new(),
            )
            .attr("target_id", AttrSchema::required(Type::String).force_new())
            .attr("port", AttrSchema::optional(Type::Number).force_new())
            .attr(
                "availability_zone",
                AttrSchema::optional(Type::String).force_new(),
            )
            .attr("id", AttrSchema::computed(Type::String))
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let tg = str_attr(&planned, "target_group_arn")
            .unwrap_or_default()
            .to_string();
        let target = str_attr(&planned, "target_id")
            .unwrap_or_default()
            .to_string();
        aws.elbv2()
            .await?
            .register_targets()
            .target_group_arn(&tg)
            .targets(Self::target(&planned)?)
            .send()
            .await
            .map_err(|e| api_error(&format!("registering {target} with {tg}"), e))?;
        set(&mut planned, "id", format!("{tg}/{target}"));
        self.read_back(aws, planned, &format!("target {target} of {tg}"))
            .await
    }

    async fn read(&self, aws: &Aws, state: Value) -> Result<Option<Value>> {
        let tg = str_attr(&state, "target_group_arn")
            .unwrap_or_default()
            .to_string();
        let out = match aws
            .elbv2()
            .await?
            .describe_target_health()
            .target_group_arn(&tg)
            .targets(Self::target(&state)?)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) if crate::context::error_code(&e) == Some("InvalidTarget") => return Ok(None),
            Err(e) => return Err(api_error(&format!("reading the targets of {tg}"), e)),
        };
        let registered = out.target_health_descriptions().iter().any(|d| {
            d.target().and_then(|t| t.id()) == str_attr(&state, "target_id")
                && d.target_health()
                    .and_then(|h| h.state())
                    .is_none_or(|s| !matches!(s.as_str(), "unused" | "draining"))
        });
        Ok(registered.then_some(state))
    }

    async fn update(&self, _aws: &Aws, _prior: Value, planned: Value) -> Result<Value> {
        // Every argument forces a new attachment: there is nothing to change in place.
        Ok(planned)
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let tg = str_attr(&state, "target_group_arn")
            .unwrap_or_default()
            .to_string();
        deleted(
            &format!("deregistering a target from {tg}"),
            aws.elbv2()
                .await?
                .deregister_targets()
                .target_group_arn(&tg)
                .targets(Self::target(&state)?)
                .send()
                .await,
        )
    }
}
