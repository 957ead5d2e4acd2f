//! Scheduled backups run by the agent: the workspace's state (the job comes from the
//! CLI, which knows the configuration and keys) and the data of local services
//! (`local_backup_policy`: files and directories copied into snapshots).
//!
//! A data snapshot is `DEST/<id>/files/...` plus `DEST/<id>/manifest.json`, written
//! last and atomically, with every file's SHA-256: an interrupted snapshot has no
//! manifest and is never used, and a restore checks every file before it writes any.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::state::AgentState;

pub use terrane_agent_api::backup::{
    parse_schedule, BackupPolicySpec, BackupPolicyStatus, JobStatus,
};

/// The state-backup job of the workspace, from the CLI: the schedule the
/// configuration sets (None: no scheduled backups), and the job itself.
#[derive(Clone)]
pub struct StateBackupJob {
    pub schedule: ScheduleOf,
    pub run: RunBackup,
}

/// The cron schedule the workspace at a path configures, if any.
pub type ScheduleOf = Arc<dyn Fn(&Path) -> Option<String> + Send + Sync>;
/// Runs one backup of the workspace at a path; a summary line or an error.
pub type RunBackup = Arc<dyn Fn(&Path) -> Result<String, String> + Send + Sync>;

fn next_after(cron: &croner::Cron, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.find_next_occurrence(&now, false).ok()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileEntry {
    /// Where the file came from (and is restored to).
    pub source: String,
    /// Its path inside the snapshot's `files/` directory.
    pub stored: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotManifest {
    pub id: String,
    pub policy: String,
    /// Milliseconds since the epoch.
    pub created_at_ms: u64,
    pub paths: Vec<String>,
    pub files: Vec<FileEntry>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)?.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            collect(&e.path(), out)?;
        }
    } else if meta.is_file() {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Takes one snapshot of `spec.paths` into `spec.destination`, then applies
/// `keep_last`. Missing paths are skipped (a service may not have written yet).
pub fn snapshot(policy: &str, spec: &BackupPolicySpec) -> Result<SnapshotManifest, String> {
    let dest = PathBuf::from(&spec.destination);
    let created_at_ms = now_ms();
    let id = format!(
        "{}-{:03}-{}",
        DateTime::<Utc>::from_timestamp_millis(created_at_ms as i64)
            .map(|t| t.format("%Y%m%dT%H%M%S").to_string())
            .unwrap_or_default(),
        created_at_ms % 1000,
        &format!("{:08x}", rand::random::<u32>())
    );
    let dir = dest.join(&id);
    let files_dir = dir.join("files");
    std::fs::create_dir_all(&files_dir)
        .map_err(|e| format!("creating {}: {e}", files_dir.display()))?;
    let mut files = Vec::new();
    for p in &spec.paths {
        let mut found = Vec::new();
        match collect(Path::new(p), &mut found) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("reading {p}: {e}")),
        }
        for f in found {
            let bytes = match std::fs::read(&f) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("reading {}: {e}", f.display())),
            };
            let stored = format!("{:06}", files.len());
            std::fs::write(files_dir.join(&stored), &bytes)
                .map_err(|e| format!("writing the snapshot: {e}"))?;
            files.push(FileEntry {
                source: f.display().to_string(),
                stored,
                sha256: hex::encode(sha2::Sha256::digest(&bytes)),
                size: bytes.len() as u64,
            });
        }
    }
    let manifest = SnapshotManifest {
        id: id.clone(),
        policy: policy.to_string(),
        created_at_ms,
        paths: spec.paths.clone(),
        files,
    };
    let tmp = dir.join("manifest.json.tmp");
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    write_synced(&tmp, &text)?;
    std::fs::rename(&tmp, dir.join("manifest.json"))
        .map_err(|e| format!("finishing the snapshot: {e}"))?;
    if let Some(keep) = spec.keep_last {
        let (done, _) = list_snapshots(&dest);
        let ages: Vec<(String, u64)> = done
            .iter()
            .map(|m| (m.id.clone(), m.created_at_ms / 1000))
            .collect();
        for old in terrane_state::retention::to_prune(&ages, Some(keep), None, 0) {
            let d = dest.join(&old);
            let _ = std::fs::remove_file(d.join("manifest.json"));
            let _ = std::fs::remove_dir_all(d);
        }
    }
    Ok(manifest)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut f =
        std::fs::File::create(path).map_err(|e| format!("writing {}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Complete snapshots in `dest`, oldest first, and interrupted ones (no manifest).
pub fn list_snapshots(dest: &Path) -> (Vec<SnapshotManifest>, Vec<String>) {
    let (mut done, mut partial) = (Vec::new(), Vec::new());
    let Ok(rd) = std::fs::read_dir(dest) else {
        return (done, partial);
    };
    for e in rd.filter_map(|e| e.ok()).filter(|e| e.path().is_dir()) {
        let name = e.file_name().to_string_lossy().to_string();
        match std::fs::read(e.path().join("manifest.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<SnapshotManifest>(&b).ok())
        {
            Some(m) if m.id == name => done.push(m),
            _ => partial.push(name),
        }
    }
    done.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
    partial.sort();
    (done, partial)
}

/// Restores a snapshot (the latest, or `id`) to where its files came from. Every
/// file is checked against its checksum first; a corrupt snapshot writes nothing.
/// The paths the snapshot covered are reset to exactly its contents.
pub fn restore(dest: &Path, id: Option<&str>) -> Result<(SnapshotManifest, usize), String> {
    let (done, _) = list_snapshots(dest);
    let m = match id {
        Some(id) => done
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| format!("no complete snapshot {id} in {}", dest.display()))?,
        None => done
            .into_iter()
            .last()
            .ok_or_else(|| format!("no complete snapshot in {}", dest.display()))?,
    };
    let dir = dest.join(&m.id).join("files");
    let mut contents = Vec::new();
    for f in &m.files {
        let bytes =
            std::fs::read(dir.join(&f.stored)).map_err(|e| format!("snapshot {}: {e}", m.id))?;
        if hex::encode(sha2::Sha256::digest(&bytes)) != f.sha256 {
            return Err(format!(
                "snapshot {} is corrupt: {} does not match its checksum; nothing was restored",
                m.id, f.source
            ));
        }
        contents.push((f.source.clone(), bytes));
    }
    for (source, bytes) in &contents {
        let p = Path::new(source);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        let tmp = p.with_extension("terrane-restore");
        write_synced(&tmp, bytes)?;
        std::fs::rename(&tmp, p).map_err(|e| format!("restoring {source}: {e}"))?;
    }
    Ok((m, contents.len()))
}

/// Runs the scheduled jobs forever: each backup policy, and the workspace's state
/// backup when the configuration sets one.
pub async fn scheduler(workspace: PathBuf, state: Arc<AgentState>, job: Option<StateBackupJob>) {
    let mut next: BTreeMap<String, (String, DateTime<Utc>)> = BTreeMap::new();
    let mut config_checked = std::time::Instant::now() - Duration::from_secs(60);
    let mut state_schedule: Option<String> = None;
    let mut wait = Duration::from_millis(200);
    loop {
        // Wake at the next due time (any lateness counts against RPO), or every
        // 200 ms to notice new policies.
        tokio::time::sleep(wait).await;
        let now = Utc::now();
        // The configuration may change while the agent runs: look again every 5 s.
        if let Some(job) = &job {
            if config_checked.elapsed() >= Duration::from_secs(5) {
                config_checked = std::time::Instant::now();
                let (s, ws) = (job.schedule.clone(), workspace.clone());
                state_schedule = tokio::task::spawn_blocking(move || s(&ws))
                    .await
                    .ok()
                    .flatten();
            }
        }
        let mut jobs: Vec<(String, String)> = state
            .backup_policies
            .lock()
            .await
            .iter()
            .map(|(name, spec)| (format!("policy/{name}"), spec.schedule.clone()))
            .collect();
        if let Some(s) = &state_schedule {
            jobs.push(("state".into(), s.clone()));
        }
        next.retain(|k, _| jobs.iter().any(|(j, _)| j == k));
        for (key, schedule) in jobs {
            let cron = match parse_schedule(&schedule) {
                Ok(c) => c,
                Err(e) => {
                    record(&state, &key, &schedule, Err(e), 0, None).await;
                    continue;
                }
            };
            let due = match next.get(&key) {
                Some((s, at)) if *s == schedule => *at,
                _ => {
                    let Some(at) = next_after(&cron, now) else {
                        continue;
                    };
                    next.insert(key.clone(), (schedule.clone(), at));
                    set_next(&state, &key, &schedule, at).await;
                    continue;
                }
            };
            if now < due {
                continue;
            }
            // The workspace's state is backed up by the leading agent only.
            if key == "state" && !state.leader.load(std::sync::atomic::Ordering::SeqCst) {
                if let Some(at) = next_after(&cron, Utc::now()) {
                    next.insert(key.clone(), (schedule.clone(), at));
                }
                continue;
            }
            let started = std::time::Instant::now();
            let result = run_job(&workspace, &state, &key, job.as_ref()).await;
            let at = next_after(&cron, Utc::now());
            if let Some(at) = at {
                next.insert(key.clone(), (schedule.clone(), at));
            }
            record(
                &state,
                &key,
                &schedule,
                result,
                started.elapsed().as_millis() as u64,
                at,
            )
            .await;
        }
        let soonest = next.values().map(|(_, at)| *at).min();
        wait = soonest
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .unwrap_or(Duration::from_millis(1))
            .clamp(Duration::from_millis(1), Duration::from_millis(200));
    }
}

async fn run_job(
    workspace: &Path,
    state: &Arc<AgentState>,
    key: &str,
    job: Option<&StateBackupJob>,
) -> Result<String, String> {
    if key == "state" {
        let Some(job) = job else {
            return Err("no state backup job".into());
        };
        let (run, ws) = (job.run.clone(), workspace.to_path_buf());
        return tokio::task::spawn_blocking(move || run(&ws))
            .await
            .unwrap_or_else(|e| Err(format!("the backup panicked: {e}")));
    }
    let name = key.trim_start_matches("policy/").to_string();
    let Some(spec) = state.backup_policies.lock().await.get(&name).cloned() else {
        return Err("the policy was removed".into());
    };
    tokio::task::spawn_blocking(move || {
        snapshot(&name, &spec).map(|m| {
            format!(
                "snapshot {} ({} files) in {}",
                m.id,
                m.files.len(),
                spec.destination
            )
        })
    })
    .await
    .unwrap_or_else(|e| Err(format!("the snapshot panicked: {e}")))
}

async fn set_next(state: &AgentState, key: &str, schedule: &str, at: DateTime<Utc>) {
    let mut all = state.backup_jobs.lock().await;
    let s = all.entry(key.to_string()).or_default();
    s.schedule = schedule.to_string();
    s.next_run = Some(at.to_rfc3339());
}

async fn record(
    state: &AgentState,
    key: &str,
    schedule: &str,
    result: Result<String, String>,
    took_ms: u64,
    next: Option<DateTime<Utc>>,
) {
    let mut all = state.backup_jobs.lock().await;
    let s = all.entry(key.to_string()).or_default();
    let repeated_error = result
        .as_ref()
        .err()
        .is_some_and(|e| s.last_error.as_ref() == Some(e));
    s.schedule = schedule.to_string();
    s.next_run = next.map(|t| t.to_rfc3339());
    s.last_duration_ms = took_ms;
    match &result {
        Ok(msg) => {
            s.runs += 1;
            s.last_success = Some(crate::supervisor::now_secs());
            s.last_error = None;
            drop(all);
            state.supervisor.event(
                "backup",
                format!("Backup {key} done in {took_ms} ms: {msg}."),
            );
        }
        Err(e) => {
            s.failures += 1;
            s.last_error = Some(e.clone());
            drop(all);
            if !repeated_error {
                state
                    .supervisor
                    .event("backup", format!("Backup {key} failed: {e}."));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_restore_exactly_and_refuse_corruption() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::write(data.join("a.txt"), "one").unwrap();
        std::fs::write(data.join("sub/b.txt"), "two").unwrap();
        let spec = BackupPolicySpec {
            paths: vec![data.display().to_string()],
            destination: t.path().join("snaps").display().to_string(),
            schedule: "* * * * *".into(),
            keep_last: Some(2),
        };
        let first = snapshot("p", &spec).unwrap();
        assert_eq!(first.files.len(), 2);
        std::fs::write(data.join("a.txt"), "changed").unwrap();
        snapshot("p", &spec).unwrap();
        snapshot("p", &spec).unwrap();
        let (done, partial) = list_snapshots(Path::new(&spec.destination));
        assert_eq!(done.len(), 2, "keep_last 2");
        assert!(partial.is_empty());
        assert!(
            !done.iter().any(|m| m.id == first.id),
            "the oldest was pruned"
        );
        std::fs::remove_dir_all(&data).unwrap();
        let (m, n) = restore(Path::new(&spec.destination), None).unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            std::fs::read_to_string(data.join("a.txt")).unwrap(),
            "changed"
        );
        assert_eq!(
            std::fs::read_to_string(data.join("sub/b.txt")).unwrap(),
            "two"
        );
        // Corrupt one stored file: the restore refuses and writes nothing.
        let stored = Path::new(&spec.destination)
            .join(&m.id)
            .join("files")
            .join(&m.files[0].stored);
        std::fs::write(stored, "evil").unwrap();
        std::fs::write(data.join("a.txt"), "live").unwrap();
        let err = restore(Path::new(&spec.destination), Some(&m.id)).unwrap_err();
        assert!(err.contains("corrupt"), "{err}");
        assert_eq!(std::fs::read_to_string(data.join("a.txt")).unwrap(), "live");
    }

    #[test]
    fn schedules_parse_with_or_without_seconds() {
        assert!(parse_schedule("0 3 * * *").is_ok());
        assert!(parse_schedule("*/2 * * * * *").is_ok());
        let e = parse_schedule("every day").unwrap_err();
        assert!(e.contains("cron"), "{e}");
        let c = parse_schedule("*/2 * * * * *").unwrap();
        let t = DateTime::<Utc>::from_timestamp(1_000_000_001, 0).unwrap();
        assert_eq!(next_after(&c, t).unwrap().timestamp(), 1_000_000_002);
    }
}
