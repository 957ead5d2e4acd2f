//! Secrets Manager: `aws_secretsmanager_secret` and `aws_secretsmanager_secret_version`.
//!
//! A version's `secret_string` and `secret_binary` are sensitive: the schema marks them
//! so, and no message this module writes ever includes them.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::Tag;
use base64::Engine;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, Dispatch, ImportKey, PlannedChange, ProviderError, Resource, Result, Schema,
};

use crate::context::{api_error, found, Aws};
use crate::iam::{changed, opt_text, record_tags, refuse, resource_name, text_or_null};
use crate::util::{
    default_to, import_by, num_attr, object, set, str_attr, str_list, str_set_value, string_map,
};
use crate::{plan_tags, tag_attrs};

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.resource("aws_secretsmanager_secret", Secret)
        .resource("aws_secretsmanager_secret_version", SecretVersion)
}

/// The stage Secrets Manager reads by default; it can only move, never be removed.
const CURRENT: &str = "AWSCURRENT";

fn sm_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Describes a secret; `None` when it does not exist or is scheduled for deletion.
async fn describe(aws: &Aws, id: &str) -> Result<Option<DescribeSecretOutput>> {
    let described = aws
        .secretsmanager()
        .await?
        .describe_secret()
        .secret_id(id)
        .send()
        .await;
    Ok(found(&format!("reading secret {id}"), described)?.filter(|o| o.deleted_date().is_none()))
}

pub struct Secret;

impl Secret {
    fn arn(v: &Value) -> Result<String> {
        str_attr(v, "arn")
            .or_else(|| str_attr(v, "id"))
            .map(str::to_string)
            .ok_or_else(|| ProviderError::internal("the secret ARN is not known"))
    }

    async fn sync_tags(&self, aws: &Aws, arn: &str, prior: &Value, planned: &Value) -> Result<()> {
        let sm = aws.secretsmanager().await?;
        aws.sync_tags(
            &format!("secret {arn}"),
            prior,
            planned,
            |keys| {
                sm.untag_resource()
                    .secret_id(arn)
                    .set_tag_keys(Some(keys))
                    .send()
            },
            |all| {
                Ok(sm
                    .tag_resource()
                    .secret_id(arn)
                    .set_tags(Some(sm_tags(all)))
                    .send())
            },
        )
        .await
    }
}

#[async_trait]
impl Resource<Aws> for Secret {
    fn schema(&self) -> Schema {
        tag_attrs(
            crate::util::name_attrs(Schema::new())
                .attr("description", AttrSchema::optional(Type::String))
                .attr("kms_key_id", AttrSchema::optional(Type::String))
                .attr(
                    "recovery_window_in_days",
                    AttrSchema::optional(Type::Number).describe(
                        "Days (7 to 30) a destroyed secret can be restored; 0 deletes it at once. Default 30.",
                    ),
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
        let mut problems = Vec::new();
        for attr in ["name", "name_prefix"] {
            if let Some(n) = str_attr(config, attr) {
                let ok = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
                if n.is_empty() || n.len() > 512 || !n.chars().all(ok) {
                    problems.push(format!(
                        "{attr} {n:?} must be 1 to 512 letters, digits and the characters /_+=.@-"
                    ));
                }
            }
        }
        if let Some(days) = num_attr(config, "recovery_window_in_days") {
            if days != 0 && !(7..=30).contains(&days) {
                problems.push(format!(
                    "recovery_window_in_days {days} must be 0 (delete at once) or between 7 and 30"
                ));
            }
        }
        refuse(problems)?;
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "recovery_window_in_days", 30i64);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let name = resource_name(&planned);
        let tags = aws.tags_all(&string_map(planned.get("tags")));
        let out = aws
            .secretsmanager()
            .await?
            .create_secret()
            .name(&name)
            .set_description(str_attr(&planned, "description").map(str::to_string))
            .set_kms_key_id(str_attr(&planned, "kms_key_id").map(str::to_string))
            .set_tags((!tags.is_empty()).then(|| sm_tags(tags)))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating secret {name}"), e))?;
        set(&mut planned, "arn", out.arn().unwrap_or_default());
        self.read_back(aws, planned, &format!("secret {name}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let arn = Self::arn(&state)?;
        let Some(s) = describe(aws, &arn).await? else {
            return Ok(None);
        };
        let arn = s.arn().unwrap_or(&arn);
        set(&mut state, "arn", arn);
        set(&mut state, "id", arn);
        set(&mut state, "name", opt_text(s.name()));
        let description = text_or_null(&state, "description", s.description());
        set(&mut state, "description", description);
        set(&mut state, "kms_key_id", opt_text(s.kms_key_id()));
        default_to(&mut state, "recovery_window_in_days", 30i64);
        let tags = s
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .collect();
        record_tags(aws, &mut state, tags);
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let arn = Self::arn(&prior)?;
        if changed(&prior, &planned, &["description", "kms_key_id"]) {
            aws.secretsmanager()
                .await?
                .update_secret()
                .secret_id(&arn)
                .description(str_attr(&planned, "description").unwrap_or(""))
                .set_kms_key_id(str_attr(&planned, "kms_key_id").map(str::to_string))
                .send()
                .await
                .map_err(|e| api_error(&format!("updating secret {arn}"), e))?;
        }
        self.sync_tags(aws, &arn, &prior, &planned).await?;
        let mut planned = planned;
        set(&mut planned, "arn", arn.as_str());
        self.read_back(aws, planned, &format!("secret {arn}")).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let arn = Self::arn(&state)?;
        let days = num_attr(&state, "recovery_window_in_days").unwrap_or(30);
        let call = aws.secretsmanager().await?.delete_secret().secret_id(&arn);
        let call = if days == 0 {
            call.force_delete_without_recovery(true)
        } else {
            call.recovery_window_in_days(days)
        };
        crate::context::deleted(&format!("deleting secret {arn}"), call.send().await)
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("arn", |id| format!("secret {id}"))
    }
}

pub struct SecretVersion;

impl SecretVersion {
    /// The secret's ARN and the version ID.
    fn ids(v: &Value) -> Result<(String, String)> {
        let arn = str_attr(v, "arn").or_else(|| str_attr(v, "secret_id"));
        match (arn, str_attr(v, "version_id")) {
            (Some(a), Some(id)) => Ok((a.to_string(), id.to_string())),
            _ => Err(ProviderError::internal("the secret version is not known")),
        }
    }

    /// The version's stages and which version holds each stage now; `None` when the
    /// secret or the version is gone.
    async fn stages(&self, aws: &Aws, arn: &str, version: &str) -> Result<Option<Stages>> {
        let Some(s) = describe(aws, arn).await? else {
            return Ok(None);
        };
        let map = s.version_ids_to_stages().cloned().unwrap_or_default();
        let Some(own) = map.get(version) else {
            return Ok(None);
        };
        let holders = map
            .iter()
            .flat_map(|(v, stages)| stages.iter().map(move |s| (s.clone(), v.clone())))
            .collect();
        Ok(Some(Stages {
            own: own.iter().cloned().collect(),
            holders,
        }))
    }

    /// Moves `stage` onto or off this version.
    async fn move_stage(
        &self,
        aws: &Aws,
        arn: &str,
        stage: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> Result<()> {
        aws.secretsmanager()
            .await?
            .update_secret_version_stage()
            .secret_id(arn)
            .version_stage(stage)
            .set_move_to_version_id(to.map(str::to_string))
            .set_remove_from_version_id(from.map(str::to_string))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error(&format!("moving stage {stage} of secret {arn}"), e))
    }

    /// The stages now, failing when the version is gone.
    async fn existing_stages(&self, aws: &Aws, arn: &str, version: &str) -> Result<Stages> {
        self.stages(aws, arn, version).await?.ok_or_else(|| {
            ProviderError::not_found(format!(
                "version {version} of secret {arn} no longer exists"
            ))
        })
    }

    /// Attaches the planned stages to this version (taking each from the version that
    /// holds it) and detaches the others, except AWSCURRENT, which only moves.
    async fn sync_stages(
        &self,
        aws: &Aws,
        arn: &str,
        version: &str,
        planned: &Value,
    ) -> Result<()> {
        let want: BTreeSet<String> = str_list(planned, "version_stages").into_iter().collect();
        let now = self.existing_stages(aws, arn, version).await?;
        for stage in want.difference(&now.own) {
            let holder = now.holders.get(stage).map(String::as_str);
            self.move_stage(aws, arn, stage, Some(version), holder)
                .await?;
        }
        // Moving AWSCURRENT moves AWSPREVIOUS too, so look again before detaching.
        let now = self.existing_stages(aws, arn, version).await?;
        for stage in now.own.difference(&want).filter(|s| *s != CURRENT) {
            self.move_stage(aws, arn, stage, None, Some(version))
                .await?;
        }
        Ok(())
    }
}

/// The stages of one version, and the version holding each stage of the secret.
struct Stages {
    own: BTreeSet<String>,
    holders: BTreeMap<String, String>,
}

#[async_trait]
impl Resource<Aws> for SecretVersion {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("secret_id", AttrSchema::required(Type::String).force_new())
            .attr(
                "secret_string",
                AttrSchema::optional(Type::String).force_new().sensitive(),
            )
            .attr(
                "secret_binary",
                AttrSchema::optional(Type::String)
                    .force_new()
                    .sensitive()
                    .describe("The secret's bytes, base64-encoded."),
            )
            .attr(
                "version_stages",
                AttrSchema::optional_computed(Type::Set(Box::new(Type::String))),
            )
            .attr("id", AttrSchema::computed(Type::String))
            .attr("arn", AttrSchema::computed(Type::String))
            .attr("version_id", AttrSchema::computed(Type::String))
    }

    fn plan(
        &self,
        _aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let given = |a: &str| config.get(a).is_some_and(|v| !v.is_null());
        if given("secret_string") == given("secret_binary") {
            return Err(ProviderError::config(
                "set exactly one of secret_string and secret_binary",
            ));
        }
        if let Some(b) = str_attr(config, "secret_binary") {
            if base64::engine::general_purpose::STANDARD.decode(b).is_err() {
                // The value itself is secret: the message never shows it.
                return Err(ProviderError::config(
                    "secret_binary must be base64-encoded (use base64encode() or filebase64())",
                ));
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        if prior.is_none() && config.get("version_stages").is_none_or(Value::is_null) {
            set(
                &mut change.planned,
                "version_stages",
                str_set_value([CURRENT]),
            );
        }
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let secret = str_attr(&planned, "secret_id")
            .unwrap_or_default()
            .to_string();
        let binary = str_attr(&planned, "secret_binary")
            .map(|b| base64::engine::general_purpose::STANDARD.decode(b))
            .transpose()
            .map_err(|_| ProviderError::config("secret_binary must be base64-encoded"))?;
        let stages = planned
            .get("version_stages")
            .filter(|s| s.is_wholly_known() && !s.is_null())
            .map(|_| str_list(&planned, "version_stages"));
        let out = aws
            .secretsmanager()
            .await?
            .put_secret_value()
            .secret_id(&secret)
            .set_secret_string(str_attr(&planned, "secret_string").map(str::to_string))
            .set_secret_binary(binary.map(Blob::new))
            .set_version_stages(stages)
            .send()
            .await
            .map_err(|e| api_error(&format!("writing a new value of secret {secret}"), e))?;
        let arn = out.arn().unwrap_or(&secret).to_string();
        let version = out.version_id().unwrap_or_default();
        set(&mut planned, "arn", arn.as_str());
        set(&mut planned, "version_id", version);
        self.read_back(aws, planned, &format!("version {version} of secret {arn}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let (arn, version) = Self::ids(&state)?;
        let Some(stages) = self.stages(aws, &arn, &version).await? else {
            return Ok(None);
        };
        let out = aws
            .secretsmanager()
            .await?
            .get_secret_value()
            .secret_id(&arn)
            .version_id(&version)
            .send()
            .await;
        let Some(out) = found(&format!("reading version {version} of secret {arn}"), out)? else {
            return Ok(None);
        };
        let binary = out
            .secret_binary()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b.as_ref()));
        set(&mut state, "secret_string", opt_text(out.secret_string()));
        set(&mut state, "secret_binary", opt_text(binary.as_deref()));
        set(&mut state, "version_stages", str_set_value(&stages.own));
        if str_attr(&state, "secret_id").is_none() {
            set(&mut state, "secret_id", arn.as_str());
        }
        set(&mut state, "arn", arn.as_str());
        set(&mut state, "id", format!("{arn}|{version}"));
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let (arn, version) = Self::ids(&prior)?;
        if changed(&prior, &planned, &["version_stages"]) {
            self.sync_stages(aws, &arn, &version, &planned).await?;
        }
        let mut planned = planned;
        set(&mut planned, "arn", arn.as_str());
        set(&mut planned, "version_id", version.as_str());
        self.read_back(aws, planned, &format!("version {version} of secret {arn}"))
            .await
    }

    /// A version cannot be deleted: it loses its stages (all but AWSCURRENT, which
    /// stays until another version takes it) and Secrets Manager retires it.
    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let (arn, version) = Self::ids(&state)?;
        let Some(now) = self.stages(aws, &arn, &version).await? else {
            return Ok(());
        };
        for stage in now.own.iter().filter(|s| *s != CURRENT) {
            self.move_stage(aws, &arn, stage, None, Some(&version))
                .await?;
        }
        Ok(())
    }

    /// Terraform's import ID: `secret-arn|version-id`.
    async fn import(&self, aws: &Aws, id: &str) -> Result<Value> {
        let Some((arn, version)) = id.split_once('|') else {
            return Err(ProviderError::config(format!(
                "import ID {id:?} must be SECRET-ARN|VERSION-ID"
            )));
        };
        let keys = object([
            ("secret_id", Value::from(arn)),
            ("arn", Value::from(arn)),
            ("version_id", Value::from(version)),
        ]);
        self.import_from(aws, keys, &format!("version {version} of secret {arn}"))
            .await
    }
}
