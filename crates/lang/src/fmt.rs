//! Canonical formatting of configuration files (`terrane fmt`).
