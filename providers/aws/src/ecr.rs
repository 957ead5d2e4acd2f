//! ECR: `aws_ecr_repository`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    Repository as EcrRepository, Tag,
};
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, BlockSchema, Dispatch, ImportKey, PlannedChange, ProviderError, Resource, Result,
    Schema,
};

use crate::context::{api_error, build_err, Aws};
use crate::iam::{changed, check_enum, opt_text, record_tags, refuse};
use crate::util::{bool_attr, default_to, import_by, object, set, str_attr, string_map};
use crate::{plan_tags, tag_attrs};

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.resource("aws_ecr_repository", Repository)
}

const ENCRYPTION: &str = "encryption_configuration";
const SCANNING: &str = "image_scanning_configuration";
const DEFAULT_ENCRYPTION: &str = "AES256";

fn ecr_tags(tags: BTreeMap<String, String>) -> Result<Vec<Tag>> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err))
        .collect()
}

/// ECR's naming rule: lowercase path components of letters and digits, separated
/// inside by single `.`, `_` or `-`.
fn valid_name(name: &str) -> bool {
    let component = |c: &str| {
        !c.is_empty()
            && c.split(['.', '_', '-']).all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            })
    };
    (2..=256).contains(&name.len()) && name.split('/').all(component)
}

/// A repository's encryption as (type, key), AWS's default filled in.
fn encryption(v: &Value) -> (Value, Value) {
    let block = v.get(ENCRYPTION).filter(|b| !b.is_null());
    let ty = block
        .and_then(|b| b.get("encryption_type"))
        .filter(|t| !t.is_null())
        .cloned()
        .unwrap_or_else(|| Value::from(DEFAULT_ENCRYPTION));
    let key = block
        .and_then(|b| b.get("kms_key"))
        .cloned()
        .unwrap_or(Value::Null);
    (ty, key)
}

pub struct Repository;

impl Repository {
    fn name(v: &Value) -> Result<String> {
        str_attr(v, "name")
            .or_else(|| str_attr(v, "id"))
            .map(str::to_string)
            .ok_or_else(|| ProviderError::internal("the repository name is not known"))
    }

    /// Plans the encryption block with AWS's defaults (so reading them back is no
    /// drift); any change to it replaces the repository. Returns whether it changed.
    fn plan_encryption(prior: Option<&Value>, planned: &mut Value) -> bool {
        let (ty, mut key) = encryption(planned);
        let mut replace = false;
        if let Some(p) = prior {
            let (prior_ty, prior_key) = encryption(p);
            if key.is_null() && ty.same_as(&prior_ty) {
                // The key AWS chose when none was given.
                key = prior_key.clone();
            }
            replace = !ty.same_as(&prior_ty) || !key.same_as(&prior_key);
        } else if key.is_null() && ty.as_str() != Some(DEFAULT_ENCRYPTION) {
            key = Value::Unknown;
        }
        if planned.get(ENCRYPTION).is_some_and(|b| !b.is_null()) {
            let block = object([("encryption_type", ty), ("kms_key", key)]);
            set(planned, ENCRYPTION, block);
        }
        replace
    }

    fn encryption_config(planned: &Value) -> Result<EncryptionConfiguration> {
        let (ty, key) = encryption(planned);
        EncryptionConfiguration::builder()
            .encryption_type(EncryptionType::from(
                ty.as_str().unwrap_or(DEFAULT_ENCRYPTION),
            ))
            .set_kms_key(key.as_str().map(str::to_string))
            .build()
            .map_err(build_err)
    }

    fn scan_on_push(v: &Value) -> bool {
        v.get(SCANNING)
            .is_some_and(|b| bool_attr(b, "scan_on_push"))
    }

    /// The repository's settings into `state`; blocks left at AWS's defaults stay
    /// null while the state had none.
    fn record(state: &mut Value, r: &EcrRepository) {
        let name = r.repository_name().unwrap_or_default();
        set(state, "name", name);
        set(state, "id", name);
        set(state, "arn", opt_text(r.repository_arn()));
        set(state, "registry_id", opt_text(r.registry_id()));
        set(state, "repository_url", opt_text(r.repository_uri()));
        let mutability = r
            .image_tag_mutability()
            .map(|m| m.as_str())
            .unwrap_or("MUTABLE");
        set(state, "image_tag_mutability", mutability);
        let had = |state: &Value, block: &str| state.get(block).is_some_and(|b| !b.is_null());
        let scan = r
            .image_scanning_configuration()
            .is_some_and(|s| s.scan_on_push());
        if scan || had(state, SCANNING) {
            set(
                state,
                SCANNING,
                object([("scan_on_push", Value::from(scan))]),
            );
        }
        let enc = r.encryption_configuration();
        let ty = enc
            .map(|e| e.encryption_type().as_str())
            .unwrap_or(DEFAULT_ENCRYPTION);
        let key = enc.and_then(|e| e.kms_key());
        if ty != DEFAULT_ENCRYPTION || key.is_some() || had(state, ENCRYPTION) {
            let block = object([
                ("encryption_type", Value::from(ty)),
                ("kms_key", opt_text(key)),
            ]);
            set(state, ENCRYPTION, block);
        }
    }

    async fn read_tags(&self, aws: &Aws, arn: &str) -> Result<BTreeMap<String, String>> {
        let out = aws
            .ecr()
            .await?
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the tags of repository {arn}"), e))?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    }

    async fn sync_tags(&self, aws: &Aws, arn: &str, prior: &Value, planned: &Value) -> Result<()> {
        let ecr = aws.ecr().await?;
        aws.sync_tags(
            &format!("repository {arn}"),
            prior,
            planned,
            |keys| {
                ecr.untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(keys))
                    .send()
            },
            |all| {
                Ok(ecr
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(ecr_tags(all)?))
                    .send())
            },
        )
        .await
    }
}

#[async_trait]
impl Resource<Aws> for Repository {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr("name", AttrSchema::required(Type::String).force_new())
                .attr("image_tag_mutability", AttrSchema::optional(Type::String))
                .attr(
                    "force_delete",
                    AttrSchema::optional(Type::Bool)
                        .describe("Delete the repository even if it holds images."),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .attr("registry_id", AttrSchema::computed(Type::String))
                .attr("repository_url", AttrSchema::computed(Type::String))
                .block(
                    SCANNING,
                    BlockSchema::single(
                        Schema::new().attr("scan_on_push", AttrSchema::required(Type::Bool)),
                    ),
                )
                .block(
                    ENCRYPTION,
                    BlockSchema::single(
                        Schema::new()
                            .attr("encryption_type", AttrSchema::optional(Type::String))
                            .attr("kms_key", AttrSchema::optional(Type::String)),
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
        if let Some(n) = str_attr(config, "name").filter(|n| !valid_name(n)) {
            problems.push(format!(
                "name {n:?} must be 2 to 256 lowercase letters and digits, with single . _ - inside and / between path parts"
            ));
        }
        check_enum(
            config,
            "image_tag_mutability",
            ImageTagMutability::values(),
            &mut problems,
        );
        if let Some(block) = config.get(ENCRYPTION).filter(|b| !b.is_null()) {
            check_enum(
                block,
                "encryption_type",
                EncryptionType::values(),
                &mut problems,
            );
        }
        refuse(problems)?;
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "image_tag_mutability", "MUTABLE");
        default_to(&mut change.planned, "force_delete", false);
        if Self::plan_encryption(prior, &mut change.planned) {
            change.requires_replace.push(ENCRYPTION.to_string());
            for computed in ["arn", "id", "registry_id", "repository_url"] {
                set(&mut change.planned, computed, Value::Unknown);
            }
        }
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, planned: Value) -> Result<Value> {
        let name = Self::name(&planned)?;
        let tags = ecr_tags(aws.tags_all(&string_map(planned.get("tags"))))?;
        let scanning = ImageScanningConfiguration::builder()
            .scan_on_push(Self::scan_on_push(&planned))
            .build();
        aws.ecr()
            .await?
            .create_repository()
            .repository_name(&name)
            .image_tag_mutability(ImageTagMutability::from(
                str_attr(&planned, "image_tag_mutability").unwrap_or("MUTABLE"),
            ))
            .image_scanning_configuration(scanning)
            .encryption_configuration(Self::encryption_config(&planned)?)
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating repository {name}"), e))?;
        self.read_back(aws, planned, &format!("repository {name}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let name = Self::name(&state)?;
        let out = aws
            .ecr()
            .await?
            .describe_repositories()
            .repository_names(&name)
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_repository_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(api_error(&format!("reading repository {name}"), e)),
        };
        let Some(repo) = out.repositories().first() else {
            return Ok(None);
        };
        Self::record(&mut state, repo);
        default_to(&mut state, "force_delete", false);
        let tags = self
            .read_tags(aws, repo.repository_arn().unwrap_or_default())
            .await?;
        record_tags(aws, &mut state, tags);
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let name = Self::name(&prior)?;
        let ecr = aws.ecr().await?;
        if changed(&prior, &planned, &["image_tag_mutability"]) {
            let m = str_attr(&planned, "image_tag_mutability").unwrap_or("MUTABLE");
            ecr.put_image_tag_mutability()
                .repository_name(&name)
                .image_tag_mutability(ImageTagMutability::from(m))
                .send()
                .await
                .map_err(|e| {
                    api_error(
                        &format!("changing the tag mutability of repository {name}"),
                        e,
                    )
                })?;
        }
        if Self::scan_on_push(&prior) != Self::scan_on_push(&planned) {
            let scanning = ImageScanningConfiguration::builder()
                .scan_on_push(Self::scan_on_push(&planned))
                .build();
            ecr.put_image_scanning_configuration()
                .repository_name(&name)
                .image_scanning_configuration(scanning)
                .send()
                .await
                .map_err(|e| {
                    api_error(&format!("changing image scanning of repository {name}"), e)
                })?;
        }
        let arn = str_attr(&prior, "arn").unwrap_or_default().to_string();
        self.sync_tags(aws, &arn, &prior, &planned).await?;
        self.read_back(aws, planned, &format!("repository {name}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let name = Self::name(&state)?;
        let out = aws
            .ecr()
            .await?
            .delete_repository()
            .repository_name(&name)
            .force(bool_attr(&state, "force_delete"))
            .send()
            .await;
        let Err(e) = out else {
            return Ok(());
        };
        let service = e.as_service_error();
        if service.is_some_and(|s| s.is_repository_not_found_exception()) {
            return Ok(());
        }
        let not_empty = service.is_some_and(|s| s.is_repository_not_empty_exception());
        let mut err = api_error(&format!("deleting repository {name}"), e);
        if not_empty {
            err.message
                .push_str(" (set force_delete = true to delete it with its images)");
        }
        Err(err)
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("name", |id| format!("repository named {id:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn repository_names_follow_ecr_rules() {
        for ok in ["app", "team/app", "a.b_c-d/e2"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["A", "App", "app/", "-app", "app--x", "a..b", "x"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
