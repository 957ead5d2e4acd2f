//! A realistic AWS stack priced end to end (VPC, ALB, auto scaling group, RDS, S3,
//! DynamoDB, NAT, EBS, ElastiCache), and the diff after a change; every priced figure
//! is checked against the catalog row it comes from.

use std::collections::HashMap;

use serde_json::json;
use terrane_core::Value;
use terrane_cost::{
    report, Catalog, ComponentStatus, CostDiff, Item, PlanCost, Pricer, ResourceStatus, Usage,
};

struct Res {
    address: String,
    type_name: String,
    provider: String,
    value: Value,
    deps: Vec<String>,
}

fn res(address: &str, provider: &str, v: serde_json::Value, deps: &[&str]) -> Res {
    Res {
        address: address.into(),
        type_name: address.split('.').next().unwrap().into(),
        provider: provider.into(),
        value: Value::from_json(&v),
        deps: deps.iter().map(|d| d.to_string()).collect(),
    }
}

/// The stack, with the web tier's instance type and size as parameters.
fn stack(instance_type: &str, replicas: u32) -> Vec<Res> {
    let aws = "provider.aws";
    vec![
        res(
            "aws_vpc.main",
            aws,
            json!({"cidr_block": "10.0.0.0/16"}),
            &[],
        ),
        res(
            "aws_subnet.a",
            aws,
            json!({"cidr_block": "10.0.1.0/24"}),
            &["aws_vpc.main"],
        ),
        res(
            "aws_security_group.web",
            aws,
            json!({"name": "web"}),
            &["aws_vpc.main"],
        ),
        res(
            "aws_lb.web",
            aws,
            json!({"name": "web", "load_balancer_type": "application"}),
            &["aws_subnet.a"],
        ),
        res(
            "aws_lb_target_group.web",
            aws,
            json!({"port": 80}),
            &["aws_vpc.main"],
        ),
        res(
            "aws_lb_listener.http",
            aws,
            json!({"port": 80}),
            &["aws_lb.web"],
        ),
        res(
            "aws_launch_template.web",
            aws,
            json!({"name": "web", "instance_type": instance_type, "image_id": "ami-1"}),
            &[],
        ),
        res(
            "aws_autoscaling_group.web",
            aws,
            json!({"min_size": 1, "max_size": 10, "desired_capacity": replicas,
                   "launch_template": [{"id": null, "version": "$Latest"}]}),
            &["aws_launch_template.web", "aws_subnet.a"],
        ),
        res(
            "aws_db_instance.main",
            aws,
            json!({"engine": "postgres", "instance_class": "db.r6g.large", "multi_az": true,
                   "allocated_storage": 100, "storage_type": "gp3"}),
            &["aws_subnet.a"],
        ),
        res(
            "aws_s3_bucket.assets",
            aws,
            json!({"bucket": "assets"}),
            &[],
        ),
        res(
            "aws_dynamodb_table.sessions",
            aws,
            json!({"name": "sessions", "billing_mode": "PROVISIONED", "read_capacity": 5, "write_capacity": 5}),
            &[],
        ),
        res(
            "aws_nat_gateway.egress",
            aws,
            json!({"subnet_id": "subnet-1"}),
            &["aws_subnet.a"],
        ),
        res(
            "aws_ebs_volume.data",
            aws,
            json!({"availability_zone": "us-east-1a", "size": 500, "type": "gp3", "iops": 6000}),
            &[],
        ),
        res(
            "aws_elasticache_cluster.cache",
            aws,
            json!({"engine": "redis", "node_type": "cache.m5.large", "num_cache_nodes": 2}),
            &[],
        ),
        res("aws_sagemaker_endpoint.ml", aws, json!({"name": "ml"}), &[]),
        res(
            "local_file.readme",
            "provider.local",
            json!({"filename": "README"}),
            &[],
        ),
    ]
}

fn estimate(rs: &[Res], usage: &Usage) -> terrane_cost::Estimate {
    let regions = HashMap::from([("aws".to_string(), Some("us-east-1".to_string()))]);
    estimate_in(rs, usage, &regions)
}

fn estimate_in(
    rs: &[Res],
    usage: &Usage,
    regions: &HashMap<String, Option<String>>,
) -> terrane_cost::Estimate {
    let pricer = Pricer {
        catalog: Catalog::builtin(),
        usage,
        regions,
    };
    let items: Vec<Item<'_>> = rs
        .iter()
        .map(|r| Item {
            address: &r.address,
            type_name: &r.type_name,
            provider: &r.provider,
            values: &r.value,
            dependencies: &r.deps,
        })
        .collect();
    pricer.estimate(&items)
}

fn usage() -> Usage {
    Usage::parse(
        "version: 0.1\nresource_usage:\n  aws_s3_bucket.assets:\n    storage_gb: 2000\n    monthly_tier_1_requests: 100000\n    monthly_tier_2_requests: 5000000\n    monthly_data_transfer_out_gb: 300\n",
        "terrane-usage.yml",
    )
    .unwrap()
}

fn price(kind: (&str, &str, &str)) -> f64 {
    Catalog::builtin()
        .price(kind.0, kind.1, "us-east-1", kind.2)
        .unwrap_or_else(|| panic!("catalog row {kind:?}"))
        .usd
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn the_stack_is_priced_component_by_component_from_catalog_rows() {
    let u = usage();
    let none = estimate(&[], &u);
    let after = estimate(&stack("m5.large", 3), &u);
    let cost = PlanCost::new(&none, after, Catalog::builtin(), &u);
    let get = |a: &str| {
        &cost
            .resources
            .iter()
            .find(|r| r.cost.address == a)
            .unwrap_or_else(|| panic!("{a} is in the breakdown"))
            .cost
    };

    // The web tier: 3 instances of the launch template's type, all month.
    let asg = get("aws_autoscaling_group.web");
    let m5 = price(("ec2", "instance_linux_on_demand", "m5.large"));
    assert_eq!(asg.status, ResourceStatus::Priced);
    assert!(
        close(asg.monthly_cost, m5 * 730.0 * 3.0),
        "{}",
        asg.monthly_cost
    );
    let c = &asg.components[0];
    assert_eq!(c.quantity, Some(2190.0));
    assert_eq!(c.unit_price, Some(m5));
    assert_eq!(c.price.as_ref().unwrap().sku, "m5.large");

    // RDS: the Multi-AZ PostgreSQL row; storage has no sourced price.
    let db = get("aws_db_instance.main");
    let r6g = price(("rds", "instance_postgres_multi_az", "db.r6g.large"));
    assert_eq!(db.status, ResourceStatus::Partial);
    assert!(close(db.monthly_cost, r6g * 730.0));
    assert_eq!(db.components[1].status, ComponentStatus::NotPriced);
    assert_eq!(db.components[1].quantity, Some(100.0));

    // S3 from the usage file: storage GB-months and requests per thousand.
    let s3 = get("aws_s3_bucket.assets");
    let expected = 2000.0 * price(("s3", "standard_storage", "STANDARD"))
        + 100.0 * price(("s3", "standard_put_copy_post_list_requests", "STANDARD"))
        + 5000.0 * price(("s3", "standard_get_select_other_requests", "STANDARD"));
    assert!(
        close(s3.monthly_cost, expected),
        "{} vs {expected}",
        s3.monthly_cost
    );
    assert_eq!(
        s3.status,
        ResourceStatus::Partial,
        "select data has no usage"
    );

    // EBS gp3: storage plus IOPS above the free 3,000.
    let ebs = get("aws_ebs_volume.data");
    let expected = 500.0 * price(("ebs", "volume_storage", "gp3"))
        + 3000.0 * price(("ebs", "provisioned_iops", "gp3"));
    assert!(close(ebs.monthly_cost, expected));

    let nat = get("aws_nat_gateway.egress");
    assert!(close(
        nat.monthly_cost,
        730.0 * price(("vpc", "nat_gateway", "nat_gateway"))
    ));
    let cache = get("aws_elasticache_cluster.cache");
    assert!(close(
        cache.monthly_cost,
        2.0 * 730.0 * price(("elasticache", "node_redis", "cache.m5.large"))
    ));

    // No sourced price: listed, never zero-and-quiet.
    assert_eq!(get("aws_lb.web").status, ResourceStatus::NotPriced);
    assert_eq!(
        get("aws_dynamodb_table.sessions").status,
        ResourceStatus::NotPriced
    );
    assert_eq!(
        get("aws_sagemaker_endpoint.ml").status,
        ResourceStatus::Unsupported
    );
    assert_eq!(get("aws_vpc.main").status, ResourceStatus::Free);
    assert_eq!(get("local_file.readme").status, ResourceStatus::Free);

    let total: f64 = cost.resources.iter().map(|r| r.cost.monthly_cost).sum();
    assert!(close(
        cost.total_monthly_cost,
        terrane_cost::round_money(total)
    ));
    insta::assert_snapshot!("stack_table", report::table(&cost));
    insta::assert_snapshot!("stack_plan_line", report::plan_line(&cost));
}

#[test]
fn a_bigger_instance_type_and_more_replicas_show_in_the_diff() {
    let u = usage();
    let none = estimate(&[], &u);
    let base = PlanCost::new(
        &none,
        estimate(&stack("m5.large", 3), &u),
        Catalog::builtin(),
        &u,
    );
    let before = estimate(&stack("m5.large", 3), &u);
    let changed = PlanCost::new(
        &before,
        estimate(&stack("m5.xlarge", 5), &u),
        Catalog::builtin(),
        &u,
    );

    let (m5l, m5xl) = (
        price(("ec2", "instance_linux_on_demand", "m5.large")),
        price(("ec2", "instance_linux_on_demand", "m5.xlarge")),
    );
    let delta = 730.0 * (5.0 * m5xl - 3.0 * m5l);
    assert!(
        close(changed.diff_monthly_cost, terrane_cost::round_money(delta)),
        "{}",
        changed.diff_monthly_cost
    );
    let asg = changed
        .resources
        .iter()
        .find(|r| r.cost.address == "aws_autoscaling_group.web")
        .unwrap();
    assert_eq!(
        asg.before_monthly_cost,
        Some(terrane_cost::round_money(730.0 * 3.0 * m5l))
    );

    let d = CostDiff::between(&base, &changed);
    assert_eq!(
        d.resources.len(),
        1,
        "only the web tier changed: {:?}",
        d.resources
    );
    assert_eq!(d.resources[0].address, "aws_autoscaling_group.web");
    assert_eq!(d.resources[0].change, "changed");
    assert!(close(d.diff_monthly_cost, terrane_cost::round_money(delta)));
    insta::assert_snapshot!("stack_diff", report::diff(&d, "baseline.json"));
    insta::assert_snapshot!("stack_diff_plan_line", report::plan_line(&changed));

    // More replicas of the same type change the one component's quantity.
    let more = PlanCost::new(
        &before,
        estimate(&stack("m5.large", 5), &u),
        Catalog::builtin(),
        &u,
    );
    let d2 = CostDiff::between(&base, &more);
    assert_eq!(d2.resources.len(), 1);
    assert_eq!(d2.resources[0].components.len(), 1);
    assert_eq!(d2.resources[0].components[0].quantity, Some(3650.0));
    assert!(close(
        d2.diff_monthly_cost,
        terrane_cost::round_money(730.0 * 2.0 * m5l)
    ));
    insta::assert_snapshot!("stack_diff_replicas", report::diff(&d2, "baseline.json"));

    // The saved form round-trips, so a baseline file diffs the same.
    let saved = serde_json::to_string(&base).unwrap();
    let reread: PlanCost = serde_json::from_str(&saved).unwrap();
    assert_eq!(CostDiff::between(&reread, &changed), d);
}

#[test]
fn an_unknown_instance_type_or_region_is_a_warning_naming_the_resource() {
    let rs = vec![
        res(
            "aws_instance.odd",
            "provider.aws",
            json!({"instance_type": "m99.huge"}),
            &[],
        ),
        res(
            "aws_instance.far",
            "provider.aws.mars",
            json!({"instance_type": "m5.large"}),
            &[],
        ),
    ];
    let mut rs = rs;
    rs.push(res(
        "aws_instance.nowhere",
        "provider.aws.secret",
        json!({"instance_type": "m5.large"}),
        &[],
    ));
    // A sensitive instance type is neither priced nor shown anywhere.
    let mut hidden = res("aws_instance.hidden", "provider.aws", json!({}), &[]);
    hidden.value = Value::map([(
        "instance_type",
        Value::string("m5.4xlarge").into_sensitive(),
    )]);
    rs.push(hidden);
    let regions = HashMap::from([
        ("aws".to_string(), Some("us-east-1".to_string())),
        ("aws.mars".to_string(), Some("mars-north-1".to_string())),
        ("aws.secret".to_string(), None),
    ]);
    let e = estimate_in(&rs, &Usage::none(), &regions);
    assert_eq!(
        e.warnings,
        vec![
            "aws_instance.odd: no price for m99.huge in us-east-1 in the catalog",
            "aws_instance.far: the catalog has no prices for region mars-north-1",
            "aws_instance.nowhere: the region is not known: set region in the provider block or AWS_REGION",
            "aws_instance.hidden: instance_type is sensitive, so it is neither shown nor priced: Instance usage is not priced",
        ]
    );
    let shown = serde_json::to_string(&e).unwrap();
    assert!(!shown.contains("m5.4xlarge"), "{shown}");
    assert!(e
        .resources
        .iter()
        .all(|r| r.status == ResourceStatus::NotPriced));
    assert_eq!(e.total_monthly_cost, 0.0);
}

#[test]
fn usage_keys_no_type_reads_are_reported() {
    let u = Usage::parse(
        "resource_usage:\n  aws_s3_bucket.logs:\n    storage_gbs: 1\n  aws_nat_gateway.*:\n    monthly_data_processed_gb: 5\nresource_type_default_usage:\n  aws_lambda_function:\n    monthly_invocations: 9\n",
        "u.yml",
    )
    .unwrap();
    let regions = HashMap::new();
    let pricer = Pricer {
        catalog: Catalog::builtin(),
        usage: &u,
        regions: &regions,
    };
    let unused = pricer.unused_usage_keys();
    assert_eq!(unused.len(), 2, "{unused:?}");
    assert!(unused[0].starts_with("usage key \"monthly_invocations\" of \"aws_lambda_function\" is not read by aws_lambda_function"), "{unused:?}");
    assert!(
        unused[1].starts_with("usage key \"storage_gbs\" of \"aws_s3_bucket.logs\""),
        "{unused:?}"
    );
}
