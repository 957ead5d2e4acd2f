//! Drift repair: files managed by terrane that were edited or removed outside it are
//! restored by the agent from state, and each repair is recorded as an event.
//!
//! A pass is skipped while the state is locked (an apply may be between writing a file
//! and recording it), so the agent never undoes a change that is in flight.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::Engine as _;
use sha1::Digest as _;
use terrane_core::Value;

use crate::supervisor::Supervisor;

/// One pass over the workspace's managed files. Returns how many were repaired.
/// `open` opens the state with the workspace's encryption (sensitive contents are
/// encrypted in state); it fails when there is no state yet.
pub fn repair_files(workspace: &Path, supervisor: &Supervisor, open: &crate::StateOpener) -> usize {
    let backend = match open() {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!(error = %e, "Drift repair skipped: the state cannot be opened.");
            return 0;
        }
    };
    let locked = backend
        .current_lock()
        .ok()
        .flatten()
        .is_some_and(|l| !l.is_stale(terrane_state::lock::now_secs()));
    if locked {
        return 0;
    }
    let state = match backend.read_current() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "Drift repair skipped: the state cannot be read.");
            return 0;
        }
    };
    let mut repaired = 0;
    for inst in state.resources.values() {
        let t = inst.addr.resource.type_name.as_str();
        if t != "local_file" && t != "local_sensitive_file" {
            continue;
        }
        let (v, _) = inst.value.unmark();
        let Some(filename) = v.get("filename").and_then(Value::as_str) else {
            continue;
        };
        let Some(id) = v.get("id").and_then(Value::as_str) else {
            continue;
        };
        let path = if Path::new(filename).is_absolute() {
            Path::new(filename).to_path_buf()
        } else {
            workspace.join(filename)
        };
        let current = std::fs::read(&path)
            .ok()
            .map(|b| hex::encode(sha1::Sha1::digest(&b)));
        if current.as_deref() == Some(id) {
            continue;
        }
        let bytes = match (
            v.get("content").and_then(Value::as_str),
            v.get("content_base64").and_then(Value::as_str),
        ) {
            (Some(c), _) => c.as_bytes().to_vec(),
            (None, Some(b)) => match base64::engine::general_purpose::STANDARD.decode(b) {
                Ok(b) => b,
                Err(_) => continue,
            },
            (None, None) => Vec::new(),
        };
        if hex::encode(sha1::Sha1::digest(&bytes)) != id {
            continue; // The recorded content does not match its own hash; leave it to a plan.
        }
        let mode = v
            .get("file_permission")
            .and_then(Value::as_str)
            .and_then(|m| u32::from_str_radix(m, 8).ok())
            .unwrap_or(0o644);
        let what = if current.is_none() {
            "was removed"
        } else {
            "was changed"
        };
        match write(&path, &bytes, mode) {
            Ok(()) => {
                repaired += 1;
                supervisor.event(&inst.addr.to_string(), format!("Repaired drift: {filename} {what} outside terrane; restored the recorded content."));
            }
            Err(e) => supervisor.event(
                &inst.addr.to_string(),
                format!("Could not repair drift of {filename}: {e}"),
            ),
        }
    }
    repaired
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("terrane-repair");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    std::fs::rename(&tmp, path)
}
