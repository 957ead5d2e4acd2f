//! Backups of a workspace (`terrane backup` and `terrane restore`): consistent,
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

use crate::{LockGuard, Workspace};

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
pub struct Archive {
    pub state: Dump,
    /// Policy files, by path relative to the working directory.
    pub files: Vec<(String, String)>,
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

/// Where backups live: a directory, or a prefix in an S3-compatible bucket.
pub enum Store {
    Dir(PathBuf),
    #[cfg(feature = "aws")]
    S3(terrane_state::s3::S3Blobs),
}

impl Store {
    /// `DIR`, or `s3://BUCKET/PREFIX[?region=R&endpoint=URL]`; default
    /// `.terrane/backups`.
    pub fn parse(ws: &Workspace, to: Option<&Path>) -> Result<Store, String> {
        let Some(p) = to else {
            return Ok(Store::Dir(ws.dir.join(".terrane").join("backups")));
        };
        let text = p.to_string_lossy();
        if let Some(rest) = text.strip_prefix("s3://") {
            #[cfg(feature = "aws")]
            {
                let l = terrane_state::S3Location::parse(rest);
                return terrane_state::s3::S3Blobs::connect(
                    &l.bucket,
                    &l.key,
                    &l.region,
                    l.endpoint.as_deref(),
                )
                .map(Store::S3)
                .map_err(|e| e.to_string());
            }
            #[cfg(not(feature = "aws"))]
            {
                let _ = rest;
                return Err("backups to S3 need terrane built with the aws feature".into());
            }
        }
        Ok(Store::Dir(ws.dir.join(p)))
    }

    pub fn describe(&self) -> String {
        match self {
            Store::Dir(d) => d.display().to_string(),
            #[cfg(feature = "aws")]
            Store::S3(b) => b.describe(),
        }
    }

    /// Writes `ID/NAME` whole: a reader sees all of it or nothing.
    fn put(&self, id: &str, name: &str, bytes: &[u8]) -> Result<(), String> {
        match self {
            Store::Dir(d) => {
                let dir = d.join(id);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                terrane_secrets::write_private(&dir.join(name), bytes)
                    .map_err(|e| format!("writing {}: {e}", dir.join(name).display()))
            }
            #[cfg(feature = "aws")]
            Store::S3(b) => b
                .put(&format!("{id}/{name}"), bytes.to_vec())
                .map_err(|e| e.to_string()),
        }
    }

    fn get(&self, id: &str, name: &str) -> Result<Option<Vec<u8>>, String> {
        match self {
            Store::Dir(d) => match std::fs::read(d.join(id).join(name)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("reading {}: {e}", d.join(id).join(name).display())),
            },
            #[cfg(feature = "aws")]
            Store::S3(b) => b.get(&format!("{id}/{name}")).map_err(|e| e.to_string()),
        }
    }

    /// Every backup ID present, complete or not.
    fn ids(&self) -> Result<Vec<String>, String> {
        let mut ids = match self {
            Store::Dir(d) => match std::fs::read_dir(d) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect(),
                Err(_) => Vec::new(),
            },
            #[cfg(feature = "aws")]
            Store::S3(b) => b
                .list()
                .map_err(|e| e.to_string())?
                .iter()
                .filter_map(|k| k.split_once('/').map(|(id, _)| id.to_string()))
                .collect(),
        };
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Removes one backup; the manifest goes first, so a half-deleted backup is never
    /// complete.
    pub fn remove(&self, id: &str) -> Result<(), String> {
        match self {
            Store::Dir(d) => {
                let dir = d.join(id);
                let _ = std::fs::remove_file(dir.join(MANIFEST));
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| format!("removing {}: {e}", dir.display()))
            }
            #[cfg(feature = "aws")]
            Store::S3(b) => {
                b.delete(&format!("{id}/{MANIFEST}"))
                    .map_err(|e| e.to_string())?;
                b.delete(&format!("{id}/{PAYLOAD}"))
                    .map_err(|e| e.to_string())
            }
        }
    }
}

fn new_id() -> String {
    let t = format_time(now_secs())
        .replace(['-', ':'], "")
        .replace(' ', "T");
    format!("{t}Z-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Writes a backup of the workspace's state to `dest`; returns its manifest.
pub fn create(ws: &Workspace, dest: &Store) -> Result<Manifest, String> {
    // No lock: `export` reads one consistent snapshot (a read transaction; for the
    // document store, one object), so a backup never blocks an apply. A backup taken
    // during an apply holds that apply's serial as in progress, exactly as a crash at
    // that moment would leave it.
    let backend = ws.open_backend()?;
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
    dest.put(&id, PAYLOAD, sealed.as_bytes())?;
    let manifest = Manifest {
        format: 1,
        id: id.clone(),
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
    dest.put(&id, MANIFEST, &text)?;
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
    let dest = Store::parse(&ws, settings.to.as_deref().map(Path::new))?;
    let m = create(&ws, &dest)?;
    let within = settings
        .keep_within
        .as_deref()
        .map(terrane_state::retention::parse_duration)
        .transpose()?;
    let (done, _) = list(&dest)?;
    let ages: Vec<(String, u64)> = done.iter().map(|m| (m.id.clone(), m.created_at)).collect();
    let gone = terrane_state::retention::to_prune(&ages, settings.keep_last, within, now_secs());
    for id in &gone {
        dest.remove(id)?;
    }
    Ok(format!(
        "state backup {} (serial {}) in {}; {} old backups removed",
        m.id,
        m.serial,
        dest.describe(),
        gone.len()
    ))
}

/// Complete backups (with a manifest) in `dest`, oldest first, and the IDs of
/// those that never completed.
pub fn list(dest: &Store) -> Result<(Vec<Manifest>, Vec<String>), String> {
    let mut done = Vec::new();
    let mut partial = Vec::new();
    for id in dest.ids()? {
        match dest
            .get(&id, MANIFEST)?
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        {
            Some(m) if m.id == id => done.push(m),
            _ => partial.push(id),
        }
    }
    done.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((done, partial))
}

/// Reads backup `id` from `store`, checks its checksum, and opens it with the
/// workspace's key providers.
pub fn open(ws: &Workspace, store: &Store, id: &str) -> Result<(Manifest, Archive), String> {
    let where_ = format!("{}/{id}", store.describe());
    let Some(manifest) = store.get(id, MANIFEST)? else {
        if store.get(id, PAYLOAD)?.is_none() {
            return Err(format!(
                "there is no backup {id} in {}; `terrane backup list` shows the backups there",
                store.describe()
            ));
        }
        return Err(format!(
            "{where_} is not a complete backup (it has no {MANIFEST}); a backup without a manifest was interrupted and cannot be used"
        ));
    };
    let manifest: Manifest = serde_json::from_slice(&manifest)
        .map_err(|e| format!("the manifest of {where_} is damaged: {e}"))?;
    let sealed = store
        .get(id, PAYLOAD)?
        .ok_or_else(|| format!("{where_} has no payload"))?;
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
    key_material_present(ws, &manifest)?;
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

/// The store and ID of `backup`: a backup directory (or its path relative to the
/// working directory), or an ID in `from`.
pub fn resolve(
    ws: &Workspace,
    backup: &Path,
    from: Option<&Path>,
) -> Result<(Store, String), String> {
    for dir in [backup.to_path_buf(), ws.dir.join(backup)] {
        if dir.join(MANIFEST).exists() || (from.is_none() && dir.join(PAYLOAD).exists()) {
            let id = dir
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let parent = dir.parent().map(Path::to_path_buf).unwrap_or_default();
            return Ok((Store::Dir(parent), id));
        }
    }
    Ok((
        Store::parse(ws, from)?,
        backup.to_string_lossy().to_string(),
    ))
}

/// Refuses, before anything is generated or written, a backup whose data keys this
/// workspace has nothing to unwrap with, and says what the backup needs: without it a
/// new machine would generate a new age identity and then fail to unwrap.
fn key_material_present(ws: &Workspace, manifest: &Manifest) -> Result<(), String> {
    let configured = ws
        .module
        .terraform
        .encryption
        .as_ref()
        .and_then(|e| e.key_provider.as_ref())
        .is_some();
    if configured || std::env::var_os("TERRANE_PASSPHRASE").is_some() {
        return Ok(());
    }
    let identity = crate::secrets::default_identity(&ws.dir);
    if identity.exists() {
        return Ok(());
    }
    let needs: Vec<String> = manifest
        .keys
        .iter()
        .map(|k| match k.provider.split_once(':') {
            Some(("age", public)) => format!(
                "the age identity whose public key is {public} (the original workspace's .terrane/identity.txt): pass it with --identity FILE (or TERRANE_IDENTITY_FILE)"
            ),
            Some(("aws_kms", key)) => format!(
                "the AWS KMS key {key}: declare it in terraform {{ encryption {{ key_provider \"aws_kms\" {{ key_id = \"{key}\" }} }} }} with credentials that may use it"
            ),
            _ if k.provider == "passphrase" => {
                "the passphrase it was made with: set TERRANE_PASSPHRASE".to_string()
            }
            _ => format!("the key provider {:?}", k.provider),
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if needs.is_empty() {
        return Ok(());
    }
    Err(format!(
        "backup {}'s data keys are wrapped by key material this workspace does not have. A backup is only as recoverable as its key: it needs {}. Nothing was generated or written",
        manifest.id,
        needs.join("; or ")
    ))
}

/// Installs the age identity a backup needs as the workspace's default identity
/// (`restore --identity FILE`), unless the workspace has one already.
fn install_identity(ws: &Workspace, file: &Path) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read the identity file {}: {e}", file.display()))?;
    if !text
        .lines()
        .any(|l| l.trim_start().starts_with("AGE-SECRET-KEY-"))
    {
        return Err(format!(
            "{} is not an age identity file (it has no AGE-SECRET-KEY- line)",
            file.display()
        ));
    }
    let dest = crate::secrets::default_identity(&ws.dir);
    if dest.exists() {
        let current = std::fs::read_to_string(&dest).unwrap_or_default();
        if current.trim() == text.trim() {
            return Ok(());
        }
        return Err(format!(
            "{} already holds another identity; move it away first if the backup's identity should replace it",
            dest.display()
        ));
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&dest)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .map_err(|e| format!("writing {}: {e}", dest.display()))
}

/// Restores a backup into the workspace's (empty) backend, first installing the age
/// identity `identity` (the original workspace's `.terrane/identity.txt`) when given.
pub fn restore(
    ws: &Workspace,
    backup: &Path,
    from: Option<&Path>,
    identity: Option<&Path>,
) -> Result<String, String> {
    if let Some(file) = identity {
        install_identity(ws, file)?;
    }
    let (store, id) = resolve(ws, backup, from)?;
    let (manifest, archive) = open(ws, &store, &id)?;
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

/// Removes the complete backups in `store` that neither the last `keep_last` nor
/// those younger than `keep_within` (seconds) keep; `removed` hears each one as it
/// goes. Returns how many were kept and removed.
pub fn prune(
    store: &Store,
    keep_last: Option<usize>,
    keep_within: Option<u64>,
    removed: &dyn Fn(&str),
) -> Result<(usize, usize), String> {
    let (done, _) = list(store)?;
    let ages: Vec<(String, u64)> = done.iter().map(|m| (m.id.clone(), m.created_at)).collect();
    let gone = terrane_state::retention::to_prune(&ages, keep_last, keep_within, now_secs());
    for id in &gone {
        store.remove(id)?;
        removed(id);
    }
    Ok((done.len() - gone.len(), gone.len()))
}
