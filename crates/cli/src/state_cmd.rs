//! `terrane state ...`: list, show, rm, mv, history, pull, push and migrate.

use std::fmt::Write;
use std::path::Path;

use terrane_core::{InstanceAddr, Value};
use terrane_engine::render::Style;
use terrane_state::{Change, InstanceState, SerialStatus, Snapshot};
use terrane_workspace::state_io::{migrate, pull, push};
use terrane_workspace::{LockGuard, Workspace};

use crate::commands::fail;
use crate::StateCommand;

pub fn read_state(dir: &Path) -> Result<Snapshot, u8> {
    let (ws, _) = Workspace::load(dir);
    read_existing(&ws)
}

/// The current state, without creating a state database where none exists yet.
pub fn read_existing(ws: &Workspace) -> Result<Snapshot, u8> {
    terrane_workspace::ops::read_existing(ws).map_err(fail)
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
            let text = if file == Path::new("-") {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .map_err(|e| e.to_string())
                    .map(|_| s)
            } else {
                let p = if file.is_absolute() {
                    file.clone()
                } else {
                    ws.dir.join(&file)
                };
                std::fs::read_to_string(&p).map_err(|e| format!("reading {}: {e}", p.display()))
            };
            let text = match text {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            match push(backend.as_mut(), &text, force) {
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
            match migrate(&ws, backend.as_ref(), &to, &|line| eprintln!("{line}")) {
                Ok(msg) => {
                    outln!("{msg}");
                    0
                }
                Err(e) => fail(e),
            }
        }
    }
}
