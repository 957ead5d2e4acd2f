//! `terrane backup create|list|verify|prune|restore-data`: the terminal side of
//! `terrane_workspace::backup`.

use std::path::Path;

use terrane_state::lock::format_time;
use terrane_workspace::backup::{create, list, open, prune, resolve, Store};
use terrane_workspace::Workspace;

use crate::args::BackupCommand;
use crate::session::fail;

pub fn run(dir: &Path, cmd: BackupCommand) -> u8 {
    let (ws, _) = Workspace::load(dir);
    match cmd {
        BackupCommand::Create { to } => {
            let dest = or_fail!(Store::parse(&ws, to.as_deref()));
            eprintln!(
                "Backing up {} to {}...",
                ws.backend_spec().map(|s| s.describe()).unwrap_or_default(),
                dest.describe()
            );
            match create(&ws, &dest) {
                Ok(m) => {
                    outln!(
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
            let listed = Store::parse(&ws, from.as_deref()).and_then(|d| Ok((list(&d)?, d)));
            let ((done, partial), dest) = or_fail!(listed);
            if done.is_empty() {
                outln!("No complete backups in {}.", dest.describe());
            } else {
                outln!(
                    "{:<26}  {:<19}  {:>6}  {:>9}  {:>10}",
                    "ID",
                    "CREATED (UTC)",
                    "SERIAL",
                    "RESOURCES",
                    "BYTES"
                );
                for m in &done {
                    outln!(
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
                outln!("incomplete (interrupted, not usable): {p}");
            }
            0
        }
        BackupCommand::Verify { backup, from } => {
            let opened = resolve(&ws, &backup, from.as_deref())
                .and_then(|(store, id)| open(&ws, &store, &id));
            match opened {
                Ok((m, a)) => {
                    outln!(
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
            let from = ws.dir.join(from);
            match terrane_agent::backup::restore(&from, snapshot.as_deref()) {
                Ok((m, n)) => {
                    outln!(
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
            let pruned = Store::parse(&ws, from.as_deref())
                .and_then(|d| prune(&d, keep_last, within, &|id| outln!("Removed backup {id}.")));
            match pruned {
                Ok((kept, removed)) => outln!("Kept {kept} backups, removed {removed}."),
                Err(e) => return fail(e),
            }
            0
        }
    }
}
