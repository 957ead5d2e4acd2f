//! Provider `local`: `local_file`, `local_sensitive_file` and the `local_file` data
//! source. Files are written atomically (temporary file, then rename) with the exact
//! permissions asked for. Reading a file that was edited outside terrane reports its
//! new content, so the plan shows the drift; a removed file is planned for creation.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use sha1::Digest as _;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, PlannedChange, Provider, ProviderError, ProviderSchema, Result, Schema,
};

use crate::{set_attr, str_attr, unknown_type, SimpleFactory};

fn file_schema(sensitive: bool) -> Schema {
    let content = AttrSchema::optional(Type::String)
        .force_new()
        .describe("Text content of the file.");
    let content = if sensitive {
        content.sensitive()
    } else {
        content
    };
    let b64 = AttrSchema::optional(Type::String).force_new();
    let b64 = if sensitive { b64.sensitive() } else { b64 };
    Schema::new()
        .attr(
            "filename",
            AttrSchema::required(Type::String)
                .force_new()
                .describe("Path of the file to manage."),
        )
        .attr("content", content)
        .attr("content_base64", b64)
        .attr(
            "file_permission",
            AttrSchema::optional_computed(Type::String).force_new(),
        )
        .attr(
            "directory_permission",
            AttrSchema::optional_computed(Type::String).force_new(),
        )
        .attr("id", AttrSchema::computed(Type::String))
        .attr("content_md5", AttrSchema::computed(Type::String))
        .attr("content_sha1", AttrSchema::computed(Type::String))
        .attr("content_sha256", AttrSchema::computed(Type::String))
        .attr("content_base64sha256", AttrSchema::computed(Type::String))
}

fn data_schema() -> Schema {
    Schema::new()
        .attr("filename", AttrSchema::required(Type::String))
        .attr("content", AttrSchema::computed(Type::String))
        .attr("content_base64", AttrSchema::computed(Type::String))
        .attr("id", AttrSchema::computed(Type::String))
        .attr("content_md5", AttrSchema::computed(Type::String))
        .attr("content_sha1", AttrSchema::computed(Type::String))
        .attr("content_sha256", AttrSchema::computed(Type::String))
}

pub fn factory() -> SimpleFactory {
    let mut schema = ProviderSchema::default();
    schema
        .resources
        .insert("local_file".into(), file_schema(false));
    schema
        .resources
        .insert("local_sensitive_file".into(), file_schema(true));
    schema
        .resources
        .insert("local_service".into(), crate::service::schema());
    schema
        .resources
        .insert("local_load_balancer".into(), crate::balancer::schema());
    schema
        .resources
        .insert("local_autoscaler".into(), crate::autoscaler::schema());
    schema
        .resources
        .insert("local_backup_policy".into(), crate::backup_policy::schema());
    schema
        .resources
        .insert("local_dns_zone".into(), crate::dns::zone_schema());
    schema
        .resources
        .insert("local_dns_record".into(), crate::dns::record_schema());
    schema
        .data_sources
        .insert("local_file".into(), data_schema());
    SimpleFactory {
        name: "local",
        schema,
        make: || Arc::new(LocalProvider),
    }
}

struct LocalProvider;

fn bytes_of(v: &Value) -> Result<Vec<u8>> {
    match (str_attr(v, "content"), str_attr(v, "content_base64")) {
        (Some(c), None) => Ok(c.as_bytes().to_vec()),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| ProviderError::config(format!("content_base64 is not valid base64: {e}"))),
        (None, None) => Ok(Vec::new()),
        (Some(_), Some(_)) => Err(ProviderError::config(
            "set only one of content and content_base64",
        )),
    }
}

fn hashes(v: &mut Value, bytes: &[u8]) {
    let sha1 = hex::encode(sha1::Sha1::digest(bytes));
    set_attr(v, "id", Value::String(sha1.clone()));
    set_attr(v, "content_sha1", Value::String(sha1));
    set_attr(
        v,
        "content_md5",
        Value::String(hex::encode(md5::Md5::digest(bytes))),
    );
    let sha256 = sha2::Sha256::digest(bytes);
    set_attr(v, "content_sha256", Value::String(hex::encode(sha256)));
    set_attr(
        v,
        "content_base64sha256",
        Value::String(base64::engine::general_purpose::STANDARD.encode(sha256)),
    );
}

fn parse_mode(s: &str, what: &str) -> Result<u32> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            ProviderError::config(format!(
                "{what} {s:?} is not an octal permission such as \"0644\""
            ))
        })
}

fn write_file(path: &Path, bytes: &[u8], mode: u32, dir_mode: u32) -> Result<()> {
    let io = |e: std::io::Error| ProviderError::api(format!("writing {}: {e}", path.display()));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            std::fs::create_dir_all(parent).map_err(io)?;
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(dir_mode))
                .map_err(io)?;
        }
    }
    let tmp = path.with_file_name(format!(
        ".{}.terrane-tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[async_trait]
impl Provider for LocalProvider {
    fn plan(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        if type_name == "local_service" {
            return crate::service::plan(prior, config, schema);
        }
        if type_name == "local_load_balancer" {
            return crate::balancer::plan(prior, config, schema);
        }
        if type_name == "local_autoscaler" {
            return crate::autoscaler::plan(prior, config, schema);
        }
        if type_name == "local_backup_policy" {
            return crate::backup_policy::plan(prior, config, schema);
        }
        if type_name == "local_dns_zone" {
            return crate::dns::plan_zone(prior, config, schema);
        }
        if type_name == "local_dns_record" {
            return crate::dns::plan_record(prior, config, schema);
        }
        let mut config = config.clone();
        let default_mode = if type_name == "local_sensitive_file" {
            "0700"
        } else {
            "0777"
        };
        for attr in ["file_permission", "directory_permission"] {
            if config.get(attr).is_none_or(Value::is_null) {
                set_attr(
                    &mut config,
                    attr,
                    Value::from(if attr == "file_permission" {
                        default_mode
                    } else {
                        "0777"
                    }),
                );
            }
        }
        if let (Some(c), Some(b)) = (config.get("content"), config.get("content_base64")) {
            if !c.is_null() && !b.is_null() {
                return Err(ProviderError::config(
                    "local_file takes content or content_base64, not both",
                ));
            }
        }
        let mut change = plan_by_schema(schema, prior, &config);
        // Hashes are known at plan time whenever the content is.
        if let Ok(bytes) = bytes_of(&change.planned) {
            let known = config.get("content").is_none_or(Value::is_wholly_known)
                && config
                    .get("content_base64")
                    .is_none_or(Value::is_wholly_known);
            if known {
                hashes(&mut change.planned, &bytes);
            }
        }
        Ok(change)
    }

    async fn create(&self, type_name: &str, planned: Value) -> Result<Value> {
        if type_name == "local_service" {
            return crate::service::create(planned).await;
        }
        if type_name == "local_load_balancer" {
            return crate::balancer::create(planned).await;
        }
        if type_name == "local_autoscaler" {
            return crate::autoscaler::create(planned).await;
        }
        if type_name == "local_backup_policy" {
            return crate::backup_policy::create(planned).await;
        }
        if type_name == "local_dns_zone" {
            return crate::dns::create_zone(planned).await;
        }
        if type_name == "local_dns_record" {
            return crate::dns::put_record(None, planned).await;
        }
        if type_name != "local_file" && type_name != "local_sensitive_file" {
            return Err(unknown_type(type_name));
        }
        let filename = str_attr(&planned, "filename")
            .ok_or_else(|| ProviderError::config("filename is required"))?;
        let bytes = bytes_of(&planned)?;
        let mode = parse_mode(
            str_attr(&planned, "file_permission").unwrap_or("0777"),
            "file_permission",
        )?;
        let dir_mode = parse_mode(
            str_attr(&planned, "directory_permission").unwrap_or("0777"),
            "directory_permission",
        )?;
        write_file(Path::new(filename), &bytes, mode, dir_mode)?;
        let mut out = planned.clone();
        hashes(&mut out, &bytes);
        Ok(out)
    }

    async fn read(&self, type_name: &str, state: Value) -> Result<Option<Value>> {
        if type_name == "local_service" {
            return crate::service::read(state).await;
        }
        if type_name == "local_load_balancer" {
            return crate::balancer::read(state).await;
        }
        if type_name == "local_autoscaler" {
            return crate::autoscaler::read(state).await;
        }
        if type_name == "local_backup_policy" {
            return crate::backup_policy::read(state).await;
        }
        if type_name == "local_dns_zone" {
            return crate::dns::read_zone(state).await;
        }
        if type_name == "local_dns_record" {
            return crate::dns::read_record(state).await;
        }
        let Some(filename) = str_attr(&state, "filename") else {
            return Ok(None);
        };
        let bytes = match std::fs::read(filename) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ProviderError::api(format!("reading {filename}: {e}"))),
        };
        let mut out = state.clone();
        let sha1 = hex::encode(sha1::Sha1::digest(&bytes));
        if str_attr(&state, "id") != Some(sha1.as_str()) {
            // Changed outside terrane: report what is there now.
            if state.get("content_base64").is_some_and(|v| !v.is_null()) {
                set_attr(
                    &mut out,
                    "content_base64",
                    Value::String(base64::engine::general_purpose::STANDARD.encode(&bytes)),
                );
            } else {
                set_attr(
                    &mut out,
                    "content",
                    Value::String(String::from_utf8_lossy(&bytes).into_owned()),
                );
            }
            hashes(&mut out, &bytes);
        }
        if let Ok(meta) = std::fs::metadata(filename) {
            let mode = meta.permissions().mode() & 0o7777;
            let recorded =
                str_attr(&state, "file_permission").and_then(|m| u32::from_str_radix(m, 8).ok());
            if recorded.is_some_and(|r| r != mode) {
                set_attr(
                    &mut out,
                    "file_permission",
                    Value::String(format!("{mode:04o}")),
                );
            }
        }
        Ok(Some(out))
    }

    async fn update(&self, type_name: &str, prior: Value, planned: Value) -> Result<Value> {
        if type_name == "local_service" {
            return crate::service::update(prior, planned).await;
        }
        if type_name == "local_load_balancer" {
            return crate::balancer::update(prior, planned).await;
        }
        if type_name == "local_autoscaler" {
            return crate::autoscaler::update(prior, planned).await;
        }
        if type_name == "local_backup_policy" {
            return crate::backup_policy::update(prior, planned).await;
        }
        if type_name == "local_dns_record" {
            return crate::dns::put_record(Some(&prior), planned).await;
        }
        // Every argument forces replacement; an in-place update only refreshes hashes.
        self.create(type_name, planned).await
    }

    async fn delete(&self, type_name: &str, state: Value) -> Result<()> {
        if type_name == "local_service" {
            return crate::service::delete(state).await;
        }
        if type_name == "local_load_balancer" {
            return crate::balancer::delete(state).await;
        }
        if type_name == "local_autoscaler" {
            return crate::autoscaler::delete(state).await;
        }
        if type_name == "local_backup_policy" {
            return crate::backup_policy::delete(state).await;
        }
        if type_name == "local_dns_zone" {
            return crate::dns::delete_zone(state).await;
        }
        if type_name == "local_dns_record" {
            return crate::dns::delete_record(state).await;
        }
        if let Some(filename) = str_attr(&state, "filename") {
            match std::fs::remove_file(filename) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ProviderError::api(format!("removing {filename}: {e}"))),
            }
        }
        Ok(())
    }

    async fn import(&self, type_name: &str, id: &str) -> Result<Value> {
        let bytes = std::fs::read(id).map_err(|e| {
            ProviderError::not_found(format!("cannot import {type_name} from {id}: {e}"))
        })?;
        let mode = std::fs::metadata(id)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644);
        let mut v = Value::map([
            ("filename", Value::from(id)),
            (
                "content",
                Value::String(String::from_utf8_lossy(&bytes).into_owned()),
            ),
            ("content_base64", Value::Null),
            ("file_permission", Value::String(format!("{mode:04o}"))),
            ("directory_permission", Value::from("0777")),
        ]);
        hashes(&mut v, &bytes);
        Ok(v)
    }

    async fn read_data(&self, _type_name: &str, config: Value) -> Result<Value> {
        let filename = str_attr(&config, "filename")
            .ok_or_else(|| ProviderError::config("filename is required"))?;
        let bytes = std::fs::read(filename)
            .map_err(|e| ProviderError::api(format!("reading {filename}: {e}")))?;
        let mut v = Value::map([
            ("filename", Value::from(filename)),
            (
                "content",
                Value::String(String::from_utf8_lossy(&bytes).into_owned()),
            ),
            (
                "content_base64",
                Value::String(base64::engine::general_purpose::STANDARD.encode(&bytes)),
            ),
        ]);
        hashes(&mut v, &bytes);
        if let Value::Map(m) = &mut v {
            m.remove("content_base64sha256");
        }
        Ok(v)
    }
}
