//! Cost estimates through the binary: the line every plan ends with, `terrane cost`
//! on terrane's own plans and on Terraform JSON plans, usage and pricing files,
//! `cost diff`, and budgets enforced as policy (against moto, with the `aws` feature).

use serde_json::{json, Value as Json};

use crate::Ws;

/// The built-in catalog's price for a row, read from the CSV the binary embeds.
fn catalog_price(service: &str, kind: &str, region: &str, sku: &str) -> f64 {
    let csv = include_str!("../../../cost/data/aws-prices.csv");
    csv.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0] == service && f[1] == kind && f[2] == region && f[3] == sku)
                .then(|| f[5].parse().expect("a price"))
        })
        .unwrap_or_else(|| panic!("no catalog row {service} {kind} {region} {sku}"))
}

fn money(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn json_out(ws: &Ws, args: &[&str]) -> Json {
    let out = ws.run(args);
    out.success();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

fn resource<'a>(doc: &'a Json, address: &str) -> &'a Json {
    doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == address)
        .unwrap_or_else(|| panic!("{address} in {doc:#}"))
}

#[test]
fn local_resources_cost_nothing_and_say_so() {
    let ws = Ws::with_main(
        r#"
resource "local_file" "a" {
  filename        = "${path.module}/a.txt"
  content         = "a"
  file_permission = "0644"
}
resource "random_id" "x" {
  byte_length = 4
}
"#,
    );
    ws.run(&["plan"])
        .success()
        .contains("Monthly cost: $0.00 before, $0.00 after this plan ($0.00). 2 resources cost nothing; see `terrane cost`.");
    let doc = json_out(&ws, &["cost", "--format", "json"]);
    assert_eq!(doc["total_monthly_cost"], 0.0);
    assert_eq!(doc["summary"]["free"], 2);
    assert_eq!(resource(&doc, "local_file.a")["status"], "free");
    assert_eq!(
        resource(&doc, "local_file.a")["reason"],
        "runs on this host: no cloud charge"
    );
    ws.run(&["cost"])
        .success()
        .contains("Free (2):")
        .contains("local_file.a (runs on this host: no cloud charge)")
        .contains("Total:        $0.00/month");
    // The policy input carries the cost too.
    let plan = json_out(&ws, &["plan", "--json"]);
    assert_eq!(plan["cost"]["summary"]["resources"], 2);
}

/// A Terraform JSON plan (`terraform show -json`): one instance in the prior state
/// grows from m5.large to m5.xlarge, a NAT gateway and a bucket are added, a volume is
/// deleted; eu-west-1 from the provider configuration.
fn terraform_plan() -> Json {
    let aws = "registry.terraform.io/hashicorp/aws";
    json!({
        "format_version": "1.2",
        "terraform_version": "1.9.0",
        "prior_state": {"values": {"root_module": {"resources": [
            {"address": "aws_instance.web", "mode": "managed", "type": "aws_instance", "name": "web",
             "provider_name": aws, "values": {"instance_type": "m5.large", "ami": "ami-1"}},
            {"address": "aws_ebs_volume.old", "mode": "managed", "type": "aws_ebs_volume", "name": "old",
             "provider_name": aws, "values": {"size": 100, "type": "gp2"}}
        ]}}},
        "resource_changes": [
            {"address": "aws_instance.web", "mode": "managed", "type": "aws_instance", "name": "web",
             "provider_name": aws, "change": {"actions": ["update"],
               "before": {"instance_type": "m5.large", "ami": "ami-1"},
               "after": {"instance_type": "m5.xlarge", "ami": "ami-1"}, "after_unknown": {}}},
            {"address": "aws_nat_gateway.egress", "mode": "managed", "type": "aws_nat_gateway", "name": "egress",
             "provider_name": aws, "change": {"actions": ["create"], "before": null,
               "after": {"connectivity_type": "public"}, "after_unknown": {"id": true}}},
            {"address": "aws_s3_bucket.logs", "mode": "managed", "type": "aws_s3_bucket", "name": "logs",
             "provider_name": aws, "change": {"actions": ["create"], "before": null,
               "after": {"bucket": "logs"}, "after_unknown": {"id": true}}},
            {"address": "aws_ebs_volume.old", "mode": "managed", "type": "aws_ebs_volume", "name": "old",
             "provider_name": aws, "change": {"actions": ["delete"], "before": {"size": 100, "type": "gp2"}, "after": null}},
            {"address": "aws_instance.west", "mode": "managed", "type": "aws_instance", "name": "west",
             "provider_name": aws, "change": {"actions": ["create"], "before": null,
               "after": {"instance_type": "t3.micro", "ami": "ami-2"}, "after_unknown": {"id": true}}},
            // A deposed object of web going away: web itself stays.
            {"address": "aws_instance.web", "mode": "managed", "type": "aws_instance", "name": "web",
             "deposed": "00000001", "provider_name": aws,
             "change": {"actions": ["delete"], "before": {"instance_type": "m5.large"}, "after": null}},
            // Its type is sensitive: never priced, never shown.
            {"address": "aws_instance.secret", "mode": "managed", "type": "aws_instance", "name": "secret",
             "provider_name": aws, "change": {"actions": ["create"], "before": null,
               "after": {"instance_type": "c5.9xlarge", "ami": "ami-3"}, "after_unknown": {},
               "after_sensitive": {"instance_type": true}}}
        ],
        "variables": {"west_region": {"value": "us-west-2"}},
        "configuration": {
            "provider_config": {
                "aws": {"name": "aws", "expressions": {"region": {"constant_value": "eu-west-1"}}},
                "aws.west": {"name": "aws", "alias": "west", "expressions": {"region": {"references": ["var.west_region"]}}}
            },
            "root_module": {"resources": [
                {"address": "aws_instance.west", "mode": "managed", "type": "aws_instance", "name": "west",
                 "provider_config_key": "aws.west", "expressions": {}}
            ]}
        }
    })
}

#[test]
fn a_terraform_json_plan_is_priced_before_and_after_from_catalog_rows() {
    let ws = Ws::new();
    ws.write("tfplan.json", &terraform_plan().to_string());
    let doc = json_out(&ws, &["cost", "--plan", "tfplan.json", "--format", "json"]);
    let (large, xlarge, nat, gp2) = (
        catalog_price("ec2", "instance_linux_on_demand", "eu-west-1", "m5.large"),
        catalog_price("ec2", "instance_linux_on_demand", "eu-west-1", "m5.xlarge"),
        catalog_price("vpc", "nat_gateway", "eu-west-1", "nat_gateway"),
        catalog_price("ebs", "volume_storage", "eu-west-1", "gp2"),
    );
    let west = catalog_price("ec2", "instance_linux_on_demand", "us-west-2", "t3.micro");
    let before = money(large * 730.0 + 100.0 * gp2);
    let after = money(xlarge * 730.0 + nat * 730.0 + west * 730.0);
    assert_eq!(doc["total_monthly_cost_before"].as_f64(), Some(before));
    assert_eq!(doc["total_monthly_cost"].as_f64(), Some(after));
    assert_eq!(
        doc["diff_monthly_cost"].as_f64(),
        Some(money(after - before))
    );
    // The aliased provider's resource is priced in its own region (from a variable).
    assert_eq!(resource(&doc, "aws_instance.west")["region"], "us-west-2");
    // The sensitive instance type appears nowhere; the resource says why.
    let raw = serde_json::to_string(&doc).unwrap();
    assert!(!raw.contains("c5.9xlarge"), "{raw}");
    let secret = resource(&doc, "aws_instance.secret");
    assert_eq!(secret["status"], "not_priced");
    assert_eq!(
        secret["components"][0]["reason"],
        "instance_type is sensitive, so it is neither shown nor priced"
    );
    let web = resource(&doc, "aws_instance.web");
    assert_eq!(web["region"], "eu-west-1");
    assert_eq!(
        web["before_monthly_cost"].as_f64(),
        Some(money(large * 730.0))
    );
    let c = &web["components"][0];
    assert_eq!(c["unit_price"].as_f64(), Some(xlarge));
    assert_eq!(c["quantity"].as_f64(), Some(730.0));
    assert_eq!(c["price"]["sku"], "m5.xlarge");
    assert!(c["price"]["source"]
        .as_str()
        .unwrap()
        .contains("ec2instances.info"));
    // The root volume's size comes from the AMI: listed as not priced, with why.
    assert_eq!(web["status"], "partly_priced");
    assert_eq!(web["components"][1]["status"], "not_priced");
    // S3 outside us-east-1: the catalog has no price, and says so.
    let logs = resource(&doc, "aws_s3_bucket.logs");
    assert_eq!(logs["status"], "not_priced");
    assert_eq!(logs["components"][0]["status"], "usage_based");
    assert_eq!(doc["removed"][0]["address"], "aws_ebs_volume.old");

    // With usage for the bucket: usage-based components get quantities, and the
    // missing eu-west-1 S3 price is a reason, not a zero.
    ws.write(
        "terrane-usage.yml",
        "version: 0.1\nresource_usage:\n  \"aws_s3_bucket.*\":\n    storage_gb: 1000\n",
    );
    let doc = json_out(&ws, &["cost", "--plan", "tfplan.json", "--format", "json"]);
    let storage = &resource(&doc, "aws_s3_bucket.logs")["components"][0];
    assert_eq!(storage["quantity"].as_f64(), Some(1000.0));
    assert_eq!(storage["status"], "not_priced");
    assert_eq!(
        storage["reason"],
        "the catalog has S3 prices for us-east-1 only, not eu-west-1"
    );
    assert_eq!(
        doc["usage_file"]
            .as_str()
            .map(|u| u.ends_with("terrane-usage.yml")),
        Some(true)
    );
}

#[test]
fn cost_diff_compares_with_a_saved_breakdown() {
    let ws = Ws::new();
    let mut plan = terraform_plan();
    ws.write("tfplan.json", &plan.to_string());
    let base = ws.run(&["cost", "--plan", "tfplan.json", "--format", "json"]);
    base.success();
    ws.write("baseline.json", &base.stdout);
    // Same plan: no changes.
    ws.run(&[
        "cost",
        "diff",
        "--compare-to",
        "baseline.json",
        "--plan",
        "tfplan.json",
    ])
    .success()
    .contains("No cost changes.");
    // Two NAT gateways' worth: the reviewer sees the instance type and the added cost.
    plan["resource_changes"][0]["change"]["after"]["instance_type"] = json!("m5.2xlarge");
    ws.write("tfplan.json", &plan.to_string());
    let d = json_out(
        &ws,
        &[
            "cost",
            "diff",
            "--compare-to",
            "baseline.json",
            "--plan",
            "tfplan.json",
            "--format",
            "json",
        ],
    );
    let (x, xx) = (
        catalog_price("ec2", "instance_linux_on_demand", "eu-west-1", "m5.xlarge"),
        catalog_price("ec2", "instance_linux_on_demand", "eu-west-1", "m5.2xlarge"),
    );
    assert_eq!(d["resources"].as_array().unwrap().len(), 1, "{d:#}");
    assert_eq!(d["resources"][0]["address"], "aws_instance.web");
    assert_eq!(
        d["diff_monthly_cost"].as_f64(),
        Some(money((xx - x) * 730.0))
    );
    ws.run(&[
        "cost",
        "diff",
        "--compare-to",
        "baseline.json",
        "--plan",
        "tfplan.json",
    ])
    .success()
    .contains("~ aws_instance.web")
    .contains("- Instance usage (Linux, on-demand, m5.xlarge)")
    .contains("+ Instance usage (Linux, on-demand, m5.2xlarge)");
    // A file that is not a breakdown: where and what.
    ws.write("bad.json", "{\"total\": 1}");
    ws.run(&[
        "cost",
        "diff",
        "--compare-to",
        "bad.json",
        "--plan",
        "tfplan.json",
    ])
    .expect_code(1)
    .contains("bad.json:1:12: not a cost breakdown")
    .contains("terrane cost --format json > bad.json");
}

#[test]
fn pricing_and_usage_files_replace_the_defaults_and_bad_ones_are_refused() {
    let ws = Ws::new();
    ws.write("tfplan.json", &terraform_plan().to_string());
    let head = "service,resource_kind,region,sku_or_type,unit,usd_per_unit,source_note\n";
    ws.write(
        "prices.csv",
        &format!(
            "{head}ec2,instance_linux_on_demand,eu-west-1,m5.xlarge,hour,1.5,our 2026 price book\n"
        ),
    );
    let doc = json_out(
        &ws,
        &[
            "cost",
            "--plan",
            "tfplan.json",
            "--format",
            "json",
            "--pricing-file",
            "prices.csv",
        ],
    );
    let c = &resource(&doc, "aws_instance.web")["components"][0];
    assert_eq!(c["unit_price"].as_f64(), Some(1.5));
    assert_eq!(c["price"]["source"], "our 2026 price book");
    // The NAT gateway has no row in that catalog: a warning naming it.
    assert!(
        doc["warnings"].as_array().unwrap().contains(&json!(
            "aws_nat_gateway.egress: no price for nat_gateway in eu-west-1 in the catalog"
        )),
        "{:#}",
        doc["warnings"]
    );
    // The same through the environment.
    let out = ws.run_env(
        &["cost", "--plan", "tfplan.json", "--format", "json"],
        &[("TERRANE_PRICING_FILE", "prices.csv")],
    );
    assert!(out.stdout.contains("our 2026 price book"), "{}", out.stdout);

    ws.write(
        "unsourced.csv",
        &format!("{head}ec2,instance_linux_on_demand,eu-west-1,m5.xlarge,hour,1.5,\n"),
    );
    ws.run(&[
        "cost",
        "--plan",
        "tfplan.json",
        "--pricing-file",
        "unsourced.csv",
    ])
    .expect_code(1)
    .contains("unsourced.csv:2: source_note is empty: every price must name where it comes from");

    ws.write(
        "terrane-usage.yml",
        "version: 0.1\nresource_usage:\n  aws_s3_bucket.logs:\n    storage_gb: lots\n",
    );
    ws.run(&["cost", "--plan", "tfplan.json"])
        .expect_code(1)
        .contains("terrane-usage.yml:4:17:");
}

#[test]
fn a_budget_block_is_checked_by_validate() {
    let ws = Ws::with_main(
        r#"
budget "team" {
  monthly_limit     = "lots"
  enforcement_level = "soft_mandatory"
}
budget "empty" {}
"#,
    );
    ws.run(&["validate"])
        .expect_code(1)
        .contains("Invalid monthly_limit value")
        .contains("monthly_limit must be a literal amount in USD per month")
        .contains("Empty budget");
}

/// A plan is priced once: its cost line and the budgets' `input.cost` share the
/// estimate (the catalog is read and every resource priced one time, not twice).
#[test]
fn a_plan_with_a_budget_is_priced_once() {
    let ws = Ws::new();
    ws.write(
        "main.tf",
        r#"
resource "local_file" "f" {
  filename = "${path.module}/out.txt"
  content  = "hello"
}

budget "team" {
  monthly_limit     = 10
  enforcement_level = "hard_mandatory"
}
"#,
    );
    let out = ws.run_env(&["plan"], &[("TERRANE_LOG", "terrane_workspace=debug")]);
    out.success()
        .contains("Monthly cost: $0.00 before, $0.00 after this plan");
    let priced = out.stderr.matches("plan priced").count();
    assert_eq!(priced, 1, "priced {priced} times:\n{}", out.stderr);
}

#[cfg(feature = "aws")]
mod aws {
    use super::*;
    use crate::aws::{Moto, PROVIDER};

    fn stack(instance_type: &str, count: u32, budget: &str) -> String {
        format!(
            r#"{PROVIDER}
data "aws_ami" "linux" {{
  most_recent = true
  owners      = ["amazon"]
  filter {{
    name   = "name"
    values = ["amzn2-ami-hvm-*-x86_64-gp2"]
  }}
}}

resource "aws_instance" "app" {{
  count         = {count}
  ami           = data.aws_ami.linux.id
  instance_type = "{instance_type}"
  metadata_options {{
    http_tokens = "required"
  }}
  root_block_device {{
    volume_size = 30
    volume_type = "gp3"
    encrypted   = true
  }}
}}

resource "aws_vpc" "main" {{
  cidr_block = "10.50.0.0/16"
}}
{budget}
"#
        )
    }

    const SOFT: &str = r#"
budget "team" {
  max_monthly_increase = 100
  enforcement_level    = "soft_mandatory"
}
"#;

    /// Applied against moto: plans end with the cost before and after, a budget blocks
    /// (soft_mandatory: until overridden with a reason; hard_mandatory: always), and
    /// a user's own Rego reads `input.cost`.
    #[test]
    fn budgets_gate_applies_like_policies() {
        let moto = Moto::start();
        let ws = Ws::new();
        let (large, xlarge, gp3) = (
            catalog_price("ec2", "instance_linux_on_demand", "us-east-1", "m5.large"),
            catalog_price("ec2", "instance_linux_on_demand", "us-east-1", "m5.xlarge"),
            catalog_price("ebs", "volume_storage", "us-east-1", "gp3"),
        );
        let one = large * 730.0 + 30.0 * gp3;
        ws.write("main.tf", &stack("m5.large", 1, SOFT));
        moto.run(&ws, &["apply", "--auto-approve"])
            .success()
            .contains(&format!(
                "Monthly cost: $0.00 before, ${one:.2} after this plan (+${one:.2})."
            ));
        let doc = {
            let out = moto.run(&ws, &["cost", "--format", "json"]);
            out.success();
            serde_json::from_str::<Json>(&out.stdout).unwrap()
        };
        assert_eq!(doc["total_monthly_cost"].as_f64(), Some(money(one)));
        assert_eq!(doc["diff_monthly_cost"].as_f64(), Some(0.0));
        ws.write("baseline.json", &doc.to_string());

        // Three bigger instances: +$ more than the $100 the budget allows per plan.
        ws.write("main.tf", &stack("m5.xlarge", 3, SOFT));
        let three = 3.0 * (xlarge * 730.0 + 30.0 * gp3);
        let added = three - one;
        let serial = ws.run(&["state", "pull"]).stdout;
        moto.run(&ws, &["apply", "--auto-approve"])
            .expect_code(1)
            .contains(&format!("Monthly cost: ${one:.2} before, ${three:.2} after this plan (+${added:.2})."))
            .contains(&format!(
                "budget \"team\": this plan adds ${added:.2} a month, more than the $100.00 one plan may add"
            ))
            .lacks("Creating...");
        assert_eq!(
            ws.run(&["state", "pull"]).stdout,
            serial,
            "a blocked apply changes nothing"
        );
        moto.run(&ws, &["cost", "diff", "--compare-to", "baseline.json"])
            .success()
            .contains("+ aws_instance.app[1]")
            .contains("~ aws_instance.app[0]");

        // Overridden with a reason: applied, and the reason is in the audit log.
        moto.run(
            &ws,
            &[
                "apply",
                "--auto-approve",
                "--override-policy",
                "capacity for the launch",
            ],
        )
        .success();
        assert_eq!(
            ws.state_list()
                .iter()
                .filter(|a| a.starts_with("aws_instance.app"))
                .count(),
            3
        );
        let audit = ws.read(".terrane/audit.jsonl");
        assert!(
            audit.contains("capacity for the launch") && audit.contains("budget team"),
            "{audit}"
        );

        // hard_mandatory cannot be overridden; a monthly limit below the total blocks.
        ws.write(
            "main.tf",
            &stack(
                "m5.xlarge",
                4,
                "budget \"cap\" {\n  monthly_limit = 500\n}\n",
            ),
        );
        moto.run(
            &ws,
            &["apply", "--auto-approve", "--override-policy", "please"],
        )
        .expect_code(1)
        .contains("budget \"cap\": the monthly cost after this plan")
        .contains("is over the limit of $500.00");

        // A team's own rule over input.cost.
        ws.write("main.tf", &stack("m5.xlarge", 3, ""));
        ws.write(
            "policy/cost.rego",
            r#"package cost

import rego.v1

deny contains msg if {
    some r in input.cost.resources
    r.monthly_cost > 100
    msg := sprintf("%s costs $%.2f a month; anything over $100 needs a review", [r.address, r.monthly_cost])
}
"#,
        );
        moto.run(&ws, &["plan", "--policy", "policy"])
            .expect_code(1)
            .contains("aws_instance.app[0] costs $");

        // An instance terminated outside terrane costs nothing "before"; the plan that
        // creates it again adds its cost back.
        let ec2 = aws_sdk_ec2::Client::new(&moto.sdk());
        crate::aws::runtime().block_on(async {
            let out = ec2.describe_instances().send().await.expect("describe");
            let running = aws_sdk_ec2::types::InstanceStateName::Running;
            let id = out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .filter(|i| i.state().and_then(|s| s.name()) == Some(&running))
                .find_map(|i| i.instance_id().map(str::to_string))
                .expect("a running instance");
            ec2.terminate_instances()
                .instance_ids(id)
                .send()
                .await
                .expect("terminate");
        });
        let each = xlarge * 730.0 + 30.0 * gp3;
        moto.run(&ws, &["plan"]).success().contains(&format!(
            "Monthly cost: ${:.2} before, ${three:.2} after this plan (+${each:.2}).",
            three - each
        ));
        moto.run(&ws, &["destroy", "--auto-approve"]).success();
    }
}
