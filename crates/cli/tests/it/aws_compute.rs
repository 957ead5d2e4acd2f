//! The `aws` provider's compute, load-balancing, DNS and database resources against moto:
//! a whole web stack (VPC, ALB, Auto Scaling group from a launch template, Route 53
//! alias, RDS, ElastiCache, an instance with an Elastic IP and an EBS volume) applied,
//! checked with the SDK, drifted, repaired, imported and destroyed.

use crate::aws::{runtime, Moto, PROVIDER};
use crate::{Out, Ws};

/// The value of output `name` in an apply's output.
fn output(out: &Out, name: &str) -> String {
    out.stdout
        .lines()
        .find_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == name).then(|| value.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| panic!("no output {name} in:\n{}", out.stdout))
}

const DB_PASSWORD: &str = "s3cret-Db-passw0rd";

fn web_stack(instance_type: &str) -> String {
    format!(
        r#"{PROVIDER}
variable "db_password" {{
  type      = string
  sensitive = true
}}

data "aws_availability_zones" "zones" {{
  state = "available"
}}

data "aws_ami" "linux" {{
  most_recent = true
  owners      = ["amazon"]
  filter {{
    name   = "name"
    values = ["amzn2-ami-hvm-*-x86_64-gp2"]
  }}
}}

resource "aws_vpc" "main" {{
  cidr_block           = "10.40.0.0/16"
  enable_dns_hostnames = true
}}

resource "aws_subnet" "a" {{
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.40.1.0/24"
  availability_zone = data.aws_availability_zones.zones.names[0]
}}

resource "aws_subnet" "b" {{
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.40.2.0/24"
  availability_zone = data.aws_availability_zones.zones.names[1]
}}

resource "aws_internet_gateway" "gw" {{
  vpc_id = aws_vpc.main.id
}}

resource "aws_security_group" "web" {{
  name   = "web"
  vpc_id = aws_vpc.main.id
}}

resource "aws_vpc_security_group_ingress_rule" "https" {{
  security_group_id = aws_security_group.web.id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  description       = "HTTPS from anywhere"
}}

resource "aws_vpc_security_group_egress_rule" "all" {{
  security_group_id = aws_security_group.web.id
  ip_protocol       = "-1"
  cidr_ipv4         = "10.40.0.0/16"
}}

resource "aws_lb" "web" {{
  name               = "web"
  load_balancer_type = "application"
  security_groups    = [aws_security_group.web.id]
  subnets            = [aws_subnet.a.id, aws_subnet.b.id]
  idle_timeout       = 120
  tags               = {{ tier = "edge" }}
}}

resource "aws_lb_target_group" "web" {{
  name     = "web"
  port     = 8080
  protocol = "HTTP"
  vpc_id   = aws_vpc.main.id
  health_check {{
    path                = "/healthz"
    healthy_threshold   = 3
    unhealthy_threshold = 2
  }}
}}

resource "aws_lb_listener" "http" {{
  load_balancer_arn = aws_lb.web.arn
  port              = 80
  protocol          = "HTTP"
  default_action {{
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }}
}}

resource "aws_launch_template" "web" {{
  name                   = "web"
  image_id               = data.aws_ami.linux.id
  instance_type          = "t3.micro"
  vpc_security_group_ids = [aws_security_group.web.id]
  metadata_options {{
    http_tokens = "required"
  }}
}}

resource "aws_autoscaling_group" "web" {{
  name                = "web"
  min_size            = 1
  max_size            = 4
  desired_capacity    = 2
  vpc_zone_identifier = [aws_subnet.a.id, aws_subnet.b.id]
  target_group_arns   = [aws_lb_target_group.web.arn]
  health_check_type   = "ELB"
  launch_template {{
    id      = aws_launch_template.web.id
    version = "$Latest"
  }}
  tag {{
    key                 = "role"
    value               = "web"
    propagate_at_launch = true
  }}
}}

resource "aws_autoscaling_policy" "cpu" {{
  name                   = "cpu-50"
  autoscaling_group_name = aws_autoscaling_group.web.name
  policy_type            = "TargetTrackingScaling"
  target_tracking_configuration {{
    target_value = 50
    predefined_metric_specification {{
      predefined_metric_type = "ASGAverageCPUUtilization"
    }}
  }}
}}

resource "aws_route53_zone" "main" {{
  name = "shop.example.com"
}}

resource "aws_route53_record" "www" {{
  zone_id = aws_route53_zone.main.zone_id
  name    = "www"
  type    = "A"
  alias {{
    name                   = aws_lb.web.dns_name
    zone_id                = aws_lb.web.zone_id
    evaluate_target_health = true
  }}
}}

resource "aws_route53_record" "txt" {{
  zone_id = aws_route53_zone.main.zone_id
  name    = "shop.example.com"
  type    = "TXT"
  ttl     = 300
  records = ["owner=platform"]
}}

resource "aws_db_subnet_group" "db" {{
  name       = "shop-db"
  subnet_ids = [aws_subnet.a.id, aws_subnet.b.id]
}}

resource "aws_db_instance" "db" {{
  identifier             = "shop-db"
  engine                 = "postgres"
  engine_version         = "16.3"
  instance_class         = "db.t3.micro"
  allocated_storage      = 20
  storage_encrypted      = true
  username               = "shop"
  password               = var.db_password
  db_name                = "shop"
  db_subnet_group_name   = aws_db_subnet_group.db.name
  vpc_security_group_ids = [aws_security_group.web.id]
  skip_final_snapshot    = true
}}

resource "aws_elasticache_cluster" "cache" {{
  cluster_id      = "shop-cache"
  engine          = "redis"
  node_type       = "cache.t3.micro"
  num_cache_nodes = 1
}}

resource "aws_instance" "bastion" {{
  ami                    = data.aws_ami.linux.id
  instance_type          = "{instance_type}"
  subnet_id              = aws_subnet.a.id
  vpc_security_group_ids = [aws_security_group.web.id]
  metadata_options {{
    http_tokens = "required"
  }}
  tags = {{ Name = "bastion" }}
}}

resource "aws_eip" "bastion" {{
  domain   = "vpc"
  instance = aws_instance.bastion.id
}}

resource "aws_ebs_volume" "data" {{
  availability_zone = aws_instance.bastion.availability_zone
  size              = 20
  type              = "gp3"
  encrypted         = true
}}

output "lb_dns" {{
  value = aws_lb.web.dns_name
}}

output "zone_id" {{
  value = aws_route53_zone.main.zone_id
}}

output "instance_id" {{
  value = aws_instance.bastion.id
}}

output "db_address" {{
  value = aws_db_instance.db.address
}}
"#
    )
}

fn with_password(moto: &Moto, ws: &Ws, args: &[&str]) -> Out {
    let mut env = moto.env();
    env.push(("TERRANE_VAR_db_password", DB_PASSWORD.to_string()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ws.run_env(args, &pairs)
}

#[test]
fn a_web_stack_is_applied_checked_drifts_is_imported_and_destroyed() {
    let moto = Moto::start();
    let ws = Ws::with_main(&web_stack("t3.micro"));
    let out = with_password(&moto, &ws, &["apply", "--auto-approve"]);
    let out = out.success().contains("22 added").lacks(DB_PASSWORD);
    let lb_dns = output(out, "lb_dns");
    let zone_id = output(out, "zone_id");
    let instance_id = output(out, "instance_id");

    let sdk = moto.sdk();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let asg = aws_sdk_autoscaling::Client::new(&sdk);
    let r53 = aws_sdk_route53::Client::new(&sdk);
    let rds = aws_sdk_rds::Client::new(&sdk);
    let cache = aws_sdk_elasticache::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let rt = runtime();
    rt.block_on(async {
        // The load balancer forwards port 80 to the target group.
        let lbs = elb
            .describe_load_balancers()
            .names("web")
            .send()
            .await
            .unwrap();
        let lb = &lbs.load_balancers()[0];
        assert_eq!(lb.dns_name(), Some(lb_dns.as_str()));
        let listeners = elb
            .describe_listeners()
            .load_balancer_arn(lb.load_balancer_arn().unwrap())
            .send()
            .await
            .unwrap();
        let l = &listeners.listeners()[0];
        assert_eq!(l.port(), Some(80));
        let tgs = elb
            .describe_target_groups()
            .names("web")
            .send()
            .await
            .unwrap();
        let tg = &tgs.target_groups()[0];
        assert_eq!(tg.health_check_path(), Some("/healthz"));
        assert_eq!(
            l.default_actions()[0].target_group_arn(),
            tg.target_group_arn()
        );
        let attrs = elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(lb.load_balancer_arn().unwrap())
            .send()
            .await
            .unwrap();
        assert!(attrs
            .attributes()
            .iter()
            .any(|a| a.key() == Some("idle_timeout.timeout_seconds") && a.value() == Some("120")));

        // The group runs two instances from the template, behind the target group.
        let groups = asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("web")
            .send()
            .await
            .unwrap();
        let g = &groups.auto_scaling_groups()[0];
        assert_eq!(g.desired_capacity(), Some(2));
        assert_eq!(g.instances().len(), 2);
        assert_eq!(
            g.target_group_arns(),
            &[tg.target_group_arn().unwrap().to_string()]
        );
        let policies = asg
            .describe_policies()
            .auto_scaling_group_name("web")
            .send()
            .await
            .unwrap();
        let p = &policies.scaling_policies()[0];
        assert_eq!(p.policy_type(), Some("TargetTrackingScaling"));
        assert_eq!(
            p.target_tracking_configuration()
                .and_then(|t| t.target_value()),
            Some(50.0)
        );

        // www is an alias of the load balancer.
        let records = r53
            .list_resource_record_sets()
            .hosted_zone_id(&zone_id)
            .send()
            .await
            .unwrap();
        let www = records
            .resource_record_sets()
            .iter()
            .find(|r| r.name() == "www.shop.example.com.")
            .expect("the www record");
        assert_eq!(
            www.alias_target()
                .map(|a| a.dns_name().trim_end_matches('.')),
            Some(lb_dns.as_str())
        );

        // The database is private and encrypted; the cache is up.
        let dbs = rds
            .describe_db_instances()
            .db_instance_identifier("shop-db")
            .send()
            .await
            .unwrap();
        let db = &dbs.db_instances()[0];
        assert_eq!(db.publicly_accessible(), Some(false));
        assert_eq!(db.storage_encrypted(), Some(true));
        assert_eq!(
            db.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
            Some("shop-db")
        );
        let clusters = cache
            .describe_cache_clusters()
            .cache_cluster_id("shop-cache")
            .send()
            .await
            .unwrap();
        assert_eq!(clusters.cache_clusters()[0].engine(), Some("redis"));

        // The instance requires IMDSv2 and has the Elastic IP.
        let inst = ec2
            .describe_instances()
            .instance_ids(&instance_id)
            .send()
            .await
            .unwrap();
        let i = &inst.reservations()[0].instances()[0];
        assert_eq!(
            i.metadata_options()
                .and_then(|m| m.http_tokens())
                .map(|t| t.as_str()),
            Some("required")
        );
        let eips = ec2
            .describe_addresses()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("instance-id")
                    .values(&instance_id)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(eips.addresses().len(), 1);
        let rules = ec2
            .describe_security_group_rules()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("group-id")
                    .values(i.security_groups()[0].group_id().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert!(rules
            .security_group_rules()
            .iter()
            .any(|r| !r.is_egress().unwrap_or(true)
                && r.from_port() == Some(443)
                && r.cidr_ipv4() == Some("0.0.0.0/0")));
    });

    // Applied means converged.
    with_password(&moto, &ws, &["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");
    // The password is stored, but never shown.
    ws.run(&["state", "show", "aws_db_instance.db"])
        .success()
        .lacks(DB_PASSWORD)
        .contains("sensitive");

    // Drift: someone scales the group by hand and changes the listener's port.
    rt.block_on(async {
        asg.set_desired_capacity()
            .auto_scaling_group_name("web")
            .desired_capacity(3)
            .send()
            .await
            .unwrap();
    });
    with_password(&moto, &ws, &["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("aws_autoscaling_group.web will be updated in-place")
        .contains("3 -> 2");
    with_password(&moto, &ws, &["apply", "--auto-approve"])
        .success()
        .contains("1 changed");
    rt.block_on(async {
        let groups = asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("web")
            .send()
            .await
            .unwrap();
        assert_eq!(groups.auto_scaling_groups()[0].desired_capacity(), Some(2));
    });

    // A new instance type is applied in place (stop, modify, start), not by replacement.
    ws.write("main.tf", &web_stack("t3.small"));
    with_password(&moto, &ws, &["apply", "--auto-approve"])
        .success()
        .contains("aws_instance.bastion: Modifying")
        .contains("0 added, 1 changed, 0 destroyed");
    rt.block_on(async {
        let inst = ec2
            .describe_instances()
            .instance_ids(&instance_id)
            .send()
            .await
            .unwrap();
        let i = &inst.reservations()[0].instances()[0];
        assert_eq!(i.instance_type().map(|t| t.as_str()), Some("t3.small"));
    });

    // Import gives back exactly what terrane created.
    ws.run(&["state", "rm", "aws_route53_zone.main", "aws_lb.web"])
        .success();
    with_password(&moto, &ws, &["import", "aws_route53_zone.main", &zone_id]).success();
    let lb_arn = rt.block_on(async {
        elb.describe_load_balancers()
            .names("web")
            .send()
            .await
            .unwrap()
            .load_balancers()[0]
            .load_balancer_arn()
            .unwrap()
            .to_string()
    });
    with_password(&moto, &ws, &["import", "aws_lb.web", &lb_arn]).success();
    with_password(&moto, &ws, &["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");

    // Destroy leaves nothing behind.
    with_password(&moto, &ws, &["destroy", "--auto-approve"])
        .success()
        .contains("22 destroyed");
    rt.block_on(async {
        assert!(elb
            .describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
            .is_empty());
        assert!(asg
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()
            .is_empty());
        assert!(rds
            .describe_db_instances()
            .send()
            .await
            .unwrap()
            .db_instances()
            .is_empty());
        let zones = r53.list_hosted_zones().send().await.unwrap();
        assert!(zones.hosted_zones().is_empty());
        let left = ec2
            .describe_instances()
            .instance_ids(&instance_id)
            .send()
            .await
            .unwrap();
        let state = left.reservations()[0].instances()[0]
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string());
        assert_eq!(state.as_deref(), Some("terminated"));
    });
}

#[test]
fn bad_compute_input_is_reported_at_plan_time_all_at_once() {
    let moto = Moto::start();
    let ws = Ws::with_main(&format!(
        r#"{PROVIDER}
resource "aws_lb" "one_subnet" {{
  name    = "edge"
  subnets = ["subnet-1"]
}}

resource "aws_autoscaling_group" "upside_down" {{
  min_size            = 5
  max_size            = 2
  vpc_zone_identifier = ["subnet-1"]
  launch_template {{
    name = "web"
  }}
}}

resource "aws_db_instance" "db" {{
  identifier          = "Shop_DB"
  engine              = "postgres"
  instance_class      = "db.t3.micro"
  password            = "short"
  skip_final_snapshot = true
}}

resource "aws_db_instance" "weak" {{
  identifier          = "weak"
  engine              = "postgres"
  instance_class      = "db.t3.micro"
  password            = "tiny"
  skip_final_snapshot = true
}}

resource "aws_route53_record" "both" {{
  zone_id = "Z123"
  name    = "www.example.com"
  type    = "A"
  ttl     = 60
  records = ["10.0.0.1"]
  alias {{
    name                   = "lb.example.com"
    zone_id                = "Z456"
    evaluate_target_health = false
  }}
}}

resource "aws_vpc_security_group_ingress_rule" "two_sources" {{
  security_group_id = "sg-1"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "10.0.0.0/8"
  cidr_ipv6         = "::/0"
}}

resource "aws_ebs_volume" "v" {{
  availability_zone = "us-east-1a"
  size              = 10
  type              = "gp9"
}}

resource "aws_instance" "i" {{
  ami           = "ami-1"
  instance_type = "large"
  metadata_options {{
    http_tokens = "sometimes"
  }}
}}
"#
    ));
    moto.run(&ws, &["plan"])
        .expect_code(1)
        .contains("aws_lb.one_subnet")
        .contains("at least two availability zones")
        .contains("aws_autoscaling_group.upside_down")
        .contains("min_size (5) is larger than max_size (2)")
        .contains("aws_db_instance.db")
        .contains("identifier \"Shop_DB\" must be 1 to 63 lower-case letters")
        .contains("aws_db_instance.weak")
        .contains("password must be 8 to 128 characters long")
        .lacks("\"tiny\"")
        .contains("aws_route53_record.both")
        .contains("an alias record takes no records or ttl")
        .contains("aws_vpc_security_group_ingress_rule.two_sources")
        .contains("exactly one of cidr_ipv4")
        .contains("aws_ebs_volume.v")
        .contains("type \"gp9\": must be one of gp2, gp3")
        .contains("aws_instance.i")
        .contains("instance_type \"large\" is not an EC2 instance type");
    assert!(ws.state_list().is_empty());
}
