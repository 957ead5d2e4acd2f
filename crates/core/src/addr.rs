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

    /// The path of one instance of the module call `name` (`count`/`for_each` on the
    /// call): the segment is written with its key, `net[0]` or `net["a"]`.
    pub fn child_instance(&self, name: &str, key: &InstanceKey) -> ModulePath {
        self.child(&format!("{name}{key}"))
    }

    /// The configuration's path of a module instance path: the keys left out
    /// (`module.net["a"].module.sub[0]` is `module.net.module.sub`).
    pub fn config(&self) -> ModulePath {
        if !self.0.iter().any(|s| s.contains('[')) {
            return self.clone();
        }
        ModulePath(
            self.0
                .iter()
                .map(|s| s.split_once('[').map_or(s.as_str(), |(n, _)| n).to_string())
                .collect(),
        )
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
    /// Parses `module.a.type.name[key]`, where module calls may carry keys too
    /// (`module.net["a"].aws_subnet.x[0]`). A missing key yields [`InstanceKey::None`].
    pub fn parse(input: &str) -> Result<InstanceAddr, AddrError> {
        let err = |reason: &str| AddrError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let segments = split_segments(input)
            .ok_or_else(|| err("a key is not closed with ']' (or a quote is not closed)"))?;
        let mut parsed = Vec::with_capacity(segments.len());
        for seg in &segments {
            let (name, key) =
                match seg.find('[') {
                    Some(i) => {
                        let inner = &seg[i + 1..seg.len() - 1];
                        let key = if let Some(q) =
                            inner.strip_prefix('"').and_then(|s| s.strip_suffix('"'))
                        {
                            InstanceKey::Str(q.replace("\\\"", "\"").replace("\\\\", "\\"))
                        } else {
                            InstanceKey::Int(inner.parse().map_err(|_| {
                                err("an instance key is a number or a quoted string")
                            })?)
                        };
                        (&seg[..i], key)
                    }
                    None => (seg.as_str(), InstanceKey::None),
                };
            if name.is_empty() {
                return Err(err(
                    "expected TYPE.NAME, optionally prefixed by module.NAME. or data.",
                ));
            }
            parsed.push((name, key));
        }
        let mut module = Vec::new();
        let mut i = 0;
        while i + 1 < parsed.len() && parsed[i] == ("module", InstanceKey::None) {
            let (name, key) = &parsed[i + 1];
            module.push(format!("{name}{key}"));
            i += 2;
        }
        let rest = &parsed[i..];
        let (mode, rest) = match rest.first() {
            Some(("data", InstanceKey::None)) => (ResourceMode::Data, &rest[1..]),
            _ => (ResourceMode::Managed, rest),
        };
        let [(type_name, InstanceKey::None), (name, key)] = rest else {
            return Err(err(
                "expected TYPE.NAME, optionally prefixed by module.NAME. or data.",
            ));
        };
        Ok(InstanceAddr {
            resource: ResourceAddr {
                module: ModulePath(module),
                mode,
                type_name: type_name.to_string(),
                name: name.to_string(),
            },
            key: key.clone(),
        })
    }
}

/// Splits an address at the dots outside keys; `None` when a key or quote is not
/// closed, or text follows a key's `]` inside a segment.
fn split_segments(input: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut in_key, mut in_quote, mut escaped, mut closed) = (false, false, false, false);
    for c in input.chars() {
        if closed && c != '.' {
            return None;
        }
        match c {
            _ if in_quote => {
                cur.push(c);
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_quote = false,
                    _ => {}
                }
            }
            '"' if in_key => {
                in_quote = true;
                cur.push(c);
            }
            '[' if !in_key => {
                in_key = true;
                cur.push(c);
            }
            ']' if in_key => {
                in_key = false;
                closed = true;
                cur.push(c);
            }
            '.' if !in_key => {
                out.push(std::mem::take(&mut cur));
                closed = false;
            }
            _ => cur.push(c),
        }
    }
    if in_key || in_quote {
        return None;
    }
    out.push(cur);
    Some(out)
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
            "module.net[\"a.b\"].module.sub[0].terraform_data.x[\"k\"]",
            "module.net[2].data.local_file.cfg",
        ] {
            assert_eq!(InstanceAddr::parse(s).unwrap().to_string(), s);
        }
        assert!(InstanceAddr::parse("justone").is_err());
        assert!(InstanceAddr::parse("a.b[0").is_err());
        assert!(InstanceAddr::parse("a[0].b").is_err());
        assert!(InstanceAddr::parse("a.b[0]x").is_err());
        let a = InstanceAddr::parse("module.net[\"a.b\"].terraform_data.x").unwrap();
        assert_eq!(a.resource.module.0, vec!["net[\"a.b\"]".to_string()]);
        assert_eq!(a.resource.module.config().0, vec!["net".to_string()]);
        assert!(InstanceAddr::parse("a.b[x]").is_err());
    }
}
