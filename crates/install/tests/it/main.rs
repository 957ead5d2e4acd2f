//! Differential tests against Terraform itself: each case builds provider mirrors and a
//! configuration, runs `terraform init` (the binary named by `TERRANE_TERRAFORM`) in one
//! working directory and terrane-install in another, and compares the lock files byte
//! for byte and the `.terraform/providers` trees entry by entry (kinds, modes, contents,
//! symlink targets).
//!
//! Run with `TERRANE_TERRAFORM=/path/to/terraform cargo test -p terrane-install`.
//! Without it these tests fail: they never skip silently.

mod modules;
mod oracle;
mod registry;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use terrane_install::install::{InstallError, InstallOutcome, Installer, NoObserver};
use terrane_install::{
    CliConfig, CliEnv, Constraints, InstallMode, LockFile, Platform, ProviderSource, Requirements,
};

/// The Terraform to compare with.
fn terraform() -> PathBuf {
    match std::env::var_os("TERRANE_TERRAFORM") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "TERRANE_TERRAFORM is not set: these tests compare terrane's provider installation with Terraform's. \
             Set it to a Terraform 1.15 executable, e.g. \
             TERRANE_TERRAFORM=$HOME/.cache/terrane-venv/bin/terraform-oracle cargo test -p terrane-install"
        ),
    }
}

/// One module's `required_providers`: (local name, source, version constraint).
pub type Module = Vec<(&'static str, &'static str, Option<&'static str>)>;

/// A case: a scratch directory with a home directory, mirrors, a CLI configuration and
/// two working directories, `tf` for Terraform and `tr` for terrane.
pub struct Case {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    /// The CA certificates both tools trust (`SSL_CERT_FILE`), for registries and mirrors
    /// the test serves over HTTPS.
    pub ca_file: Option<PathBuf>,
}

/// What `terraform init` did.
pub struct TerraformRun {
    pub success: bool,
    pub output: String,
}

impl TerraformRun {
    /// Whether the output contains `text`, ignoring how Terraform wrapped its lines.
    pub fn says(&self, text: &str) -> bool {
        self.output
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains(text)
    }
}

impl Case {
    pub fn setup() -> Case {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = fs::canonicalize(dir.path()).expect("the temporary directory's real path");
        for sub in ["home", "tf", "tr", "xdg/data", "xdg/dirs"] {
            fs::create_dir_all(root.join(sub)).expect("case directories");
        }
        Case {
            _dir: dir,
            root,
            ca_file: None,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// An unpacked package `mirror/ADDR/VERSION/OS_ARCH/terraform-provider-TYPE_vVERSION`.
    pub fn unpacked(&self, mirror: &str, addr: &str, version: &str) {
        let type_name = addr.rsplit('/').next().expect("an address");
        let dir = self
            .path(mirror)
            .join(addr)
            .join(version)
            .join(Platform::current().to_string());
        fs::create_dir_all(&dir).expect("package directory");
        let exe = dir.join(format!("terraform-provider-{type_name}_v{version}"));
        fs::write(&exe, format!("#!/bin/sh\necho {addr} {version} unpacked\n"))
            .expect("package file");
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).expect("package mode");
    }

    /// A packed package `mirror/ADDR/terraform-provider-TYPE_VERSION_OS_ARCH.zip` holding
    /// an executable and a read-only notice file.
    pub fn packed(&self, mirror: &str, addr: &str, version: &str) {
        let type_name = addr.rsplit('/').next().expect("an address");
        let dir = self.path(mirror).join(addr);
        fs::create_dir_all(&dir).expect("mirror directory");
        let archive = dir.join(format!(
            "terraform-provider-{type_name}_{version}_{}.zip",
            Platform::current()
        ));
        let mut zip = zip::ZipWriter::new(fs::File::create(archive).expect("archive"));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("LICENSE.txt", options.unix_permissions(0o644))
            .expect("zip entry");
        zip.write_all(b"license\n").expect("zip write");
        zip.start_file(
            format!("terraform-provider-{type_name}_v{version}"),
            options.unix_permissions(0o755),
        )
        .expect("zip entry");
        zip.write_all(format!("#!/bin/sh\necho {addr} {version} packed\n").as_bytes())
            .expect("zip write");
        zip.finish().expect("zip finish");
    }

    /// Writes the CLI configuration file `cli.tfrc`.
    pub fn cli_config(&self, text: &str) {
        fs::write(
            self.path("cli.tfrc"),
            text.replace("$ROOT", &self.root.display().to_string()),
        )
        .expect("CLI configuration");
    }

    /// Writes the same configuration into both working directories: the root module
    /// and `m1`, `m2`, ... for the others.
    pub fn configuration(&self, modules: &[Module]) {
        for workdir in ["tf", "tr"] {
            let dir = self.path(workdir);
            for (index, module) in modules.iter().enumerate() {
                let module_dir = if index == 0 {
                    dir.clone()
                } else {
                    dir.join(format!("m{index}"))
                };
                fs::create_dir_all(&module_dir).expect("module directory");
                let mut text = String::from("terraform {\n  required_providers {\n");
                for (local, source, version) in module {
                    match version {
                        Some(version) => text.push_str(&format!(
                            "    {local} = {{ source = \"{source}\", version = \"{version}\" }}\n"
                        )),
                        None => {
                            text.push_str(&format!("    {local} = {{ source = \"{source}\" }}\n"))
                        }
                    }
                }
                text.push_str("  }\n}\n");
                if index == 0 {
                    for child in 1..modules.len() {
                        text.push_str(&format!(
                            "\nmodule \"m{child}\" {{\n  source = \"./m{child}\"\n}}\n"
                        ));
                    }
                }
                fs::write(module_dir.join("main.tf"), text).expect("main.tf");
            }
        }
    }

    /// The merged requirements of `modules`, as terrane init will compute them.
    pub fn requirements(modules: &[Module]) -> Requirements {
        let mut requirements = Requirements::new();
        for module in modules {
            for (_, source, version) in module {
                let entry = requirements
                    .entry(ProviderSource::parse(source).expect("a valid source"))
                    .or_default();
                if let Some(version) = version {
                    entry.extend(&Constraints::parse(version).expect("valid constraints"));
                }
            }
        }
        requirements
    }

    fn env(&self) -> CliEnv {
        CliEnv {
            config_file: Some(self.path("cli.tfrc")).filter(|p| p.exists()),
            home: Some(self.path("home")),
            xdg_data_home: Some(self.path("xdg/data")),
            xdg_data_dirs: Some(self.path("xdg/dirs").display().to_string()),
            ssl_cert_file: self.ca_file.clone(),
            ..CliEnv::default()
        }
    }

    /// Runs `terraform init [args]` in `tf`.
    pub fn terraform_init(&self, args: &[&str]) -> TerraformRun {
        assert!(
            std::env::var_os("TF_DATA_DIR").is_none(),
            "unset TF_DATA_DIR to run these tests"
        );
        let mut command = Command::new(terraform());
        command
            .arg("init")
            .arg("-no-color")
            .arg("-input=false")
            .args(args)
            .current_dir(self.path("tf"))
            .env("HOME", self.path("home"))
            .env("XDG_DATA_HOME", self.path("xdg/data"))
            .env("XDG_DATA_DIRS", self.path("xdg/dirs"))
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .env_remove("TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE")
            .env_remove("TF_DATA_DIR")
            .env_remove("TF_CLI_ARGS")
            .env_remove("TF_CLI_ARGS_init");
        if let Some(ca_file) = &self.ca_file {
            command.env("SSL_CERT_FILE", ca_file);
        }
        let config = self.path("cli.tfrc");
        if config.exists() {
            command.env("TF_CLI_CONFIG_FILE", config);
        } else {
            command.env_remove("TF_CLI_CONFIG_FILE");
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", terraform().display()));
        TerraformRun {
            success: output.status.success(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }

    /// Runs terrane's installation in `tr` and, as `terrane init` will, writes the lock
    /// file when it changed.
    pub fn terrane_init(
        &self,
        modules: &[Module],
        mode: InstallMode,
    ) -> Result<InstallOutcome, InstallError> {
        let (cli, problems) = CliConfig::load(&self.env());
        assert!(
            problems.iter().all(|p| p.warning),
            "CLI configuration problems: {problems:?}"
        );
        let workdir = self.path("tr");
        let lock_path = workdir.join(".terraform.lock.hcl");
        let previous = LockFile::load(&lock_path).expect("a readable lock file");
        let outcome = Installer::from_cli_config(&cli, &workdir).ensure(
            &Case::requirements(modules),
            &previous,
            mode,
            &mut NoObserver,
        )?;
        outcome
            .lock
            .save_if_changed(&previous, &lock_path)
            .expect("the lock file is written");
        Ok(outcome)
    }

    /// Runs both and asserts they agree; returns terrane's outcome.
    pub fn init_both(&self, modules: &[Module], mode: InstallMode) -> InstallOutcome {
        let args: &[&str] = if mode == InstallMode::Upgrade {
            &["-upgrade"]
        } else {
            &[]
        };
        let terraform = self.terraform_init(args);
        assert!(
            terraform.success,
            "terraform init failed:\n{}",
            terraform.output
        );
        let outcome = self
            .terrane_init(modules, mode)
            .unwrap_or_else(|e| panic!("terrane failed where terraform succeeded: {e}"));
        self.assert_same_results();
        let installed = outcome
            .providers
            .iter()
            .filter(|p| p.package_dir.is_some())
            .count();
        let tree = snapshot(&self.path("tf/.terraform/providers"), &self.root, "tf");
        // Packages stay after they are no longer needed (Terraform never prunes them), so
        // there are at least as many as providers installed now.
        let packages = tree
            .iter()
            .filter(|line| {
                line.split(' ')
                    .next()
                    .is_some_and(|path| path.matches('/').count() == 4)
            })
            .count();
        assert!(
            packages >= installed,
            "a package per installed provider: {tree:#?}"
        );
        outcome
    }

    pub fn lock_file(&self, workdir: &str) -> Option<String> {
        fs::read_to_string(self.path(workdir).join(".terraform.lock.hcl")).ok()
    }

    pub fn write_lock_file(&self, text: &str) {
        for workdir in ["tf", "tr"] {
            fs::write(self.path(workdir).join(".terraform.lock.hcl"), text).expect("lock file");
        }
    }

    /// Lock files byte for byte, provider trees entry by entry.
    pub fn assert_same_results(&self) {
        assert_eq!(
            self.lock_file("tr"),
            self.lock_file("tf"),
            "lock files differ (left terrane, right terraform)"
        );
        assert_eq!(
            snapshot(&self.path("tr/.terraform/providers"), &self.root, "tr"),
            snapshot(&self.path("tf/.terraform/providers"), &self.root, "tf"),
            ".terraform/providers differ (left terrane, right terraform)"
        );
    }
}

/// Every entry under `dir` as `path kind detail` lines: directories with their mode,
/// files with their mode and SHA-256, symlinks with their target (the case root written
/// as `$ROOT`, and the tool's own directories `tf`/`tr`, `cache-tf`/`cache-tr` as `$TOOL`).
pub fn snapshot(dir: &Path, root: &Path, tool: &str) -> Vec<String> {
    let mut lines = BTreeMap::new();
    walk(dir, dir, root, tool, &mut lines);
    lines
        .into_iter()
        .map(|(path, detail)| format!("{path} {detail}"))
        .collect()
}

fn walk(base: &Path, dir: &Path, root: &Path, tool: &str, lines: &mut BTreeMap<String, String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let entry = entry.expect("a directory entry");
        let path = entry.path();
        let rel = path
            .strip_prefix(base)
            .expect("under the base")
            .display()
            .to_string();
        let meta = fs::symlink_metadata(&path).expect("metadata");
        let mode = meta.permissions().mode() & 0o7777;
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path)
                .expect("a link target")
                .display()
                .to_string();
            let target = target
                .replace(&root.display().to_string(), "$ROOT")
                .replace(&format!("cache-{tool}"), "cache-$TOOL")
                .replace(&format!("$ROOT/{tool}/"), "$ROOT/$TOOL/");
            lines.insert(rel, format!("symlink -> {target}"));
        } else if meta.is_dir() {
            lines.insert(rel, format!("dir {mode:o}"));
            walk(base, &path, root, tool, lines);
        } else {
            let digest = hex::encode(Sha256::digest(fs::read(&path).expect("file contents")));
            lines.insert(rel, format!("file {mode:o} {digest}"));
        }
    }
}
