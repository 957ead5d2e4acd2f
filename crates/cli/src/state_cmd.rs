//! `terrane state ...`: list, show, rm, mv, history, pull, push and migrate.

use std::fmt::Write;
use std::path::Path;

use terrane_core::{InstanceAddr, Value};
use terrane_engine::render::Style;
use terrane_state::{seal, Backend, BackendSpec, Change, InstanceState, SerialStatus, Snapshot};

use crate::commands::fail;
use crate::workspace::{LockGuard, Workspace};
use crate::StateCommand;

pub fn read_state(dir: &Path) -> Result<Snapshot, u8> {
    let (ws, _) = Workspace::load(dir);
    read_existing(&ws)
}

/// The current state, without creating a state database where none exists yet.
pub fn read_existing(ws: &Workspace) -> Result<Snapshot, u8> {
    match ws.state_may_exist() {
        Ok(false) => return Ok(Snapshot::default()),
        Err(e) => return Err(fail(e)),
        Ok(true) => {}
    }
    let backend = ws.open_backend().map_err(fail)?;
    backend.read_current().map_err(fail)
}

fn value_lines(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Map(m) => {
            // Null attributes are not shown, so they do not count for the alignment.
            let width = m
                .iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0);
            for (k, x) in m {
                if x.is_null() {
                    continue;
                }
                match x {
                    Value::Map(inner) if !inner.is_empty() => {
                        let _ = writeln!(out, "{pad}{k:<width$} = {{");
                        value_lines(out, x, indent + 4);
                        let _ = writeln!(out, "{pad}}}");
                    }
                    _ => {
                        let _ = writeln!(out, "{pad}{k:<width$} = {}", x.to_display());
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", other.to_display());
        }
    }
}

/// Renders one instance like a resource block, sensitive values redacted.
pub fn render_instance(inst: &InstanceState) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}:", inst.addr);
    let kw = if inst.addr.resource.mode == terrane_core::ResourceMode::Data {
        "data"
    } else {
        "resource"
    };
    let _ = writeln!(
        out,
        "{kw} {:?} {:?} {{",
        inst.addr.resource.type_name, inst.addr.resource.name
    );
    value_lines(&mut out, &inst.value, 4);
    let _ = writeln!(out, "}}");
    out
}

pub fn run(dir: &Path, cmd: StateCommand, style: Style) -> u8 {
    let (ws, _) = Workspace::load(dir);
    let mut backend = match ws.open_backend() {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    match cmd {
        StateCommand::List { filters } => {
            let state = match backend.read_current() {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            for addr in state.resources.keys() {
                let s = addr.to_string();
                if filters.is_empty() || filters.iter().any(|f| s.starts_with(f.as_str())) {
                    outln!("{s}");
                }
            }
            0
        }
        StateCommand::Show { address, serial } => {
            let addr = match InstanceAddr::parse(&address) {
                Ok(a) => a,
                Err(e) => return fail(e),
            };
            let state = match serial {
                Some(n) => backend.read_serial(n),
                None => backend.read_current(),
            };
            let state = match state {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            match state.resources.get(&addr) {
                Some(inst) => {
                    out!("{}", render_instance(inst));
                    0
                }
                None => fail(format!("No instance found for the given address {addr}. Run terrane state list to see what state holds.")),
            }
        }
        StateCommand::Rm { addresses } => {
            let _lock = match LockGuard::acquire(backend.as_mut(), "state rm") {
                Ok(l) => l,
                Err(e) => return fail(e),
            };
            let state = match backend.read_current() {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let mut changes = Vec::new();
            for a in &addresses {
                let addr = match InstanceAddr::parse(a) {
                    Ok(x) => x,
                    Err(e) => return fail(e),
                };
                // A resource address without a key removes all of its instances.
                let matching: Vec<&InstanceAddr> = state
                    .resources
                    .keys()
                    .filter(|k| {
                        *k == &addr
                            || (addr.key == terrane_core::InstanceKey::None
                                && k.resource == addr.resource)
                    })
                    .collect();
                if matching.is_empty() {
                    return fail(format!(
                        "No instance found for {addr}; nothing was removed."
                    ));
                }
                changes.extend(matching.into_iter().map(|k| Change::Remove(k.clone())));
            }
            let n = changes.len();
            let res = backend.begin("state rm").and_then(|s| {
                backend.write(s, &changes)?;
                backend.finish(s, SerialStatus::Complete)
            });
            if let Err(e) = res {
                return fail(e);
            }
            for c in &changes {
                if let Change::Remove(a) = c {
                    outln!("Removed {a}");
                }
            }
            outln!("{} Removed {n} resource instance(s) from state; the real objects were not touched.", style.green("Successfully"));
            0
        }
        StateCommand::Mv { from, to } => {
            let (from, to) = match (InstanceAddr::parse(&from), InstanceAddr::parse(&to)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => return fail(e),
            };
            if from.resource.type_name != to.resource.type_name
                || from.resource.mode != to.resource.mode
            {
                return fail(format!(
                    "Cannot move {from} to {to}: the resource type must stay the same."
                ));
            }
            let _lock = match LockGuard::acquire(backend.as_mut(), "state mv") {
                Ok(l) => l,
                Err(e) => return fail(e),
            };
            let state = match backend.read_current() {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let Some(inst) = state.resources.get(&from) else {
                return fail(format!("No instance found for {from}."));
            };
            if state.resources.contains_key(&to) {
                return fail(format!(
                    "Cannot move {from} to {to}: {to} already exists in state."
                ));
            }
            let mut moved = inst.clone();
            moved.addr = to.clone();
            let res = backend.begin("state mv").and_then(|s| {
                backend.write(s, &[Change::Remove(from.clone()), Change::Put(moved)])?;
                backend.finish(s, SerialStatus::Complete)
            });
            if let Err(e) = res {
                return fail(e);
            }
            outln!(
                "Move \"{from}\" to \"{to}\"\n{} Moved 1 object.",
                style.green("Successfully")
            );
            0
        }
        StateCommand::History => {
            let history = match backend.history() {
                Ok(h) => h,
                Err(e) => return fail(e),
            };
            if history.is_empty() {
                outln!("No state history yet. Run terrane apply to create the first serial.");
                return 0;
            }
            outln!(
                "{:>6}  {:<19}  {:<10}  {:<12}  {:<11}  {:>7}",
                "SERIAL",
                "TIME (UTC)",
                "OPERATION",
                "USER",
                "STATUS",
                "CHANGES"
            );
            for h in history {
                outln!(
                    "{:>6}  {:<19}  {:<10}  {:<12}  {:<11}  {:>7}",
                    h.serial,
                    h.created_at,
                    h.operation,
                    h.user,
                    h.status,
                    h.changed
                );
            }
            0
        }
        StateCommand::Pull => match pull(backend.as_ref()) {
            Ok(doc) => {
                outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
                0
            }
            Err(e) => fail(e),
        },
        StateCommand::Push { file, force } => {
            let _lock = match LockGuard::acquire(backend.as_mut(), "state push") {
                Ok(l) => l,
                Err(e) => return fail(e),
            };
            match push(backend.as_mut(), &ws.dir, &file, force) {
                Ok(serial) => {
                    outln!("Pushed the state as serial {serial}.");
                    0
                }
                Err(e) => fail(e),
            }
        }
        StateCommand::Migrate { to } => {
            let _lock = match LockGuard::acquire(backend.as_mut(), "state migrate") {
                Ok(l) => l,
                Err(e) => return fail(e),
            };
            match migrate(&ws, backend.as_ref(), &to) {
                Ok(msg) => {
                    outln!("{msg}");
                    0
                }
                Err(e) => fail(e),
            }
        }
    }
}

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

fn push(backend: &mut dyn Backend, dir: &Path, file: &Path, force: bool) -> Result<u64, String> {
    let text = if file == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| e.to_string())?;
        s
    } else {
        let p = if file.is_absolute() {
            file.to_path_buf()
        } else {
            dir.join(file)
        };
        std::fs::read_to_string(&p).map_err(|e| format!("reading {}: {e}", p.display()))?
    };
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
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

fn migrate(ws: &Workspace, from: &dyn Backend, to: &str) -> Result<String, String> {
    let spec = BackendSpec::parse_url(to, &ws.dir).map_err(|e| e.to_string())?;
    let dump = from.export().map_err(|e| e.to_string())?;
    let mut target = ws.open_spec(&spec)?;
    eprintln!(
        "Copying {} serials, {} row versions and {} secret versions from {} to {}...",
        dump.serials.len(),
        dump.resources.len() + dump.outputs.len(),
        dump.secrets.len(),
        from.describe(),
        target.describe()
    );
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
