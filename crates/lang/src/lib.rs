//! terrane's configuration language.
//!
//! Loads `*.tf` files with `hcl-edit` (which keeps byte spans), converts them into the
//! [`config`] model and an expression tree ([`ast`]), and evaluates expressions
//! ([`eval`]) with Terraform's function library ([`funcs`]) while tracking unknown and
//! sensitive values. This crate reads configuration files and nothing else; it knows
//! nothing of state or providers.

pub mod ast;
pub mod check;
pub mod config;
pub mod eval;
pub mod fmt;
pub mod funcs;
pub mod vars;

pub use ast::{Expr, ExprKind, Reference};
pub use config::{
    load_root, module_calls, BackupSettings, Body, EncryptionSettings, KeyProviderBlock, Module,
    ModuleCallSite, RequiredProvider,
};
pub use eval::{eval, eval_body, Scope};
