//! The SQLite state backend: one database file, one row per resource instance and
//! serial range, written in WAL mode so that each change is durable when `write`
//! returns and a crash (even `kill -9`) loses nothing that was reported done.
//!
//! **Invariant:** an existing file is never modified unless it is a terrane state of a
//! format this build understands; anything else is refused with a clear error.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use terrane_core::{InstanceAddr, Value};

use crate::lock::{now_secs, username, LockInfo, LEASE_SECS};
use crate::{
    Backend, Change, InstanceState, OutputState, Result, SerialInfo, SerialStatus, Snapshot,
    StateError, FORMAT_VERSION,
};

pub struct SqliteBackend {
    conn: Connection,
    path: PathBuf,
    lineage: String,
}

const SCHEMA_V1: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE serials (
    serial INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    operation TEXT NOT NULL,
    user TEXT NOT NULL,
    status TEXT NOT NULL,
    changed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE resources (
    address TEXT NOT NULL,
    serial_from INTEGER NOT NULL,
    serial_to INTEGER,
    provider TEXT NOT NULL,
    value TEXT NOT NULL,
    sensitive TEXT NOT NULL,
    deps TEXT NOT NULL,
    cbd INTEGER NOT NULL
);
CREATE INDEX resources_current ON resources(address) WHERE serial_to IS NULL;
CREATE INDEX resources_range ON resources(serial_from, serial_to);
CREATE TABLE outputs (
    name TEXT NOT NULL,
    serial_from INTEGER NOT NULL,
    serial_to INTEGER,
    value TEXT NOT NULL,
    sensitive INTEGER NOT NULL
);
CREATE INDEX outputs_current ON outputs(name) WHERE serial_to IS NULL;
CREATE TABLE locks (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    lock_id TEXT NOT NULL,
    info TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
";

/// Forward migrations, indexed by the version they migrate *from* (1 → 2 is `MIGRATIONS[0]`).
const MIGRATIONS: &[&str] = &[];

fn corrupt(path: &Path, reason: impl Into<String>) -> StateError {
    StateError::Corrupt {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

impl SqliteBackend {
    /// Opens (or creates) the state database at `path`.
    pub fn open(path: &Path) -> Result<SqliteBackend> {
        let existed = path.exists()
            && std::fs::metadata(path)
                .map(|m| m.len() > 0)
                .unwrap_or(false);
        if existed {
            let mut header = [0u8; 16];
            use std::io::Read;
            let ok = std::fs::File::open(path)
                .and_then(|mut f| f.read_exact(&mut header))
                .is_ok();
            if !ok || &header != b"SQLite format 3\0" {
                return Err(corrupt(path, "the file is not a SQLite database"));
            }
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| StateError::Storage(format!("creating {}: {e}", parent.display())))?;
        }
        let conn = Connection::open(path).map_err(|e| corrupt(path, e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| corrupt(path, e.to_string()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mut backend = SqliteBackend {
            conn,
            path: path.to_path_buf(),
            lineage: String::new(),
        };
        backend.init(existed)?;
        Ok(backend)
    }

    fn init(&mut self, existed: bool) -> Result<()> {
        let has_meta: bool = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| corrupt(&self.path, e.to_string()))?
            > 0;
        if !has_meta {
            let tables: i64 =
                self.conn
                    .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            if existed && tables > 0 {
                return Err(corrupt(
                    &self.path,
                    "it is a SQLite database without terrane's tables",
                ));
            }
            let lineage = uuid::Uuid::new_v4().to_string();
            let tx = self.conn.transaction()?;
            tx.execute_batch(SCHEMA_V1)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('format_version', ?1)",
                params![FORMAT_VERSION.to_string()],
            )?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('lineage', ?1)",
                params![lineage],
            )?;
            tx.commit()?;
        }
        let version: u32 = self
            .meta("format_version")?
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| corrupt(&self.path, "the format version is missing"))?;
        if version > FORMAT_VERSION {
            return Err(StateError::TooNew {
                path: self.path.display().to_string(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if version < FORMAT_VERSION {
            self.migrate(version)?;
        }
        self.lineage = self
            .meta("lineage")?
            .ok_or_else(|| corrupt(&self.path, "the lineage is missing"))?;
        Ok(())
    }

    fn migrate(&mut self, from: u32) -> Result<()> {
        let tx = self.conn.transaction()?;
        for v in from..FORMAT_VERSION {
            let step = MIGRATIONS.get(v as usize - 1).ok_or_else(|| {
                StateError::Storage(format!("no migration from state format {v}"))
            })?;
            tx.execute_batch(step)?;
        }
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'format_version'",
            params![FORMAT_VERSION.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn current_serial(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(serial), 0) FROM serials", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    fn read_where(&self, serial: u64, filter: &str, bind: Option<u64>) -> Result<Snapshot> {
        let mut snap = Snapshot {
            lineage: self.lineage.clone(),
            serial,
            ..Default::default()
        };
        let sql = format!(
            "SELECT address, provider, value, sensitive, deps, cbd FROM resources WHERE {filter}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = match bind {
            Some(s) => stmt.query(params![s as i64])?,
            None => stmt.query([])?,
        };
        while let Some(row) = rows.next()? {
            let address: String = row.get(0)?;
            let addr =
                InstanceAddr::parse(&address).map_err(|e| corrupt(&self.path, e.to_string()))?;
            let value: String = row.get(2)?;
            let sensitive: String = row.get(3)?;
            let deps: String = row.get(4)?;
            let json: serde_json::Value = serde_json::from_str(&value)
                .map_err(|e| corrupt(&self.path, format!("row {address}: {e}")))?;
            let paths: Vec<String> = serde_json::from_str(&sensitive)
                .map_err(|e| corrupt(&self.path, format!("row {address}: {e}")))?;
            let dependencies: Vec<String> = serde_json::from_str(&deps)
                .map_err(|e| corrupt(&self.path, format!("row {address}: {e}")))?;
            snap.resources.insert(
                addr.clone(),
                InstanceState {
                    addr,
                    provider: row.get(1)?,
                    value: Value::from_json(&json).with_sensitive_paths(&paths),
                    dependencies,
                    create_before_destroy: row.get::<_, i64>(5)? != 0,
                },
            );
        }
        let sql = format!("SELECT name, value, sensitive FROM outputs WHERE {filter}");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = match bind {
            Some(s) => stmt.query(params![s as i64])?,
            None => stmt.query([])?,
        };
        while let Some(row) = rows.next()? {
            let name: String = row.get(0)?;
            let value: String = row.get(1)?;
            let sensitive = row.get::<_, i64>(2)? != 0;
            let json: serde_json::Value = serde_json::from_str(&value)
                .map_err(|e| corrupt(&self.path, format!("output {name}: {e}")))?;
            snap.outputs.insert(
                name,
                OutputState {
                    value: Value::from_json(&json).mark_if(sensitive),
                    sensitive,
                },
            );
        }
        Ok(snap)
    }

    fn read_lock(&self) -> Result<Option<LockInfo>> {
        let info: Option<String> = self
            .conn
            .query_row("SELECT info FROM locks WHERE singleton = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(info.and_then(|i| serde_json::from_str(&i).ok()))
    }
}

impl Backend for SqliteBackend {
    fn read_current(&self) -> Result<Snapshot> {
        let serial = self.current_serial()?;
        self.read_where(serial, "serial_to IS NULL", None)
    }

    fn read_serial(&self, serial: u64) -> Result<Snapshot> {
        let exists: i64 = self.conn.query_row(
            "SELECT count(*) FROM serials WHERE serial = ?1",
            params![serial as i64],
            |r| r.get(0),
        )?;
        if exists == 0 {
            return Err(StateError::NoSuchSerial(serial));
        }
        self.read_where(
            serial,
            "serial_from <= ?1 AND (serial_to IS NULL OR serial_to > ?1)",
            Some(serial),
        )
    }

    fn history(&self) -> Result<Vec<SerialInfo>> {
        let mut stmt = self.conn.prepare("SELECT serial, created_at, operation, user, status, changed FROM serials ORDER BY serial")?;
        let rows = stmt.query_map([], |r| {
            Ok(SerialInfo {
                serial: r.get::<_, i64>(0)? as u64,
                created_at: crate::lock::format_time(r.get::<_, i64>(1)? as u64),
                operation: r.get(2)?,
                user: r.get(3)?,
                status: r.get(4)?,
                changed: r.get::<_, i64>(5)? as u64,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    fn begin(&mut self, operation: &str) -> Result<u64> {
        let tx = self.conn.transaction()?;
        // The caller holds the lock, so a serial still "in progress" belongs to a run
        // that died: record that it stopped early.
        tx.execute(
            "UPDATE serials SET status = 'incomplete' WHERE status = 'in-progress'",
            [],
        )?;
        let serial: i64 = tx.query_row(
            "SELECT coalesce(max(serial), 0) + 1 FROM serials",
            [],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO serials (serial, created_at, operation, user, status) VALUES (?1, ?2, ?3, ?4, 'in-progress')",
            params![serial, now_secs() as i64, operation, username()],
        )?;
        tx.commit()?;
        Ok(serial as u64)
    }

    fn write(&mut self, serial: u64, changes: &[Change]) -> Result<()> {
        let s = serial as i64;
        let tx = self.conn.transaction()?;
        {
            let mut close = tx.prepare_cached(
                "UPDATE resources SET serial_to = ?1 WHERE address = ?2 AND serial_to IS NULL",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO resources (address, serial_from, provider, value, sensitive, deps, cbd) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut close_out = tx.prepare_cached(
                "UPDATE outputs SET serial_to = ?1 WHERE name = ?2 AND serial_to IS NULL",
            )?;
            let mut insert_out = tx.prepare_cached(
                "INSERT INTO outputs (name, serial_from, value, sensitive) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for c in changes {
                match c {
                    Change::Put(inst) => {
                        let address = inst.addr.to_string();
                        close.execute(params![s, address])?;
                        let value = inst.value.to_json().to_string();
                        let sensitive = serde_json::to_string(&inst.value.sensitive_paths())
                            .unwrap_or_else(|_| "[]".into());
                        let deps = serde_json::to_string(&inst.dependencies)
                            .unwrap_or_else(|_| "[]".into());
                        insert.execute(params![
                            address,
                            s,
                            inst.provider,
                            value,
                            sensitive,
                            deps,
                            inst.create_before_destroy as i64
                        ])?;
                    }
                    Change::Remove(addr) => {
                        close.execute(params![s, addr.to_string()])?;
                    }
                    Change::Output(name, out) => {
                        close_out.execute(params![s, name])?;
                        if let Some(o) = out {
                            insert_out.execute(params![
                                name,
                                s,
                                o.value.to_json().to_string(),
                                o.sensitive as i64
                            ])?;
                        }
                    }
                }
            }
            tx.execute(
                "UPDATE serials SET changed = changed + ?1 WHERE serial = ?2",
                params![changes.len() as i64, s],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn finish(&mut self, serial: u64, status: SerialStatus) -> Result<()> {
        self.conn.execute(
            "UPDATE serials SET status = ?1 WHERE serial = ?2",
            params![status.as_str(), serial as i64],
        )?;
        Ok(())
    }

    fn lock(&mut self, info: &LockInfo) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let existing: Option<String> = tx
            .query_row("SELECT info FROM locks WHERE singleton = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(existing) = existing {
            let holder: Option<LockInfo> = serde_json::from_str(&existing).ok();
            match holder {
                Some(h) if !h.is_stale(now_secs()) => {
                    return Err(StateError::Locked {
                        lock_id: h.id.clone(),
                        holder: h.describe(),
                    });
                }
                _ => {
                    tracing::warn!(lock = %existing, "Taking over a stale state lock whose holder is gone.");
                }
            }
        }
        let text = serde_json::to_string(info).map_err(|e| StateError::Storage(e.to_string()))?;
        tx.execute(
            "INSERT OR REPLACE INTO locks (singleton, lock_id, info, expires_at) VALUES (1, ?1, ?2, ?3)",
            params![info.id, text, info.expires_at as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn unlock(&mut self, lock_id: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM locks WHERE lock_id = ?1", params![lock_id])?;
        Ok(())
    }

    fn force_unlock(&mut self, lock_id: &str) -> Result<()> {
        match self.read_lock()? {
            Some(l) if l.id == lock_id => self.unlock(lock_id),
            _ => Err(StateError::NoSuchLock(lock_id.to_string())),
        }
    }

    fn reopen(&self) -> Result<Box<dyn Backend>> {
        Ok(Box::new(SqliteBackend::open(&self.path)?))
    }

    fn renew(&mut self, lock_id: &str) -> Result<()> {
        let Some(mut info) = self.read_lock()? else {
            return Err(StateError::NoSuchLock(lock_id.to_string()));
        };
        if info.id != lock_id {
            return Err(StateError::NoSuchLock(lock_id.to_string()));
        }
        info.expires_at = now_secs() + LEASE_SECS;
        let text = serde_json::to_string(&info).map_err(|e| StateError::Storage(e.to_string()))?;
        self.conn.execute(
            "UPDATE locks SET info = ?1, expires_at = ?2 WHERE lock_id = ?3",
            params![text, info.expires_at as i64, lock_id],
        )?;
        Ok(())
    }
}

/// The lock holder as recorded, for `terrane force-unlock` messages.
pub fn current_lock(backend: &SqliteBackend) -> Result<Option<LockInfo>> {
    backend.read_lock()
}

/// Counts rows per serial (used by the benchmark to show an apply wrote only what changed).
pub fn rows_written_at(backend: &SqliteBackend, serial: u64) -> Result<u64> {
    Ok(backend.conn.query_row(
        "SELECT count(*) FROM resources WHERE serial_from = ?1",
        params![serial as i64],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use terrane_core::{InstanceKey, ModulePath, ResourceAddr};

    fn inst(name: &str, v: &str) -> InstanceState {
        InstanceState {
            addr: ResourceAddr::managed(ModulePath::root(), "null_resource", name)
                .instance(InstanceKey::None),
            provider: "provider.null".into(),
            value: Value::map([
                ("id", Value::from(v)),
                ("secret", Value::from("s").into_sensitive()),
            ]),
            dependencies: vec![],
            create_before_destroy: false,
        }
    }

    #[test]
    fn history_keeps_every_serial() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut b = SqliteBackend::open(&path).unwrap();
        let s1 = b.begin("apply").unwrap();
        b.write(
            s1,
            &[Change::Put(inst("a", "1")), Change::Put(inst("b", "1"))],
        )
        .unwrap();
        b.finish(s1, SerialStatus::Complete).unwrap();
        let s2 = b.begin("apply").unwrap();
        b.write(
            s2,
            &[
                Change::Put(inst("a", "2")),
                Change::Remove(inst("b", "").addr),
            ],
        )
        .unwrap();
        b.finish(s2, SerialStatus::Complete).unwrap();

        let cur = b.read_current().unwrap();
        assert_eq!(cur.serial, 2);
        assert_eq!(cur.resources.len(), 1);
        let a = cur.resources.values().next().unwrap();
        assert_eq!(a.value.get("id"), Some(&Value::from("2")));
        assert_eq!(
            a.value.get("secret"),
            Some(&Value::from("s").into_sensitive())
        );
        let old = b.read_serial(1).unwrap();
        assert_eq!(old.resources.len(), 2);
        assert_eq!(rows_written_at(&b, 2).unwrap(), 1);
        assert_eq!(b.history().unwrap().len(), 2);
    }

    #[test]
    fn refuses_non_state_files_without_touching_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        std::fs::write(&path, b"garbage that is not sqlite").unwrap();
        assert!(matches!(
            SqliteBackend::open(&path),
            Err(StateError::Corrupt { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"garbage that is not sqlite");
    }

    #[test]
    fn refuses_newer_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(SqliteBackend::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.execute(
            "UPDATE meta SET value = '99' WHERE key = 'format_version'",
            [],
        )
        .unwrap();
        drop(c);
        assert!(matches!(
            SqliteBackend::open(&path),
            Err(StateError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn second_locker_is_refused_until_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut a = SqliteBackend::open(&path).unwrap();
        let mut b = SqliteBackend::open(&path).unwrap();
        let la = LockInfo::for_current_process("apply", "lock-a".into());
        a.lock(&la).unwrap();
        let lb = LockInfo::for_current_process("plan", "lock-b".into());
        match b.lock(&lb) {
            Err(StateError::Locked { lock_id, holder }) => {
                assert_eq!(lock_id, "lock-a");
                assert!(holder.contains("apply"));
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        a.unlock("lock-a").unwrap();
        b.lock(&lb).unwrap();
    }

    #[test]
    fn expired_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut a = SqliteBackend::open(&path).unwrap();
        let mut la = LockInfo::for_current_process("apply", "old".into());
        la.expires_at = now_secs() - 1;
        a.lock(&la).unwrap();
        let lb = LockInfo::for_current_process("apply", "new".into());
        a.lock(&lb).unwrap();
        assert_eq!(current_lock(&a).unwrap().unwrap().id, "new");
    }
}
