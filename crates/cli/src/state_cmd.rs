//! `terrane state ...`: list, show, rm, mv, history, pull, push and migrate.

use std::path::Path;

use terrane_core::InstanceAddr;
use terrane_engine::render::{render_instance, Style};
use terrane_workspace::state_io::{
    history_table, migrate_command, move_instance, pull, push, remove, set_tainted,
};
use terrane_workspace::{LockGuard, Workspace};

use crate::args::StateCommand;
use crate::session::fail;

/// `terrane taint ADDR` / `terrane untaint ADDR`.
pub fn taint(dir: &Path, address: &str, tainted: bool) -> u8 {
    let (ws, _) = Workspace::load(dir);
    let mut backend = or_fail!(ws.open_backend());
    outln!(
        "{}",
        or_fail!(set_tainted(backend.as_mut(), address, tainted))
    );
    0
}

pub fn run(dir: &Path, cmd: StateCommand, style: Style) -> u8 {
    let (ws, _) = Workspace::load(dir);
    let mut backend = or_fail!(ws.open_backend());
    match cmd {
        StateCommand::List { filters } => {
            let state = or_fail!(backend.read_current());
            for addr in state.resources.keys() {
                let s = addr.to_string();
                if filters.is_empty() || filters.iter().any(|f| s.starts_with(f.as_str())) {
                    outln!("{s}");
                }
            }
            0
        }
        StateCommand::Show { address, serial } => {
            let addr = or_fail!(InstanceAddr::parse(&address));
            let state = match serial {
                Some(n) => backend.read_serial(n),
                None => backend.read_current(),
            };
            let state = or_fail!(state);
            match state.resources.get(&addr) {
                Some(inst) => {
                    out!("{}", render_instance(inst));
                    0
                }
                None => fail(format!("No instance found for the given address {addr}. Run terrane state list to see what state holds.")),
            }
        }
        StateCommand::Rm { addresses } => match remove(backend.as_mut(), &addresses) {
            Ok(removed) => {
                for a in &removed {
                    outln!("Removed {a}");
                }
                outln!("{} Removed {} resource instance(s) from state; the real objects were not touched.", style.green("Successfully"), removed.len());
                0
            }
            Err(e) => fail(e),
        },
        StateCommand::Mv { from, to } => match move_instance(backend.as_mut(), &from, &to) {
            Ok(()) => {
                outln!(
                    "Move \"{from}\" to \"{to}\"\n{} Moved 1 object.",
                    style.green("Successfully")
                );
                0
            }
            Err(e) => fail(e),
        },
        StateCommand::History => match history_table(backend.as_ref()) {
            Ok(table) => {
                outln!("{table}");
                0
            }
            Err(e) => fail(e),
        },
        StateCommand::Pull => match pull(backend.as_ref()) {
            Ok(doc) => {
                outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
                0
            }
            Err(e) => fail(e),
        },
        StateCommand::Push { file, force } => {
            let _lock = or_fail!(LockGuard::acquire(backend.as_mut(), "state push"));
            let text = if file == Path::new("-") {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .map_err(|e| e.to_string())
                    .map(|_| s)
            } else {
                let p = ws.dir.join(&file);
                std::fs::read_to_string(&p).map_err(|e| format!("reading {}: {e}", p.display()))
            };
            let text = or_fail!(text);
            match push(backend.as_mut(), &text, force) {
                Ok(serial) => {
                    outln!("Pushed the state as serial {serial}.");
                    0
                }
                Err(e) => fail(e),
            }
        }
        StateCommand::Migrate { to, from } => {
            let _lock = or_fail!(LockGuard::acquire(backend.as_mut(), "state migrate"));
            let (from, to) = (from.as_deref(), to.as_deref());
            match migrate_command(&ws, backend.as_mut(), from, to, &|l| eprintln!("{l}")) {
                Ok(msg) => {
                    outln!("{msg}");
                    0
                }
                Err(e) => fail(e),
            }
        }
    }
}
