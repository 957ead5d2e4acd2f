//! What a new user hit on the first day (issue 20): agents side by side, closed
//! pipes, the autoscaler's first window, `status`, `validate`, `dynamic` blocks.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::agent::{status, wait_until};
use crate::{Cleanup, Ws};

fn service(name: &str) -> String {
    format!(
        r#"
resource "local_service" "web" {{
  name     = "{name}"
  command  = "sh"
  args     = ["-c", "exec python3 -m http.server $PORT --bind $HOST"]
  replicas = 1
  health_check {{
    http_path = "/"
    interval  = "200ms"
  }}
}}
"#
    )
}

#[test]
fn two_workspaces_run_their_agents_side_by_side() {
    let (a, b) = (
        Ws::with_main(&service("one")),
        Ws::with_main(&service("two")),
    );
    let _ca = Cleanup(&a);
    let _cb = Cleanup(&b);
    for ws in [&a, &b] {
        // No address chosen: each agent picks its own.
        let mut c = ws.cmd(&["apply", "--auto-approve"]);
        c.env_remove("TERRANE_AGENT_LISTEN");
        ws.run_cmd(c).success().contains("1 added");
    }
    let (sa, sb) = (status(&a), status(&b));
    let (addr_a, addr_b) = (
        sa["agent"]["address"].as_str().unwrap().to_string(),
        sb["agent"]["address"].as_str().unwrap().to_string(),
    );
    assert_ne!(addr_a, addr_b);
    assert!(addr_a.starts_with("127.0.0.1:") && !addr_a.ends_with(":7480"));
    assert_eq!(sa["services"][0]["name"], "one");
    assert_eq!(sb["services"][0]["name"], "two");
}

#[test]
fn an_agent_that_cannot_start_says_why_at_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().unwrap().port();
    let ws = Ws::with_main(&service("web"));
    let _cleanup = Cleanup(&ws);
    let started = Instant::now();
    ws.run_env(
        &["apply", "--auto-approve"],
        &[("TERRANE_AGENT_LISTEN", &format!("127.0.0.1:{port}"))],
    )
    .expect_code(1)
    .contains("could not start")
    .contains(&format!("cannot listen on 127.0.0.1:{port}"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(ws.state_list().is_empty());
}

const FILES: &str = r#"
resource "local_file" "f" {
  for_each = toset(["a", "b", "c"])
  filename = "${path.module}/out/${each.key}.txt"
  content  = "file ${each.key}\n"
}

output "names" {
  value = [for f in local_file.f : f.filename]
}
"#;

/// Runs terrane with its stdout already closed by the reader (as `| head -0` does).
fn with_closed_stdout(ws: &Ws, args: &[&str]) -> (Option<i32>, String) {
    let mut c = ws.cmd(args);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn terrane");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_a_command_quietly_and_an_apply_still_records_its_work() {
    let ws = Ws::with_main(FILES);
    // The apply's reader went away before it printed anything: it still applies.
    let (code, stderr) = with_closed_stdout(&ws, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(ws.state_list().len(), 3, "the apply must record its work");
    assert!(ws.exists("out/c.txt"));
    for args in [
        &["show"][..],
        &["state", "list"],
        &["graph"],
        &["output", "--json"],
        &["plan"],
        &["validate"],
    ] {
        let (code, stderr) = with_closed_stdout(&ws, args);
        assert!(
            matches!(code, Some(0) | Some(141)),
            "{args:?} exited {code:?}: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_new_autoscaler_keeps_the_configured_count_and_status_shows_it() {
    let lb_port = crate::free_port();
    let ws = Ws::with_main(&format!(
        r#"
resource "local_service" "web" {{
  name     = "web"
  command  = "sh"
  args     = ["-c", "exec python3 -m http.server $PORT --bind $HOST"]
  replicas = 3
  health_check {{
    http_path = "/"
    interval  = "200ms"
  }}
}}

resource "local_load_balancer" "web" {{
  name     = "web-lb"
  listen   = "127.0.0.1:{lb_port}"
  services = [local_service.web.id]
}}

resource "local_autoscaler" "web" {{
  service_id   = local_service.web.id
  min_replicas = 1
  max_replicas = 6
  period       = "200ms"
  metric {{
    type   = "requests_per_second"
    target = 200
  }}
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    ws.apply();
    // Idle for many periods, well inside the default 300 s window: still 3.
    wait_until("the autoscaler decided", Duration::from_secs(10), || {
        status(&ws)["autoscalers"][0]["metric_value"].is_number()
    });
    std::thread::sleep(Duration::from_secs(2));
    let st = status(&ws);
    let svc = &st["services"][0];
    assert_eq!(svc["replicas_desired"], 3, "{st:#}");
    assert_eq!(svc["replicas_ready"], 3, "{st:#}");
    assert_eq!(svc["autoscaled"], true, "{st:#}");
    let a = &st["autoscalers"][0];
    assert_eq!(a["current"], 3, "{st:#}");
    assert_eq!(a["desired"], 3, "{st:#}");
    assert_eq!(a["metric"], "requests_per_second");
    assert!(
        a["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("stabilization window"),
        "{st:#}"
    );
    let lb = &st["load_balancers"][0];
    assert_eq!(lb["name"], "web-lb");
    assert_eq!(lb["address"], format!("127.0.0.1:{lb_port}"));
    assert_eq!(lb["backends"].as_array().map(Vec::len), Some(3), "{st:#}");
    let human = ws.run(&["status"]);
    human
        .success()
        .contains("3/3 ready")
        .contains("Load balancers")
        .contains("web-lb")
        .contains("Autoscalers")
        .contains("3 current, 3 desired");
}

#[test]
fn validate_reports_unknown_functions_argument_counts_and_constant_type_errors() {
    let ws = Ws::with_main(
        r#"
variable "name" {
  type    = string
  default = "x"
}

locals {
  a = upperr("x")
  b = 1 + "two"
  c = upper(var.name, "extra")
  fine = upper(var.name)
}
"#,
    );
    let validate = ws.run(&["validate"]);
    validate
        .expect_code(1)
        .contains("Call to unknown function")
        .contains("upperr")
        .contains("main.tf line 8")
        .contains("Invalid operand")
        .contains("main.tf line 9")
        .contains("main.tf line 10")
        .lacks("Success!");
    // The same diagnostics as plan's.
    let plan = ws.run(&["plan"]);
    plan.expect_code(1);
    for needle in ["Call to unknown function", "Invalid operand"] {
        assert!(plan.all().contains(needle), "{}", plan.all());
    }
    let json = ws.run(&["validate", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["error_count"], 3, "{doc:#}");
}

#[test]
fn references_inside_dynamic_blocks_are_local_to_them() {
    let port = crate::free_port();
    let ws = Ws::with_main(&format!(
        r#"
variable "routes" {{
  default = {{
    api    = {{ prefix = "/api", backend = "127.0.0.1:1" }}
    static = {{ prefix = "/static", backend = "127.0.0.1:2" }}
  }}
}}

variable "hosts" {{
  default = ["a.test", "b.test"]
}}

resource "local_load_balancer" "lb" {{
  listen   = "127.0.0.1:{port}"
  backends = ["127.0.0.1:3"]

  dynamic "route" {{
    for_each = var.routes
    content {{
      path_prefix = route.value.prefix
      backends    = [route.value.backend]
    }}
  }}

  dynamic "route" {{
    for_each = var.hosts
    iterator = h
    content {{
      host     = h.value
      backends = ["127.0.0.1:${{4 + h.key}}"]
    }}
  }}
}}
"#
    ));
    ws.run(&["validate"]).success().contains("Success!");
    let plan = ws.run(&["plan", "--json"]);
    plan.success();
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan json");
    let routes = &doc["planned_values"]["root_module"]["resources"][0]["values"]["route"];
    let routes = routes.as_array().expect("routes planned");
    assert_eq!(routes.len(), 4, "{routes:#?}");
    let text = serde_json::to_string(routes).unwrap();
    for needle in ["/api", "/static", "a.test", "b.test", "127.0.0.1:5"] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
}

#[test]
fn an_iterator_is_a_name_only_inside_its_dynamic_block() {
    let ws = Ws::with_main(
        r#"
variable "rules" {
  default = [{ port = 80, cidrs = ["10.0.0.0/8", "192.168.0.0/16"] }]
}

resource "local_load_balancer" "lb" {
  listen   = "127.0.0.1:1"
  backends = ["127.0.0.1:3"]

  dynamic "route" {
    for_each = var.rules
    iterator = rule
    content {
      path_prefix = "/${rule.value.port}"
      backends    = [for c in rule.value.cidrs : "${rule.key}-${c}"]
    }
  }
}
"#,
    );
    ws.run(&["validate"]).success();
    // Outside its dynamic block, the iterator is not a name.
    ws.write(
        "extra.tf",
        r#"
output "leak" {
  value = rule.value
}
"#,
    );
    ws.run(&["validate"])
        .expect_code(1)
        .contains("extra.tf")
        .contains("rule");
}

#[test]
fn each_refresh_is_announced_once_and_destroy_counts_only_what_it_destroyed() {
    let ws = Ws::with_main(FILES);
    ws.apply();
    let plan = ws.run(&["plan"]);
    plan.success();
    for key in ["a", "b", "c"] {
        let line = format!("local_file.f[\"{key}\"]: Refreshing state...");
        assert_eq!(
            plan.stdout.matches(&line).count(),
            1,
            "{line}\n{}",
            plan.stdout
        );
    }
    ws.run(&["destroy", "--auto-approve"])
        .success()
        .contains("Destroy complete! Resources: 3 destroyed.")
        .lacks("0 added");
}

#[test]
fn a_value_that_is_not_a_number_says_so_before_anything_is_refreshed() {
    let ws = Ws::with_main(
        r#"
variable "lb_port" {
  type = number
}

variable "enabled" {
  type    = bool
  default = false
}

resource "local_file" "f" {
  filename = "${path.module}/port.txt"
  content  = "${var.lb_port} ${var.enabled}"
}
"#,
    );
    ws.run(&[
        "apply",
        "--auto-approve",
        "--var",
        "lb_port=8080",
        "--var",
        "enabled=true",
    ])
    .success();
    assert_eq!(ws.read("port.txt"), "8080 true");
    ws.run(&["plan", "--var", "lb_port=abc"])
        .expect_code(1)
        .contains("declared as number")
        .contains("\"abc\"")
        .lacks("alone is not a reference")
        .lacks("Refreshing state");
}

#[test]
fn the_scan_line_of_a_plan_counts_what_terrane_scan_counts() {
    // Three files the scan's rules read, four resources they do not.
    let ws = Ws::with_main(&format!(
        "{FILES}\nresource \"null_resource\" \"n\" {{\n  count = 4\n}}\n"
    ));
    let checked = |text: &str| -> String {
        let line = text
            .lines()
            .find(|l| l.contains("resources checked against"))
            .unwrap_or_else(|| panic!("no scan line in {text}"))
            .to_string();
        line.split("; ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_default()
            .to_string()
    };
    let plan = ws.run(&["plan"]);
    plan.success();
    // Exit 2: the files' default permissions are findings.
    let scan = ws.run(&["scan"]);
    scan.expect_code(2);
    assert_eq!(checked(&plan.all()), "7", "{}", plan.all());
    assert_eq!(checked(&scan.all()), "7", "{}", scan.all());
}

#[test]
fn round_robin_takes_each_backend_in_turn() {
    let port = crate::free_port();
    let ws = Ws::with_main(&format!(
        r#"
resource "local_service" "web" {{
  name     = "web"
  command  = "sh"
  args     = ["-c", "mkdir -p www/$PORT && echo $PORT > www/$PORT/index.html && cd www/$PORT && exec python3 -m http.server $PORT --bind $HOST"]
  working_dir = "${{path.module}}"
  replicas = 3
  health_check {{
    http_path = "/"
    interval  = "100ms"
  }}
}}

resource "local_load_balancer" "web" {{
  listen    = "127.0.0.1:{port}"
  algorithm = "round_robin"
  services  = [local_service.web.id]
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    ws.apply();
    wait_until(
        "the balancer routes to all three replicas",
        Duration::from_secs(10),
        || {
            crate::agent::lb_status(&ws)[0]["backends"]
                .as_array()
                .is_some_and(|b| b.len() == 3)
        },
    );
    let lb = format!("127.0.0.1:{port}");
    let answers: Vec<String> = (0..9)
        .map(|_| {
            let body = crate::agent::http_get_body(&lb);
            body.trim().to_string()
        })
        .collect();
    for w in answers.windows(3) {
        let mut seen = w.to_vec();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 3, "not one each in turn: {answers:?}");
    }
}

#[test]
fn a_destroy_after_agent_stop_leaves_no_agent_running() {
    let ws = Ws::with_main(&service("web"));
    let _cleanup = Cleanup(&ws);
    ws.apply();
    ws.run(&["agent", "stop"]).success();
    ws.run(&["destroy", "--auto-approve"])
        .success()
        .contains("Destroy complete! Resources: 1 destroyed.")
        .contains("stopped the workspace agent again");
    assert!(status(&ws)["agent"].is_null(), "an agent was left running");
}

#[test]
fn ctrl_c_cancels_a_time_sleep_instead_of_waiting_it_out() {
    let ws = Ws::with_main(
        r#"
resource "time_sleep" "long" {
  create_duration = "60s"
}
"#,
    );
    let run = ws.spawn(&["apply", "--auto-approve"]);
    run.wait_for_line(&["time_sleep.long: Creating..."], Duration::from_secs(20));
    let interrupted = Instant::now();
    run.signal(libc::SIGINT);
    let out = run.finish();
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "took {:?} after Ctrl-C",
        interrupted.elapsed()
    );
    out.expect_code(130).contains("the sleep was interrupted");
    assert!(ws.state_list().is_empty());
}

#[test]
fn ignore_changes_takes_attribute_paths_with_indexes() {
    let config = |a: &str, b: &str| {
        format!(
            r#"
resource "null_resource" "n" {{
  triggers = {{
    a = "{a}"
    b = "{b}"
  }}
  lifecycle {{
    ignore_changes = [triggers["a"]]
  }}
}}
"#
        )
    };
    let ws = Ws::with_main(&config("1", "1"));
    ws.run(&["validate"]).success();
    ws.apply();
    // The ignored key changes: nothing to do.
    ws.write("main.tf", &config("2", "1"));
    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");
    // Another key changes: replaced, keeping the ignored key's old value.
    ws.write("main.tf", &config("2", "2"));
    ws.run(&["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("must be replaced");
    ws.apply();
    let shown = ws.run(&["state", "show", "null_resource.n"]);
    shown.success();
    assert!(
        shown.stdout.contains("\"a\" = \"1\"") || shown.stdout.contains("a = \"1\""),
        "{}",
        shown.stdout
    );
}

#[test]
fn show_of_a_saved_plan_as_json_has_the_configuration_section_of_plan_json() {
    let ws = Ws::with_main(FILES);
    ws.run(&["plan", "--out", "p.plan"]).success();
    let live: serde_json::Value =
        serde_json::from_str(&ws.run(&["plan", "--json"]).stdout).expect("plan json");
    let saved = ws.run(&["show", "--json", "p.plan"]);
    saved.success();
    let saved: serde_json::Value = serde_json::from_str(&saved.stdout).expect("show json");
    assert!(saved["configuration"]["root_module"]["resources"].is_array());
    assert_eq!(saved["configuration"], live["configuration"]);
    assert_eq!(saved["resource_changes"], live["resource_changes"]);
}

/// A plan saved beside `terraform.tfvars` is shown with its configuration and applies:
/// the variable file is an input of the plan, not part of the configuration it checks.
#[test]
fn a_saved_plan_made_with_terraform_tfvars_shows_its_configuration_and_applies() {
    let ws = Ws::with_main(
        "variable \"name\" { type = string }\nresource \"terraform_data\" \"a\" { input = var.name }\n",
    );
    ws.write("terraform.tfvars", "name = \"from-tfvars\"\n");
    ws.run(&["plan", "-out=p.plan"]).success();
    let shown = ws.run(&["show", "-json", "p.plan"]);
    shown.success().lacks("configuration changed");
    let doc: serde_json::Value = serde_json::from_str(&shown.stdout).expect("show json");
    assert_eq!(
        doc["configuration"]["root_module"]["resources"][0]["address"],
        "terraform_data.a"
    );
    ws.run(&["apply", "p.plan"]).success();
    ws.write("terraform.tfvars", "name = \"changed\"\n");
    ws.run(&["plan", "-detailed-exitcode"]).expect_code(2);
}

/// Nested `dynamic` blocks, an `iterator`, `each` inside them, `for_each` over a map and
/// over lists, on a type whose blocks nest (no call reaches AWS: nothing exists yet).
#[cfg(feature = "aws")]
#[test]
fn nested_dynamic_blocks_expand_with_their_iterators() {
    let ws = Ws::with_main(NESTED_DYNAMIC);
    ws.run(&["validate"]).success().contains("Success!");
    let plan = ws.run(&["plan", "--json"]);
    plan.success();
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan json");
    let action = |key: &str| {
        doc["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["index"] == key)
            .unwrap_or_else(|| panic!("no listener {key}"))["change"]["after"]["default_action"][0]
            .clone()
    };
    let http = action("http");
    assert_eq!(http["type"], "redirect", "{http:#}");
    assert_eq!(http["redirect"]["status_code"], "HTTP_301", "{http:#}");
    assert_eq!(http["redirect"]["port"], "443", "{http:#}");
    assert!(http["fixed_response"].is_null(), "{http:#}");
    let other = action("other");
    assert_eq!(other["type"], "fixed-response", "{other:#}");
    assert_eq!(
        other["fixed_response"]["message_body"], "listener 0 of other",
        "{other:#}"
    );
    assert!(other["redirect"].is_null(), "{other:#}");
}

#[cfg(feature = "aws")]
const NESTED_DYNAMIC: &str = r#"provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
}

variable "listeners" {
  default = {
    http  = { port = 80, redirects = [{ code = "HTTP_301", port = "443" }] }
    other = { port = 8080, redirects = [] }
  }
}

resource "aws_lb_listener" "l" {
  for_each          = var.listeners
  load_balancer_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
  port              = each.value.port

  dynamic "default_action" {
    for_each = [each.value]
    iterator = act
    content {
      type = length(act.value.redirects) > 0 ? "redirect" : "fixed-response"
      dynamic "redirect" {
        for_each = act.value.redirects
        content {
          status_code = redirect.value.code
          port        = redirect.value.port
        }
      }
      dynamic "fixed_response" {
        for_each = length(act.value.redirects) > 0 ? [] : [act.key]
        content {
          content_type = "text/plain"
          message_body = "listener ${fixed_response.value} of ${each.key}"
          status_code  = "404"
        }
      }
    }
  }
}
"#;

#[test]
fn a_repeated_object_key_is_accepted_and_the_last_one_wins() {
    let ws = Ws::with_main(
        r#"
locals {
  x = { a = 1, b = 2, a = 3 }
  y = {
    "k" = "first"
    A   = "other"
    "k" = "second"
  }
}

output "x" {
  value = local.x
}

output "y" {
  value = local.y
}
"#,
    );
    ws.run(&["validate"]).success();
    ws.run(&["fmt", "--check"]).success();
    ws.apply();
    let out = ws.run(&["output", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(doc["x"]["value"], serde_json::json!({"a": 3, "b": 2}));
    assert_eq!(
        doc["y"]["value"],
        serde_json::json!({"k": "second", "A": "other"})
    );
    // A mistake after a repeated key is still reported where it is.
    ws.write("bad.tf", "locals {\n  z = { a = 1, a = 2 }\n  w = (\n}\n");
    ws.run(&["validate"]).expect_code(1).contains("bad.tf line");
}
