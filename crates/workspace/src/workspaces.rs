//! Terraform's workspaces: several states for one configuration. The selected one is
//! named by `TF_WORKSPACE`, else by `.terrane/environment` in the working directory
//! (Terraform keeps it in `.terraform/environment`), else it is `default`. Where each
//! workspace's state lives is [`BackendSpec::for_workspace`]'s rule.

use std::path::{Path, PathBuf};

use terrane_state::spec::DEFAULT_WORKSPACE;
use terrane_state::BackendSpec;

use crate::Workspace;

/// Why a workspace command cannot do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("{0:?} is not a valid workspace name: use letters, digits, '-' and '_' (it becomes part of paths and keys)")]
    InvalidName(String),
    #[error("workspace {0:?} already exists")]
    Exists(String),
    #[error("workspace {0:?} doesn't exist. Create it with: terrane workspace new {0}")]
    Missing(String),
    #[error("the selected workspace is set by the TF_WORKSPACE environment variable ({0:?}); unset it to select another one")]
    Overridden(String),
    #[error(
        "workspace {0:?} is the selected one and cannot be deleted; select another workspace first"
    )]
    Current(String),
    #[error("workspace {name:?} still manages {count} objects; destroy them first (terrane destroy in that workspace), or delete it with --force, which forgets them without destroying them")]
    NotEmpty { name: String, count: usize },
    #[error("{0}")]
    State(String),
}

/// The file that names the selected workspace.
fn environment_file(dir: &Path) -> PathBuf {
    dir.join(".terrane").join("environment")
}

/// The selected workspace of the configuration in `dir`.
pub fn current(dir: &Path) -> String {
    if let Ok(name) = std::env::var("TF_WORKSPACE") {
        if !name.is_empty() {
            return name;
        }
    }
    std::fs::read_to_string(environment_file(dir))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_WORKSPACE.to_string())
}

fn valid(name: &str) -> Result<(), WorkspaceError> {
    let ok = !name.is_empty()
        && name.len() <= 90
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(WorkspaceError::InvalidName(name.to_string()))
    }
}

/// The state spec of the default workspace (the configuration's backend block).
fn base_spec(ws: &Workspace) -> Result<BackendSpec, WorkspaceError> {
    BackendSpec::from_block(ws.module.terraform.backend.as_ref(), &ws.dir)
        .map_err(|d| WorkspaceError::State(d.detail))
}

/// Every workspace that has a state (`default` first), and the selected one.
pub fn list(ws: &Workspace) -> Result<(Vec<String>, String), WorkspaceError> {
    let names = base_spec(ws)?
        .workspaces()
        .map_err(|e| WorkspaceError::State(e.to_string()))?;
    Ok((names, current(&ws.dir)))
}

fn select_file(dir: &Path, name: &str) -> Result<(), WorkspaceError> {
    if let Ok(env) = std::env::var("TF_WORKSPACE") {
        if !env.is_empty() && env != name {
            return Err(WorkspaceError::Overridden(env));
        }
    }
    let file = environment_file(dir);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| WorkspaceError::State(format!("creating {}: {e}", parent.display())))?;
    }
    std::fs::write(&file, format!("{name}\n"))
        .map_err(|e| WorkspaceError::State(format!("writing {}: {e}", file.display())))
}

/// Creates workspace `name` (an empty state) and selects it.
pub fn create(ws: &Workspace, name: &str) -> Result<(), WorkspaceError> {
    valid(name)?;
    let (names, _) = list(ws)?;
    if names.iter().any(|n| n == name) {
        return Err(WorkspaceError::Exists(name.to_string()));
    }
    let spec = base_spec(ws)?.for_workspace(name);
    crate::open_encrypted(&spec, &ws.dir, &ws.module.terraform.encryption)
        .map_err(WorkspaceError::State)?;
    select_file(&ws.dir, name)
}

/// Selects workspace `name`; with `or_create`, creates it when it does not exist.
/// Returns whether it was created.
pub fn select(ws: &Workspace, name: &str, or_create: bool) -> Result<bool, WorkspaceError> {
    valid(name)?;
    let (names, _) = list(ws)?;
    if !names.iter().any(|n| n == name) {
        if !or_create {
            return Err(WorkspaceError::Missing(name.to_string()));
        }
        create(ws, name)?;
        return Ok(true);
    }
    select_file(&ws.dir, name)?;
    Ok(false)
}

/// Deletes workspace `name`'s state: not the selected one, and not while it manages
/// objects unless `force` (which forgets them, as Terraform's `-force` does).
pub fn delete(ws: &Workspace, name: &str, force: bool) -> Result<(), WorkspaceError> {
    valid(name)?;
    if name == current(&ws.dir) {
        return Err(WorkspaceError::Current(name.to_string()));
    }
    let (names, _) = list(ws)?;
    if !names.iter().any(|n| n == name) {
        return Err(WorkspaceError::Missing(name.to_string()));
    }
    let base = base_spec(ws)?;
    if !force {
        let backend = crate::open_encrypted(
            &base.for_workspace(name),
            &ws.dir,
            &ws.module.terraform.encryption,
        )
        .map_err(WorkspaceError::State)?;
        let count = backend
            .read_current()
            .map_err(|e| WorkspaceError::State(e.to_string()))?
            .resources
            .len();
        if count > 0 {
            return Err(WorkspaceError::NotEmpty {
                name: name.to_string(),
                count,
            });
        }
    }
    base.delete_workspace(name)
        .map_err(|e| WorkspaceError::State(e.to_string()))
}

/// One `terrane workspace` command.
pub enum Action {
    List,
    Show,
    New(String),
    /// The name, and whether to create it when missing.
    Select(String, bool),
    /// The name, and `--force`.
    Delete(String, bool),
}

/// Runs a `terrane workspace` command; the text to print is Terraform's.
pub fn run(ws: &Workspace, action: Action) -> Result<String, WorkspaceError> {
    Ok(match action {
        Action::Show => ws.name.clone(),
        Action::List => {
            let (names, current) = list(ws)?;
            let mark = |n: &String| if *n == current { "*" } else { " " };
            names
                .iter()
                .map(|n| format!("{} {n}", mark(n)))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Action::New(name) => {
            create(ws, &name)?;
            format!("Created and switched to workspace {name:?}!\n\nYou're now on a new, empty workspace. Workspaces isolate their state, so terrane plan will not see any existing state for this configuration.")
        }
        Action::Select(name, or_create) => {
            if select(ws, &name, or_create)? {
                format!("Created and switched to workspace {name:?}!")
            } else {
                format!("Switched to workspace {name:?}.")
            }
        }
        Action::Delete(name, force) => {
            delete(ws, &name, force)?;
            format!("Deleted workspace {name:?}!")
        }
    })
}
