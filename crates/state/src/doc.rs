//! A backend over a store of whole documents with compare-and-swap writes (an object
//! store): the state and its history are one document, rewritten on every change
//! only if nobody else changed it since it was read (`If-Match` on its ETag); the
//! lock is a second object, created only if absent (`If-None-Match: *`).
//!
//! **Fencing.** The document records the lock ID of the run allowed to write it. A
//! run that takes the lock writes its ID into the document (a compare-and-swap), so
//! an earlier holder's write — based on an older version — fails its precondition,
//! and on a re-read the holder no longer matches: the write is refused.

use serde::{Deserialize, Serialize};

use crate::dump::{Dump, DumpOutput, DumpRow, DumpSecret, DumpSerial};
use crate::lock::{format_time, now_secs, username, LockInfo, LEASE_SECS};
use crate::seal::{self, Encryption};
use crate::{
    Backend, Change, Resealed, Result, SecretInfo, SerialInfo, SerialStatus, Snapshot, StateError,
    WrappedKey, SECRET_VERSIONS,
};

/// A conditional write lost the race: the object changed (or exists) already.
#[derive(Debug)]
pub struct Conflict;

/// A store of two objects: the state document and its lock.
pub trait DocStore: Send {
    /// The object's bytes and version tag, or None when it does not exist.
    fn get(&self, lock: bool) -> Result<Option<(Vec<u8>, String)>>;
    /// Writes the object if its current version is `expect` (None: only if absent).
    fn put(
        &self,
        lock: bool,
        body: Vec<u8>,
        expect: Option<&str>,
    ) -> Result<std::result::Result<String, Conflict>>;
    /// Deletes the object if its current version is `expect`.
    fn delete(&self, lock: bool, expect: &str) -> Result<std::result::Result<(), Conflict>>;
    fn describe(&self) -> String;
    fn reopen(&self) -> Result<Box<dyn DocStore>>;
}

#[derive(Default, Serialize, Deserialize)]
struct Document {
    /// The lock ID of the run allowed to write (the last one to take the lock).
    holder: Option<String>,
    state: Dump,
}

pub struct DocBackend {
    store: Box<dyn DocStore>,
    enc: Option<Encryption>,
    held: Option<String>,
}

/// How many times a write re-reads and retries after losing a compare-and-swap.
const CAS_RETRIES: usize = 5;

impl DocBackend {
    /// Opens the state in `store`, creating an empty one (with its lineage) if there
    /// is none yet.
    pub fn open(store: Box<dyn DocStore>) -> Result<DocBackend> {
        let b = DocBackend {
            store,
            enc: None,
            held: None,
        };
        if b.store.get(false)?.is_none() {
            let doc = Document {
                holder: None,
                state: Dump::new(),
            };
            let body = serde_json::to_vec(&doc).map_err(|e| StateError::Storage(e.to_string()))?;
            // Losing this race is fine: someone else created it.
            let _ = b.store.put(false, body, None)?;
        }
        Ok(b)
    }

    /// The document and its version tag.
    fn load(&self) -> Result<(Document, String)> {
        match self.store.get(false)? {
            None => Err(StateError::Corrupt {
                path: self.store.describe(),
                reason: "the state document was deleted while terrane was using it".into(),
            }),
            Some((bytes, tag)) => {
                let doc: Document = serde_json::from_slice(&bytes).map_err(|e| {
                    let path = self.store.describe();
                    let terraform = terrane_core::tfstate::TfState::parse(&bytes, &path).is_ok();
                    StateError::Corrupt {
                        reason: if terraform {
                            format!("it holds a Terraform state, which terrane does not write over. Take it over into another key or backend with: terrane state migrate --from {path} (docs/migrating.md)")
                        } else {
                            format!("the state document does not parse: {e}")
                        },
                        path,
                    }
                })?;
                doc.state.validate()?;
                Ok((doc, tag))
            }
        }
    }

    /// Reads the document, applies `f`, and writes it back if nobody changed it in
    /// between; re-reads and retries otherwise. `fence` checks the holder first.
    fn update<R>(
        &mut self,
        fence: bool,
        mut f: impl FnMut(&mut Document) -> Result<R>,
    ) -> Result<R> {
        for _ in 0..CAS_RETRIES {
            let (mut doc, tag) = self.load()?;
            if fence {
                if let Some(mine) = &self.held {
                    if doc.holder.as_deref() != Some(mine) {
                        let holder = match self.current_lock()? {
                            Some(l) if l.id != *mine => l.describe(),
                            _ => doc.holder.clone().unwrap_or_else(|| "force-unlock".into()),
                        };
                        return Err(StateError::Fenced { holder });
                    }
                }
            }
            let r = f(&mut doc)?;
            let body = serde_json::to_vec(&doc).map_err(|e| StateError::Storage(e.to_string()))?;
            match self.store.put(false, body, Some(&tag))? {
                Ok(_) => return Ok(r),
                Err(Conflict) => continue,
            }
        }
        Err(StateError::Storage(format!(
            "{} kept changing while this run tried to write it; nothing was written",
            self.store.describe()
        )))
    }

    fn created_key(&self) -> Option<WrappedKey> {
        self.enc.as_ref().and_then(|e| e.vault.take_created())
    }
}

fn push_key(doc: &mut Document, key: &Option<WrappedKey>) {
    if let Some(k) = key {
        if !doc.state.keys.iter().any(|x| x.id == k.id) {
            doc.state.keys.push(k.clone());
        }
    }
}

impl Backend for DocBackend {
    fn read_current(&self) -> Result<Snapshot> {
        let (doc, _) = self.load()?;
        doc.state
            .snapshot_at(doc.state.current_serial(), self.enc.as_ref())
    }

    fn read_serial(&self, serial: u64) -> Result<Snapshot> {
        let (doc, _) = self.load()?;
        if !doc.state.serials.iter().any(|s| s.serial == serial) {
            return Err(StateError::NoSuchSerial(serial));
        }
        doc.state.snapshot_at(serial, self.enc.as_ref())
    }

    fn history(&self) -> Result<Vec<SerialInfo>> {
        let (doc, _) = self.load()?;
        Ok(doc
            .state
            .serials
            .iter()
            .map(|s| SerialInfo {
                serial: s.serial,
                created_at: format_time(s.created_at),
                operation: s.operation.clone(),
                user: s.user.clone(),
                status: s.status.clone(),
                changed: s.changed,
            })
            .collect())
    }

    fn begin(&mut self, operation: &str) -> Result<u64> {
        let user = username();
        self.update(true, |doc| {
            for s in doc.state.serials.iter_mut() {
                if s.status == "in-progress" {
                    s.status = "incomplete".into();
                }
            }
            let serial = doc.state.current_serial() + 1;
            doc.state.serials.push(DumpSerial {
                serial,
                created_at: now_secs(),
                operation: operation.to_string(),
                user: user.clone(),
                status: "in-progress".into(),
                changed: 0,
            });
            Ok(serial)
        })
    }

    fn write(&mut self, serial: u64, changes: &[Change]) -> Result<()> {
        let mut rows = Vec::new();
        let mut outs = Vec::new();
        for c in changes {
            match c {
                Change::Put(inst) => rows.push((
                    inst.addr.to_string(),
                    Some(DumpRow::encode(self.enc.as_ref(), serial, inst)?),
                )),
                Change::Remove(addr) => rows.push((addr.to_string(), None)),
                Change::Output(name, out) => {
                    let row = match out {
                        Some(o) => {
                            let (value, sealed) = seal::encode_output(self.enc.as_ref(), name, o)?;
                            Some(DumpOutput {
                                name: name.clone(),
                                serial_from: serial,
                                serial_to: None,
                                value,
                                sensitive: o.sensitive,
                                sealed,
                            })
                        }
                        None => None,
                    };
                    outs.push((name.clone(), row));
                }
            }
        }
        let key = self.created_key();
        self.update(true, |doc| {
            let st = &mut doc.state;
            for (address, row) in &rows {
                for r in st.resources.iter_mut() {
                    if r.serial_to.is_none() && &r.address == address {
                        r.serial_to = Some(serial);
                    }
                }
                if let Some(row) = row {
                    st.resources.push(row.clone());
                }
            }
            for (name, out) in &outs {
                for o in st.outputs.iter_mut() {
                    if o.serial_to.is_none() && &o.name == name {
                        o.serial_to = Some(serial);
                    }
                }
                if let Some(o) = out {
                    st.outputs.push(o.clone());
                }
            }
            if let Some(s) = st.serials.iter_mut().find(|s| s.serial == serial) {
                s.changed += changes.len() as u64;
            }
            push_key(doc, &key);
            Ok(())
        })
    }

    fn finish(&mut self, serial: u64, status: SerialStatus) -> Result<()> {
        self.update(true, |doc| {
            if let Some(s) = doc.state.serials.iter_mut().find(|s| s.serial == serial) {
                s.status = status.as_str().into();
            }
            Ok(())
        })
    }

    fn lock(&mut self, info: &LockInfo) -> Result<()> {
        let body = serde_json::to_vec(info).map_err(|e| StateError::Storage(e.to_string()))?;
        let taken = match self.store.get(true)? {
            None => self.store.put(true, body, None)?,
            Some((bytes, tag)) => {
                let holder: Option<LockInfo> = serde_json::from_slice(&bytes).ok();
                match holder {
                    Some(h) if !h.is_stale(now_secs()) => {
                        return Err(StateError::Locked {
                            lock_id: h.id.clone(),
                            holder: h.describe(),
                        })
                    }
                    stale => {
                        crate::lock::announce_takeover(stale.as_ref());
                        self.store.put(true, body, Some(&tag))?
                    }
                }
            }
        };
        if taken.is_err() {
            // Someone else created or replaced the lock object first.
            let holder = self.current_lock()?;
            return Err(StateError::Locked {
                lock_id: holder.as_ref().map(|h| h.id.clone()).unwrap_or_default(),
                holder: holder
                    .map(|h| h.describe())
                    .unwrap_or_else(|| "another run that took the lock at the same moment".into()),
            });
        }
        // Claim the document, so an earlier holder's writes are refused.
        let id = info.id.clone();
        self.update(false, |doc| {
            doc.holder = Some(id.clone());
            Ok(())
        })?;
        self.held = Some(info.id.clone());
        Ok(())
    }

    fn unlock(&mut self, lock_id: &str) -> Result<()> {
        if let Some((bytes, tag)) = self.store.get(true)? {
            let holder: Option<LockInfo> = serde_json::from_slice(&bytes).ok();
            if holder.is_some_and(|h| h.id == lock_id) {
                let _ = self.store.delete(true, &tag)?;
            }
        }
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
        let Some((bytes, tag)) = self.store.get(true)? else {
            return Err(StateError::NoSuchLock(lock_id.to_string()));
        };
        let mut info: LockInfo = serde_json::from_slice(&bytes)
            .map_err(|e| StateError::Storage(format!("the lock object: {e}")))?;
        if info.id != lock_id {
            return Err(StateError::Fenced {
                holder: info.describe(),
            });
        }
        info.expires_at = now_secs() + LEASE_SECS;
        let body = serde_json::to_vec(&info).map_err(|e| StateError::Storage(e.to_string()))?;
        match self.store.put(true, body, Some(&tag))? {
            Ok(_) => Ok(()),
            Err(Conflict) => Err(StateError::Fenced {
                holder: self
                    .current_lock()?
                    .map(|l| l.describe())
                    .unwrap_or_else(|| "force-unlock".into()),
            }),
        }
    }

    fn reopen(&self) -> Result<Box<dyn Backend>> {
        Ok(Box::new(DocBackend {
            store: self.store.reopen()?,
            enc: self.enc.clone(),
            held: self.held.clone(),
        }))
    }

    fn keys(&self) -> Result<Vec<WrappedKey>> {
        Ok(self.load()?.0.state.keys)
    }

    fn secret_put(&mut self, name: &str, value: &[u8]) -> Result<u64> {
        let enc = self.enc.clone();
        let user = username();
        let mut created: Option<WrappedKey> = None;
        self.update(false, |doc| {
            let version = doc
                .state
                .secrets
                .iter()
                .filter(|s| s.name == name)
                .map(|s| s.version)
                .max()
                .unwrap_or(0)
                + 1;
            let sealed = seal::seal_secret(enc.as_ref(), name, version, value)?;
            if created.is_none() {
                created = enc.as_ref().and_then(|e| e.vault.take_created());
            }
            doc.state.secrets.push(DumpSecret {
                name: name.to_string(),
                version,
                created_at: now_secs(),
                user: user.clone(),
                value: sealed,
            });
            doc.state
                .secrets
                .retain(|s| s.name != name || s.version + SECRET_VERSIONS > version);
            push_key(doc, &created);
            Ok(version)
        })
    }

    fn secret_get(&self, name: &str, version: Option<u64>) -> Result<Option<(u64, Vec<u8>)>> {
        let (doc, _) = self.load()?;
        let found = doc
            .state
            .secrets
            .iter()
            .filter(|s| s.name == name && version.is_none_or(|v| v == s.version))
            .max_by_key(|s| s.version);
        match found {
            None => Ok(None),
            Some(s) => Ok(Some((
                s.version,
                seal::open_secret(self.enc.as_ref(), name, s.version, &s.value)?,
            ))),
        }
    }

    fn secret_list(&self) -> Result<Vec<SecretInfo>> {
        let (doc, _) = self.load()?;
        let mut list: Vec<SecretInfo> = doc
            .state
            .secrets
            .iter()
            .map(|s| SecretInfo {
                name: s.name.clone(),
                version: s.version,
                created_at: format_time(s.created_at),
                user: s.user.clone(),
            })
            .collect();
        list.sort_by(|a, b| (&a.name, a.version).cmp(&(&b.name, b.version)));
        Ok(list)
    }

    fn secret_rm(&mut self, name: &str) -> Result<bool> {
        self.update(false, |doc| {
            let before = doc.state.secrets.len();
            doc.state.secrets.retain(|s| s.name != name);
            Ok(doc.state.secrets.len() != before)
        })
    }

    fn reseal(&mut self, to: Encryption, keys: &[WrappedKey]) -> Result<Resealed> {
        let from = self.enc.clone();
        let done = self.update(false, |doc| {
            let mut done = Resealed::default();
            for r in doc.state.resources.iter_mut() {
                let e = seal::reseal_row(
                    from.as_ref(),
                    &to,
                    &r.address,
                    &r.value,
                    &r.sensitive,
                    r.sealed,
                )?;
                (r.value, r.sensitive, r.sealed) = (e.value, e.sensitive, e.sealed);
                done.rows += 1;
            }
            for o in doc.state.outputs.iter_mut() {
                (o.value, o.sealed) = seal::reseal_output(
                    from.as_ref(),
                    &to,
                    &o.name,
                    &o.value,
                    o.sensitive,
                    o.sealed,
                )?;
                done.rows += 1;
            }
            for s in doc.state.secrets.iter_mut() {
                s.value = seal::reseal_secret(from.as_ref(), &to, &s.name, s.version, &s.value)?;
                done.secrets += 1;
            }
            doc.state.keys = keys.to_vec();
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
        Ok(self
            .store
            .get(true)?
            .and_then(|(b, _)| serde_json::from_slice(&b).ok()))
    }

    fn describe(&self) -> String {
        self.store.describe()
    }

    fn export(&self) -> Result<Dump> {
        Ok(self.load()?.0.state)
    }

    fn import(&mut self, dump: &Dump) -> Result<()> {
        dump.validate()?;
        let what = self.describe();
        let held = self.held.clone();
        self.update(false, |doc| {
            if !doc.state.is_empty() {
                return Err(StateError::NotEmpty(what.clone()));
            }
            *doc = Document {
                holder: held.clone(),
                state: dump.clone(),
            };
            Ok(())
        })
    }
}
