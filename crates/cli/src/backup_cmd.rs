//! `terrane backup create|list|verify|prune` and `terrane restore`: consistent,
//! checksummed, encrypted snapshots of a workspace — its state with every serial of
//! history, its secrets (still sealed) and its policy files — in a directory.
//!
//! Layout: `DEST/<id>/payload` (the sealed archive) and `DEST/<id>/manifest.json`.
//! The manifest is written last, atomically, and carries the payload's SHA-256: a
//! backup without a manifest (a run killed midway) is never listed as complete, and a
//! payload that does not match its checksum is refused.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;
use terrane_state::lock::{format_time, now_secs};
use terrane_state::{Dump, WrappedKey};

use crate::commands::fail;
use crate::workspace::{LockGuard, Workspace};
use crate::BackupCommand;

const PAYLOAD: &str = "payload";
const MANIFEST: &str = "manifest.json";
/// The context the payload is sealed under (bound to the backup's ID).
fn context(id: &str) -> String {
    format!("backup {id}")
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    /// Seconds since the epoch.
    pub created_at: u64,
    pub lineage: String,
    pub serial: u64,
    pub serials: usize,
    pub resources: usize,
    pub secrets: usize,
    pub files: usize,
    pub sha256: String,
    pub size: u64,
    /// The wrapped data keys that open the payload (and the state's sealed values).
    pub keys: Vec<WrappedKey>,
}

#[derive(Serialize, Deserialize)]
struct Archive {
    state: Dump,
    /// Policy files, by path relative to the working directory.
    files: Vec<(String, String)>,
}

/// The policy files of the workspace: every `.rego` file under it.
fn policy_files(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<(String, String)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else if name.ends_with(".rego") {
                if let (Ok(rel), Ok(text)) = (p.strip_prefix(root), std::fs::read_to_string(&p)) {
                    out.push((rel.to_string_lossy().to_string(), text));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

fn dest_dir(ws: &Workspace, to: Option<&Path>) -> PathBuf {
    match to {
        Some(p) if p.is_absolute() => p.to_path_buf(),
        Some(p) => ws.dir.join(p),
        None => ws.dir.join(".terrane").join("backups"),
    }
}

fn new_id() -> String {
    let t = format_time(now_secs())
        .replace(['-', ':'], "")
        .replace(' ', "T");
    format!("{t}Z-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Writes a backup of the workspace's state to `dest`; returns its manifest.
pub fn create(ws: &Workspace, dest: &Path) -> Result<Manifest, String> {
    let mut backend = ws.open_backend()?;
    // The lock makes the snapshot consistent: no apply is halfway through it.
    let _lock = LockGuard::acquire(backend.as_mut(), "backup").map_err(|e| e.to_string())?;
    let state = backend.export().map_err(|e| e.to_string())?;
    let files = policy_files(&ws.dir);
    let id = new_id();
    let current = state.current_serial();
    let (serials, resources, secrets) = (
        state.serials.len(),
        state
            .resources
            .iter()
            .filter(|r| r.serial_to.is_none())
            .count(),
        state.secrets.len(),
    );
    let lineage = state.lineage.clone();
    let mut keys = state.keys.clone();
    let archive = serde_json::to_vec(&Archive {
        state,
        files: files.clone(),
    })
    .map_err(|e| e.to_string())?;
    let enc = ws.encryption(keys.clone());
    let sealed = enc
        .vault
        .seal(&archive, &context(&id))
        .map_err(|e| e.to_string())?;
    if let Some(k) = enc.vault.take_created() {
        keys.push(k);
    }
    let dir = dest.join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    terrane_secrets::write_private(&dir.join(PAYLOAD), sealed.as_bytes())
        .map_err(|e| format!("writing the backup: {e}"))?;
    let manifest = Manifest {
        format: 1,
        id,
        created_at: now_secs(),
        lineage,
        serial: current,
        serials,
        resources,
        secrets,
        files: files.len(),
        sha256: hex::encode(sha2::Sha256::digest(sealed.as_bytes())),
        size: sealed.len() as u64,
        keys,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    // Last, and atomically: only now is the backup complete.
    terrane_secrets::write_private(&dir.join(MANIFEST), &text)
        .map_err(|e| format!("writing the backup manifest: {e}"))?;
    Ok(manifest)
}

/// The scheduled backup the agent runs: a new backup where the configuration's
/// `backup` block says, then its retention.
pub fn scheduled(dir: &Path) -> Result<String, String> {
    let (ws, _) = Workspace::load(dir);
    let settings = ws
        .module
        .terraform
        .backup
        .clone()
        .ok_or("the configuration has no backup block")?;
    let dest = dest_dir(&ws, settings.to.as_deref().map(Path::new));
    let m = create(&ws, &dest)?;
    let within = settings
        .keep_within
        .as_deref()
        .map(terrane_state::retention::parse_duration)
        .transpose()?;
    let (done, _) = list(&dest);
    let ages: Vec<(String, u64)> = done.iter().map(|m| (m.id.clone(), m.created_at)).collect();
    let gone = terrane_state::retention::to_prune(&ages, settings.keep_last, within, now_secs());
    for id in &gone {
        remove(&dest, id)?;
    }
    Ok(format!(
        "state backup {} (serial {}) in {}; {} old backups removed",
        m.id,
        m.serial,
        dest.display(),
        gone.len()
    ))
}

/// Removes one backup; the manifest goes first, so a half-deleted backup is never
/// complete.
fn remove(dest: &Path, id: &str) -> Result<(), String> {
    let d = dest.join(id);
    let _ = std::fs::remove_file(d.join(MANIFEST));
    std::fs::remove_dir_all(&d).map_err(|e| format!("removing {}: {e}", d.display()))
}

/// Complete backups (with a manifest) in `dest`, oldest first, and the names of
/// directories that never completed.
pub fn list(dest: &Path) -> (Vec<Manifest>, Vec<String>) {
    let mut done = Vec::new();
    let mut partial = Vec::new();
    let Ok(rd) = std::fs::read_dir(dest) else {
        return (done, partial);
    };
    for e in rd.filter_map(|e| e.ok()) {
        if !e.path().is_dir() {
            continue;
        }
        let name = e.file_name().to_string_lossy().to_string();
        match std::fs::read(e.path().join(MANIFEST))
            .ok()
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        {
            Some(m) if m.id == name => done.push(m),
            _ => partial.push(name),
        }
    }
    done.sort_by(|a, b| a.id.cmp(&b.id));
    partial.sort();
    (done, partial)
}

/// Reads a backup, checks its checksum, and opens it with the workspace's key
/// providers. `path` is a backup directory, or an ID under `dest`.
fn open(ws: &Workspace, path: &Path) -> Result<(Manifest, Archive), String> {
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(path.join(MANIFEST)).map_err(|e| {
            format!(
                "{} is not a complete backup (no readable {MANIFEST}: {e}); a backup without a manifest was interrupted and cannot be used",
                path.display()
            )
        })?,
    )
    .map_err(|e| format!("the manifest of {} is damaged: {e}", path.display()))?;
    let sealed = std::fs::read(path.join(PAYLOAD))
        .map_err(|e| format!("reading the backup payload: {e}"))?;
    let sum = hex::encode(sha2::Sha256::digest(&sealed));
    if sum != manifest.sha256 || sealed.len() as u64 != manifest.size {
        return Err(format!(
            "backup {} is corrupt: its payload's SHA-256 is {sum}, the manifest recorded {} ({} bytes recorded, {} found). It was not used",
            manifest.id,
            manifest.sha256,
            manifest.size,
            sealed.len()
        ));
    }
    let enc = ws.encryption(manifest.keys.clone());
    let text = std::str::from_utf8(&sealed).map_err(|e| e.to_string())?;
    let plain = enc
        .vault
        .open(text, &context(&manifest.id))
        .map_err(|e| format!("backup {}: {e}", manifest.id))?;
    let archive: Archive = serde_json::from_slice(&plain)
        .map_err(|e| format!("backup {}: the archive does not parse: {e}", manifest.id))?;
    archive.state.validate().map_err(|e| e.to_string())?;
    if archive.state.lineage != manifest.lineage {
        return Err(format!(
            "backup {}: the archive does not match its manifest",
            manifest.id
        ));
    }
    Ok((manifest, archive))
}

fn resolve(ws: &Workspace, backup: &Path, from: Option<&Path>) -> PathBuf {
    if backup.join(MANIFEST).exists() || backup.is_absolute() {
        return backup.to_path_buf();
    }
    let rel = ws.dir.join(backup);
    if rel.join(MANIFEST).exists() {
        return rel;
    }
    dest_dir(ws, from).join(backup)
}

/// Restores a backup into the workspace's (empty) backend.
pub fn restore(ws: &Workspace, backup: &Path, from: Option<&Path>) -> Result<String, String> {
    let path = resolve(ws, backup, from);
    let (manifest, archive) = open(ws, &path)?;
    let mut backend = ws.open_backend()?;
    let _lock = LockGuard::acquire(backend.as_mut(), "restore").map_err(|e| e.to_string())?;
    backend.import(&archive.state).map_err(|e| e.to_string())?;
    let mut restored_files = 0;
    for (rel, text) in &archive.files {
        let p = ws.dir.join(rel);
        if p.exists() {
            continue;
        }
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&p, text).map_err(|e| format!("writing {}: {e}", p.display()))?;
        restored_files += 1;
    }
    Ok(format!(
        "Restored backup {} into {}: serial {} with {} serials of history, {} resources, {} secret versions; {} policy files written ({} already present). Run terrane plan to compare it with the real infrastructure.",
        manifest.id,
        backend.describe(),
        manifest.serial,
        manifest.serials,
        manifest.resources,
        manifest.secrets,
        restored_files,
        archive.files.len() - restored_files
    ))
}

pub fn run(dir: &Path, cmd: BackupCommand) -> u8 {
    let (ws, _) = Workspace::load(dir);
    match cmd {
        BackupCommand::Create { to } => {
            let dest = dest_dir(&ws, to.as_deref());
            eprintln!(
                "Backing up {} to {}...",
                ws.backend_spec().map(|s| s.describe()).unwrap_or_default(),
                dest.display()
            );
            match create(&ws, &dest) {
                Ok(m) => {
                    println!(
                        "Backup {} created: serial {}, {} serials of history, {} resources, {} secret versions, {} policy files, {} bytes (sha256 {}).",
                        m.id, m.serial, m.serials, m.resources, m.secrets, m.files, m.size, &m.sha256[..16]
                    );
                    0
                }
                Err(e) => fail(format!(
                    "the backup failed: {e}. No complete backup was recorded"
                )),
            }
        }
        BackupCommand::List { from } => {
            let dest = dest_dir(&ws, from.as_deref());
            let (done, partial) = list(&dest);
            if done.is_empty() {
                println!("No complete backups in {}.", dest.display());
            } else {
                println!(
                    "{:<26}  {:<19}  {:>6}  {:>9}  {:>10}",
                    "ID", "CREATED (UTC)", "SERIAL", "RESOURCES", "BYTES"
                );
                for m in &done {
                    println!(
                        "{:<26}  {:<19}  {:>6}  {:>9}  {:>10}",
                        m.id,
                        format_time(m.created_at),
                        m.serial,
                        m.resources,
                        m.size
                    );
                }
            }
            for p in &partial {
                println!("incomplete (interrupted, not usable): {p}");
            }
            0
        }
        BackupCommand::Verify { backup, from } => {
            let path = resolve(&ws, &backup, from.as_deref());
            match open(&ws, &path) {
                Ok((m, a)) => {
                    println!(
                        "Backup {} is intact: checksum matches, it decrypts, and its state (lineage {}, serial {}, {} row versions) is consistent.",
                        m.id,
                        m.lineage,
                        m.serial,
                        a.state.resources.len()
                    );
                    0
                }
                Err(e) => fail(e),
            }
        }
        BackupCommand::RestoreData { from, snapshot } => {
            let from = if from.is_absolute() {
                from
            } else {
                ws.dir.join(from)
            };
            match terrane_agent::backup::restore(&from, snapshot.as_deref()) {
                Ok((m, n)) => {
                    println!(
                        "Restored snapshot {} of policy {}: {n} files written back to {}.",
                        m.id,
                        m.policy,
                        m.paths.join(", ")
                    );
                    0
                }
                Err(e) => fail(e),
            }
        }
        BackupCommand::Prune {
            from,
            keep_last,
            keep_within,
        } => {
            let within = match keep_within
                .as_deref()
                .map(terrane_state::retention::parse_duration)
                .transpose()
            {
                Ok(w) => w,
                Err(e) => return fail(e),
            };
            if keep_last.is_none() && within.is_none() {
                return fail(
                    "say what to keep: --keep-last N and/or --keep-within DURATION (e.g. 7d)",
                );
            }
            let dest = dest_dir(&ws, from.as_deref());
            let (done, _) = list(&dest);
            let ages: Vec<(String, u64)> =
                done.iter().map(|m| (m.id.clone(), m.created_at)).collect();
            let gone = terrane_state::retention::to_prune(&ages, keep_last, within, now_secs());
            for id in &gone {
                if let Err(e) = remove(&dest, id) {
                    return fail(e);
                }
                println!("Removed backup {id}.");
            }
            println!(
                "Kept {} backups, removed {}.",
                done.len() - gone.len(),
                gone.len()
            );
            0
        }
    }
}
