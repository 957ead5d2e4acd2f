//! The dependency lock file, `.terraform.lock.hcl`: read with Terraform's checks and
//! written byte for byte as Terraform writes it.
//!
//! ```text
//! # This file is maintained automatically by "terraform init".
//! # Manual edits may be lost in future updates.
//!
//! provider "registry.terraform.io/example/x" {
//!   version     = "1.2.3"
//!   constraints = "~> 1.0"
//!   hashes = [
//!     "h1:yC8yQr6Avqra6JSFxpUPvjS4MBcW/MhZ2zPiopCcd1k=",
//!   ]
//! }
//! ```
//!
//! Providers are sorted by address, `constraints` is omitted when there are none, hashes
//! are sorted and deduplicated whenever an entry is set (an entry read from disk keeps its
//! order until it changes). Terraform decides whether to rewrite the file by comparing
//! only versions and hashes ([`LockFile::same_selections`]): a change of constraints
//! alone leaves the file as it was.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use hcl_edit::expr::Expression;
use hcl_edit::structure::{BlockLabel, Structure};
use hcl_edit::Span as _;

use crate::addr::ProviderSource;
use crate::hash::Hash;
use crate::version::{Constraints, Version};

/// The lock file's name in the working directory.
pub const LOCK_FILE_NAME: &str = ".terraform.lock.hcl";

const HEADER: &str = "# This file is maintained automatically by \"terraform init\".\n# Manual edits may be lost in future updates.\n";

/// The selections recorded for the providers of a configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockFile {
    providers: BTreeMap<ProviderSource, ProviderLock>,
}

/// One provider's recorded selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLock {
    pub version: Version,
    /// The constraints the configuration had when this version was selected; recorded
    /// for people reading the file, not used to select.
    pub constraints: Constraints,
    /// The hashes a package of this version must match one of.
    pub hashes: Vec<Hash>,
}

impl ProviderLock {
    /// The hashes a package can be checked against (`h1:` and `zh:`), Terraform's
    /// "preferred hashes".
    pub fn checkable_hashes(&self) -> Vec<Hash> {
        self.hashes
            .iter()
            .filter(|h| h.is_checkable())
            .cloned()
            .collect()
    }
}

/// A mistake in a lock file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {summary}: {detail}", .file.display())]
pub struct LockFileProblem {
    pub file: PathBuf,
    pub line: usize,
    pub summary: String,
    pub detail: String,
}

/// Why the lock file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LockFileError {
    #[error("cannot read the dependency lock file {}: {source}", .path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("failed to update dependency lock file: error while writing new dependency lock information to {}: {source}", .path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("the dependency lock file {} is not valid HCL: {message}; fix or delete it, then run `terrane init`", .path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("the dependency lock file {} is not valid:{}\nfix the file or delete it, then run `terrane init`", .path.display(), problems.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    Invalid {
        path: PathBuf,
        problems: Vec<LockFileProblem>,
    },
}

impl LockFile {
    /// An empty lock file, as when none exists yet.
    pub fn new() -> LockFile {
        LockFile::default()
    }

    /// Reads `path`; a file that does not exist is an empty lock file, as in Terraform.
    pub fn load(path: &Path) -> Result<LockFile, LockFileError> {
        match fs::read_to_string(path) {
            Ok(src) => LockFile::parse(&src, path),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(LockFile::new()),
            Err(source) => Err(LockFileError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Reads the lock file of `working_dir`.
    pub fn load_from_dir(working_dir: &Path) -> Result<LockFile, LockFileError> {
        LockFile::load(&working_dir.join(LOCK_FILE_NAME))
    }

    /// Parses lock file text with Terraform's checks: provider addresses and versions
    /// must be written in their normalised forms, `hashes` must not be empty, a provider
    /// may appear once. `path` is for messages. Every problem is reported, not the first.
    pub fn parse(src: &str, path: &Path) -> Result<LockFile, LockFileError> {
        let body = hcl_edit::parser::parse_body(src).map_err(|error| LockFileError::Syntax {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
        let line_of = |span: Option<std::ops::Range<usize>>| {
            span.map_or(0, |s| {
                src[..s.start.min(src.len())].matches('\n').count() + 1
            })
        };
        let mut problems = Vec::new();
        let mut problem = |line: usize, summary: &str, detail: String| {
            problems.push(LockFileProblem {
                file: path.to_path_buf(),
                line,
                summary: summary.to_string(),
                detail,
            })
        };
        let mut lock = LockFile::new();
        let mut seen: BTreeMap<ProviderSource, usize> = BTreeMap::new();
        for structure in body.iter() {
            let line = line_of(structure.span());
            let block = match structure {
                Structure::Block(block) => block,
                Structure::Attribute(attribute) => {
                    problem(
                        line,
                        "Unsupported argument",
                        format!(
                            "An argument named {:?} is not expected here.",
                            attribute.key.as_str()
                        ),
                    );
                    continue;
                }
            };
            match block.ident.as_str() {
                "provider" => {}
                // Terraform warns about module locks (not supported yet) and moves on.
                "module" => continue,
                other => {
                    problem(
                        line,
                        "Unsupported block type",
                        format!("Blocks of type {other:?} are not expected here."),
                    );
                    continue;
                }
            }
            let raw_addr = match block.labels.as_slice() {
                [BlockLabel::String(label)] => label.value().clone(),
                [BlockLabel::Ident(label)] => label.as_str().to_string(),
                _ => {
                    problem(line, "Invalid provider block", "A provider lock block needs exactly one label: the provider's source address.".to_string());
                    continue;
                }
            };
            let addr = match ProviderSource::parse(&raw_addr) {
                Ok(addr) => addr,
                Err(_) => {
                    problem(line, "Invalid provider source address", "The provider source address for a provider lock must be a valid, fully-qualified address of the form \"hostname/namespace/type\".".to_string());
                    continue;
                }
            };
            if addr.is_builtin() {
                problem(line, "Invalid provider source address", format!("Cannot lock a version for built-in provider {addr}. Built-in providers are bundled inside Terraform itself, so you can't select a version for them independently of the Terraform release you are currently running."));
                continue;
            }
            if addr.to_string() != raw_addr {
                problem(line, "Non-normalized provider source address", format!("The provider source address for this provider lock must be written as {:?}, the fully-qualified and normalized form.", addr.to_string()));
                continue;
            }
            if let Some(previous) = seen.get(&addr) {
                problem(line, "Duplicate provider lock", format!("This lockfile already declared a lock for provider {addr} at line {previous}."));
                continue;
            }
            seen.insert(addr.clone(), line);

            let mut version = None;
            let mut constraints = Constraints::none();
            let mut hashes = Vec::new();
            let has_version = block
                .body
                .iter()
                .any(|item| matches!(item, Structure::Attribute(a) if a.key.as_str() == "version"));
            for item in block.body.iter() {
                let line = line_of(item.span());
                let Structure::Attribute(attribute) = item else {
                    problem(line, "Unsupported block type", "A provider lock block contains only the arguments version, constraints and hashes.".to_string());
                    continue;
                };
                match attribute.key.as_str() {
                    "version" => match string_value(&attribute.value) {
                        Some(raw) => match Version::parse(&raw) {
                            Ok(parsed) if parsed.to_string() == raw => version = Some(parsed),
                            Ok(parsed) => problem(line, "Invalid provider version number", format!("The selected version number for provider {addr} must be written in normalized form: {:?}.", parsed.to_string())),
                            Err(error) => problem(line, "Invalid provider version number", format!("The selected version number for provider {addr} is invalid: {error}.")),
                        },
                        None => problem(line, "Incorrect attribute value type", "The \"version\" argument must be a string.".to_string()),
                    },
                    "constraints" => match string_value(&attribute.value) {
                        Some(raw) => match Constraints::parse_recorded(&raw) {
                            Ok(parsed) if parsed.to_string() == raw => constraints = parsed,
                            Ok(parsed) => problem(line, "Invalid provider version constraints", format!("The recorded version constraints for provider {addr} must be written in normalized form: {:?}.", parsed.to_string())),
                            Err(error) => problem(line, "Invalid provider version constraints", format!("The recorded version constraints for provider {addr} are invalid: {error}.")),
                        },
                        None => problem(line, "Incorrect attribute value type", "The \"constraints\" argument must be a string.".to_string()),
                    },
                    "hashes" => {
                        let Expression::Array(items) = &attribute.value else {
                            problem(line, "Invalid provider hash set", "The \"hashes\" argument must be a list of strings.".to_string());
                            continue;
                        };
                        if items.is_empty() {
                            problem(line, "Invalid provider hash set", "The \"hashes\" argument must either be omitted or contain at least one hash value.".to_string());
                        }
                        for item in items.iter() {
                            match string_value(item).map(|raw| Hash::parse(&raw)) {
                                Some(Ok(hash)) => hashes.push(hash),
                                Some(Err(error)) => problem(line, "Invalid provider hash string", format!("{error}.")),
                                None => problem(line, "Incorrect attribute value type", "Every element of \"hashes\" must be a string.".to_string()),
                            }
                        }
                    }
                    other => problem(line, "Unsupported argument", format!("An argument named {other:?} is not expected here.")),
                }
            }
            match version {
                Some(version) => {
                    lock.providers.insert(
                        addr,
                        ProviderLock {
                            version,
                            constraints,
                            hashes,
                        },
                    );
                }
                None if !has_version => {
                    problem(
                        line,
                        "Missing required argument",
                        "A provider lock block must contain a \"version\" argument.".to_string(),
                    );
                }
                None => {}
            }
        }
        if problems.is_empty() {
            Ok(lock)
        } else {
            Err(LockFileError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
        }
    }

    pub fn provider(&self, source: &ProviderSource) -> Option<&ProviderLock> {
        self.providers.get(source)
    }

    /// Every locked provider, sorted by address.
    pub fn providers(&self) -> impl Iterator<Item = (&ProviderSource, &ProviderLock)> {
        self.providers.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Records a selection; the hashes are sorted and deduplicated, as Terraform does.
    /// Built-in providers are never locked: setting one is ignored.
    pub fn set_provider(
        &mut self,
        source: ProviderSource,
        version: Version,
        constraints: Constraints,
        mut hashes: Vec<Hash>,
    ) {
        if source.is_builtin() {
            return;
        }
        hashes.sort();
        hashes.dedup();
        self.providers.insert(
            source,
            ProviderLock {
                version,
                constraints,
                hashes,
            },
        );
    }

    pub fn remove_provider(&mut self, source: &ProviderSource) -> Option<ProviderLock> {
        self.providers.remove(source)
    }

    /// Terraform's rule for whether the lock file changed: the same providers with the
    /// same versions and the same hashes in the same order. Constraints are not compared.
    pub fn same_selections(&self, other: &LockFile) -> bool {
        self.providers.len() == other.providers.len()
            && self.providers.iter().all(|(source, lock)| {
                other.providers.get(source).is_some_and(|theirs| {
                    theirs.version == lock.version && theirs.hashes == lock.hashes
                })
            })
    }

    /// The file's text exactly as Terraform writes it.
    pub fn to_hcl(&self) -> String {
        let mut out = String::from(HEADER);
        for (source, lock) in &self.providers {
            out.push('\n');
            let _ = writeln!(out, "provider {} {{", quote(&source.to_string()));
            let constraints = lock.constraints.to_string();
            if constraints.is_empty() {
                let _ = writeln!(out, "  version = {}", quote(&lock.version.to_string()));
            } else {
                // hclwrite aligns the `=` of consecutive single-line arguments.
                let _ = writeln!(out, "  version     = {}", quote(&lock.version.to_string()));
                let _ = writeln!(out, "  constraints = {}", quote(&constraints));
            }
            if !lock.hashes.is_empty() {
                out.push_str("  hashes = [\n");
                for hash in &lock.hashes {
                    let _ = writeln!(out, "    {},", quote(hash.as_str()));
                }
                out.push_str("  ]\n");
            }
            out.push_str("}\n");
        }
        out
    }

    /// Writes the file atomically (a temporary file renamed over it), mode 0644.
    pub fn save(&self, path: &Path) -> Result<(), LockFileError> {
        let write_error = |source| LockFileError::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        fs::write(&temp, self.to_hcl()).map_err(write_error)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&temp, fs::Permissions::from_mode(0o644)).map_err(write_error)?;
        }
        fs::rename(&temp, path).map_err(|source| {
            let _ = fs::remove_file(&temp);
            write_error(source)
        })
    }

    /// Saves this lock file over `previous` as `terraform init` does: only when the
    /// selections changed ([`LockFile::same_selections`]). Returns whether it wrote.
    pub fn save_if_changed(&self, previous: &LockFile, path: &Path) -> Result<bool, LockFileError> {
        if self.same_selections(previous) {
            return Ok(false);
        }
        self.save(path)?;
        Ok(true)
    }
}

/// A literal string's value, `None` for anything else (templates, numbers).
fn string_value(expr: &Expression) -> Option<String> {
    match expr {
        Expression::String(s) => Some(s.value().clone()),
        _ => None,
    }
}

/// An HCL string literal as hclwrite writes one.
fn quote(value: &str) -> String {
    terrane_core::hcl::quote(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORACLE: &str = "# This file is maintained automatically by \"terraform init\".
# Manual edits may be lost in future updates.

provider \"registry.terraform.io/example/x\" {
  version     = \"1.2.3\"
  constraints = \"~> 1.0\"
  hashes = [
    \"h1:yC8yQr6Avqra6JSFxpUPvjS4MBcW/MhZ2zPiopCcd1k=\",
  ]
}

provider \"registry.terraform.io/example/y\" {
  version = \"1.0.0\"
  hashes = [
    \"h1:7hwK0q29ZPW5Qs1JLCVbIowX+hnVFqBfneN0ZapYnkM=\",
    \"zh:0000\",
  ]
}
";

    #[test]
    fn round_trips_terraforms_format() {
        let lock = LockFile::parse(ORACLE, Path::new(LOCK_FILE_NAME)).unwrap();
        assert_eq!(lock.to_hcl(), ORACLE);
        let x = ProviderSource::parse("example/x").unwrap();
        assert_eq!(lock.provider(&x).unwrap().constraints.to_string(), "~> 1.0");
        assert_eq!(LockFile::new().to_hcl(), HEADER);
    }

    #[test]
    fn providers_sort_and_hashes_sort_and_dedupe() {
        let mut lock = LockFile::new();
        let hash = |s: &str| Hash::parse(s).unwrap();
        lock.set_provider(
            ProviderSource::parse("example/y").unwrap(),
            Version::parse("1.0.0").unwrap(),
            Constraints::none(),
            vec![
                hash("zh:0000"),
                hash("h1:7hwK0q29ZPW5Qs1JLCVbIowX+hnVFqBfneN0ZapYnkM="),
                hash("zh:0000"),
            ],
        );
        lock.set_provider(
            ProviderSource::parse("example/x").unwrap(),
            Version::parse("1.2.3").unwrap(),
            Constraints::parse("~> 1.0").unwrap(),
            vec![hash("h1:yC8yQr6Avqra6JSFxpUPvjS4MBcW/MhZ2zPiopCcd1k=")],
        );
        lock.set_provider(
            ProviderSource::builtin("terraform"),
            Version::new(1, 0, 0),
            Constraints::none(),
            vec![],
        );
        assert_eq!(lock.to_hcl(), ORACLE);
    }

    #[test]
    fn same_selections_ignores_constraints_but_not_hash_order() {
        let lock = LockFile::parse(ORACLE, Path::new("x")).unwrap();
        let mut changed = lock.clone();
        let x = ProviderSource::parse("example/x").unwrap();
        let mut entry = changed.provider(&x).unwrap().clone();
        entry.constraints = Constraints::parse(">= 1.1").unwrap();
        changed.providers.insert(x.clone(), entry.clone());
        assert!(changed.same_selections(&lock));
        entry.hashes.push(Hash::parse("h1:other").unwrap());
        changed.providers.insert(x, entry);
        assert!(!changed.same_selections(&lock));
    }

    #[test]
    fn reports_every_problem_with_its_line() {
        let src = "provider \"registry.terraform.io/Example/x\" {\n  version = \"1.0.0\"\n}\n\nprovider \"registry.terraform.io/example/y\" {\n  version = \"1.0\"\n  constraints = \">= 1.0\"\n  hashes = []\n}\nprovider \"registry.terraform.io/example/z\" {\n  hashes = [\"nohash\"]\n}\n";
        let LockFileError::Invalid { problems, .. } =
            LockFile::parse(src, Path::new("lock.hcl")).unwrap_err()
        else {
            panic!("expected problems");
        };
        let lines: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.summary.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (1, "Non-normalized provider source address"),
                (6, "Invalid provider version number"),
                (7, "Invalid provider version constraints"),
                (8, "Invalid provider hash set"),
                (11, "Invalid provider hash string"),
                (10, "Missing required argument"),
            ]
        );
        assert!(
            problems[1].detail.contains("\"1.0.0\""),
            "{}",
            problems[1].detail
        );
        assert!(
            problems[2].detail.contains("\">= 1.0.0\""),
            "{}",
            problems[2].detail
        );
    }

    #[test]
    fn a_missing_file_is_an_empty_lock() {
        let dir = tempfile::tempdir().unwrap();
        assert!(LockFile::load_from_dir(dir.path()).unwrap().is_empty());
        let lock = LockFile::parse(ORACLE, Path::new("x")).unwrap();
        let path = dir.path().join(LOCK_FILE_NAME);
        assert!(lock.save_if_changed(&LockFile::new(), &path).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), ORACLE);
        assert!(!lock.save_if_changed(&lock, &path).unwrap());
        assert_eq!(LockFile::load(&path).unwrap(), lock);
    }
}
