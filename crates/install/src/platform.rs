//! Target platforms, `OS_ARCH` in Go's names (`linux_amd64`, `darwin_arm64`), as provider
//! packages are built and laid out.

use std::fmt;

/// An operating system and CPU architecture in Go's spelling.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub os: String,
    pub arch: String,
}

/// A platform string that is not `OS_ARCH`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {given:?}: {reason}")]
pub struct InvalidPlatform {
    pub given: String,
    pub reason: &'static str,
}

impl Platform {
    /// The platform this program runs on, named as Go names it (`std::env::consts`
    /// spells several differently: `macos` is `darwin`, `x86_64` is `amd64`).
    pub fn current() -> Platform {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "loongarch64" => "loong64",
            "mips64" if cfg!(target_endian = "little") => "mips64le",
            "mips" if cfg!(target_endian = "little") => "mipsle",
            other => other,
        };
        Platform {
            os: os.to_string(),
            arch: arch.to_string(),
        }
    }

    /// Parses `OS_ARCH` as Terraform's `ParsePlatform` does: exactly two parts around one
    /// underscore, no whitespace.
    pub fn parse(given: &str) -> Result<Platform, InvalidPlatform> {
        let invalid = |reason| InvalidPlatform {
            given: given.to_string(),
            reason,
        };
        let parts: Vec<&str> = given.split('_').collect();
        if parts.len() != 2 {
            return Err(invalid("must be two words separated by an underscore"));
        }
        if parts[0].contains(char::is_whitespace) {
            return Err(invalid("OS portion must not contain whitespace"));
        }
        if parts[1].contains(char::is_whitespace) {
            return Err(invalid("architecture portion must not contain whitespace"));
        }
        Ok(Platform {
            os: parts[0].to_string(),
            arch: parts[1].to_string(),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.os, self.arch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_current() {
        assert_eq!(
            Platform::parse("linux_amd64").unwrap().to_string(),
            "linux_amd64"
        );
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux_amd64_v2").is_err());
        let current = Platform::current();
        assert!(!current.os.is_empty() && !current.arch.is_empty());
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!(current.to_string(), "linux_amd64");
        }
    }
}
