//! Engine tests: plan and apply against the in-memory test provider
//! (`terrane_provider::testing`) and a real SQLite state in a temporary directory.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use terrane_core::{Diagnostics, SourceMap, Value};
use terrane_engine::{Action, ApplyOutcome, Event, Observer, Plan, PlanOptions};
use terrane_provider::testing::{MemoryProviderFactory, MemoryWorld};
use terrane_provider::Registry;
use terrane_state::sqlite::SqliteBackend;
use terrane_state::{Backend, Snapshot};

/// What an observer saw, with the time since the run started.
/// Also records which objects (by name) existed in the world at each event.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(Duration, Event)>>,
    start: Mutex<Option<Instant>>,
    world: Option<Arc<MemoryWorld>>,
    names: Mutex<Vec<Vec<String>>>,
}

impl Observer for Recorder {
    fn event(&self, event: Event) {
        let start = *self.start.lock().unwrap().get_or_insert_with(Instant::now);
        let names = self
            .world
            .as_ref()
            .map(|w| {
                w.objects
                    .lock()
                    .unwrap()
                    .values()
                    .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        self.names.lock().unwrap().push(names);
        self.events.lock().unwrap().push((start.elapsed(), event));
    }
}

/// A simplified event: (kind, address, action).
#[derive(Clone, Debug, PartialEq)]
enum Ev {
    Start(String, Action),
    Done(String, Action),
    Failed(String),
}

impl Recorder {
    /// The apply events, each with the names of the objects in the world right then.
    fn simple(&self) -> Vec<(Ev, Vec<String>)> {
        let names = self.names.lock().unwrap();
        self.events
            .lock()
            .unwrap()
            .iter()
            .zip(names.iter())
            .filter_map(|((_, e), n)| {
                let ev = match e {
                    Event::ApplyStarted(a, act, _) => Ev::Start(a.to_string(), *act),
                    Event::ApplyDone(a, act, _, _) => Ev::Done(a.to_string(), *act),
                    Event::ApplyFailed(a, _) => Ev::Failed(a.to_string()),
                    _ => return None,
                };
                Some((ev, n.clone()))
            })
            .collect()
    }
}

fn pos(evs: &[Ev], e: &Ev) -> usize {
    evs.iter()
        .position(|x| x == e)
        .unwrap_or_else(|| panic!("{e:?} not in {evs:#?}"))
}

struct Harness {
    dir: tempfile::TempDir,
    world: Arc<MemoryWorld>,
    registry: Registry,
    backend: SqliteBackend,
}

/// The result of one plan (+ apply).
struct Run {
    plan: Plan,
    outcome: ApplyOutcome,
    events: Vec<Ev>,
    /// The names of the world's objects at each of `events`.
    world_at: Vec<Vec<String>>,
    elapsed: Duration,
}

impl Run {
    /// The world's object names when `ev` happened.
    fn world_when(&self, ev: &Ev) -> &[String] {
        &self.world_at[pos(&self.events, ev)]
    }
}

impl Harness {
    fn new(main_tf: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.tf"), main_tf).unwrap();
        let world = Arc::new(MemoryWorld::default());
        let mut registry = Registry::default();
        registry.register(Arc::new(MemoryProviderFactory::new(world.clone())));
        terrane_provider_builtin::register_all(
            &mut registry,
            terrane_provider_builtin::LocalHost {
                workspace: dir.path().to_path_buf(),
                // No test here starts the workspace's agent.
                program: "terrane".into(),
            },
        );
        let backend = SqliteBackend::open(&dir.path().join(".terrane/state.db")).unwrap();
        Harness {
            dir,
            world,
            registry,
            backend,
        }
    }

    fn config(&self, main_tf: &str) {
        std::fs::write(self.dir.path().join("main.tf"), main_tf).unwrap();
    }

    fn state(&self) -> Snapshot {
        self.backend.read_current().unwrap()
    }

    fn state_addrs(&self) -> Vec<String> {
        self.state()
            .resources
            .keys()
            .map(ToString::to_string)
            .collect()
    }

    /// The attribute of a state instance, as a string.
    fn state_attr(&self, addr: &str, attr: &str) -> Option<String> {
        let s = self.state();
        let inst = s
            .resources
            .iter()
            .find(|(a, _)| a.to_string() == addr)
            .map(|(_, i)| i)?;
        inst.value
            .get(attr)
            .and_then(|v| v.unmark().0.as_str().map(str::to_string))
    }

    /// World objects by their `name` attribute.
    fn world_by_name(&self) -> BTreeMap<String, Value> {
        self.world
            .objects
            .lock()
            .unwrap()
            .values()
            .map(|v| {
                (
                    v.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    v.clone(),
                )
            })
            .collect()
    }

    fn world_value(&self, name: &str) -> Option<String> {
        self.world_by_name()
            .get(name)
            .and_then(|v| v.get("value"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    async fn plan(&self, opts: &PlanOptions) -> Result<Plan, Diagnostics> {
        let mut sources = SourceMap::default();
        let (module, diags) = terrane_lang::load_root(self.dir.path(), &mut sources);
        assert!(!diags.has_errors(), "configuration errors: {diags:?}");
        let (model, diags) = terrane_engine::model::build(&module, &self.registry);
        assert!(!diags.has_errors(), "model errors: {diags:?}");
        let prior = self.state();
        let cancel = AtomicBool::new(false);
        terrane_engine::plan(
            &model,
            &self.registry,
            self.dir.path(),
            &prior,
            &BTreeMap::new(),
            opts,
            &terrane_engine::Quiet,
            &cancel,
        )
        .await
    }

    /// Plans and applies with the given options; `cancel_after` sets the cancel flag
    /// that long into the apply.
    async fn run(&mut self, opts: &PlanOptions, cancel_after: Option<Duration>) -> Run {
        let plan = self
            .plan(opts)
            .await
            .unwrap_or_else(|d| panic!("plan failed: {d:?}"));
        let mut sources = SourceMap::default();
        let (module, _) = terrane_lang::load_root(self.dir.path(), &mut sources);
        let (model, _) = terrane_engine::model::build(&module, &self.registry);
        let rec = Recorder {
            world: Some(self.world.clone()),
            ..Recorder::default()
        };
        let cancel = Arc::new(AtomicBool::new(false));
        if let Some(after) = cancel_after {
            let c = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                c.store(true, Ordering::SeqCst);
            });
        }
        let started = Instant::now();
        let outcome = terrane_engine::apply(
            &model,
            &self.registry,
            self.dir.path(),
            &plan,
            &mut self.backend,
            opts.parallelism,
            &rec,
            &cancel,
        )
        .await;
        let elapsed = started.elapsed();
        let (events, world_at) = rec.simple().into_iter().unzip();
        Run {
            plan,
            outcome,
            events,
            world_at,
            elapsed,
        }
    }

    async fn apply(&mut self) -> Run {
        let r = self.run(&opts(10), None).await;
        let o = &r.outcome;
        assert!(!o.failed(), "apply failed: {:?}", o.diagnostics);
        r
    }

    async fn destroy(&mut self) -> Run {
        let r = self
            .run(
                &PlanOptions {
                    destroy: true,
                    ..opts(10)
                },
                None,
            )
            .await;
        let o = &r.outcome;
        assert!(!o.failed(), "destroy failed: {:?}", o.diagnostics);
        r
    }

    /// Asserts that a fresh plan has no changes.
    async fn assert_converged(&self) {
        let p = self.plan(&opts(10)).await.unwrap();
        let pending: Vec<String> = p
            .changes
            .iter()
            .filter(|c| c.action != Action::NoOp)
            .map(|c| format!("{} {:?}", c.addr, c.action))
            .collect();
        assert!(!p.has_changes(), "expected no changes, got {pending:?}");
        assert!(p.drift.is_empty());
    }
}

fn opts(parallelism: usize) -> PlanOptions {
    PlanOptions {
        refresh: true,
        parallelism,
        ..PlanOptions::default()
    }
}

fn action_of(plan: &Plan, addr: &str) -> Action {
    plan.changes
        .iter()
        .find(|c| c.addr.to_string() == addr)
        .map(|c| c.action)
        .unwrap_or_else(|| panic!("no change for {addr}"))
}

#[tokio::test]
async fn a_resource_is_created_after_what_it_references() {
    // Declared in reverse order, and the first one is slow: only the references order them.
    let mut h = Harness::new(
        r#"
resource "test_thing" "c" {
  name  = "c"
  value = test_thing.b.id
}

resource "test_thing" "b" {
  name  = "b"
  value = test_thing.a.id
}

resource "test_thing" "a" {
  name     = "a"
  delay_ms = 150
}

resource "test_thing" "free" {
  name = "free"
}
"#,
    );
    let r = h.apply().await;
    let ev = &r.events;
    let done = |a: &str| pos(ev, &Ev::Done(a.into(), Action::Create));
    let start = |a: &str| pos(ev, &Ev::Start(a.into(), Action::Create));
    assert!(done("test_thing.a") < start("test_thing.b"), "{ev:#?}");
    assert!(done("test_thing.b") < start("test_thing.c"), "{ev:#?}");
    // The independent one did not wait for the slow one.
    assert!(done("test_thing.free") < done("test_thing.a"), "{ev:#?}");

    // References were resolved to the real ids.
    let world = h.world_by_name();
    let id = |n: &str| {
        world[n]
            .get("id")
            .and_then(Value::as_str)
            .unwrap()
            .to_string()
    };
    assert_eq!(h.world_value("b"), Some(id("a")));
    assert_eq!(h.world_value("c"), Some(id("b")));
    assert_eq!(h.state_attr("test_thing.c", "value"), Some(id("b")));
    assert_eq!(r.outcome.added, 4);
    h.assert_converged().await;
}

const TEN_SLOW: &str = r#"
resource "test_thing" "t" {
  count    = 10
  name     = "t${count.index}"
  delay_ms = 200
}
"#;

#[tokio::test]
async fn independent_resources_are_created_in_parallel() {
    let mut h = Harness::new(TEN_SLOW);
    let r = h.run(&opts(10), None).await;
    assert!(!r.outcome.failed());
    assert!(
        r.elapsed < Duration::from_secs(1),
        "10 × 200 ms at parallelism 10 took {:?}",
        r.elapsed
    );
    assert_eq!(h.state_addrs().len(), 10);
    assert_eq!(h.world.creates.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn parallelism_limits_concurrent_operations() {
    let mut h = Harness::new(TEN_SLOW);
    let r = h.run(&opts(2), None).await;
    assert!(!r.outcome.failed());
    // Five rounds of two.
    assert!(
        r.elapsed >= Duration::from_millis(950),
        "10 × 200 ms at parallelism 2 took only {:?}",
        r.elapsed
    );
    // Never more than two provider operations at once, and the limit was reached.
    assert_eq!(h.world.max_in_flight.load(Ordering::SeqCst), 2);
    assert_eq!(h.state_addrs().len(), 10);
}

#[tokio::test]
async fn a_failure_skips_its_dependents_but_not_independent_work() {
    let mut h = Harness::new(
        r#"
resource "test_thing" "bad" {
  name     = "bad"
  fail     = true
  delay_ms = 20
}

resource "test_thing" "needs_bad" {
  name  = "needs_bad"
  value = test_thing.bad.id
}

resource "test_thing" "needs_needs_bad" {
  name  = "needs_needs_bad"
  value = test_thing.needs_bad.id
}

resource "test_thing" "ok" {
  count    = 3
  name     = "ok${count.index}"
  delay_ms = 100
}

resource "test_thing" "after_ok" {
  name  = "after_ok"
  value = test_thing.ok[0].id
}
"#,
    );
    let r = h.run(&opts(10), None).await;
    let o = &r.outcome;
    assert!(o.failed());
    assert!(!o.interrupted);
    let errs: Vec<String> = o
        .diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.summary, d.detail))
        .collect();
    assert!(
        errs.iter()
            .any(|e| e.contains("test_thing.bad") && e.contains("asked to fail")),
        "{errs:#?}"
    );
    assert!(
        r.events.contains(&Ev::Failed("test_thing.bad".into())),
        "{:#?}",
        r.events
    );
    for skipped in ["test_thing.needs_bad", "test_thing.needs_needs_bad"] {
        assert!(
            !r.events
                .iter()
                .any(|e| matches!(e, Ev::Start(a, _) if a == skipped)),
            "{skipped} must not start: {:#?}",
            r.events
        );
    }
    assert_eq!(
        h.state_addrs(),
        vec![
            "test_thing.after_ok",
            "test_thing.ok[0]",
            "test_thing.ok[1]",
            "test_thing.ok[2]"
        ]
    );
    assert_eq!(o.added, 4);
    assert_eq!(h.world.creates.load(Ordering::SeqCst), 4);
    let history = h.backend.history().unwrap();
    assert_eq!(history.last().unwrap().status, "incomplete");

    // Fix the configuration: the rest is created, nothing is repeated.
    h.config(
        &std::fs::read_to_string(h.dir.path().join("main.tf"))
            .unwrap()
            .replace("fail     = true", "fail     = false"),
    );
    let p = h.plan(&opts(10)).await.unwrap();
    assert_eq!(action_of(&p, "test_thing.bad"), Action::Create);
    assert_eq!(action_of(&p, "test_thing.ok[0]"), Action::NoOp);
    h.apply().await;
    assert_eq!(h.state_addrs().len(), 7);
    assert_eq!(h.world.creates.load(Ordering::SeqCst), 7);
    h.assert_converged().await;
}

// Two chains in opposite declaration/name orders, so that no accidental scheduling
// order can satisfy both: c → b → a (c depends on b, b on a) and x → y → z.
const CHAINS: &str = r#"
resource "test_thing" "a" {
  name = "a"
}

resource "test_thing" "b" {
  name  = "b"
  value = test_thing.a.id
}

resource "test_thing" "c" {
  name  = "c"
  value = test_thing.b.id
}

resource "test_thing" "x" {
  name  = "x"
  value = test_thing.y.id
}

resource "test_thing" "y" {
  name  = "y"
  value = test_thing.z.id
}

resource "test_thing" "z" {
  name = "z"
}
"#;

/// Asserts that `first` was deleted completely before `then` started to be deleted.
#[track_caller]
fn deleted_before(events: &[Ev], first: &str, then: &str) {
    let done = pos(
        events,
        &Ev::Done(format!("test_thing.{first}"), Action::Delete),
    );
    let start = pos(
        events,
        &Ev::Start(format!("test_thing.{then}"), Action::Delete),
    );
    assert!(
        done < start,
        "test_thing.{first} must be destroyed before test_thing.{then}: {events:#?}"
    );
}

#[tokio::test]
async fn destroy_deletes_in_reverse_dependency_order() {
    let mut h = Harness::new(CHAINS);
    h.apply().await;
    let r = h.destroy().await;
    deleted_before(&r.events, "c", "b");
    deleted_before(&r.events, "b", "a");
    deleted_before(&r.events, "x", "y");
    deleted_before(&r.events, "y", "z");
    assert_eq!(r.outcome.destroyed, 6);
    assert!(h.state_addrs().is_empty());
    assert!(h.world.objects.lock().unwrap().is_empty());
    assert_eq!(
        h.backend.history().unwrap().last().unwrap().operation,
        "destroy"
    );
}

#[tokio::test]
async fn resources_removed_from_the_configuration_are_deleted_dependents_first() {
    let mut h = Harness::new(CHAINS);
    h.apply().await;
    // Only a and z stay: the others are orphans, destroyed in their recorded order.
    h.config("resource \"test_thing\" \"a\" {\n  name = \"a\"\n}\n\nresource \"test_thing\" \"z\" {\n  name = \"z\"\n}\n");
    let r = h.apply().await;
    for gone in ["b", "c", "x", "y"] {
        let c = r
            .plan
            .changes
            .iter()
            .find(|c| c.addr.to_string() == format!("test_thing.{gone}"))
            .unwrap();
        assert_eq!(c.action, Action::Delete);
        assert_eq!(
            c.reason.as_deref(),
            Some("delete_because_no_resource_config")
        );
    }
    deleted_before(&r.events, "c", "b");
    deleted_before(&r.events, "x", "y");
    assert_eq!(h.state_addrs(), vec!["test_thing.a", "test_thing.z"]);
    assert_eq!(
        h.world_by_name().keys().cloned().collect::<Vec<_>>(),
        vec!["a", "z"]
    );
    h.assert_converged().await;
}

fn replaceable(cbd: bool, generation: u32) -> String {
    format!(
        r#"
resource "test_thing" "r" {{
  name     = "r{generation}"
  delay_ms = 100
  lifecycle {{
    create_before_destroy = {cbd}
  }}
}}

resource "test_thing" "user" {{
  name  = "user"
  value = test_thing.r.name
}}

resource "test_thing" "lonely" {{
  name     = "lonely{generation}"
  delay_ms = 100
  lifecycle {{
    create_before_destroy = {cbd}
  }}
}}
"#
    )
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn create_before_destroy_creates_the_replacement_first() {
    let mut h = Harness::new(&replaceable(true, 1));
    h.apply().await;
    h.config(&replaceable(true, 2));
    let r = h.apply().await;
    for (addr, old, new) in [
        ("test_thing.r", "r1", "r2"),
        ("test_thing.lonely", "lonely1", "lonely2"),
    ] {
        assert_eq!(action_of(&r.plan, addr), Action::CreateThenDelete);
        let created = Ev::Done(addr.into(), Action::Create);
        let deleting = Ev::Start(addr.into(), Action::Delete);
        assert!(
            pos(&r.events, &created) < pos(&r.events, &deleting),
            "the replacement must exist before the old object goes: {:#?}",
            r.events
        );
        // Right after the replacement was created, both objects existed.
        let world = r.world_when(&created);
        assert!(
            world.contains(&old.to_string()) && world.contains(&new.to_string()),
            "{addr}: {world:?}"
        );
    }
    // The dependent moves to the new object before the old one is destroyed.
    assert_eq!(action_of(&r.plan, "test_thing.user"), Action::Update);
    let user = pos(
        &r.events,
        &Ev::Done("test_thing.user".into(), Action::Update),
    );
    assert!(
        user < pos(&r.events, &Ev::Start("test_thing.r".into(), Action::Delete)),
        "{:#?}",
        r.events
    );
    assert_eq!(
        h.world_by_name().keys().cloned().collect::<Vec<_>>(),
        names(&["lonely2", "r2", "user"])
    );
    assert_eq!(h.world_value("user"), Some("r2".into()));
    assert_eq!(h.state_attr("test_thing.r", "name"), Some("r2".into()));
    let o = &r.outcome;
    assert_eq!(
        (o.added, o.changed, o.destroyed),
        (2, 1, 2),
        "r and lonely replaced, user updated"
    );
    h.assert_converged().await;
}

#[tokio::test]
async fn without_create_before_destroy_the_old_object_goes_first() {
    let mut h = Harness::new(&replaceable(false, 1));
    h.apply().await;
    h.config(&replaceable(false, 2));
    let r = h.apply().await;
    for (addr, old) in [("test_thing.r", "r1"), ("test_thing.lonely", "lonely1")] {
        assert_eq!(action_of(&r.plan, addr), Action::DeleteThenCreate);
        let creating = Ev::Start(addr.into(), Action::Create);
        assert!(
            pos(&r.events, &Ev::Done(addr.into(), Action::Delete)) < pos(&r.events, &creating),
            "{:#?}",
            r.events
        );
        assert!(
            !r.world_when(&creating).contains(&old.to_string()),
            "{addr}: the old object still existed when creating its replacement"
        );
    }
    assert_eq!(
        h.world_by_name().keys().cloned().collect::<Vec<_>>(),
        names(&["lonely2", "r2", "user"])
    );
    let o = &r.outcome;
    assert_eq!((o.added, o.changed, o.destroyed), (2, 1, 2));
    h.assert_converged().await;
}

const PROTECTED: &str = r#"
resource "test_thing" "keep" {
  name = "keep"
  lifecycle {
    prevent_destroy = true
  }
}

resource "test_thing" "other" {
  name = "other"
}
"#;

#[tokio::test]
async fn prevent_destroy_blocks_a_destroy_plan() {
    let mut h = Harness::new(PROTECTED);
    h.apply().await;
    let err = h
        .plan(&PlanOptions {
            destroy: true,
            ..opts(10)
        })
        .await
        .expect_err("a destroy plan must be refused");
    let d = err
        .iter()
        .find(|d| d.summary == "Instance cannot be destroyed")
        .unwrap_or_else(|| panic!("{err:?}"));
    assert!(d.detail.contains("test_thing.keep"), "{}", d.detail);
    assert!(
        d.span.is_some(),
        "the diagnostic points at the resource block"
    );
    // A replacement would destroy it too.
    h.config(&PROTECTED.replace("name = \"keep\"", "name = \"renamed\""));
    let err = h
        .plan(&opts(10))
        .await
        .expect_err("a replacement must be refused");
    assert!(
        err.iter()
            .any(|d| d.summary == "Instance cannot be destroyed"),
        "{err:?}"
    );
    // Nothing was touched.
    assert_eq!(h.world.deletes.load(Ordering::SeqCst), 0);
    assert_eq!(h.state_addrs(), vec!["test_thing.keep", "test_thing.other"]);
    // Without the flag the destroy goes ahead.
    h.config(&PROTECTED.replace("prevent_destroy = true", "prevent_destroy = false"));
    h.destroy().await;
    assert!(h.world.objects.lock().unwrap().is_empty());
}

#[tokio::test]
async fn drift_is_detected_and_repaired() {
    let mut h = Harness::new(
        "resource \"test_thing\" \"d\" {\n  name  = \"d\"\n  value = \"configured\"\n}\n",
    );
    h.apply().await;
    // Someone changes the object outside terrane.
    {
        let mut objs = h.world.objects.lock().unwrap();
        let obj = objs.values_mut().next().unwrap();
        if let Value::Map(m) = obj {
            m.insert("value".into(), Value::from("edited outside"));
        }
    }
    let p = h.plan(&opts(10)).await.unwrap();
    assert_eq!(p.drift.len(), 1);
    assert_eq!(p.drift[0].addr.to_string(), "test_thing.d");
    assert_eq!(
        p.drift[0]
            .after
            .as_ref()
            .and_then(|v| v.get("value"))
            .and_then(Value::as_str),
        Some("edited outside")
    );
    assert_eq!(action_of(&p, "test_thing.d"), Action::Update);
    // Without refresh, terrane trusts state and sees nothing.
    let quiet = h
        .plan(&PlanOptions {
            refresh: false,
            ..opts(10)
        })
        .await
        .unwrap();
    assert!(quiet.drift.is_empty() && !quiet.has_changes());

    let r = h.apply().await;
    assert_eq!(r.outcome.changed, 1);
    assert_eq!(h.world_value("d"), Some("configured".into()));
    assert_eq!(h.world.updates.load(Ordering::SeqCst), 1);
    h.assert_converged().await;

    // Deleted outside: planned for creation again.
    h.world.objects.lock().unwrap().clear();
    let p = h.plan(&opts(10)).await.unwrap();
    assert_eq!(p.drift.len(), 1);
    assert!(p.drift[0].after.is_none());
    assert_eq!(action_of(&p, "test_thing.d"), Action::Create);
    h.apply().await;
    assert_eq!(h.world_value("d"), Some("configured".into()));
    h.assert_converged().await;
}

#[tokio::test]
async fn the_instances_of_one_resource_are_refreshed_in_one_batched_read() {
    let mut h = Harness::new(
        "resource \"test_thing\" \"many\" {\n  count = 5\n  name  = \"m${count.index}\"\n}\n\
         resource \"test_thing\" \"one\" {\n  name = \"one\"\n}\n",
    );
    h.apply().await;
    // One of the five is deleted outside terrane.
    let gone = h.world_by_name()["m3"]
        .get("id")
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    h.world.objects.lock().unwrap().remove(&gone);
    h.world.reads.store(0, Ordering::SeqCst);
    let p = h.plan(&opts(10)).await.unwrap();
    // The five instances of `many` in one call; `one` alone, with a plain read.
    assert_eq!(h.world.batch_reads.load(Ordering::SeqCst), 1);
    assert_eq!(h.world.reads.load(Ordering::SeqCst), 1);
    assert_eq!(p.drift.len(), 1);
    assert_eq!(p.drift[0].addr.to_string(), "test_thing.many[3]");
    assert!(p.drift[0].after.is_none());
    assert_eq!(action_of(&p, "test_thing.many[3]"), Action::Create);
    assert_eq!(action_of(&p, "test_thing.many[2]"), Action::NoOp);
}

#[tokio::test]
async fn cancelling_finishes_work_in_flight_and_records_it() {
    let mut h = Harness::new(
        r#"
resource "test_thing" "fast" {
  name     = "fast"
  delay_ms = 20
}

resource "test_thing" "slow" {
  name     = "slow"
  delay_ms = 300
}

resource "test_thing" "after_fast" {
  name     = "after_fast"
  value    = test_thing.fast.id
  delay_ms = 400
}

resource "test_thing" "after_slow" {
  name  = "after_slow"
  value = test_thing.slow.id
}
"#,
    );
    let r = h.run(&opts(10), Some(Duration::from_millis(150))).await;
    let o = &r.outcome;
    assert!(o.interrupted);
    // fast finished; slow and after_fast were in flight and finished; after_slow never started.
    assert_eq!(
        h.state_addrs(),
        vec![
            "test_thing.after_fast",
            "test_thing.fast",
            "test_thing.slow"
        ]
    );
    assert!(
        !r.events
            .iter()
            .any(|e| matches!(e, Ev::Start(a, _) if a == "test_thing.after_slow")),
        "{:#?}",
        r.events
    );
    assert_eq!(
        h.backend.history().unwrap().last().unwrap().status,
        "incomplete"
    );
    let r = h.apply().await;
    assert_eq!(r.outcome.added, 1);
    h.assert_converged().await;
}

#[tokio::test]
async fn sensitive_attributes_are_marked_in_plan_and_state() {
    let mut h =
        Harness::new("resource \"test_thing\" \"s\" {\n  name   = \"s\"\n  secret = \"p4ss\"\n}\n");
    let r = h.apply().await;
    let after = r.plan.changes[0].after.as_ref().unwrap();
    assert!(
        matches!(after.get("secret"), Some(Value::Sensitive(_))),
        "{after:?}"
    );
    let s = h.state();
    let inst = s.resources.values().next().unwrap();
    assert!(
        matches!(inst.value.get("secret"), Some(Value::Sensitive(_))),
        "{:?}",
        inst.value
    );
    assert!(!terrane_engine::json::plan_json(&r.plan)
        .to_string()
        .contains("p4ss"));
}

#[tokio::test]
async fn data_sources_are_read_and_usable() {
    let mut h = Harness::new(
        "data \"test_thing\" \"src\" {\n  name = \"x\"\n}\n\nresource \"test_thing\" \"r\" {\n  name  = \"r\"\n  value = data.test_thing.src.value\n}\n",
    );
    h.apply().await;
    assert_eq!(h.world_value("r"), Some("data-x".into()));
    h.assert_converged().await;
}
