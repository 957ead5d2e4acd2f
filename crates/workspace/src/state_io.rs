//! Moving whole states: `state pull` (the current serial as a document, sensitive
//! values sealed as at rest), `state push` (such a document written back as a new
//! serial, guarded by lineage and serial), and `state migrate` (every serial, secret
//! and key copied to another backend, read back and compared before it is announced).

use terrane_core::InstanceAddr;
use terrane_state::{seal, Backend, BackendSpec, Change, InstanceState, SerialStatus};

use crate::{LockGuard, Workspace};

/// The document `state pull` prints: the current serial's rows, with sensitive values
/// sealed as they are at rest (readable structure, no plaintext secrets).
pub fn pull(backend: &dyn Backend) -> Result<serde_json::Value, String> {
    let snap = backend.read_current().map_err(|e| e.to_string())?;
    let mut per_value = backend.encryption().cloned();
    if let Some(e) = per_value.as_mut() {
        e.whole = false;
    }
    let mut resources = Vec::new();
    for inst in snap.resources.values() {
        let address = inst.addr.to_string();
        let row =
            seal::encode(per_value.as_ref(), &address, &inst.value).map_err(|e| e.to_string())?;
        resources.push(serde_json::json!({
            "address": address,
            "provider": inst.provider,
            "value": serde_json::from_str::<serde_json::Value>(&row.value).unwrap_or_default(),
            "sensitive_paths": serde_json::from_str::<serde_json::Value>(&row.sensitive).unwrap_or_default(),
            "dependencies": inst.dependencies,
            "create_before_destroy": inst.create_before_destroy,
            "meta": inst.meta.encode(),
        }));
    }
    let mut outputs = serde_json::Map::new();
    for (name, o) in &snap.outputs {
        let (value, sealed) =
            seal::encode_output(per_value.as_ref(), name, o).map_err(|e| e.to_string())?;
        let value = if sealed == seal::PLAIN {
            serde_json::from_str(&value).unwrap_or_default()
        } else {
            serde_json::Value::String(value)
        };
        outputs.insert(
            name.clone(),
            serde_json::json!({"value": value, "sensitive": o.sensitive, "sealed": sealed != seal::PLAIN}),
        );
    }
    Ok(serde_json::json!({
        "terrane_state": 1,
        "lineage": snap.lineage,
        "serial": snap.serial,
        "resources": resources,
        "outputs": outputs,
    }))
}

/// Writes a document from [`pull`] back as a new serial. Unless `force`, a document
/// of another lineage, or older than the state, is refused.
pub fn push(backend: &mut dyn Backend, text: &str, force: bool) -> Result<u64, String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "the state document is not valid JSON ({e}), at line {} column {}",
            e.line(),
            e.column()
        )
    })?;
    if doc.get("terrane_state").and_then(|v| v.as_u64()) != Some(1) {
        return Err("the document is not a state from `terrane state pull` (its \"terrane_state\" field is missing or not 1)".into());
    }
    let current = backend.read_current().map_err(|e| e.to_string())?;
    let lineage = doc["lineage"].as_str().unwrap_or_default();
    let serial = doc["serial"].as_u64().unwrap_or(0);
    if !force {
        if current.serial > 0 && lineage != current.lineage {
            return Err(format!("the document belongs to another state (lineage {lineage}; this state's is {}). Pushing it would replace an unrelated state; use --force if that is what you want", current.lineage));
        }
        if serial < current.serial {
            return Err(format!("the document is from serial {serial}, older than the state's serial {}: it would undo later changes. Pull again, or use --force", current.serial));
        }
    }
    let enc = backend.encryption().cloned();
    let mut wanted = std::collections::BTreeMap::new();
    for r in doc["resources"].as_array().into_iter().flatten() {
        let address = r["address"]
            .as_str()
            .ok_or("a resource without an address")?;
        let addr =
            InstanceAddr::parse(address).map_err(|e| format!("resource {address:?}: {e}"))?;
        let sensitive = r["sensitive_paths"].to_string();
        let sealed = if r["sensitive_paths"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
            && enc.is_some()
        {
            seal::SENSITIVE_SEALED
        } else {
            seal::PLAIN
        };
        let value = seal::decode(
            enc.as_ref(),
            address,
            &r["value"].to_string(),
            &sensitive,
            sealed,
        )
        .or_else(|_| {
            seal::decode(
                None,
                address,
                &r["value"].to_string(),
                &sensitive,
                seal::PLAIN,
            )
        })
        .map_err(|e| format!("resource {address}: {e}"))?;
        let deps = r["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str().map(String::from))
            .collect();
        wanted.insert(
            addr.clone(),
            InstanceState {
                addr,
                provider: r["provider"].as_str().unwrap_or_default().to_string(),
                value,
                dependencies: deps,
                create_before_destroy: r["create_before_destroy"].as_bool().unwrap_or(false),
                meta: terrane_state::ObjectMeta::decode(r["meta"].as_str().unwrap_or_default())
                    .map_err(|e| format!("resource {address}: {e}"))?,
            },
        );
    }
    let mut changes = Vec::new();
    for (addr, inst) in &wanted {
        if current.resources.get(addr) != Some(inst) {
            changes.push(Change::Put(inst.clone()));
        }
    }
    for addr in current.resources.keys() {
        if !wanted.contains_key(addr) {
            changes.push(Change::Remove(addr.clone()));
        }
    }
    let outputs = doc["outputs"].as_object().cloned().unwrap_or_default();
    for (name, o) in &outputs {
        let sensitive = o["sensitive"].as_bool().unwrap_or(false);
        let sealed = if o["sealed"].as_bool().unwrap_or(false) {
            seal::WHOLE_SEALED
        } else {
            seal::PLAIN
        };
        let text = if sealed == seal::PLAIN {
            o["value"].to_string()
        } else {
            o["value"].as_str().unwrap_or_default().to_string()
        };
        let out = seal::decode_output(enc.as_ref(), name, &text, sensitive, sealed)
            .map_err(|e| format!("output {name}: {e}"))?;
        if current.outputs.get(name) != Some(&out) {
            changes.push(Change::Output(name.clone(), Some(out)));
        }
    }
    for name in current.outputs.keys() {
        if !outputs.contains_key(name) {
            changes.push(Change::Output(name.clone(), None));
        }
    }
    let s = backend.begin("state push").map_err(|e| e.to_string())?;
    let r = backend.write(s, &changes);
    let status = if r.is_ok() {
        SerialStatus::Complete
    } else {
        SerialStatus::Incomplete
    };
    backend.finish(s, status).map_err(|e| e.to_string())?;
    r.map_err(|e| e.to_string())?;
    Ok(s)
}

/// `terrane state migrate`: `--from FILE` takes a Terraform state over, `--to
/// FILE.tfstate` writes one, `--to URL` copies the state to another backend.
pub fn migrate_command(
    ws: &Workspace,
    backend: &mut dyn Backend,
    from: Option<&std::path::Path>,
    to: Option<&str>,
    progress: &dyn Fn(&str),
) -> Result<String, String> {
    match (from, to) {
        (Some(f), None) => crate::takeover::from_terraform(ws, backend, &f.to_string_lossy()),
        (None, Some(t)) if t.ends_with(".tfstate") => {
            crate::takeover::to_terraform(ws, backend, &ws.dir.join(t))
        }
        (None, Some(t)) => migrate(ws, backend, t, progress),
        _ => Err(
            "give either --from FILE (a Terraform state to take over) or --to URL|FILE.tfstate"
                .into(),
        ),
    }
}

/// The state history as a table, oldest serial first.
pub fn history_table(backend: &dyn Backend) -> Result<String, String> {
    let history = backend.history().map_err(|e| e.to_string())?;
    if history.is_empty() {
        return Ok("No state history yet. Run terrane apply to create the first serial.".into());
    }
    let mut out = format!(
        "{:>6}  {:<19}  {:<10}  {:<12}  {:<11}  {:>7}",
        "SERIAL", "TIME (UTC)", "OPERATION", "USER", "STATUS", "CHANGES"
    );
    for h in history {
        out += &format!(
            "\n{:>6}  {:<19}  {:<10}  {:<12}  {:<11}  {:>7}",
            h.serial, h.created_at, h.operation, h.user, h.status, h.changed
        );
    }
    Ok(out)
}

/// Copies the whole state (every serial, secret version and wrapped key) to the
/// backend the URL `to` names, reads the copy back and compares it; `progress` hears
/// what is being copied. The source is not changed. Returns what to tell the user.
pub fn migrate(
    ws: &Workspace,
    from: &dyn Backend,
    to: &str,
    progress: &dyn Fn(&str),
) -> Result<String, String> {
    let spec = BackendSpec::parse_url(to, &ws.dir).map_err(|e| e.to_string())?;
    let dump = from.export().map_err(|e| e.to_string())?;
    let mut target = ws.open_spec(&spec)?;
    progress(&format!(
        "Copying {} serials, {} row versions and {} secret versions from {} to {}...",
        dump.serials.len(),
        dump.resources.len() + dump.outputs.len(),
        dump.secrets.len(),
        from.describe(),
        target.describe()
    ));
    target.import(&dump).map_err(|e| e.to_string())?;
    // Read it back (with the keys it now holds) and compare, before telling anyone
    // to switch.
    let target = ws.open_spec(&spec)?;
    let copy = target.export().map_err(|e| e.to_string())?;
    if copy != dump {
        return Err(format!("the copy in {} does not match the source after the migration; keep using the current backend and report this", target.describe()));
    }
    let current = target.read_current().map_err(|e| e.to_string())?;
    Ok(format!(
        "Migrated the state to {} (lineage {}, serial {}, {} resources, {} serials of history). The source was not changed. Point the backend block at the new backend to use it:\n\n{}",
        target.describe(),
        current.lineage,
        current.serial,
        current.resources.len(),
        dump.serials.len(),
        backend_block(&spec)
    ))
}

/// The `backend` block that selects `spec`.
fn backend_block(spec: &BackendSpec) -> String {
    match spec {
        BackendSpec::Sqlite { path } => format!("  terraform {{\n    backend \"sqlite\" {{\n      path = {:?}\n    }}\n  }}", path.display().to_string()),
        BackendSpec::Pg { workspace, .. } => format!("  terraform {{\n    backend \"pg\" {{\n      workspace = {workspace:?}\n      # conn_str from TERRANE_PG_CONN_STR\n    }}\n  }}"),
        BackendSpec::S3 { bucket, key, region, endpoint } => format!(
            "  terraform {{\n    backend \"s3\" {{\n      bucket = {bucket:?}\n      key    = {key:?}\n      region = {region:?}{}\n    }}\n  }}",
            endpoint.as_ref().map(|e| format!("\n      endpoint = {e:?}")).unwrap_or_default()
        ),
    }
}

/// `state rm`: forgets instances (a resource address without a key forgets all of
/// its instances) as one serial, under the lock; the real objects are not touched.
/// Returns the addresses removed. An address that matches nothing removes nothing.
pub fn remove(
    backend: &mut dyn Backend,
    addresses: &[String],
) -> Result<Vec<InstanceAddr>, String> {
    let _lock = LockGuard::acquire(backend, "state rm").map_err(|e| e.to_string())?;
    let state = backend.read_current().map_err(|e| e.to_string())?;
    let mut removed = Vec::new();
    for a in addresses {
        let addr = InstanceAddr::parse(a).map_err(|e| e.to_string())?;
        let matching: Vec<&InstanceAddr> = state
            .resources
            .keys()
            .filter(|k| {
                *k == &addr
                    || (addr.key == terrane_core::InstanceKey::None && k.resource == addr.resource)
            })
            .collect();
        if matching.is_empty() {
            return Err(format!(
                "No instance found for {addr}; nothing was removed."
            ));
        }
        removed.extend(matching.into_iter().cloned());
    }
    let changes: Vec<Change> = removed.iter().cloned().map(Change::Remove).collect();
    write_serial(backend, "state rm", &changes)?;
    Ok(removed)
}

/// `state mv`: records an instance under another address of the same type, as one
/// serial, under the lock.
pub fn move_instance(backend: &mut dyn Backend, from: &str, to: &str) -> Result<(), String> {
    let (from, to) = (
        InstanceAddr::parse(from).map_err(|e| e.to_string())?,
        InstanceAddr::parse(to).map_err(|e| e.to_string())?,
    );
    if from.resource.type_name != to.resource.type_name || from.resource.mode != to.resource.mode {
        return Err(format!(
            "Cannot move {from} to {to}: the resource type must stay the same."
        ));
    }
    let _lock = LockGuard::acquire(backend, "state mv").map_err(|e| e.to_string())?;
    let state = backend.read_current().map_err(|e| e.to_string())?;
    let Some(inst) = state.resources.get(&from) else {
        return Err(format!("No instance found for {from}."));
    };
    if state.resources.contains_key(&to) {
        return Err(format!(
            "Cannot move {from} to {to}: {to} already exists in state."
        ));
    }
    let mut moved = inst.clone();
    moved.addr = to;
    write_serial(
        backend,
        "state mv",
        &[Change::Remove(from), Change::Put(moved)],
    )
}

/// `taint` / `untaint`: marks an instance tainted (the next plan replaces it) or clears
/// the mark (a failed provisioner's), as one serial under the lock; the message to show.
pub fn set_tainted(
    backend: &mut dyn Backend,
    address: &str,
    tainted: bool,
) -> Result<String, String> {
    let addr = InstanceAddr::parse(address).map_err(|e| e.to_string())?;
    let what = if tainted { "taint" } else { "untaint" };
    let _lock = LockGuard::acquire(backend, what).map_err(|e| e.to_string())?;
    let state = backend.read_current().map_err(|e| e.to_string())?;
    let Some(inst) = state.resources.get(&addr) else {
        return Err(format!(
            "No instance found for {addr}. Run terrane state list to see what state holds."
        ));
    };
    if inst.meta.tainted == tainted {
        return Err(format!(
            "{addr} is {}tainted already; nothing was changed.",
            if tainted { "" } else { "not " }
        ));
    }
    let mut changed = inst.clone();
    changed.meta.tainted = tainted;
    write_serial(backend, what, &[Change::Put(changed)])?;
    Ok(if tainted {
        format!("Resource instance {addr} has been marked as tainted: the next apply replaces it.")
    } else {
        format!("Resource instance {addr} has been successfully untainted.")
    })
}

/// Writes `changes` as one complete serial.
fn write_serial(
    backend: &mut dyn Backend,
    operation: &str,
    changes: &[Change],
) -> Result<(), String> {
    let s = backend.begin(operation).map_err(|e| e.to_string())?;
    backend.write(s, changes).map_err(|e| e.to_string())?;
    backend
        .finish(s, SerialStatus::Complete)
        .map_err(|e| e.to_string())
}
