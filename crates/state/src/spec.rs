//! Which backend holds a workspace's state, from the configuration or a URL.

use std::path::{Path, PathBuf};

use terrane_core::{Diagnostic, Value};
use terrane_lang::config::BackendBlock;
use terrane_lang::eval::eval_constant;

use crate::{Backend, Result, StateError};

/// The value of `name` in a URL's query string (`a=1&b=2`).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A place in S3 as URLs name it: `s3://BUCKET/KEY[?region=REGION&endpoint=URL]`
/// (what follows `s3://`), for state backends and backup stores alike.
#[derive(Clone, Debug, PartialEq)]
pub struct S3Location {
    pub bucket: String,
    /// The object key (a state) or key prefix (backups); empty when not given.
    pub key: String,
    /// `us-east-1` when not given.
    pub region: String,
    pub endpoint: Option<String>,
}

impl S3Location {
    pub fn parse(rest: &str) -> S3Location {
        let (head, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, key) = head.split_once('/').unwrap_or((head, ""));
        S3Location {
            bucket: bucket.into(),
            key: key.into(),
            region: query_param(query, "region").unwrap_or_else(|| "us-east-1".into()),
            endpoint: query_param(query, "endpoint"),
        }
    }
}

/// Where a state lives.
#[derive(Clone, Debug, PartialEq)]
pub enum BackendSpec {
    /// One SQLite file (the default, `.terrane/state.db`).
    Sqlite { path: PathBuf },
    /// A workspace in a PostgreSQL database.
    Pg { conn_str: String, workspace: String },
    /// An object (and its lock) in an S3-compatible bucket.
    S3 {
        bucket: String,
        key: String,
        region: String,
        endpoint: Option<String>,
    },
}

impl BackendSpec {
    /// Where the state of the workspace in `dir` lives: its `backend` block, or
    /// without one the default SQLite file `.terrane/state.db`. Settings are literal
    /// strings (they are read before variables exist); a mistake is a diagnostic that
    /// points at the block.
    pub fn from_block(
        block: Option<&BackendBlock>,
        dir: &Path,
    ) -> std::result::Result<BackendSpec, Diagnostic> {
        let default = BackendSpec::Sqlite {
            path: dir.join(".terrane").join("state.db"),
        };
        let Some(b) = block else {
            return Ok(default);
        };
        let attr = |name: &str| -> std::result::Result<Option<String>, Diagnostic> {
            match b.body.attrs.get(name) {
                None => Ok(None),
                Some(a) => match eval_constant(&a.expr) {
                    Ok(Value::String(s)) => Ok(Some(s)),
                    _ => Err(Diagnostic::error(
                        "Invalid backend setting",
                        format!("The backend setting {name:?} must be a literal string (backend settings are read before variables exist)."),
                    )
                    .with_span(Some(a.expr.span.clone()))),
                },
            }
        };
        let allowed: &[&str] = match b.kind.as_str() {
            "sqlite" | "local" => &["path"],
            "pg" => &["conn_str", "workspace"],
            "s3" => &["bucket", "key", "region", "endpoint"],
            other => {
                return Err(Diagnostic::error(
                    "Unsupported backend",
                    format!("The backend {other:?} does not exist. Available backends: sqlite (the default, also accepted as \"local\"), pg (PostgreSQL) and s3 (any S3-compatible object store)."),
                )
                .with_span(Some(b.span.clone())))
            }
        };
        if let Some((name, a)) = b
            .body
            .attrs
            .iter()
            .find(|(n, _)| !allowed.contains(&n.as_str()))
        {
            // Settings of Terraform's own backends: a repository moving in.
            const TERRAFORM: &[&str] = &[
                "schema_name",
                "dynamodb_table",
                "use_lockfile",
                "encrypt",
                "workspace_key_prefix",
                "profile",
                "endpoints",
                "use_path_style",
                "skip_credentials_validation",
                "skip_region_validation",
                "skip_requesting_account_id",
                "skip_metadata_api_check",
                "skip_schema_creation",
                "kms_key_id",
                "acl",
                "access_key",
                "secret_key",
                "role_arn",
                "assume_role",
            ];
            let hint = if TERRAFORM.contains(&name.as_str()) {
                " This looks like Terraform's backend block: terrane keeps its own state. Take Terraform's over with terrane state migrate --from (docs/migrating.md), then write terrane's backend block."
            } else {
                ""
            };
            return Err(Diagnostic::error(
                "Unsupported backend setting",
                format!(
                    "The {} backend has no setting {name:?}. Its settings are: {}.{hint}",
                    b.kind,
                    allowed.join(", ")
                ),
            )
            .with_span(Some(a.expr.span.clone())));
        }
        let required = |name: &str, v: Option<String>| {
            v.ok_or_else(|| {
                Diagnostic::error(
                    "Missing backend setting",
                    format!("The {} backend needs {name:?}.", b.kind),
                )
                .with_span(Some(b.span.clone()))
            })
        };
        match b.kind.as_str() {
            "pg" => {
                let conn_str = match attr("conn_str")? {
                    Some(c) => c,
                    None => std::env::var("TERRANE_PG_CONN_STR").ok().filter(|s| !s.is_empty()).ok_or_else(|| {
                        Diagnostic::error(
                            "Missing backend setting",
                            "The pg backend needs a connection string: set conn_str in the backend block, or the TERRANE_PG_CONN_STR environment variable (which keeps the password out of the configuration).",
                        )
                        .with_span(Some(b.span.clone()))
                    })?,
                };
                Ok(BackendSpec::Pg {
                    conn_str,
                    workspace: attr("workspace")?.unwrap_or_else(|| "default".into()),
                })
            }
            "s3" => Ok(BackendSpec::S3 {
                bucket: required("bucket", attr("bucket")?)?,
                key: required("key", attr("key")?)?,
                region: attr("region")?.unwrap_or_else(|| "us-east-1".into()),
                endpoint: attr("endpoint")?,
            }),
            _ => match attr("path")? {
                None => Ok(default),
                Some(p) => {
                    let p = PathBuf::from(p);
                    Ok(BackendSpec::Sqlite {
                        path: if p.is_absolute() { p } else { dir.join(p) },
                    })
                }
            },
        }
    }

    /// Parses a backend URL, as `state migrate --to` takes it:
    /// `sqlite:PATH`, `postgres://USER:PASS@HOST:PORT/DB[?workspace=NAME]`, or
    /// `s3://BUCKET/KEY[?region=REGION&endpoint=URL]`. A bare path means SQLite.
    pub fn parse_url(url: &str, base: &std::path::Path) -> Result<BackendSpec> {
        let bad = |why: &str| {
            StateError::Storage(format!(
                "{why} in backend {url:?}. Use sqlite:PATH, postgres://USER:PASSWORD@HOST:PORT/DATABASE?workspace=NAME, or s3://BUCKET/KEY?region=REGION&endpoint=URL"
            ))
        };
        let (head, query) = url.split_once('?').unwrap_or((url, ""));
        let param = |name: &str| query_param(query, name);
        if head.starts_with("postgres://") || head.starts_with("postgresql://") {
            let workspace = param("workspace").unwrap_or_else(|| "default".into());
            // Every other query parameter belongs to the connection string.
            let rest: Vec<&str> = query
                .split('&')
                .filter(|kv| !kv.is_empty() && !kv.starts_with("workspace="))
                .collect();
            let conn_str = if rest.is_empty() {
                head.to_string()
            } else {
                format!("{head}?{}", rest.join("&"))
            };
            return Ok(BackendSpec::Pg {
                conn_str,
                workspace,
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let l = S3Location::parse(rest);
            if !rest.split('?').next().unwrap_or_default().contains('/') {
                return Err(bad("the S3 key is missing"));
            }
            if l.bucket.is_empty() || l.key.is_empty() {
                return Err(bad("the bucket or key is empty"));
            }
            return Ok(BackendSpec::S3 {
                bucket: l.bucket,
                key: l.key,
                region: l.region,
                endpoint: l.endpoint,
            });
        }
        let path = head.strip_prefix("sqlite:").unwrap_or(head);
        if path.is_empty() || path.contains("://") {
            return Err(bad("unknown backend type"));
        }
        let p = PathBuf::from(path);
        Ok(BackendSpec::Sqlite {
            path: if p.is_absolute() { p } else { base.join(p) },
        })
    }

    /// The kind, as written in a `backend "KIND"` block.
    pub fn kind(&self) -> &'static str {
        match self {
            BackendSpec::Sqlite { .. } => "sqlite",
            BackendSpec::Pg { .. } => "pg",
            BackendSpec::S3 { .. } => "s3",
        }
    }

    /// Where the state lives, for messages (without passwords).
    pub fn describe(&self) -> String {
        match self {
            BackendSpec::Sqlite { path } => format!("sqlite:{}", path.display()),
            #[cfg(feature = "pg")]
            BackendSpec::Pg {
                conn_str,
                workspace,
            } => format!("{}?workspace={workspace}", crate::pg::redact(conn_str)),
            #[cfg(not(feature = "pg"))]
            BackendSpec::Pg { workspace, .. } => format!("postgres (workspace {workspace})"),
            BackendSpec::S3 {
                bucket,
                key,
                region,
                ..
            } => format!("s3://{bucket}/{key} ({region})"),
        }
    }

    /// True when opening the backend may find an existing state. A SQLite file that
    /// does not exist holds none (and read-only commands should not create it).
    pub fn may_exist(&self) -> bool {
        match self {
            BackendSpec::Sqlite { path } => path.exists(),
            _ => true,
        }
    }

    /// Opens the backend (creating an empty state, or the schema, on first use).
    pub fn open(&self) -> Result<Box<dyn Backend>> {
        match self {
            BackendSpec::Sqlite { path } => Ok(Box::new(crate::sqlite::SqliteBackend::open(path)?)),
            #[cfg(feature = "pg")]
            BackendSpec::Pg {
                conn_str,
                workspace,
            } => Ok(Box::new(crate::pg::PgBackend::open(conn_str, workspace)?)),
            #[cfg(feature = "s3")]
            BackendSpec::S3 {
                bucket,
                key,
                region,
                endpoint,
            } => Ok(Box::new(crate::s3::open(
                bucket,
                key,
                region,
                endpoint.as_deref(),
            )?)),
            #[allow(unreachable_patterns)]
            other => Err(StateError::Storage(format!(
                "the {} backend is not available in this build of terrane (it was built without the {:?} feature)",
                other.kind(),
                other.kind()
            ))),
        }
    }
}

/// Terraform's workspaces: the name of the one every configuration starts in.
pub const DEFAULT_WORKSPACE: &str = "default";

impl BackendSpec {
    /// Where the state of workspace `name` lives: `default` is this spec; another
    /// workspace lives beside it, as Terraform keeps them — SQLite
    /// `DIR/workspaces/NAME/FILE` next to the file, PostgreSQL the workspace `NAME`,
    /// S3 the key `env:/NAME/KEY`.
    pub fn for_workspace(&self, name: &str) -> BackendSpec {
        if name == DEFAULT_WORKSPACE {
            return self.clone();
        }
        match self {
            BackendSpec::Sqlite { path } => {
                let file = path
                    .file_name()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| "state.db".into());
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                BackendSpec::Sqlite {
                    path: dir.join("workspaces").join(name).join(file),
                }
            }
            BackendSpec::Pg { conn_str, .. } => BackendSpec::Pg {
                conn_str: conn_str.clone(),
                workspace: name.to_string(),
            },
            BackendSpec::S3 {
                bucket,
                key,
                region,
                endpoint,
            } => BackendSpec::S3 {
                bucket: bucket.clone(),
                key: format!("env:/{name}/{key}"),
                region: region.clone(),
                endpoint: endpoint.clone(),
            },
        }
    }

    /// The workspaces that have a state here (`self` being the default one's spec),
    /// `default` first, the others in name order.
    pub fn workspaces(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = match self {
            BackendSpec::Sqlite { path } => {
                let file = path.file_name().unwrap_or_default();
                let dir = path
                    .parent()
                    .map(|p| p.join("workspaces"))
                    .unwrap_or_default();
                match std::fs::read_dir(&dir) {
                    Ok(entries) => entries
                        .flatten()
                        .filter(|e| e.path().join(file).exists())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                    Err(e) => {
                        return Err(StateError::Storage(format!(
                            "listing {}: {e}",
                            dir.display()
                        )))
                    }
                }
            }
            #[cfg(feature = "pg")]
            BackendSpec::Pg { conn_str, .. } => crate::pg::workspaces(conn_str)?,
            #[cfg(feature = "s3")]
            BackendSpec::S3 {
                bucket,
                key,
                region,
                endpoint,
            } => {
                let blobs =
                    crate::s3::S3Blobs::connect(bucket, "env:", region, endpoint.as_deref())?;
                blobs
                    .list()?
                    .into_iter()
                    .filter_map(|k| k.strip_suffix(&format!("/{key}")).map(str::to_string))
                    .filter(|n| !n.contains('/'))
                    .collect()
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(StateError::Unavailable(
                    "this build has no support for this backend".into(),
                ))
            }
        };
        names.retain(|n| n != DEFAULT_WORKSPACE);
        names.sort();
        names.dedup();
        names.insert(0, DEFAULT_WORKSPACE.to_string());
        Ok(names)
    }

    /// Deletes the state of workspace `name` (never `default`), history and all.
    pub fn delete_workspace(&self, name: &str) -> Result<()> {
        if name == DEFAULT_WORKSPACE {
            return Err(StateError::Storage(
                "the default workspace cannot be deleted".into(),
            ));
        }
        match self.for_workspace(name) {
            BackendSpec::Sqlite { path } => {
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| StateError::Storage(format!("deleting {}: {e}", dir.display())))
            }
            #[cfg(feature = "pg")]
            BackendSpec::Pg {
                conn_str,
                workspace,
            } => crate::pg::delete_workspace(&conn_str, &workspace),
            #[cfg(feature = "s3")]
            BackendSpec::S3 {
                bucket,
                key,
                region,
                endpoint,
            } => {
                let blobs = crate::s3::S3Blobs::connect(&bucket, "", &region, endpoint.as_deref())?;
                blobs.delete(&key)?;
                blobs.delete(&format!("{key}.lock"))
            }
            #[allow(unreachable_patterns)]
            _ => Err(StateError::Unavailable(
                "this build has no support for this backend".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backend_urls() {
        let base = std::path::Path::new("/w");
        assert_eq!(
            BackendSpec::parse_url("state.db", base).unwrap(),
            BackendSpec::Sqlite {
                path: "/w/state.db".into()
            }
        );
        assert_eq!(
            BackendSpec::parse_url(
                "postgres://u:p@127.0.0.1:5432/db?workspace=prod&sslmode=disable",
                base
            )
            .unwrap(),
            BackendSpec::Pg {
                conn_str: "postgres://u:p@127.0.0.1:5432/db?sslmode=disable".into(),
                workspace: "prod".into()
            }
        );
        assert_eq!(
            BackendSpec::parse_url("s3://b/env/prod?endpoint=http://127.0.0.1:9000", base).unwrap(),
            BackendSpec::S3 {
                bucket: "b".into(),
                key: "env/prod".into(),
                region: "us-east-1".into(),
                endpoint: Some("http://127.0.0.1:9000".into())
            }
        );
        assert!(BackendSpec::parse_url("ftp://x", base).is_err());
        assert!(BackendSpec::parse_url("s3://bucket", base).is_err());
    }
}
