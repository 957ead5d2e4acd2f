//! `terrane import`: reads an existing object through its provider and records it in
//! state under a declared address, without changing the object.

use std::collections::BTreeMap;
use std::path::Path;

use terrane_core::{Diagnostics, InstanceAddr};
use terrane_provider::Registry;
use terrane_state::{InstanceState, Snapshot};

use crate::model::{self, Model, NodeKind};
use crate::run::{RawVar, Run};

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("Resource already managed: {0} is already in state. To import it again, first run terrane state rm {0}.")]
    AlreadyManaged(InstanceAddr),
    #[error("Configuration for import target does not exist: the address {addr} is not declared in the configuration. Add a resource block for it first, e.g.\n\n  resource {type_name:?} {name:?} {{\n    # ...\n  }}")]
    NotDeclared {
        addr: InstanceAddr,
        type_name: String,
        name: String,
    },
    /// The provider's configuration (or what it depends on) does not evaluate.
    #[error("the provider configuration for the import has errors")]
    Config(Diagnostics),
    #[error("provider {0} could not be configured")]
    Provider(String),
    /// The provider could not read the object.
    #[error("{addr}: import failed: {error}")]
    Read {
        addr: InstanceAddr,
        error: terrane_provider::ProviderError,
    },
}

/// Reads the object `id` for the declared resource instance `addr` through its
/// provider (configured from the configuration and `root_vars`), and returns the
/// instance to record. `prior` is the current state: an address it holds is refused.
/// The provider's warnings go to `observer`, as from every other provider call.
#[allow(clippy::too_many_arguments)]
pub async fn import(
    model: &Model<'_>,
    registry: &Registry,
    root_dir: &Path,
    prior: &Snapshot,
    root_vars: &BTreeMap<String, RawVar>,
    addr: &InstanceAddr,
    id: &str,
    observer: &dyn crate::Observer,
) -> Result<InstanceState, ImportError> {
    if prior.resources.contains_key(addr) {
        return Err(ImportError::AlreadyManaged(addr.clone()));
    }
    let not_declared = || ImportError::NotDeclared {
        addr: addr.clone(),
        type_name: addr.resource.type_name.clone(),
        name: addr.resource.name.clone(),
    };
    let node = model
        .node(&NodeKind::Resource(
            addr.resource.module.config(),
            addr.resource.local_name(),
        ))
        .ok_or_else(not_declared)?;
    let r = model
        .resource(&addr.resource.module.config(), &addr.resource.local_name())
        .ok_or_else(not_declared)?;
    let (_, schema) = model::resource_schema(registry, r).map_err(|d| {
        let mut diags = Diagnostics::new();
        diags.push(d);
        ImportError::Config(diags)
    })?;
    // Configure the resource's provider (evaluating whatever its configuration needs).
    let run = Run::new(model, registry, root_dir);
    let paddr = model
        .resource_provider
        .get(&node)
        .cloned()
        .unwrap_or_default();
    let pnode = model
        .node(&NodeKind::Provider(paddr.clone()))
        .ok_or_else(|| ImportError::Provider(paddr.to_string()))?;
    let needed = model.graph.dependency_closure(&[pnode]);
    for n in model.graph.topo_order() {
        if needed[n] && !run.visit_value_node(n, root_vars) {
            return Err(ImportError::Config(run.diags.take()));
        }
    }
    let provider = run
        .provider(&paddr)
        .ok_or_else(|| ImportError::Provider(paddr.to_string()))?;
    let value = provider.import(&addr.resource.type_name, id).await;
    crate::forward_warnings(provider.as_ref(), observer);
    let value = value.map_err(|error| ImportError::Read {
        addr: addr.clone(),
        error,
    })?;
    Ok(InstanceState {
        addr: addr.clone(),
        provider: paddr,
        value: schema.mark_sensitive(value),
        dependencies: model.resource_deps.get(&node).cloned().unwrap_or_default(),
        create_before_destroy: r.lifecycle.create_before_destroy,
        meta: terrane_state::ObjectMeta {
            private: Vec::new(),
            schema_version: schema.version,
            plugin: run.served_by_plugin(r),
            tainted: false,
        },
    })
}
