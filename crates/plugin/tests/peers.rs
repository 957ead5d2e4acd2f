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
        .plan("pyvider_file_content", None, &config, &schema)
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
