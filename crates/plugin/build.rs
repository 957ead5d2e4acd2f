//! Generates the protocol's message types from `proto/tfplugin6.proto` with protox (a
//! protobuf compiler in Rust, so no `protoc` is needed) and prost.
//!
//! terrane speaks protocol 5 with the same types: every call it makes has a request and
//! a response whose fields carry the same numbers and types in both versions, so a
//! protocol 5 plugin reads a protocol 6 message as its own. This script proves it on
//! every build by comparing the two files' descriptors, and fails the build if a
//! future edit of either file breaks it. The one known difference is the schema's
//! attribute (protocol 6 put nested attribute types at field 10, where protocol 5 has
//! `write_only`): schemas from protocol 5 are read with protocol 5's own types and
//! converted (`schema::from_v5`).

use std::collections::BTreeMap;

use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};

/// The calls terrane makes, as (protocol 5 method, protocol 6 method).
const CALLS: &[(&str, &str)] = &[
    ("GetMetadata", "GetMetadata"),
    ("GetSchema", "GetProviderSchema"),
    ("PrepareProviderConfig", "ValidateProviderConfig"),
    ("ValidateResourceTypeConfig", "ValidateResourceConfig"),
    ("ValidateDataSourceConfig", "ValidateDataResourceConfig"),
    ("UpgradeResourceState", "UpgradeResourceState"),
    ("Configure", "ConfigureProvider"),
    ("ReadResource", "ReadResource"),
    ("PlanResourceChange", "PlanResourceChange"),
    ("ApplyResourceChange", "ApplyResourceChange"),
    ("ImportResourceState", "ImportResourceState"),
    ("MoveResourceState", "MoveResourceState"),
    ("ReadDataSource", "ReadDataSource"),
    ("GetFunctions", "GetFunctions"),
    ("CallFunction", "CallFunction"),
    ("Stop", "StopProvider"),
];

fn main() {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(
        [
            "tfplugin5.proto",
            "tfplugin6.proto",
            "grpc_controller.proto",
        ],
        ["proto"],
    )
    .unwrap_or_else(|e| panic!("compiling the protocol files: {e}"));
    check_protocol5_compatible(&fds);
    let mut config = prost_build::Config::new();
    // The .proto comments are not Rust documentation (some would run as doctests).
    config.disable_comments(["."]);
    config
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("generating the protocol types: {e}"));
}

/// Every message by its full name (`.tfplugin6.Schema.Block`).
fn messages(fds: &FileDescriptorSet) -> BTreeMap<String, DescriptorProto> {
    fn walk(prefix: &str, m: &DescriptorProto, out: &mut BTreeMap<String, DescriptorProto>) {
        let name = format!("{prefix}.{}", m.name());
        for n in &m.nested_type {
            walk(&name, n, out);
        }
        out.insert(name, m.clone());
    }
    let mut out = BTreeMap::new();
    for f in &fds.file {
        for m in &f.message_type {
            walk(&format!(".{}", f.package()), m, &mut out);
        }
    }
    out
}

fn method_types(fds: &FileDescriptorSet, package: &str, method: &str) -> (String, String) {
    for f in fds.file.iter().filter(|f| f.package() == package) {
        for s in f.service.iter().filter(|s| s.name() == "Provider") {
            if let Some(m) = s.method.iter().find(|m| m.name() == method) {
                return (m.input_type().to_string(), m.output_type().to_string());
            }
        }
    }
    panic!("{package}.Provider has no method {method}");
}

fn check_protocol5_compatible(fds: &FileDescriptorSet) {
    let all = messages(fds);
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    for (v5, v6) in CALLS {
        let (in5, out5) = method_types(fds, "tfplugin5", v5);
        let (in6, out6) = method_types(fds, "tfplugin6", v6);
        compare(&all, &in5, &in6, &mut seen, &mut problems);
        compare(&all, &out5, &out6, &mut seen, &mut problems);
    }
    if !problems.is_empty() {
        panic!(
            "protocol 5 and 6 messages differ on the wire, so one set of types cannot serve both:\n  {}",
            problems.join("\n  ")
        );
    }
}

/// Fields both messages have (by number) must agree in type and cardinality; fields
/// only one side has are skipped by the other side's decoder.
fn compare(
    all: &BTreeMap<String, DescriptorProto>,
    v5: &str,
    v6: &str,
    seen: &mut BTreeMap<String, ()>,
    problems: &mut Vec<String>,
) {
    if seen.insert(format!("{v5}={v6}"), ()).is_some() {
        return;
    }
    let (Some(a), Some(b)) = (all.get(v5), all.get(v6)) else {
        if v5.starts_with(".google.") && v5 == v6 {
            return;
        }
        problems.push(format!("{v5} or {v6} is not defined"));
        return;
    };
    if v5 == ".tfplugin5.Schema.Attribute" {
        return;
    }
    for fa in &a.field {
        let Some(fb) = b.field.iter().find(|f| f.number() == fa.number()) else {
            continue;
        };
        if fa.r#type() != fb.r#type() || fa.label() != fb.label() {
            problems.push(format!(
                "{v5}.{} and {v6}.{} (field {})",
                fa.name(),
                fb.name(),
                fa.number()
            ));
            continue;
        }
        if fa.r#type() == Type::Message {
            compare(all, fa.type_name(), fb.type_name(), seen, problems);
        }
    }
}
