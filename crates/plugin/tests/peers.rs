//! The plugin client against real provider plugins (see `.ci/run`, which installs
//! them and names their directory in `TERRANE_PLUGIN_PEERS`).

use std::path::PathBuf;

use terrane_core::Value;
use terrane_plugin::{Launch, PluginFactory};
use terrane_provider::ProviderFactory;

fn peer(name: &str) -> PathBuf {
    let dir = std::env::var_os("TERRANE_PLUGIN_PEERS").expect(
        "TERRANE_PLUGIN_PEERS must name the directory of the test plugins: `bash .ci/run` installs them (scripts/plugin-peers) and sets it",
    );
    let p = PathBuf::from(dir).join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/plugin-peers",
        p.display()
    );
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyvider_schema_and_file_lifecycle() {
    let launch = Launch::new(peer("terraform-provider-pyvider"), "pyvider");
    let f = PluginFactory::start("pyvider", launch)
        .await
        .expect("start");
    let s = f.schema();
    eprintln!("resources: {:?}", s.resources.keys().collect::<Vec<_>>());
    eprintln!("data: {:?}", s.data_sources.keys().collect::<Vec<_>>());
    eprintln!(
        "functions: {:?}",
        f.plugin_schema().functions.keys().collect::<Vec<_>>()
    );
    let schema = s
        .resources
        .get("pyvider_file_content")
        .expect("type")
        .clone();
    eprintln!("{schema:#?}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hello.txt");
    let p = f.configure(&Value::map([("x", Value::Null)])).unwrap();
    let config = Value::map([
        ("filename", Value::from(path.to_str().unwrap())),
        ("content", Value::from("hello")),
    ]);
    let plan = p
        .plan("pyvider_file_content", None, &[], &config, &schema)
        .await
        .expect("plan");
    eprintln!("planned {:?}", plan.planned);
    let state = p
        .apply(
            "pyvider_file_content",
            None,
            plan.planned,
            &config,
            &plan.private,
        )
        .await
        .expect("apply");
    eprintln!("state {state:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello");
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workato_schema_over_mutual_tls_with_p521() {
    let launch = Launch::new(peer("terraform-provider-workato"), "workato");
    let f = PluginFactory::start("workato", launch)
        .await
        .expect("start");
    assert!(
        f.schema().resources.len() > 3,
        "{:?}",
        f.schema().resources.keys()
    );
    eprintln!(
        "resources: {:?}",
        f.schema().resources.keys().collect::<Vec<_>>()
    );
    eprintln!(
        "functions: {:?}",
        f.plugin_schema().functions.keys().collect::<Vec<_>>()
    );
    f.shutdown().await;
}

/// The `tf` framework's example provider (PyPI `tf` 1.2.0): always TLS, with an RSA-1024
/// server certificate, which terrane accepts for the pinned certificate only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tf_with_an_rsa_1024_certificate_plans_and_applies() {
    let launch = Launch::new(peer("terraform-provider-tf"), "test");
    let f = PluginFactory::start("test", launch)
        .await
        .expect("start the tf plugin (RSA-1024 server certificate)");
    assert_eq!(f.protocol(), 6);
    let schema = f
        .schema()
        .resources
        .get("test_math")
        .unwrap_or_else(|| panic!("no test_math in {:?}", f.schema().resources.keys()))
        .clone();
    assert!(schema.attributes["b"].required);
    assert!(f.schema().data_sources.contains_key("test_favorite_number"));
    // A provider function, on its own unconfigured process.
    let sum = f
        .call_function("example_add", vec![Value::from(2i64), Value::from(40i64)])
        .expect("the plugin has example_add")
        .expect("call example_add");
    assert_eq!(sum, Value::from(42i64));
    let p = f
        .configure(&Value::map([("provider1", Value::Null)]))
        .unwrap();
    let config = Value::map([
        ("a", Value::from(2i64)),
        ("b", Value::from(3i64)),
        ("sum", Value::Null),
        ("product", Value::Null),
    ]);
    let plan = p
        .plan("test_math", None, &[], &config, &schema)
        .await
        .expect("plan");
    let state = p
        .apply("test_math", None, plan.planned, &config, &plan.private)
        .await
        .expect("apply")
        .value;
    assert_eq!(state.get("sum"), Some(&Value::from(5i64)), "{state:?}");
    assert_eq!(state.get("product"), Some(&Value::from(6i64)), "{state:?}");
    let data = p
        .read_data(
            "test_favorite_number",
            Value::map([("number", Value::Null)]),
        )
        .await
        .expect("read the data source");
    assert_eq!(data.get("number"), Some(&Value::from(42i64)));
    f.shutdown().await;
}

/// PyPI `tfprovider` 0.1.1.post1 (a provider defined by the launcher): TCP on 127.0.0.1,
/// TLS with RSA-2048.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tfprovider_over_tcp_plans_and_applies() {
    let launch = Launch::new(peer("terraform-provider-tfprovider"), "tfprovider");
    let f = PluginFactory::start("tfprovider", launch)
        .await
        .expect("start the tfprovider plugin (TCP)");
    assert_eq!(f.protocol(), 6);
    let schema = f
        .schema()
        .resources
        .get("tfprovider_greeting")
        .unwrap_or_else(|| panic!("no greeting in {:?}", f.schema().resources.keys()))
        .clone();
    assert!(schema.attributes["greeting"].computed);
    let p = f
        .configure(&Value::map([("prefix", Value::from("hi"))]))
        .unwrap();
    let config = Value::map([("name", Value::from("terrane")), ("greeting", Value::Null)]);
    let plan = p
        .plan("tfprovider_greeting", None, &[], &config, &schema)
        .await
        .expect("plan");
    assert_eq!(
        plan.planned.get("greeting"),
        Some(&Value::from("hi, terrane"))
    );
    let state = p
        .apply(
            "tfprovider_greeting",
            None,
            plan.planned,
            &config,
            &plan.private,
        )
        .await
        .expect("apply")
        .value;
    assert_eq!(state.get("greeting"), Some(&Value::from("hi, terrane")));
    f.shutdown().await;
}

// --- terrane's own protocol 5 plugin (crates/plugin/tests/proto5) ---

/// A launch of the protocol 5 test plugin with `env` (its fault injection) and a log
/// of what it did in `log`.
fn proto5(log: &std::path::Path, env: &[(&str, &str)]) -> Launch {
    let exe = peer("terraform-provider-proto5");
    // scripts/plugin-peers runs a copy of the source: it must be this one.
    let source = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/proto5/terraform-provider-proto5"
    );
    let installed = exe
        .parent()
        .unwrap()
        .join("../proto5/terraform-provider-proto5");
    assert!(
        std::fs::read(source).unwrap() == std::fs::read(&installed).unwrap_or_default(),
        "{} differs from {source}: run scripts/plugin-peers",
        installed.display()
    );
    let mut launch = Launch::new(exe, "proto5");
    launch.env.push(("PROTO5_LOG".into(), log.into()));
    for (k, v) in env {
        launch.env.push(((*k).into(), (*v).into()));
    }
    launch
}

fn item(name: &str, value: Option<&str>) -> Value {
    Value::map([
        ("id", Value::Null),
        ("name", Value::from(name)),
        ("value", value.map_or(Value::Null, Value::from)),
        ("secret", Value::Null),
        ("tag", Value::Map(Default::default())),
    ])
}

fn stored(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("items.json")).unwrap_or_else(|_| "{}".into());
    serde_json::from_str(&text).expect("items.json")
}

/// Every call of protocol 5, over mutual TLS: the schema (with a write-only attribute,
/// the field protocols 5 and 6 number alike but type differently), configure, create,
/// read, update, replacement, import, a data source, a function, delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proto5_plugin_lifecycle() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("plugin.log");
    let f = PluginFactory::start("proto5", proto5(&log, &[]))
        .await
        .expect("start");
    assert_eq!(f.protocol(), 5);
    let schema = f.schema().resources["proto5_item"].clone();
    assert!(schema.attributes["name"].required);
    assert!(schema.attributes["id"].computed);
    assert_eq!(schema.attributes["secret"].ty, terrane_core::Type::String);
    let raw = &f.plugin_schema().raw.resource_schemas["proto5_item"];
    let secret = raw
        .block
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .find(|a| a.name == "secret")
        .unwrap();
    assert!(secret.write_only && secret.sensitive && secret.nested_type.is_none());
    assert_eq!(raw.version, 1);
    assert!(f.schema().data_sources.contains_key("proto5_item"));
    assert_eq!(
        f.call_function("shout", vec![Value::from("hey")])
            .expect("a function")
            .expect("call shout"),
        Value::from("HEY!")
    );

    let dir = tmp.path().join("items");
    let p = f
        .configure(&Value::map([("dir", Value::from(dir.to_str().unwrap()))]))
        .unwrap();
    // Create.
    let config = item("a", Some("one"));
    let plan = p
        .plan("proto5_item", None, &[], &config, &schema)
        .await
        .expect("plan");
    assert_eq!(plan.planned.get("id"), Some(&Value::Unknown));
    assert_eq!(plan.private, b"proto5-private");
    let state = p
        .apply("proto5_item", None, plan.planned, &config, &plan.private)
        .await
        .expect("create")
        .value;
    let id = state.get("id").and_then(Value::as_str).unwrap().to_string();
    assert_eq!(stored(&dir)[&id]["value"], "one");
    // Read.
    let read = p.read("proto5_item", state.clone()).await.expect("read");
    assert_eq!(read.as_ref(), Some(&state));
    // Update in place.
    let config = item("a", Some("two"));
    let plan = p
        .plan("proto5_item", Some(&state), &[], &config, &schema)
        .await
        .expect("plan an update");
    assert!(plan.requires_replace.is_empty());
    assert_eq!(plan.planned.get("id"), Some(&Value::from(id.as_str())));
    let state = p
        .apply(
            "proto5_item",
            Some(state),
            plan.planned,
            &config,
            &plan.private,
        )
        .await
        .expect("update")
        .value;
    assert_eq!(stored(&dir)[&id]["value"], "two");
    // A new name forces replacement: planned as a create.
    let plan = p
        .plan(
            "proto5_item",
            Some(&state),
            &[],
            &item("b", Some("two")),
            &schema,
        )
        .await
        .expect("plan a replacement");
    assert_eq!(plan.requires_replace, vec!["name".to_string()]);
    assert_eq!(plan.planned.get("id"), Some(&Value::Unknown));
    // Import, then the data source.
    let imported = p.import("proto5_item", &id).await.expect("import");
    assert_eq!(imported.get("name"), Some(&Value::from("a")));
    assert_eq!(imported.get("value"), Some(&Value::from("two")));
    let missing = p.import("proto5_item", "nope").await.unwrap_err();
    assert!(
        missing.message.contains("no item has the id"),
        "{missing:?}"
    );
    let data = p
        .read_data(
            "proto5_item",
            Value::map([
                ("name", Value::from("a")),
                ("id", Value::Null),
                ("value", Value::Null),
            ]),
        )
        .await
        .expect("data source");
    assert_eq!(data.get("id"), Some(&Value::from(id.as_str())));
    // Validation errors carry their attribute.
    let bad = p
        .plan("proto5_item", None, &[], &item("", None), &schema)
        .await
        .unwrap_err();
    assert!(
        bad.message.contains("name must not be empty (at name)"),
        "{bad:?}"
    );
    assert_eq!(
        bad.diagnostics,
        vec![terrane_provider::ErrorDetail {
            summary: "Invalid name".into(),
            detail: "name must not be empty".into(),
            path: vec![terrane_core::PathStep::Attr("name".into())],
        }]
    );
    // An object of another type moved into proto5_item (a `moved` block across types).
    let note = Value::map([
        ("ident", Value::from("n1")),
        ("title", Value::from("old")),
        ("body", Value::from("text")),
    ]);
    let moved = p
        .move_state(
            terrane_provider::MoveSource {
                provider: "registry.terraform.io/terrane/proto5",
                type_name: "proto5_note",
                schema_version: 3,
                state: &note,
                private: b"p",
            },
            "proto5_item",
        )
        .await
        .expect("move");
    assert_eq!(
        moved.value,
        Value::map([
            ("id", Value::from("n1")),
            ("name", Value::from("old")),
            ("value", Value::from("text")),
            ("secret", Value::Null),
            ("tag", Value::Map(Default::default())),
        ])
    );
    assert_eq!(moved.private, b"moved:p");
    let refused = p
        .move_state(
            terrane_provider::MoveSource {
                provider: "registry.terraform.io/terrane/proto5",
                type_name: "proto5_other",
                schema_version: 0,
                state: &note,
                private: &[],
            },
            "proto5_item",
        )
        .await
        .unwrap_err();
    assert!(
        refused.message.contains("cannot move proto5_other"),
        "{refused:?}"
    );
    // Delete.
    p.delete("proto5_item", state).await.expect("delete");
    assert_eq!(stored(&dir), serde_json::json!({}));
    f.shutdown().await;
    let log = std::fs::read_to_string(&log).unwrap();
    for call in [
        // terrane's client certificate (P-384) is verified: mutual TLS in earnest.
        "client certificate required=True",
        "call GetSchema",
        "call Configure",
        "call ValidateResourceTypeConfig",
        "call PlanResourceChange",
        "call ApplyResourceChange",
        "call ReadResource",
        "call ImportResourceState",
        "call PrepareProviderConfig",
        "call ValidateDataSourceConfig",
        "call ReadDataSource",
        "call MoveResourceState",
        "call CallFunction",
        "call Shutdown",
        "exit shutdown",
    ] {
        assert!(
            log.contains(call),
            "no {call:?} in the plugin's log:\n{log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proto5_plugin_with_a_garbled_handshake() {
    let tmp = tempfile::tempdir().unwrap();
    let e = PluginFactory::start(
        "proto5",
        proto5(&tmp.path().join("log"), &[("PROTO5_GARBLE", "1")]),
    )
    .await
    .err()
    .expect("a garbled handshake fails")
    .to_string();
    assert!(e.contains("sent a bad handshake"), "{e}");
    assert!(e.contains("unsupported network \"carrier-pigeon\""), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proto5_plugin_that_exits_before_its_handshake() {
    let tmp = tempfile::tempdir().unwrap();
    let e = PluginFactory::start(
        "proto5",
        proto5(&tmp.path().join("log"), &[("PROTO5_EXIT_EARLY", "1")]),
    )
    .await
    .err()
    .expect("an early exit fails")
    .to_string();
    assert!(
        e.contains("exited (exit status: 3) before its handshake"),
        "{e}"
    );
    assert!(e.contains("cannot open the provider's database"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proto5_plugin_that_dies_during_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let f = PluginFactory::start(
        "proto5",
        proto5(&tmp.path().join("log"), &[("PROTO5_DIE_ON_APPLY", "2")]),
    )
    .await
    .expect("start");
    let schema = f.schema().resources["proto5_item"].clone();
    let dir = tmp.path().join("items");
    let p = f
        .configure(&Value::map([("dir", Value::from(dir.to_str().unwrap()))]))
        .unwrap();
    let mut errors = Vec::new();
    for name in ["a", "b"] {
        let config = item(name, None);
        let plan = p
            .plan("proto5_item", None, &[], &config, &schema)
            .await
            .expect("plan");
        if let Err(e) = p
            .apply("proto5_item", None, plan.planned, &config, &plan.private)
            .await
        {
            errors.push(e.message);
        }
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert!(e.contains("failed the call ApplyResourceChange"), "{e}");
    assert!(
        e.contains("The plugin process has exited (exit status: 7)"),
        "{e}"
    );
    assert!(e.contains("dying during ApplyResourceChange #2"), "{e}");
    assert_eq!(stored(&dir).as_object().unwrap().len(), 1);
    f.shutdown().await;
}

/// A plugin that hangs in a call and ignores StopProvider is killed once the stop grace
/// has passed; the call fails saying so, and the socket file is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proto5_plugin_that_hangs_is_killed_after_stop() {
    use terrane_provider::Provider;
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let mut launch = proto5(&log, &[("PROTO5_HANG", "ApplyResourceChange")]);
    launch.stop_grace = std::time::Duration::from_secs(1);
    let f = PluginFactory::start("proto5", launch).await.expect("start");
    let schema = f.schema().resources["proto5_item"].clone();
    let dir = tmp.path().join("items");
    let p = f
        .configure(&Value::map([("dir", Value::from(dir.to_str().unwrap()))]))
        .unwrap();
    let config = item("a", None);
    let plan = p
        .plan("proto5_item", None, &[], &config, &schema)
        .await
        .expect("plan");
    let p2 = p.clone();
    let apply = tokio::spawn(async move {
        p2.apply("proto5_item", None, plan.planned, &config, &plan.private)
            .await
    });
    // Wait until the plugin is inside the call.
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("call ApplyResourceChange")
    {
        assert!(started.elapsed().as_secs() < 30, "the apply never started");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Provider::stop(&*p);
    let e = tokio::time::timeout(std::time::Duration::from_secs(20), apply)
        .await
        .expect("the hung call ends once the plugin is killed")
        .unwrap()
        .unwrap_err()
        .message;
    assert!(
        e.contains("terrane killed it: it was still busy 1 s after it was asked to stop"),
        "{e}"
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("call Stop"),
        "StopProvider was not sent:\n{log}"
    );
    assert!(!log.contains(" exit "), "the plugin was not killed:\n{log}");
    let socket = log
        .lines()
        .find_map(|l| l.split_once(" start ").map(|(_, s)| s.to_string()))
        .expect("the plugin logged its socket");
    assert!(
        !std::path::Path::new(&socket).exists(),
        "{socket} is left behind"
    );
    f.shutdown().await;
}

/// A second provider configuration gets a process of its own, and that process is
/// asked for the schema first as Terraform asks (GetProviderSchema), or only for its
/// metadata when the plugin declares the schema optional.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proto5_second_configuration_is_introduced_as_terraform_does() {
    for (optional, first_call) in [(false, "call GetSchema"), (true, "call GetMetadata")] {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("plugin.log");
        let env: &[(&str, &str)] = if optional {
            &[("PROTO5_SCHEMA_OPTIONAL", "1")]
        } else {
            &[]
        };
        let f = PluginFactory::start("proto5", proto5(&log, env))
            .await
            .expect("start");
        let schema = f.schema().resources["proto5_item"].clone();
        for d in ["one", "two"] {
            let dir = tmp.path().join(d);
            let p = f
                .configure(&Value::map([("dir", Value::from(dir.to_str().unwrap()))]))
                .unwrap();
            p.plan("proto5_item", None, &[], &item("a", None), &schema)
                .await
                .expect("plan");
        }
        f.shutdown().await;
        let log = std::fs::read_to_string(&log).unwrap();
        // The calls of each process, in order.
        let mut by_pid: Vec<(String, Vec<String>)> = Vec::new();
        for line in log.lines() {
            let (pid, event) = line.split_once(' ').unwrap();
            match by_pid.iter_mut().find(|(p, _)| p == pid) {
                Some((_, events)) => events.push(event.to_string()),
                None => by_pid.push((pid.to_string(), vec![event.to_string()])),
            }
        }
        assert_eq!(by_pid.len(), 2, "two processes:\n{log}");
        let second: Vec<&str> = by_pid[1]
            .1
            .iter()
            .map(String::as_str)
            .filter(|e| e.starts_with("call "))
            .collect();
        assert_eq!(
            &second[..3],
            [first_call, "call PrepareProviderConfig", "call Configure"],
            "{log}"
        );
        assert!(
            !optional || !second.contains(&"call GetSchema"),
            "a plugin whose schema is optional is not asked for it again:\n{log}"
        );
    }
}
