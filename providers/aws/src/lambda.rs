//! Lambda: `aws_lambda_function` (zip packages, from a local file or S3).
//!
//! `source_code_hash` is what AWS reports as the code's SHA-256 (base64): set it to
//! `filebase64sha256(filename)` and a new zip, or code changed outside terrane, is
//! uploaded on the next apply.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::operation::create_function::CreateFunctionError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionCode, FunctionConfiguration, LastUpdateStatus, Runtime,
    State,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, BlockSchema, Dispatch, ImportKey, PlannedChange, ProviderError, Resource, Result,
    Schema,
};

use crate::context::{api_error, deleted, found, tags_value, Aws};
use crate::iam::{changed, check_enum, check_range, opt_text, record_tags, refuse, text_or_null};
use crate::util::{
    bool_attr, default_to, import_by, num_attr, object, set, str_attr, str_list, str_list_value,
    string_map, wait_for,
};
use crate::{plan_tags, tag_attrs};

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.resource("aws_lambda_function", Function)
}

/// Arguments whose change uploads the code again.
const CODE: [&str; 6] = [
    "filename",
    "s3_bucket",
    "s3_key",
    "s3_object_version",
    "source_code_hash",
    "architectures",
];

/// Arguments UpdateFunctionConfiguration changes.
const SETTINGS: [&str; 7] = [
    "role",
    "handler",
    "runtime",
    "memory_size",
    "timeout",
    "description",
    "environment",
];

/// Where the function's code comes from: a local zip, or an object in S3.
struct CodeSource {
    zip: Option<Blob>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    s3_object_version: Option<String>,
}

impl CodeSource {
    fn of(planned: &Value) -> Result<CodeSource> {
        let owned = |a: &str| str_attr(planned, a).map(str::to_string);
        let zip = match str_attr(planned, "filename") {
            Some(path) => Some(Blob::new(std::fs::read(path).map_err(|e| {
                ProviderError::config(format!("filename {path:?} cannot be read: {e}"))
            })?)),
            None => None,
        };
        Ok(CodeSource {
            zip,
            s3_bucket: owned("s3_bucket"),
            s3_key: owned("s3_key"),
            s3_object_version: owned("s3_object_version"),
        })
    }

    fn function_code(self) -> FunctionCode {
        FunctionCode::builder()
            .set_zip_file(self.zip)
            .set_s3_bucket(self.s3_bucket)
            .set_s3_key(self.s3_key)
            .set_s3_object_version(self.s3_object_version)
            .build()
    }
}

fn environment(planned: &Value) -> Environment {
    let vars: HashMap<String, String> =
        string_map(planned.get("environment").and_then(|e| e.get("variables")))
            .into_iter()
            .collect();
    Environment::builder().set_variables(Some(vars)).build()
}

fn architectures(planned: &Value) -> Option<Vec<Architecture>> {
    let list = str_list(planned, "architectures");
    (!list.is_empty()).then(|| {
        list.iter()
            .map(|a| Architecture::from(a.as_str()))
            .collect()
    })
}

/// True when CreateFunction failed only because IAM has not yet made a new role
/// assumable by Lambda. AWS gives no code of its own for this eventual consistency,
/// so the message is the signal (Terraform's provider reads it the same way).
fn role_not_ready(e: &aws_sdk_lambda::error::SdkError<CreateFunctionError>) -> bool {
    e.as_service_error().is_some_and(|s| {
        s.is_invalid_parameter_value_exception()
            && s.message().is_some_and(|m| m.contains("cannot be assumed"))
    })
}

pub struct Function;

impl Function {
    fn name(v: &Value) -> Result<String> {
        str_attr(v, "function_name")
            .or_else(|| str_attr(v, "id"))
            .map(str::to_string)
            .ok_or_else(|| ProviderError::internal("the function name is not known"))
    }

    fn check(config: &Value) -> Result<()> {
        let mut problems = Vec::new();
        if let Some(n) = str_attr(config, "function_name") {
            let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
            if n.is_empty() || n.len() > 64 || !n.chars().all(ok) {
                problems.push(format!(
                    "function_name {n:?} must be 1 to 64 letters, digits, hyphens and underscores"
                ));
            }
        }
        let given = |a: &str| config.get(a).is_some_and(|v| !v.is_null());
        if given("filename") == given("s3_bucket") {
            problems.push(
                "set exactly one of filename and s3_bucket (with s3_key) for the code".to_string(),
            );
        }
        if given("s3_bucket") != given("s3_key") {
            problems.push("s3_bucket and s3_key go together".to_string());
        }
        for attr in ["handler", "runtime"] {
            if !given(attr) {
                problems.push(format!("{attr} is required for a zip package"));
            }
        }
        check_enum(config, "runtime", Runtime::values(), &mut problems);
        check_range(config, "memory_size", 128..=10240, &mut problems);
        check_range(config, "timeout", 1..=900, &mut problems);
        let archs = str_list(config, "architectures");
        if archs.len() > 1 {
            problems.push("architectures takes one architecture".to_string());
        }
        for a in archs
            .iter()
            .filter(|a| !Architecture::values().contains(&a.as_str()))
        {
            problems.push(format!(
                "architectures: {a:?} is not one of {}",
                Architecture::values().join(", ")
            ));
        }
        refuse(problems)
    }

    /// Marks what AWS recomputes on an update as known only after apply.
    fn plan_recomputed(prior: &Value, config: &Value, planned: &mut Value) {
        let code = changed(prior, planned, &CODE);
        if !code && !changed(prior, planned, &SETTINGS) {
            return;
        }
        set(planned, "last_modified", Value::Unknown);
        if bool_attr(planned, "publish") {
            for attr in ["version", "qualified_arn", "qualified_invoke_arn"] {
                set(planned, attr, Value::Unknown);
            }
        }
        if code {
            set(planned, "source_code_size", Value::Unknown);
            if config.get("source_code_hash").is_none_or(Value::is_null) {
                set(planned, "source_code_hash", Value::Unknown);
            }
        }
    }

    /// Waits until the function has left the Pending state and its last update is
    /// done: AWS refuses changes before that.
    async fn wait_ready(&self, aws: &Aws, name: &str) -> Result<()> {
        let lambda = aws.lambda().await?;
        wait_for(
            &format!("function {name} to be ready"),
            Duration::from_secs(300),
            || async move {
                let c = lambda
                    .get_function_configuration()
                    .function_name(name)
                    .send()
                    .await
                    .map_err(|e| api_error(&format!("reading function {name}"), e))?;
                if c.state() == Some(&State::Failed) {
                    return Err(ProviderError::api(format!(
                        "function {name} failed: {}",
                        c.state_reason().unwrap_or("no reason given")
                    )));
                }
                let busy = c.state() == Some(&State::Pending)
                    || c.last_update_status() == Some(&LastUpdateStatus::InProgress);
                Ok((!busy).then_some(()))
            },
        )
        .await
    }

    /// The latest published version, or `$LATEST` when none was published.
    async fn latest_version(&self, aws: &Aws, name: &str) -> Result<String> {
        let versions = aws
            .lambda()
            .await?
            .list_versions_by_function()
            .function_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api_error(&format!("listing the versions of function {name}"), e))?;
        Ok(versions
            .iter()
            .filter_map(|v| v.version()?.parse::<u64>().ok())
            .max()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "$LATEST".to_string()))
    }

    async fn update_settings(&self, aws: &Aws, name: &str, planned: &Value) -> Result<()> {
        aws.lambda()
            .await?
            .update_function_configuration()
            .function_name(name)
            .set_role(str_attr(planned, "role").map(str::to_string))
            .set_handler(str_attr(planned, "handler").map(str::to_string))
            .set_runtime(str_attr(planned, "runtime").map(Runtime::from))
            .set_memory_size(num_attr(planned, "memory_size").map(|n| n as i32))
            .set_timeout(num_attr(planned, "timeout").map(|n| n as i32))
            .description(str_attr(planned, "description").unwrap_or(""))
            .environment(environment(planned))
            .send()
            .await
            .map_err(|e| api_error(&format!("updating the configuration of function {name}"), e))?;
        self.wait_ready(aws, name).await
    }

    async fn update_code(&self, aws: &Aws, name: &str, planned: &Value) -> Result<()> {
        let code = CodeSource::of(planned)?;
        aws.lambda()
            .await?
            .update_function_code()
            .function_name(name)
            .set_zip_file(code.zip)
            .set_s3_bucket(code.s3_bucket)
            .set_s3_key(code.s3_key)
            .set_s3_object_version(code.s3_object_version)
            .set_architectures(architectures(planned))
            .publish(bool_attr(planned, "publish"))
            .send()
            .await
            .map_err(|e| api_error(&format!("uploading the code of function {name}"), e))?;
        self.wait_ready(aws, name).await
    }

    async fn sync_tags(&self, aws: &Aws, arn: &str, prior: &Value, planned: &Value) -> Result<()> {
        let lambda = aws.lambda().await?;
        aws.sync_tags(
            &format!("function {arn}"),
            prior,
            planned,
            |keys| {
                lambda
                    .untag_resource()
                    .resource(arn)
                    .set_tag_keys(Some(keys))
                    .send()
            },
            |all| {
                Ok(lambda
                    .tag_resource()
                    .resource(arn)
                    .set_tags(Some(all.into_iter().collect()))
                    .send())
            },
        )
        .await
    }

    /// The function's configuration into `state`.
    fn record(&self, aws: &Aws, state: &mut Value, c: &FunctionConfiguration) {
        let name = c.function_name().unwrap_or_default();
        let arn = c.function_arn().unwrap_or_default();
        set(state, "function_name", name);
        set(state, "id", name);
        set(state, "arn", arn);
        set(
            state,
            "invoke_arn",
            format!(
                "arn:aws:apigateway:{}:lambda:path/2015-03-31/functions/{arn}/invocations",
                aws.region()
            ),
        );
        set(state, "role", opt_text(c.role()));
        set(state, "handler", opt_text(c.handler()));
        set(state, "runtime", opt_text(c.runtime().map(|r| r.as_str())));
        set(
            state,
            "memory_size",
            i64::from(c.memory_size().unwrap_or(128)),
        );
        set(state, "timeout", i64::from(c.timeout().unwrap_or(3)));
        let description = text_or_null(state, "description", c.description());
        set(state, "description", description);
        let archs: Vec<&str> = c.architectures().iter().map(|a| a.as_str()).collect();
        set(state, "architectures", str_list_value(archs));
        set(state, "source_code_hash", opt_text(c.code_sha256()));
        set(state, "source_code_size", c.code_size());
        set(state, "last_modified", opt_text(c.last_modified()));
        let vars: BTreeMap<String, String> = c
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let env = Self::environment_value(state, &vars);
        set(state, "environment", env);
        default_to(state, "publish", false);
    }

    /// The `environment` block: null while the state had none and AWS holds no
    /// variables.
    fn environment_value(state: &Value, vars: &BTreeMap<String, String>) -> Value {
        let prior = state.get("environment").filter(|e| !e.is_null());
        match prior {
            None if vars.is_empty() => Value::Null,
            Some(p) if vars.is_empty() && p.get("variables").is_none_or(Value::is_null) => {
                object([("variables", Value::Null)])
            }
            _ => object([("variables", tags_value(vars))]),
        }
    }
}

#[async_trait]
impl Resource<Aws> for Function {
    fn schema(&self) -> Schema {
        let text = || AttrSchema::optional(Type::String);
        let computed = || AttrSchema::computed(Type::String);
        tag_attrs(
            Schema::new()
                .attr(
                    "function_name",
                    AttrSchema::required(Type::String).force_new(),
                )
                .attr("role", AttrSchema::required(Type::String))
                .attr("handler", text())
                .attr("runtime", text())
                .attr("description", text())
                .attr("filename", text())
                .attr("s3_bucket", text())
                .attr("s3_key", text())
                .attr("s3_object_version", text())
                .attr(
                    "source_code_hash",
                    AttrSchema::optional_computed(Type::String),
                )
                .attr("memory_size", AttrSchema::optional(Type::Number))
                .attr("timeout", AttrSchema::optional(Type::Number))
                .attr("publish", AttrSchema::optional(Type::Bool))
                .attr(
                    "architectures",
                    AttrSchema::optional_computed(Type::List(Box::new(Type::String))),
                )
                .attr("id", computed())
                .attr("arn", computed())
                .attr("invoke_arn", computed())
                .attr("qualified_arn", computed())
                .attr("qualified_invoke_arn", computed())
                .attr("version", computed())
                .attr("last_modified", computed())
                .attr("source_code_size", AttrSchema::computed(Type::Number))
                .block(
                    "environment",
                    BlockSchema::single(Schema::new().attr(
                        "variables",
                        AttrSchema::optional(Type::Map(Box::new(Type::String))),
                    )),
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
        Self::check(config)?;
        let mut change = plan_by_schema(schema, prior, config);
        let planned = &mut change.planned;
        default_to(planned, "memory_size", 128i64);
        default_to(planned, "timeout", 3i64);
        default_to(planned, "publish", false);
        default_to(planned, "architectures", str_list_value(["x86_64"]));
        if let Some(prior) = prior {
            Self::plan_recomputed(prior, config, planned);
        }
        plan_tags(aws, planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, planned: Value) -> Result<Value> {
        let name = Self::name(&planned)?;
        let tags: HashMap<String, String> = aws
            .tags_all(&string_map(planned.get("tags")))
            .into_iter()
            .collect();
        let request = aws
            .lambda()
            .await?
            .create_function()
            .function_name(&name)
            .role(str_attr(&planned, "role").unwrap_or_default())
            .set_handler(str_attr(&planned, "handler").map(str::to_string))
            .set_runtime(str_attr(&planned, "runtime").map(Runtime::from))
            .code(CodeSource::of(&planned)?.function_code())
            .set_description(str_attr(&planned, "description").map(str::to_string))
            .set_memory_size(num_attr(&planned, "memory_size").map(|n| n as i32))
            .set_timeout(num_attr(&planned, "timeout").map(|n| n as i32))
            .publish(bool_attr(&planned, "publish"))
            .environment(environment(&planned))
            .set_architectures(architectures(&planned))
            .set_tags((!tags.is_empty()).then_some(tags));
        let what = format!("IAM to let Lambda assume the role of function {name}");
        let op = format!("creating function {name}");
        wait_for(&what, Duration::from_secs(120), || {
            let (request, op) = (request.clone(), &op);
            async move {
                match request.send().await {
                    Ok(_) => Ok(Some(())),
                    Err(e) if role_not_ready(&e) => Ok(None),
                    Err(e) => Err(api_error(op, e)),
                }
            }
        })
        .await?;
        self.wait_ready(aws, &name).await?;
        self.read_back(aws, planned, &format!("function {name}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let name = Self::name(&state)?;
        let Some(out) = found(
            &format!("reading function {name}"),
            aws.lambda()
                .await?
                .get_function()
                .function_name(&name)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(config) = out.configuration() else {
            return Ok(None);
        };
        self.record(aws, &mut state, config);
        let version = if bool_attr(&state, "publish") {
            self.latest_version(aws, &name).await?
        } else {
            "$LATEST".to_string()
        };
        let arn = config.function_arn().unwrap_or_default();
        let qualified = format!("{arn}:{version}");
        let invoke = format!(
            "arn:aws:apigateway:{}:lambda:path/2015-03-31/functions/{qualified}/invocations",
            aws.region()
        );
        set(&mut state, "version", version.as_str());
        set(&mut state, "qualified_arn", qualified.as_str());
        set(&mut state, "qualified_invoke_arn", invoke);
        let tags = out
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        record_tags(aws, &mut state, tags);
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, planned: Value) -> Result<Value> {
        let name = Self::name(&prior)?;
        let settings = changed(&prior, &planned, &SETTINGS);
        if settings {
            self.update_settings(aws, &name, &planned).await?;
        }
        if changed(&prior, &planned, &CODE) {
            self.update_code(aws, &name, &planned).await?;
        } else if settings && bool_attr(&planned, "publish") {
            aws.lambda()
                .await?
                .publish_version()
                .function_name(&name)
                .send()
                .await
                .map_err(|e| api_error(&format!("publishing a version of function {name}"), e))?;
        }
        let arn = str_attr(&prior, "arn").unwrap_or_default().to_string();
        self.sync_tags(aws, &arn, &prior, &planned).await?;
        self.read_back(aws, planned, &format!("function {name}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let name = Self::name(&state)?;
        deleted(
            &format!("deleting function {name}"),
            aws.lambda()
                .await?
                .delete_function()
                .function_name(&name)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("function_name", |id| format!("function named {id:?}"))
    }
}
