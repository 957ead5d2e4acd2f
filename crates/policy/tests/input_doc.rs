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
        ("port", Value::Number(22.0)),
        ("ratio", Value::Number(0.25)),
        ("offset", Value::Number(-3.0)),
        ("big", Value::Number(1e300)),
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
                    ("from", Value::Number(0.0)),
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
        let json: serde_json::Value = resource_change_doc(c);
        let direct = resource_change_doc::<RegoDoc>(c).0;
        assert_eq!(
            rego::input_value(json.clone()),
            direct,
            "direct build differs from {json:#}"
        );
        // And the sensitive value never reaches the policy input.
        assert!(!direct.to_string().contains("hunter"), "{direct}");
    }
}
