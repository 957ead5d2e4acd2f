//! A whole state, exactly as a backend stores it: the unit of migration between
//! backends, of `state pull`/`push`, and of backups.
//!
//! Rows keep their stored (possibly sealed) text: moving a state never decrypts it,
//! and a sealed value stays bound to its address, not to the backend it lives in.

use serde::{Deserialize, Serialize};

use crate::{seal, Encryption, InstanceState, OutputState, Result, Snapshot, StateError};
use terrane_core::InstanceAddr;
use terrane_secrets::WrappedKey;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dump {
    /// The state format the rows are written in ([`crate::FORMAT_VERSION`]).
    pub format: u32,
    pub lineage: String,
    pub serials: Vec<DumpSerial>,
    pub resources: Vec<DumpRow>,
    pub outputs: Vec<DumpOutput>,
    pub keys: Vec<WrappedKey>,
    pub secrets: Vec<DumpSecret>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DumpSerial {
    pub serial: u64,
    /// Seconds since the epoch.
    pub created_at: u64,
    pub operation: String,
    pub user: String,
    pub status: String,
    pub changed: u64,
}

/// One version of a resource instance: valid from `serial_from` until `serial_to`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DumpRow {
    pub address: String,
    pub serial_from: u64,
    pub serial_to: Option<u64>,
    pub provider: String,
    pub value: String,
    pub sensitive: String,
    pub deps: String,
    pub cbd: bool,
    pub sealed: i64,
    /// [`crate::ObjectMeta::encode`]; absent from dumps written before it existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub meta: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DumpOutput {
    pub name: String,
    pub serial_from: u64,
    pub serial_to: Option<u64>,
    pub value: String,
    pub sensitive: bool,
    pub sealed: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DumpSecret {
    pub name: String,
    pub version: u64,
    pub created_at: u64,
    pub user: String,
    pub value: String,
}

impl Dump {
    /// An empty state with a new lineage.
    pub fn new() -> Dump {
        Dump {
            format: crate::FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        }
    }

    /// True when nothing was ever written (no serial, no secret, no key).
    pub fn is_empty(&self) -> bool {
        self.serials.is_empty() && self.secrets.is_empty() && self.keys.is_empty()
    }

    pub fn current_serial(&self) -> u64 {
        self.serials.iter().map(|s| s.serial).max().unwrap_or(0)
    }

    /// The state right after `serial` (rows valid at it), decrypted with `enc`.
    pub fn snapshot_at(&self, serial: u64, enc: Option<&Encryption>) -> Result<Snapshot> {
        let live = |from: u64, to: Option<u64>| from <= serial && to.is_none_or(|t| t > serial);
        let mut snap = Snapshot {
            lineage: self.lineage.clone(),
            serial,
            ..Default::default()
        };
        for r in self
            .resources
            .iter()
            .filter(|r| live(r.serial_from, r.serial_to))
        {
            let (addr, inst) = r.decode(enc)?;
            snap.resources.insert(addr, inst);
        }
        for o in self
            .outputs
            .iter()
            .filter(|o| live(o.serial_from, o.serial_to))
        {
            snap.outputs.insert(o.name.clone(), o.decode(enc)?);
        }
        Ok(snap)
    }

    /// Checks the dump's internal consistency before it is loaded anywhere.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| StateError::Corrupt {
            path: "the state document".into(),
            reason: why,
        };
        if self.format > crate::FORMAT_VERSION {
            return Err(StateError::TooNew {
                path: "the state document".into(),
                found: self.format,
                supported: crate::FORMAT_VERSION,
            });
        }
        if self.lineage.is_empty() {
            return Err(bad("it has no lineage".into()));
        }
        let serials: std::collections::BTreeSet<u64> =
            self.serials.iter().map(|s| s.serial).collect();
        if serials.len() != self.serials.len() {
            return Err(bad("a serial appears twice".into()));
        }
        let known = |s: u64| serials.contains(&s);
        for r in &self.resources {
            if !known(r.serial_from) || r.serial_to.is_some_and(|t| t <= r.serial_from) {
                return Err(bad(format!(
                    "row {} has an invalid serial range",
                    r.address
                )));
            }
            InstanceAddr::parse(&r.address).map_err(|e| bad(e.to_string()))?;
        }
        let mut current = std::collections::BTreeSet::new();
        for r in self.resources.iter().filter(|r| r.serial_to.is_none()) {
            if !current.insert(&r.address) {
                return Err(bad(format!("{} has two current rows", r.address)));
            }
        }
        for o in &self.outputs {
            if !known(o.serial_from) {
                return Err(bad(format!(
                    "output {} has an invalid serial range",
                    o.name
                )));
            }
        }
        Ok(())
    }
}

impl DumpRow {
    pub fn decode(&self, enc: Option<&Encryption>) -> Result<(InstanceAddr, InstanceState)> {
        let corrupt = |e: String| StateError::Storage(format!("row {}: {e}", self.address));
        let addr = InstanceAddr::parse(&self.address).map_err(|e| corrupt(e.to_string()))?;
        let value = seal::decode(
            enc,
            &self.address,
            &self.value,
            &self.sensitive,
            self.sealed,
        )?;
        let dependencies: Vec<String> =
            serde_json::from_str(&self.deps).map_err(|e| corrupt(e.to_string()))?;
        Ok((
            addr.clone(),
            InstanceState {
                addr,
                provider: self.provider.clone(),
                value,
                dependencies,
                create_before_destroy: self.cbd,
                meta: crate::ObjectMeta::decode(&self.meta).map_err(corrupt)?,
            },
        ))
    }

    /// The stored form of `inst`, valid from `serial`.
    pub fn encode(enc: Option<&Encryption>, serial: u64, inst: &InstanceState) -> Result<DumpRow> {
        let address = inst.addr.to_string();
        let row = seal::encode(enc, &address, &inst.value)?;
        Ok(DumpRow {
            serial_from: serial,
            serial_to: None,
            provider: inst.provider.clone(),
            value: row.value,
            sensitive: row.sensitive,
            deps: serde_json::to_string(&inst.dependencies).unwrap_or_else(|_| "[]".into()),
            cbd: inst.create_before_destroy,
            sealed: row.sealed,
            meta: inst.meta.encode(),
            address,
        })
    }
}

impl DumpOutput {
    pub fn decode(&self, enc: Option<&Encryption>) -> Result<OutputState> {
        seal::decode_output(enc, &self.name, &self.value, self.sensitive, self.sealed)
    }

    /// The stored form of output `name` as written at `serial`.
    pub fn encode(
        enc: Option<&Encryption>,
        serial: u64,
        name: &str,
        o: &OutputState,
    ) -> Result<DumpOutput> {
        let (value, sealed) = seal::encode_output(enc, name, o)?;
        Ok(DumpOutput {
            name: name.to_string(),
            serial_from: serial,
            serial_to: None,
            value,
            sensitive: o.sensitive,
            sealed,
        })
    }
}
