//! Provider installation as Terraform 1.15 does it, for `terrane init` and for finding a
//! provider's executable when a command runs it.
//!
//! - [`addr`]: provider source addresses (`hashicorp/aws`) and `include`/`exclude` patterns;
//! - [`version`]: versions and version constraints with Terraform's semantics and its
//!   normalised form;
//! - [`hash`]: the `h1:` and `zh:` package hashes the lock file records;
//! - [`platform`]: `OS_ARCH` targets;
//! - [`lockfile`]: `.terraform.lock.hcl`, read and written byte for byte as Terraform;
//! - [`source`]: where packages come from, the [`source::PackageSource`] trait and the
//!   ordered installation methods; [`mirror`]: filesystem mirrors; [`netmirror`]: the
//!   network mirror protocol; [`registry`]: the registry protocol (`direct`), with service
//!   discovery; [`http`]: the HTTPS client they share; [`auth`]: checking a downloaded
//!   package against a registry's signed `SHA256SUMS` or a mirror's hashes;
//! - [`modules`]: module installation (registry, git, HTTP archives, local paths) and
//!   the module manifest `.terraform/modules/modules.json`;
//! - [`cliconfig`]: the CLI configuration (`~/.terraformrc`): plugin cache directory,
//!   `provider_installation` methods, `dev_overrides`;
//! - [`mod@install`]: choosing versions, installing into `.terraform/providers`, the new
//!   lock file ([`install()`]), and finding a provider's executable ([`locate()`]).
//!
//! No function here prints: progress goes to an observer, problems come back as typed
//! errors whose messages say what is wrong and how to fix it, and skipped oddities (a
//! badly named directory in a mirror) are logged through `tracing`.
//!
//! # Registries and network mirrors
//!
//! Registries are reached over HTTPS only, at the provider's hostname, exactly as
//! Terraform reaches them (there is no setting that allows plain HTTP). The roots of
//! trust are the system's CA certificates; `SSL_CERT_FILE` (read into
//! [`CliEnv::ssl_cert_file`], then [`http::HttpSettings::ca_file`]) replaces them with
//! the certificates of one PEM file, as it does for Terraform. That is how a registry or
//! mirror with a private CA is used, and how the tests reach the code path users take:
//! `tests/it/registry.rs` serves a registry and a network mirror over HTTPS on
//! 127.0.0.1 with a certificate from a CA the test makes, names the CA in
//! `CliEnv::ssl_cert_file`, and requires providers as `127.0.0.1:PORT/NAMESPACE/TYPE`.
//! Nothing in the tests contacts any other host.

pub mod addr;
pub mod auth;
pub mod cliconfig;
pub mod hash;
mod hcl1;
pub mod http;
pub mod install;
pub mod lockfile;
pub mod mirror;
pub mod modules;
pub mod netmirror;
pub mod platform;
pub mod registry;
pub mod source;
pub mod version;

pub use addr::{ProviderPattern, ProviderSource};
pub use auth::Authentication;
pub use cliconfig::{CliConfig, CliEnv};
pub use hash::Hash;
pub use http::HttpSettings;
pub use install::{
    install, locate, InstallError, InstallEvent, InstallMode, InstallObserver, InstallOutcome,
    Installer, Requirements,
};
pub use lockfile::LockFile;
pub use platform::Platform;
pub use version::{Constraints, Version};
