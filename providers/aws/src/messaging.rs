//! SQS and SNS: `aws_sqs_queue` and `aws_sns_topic`.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, ImportKey, PlannedChange, ProviderError, Resource, Result, Schema,
};

use crate::context::{api_error, deleted, found, tags_value, Aws};
use crate::util::{bool_attr, import_by, num_attr, opt_str, own_tags, set, str_attr, string_map};
use crate::{plan_tags, tag_attrs};

/// Queue attributes terrane manages: (argument, SQS attribute, default).
const QUEUE_NUMBERS: [(&str, &str, i64); 5] = [
    ("visibility_timeout_seconds", "VisibilityTimeout", 30),
    (
        "message_retention_seconds",
        "MessageRetentionPeriod",
        345_600,
    ),
    ("delay_seconds", "DelaySeconds", 0),
    ("max_message_size", "MaximumMessageSize", 262_144),
    (
        "receive_wait_time_seconds",
        "ReceiveMessageWaitTimeSeconds",
        0,
    ),
];

/// A unique name after `prefix` (a `name_prefix`, or `terraform-`).
pub(crate) fn generated_name(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..20]
    )
}

pub struct Queue;

impl Queue {
    fn attributes(planned: &Value) -> HashMap<QueueAttributeName, String> {
        let mut attrs = HashMap::new();
        for (arg, name, _) in QUEUE_NUMBERS {
            if let Some(n) = num_attr(planned, arg) {
                attrs.insert(QueueAttributeName::from(name), n.to_string());
            }
        }
        if bool_attr(planned, "content_based_deduplication") {
            attrs.insert(
                QueueAttributeName::ContentBasedDeduplication,
                "true".to_string(),
            );
        }
        attrs
    }

    fn url(v: &Value) -> Result<String> {
        str_attr(v, "url")
            .or_else(|| str_attr(v, "id"))
            .map(str::to_string)
            .ok_or_else(|| ProviderError::internal("the queue URL is not known"))
    }

    async fn sync_tags(&self, aws: &Aws, url: &str, prior: &Value, planned: &Value) -> Result<()> {
        let sqs = aws.sqs().await?;
        aws.sync_tags(
            &format!("queue {url}"),
            prior,
            planned,
            |keys| {
                sqs.untag_queue()
                    .queue_url(url)
                    .set_tag_keys(Some(keys))
                    .send()
            },
            |all| {
                Ok(sqs
                    .tag_queue()
                    .queue_url(url)
                    .set_tags(Some(all.into_iter().collect()))
                    .send())
            },
        )
        .await
    }
}

#[async_trait]
impl Resource<Aws> for Queue {
    fn schema(&self) -> Schema {
        let s = crate::util::name_attrs(Schema::new())
            .attr(
                "fifo_queue",
                AttrSchema::optional_computed(Type::Bool).force_new(),
            )
            .attr(
                "content_based_deduplication",
                AttrSchema::optional_computed(Type::Bool),
            )
            .attr("id", AttrSchema::computed(Type::String))
            .attr("url", AttrSchema::computed(Type::String))
            .attr("arn", AttrSchema::computed(Type::String));
        tag_attrs(QUEUE_NUMBERS.iter().fold(s, |s, (arg, _, _)| {
            s.attr(arg, AttrSchema::optional_computed(Type::Number))
        }))
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let fifo = bool_attr(config, "fifo_queue");
        if let Some(name) = str_attr(config, "name") {
            let base = name.strip_suffix(".fifo").unwrap_or(name);
            if base.is_empty()
                || base.len() > 75
                || !base
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(ProviderError::config(format!(
                    "queue name {name:?} must be 1 to 80 letters, digits, hyphens and underscores"
                )));
            }
            if fifo != name.ends_with(".fifo") {
                return Err(ProviderError::config(format!(
                    "queue name {name:?}: a FIFO queue's name ends in .fifo, and only a FIFO queue's does (fifo_queue = {fifo})"
                )));
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let fifo = bool_attr(&planned, "fifo_queue");
        let name = match str_attr(&planned, "name") {
            Some(n) => n.to_string(),
            None => {
                let n = generated_name(str_attr(&planned, "name_prefix").unwrap_or("terraform-"));
                if fifo {
                    format!("{n}.fifo")
                } else {
                    n
                }
            }
        };
        let mut attrs = Self::attributes(&planned);
        if fifo {
            attrs.insert(QueueAttributeName::FifoQueue, "true".to_string());
        }
        let tags = aws.tags_all(&string_map(planned.get("tags")));
        let out = aws
            .sqs()
            .await?
            .create_queue()
            .queue_name(&name)
            .set_attributes(Some(attrs))
            .set_tags((!tags.is_empty()).then(|| tags.into_iter().collect()))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating queue {name}"), e))?;
        let url = out.queue_url().unwrap_or_default().to_string();
        set(&mut planned, "name", name.as_str());
        set(&mut planned, "id", url.as_str());
        set(&mut planned, "url", url.as_str());
        self.read_back(aws, planned, &format!("queue {name}")).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let url = Self::url(&state)?;
        let sqs = aws.sqs().await?;
        let Some(out) = found(
            &format!("reading queue {url}"),
            sqs.get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let attrs = out.attributes().cloned().unwrap_or_default();
        let get = |n: QueueAttributeName| attrs.get(&n).cloned();
        for (arg, name, default) in QUEUE_NUMBERS {
            let n = get(QueueAttributeName::from(name))
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(default);
            set(&mut state, arg, n);
        }
        set(
            &mut state,
            "fifo_queue",
            get(QueueAttributeName::FifoQueue).as_deref() == Some("true"),
        );
        set(
            &mut state,
            "content_based_deduplication",
            get(QueueAttributeName::ContentBasedDeduplication).as_deref() == Some("true"),
        );
        set(
            &mut state,
            "arn",
            opt_str(get(QueueAttributeName::QueueArn).as_deref()),
        );
        if str_attr(&state, "name").is_none() {
            let name = url.rsplit('/').next().unwrap_or_default().to_string();
            set(&mut state, "name", name);
        }
        set(&mut state, "id", url.as_str());
        set(&mut state, "url", url.as_str());
        let actual: BTreeMap<String, String> = sqs
            .list_queue_tags()
            .queue_url(&url)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the tags of queue {url}"), e))?
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let own = own_tags(&state, &actual, &aws.settings.default_tags);
        set(&mut state, "tags", own);
        set(&mut state, "tags_all", tags_value(&actual));
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let url = Self::url(&prior)?;
        let attrs = Self::attributes(&planned);
        if !attrs.is_empty() {
            aws.sqs()
                .await?
                .set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attrs))
                .send()
                .await
                .map_err(|e| api_error(&format!("updating queue {url}"), e))?;
        }
        self.sync_tags(aws, &url, &prior, &planned).await?;
        let mut planned = planned;
        set(&mut planned, "id", url.as_str());
        set(&mut planned, "url", url.as_str());
        self.read_back(aws, planned, &format!("queue {url}")).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let url = Self::url(&state)?;
        deleted(
            &format!("deleting queue {url}"),
            aws.sqs().await?.delete_queue().queue_url(&url).send().await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("url", |id| format!("queue at {id}"))
    }
}

pub struct Topic;

impl Topic {
    fn arn(v: &Value) -> Result<String> {
        str_attr(v, "arn")
            .or_else(|| str_attr(v, "id"))
            .map(str::to_string)
            .ok_or_else(|| ProviderError::internal("the topic ARN is not known"))
    }

    fn sns_tags(tags: BTreeMap<String, String>) -> Result<Vec<aws_sdk_sns::types::Tag>> {
        tags.into_iter()
            .map(|(k, v)| {
                aws_sdk_sns::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| ProviderError::internal(e.to_string()))
            })
            .collect()
    }
}

#[async_trait]
impl Resource<Aws> for Topic {
    fn schema(&self) -> Schema {
        tag_attrs(
            crate::util::name_attrs(Schema::new())
                .attr(
                    "fifo_topic",
                    AttrSchema::optional_computed(Type::Bool).force_new(),
                )
                .attr("display_name", AttrSchema::optional(Type::String))
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
        if let Some(name) = str_attr(config, "name") {
            let fifo = bool_attr(config, "fifo_topic");
            if fifo != name.ends_with(".fifo") {
                return Err(ProviderError::config(format!(
                    "topic name {name:?}: a FIFO topic's name ends in .fifo, and only a FIFO topic's does (fifo_topic = {fifo})"
                )));
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let fifo = bool_attr(&planned, "fifo_topic");
        let name = match str_attr(&planned, "name") {
            Some(n) => n.to_string(),
            None => {
                generated_name(str_attr(&planned, "name_prefix").unwrap_or("terraform-"))
                    + if fifo { ".fifo" } else { "" }
            }
        };
        let mut attrs = HashMap::new();
        if let Some(d) = str_attr(&planned, "display_name") {
            attrs.insert("DisplayName".to_string(), d.to_string());
        }
        if fifo {
            attrs.insert("FifoTopic".to_string(), "true".to_string());
        }
        let tags = aws.tags_all(&string_map(planned.get("tags")));
        let out = aws
            .sns()
            .await?
            .create_topic()
            .name(&name)
            .set_attributes(Some(attrs))
            .set_tags(
                (!tags.is_empty())
                    .then(|| Self::sns_tags(tags))
                    .transpose()?,
            )
            .send()
            .await
            .map_err(|e| api_error(&format!("creating topic {name}"), e))?;
        let arn = out.topic_arn().unwrap_or_default().to_string();
        set(&mut planned, "name", name.as_str());
        set(&mut planned, "arn", arn.as_str());
        set(&mut planned, "id", arn.as_str());
        self.read_back(aws, planned, &format!("topic {name}")).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let arn = Self::arn(&state)?;
        let sns = aws.sns().await?;
        let Some(out) = found(
            &format!("reading topic {arn}"),
            sns.get_topic_attributes().topic_arn(&arn).send().await,
        )?
        else {
            return Ok(None);
        };
        let attrs = out.attributes().cloned().unwrap_or_default();
        let display = attrs.get("DisplayName").filter(|d| !d.is_empty());
        if display.is_some() || state.get("display_name").is_some_and(|d| !d.is_null()) {
            set(
                &mut state,
                "display_name",
                display.map(String::as_str).unwrap_or(""),
            );
        }
        set(
            &mut state,
            "fifo_topic",
            attrs.get("FifoTopic").map(String::as_str) == Some("true"),
        );
        set(
            &mut state,
            "name",
            arn.rsplit(':').next().unwrap_or_default(),
        );
        set(&mut state, "arn", arn.as_str());
        set(&mut state, "id", arn.as_str());
        let actual: BTreeMap<String, String> = sns
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the tags of topic {arn}"), e))?
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
        let arn = Self::arn(&prior)?;
        let sns = aws.sns().await?;
        if prior.get("display_name") != planned.get("display_name") {
            sns.set_topic_attributes()
                .topic_arn(&arn)
                .attribute_name("DisplayName")
                .attribute_value(str_attr(&planned, "display_name").unwrap_or(""))
                .send()
                .await
                .map_err(|e| api_error(&format!("updating topic {arn}"), e))?;
        }
        aws.sync_tags(
            &format!("topic {arn}"),
            &prior,
            &planned,
            |keys| {
                sns.untag_resource()
                    .resource_arn(&arn)
                    .set_tag_keys(Some(keys))
                    .send()
            },
            |all| {
                Ok(sns
                    .tag_resource()
                    .resource_arn(&arn)
                    .set_tags(Some(Self::sns_tags(all)?))
                    .send())
            },
        )
        .await?;
        let mut planned = planned;
        set(&mut planned, "arn", arn.as_str());
        set(&mut planned, "id", arn.as_str());
        self.read_back(aws, planned, &format!("topic {arn}")).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let arn = Self::arn(&state)?;
        deleted(
            &format!("deleting topic {arn}"),
            aws.sns().await?.delete_topic().topic_arn(&arn).send().await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("arn", |id| format!("topic {id}"))
    }
}
