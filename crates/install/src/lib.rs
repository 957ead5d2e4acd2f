//! Provider installation as Terraform 1.15 does it, for `terrane init` and for finding a
//! provider's executable when a command runs it.
//!
//! - [`addr`]: provider source addresses (`hashicorp/aws`) and `include`/`exclude` patterns;
//! - [`version`]: versions and version constraints with Terraform's semantics and its
//!   normalised form;
//! - [`hash`]: the `h1:` and `zh:` package hashes the lock file records;
//! - [`platform`]: `OS_ARCH` targets;
//! - [`lockfile`]: `.terraform.lock.hcl`, read and written byte for byte as Terraform;
//! - [`source`], [`mirror`]: where packages come from, the trait and the filesystem mirror;
//! - [`cliconfig`]: the CLI configuration (`~/.terraformrc`): plugin cache directory,
//!   `provider_installation` methods, `dev_overrides`;
//! - [`mod@install`]: choosing versions, installing into `.terraform/providers`, the new
//!   lock file ([`install()`]), and finding a provider's executable ([`locate()`]).
//!
//! No function here prints: progress goes to an observer, problems come back as typed
//! errors whose messages say what is wrong and how to fix it, and skipped oddities (a
//! badly named directory in a mirror) are logged through `tracing`.

pub mod addr;
pub mod cliconfig;
pub mod hash;
mod hcl1;
pub mod install;
pub mod lockfile;
pub mod mirror;
pub mod platform;
pub mod source;
pub mod version;

pub use addr::{ProviderPattern, ProviderSource};
pub use cliconfig::{CliConfig, CliEnv};
pub use hash::Hash;
pub use install::{
    install, locate, InstallError, InstallEvent, InstallMode, InstallObserver, InstallOutcome,
    Installer, Requirements,
};
pub use lockfile::LockFile;
pub use platform::Platform;
pub use version::{Constraints, Version};
