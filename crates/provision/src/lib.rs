//! Terraform's provisioners, run as Terraform runs them: `local-exec` on this host, and
//! `file` and `remote-exec` on a machine reached over SSH (a `connection` block).
//!
//! - [`Kind`]: the three provisioners and the schemas of their arguments (checked by
//!   the engine like a resource's), [`connection_schema`] for `connection` blocks;
//! - [`mod@local`]: `local-exec`: a command under an interpreter, output streamed
//!   line by line;
//! - [`ssh`]: the SSH communicator (russh): retries until `timeout`, password, private
//!   key and agent authentication, `host_key` checking, bastion hosts, commands with
//!   their exit status, uploads by the SCP protocol;
//! - [`remote`]: `file` (a file, a directory or `content`) and `remote-exec`
//!   (`inline`, `script`, `scripts`, uploaded to `script_path` and run).
//!
//! The engine evaluates the arguments (with `self`), decides when provisioners run
//! (after a create, or before a destroy with `when = destroy`) and what a failure does
//! (`on_failure`, tainting); this crate only runs one provisioner and reports its
//! output through an [`Output`], which hides every sensitive value the arguments held.

pub mod local;
pub mod remote;
pub mod ssh;

use terrane_core::{Type, Value};
use terrane_provider::{AttrSchema, Schema};

/// A provisioner terrane runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LocalExec,
    File,
    RemoteExec,
}

impl Kind {
    /// The provisioner named in `provisioner "NAME"`.
    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "local-exec" => Some(Kind::LocalExec),
            "file" => Some(Kind::File),
            "remote-exec" => Some(Kind::RemoteExec),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::LocalExec => "local-exec",
            Kind::File => "file",
            Kind::RemoteExec => "remote-exec",
        }
    }

    /// Whether it needs a `connection`.
    pub fn remote(self) -> bool {
        self != Kind::LocalExec
    }

    /// The provisioner's arguments.
    pub fn schema(self) -> Schema {
        let string = || AttrSchema::optional(Type::String);
        let strings = || AttrSchema::optional(Type::List(Box::new(Type::String)));
        match self {
            Kind::LocalExec => Schema::new()
                .attr("command", AttrSchema::required(Type::String))
                .attr("interpreter", strings())
                .attr("working_dir", string())
                .attr(
                    "environment",
                    AttrSchema::optional(Type::Map(Box::new(Type::String))),
                )
                .attr("quiet", AttrSchema::optional(Type::Bool)),
            Kind::File => Schema::new()
                .attr("source", string())
                .attr("content", string())
                .attr("destination", AttrSchema::required(Type::String)),
            Kind::RemoteExec => Schema::new()
                .attr("inline", strings())
                .attr("script", string())
                .attr("scripts", strings()),
        }
    }

    /// The rules the schema cannot say: which arguments exclude each other. `present`
    /// are the arguments the block sets.
    pub fn check_arguments(self, present: &[&str]) -> Result<(), String> {
        let count = |names: &[&str]| names.iter().filter(|n| present.contains(n)).count();
        match self {
            Kind::LocalExec => Ok(()),
            Kind::File => match count(&["source", "content"]) {
                1 => Ok(()),
                0 => Err("The file provisioner needs source (a local file or directory) or content (a string) to copy to destination.".into()),
                _ => Err("The file provisioner takes source or content, not both.".into()),
            },
            Kind::RemoteExec => match count(&["inline", "script", "scripts"]) {
                1 => Ok(()),
                0 => Err("The remote-exec provisioner needs one of inline (a list of commands), script (a local script) or scripts (a list of local scripts).".into()),
                _ => Err("The remote-exec provisioner takes only one of inline, script and scripts.".into()),
            },
        }
    }
}

/// The arguments of a `connection` block.
pub fn connection_schema() -> Schema {
    let string = || AttrSchema::optional(Type::String);
    let secret = || AttrSchema::optional(Type::String).sensitive();
    Schema::new()
        .attr("type", string())
        .attr("host", AttrSchema::required(Type::String))
        .attr("port", AttrSchema::optional(Type::Number))
        .attr("user", string())
        .attr("password", secret())
        .attr("private_key", secret())
        .attr("certificate", string())
        .attr("agent", AttrSchema::optional(Type::Bool))
        .attr("agent_identity", string())
        .attr("host_key", string())
        .attr("target_platform", string())
        .attr("timeout", string())
        .attr("script_path", string())
        .attr("bastion_host", string())
        .attr("bastion_host_key", string())
        .attr("bastion_port", AttrSchema::optional(Type::Number))
        .attr("bastion_user", string())
        .attr("bastion_password", secret())
        .attr("bastion_private_key", secret())
        .attr("bastion_certificate", string())
}

/// Why a provisioner failed; the message says what and why, with no sensitive value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProvisionError(pub String);

/// Where a provisioner's output goes: one call per line, every sensitive value of its
/// arguments replaced by `(sensitive value)`.
pub struct Output<'a> {
    sink: &'a dyn Fn(&str),
    secrets: Vec<String>,
}

impl<'a> Output<'a> {
    /// `secrets` are the strings to hide (the sensitive values of the arguments and of
    /// the connection); empty ones are ignored.
    pub fn new(sink: &'a dyn Fn(&str), mut secrets: Vec<String>) -> Output<'a> {
        secrets.retain(|s| !s.is_empty());
        // Longest first, so that a secret containing another is hidden whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Output { sink, secrets }
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            out = out.replace(s.as_str(), "(sensitive value)");
        }
        out
    }

    pub fn line(&self, text: &str) {
        (self.sink)(&self.mask(text));
    }
}

/// Every sensitive string in `value` (a marked value, before `unmark`), for [`Output`].
pub fn sensitive_strings(value: &Value) -> Vec<String> {
    fn walk(v: &Value, inside: bool, out: &mut Vec<String>) {
        match v {
            Value::Sensitive(inner) => walk(inner, true, out),
            Value::String(s) if inside => out.push(s.clone()),
            Value::Number(n) if inside => out.push(n.to_string()),
            Value::List(items) | Value::Set(items) => {
                items.iter().for_each(|i| walk(i, inside, out))
            }
            Value::Map(m) => m.values().for_each(|i| walk(i, inside, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, false, &mut out);
    out
}

/// Runs one provisioner with its evaluated arguments (`config`, plain) and, for `file`
/// and `remote-exec`, its connection (plain).
pub async fn run(
    kind: Kind,
    config: &Value,
    connection: Option<&Value>,
    out: &Output<'_>,
) -> Result<(), ProvisionError> {
    match kind {
        Kind::LocalExec => local::local_exec(config, out).await,
        Kind::File | Kind::RemoteExec => {
            let Some(connection) = connection else {
                return Err(ProvisionError(format!(
                    "The {} provisioner needs a connection block (in the provisioner or in the resource) saying how to reach the machine: connection {{ host = ..., user = ..., private_key = ... }}.",
                    kind.name()
                )));
            };
            let connection = ssh::Connection::from_value(connection)?;
            let session = ssh::Session::connect(&connection, kind.name(), out).await?;
            let result = match kind {
                Kind::File => remote::file(&session, config, out).await,
                _ => remote::remote_exec(&session, &connection, config, out).await,
            };
            session.close().await;
            result
        }
    }
}

/// A string argument, if set.
pub(crate) fn string_arg<'v>(config: &'v Value, name: &str) -> Option<&'v str> {
    config.get(name).and_then(Value::as_str)
}

/// A list of strings argument, if set.
pub(crate) fn strings_arg(config: &Value, name: &str) -> Option<Vec<String>> {
    match config.get(name)? {
        Value::List(items) => Some(
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    }
}
