//! Tidy check: providers stand on the provider interface alone.
//!
//! A provider crate (every package under `providers/`, and `terrane-plugin`, which
//! serves plugins as providers) depends on `terrane-provider`,
//! `terrane-core` and small libraries. Its dependency closure (normal and build
//! dependencies, with the features the provider itself turns on, as `cargo build -p
//! PROVIDER` resolves them) must not reach the engine, state storage, the agent's
//! runtime, an HTTP server, a DNS server or a database client. The closure is computed
//! from `cargo metadata`, so the test needs no build of the providers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

/// Packages no provider may build.
const BANNED: [&str; 9] = [
    "terrane-engine",
    "terrane-state",
    "terrane-agent",
    "axum",
    "hickory-server",
    "rusqlite",
    "libsqlite3-sys",
    "tokio-postgres",
    "postgres",
];

/// Features no provider may turn on, by package: hyper's server side.
const BANNED_FEATURES: [(&str, &str); 1] = [("hyper", "server")];

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The workspace's packages and resolve graph, indexed by package ID.
struct Graph<'m> {
    packages: BTreeMap<&'m str, &'m Value>,
    nodes: BTreeMap<&'m str, &'m Value>,
}

/// What one package of a closure is built with.
#[derive(Default)]
struct Built {
    features: BTreeSet<String>,
    /// Optional dependencies turned on, by their name in the manifest.
    optional: BTreeSet<String>,
    /// Features asked of a dependency through `dep/feature` and `dep?/feature`.
    asked: BTreeMap<String, BTreeSet<String>>,
}

impl<'m> Graph<'m> {
    fn new(meta: &'m Value) -> Graph<'m> {
        let packages = items(meta, "packages")
            .iter()
            .map(|p| (str_of(p, "id"), p))
            .collect();
        let nodes = meta
            .get("resolve")
            .map(|r| items(r, "nodes"))
            .unwrap_or_default()
            .iter()
            .map(|n| (str_of(n, "id"), n))
            .collect();
        Graph { packages, nodes }
    }

    fn name(&self, id: &str) -> &'m str {
        self.packages
            .get(id)
            .map(|p| str_of(p, "name"))
            .unwrap_or("?")
    }

    /// The package a dependency entry of `id`'s manifest resolved to, if it is built.
    fn target(&self, id: &str, dep: &Value) -> Option<&'m str> {
        let name = str_of(dep, "name");
        let extern_name = dep
            .get("rename")
            .and_then(Value::as_str)
            .map(|r| r.replace('-', "_"));
        items(self.nodes.get(id)?, "deps")
            .iter()
            .filter(|d| self.name(str_of(d, "pkg")) == name)
            .filter(|d| {
                extern_name
                    .as_deref()
                    .is_none_or(|e| str_of(d, "name") == e)
            })
            .find(|d| {
                items(d, "dep_kinds")
                    .iter()
                    .any(|k| k.get("kind").and_then(Value::as_str) != Some("dev"))
            })
            .map(|d| str_of(d, "pkg"))
    }

    /// Every package `root` builds (normal and build dependencies) with the features it
    /// turns on: a fixed point of cargo's feature rules, for this one root.
    fn closure(&self, root: &'m str) -> BTreeMap<&'m str, Built> {
        let mut built: BTreeMap<&'m str, Built> = BTreeMap::new();
        built
            .entry(root)
            .or_default()
            .features
            .insert("default".into());
        loop {
            let before = size(&built);
            let ids: Vec<&'m str> = built.keys().copied().collect();
            for id in ids {
                let Some(pkg) = self.packages.get(id) else {
                    continue;
                };
                let table = pkg.get("features");
                let deps = items(pkg, "dependencies");
                let toml_name = |d: &'m Value| -> &'m str {
                    d.get("rename")
                        .and_then(Value::as_str)
                        .unwrap_or_else(|| str_of(d, "name"))
                };
                // Features of this package turn on its own features and its dependencies'.
                let mut b = std::mem::take(built.get_mut(id).expect("listed"));
                for f in b.features.clone() {
                    let entries = table.and_then(|t| t.get(&f)).map(|e| items_of(e));
                    for e in entries.unwrap_or_default() {
                        if let Some(dep) = e.strip_prefix("dep:") {
                            b.optional.insert(dep.to_string());
                        } else if let Some((dep, feature)) = e.split_once('/') {
                            let (dep, weak) = match dep.strip_suffix('?') {
                                Some(d) => (d, true),
                                None => (dep, false),
                            };
                            if !weak {
                                b.optional.insert(dep.to_string());
                            }
                            b.asked
                                .entry(dep.to_string())
                                .or_default()
                                .insert(feature.to_string());
                        } else {
                            b.features.insert(e.to_string());
                        }
                    }
                }
                let mut turned_on: Vec<(&'m str, Vec<String>)> = Vec::new();
                for d in deps {
                    if d.get("kind").and_then(Value::as_str) == Some("dev") {
                        continue;
                    }
                    let name = toml_name(d);
                    let optional = d.get("optional").and_then(Value::as_bool) == Some(true);
                    if optional && !b.optional.contains(name) {
                        continue;
                    }
                    let Some(target) = self.target(id, d) else {
                        continue;
                    };
                    let mut features: Vec<String> = items(d, "features")
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect();
                    if d.get("uses_default_features").and_then(Value::as_bool) != Some(false) {
                        features.push("default".into());
                    }
                    features.extend(b.asked.get(name).into_iter().flatten().cloned());
                    turned_on.push((target, features));
                }
                built.insert(id, b);
                for (target, features) in turned_on {
                    let t = built.entry(target).or_default();
                    let has = |f: &str| {
                        f != "default"
                            || self.packages[target]
                                .get("features")
                                .is_some_and(|t| t.get("default").is_some())
                    };
                    t.features
                        .extend(features.into_iter().filter(|f| has(f.as_str())));
                }
            }
            if size(&built) == before {
                return built;
            }
        }
    }
}

/// Grows whenever a fixed-point pass turns anything more on.
fn size(built: &BTreeMap<&str, Built>) -> usize {
    built.len()
        + built
            .values()
            .map(|b| {
                b.features.len()
                    + b.optional.len()
                    + b.asked.values().map(BTreeSet::len).sum::<usize>()
            })
            .sum::<usize>()
}

fn items_of(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// What a package under `providers/` builds that it must not, one line per problem.
fn violations(meta: &Value) -> BTreeMap<String, Vec<String>> {
    let graph = Graph::new(meta);
    let root = Path::new(str_of(meta, "workspace_root"));
    let mut out = BTreeMap::new();
    for id in items(meta, "workspace_members")
        .iter()
        .filter_map(Value::as_str)
    {
        let Some(pkg) = graph.packages.get(id) else {
            continue;
        };
        let manifest = Path::new(str_of(pkg, "manifest_path"));
        if !manifest.starts_with(root.join("providers")) && str_of(pkg, "name") != "terrane-plugin"
        {
            continue;
        }
        let mut problems = Vec::new();
        for (dep, built) in graph.closure(id) {
            let name = graph.name(dep);
            if BANNED.contains(&name) {
                problems.push(format!("builds {name}"));
            }
            for (pkg, feature) in BANNED_FEATURES {
                if name == pkg && built.features.contains(feature) {
                    problems.push(format!("builds {name} with its {feature:?} feature"));
                }
            }
        }
        if !problems.is_empty() {
            out.insert(str_of(pkg, "name").to_string(), problems);
        }
    }
    out
}

#[test]
fn providers_depend_on_the_provider_interface_alone() {
    let meta = metadata();
    let providers = items(&meta, "packages")
        .iter()
        .filter(|p| {
            Path::new(str_of(p, "manifest_path"))
                .starts_with(Path::new(str_of(&meta, "workspace_root")).join("providers"))
        })
        .count();
    assert!(providers > 0, "found no package under providers/");
    let problems = violations(&meta);
    assert!(
        problems.is_empty(),
        "A provider depends on terrane-provider, terrane-core and small libraries only \
         (ARCHITECTURE.md, crates/provider); these reach further:\n{}",
        problems
            .iter()
            .map(|(p, v)| format!("  {p}: {}", v.join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The check itself sees through the graph: the agent's runtime reaches an HTTP server
/// and SQLite, and a crate that asks hyper for its server is caught.
#[test]
fn the_check_finds_what_it_bans() {
    let meta = metadata();
    let graph = Graph::new(&meta);
    let id = |name: &str| {
        items(&meta, "packages")
            .iter()
            .find(|p| str_of(p, "name") == name)
            .map(|p| str_of(p, "id"))
            .expect("package in the workspace")
    };
    let agent = graph.closure(id("terrane-agent"));
    let names: BTreeSet<&str> = agent.keys().map(|k| graph.name(k)).collect();
    assert!(names.contains("axum") && names.contains("hickory-server"));
    let hyper = agent
        .iter()
        .find(|(k, _)| graph.name(k) == "hyper")
        .map(|(_, b)| &b.features)
        .expect("the agent builds hyper");
    assert!(hyper.contains("server"), "{hyper:?}");
    // The provider interface itself builds no HTTP stack at all.
    let provider = graph.closure(id("terrane-provider"));
    assert!(!provider.keys().any(|k| graph.name(k) == "hyper"));
}
