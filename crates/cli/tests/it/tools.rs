//! fmt, validate, graph, and the quickstart example end to end.

use crate::{mode_of, repo_root, Ws};

#[test]
fn fmt_check_then_fmt() {
    let ws = Ws::with_main(
        "resource \"null_resource\" \"a\" {\ntriggers = {\n  x    = \"1\"\n  yy = \"2\"\n}\n}\n",
    );
    let before = ws.read("main.tf");
    ws.run(&["fmt", "--check"])
        .expect_code(3)
        .contains("main.tf");
    assert_eq!(ws.read("main.tf"), before, "fmt --check must not write");
    ws.run(&["fmt"]).success().contains("main.tf");
    assert_eq!(ws.read("main.tf"), "resource \"null_resource\" \"a\" {\n  triggers = {\n    x  = \"1\"\n    yy = \"2\"\n  }\n}\n");
    ws.run(&["fmt", "--check"]).success();
    let again = ws.run(&["fmt"]);
    assert_eq!(again.success().stdout, "", "formatting is idempotent");
}

#[test]
fn fmt_indents_a_multi_line_value_once_and_leaves_its_first_line_unaligned() {
    // Terraform's canonical style (hclwrite): a line opening a multi-line value adds
    // one indent level however many brackets it opens, and is not aligned with the
    // one-line attributes before it.
    let canonical = "locals {\n  a  = 1\n  bb = 2\n  long_name = jsonencode({\n    k = 1\n  })\n  tags = {\n    x = \"y\"\n  }\n}\n";
    let ws = Ws::with_main(canonical);
    ws.run(&["fmt", "--check"]).success();
    ws.write("main.tf", "locals {\n  a = 1\n  bb    = 2\n  long_name   =   jsonencode({\n          k = 1\n  })\n tags = {\n x = \"y\"\n}\n}\n");
    ws.run(&["fmt"]).success();
    assert_eq!(ws.read("main.tf"), canonical);
}

#[test]
fn fmt_refuses_a_file_that_does_not_parse() {
    let ws = Ws::with_main("resource \"null_resource\" \"a\" {\n");
    ws.run(&["fmt"]).expect_code(1).contains("does not parse");
    assert_eq!(ws.read("main.tf"), "resource \"null_resource\" \"a\" {\n");
}

#[test]
fn validate_and_graph_on_the_quickstart() {
    let ws = Ws::copy_of(&repo_root().join("examples/quickstart"));
    ws.run(&["validate"])
        .success()
        .contains("The configuration is valid.");
    ws.run(&["fmt", "--check", "--recursive"]).success();
    let g = ws.run(&["graph"]);
    g.success();
    assert!(g.stdout.starts_with("digraph"), "{}", g.stdout);
    assert!(g.stdout.trim_end().ends_with('}'));
    assert!(
        g.stdout
            .contains("\"null_resource.deploy_marker\" -> \"module.greeting"),
        "{}",
        g.stdout
    );
    assert!(
        g.stdout
            .contains("\"local_file.service\" -> \"random_id.deployment\""),
        "{}",
        g.stdout
    );
    // Neither touches state.
    assert!(!ws.exists(".terrane"));
}

#[test]
fn quickstart_apply_replan_destroy() {
    let ws = Ws::copy_of(&repo_root().join("examples/quickstart"));
    let apply = ws.apply();
    apply
        .contains("Apply complete! Resources: 7 added, 0 changed, 0 destroyed.")
        .contains("db_password   = (sensitive value)");
    let api = ws.read("out/dev/api.json");
    let doc: serde_json::Value = serde_json::from_str(&api).expect("api.json is JSON");
    assert_eq!(doc["service"], "api");
    assert_eq!(doc["port"], 9090);
    assert_eq!(doc["labels"]["managed_by"], "terrane");
    let deployment = ws.run(&["output", "deployment_id", "--raw"]).stdout.clone();
    assert_eq!(doc["deployment"], deployment.as_str());
    assert_eq!(mode_of(&ws.file("out/dev/api.json")), 0o644);
    let password = ws.read("out/dev/db-password.txt");
    assert_eq!(password.len(), 20);
    assert_eq!(mode_of(&ws.file("out/dev/db-password.txt")), 0o700);
    assert!(
        !apply.all().contains(&password),
        "the password leaked into apply output"
    );
    assert_eq!(ws.run(&["output", "db_password", "--raw"]).stdout, password);
    assert!(ws.read("out/dev/README.txt").contains("- api\n- web"));

    ws.assert_converged();

    // The validation block rejects an unknown environment.
    ws.run(&["plan", "--var", "environment=qa"])
        .expect_code(1)
        .contains("environment must be one of dev, staging or prod.");

    ws.run(&["destroy", "--auto-approve"])
        .success()
        .contains("Destroy complete! Resources: 7 destroyed.")
        .lacks("added");
    for f in ["api.json", "web.json", "db-password.txt", "README.txt"] {
        assert!(!ws.exists(&format!("out/dev/{f}")), "{f} survived destroy");
    }
    assert!(ws.state_list().is_empty());
}
