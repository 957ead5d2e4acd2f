//! `terrane state ...` and the state history.

use crate::Ws;

const CONFIG: &str = r#"
resource "terraform_data" "a" {
  input = "alpha"
}

resource "terraform_data" "b" {
  input = "beta"
}

resource "local_file" "f" {
  filename = "${path.module}/f.txt"
  content  = terraform_data.a.output
}
"#;

/// (serial, operation, status, changes) rows of `state history`.
fn history(ws: &Ws) -> Vec<(u64, String, String, u64)> {
    let o = ws.run(&["state", "history"]);
    o.success();
    o.stdout
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // SERIAL DATE TIME OPERATION... USER STATUS CHANGES; the operation may contain a space.
            let n = f.len();
            assert!(n >= 7, "unexpected history line {l:?}");
            (
                f[0].parse().expect("serial"),
                f[3..n - 3].join(" "),
                f[n - 2].to_string(),
                f[n - 1].parse().expect("changes"),
            )
        })
        .collect()
}

#[test]
fn list_and_show() {
    let ws = Ws::with_main(CONFIG);
    ws.apply();
    assert_eq!(
        ws.state_list(),
        vec!["local_file.f", "terraform_data.a", "terraform_data.b"]
    );
    let filtered = ws.run(&["state", "list", "terraform_data."]);
    assert_eq!(
        filtered.stdout.lines().collect::<Vec<_>>(),
        vec!["terraform_data.a", "terraform_data.b"]
    );

    ws.run(&["state", "show", "terraform_data.a"])
        .success()
        .contains("# terraform_data.a:")
        .contains("resource \"terraform_data\" \"a\" {")
        .contains("input  = \"alpha\"")
        .lacks("beta");
    ws.run(&["state", "show", "local_file.f"])
        .success()
        .contains("content")
        .contains("\"alpha\"");
    ws.run(&["state", "show", "terraform_data.nope"])
        .expect_code(1)
        .contains("No instance found");
}

#[test]
fn mv_renames_without_touching_the_object() {
    let ws = Ws::with_main(CONFIG);
    ws.apply();
    ws.run(&["state", "mv", "terraform_data.b", "terraform_data.c"])
        .success()
        .contains("Moved 1 object");
    assert_eq!(
        ws.state_list(),
        vec!["local_file.f", "terraform_data.a", "terraform_data.c"]
    );
    ws.run(&["state", "show", "terraform_data.c"])
        .success()
        .contains("\"beta\"");
    // Config now names .b: the moved object is an orphan to destroy and .b is new.
    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("# terraform_data.c will be destroyed")
        .contains("# terraform_data.b will be created");
    // Renaming the block to match makes the plan clean again.
    ws.write(
        "main.tf",
        &CONFIG.replace("\"terraform_data\" \"b\"", "\"terraform_data\" \"c\""),
    );
    ws.assert_converged();
    // Refusals.
    ws.run(&["state", "mv", "terraform_data.c", "terraform_data.a"])
        .expect_code(1)
        .contains("already exists");
    ws.run(&["state", "mv", "terraform_data.c", "local_file.c"])
        .expect_code(1)
        .contains("type must stay the same");
    ws.run(&["state", "mv", "terraform_data.zzz", "terraform_data.y"])
        .expect_code(1)
        .contains("No instance found");
}

#[test]
fn rm_forgets_without_destroying() {
    let ws = Ws::with_main(CONFIG);
    ws.apply();
    ws.run(&["state", "rm", "local_file.f"])
        .success()
        .contains("Removed local_file.f");
    assert_eq!(
        ws.state_list(),
        vec!["terraform_data.a", "terraform_data.b"]
    );
    assert_eq!(
        ws.read("f.txt"),
        "alpha",
        "state rm must not delete the real object"
    );
    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("# local_file.f will be created");
    ws.run(&["state", "rm", "local_file.f"])
        .expect_code(1)
        .contains("No instance found");
}

#[test]
fn history_records_every_operation_with_increasing_serials() {
    let ws = Ws::with_main(CONFIG);
    ws.run(&["state", "history"])
        .success()
        .contains("No state history yet");
    ws.apply();
    ws.write("main.tf", &CONFIG.replace("\"beta\"", "\"gamma\""));
    ws.apply();
    ws.run(&["state", "rm", "terraform_data.b"]).success();
    ws.run(&["destroy", "--auto-approve"]).success();
    // A no-op apply writes no serial.
    ws.run(&["apply", "--auto-approve", "--destroy"]).success();

    let h = history(&ws);
    let serials: Vec<u64> = h.iter().map(|r| r.0).collect();
    assert_eq!(serials, vec![1, 2, 3, 4], "{h:?}");
    let ops: Vec<&str> = h.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(ops, vec!["apply", "apply", "state rm", "destroy"], "{h:?}");
    assert!(h.iter().all(|r| r.2 == "complete"), "{h:?}");
    assert_eq!(h[0].3, 3, "first apply wrote three instances: {h:?}");

    // Older serials stay readable.
    ws.run(&["state", "show", "terraform_data.b", "--serial", "1"])
        .success()
        .contains("\"beta\"");
    ws.run(&["state", "show", "terraform_data.b", "--serial", "2"])
        .success()
        .contains("\"gamma\"");
    ws.run(&["state", "show", "terraform_data.b", "--serial", "3"])
        .expect_code(1);
    assert!(ws.state_list().is_empty());
}
