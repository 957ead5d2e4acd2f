//! KMS: `aws_kms_key`.
//!
//! A key is never deleted at once: destroying it schedules its deletion after
//! `deletion_window_in_days` (7 to 30, default 30), and a key pending deletion reads as
//! gone, as in Terraform.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, Tag};
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, Dispatch, ImportKey, PlannedChange, ProviderError, Resource, Result, Schema,
};

use crate::context::{api_error, build_err, deleted, found, Aws};
use crate::iam::{changed, check_enum, check_range, policy_doc, record_tags, refuse};
use crate::util::{bool_attr, default_to, import_by, num_attr, set, str_attr, string_map};
use crate::{plan_tags, tag_attrs};

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.resource("aws_kms_key", Key)
}

/// The days a destroyed key waits before AWS deletes it, unless configured.
const DEFAULT_DELETION_WINDOW: i64 = 30;

fn kms_tags(tags: BTreeMap<String, String>) -> Result<Option<Vec<Tag>>> {
    if tags.is_empty() {
        return Ok(None);
    }
    tags.into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .map_err(build_err)
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

pub struct Key;

impl Key {
    fn id(v: &Value) -> Result<String> {
        str_attr(v, "key_id")
            .or_else(|| str_attr(v, "id"))
            .map(str::to_string)
            .ok_or_else(|| ProviderError::internal("the key ID is not known"))
    }

    async fn set_enabled(&self, aws: &Aws, id: &str, enabled: bool) -> Result<()> {
        let kms = aws.kms().await?;
        if enabled {
            let out = kms.enable_key().key_id(id).send().await;
            out.map_err(|e| api_error(&format!("enabling key {id}"), e))?;
        } else {
            let out = kms.disable_key().key_id(id).send().await;
            out.map_err(|e| api_error(&format!("disabling key {id}"), e))?;
        }
        Ok(())
    }

    async fn set_rotation(&self, aws: &Aws, id: &str, on: bool) -> Result<()> {
        let kms = aws.kms().await?;
        if on {
            let out = kms.enable_key_rotation().key_id(id).send().await;
            out.map_err(|e| api_error(&format!("turning on rotation of key {id}"), e))?;
        } else {
            let out = kms.disable_key_rotation().key_id(id).send().await;
            out.map_err(|e| api_error(&format!("turning off rotation of key {id}"), e))?;
        }
        Ok(())
    }

    async fn sync_tags(&self, aws: &Aws, id: &str, prior: &Value, planned: &Value) -> Result<()> {
        let kms = aws.kms().await?;
        aws.sync_tags(
            &format!("key {id}"),
            prior,
            planned,
            |keys| {
                kms.untag_resource()
                    .key_id(id)
                    .set_tag_keys(Some(keys))
                    .send()
            },
            |all| {
                Ok(kms
                    .tag_resource()
                    .key_id(id)
                    .set_tags(kms_tags(all)?)
                    .send())
            },
        )
        .await
    }

    /// The key's policy, rotation status and tags, into `state`.
    async fn read_details(&self, aws: &Aws, id: &str, state: &mut Value) -> Result<()> {
        let kms = aws.kms().await?;
        let policy = kms
            .get_key_policy()
            .key_id(id)
            .policy_name("default")
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the policy of key {id}"), e))?;
        let doc = policy_doc::from_aws(
            str_attr(state, "policy"),
            policy.policy().unwrap_or_default(),
        );
        set(state, "policy", doc);
        let rotation = kms
            .get_key_rotation_status()
            .key_id(id)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the rotation status of key {id}"), e))?;
        set(
            state,
            "enable_key_rotation",
            rotation.key_rotation_enabled(),
        );
        let tags = kms
            .list_resource_tags()
            .key_id(id)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the tags of key {id}"), e))?;
        let actual = tags
            .tags()
            .iter()
            .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
            .collect();
        record_tags(aws, state, actual);
        Ok(())
    }
}

#[async_trait]
impl Resource<Aws> for Key {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr("description", AttrSchema::optional_computed(Type::String))
                .attr(
                    "key_usage",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr(
                    "customer_master_key_spec",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr("policy", AttrSchema::optional_computed(Type::String))
                .attr(
                    "deletion_window_in_days",
                    AttrSchema::optional(Type::Number).describe(
                        "Days (7 to 30) before a destroyed key is deleted; 30 when unset.",
                    ),
                )
                .attr("is_enabled", AttrSchema::optional(Type::Bool))
                .attr("enable_key_rotation", AttrSchema::optional(Type::Bool))
                .attr(
                    "multi_region",
                    AttrSchema::optional_computed(Type::Bool).force_new(),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("key_id", AttrSchema::computed(Type::String))
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
        let mut problems = Vec::new();
        check_enum(config, "key_usage", KeyUsageType::values(), &mut problems);
        check_enum(
            config,
            "customer_master_key_spec",
            KeySpec::values(),
            &mut problems,
        );
        check_range(config, "deletion_window_in_days", 7..=30, &mut problems);
        policy_doc::check(config, "policy", &mut problems);
        let spec = str_attr(config, "customer_master_key_spec").unwrap_or("SYMMETRIC_DEFAULT");
        if bool_attr(config, "enable_key_rotation") && spec != "SYMMETRIC_DEFAULT" {
            problems.push(format!(
                "enable_key_rotation needs a symmetric encryption key; customer_master_key_spec is {spec:?}"
            ));
        }
        refuse(problems)?;
        let mut change = plan_by_schema(schema, prior, config);
        let planned = &mut change.planned;
        default_to(planned, "key_usage", "ENCRYPT_DECRYPT");
        default_to(planned, "customer_master_key_spec", "SYMMETRIC_DEFAULT");
        default_to(planned, "is_enabled", true);
        default_to(planned, "enable_key_rotation", false);
        default_to(planned, "multi_region", false);
        policy_doc::plan(prior, planned, "policy");
        plan_tags(aws, planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let out = aws
            .kms()
            .await?
            .create_key()
            .set_description(str_attr(&planned, "description").map(str::to_string))
            .key_usage(KeyUsageType::from(
                str_attr(&planned, "key_usage").unwrap_or("ENCRYPT_DECRYPT"),
            ))
            .key_spec(KeySpec::from(
                str_attr(&planned, "customer_master_key_spec").unwrap_or("SYMMETRIC_DEFAULT"),
            ))
            .set_policy(str_attr(&planned, "policy").map(str::to_string))
            .multi_region(bool_attr(&planned, "multi_region"))
            .set_tags(kms_tags(aws.tags_all(&string_map(planned.get("tags"))))?)
            .send()
            .await
            .map_err(|e| api_error("creating a KMS key", e))?;
        let id = out
            .key_metadata()
            .map(|m| m.key_id().to_string())
            .ok_or_else(|| ProviderError::api("creating a KMS key: AWS returned no key ID"))?;
        set(&mut planned, "key_id", id.as_str());
        if !bool_attr(&planned, "is_enabled") {
            self.set_enabled(aws, &id, false).await?;
        }
        if bool_attr(&planned, "enable_key_rotation") {
            self.set_rotation(aws, &id, true).await?;
        }
        self.read_back(aws, planned, &format!("key {id}")).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = Self::id(&state)?;
        let Some(out) = found(
            &format!("reading key {id}"),
            aws.kms().await?.describe_key().key_id(&id).send().await,
        )?
        else {
            return Ok(None);
        };
        let Some(meta) = out.key_metadata() else {
            return Ok(None);
        };
        if matches!(
            meta.key_state(),
            Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
        ) {
            return Ok(None);
        }
        set(&mut state, "key_id", meta.key_id());
        set(&mut state, "id", meta.key_id());
        set(&mut state, "arn", meta.arn().unwrap_or_default());
        set(
            &mut state,
            "description",
            meta.description().unwrap_or_default(),
        );
        let usage = meta
            .key_usage()
            .map(|u| u.as_str())
            .unwrap_or("ENCRYPT_DECRYPT");
        set(&mut state, "key_usage", usage);
        let spec = meta
            .key_spec()
            .map(|s| s.as_str())
            .unwrap_or("SYMMETRIC_DEFAULT");
        set(&mut state, "customer_master_key_spec", spec);
        set(&mut state, "is_enabled", meta.enabled());
        set(
            &mut state,
            "multi_region",
            meta.multi_region().unwrap_or(false),
        );
        self.read_details(aws, &id, &mut state).await?;
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let id = Self::id(&prior)?;
        let kms = aws.kms().await?;
        if changed(&prior, &planned, &["description"]) {
            kms.update_key_description()
                .key_id(&id)
                .description(str_attr(&planned, "description").unwrap_or(""))
                .send()
                .await
                .map_err(|e| api_error(&format!("updating the description of key {id}"), e))?;
        }
        if changed(&prior, &planned, &["policy"]) {
            if let Some(policy) = str_attr(&planned, "policy") {
                kms.put_key_policy()
                    .key_id(&id)
                    .policy_name("default")
                    .policy(policy)
                    .send()
                    .await
                    .map_err(|e| api_error(&format!("updating the policy of key {id}"), e))?;
            }
        }
        // A disabled key refuses rotation changes: enable first, disable last.
        let enabled = bool_attr(&planned, "is_enabled");
        if enabled && changed(&prior, &planned, &["is_enabled"]) {
            self.set_enabled(aws, &id, true).await?;
        }
        if changed(&prior, &planned, &["enable_key_rotation"]) {
            self.set_rotation(aws, &id, bool_attr(&planned, "enable_key_rotation"))
                .await?;
        }
        if !enabled && changed(&prior, &planned, &["is_enabled"]) {
            self.set_enabled(aws, &id, false).await?;
        }
        self.sync_tags(aws, &id, &prior, &planned).await?;
        let mut planned = planned;
        set(&mut planned, "key_id", id.as_str());
        self.read_back(aws, planned, &format!("key {id}")).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = Self::id(&state)?;
        let days = num_attr(&state, "deletion_window_in_days").unwrap_or(DEFAULT_DELETION_WINDOW);
        deleted(
            &format!("scheduling the deletion of key {id}"),
            aws.kms()
                .await?
                .schedule_key_deletion()
                .key_id(&id)
                .pending_window_in_days(days as i32)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("key_id", |id| {
            format!("KMS key {id} (or it is pending deletion)")
        })
    }
}
