//! IAM: `aws_iam_role`, `aws_iam_policy` and `aws_iam_role_policy_attachment`.
//!
//! Policy documents are compared as JSON, never as text: IAM hands them back
//! URL-encoded and re-formatted, so a document that says the same thing keeps the text
//! the configuration wrote (no phantom diff), while a real change made outside terrane
//! shows up as drift. [`policy_doc`] does that for KMS key policies too, and the small
//! helpers at the end of this module are shared by the other security modules
//! (KMS, Secrets Manager, CloudWatch, ECR, Lambda).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, Dispatch, ImportKey, PlannedChange, ProviderError, Resource, Result, Schema,
};

use crate::context::{api_error, build_err, deleted, found, tags_value, Aws};
use crate::util::{default_to, import_by, num_attr, object, own_tags, set, str_attr, string_map};
use crate::{plan_tags, tag_attrs};

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.resource("aws_iam_role", Role)
        .resource("aws_iam_policy", Policy)
        .resource("aws_iam_role_policy_attachment", RolePolicyAttachment)
}

/// IAM names: letters, digits and `+=,.@_-`.
fn iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// Plan-time checks shared by roles and policies: the name (or prefix, which leaves
/// room for the unique suffix) and path.
fn check_name_and_path(config: &Value, max: usize, problems: &mut Vec<String>) {
    for (attr, max) in [("name", max), ("name_prefix", max - UNIQUE_SUFFIX)] {
        if let Some(n) = str_attr(config, attr) {
            if n.is_empty() || n.len() > max || !n.chars().all(iam_name_char) {
                problems.push(format!(
                    "{attr} {n:?} must be 1 to {max} letters, digits and the characters +=,.@_-"
                ));
            }
        }
    }
    if let Some(p) = str_attr(config, "path") {
        if !p.starts_with('/') || !p.ends_with('/') || p.len() > 512 {
            problems.push(format!(
                "path {p:?} must begin and end with \"/\", such as \"/\" or \"/service/\""
            ));
        }
    }
}

fn iam_tags(tags: BTreeMap<String, String>) -> Result<Option<Vec<Tag>>> {
    if tags.is_empty() {
        return Ok(None);
    }
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// The common schema of roles and policies: generated names, path and document.
fn named_schema(document: &str) -> Schema {
    tag_attrs(
        crate::util::name_attrs(Schema::new())
            .attr(
                "path",
                AttrSchema::optional_computed(Type::String).force_new(),
            )
            .attr(document, AttrSchema::required(Type::String))
            .attr("id", AttrSchema::computed(Type::String))
            .attr("arn", AttrSchema::computed(Type::String)),
    )
}

pub struct Role;

impl Role {
    fn name(v: &Value) -> Result<String> {
        str_attr(v, "name")
            .or_else(|| str_attr(v, "id"))
            .map(str::to_string)
            .ok_or_else(|| ProviderError::internal("the role name is not known"))
    }

    async fn sync_tags(&self, aws: &Aws, name: &str, prior: &Value, planned: &Value) -> Result<()> {
        let iam = aws.iam().await?;
        aws.sync_tags(
            &format!("role {name}"),
            prior,
            planned,
            |keys| {
                iam.untag_role()
                    .role_name(name)
                    .set_tag_keys(Some(keys))
                    .send()
            },
            |all| {
                Ok(iam
                    .tag_role()
                    .role_name(name)
                    .set_tags(iam_tags(all)?)
                    .send())
            },
        )
        .await
    }

    async fn update_boundary(&self, aws: &Aws, name: &str, planned: &Value) -> Result<()> {
        let iam = aws.iam().await?;
        match str_attr(planned, "permissions_boundary") {
            Some(arn) => iam
                .put_role_permissions_boundary()
                .role_name(name)
                .permissions_boundary(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    api_error(
                        &format!("setting the permissions boundary of role {name}"),
                        e,
                    )
                }),
            None => deleted(
                &format!("removing the permissions boundary of role {name}"),
                iam.delete_role_permissions_boundary()
                    .role_name(name)
                    .send()
                    .await,
            ),
        }
    }

    /// Detaches every managed policy and deletes every inline one, so that the role
    /// can be deleted (`force_detach_policies`).
    async fn detach_all(&self, aws: &Aws, name: &str) -> Result<()> {
        let iam = aws.iam().await?;
        let attached = iam
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api_error(&format!("listing the policies attached to role {name}"), e))?;
        for p in attached {
            let arn = p.policy_arn().unwrap_or_default();
            deleted(
                &format!("detaching policy {arn} from role {name}"),
                iam.detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await,
            )?;
        }
        let inline = iam
            .list_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api_error(&format!("listing the inline policies of role {name}"), e))?;
        for policy in inline {
            deleted(
                &format!("deleting inline policy {policy} of role {name}"),
                iam.delete_role_policy()
                    .role_name(name)
                    .policy_name(&policy)
                    .send()
                    .await,
            )?;
        }
        Ok(())
    }
}

#[async_trait]
impl Resource<Aws> for Role {
    fn schema(&self) -> Schema {
        named_schema("assume_role_policy")
            .attr("description", AttrSchema::optional(Type::String))
            .attr(
                "max_session_duration",
                AttrSchema::optional(Type::Number)
                    .describe("Seconds, 3600 to 43200; AWS's default is 3600."),
            )
            .attr(
                "force_detach_policies",
                AttrSchema::optional(Type::Bool).describe(
                    "Detach managed and delete inline policies before deleting the role.",
                ),
            )
            .attr("permissions_boundary", AttrSchema::optional(Type::String))
            .attr("unique_id", AttrSchema::computed(Type::String))
            .attr("create_date", AttrSchema::computed(Type::String))
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let mut problems = Vec::new();
        check_name_and_path(config, 64, &mut problems);
        policy_doc::check(config, "assume_role_policy", &mut problems);
        check_range(config, "max_session_duration", 3600..=43200, &mut problems);
        refuse(problems)?;
        let mut change = plan_by_schema(schema, prior, config);
        let planned = &mut change.planned;
        default_to(planned, "path", "/");
        default_to(planned, "max_session_duration", 3600i64);
        default_to(planned, "force_detach_policies", false);
        policy_doc::plan(prior, planned, "assume_role_policy");
        plan_tags(aws, planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let name = resource_name(&planned);
        aws.iam()
            .await?
            .create_role()
            .role_name(&name)
            .path(str_attr(&planned, "path").unwrap_or("/"))
            .assume_role_policy_document(
                str_attr(&planned, "assume_role_policy").unwrap_or_default(),
            )
            .set_description(str_attr(&planned, "description").map(str::to_string))
            .set_max_session_duration(num_attr(&planned, "max_session_duration").map(|n| n as i32))
            .set_permissions_boundary(
                str_attr(&planned, "permissions_boundary").map(str::to_string),
            )
            .set_tags(iam_tags(aws.tags_all(&string_map(planned.get("tags"))))?)
            .send()
            .await
            .map_err(|e| api_error(&format!("creating role {name}"), e))?;
        set(&mut planned, "name", name.as_str());
        self.read_back(aws, planned, &format!("role {name}")).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let name = Self::name(&state)?;
        let Some(out) = found(
            &format!("reading role {name}"),
            aws.iam().await?.get_role().role_name(&name).send().await,
        )?
        else {
            return Ok(None);
        };
        let Some(role) = out.role() else {
            return Ok(None);
        };
        let doc = policy_doc::from_aws(
            str_attr(&state, "assume_role_policy"),
            role.assume_role_policy_document().unwrap_or_default(),
        );
        set(&mut state, "assume_role_policy", doc);
        set(&mut state, "name", role.role_name());
        set(&mut state, "id", role.role_name());
        set(&mut state, "arn", role.arn());
        set(&mut state, "path", role.path());
        set(&mut state, "unique_id", role.role_id());
        set(&mut state, "create_date", timestamp(role.create_date()));
        let description = text_or_null(&state, "description", role.description());
        set(&mut state, "description", description);
        set(
            &mut state,
            "max_session_duration",
            i64::from(role.max_session_duration().unwrap_or(3600)),
        );
        let boundary = role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn());
        set(&mut state, "permissions_boundary", opt_text(boundary));
        default_to(&mut state, "force_detach_policies", false);
        record_tags(aws, &mut state, tag_map(role.tags()));
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let name = Self::name(&prior)?;
        let iam = aws.iam().await?;
        if changed(&prior, &planned, &["description", "max_session_duration"]) {
            iam.update_role()
                .role_name(&name)
                .description(str_attr(&planned, "description").unwrap_or(""))
                .set_max_session_duration(
                    num_attr(&planned, "max_session_duration").map(|n| n as i32),
                )
                .send()
                .await
                .map_err(|e| api_error(&format!("updating role {name}"), e))?;
        }
        if changed(&prior, &planned, &["assume_role_policy"]) {
            iam.update_assume_role_policy()
                .role_name(&name)
                .policy_document(str_attr(&planned, "assume_role_policy").unwrap_or_default())
                .send()
                .await
                .map_err(|e| api_error(&format!("updating the trust policy of role {name}"), e))?;
        }
        if changed(&prior, &planned, &["permissions_boundary"]) {
            self.update_boundary(aws, &name, &planned).await?;
        }
        self.sync_tags(aws, &name, &prior, &planned).await?;
        let mut planned = planned;
        set(&mut planned, "name", name.as_str());
        self.read_back(aws, planned, &format!("role {name}")).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let name = Self::name(&state)?;
        if crate::util::bool_attr(&state, "force_detach_policies") {
            self.detach_all(aws, &name).await?;
        }
        deleted(
            &format!("deleting role {name}"),
            aws.iam().await?.delete_role().role_name(&name).send().await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("name", |id| format!("IAM role named {id:?}"))
    }
}

pub struct Policy;

impl Policy {
    fn arn(v: &Value) -> Result<String> {
        str_attr(v, "arn")
            .or_else(|| str_attr(v, "id"))
            .map(str::to_string)
            .ok_or_else(|| ProviderError::internal("the policy ARN is not known"))
    }

    async fn versions(
        &self,
        aws: &Aws,
        arn: &str,
    ) -> Result<Vec<aws_sdk_iam::types::PolicyVersion>> {
        aws.iam()
            .await?
            .list_policy_versions()
            .policy_arn(arn)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api_error(&format!("listing the versions of policy {arn}"), e))
    }

    async fn delete_version(&self, aws: &Aws, arn: &str, version: &str) -> Result<()> {
        deleted(
            &format!("deleting version {version} of policy {arn}"),
            aws.iam()
                .await?
                .delete_policy_version()
                .policy_arn(arn)
                .version_id(version)
                .send()
                .await,
        )
    }

    /// Makes `document` the policy's new default version, first deleting the oldest
    /// non-default version when the policy already has the five IAM allows.
    async fn new_version(&self, aws: &Aws, arn: &str, document: &str) -> Result<()> {
        let mut old: Vec<_> = self
            .versions(aws, arn)
            .await?
            .into_iter()
            .filter(|v| !v.is_default_version())
            .collect();
        if old.len() >= 4 {
            old.sort_by_key(|v| v.create_date().map(|d| (d.secs(), d.subsec_nanos())));
            let oldest = old[0].version_id().unwrap_or_default();
            self.delete_version(aws, arn, oldest).await?;
        }
        aws.iam()
            .await?
            .create_policy_version()
            .policy_arn(arn)
            .policy_document(document)
            .set_as_default(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error(&format!("creating a new version of policy {arn}"), e))
    }

    async fn sync_tags(&self, aws: &Aws, arn: &str, prior: &Value, planned: &Value) -> Result<()> {
        let iam = aws.iam().await?;
        aws.sync_tags(
            &format!("policy {arn}"),
            prior,
            planned,
            |keys| {
                iam.untag_policy()
                    .policy_arn(arn)
                    .set_tag_keys(Some(keys))
                    .send()
            },
            |all| {
                Ok(iam
                    .tag_policy()
                    .policy_arn(arn)
                    .set_tags(iam_tags(all)?)
                    .send())
            },
        )
        .await
    }
}

#[async_trait]
impl Resource<Aws> for Policy {
    fn schema(&self) -> Schema {
        named_schema("policy")
            .attr(
                "description",
                AttrSchema::optional(Type::String).force_new(),
            )
            .attr("policy_id", AttrSchema::computed(Type::String))
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let mut problems = Vec::new();
        check_name_and_path(config, 128, &mut problems);
        policy_doc::check(config, "policy", &mut problems);
        refuse(problems)?;
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "path", "/");
        policy_doc::plan(prior, &mut change.planned, "policy");
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let name = resource_name(&planned);
        let out = aws
            .iam()
            .await?
            .create_policy()
            .policy_name(&name)
            .path(str_attr(&planned, "path").unwrap_or("/"))
            .policy_document(str_attr(&planned, "policy").unwrap_or_default())
            .set_description(str_attr(&planned, "description").map(str::to_string))
            .set_tags(iam_tags(aws.tags_all(&string_map(planned.get("tags"))))?)
            .send()
            .await
            .map_err(|e| api_error(&format!("creating policy {name}"), e))?;
        let arn = out.policy().and_then(|p| p.arn()).unwrap_or_default();
        set(&mut planned, "arn", arn);
        self.read_back(aws, planned, &format!("policy {name}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let arn = Self::arn(&state)?;
        let iam = aws.iam().await?;
        let Some(out) = found(
            &format!("reading policy {arn}"),
            iam.get_policy().policy_arn(&arn).send().await,
        )?
        else {
            return Ok(None);
        };
        let Some(policy) = out.policy() else {
            return Ok(None);
        };
        let version = policy.default_version_id().unwrap_or("v1");
        let doc = iam
            .get_policy_version()
            .policy_arn(&arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading version {version} of policy {arn}"), e))?;
        let text = doc
            .policy_version()
            .and_then(|v| v.document())
            .unwrap_or_default();
        let doc = policy_doc::from_aws(str_attr(&state, "policy"), text);
        set(&mut state, "policy", doc);
        set(&mut state, "arn", arn.as_str());
        set(&mut state, "id", arn.as_str());
        set(&mut state, "name", opt_text(policy.policy_name()));
        set(&mut state, "path", policy.path().unwrap_or("/"));
        set(&mut state, "policy_id", opt_text(policy.policy_id()));
        let description = text_or_null(&state, "description", policy.description());
        set(&mut state, "description", description);
        let tags = iam
            .list_policy_tags()
            .policy_arn(&arn)
            .send()
            .await
            .map_err(|e| api_error(&format!("reading the tags of policy {arn}"), e))?;
        record_tags(aws, &mut state, tag_map(tags.tags()));
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let arn = Self::arn(&prior)?;
        if changed(&prior, &planned, &["policy"]) {
            let doc = str_attr(&planned, "policy").unwrap_or_default();
            self.new_version(aws, &arn, doc).await?;
        }
        self.sync_tags(aws, &arn, &prior, &planned).await?;
        let mut planned = planned;
        set(&mut planned, "arn", arn.as_str());
        self.read_back(aws, planned, &format!("policy {arn}")).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let arn = Self::arn(&state)?;
        let versions = match self.versions(aws, &arn).await {
            Ok(v) => v,
            Err(e) if e.kind == terrane_provider::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for v in versions.iter().filter(|v| !v.is_default_version()) {
            self.delete_version(aws, &arn, v.version_id().unwrap_or_default())
                .await?;
        }
        deleted(
            &format!("deleting policy {arn}"),
            aws.iam()
                .await?
                .delete_policy()
                .policy_arn(&arn)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("arn", |id| format!("IAM policy {id}"))
    }
}

pub struct RolePolicyAttachment;

impl RolePolicyAttachment {
    fn parts(v: &Value) -> Result<(String, String)> {
        match (str_attr(v, "role"), str_attr(v, "policy_arn")) {
            (Some(r), Some(p)) => Ok((r.to_string(), p.to_string())),
            _ => Err(ProviderError::internal(
                "the role or the policy ARN is not known",
            )),
        }
    }
}

#[async_trait]
impl Resource<Aws> for RolePolicyAttachment {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("role", AttrSchema::required(Type::String).force_new())
            .attr("policy_arn", AttrSchema::required(Type::String).force_new())
            .attr("id", AttrSchema::computed(Type::String))
    }

    fn plan(
        &self,
        _aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        if let Some(arn) = str_attr(config, "policy_arn") {
            if !arn.starts_with("arn:") {
                return Err(ProviderError::config(format!(
                    "policy_arn {arn:?} must be a policy ARN such as arn:aws:iam::aws:policy/ReadOnlyAccess"
                )));
            }
        }
        Ok(plan_by_schema(schema, prior, config))
    }

    async fn create(&self, aws: &Aws, planned: Value) -> Result<Value> {
        let (role, arn) = Self::parts(&planned)?;
        aws.iam()
            .await?
            .attach_role_policy()
            .role_name(&role)
            .policy_arn(&arn)
            .send()
            .await
            .map_err(|e| api_error(&format!("attaching policy {arn} to role {role}"), e))?;
        self.read_back(
            aws,
            planned,
            &format!("the attachment of {arn} to role {role}"),
        )
        .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let (role, arn) = Self::parts(&state)?;
        let attached = aws
            .iam()
            .await?
            .list_attached_role_policies()
            .role_name(&role)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await;
        let Some(attached) = found(
            &format!("listing the policies attached to role {role}"),
            attached,
        )?
        else {
            return Ok(None);
        };
        if !attached
            .iter()
            .any(|p| p.policy_arn() == Some(arn.as_str()))
        {
            return Ok(None);
        }
        set(&mut state, "id", format!("{role}/{arn}"));
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, _prior: Value, planned: Value) -> Result<Value> {
        self.read_back(aws, planned, "the policy attachment").await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let (role, arn) = Self::parts(&state)?;
        deleted(
            &format!("detaching policy {arn} from role {role}"),
            aws.iam()
                .await?
                .detach_role_policy()
                .role_name(&role)
                .policy_arn(&arn)
                .send()
                .await,
        )
    }

    /// Terraform's import ID: `role-name/policy-arn`.
    async fn import(&self, aws: &Aws, id: &str) -> Result<Value> {
        let Some((role, arn)) = id.split_once('/').filter(|(_, a)| a.starts_with("arn:")) else {
            return Err(ProviderError::config(format!(
                "import ID {id:?} must be ROLE-NAME/POLICY-ARN, such as deploy/arn:aws:iam::aws:policy/ReadOnlyAccess"
            )));
        };
        self.import_from(
            aws,
            object([
                ("role", Value::from(role)),
                ("policy_arn", Value::from(arn)),
            ]),
            &format!("attachment of policy {arn} to role {role}"),
        )
        .await
    }
}

// Helpers shared by the security modules (kms, secretsmanager, cloudwatch, ecr, lambda).

/// Fails with every plan-time problem found, one per line.
pub(crate) fn refuse(problems: Vec<String>) -> Result<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ProviderError::config(problems.join("\n")))
    }
}

/// A plan-time check that a known `attr` is one of the values AWS accepts.
pub(crate) fn check_enum(config: &Value, attr: &str, allowed: &[&str], problems: &mut Vec<String>) {
    if let Some(v) = str_attr(config, attr) {
        if !allowed.contains(&v) {
            problems.push(format!("{attr} {v:?} is not one of {}", allowed.join(", ")));
        }
    }
}

/// A plan-time check that a known number `attr` lies within `range`.
pub(crate) fn check_range(
    config: &Value,
    attr: &str,
    range: std::ops::RangeInclusive<i64>,
    problems: &mut Vec<String>,
) {
    if let Some(n) = num_attr(config, attr) {
        if !range.contains(&n) {
            problems.push(format!(
                "{attr} {n} must be between {} and {}",
                range.start(),
                range.end()
            ));
        }
    }
}

/// True when any of `attrs` differs between `prior` and `planned`.
pub(crate) fn changed(prior: &Value, planned: &Value, attrs: &[&str]) -> bool {
    attrs.iter().any(|a| {
        let p = prior.get(a).cloned().unwrap_or_default();
        let n = planned.get(a).cloned().unwrap_or_default();
        !p.same_as(&n)
    })
}

/// The name to create an object with: `name`, else `name_prefix` or "terraform-"
/// followed by a unique suffix, as Terraform does.
pub(crate) fn resource_name(planned: &Value) -> String {
    if let Some(n) = str_attr(planned, "name") {
        return n.to_string();
    }
    let prefix = str_attr(planned, "name_prefix").unwrap_or("terraform-");
    let unique = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &unique[..UNIQUE_SUFFIX])
}

/// The length of the suffix [`resource_name`] adds to a prefix, as Terraform's.
const UNIQUE_SUFFIX: usize = 26;

/// Records the tags AWS holds: `tags_all` as they are, `tags` without the provider's
/// default tags the configuration did not set itself.
pub(crate) fn record_tags(aws: &Aws, state: &mut Value, actual: BTreeMap<String, String>) {
    let own = own_tags(state, &actual, &aws.settings.default_tags);
    set(state, "tags", own);
    set(state, "tags_all", tags_value(&actual));
}

/// An optional text AWS may leave out.
pub(crate) fn opt_text(s: Option<&str>) -> Value {
    s.map(Value::from).unwrap_or(Value::Null)
}

/// A text attribute AWS reports as empty when unset: null while the state had none,
/// so an unset description is not drift.
pub(crate) fn text_or_null(state: &Value, name: &str, aws: Option<&str>) -> Value {
    match aws.filter(|s| !s.is_empty()) {
        Some(s) => Value::from(s),
        None if state.get(name).is_none_or(Value::is_null) => Value::Null,
        None => Value::from(""),
    }
}

/// An AWS timestamp as RFC 3339 text.
pub(crate) fn timestamp(t: &aws_smithy_types::DateTime) -> Value {
    t.fmt(aws_smithy_types::date_time::Format::DateTime)
        .map(Value::from)
        .unwrap_or(Value::Null)
}

/// JSON policy documents, compared by meaning rather than by text.
pub(crate) mod policy_doc {
    use terrane_core::{ObjectMap, Value};

    use crate::util::{set, str_attr};

    /// True when both texts are JSON documents with the same content.
    pub fn same(a: &str, b: &str) -> bool {
        match (parse(a), parse(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        }
    }

    /// The document AWS holds, as state records it: the prior text when it says the
    /// same thing, else AWS's own text, URL-decoded.
    pub fn from_aws(prior: Option<&str>, aws: &str) -> String {
        let text = decode(aws);
        match prior {
            Some(p) if same(p, &text) => p.to_string(),
            _ => text,
        }
    }

    /// Plans a document attribute: the prior text stays when the configuration says
    /// the same thing in other words.
    pub fn plan(prior: Option<&Value>, planned: &mut Value, name: &str) {
        let old = prior.and_then(|p| str_attr(p, name)).map(str::to_string);
        if let (Some(old), Some(new)) = (old, str_attr(planned, name)) {
            if old != new && same(&old, new) {
                set(planned, name, old);
            }
        }
    }

    /// A plan-time check that a known document is JSON.
    pub fn check(config: &Value, name: &str, problems: &mut Vec<String>) {
        if let Some(doc) = str_attr(config, name) {
            if !matches!(parse(doc), Some(Value::Map(_))) {
                problems.push(format!(
                    "{name} is not a JSON policy document; write it with jsonencode({{...}}) or a heredoc holding a JSON object"
                ));
            }
        }
    }

    /// IAM returns documents URL-encoded (RFC 3986, as Go's `url.QueryUnescape` reads
    /// them); text that is already JSON is returned as is.
    pub fn decode(text: &str) -> String {
        if text.trim_start().starts_with('{') {
            return text.to_string();
        }
        let b = text.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = b
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (b[i], hex) {
                (b'%', Some(v)) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                (b'+', _) => out.push(b' '),
                (c, _) => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap_or_else(|_| text.to_string())
    }

    /// Parses JSON into a value (objects become maps with sorted keys, so key order
    /// does not matter); `None` when the text is not JSON.
    pub fn parse(text: &str) -> Option<Value> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        (p.i == p.s.len()).then_some(v)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.i += 1;
            }
        }

        fn eat(&mut self, b: u8) -> bool {
            self.ws();
            let hit = self.s.get(self.i) == Some(&b);
            if hit {
                self.i += 1;
            }
            hit
        }

        fn value(&mut self) -> Option<Value> {
            self.ws();
            match *self.s.get(self.i)? {
                b'{' => self.object(),
                b'[' => self.array(),
                b'"' => self.string().map(Value::String),
                b't' => self.word("true", Value::Bool(true)),
                b'f' => self.word("false", Value::Bool(false)),
                b'n' => self.word("null", Value::Null),
                _ => self.number(),
            }
        }

        fn word(&mut self, w: &str, v: Value) -> Option<Value> {
            let hit = self.s[self.i..].starts_with(w.as_bytes());
            hit.then(|| {
                self.i += w.len();
                v
            })
        }

        fn number(&mut self) -> Option<Value> {
            let start = self.i;
            while matches!(
                self.s.get(self.i),
                Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
            ) {
                self.i += 1;
            }
            let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
            text.parse::<f64>().ok().map(Value::from)
        }

        fn object(&mut self) -> Option<Value> {
            self.i += 1;
            let mut m = ObjectMap::new();
            if self.eat(b'}') {
                return Some(Value::Map(m));
            }
            loop {
                self.ws();
                let k = self.string()?;
                if !self.eat(b':') {
                    return None;
                }
                let v = self.value()?;
                m.insert(k, v);
                if self.eat(b'}') {
                    return Some(Value::Map(m));
                }
                if !self.eat(b',') {
                    return None;
                }
            }
        }

        fn array(&mut self) -> Option<Value> {
            self.i += 1;
            let mut items = Vec::new();
            if self.eat(b']') {
                return Some(Value::List(items));
            }
            loop {
                items.push(self.value()?);
                if self.eat(b']') {
                    return Some(Value::List(items));
                }
                if !self.eat(b',') {
                    return None;
                }
            }
        }

        fn string(&mut self) -> Option<String> {
            if self.s.get(self.i) != Some(&b'"') {
                return None;
            }
            self.i += 1;
            let mut out = Vec::new();
            loop {
                let c = *self.s.get(self.i)?;
                self.i += 1;
                match c {
                    b'"' => return String::from_utf8(out).ok(),
                    b'\\' => {
                        let ch = self.escape()?;
                        out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    _ => out.push(c),
                }
            }
        }

        fn escape(&mut self) -> Option<char> {
            let e = *self.s.get(self.i)?;
            self.i += 1;
            Some(match e {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => return self.unicode(),
                _ => return None,
            })
        }

        fn hex4(&mut self) -> Option<u32> {
            let h = self.s.get(self.i..self.i + 4)?;
            if !h.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            self.i += 4;
            u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
        }

        fn unicode(&mut self) -> Option<char> {
            let hi = self.hex4()?;
            if !(0xD800..0xDC00).contains(&hi) {
                return char::from_u32(hi);
            }
            if self.s.get(self.i..self.i + 2)? != b"\\u" {
                return None;
            }
            self.i += 2;
            let lo = self.hex4()?.checked_sub(0xDC00).filter(|l| *l < 0x400)?;
            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + lo)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::policy_doc::{decode, parse, same};

    #[test]
    fn documents_are_compared_by_meaning() {
        let a = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#;
        let b = "{\n  \"Statement\": [ { \"Action\": \"s3:*\", \"Effect\": \"Allow\" } ],\n  \"Version\": \"2012-10-17\"\n}";
        assert!(same(a, b));
        assert!(!same(a, &a.replace("s3:*", "s3:Get*")));
        assert!(!same(a, &a.replace("[{", "[{\"Sid\":\"x\",")));
    }

    #[test]
    fn iam_url_encoding_is_undone() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            decode(encoded),
            r#"{"Version":"2012-10-17","Statement":[]}"#
        );
        assert_eq!(decode("{\"a\":\"b+c\"}"), "{\"a\":\"b+c\"}");
    }

    #[test]
    fn the_parser_reads_escapes_and_refuses_broken_json() {
        assert_eq!(
            parse(r#"{"k":"\u00e9\ud83d\ude00\n","n":[1,-2.5e1,true,null]}"#)
                .and_then(|v| v.get("k").and_then(|k| k.as_str().map(str::to_string))),
            Some("é😀\n".to_string())
        );
        for bad in ["{", "{\"a\":}", "[1,]", "{\"a\":1} x", "nul", "\"\\x\""] {
            assert!(parse(bad).is_none(), "{bad} should not parse");
        }
    }
}
