//! `local_file`, `local_sensitive_file` and the `local_file` data source. Files are
//! written atomically (temporary file, then rename) with the exact permissions asked
//! for. Reading a file that was edited outside terrane reports its new content, so the
//! plan shows the drift; a removed file is planned for creation. File names are used
//! as given: a relative one is relative to the working directory, as in Terraform.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use async_trait::async_trait;
use base64::Engine as _;
use sha1::Digest as _;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, DataSource, PlannedChange, ProviderError, Resource, Result, Schema,
};

use crate::local::LocalCtx;
use crate::{set_attr, str_attr};

/// `local_file`, or `local_sensitive_file` (its content is sensitive, and new files
/// are private to their owner by default).
pub struct File {
    pub sensitive: bool,
}

/// The `local_file` data source.
pub struct FileData;

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

impl File {
    fn type_name(&self) -> &'static str {
        if self.sensitive {
            "local_sensitive_file"
        } else {
            "local_file"
        }
    }
}

#[async_trait]
impl Resource<LocalCtx> for File {
    fn schema(&self) -> Schema {
        file_schema(self.sensitive)
    }

    fn plan(
        &self,
        _ctx: &LocalCtx,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let mut config = config.clone();
        let default_mode = if self.sensitive { "0700" } else { "0777" };
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

    async fn create(&self, _ctx: &LocalCtx, planned: Value) -> Result<Value> {
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

    async fn read(&self, _ctx: &LocalCtx, state: Value) -> Result<Option<Value>> {
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

    async fn update(&self, ctx: &LocalCtx, _prior: Value, planned: Value) -> Result<Value> {
        // Every argument forces replacement; an in-place update only refreshes hashes.
        self.create(ctx, planned).await
    }

    async fn delete(&self, _ctx: &LocalCtx, state: Value) -> Result<()> {
        if let Some(filename) = str_attr(&state, "filename") {
            match std::fs::remove_file(filename) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ProviderError::api(format!("removing {filename}: {e}"))),
            }
        }
        Ok(())
    }

    /// Imports the file named by the ID.
    async fn import(&self, _ctx: &LocalCtx, id: &str) -> Result<Value> {
        let bytes = std::fs::read(id).map_err(|e| {
            ProviderError::not_found(format!("cannot import {} from {id}: {e}", self.type_name()))
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
}

#[async_trait]
impl DataSource<LocalCtx> for FileData {
    fn schema(&self) -> Schema {
        data_schema()
    }

    async fn read(&self, _ctx: &LocalCtx, config: Value) -> Result<Value> {
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
