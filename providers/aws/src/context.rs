//! The configured provider: settings from the `provider "aws"` block, the SDK
//! configuration loaded from them (lazily, on the first call that needs AWS), one
//! client per service, and the mapping of SDK errors to provider errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use terrane_core::{ObjectMap, Value};
use terrane_provider::{ErrorKind, ProviderError, Result};
use tokio::sync::OnceCell;

use crate::util::{bool_attr, str_attr, string_map};

/// Services whose endpoint can be overridden in `endpoints { ... }`.
pub const SERVICES: [&str; 18] = [
    "autoscaling",
    "cloudwatch",
    "dynamodb",
    "ec2",
    "ecr",
    "elasticache",
    "elbv2",
    "iam",
    "kms",
    "lambda",
    "logs",
    "rds",
    "route53",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "sts",
];

#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub token: Option<String>,
    pub endpoints: BTreeMap<String, String>,
    pub s3_use_path_style: bool,
    pub skip_credentials_validation: bool,
    pub skip_requesting_account_id: bool,
    pub skip_metadata_api_check: bool,
    pub default_tags: BTreeMap<String, String>,
    pub assume_role: Option<AssumeRole>,
    pub max_retries: u32,
}

#[derive(Clone, Debug)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
}

/// A region's name as AWS describes it (`US East (N. Virginia)`); empty for a region
/// this table does not know.
pub fn region_description(region: &str) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("af-south-1", "Africa (Cape Town)"),
        ("ap-east-1", "Asia Pacific (Hong Kong)"),
        ("ap-northeast-1", "Asia Pacific (Tokyo)"),
        ("ap-northeast-2", "Asia Pacific (Seoul)"),
        ("ap-northeast-3", "Asia Pacific (Osaka)"),
        ("ap-south-1", "Asia Pacific (Mumbai)"),
        ("ap-south-2", "Asia Pacific (Hyderabad)"),
        ("ap-southeast-1", "Asia Pacific (Singapore)"),
        ("ap-southeast-2", "Asia Pacific (Sydney)"),
        ("ap-southeast-3", "Asia Pacific (Jakarta)"),
        ("ap-southeast-4", "Asia Pacific (Melbourne)"),
        ("ca-central-1", "Canada (Central)"),
        ("ca-west-1", "Canada West (Calgary)"),
        ("cn-north-1", "China (Beijing)"),
        ("cn-northwest-1", "China (Ningxia)"),
        ("eu-central-1", "Europe (Frankfurt)"),
        ("eu-central-2", "Europe (Zurich)"),
        ("eu-north-1", "Europe (Stockholm)"),
        ("eu-south-1", "Europe (Milan)"),
        ("eu-south-2", "Europe (Spain)"),
        ("eu-west-1", "Europe (Ireland)"),
        ("eu-west-2", "Europe (London)"),
        ("eu-west-3", "Europe (Paris)"),
        ("il-central-1", "Israel (Tel Aviv)"),
        ("me-central-1", "Middle East (UAE)"),
        ("me-south-1", "Middle East (Bahrain)"),
        ("sa-east-1", "South America (Sao Paulo)"),
        ("us-east-1", "US East (N. Virginia)"),
        ("us-east-2", "US East (Ohio)"),
        ("us-gov-east-1", "AWS GovCloud (US-East)"),
        ("us-gov-west-1", "AWS GovCloud (US-West)"),
        ("us-west-1", "US West (N. California)"),
        ("us-west-2", "US West (Oregon)"),
    ];
    NAMES
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(_, d)| d.to_string())
        .unwrap_or_default()
}

/// Region names look like `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
pub fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

impl Settings {
    pub fn from_config(v: &Value) -> Result<Settings> {
        let region = str_attr(v, "region").map(str::to_string);
        if let Some(r) = &region {
            if !bool_attr(v, "skip_region_validation") && !valid_region(r) {
                return Err(ProviderError::config(format!(
                    "region {r:?} is not an AWS region name such as \"us-east-1\" (set skip_region_validation = true for a private endpoint with its own names)"
                )));
            }
        }
        let access_key = str_attr(v, "access_key").map(str::to_string);
        let secret_key = str_attr(v, "secret_key").map(str::to_string);
        if access_key.is_some() != secret_key.is_some() {
            return Err(ProviderError::config(
                "access_key and secret_key go together: set both, or neither to use the standard credential chain",
            ));
        }
        let mut endpoints = BTreeMap::new();
        if let Some(e) = v.get("endpoints").filter(|e| !e.is_null()) {
            for svc in SERVICES {
                if let Some(url) = str_attr(e, svc) {
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(ProviderError::config(format!(
                            "endpoints.{svc} {url:?} must be a URL starting with http:// or https://"
                        )));
                    }
                    endpoints.insert(svc.to_string(), url.to_string());
                }
            }
        }
        let default_tags = v
            .get("default_tags")
            .filter(|d| !d.is_null())
            .map(|d| string_map(d.get("tags")))
            .unwrap_or_default();
        let assume_role = match v.get("assume_role").filter(|a| !a.is_null()) {
            None => None,
            Some(a) => Some(AssumeRole {
                role_arn: str_attr(a, "role_arn")
                    .filter(|s| s.starts_with("arn:"))
                    .ok_or_else(|| {
                        ProviderError::config(
                            "assume_role.role_arn must be a role ARN such as arn:aws:iam::123456789012:role/deploy",
                        )
                    })?
                    .to_string(),
                session_name: str_attr(a, "session_name").map(str::to_string),
                external_id: str_attr(a, "external_id").map(str::to_string),
            }),
        };
        Ok(Settings {
            region,
            profile: str_attr(v, "profile").map(str::to_string),
            access_key,
            secret_key,
            token: str_attr(v, "token").map(str::to_string),
            endpoints,
            s3_use_path_style: bool_attr(v, "s3_use_path_style"),
            skip_credentials_validation: bool_attr(v, "skip_credentials_validation"),
            skip_requesting_account_id: bool_attr(v, "skip_requesting_account_id"),
            skip_metadata_api_check: bool_attr(v, "skip_metadata_api_check"),
            default_tags,
            assume_role,
            max_retries: v
                .get("max_retries")
                .and_then(Value::as_f64)
                .map(|n| n.max(1.0) as u32)
                .unwrap_or(5),
        })
    }
}

/// See [`Aws::tag_change`].
pub struct TagChange {
    pub removed: Vec<String>,
    pub all: BTreeMap<String, String>,
}

/// One lazily built client per service: `(accessor, SDK crate, endpoints key)`.
macro_rules! clients {
    ($(($name:ident, $krate:ident, $key:literal)),* $(,)?) => {
        /// The provider's shared context: settings and lazily built SDK clients.
        pub struct Aws {
            pub settings: Settings,
            sdk: OnceCell<aws_config::SdkConfig>,
            account_id: OnceCell<Option<String>>,
            s3: OnceCell<aws_sdk_s3::Client>,
            sts: OnceCell<aws_sdk_sts::Client>,
            /// The contexts of other regions, for resources with their own `region`.
            regions: std::sync::Mutex<BTreeMap<String, Arc<Aws>>>,
            $($name: OnceCell<$krate::Client>,)*
        }

        impl Aws {
            pub fn new(settings: Settings) -> Aws {
                Aws {
                    settings,
                    sdk: OnceCell::new(),
                    account_id: OnceCell::new(),
                    s3: OnceCell::new(),
                    sts: OnceCell::new(),
                    regions: std::sync::Mutex::new(BTreeMap::new()),
                    $($name: OnceCell::new(),)*
                }
            }

            $(
                pub async fn $name(&self) -> Result<&$krate::Client> {
                    let sdk = self.sdk().await?;
                    Ok(self
                        .$name
                        .get_or_init(|| async {
                            let mut b = $krate::config::Builder::from(sdk);
                            if let Some(url) = self.endpoint($key) {
                                b = b.endpoint_url(url);
                            }
                            $krate::Client::from_conf(b.build())
                        })
                        .await)
                }
            )*
        }
    };
}

clients! {
    (sqs, aws_sdk_sqs, "sqs"),
    (sns, aws_sdk_sns, "sns"),
    (dynamodb, aws_sdk_dynamodb, "dynamodb"),
    (ec2, aws_sdk_ec2, "ec2"),
    (iam, aws_sdk_iam, "iam"),
    (kms, aws_sdk_kms, "kms"),
    (secretsmanager, aws_sdk_secretsmanager, "secretsmanager"),
    (cloudwatch, aws_sdk_cloudwatch, "cloudwatch"),
    (logs, aws_sdk_cloudwatchlogs, "logs"),
    (elbv2, aws_sdk_elasticloadbalancingv2, "elbv2"),
    (autoscaling, aws_sdk_autoscaling, "autoscaling"),
    (route53, aws_sdk_route53, "route53"),
    (rds, aws_sdk_rds, "rds"),
    (elasticache, aws_sdk_elasticache, "elasticache"),
    (lambda, aws_sdk_lambda, "lambda"),
    (ecr, aws_sdk_ecr, "ecr"),
}

/// Nothing of the AWS provider is interrupted early, and it has no warnings of its own.
/// A resource with a `region` of its own (AWS provider v6) is managed by a context of
/// that region, made once per region with the same settings otherwise.
impl terrane_provider::Context for Aws {
    fn scoped(&self, object: &Value) -> Option<Arc<Aws>> {
        let region = object.get("region").and_then(Value::as_str)?;
        if region.is_empty() || region == self.region() {
            return None;
        }
        let mut regions = self.regions.lock().ok()?;
        let aws = regions.entry(region.to_string()).or_insert_with(|| {
            Arc::new(Aws::new(Settings {
                region: Some(region.to_string()),
                ..self.settings.clone()
            }))
        });
        Some(aws.clone())
    }

    fn settles_plan(&self, prior: Option<&Value>) -> bool {
        prior.is_none_or(|p| p.get("region").is_some_and(|r| !r.is_null()))
    }

    fn settle(&self, mut value: Value) -> Value {
        if let Value::Map(m) = &mut value {
            if m.get("region")
                .is_none_or(|r| r.is_null() || r.is_unknown())
            {
                m.insert("region".into(), Value::String(self.region()));
            }
        }
        value
    }
}

impl Aws {
    /// The SDK configuration, with the credentials checked (once) unless the settings
    /// say not to.
    pub async fn sdk(&self) -> Result<&aws_config::SdkConfig> {
        let sdk = self.loaded().await?;
        if !self.settings.skip_credentials_validation {
            self.account_id().await?;
        }
        Ok(sdk)
    }

    async fn loaded(&self) -> Result<&aws_config::SdkConfig> {
        self.sdk.get_or_try_init(|| load(&self.settings)).await
    }

    /// The account ID, from STS (once); `None` when skip_requesting_account_id is set
    /// and credentials are not validated.
    pub async fn account_id(&self) -> Result<Option<&str>> {
        let id = self
            .account_id
            .get_or_try_init(|| async {
                if self.settings.skip_requesting_account_id
                    && self.settings.skip_credentials_validation
                {
                    return Ok(None);
                }
                let out = self
                    .sts()
                    .await?
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| {
                        let mut err = api_error("validating the AWS credentials (sts:GetCallerIdentity)", e);
                        err.message.push_str(". Give credentials through AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, or access_key/secret_key; or set skip_credentials_validation = true");
                        err
                    })?;
                Ok::<_, ProviderError>(out.account().map(str::to_string))
            })
            .await?;
        Ok(id.as_deref())
    }

    pub fn region(&self) -> String {
        self.sdk
            .get()
            .and_then(|s| s.region())
            .map(|r| r.to_string())
            .or_else(|| self.settings.region.clone())
            .or_else(|| {
                ["AWS_REGION", "AWS_DEFAULT_REGION"]
                    .iter()
                    .find_map(|k| std::env::var(k).ok().filter(|r| !r.is_empty()))
            })
            .unwrap_or_else(|| "us-east-1".to_string())
    }

    /// An ARN for `service` and `resource` in this account and region; `global` ARNs
    /// (IAM, S3 buckets) leave the region out.
    pub async fn arn(&self, service: &str, resource: &str, global: bool) -> Result<String> {
        let account = if service == "s3" {
            String::new()
        } else {
            self.account_id().await?.unwrap_or("").to_string()
        };
        let region = if global { String::new() } else { self.region() };
        Ok(format!("arn:aws:{service}:{region}:{account}:{resource}"))
    }

    fn endpoint(&self, service: &str) -> Option<&String> {
        self.settings.endpoints.get(service)
    }

    /// The effective tags of a resource: the provider's default_tags overlaid with its
    /// own (Terraform's `tags_all`).
    pub fn tags_all(&self, own: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut all = self.settings.default_tags.clone();
        all.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// What an update must do to an object's tags, or `None` when `tags_all` stays
    /// the same: the keys to remove, and the whole set to write.
    pub fn tag_change(&self, prior: &Value, planned: &Value) -> Option<TagChange> {
        let old = crate::util::string_map(prior.get("tags_all"));
        let all = self.tags_all(&crate::util::string_map(planned.get("tags")));
        if old == all {
            return None;
        }
        let removed = old
            .keys()
            .filter(|k| !all.contains_key(*k))
            .cloned()
            .collect();
        Some(TagChange { removed, all })
    }

    /// Brings an object's tags from what state recorded (`prior.tags_all`) to the
    /// planned ones with the service's own calls: `untag` removes the keys that are gone
    /// and `tag` writes the whole set, each only when it has something to do. `what`
    /// names the object in their errors ("untagging queue URL", "tagging queue URL").
    pub async fn sync_tags<UF, R1, E1, TF, R2, E2>(
        &self,
        what: &str,
        prior: &Value,
        planned: &Value,
        untag: impl FnOnce(Vec<String>) -> UF,
        tag: impl FnOnce(BTreeMap<String, String>) -> Result<TF>,
    ) -> Result<()>
    where
        UF: std::future::Future<Output = std::result::Result<R1, SdkError<E1, HttpResponse>>>,
        TF: std::future::Future<Output = std::result::Result<R2, SdkError<E2, HttpResponse>>>,
        E1: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        E2: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let Some(change) = self.tag_change(prior, planned) else {
            return Ok(());
        };
        if !change.removed.is_empty() {
            untag(change.removed)
                .await
                .map_err(|e| api_error(&format!("untagging {what}"), e))?;
        }
        if !change.all.is_empty() {
            tag(change.all)?
                .await
                .map_err(|e| api_error(&format!("tagging {what}"), e))?;
        }
        Ok(())
    }

    pub async fn s3(&self) -> Result<&aws_sdk_s3::Client> {
        let sdk = self.sdk().await?;
        Ok(self
            .s3
            .get_or_init(|| async {
                let mut b = aws_sdk_s3::config::Builder::from(sdk);
                if let Some(url) = self.endpoint("s3") {
                    b = b.endpoint_url(url);
                }
                if self.settings.s3_use_path_style {
                    b = b.force_path_style(true);
                }
                aws_sdk_s3::Client::from_conf(b.build())
            })
            .await)
    }

    /// STS validates the credentials, so it is built from the loaded configuration
    /// without waiting for that validation.
    pub async fn sts(&self) -> Result<&aws_sdk_sts::Client> {
        let sdk = self.loaded().await?;
        Ok(self
            .sts
            .get_or_init(|| async {
                let mut b = aws_sdk_sts::config::Builder::from(sdk);
                if let Some(url) = self.endpoint("sts") {
                    b = b.endpoint_url(url);
                }
                aws_sdk_sts::Client::from_conf(b.build())
            })
            .await)
    }
}

/// Loads the SDK configuration: region, credentials (static keys, the standard chain
/// with or without the instance metadata service, or an assumed role) and retries.
async fn load(s: &Settings) -> Result<aws_config::SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(s.max_retries));
    if let Some(r) = &s.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if let Some(p) = &s.profile {
        loader = loader.profile_name(p);
    }
    if let (Some(ak), Some(sk)) = (&s.access_key, &s.secret_key) {
        loader = loader.credentials_provider(aws_credential_types::Credentials::new(
            ak.clone(),
            sk.clone(),
            s.token.clone(),
            None,
            "terrane-provider-config",
        ));
    } else if s.skip_metadata_api_check {
        // The standard chain without the instance metadata service.
        let chain = aws_config::meta::credentials::CredentialsProviderChain::first_try(
            "Environment",
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .or_else(
            "Profile",
            aws_config::profile::ProfileFileCredentialsProvider::builder().build(),
        );
        loader = loader.credentials_provider(chain);
    }
    let base = loader.load().await;
    if base.region().is_none() {
        return Err(ProviderError::config(
            "no AWS region: set region in the provider \"aws\" block, or AWS_REGION",
        ));
    }
    let Some(role) = &s.assume_role else {
        return Ok(base);
    };
    let mut b = aws_config::sts::AssumeRoleProvider::builder(&role.role_arn)
        .session_name(
            role.session_name
                .clone()
                .unwrap_or_else(|| "terrane".to_string()),
        )
        .configure(&base);
    if let Some(x) = &role.external_id {
        b = b.external_id(x);
    }
    let provider = b.build().await;
    Ok(base
        .into_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build())
}

/// A request the SDK's builder refused: a required field was left out, which is a bug
/// in the provider, not in the configuration.
pub fn build_err(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::internal(format!("building an AWS request: {e}"))
}

/// Maps an SDK error to a provider error that names the operation and carries AWS's
/// error code and message; throttling and transport failures are marked retryable.
pub fn api_error<E>(op: &str, err: SdkError<E, HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let Some(code) = e.code() else {
                // Not an AWS error document (an endpoint's own failure page, a proxy):
                // what the endpoint said is all there is to show.
                let raw = se.raw();
                let status = raw.status().as_u16();
                let body: String = raw
                    .body()
                    .bytes()
                    .map(|b| {
                        String::from_utf8_lossy(b)
                            .trim()
                            .chars()
                            .take(300)
                            .collect()
                    })
                    .unwrap_or_default();
                return ProviderError {
                    kind: ErrorKind::Api,
                    retryable: status >= 500,
                    message: format!("{op}: the endpoint answered HTTP {status} without an AWS error code: {body}"),
                    diagnostics: Vec::new(),
                };
            };
            let message = e.message().unwrap_or("");
            let kind = classify(code);
            let hint = if is_access_denied(code) {
                " (the credentials in use are not allowed to do this; check their IAM policy)"
            } else {
                ""
            };
            ProviderError {
                kind: kind.unwrap_or(ErrorKind::Api),
                retryable: is_throttling(code),
                message: format!("{op}: {code}: {message}{hint}"),
                diagnostics: Vec::new(),
            }
        }
        SdkError::TimeoutError(_) => ProviderError {
            kind: ErrorKind::Api,
            retryable: true,
            message: format!("{op}: the request timed out"),
            diagnostics: Vec::new(),
        },
        SdkError::DispatchFailure(_) => ProviderError {
            kind: ErrorKind::Api,
            retryable: true,
            message: format!(
                "{op}: cannot reach the AWS endpoint: {}",
                DisplayErrorContext(&err)
            ),
            diagnostics: Vec::new(),
        },
        _ => ProviderError::api(format!("{op}: {}", DisplayErrorContext(&err))),
    }
}

/// The AWS error code of a service error, if it is one.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

pub fn is_not_found_code(code: &str) -> bool {
    // EC2 names them per type: InvalidVpcID.NotFound, InvalidGroup.NotFound, ...
    code.ends_with(".NotFound")
        || code.ends_with("NotFoundException")
        || code.ends_with("NotFoundFault")
        || matches!(
            code,
            "NoSuchBucket"
                | "NotFound"
                | "NoSuchKey"
                | "404"
                | "ResourceNotFoundException"
                | "AWS.SimpleQueueService.NonExistentQueue"
                | "QueueDoesNotExist"
                | "NotFoundException"
                | "NoSuchEntity"
                | "NoSuchPublicAccessBlockConfiguration"
                | "ServerSideEncryptionConfigurationNotFoundError"
                | "ReplicationConfigurationNotFoundError"
                | "NoSuchTagSet"
                | "LoadBalancerNotFound"
                | "TargetGroupNotFound"
                | "ListenerNotFound"
                | "NoSuchHostedZone"
                | "DBInstanceNotFound"
                | "DBSubnetGroupNotFound"
                | "CacheClusterNotFound"
                | "CacheSubnetGroupNotFound"
        )
}

/// The result of a delete call: deleting what is already gone is success, so a destroy
/// after something was removed outside terrane still completes.
pub fn deleted<T, E>(
    op: &str,
    result: std::result::Result<T, SdkError<E, HttpResponse>>,
) -> Result<()>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(api_error(op, e)),
    }
}

/// The answer of a call that reads one object, or `None` when AWS says the object does
/// not exist (it was deleted outside terrane: the read reports it gone, and the plan
/// creates it again). Any other failure is an error of `op`.
pub fn found<T, E>(
    op: &str,
    result: std::result::Result<T, SdkError<E, HttpResponse>>,
) -> Result<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(api_error(op, e)),
    }
}

/// True when `err` says the object does not exist.
pub fn is_not_found<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    error_code(err).is_some_and(is_not_found_code)
        || matches!(err, SdkError::ServiceError(se) if se.raw().status().as_u16() == 404)
}

fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "SlowDown"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
    )
}

fn is_access_denied(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "InvalidClientTokenId"
    )
}

fn classify(code: &str) -> Option<ErrorKind> {
    if is_not_found_code(code) {
        Some(ErrorKind::NotFound)
    } else if code.starts_with("Invalid")
        || code.starts_with("Malformed")
        || code == "ValidationError"
        || code == "ValidationException"
        || code == "IllegalLocationConstraintException"
    {
        Some(ErrorKind::Config)
    } else {
        None
    }
}

/// A string map as a value (tags, `tags_all`).
pub fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    let mut m = ObjectMap::new();
    for (k, v) in tags {
        m.insert(k.clone(), Value::from(v.as_str()));
    }
    Value::Map(m)
}
