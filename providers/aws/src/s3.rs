//! S3: `aws_s3_bucket` and the resources that configure a bucket (versioning,
//! server-side encryption, public access block), and `aws_s3_object`.

use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};
use md5::Digest as _;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, BlockSchema, ImportKey, PlannedChange, ProviderError, Resource, Result, Schema,
};

use crate::context::{api_error, build_err, deleted, found, is_not_found, tags_value, Aws};
use crate::util::{
    bool_attr, default_to, import_by, object, opt_str, own_tags, set, str_attr, string_map,
};
use crate::{plan_tags, tag_attrs};

/// Checks a bucket name against S3's naming rules; every broken rule is listed.
pub fn bucket_name_problems(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !(3..=63).contains(&name.len()) {
        out.push(format!(
            "is {} characters long; names have 3 to 63",
            name.len()
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
    {
        out.push("may contain only lowercase letters, digits, dots and hyphens".into());
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        out.push("must begin and end with a letter or digit".into());
    }
    if name.contains("..") {
        out.push("must not contain two dots in a row".into());
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        out.push("must not look like an IP address".into());
    }
    if name.starts_with("xn--") || name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        out.push("must not start with xn-- or end with -s3alias or --ol-s3".into());
    }
    out
}

fn bucket_of(v: &Value) -> Result<String> {
    str_attr(v, "bucket")
        .map(str::to_string)
        .ok_or_else(|| ProviderError::internal("the bucket name is not known"))
}

fn tag_set(tags: &std::collections::BTreeMap<String, String>) -> Result<Tagging> {
    let set = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err))
        .collect::<Result<Vec<_>>>()?;
    Tagging::builder()
        .set_tag_set(Some(set))
        .build()
        .map_err(build_err)
}

pub struct Bucket;

impl Bucket {
    async fn put_tags(&self, aws: &Aws, bucket: &str, planned: &Value) -> Result<()> {
        let all = aws.tags_all(&string_map(planned.get("tags")));
        let s3 = aws.s3().await?;
        if all.is_empty() {
            s3.delete_bucket_tagging()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| api_error(&format!("removing the tags of bucket {bucket}"), e))?;
        } else {
            s3.put_bucket_tagging()
                .bucket(bucket)
                .tagging(tag_set(&all)?)
                .send()
                .await
                .map_err(|e| api_error(&format!("tagging bucket {bucket}"), e))?;
        }
        Ok(())
    }

    async fn fill(&self, aws: &Aws, mut v: Value) -> Result<Value> {
        let bucket = bucket_of(&v)?;
        let region = aws.region();
        set(&mut v, "id", bucket.as_str());
        set(&mut v, "arn", format!("arn:aws:s3:::{bucket}"));
        set(
            &mut v,
            "bucket_domain_name",
            format!("{bucket}.s3.amazonaws.com"),
        );
        set(
            &mut v,
            "bucket_regional_domain_name",
            format!("{bucket}.s3.{region}.amazonaws.com"),
        );
        set(&mut v, "region", region.as_str());
        let all = aws.tags_all(&string_map(v.get("tags")));
        set(&mut v, "tags_all", tags_value(&all));
        if v.get("force_destroy").is_none_or(Value::is_null) {
            set(&mut v, "force_destroy", false);
        }
        Ok(v)
    }
}

#[async_trait]
impl Resource<Aws> for Bucket {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr(
                    "bucket",
                    AttrSchema::optional_computed(Type::String)
                        .force_new()
                        .describe("The bucket's name; generated from bucket_prefix when unset."),
                )
                .attr(
                    "bucket_prefix",
                    AttrSchema::optional(Type::String).force_new(),
                )
                .attr("force_destroy", AttrSchema::optional_computed(Type::Bool))
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .attr("bucket_domain_name", AttrSchema::computed(Type::String))
                .attr(
                    "bucket_regional_domain_name",
                    AttrSchema::computed(Type::String),
                )
                .attr("region", AttrSchema::computed(Type::String)),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        if let Some(name) = str_attr(config, "bucket") {
            let problems = bucket_name_problems(name);
            if !problems.is_empty() {
                return Err(ProviderError::config(format!(
                    "bucket {name:?} breaks S3's naming rules: it {}",
                    problems.join("; it ")
                )));
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "force_destroy", false);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let bucket = match str_attr(&planned, "bucket") {
            Some(b) => b.to_string(),
            None => {
                let prefix = str_attr(&planned, "bucket_prefix").unwrap_or("terraform-");
                let suffix = uuid::Uuid::new_v4().simple().to_string();
                format!(
                    "{prefix}{}",
                    &suffix[..26.min(63usize.saturating_sub(prefix.len()))]
                )
            }
        };
        set(&mut planned, "bucket", bucket.as_str());
        let s3 = aws.s3().await?;
        let region = aws.region();
        let mut req = s3.create_bucket().bucket(&bucket);
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        req.send()
            .await
            .map_err(|e| api_error(&format!("creating bucket {bucket}"), e))?;
        if !aws.tags_all(&string_map(planned.get("tags"))).is_empty() {
            self.put_tags(aws, &bucket, &planned).await?;
        }
        self.fill(aws, planned).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let bucket = bucket_of(&state)?;
        let s3 = aws.s3().await?;
        let head = s3.head_bucket().bucket(&bucket).send().await;
        if found(&format!("reading bucket {bucket}"), head)?.is_none() {
            return Ok(None);
        }
        // A bucket without tags has no tag set (NoSuchTagSet).
        let tagging = s3.get_bucket_tagging().bucket(&bucket).send().await;
        let actual = found(&format!("reading the tags of bucket {bucket}"), tagging)?
            .map(|out| {
                out.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let tags = own_tags(&state, &actual, &aws.settings.default_tags);
        set(&mut state, "tags", tags);
        let mut v = self.fill(aws, state).await?;
        set(&mut v, "tags_all", tags_value(&actual));
        Ok(Some(v))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let bucket = bucket_of(&prior)?;
        if prior.get("tags") != planned.get("tags")
            || prior.get("tags_all") != planned.get("tags_all")
        {
            self.put_tags(aws, &bucket, &planned).await?;
        }
        self.fill(aws, planned).await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let bucket = bucket_of(&state)?;
        let s3 = aws.s3().await?;
        if bool_attr(&state, "force_destroy") {
            empty_bucket(aws, &bucket).await?;
        }
        match s3.delete_bucket().bucket(&bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => {
                let mut err = api_error(&format!("deleting bucket {bucket}"), e);
                if err.message.contains("BucketNotEmpty") {
                    err.message.push_str(". Empty it first, or set force_destroy = true to let terrane delete every object version with it");
                }
                Err(err)
            }
        }
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("bucket", |id| {
            format!("bucket named {id:?} in this account")
        })
    }
}

/// Deletes every object version and delete marker of a bucket, a page at a time.
async fn empty_bucket(aws: &Aws, bucket: &str) -> Result<()> {
    delete_versions(aws, bucket, None).await
}

/// Deletes every version and delete marker of `key` (of every key when `None`), so a
/// versioned bucket keeps nothing of what terrane removed.
async fn delete_versions(aws: &Aws, bucket: &str, key: Option<&str>) -> Result<()> {
    let s3 = aws.s3().await?;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .set_prefix(key.map(str::to_string))
            .send()
            .await
            .map_err(|e| api_error(&format!("listing the objects of bucket {bucket}"), e))?;
        let wanted = |k: &str| key.is_none_or(|want| want == k);
        let mut ids = Vec::new();
        for v in page.versions() {
            let k = v.key().unwrap_or_default();
            if wanted(k) {
                ids.push((k, v.version_id()));
            }
        }
        for m in page.delete_markers() {
            let k = m.key().unwrap_or_default();
            if wanted(k) {
                ids.push((k, m.version_id()));
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let objects = ids
            .into_iter()
            .map(|(k, v)| {
                ObjectIdentifier::builder()
                    .key(k)
                    .set_version_id(v.map(str::to_string))
                    .build()
                    .map_err(build_err)
            })
            .collect::<Result<Vec<_>>>()?;
        s3.delete_objects()
            .bucket(bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| api_error(&format!("emptying bucket {bucket}"), e))?;
    }
}

/// Some S3-compatible stores (moto, SeaweedFS, versitygw) answer GetBucketVersioning
/// with another XML root element than `VersioningConfiguration`, which the SDK refuses.
/// The status is still in the body: read it from there.
fn versioning_from_raw<E>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> Option<(Option<String>, Option<String>)> {
    let aws_smithy_runtime_api::client::result::SdkError::ServiceError(se) = err else {
        return None;
    };
    let raw = se.raw();
    if raw.status().as_u16() != 200 {
        return None;
    }
    let body = std::str::from_utf8(raw.body().bytes()?).ok()?;
    if !body.contains("Versioning") {
        return None;
    }
    let element = |name: &str| {
        let start = body.find(&format!("<{name}>"))? + name.len() + 2;
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].to_string()).filter(|v| !v.is_empty())
    };
    Some((
        element("Status"),
        element("MfaDelete").or_else(|| element("MFADelete")),
    ))
}

fn bucket_attr() -> AttrSchema {
    AttrSchema::required(Type::String)
        .force_new()
        .describe("The bucket this configuration belongs to.")
}

/// `aws_s3_bucket_versioning`.
pub struct Versioning;

#[async_trait]
impl Resource<Aws> for Versioning {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("bucket", bucket_attr())
            .attr("id", AttrSchema::computed(Type::String))
            .block(
                "versioning_configuration",
                BlockSchema::single(
                    Schema::new()
                        .attr("status", AttrSchema::required(Type::String))
                        .attr("mfa_delete", AttrSchema::optional_computed(Type::String)),
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
        let status = config
            .get("versioning_configuration")
            .and_then(|c| str_attr(c, "status"));
        match status {
            Some("Enabled" | "Suspended" | "Disabled") | None => {}
            Some(other) => {
                return Err(ProviderError::config(format!(
                    "versioning_configuration.status {other:?} is not one of Enabled, Suspended, Disabled"
                )))
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        if let Some(mut c) = change.planned.get("versioning_configuration").cloned() {
            if !c.is_null() {
                default_to(&mut c, "mfa_delete", "Disabled");
                set(&mut change.planned, "versioning_configuration", c);
            }
        }
        Ok(change)
    }

    async fn create(&self, aws: &Aws, planned: Value) -> Result<Value> {
        self.update(aws, planned.clone(), planned).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let bucket = bucket_of(&state)?;
        let (status, mfa) = match aws
            .s3()
            .await?
            .get_bucket_versioning()
            .bucket(&bucket)
            .send()
            .await
        {
            Ok(out) => (
                out.status().map(|s| s.as_str().to_string()),
                out.mfa_delete().map(|m| m.as_str().to_string()),
            ),
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => match versioning_from_raw(&e) {
                Some(found) => found,
                None => {
                    return Err(api_error(
                        &format!("reading the versioning of bucket {bucket}"),
                        e,
                    ))
                }
            },
        };
        let status = status.as_deref().unwrap_or("Disabled");
        let mfa = mfa.as_deref().unwrap_or("Disabled");
        set(
            &mut state,
            "versioning_configuration",
            object([
                ("status", Value::from(status)),
                ("mfa_delete", Value::from(mfa)),
            ]),
        );
        set(&mut state, "id", bucket.as_str());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, _prior: Value, mut planned: Value) -> Result<Value> {
        let bucket = bucket_of(&planned)?;
        let status = planned
            .get("versioning_configuration")
            .and_then(|c| str_attr(c, "status"))
            .unwrap_or("Enabled")
            .to_string();
        if status != "Disabled" {
            aws.s3()
                .await?
                .put_bucket_versioning()
                .bucket(&bucket)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::from(status.as_str()))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| api_error(&format!("setting the versioning of bucket {bucket}"), e))?;
        }
        if let Some(Value::Map(c)) = planned.get("versioning_configuration").cloned() {
            let mut c = Value::Map(c);
            if c.get("mfa_delete")
                .is_none_or(|m| m.is_null() || m.is_unknown())
            {
                set(&mut c, "mfa_delete", "Disabled");
            }
            set(&mut planned, "versioning_configuration", c);
        }
        set(&mut planned, "id", bucket.as_str());
        Ok(planned)
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        // Versioning cannot be switched off once enabled: suspend it, as Terraform does.
        let bucket = bucket_of(&state)?;
        let enabled = state
            .get("versioning_configuration")
            .and_then(|c| str_attr(c, "status"))
            == Some("Enabled");
        if !enabled {
            return Ok(());
        }
        deleted(
            &format!("suspending the versioning of bucket {bucket}"),
            aws.s3()
                .await?
                .put_bucket_versioning()
                .bucket(&bucket)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Suspended)
                        .build(),
                )
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        Some(ImportKey {
            attr: "bucket",
            null: &[],
            what: |id| format!("bucket named {id:?}"),
        })
    }
}

/// `aws_s3_bucket_server_side_encryption_configuration`.
pub struct Encryption;

#[async_trait]
impl Resource<Aws> for Encryption {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("bucket", bucket_attr())
            .attr("id", AttrSchema::computed(Type::String))
            .block(
                "rule",
                BlockSchema::list(
                    Schema::new()
                        .attr(
                            "bucket_key_enabled",
                            AttrSchema::optional_computed(Type::Bool),
                        )
                        .block(
                            "apply_server_side_encryption_by_default",
                            BlockSchema::single(
                                Schema::new()
                                    .attr("sse_algorithm", AttrSchema::required(Type::String))
                                    .attr("kms_master_key_id", AttrSchema::optional(Type::String)),
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
        for r in config.get("rule").and_then(Value::as_items).unwrap_or(&[]) {
            if let Some(alg) = r
                .get("apply_server_side_encryption_by_default")
                .and_then(|d| str_attr(d, "sse_algorithm"))
            {
                if !matches!(alg, "AES256" | "aws:kms" | "aws:kms:dsse") {
                    return Err(ProviderError::config(format!(
                        "sse_algorithm {alg:?} is not one of AES256, aws:kms, aws:kms:dsse"
                    )));
                }
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        if let Some(rules) = change.planned.get("rule").and_then(Value::as_items) {
            let rules: Vec<Value> = rules
                .iter()
                .cloned()
                .map(|mut r| {
                    default_to(&mut r, "bucket_key_enabled", false);
                    r
                })
                .collect();
            set(&mut change.planned, "rule", Value::List(rules));
        }
        Ok(change)
    }

    async fn create(&self, aws: &Aws, planned: Value) -> Result<Value> {
        self.update(aws, planned.clone(), planned).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let bucket = bucket_of(&state)?;
        let Some(out) = found(
            &format!("reading the encryption of bucket {bucket}"),
            aws.s3()
                .await?
                .get_bucket_encryption()
                .bucket(&bucket)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let rules: Vec<Value> = out
            .server_side_encryption_configuration()
            .map(|c| c.rules())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let default = r
                    .apply_server_side_encryption_by_default()
                    .map(|d| {
                        object([
                            ("sse_algorithm", Value::from(d.sse_algorithm().as_str())),
                            ("kms_master_key_id", opt_str(d.kms_master_key_id())),
                        ])
                    })
                    .unwrap_or(Value::Null);
                object([
                    (
                        "bucket_key_enabled",
                        Value::from(r.bucket_key_enabled().unwrap_or(false)),
                    ),
                    ("apply_server_side_encryption_by_default", default),
                ])
            })
            .collect();
        set(&mut state, "rule", Value::List(rules));
        set(&mut state, "id", bucket.as_str());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, _prior: Value, mut planned: Value) -> Result<Value> {
        let bucket = bucket_of(&planned)?;
        let mut rules = Vec::new();
        let mut shown = Vec::new();
        for r in planned.get("rule").and_then(Value::as_items).unwrap_or(&[]) {
            let d = r.get("apply_server_side_encryption_by_default");
            let mut rule = ServerSideEncryptionRule::builder()
                .set_bucket_key_enabled(r.get("bucket_key_enabled").and_then(Value::as_bool));
            if let Some(d) = d.filter(|d| !d.is_null()) {
                let alg = str_attr(d, "sse_algorithm").unwrap_or("AES256");
                rule = rule.apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::from(alg))
                        .set_kms_master_key_id(str_attr(d, "kms_master_key_id").map(str::to_string))
                        .build()
                        .map_err(build_err)?,
                );
            }
            rules.push(rule.build());
            let mut r = r.clone();
            if r.get("bucket_key_enabled")
                .is_none_or(|b| b.is_null() || b.is_unknown())
            {
                set(&mut r, "bucket_key_enabled", false);
            }
            shown.push(r);
        }
        aws.s3()
            .await?
            .put_bucket_encryption()
            .bucket(&bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .set_rules(Some(rules))
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| api_error(&format!("setting the encryption of bucket {bucket}"), e))?;
        set(&mut planned, "rule", Value::List(shown));
        set(&mut planned, "id", bucket.as_str());
        Ok(planned)
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let bucket = bucket_of(&state)?;
        deleted(
            &format!("removing the encryption of bucket {bucket}"),
            aws.s3()
                .await?
                .delete_bucket_encryption()
                .bucket(&bucket)
                .send()
                .await,
        )
    }

    async fn import(&self, aws: &Aws, id: &str) -> Result<Value> {
        self.read(aws, object([("bucket", Value::from(id))]))
            .await?
            .ok_or_else(|| {
                ProviderError::not_found(format!("bucket {id:?} has no encryption configuration"))
            })
    }
}

const ACCESS_FLAGS: [&str; 4] = [
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
];

/// `aws_s3_bucket_public_access_block`.
pub struct PublicAccessBlock;

#[async_trait]
impl Resource<Aws> for PublicAccessBlock {
    fn schema(&self) -> Schema {
        ACCESS_FLAGS.iter().fold(
            Schema::new()
                .attr("bucket", bucket_attr())
                .attr("id", AttrSchema::computed(Type::String)),
            |s, f| s.attr(f, AttrSchema::optional_computed(Type::Bool)),
        )
    }

    async fn create(&self, aws: &Aws, planned: Value) -> Result<Value> {
        self.update(aws, planned.clone(), planned).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let bucket = bucket_of(&state)?;
        let Some(out) = found(
            &format!("reading the public access block of bucket {bucket}"),
            aws.s3()
                .await?
                .get_public_access_block()
                .bucket(&bucket)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let c = out.public_access_block_configuration();
        let flags = [
            c.and_then(|c| c.block_public_acls()),
            c.and_then(|c| c.block_public_policy()),
            c.and_then(|c| c.ignore_public_acls()),
            c.and_then(|c| c.restrict_public_buckets()),
        ];
        for (name, flag) in ACCESS_FLAGS.iter().zip(flags) {
            set(&mut state, name, flag.unwrap_or(false));
        }
        set(&mut state, "id", bucket.as_str());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, _prior: Value, mut planned: Value) -> Result<Value> {
        let bucket = bucket_of(&planned)?;
        let flag = |n: &str| planned.get(n).and_then(Value::as_bool).unwrap_or(false);
        let config = PublicAccessBlockConfiguration::builder()
            .block_public_acls(flag("block_public_acls"))
            .block_public_policy(flag("block_public_policy"))
            .ignore_public_acls(flag("ignore_public_acls"))
            .restrict_public_buckets(flag("restrict_public_buckets"))
            .build();
        aws.s3()
            .await?
            .put_public_access_block()
            .bucket(&bucket)
            .public_access_block_configuration(config)
            .send()
            .await
            .map_err(|e| {
                api_error(
                    &format!("setting the public access block of bucket {bucket}"),
                    e,
                )
            })?;
        let flags: Vec<bool> = ACCESS_FLAGS.iter().map(|f| flag(f)).collect();
        for (f, v) in ACCESS_FLAGS.iter().zip(flags) {
            set(&mut planned, f, v);
        }
        set(&mut planned, "id", bucket.as_str());
        Ok(planned)
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let bucket = bucket_of(&state)?;
        deleted(
            &format!("removing the public access block of bucket {bucket}"),
            aws.s3()
                .await?
                .delete_public_access_block()
                .bucket(&bucket)
                .send()
                .await,
        )
    }

    async fn import(&self, aws: &Aws, id: &str) -> Result<Value> {
        self.read(aws, object([("bucket", Value::from(id))]))
            .await?
            .ok_or_else(|| {
                ProviderError::not_found(format!("bucket {id:?} has no public access block"))
            })
    }
}

/// `aws_s3_object`: an object whose content comes from `content`, `content_base64` or a
/// local file (`source`). Its `etag` is planned from the content, so an object changed
/// outside terrane shows up as drift.
pub struct Object;

fn object_body(v: &Value) -> Result<Option<Vec<u8>>> {
    if let Some(c) = str_attr(v, "content") {
        return Ok(Some(c.as_bytes().to_vec()));
    }
    if let Some(b) = str_attr(v, "content_base64") {
        use base64::Engine as _;
        return base64::engine::general_purpose::STANDARD
            .decode(b)
            .map(Some)
            .map_err(|e| ProviderError::config(format!("content_base64 is not base64: {e}")));
    }
    if let Some(path) = str_attr(v, "source") {
        return std::fs::read(path)
            .map(Some)
            .map_err(|e| ProviderError::config(format!("cannot read source {path:?}: {e}")));
    }
    Ok(None)
}

#[async_trait]
impl Resource<Aws> for Object {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr("bucket", bucket_attr())
                .attr("key", AttrSchema::required(Type::String).force_new())
                .attr("content", AttrSchema::optional(Type::String))
                .attr("content_base64", AttrSchema::optional(Type::String))
                .attr("source", AttrSchema::optional(Type::String))
                .attr("content_type", AttrSchema::optional_computed(Type::String))
                .attr("etag", AttrSchema::optional_computed(Type::String))
                .attr("version_id", AttrSchema::computed(Type::String))
                .attr("id", AttrSchema::computed(Type::String)),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let given = ["content", "content_base64", "source"]
            .iter()
            .filter(|a| config.get(a).is_some_and(|v| !v.is_null()))
            .count();
        if given > 1 {
            return Err(ProviderError::config(
                "set only one of content, content_base64 and source",
            ));
        }
        let mut change = plan_by_schema(schema, prior, config);
        // The etag of a single-part, unencrypted upload is the MD5 of its content.
        if config.get("etag").is_none_or(Value::is_null) {
            let known = ["content", "content_base64", "source"]
                .iter()
                .all(|a| !config.get(a).is_some_and(Value::is_unknown));
            if known {
                if let Some(body) = object_body(config)? {
                    let md5 = hex::encode(md5::Md5::digest(&body));
                    set(&mut change.planned, "etag", md5.as_str());
                    // Same content: the version stays (null for an object written
                    // before versioning was on); new content gets a new version.
                    if let Some(p) = prior {
                        let same = str_attr(p, "etag") == Some(md5.as_str());
                        let version = if same {
                            p.get("version_id").cloned().unwrap_or(Value::Null)
                        } else {
                            Value::Unknown
                        };
                        set(&mut change.planned, "version_id", version);
                    }
                }
            }
        }
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, planned: Value) -> Result<Value> {
        self.update(aws, planned.clone(), planned).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let bucket = bucket_of(&state)?;
        let key = str_attr(&state, "key").unwrap_or_default().to_string();
        let Some(out) = found(
            &format!("reading object s3://{bucket}/{key}"),
            aws.s3()
                .await?
                .head_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        set(
            &mut state,
            "etag",
            opt_str(out.e_tag().map(|t| t.trim_matches('"'))),
        );
        set(&mut state, "content_type", opt_str(out.content_type()));
        set(&mut state, "version_id", opt_str(out.version_id()));
        set(&mut state, "id", key.as_str());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, _prior: Value, mut planned: Value) -> Result<Value> {
        let bucket = bucket_of(&planned)?;
        let key = str_attr(&planned, "key").unwrap_or_default().to_string();
        let body = object_body(&planned)?.unwrap_or_default();
        let all = aws.tags_all(&string_map(planned.get("tags")));
        let tagging = all
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let out = aws
            .s3()
            .await?
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .set_content_type(str_attr(&planned, "content_type").map(str::to_string))
            .set_tagging((!tagging.is_empty()).then_some(tagging))
            .send()
            .await
            .map_err(|e| api_error(&format!("uploading object s3://{bucket}/{key}"), e))?;
        set(
            &mut planned,
            "etag",
            opt_str(out.e_tag().map(|t| t.trim_matches('"'))),
        );
        set(&mut planned, "version_id", opt_str(out.version_id()));
        if planned
            .get("content_type")
            .is_none_or(|c| c.is_null() || c.is_unknown())
        {
            set(&mut planned, "content_type", "binary/octet-stream");
        }
        set(&mut planned, "tags_all", tags_value(&all));
        set(&mut planned, "id", key.as_str());
        Ok(planned)
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let bucket = bucket_of(&state)?;
        let key = str_attr(&state, "key").unwrap_or_default().to_string();
        // In a versioned bucket a plain delete only adds a delete marker: remove every
        // version of the key, as Terraform does.
        match aws
            .s3()
            .await?
            .delete_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => {
                return Err(api_error(
                    &format!("deleting object s3://{bucket}/{key}"),
                    e,
                ))
            }
        }
        delete_versions(aws, &bucket, Some(&key)).await
    }

    async fn import(&self, aws: &Aws, id: &str) -> Result<Value> {
        let (bucket, key) = id
            .trim_start_matches("s3://")
            .split_once('/')
            .ok_or_else(|| ProviderError::config("import an object as BUCKET/KEY"))?;
        self.read(
            aws,
            object([("bucket", Value::from(bucket)), ("key", Value::from(key))]),
        )
        .await?
        .ok_or_else(|| ProviderError::not_found(format!("there is no object s3://{bucket}/{key}")))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `aws_s3_bucket_replication_configuration`: replicates new objects of a versioned
/// bucket into other buckets (another region, for disaster recovery), with the IAM
/// role S3 assumes to do it.
pub struct Replication;

fn replication_rules(v: &Value) -> Result<Vec<aws_sdk_s3::types::ReplicationRule>> {
    use aws_sdk_s3::types::{
        DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, ReplicationRule,
        ReplicationRuleFilter, ReplicationRuleStatus, StorageClass,
    };
    let mut out = Vec::new();
    for r in v.get("rule").and_then(Value::as_items).unwrap_or_default() {
        let dest = r
            .get("destination")
            .filter(|d| !d.is_null())
            .ok_or_else(|| {
                ProviderError::config(
                    "every replication rule needs a destination { bucket = ARN } block",
                )
            })?;
        let mut d = Destination::builder().bucket(str_attr(dest, "bucket").unwrap_or_default());
        if let Some(sc) = str_attr(dest, "storage_class") {
            d = d.storage_class(StorageClass::from(sc));
        }
        let mut rule = ReplicationRule::builder()
            .status(ReplicationRuleStatus::from(
                str_attr(r, "status").unwrap_or("Enabled"),
            ))
            .destination(d.build().map_err(build_err)?)
            .filter(
                ReplicationRuleFilter::builder()
                    .prefix(
                        r.get("filter")
                            .and_then(|f| str_attr(f, "prefix"))
                            .unwrap_or_default(),
                    )
                    .build(),
            )
            .delete_marker_replication(
                DeleteMarkerReplication::builder()
                    .status(DeleteMarkerReplicationStatus::from(
                        r.get("delete_marker_replication")
                            .and_then(|d| str_attr(d, "status"))
                            .unwrap_or("Disabled"),
                    ))
                    .build(),
            );
        if let Some(id) = str_attr(r, "id") {
            rule = rule.id(id);
        }
        if let Some(p) = r.get("priority").and_then(Value::as_f64) {
            rule = rule.priority(p as i32);
        }
        out.push(rule.build().map_err(build_err)?);
    }
    Ok(out)
}

#[async_trait]
impl Resource<Aws> for Replication {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("bucket", bucket_attr())
            .attr("role", AttrSchema::required(Type::String))
            .attr("id", AttrSchema::computed(Type::String))
            .block(
                "rule",
                BlockSchema::list(
                    Schema::new()
                        .attr("id", AttrSchema::optional(Type::String))
                        .attr("status", AttrSchema::required(Type::String))
                        .attr("priority", AttrSchema::optional(Type::Number))
                        .block(
                            "filter",
                            BlockSchema::single(
                                Schema::new().attr("prefix", AttrSchema::optional(Type::String)),
                            ),
                        )
                        .block(
                            "destination",
                            BlockSchema::single(
                                Schema::new()
                                    .attr("bucket", AttrSchema::required(Type::String))
                                    .attr("storage_class", AttrSchema::optional(Type::String)),
                            ),
                        )
                        .block(
                            "delete_marker_replication",
                            BlockSchema::single(
                                Schema::new().attr("status", AttrSchema::required(Type::String)),
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
        let rules = config
            .get("rule")
            .and_then(Value::as_items)
            .unwrap_or_default();
        if rules.is_empty() {
            return Err(ProviderError::config(
                "a replication configuration needs at least one rule { ... } block",
            ));
        }
        for r in rules {
            match str_attr(r, "status") {
                Some("Enabled" | "Disabled") | None => {}
                Some(other) => {
                    return Err(ProviderError::config(format!(
                        "rule status {other:?} is not one of Enabled, Disabled"
                    )))
                }
            }
            if let Some(b) = r.get("destination").and_then(|d| str_attr(d, "bucket")) {
                if !b.starts_with("arn:") {
                    return Err(ProviderError::config(format!(
                        "destination bucket {b:?} must be the bucket's ARN (arn:aws:s3:::NAME), e.g. aws_s3_bucket.replica.arn"
                    )));
                }
            }
        }
        Ok(plan_by_schema(schema, prior, config))
    }

    async fn create(&self, aws: &Aws, planned: Value) -> Result<Value> {
        self.update(aws, planned.clone(), planned).await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let bucket = bucket_of(&state)?;
        let Some(out) = found(
            &format!("reading the replication of bucket {bucket}"),
            aws.s3()
                .await?
                .get_bucket_replication()
                .bucket(&bucket)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(conf) = out.replication_configuration() else {
            return Ok(None);
        };
        let rules: Vec<Value> = conf
            .rules()
            .iter()
            .map(|r| {
                let dest = r.destination();
                object([
                    ("id", opt_str(r.id())),
                    ("status", Value::from(r.status().as_str())),
                    (
                        "priority",
                        r.priority()
                            .map(|p| Value::from(p as f64))
                            .unwrap_or(Value::Null),
                    ),
                    (
                        "filter",
                        object([("prefix", opt_str(r.filter().and_then(|f| f.prefix())))]),
                    ),
                    (
                        "destination",
                        dest.map(|d| {
                            object([
                                ("bucket", Value::from(d.bucket())),
                                (
                                    "storage_class",
                                    opt_str(d.storage_class().map(|s| s.as_str())),
                                ),
                            ])
                        })
                        .unwrap_or(Value::Null),
                    ),
                    (
                        "delete_marker_replication",
                        object([(
                            "status",
                            Value::from(
                                r.delete_marker_replication()
                                    .and_then(|d| d.status())
                                    .map(|s| s.as_str())
                                    .unwrap_or("Disabled"),
                            ),
                        )]),
                    ),
                ])
            })
            .collect();
        // Keep the configuration's shape where S3 fills in what was not set.
        let prior_rules = state
            .get("rule")
            .and_then(Value::as_items)
            .map(<[Value]>::to_vec);
        let rules = match prior_rules {
            Some(p) if p.len() == rules.len() => rules
                .into_iter()
                .zip(p)
                .map(|(mut live, was)| {
                    // Settings the configuration left out read back as S3's defaults.
                    for attr in ["id", "priority", "filter", "delete_marker_replication"] {
                        if was.get(attr).is_none_or(Value::is_null) {
                            set(&mut live, attr, Value::Null);
                        }
                    }
                    if let (Some(d), Some(wd)) =
                        (live.get("destination").cloned(), was.get("destination"))
                    {
                        if wd.get("storage_class").is_none_or(Value::is_null) {
                            let mut d = d;
                            set(&mut d, "storage_class", Value::Null);
                            set(&mut live, "destination", d);
                        }
                    }
                    live
                })
                .collect(),
            _ => rules,
        };
        set(&mut state, "role", Value::from(conf.role()));
        set(&mut state, "rule", Value::List(rules));
        set(&mut state, "id", bucket.as_str());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, _prior: Value, mut planned: Value) -> Result<Value> {
        use aws_sdk_s3::types::ReplicationConfiguration;
        let bucket = bucket_of(&planned)?;
        let conf = ReplicationConfiguration::builder()
            .role(str_attr(&planned, "role").unwrap_or_default())
            .set_rules(Some(replication_rules(&planned)?))
            .build()
            .map_err(build_err)?;
        aws.s3()
            .await?
            .put_bucket_replication()
            .bucket(&bucket)
            .replication_configuration(conf)
            .send()
            .await
            .map_err(|e| api_error(&format!("setting the replication of bucket {bucket} (its versioning must be enabled first: reference aws_s3_bucket_versioning)"), e))?;
        set(&mut planned, "id", bucket.as_str());
        Ok(planned)
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let bucket = bucket_of(&state)?;
        deleted(
            &format!("removing the replication of bucket {bucket}"),
            aws.s3()
                .await?
                .delete_bucket_replication()
                .bucket(&bucket)
                .send()
                .await,
        )
    }

    async fn import(&self, aws: &Aws, id: &str) -> Result<Value> {
        let state = object([("bucket", Value::from(id))]);
        self.read(aws, state).await?.ok_or_else(|| {
            ProviderError::not_found(format!("bucket {id:?} has no replication configuration"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::bucket_name_problems;

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(bucket_name_problems("my-bucket.logs-1").is_empty());
        assert_eq!(bucket_name_problems("ab").len(), 1);
        assert!(bucket_name_problems("My_Bucket")[0].contains("lowercase"));
        assert!(bucket_name_problems("-bucket")
            .iter()
            .any(|p| p.contains("begin and end")));
        assert!(bucket_name_problems("a..b")
            .iter()
            .any(|p| p.contains("two dots")));
        assert!(bucket_name_problems("192.168.1.1")
            .iter()
            .any(|p| p.contains("IP")));
    }
}
