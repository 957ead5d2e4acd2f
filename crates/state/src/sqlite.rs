//! The SQLite state backend: one database file, one row per resource instance and
//! serial range, written in WAL mode so that each change is durable when `write`
//! returns and a crash (even `kill -9`) loses nothing that was reported done.
//!
//! **Invariant:** an existing file is never modified unless it is a terrane state of a
//! format this build understands; anything else is refused with a clear error.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use terrane_core::InstanceAddr;

use crate::dump::{Dump, DumpOutput, DumpRow, DumpSecret, DumpSerial};
use crate::lock::{now_secs, username, LockInfo, LEASE_SECS};
use crate::seal::{self, Encryption};
use crate::{
    Backend, Change, InstanceState, Resealed, Result, SecretInfo, SerialInfo, SerialStatus,
    Snapshot, StateError, WrappedKey, FORMAT_VERSION, SECRET_VERSIONS,
};

pub struct SqliteBackend {
    conn: Connection,
    path: PathBuf,
    lineage: String,
    enc: Option<Encryption>,
    /// The lock this handle took (or was reopened under): writes check that it is
    /// still the recorded lock, so a holder whose lease was taken over cannot write.
    held: Option<String>,
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
/// A new database is created at version 1 and migrated, so every path is exercised.
const MIGRATIONS: &[&str] = &[
    // 2: encryption at rest (how each row is sealed, the wrapped data keys) and secrets.
    "
ALTER TABLE resources ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outputs ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
CREATE TABLE keys (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    provider TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    active INTEGER NOT NULL
);
CREATE TABLE secrets (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    user TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
",
    // 3: what providers keep beside an object (private bytes, schema version).
    "
ALTER TABLE resources ADD COLUMN meta TEXT NOT NULL DEFAULT '';
",
];

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
        // Deleted and overwritten content is zeroed, so a value that was re-encrypted
        // does not live on in free pages.
        conn.pragma_update(None, "secure_delete", "ON")?;
        let mut backend = SqliteBackend {
            conn,
            path: path.to_path_buf(),
            lineage: String::new(),
            enc: None,
            held: None,
        };
        backend.init(existed)?;
        Ok(backend)
    }

    /// Persists the data key the vault created for the first sealed value.
    fn store_created_key(tx: &rusqlite::Transaction<'_>, enc: Option<&Encryption>) -> Result<()> {
        if let Some(k) = enc.and_then(|e| e.vault.take_created()) {
            insert_key(tx, &k)?;
        }
        Ok(())
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
                "INSERT INTO meta (key, value) VALUES ('format_version', '1')",
                [],
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
            "SELECT address, provider, value, sensitive, deps, cbd, sealed, meta FROM resources WHERE {filter}"
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
            let value = seal::decode(self.enc.as_ref(), &address, &value, &sensitive, row.get(6)?)?;
            let dependencies: Vec<String> = serde_json::from_str(&deps)
                .map_err(|e| corrupt(&self.path, format!("row {address}: {e}")))?;
            snap.resources.insert(
                addr.clone(),
                InstanceState {
                    addr,
                    provider: row.get(1)?,
                    value,
                    dependencies,
                    create_before_destroy: row.get::<_, i64>(5)? != 0,
                    meta: crate::ObjectMeta::decode(&row.get::<_, String>(7)?)
                        .map_err(|e| corrupt(&self.path, format!("row {address}: {e}")))?,
                },
            );
        }
        let sql = format!("SELECT name, value, sensitive, sealed FROM outputs WHERE {filter}");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = match bind {
            Some(s) => stmt.query(params![s as i64])?,
            None => stmt.query([])?,
        };
        while let Some(row) = rows.next()? {
            let name: String = row.get(0)?;
            let value: String = row.get(1)?;
            let sensitive = row.get::<_, i64>(2)? != 0;
            let out =
                seal::decode_output(self.enc.as_ref(), &name, &value, sensitive, row.get(3)?)?;
            snap.outputs.insert(name, out);
        }
        Ok(snap)
    }

    /// Refuses a write when this handle's lock was taken over by another run.
    fn fence(conn: &Connection, held: Option<&str>) -> Result<()> {
        let Some(mine) = held else { return Ok(()) };
        let info: Option<String> = conn
            .query_row("SELECT info FROM locks WHERE singleton = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        let holder: Option<LockInfo> = info.and_then(|i| serde_json::from_str(&i).ok());
        match holder {
            Some(h) if h.id == mine => Ok(()),
            Some(h) => Err(StateError::Fenced {
                holder: h.describe(),
            }),
            // Released by force-unlock: nobody else holds it, but this run no longer does.
            None => Err(StateError::Fenced {
                holder: "force-unlock".into(),
            }),
        }
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
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        Self::fence(&tx, self.held.as_deref())?;
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
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        Self::fence(&tx, self.held.as_deref())?;
        {
            let mut close = tx.prepare_cached(
                "UPDATE resources SET serial_to = ?1 WHERE address = ?2 AND serial_to IS NULL",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO resources (address, serial_from, provider, value, sensitive, deps, cbd, sealed, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut close_out = tx.prepare_cached(
                "UPDATE outputs SET serial_to = ?1 WHERE name = ?2 AND serial_to IS NULL",
            )?;
            let mut insert_out = tx.prepare_cached(
                "INSERT INTO outputs (name, serial_from, value, sensitive, sealed) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for c in changes {
                match c {
                    Change::Put(inst) => {
                        let address = inst.addr.to_string();
                        close.execute(params![s, address])?;
                        let row = seal::encode(self.enc.as_ref(), &address, &inst.value)?;
                        let deps = serde_json::to_string(&inst.dependencies)
                            .unwrap_or_else(|_| "[]".into());
                        insert.execute(params![
                            address,
                            s,
                            inst.provider,
                            row.value,
                            row.sensitive,
                            deps,
                            inst.create_before_destroy as i64,
                            row.sealed,
                            inst.meta.encode()
                        ])?;
                    }
                    Change::Remove(addr) => {
                        close.execute(params![s, addr.to_string()])?;
                    }
                    Change::Output(name, out) => {
                        close_out.execute(params![s, name])?;
                        if let Some(o) = out {
                            let (value, sealed) = seal::encode_output(self.enc.as_ref(), name, o)?;
                            insert_out.execute(params![
                                name,
                                s,
                                value,
                                o.sensitive as i64,
                                sealed
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
        Self::store_created_key(&tx, self.enc.as_ref())?;
        tx.commit()?;
        Ok(())
    }

    fn finish(&mut self, serial: u64, status: SerialStatus) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        Self::fence(&tx, self.held.as_deref())?;
        tx.execute(
            "UPDATE serials SET status = ?1 WHERE serial = ?2",
            params![status.as_str(), serial as i64],
        )?;
        tx.commit()?;
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
                stale => crate::lock::announce_takeover(stale.as_ref()),
            }
        }
        let text = serde_json::to_string(info).map_err(|e| StateError::Storage(e.to_string()))?;
        tx.execute(
            "INSERT OR REPLACE INTO locks (singleton, lock_id, info, expires_at) VALUES (1, ?1, ?2, ?3)",
            params![info.id, text, info.expires_at as i64],
        )?;
        tx.commit()?;
        self.held = Some(info.id.clone());
        Ok(())
    }

    fn unlock(&mut self, lock_id: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM locks WHERE lock_id = ?1", params![lock_id])?;
        if self.held.as_deref() == Some(lock_id) {
            self.held = None;
        }
        Ok(())
    }

    fn force_unlock(&mut self, lock_id: &str) -> Result<()> {
        match self.read_lock()? {
            Some(l) if l.id == lock_id => self.unlock(lock_id),
            _ => Err(StateError::NoSuchLock(lock_id.to_string())),
        }
    }

    fn reopen(&self) -> Result<Box<dyn Backend>> {
        let mut b = SqliteBackend::open(&self.path)?;
        b.enc = self.enc.clone();
        b.held = self.held.clone();
        Ok(Box::new(b))
    }

    fn keys(&self) -> Result<Vec<WrappedKey>> {
        read_keys(&self.conn)
    }

    fn secret_put(&mut self, name: &str, value: &[u8]) -> Result<u64> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row(
            "SELECT coalesce(max(version), 0) + 1 FROM secrets WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )?;
        let sealed = seal::seal_secret(self.enc.as_ref(), name, version as u64, value)?;
        tx.execute(
            "INSERT INTO secrets (name, version, created_at, user, value) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, version, now_secs() as i64, username(), sealed],
        )?;
        tx.execute(
            "DELETE FROM secrets WHERE name = ?1 AND version <= ?2",
            params![name, version - SECRET_VERSIONS as i64],
        )?;
        Self::store_created_key(&tx, self.enc.as_ref())?;
        tx.commit()?;
        Ok(version as u64)
    }

    fn secret_get(&self, name: &str, version: Option<u64>) -> Result<Option<(u64, Vec<u8>)>> {
        let row: Option<(i64, String)> = match version {
            Some(v) => self
                .conn
                .query_row(
                    "SELECT version, value FROM secrets WHERE name = ?1 AND version = ?2",
                    params![name, v as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?,
            None => self
                .conn
                .query_row(
                    "SELECT version, value FROM secrets WHERE name = ?1 ORDER BY version DESC LIMIT 1",
                    params![name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?,
        };
        let Some((version, sealed)) = row else {
            return Ok(None);
        };
        let plain = seal::open_secret(self.enc.as_ref(), name, version as u64, &sealed)?;
        Ok(Some((version as u64, plain)))
    }

    fn secret_list(&self) -> Result<Vec<SecretInfo>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, version, created_at, user FROM secrets ORDER BY name, version",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SecretInfo {
                name: r.get(0)?,
                version: r.get::<_, i64>(1)? as u64,
                created_at: crate::lock::format_time(r.get::<_, i64>(2)? as u64),
                user: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    fn secret_rm(&mut self, name: &str) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM secrets WHERE name = ?1", params![name])?
            > 0)
    }

    fn reseal(&mut self, to: Encryption, keys: &[WrappedKey]) -> Result<Resealed> {
        let from = self.enc.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut done = Resealed::default();
        {
            let mut read =
                tx.prepare("SELECT rowid, address, value, sensitive, sealed FROM resources")?;
            let mut update = tx.prepare(
                "UPDATE resources SET value = ?1, sensitive = ?2, sealed = ?3 WHERE rowid = ?4",
            )?;
            let rows: Vec<(i64, String, String, String, i64)> = read
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<std::result::Result<_, _>>()?;
            for (rowid, address, value, sensitive, sealed) in rows {
                let row =
                    seal::reseal_row(from.as_ref(), &to, &address, &value, &sensitive, sealed)?;
                update.execute(params![row.value, row.sensitive, row.sealed, rowid])?;
                done.rows += 1;
            }
            let mut read =
                tx.prepare("SELECT rowid, name, value, sensitive, sealed FROM outputs")?;
            let mut update =
                tx.prepare("UPDATE outputs SET value = ?1, sealed = ?2 WHERE rowid = ?3")?;
            let rows: Vec<(i64, String, String, i64, i64)> = read
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<std::result::Result<_, _>>()?;
            for (rowid, name, value, sensitive, sealed) in rows {
                let (value, sealed) =
                    seal::reseal_output(from.as_ref(), &to, &name, &value, sensitive != 0, sealed)?;
                update.execute(params![value, sealed, rowid])?;
                done.rows += 1;
            }
            let mut read = tx.prepare("SELECT name, version, value FROM secrets")?;
            let mut update =
                tx.prepare("UPDATE secrets SET value = ?1 WHERE name = ?2 AND version = ?3")?;
            let rows: Vec<(String, i64, String)> = read
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<std::result::Result<_, _>>()?;
            for (name, version, sealed) in rows {
                let again =
                    seal::reseal_secret(from.as_ref(), &to, &name, version as u64, &sealed)?;
                update.execute(params![again, name, version])?;
                done.secrets += 1;
            }
            tx.execute("DELETE FROM keys", [])?;
            for k in keys {
                insert_key(&tx, k)?;
            }
        }
        tx.commit()?;
        // The WAL still holds the old page images: copy the new ones into the
        // database and empty it.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        self.enc = Some(to);
        Ok(done)
    }

    fn set_encryption(&mut self, enc: Option<Encryption>) {
        self.enc = enc;
    }

    fn encryption(&self) -> Option<&Encryption> {
        self.enc.as_ref()
    }

    fn current_lock(&self) -> Result<Option<LockInfo>> {
        self.read_lock()
    }

    fn describe(&self) -> String {
        format!("the SQLite state {}", self.path.display())
    }

    fn export(&self) -> Result<Dump> {
        // One read transaction: every table is read from the same snapshot (WAL), so
        // a concurrent apply's commits are either wholly in or wholly out.
        let tx = self.conn.unchecked_transaction()?;
        let c: &Connection = &tx;
        let mut dump = Dump {
            format: FORMAT_VERSION,
            lineage: self.lineage.clone(),
            ..Default::default()
        };
        let mut stmt = c.prepare("SELECT serial, created_at, operation, user, status, changed FROM serials ORDER BY serial")?;
        dump.serials = stmt
            .query_map([], |r| {
                Ok(DumpSerial {
                    serial: r.get::<_, i64>(0)? as u64,
                    created_at: r.get::<_, i64>(1)? as u64,
                    operation: r.get(2)?,
                    user: r.get(3)?,
                    status: r.get(4)?,
                    changed: r.get::<_, i64>(5)? as u64,
                })
            })?
            .collect::<std::result::Result<_, _>>()?;
        let mut stmt = c.prepare("SELECT address, serial_from, serial_to, provider, value, sensitive, deps, cbd, sealed, meta FROM resources ORDER BY serial_from, address")?;
        dump.resources = stmt
            .query_map([], |r| {
                Ok(DumpRow {
                    address: r.get(0)?,
                    serial_from: r.get::<_, i64>(1)? as u64,
                    serial_to: r.get::<_, Option<i64>>(2)?.map(|v| v as u64),
                    provider: r.get(3)?,
                    value: r.get(4)?,
                    sensitive: r.get(5)?,
                    deps: r.get(6)?,
                    cbd: r.get::<_, i64>(7)? != 0,
                    sealed: r.get(8)?,
                    meta: r.get(9)?,
                })
            })?
            .collect::<std::result::Result<_, _>>()?;
        let mut stmt = c.prepare("SELECT name, serial_from, serial_to, value, sensitive, sealed FROM outputs ORDER BY serial_from, name")?;
        dump.outputs = stmt
            .query_map([], |r| {
                Ok(DumpOutput {
                    name: r.get(0)?,
                    serial_from: r.get::<_, i64>(1)? as u64,
                    serial_to: r.get::<_, Option<i64>>(2)?.map(|v| v as u64),
                    value: r.get(3)?,
                    sensitive: r.get::<_, i64>(4)? != 0,
                    sealed: r.get(5)?,
                })
            })?
            .collect::<std::result::Result<_, _>>()?;
        dump.keys = read_keys(c)?;
        let mut stmt = c.prepare(
            "SELECT name, version, created_at, user, value FROM secrets ORDER BY name, version",
        )?;
        dump.secrets = stmt
            .query_map([], |r| {
                Ok(DumpSecret {
                    name: r.get(0)?,
                    version: r.get::<_, i64>(1)? as u64,
                    created_at: r.get::<_, i64>(2)? as u64,
                    user: r.get(3)?,
                    value: r.get(4)?,
                })
            })?
            .collect::<std::result::Result<_, _>>()?;
        // The read transaction ends (rolls back: it wrote nothing) when `tx` drops.
        Ok(dump)
    }

    fn import(&mut self, dump: &Dump) -> Result<()> {
        dump.validate()?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let used: i64 = tx.query_row(
            "SELECT (SELECT count(*) FROM serials) + (SELECT count(*) FROM secrets) + (SELECT count(*) FROM keys)",
            [],
            |r| r.get(0),
        )?;
        if used > 0 {
            return Err(StateError::NotEmpty(format!(
                "the SQLite state {}",
                self.path.display()
            )));
        }
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'lineage'",
            params![dump.lineage],
        )?;
        for s in &dump.serials {
            tx.execute(
                "INSERT INTO serials (serial, created_at, operation, user, status, changed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![s.serial as i64, s.created_at as i64, s.operation, s.user, s.status, s.changed as i64],
            )?;
        }
        for r in &dump.resources {
            tx.execute(
                "INSERT INTO resources (address, serial_from, serial_to, provider, value, sensitive, deps, cbd, sealed, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![r.address, r.serial_from as i64, r.serial_to.map(|v| v as i64), r.provider, r.value, r.sensitive, r.deps, r.cbd as i64, r.sealed, r.meta],
            )?;
        }
        for o in &dump.outputs {
            tx.execute(
                "INSERT INTO outputs (name, serial_from, serial_to, value, sensitive, sealed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![o.name, o.serial_from as i64, o.serial_to.map(|v| v as i64), o.value, o.sensitive as i64, o.sealed],
            )?;
        }
        for k in &dump.keys {
            insert_key(&tx, k)?;
        }
        for s in &dump.secrets {
            tx.execute(
                "INSERT INTO secrets (name, version, created_at, user, value) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.name, s.version as i64, s.created_at as i64, s.user, s.value],
            )?;
        }
        tx.commit()?;
        self.lineage = dump.lineage.clone();
        Ok(())
    }

    fn renew(&mut self, lock_id: &str) -> Result<()> {
        let Some(mut info) = self.read_lock()? else {
            return Err(StateError::NoSuchLock(lock_id.to_string()));
        };
        if info.id != lock_id {
            return Err(StateError::Fenced {
                holder: info.describe(),
            });
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

/// The wrapped data keys, oldest first.
fn read_keys(c: &Connection) -> Result<Vec<WrappedKey>> {
    let mut stmt = c.prepare(
        "SELECT id, created_at, provider, wrapped, active FROM keys ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(WrappedKey {
            id: r.get(0)?,
            created_at: r.get::<_, i64>(1)? as u64,
            provider: r.get(2)?,
            wrapped: r.get(3)?,
            active: r.get::<_, i64>(4)? != 0,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

fn insert_key(c: &Connection, k: &WrappedKey) -> Result<()> {
    c.execute(
        "INSERT INTO keys (id, created_at, provider, wrapped, active) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            k.id,
            k.created_at as i64,
            k.provider,
            k.wrapped,
            k.active as i64
        ],
    )?;
    Ok(())
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
    use crate::OutputState;
    use terrane_core::Value;
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
            meta: Default::default(),
        }
    }

    #[test]
    fn passes_the_backend_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
        crate::conformance::run_all(
            &|| Box::new(SqliteBackend::open(&a).unwrap()),
            &|| Box::new(SqliteBackend::open(&b).unwrap()),
            dir.path(),
        );
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
        assert_eq!(a.current_lock().unwrap().unwrap().id, "new");
    }

    fn encryption(dir: &Path, key: &str, whole: bool) -> Encryption {
        let path = dir.join(key);
        Encryption {
            vault: std::sync::Arc::new(terrane_secrets::Vault::new(Vec::new(), move || {
                Ok(vec![
                    Box::new(terrane_secrets::AgeProvider::load(&path, true)?) as _,
                ])
            })),
            whole,
            allow_unencrypted: false,
        }
    }

    fn reopen_with(path: &Path, dir: &Path, key: &str, whole: bool) -> SqliteBackend {
        let mut b = SqliteBackend::open(path).unwrap();
        let keys = b.keys().unwrap();
        let key_path = dir.join(key);
        b.set_encryption(Some(Encryption {
            vault: std::sync::Arc::new(terrane_secrets::Vault::new(keys, move || {
                Ok(vec![
                    Box::new(terrane_secrets::AgeProvider::load(&key_path, false)?) as _,
                ])
            })),
            whole,
            allow_unencrypted: false,
        }));
        b
    }

    fn raw_bytes(path: &Path) -> Vec<u8> {
        // The WAL holds recent pages: check it too.
        let mut all = std::fs::read(path).unwrap();
        all.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
        all
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn sensitive_values_are_encrypted_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut b = SqliteBackend::open(&path).unwrap();
        b.set_encryption(Some(encryption(dir.path(), "id.txt", false)));
        let mut i = inst("a", "plain-id");
        i.value = Value::map([
            ("id", Value::from("plain-id")),
            (
                "password",
                Value::from("correct-horse-battery").into_sensitive(),
            ),
        ]);
        let s = b.begin("apply").unwrap();
        b.write(s, &[Change::Put(i.clone())]).unwrap();
        b.write(
            s,
            &[Change::Output(
                "pw".into(),
                Some(OutputState {
                    value: Value::from("output-secret-value").into_sensitive(),
                    sensitive: true,
                }),
            )],
        )
        .unwrap();
        drop(b);
        let raw = raw_bytes(&path);
        assert!(!contains(&raw, b"correct-horse-battery"));
        assert!(!contains(&raw, b"output-secret-value"));
        // Only the secret is ciphertext: the rest of the row stays readable.
        assert!(contains(&raw, b"plain-id"));
        let b = reopen_with(&path, dir.path(), "id.txt", false);
        assert_eq!(b.keys().unwrap().len(), 1);
        let snap = b.read_current().unwrap();
        assert_eq!(snap.resources[&i.addr].value, i.value);
        assert_eq!(
            snap.outputs["pw"].value,
            Value::from("output-secret-value").into_sensitive()
        );
        // Without the key file: refused, naming what is missing, never the value.
        std::fs::rename(dir.path().join("id.txt"), dir.path().join("moved.txt")).unwrap();
        let b = reopen_with(&path, dir.path(), "id.txt", false);
        let err = b.read_current().unwrap_err().to_string();
        assert!(err.contains("cannot read the age identity file"), "{err}");
        // With another identity: refused.
        let b = reopen_with(&path, dir.path(), "moved.txt", false);
        b.read_current().unwrap();
        AgeProvider::load(&dir.path().join("other.txt"), true).unwrap();
        let b = reopen_with(&path, dir.path(), "other.txt", false);
        let err = b.read_current().unwrap_err().to_string();
        assert!(
            err.contains("is wrapped by the age identity with public key"),
            "{err}"
        );
        // Without any encryption configured: refused.
        let b = SqliteBackend::open(&path).unwrap();
        assert!(matches!(b.read_current(), Err(StateError::Key(_))));
    }

    use terrane_secrets::AgeProvider;

    #[test]
    fn a_tampered_value_is_refused_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut b = SqliteBackend::open(&path).unwrap();
        b.set_encryption(Some(encryption(dir.path(), "id.txt", false)));
        let s = b.begin("apply").unwrap();
        b.write(
            s,
            &[Change::Put(inst("a", "x")), Change::Put(inst("b", "y"))],
        )
        .unwrap();
        let stored = |b: &SqliteBackend, addr: &str| -> String {
            b.conn
                .query_row(
                    "SELECT value FROM resources WHERE address = ?1",
                    params![addr],
                    |r| r.get(0),
                )
                .unwrap()
        };
        let set = |b: &SqliteBackend, addr: &str, v: &str| {
            b.conn
                .execute(
                    "UPDATE resources SET value = ?1 WHERE address = ?2",
                    params![v, addr],
                )
                .unwrap();
        };
        let (row_a, row_b) = (stored(&b, "null_resource.a"), stored(&b, "null_resource.b"));
        let mut json: serde_json::Value = serde_json::from_str(&row_a).unwrap();
        let sealed = json["secret"].as_str().unwrap().to_string();
        // A sealed value copied into another row, under the same key: refused, since it
        // is bound to the address it was written for.
        let mut moved: serde_json::Value = serde_json::from_str(&row_b).unwrap();
        moved["secret"] = serde_json::Value::String(sealed.clone());
        set(&b, "null_resource.b", &moved.to_string());
        let err = reopen_with(&path, dir.path(), "id.txt", false)
            .read_current()
            .unwrap_err()
            .to_string();
        assert!(err.contains("null_resource.b/secret"), "{err}");
        assert!(err.contains("failed its integrity check"), "{err}");
        set(&b, "null_resource.b", &row_b);
        // One character of the ciphertext changed.
        json["secret"] = serde_json::Value::String({
            let (head, body) = sealed.rsplit_once(':').unwrap();
            let mut chars: Vec<char> = body.chars().collect();
            chars[40] = if chars[40] == 'A' { 'B' } else { 'A' };
            format!("{head}:{}", chars.into_iter().collect::<String>())
        });
        set(&b, "null_resource.a", &json.to_string());
        drop(b);
        let before = std::fs::read(&path).unwrap();
        let b = reopen_with(&path, dir.path(), "id.txt", false);
        let err = b.read_current().unwrap_err().to_string();
        assert!(err.contains("failed its integrity check"), "{err}");
        assert!(err.contains("null_resource.a/secret"), "{err}");
        drop(b);
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn whole_state_encryption_refuses_plain_rows_unless_allowed_and_reseal_moves_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut b = SqliteBackend::open(&path).unwrap();
        let s = b.begin("apply").unwrap();
        b.write(s, &[Change::Put(inst("a", "visible-before"))])
            .unwrap();
        b.finish(s, SerialStatus::Complete).unwrap();
        drop(b);
        // Whole-state encryption switched on: the plain row is refused...
        let b = reopen_with(&path, dir.path(), "id.txt", true);
        let err = b.read_current().unwrap_err().to_string();
        assert!(err.contains("stored unencrypted"), "{err}");
        // ...unless allowed, and a reseal encrypts every row of every serial.
        let mut b = SqliteBackend::open(&path).unwrap();
        b.set_encryption(None);
        let to = encryption(dir.path(), "id.txt", true);
        to.vault.keyring().unwrap();
        let keys: Vec<_> = to.vault.take_created().into_iter().collect();
        let done = b.reseal(to, &keys).unwrap();
        assert_eq!(done.rows, 1);
        b.secret_put("db", b"secret-in-store").unwrap();
        drop(b);
        let raw = raw_bytes(&path);
        assert!(!contains(&raw, b"visible-before"));
        assert!(!contains(&raw, b"secret-in-store"));
        let b = reopen_with(&path, dir.path(), "id.txt", true);
        assert_eq!(b.read_current().unwrap().resources.len(), 1);
        assert_eq!(
            b.secret_get("db", None).unwrap().unwrap().1,
            b"secret-in-store"
        );
    }

    #[test]
    fn secrets_keep_their_last_ten_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut b = SqliteBackend::open(&path).unwrap();
        assert!(matches!(b.secret_put("x", b"v"), Err(StateError::Key(_))));
        b.set_encryption(Some(encryption(dir.path(), "id.txt", false)));
        for i in 1..=12 {
            assert_eq!(
                b.secret_put("db", format!("value-{i}").as_bytes()).unwrap(),
                i
            );
        }
        let versions: Vec<u64> = b.secret_list().unwrap().iter().map(|s| s.version).collect();
        assert_eq!(versions, (3..=12).collect::<Vec<_>>());
        assert_eq!(
            b.secret_get("db", None).unwrap().unwrap(),
            (12, b"value-12".to_vec())
        );
        assert_eq!(b.secret_get("db", Some(5)).unwrap().unwrap().1, b"value-5");
        assert_eq!(b.secret_get("db", Some(2)).unwrap(), None);
        assert!(b.secret_rm("db").unwrap());
        assert!(!b.secret_rm("db").unwrap());
        assert_eq!(b.secret_get("db", None).unwrap(), None);
    }
}
