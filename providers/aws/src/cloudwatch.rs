//! CloudWatch: `aws_cloudwatch_metric_alarm` (CloudWatch) and
//! `aws_cloudwatch_log_group` (CloudWatch Logs).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricAlarm, StandardUnit, Statistic,
};
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, Dispatch, ImportKey, PlannedChange, ProviderError, Resource, Result, Schema,
};

use crate::context::{api_error, deleted, found, Aws};
use crate::iam::{changed, check_enum, opt_text, record_tags, refuse, resource_name, text_or_null};
use crate::util::{
    bool_attr, default_to, import_by, num_attr, set, str_attr, str_list, str_set_value, string_map,
};
use crate::{plan_tags, tag_attrs};

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.resource("aws_cloudwatch_metric_alarm", Alarm)
        .resource("aws_cloudwatch_log_group", LogGroup)
}

/// The action lists of an alarm, each a set of ARNs.
const ACTIONS: [&str; 3] = ["alarm_actions", "ok_actions", "insufficient_data_actions"];

const TREAT_MISSING_DATA: [&str; 4] = ["missing", "ignore", "breaching", "notBreaching"];

/// A set attribute as AWS holds it: null while the state had none and AWS holds none.
fn opt_set(state: &Value, name: &str, items: &[String]) -> Value {
    if items.is_empty() && state.get(name).is_none_or(Value::is_null) {
        Value::Null
    } else {
        str_set_value(items)
    }
}

/// A string map as AWS holds it: null while the state had none and AWS holds none.
fn opt_map(state: &Value, name: &str, map: &BTreeMap<String, String>) -> Value {
    if map.is_empty() && state.get(name).is_none_or(Value::is_null) {
        Value::Null
    } else {
        crate::context::tags_value(map)
    }
}

fn cw_tags(tags: BTreeMap<String, String>) -> Vec<aws_sdk_cloudwatch::types::Tag> {
    tags.into_iter()
        .map(|(k, v)| {
            aws_sdk_cloudwatch::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

pub struct Alarm;

impl Alarm {
    fn name(v: &Value) -> Result<String> {
        str_attr(v, "alarm_name")
            .or_else(|| str_attr(v, "id"))
            .map(str::to_string)
            .ok_or_else(|| ProviderError::internal("the alarm name is not known"))
    }

    fn check(config: &Value) -> Result<()> {
        let mut problems = Vec::new();
        check_enum(
            config,
            "comparison_operator",
            ComparisonOperator::values(),
            &mut problems,
        );
        check_enum(config, "statistic", Statistic::values(), &mut problems);
        check_enum(config, "unit", StandardUnit::values(), &mut problems);
        check_enum(
            config,
            "treat_missing_data",
            &TREAT_MISSING_DATA,
            &mut problems,
        );
        let evaluations = num_attr(config, "evaluation_periods");
        if evaluations.is_some_and(|n| n < 1) {
            problems.push("evaluation_periods must be at least 1".to_string());
        }
        if let (Some(d), Some(e)) = (num_attr(config, "datapoints_to_alarm"), evaluations) {
            if d < 1 || d > e {
                problems.push(format!(
                    "datapoints_to_alarm {d} must be between 1 and evaluation_periods ({e})"
                ));
            }
        }
        if let Some(p) = num_attr(config, "period") {
            if !matches!(p, 10 | 20 | 30) && (p < 60 || p % 60 != 0) {
                problems.push(format!(
                    "period {p} must be 10, 20, 30 or a multiple of 60 seconds"
                ));
            }
        }
        let given = |a: &str| config.get(a).is_some_and(|v| !v.is_null());
        for attr in ["metric_name", "namespace", "period"] {
            if !given(attr) {
                problems.push(format!(
                    "{attr} is required (alarms on metric_query expressions are not supported yet)"
                ));
            }
        }
        if given("statistic") == given("extended_statistic") {
            problems.push("set exactly one of statistic and extended_statistic".to_string());
        }
        refuse(problems)
    }

    /// Creates or replaces the alarm's definition (PutMetricAlarm does both).
    async fn put(
        &self,
        aws: &Aws,
        planned: &Value,
        tags: Option<BTreeMap<String, String>>,
    ) -> Result<String> {
        let name = Self::name(planned)?;
        let dimensions = string_map(planned.get("dimensions"))
            .into_iter()
            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
            .collect::<Vec<_>>();
        let list = |a: &str| Some(str_list(planned, a));
        let [alarm, ok, insufficient] = ACTIONS;
        aws.cloudwatch()
            .await?
            .put_metric_alarm()
            .alarm_name(&name)
            .set_alarm_description(str_attr(planned, "alarm_description").map(str::to_string))
            .actions_enabled(bool_attr(planned, "actions_enabled"))
            .set_alarm_actions(list(alarm))
            .set_ok_actions(list(ok))
            .set_insufficient_data_actions(list(insufficient))
            .set_metric_name(str_attr(planned, "metric_name").map(str::to_string))
            .set_namespace(str_attr(planned, "namespace").map(str::to_string))
            .set_statistic(str_attr(planned, "statistic").map(Statistic::from))
            .set_extended_statistic(str_attr(planned, "extended_statistic").map(str::to_string))
            .set_dimensions((!dimensions.is_empty()).then_some(dimensions))
            .set_period(num_attr(planned, "period").map(|n| n as i32))
            .set_unit(str_attr(planned, "unit").map(StandardUnit::from))
            .set_evaluation_periods(num_attr(planned, "evaluation_periods").map(|n| n as i32))
            .set_datapoints_to_alarm(num_attr(planned, "datapoints_to_alarm").map(|n| n as i32))
            .set_threshold(planned.get("threshold").and_then(Value::as_f64))
            .set_comparison_operator(
                str_attr(planned, "comparison_operator").map(ComparisonOperator::from),
            )
            .set_treat_missing_data(str_attr(planned, "treat_missing_data").map(str::to_string))
            .set_tags(tags.filter(|t| !t.is_empty()).map(cw_tags))
            .send()
            .await
            .map_err(|e| api_error(&format!("writing alarm {name}"), e))?;
        Ok(name)
    }

    fn record(state: &mut Value, a: &MetricAlarm) {
        let name = a.alarm_name().unwrap_or_default();
        set(state, "alarm_name", name);
        set(state, "id", name);
        set(state, "arn", opt_text(a.alarm_arn()));
        let description = text_or_null(state, "alarm_description", a.alarm_description());
        set(state, "alarm_description", description);
        set(
            state,
            "actions_enabled",
            a.actions_enabled().unwrap_or(true),
        );
        let actions = [
            a.alarm_actions(),
            a.ok_actions(),
            a.insufficient_data_actions(),
        ];
        for (attr, items) in ACTIONS.into_iter().zip(actions) {
            let v = opt_set(state, attr, items);
            set(state, attr, v);
        }
        set(state, "metric_name", opt_text(a.metric_name()));
        set(state, "namespace", opt_text(a.namespace()));
        set(
            state,
            "statistic",
            opt_text(a.statistic().map(|s| s.as_str())),
        );
        set(
            state,
            "extended_statistic",
            opt_text(a.extended_statistic()),
        );
        let dims: BTreeMap<String, String> = a
            .dimensions()
            .iter()
            .filter_map(|d| Some((d.name()?.to_string(), d.value()?.to_string())))
            .collect();
        let dims = opt_map(state, "dimensions", &dims);
        set(state, "dimensions", dims);
        let number = |n: Option<i32>| n.map(|n| Value::from(i64::from(n))).unwrap_or(Value::Null);
        set(state, "period", number(a.period()));
        set(state, "unit", opt_text(a.unit().map(|u| u.as_str())));
        set(state, "evaluation_periods", number(a.evaluation_periods()));
        set(
            state,
            "datapoints_to_alarm",
            number(a.datapoints_to_alarm()),
        );
        set(
            state,
            "threshold",
            a.threshold().map(Value::from).unwrap_or(Value::Null),
        );
        set(
            state,
            "comparison_operator",
            opt_text(a.comparison_operator().map(|c| c.as_str())),
        );
        set(
            state,
            "treat_missing_data",
            a.treat_missing_data().unwrap_or("missing"),
        );
    }

    async fn read_tags(&self, aws: &Aws, arn: &str) -> Result<BTreeMap<String, String>> {
        let out = aws
            .cloudwatch()
            .await?
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the tags of alarm {arn}"), e))?;
        Ok(out
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect())
    }

    async fn sync_tags(&self, aws: &Aws, arn: &str, prior: &Value, planned: &Value) -> Result<()> {
        let cw = aws.cloudwatch().await?;
        aws.sync_tags(
            &format!("alarm {arn}"),
            prior,
            planned,
            |keys| {
                cw.untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(keys))
                    .send()
            },
            |all| {
                Ok(cw
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(cw_tags(all)))
                    .send())
            },
        )
        .await
    }
}

#[async_trait]
impl Resource<Aws> for Alarm {
    fn schema(&self) -> Schema {
        let text = || AttrSchema::optional(Type::String);
        let number = || AttrSchema::optional(Type::Number);
        let s = Schema::new()
            .attr("alarm_name", AttrSchema::required(Type::String).force_new())
            .attr("comparison_operator", AttrSchema::required(Type::String))
            .attr("evaluation_periods", AttrSchema::required(Type::Number))
            .attr("metric_name", text())
            .attr("namespace", text())
            .attr("period", number())
            .attr("statistic", text())
            .attr("extended_statistic", text())
            .attr("threshold", number())
            .attr("alarm_description", text())
            .attr("actions_enabled", AttrSchema::optional(Type::Bool))
            .attr(
                "dimensions",
                AttrSchema::optional(Type::Map(Box::new(Type::String))),
            )
            .attr("unit", text())
            .attr("datapoints_to_alarm", number())
            .attr("treat_missing_data", AttrSchema::optional(Type::String))
            .attr("id", AttrSchema::computed(Type::String))
            .attr("arn", AttrSchema::computed(Type::String));
        tag_attrs(ACTIONS.iter().fold(s, |s, a| {
            s.attr(a, AttrSchema::optional(Type::Set(Box::new(Type::String))))
        }))
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        Self::check(config)?;
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "actions_enabled", true);
        default_to(&mut change.planned, "treat_missing_data", "missing");
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, planned: Value) -> Result<Value> {
        let tags = aws.tags_all(&string_map(planned.get("tags")));
        let name = self.put(aws, &planned, Some(tags)).await?;
        self.read_back(aws, planned, &format!("alarm {name}")).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let name = Self::name(&state)?;
        let out = aws
            .cloudwatch()
            .await?
            .describe_alarms()
            .alarm_names(&name)
            .send()
            .await;
        let Some(out) = found(&format!("reading alarm {name}"), out)? else {
            return Ok(None);
        };
        let Some(alarm) = out
            .metric_alarms()
            .iter()
            .find(|a| a.alarm_name() == Some(name.as_str()))
        else {
            return Ok(None);
        };
        Self::record(&mut state, alarm);
        let tags = self
            .read_tags(aws, alarm.alarm_arn().unwrap_or_default())
            .await?;
        record_tags(aws, &mut state, tags);
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let name = self.put(aws, &planned, None).await?;
        let arn = str_attr(&prior, "arn").unwrap_or_default().to_string();
        self.sync_tags(aws, &arn, &prior, &planned).await?;
        self.read_back(aws, planned, &format!("alarm {name}")).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let name = Self::name(&state)?;
        deleted(
            &format!("deleting alarm {name}"),
            aws.cloudwatch()
                .await?
                .delete_alarms()
                .alarm_names(&name)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("alarm_name", |id| format!("alarm named {id:?}"))
    }
}

/// The retention periods CloudWatch Logs accepts, in days (0: never expire).
const RETENTION_DAYS: [i64; 23] = [
    0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

pub struct LogGroup;

impl LogGroup {
    fn name(v: &Value) -> Result<String> {
        str_attr(v, "name")
            .or_else(|| str_attr(v, "id"))
            .map(str::to_string)
            .ok_or_else(|| ProviderError::internal("the log group name is not known"))
    }

    fn check(config: &Value) -> Result<()> {
        let mut problems = Vec::new();
        for attr in ["name", "name_prefix"] {
            if let Some(n) = str_attr(config, attr) {
                let ok = |c: char| c.is_ascii_alphanumeric() || "._-/#".contains(c);
                if n.is_empty() || n.len() > 512 || !n.chars().all(ok) {
                    problems.push(format!(
                        "{attr} {n:?} must be 1 to 512 letters, digits and the characters ._-/#"
                    ));
                }
            }
        }
        if let Some(days) = num_attr(config, "retention_in_days") {
            if !RETENTION_DAYS.contains(&days) {
                let allowed: Vec<String> = RETENTION_DAYS.iter().map(i64::to_string).collect();
                problems.push(format!(
                    "retention_in_days {days} is not one of {}",
                    allowed.join(", ")
                ));
            }
        }
        check_enum(
            config,
            "log_group_class",
            aws_sdk_cloudwatchlogs::types::LogGroupClass::values(),
            &mut problems,
        );
        refuse(problems)
    }

    async fn set_retention(&self, aws: &Aws, name: &str, days: i64) -> Result<()> {
        let logs = aws.logs().await?;
        let op = format!("setting the retention of log group {name}");
        if days == 0 {
            return deleted(
                &op,
                logs.delete_retention_policy()
                    .log_group_name(name)
                    .send()
                    .await,
            );
        }
        logs.put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error(&op, e))
    }

    async fn set_kms_key(&self, aws: &Aws, name: &str, key: Option<&str>) -> Result<()> {
        let logs = aws.logs().await?;
        let op = format!("changing the KMS key of log group {name}");
        match key {
            Some(k) => {
                let out = logs
                    .associate_kms_key()
                    .log_group_name(name)
                    .kms_key_id(k)
                    .send()
                    .await;
                out.map_err(|e| api_error(&op, e))?;
            }
            None => {
                let out = logs
                    .disassociate_kms_key()
                    .log_group_name(name)
                    .send()
                    .await;
                out.map_err(|e| api_error(&op, e))?;
            }
        }
        Ok(())
    }

    async fn sync_tags(&self, aws: &Aws, arn: &str, prior: &Value, planned: &Value) -> Result<()> {
        let logs = aws.logs().await?;
        aws.sync_tags(
            &format!("log group {arn}"),
            prior,
            planned,
            |keys| {
                logs.untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(keys))
                    .send()
            },
            |all| {
                Ok(logs
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(all.into_iter().collect()))
                    .send())
            },
        )
        .await
    }
}

#[async_trait]
impl Resource<Aws> for LogGroup {
    fn schema(&self) -> Schema {
        tag_attrs(
            crate::util::name_attrs(Schema::new())
                .attr(
                    "retention_in_days",
                    AttrSchema::optional(Type::Number)
                        .describe("Days to keep events; 0 (the default) keeps them forever."),
                )
                .attr("kms_key_id", AttrSchema::optional(Type::String))
                .attr(
                    "log_group_class",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr(
                    "skip_destroy",
                    AttrSchema::optional(Type::Bool)
                        .describe("Leave the log group in AWS when it is destroyed."),
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
        Self::check(config)?;
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "retention_in_days", 0i64);
        default_to(&mut change.planned, "log_group_class", "STANDARD");
        default_to(&mut change.planned, "skip_destroy", false);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let name = resource_name(&planned);
        let tags: HashMap<String, String> = aws
            .tags_all(&string_map(planned.get("tags")))
            .into_iter()
            .collect();
        // STANDARD is the default; sending it only when it differs keeps the request
        // valid for endpoints that predate log group classes.
        let class = str_attr(&planned, "log_group_class")
            .filter(|c| *c != "STANDARD")
            .map(aws_sdk_cloudwatchlogs::types::LogGroupClass::from);
        aws.logs()
            .await?
            .create_log_group()
            .log_group_name(&name)
            .set_kms_key_id(str_attr(&planned, "kms_key_id").map(str::to_string))
            .set_log_group_class(class)
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating log group {name}"), e))?;
        let days = num_attr(&planned, "retention_in_days").unwrap_or(0);
        if days != 0 {
            self.set_retention(aws, &name, days).await?;
        }
        set(&mut planned, "name", name.as_str());
        self.read_back(aws, planned, &format!("log group {name}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let name = Self::name(&state)?;
        let logs = aws.logs().await?;
        let out = logs
            .describe_log_groups()
            .log_group_name_prefix(&name)
            .send()
            .await;
        let Some(out) = found(&format!("reading log group {name}"), out)? else {
            return Ok(None);
        };
        let Some(group) = out
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name.as_str()))
        else {
            return Ok(None);
        };
        // `arn` ends in ":*" (every stream); Terraform's arn is the group's own.
        let arn = group
            .log_group_arn()
            .map(str::to_string)
            .or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_string()))
            .unwrap_or_default();
        set(&mut state, "name", name.as_str());
        set(&mut state, "id", name.as_str());
        set(&mut state, "arn", arn.as_str());
        let days = group.retention_in_days().map(i64::from).unwrap_or(0);
        set(&mut state, "retention_in_days", days);
        set(&mut state, "kms_key_id", opt_text(group.kms_key_id()));
        let class = group
            .log_group_class()
            .map(|c| c.as_str())
            .unwrap_or("STANDARD");
        set(&mut state, "log_group_class", class);
        default_to(&mut state, "skip_destroy", false);
        let tags = logs
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the tags of log group {name}"), e))?;
        let tags = tags
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        record_tags(aws, &mut state, tags);
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let name = Self::name(&prior)?;
        if changed(&prior, &planned, &["retention_in_days"]) {
            let days = num_attr(&planned, "retention_in_days").unwrap_or(0);
            self.set_retention(aws, &name, days).await?;
        }
        if changed(&prior, &planned, &["kms_key_id"]) {
            self.set_kms_key(aws, &name, str_attr(&planned, "kms_key_id"))
                .await?;
        }
        let arn = str_attr(&prior, "arn").unwrap_or_default().to_string();
        self.sync_tags(aws, &arn, &prior, &planned).await?;
        let mut planned = planned;
        set(&mut planned, "name", name.as_str());
        self.read_back(aws, planned, &format!("log group {name}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        if bool_attr(&state, "skip_destroy") {
            return Ok(());
        }
        let name = Self::name(&state)?;
        deleted(
            &format!("deleting log group {name}"),
            aws.logs()
                .await?
                .delete_log_group()
                .log_group_name(&name)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("name", |id| format!("log group named {id:?}"))
    }
}
