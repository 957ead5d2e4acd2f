//! The policy input built directly in the engine's values must be exactly what
//! converting the printed JSON plan would give: policies see one document whichever
//! way it was built.

use terrane_core::{InstanceAddr, InstanceKey, ModulePath, ResourceAddr, ResourceMode, Value};
use terrane_engine::json::resource_change_doc;
use terrane_engine::{Action, ResourceChange};
use terrane_policy::rego::{self, RegoDoc};

fn change(module: &[&str], key: InstanceKey, action: Action) -> ResourceChange {
    let obj = |entries: Vec<(&str, Value)>| {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    };
    let before = obj(vec![
        ("id", Value::string("i-1")),
        ("password", Value::string("hunter2").into_sensitive()),
        ("port", Value::from(22.0)),
        ("ratio", Value::from(0.25)),
        ("offset", Value::from(-3.0)),
        ("big", Value::from(1e300)),
        ("on", Value::Bool(true)),
        ("none", Value::Null),
    ]);
    let after = obj(vec![
        ("id", Value::Unknown),
        ("password", Value::string("hunter3").into_sensitive()),
        (
            "tags",
            obj(vec![
                ("team", Value::string("core")),
                ("env", Value::Unknown),
            ]),
        ),
        (
            "rules",
            Value::List(vec![
                obj(vec![
                    ("cidr", Value::string("0.0.0.0/0")),
                    ("from", Value::from(0.0)),
                ]),
                obj(vec![("cidr", Value::Unknown)]),
            ]),
        ),
        (
            "names",
            Value::set(vec![Value::string("b"), Value::string("a")]),
        ),
        ("empty", Value::List(Vec::new())),
        (
            "secret_list",
            Value::List(vec![Value::string("x").into_sensitive()]),
        ),
    ]);
    ResourceChange {
        addr: InstanceAddr {
            resource: ResourceAddr {
                module: ModulePath(module.iter().map(|s| s.to_string()).collect()),
                mode: ResourceMode::Managed,
                type_name: "aws_instance".into(),
                name: "web".into(),
            },
            key,
        },
        provider: "provider.aws.west".into(),
        action,
        before: Some(before),
        after: (action != Action::Delete).then_some(after),
        replace_paths: vec!["ami".into()],
        reason: Some("replace_because_cannot_update".into()),
        dependencies: Vec::new(),
        create_before_destroy: false,
    }
}

#[test]
fn resource_changes_built_directly_equal_the_converted_json() {
    let cases = [
        change(&[], InstanceKey::None, Action::DeleteThenCreate),
        change(&["net", "inner"], InstanceKey::Int(3), Action::Update),
        change(&["net"], InstanceKey::Str("blue".into()), Action::Delete),
    ];
    for c in &cases {
        let json: serde_json::Value = resource_change_doc(c, &Default::default());
        let direct = resource_change_doc::<RegoDoc>(c, &Default::default()).0;
        assert_eq!(
            rego::input_value(json.clone()),
            direct,
            "direct build differs from {json:#}"
        );
        // And the sensitive value never reaches the policy input.
        assert!(!direct.to_string().contains("hunter"), "{direct}");
    }
}

/// Building only what a set can read of each change changes none of its verdicts, and
/// leaves out what it cannot read.
#[test]
fn changes_built_only_as_far_as_the_policies_read_give_the_same_verdicts() {
    use terrane_engine::json::resource_change_doc_projected;
    use terrane_policy::rego::{Enforcement, Evaluation, PolicyFile, PolicySet};
    let set = |src: &str| PolicySet {
        name: "p".into(),
        level: Enforcement::HardMandatory,
        files: vec![PolicyFile {
            path: "p.rego".into(),
            text: src.into(),
        }],
    };
    let reads_paths = set(r#"package p
import rego.v1
deny contains msg if {
    some rc in input.resource_changes
    "update" in rc.change.actions
    team_of(rc) == "core"
    some cidr in rc.change.after.rules
    msg := sprintf("%s %v %v", [rc.address, rc.change.before.port, cidr])
}
team_of(c) := c.change.after.tags.team
warn contains msg if {
    input.resource_changes[i].change.after_unknown.tags.env
    msg := sprintf("%d %v", [i, input.resource_changes[i].index])
}
"#);
    let reads_all = set(r#"package p
import rego.v1
deny contains msg if {
    some rc in input.resource_changes
    msg := json.marshal(rc)
}
"#);
    let cases = [
        change(&[], InstanceKey::None, Action::DeleteThenCreate),
        change(&["net", "inner"], InstanceKey::Int(3), Action::Update),
        change(&["net"], InstanceKey::Str("blue".into()), Action::Delete),
    ];
    for (s, all) in [(&reads_paths, false), (&reads_all, true)] {
        let projection = Evaluation::new(s).change_projection();
        assert_eq!(projection.is_all(), all, "{projection:?}");
        let verdicts = |docs: Vec<rego::Value>| {
            let input = rego::input_value(serde_json::json!({}));
            let mut input = input;
            input
                .as_object_mut()
                .unwrap()
                .insert("resource_changes".into(), rego::Value::from(docs));
            rego::evaluate(s, &input)
        };
        let full = verdicts(
            cases
                .iter()
                .map(|c| resource_change_doc::<RegoDoc>(c, &Default::default()).0)
                .collect(),
        );
        let projected_docs: Vec<rego::Value> = cases
            .iter()
            .map(|c| {
                resource_change_doc_projected::<RegoDoc>(c, &projection, &Default::default()).0
            })
            .collect();
        let text = projected_docs
            .iter()
            .map(|d| d.to_string())
            .collect::<String>();
        let projected = verdicts(projected_docs);
        assert!(full.errors.is_empty(), "{:?}", full.errors);
        assert!(!full.denials.is_empty());
        assert_eq!(projected.denials, full.denials);
        assert_eq!(projected.warnings, full.warnings);
        // What the paths do not name is not built.
        assert_eq!(text.contains("provider_name"), all, "{text}");
        assert_eq!(text.contains("after_sensitive"), all, "{text}");
        if !all {
            assert!(!full.warnings.is_empty());
            assert!(
                text.contains("\"index\"") && !text.contains("i-1"),
                "{text}"
            );
        }
    }
}
