//! The shared vocabulary of terrane.
//!
//! Every other crate speaks in these types: [`Value`] (configuration and state values,
//! with "known after apply" and sensitive marks), [`Type`] (type constraints),
//! addresses of resources and their instances, and [`Diagnostic`]s that point at the
//! source text a user wrote. This crate performs no IO.

pub mod addr;
pub mod diag;
pub mod doc;
pub mod hcl;
pub mod map;
pub mod modsource;
pub mod number;
pub mod tfstate;
pub mod types;
pub mod value;

/// The version of Terraform whose language and protocols terrane implements: what
/// `required_version` constraints are checked against and what provider plugins are
/// told (ConfigureProvider's `terraform_version`).
pub const TERRAFORM_VERSION: &str = "1.15.5";

pub use addr::{InstanceAddr, InstanceKey, ModulePath, ResourceAddr, ResourceMode};
pub use diag::{Diagnostic, Diagnostics, PathStep, Severity, SourceMap, Span};
pub use doc::Doc;
pub use map::ObjectMap;
pub use number::Number;
pub use types::Type;
pub use value::Value;
