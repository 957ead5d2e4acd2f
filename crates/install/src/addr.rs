//! Provider source addresses: `[HOSTNAME/][NAMESPACE/]TYPE`, parsed, normalised and
//! validated as Terraform does (its `terraform-registry-address` and `svchost` rules).
//!
//! A [`ProviderSource`] is always fully qualified and normalised: the hostname is lower
//! case with the default port `:443` dropped, the namespace and type are lower case. Two
//! sources are equal exactly when Terraform considers them the same provider, and they
//! order as Terraform sorts them (hostname, then namespace, then type).

use std::fmt;

/// The registry a source address without a hostname refers to.
pub const DEFAULT_REGISTRY_HOST: &str = "registry.terraform.io";
/// The namespace a source address without one refers to.
pub const DEFAULT_NAMESPACE: &str = "hashicorp";
/// The hostname of the providers built into Terraform (`terraform.io/builtin/terraform`).
pub const BUILTIN_HOST: &str = "terraform.io";
/// The namespace of the providers built into Terraform.
pub const BUILTIN_NAMESPACE: &str = "builtin";

/// A fully qualified provider source address, `HOSTNAME/NAMESPACE/TYPE`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderSource {
    /// The registry hostname, normalised (lower case, optional `:port` other than 443).
    pub hostname: String,
    /// The namespace (organisation), lower case.
    pub namespace: String,
    /// The provider type, lower case (`aws`, `random`).
    pub type_name: String,
}

/// Why a source address (or one of its parts) is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    #[error("invalid provider source string {given:?}: the \"source\" attribute must be in the format \"[hostname/][namespace/]name\"")]
    Format { given: String },
    #[error("invalid provider type {part:?} in source {given:?}: {reason}")]
    Type {
        given: String,
        part: String,
        reason: String,
    },
    #[error("invalid provider namespace {part:?} in source {given:?}: {reason}")]
    Namespace {
        given: String,
        part: String,
        reason: String,
    },
    #[error("invalid provider source hostname {part:?} in source {given:?}: {reason}")]
    Hostname {
        given: String,
        part: String,
        reason: String,
    },
    #[error("provider source {given:?} uses the legacy namespace \"-\", which Terraform 0.13 and later do not install; write the provider's real namespace, such as \"hashicorp/{type_name}\"")]
    Legacy { given: String, type_name: String },
    #[error("provider source {given:?} has a type with the prefix \"terraform-provider-\", which isn't valid: that prefix belongs to repository names, not source addresses. Did you mean {suggestion:?}?")]
    RepositoryPrefix { given: String, suggestion: String },
    #[error("provider source {given:?} has a type with the prefix \"terraform-\", which isn't allowed because it would be redundant to name a Terraform provider with that prefix")]
    RedundantPrefix { given: String },
}

impl ProviderSource {
    /// Parses a source address as written in `required_providers` or in the lock file:
    /// `TYPE` means `registry.terraform.io/hashicorp/TYPE`, `NAMESPACE/TYPE` means
    /// `registry.terraform.io/NAMESPACE/TYPE`. Every part is normalised to lower case.
    ///
    /// Like Terraform's `ParseProviderSourceString`, a bare `terraform` is
    /// `registry.terraform.io/hashicorp/terraform`; use [`ProviderSource::implied`] for the
    /// address a local name without a `source` stands for.
    pub fn parse(given: &str) -> Result<ProviderSource, AddrError> {
        let parts: Vec<&str> = given.split('/').collect();
        if parts.len() > 3 || parts.iter().any(|part| part.is_empty()) {
            return Err(AddrError::Format {
                given: given.to_string(),
            });
        }
        let raw_type = parts[parts.len() - 1];
        let type_name = normalize_part(raw_type).map_err(|reason| AddrError::Type {
            given: given.to_string(),
            part: raw_type.to_string(),
            reason,
        })?;
        let namespace = match parts.len() {
            1 => DEFAULT_NAMESPACE.to_string(),
            _ => {
                let raw = parts[parts.len() - 2];
                if raw == "-" {
                    return Err(AddrError::Legacy {
                        given: given.to_string(),
                        type_name,
                    });
                }
                normalize_part(raw).map_err(|reason| AddrError::Namespace {
                    given: given.to_string(),
                    part: raw.to_string(),
                    reason,
                })?
            }
        };
        let hostname = match parts.len() {
            3 => normalize_hostname(parts[0]).map_err(|reason| AddrError::Hostname {
                given: given.to_string(),
                part: parts[0].to_string(),
                reason,
            })?,
            _ => DEFAULT_REGISTRY_HOST.to_string(),
        };
        let source = ProviderSource {
            hostname,
            namespace,
            type_name,
        };
        if let Some(suffix) = source.type_name.strip_prefix("terraform-") {
            if let Some(suggested) = suffix.strip_prefix("provider-") {
                if normalize_part(suggested).is_ok() {
                    let suggestion = ProviderSource {
                        type_name: suggested.to_string(),
                        ..source.clone()
                    };
                    return Err(AddrError::RepositoryPrefix {
                        given: given.to_string(),
                        suggestion: suggestion.for_display(),
                    });
                }
            }
            return Err(AddrError::RedundantPrefix {
                given: given.to_string(),
            });
        }
        Ok(source)
    }

    /// The address a provider's local name stands for when `required_providers` gives no
    /// `source`: `terraform` is the built-in provider, anything else is in the `hashicorp`
    /// namespace of the default registry.
    pub fn implied(local_name: &str) -> Result<ProviderSource, AddrError> {
        if local_name == "terraform" {
            return Ok(ProviderSource::builtin("terraform"));
        }
        let type_name = normalize_part(local_name).map_err(|reason| AddrError::Type {
            given: local_name.to_string(),
            part: local_name.to_string(),
            reason,
        })?;
        Ok(ProviderSource {
            hostname: DEFAULT_REGISTRY_HOST.to_string(),
            namespace: DEFAULT_NAMESPACE.to_string(),
            type_name,
        })
    }

    /// A provider built into Terraform, `terraform.io/builtin/TYPE`.
    pub fn builtin(type_name: &str) -> ProviderSource {
        ProviderSource {
            hostname: BUILTIN_HOST.to_string(),
            namespace: BUILTIN_NAMESPACE.to_string(),
            type_name: type_name.to_string(),
        }
    }

    /// Builds an address from parts that are each validated and normalised as
    /// [`ProviderSource::parse`] does.
    pub fn new(
        hostname: &str,
        namespace: &str,
        type_name: &str,
    ) -> Result<ProviderSource, AddrError> {
        ProviderSource::parse(&format!("{hostname}/{namespace}/{type_name}"))
    }

    /// Whether this is a provider built into Terraform: such a provider is never
    /// installed and never locked.
    pub fn is_builtin(&self) -> bool {
        self.hostname == BUILTIN_HOST && self.namespace == BUILTIN_NAMESPACE
    }

    /// The short form Terraform prints in messages: `NAMESPACE/TYPE` on the default
    /// registry, the full address elsewhere.
    pub fn for_display(&self) -> String {
        if self.hostname == DEFAULT_REGISTRY_HOST {
            format!("{}/{}", self.namespace, self.type_name)
        } else {
            self.to_string()
        }
    }
}

impl fmt::Display for ProviderSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.hostname, self.namespace, self.type_name)
    }
}

impl std::str::FromStr for ProviderSource {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderSource::parse(s)
    }
}

/// A pattern selecting providers, as the CLI configuration's `include` and `exclude`
/// write them: `NAMESPACE/TYPE` or `HOSTNAME/NAMESPACE/TYPE`, where `*` stands for any
/// hostname, namespace or type (`registry.terraform.io/hashicorp/*`, `*/*`, `*/*/*`).
/// `None` is a wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPattern {
    pub hostname: Option<String>,
    pub namespace: Option<String>,
    pub type_name: Option<String>,
}

/// Why an `include` or `exclude` pattern is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid provider matching pattern {given:?}: {reason}")]
pub struct InvalidPattern {
    pub given: String,
    pub reason: String,
}

impl ProviderPattern {
    /// Parses a pattern with Terraform's rules: two or three segments; a wildcard
    /// hostname needs wildcard namespace and type, a wildcard namespace a wildcard type.
    pub fn parse(given: &str) -> Result<ProviderPattern, InvalidPattern> {
        let invalid = |reason: String| InvalidPattern {
            given: given.to_string(),
            reason,
        };
        let parts: Vec<&str> = given.split('/').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(invalid(
                "must have either two or three slash-separated segments".to_string(),
            ));
        }
        let (hostname, namespace, type_name) = match parts.as_slice() {
            [namespace, type_name] => (
                Some(DEFAULT_REGISTRY_HOST.to_string()),
                *namespace,
                *type_name,
            ),
            [hostname, namespace, type_name] => {
                let hostname = if *hostname == "*" {
                    None
                } else {
                    Some(
                        normalize_hostname(hostname)
                            .map_err(|reason| invalid(format!("invalid hostname: {reason}")))?,
                    )
                };
                (hostname, *namespace, *type_name)
            }
            _ => unreachable!("checked above: two or three segments"),
        };
        let wildcard_or = |part: &str, what: &str| -> Result<Option<String>, InvalidPattern> {
            if part == "*" {
                return Ok(None);
            }
            normalize_part(part)
                .map(Some)
                .map_err(|reason| invalid(format!("invalid {what} {part:?}: must either be the wildcard * or a {what} name ({reason})")))
        };
        let type_name = wildcard_or(type_name, "provider type")?;
        let namespace = wildcard_or(namespace, "registry namespace")?;
        if hostname.is_none() && (namespace.is_some() || type_name.is_some()) {
            return Err(invalid(
                "hostname can be a wildcard only if both namespace and provider type are also wildcards".to_string(),
            ));
        }
        if namespace.is_none() && type_name.is_some() {
            return Err(invalid(
                "namespace can be a wildcard only if the provider type is also a wildcard"
                    .to_string(),
            ));
        }
        Ok(ProviderPattern {
            hostname,
            namespace,
            type_name,
        })
    }

    /// A pattern matching exactly one provider.
    pub fn exactly(source: &ProviderSource) -> ProviderPattern {
        ProviderPattern {
            hostname: Some(source.hostname.clone()),
            namespace: Some(source.namespace.clone()),
            type_name: Some(source.type_name.clone()),
        }
    }

    pub fn matches(&self, source: &ProviderSource) -> bool {
        let part =
            |pattern: &Option<String>, value: &str| pattern.as_deref().is_none_or(|p| p == value);
        part(&self.hostname, &source.hostname)
            && part(&self.namespace, &source.namespace)
            && part(&self.type_name, &source.type_name)
    }
}

impl fmt::Display for ProviderPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = |p: &Option<String>| p.clone().unwrap_or_else(|| "*".to_string());
        write!(
            f,
            "{}/{}/{}",
            part(&self.hostname),
            part(&self.namespace),
            part(&self.type_name)
        )
    }
}

/// Validates and normalises a namespace or type name as Terraform's `ParseProviderPart`
/// does: letters, digits and single dashes, no leading or trailing dash, no dots; the
/// result is lower case. The error is the reason, phrased to follow "invalid ...: ".
pub(crate) fn normalize_part(given: &str) -> Result<String, String> {
    if given.is_empty() {
        return Err("must have at least one character".to_string());
    }
    if given.contains('.') {
        return Err("dots are not allowed".to_string());
    }
    if given.contains("--") {
        return Err("cannot use multiple consecutive dashes".to_string());
    }
    let valid_chars = given.chars().all(|c| c.is_alphanumeric() || c == '-');
    if !valid_chars || given.starts_with('-') || given.ends_with('-') {
        return Err(
            "must contain only letters, digits, and dashes, and may not use leading or trailing dashes"
                .to_string(),
        );
    }
    Ok(given.to_lowercase())
}

/// Normalises a registry hostname as Terraform's `svchost.ForComparison` does: lower
/// case, each label letters, digits and dashes, an optional port with `:443` (the
/// default) dropped. Internationalised (non-ASCII) hostnames are refused: Terraform
/// converts them to punycode, which terrane does not implement.
pub(crate) fn normalize_hostname(given: &str) -> Result<String, String> {
    let (host, port) = match given.find(':') {
        Some(colon) => (&given[..colon], &given[colon + 1..]),
        None => (given, ""),
    };
    let port = if given.contains(':') {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            let lower = host.to_ascii_lowercase();
            if lower == "https" || lower == "http" {
                return Err(
                    "need just a hostname and optional port number, not a full URL".to_string(),
                );
            }
            return Err("port portion contains non-digit characters".to_string());
        }
        let number: u64 = port
            .parse()
            .map_err(|_| "port number is greater than 65535".to_string())?;
        match number {
            443 => String::new(),
            n if n > 65535 => return Err("port number is greater than 65535".to_string()),
            n => format!(":{n}"),
        }
    } else {
        String::new()
    };
    if host.is_empty() {
        return Err("empty string is not a valid hostname".to_string());
    }
    if !host.is_ascii() {
        return Err(
            "internationalized hostnames are not supported by terrane; write the hostname in its ASCII (punycode) form"
                .to_string(),
        );
    }
    let host = host.to_ascii_lowercase();
    for label in host.split('.') {
        if label.is_empty() {
            return Err("hostname contains empty label (two consecutive periods)".to_string());
        }
        if label.starts_with("xn--") {
            return Err(format!(
                "hostname label {label:?} specified in punycode format; service hostnames must be given in unicode"
            ));
        }
        let valid = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid || label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "hostname label {label:?} must contain only letters, digits and dashes, and may not start or end with a dash"
            ));
        }
    }
    Ok(format!("{host}{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> String {
        ProviderSource::parse(s).unwrap().to_string()
    }

    #[test]
    fn short_forms_expand_to_the_default_registry() {
        assert_eq!(parsed("aws"), "registry.terraform.io/hashicorp/aws");
        assert_eq!(parsed("example/x"), "registry.terraform.io/example/x");
        assert_eq!(parsed("example.com/ns/x"), "example.com/ns/x");
        assert_eq!(
            parsed("terraform"),
            "registry.terraform.io/hashicorp/terraform"
        );
    }

    #[test]
    fn parts_are_normalised_to_lower_case() {
        assert_eq!(
            parsed("Registry.Terraform.IO/HashiCorp/AWS"),
            "registry.terraform.io/hashicorp/aws"
        );
        assert_eq!(parsed("example.com:443/a/b"), "example.com/a/b");
        assert_eq!(parsed("example.com:8443/a/b"), "example.com:8443/a/b");
        assert_eq!(parsed("example.com:08443/a/b"), "example.com:8443/a/b");
    }

    #[test]
    fn display_forms() {
        let aws = ProviderSource::parse("aws").unwrap();
        assert_eq!(aws.for_display(), "hashicorp/aws");
        let other = ProviderSource::parse("example.com/ns/x").unwrap();
        assert_eq!(other.for_display(), "example.com/ns/x");
        assert_eq!(
            ProviderSource::builtin("terraform").to_string(),
            "terraform.io/builtin/terraform"
        );
    }

    #[test]
    fn implied_addresses() {
        assert!(ProviderSource::implied("terraform").unwrap().is_builtin());
        assert_eq!(
            ProviderSource::implied("random").unwrap().to_string(),
            "registry.terraform.io/hashicorp/random"
        );
        assert!(ProviderSource::parse("terraform.io/builtin/terraform")
            .unwrap()
            .is_builtin());
    }

    #[test]
    fn invalid_addresses_say_why() {
        let cases = [
            ("", "must be in the format"),
            ("a/b/c/d", "must be in the format"),
            ("a//b", "must be in the format"),
            ("a/b.c", "dots are not allowed"),
            ("a/b--c", "consecutive dashes"),
            ("a/-b", "leading or trailing dashes"),
            ("a/b_c", "only letters, digits, and dashes"),
            ("ns_x/b", "invalid provider namespace"),
            ("-/aws", "legacy namespace"),
            (
                "hashicorp/terraform-provider-aws",
                "Did you mean \"hashicorp/aws\"?",
            ),
            ("hashicorp/terraform-aws", "redundant"),
            ("exa..mple.com/a/b", "empty label"),
            ("example.com:x/a/b", "non-digit"),
            ("https:/a/b", "not a full URL"),
            ("xn--bcher-kva.example/a/b", "punycode"),
        ];
        for (given, wanted) in cases {
            let message = ProviderSource::parse(given).unwrap_err().to_string();
            assert!(message.contains(wanted), "{given:?}: {message}");
        }
    }

    #[test]
    fn patterns() {
        let source = ProviderSource::parse("hashicorp/aws").unwrap();
        let other = ProviderSource::parse("example.com/hashicorp/aws").unwrap();
        let matching = |p: &str| ProviderPattern::parse(p).unwrap().matches(&source);
        assert!(matching("hashicorp/aws"));
        assert!(matching("HashiCorp/*"));
        assert!(matching("registry.terraform.io/hashicorp/*"));
        assert!(matching("*/*"));
        assert!(matching("*/*/*"));
        assert!(!matching("example/*"));
        assert!(!ProviderPattern::parse("*/*").unwrap().matches(&other));
        assert!(ProviderPattern::parse("*/*/*").unwrap().matches(&other));
        assert!(ProviderPattern::parse("example.com/*/*")
            .unwrap()
            .matches(&other));
        for (bad, wanted) in [
            ("aws", "two or three"),
            ("a/b/c/d", "two or three"),
            ("*/aws", "namespace can be a wildcard only"),
            ("*/hashicorp/*", "hostname can be a wildcard only"),
            ("a/b.c", "provider type"),
        ] {
            let message = ProviderPattern::parse(bad).unwrap_err().to_string();
            assert!(message.contains(wanted), "{bad:?}: {message}");
        }
    }

    #[test]
    fn ordering_is_terraforms() {
        let mut sources: Vec<ProviderSource> = ["b/a", "a/z", "example.com/a/a", "a/b"]
            .iter()
            .map(|s| ProviderSource::parse(s).unwrap())
            .collect();
        sources.sort();
        let names: Vec<String> = sources.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "example.com/a/a",
                "registry.terraform.io/a/b",
                "registry.terraform.io/a/z",
                "registry.terraform.io/b/a"
            ]
        );
    }
}
