//! The PostgreSQL state backend, for teams: many workspaces in one database, one row
//! per resource instance and serial range (the same model as SQLite), the history in
//! a table, and a lock row with a lease.
//!
//! It talks to the server through `tokio-postgres` on a runtime of its own, so it can
//! be called from plain threads (the state writer) and from async code alike.
//!
//! **Invariants.**
//! - Every change is one transaction. A lost connection (the server restarting) is
//!   retried on a new connection for up to [`RETRY_FOR`]; a transaction that did not
//!   commit changed nothing.
//! - Fencing: a handle that took the lock checks, inside each write's transaction and
//!   under a row lock, that the lock row still carries its lock ID. A holder whose
//!   lease expired and was taken over cannot write any more.
//! - The schema is created and migrated on first use, under an advisory lock, so two
//!   machines starting at once do not race.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::dump::{Dump, DumpOutput, DumpRow, DumpSecret, DumpSerial};
use crate::lock::{format_time, now_secs, username, LockInfo, LEASE_SECS};
use crate::seal::{self, Encryption};
use crate::{block, OwnRuntime};
use crate::{
    Backend, Change, Resealed, Result, SecretInfo, SerialInfo, SerialStatus, Snapshot, StateError,
    WrappedKey, FORMAT_VERSION, SECRET_VERSIONS,
};

/// How long an operation keeps retrying while the server is unreachable.
pub const RETRY_FOR: Duration = Duration::from_secs(30);
/// How long the first connection is retried (a server that is starting up).
pub const FIRST_CONNECT_FOR: Duration = Duration::from_secs(10);

/// Schema versions: `MIGRATIONS[n]` brings the schema from version n to n + 1.
const MIGRATIONS: &[&str] = &["
CREATE TABLE terrane_workspaces (
    name TEXT PRIMARY KEY,
    lineage TEXT NOT NULL,
    format INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE terrane_serials (
    workspace TEXT NOT NULL REFERENCES terrane_workspaces(name) ON DELETE CASCADE,
    serial BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    operation TEXT NOT NULL,
    username TEXT NOT NULL,
    status TEXT NOT NULL,
    changed BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace, serial)
);
CREATE TABLE terrane_resources (
    id BIGSERIAL PRIMARY KEY,
    workspace TEXT NOT NULL REFERENCES terrane_workspaces(name) ON DELETE CASCADE,
    address TEXT NOT NULL,
    serial_from BIGINT NOT NULL,
    serial_to BIGINT,
    provider TEXT NOT NULL,
    value TEXT NOT NULL,
    sensitive TEXT NOT NULL,
    deps TEXT NOT NULL,
    cbd BOOLEAN NOT NULL,
    sealed BIGINT NOT NULL
);
CREATE UNIQUE INDEX terrane_resources_current ON terrane_resources(workspace, address) WHERE serial_to IS NULL;
CREATE INDEX terrane_resources_range ON terrane_resources(workspace, serial_from, serial_to);
CREATE TABLE terrane_outputs (
    id BIGSERIAL PRIMARY KEY,
    workspace TEXT NOT NULL REFERENCES terrane_workspaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    serial_from BIGINT NOT NULL,
    serial_to BIGINT,
    value TEXT NOT NULL,
    sensitive BOOLEAN NOT NULL,
    sealed BIGINT NOT NULL
);
CREATE UNIQUE INDEX terrane_outputs_current ON terrane_outputs(workspace, name) WHERE serial_to IS NULL;
CREATE TABLE terrane_locks (
    workspace TEXT PRIMARY KEY REFERENCES terrane_workspaces(name) ON DELETE CASCADE,
    lock_id TEXT NOT NULL,
    info TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE terrane_keys (
    workspace TEXT NOT NULL REFERENCES terrane_workspaces(name) ON DELETE CASCADE,
    id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    provider TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    PRIMARY KEY (workspace, id)
);
CREATE TABLE terrane_secrets (
    workspace TEXT NOT NULL REFERENCES terrane_workspaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    username TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (workspace, name, version)
);
",
    // 2: what providers keep beside an object (private bytes, schema version).
    "ALTER TABLE terrane_resources ADD COLUMN meta TEXT NOT NULL DEFAULT ''"];

/// The advisory-lock key under which the schema is migrated.
const SCHEMA_LOCK: i64 = 0x7465_7272_616e_6501;

pub struct PgBackend {
    rt: Arc<OwnRuntime>,
    client: Arc<tokio::sync::Mutex<Client>>,
    conn_str: String,
    workspace: String,
    lineage: String,
    enc: Option<Encryption>,
    held: Option<String>,
}

fn pg_error(e: tokio_postgres::Error) -> StateError {
    // Class 08 (connection exception) and 57P (the server shutting down or starting
    // up): the operation did not happen and may be retried on a new connection.
    let transient = e
        .code()
        .is_some_and(|c| c.code().starts_with("08") || c.code().starts_with("57P"));
    if transient || e.is_closed() || e.as_db_error().is_none() && e.code().is_none() {
        // The connection broke (or never came up): the operation may be retried.
        StateError::Unavailable(e.to_string())
    } else if let Some(db) = e.as_db_error() {
        StateError::Storage(format!("PostgreSQL: {}", db.message()))
    } else {
        StateError::Storage(format!("PostgreSQL: {e}"))
    }
}

/// `conn_str` without its password, for messages.
pub fn redact(conn_str: &str) -> String {
    match conn_str.parse::<tokio_postgres::Config>() {
        Ok(c) => {
            let hosts: Vec<String> = c
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .collect();
            let port = c.get_ports().first().copied().unwrap_or(5432);
            format!(
                "postgres://{}@{}:{}/{}",
                c.get_user().unwrap_or(""),
                hosts.join(","),
                port,
                c.get_dbname().unwrap_or("")
            )
        }
        Err(_) => "postgres://(invalid connection string)".into(),
    }
}

async fn connect(conn_str: &str) -> Result<Client> {
    let config: tokio_postgres::Config = conn_str.parse().map_err(|e| {
        StateError::Storage(format!(
            "the PostgreSQL connection string is invalid ({e}). Use the form postgres://USER:PASSWORD@HOST:PORT/DATABASE"
        ))
    })?;
    let mut config = config;
    config.connect_timeout(Duration::from_secs(5));
    config.application_name("terrane");
    let (client, connection) = config.connect(NoTls).await.map_err(pg_error)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// The state Terraform's `pg` backend keeps for `workspace` in `schema` (its table
/// `states`: one row per workspace, the state file's text in `data`), if there is one.
/// Only reads; creates nothing.
pub fn terraform_state(conn_str: &str, schema: &str, workspace: &str) -> Result<Option<Vec<u8>>> {
    let rt = OwnRuntime::new()?;
    let cs = conn_str.to_string();
    let sql = format!(
        "SELECT data FROM \"{}\".states WHERE name = $1",
        schema.replace('"', "\"\"")
    );
    let ws = workspace.to_string();
    block(&rt, || async move {
        let client = connect(&cs).await?;
        let row = client.query_opt(&sql, &[&ws]).await.map_err(pg_error)?;
        Ok(row.map(|r| r.get::<_, String>(0).into_bytes()))
    })
}

/// The workspaces recorded in the database at `conn_str`.
pub fn workspaces(conn_str: &str) -> Result<Vec<String>> {
    let rt = OwnRuntime::new()?;
    let cs = conn_str.to_string();
    block(&rt, || async move {
        let mut client = PgBackend::connect_retrying(&cs).await?;
        migrate(&mut client).await?;
        let rows = client
            .query("SELECT name FROM terrane_workspaces ORDER BY name", &[])
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    })
}

/// Deletes a workspace with its history, keys, secrets and lock.
pub fn delete_workspace(conn_str: &str, workspace: &str) -> Result<()> {
    let rt = OwnRuntime::new()?;
    let (cs, ws) = (conn_str.to_string(), workspace.to_string());
    block(&rt, || async move {
        let client = PgBackend::connect_retrying(&cs).await?;
        client
            .execute("DELETE FROM terrane_workspaces WHERE name = $1", &[&ws])
            .await
            .map_err(pg_error)?;
        Ok(())
    })
}

impl PgBackend {
    /// Connects, creates or migrates the schema, and opens (or creates) `workspace`.
    pub fn open(conn_str: &str, workspace: &str) -> Result<PgBackend> {
        let rt = Arc::new(OwnRuntime::new()?);
        let ws = workspace.to_string();
        let cs = conn_str.to_string();
        let (client, lineage) = block(&rt, || async move {
            let mut client = Self::connect_retrying(&cs).await?;
            migrate(&mut client).await?;
            let lineage = uuid::Uuid::new_v4().to_string();
            client
                .execute(
                    "INSERT INTO terrane_workspaces (name, lineage, format, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
                    &[&ws, &lineage, &(FORMAT_VERSION as i32), &(now_secs() as i64)],
                )
                .await
                .map_err(pg_error)?;
            let row = client
                .query_one(
                    "SELECT lineage, format FROM terrane_workspaces WHERE name = $1",
                    &[&ws],
                )
                .await
                .map_err(pg_error)?;
            let format: i32 = row.get(1);
            if format as u32 > FORMAT_VERSION {
                return Err(StateError::TooNew {
                    path: format!("{} (workspace {ws})", redact(&cs)),
                    found: format as u32,
                    supported: FORMAT_VERSION,
                });
            }
            Ok::<_, StateError>((client, row.get::<_, String>(0)))
        })?;
        Ok(PgBackend {
            rt,
            client: Arc::new(tokio::sync::Mutex::new(client)),
            conn_str: conn_str.to_string(),
            workspace: workspace.to_string(),
            lineage,
            enc: None,
            held: None,
        })
    }

    async fn connect_retrying(conn_str: &str) -> Result<Client> {
        let started = std::time::Instant::now();
        loop {
            match connect(conn_str).await {
                Err(StateError::Unavailable(e)) if started.elapsed() < FIRST_CONNECT_FOR => {
                    tracing::warn!(error = %e, "PostgreSQL is unreachable; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                r => return r,
            }
        }
    }

    /// Runs `op` on the connection, reconnecting and running it again when the
    /// connection was lost (each `op` is one transaction, so a retry is safe).
    fn call<R: Send>(&self, mut op: impl AsyncFnMut(&mut Client) -> Result<R> + Send) -> Result<R> {
        let client = self.client.clone();
        let conn_str = self.conn_str.clone();
        block(&self.rt, || async move {
            let mut guard = client.lock().await;
            let started = std::time::Instant::now();
            loop {
                let result = op(&mut guard).await;
                if result.is_err() && !guard.is_closed() {
                    // A transaction dropped on an error path queues its ROLLBACK; send
                    // it now, not at the next call, so its row locks are released.
                    let _ = guard.simple_query("").await;
                }
                match result {
                    Err(StateError::Unavailable(e)) if started.elapsed() < RETRY_FOR => {
                        tracing::warn!(error = %e, "Lost the PostgreSQL connection; reconnecting");
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        if let Ok(c) = connect(&conn_str).await {
                            *guard = c;
                        }
                    }
                    r => return r,
                }
            }
        })
    }

    /// The rows `sql` selects for this workspace (its one parameter, `$1`).
    fn workspace_rows(&self, sql: &str) -> Result<Vec<tokio_postgres::Row>> {
        let ws = self.workspace.clone();
        self.call(async |c| c.query(sql, &[&ws]).await.map_err(pg_error))
    }

    /// Takes leadership of this workspace for `role` (e.g. the agent) if nobody holds
    /// it: a session-level advisory lock, released by the server when the holder's
    /// connection ends (the process died or the host is gone).
    pub fn try_lead(&self, role: &str) -> Result<bool> {
        let key = format!("terrane-leader:{}:{role}", self.workspace);
        self.call(async |c| {
            let row = c
                .query_one(
                    "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                    &[&key],
                )
                .await
                .map_err(pg_error)?;
            Ok(row.get::<_, bool>(0))
        })
    }

    fn rows_at(&self, serial: u64, current: bool) -> Result<Snapshot> {
        let ws = self.workspace.clone();
        let s = serial as i64;
        let (rows, outs) = self.call(async |c| {
            // The current rows are the open ones; an older serial's rows are those
            // whose range covers it. (Both filters bind $2, so one parameter list fits.)
            let live = if current {
                "serial_to IS NULL AND $2::BIGINT >= 0"
            } else {
                "serial_from <= $2 AND (serial_to IS NULL OR serial_to > $2)"
            };
            let rows = c
                .query(
                    &format!("SELECT address, provider, value, sensitive, deps, cbd, sealed, meta FROM terrane_resources WHERE workspace = $1 AND {live}"),
                    &[&ws, &s],
                )
                .await
                .map_err(pg_error)?;
            let outs = c
                .query(
                    &format!("SELECT name, value, sensitive, sealed FROM terrane_outputs WHERE workspace = $1 AND {live}"),
                    &[&ws, &s],
                )
                .await
                .map_err(pg_error)?;
            Ok((rows, outs))
        })?;
        let mut snap = Snapshot {
            lineage: self.lineage.clone(),
            serial,
            ..Default::default()
        };
        for r in rows {
            let row = DumpRow {
                address: r.get(0),
                serial_from: 0,
                serial_to: None,
                provider: r.get(1),
                value: r.get(2),
                sensitive: r.get(3),
                deps: r.get(4),
                cbd: r.get(5),
                sealed: r.get(6),
                meta: r.get(7),
            };
            let (addr, inst) = row.decode(self.enc.as_ref())?;
            snap.resources.insert(addr, inst);
        }
        for o in outs {
            let name: String = o.get(0);
            let out = seal::decode_output(
                self.enc.as_ref(),
                &name,
                o.get::<_, &str>(1),
                o.get(2),
                o.get(3),
            )?;
            snap.outputs.insert(name, out);
        }
        Ok(snap)
    }
}

async fn migrate(client: &mut Client) -> Result<()> {
    let tx = client.transaction().await.map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await
        .map_err(pg_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS terrane_schema (singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton), version INTEGER NOT NULL);
         INSERT INTO terrane_schema (version) VALUES (0) ON CONFLICT DO NOTHING;",
    )
    .await
    .map_err(pg_error)?;
    let version: i32 = tx
        .query_one("SELECT version FROM terrane_schema", &[])
        .await
        .map_err(pg_error)?
        .get(0);
    if version as usize > MIGRATIONS.len() {
        return Err(StateError::TooNew {
            path: "the PostgreSQL schema".into(),
            found: version as u32,
            supported: MIGRATIONS.len() as u32,
        });
    }
    for (v, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tracing::info!(from = v, "Migrating the PostgreSQL state schema");
        tx.batch_execute(step).await.map_err(pg_error)?;
    }
    tx.execute(
        "UPDATE terrane_schema SET version = $1",
        &[&(MIGRATIONS.len() as i32)],
    )
    .await
    .map_err(pg_error)?;
    tx.commit().await.map_err(pg_error)
}

const KEYS_SQL: &str = "SELECT id, created_at, provider, wrapped, active FROM terrane_keys WHERE workspace = $1 ORDER BY created_at, id";

fn key_of(r: &tokio_postgres::Row) -> WrappedKey {
    WrappedKey {
        id: r.get(0),
        created_at: r.get::<_, i64>(1) as u64,
        provider: r.get(2),
        wrapped: r.get(3),
        active: r.get(4),
    }
}

/// Refuses the transaction's writes unless `held` (if any) is still the lock.
async fn fence(tx: &tokio_postgres::Transaction<'_>, ws: &str, held: Option<&str>) -> Result<()> {
    let Some(mine) = held else { return Ok(()) };
    let row = tx
        .query_opt(
            "SELECT lock_id, info FROM terrane_locks WHERE workspace = $1 FOR UPDATE",
            &[&ws],
        )
        .await
        .map_err(pg_error)?;
    match row {
        Some(r) if r.get::<_, &str>(0) == mine => Ok(()),
        Some(r) => Err(StateError::Fenced {
            holder: serde_json::from_str::<LockInfo>(r.get(1))
                .map(|l| l.describe())
                .unwrap_or_else(|_| r.get::<_, String>(0)),
        }),
        None => Err(StateError::Fenced {
            holder: "force-unlock".into(),
        }),
    }
}

async fn store_created_key(
    tx: &tokio_postgres::Transaction<'_>,
    ws: &str,
    created: &Option<WrappedKey>,
) -> Result<()> {
    if let Some(k) = created {
        tx.execute(
            "INSERT INTO terrane_keys (workspace, id, created_at, provider, wrapped, active) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[&ws, &k.id, &(k.created_at as i64), &k.provider, &k.wrapped, &k.active],
        )
        .await
        .map_err(pg_error)?;
    }
    Ok(())
}

impl Backend for PgBackend {
    fn read_current(&self) -> Result<Snapshot> {
        let ws = self.workspace.clone();
        let serial = self.call(async |c| {
            Ok(c.query_one(
                "SELECT coalesce(max(serial), 0) FROM terrane_serials WHERE workspace = $1",
                &[&ws],
            )
            .await
            .map_err(pg_error)?
            .get::<_, i64>(0))
        })?;
        self.rows_at(serial as u64, true)
    }

    fn read_serial(&self, serial: u64) -> Result<Snapshot> {
        let ws = self.workspace.clone();
        let exists = self.call(async |c| {
            Ok(c.query_opt(
                "SELECT 1 FROM terrane_serials WHERE workspace = $1 AND serial = $2",
                &[&ws, &(serial as i64)],
            )
            .await
            .map_err(pg_error)?
            .is_some())
        })?;
        if !exists {
            return Err(StateError::NoSuchSerial(serial));
        }
        self.rows_at(serial, false)
    }

    fn history(&self) -> Result<Vec<SerialInfo>> {
        let rows = self.workspace_rows("SELECT serial, created_at, operation, username, status, changed FROM terrane_serials WHERE workspace = $1 ORDER BY serial")?;
        Ok(rows
            .iter()
            .map(|r| SerialInfo {
                serial: r.get::<_, i64>(0) as u64,
                created_at: format_time(r.get::<_, i64>(1) as u64),
                operation: r.get(2),
                user: r.get(3),
                status: r.get(4),
                changed: r.get::<_, i64>(5) as u64,
            })
            .collect())
    }

    fn begin(&mut self, operation: &str) -> Result<u64> {
        let ws = self.workspace.clone();
        let held = self.held.clone();
        let op = operation.to_string();
        let user = username();
        self.call(async |c| {
            let tx = c.transaction().await.map_err(pg_error)?;
            fence(&tx, &ws, held.as_deref()).await?;
            tx.execute(
                "UPDATE terrane_serials SET status = 'incomplete' WHERE workspace = $1 AND status = 'in-progress'",
                &[&ws],
            )
            .await
            .map_err(pg_error)?;
            let serial: i64 = tx
                .query_one(
                    "SELECT coalesce(max(serial), 0) + 1 FROM terrane_serials WHERE workspace = $1",
                    &[&ws],
                )
                .await
                .map_err(pg_error)?
                .get(0);
            tx.execute(
                "INSERT INTO terrane_serials (workspace, serial, created_at, operation, username, status) VALUES ($1, $2, $3, $4, $5, 'in-progress')",
                &[&ws, &serial, &(now_secs() as i64), &op, &user],
            )
            .await
            .map_err(pg_error)?;
            tx.commit().await.map_err(pg_error)?;
            Ok(serial as u64)
        })
    }

    fn write(&mut self, serial: u64, changes: &[Change]) -> Result<()> {
        // Encrypt first (the key provider may prompt or call KMS), then write.
        let mut closed: Vec<String> = Vec::new();
        let mut rows: Vec<DumpRow> = Vec::new();
        let mut closed_out: Vec<String> = Vec::new();
        let mut outs: Vec<DumpOutput> = Vec::new();
        for c in changes {
            match c {
                Change::Put(inst) => {
                    let row = DumpRow::encode(self.enc.as_ref(), serial, inst)?;
                    closed.push(row.address.clone());
                    rows.push(row);
                }
                Change::Remove(addr) => closed.push(addr.to_string()),
                Change::Output(name, out) => {
                    closed_out.push(name.clone());
                    if let Some(o) = out {
                        let (value, sealed) = seal::encode_output(self.enc.as_ref(), name, o)?;
                        outs.push(DumpOutput {
                            name: name.clone(),
                            serial_from: serial,
                            serial_to: None,
                            value,
                            sensitive: o.sensitive,
                            sealed,
                        });
                    }
                }
            }
        }
        let created = self.enc.as_ref().and_then(|e| e.vault.take_created());
        let ws = self.workspace.clone();
        let held = self.held.clone();
        let s = serial as i64;
        let n = changes.len() as i64;
        self.call(async |c| {
            let tx = c.transaction().await.map_err(pg_error)?;
            fence(&tx, &ws, held.as_deref()).await?;
            tx.execute(
                "UPDATE terrane_resources SET serial_to = $1 WHERE workspace = $2 AND serial_to IS NULL AND address = ANY($3)",
                &[&s, &ws, &closed],
            )
            .await
            .map_err(pg_error)?;
            if !rows.is_empty() {
                let col = |f: fn(&DumpRow) -> String| rows.iter().map(f).collect::<Vec<_>>();
                let (addr, prov, val, sens, deps, meta) = (
                    col(|r| r.address.clone()),
                    col(|r| r.provider.clone()),
                    col(|r| r.value.clone()),
                    col(|r| r.sensitive.clone()),
                    col(|r| r.deps.clone()),
                    col(|r| r.meta.clone()),
                );
                let cbd: Vec<bool> = rows.iter().map(|r| r.cbd).collect();
                let sealed: Vec<i64> = rows.iter().map(|r| r.sealed).collect();
                tx.execute(
                    "INSERT INTO terrane_resources (workspace, serial_from, address, provider, value, sensitive, deps, cbd, sealed, meta)
                     SELECT $1, $2, * FROM UNNEST($3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::BOOLEAN[], $9::BIGINT[], $10::TEXT[])",
                    &[&ws, &s, &addr, &prov, &val, &sens, &deps, &cbd, &sealed, &meta],
                )
                .await
                .map_err(pg_error)?;
            }
            if !closed_out.is_empty() {
                tx.execute(
                    "UPDATE terrane_outputs SET serial_to = $1 WHERE workspace = $2 AND serial_to IS NULL AND name = ANY($3)",
                    &[&s, &ws, &closed_out],
                )
                .await
                .map_err(pg_error)?;
            }
            for o in &outs {
                tx.execute(
                    "INSERT INTO terrane_outputs (workspace, name, serial_from, value, sensitive, sealed) VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&ws, &o.name, &s, &o.value, &o.sensitive, &o.sealed],
                )
                .await
                .map_err(pg_error)?;
            }
            tx.execute(
                "UPDATE terrane_serials SET changed = changed + $1 WHERE workspace = $2 AND serial = $3",
                &[&n, &ws, &s],
            )
            .await
            .map_err(pg_error)?;
            store_created_key(&tx, &ws, &created).await?;
            tx.commit().await.map_err(pg_error)
        })
    }

    fn finish(&mut self, serial: u64, status: SerialStatus) -> Result<()> {
        let ws = self.workspace.clone();
        let held = self.held.clone();
        self.call(async |c| {
            let tx = c.transaction().await.map_err(pg_error)?;
            fence(&tx, &ws, held.as_deref()).await?;
            tx.execute(
                "UPDATE terrane_serials SET status = $1 WHERE workspace = $2 AND serial = $3",
                &[&status.as_str(), &ws, &(serial as i64)],
            )
            .await
            .map_err(pg_error)?;
            tx.commit().await.map_err(pg_error)
        })
    }

    fn lock(&mut self, info: &LockInfo) -> Result<()> {
        let ws = self.workspace.clone();
        let text = serde_json::to_string(info).map_err(|e| StateError::Storage(e.to_string()))?;
        self.call(async |c| {
            let tx = c.transaction().await.map_err(pg_error)?;
            let row = tx
                .query_opt(
                    "SELECT lock_id, info FROM terrane_locks WHERE workspace = $1 FOR UPDATE",
                    &[&ws],
                )
                .await
                .map_err(pg_error)?;
            // Taking the lock is conditional on what was read: a free lock only if no
            // row appeared meanwhile, a stale one only if it is still the same lock.
            let taken = match row {
                None => tx
                    .execute(
                        "INSERT INTO terrane_locks (workspace, lock_id, info, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (workspace) DO NOTHING",
                        &[&ws, &info.id, &text, &(info.expires_at as i64)],
                    )
                    .await
                    .map_err(pg_error)?,
                Some(row) => {
                    let old: String = row.get(0);
                    let holder: Option<LockInfo> = serde_json::from_str(row.get(1)).ok();
                    if let Some(h) = holder.as_ref().filter(|h| !h.is_stale(now_secs())) {
                        return Err(StateError::Locked {
                            lock_id: h.id.clone(),
                            holder: h.describe(),
                        });
                    }
                    crate::lock::announce_takeover(holder.as_ref());
                    tx.execute(
                        "UPDATE terrane_locks SET lock_id = $1, info = $2, expires_at = $3 WHERE workspace = $4 AND lock_id = $5",
                        &[&info.id, &text, &(info.expires_at as i64), &ws, &old],
                    )
                    .await
                    .map_err(pg_error)?
                }
            };
            if taken != 1 {
                drop(tx);
                // Another run took it at the same moment: report that one.
                let row = c
                    .query_opt("SELECT info FROM terrane_locks WHERE workspace = $1", &[&ws])
                    .await
                    .map_err(pg_error)?;
                let holder: Option<LockInfo> = row.and_then(|r| serde_json::from_str(r.get(0)).ok());
                return Err(StateError::Locked {
                    lock_id: holder.as_ref().map(|h| h.id.clone()).unwrap_or_default(),
                    holder: holder
                        .map(|h| h.describe())
                        .unwrap_or_else(|| "another run that took the lock at the same moment".into()),
                });
            }
            tx.commit().await.map_err(pg_error)
        })?;
        self.held = Some(info.id.clone());
        Ok(())
    }

    fn unlock(&mut self, lock_id: &str) -> Result<()> {
        let ws = self.workspace.clone();
        self.call(async |c| {
            c.execute(
                "DELETE FROM terrane_locks WHERE workspace = $1 AND lock_id = $2",
                &[&ws, &lock_id],
            )
            .await
            .map_err(pg_error)
        })?;
        if self.held.as_deref() == Some(lock_id) {
            self.held = None;
        }
        Ok(())
    }

    fn force_unlock(&mut self, lock_id: &str) -> Result<()> {
        match self.current_lock()? {
            Some(l) if l.id == lock_id => self.unlock(lock_id),
            _ => Err(StateError::NoSuchLock(lock_id.to_string())),
        }
    }

    fn renew(&mut self, lock_id: &str) -> Result<()> {
        let ws = self.workspace.clone();
        self.call(async |c| {
            let tx = c.transaction().await.map_err(pg_error)?;
            let row = tx
                .query_opt(
                    "SELECT info FROM terrane_locks WHERE workspace = $1 FOR UPDATE",
                    &[&ws],
                )
                .await
                .map_err(pg_error)?;
            let Some(row) = row else {
                return Err(StateError::NoSuchLock(lock_id.to_string()));
            };
            let mut info: LockInfo = serde_json::from_str(row.get(0))
                .map_err(|e| StateError::Storage(format!("the lock row: {e}")))?;
            if info.id != lock_id {
                return Err(StateError::Fenced {
                    holder: info.describe(),
                });
            }
            info.expires_at = now_secs() + LEASE_SECS;
            let text =
                serde_json::to_string(&info).map_err(|e| StateError::Storage(e.to_string()))?;
            tx.execute(
                "UPDATE terrane_locks SET info = $1, expires_at = $2 WHERE workspace = $3",
                &[&text, &(info.expires_at as i64), &ws],
            )
            .await
            .map_err(pg_error)?;
            tx.commit().await.map_err(pg_error)
        })
    }

    fn reopen(&self) -> Result<Box<dyn Backend>> {
        let mut b = PgBackend::open(&self.conn_str, &self.workspace)?;
        b.enc = self.enc.clone();
        b.held = self.held.clone();
        Ok(Box::new(b))
    }

    fn keys(&self) -> Result<Vec<WrappedKey>> {
        Ok(self.workspace_rows(KEYS_SQL)?.iter().map(key_of).collect())
    }

    fn secret_put(&mut self, name: &str, value: &[u8]) -> Result<u64> {
        let ws = self.workspace.clone();
        let enc = self.enc.clone();
        let user = username();
        // Kept across retries: a key created for the first attempt must still be stored.
        let mut created: Option<WrappedKey> = None;
        self.call(async |c| {
            let tx = c.transaction().await.map_err(pg_error)?;
            let key = format!("terrane-secret:{ws}:{name}");
            tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", &[&key])
                .await
                .map_err(pg_error)?;
            let version: i64 = tx
                .query_one(
                    "SELECT coalesce(max(version), 0) + 1 FROM terrane_secrets WHERE workspace = $1 AND name = $2",
                    &[&ws, &name],
                )
                .await
                .map_err(pg_error)?
                .get(0);
            let sealed = seal::seal_secret(enc.as_ref(), name, version as u64, value)?;
            if created.is_none() {
                created = enc.as_ref().and_then(|e| e.vault.take_created());
            }
            tx.execute(
                "INSERT INTO terrane_secrets (workspace, name, version, created_at, username, value) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&ws, &name, &version, &(now_secs() as i64), &user, &sealed],
            )
            .await
            .map_err(pg_error)?;
            tx.execute(
                "DELETE FROM terrane_secrets WHERE workspace = $1 AND name = $2 AND version <= $3",
                &[&ws, &name, &(version - SECRET_VERSIONS as i64)],
            )
            .await
            .map_err(pg_error)?;
            store_created_key(&tx, &ws, &created).await?;
            tx.commit().await.map_err(pg_error)?;
            Ok(version as u64)
        })
    }

    fn secret_get(&self, name: &str, version: Option<u64>) -> Result<Option<(u64, Vec<u8>)>> {
        let ws = self.workspace.clone();
        let row = self.call(async |c| {
            let row = match version {
                Some(v) => c.query_opt(
                    "SELECT version, value FROM terrane_secrets WHERE workspace = $1 AND name = $2 AND version = $3",
                    &[&ws, &name, &(v as i64)],
                ).await,
                None => c.query_opt(
                    "SELECT version, value FROM terrane_secrets WHERE workspace = $1 AND name = $2 ORDER BY version DESC LIMIT 1",
                    &[&ws, &name],
                ).await,
            }
            .map_err(pg_error)?;
            Ok(row.map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, String>(1))))
        })?;
        let Some((version, sealed)) = row else {
            return Ok(None);
        };
        let plain = seal::open_secret(self.enc.as_ref(), name, version, &sealed)?;
        Ok(Some((version, plain)))
    }

    fn secret_list(&self) -> Result<Vec<SecretInfo>> {
        let rows = self.workspace_rows("SELECT name, version, created_at, username FROM terrane_secrets WHERE workspace = $1 ORDER BY name, version")?;
        Ok(rows
            .iter()
            .map(|r| SecretInfo {
                name: r.get(0),
                version: r.get::<_, i64>(1) as u64,
                created_at: format_time(r.get::<_, i64>(2) as u64),
                user: r.get(3),
            })
            .collect())
    }

    fn secret_rm(&mut self, name: &str) -> Result<bool> {
        let ws = self.workspace.clone();
        Ok(self.call(async |c| {
            c.execute(
                "DELETE FROM terrane_secrets WHERE workspace = $1 AND name = $2",
                &[&ws, &name],
            )
            .await
            .map_err(pg_error)
        })? > 0)
    }

    fn reseal(&mut self, to: Encryption, keys: &[WrappedKey]) -> Result<Resealed> {
        let from = self.enc.clone();
        let ws = self.workspace.clone();
        let done = self.call(async |c| {
            let tx = c.transaction().await.map_err(pg_error)?;
            let mut done = Resealed::default();
            let rows = tx
                .query(
                    "SELECT id, address, value, sensitive, sealed FROM terrane_resources WHERE workspace = $1 FOR UPDATE",
                    &[&ws],
                )
                .await
                .map_err(pg_error)?;
            for r in rows {
                let address: &str = r.get(1);
                let e = seal::reseal_row(from.as_ref(), &to, address, r.get(2), r.get(3), r.get(4))?;
                tx.execute(
                    "UPDATE terrane_resources SET value = $1, sensitive = $2, sealed = $3 WHERE id = $4",
                    &[&e.value, &e.sensitive, &e.sealed, &r.get::<_, i64>(0)],
                )
                .await
                .map_err(pg_error)?;
                done.rows += 1;
            }
            let rows = tx
                .query(
                    "SELECT id, name, value, sensitive, sealed FROM terrane_outputs WHERE workspace = $1 FOR UPDATE",
                    &[&ws],
                )
                .await
                .map_err(pg_error)?;
            for r in rows {
                let name: &str = r.get(1);
                let (value, sealed) =
                    seal::reseal_output(from.as_ref(), &to, name, r.get(2), r.get(3), r.get(4))?;
                tx.execute(
                    "UPDATE terrane_outputs SET value = $1, sealed = $2 WHERE id = $3",
                    &[&value, &sealed, &r.get::<_, i64>(0)],
                )
                .await
                .map_err(pg_error)?;
                done.rows += 1;
            }
            let rows = tx
                .query(
                    "SELECT name, version, value FROM terrane_secrets WHERE workspace = $1 FOR UPDATE",
                    &[&ws],
                )
                .await
                .map_err(pg_error)?;
            for r in rows {
                let name: &str = r.get(0);
                let version = r.get::<_, i64>(1);
                let again = seal::reseal_secret(from.as_ref(), &to, name, version as u64, r.get(2))?;
                tx.execute(
                    "UPDATE terrane_secrets SET value = $1 WHERE workspace = $2 AND name = $3 AND version = $4",
                    &[&again, &ws, &name, &version],
                )
                .await
                .map_err(pg_error)?;
                done.secrets += 1;
            }
            tx.execute("DELETE FROM terrane_keys WHERE workspace = $1", &[&ws])
                .await
                .map_err(pg_error)?;
            for k in keys {
                store_created_key(&tx, &ws, &Some(k.clone())).await?;
            }
            tx.commit().await.map_err(pg_error)?;
            Ok(done)
        })?;
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
        let ws = self.workspace.clone();
        let info = self.call(async |c| {
            Ok(c.query_opt(
                "SELECT info FROM terrane_locks WHERE workspace = $1",
                &[&ws],
            )
            .await
            .map_err(pg_error)?
            .map(|r| r.get::<_, String>(0)))
        })?;
        Ok(info.and_then(|i| serde_json::from_str(&i).ok()))
    }

    fn describe(&self) -> String {
        format!(
            "the PostgreSQL state {} (workspace {:?})",
            redact(&self.conn_str),
            self.workspace
        )
    }

    fn export(&self) -> Result<Dump> {
        let ws = self.workspace.clone();
        let (serials, rows, outs, secrets, keys) = self.call(async |c| {
            // One snapshot of the database for all four reads.
            let tx = c
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(pg_error)?;
            let serials = tx.query("SELECT serial, created_at, operation, username, status, changed FROM terrane_serials WHERE workspace = $1 ORDER BY serial", &[&ws]).await.map_err(pg_error)?;
            let rows = tx.query("SELECT address, serial_from, serial_to, provider, value, sensitive, deps, cbd, sealed, meta FROM terrane_resources WHERE workspace = $1 ORDER BY serial_from, address", &[&ws]).await.map_err(pg_error)?;
            let outs = tx.query("SELECT name, serial_from, serial_to, value, sensitive, sealed FROM terrane_outputs WHERE workspace = $1 ORDER BY serial_from, name", &[&ws]).await.map_err(pg_error)?;
            let secrets = tx.query("SELECT name, version, created_at, username, value FROM terrane_secrets WHERE workspace = $1 ORDER BY name, version", &[&ws]).await.map_err(pg_error)?;
            let keys = tx.query(KEYS_SQL, &[&ws]).await.map_err(pg_error)?;
            tx.commit().await.map_err(pg_error)?;
            Ok((serials, rows, outs, secrets, keys))
        })?;
        Ok(Dump {
            format: FORMAT_VERSION,
            lineage: self.lineage.clone(),
            serials: serials
                .iter()
                .map(|r| DumpSerial {
                    serial: r.get::<_, i64>(0) as u64,
                    created_at: r.get::<_, i64>(1) as u64,
                    operation: r.get(2),
                    user: r.get(3),
                    status: r.get(4),
                    changed: r.get::<_, i64>(5) as u64,
                })
                .collect(),
            resources: rows
                .iter()
                .map(|r| DumpRow {
                    address: r.get(0),
                    serial_from: r.get::<_, i64>(1) as u64,
                    serial_to: r.get::<_, Option<i64>>(2).map(|v| v as u64),
                    provider: r.get(3),
                    value: r.get(4),
                    sensitive: r.get(5),
                    deps: r.get(6),
                    cbd: r.get(7),
                    sealed: r.get(8),
                    meta: r.get(9),
                })
                .collect(),
            outputs: outs
                .iter()
                .map(|r| DumpOutput {
                    name: r.get(0),
                    serial_from: r.get::<_, i64>(1) as u64,
                    serial_to: r.get::<_, Option<i64>>(2).map(|v| v as u64),
                    value: r.get(3),
                    sensitive: r.get(4),
                    sealed: r.get(5),
                })
                .collect(),
            keys: keys.iter().map(key_of).collect(),
            secrets: secrets
                .iter()
                .map(|r| DumpSecret {
                    name: r.get(0),
                    version: r.get::<_, i64>(1) as u64,
                    created_at: r.get::<_, i64>(2) as u64,
                    user: r.get(3),
                    value: r.get(4),
                })
                .collect(),
        })
    }

    fn import(&mut self, dump: &Dump) -> Result<()> {
        dump.validate()?;
        let ws = self.workspace.clone();
        let what = self.describe();
        self.call(async |c| {
            let tx = c.transaction().await.map_err(pg_error)?;
            tx.execute(
                "SELECT 1 FROM terrane_workspaces WHERE name = $1 FOR UPDATE",
                &[&ws],
            )
            .await
            .map_err(pg_error)?;
            let used: i64 = tx
                .query_one(
                    "SELECT (SELECT count(*) FROM terrane_serials WHERE workspace = $1) + (SELECT count(*) FROM terrane_secrets WHERE workspace = $1) + (SELECT count(*) FROM terrane_keys WHERE workspace = $1)",
                    &[&ws],
                )
                .await
                .map_err(pg_error)?
                .get(0);
            if used > 0 {
                return Err(StateError::NotEmpty(what.clone()));
            }
            tx.execute(
                "UPDATE terrane_workspaces SET lineage = $1 WHERE name = $2",
                &[&dump.lineage, &ws],
            )
            .await
            .map_err(pg_error)?;
            for s in &dump.serials {
                tx.execute(
                    "INSERT INTO terrane_serials (workspace, serial, created_at, operation, username, status, changed) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[&ws, &(s.serial as i64), &(s.created_at as i64), &s.operation, &s.user, &s.status, &(s.changed as i64)],
                )
                .await
                .map_err(pg_error)?;
            }
            let insert = tx
                .prepare("INSERT INTO terrane_resources (workspace, address, serial_from, serial_to, provider, value, sensitive, deps, cbd, sealed, meta) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                .await
                .map_err(pg_error)?;
            for r in &dump.resources {
                tx.execute(
                    &insert,
                    &[&ws, &r.address, &(r.serial_from as i64), &r.serial_to.map(|v| v as i64), &r.provider, &r.value, &r.sensitive, &r.deps, &r.cbd, &r.sealed, &r.meta],
                )
                .await
                .map_err(pg_error)?;
            }
            for o in &dump.outputs {
                tx.execute(
                    "INSERT INTO terrane_outputs (workspace, name, serial_from, serial_to, value, sensitive, sealed) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[&ws, &o.name, &(o.serial_from as i64), &o.serial_to.map(|v| v as i64), &o.value, &o.sensitive, &o.sealed],
                )
                .await
                .map_err(pg_error)?;
            }
            for k in &dump.keys {
                store_created_key(&tx, &ws, &Some(k.clone())).await?;
            }
            for s in &dump.secrets {
                tx.execute(
                    "INSERT INTO terrane_secrets (workspace, name, version, created_at, username, value) VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&ws, &s.name, &(s.version as i64), &(s.created_at as i64), &s.user, &s.value],
                )
                .await
                .map_err(pg_error)?;
            }
            tx.commit().await.map_err(pg_error)
        })?;
        self.lineage = dump.lineage.clone();
        Ok(())
    }
}
