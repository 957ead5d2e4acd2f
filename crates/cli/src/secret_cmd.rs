//! `terrane secret ...`: the encrypted secret store in the workspace's state backend,
//! and the terminal prompts for passphrases and secret values.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use terrane_workspace::secrets::{check_name, rotate_key};
use terrane_workspace::Workspace;

use crate::args::SecretCommand;
use crate::session::fail;

pub fn run(dir: &Path, cmd: SecretCommand) -> u8 {
    let (ws, diags) = Workspace::load(dir);
    if diags.has_errors() {
        crate::ui::print_diags(&diags, &ws.sources, false);
        return 1;
    }
    match run_inner(&ws, cmd) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

fn run_inner(ws: &Workspace, cmd: SecretCommand) -> Result<u8, String> {
    let mut backend = ws.open_backend()?;
    match cmd {
        SecretCommand::Set {
            name,
            from_file,
            from_env,
        } => {
            check_name(&name)?;
            let value = match (from_file, from_env) {
                (Some(f), None) => {
                    std::fs::read(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?
                }
                (None, Some(var)) => std::env::var(&var)
                    .map_err(|_| format!("the environment variable {var} is not set"))?
                    .into_bytes(),
                (None, None) => {
                    let mut buf = Vec::new();
                    if std::io::stdin().is_terminal() {
                        buf =
                            rpassword::prompt_password(format!("Value for {name} (not echoed): "))
                                .map_err(|e| format!("reading the value from the terminal: {e}"))?
                                .into_bytes();
                    } else {
                        std::io::stdin()
                            .read_to_end(&mut buf)
                            .map_err(|e| format!("reading the value from stdin: {e}"))?;
                        // A trailing newline from `echo` is not part of the secret.
                        if buf.ends_with(b"\n") {
                            buf.pop();
                            if buf.ends_with(b"\r") {
                                buf.pop();
                            }
                        }
                    }
                    buf
                }
                (Some(_), Some(_)) => return Err("give either --from-file or --from-env".into()),
            };
            if value.is_empty() {
                return Err(format!("refusing to store an empty value for {name}"));
            }
            let version = backend
                .secret_put(&name, &value)
                .map_err(|e| e.to_string())?;
            outln!("Stored secret {name}, version {version}.");
            Ok(0)
        }
        SecretCommand::Get { name, version } => {
            check_name(&name)?;
            match backend
                .secret_get(&name, version)
                .map_err(|e| e.to_string())?
            {
                Some((_, value)) => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&value);
                    if std::io::stdout().is_terminal() {
                        let _ = out.write_all(b"\n");
                    }
                    Ok(0)
                }
                None => Err(match version {
                    Some(v) => {
                        format!("secret {name:?} has no version {v} (see terrane secret list)")
                    }
                    None => format!("no secret named {name:?} (see terrane secret list)"),
                }),
            }
        }
        SecretCommand::List { json } => {
            let all = backend.secret_list().map_err(|e| e.to_string())?;
            if json {
                let items: Vec<_> = all
                    .iter()
                    .map(|s| {
                        serde_json::json!({"name": s.name, "version": s.version, "created_at": s.created_at, "user": s.user})
                    })
                    .collect();
                outln!("{}", serde_json::Value::Array(items));
                return Ok(0);
            }
            if all.is_empty() {
                outln!("No secrets. Add one with: terrane secret set NAME");
                return Ok(0);
            }
            let width = all.iter().map(|s| s.name.len()).max().unwrap_or(4).max(4);
            outln!("{:<width$}  VERSION  CREATED               USER", "NAME");
            for s in &all {
                outln!(
                    "{:<width$}  {:>7}  {:<20}  {}",
                    s.name,
                    s.version,
                    s.created_at,
                    s.user
                );
            }
            Ok(0)
        }
        SecretCommand::Rm { name } => {
            check_name(&name)?;
            if backend.secret_rm(&name).map_err(|e| e.to_string())? {
                outln!("Removed every version of secret {name}.");
                Ok(0)
            } else {
                Err(format!("no secret named {name:?}"))
            }
        }
        SecretCommand::RotateKey => {
            let r = rotate_key(ws, backend.as_mut())?;
            outln!(
                "Rotated to data key {}, wrapped by {}: re-encrypted {} state rows and {} secret versions. The previous key is no longer needed.",
                r.key_id, r.wrapped_by, r.rows, r.secrets
            );
            Ok(0)
        }
    }
}

/// The prompt the workspace's key providers ask a passphrase through: on the
/// terminal, not echoed, and only when terrane runs interactively (scripts and CI
/// never hang).
/// Asks for a passphrase on the terminal, not echoed; `None` without one.
pub fn ask_passphrase(prompt: &str) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    rpassword::prompt_password(prompt).ok()
}
