//! How AWS resources are billed: the cost components of each supported type, priced
//! from the catalog. Where the catalog has no sourced price (ALB hours, DynamoDB,
//! Lambda, data processing, ...), the component is still listed, as not priced, with
//! the reason: a missing price is never a zero.

use crate::model::{ResourceCost, HOURS_PER_MONTH};
use crate::price::{attr_num, attr_str, Bill, DATA_TRANSFER_KEY};

/// Usage keys each type reads from the usage file (for checking usage files).
pub const USAGE_KEYS: &[(&str, &[&str])] = &[
    ("aws_instance", &[DATA_TRANSFER_KEY]),
    ("aws_autoscaling_group", &[DATA_TRANSFER_KEY]),
    (
        "aws_s3_bucket",
        &[
            DATA_TRANSFER_KEY,
            "storage_gb",
            "monthly_tier_1_requests",
            "monthly_tier_2_requests",
            "monthly_select_data_scanned_gb",
            "monthly_select_data_returned_gb",
        ],
    ),
    (
        "aws_lambda_function",
        &["monthly_requests", "request_duration_ms"],
    ),
    (
        "aws_dynamodb_table",
        &[
            "monthly_write_request_units",
            "monthly_read_request_units",
            "storage_gb",
        ],
    ),
    (
        "aws_nat_gateway",
        &["monthly_data_processed_gb", DATA_TRANSFER_KEY],
    ),
    ("aws_lb", &["monthly_capacity_units", DATA_TRANSFER_KEY]),
    ("aws_alb", &["monthly_capacity_units", DATA_TRANSFER_KEY]),
    ("aws_elb", &["monthly_data_processed_gb", DATA_TRANSFER_KEY]),
    ("aws_sqs_queue", &["monthly_requests"]),
    ("aws_sns_topic", &["monthly_requests"]),
    (
        "aws_cloudwatch_log_group",
        &["monthly_data_ingested_gb", "storage_gb"],
    ),
    ("aws_ecr_repository", &["storage_gb"]),
    ("aws_secretsmanager_secret", &["monthly_requests"]),
    ("aws_kms_key", &["monthly_requests"]),
    ("aws_route53_zone", &["monthly_queries"]),
];

/// Types AWS does not bill for, with the reason shown.
const FREE: &[(&str, &str)] = &[
    ("aws_vpc", "AWS does not charge for VPCs"),
    ("aws_subnet", "AWS does not charge for subnets"),
    (
        "aws_internet_gateway",
        "AWS does not charge for internet gateways (data transfer is billed separately)",
    ),
    ("aws_route_table", "AWS does not charge for route tables"),
    (
        "aws_route_table_association",
        "AWS does not charge for route table associations",
    ),
    (
        "aws_security_group",
        "AWS does not charge for security groups",
    ),
    (
        "aws_security_group_rule",
        "AWS does not charge for security group rules",
    ),
    (
        "aws_vpc_security_group_ingress_rule",
        "AWS does not charge for security group rules",
    ),
    (
        "aws_vpc_security_group_egress_rule",
        "AWS does not charge for security group rules",
    ),
    ("aws_iam_role", "AWS does not charge for IAM"),
    ("aws_iam_policy", "AWS does not charge for IAM"),
    (
        "aws_iam_role_policy_attachment",
        "AWS does not charge for IAM",
    ),
    ("aws_iam_instance_profile", "AWS does not charge for IAM"),
    ("aws_iam_user", "AWS does not charge for IAM"),
    ("aws_key_pair", "AWS does not charge for key pairs"),
    (
        "aws_db_subnet_group",
        "AWS does not charge for DB subnet groups",
    ),
    (
        "aws_elasticache_subnet_group",
        "AWS does not charge for cache subnet groups",
    ),
    ("aws_lb_listener", "billed on its load balancer"),
    ("aws_alb_listener", "billed on its load balancer"),
    ("aws_lb_listener_rule", "billed on its load balancer"),
    ("aws_lb_target_group", "billed on its load balancer"),
    ("aws_alb_target_group", "billed on its load balancer"),
    (
        "aws_lb_target_group_attachment",
        "billed on its load balancer",
    ),
    (
        "aws_launch_template",
        "no charge itself; its instances are priced on the auto scaling groups that use it",
    ),
    (
        "aws_autoscaling_policy",
        "AWS does not charge for scaling policies",
    ),
    (
        "aws_s3_bucket_versioning",
        "billed on the bucket (old versions count as its storage)",
    ),
    (
        "aws_s3_bucket_server_side_encryption_configuration",
        "billed on the bucket",
    ),
    ("aws_s3_bucket_public_access_block", "billed on the bucket"),
    ("aws_s3_bucket_policy", "billed on the bucket"),
    (
        "aws_s3_bucket_replication_configuration",
        "billed on the buckets (replication requests and transfer are their usage)",
    ),
    (
        "aws_s3_object",
        "billed on the bucket (its size is part of the bucket's storage_gb)",
    ),
    ("aws_secretsmanager_secret_version", "billed on its secret"),
    (
        "aws_route53_record",
        "no charge per record; queries are billed on the zone",
    ),
    (
        "aws_sqs_queue_policy",
        "AWS does not charge for queue policies",
    ),
    ("aws_sns_topic_subscription", "billed on the topic"),
];

const NO_PRICE: &str = "no sourced price in the catalog yet";

/// Prices one AWS resource; a type without a cost model is `Unsupported`.
pub(crate) fn price(mut b: Bill<'_>) -> ResourceCost {
    let t = b.item.type_name;
    if let Some((_, reason)) = FREE.iter().find(|(ty, _)| *ty == t) {
        return b.free(reason);
    }
    match t {
        "aws_instance" => instance(&mut b),
        "aws_ebs_volume" => ebs_volume(&mut b),
        "aws_db_instance" => db_instance(&mut b),
        "aws_lb" | "aws_alb" => load_balancer(&mut b),
        "aws_elb" => gateway(
            &mut b,
            "Classic load balancer",
            "elb",
            "classic_load_balancer",
        ),
        "aws_nat_gateway" => gateway(&mut b, "NAT gateway", "vpc", "nat_gateway"),
        "aws_eks_cluster" => b.hourly("EKS cluster".into(), "eks", "cluster", "eks_cluster", 1.0),
        "aws_elasticache_cluster" => elasticache(&mut b, false),
        "aws_elasticache_replication_group" => elasticache(&mut b, true),
        "aws_autoscaling_group" => autoscaling_group(&mut b),
        "aws_dynamodb_table" => dynamodb(&mut b),
        "aws_s3_bucket" => s3_bucket(&mut b),
        "aws_lambda_function" => lambda(&mut b),
        "aws_secretsmanager_secret" => {
            b.not_priced("Secret", "secret-months", Some(1.0), NO_PRICE);
            b.usage_based(
                "API requests",
                "10k requests",
                "monthly_requests",
                1e4,
                Err(NO_PRICE),
            );
        }
        "aws_kms_key" => {
            b.not_priced("Customer managed key", "key-months", Some(1.0), NO_PRICE);
            b.usage_based(
                "Requests",
                "10k requests",
                "monthly_requests",
                1e4,
                Err(NO_PRICE),
            );
        }
        "aws_cloudwatch_metric_alarm" => {
            b.not_priced("Alarm metric", "alarm-months", Some(1.0), NO_PRICE)
        }
        "aws_cloudwatch_log_group" => {
            b.usage_based(
                "Data ingested",
                "GB",
                "monthly_data_ingested_gb",
                1.0,
                Err(NO_PRICE),
            );
            b.usage_based(
                "Archival storage",
                "GB-months",
                "storage_gb",
                1.0,
                Err(NO_PRICE),
            );
        }
        "aws_sqs_queue" | "aws_sns_topic" => b.usage_based(
            "Requests",
            "1M requests",
            "monthly_requests",
            1e6,
            Err(NO_PRICE),
        ),
        "aws_ecr_repository" => {
            b.usage_based("Storage", "GB-months", "storage_gb", 1.0, Err(NO_PRICE))
        }
        "aws_route53_zone" => {
            b.not_priced("Hosted zone", "zone-months", Some(1.0), NO_PRICE);
            b.usage_based(
                "DNS queries",
                "1M queries",
                "monthly_queries",
                1e6,
                Err(NO_PRICE),
            );
        }
        "aws_eip" => b.not_priced(
            "Public IPv4 address",
            "hours",
            Some(HOURS_PER_MONTH),
            NO_PRICE,
        ),
        other => {
            return b.unsupported(format!("terrane has no cost model for {other} yet"));
        }
    }
    // Data transfer is listed on the types whose traffic is their business (buckets,
    // load balancers, NAT); on instances and groups only when the usage file gives it,
    // so that every instance is not "partly priced" for want of it.
    match t {
        "aws_s3_bucket" | "aws_lb" | "aws_alb" | "aws_elb" | "aws_nat_gateway" => {
            b.data_transfer(true)
        }
        "aws_instance" | "aws_autoscaling_group" => b.data_transfer(false),
        _ => {}
    }
    b.finish()
}

/// An hourly charge (the SKU is the kind) plus data processed by use, which has no
/// sourced price.
fn gateway(b: &mut Bill<'_>, name: &str, service: &str, kind: &str) {
    b.hourly(name.into(), service, kind, kind, 1.0);
    b.usage_based(
        "Data processed",
        "GB",
        "monthly_data_processed_gb",
        1.0,
        Err(NO_PRICE),
    );
}

fn instance(b: &mut Bill<'_>) {
    let tenancy = b.str("tenancy");
    match (tenancy, b.str("instance_type")) {
        (Ok(Some(t)), _) if t != "default" => b.not_priced(
            format!("Instance usage ({t} tenancy)"),
            "hours",
            Some(HOURS_PER_MONTH),
            "the catalog holds shared-tenancy prices only",
        ),
        (Err(()), _) => b.unknown("Instance usage", "hours", "tenancy"),
        (_, Ok(Some(t))) => b.hourly(
            format!("Instance usage (Linux, on-demand, {t})"),
            "ec2",
            "instance_linux_on_demand",
            t,
            1.0,
        ),
        (_, Ok(None)) => b.not_priced(
            "Instance usage",
            "hours",
            Some(HOURS_PER_MONTH),
            "instance_type is not set (an instance launched from a launch template alone is not priced yet)",
        ),
        (_, Err(())) => b.unknown("Instance usage", "hours", "instance_type"),
    }
    match b.block("root_block_device") {
        Some(root) => block_volume(b, "Root volume", root),
        None => b.not_priced(
            "Root volume",
            "GB-months",
            None,
            "its size and type come from the AMI; set root_block_device volume_size and volume_type to price it",
        ),
    }
    let extra = b
        .item
        .values
        .get("ebs_block_device")
        .and_then(|v| v.as_items())
        .unwrap_or(&[]);
    for (i, device) in extra.iter().enumerate() {
        let name = attr_str(device, "device_name")
            .ok()
            .flatten()
            .map_or_else(|| format!("#{}", i + 1), str::to_string);
        block_volume(b, &format!("EBS volume {name}"), device);
    }
}

/// A volume described by a block of an instance (`root_block_device`,
/// `ebs_block_device`).
fn block_volume(b: &mut Bill<'_>, label: &str, block: &terrane_core::Value) {
    match (attr_num(block, "volume_size"), attr_str(block, "volume_type")) {
        (Ok(Some(size)), Ok(Some(kind))) => volume(
            b,
            label,
            kind,
            size,
            attr_num(block, "iops"),
            attr_num(block, "throughput"),
        ),
        (Ok(size), Ok(_)) => b.not_priced(
            label,
            "GB-months",
            size,
            "its size or type comes from the AMI or snapshot; set volume_size and volume_type to price it",
        ),
        (Err(()), _) => b.unknown(label, "GB-months", "volume_size"),
        (_, Err(())) => b.unknown(label, "GB-months", "volume_type"),
    }
}

/// The storage, provisioned IOPS and throughput of one EBS volume.
fn volume(
    b: &mut Bill<'_>,
    label: &str,
    kind: &str,
    size: f64,
    iops: Result<Option<f64>, ()>,
    throughput: Result<Option<f64>, ()>,
) {
    b.catalog(
        format!("{label} ({kind})"),
        "GB-months",
        "ebs",
        "volume_storage",
        kind,
        size,
    );
    // A volume's own storage line is "Storage"; its IOPS and throughput lines need no
    // prefix then. An instance's volumes are named ("Root volume IOPS ...").
    let prefix = if label == "Storage" {
        String::new()
    } else {
        format!("{label} ")
    };
    let name = |rest: &str| {
        let text = format!("{prefix}{rest}");
        let mut chars = text.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect::<String>())
            .unwrap_or_default()
    };
    match (kind, iops) {
        ("io1", Ok(Some(iops))) => b.catalog(
            name("provisioned IOPS (io1)"),
            "IOPS-months",
            "ebs",
            "provisioned_iops",
            "io1",
            iops,
        ),
        ("io2", Ok(Some(iops))) => b.not_priced(
            name("provisioned IOPS (io2)"),
            "IOPS-months",
            Some(iops),
            NO_PRICE,
        ),
        // gp3 includes 3,000 IOPS; only what is provisioned above that is billed.
        ("gp3", Ok(Some(iops))) if iops > 3000.0 => b.catalog(
            name("IOPS above 3,000 (gp3)"),
            "IOPS-months",
            "ebs",
            "provisioned_iops",
            "gp3",
            iops - 3000.0,
        ),
        // A gp3 volume without iops gets the included 3,000 (the provider leaves it
        // unknown until apply), so only io1/io2 need the number.
        ("io1" | "io2", Err(())) => b.unknown(&name("IOPS"), "IOPS-months", "iops"),
        ("io1" | "io2", Ok(None)) => b.not_priced(
            name(&format!("provisioned IOPS ({kind})")),
            "IOPS-months",
            None,
            "iops is not set",
        ),
        _ => {}
    }
    if kind == "gp3" {
        match throughput {
            Ok(Some(t)) if t > 125.0 => b.not_priced(
                name("throughput above 125 MiB/s (gp3)"),
                "MiB/s-months",
                Some(t - 125.0),
                NO_PRICE,
            ),
            // Unknown until apply when not set: the included 125 MiB/s.
            _ => {}
        }
    }
}

fn ebs_volume(b: &mut Bill<'_>) {
    // Not set: CreateVolume's documented default type, gp2. Unknown until apply (a
    // provider that computes it): assumed the same, and said so.
    let kind = match b.str("type") {
        Ok(Some(t)) => t,
        Ok(None) => "gp2",
        Err(()) => {
            b.warn("type is known only after apply; priced as gp2, the AWS default".into());
            "gp2"
        }
    };
    match b.num("size") {
        Ok(Some(size)) => volume(b, "Storage", kind, size, b.num("iops"), b.num("throughput")),
        Ok(None) => b.not_priced(
            format!("Storage ({kind})"),
            "GB-months",
            None,
            "size is not set: it comes from the snapshot",
        ),
        Err(()) => b.unknown(&format!("Storage ({kind})"), "GB-months", "size"),
    }
}

fn db_instance(b: &mut Bill<'_>) {
    let class = b.str("instance_class");
    let engine = b.str("engine");
    let multi_az = b.bool("multi_az").map(|m| m == Some(true));
    let az = if multi_az == Ok(true) {
        "multi_az"
    } else {
        "single_az"
    };
    match (engine, class) {
        (_, _) if multi_az.is_err() => b.unknown("Database instance", "hours", "multi_az"),
        (Ok(Some(engine @ ("mysql" | "postgres"))), Ok(Some(class))) => {
            let multi_az = multi_az == Ok(true);
            let label = if multi_az { "Multi-AZ" } else { "Single-AZ" };
            b.hourly(
                format!("Database instance ({engine}, {label}, {class})"),
                "rds",
                &format!("instance_{engine}_{az}"),
                class,
                1.0,
            )
        }
        (Ok(Some(engine)), Ok(Some(class))) => b.not_priced(
            format!("Database instance ({engine}, {class})"),
            "hours",
            Some(HOURS_PER_MONTH),
            &format!("the catalog has RDS prices for mysql and postgres only, not {engine}"),
        ),
        (Ok(None), _) => b.not_priced(
            "Database instance",
            "hours",
            Some(HOURS_PER_MONTH),
            "no engine is set",
        ),
        (Err(()), _) => b.unknown("Database instance", "hours", "engine"),
        (_, Ok(None)) => b.not_priced(
            "Database instance",
            "hours",
            Some(HOURS_PER_MONTH),
            "no instance_class is set",
        ),
        (_, Err(())) => b.unknown("Database instance", "hours", "instance_class"),
    }
    let storage = b.num("allocated_storage").ok().flatten();
    let kind = b.str("storage_type").ok().flatten().unwrap_or("gp2");
    b.not_priced(format!("Storage ({kind})"), "GB-months", storage, NO_PRICE);
    if let Ok(Some(iops)) = b.num("iops") {
        if kind.starts_with("io") {
            b.not_priced("Provisioned IOPS", "IOPS-months", Some(iops), NO_PRICE);
        }
    }
}

fn load_balancer(b: &mut Bill<'_>) {
    match b.str("load_balancer_type") {
        Ok(None | Some("application")) => {
            b.not_priced(
                "Application load balancer",
                "hours",
                Some(HOURS_PER_MONTH),
                NO_PRICE,
            );
            b.usage_based(
                "Load balancer capacity units",
                "LCU-hours",
                "monthly_capacity_units",
                1.0,
                Err(NO_PRICE),
            );
        }
        Ok(Some("network")) => {
            b.hourly(
                "Network load balancer".into(),
                "elb",
                "network_load_balancer",
                "network_load_balancer",
                1.0,
            );
            b.usage_based(
                "Network load balancer capacity units",
                "NLCU-hours",
                "monthly_capacity_units",
                1.0,
                Err(NO_PRICE),
            );
        }
        Ok(Some(other)) => b.not_priced(
            format!("Load balancer ({other})"),
            "hours",
            Some(HOURS_PER_MONTH),
            NO_PRICE,
        ),
        Err(()) => b.unknown("Load balancer", "hours", "load_balancer_type"),
    }
}

fn elasticache(b: &mut Bill<'_>, group: bool) {
    let engine = match b.str("engine") {
        Ok(e) => e.unwrap_or("redis"),
        Err(()) => return b.unknown("Cache nodes", "hours", "engine"),
    };
    let nodes = if group {
        match (
            b.num("num_cache_clusters"),
            b.num("num_node_groups"),
            b.num("replicas_per_node_group"),
        ) {
            (Ok(Some(n)), _, _) => Ok(n),
            (_, Ok(Some(groups)), Ok(replicas)) => Ok(groups * (replicas.unwrap_or(0.0) + 1.0)),
            (Ok(None), Ok(None), _) => Ok(1.0),
            _ => Err(()),
        }
    } else {
        match b.num("num_cache_nodes") {
            Ok(n) => Ok(n.unwrap_or(1.0)),
            // Not set, the provider leaves it unknown until apply: one node, AWS's
            // default, and said so.
            Err(()) => {
                b.warn("num_cache_nodes is known only after apply; priced as 1 node".into());
                Ok(1.0)
            }
        }
    };
    let Ok(nodes) = nodes else {
        return b.unknown("Cache nodes", "hours", "the number of nodes");
    };
    match b.str("node_type") {
        Ok(Some(node)) if matches!(engine, "redis" | "valkey" | "memcached") => b.hourly(
            format!("Cache nodes ({engine}, {node})"),
            "elasticache",
            &format!("node_{engine}"),
            node,
            nodes,
        ),
        Ok(Some(node)) => b.not_priced(
            format!("Cache nodes ({engine}, {node})"),
            "hours",
            Some(HOURS_PER_MONTH * nodes),
            &format!("the catalog has no ElastiCache prices for engine {engine}"),
        ),
        Ok(None) => b.not_priced("Cache nodes", "hours", None, "no node_type is set"),
        Err(()) => b.unknown("Cache nodes", "hours", "node_type"),
    }
}

fn autoscaling_group(b: &mut Bill<'_>) {
    let count = match (b.num("desired_capacity"), b.num("min_size")) {
        (Ok(Some(n)), _) => n,
        (Ok(None), Ok(Some(n))) => n,
        (Err(()), _) | (_, Err(())) => {
            return b.unknown("Instance usage", "hours", "desired_capacity")
        }
        (Ok(None), Ok(None)) => {
            return b.not_priced(
                "Instance usage",
                "hours",
                None,
                "neither desired_capacity nor min_size is set",
            )
        }
    };
    let lt = b.block("launch_template");
    let wanted_id = lt.and_then(|l| attr_str(l, "id").ok().flatten());
    let wanted_name = lt.and_then(|l| attr_str(l, "name").ok().flatten());
    // By ID, then by name, then the only launch template among its dependencies.
    let templates = || {
        b.all
            .values()
            .filter(|i| i.type_name == "aws_launch_template")
    };
    let by = |key: &str, wanted: Option<&str>| -> Vec<_> {
        match wanted {
            Some(w) => templates()
                .filter(|i| attr_str(i.values, key).ok().flatten() == Some(w))
                .collect(),
            None => Vec::new(),
        }
    };
    let mut found = by("id", wanted_id);
    if found.is_empty() {
        found = by("name", wanted_name);
    }
    if found.is_empty() {
        found = templates()
            .filter(|i| {
                b.item.dependencies.iter().any(|d| {
                    i.address == d
                        || i.address
                            .strip_prefix(d.as_str())
                            .is_some_and(|rest| rest.starts_with('['))
                })
            })
            .collect();
    }
    let templates = found;
    let instance_type = match templates.as_slice() {
        [one] => attr_str(one.values, "instance_type"),
        _ => Ok(None),
    };
    match instance_type {
        Ok(Some(t)) => b.hourly(
            format!("Instance usage (Linux, on-demand, {t})"),
            "ec2",
            "instance_linux_on_demand",
            t,
            count,
        ),
        Ok(None) => b.not_priced(
            "Instance usage",
            "hours",
            Some(HOURS_PER_MONTH * count),
            "the instance type of its launch template is not known",
        ),
        Err(()) => b.unknown(
            "Instance usage",
            "hours",
            "the launch template's instance_type",
        ),
    }
}

fn lambda(b: &mut Bill<'_>) {
    b.usage_based(
        "Requests",
        "1M requests",
        "monthly_requests",
        1e6,
        Err(NO_PRICE),
    );
    // Duration is billed in GB-seconds: requests × seconds each × memory in GB
    // (memory_size defaults to 128 MB).
    let memory = b.num("memory_size").ok().flatten().unwrap_or(128.0);
    match (
        b.usage.get("monthly_requests"),
        b.usage.get("request_duration_ms"),
    ) {
        (Some(&n), Some(&ms)) => b.not_priced(
            "Duration",
            "GB-seconds",
            Some(n * ms / 1000.0 * memory / 1024.0),
            NO_PRICE,
        ),
        _ => b.usage_missing(
            "Duration",
            "GB-seconds",
            "usage-based: give monthly_requests and request_duration_ms in the usage file",
        ),
    }
}

fn dynamodb(b: &mut Bill<'_>) {
    match b.str("billing_mode") {
        Ok(Some("PAY_PER_REQUEST")) => {
            b.usage_based(
                "Write request units",
                "1M WRUs",
                "monthly_write_request_units",
                1e6,
                Err(NO_PRICE),
            );
            b.usage_based(
                "Read request units",
                "1M RRUs",
                "monthly_read_request_units",
                1e6,
                Err(NO_PRICE),
            );
        }
        // PROVISIONED, also when not set (the provider's default, unknown until apply).
        Ok(_) | Err(()) => {
            for (name, attr) in [
                ("Read capacity", "read_capacity"),
                ("Write capacity", "write_capacity"),
            ] {
                let units = b.num(attr).ok().flatten();
                b.not_priced(
                    format!("{name} (provisioned)"),
                    "unit-hours",
                    units.map(|u| u * HOURS_PER_MONTH),
                    NO_PRICE,
                );
            }
        }
    }
    b.usage_based("Storage", "GB-months", "storage_gb", 1.0, Err(NO_PRICE));
}

fn s3_bucket(b: &mut Bill<'_>) {
    // The catalog's S3 prices are for us-east-1 only.
    let priced = b.region == Some("us-east-1");
    let other = format!(
        "the catalog has S3 prices for us-east-1 only, not {}",
        b.region.unwrap_or("an unknown region")
    );
    let row = |kind: &'static str| {
        if priced {
            Ok(("s3", kind, "STANDARD"))
        } else {
            Err(other.as_str())
        }
    };
    b.usage_based(
        "Standard storage",
        "GB-months",
        "storage_gb",
        1.0,
        row("standard_storage"),
    );
    b.usage_based(
        "PUT, COPY, POST, LIST requests",
        "1k requests",
        "monthly_tier_1_requests",
        1e3,
        row("standard_put_copy_post_list_requests"),
    );
    b.usage_based(
        "GET, SELECT and other requests",
        "1k requests",
        "monthly_tier_2_requests",
        1e3,
        row("standard_get_select_other_requests"),
    );
    b.usage_based(
        "Select data scanned",
        "GB",
        "monthly_select_data_scanned_gb",
        1.0,
        row("standard_select_data_scanned"),
    );
    b.usage_based(
        "Select data returned",
        "GB",
        "monthly_select_data_returned_gb",
        1.0,
        row("standard_select_data_returned"),
    );
}
