//! `terrane init` and `terrane providers`.

use std::path::Path;

use terrane_install::{CliConfig, InstallEvent, LockFile};
use terrane_workspace::plugins::{self, Served};
use terrane_workspace::Workspace;

use crate::session::load;
use crate::ui::print_diags;

/// Loads the configuration (without starting plugins) and the CLI configuration.
fn prepare(dir: &Path, color: bool) -> Option<(Workspace, CliConfig, LockFile)> {
    let (ws, diags) = Workspace::load(dir);
    print_diags(&diags, &ws.sources, color);
    if diags.has_errors() {
        return None;
    }
    let (cli, problems) = CliConfig::load_from_process();
    for p in &problems {
        eprintln!("{}: {p}", if p.warning { "Warning" } else { "Error" });
    }
    if problems.iter().any(|p| !p.warning) {
        return None;
    }
    let lock = match LockFile::load_from_dir(dir) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("Error: {e}");
            return None;
        }
    };
    Some((ws, cli, lock))
}

pub fn init(dir: &Path, upgrade: bool, color: bool) -> u8 {
    let Some((ws, cli, previous)) = prepare(dir, color) else {
        return 1;
    };
    let needs = match plugins::needs(&ws.module) {
        Ok(n) => n,
        Err(d) => {
            print_diags(&d, &ws.sources, color);
            return 1;
        }
    };
    let native = |n: &str| ws.registry.get(n).is_some();
    let requirements = plugins::to_install(&needs, &native, &previous, &cli);
    println!("Initializing provider plugins...");
    for need in needs.values() {
        if !requirements.contains_key(&need.source) && !need.source.is_builtin() {
            if cli.dev_overrides().contains_key(&need.source) {
                continue;
            }
            println!(
                "- {} is served by terrane's native provider {:?}",
                need.source.for_display(),
                need.local_names[0]
            );
        }
    }
    let mut signed_by_developers = false;
    let mut observer = |e: &InstallEvent| match e {
        InstallEvent::QueryBegin {
            provider,
            constraints,
            locked: true,
        } => {
            let _ = constraints;
            println!(
                "- Reusing previous version of {} from the dependency lock file",
                provider.for_display()
            )
        }
        InstallEvent::QueryBegin {
            provider,
            constraints,
            locked: false,
        } => {
            if constraints.is_empty() {
                println!("- Finding latest version of {}...", provider.for_display())
            } else {
                println!(
                    "- Finding {} versions matching \"{constraints}\"...",
                    provider.for_display()
                )
            }
        }
        InstallEvent::QueryWarning { provider, warning } => {
            eprintln!("Warning: {}: {warning}", provider.for_display())
        }
        InstallEvent::AlreadyInstalled { provider, version } => println!(
            "- Using previously-installed {} v{version}",
            provider.for_display()
        ),
        InstallEvent::LinkFromCacheBegin {
            provider, version, ..
        } => println!(
            "- Using {} v{version} from the shared cache directory",
            provider.for_display()
        ),
        InstallEvent::FetchBegin {
            provider, version, ..
        } => println!("- Installing {} v{version}...", provider.for_display()),
        InstallEvent::FetchSuccess {
            provider,
            version,
            authentication,
            ..
        } => {
            if matches!(
                authentication,
                terrane_install::Authentication::Community { .. }
            ) {
                signed_by_developers = true;
            }
            println!(
                "- Installed {} v{version} ({authentication})",
                provider.for_display()
            )
        }
        InstallEvent::Failure { .. }
        | InstallEvent::QuerySuccess { .. }
        | InstallEvent::LinkFromCacheSuccess { .. }
        | InstallEvent::BuiltInProviderAvailable { .. } => {}
    };
    let outcome =
        match terrane_install::install(&requirements, &previous, &cli, dir, upgrade, &mut observer)
        {
            Ok(o) => o,
            Err(e) => {
                eprintln!("\nError: Failed to install provider plugins\n\n{e}");
                return 1;
            }
        };
    if signed_by_developers {
        println!("\nPartner and community providers are signed by their developers.\nIf you'd like to know more about provider signing, you can read about it here:\nhttps://developer.hashicorp.com/terraform/cli/plugins/signing");
    }
    for o in &outcome.dev_overrides {
        eprintln!(
            "\nWarning: Provider development overrides are in effect\n\n{} is served from {} (the CLI configuration's dev_overrides): it is neither installed nor locked.",
            o.provider.for_display(),
            o.dir.display()
        );
    }
    let path = dir.join(".terraform.lock.hcl");
    if outcome.lock_changed {
        if let Err(e) = outcome.lock.save(&path) {
            eprintln!("Error: {e}");
            return 1;
        }
        if previous.is_empty() {
            println!("\nterrane has created a lock file .terraform.lock.hcl to record the provider\nselections it made above. Include this file in your version control repository\nso that terrane (and Terraform) make the same selections by default when\nyou run \"terrane init\" in the future.");
        } else {
            println!("\nterrane has made some changes to the provider dependency selections recorded\nin the .terraform.lock.hcl file. Review those changes and commit them to your\nversion control system if they represent changes you intended to make.");
        }
    }
    println!("\nterrane has been successfully initialized!");
    0
}

/// `terrane providers`: every provider the configuration needs and what serves it.
pub async fn list(dir: &Path, color: bool) -> u8 {
    let Some((ws, cli, lock)) = prepare(dir, color) else {
        return 1;
    };
    let needs = match plugins::needs(&ws.module) {
        Ok(n) => n,
        Err(d) => {
            print_diags(&d, &ws.sources, color);
            return 1;
        }
    };
    println!("Providers required by configuration:");
    for need in needs.values() {
        let constraint = if need.constraints.is_empty() {
            String::new()
        } else {
            format!(" {}", need.constraints)
        };
        let native = |n: &str| ws.registry.get(n).is_some();
        let how = match plugins::serve(need, &native, &lock, &cli, dir) {
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
    ws.plugins.shutdown().await;
    0
}
