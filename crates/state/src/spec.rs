//! Which backend holds a workspace's state, from the configuration or a URL.

use std::path::PathBuf;

use crate::{Backend, Result, StateError};

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
        let param = |name: &str| {
            query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
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
        if let Some(rest) = head.strip_prefix("s3://") {
            let (bucket, key) = rest
                .split_once('/')
                .ok_or_else(|| bad("the S3 key is missing"))?;
            if bucket.is_empty() || key.is_empty() {
                return Err(bad("the bucket or key is empty"));
            }
            return Ok(BackendSpec::S3 {
                bucket: bucket.into(),
                key: key.into(),
                region: param("region").unwrap_or_else(|| "us-east-1".into()),
                endpoint: param("endpoint"),
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
