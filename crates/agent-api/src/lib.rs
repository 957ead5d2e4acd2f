//! The contract of `terrane agent`, the long-running part of the local cloud: what its
//! HTTP API accepts and answers, the checks a value must pass before it is sent, and
//! the client that sends it.
//!
//! This crate is what the `local` provider and the CLI depend on to talk to the agent;
//! the agent's runtime (`terrane-agent`: supervisor, load balancer, DNS server,
//! scheduler, API server) depends on it for the same types. It carries no server of
//! any kind, so a provider built on it stays on the provider interface (the provider
//! tidy test in `crates/provider` keeps it so).
//!
//! - [`spec`]: services and replicas, the agent's identity and events.
//! - [`lb`], [`dns`], [`autoscale`], [`backup`]: load balancers, DNS zones and records,
//!   autoscalers and backup policies, with their pure validators.
//! - [`client`]: [`client::AgentClient`], and finding or starting the workspace's agent.
//! - [`auth`]: where the agent's token is, and reading it.
//!
//! These types cross the API as JSON: add fields with defaults, never repurpose one.

pub mod auth;
pub mod autoscale;
pub mod backup;
pub mod client;
pub mod dns;
pub mod lb;
pub mod spec;
