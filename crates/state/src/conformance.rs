//! The test suite every state backend must pass: write and read back, history, lock
//! contention, lease expiry with fencing, a run that dies in the middle, secrets, and
//! moving a whole state in and out (`export`/`import`).
//!
//! A backend's test calls [`run_all`] with a function that opens a *new handle* to
//! one fresh, empty storage location each time it is called (so two handles stand
//! for two machines sharing the state), and a second one for another empty location.

use std::path::Path;
use std::sync::Arc;

use terrane_core::{InstanceKey, ModulePath, ResourceAddr, Value};

use crate::lock::{now_secs, LockInfo};
use crate::{Backend, Change, Encryption, InstanceState, OutputState, SerialStatus, StateError};

pub type Open<'a> = &'a dyn Fn() -> Box<dyn Backend>;

fn inst(name: &str, v: &str) -> InstanceState {
    InstanceState {
        addr: ResourceAddr::managed(ModulePath::root(), "null_resource", name)
            .instance(InstanceKey::None),
        provider: "provider.null".into(),
        value: Value::map([
            ("id", Value::from(v)),
            ("token", Value::from(format!("secret-{v}")).into_sensitive()),
        ]),
        dependencies: vec!["null_resource.base".into()],
        create_before_destroy: name == "b",
        // A plugin's private bytes and schema version survive every backend.
        meta: crate::ObjectMeta {
            private: if name == "b" {
                vec![0, 1, 2, 255]
            } else {
                Vec::new()
            },
            schema_version: if name == "b" { 3 } else { 0 },
            plugin: name == "b",
            tainted: name == "b",
        },
    }
}

/// An encryption over the `stored` data keys, unwrapped by an age identity kept in
/// `dir` (created on first use).
pub fn encryption(dir: &Path, stored: Vec<terrane_secrets::WrappedKey>) -> Encryption {
    let path = dir.join("identity.txt");
    Encryption {
        vault: Arc::new(terrane_secrets::Vault::new(stored, move || {
            Ok(vec![
                Box::new(terrane_secrets::AgeProvider::load(&path, true)?) as _,
            ])
        })),
        whole: false,
        allow_unencrypted: false,
    }
}

fn opened(open: Open<'_>, dir: &Path) -> Box<dyn Backend> {
    let mut b = open();
    let keys = b.keys().expect("keys");
    b.set_encryption(Some(encryption(dir, keys)));
    b
}

fn lock_for(op: &str) -> LockInfo {
    LockInfo::for_current_process(op, uuid::Uuid::new_v4().to_string())
}

/// Runs every check. `open` and `open_other` open two distinct empty locations;
/// `dir` is a scratch directory for the encryption identity.
pub fn run_all(open: Open<'_>, open_other: Open<'_>, dir: &Path) {
    write_read_back_and_history(open, dir);
    lock_contention_and_lease_expiry_with_fencing(open, dir);
    simultaneous_lockers_get_exactly_one_lock(open);
    a_run_that_dies_midway_leaves_a_consistent_state(open, dir);
    secrets_round_trip(open, dir);
    export_import_keeps_everything(open, open_other, dir);
}

fn write_read_back_and_history(open: Open<'_>, dir: &Path) {
    let mut a = opened(open, dir);
    assert_eq!(a.read_current().unwrap().serial, 0, "a new state is empty");
    let l = lock_for("apply");
    a.lock(&l).unwrap();
    let s1 = a.begin("apply").unwrap();
    a.write(
        s1,
        &[
            Change::Put(inst("a", "1")),
            Change::Put(inst("b", "1")),
            Change::Output(
                "url".into(),
                Some(OutputState {
                    value: Value::from("http://x"),
                    sensitive: false,
                }),
            ),
            Change::Output(
                "pw".into(),
                Some(OutputState {
                    value: Value::from("hunter2").into_sensitive(),
                    sensitive: true,
                }),
            ),
        ],
    )
    .unwrap();
    a.finish(s1, SerialStatus::Complete).unwrap();
    let s2 = a.begin("apply").unwrap();
    assert_eq!(s2, s1 + 1);
    a.write(
        s2,
        &[
            Change::Put(inst("a", "2")),
            Change::Remove(inst("b", "").addr),
        ],
    )
    .unwrap();
    a.finish(s2, SerialStatus::Complete).unwrap();
    a.unlock(&l.id).unwrap();

    // Another handle (another machine) reads exactly what was written.
    let b = opened(open, dir);
    let cur = b.read_current().unwrap();
    assert_eq!(cur.serial, s2);
    assert_eq!(cur.resources.len(), 1);
    let a_now = &cur.resources[&inst("a", "").addr];
    assert_eq!(a_now, &inst("a", "2"), "the row reads back as written");
    assert_eq!(cur.outputs["url"].value, Value::from("http://x"));
    assert!(cur.outputs["pw"].sensitive);
    assert_eq!(
        cur.outputs["pw"].value.to_json(),
        serde_json::json!("hunter2")
    );
    assert_eq!(cur.lineage, a.read_current().unwrap().lineage);

    let old = b.read_serial(s1).unwrap();
    assert_eq!(old.resources.len(), 2, "serial {s1} still has both rows");
    assert_eq!(old.resources[&inst("b", "").addr], inst("b", "1"));
    assert_eq!(old.resources[&inst("a", "").addr], inst("a", "1"));
    let h = b.history().unwrap();
    assert_eq!(
        h.iter()
            .map(|s| (s.serial, s.status.as_str()))
            .collect::<Vec<_>>(),
        vec![(s1, "complete"), (s2, "complete")]
    );
    assert_eq!(h[0].changed, 4);
    assert!(matches!(
        b.read_serial(s2 + 5),
        Err(StateError::NoSuchSerial(_))
    ));
    // The sensitive value is not stored in the clear.
    let dump = b.export().unwrap();
    let text = serde_json::to_string(&dump).unwrap();
    assert!(
        !text.contains("secret-1") && !text.contains("hunter2"),
        "sensitive values are sealed at rest"
    );
}

fn lock_contention_and_lease_expiry_with_fencing(open: Open<'_>, dir: &Path) {
    let mut a = opened(open, dir);
    let mut b = opened(open, dir);
    let la = lock_for("apply");
    a.lock(&la).unwrap();
    // Contention: the second machine is refused, and told who holds the lock.
    match b.lock(&lock_for("plan")) {
        Err(StateError::Locked { lock_id, holder }) => {
            assert_eq!(lock_id, la.id);
            assert!(
                holder.contains(&la.id) && holder.contains("apply"),
                "{holder}"
            );
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert_eq!(b.current_lock().unwrap().unwrap().id, la.id);
    a.unlock(&la.id).unwrap();
    assert!(b.current_lock().unwrap().is_none());
    let lb = lock_for("plan");
    b.lock(&lb).unwrap();
    b.unlock(&lb.id).unwrap();

    // Lease expiry: A's lease runs out while A is merely slow; B takes over.
    let mut slow = lock_for("apply");
    slow.expires_at = now_secs().saturating_sub(1);
    a.lock(&slow).unwrap();
    let writer = a.reopen().unwrap();
    let lb = lock_for("apply");
    b.lock(&lb)
        .expect("an expired lease is taken over without force-unlock");
    // A's late writes are refused (fencing), through every handle A holds.
    let mut writer = writer;
    let before = b.read_current().unwrap();
    for handle in [&mut a, &mut writer] {
        match handle.begin("apply") {
            Err(StateError::Fenced { holder }) => assert!(holder.contains(&lb.id), "{holder}"),
            other => panic!("a fenced holder must not begin a serial: {other:?}"),
        }
        let r = handle.write(before.serial.max(1), &[Change::Put(inst("late", "x"))]);
        assert!(matches!(r, Err(StateError::Fenced { .. })), "{r:?}");
    }
    assert!(matches!(a.renew(&slow.id), Err(StateError::Fenced { .. })));
    let after = b.read_current().unwrap();
    assert_eq!(before, after, "the fenced writes changed nothing");
    // The new holder writes normally.
    let s = b.begin("apply").unwrap();
    b.write(s, &[Change::Put(inst("c", "1"))]).unwrap();
    b.finish(s, SerialStatus::Complete).unwrap();
    b.renew(&lb.id).unwrap();
    b.unlock(&lb.id).unwrap();
}

fn simultaneous_lockers_get_exactly_one_lock(open: Open<'_>) {
    for round in 0..3 {
        let handles: Vec<Box<dyn Backend>> = (0..6).map(|_| open()).collect();
        let barrier = Arc::new(std::sync::Barrier::new(handles.len()));
        let threads: Vec<_> = handles
            .into_iter()
            .map(|mut b| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let l = lock_for("apply");
                    barrier.wait();
                    let r = b.lock(&l).map(|()| l.id.clone());
                    (b, r)
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let winners: Vec<&String> = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one of six simultaneous lockers wins"
        );
        for (_, r) in &results {
            if let Err(e) = r {
                assert!(matches!(e, StateError::Locked { .. }), "{e:?}");
            }
        }
        let id = winners[0].clone();
        let (mut b, _) = results
            .into_iter()
            .find(|(_, r)| r.as_ref().ok() == Some(&id))
            .unwrap();
        assert_eq!(b.current_lock().unwrap().unwrap().id, id);
        b.unlock(&id).unwrap();
    }
}

fn a_run_that_dies_midway_leaves_a_consistent_state(open: Open<'_>, dir: &Path) {
    let mut a = opened(open, dir);
    let mut dead = lock_for("apply");
    // A process that no longer exists on this host.
    dead.pid = u32::MAX - 1;
    dead.pid_start = Some(1);
    a.lock(&dead).unwrap();
    let s = a.begin("apply").unwrap();
    a.write(s, &[Change::Put(inst("d", "1"))]).unwrap();
    drop(a); // dies: no finish, no unlock

    let mut b = opened(open, dir);
    let lb = lock_for("apply");
    b.lock(&lb).expect("a dead holder's lock is taken over");
    let cur = b.read_current().unwrap();
    assert!(
        cur.resources.contains_key(&inst("d", "").addr),
        "what the dead run wrote before dying is kept (it really happened)"
    );
    let next = b.begin("apply").unwrap();
    assert_eq!(next, s + 1);
    let h = b.history().unwrap();
    let died = h.iter().find(|i| i.serial == s).unwrap();
    assert_eq!(
        died.status, "incomplete",
        "the dead run's serial is marked incomplete"
    );
    b.finish(next, SerialStatus::Complete).unwrap();
    b.unlock(&lb.id).unwrap();
}

fn secrets_round_trip(open: Open<'_>, dir: &Path) {
    let mut a = opened(open, dir);
    assert_eq!(a.secret_put("db/password", b"one").unwrap(), 1);
    assert_eq!(a.secret_put("db/password", b"two").unwrap(), 2);
    let b = opened(open, dir);
    assert_eq!(
        b.secret_get("db/password", None).unwrap(),
        Some((2, b"two".to_vec()))
    );
    assert_eq!(
        b.secret_get("db/password", Some(1)).unwrap(),
        Some((1, b"one".to_vec()))
    );
    assert_eq!(b.secret_list().unwrap().len(), 2);
    let text = serde_json::to_string(&b.export().unwrap()).unwrap();
    assert!(!text.contains("\"two\""), "secrets are sealed at rest");
    assert!(a.secret_rm("db/password").unwrap());
    assert_eq!(b.secret_get("db/password", None).unwrap(), None);
    a.secret_put("api", b"k").unwrap();
}

fn export_import_keeps_everything(open: Open<'_>, open_other: Open<'_>, dir: &Path) {
    let a = opened(open, dir);
    let dump = a.export().unwrap();
    assert!(dump.serials.len() >= 3);
    let mut target = opened(open_other, dir);
    target.import(&dump).unwrap();
    let back = opened(open_other, dir);
    assert_eq!(
        back.export().unwrap(),
        dump,
        "an imported state exports identically"
    );
    assert_eq!(back.read_current().unwrap(), a.read_current().unwrap());
    assert_eq!(back.read_serial(1).unwrap(), a.read_serial(1).unwrap());
    assert_eq!(back.history().unwrap().len(), a.history().unwrap().len());
    assert_eq!(
        back.secret_get("api", None).unwrap(),
        Some((1, b"k".to_vec()))
    );
    let mut again = opened(open_other, dir);
    assert!(matches!(again.import(&dump), Err(StateError::NotEmpty(_))));
}
