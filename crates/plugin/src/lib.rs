//! Terraform's provider plugin protocol: terrane runs the providers Terraform runs.
//!
//! A plugin is a program that serves the `tfplugin5` or `tfplugin6` gRPC service
//! after go-plugin's handshake ([`process`]). [`PluginFactory`] starts it, reads its
//! schemas ([`schema`]) and serves every provider configuration that uses it with
//! its own process ([`provider`]); values cross as cty MessagePack ([`cty`]).
//!
//! This crate stands on the provider interface alone: it knows nothing of the engine,
//! state or how plugins are installed (`terrane-install`).

pub mod cty;
pub mod process;
pub mod provider;
pub mod rpc;
pub mod schema;
mod tls;

pub use process::{Launch, StartError};
pub use provider::{PluginError, PluginFactory, PluginProvider};
pub use schema::PluginSchema;

/// The protocol's message types, generated from `proto/` by `build.rs`.
#[allow(clippy::all, missing_docs)]
pub mod proto {
    pub mod tfplugin6 {
        include!(concat!(env!("OUT_DIR"), "/tfplugin6.rs"));
    }
    pub mod tfplugin5 {
        include!(concat!(env!("OUT_DIR"), "/tfplugin5.rs"));
    }
    pub mod plugin {
        include!(concat!(env!("OUT_DIR"), "/plugin.rs"));
    }
}
