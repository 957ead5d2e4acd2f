//! Policy as code for terrane: Rego policy sets evaluated in-process (with Microsoft's
//! `regorus`) against the plan document, and the built-in security scan, a rule pack
//! written in Rego and shipped in the binary.
//!
//! The input of both is the document `terrane plan --json` prints (Terraform's plan
//! format, with its `configuration` section), so policies written for
//! `terraform show -json` work unchanged. This crate knows nothing of the engine: the
//! CLI builds the document and maps results back to source locations.

pub mod rego;
pub mod report;
pub mod scan;
mod split;

pub use rego::{Enforcement, PolicySet, SetOutcome, Verdict};
pub use scan::{Finding, RuleMeta, ScanReport, Severity};
