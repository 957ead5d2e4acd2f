//! `terrane init` and `terrane providers`: the terminal side of
//! `terrane_workspace::plugins`.

use std::path::Path;

use terrane_install::InstallEvent;
use terrane_workspace::plugins::{Served, Setup};
use terrane_workspace::Workspace;

use crate::session::load;
use crate::ui::print_diags;

/// Loads the configuration (without starting plugins), the CLI configuration and the
/// lock file.
fn prepare(dir: &Path, color: bool) -> Option<(Workspace, Setup)> {
    let (ws, diags) = Workspace::load(dir);
    print_diags(&diags, &ws.sources, color);
    if diags.has_errors() {
        return None;
    }
    let (setup, diags) = Setup::load(&ws);
    print_diags(&diags, &ws.sources, color);
    Some((ws, setup?))
}

pub fn init(dir: &Path, upgrade: bool, color: bool) -> u8 {
    if let Err(e) =
        terrane_workspace::plugins::install_modules(dir, upgrade, &mut |l| println!("{l}"))
    {
        eprintln!("\nError: {e}");
        return 1;
    }
    let Some((ws, setup)) = prepare(dir, color) else {
        return 1;
    };
    println!("\nInitializing provider plugins...");
    for need in setup.needs.values() {
        if setup.served(&ws, need) == Served::Native && !need.source.is_builtin() {
            println!(
                "- {} is served by terrane's native provider {:?}",
                need.source.for_display(),
                need.local_names[0]
            );
        }
    }
    let mut observer = |e: &InstallEvent| match (e, e.message()) {
        (InstallEvent::QueryWarning { .. }, m) => eprintln!("Warning: {}", m.unwrap_or_default()),
        (_, Some(m)) => println!("{m}"),
        _ => {}
    };
    let (outcome, written) = match setup.install(&ws, upgrade, &mut observer) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("\nError: Failed to install provider plugins\n\n{e}");
            return 1;
        }
    };
    let (notes, warnings) = setup.summary(&outcome, written);
    notes.iter().for_each(|n| println!("\n{n}"));
    warnings.iter().for_each(|w| eprintln!("\nWarning: {w}"));
    println!("\nterrane has been successfully initialized!");
    0
}

/// `terrane providers`: every provider the configuration needs and what serves it.
pub async fn list(dir: &Path, color: bool) -> u8 {
    let Some((ws, setup)) = prepare(dir, color) else {
        return 1;
    };
    println!("Providers required by configuration:");
    for need in setup.needs.values() {
        let constraint = if need.constraints.is_empty() {
            String::new()
        } else {
            format!(" {}", need.constraints)
        };
        let how = match setup.served(&ws, need) {
            Served::Native => "native (built into terrane)".to_string(),
            Served::Plugin {
                executable,
                version: Some(v),
            } => format!("plugin {v}, {}", executable.display()),
            Served::Plugin {
                executable,
                version: None,
            } => format!("plugin, development override: {}", executable.display()),
            Served::Missing(why) => format!("not installed: {why}"),
        };
        println!(
            "- provider[{}]{constraint} as {}: {how}",
            need.source,
            need.local_names.join(", ")
        );
    }
    0
}

/// `terrane providers schema -json`: every provider's schema in Terraform's format.
pub async fn schema_json(dir: &Path, color: bool) -> u8 {
    let Some(ws) = load(dir, color).await else {
        return 1;
    };
    let doc = terrane_workspace::plugins::schemas_json(&ws);
    println!("{}", serde_json::to_string(&doc).unwrap_or_default());
    0
}
