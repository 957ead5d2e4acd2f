//! Provider `local`: files ([`crate::file`]: `local_file`, `local_sensitive_file` and
//! the `local_file` data source) and the local cloud's objects, which the workspace's
//! agent runs ([`crate::agent`]): `local_service`, `local_load_balancer`,
//! `local_dns_zone`, `local_dns_record`, `local_autoscaler` and `local_backup_policy`.
//!
//! Its context, [`LocalCtx`], is made once per configured provider from the
//! [`LocalHost`] the CLI passes in: the workspace directory, the terrane executable that
//! starts the agent, and a slot for the agent's client once a call found or started it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use terrane_agent_api::client::{self, AgentClient};
use terrane_core::Diagnostic;
use terrane_provider::{Context, Dispatch, ProviderError, Result, Warnings};

use crate::agent::{Agent, AgentObject};
use crate::autoscaler::Autoscaler;
use crate::backup_policy::BackupPolicy;
use crate::balancer::LoadBalancer;
use crate::dns::{Record, Zone};
use crate::file::{File, FileData};
use crate::service::Service;
use crate::{LocalHost, SimpleFactory};

/// What every type of the `local` provider shares.
pub struct LocalCtx {
    host: LocalHost,
    /// The workspace's agent, once a call found or started it.
    agent: std::sync::Mutex<Option<AgentClient>>,
    /// Whether a read already warned that no agent runs.
    warned_no_agent: AtomicBool,
    warnings: Warnings,
}

impl LocalCtx {
    pub fn new(host: LocalHost) -> LocalCtx {
        LocalCtx {
            host,
            agent: std::sync::Mutex::new(None),
            warned_no_agent: AtomicBool::new(false),
            warnings: Warnings::default(),
        }
    }

    pub fn workspace(&self) -> &Path {
        &self.host.workspace
    }

    /// The agent found before, while it still answers.
    async fn known_agent(&self) -> Option<AgentClient> {
        let known = self
            .agent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        known.healthy().await.then_some(known)
    }

    fn remember(&self, agent: &AgentClient) {
        *self.agent.lock().unwrap_or_else(|e| e.into_inner()) = Some(agent.clone());
    }

    /// The workspace's agent if one is running. Reads use this rather than starting one:
    /// with no agent, nothing can be checked and the recorded state stands.
    pub async fn running_agent(&self) -> Option<AgentClient> {
        if let Some(agent) = self.known_agent().await {
            return Some(agent);
        }
        let (_, agent) = client::find(self.workspace()).await?;
        self.remember(&agent);
        Some(agent)
    }

    /// Says, once, that a read found no agent to check its object with.
    pub fn warn_no_agent(&self) {
        if !self.warned_no_agent.swap(true, Ordering::Relaxed) {
            self.warnings.push(Diagnostic::warning(
                "Workspace agent not running",
                "The workspace agent is not running, so the local cloud's objects (services, load balancers, DNS zones, autoscalers, backup policies) cannot be checked; their recorded state stands. Start it with `terrane agent`.",
            ));
        }
    }

    /// The workspace's agent, started in the background when none runs (a warning of
    /// the call says so).
    pub async fn agent(&self) -> Result<AgentClient> {
        if let Some(agent) = self.known_agent().await {
            return Ok(agent);
        }
        let (agent, started) = client::ensure(self.workspace(), &self.host.program)
            .await
            .map_err(ProviderError::api)?;
        if started {
            self.warnings.push(Diagnostic::warning(
                "Workspace agent started",
                "terrane started the workspace agent in the background to run local services; it keeps running after this command (stop it with `terrane agent stop`).",
            ));
        }
        self.remember(&agent);
        Ok(agent)
    }
}

impl Context for LocalCtx {
    fn take_warnings(&self) -> Vec<Diagnostic> {
        self.warnings.take()
    }
}

fn agent_type<T: AgentObject>(d: Dispatch<LocalCtx>, object: T) -> Dispatch<LocalCtx> {
    d.resource(T::TYPE, Agent(object))
}

/// The `local` provider with every type registered.
pub fn provider(ctx: LocalCtx) -> Dispatch<LocalCtx> {
    let d = Dispatch::new(ctx)
        .resource("local_file", File { sensitive: false })
        .resource("local_sensitive_file", File { sensitive: true })
        .data_source("local_file", FileData);
    let d = agent_type(d, Service);
    let d = agent_type(d, LoadBalancer);
    let d = agent_type(d, Autoscaler);
    let d = agent_type(d, BackupPolicy);
    let d = agent_type(d, Zone);
    agent_type(d, Record)
}

pub fn factory(host: LocalHost) -> SimpleFactory {
    SimpleFactory::new("local", move || provider(LocalCtx::new(host.clone())))
}

#[cfg(test)]
mod tests {
    use terrane_provider::{Provider, ProviderFactory};

    use super::*;

    fn host(dir: &Path) -> LocalHost {
        LocalHost {
            workspace: dir.to_path_buf(),
            program: "terrane".into(),
        }
    }

    #[test]
    fn every_type_is_registered_once() {
        let dir = tempfile::tempdir().unwrap();
        let f = factory(host(dir.path()));
        let resources: Vec<&str> = f.schema().resources.keys().map(String::as_str).collect();
        assert_eq!(
            resources,
            [
                "local_autoscaler",
                "local_backup_policy",
                "local_dns_record",
                "local_dns_zone",
                "local_file",
                "local_load_balancer",
                "local_sensitive_file",
                "local_service",
            ]
        );
        let data: Vec<&str> = f.schema().data_sources.keys().map(String::as_str).collect();
        assert_eq!(data, ["local_file"]);
    }

    /// An import ID that names a file is a file only for the file types.
    #[tokio::test]
    async fn only_files_are_imported_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("SOMEFILE");
        std::fs::write(&file, "not a service").unwrap();
        let id = file.to_str().unwrap();
        let p = provider(LocalCtx::new(host(dir.path())));
        for t in [
            "local_service",
            "local_load_balancer",
            "local_dns_zone",
            "local_dns_record",
            "local_autoscaler",
            "local_backup_policy",
        ] {
            let e = p.import(t, id).await.unwrap_err();
            assert!(
                e.message
                    .starts_with(&format!("{t} does not support import")),
                "{t}: {e}"
            );
        }
        let v = p.import("local_file", id).await.unwrap();
        assert_eq!(
            v.get("content").and_then(terrane_core::Value::as_str),
            Some("not a service")
        );
        assert!(p.take_warnings().is_empty());
    }
}
