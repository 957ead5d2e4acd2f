//! State: what terrane has created, and the history of every change to it.
//!
//! State is a set of resource-instance rows and outputs, versioned by *serial*. A row is
//! valid from the serial that wrote it until the serial that replaced or removed it, so
//! an apply writes only the rows it changed and every older serial stays readable.
//! Backends implement [`Backend`]; the default is [`sqlite::SqliteBackend`], one file
//! under `.terrane/`. Locks record their holder and expire, so a crashed run never
//! blocks the next one for long.

pub mod dump;
pub mod lock;
pub mod retention;
pub mod seal;
pub mod spec;
pub mod sqlite;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(feature = "s3")]
pub mod doc;
#[cfg(feature = "pg")]
pub mod pg;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "conformance")]
pub mod testpg;

use std::collections::BTreeMap;

use terrane_core::{InstanceAddr, Value};

pub use dump::Dump;
pub use lock::{LockInfo, LockMode};
pub use seal::Encryption;
pub use spec::{BackendSpec, S3Location};
pub use terrane_secrets::WrappedKey;

/// The newest state format this build reads and writes.
pub const FORMAT_VERSION: u32 = 3;

/// How many versions of a secret are kept (older ones are deleted on write), as in
/// Vault's KV version 2.
pub const SECRET_VERSIONS: u64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the state at {path} is not a terrane state database ({reason}). terrane will not modify it; restore it from a backup, or move it aside to start empty")]
    Corrupt { path: String, reason: String },
    #[error("the state at {path} was written by a newer terrane (format {found}, this build reads up to {supported}). Upgrade terrane; the file was not modified")]
    TooNew {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error("the state is locked by {holder}. If that run is no longer alive, release the lock with: terrane force-unlock {lock_id}")]
    Locked { lock_id: String, holder: String },
    #[error("no lock with ID {0} is held")]
    NoSuchLock(String),
    #[error("serial {0} does not exist in the state history")]
    NoSuchSerial(u64),
    /// This run's lock was taken over (its lease expired) and another run holds the
    /// state now: the write was refused so that it cannot overwrite the new holder's.
    #[error("this run lost the state lock: {holder} took it over after the lease expired, and the write was refused (fencing). Nothing was written; run the command again")]
    Fenced { holder: String },
    /// `import` into a backend that already holds a state.
    #[error("{0} already holds a state; terrane will not overwrite it. Use an empty workspace (or delete the existing one) as the target")]
    NotEmpty(String),
    #[error("state storage error: {0}")]
    Storage(String),
    /// The storage could not be reached (the connection broke or was refused).
    #[error("the state storage is unreachable: {0}")]
    Unavailable(String),
    /// An encryption key is missing or wrong, or a value failed its integrity check.
    #[error("{0}")]
    Key(String),
}

impl From<terrane_secrets::CryptoError> for StateError {
    fn from(e: terrane_secrets::CryptoError) -> StateError {
        StateError::Key(e.to_string())
    }
}

impl From<rusqlite::Error> for StateError {
    fn from(e: rusqlite::Error) -> StateError {
        StateError::Storage(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StateError>;

/// Runs the future `make` builds to completion on `rt` (a backend's own runtime);
/// from inside another runtime, on a helper thread, since a runtime cannot be
/// entered from within one. This lets the network backends serve both the engine's
/// plain writer thread and async command code.
#[cfg(any(feature = "pg", feature = "s3"))]
pub(crate) fn block<F: std::future::Future>(
    rt: &OwnRuntime,
    make: impl FnOnce() -> F + Send,
) -> F::Output
where
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(|| rt.block_on(make()))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    } else {
        rt.block_on(make())
    }
}

/// A backend's own runtime. Dropping it never blocks, so a backend may be dropped
/// inside async code (a plain `Runtime` panics there).
#[cfg(any(feature = "pg", feature = "s3"))]
pub(crate) struct OwnRuntime(Option<tokio::runtime::Runtime>);

#[cfg(any(feature = "pg", feature = "s3"))]
impl OwnRuntime {
    pub(crate) fn new() -> Result<OwnRuntime> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| OwnRuntime(Some(rt)))
            .map_err(|e| StateError::Storage(format!("starting the storage client: {e}")))
    }
}

#[cfg(any(feature = "pg", feature = "s3"))]
impl std::ops::Deref for OwnRuntime {
    type Target = tokio::runtime::Runtime;
    fn deref(&self) -> &tokio::runtime::Runtime {
        self.0.as_ref().expect("the runtime lives until drop")
    }
}

#[cfg(any(feature = "pg", feature = "s3"))]
impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The recorded state of one resource instance.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceState {
    pub addr: InstanceAddr,
    /// The provider configuration that manages it, e.g. `provider.aws` or `provider.aws.west`.
    pub provider: String,
    /// Attribute values, with sensitive marks.
    pub value: Value,
    /// Addresses of the resources this instance depended on when it was last applied,
    /// so that it can be destroyed in the right order after it leaves the configuration.
    pub dependencies: Vec<String>,
    pub create_before_destroy: bool,
    /// What the provider keeps beside the object.
    pub meta: ObjectMeta,
}

/// What a provider keeps beside an object: its private bytes (a plugin's, opaque to
/// terrane, as Terraform's state keeps them) and the version of the resource type's
/// schema the value was written at (for state upgrades).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectMeta {
    pub private: Vec<u8>,
    pub schema_version: u64,
    /// Written by a provider plugin rather than terrane's native provider of that
    /// name: the two record different attributes, so neither reads the other's objects.
    pub plugin: bool,
    /// The object may not be what the configuration describes (a creation-time
    /// provisioner failed, or was interrupted): the next plan replaces it, as Terraform
    /// replaces a tainted object.
    pub tainted: bool,
}

impl ObjectMeta {
    /// The stored form: empty for the default, else JSON with the private bytes in
    /// base64.
    pub fn encode(&self) -> String {
        if *self == ObjectMeta::default() {
            return String::new();
        }
        use base64::Engine;
        let mut o = serde_json::Map::new();
        if !self.private.is_empty() {
            o.insert(
                "private".into(),
                base64::engine::general_purpose::STANDARD
                    .encode(&self.private)
                    .into(),
            );
        }
        if self.schema_version != 0 {
            o.insert("schema_version".into(), self.schema_version.into());
        }
        if self.plugin {
            o.insert("plugin".into(), true.into());
        }
        if self.tainted {
            o.insert("tainted".into(), true.into());
        }
        serde_json::Value::Object(o).to_string()
    }

    pub fn decode(s: &str) -> std::result::Result<ObjectMeta, String> {
        if s.is_empty() {
            return Ok(ObjectMeta::default());
        }
        use base64::Engine;
        let j: serde_json::Value = serde_json::from_str(s).map_err(|e| format!("meta: {e}"))?;
        let private = match j.get("private").and_then(|p| p.as_str()) {
            Some(p) => base64::engine::general_purpose::STANDARD
                .decode(p)
                .map_err(|e| format!("meta.private: {e}"))?,
            None => Vec::new(),
        };
        Ok(ObjectMeta {
            private,
            schema_version: j
                .get("schema_version")
                .and_then(|v| v.as_u64())
                .unwrap_or(0),
            plugin: j.get("plugin").and_then(|v| v.as_bool()).unwrap_or(false),
            tainted: j.get("tainted").and_then(|v| v.as_bool()).unwrap_or(false),
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutputState {
    pub value: Value,
    pub sensitive: bool,
}

/// A complete state at one serial.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub lineage: String,
    pub serial: u64,
    pub resources: BTreeMap<InstanceAddr, InstanceState>,
    pub outputs: BTreeMap<String, OutputState>,
}

/// One change written during an operation.
#[derive(Clone, Debug)]
pub enum Change {
    Put(InstanceState),
    Remove(InstanceAddr),
    Output(String, Option<OutputState>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SerialStatus {
    InProgress,
    Complete,
    /// The operation stopped early (an error, Ctrl-C or a crash); the rows it wrote are
    /// real changes that happened.
    Incomplete,
}

impl SerialStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            SerialStatus::InProgress => "in-progress",
            SerialStatus::Complete => "complete",
            SerialStatus::Incomplete => "incomplete",
        }
    }
}

#[derive(Clone, Debug)]
pub struct SerialInfo {
    pub serial: u64,
    pub created_at: String,
    pub operation: String,
    pub user: String,
    pub status: String,
    pub changed: u64,
}

/// One version of a secret, without its value.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretInfo {
    pub name: String,
    pub version: u64,
    pub created_at: String,
    pub user: String,
}

/// What re-encrypting a state touched.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resealed {
    pub rows: u64,
    pub secrets: u64,
}

/// A state storage backend.
pub trait Backend: Send {
    /// The current state (every row not superseded).
    fn read_current(&self) -> Result<Snapshot>;
    /// The state as it was right after `serial`.
    fn read_serial(&self, serial: u64) -> Result<Snapshot>;
    fn history(&self) -> Result<Vec<SerialInfo>>;
    /// Starts a new serial for an operation and returns it.
    fn begin(&mut self, operation: &str) -> Result<u64>;
    /// Durably records changes under `serial`. Only the given rows are written.
    fn write(&mut self, serial: u64, changes: &[Change]) -> Result<()>;
    fn finish(&mut self, serial: u64, status: SerialStatus) -> Result<()>;
    /// Takes the state lock, failing at once if someone else holds it.
    fn lock(&mut self, info: &LockInfo) -> Result<()>;
    fn unlock(&mut self, lock_id: &str) -> Result<()>;
    /// Releases a lock regardless of its holder.
    fn force_unlock(&mut self, lock_id: &str) -> Result<()>;
    /// Extends the lease of a held lock.
    fn renew(&mut self, lock_id: &str) -> Result<()>;
    /// A second, independent handle to the same storage (for a writer thread).
    fn reopen(&self) -> Result<Box<dyn Backend>>;

    /// The data keys, wrapped, that encrypt this state's values and secrets.
    fn keys(&self) -> Result<Vec<WrappedKey>>;
    /// Stores a new version of a secret, encrypted (an encryption must be set), and
    /// returns its version number. Only the last [`SECRET_VERSIONS`] are kept.
    fn secret_put(&mut self, name: &str, value: &[u8]) -> Result<u64>;
    /// A secret's latest (or given) version and its decrypted value.
    fn secret_get(&self, name: &str, version: Option<u64>) -> Result<Option<(u64, Vec<u8>)>>;
    /// Every stored version of every secret, by name then version.
    fn secret_list(&self) -> Result<Vec<SecretInfo>>;
    /// Deletes every version of a secret; false if there was none.
    fn secret_rm(&mut self, name: &str) -> Result<bool>;
    /// Re-encrypts everything stored — every serial's rows, outputs and every secret
    /// version — from the current encryption to `to`, whose data keys are `keys`, in
    /// one transaction: either all of it moves to the new key or none does.
    fn reseal(&mut self, to: Encryption, keys: &[WrappedKey]) -> Result<Resealed>;

    /// Encrypts on write and decrypts on read with `enc` (see [`seal`]).
    fn set_encryption(&mut self, enc: Option<Encryption>);
    fn encryption(&self) -> Option<&Encryption>;
    /// The lock as recorded, if any (whoever holds it).
    fn current_lock(&self) -> Result<Option<LockInfo>>;
    /// Where the state lives, for messages (never includes a password).
    fn describe(&self) -> String;
    /// Everything stored, exactly as stored (sealed values stay sealed): every serial,
    /// every row version, the data keys and the secrets. Used by `state migrate`,
    /// `state pull` and backups.
    fn export(&self) -> Result<Dump>;
    /// Loads a dump into this backend, which must hold no state yet. The lineage and
    /// the history are kept, so plans and backups made before still match.
    fn import(&mut self, dump: &Dump) -> Result<()>;
}
