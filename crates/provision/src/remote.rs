//! `file` and `remote-exec` over an SSH [`Session`].

use std::path::Path;

use terrane_core::Value;

use crate::ssh::{shell_quote, Connection, Session};
use crate::{string_arg, strings_arg, Output, ProvisionError};

/// `file`: `content` or the local `source` (a file, or a directory: with a trailing
/// `/` its contents, otherwise the directory itself) to `destination`.
pub async fn file(
    session: &Session,
    config: &Value,
    out: &Output<'_>,
) -> Result<(), ProvisionError> {
    let destination = string_arg(config, "destination").unwrap_or_default();
    if let Some(content) = string_arg(config, "content") {
        return session.upload(content.as_bytes(), destination, 0o644).await;
    }
    let source = string_arg(config, "source").unwrap_or_default();
    let path = Path::new(source);
    let meta = std::fs::metadata(path).map_err(|e| {
        ProvisionError(format!(
            "The file provisioner's source {source:?} cannot be read: {e}."
        ))
    })?;
    if !meta.is_dir() {
        let data = std::fs::read(path).map_err(|e| {
            ProvisionError(format!(
                "The file provisioner's source {source:?} cannot be read: {e}."
            ))
        })?;
        let mode = {
            use std::os::unix::fs::PermissionsExt as _;
            meta.permissions().mode()
        };
        return session.upload(&data, destination, mode).await;
    }
    let target = if source.ends_with('/') {
        destination.to_string()
    } else {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{}/{name}", destination.trim_end_matches('/'))
    };
    let status = session
        .exec(&format!("mkdir -p {}", shell_quote(&target)), out)
        .await?;
    if status != 0 {
        return Err(ProvisionError(format!(
            "cannot create the directory {target:?} on the remote host (mkdir exited with status {status})"
        )));
    }
    session.upload_dir(path, &target).await
}

/// `remote-exec`: each script (the `inline` commands as one, or the local `script` or
/// `scripts`) uploaded to the connection's `script_path` and run there; the first that
/// exits non-zero fails the provisioner.
pub async fn remote_exec(
    session: &Session,
    connection: &Connection,
    config: &Value,
    out: &Output<'_>,
) -> Result<(), ProvisionError> {
    let mut scripts: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(lines) = strings_arg(config, "inline") {
        let mut text = lines.join("\n");
        text.push('\n');
        scripts.push(("inline commands".to_string(), text.into_bytes()));
    }
    let mut files: Vec<String> = Vec::new();
    if let Some(s) = string_arg(config, "script") {
        files.push(s.to_string());
    }
    files.extend(strings_arg(config, "scripts").unwrap_or_default());
    for f in files {
        let data = std::fs::read(&f)
            .map_err(|e| ProvisionError(format!("The script {f:?} cannot be read: {e}.")))?;
        scripts.push((f, data));
    }
    for (what, mut body) in scripts {
        if !body.starts_with(b"#!") {
            let mut with = b"#!/bin/sh\n".to_vec();
            with.append(&mut body);
            body = with;
        }
        let path = connection
            .script_path
            .replace("%RAND%", &random_suffix().to_string());
        session
            .upload(&body, &path, 0o644)
            .await
            .map_err(|e| ProvisionError(format!("cannot upload {what} to {path:?}: {}", e.0)))?;
        let status = session
            .exec(&format!("chmod 0777 {}", shell_quote(&path)), out)
            .await?;
        if status != 0 {
            return Err(ProvisionError(format!(
                "cannot make {path:?} executable (chmod exited with status {status})"
            )));
        }
        let status = session.exec(&shell_quote(&path), out).await?;
        if status != 0 {
            return Err(ProvisionError(format!(
                "error executing {path:?} ({what}): Process exited with status {status}"
            )));
        }
    }
    Ok(())
}

/// A number for `%RAND%`, different on every call.
fn random_suffix() -> u32 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    (h.finish() % 1_000_000_000) as u32
}
