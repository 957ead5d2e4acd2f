//! The `aws` provider against a real AWS API emulator: each test starts its own
//! `moto_server` on a free loopback port (`.ci/run` installs it), applies through the
//! `terrane` binary, and checks the result with the AWS SDK directly.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Out, Ws};

/// A moto server for one test, stopped when dropped.
pub struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = crate::free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "moto_server must be installed: run `bash .ci/run`, or pip install 'moto[server]'",
            );
        // Owned at once, so the process is stopped even if it never comes up.
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto_server did not listen on port {port} within 30 s");
    }

    /// The environment a user would set to point terrane (and the SDK) at the emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.url.clone()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/nonexistent/terrane-test".into()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/terrane-test".into(),
            ),
        ]
    }

    pub fn run(&self, ws: &Ws, args: &[&str]) -> Out {
        let env = self.env();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ws.run_env(args, &pairs)
    }

    /// An SDK configuration for checking what terrane did, independently of it.
    pub fn sdk(&self) -> aws_config::SdkConfig {
        let url = self.url.clone();
        runtime().block_on(async move {
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(url)
                .credentials_provider(aws_credential_types::Credentials::new(
                    "testing", "testing", None, None, "test",
                ))
                .load()
                .await
        })
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A bucket's versioning status. moto answers GetBucketVersioning with a
/// `GetBucketVersioningResponse` root that the SDK refuses, so the status is read from
/// the raw body then (the provider does the same; see `versioning_from_raw`).
async fn versioning(s3: &aws_sdk_s3::Client, bucket: &str) -> String {
    match s3.get_bucket_versioning().bucket(bucket).send().await {
        Ok(v) => v
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        Err(aws_sdk_s3::error::SdkError::ServiceError(se)) => {
            let body = std::str::from_utf8(se.raw().body().bytes().unwrap_or_default())
                .unwrap_or_default()
                .to_string();
            let start = body.find("<Status>").map(|i| i + 8).unwrap_or(0);
            let end = body.find("</Status>").unwrap_or(start);
            body[start..end].to_string()
        }
        Err(e) => panic!("GetBucketVersioning failed: {e:?}"),
    }
}

pub const PROVIDER: &str = r#"
provider "aws" {
  region            = "us-east-1"
  s3_use_path_style = true
  default_tags {
    tags = { team = "platform" }
  }
}
"#;

fn s3_stack(bucket: &str, content: &str) -> String {
    format!(
        r#"{PROVIDER}
resource "aws_s3_bucket" "logs" {{
  bucket = "{bucket}"
  tags   = {{ purpose = "logs" }}
}}

resource "aws_s3_bucket_versioning" "logs" {{
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {{
    status = "Enabled"
  }}
}}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {{
  bucket = aws_s3_bucket.logs.id
  rule {{
    apply_server_side_encryption_by_default {{
      sse_algorithm = "AES256"
    }}
  }}
}}

resource "aws_s3_bucket_public_access_block" "logs" {{
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}}

# Through the versioning resource, as the AWS provider's documentation advises: the
# object is written after versioning is on and deleted before it is suspended.
resource "aws_s3_object" "readme" {{
  bucket       = aws_s3_bucket_versioning.logs.bucket
  key          = "README.txt"
  content      = "{content}"
  content_type = "text/plain"
}}

output "bucket_arn" {{
  value = aws_s3_bucket.logs.arn
}}
"#
    )
}

#[test]
fn an_s3_stack_is_created_checked_drifts_and_is_destroyed() {
    let moto = Moto::start();
    let ws = Ws::with_main(&s3_stack("terrane-logs", "hello"));
    moto.run(&ws, &["apply", "--auto-approve"])
        .success()
        .contains("5 added")
        .contains("arn:aws:s3:::terrane-logs");

    // Every object, read back with the SDK.
    let s3 = moto.s3();
    let rt = runtime();
    rt.block_on(async {
        s3.head_bucket()
            .bucket("terrane-logs")
            .send()
            .await
            .expect("the bucket exists");
        assert_eq!(versioning(&s3, "terrane-logs").await, "Enabled");
        let enc = s3
            .get_bucket_encryption()
            .bucket("terrane-logs")
            .send()
            .await
            .unwrap();
        let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
        assert_eq!(
            rule.apply_server_side_encryption_by_default()
                .unwrap()
                .sse_algorithm()
                .as_str(),
            "AES256"
        );
        let pab = s3
            .get_public_access_block()
            .bucket("terrane-logs")
            .send()
            .await
            .unwrap();
        let c = pab.public_access_block_configuration().unwrap();
        assert_eq!(c.block_public_acls(), Some(true));
        assert_eq!(c.restrict_public_buckets(), Some(true));
        let tags = s3
            .get_bucket_tagging()
            .bucket("terrane-logs")
            .send()
            .await
            .unwrap();
        let mut tags: Vec<(String, String)> = tags
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        tags.sort();
        assert_eq!(
            tags,
            vec![
                ("purpose".into(), "logs".into()),
                ("team".into(), "platform".into())
            ],
            "default_tags are merged with the bucket's own"
        );
        let obj = s3
            .get_object()
            .bucket("terrane-logs")
            .key("README.txt")
            .send()
            .await
            .unwrap();
        assert_eq!(obj.content_type(), Some("text/plain"));
        let body = obj.body.collect().await.unwrap().into_bytes();
        assert_eq!(&body[..], b"hello");
    });

    // Applied means converged: the next plan has nothing to do.
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");

    // Changes made outside terrane show up as drift, and apply puts them back.
    rt.block_on(async {
        s3.put_bucket_versioning()
            .bucket("terrane-logs")
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        s3.put_object()
            .bucket("terrane-logs")
            .key("README.txt")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(
                b"edited by hand",
            ))
            .send()
            .await
            .unwrap();
    });
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("aws_s3_bucket_versioning.logs will be updated in-place")
        .contains("\"Suspended\" -> \"Enabled\"")
        .contains("aws_s3_object.readme will be updated in-place");
    moto.run(&ws, &["apply", "--auto-approve"])
        .success()
        .contains("2 changed");
    rt.block_on(async {
        assert_eq!(versioning(&s3, "terrane-logs").await, "Enabled");
        let obj = s3
            .get_object()
            .bucket("terrane-logs")
            .key("README.txt")
            .send()
            .await
            .unwrap();
        assert_eq!(
            &obj.body.collect().await.unwrap().into_bytes()[..],
            b"hello"
        );
    });

    // A new name cannot be applied in place: the bucket is replaced.
    ws.write("main.tf", &s3_stack("terrane-logs-2", "hello"));
    moto.run(&ws, &["plan"])
        .success()
        .contains("aws_s3_bucket.logs must be replaced")
        .contains("forces replacement");

    // Destroy leaves nothing behind (the object versions go first, then the bucket).
    ws.write("main.tf", &s3_stack("terrane-logs", "hello"));
    moto.run(&ws, &["destroy", "--auto-approve"])
        .success()
        .contains("5 destroyed");
    rt.block_on(async {
        let gone = s3.head_bucket().bucket("terrane-logs").send().await;
        assert!(gone.is_err(), "the bucket should be gone");
    });
}

#[test]
fn queues_and_topics_are_managed_and_imported() {
    let moto = Moto::start();
    let sdk = moto.sdk();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let rt = runtime();
    // Made by hand, before terrane knew them.
    let (url, arn) = rt.block_on(async {
        let q = sqs
            .create_queue()
            .queue_name("orders")
            .send()
            .await
            .unwrap();
        let t = sns.create_topic().name("alerts").send().await.unwrap();
        (
            q.queue_url().unwrap().to_string(),
            t.topic_arn().unwrap().to_string(),
        )
    });
    let ws = Ws::with_main(&format!(
        r#"{PROVIDER}
resource "aws_sqs_queue" "orders" {{
  name = "orders"
}}

resource "aws_sns_topic" "alerts" {{
  name = "alerts"
}}

resource "aws_sqs_queue" "events" {{
  name                       = "events.fifo"
  fifo_queue                 = true
  visibility_timeout_seconds = 45
}}

resource "aws_dynamodb_table" "sessions" {{
  name         = "sessions"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {{
    name = "id"
    type = "S"
  }}
}}

data "aws_caller_identity" "me" {{}}

output "account" {{
  value = data.aws_caller_identity.me.account_id
}}
"#
    ));
    moto.run(&ws, &["import", "aws_sqs_queue.orders", &url])
        .success();
    moto.run(&ws, &["import", "aws_sns_topic.alerts", &arn])
        .success();
    // The imported objects match the configuration except for the default tags the
    // provider adds; the new queue and table are created.
    moto.run(&ws, &["apply", "--auto-approve"])
        .success()
        .contains("2 added")
        .contains("account = \"123456789012\"");
    rt.block_on(async {
        let events = sqs
            .get_queue_url()
            .queue_name("events.fifo")
            .send()
            .await
            .unwrap();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(events.queue_url().unwrap())
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let attrs = attrs.attributes().unwrap();
        assert_eq!(
            attrs
                .get(&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
                .map(String::as_str),
            Some("45")
        );
        let table = ddb
            .describe_table()
            .table_name("sessions")
            .send()
            .await
            .unwrap();
        let table = table.table().unwrap();
        assert_eq!(
            table
                .billing_mode_summary()
                .and_then(|b| b.billing_mode())
                .map(|m| m.as_str()),
            Some("PAY_PER_REQUEST")
        );
        assert_eq!(table.key_schema()[0].attribute_name(), "id");
        let tags = sqs.list_queue_tags().queue_url(&url).send().await.unwrap();
        assert_eq!(
            tags.tags().and_then(|t| t.get("team")).map(String::as_str),
            Some("platform"),
            "default tags reach imported objects on the next apply"
        );
    });
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // An update in place: a new visibility timeout.
    let main = ws.read("main.tf").replace("= 45", "= 90");
    ws.write("main.tf", &main);
    moto.run(&ws, &["apply", "--auto-approve"])
        .success()
        .contains("1 changed");

    // Deleted outside terrane: the plan creates it again.
    rt.block_on(async {
        sns.delete_topic().topic_arn(&arn).send().await.unwrap();
    });
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("aws_sns_topic.alerts will be created");

    moto.run(&ws, &["destroy", "--auto-approve"]).success();
    rt.block_on(async {
        let left = sqs.list_queues().send().await.unwrap();
        assert!(
            left.queue_urls().is_empty(),
            "queues left: {:?}",
            left.queue_urls()
        );
        let topics = sns.list_topics().send().await.unwrap();
        assert!(
            topics.topics().is_empty(),
            "topics left: {:?}",
            topics.topics()
        );
        let tables = ddb.list_tables().send().await.unwrap();
        assert!(
            tables.table_names().is_empty(),
            "tables left: {:?}",
            tables.table_names()
        );
    });
}

#[test]
fn bad_aws_input_is_a_clear_error_at_plan_time() {
    let moto = Moto::start();
    let ws = Ws::with_main(
        r#"
provider "aws" {
  region = "moon-base-one"
}

resource "aws_s3_bucket" "b" {
  bucket = "x"
}
"#,
    );
    moto.run(&ws, &["plan"])
        .expect_code(1)
        .contains("region \"moon-base-one\" is not an AWS region name");

    ws.write(
        "main.tf",
        r#"
resource "aws_s3_bucket" "b" {
  bucket = "Not_A_Valid..Name"
}

resource "aws_sqs_queue" "q" {
  name       = "jobs"
  fifo_queue = true
}
"#,
    );
    moto.run(&ws, &["plan"])
        .expect_code(1)
        .contains("aws_s3_bucket.b")
        .contains("bucket \"Not_A_Valid..Name\" breaks S3's naming rules")
        .contains("lowercase letters")
        .contains("two dots")
        .contains("aws_sqs_queue.q")
        .contains("a FIFO queue's name ends in .fifo");
    assert!(ws.state_list().is_empty());
}

#[test]
fn missing_credentials_fail_with_a_clear_message_and_change_nothing() {
    let moto = Moto::start();
    let ws = Ws::with_main(&format!(
        r#"
provider "aws" {{
  region                  = "us-east-1"
  skip_metadata_api_check = true
  endpoints {{
    sts = "{url}"
    s3  = "{url}"
  }}
}}

resource "aws_s3_bucket" "b" {{
  bucket = "no-credentials"
}}
"#,
        url = moto.url
    ));
    let out = ws.run_env(
        &["apply", "--auto-approve"],
        &[
            ("AWS_CONFIG_FILE", "/nonexistent/terrane-test"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/terrane-test"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    out.expect_code(1)
        .contains("aws_s3_bucket.b")
        .contains("credentials");
    assert!(ws.state_list().is_empty());
    let s3 = moto.s3();
    runtime().block_on(async {
        let buckets = s3.list_buckets().send().await.unwrap();
        assert!(buckets.buckets().is_empty(), "nothing was created");
    });
}

fn network(subnet_b: &str) -> String {
    format!(
        r#"{PROVIDER}
data "aws_availability_zones" "available" {{
  state = "available"
}}

resource "aws_vpc" "main" {{
  cidr_block           = "10.20.0.0/16"
  enable_dns_hostnames = true
  tags                 = {{ Name = "main" }}
}}

resource "aws_subnet" "public" {{
  vpc_id                  = aws_vpc.main.id
  cidr_block              = "10.20.1.0/24"
  availability_zone       = data.aws_availability_zones.available.names[0]
  map_public_ip_on_launch = true
}}

resource "aws_subnet" "private" {{
  vpc_id            = aws_vpc.main.id
  cidr_block        = "{subnet_b}"
  availability_zone = data.aws_availability_zones.available.names[1]
}}

resource "aws_internet_gateway" "gw" {{
  vpc_id = aws_vpc.main.id
}}

resource "aws_route_table" "public" {{
  vpc_id = aws_vpc.main.id
  route {{
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.gw.id
  }}
}}

resource "aws_route_table_association" "public" {{
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}}

resource "aws_security_group" "web" {{
  name   = "web"
  vpc_id = aws_vpc.main.id
  ingress {{
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }}
  ingress {{
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["10.20.0.0/16"]
  }}
  egress {{
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }}
}}

output "vpc_id" {{
  value = aws_vpc.main.id
}}
"#
    )
}

#[test]
fn a_network_is_created_checked_drifts_and_is_destroyed() {
    let moto = Moto::start();
    let ws = Ws::with_main(&network("10.20.2.0/24"));
    let out = moto.run(&ws, &["apply", "--auto-approve"]);
    out.success().contains("7 added");
    let vpc_id = out
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("vpc_id = \""))
        .map(|l| l.trim_end_matches('"').to_string())
        .expect("the vpc_id output");

    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk());
    let rt = runtime();
    let vpc_filter = || {
        aws_sdk_ec2::types::Filter::builder()
            .name("vpc-id")
            .values(&vpc_id)
            .build()
    };
    let sg_id = rt.block_on(async {
        let vpcs = ec2.describe_vpcs().vpc_ids(&vpc_id).send().await.unwrap();
        assert_eq!(vpcs.vpcs()[0].cidr_block(), Some("10.20.0.0/16"));
        let subnets = ec2
            .describe_subnets()
            .filters(vpc_filter())
            .send()
            .await
            .unwrap();
        let mut cidrs: Vec<&str> = subnets
            .subnets()
            .iter()
            .filter_map(|s| s.cidr_block())
            .collect();
        cidrs.sort();
        assert_eq!(cidrs, vec!["10.20.1.0/24", "10.20.2.0/24"]);
        let igw = ec2
            .describe_internet_gateways()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("attachment.vpc-id")
                    .values(&vpc_id)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(igw.internet_gateways().len(), 1, "the gateway is attached");
        let igw_id = igw.internet_gateways()[0]
            .internet_gateway_id()
            .unwrap()
            .to_string();
        let tables = ec2
            .describe_route_tables()
            .filters(vpc_filter())
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("route.destination-cidr-block")
                    .values("0.0.0.0/0")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let public = &tables.route_tables()[0];
        assert!(public
            .routes()
            .iter()
            .any(|r| r.gateway_id() == Some(igw_id.as_str())));
        assert_eq!(
            public.associations().len(),
            1,
            "the public subnet is associated"
        );
        let sgs = ec2
            .describe_security_groups()
            .filters(vpc_filter())
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("group-name")
                    .values("web")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let sg = &sgs.security_groups()[0];
        let mut ports: Vec<i32> = sg
            .ip_permissions()
            .iter()
            .filter_map(|p| p.from_port())
            .collect();
        ports.sort();
        assert_eq!(ports, vec![22, 443]);
        assert_eq!(sg.ip_permissions_egress().len(), 1);
        sg.group_id().unwrap().to_string()
    });
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // Someone removes the SSH rule by hand: the plan puts it back.
    rt.block_on(async {
        ec2.revoke_security_group_ingress()
            .group_id(&sg_id)
            .ip_permissions(
                aws_sdk_ec2::types::IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(22)
                    .to_port(22)
                    .ip_ranges(
                        aws_sdk_ec2::types::IpRange::builder()
                            .cidr_ip("10.20.0.0/16")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("aws_security_group.web will be updated in-place");
    moto.run(&ws, &["apply", "--auto-approve"])
        .success()
        .contains("1 changed");
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // A subnet outside the VPC's range: AWS's refusal, with its code, names the resource.
    ws.write("main.tf", &network("10.99.0.0/24"));
    moto.run(&ws, &["apply", "--auto-approve"])
        .expect_code(1)
        .contains("aws_subnet.private")
        .contains("InvalidSubnet.Range");
    ws.write("main.tf", &network("10.20.2.0/24"));
    moto.run(&ws, &["apply", "--auto-approve"]).success();

    moto.run(&ws, &["destroy", "--auto-approve"]).success();
    rt.block_on(async {
        let left = ec2.describe_vpcs().vpc_ids(&vpc_id).send().await;
        let gone = match left {
            Err(_) => true,
            Ok(o) => o.vpcs().is_empty(),
        };
        assert!(gone, "the VPC should be gone");
    });
}

/// Disaster recovery for S3 data: a versioned bucket replicated into a versioned
/// bucket elsewhere, configured through resources and read back with the SDK.
#[test]
fn s3_replication_is_configured_through_resources() {
    let moto = Moto::start();
    let config = format!(
        r#"{PROVIDER}
resource "aws_s3_bucket" "primary" {{
  bucket = "orders-primary"
}}
resource "aws_s3_bucket" "replica" {{
  bucket = "orders-replica"
}}
resource "aws_s3_bucket_versioning" "primary" {{
  bucket = aws_s3_bucket.primary.id
  versioning_configuration {{
    status = "Enabled"
  }}
}}
resource "aws_s3_bucket_versioning" "replica" {{
  bucket = aws_s3_bucket.replica.id
  versioning_configuration {{
    status = "Enabled"
  }}
}}
resource "aws_s3_bucket_replication_configuration" "primary" {{
  bucket = aws_s3_bucket_versioning.primary.bucket
  role   = "arn:aws:iam::123456789012:role/s3-replication"
  rule {{
    id     = "everything"
    status = "Enabled"
    destination {{
      bucket        = aws_s3_bucket.replica.arn
      storage_class = "STANDARD_IA"
    }}
  }}
}}
"#
    );
    let ws = Ws::with_main(&config);
    moto.run(&ws, &["apply", "--auto-approve"])
        .success()
        .contains("5 added");
    let s3 = moto.s3();
    let conf = runtime().block_on(async {
        s3.get_bucket_replication()
            .bucket("orders-primary")
            .send()
            .await
            .expect("the replication configuration exists")
    });
    let conf = conf.replication_configuration().unwrap();
    assert_eq!(conf.role(), "arn:aws:iam::123456789012:role/s3-replication");
    let rule = &conf.rules()[0];
    assert_eq!(rule.id(), Some("everything"));
    assert_eq!(
        rule.destination().unwrap().bucket(),
        "arn:aws:s3:::orders-replica"
    );
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");
    // A destination that is not an ARN is caught at plan time.
    ws.write(
        "main.tf",
        &config.replace("aws_s3_bucket.replica.arn", "\"orders-replica\""),
    );
    moto.run(&ws, &["plan"])
        .expect_code(1)
        .contains("must be the bucket's ARN");
    ws.write("main.tf", &config);
    moto.run(&ws, &["destroy", "--auto-approve"])
        .success()
        .contains("5 destroyed");
}

/// Arguments of the AWS provider v6: `region` on a resource (the queue lives in that
/// region, checked with the SDK there), `name_prefix` on queues, topics, security
/// groups and DB subnet groups, and a launch template's `default_version` by number.
#[test]
fn aws_provider_v6_arguments_are_accepted() {
    let moto = Moto::start();
    let ws = Ws::with_main(&format!(
        r#"{PROVIDER}
resource "aws_sqs_queue" "home" {{
  name = "home-queue"
}}
resource "aws_sqs_queue" "away" {{
  name   = "away-queue"
  region = "eu-west-1"
}}
resource "aws_sqs_queue" "prefixed" {{
  name_prefix = "jobs-"
}}
resource "aws_sns_topic" "prefixed" {{
  name_prefix = "alerts-"
}}
resource "aws_vpc" "main" {{
  cidr_block = "10.9.0.0/16"
}}
resource "aws_security_group" "prefixed" {{
  name_prefix = "web-"
  vpc_id      = aws_vpc.main.id
}}
resource "aws_subnet" "a" {{
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.9.1.0/24"
  availability_zone = "us-east-1a"
}}
resource "aws_subnet" "b" {{
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.9.2.0/24"
  availability_zone = "us-east-1b"
}}
resource "aws_db_subnet_group" "prefixed" {{
  name_prefix = "db-"
  subnet_ids  = [aws_subnet.a.id, aws_subnet.b.id]
}}
resource "aws_launch_template" "lt" {{
  name          = "lt-v6"
  instance_type = var.type
}}
variable "type" {{
  default = "t3.micro"
}}
variable "default_version" {{
  default = null
}}
output "names" {{
  value = [aws_sqs_queue.prefixed.name, aws_sns_topic.prefixed.name, aws_security_group.prefixed.name, aws_db_subnet_group.prefixed.name]
}}
output "regions" {{
  value = [aws_sqs_queue.home.region, aws_sqs_queue.away.region]
}}
"#
    ));
    moto.run(&ws, &["apply", "--auto-approve"]).success();
    let out = moto.run(&ws, &["output", "--json"]);
    let outputs: serde_json::Value = serde_json::from_str(&out.success().stdout).expect("JSON");
    let names: Vec<String> =
        serde_json::from_value(outputs["names"]["value"].clone()).expect("names");
    for (name, prefix) in names.iter().zip(["jobs-", "alerts-", "web-", "db-"]) {
        assert!(
            name.starts_with(prefix) && name.len() > prefix.len(),
            "{name}"
        );
    }
    assert_eq!(
        outputs["regions"]["value"],
        serde_json::json!(["us-east-1", "eu-west-1"])
    );
    // The queue is in eu-west-1, not in the provider's region.
    let sdk = moto.sdk();
    let rt = runtime();
    let list = |region: &'static str| {
        let conf = aws_sdk_sqs::config::Builder::from(&sdk)
            .region(aws_config::Region::new(region))
            .build();
        let sqs = aws_sdk_sqs::Client::from_conf(conf);
        rt.block_on(async move { sqs.list_queues().send().await.expect("list_queues") })
            .queue_urls()
            .join(" ")
    };
    let (home, away) = (list("us-east-1"), list("eu-west-1"));
    assert!(
        away.contains("away-queue") && !home.contains("away-queue"),
        "{home} / {away}"
    );
    assert!(
        home.contains("home-queue") && !away.contains("home-queue"),
        "{home} / {away}"
    );
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // default_version by number: a second version, then the first made the default.
    moto.run(&ws, &["apply", "--auto-approve", "--var", "type=t3.small"])
        .success();
    ws.write(
        "main.tf",
        &ws.read("main.tf").replace(
            "  instance_type = var.type\n",
            "  instance_type   = var.type\n  default_version = 1\n",
        ),
    );
    moto.run(&ws, &["apply", "--auto-approve", "--var", "type=t3.small"])
        .success();
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let lt = rt
        .block_on(async {
            ec2.describe_launch_templates()
                .launch_template_names("lt-v6")
                .send()
                .await
        })
        .expect("describe_launch_templates");
    let lt = &lt.launch_templates()[0];
    assert_eq!(
        (lt.latest_version_number(), lt.default_version_number()),
        (Some(2), Some(1))
    );
    moto.run(
        &ws,
        &["plan", "--detailed-exitcode", "--var", "type=t3.small"],
    )
    .expect_code(0);
    // Both ways of choosing the default at once is refused.
    ws.write(
        "main.tf",
        &ws.read("main.tf").replace(
            "  default_version = 1\n",
            "  default_version = 1\n  update_default_version = true\n",
        ),
    );
    moto.run(&ws, &["plan", "--var", "type=t3.small"])
        .expect_code(1)
        .contains("default_version and update_default_version conflict");
    ws.write(
        "main.tf",
        &ws.read("main.tf")
            .replace("  update_default_version = true\n", ""),
    );
    moto.run(
        &ws,
        &["destroy", "--auto-approve", "--var", "type=t3.small"],
    )
    .success();
    let (home, away) = (list("us-east-1"), list("eu-west-1"));
    assert!(
        !home.contains("queue") && !away.contains("queue"),
        "{home} / {away}"
    );
}

/// The routing the public VPC modules build: a NAT gateway on an Elastic IP, an
/// egress-only gateway, and routes as resources of their own (`aws_route`), checked
/// through the SDK; a changed target is replaced in place, and a route is imported by
/// Terraform's `TABLE_DESTINATION` ID.
#[test]
fn nat_gateways_and_routes_are_managed() {
    let moto = Moto::start();
    let main = |private_target: &str| {
        format!(
            r#"{PROVIDER}
resource "aws_vpc" "main" {{
  cidr_block = "10.20.0.0/16"
}}
resource "aws_subnet" "public" {{
  vpc_id     = aws_vpc.main.id
  cidr_block = "10.20.1.0/24"
}}
resource "aws_internet_gateway" "igw" {{
  vpc_id = aws_vpc.main.id
}}
resource "aws_egress_only_internet_gateway" "eigw" {{
  vpc_id = aws_vpc.main.id
  tags   = {{ Name = "eigw" }}
}}
resource "aws_eip" "nat" {{
  domain = "vpc"
}}
resource "aws_nat_gateway" "nat" {{
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public.id
  tags          = {{ Name = "nat" }}
}}
resource "aws_route_table" "private" {{
  vpc_id = aws_vpc.main.id
}}
resource "aws_route" "private_out" {{
  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  {private_target}
}}
"#
        )
    };
    let ws = Ws::with_main(&main("nat_gateway_id = aws_nat_gateway.nat.id"));
    moto.run(&ws, &["apply", "--auto-approve"]).success();
    let sdk = moto.sdk();
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let rt = runtime();
    let routes = |table: &str| {
        let out = rt
            .block_on(ec2.describe_route_tables().route_table_ids(table).send())
            .expect("describe_route_tables");
        out.route_tables()[0]
            .routes()
            .iter()
            .filter(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .map(|r| {
                r.nat_gateway_id()
                    .or(r.gateway_id())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    let state = |addr: &str, attr: &str| {
        let out = moto.run(&ws, &["state", "show", addr]);
        let text = out.success().stdout.clone();
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{attr} ")))
            .and_then(|l| l.split('"').nth(1))
            .unwrap_or_default()
            .to_string()
    };
    let table = state("aws_route_table.private", "id");
    let nat = state("aws_nat_gateway.nat", "id");
    assert!(nat.starts_with("nat-"), "{nat}");
    assert_eq!(routes(&table), std::slice::from_ref(&nat));
    let gateways = rt
        .block_on(ec2.describe_nat_gateways().nat_gateway_ids(&nat).send())
        .expect("describe_nat_gateways");
    let eip = state("aws_eip.nat", "id");
    assert_eq!(
        gateways.nat_gateways()[0].nat_gateway_addresses()[0].allocation_id(),
        Some(eip.as_str())
    );
    assert!(state("aws_route.private_out", "id").starts_with(&format!("r-{table}")));
    assert!(state("aws_egress_only_internet_gateway.eigw", "id").starts_with("eigw-"));
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // Another target: the route is replaced in place, not destroyed and created.
    ws.write("main.tf", &main("gateway_id = aws_internet_gateway.igw.id"));
    moto.run(&ws, &["apply", "--auto-approve"])
        .success()
        .contains("0 added, 1 changed, 0 destroyed");
    let igw = state("aws_internet_gateway.igw", "id");
    assert_eq!(routes(&table), [igw]);
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // Forgotten, then imported by TABLE_DESTINATION: nothing to change after.
    moto.run(&ws, &["state", "rm", "aws_route.private_out"])
        .success();
    moto.run(
        &ws,
        &[
            "import",
            "aws_route.private_out",
            &format!("{table}_0.0.0.0/0"),
        ],
    )
    .success();
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // Bad input at plan time: two targets.
    ws.write(
        "main.tf",
        &main(
            "gateway_id = aws_internet_gateway.igw.id\n  nat_gateway_id = aws_nat_gateway.nat.id",
        ),
    );
    moto.run(&ws, &["plan"])
        .expect_code(1)
        .contains("a route needs exactly one target");
    ws.write("main.tf", &main("gateway_id = aws_internet_gateway.igw.id"));
    moto.run(&ws, &["destroy", "--auto-approve"]).success();
    let left = rt
        .block_on(ec2.describe_nat_gateways().nat_gateway_ids(&nat).send())
        .map(|o| {
            o.nat_gateways()
                .iter()
                .filter(|g| g.state().map(|s| s.as_str()) == Some("available"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(left, 0, "the NAT gateway is gone");
}
