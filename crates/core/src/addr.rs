//! Addresses of modules, resources and resource instances, written and parsed in
//! Terraform's syntax: `module.net.aws_subnet.private["a"]`, `data.local_file.x`,
//! `null_resource.n[3]`.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ModulePath(pub Vec<String>);

impl ModulePath {
    pub fn root() -> ModulePath {
        ModulePath(Vec::new())
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn child(&self, name: &str) -> ModulePath {
        let mut v = self.0.clone();
        v.push(name.to_string());
        ModulePath(v)
    }

    pub fn parent(&self) -> Option<ModulePath> {
        let mut v = self.0.clone();
        v.pop().map(|_| ModulePath(v))
    }
}

impl fmt::Display for ModulePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "module.{m}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceMode {
    Managed,
    Data,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceAddr {
    pub module: ModulePath,
    pub mode: ResourceMode,
    pub type_name: String,
    pub name: String,
}

impl ResourceAddr {
    pub fn managed(module: ModulePath, type_name: &str, name: &str) -> ResourceAddr {
        ResourceAddr {
            module,
            mode: ResourceMode::Managed,
            type_name: type_name.to_string(),
            name: name.to_string(),
        }
    }

    pub fn instance(&self, key: InstanceKey) -> InstanceAddr {
        InstanceAddr {
            resource: self.clone(),
            key,
        }
    }

    /// The address within its module, without the module prefix (`aws_vpc.main`).
    pub fn local_name(&self) -> String {
        match self.mode {
            ResourceMode::Managed => format!("{}.{}", self.type_name, self.name),
            ResourceMode::Data => format!("data.{}.{}", self.type_name, self.name),
        }
    }
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.module.is_root() {
            write!(f, "{}.", self.module)?;
        }
        f.write_str(&self.local_name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InstanceKey {
    None,
    Int(i64),
    Str(String),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::None => Ok(()),
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{s:?}]"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceAddr {
    pub resource: ResourceAddr,
    pub key: InstanceKey,
}

impl fmt::Display for InstanceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.resource, self.key)
    }
}

/// An error in an address typed by the user.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid address {input:?}: {reason}")]
pub struct AddrError {
    pub input: String,
    pub reason: String,
}

impl InstanceAddr {
    /// Parses `module.a.type.name[key]`. A missing key yields [`InstanceKey::None`].
    pub fn parse(input: &str) -> Result<InstanceAddr, AddrError> {
        let err = |reason: &str| AddrError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let (path, key) = match input.find('[') {
            Some(i) => {
                let rest = &input[i..];
                if !rest.ends_with(']') {
                    return Err(err("an instance key must end with ']'"));
                }
                let inner = &rest[1..rest.len() - 1];
                let key = if let Some(s) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"'))
                {
                    InstanceKey::Str(s.to_string())
                } else {
                    InstanceKey::Int(
                        inner
                            .parse()
                            .map_err(|_| err("an instance key is a number or a quoted string"))?,
                    )
                };
                (&input[..i], key)
            }
            None => (input, InstanceKey::None),
        };
        let parts: Vec<&str> = path.split('.').collect();
        let mut module = Vec::new();
        let mut i = 0;
        while i + 1 < parts.len() && parts[i] == "module" {
            module.push(parts[i + 1].to_string());
            i += 2;
        }
        let rest = &parts[i..];
        let (mode, rest) = match rest.first() {
            Some(&"data") => (ResourceMode::Data, &rest[1..]),
            _ => (ResourceMode::Managed, rest),
        };
        if rest.len() != 2 || rest.iter().any(|p| p.is_empty()) {
            return Err(err(
                "expected TYPE.NAME, optionally prefixed by module.NAME. or data.",
            ));
        }
        Ok(InstanceAddr {
            resource: ResourceAddr {
                module: ModulePath(module),
                mode,
                type_name: rest[0].to_string(),
                name: rest[1].to_string(),
            },
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for s in [
            "null_resource.a",
            "null_resource.a[3]",
            "module.net.module.sub.local_file.f[\"x.y\"]",
            "data.local_file.cfg",
        ] {
            assert_eq!(InstanceAddr::parse(s).unwrap().to_string(), s);
        }
        assert!(InstanceAddr::parse("justone").is_err());
        assert!(InstanceAddr::parse("a.b[x]").is_err());
    }
}
