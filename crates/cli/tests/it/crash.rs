//! Runs that stop early: kill -9, Ctrl-C, and a state file that is not a state.

use std::time::{Duration, Instant};

use crate::Ws;

#[test]
fn after_kill_9_the_next_apply_takes_over_the_lock_and_converges() {
    let ws = Ws::with_main(
        r#"
resource "time_sleep" "slow" {
  create_duration = "2s"
}

resource "null_resource" "quick" {}

resource "local_file" "f" {
  filename = "${path.module}/f.txt"
  content  = "written before the crash"
}

resource "null_resource" "after_slow" {
  depends_on = [time_sleep.slow]
}
"#,
    );
    let mut run = ws.spawn(&["apply", "--auto-approve"]);
    run.wait_for_lines(
        &[
            &["null_resource.quick: Creation complete"],
            &["local_file.f: Creation complete"],
        ],
        Duration::from_secs(20),
    );
    run.child.kill().expect("kill -9");
    let status = run.child.wait().expect("wait");
    assert!(!status.success());

    // Everything that completed before the kill is in state.
    let list = ws.state_list();
    assert!(
        list.contains(&"null_resource.quick".to_string()),
        "{list:?}"
    );
    assert!(list.contains(&"local_file.f".to_string()), "{list:?}");
    assert!(
        !list.contains(&"null_resource.after_slow".to_string()),
        "{list:?}"
    );
    assert_eq!(ws.read("f.txt"), "written before the crash");

    // The dead run's lock does not block the next run.
    let started = Instant::now();
    let again = ws.run(&["apply", "--auto-approve"]);
    again
        .success()
        .contains("Warning: Taking over the state lock held by")
        .contains("operation \"apply\"")
        .lacks("WARN")
        .lacks("lock=")
        .contains("Apply complete!")
        .lacks("local_file.f: Creating")
        .lacks("null_resource.quick: Creating");
    assert!(
        again
            .stdout
            .contains("null_resource.after_slow: Creation complete"),
        "{}",
        again.stdout
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        ws.state_list(),
        vec![
            "local_file.f",
            "null_resource.after_slow",
            "null_resource.quick",
            "time_sleep.slow"
        ]
    );
    ws.assert_converged();
}

#[test]
fn ctrl_c_finishes_operations_in_flight_saves_them_and_exits_130() {
    let ws = Ws::with_main(
        r#"
resource "time_sleep" "fast" {
  create_duration = "100ms"
}

resource "time_sleep" "medium" {
  create_duration = "300ms"
}

resource "time_sleep" "slow" {
  create_duration = "1500ms"
}

resource "null_resource" "after_slow" {
  depends_on = [time_sleep.slow]
}
"#,
    );
    let run = ws.spawn(&["apply", "--auto-approve"]);
    run.wait_for_line(
        &["time_sleep.medium: Creation complete"],
        Duration::from_secs(20),
    );
    run.signal(libc::SIGINT);
    let out = run.finish();
    out.expect_code(130)
        .contains("Interrupt received")
        .contains("Apply interrupted")
        .lacks("null_resource.after_slow: Creating");
    // The interrupted serial is recorded as incomplete, and holds what finished; the
    // slow sleep in flight was cancelled, not waited out, as Terraform's time provider
    // does.
    let list = ws.state_list();
    assert_eq!(
        list,
        vec!["time_sleep.fast", "time_sleep.medium"],
        "{}",
        out.all()
    );
    assert!(
        out.all().contains("the sleep was interrupted"),
        "{}",
        out.all()
    );
    ws.run(&["state", "history"])
        .success()
        .contains("incomplete");

    let again = ws.apply();
    again
        .contains("Resources: 2 added, 0 changed, 0 destroyed.")
        .lacks("time_sleep.fast: Creating");
    assert_eq!(ws.state_list().len(), 4);
    ws.assert_converged();
}

#[test]
fn a_corrupt_state_file_is_refused_and_left_untouched() {
    let ws = Ws::with_main("resource \"null_resource\" \"a\" {}\n");
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::create_dir_all(ws.file(".terrane")).expect("mkdir");
    std::fs::write(ws.file(".terrane/state.db"), &garbage).expect("write");

    for args in [
        &["plan"][..],
        &["apply", "--auto-approve"],
        &["state", "list"],
        &["destroy", "--auto-approve"],
        &["output"],
    ] {
        ws.run(args).expect_code(1).contains("not a terrane state");
    }
    assert_eq!(
        std::fs::read(ws.file(".terrane/state.db")).expect("read"),
        garbage,
        "the state file was modified"
    );
    let names: Vec<String> = std::fs::read_dir(ws.file(".terrane"))
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["state.db"],
        "no side files next to a refused state"
    );
}
