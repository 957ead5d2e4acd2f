//! The state lock: a second run fails fast and names the holder; a lock whose holder
//! died is taken over.

use std::time::{Duration, Instant};

use crate::Ws;

const SLOW: &str = r#"
resource "time_sleep" "wait" {
  create_duration = "3s"
}

resource "null_resource" "quick" {}
"#;

#[test]
fn a_second_apply_fails_fast_naming_the_holder() {
    let ws = Ws::with_main(SLOW);
    let first = ws.spawn(&["apply", "--auto-approve"]);
    // The lock is taken before planning, so once the sleep is running it is held.
    first.wait_for_line(&["time_sleep.wait: Creating..."], Duration::from_secs(20));

    let started = Instant::now();
    let second = ws.run(&["apply", "--auto-approve"]);
    let took = started.elapsed();
    second
        .expect_code(1)
        .contains("locked")
        .contains(&format!("pid {}", first.pid()))
        .contains("force-unlock")
        .lacks("Creating...");
    assert!(
        took < Duration::from_millis(1500),
        "the second apply waited {took:?} instead of failing fast"
    );
    // Other state-changing commands are refused too.
    ws.run(&["state", "rm", "null_resource.quick"])
        .expect_code(1)
        .contains("locked");
    ws.run(&["destroy", "--auto-approve"])
        .expect_code(1)
        .contains("force-unlock");

    let out = first.finish();
    out.success().contains("Apply complete! Resources: 2 added");
    // The first run released the lock: now the second one runs.
    ws.run(&["apply", "--auto-approve"])
        .success()
        .contains("No changes");
    ws.write(
        "main.tf",
        &format!("{SLOW}\nresource \"null_resource\" \"later\" {{}}\n"),
    );
    ws.apply().contains("1 added");
    assert_eq!(
        ws.state_list(),
        vec![
            "null_resource.later",
            "null_resource.quick",
            "time_sleep.wait"
        ]
    );
}

#[test]
fn force_unlock_with_a_wrong_id_names_the_current_lock() {
    let ws = Ws::with_main(SLOW);
    ws.run(&["force-unlock", "no-such-lock"])
        .expect_code(1)
        .contains("not locked");
    let first = ws.spawn(&["apply", "--auto-approve"]);
    first.wait_for_line(&["time_sleep.wait: Creating..."], Duration::from_secs(20));
    ws.run(&["force-unlock", "no-such-lock"])
        .expect_code(1)
        .contains("no-such-lock")
        .contains(&format!("pid {}", first.pid()));
    first.finish().success();
}

/// Terraform's `-lock-timeout` waits for a lock another run holds, and `-lock=false`
/// does not take it at all (a read-only plan then runs beside the apply).
#[test]
fn lock_timeout_waits_for_the_holder_and_lock_false_skips_the_lock() {
    let ws = Ws::with_main(SLOW);
    let first = ws.spawn(&["apply", "--auto-approve"]);
    first.wait_for_line(&["time_sleep.wait: Creating..."], Duration::from_secs(20));
    // Without the lock: runs now, while the apply holds it.
    let started = Instant::now();
    ws.run(&["plan", "-lock=false", "-refresh=false"]).success();
    assert!(started.elapsed() < Duration::from_secs(3));
    // With a timeout: waits until the first run releases the lock, then goes ahead.
    let started = Instant::now();
    let waited = ws.run(&["apply", "-auto-approve", "-lock-timeout=30s"]);
    let took = started.elapsed();
    waited.success().contains("No changes");
    assert!(
        took >= Duration::from_millis(800),
        "the second apply did not wait ({took:?})"
    );
    first.finish().success().contains("2 added");
    ws.run(&["plan", "-lock-timeout=soon"])
        .expect_code(1)
        .contains("is not a duration");
}
