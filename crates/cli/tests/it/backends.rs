//! State backends: the shared conformance suite against a real PostgreSQL, and the
//! `terrane` binary working on a PostgreSQL workspace (two machines at once, the
//! database restarting mid-apply, moving state between backends).

use std::time::Duration;

use terrane_state::testpg::{self, PgServer};
use terrane_state::{Backend, BackendSpec};

use crate::{free_port, Ws};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

#[test]
fn postgres_backend_passes_the_conformance_suite() {
    let (url, _server) = testpg::shared(free_port());
    let dir = tempfile::tempdir().unwrap();
    let (wa, wb) = (unique("conf-a"), unique("conf-b"));
    let open = |ws: &str| -> Box<dyn Backend> {
        BackendSpec::Pg {
            conn_str: url.clone(),
            workspace: ws.to_string(),
        }
        .open()
        .unwrap()
    };
    terrane_state::conformance::run_all(&|| open(&wa), &|| open(&wb), dir.path());
}

/// A configuration on the PostgreSQL workspace `workspace` at `url`, with `body`.
fn pg_config(url: &str, workspace: &str, body: &str) -> String {
    format!(
        "terraform {{\n  backend \"pg\" {{\n    conn_str  = \"{url}\"\n    workspace = \"{workspace}\"\n  }}\n}}\n{body}"
    )
}

const STACK: &str = r#"
resource "random_password" "db" {
  length = 24
}
resource "null_resource" "app" {
  triggers = { pw_len = length(random_password.db.result) }
}
output "db_password" {
  value     = random_password.db.result
  sensitive = true
}
"#;

/// A second working directory on the same state: another machine (it shares the
/// age identity that unwraps the state's data key, as a team shares it).
fn second_machine(first: &Ws, config: &str) -> Ws {
    let other = Ws::with_main(config);
    std::fs::create_dir_all(other.file(".terrane")).unwrap();
    std::fs::copy(
        first.file(".terrane/identity.txt"),
        other.file(".terrane/identity.txt"),
    )
    .unwrap();
    other
}

#[test]
fn a_team_shares_a_postgres_workspace_and_moves_it_between_backends() {
    let (url, _server) = testpg::shared(free_port());
    let name = unique("team");
    let config = pg_config(&url, &name, STACK);
    let ws = Ws::with_main(&config);
    ws.apply().contains("2 added");
    assert!(
        !ws.exists(".terrane/state.db"),
        "no local state file is made when the backend is PostgreSQL"
    );
    let password = ws
        .run(&["output", "--raw", "db_password"])
        .success()
        .stdout
        .clone();
    assert_eq!(password.trim().len(), 24);

    // Another machine sees the same state: no changes.
    let other = second_machine(&ws, &config);
    other
        .run(&["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");
    assert_eq!(
        other.state_list(),
        vec!["null_resource.app", "random_password.db"]
    );

    // The connection string may come from the environment instead.
    let env_config =
        format!("terraform {{\n  backend \"pg\" {{\n    workspace = \"{name}\"\n  }}\n}}\n{STACK}");
    let env_ws = second_machine(&ws, &env_config);
    env_ws
        .run_env(
            &["plan", "--detailed-exitcode"],
            &[("TERRANE_PG_CONN_STR", &url)],
        )
        .expect_code(0);
    env_ws
        .run_env(&["plan"], &[("TERRANE_PG_CONN_STR", "")])
        .expect_code(1)
        .contains("TERRANE_PG_CONN_STR")
        .lacks("panicked");

    // pull: the current serial as JSON, the password still sealed.
    let pulled = ws.run(&["state", "pull"]).success().stdout.clone();
    let doc: serde_json::Value = serde_json::from_str(&pulled).unwrap();
    assert_eq!(doc["serial"], 1);
    assert_eq!(doc["resources"].as_array().unwrap().len(), 2);
    assert!(
        !pulled.contains(password.trim()),
        "state pull leaked the password"
    );
    ws.write("pulled.json", &pulled);

    // push: an older document is refused, then accepted with --force.
    ws.run(&["state", "rm", "null_resource.app"]).success();
    ws.run(&["state", "push", "pulled.json"])
        .expect_code(1)
        .contains("older than the state");
    ws.run(&["state", "push", "pulled.json", "--force"])
        .success()
        .contains("as serial 3");
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // migrate to SQLite: every serial comes along; the source is unchanged.
    ws.run(&["state", "migrate", "--to", "sqlite:moved.db"])
        .success()
        .contains("Migrated the state")
        .contains("serial 3");
    let history_pg = ws.run(&["state", "history"]).success().stdout.clone();
    ws.write(
        "main.tf",
        &format!(
            "terraform {{\n  backend \"sqlite\" {{\n    path = \"moved.db\"\n  }}\n}}\n{STACK}"
        ),
    );
    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");
    assert_eq!(ws.run(&["state", "history"]).success().stdout, history_pg);
    assert_eq!(
        ws.run(&["output", "--raw", "db_password"]).success().stdout,
        password
    );
    // ... and back into a new PostgreSQL workspace; a non-empty target is refused.
    let back = unique("back");
    ws.run(&[
        "state",
        "migrate",
        "--to",
        &format!("{url}?workspace={back}"),
    ])
    .success();
    ws.run(&[
        "state",
        "migrate",
        "--to",
        &format!("{url}?workspace={back}"),
    ])
    .expect_code(1)
    .contains("already holds a state");
    other.write("main.tf", &pg_config(&url, &back, STACK));
    other.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

const SLOW: &str = r#"
resource "time_sleep" "wait" {
  create_duration = "3s"
}
resource "null_resource" "after" {
  triggers = { done = time_sleep.wait.id }
}
"#;

#[test]
fn two_machines_applying_to_one_postgres_workspace_do_not_lose_updates() {
    let (url, _server) = testpg::shared(free_port());
    let config = pg_config(&url, &unique("race"), SLOW);
    let a = Ws::with_main(&config);
    let b = Ws::with_main(&config);
    // Both start at the same moment: exactly one gets the lock.
    let ra = a.spawn(&["apply", "--auto-approve"]);
    let rb = b.spawn(&["apply", "--auto-approve"]);
    let (oa, ob) = (ra.finish(), rb.finish());
    let (won, lost) = if oa.code == 0 { (oa, ob) } else { (ob, oa) };
    won.success().contains("2 added");
    lost.expect_code(1)
        .contains("locked by")
        .contains("operation \"apply\"")
        .contains("force-unlock")
        .lacks("Creating...");
    for ws in [&a, &b] {
        ws.run(&["plan", "--detailed-exitcode"])
            .expect_code(0)
            .contains("No changes");
    }
    let history = a.run(&["state", "history"]).success().stdout.clone();
    assert_eq!(
        history.lines().filter(|l| l.contains(" apply ")).count(),
        1,
        "exactly one apply wrote a serial:\n{history}"
    );
}

#[test]
fn postgres_restarting_in_the_middle_of_an_apply_leaves_a_consistent_state() {
    let server = PgServer::start(free_port());
    let body = r#"
resource "time_sleep" "one" {
  create_duration = "1s"
}
resource "time_sleep" "two" {
  create_duration = "4s"
  triggers = { after = time_sleep.one.id }
}
resource "null_resource" "three" {
  triggers = { after = time_sleep.two.id }
}
"#;
    let ws = Ws::with_main(&pg_config(&server.url(), "restart", body));
    let run = ws.spawn(&["apply", "--auto-approve"]);
    run.wait_for_line(&["time_sleep.two: Creating..."], Duration::from_secs(30));
    // The database goes away while time_sleep.two is being created, and comes back.
    server.stop();
    std::thread::sleep(Duration::from_secs(2));
    server.restart();
    let out = run.finish();
    out.success().contains("3 added");
    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");
    let history = ws.run(&["state", "history"]).success().stdout.clone();
    assert!(history.contains("complete"), "{history}");
    assert!(!history.contains("in-progress"), "{history}");
    assert_eq!(
        ws.state_list(),
        vec!["null_resource.three", "time_sleep.one", "time_sleep.two"]
    );
}

/// A moto server with a versioned bucket, and the environment pointing at it.
#[cfg(feature = "aws")]
fn moto_bucket(bucket: &str) -> crate::aws::Moto {
    let moto = crate::aws::Moto::start();
    let s3 = moto.s3();
    crate::aws::runtime().block_on(async {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        s3.put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    moto
}

#[cfg(feature = "aws")]
#[test]
fn s3_backend_passes_the_conformance_suite() {
    let moto = moto_bucket("terrane-state");
    for (k, v) in moto.env() {
        std::env::set_var(k, v);
    }
    let endpoint = moto
        .env()
        .into_iter()
        .find(|(k, _)| *k == "AWS_ENDPOINT_URL")
        .unwrap()
        .1;
    let dir = tempfile::tempdir().unwrap();
    let open = |key: &str| -> Box<dyn Backend> {
        BackendSpec::S3 {
            bucket: "terrane-state".into(),
            key: key.into(),
            region: "us-east-1".into(),
            endpoint: Some(endpoint.clone()),
        }
        .open()
        .unwrap()
    };
    terrane_state::conformance::run_all(&|| open("env/a.json"), &|| open("env/b.json"), dir.path());
    // The bucket keeps every version of the state document.
    let s3 = moto.s3();
    let versions = crate::aws::runtime().block_on(async {
        s3.list_object_versions()
            .bucket("terrane-state")
            .prefix("env/a.json")
            .send()
            .await
            .unwrap()
    });
    let n = versions
        .versions()
        .iter()
        .filter(|v| v.key() == Some("env/a.json"))
        .count();
    assert!(n > 10, "every write is a new object version ({n})");
}

#[cfg(feature = "aws")]
#[test]
fn a_workspace_on_s3_applies_and_migrates_from_sqlite() {
    let moto = moto_bucket("team-state");
    let endpoint = moto
        .env()
        .into_iter()
        .find(|(k, _)| *k == "AWS_ENDPOINT_URL")
        .unwrap()
        .1;
    let ws = Ws::with_main(STACK);
    ws.apply().contains("2 added");
    let url = format!("s3://team-state/prod/terrane.json?endpoint={endpoint}");
    moto.run(&ws, &["state", "migrate", "--to", &url])
        .success()
        .contains("serial 1");
    ws.write(
        "main.tf",
        &format!("terraform {{\n  backend \"s3\" {{\n    bucket   = \"team-state\"\n    key      = \"prod/terrane.json\"\n    endpoint = \"{endpoint}\"\n  }}\n}}\n{STACK}"),
    );
    std::fs::remove_file(ws.file(".terrane/state.db")).unwrap();
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");
    ws.write(
        "main.tf",
        &format!("terraform {{\n  backend \"s3\" {{\n    bucket   = \"team-state\"\n    key      = \"prod/terrane.json\"\n    endpoint = \"{endpoint}\"\n  }}\n}}\n{STACK}\nresource \"null_resource\" \"more\" {{}}\n"),
    );
    moto.run(&ws, &["apply", "--auto-approve"])
        .success()
        .contains("1 added");
    let history = moto
        .run(&ws, &["state", "history"])
        .success()
        .stdout
        .clone();
    assert_eq!(history.lines().count(), 3, "{history}");

    // Backups to the object store, and a restore from it onto a new machine.
    let to = format!("s3://team-state/backups?endpoint={endpoint}");
    let created = moto
        .run(&ws, &["backup", "create", "--to", &to])
        .success()
        .stdout
        .clone();
    let id = created.split_whitespace().nth(1).unwrap().to_string();
    moto.run(&ws, &["backup", "list", "--from", &to])
        .success()
        .contains(&id);
    moto.run(&ws, &["backup", "verify", &id, "--from", &to])
        .success()
        .contains("intact");
    let fresh = second_machine(
        &ws,
        &format!("{STACK}\nresource \"null_resource\" \"more\" {{}}\n"),
    );
    moto.run(&fresh, &["restore", &id, "--from", &to])
        .success()
        .contains("Restored backup");
    fresh
        .run(&["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");
}

#[test]
fn one_agent_leads_a_postgres_workspace_and_another_takes_over_when_it_dies() {
    let (url, _server) = testpg::shared(free_port());
    let name = unique("lead");
    let open = || terrane_state::pg::PgBackend::open(&url, &name).unwrap();
    let (a, b) = (open(), open());
    assert!(a.try_lead("agent").unwrap(), "the first claimant leads");
    assert!(!b.try_lead("agent").unwrap(), "a second one does not");
    assert!(a.try_lead("agent").unwrap(), "the leader keeps leading");
    drop(a); // the leader's connection ends (the process died)
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !b.try_lead("agent").unwrap() {
        assert!(
            std::time::Instant::now() < deadline,
            "the standby never took over"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Leadership is per workspace: another workspace has its own leader.
    let other = terrane_state::pg::PgBackend::open(&url, &unique("lead")).unwrap();
    assert!(other.try_lead("agent").unwrap());
}

#[test]
fn agents_sharing_a_postgres_workspace_elect_one_leader_for_scheduled_backups() {
    let (url, _server) = testpg::shared(free_port());
    let dest = tempfile::tempdir().unwrap();
    let config = pg_config(
        &url,
        &unique("agents"),
        &format!(
            "terraform {{\n  backup {{\n    schedule = \"*/1 * * * * *\"\n    to       = \"{}\"\n  }}\n}}\n{STACK}",
            dest.path().display()
        ),
    );
    let a = Ws::with_main(&config);
    a.apply().contains("2 added");
    let b = second_machine(&a, &config);
    let agents = [a.spawn(&["agent"]), b.spawn(&["agent"])];
    let events = |ws: &Ws| ws.run(&["events"]).stdout;
    let leads = |ws: &Ws| events(ws).contains("This agent now leads");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(leads(&a) || leads(&b)) {
        assert!(
            std::time::Instant::now() < deadline,
            "no agent took the lead"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    let (leader, standby) = if leads(&a) { (&a, &b) } else { (&b, &a) };
    assert!(!leads(standby), "two agents lead one workspace");
    assert!(events(standby).contains("stands by"));
    assert!(events(leader).contains("Backup state done"));
    assert!(
        !events(standby).contains("Backup state done"),
        "the standby ran the leader's job"
    );
    // The leader goes away: the standby takes over and the backups go on.
    leader.run(&["agent", "stop"]).success();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(leads(standby) && events(standby).contains("Backup state done")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the standby did not take over: {}",
            events(standby)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    standby.run(&["agent", "stop"]).success();
    for agent in agents {
        let _ = agent.finish();
    }
}

/// Workspaces on PostgreSQL and S3: each keeps its own state where Terraform's pg and
/// s3 backends keep theirs (the workspace's rows; the key `env:/NAME/KEY`), `list`
/// reads them back from the store, `delete` removes them.
#[cfg(feature = "aws")]
#[test]
fn workspaces_keep_separate_states_on_postgres_and_s3() {
    let (url, _server) = testpg::shared(free_port());
    let moto = moto_bucket("ws-state");
    let endpoint = moto
        .env()
        .into_iter()
        .find(|(k, _)| *k == "AWS_ENDPOINT_URL")
        .unwrap()
        .1;
    let body = "resource \"null_resource\" \"n\" {\n  triggers = { ws = terraform.workspace }\n}\n";
    let configs = [
        pg_config(&url, &unique("team"), body),
        format!("terraform {{\n  backend \"s3\" {{\n    bucket   = \"ws-state\"\n    key      = \"app/terrane.json\"\n    endpoint = \"{endpoint}\"\n  }}\n}}\n{body}"),
    ];
    let s3_keys = || {
        let s3 = moto.s3();
        crate::aws::runtime().block_on(async {
            let out = s3
                .list_objects_v2()
                .bucket("ws-state")
                .send()
                .await
                .unwrap();
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string))
                .collect::<Vec<_>>()
        })
    };
    for (i, config) in configs.iter().enumerate() {
        let ws = Ws::with_main(config);
        moto.run(&ws, &["apply", "--auto-approve"])
            .success()
            .contains("1 added");
        moto.run(&ws, &["workspace", "new", "qa"]).success();
        moto.run(&ws, &["plan"]).success().contains("1 to add");
        moto.run(&ws, &["apply", "--auto-approve"])
            .success()
            .contains("1 added");
        let list = moto
            .run(&ws, &["workspace", "list"])
            .success()
            .stdout
            .clone();
        assert!(
            list.contains("  default") && list.contains("* qa"),
            "{list}"
        );
        moto.run(&ws, &["workspace", "select", "default"]).success();
        moto.run(&ws, &["state", "show", "null_resource.n"])
            .success()
            .contains("\"default\"");
        if i == 1 {
            // The default workspace's state is the configured key; qa's is env:/qa/KEY.
            let keys = s3_keys();
            assert!(
                keys.contains(&"app/terrane.json".to_string())
                    && keys.contains(&"env:/qa/app/terrane.json".to_string()),
                "{keys:?}"
            );
        }
        moto.run(&ws, &["workspace", "delete", "--force", "qa"])
            .success();
        assert!(!moto.run(&ws, &["workspace", "list"]).stdout.contains("qa"));
    }
    assert!(
        !s3_keys().iter().any(|k| k.starts_with("env:/qa/")),
        "qa's state is gone"
    );
}
