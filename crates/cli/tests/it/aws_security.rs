//! The `aws` provider's IAM, KMS, Secrets Manager, CloudWatch, ECR and Lambda resources
//! against moto: each test applies through the `terrane` binary, checks the result with
//! the AWS SDK directly, changes things behind terrane's back to see the drift shown and
//! repaired, imports every object again by Terraform's import IDs, and destroys.
//!
//! `aws_cloudwatch_metric_alarm` is only planned here: the CloudWatch SDK speaks the
//! rpcv2-cbor protocol, which moto (5.2) does not serve.

use crate::aws::{runtime, Moto, PROVIDER};
use crate::{Out, Ws};

const ACCOUNT: &str = "123456789012";

/// An empty zip archive (its end-of-central-directory record): moto stores the
/// function's code without unpacking it.
const ZIP: &str = "PK\u{5}\u{6}\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// Another archive (the same with a two-byte comment), for code changed by hand.
const OTHER_ZIP: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x02\0hi";

/// The value of output `name` from an apply's output.
fn output(out: &Out, name: &str) -> String {
    out.stdout
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix(name)?.trim_start().strip_prefix("= \"")?;
            Some(rest.trim_end_matches('"').to_string())
        })
        .unwrap_or_else(|| panic!("no output {name} in:\n{}", out.stdout))
}

const APP: &str = r#"
resource "aws_iam_role" "fn" {
  name = "fn-runner"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  force_detach_policies = true
  tags                  = { app = "thumbs" }
}

# Written by hand, spaced and ordered unlike what IAM hands back.
resource "aws_iam_policy" "logs" {
  name        = "fn-logs"
  description = "Lets the function write its logs"
  policy      = <<EOF
{
  "Statement": [
    {
      "Resource": "*",
      "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
      "Effect": "Allow"
    }
  ],
  "Version": "2012-10-17"
}
EOF
}

resource "aws_iam_role_policy_attachment" "logs" {
  role       = aws_iam_role.fn.name
  policy_arn = aws_iam_policy.logs.arn
}

resource "aws_ecr_repository" "images" {
  name                 = "team/thumbs"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = true
  image_scanning_configuration {
    scan_on_push = true
  }
}

resource "aws_lambda_function" "thumbs" {
  function_name    = "thumbs"
  role             = aws_iam_role.fn.arn
  handler          = "index.handler"
  runtime          = "python3.12"
  filename         = "lambda.zip"
  source_code_hash = filebase64sha256("lambda.zip")
  memory_size      = 256
  environment {
    variables = { STAGE = "test" }
  }
  tags       = { app = "thumbs" }
  depends_on = [aws_iam_role_policy_attachment.logs]
}

output "repository_url" {
  value = aws_ecr_repository.images.repository_url
}

output "invoke_arn" {
  value = aws_lambda_function.thumbs.invoke_arn
}
"#;

#[test]
fn roles_policies_functions_and_repositories_are_managed_imported_and_destroyed() {
    let moto = Moto::start();
    let ws = Ws::with_main(&format!("{PROVIDER}{APP}"));
    ws.write("lambda.zip", ZIP);
    let out = moto.run(&ws, &["apply", "--auto-approve"]);
    out.success().contains("5 added");
    assert_eq!(
        output(&out, "repository_url"),
        format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/thumbs")
    );
    let function_arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:thumbs");
    assert_eq!(
        output(&out, "invoke_arn"),
        format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations")
    );
    let policy_arn = format!("arn:aws:iam::{ACCOUNT}:policy/fn-logs");

    let sdk = moto.sdk();
    let iam = aws_sdk_iam::Client::new(&sdk);
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let rt = runtime();
    rt.block_on(async {
        let role = iam.get_role().role_name("fn-runner").send().await.unwrap();
        let role = role.role().unwrap();
        assert!(role
            .assume_role_policy_document()
            .unwrap()
            .contains("lambda.amazonaws.com"));
        let mut tags: Vec<(&str, &str)> =
            role.tags().iter().map(|t| (t.key(), t.value())).collect();
        tags.sort();
        assert_eq!(tags, vec![("app", "thumbs"), ("team", "platform")]);
        let attached = iam
            .list_attached_role_policies()
            .role_name("fn-runner")
            .send()
            .await
            .unwrap();
        let arns: Vec<&str> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect();
        assert_eq!(arns, vec![policy_arn.as_str()]);
        let f = lambda
            .get_function()
            .function_name("thumbs")
            .send()
            .await
            .unwrap();
        let c = f.configuration().unwrap();
        assert_eq!(c.memory_size(), Some(256));
        assert_eq!(c.timeout(), Some(3), "AWS's default timeout");
        assert_eq!(
            c.role(),
            Some(format!("arn:aws:iam::{ACCOUNT}:role/fn-runner").as_str())
        );
        assert_eq!(c.code_size(), ZIP.len() as i64);
        let vars = c.environment().and_then(|e| e.variables()).unwrap();
        assert_eq!(vars.get("STAGE").map(String::as_str), Some("test"));
        let repos = ecr
            .describe_repositories()
            .repository_names("team/thumbs")
            .send()
            .await
            .unwrap();
        let repo = &repos.repositories()[0];
        assert_eq!(repo.image_tag_mutability().unwrap().as_str(), "IMMUTABLE");
        assert!(repo.image_scanning_configuration().unwrap().scan_on_push());
    });
    // Policy documents come back re-encoded; that is not a change.
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0)
        .contains("No changes");

    // Changed by hand: the trust policy, the policy (up to IAM's five versions), the
    // function's memory and code, and the repository's tag mutability.
    rt.block_on(async {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        iam.update_assume_role_policy()
            .role_name("fn-runner")
            .policy_document(trust)
            .send()
            .await
            .unwrap();
        for n in 2..=5 {
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b{n}/*"}}]}}"#
            );
            iam.create_policy_version()
                .policy_arn(&policy_arn)
                .policy_document(doc)
                .set_as_default(true)
                .send()
                .await
                .unwrap();
        }
        lambda
            .update_function_configuration()
            .function_name("thumbs")
            .memory_size(512)
            .send()
            .await
            .unwrap();
        lambda
            .update_function_code()
            .function_name("thumbs")
            .zip_file(aws_sdk_lambda::primitives::Blob::new(OTHER_ZIP))
            .send()
            .await
            .unwrap();
        ecr.put_image_tag_mutability()
            .repository_name("team/thumbs")
            .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Mutable)
            .send()
            .await
            .unwrap();
    });
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("aws_iam_role.fn will be updated in-place")
        .contains("ec2.amazonaws.com")
        .contains("aws_iam_policy.logs will be updated in-place")
        .contains("aws_lambda_function.thumbs will be updated in-place")
        .contains("512 -> 256")
        .contains("aws_ecr_repository.images will be updated in-place")
        .contains("\"MUTABLE\" -> \"IMMUTABLE\"");
    moto.run(&ws, &["apply", "--auto-approve"])
        .success()
        .contains("4 changed");
    rt.block_on(async {
        let role = iam.get_role().role_name("fn-runner").send().await.unwrap();
        assert!(role
            .role()
            .unwrap()
            .assume_role_policy_document()
            .unwrap()
            .contains("lambda.amazonaws.com"));
        let versions = iam
            .list_policy_versions()
            .policy_arn(&policy_arn)
            .send()
            .await
            .unwrap();
        let versions = versions.versions();
        assert_eq!(
            versions.len(),
            5,
            "the oldest version made room for the new one"
        );
        assert!(!versions.iter().any(|v| v.version_id() == Some("v1")));
        let default = versions.iter().find(|v| v.is_default_version()).unwrap();
        let doc = iam
            .get_policy_version()
            .policy_arn(&policy_arn)
            .version_id(default.version_id().unwrap())
            .send()
            .await
            .unwrap();
        assert!(doc
            .policy_version()
            .unwrap()
            .document()
            .unwrap()
            .contains("logs:PutLogEvents"));
        let f = lambda
            .get_function()
            .function_name("thumbs")
            .send()
            .await
            .unwrap();
        let c = f.configuration().unwrap();
        assert_eq!(c.memory_size(), Some(256));
        assert_eq!(
            c.code_size(),
            ZIP.len() as i64,
            "the configured zip is back"
        );
        let repos = ecr
            .describe_repositories()
            .repository_names("team/thumbs")
            .send()
            .await
            .unwrap();
        assert_eq!(
            repos.repositories()[0]
                .image_tag_mutability()
                .unwrap()
                .as_str(),
            "IMMUTABLE"
        );
    });
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // Forgotten, then imported by Terraform's IDs: only what AWS cannot report (the
    // role's force_detach_policies, the repository's force_delete, the function's
    // local filename) differs.
    let addrs = [
        ("aws_iam_role.fn", "fn-runner".to_string()),
        ("aws_iam_policy.logs", policy_arn.clone()),
        (
            "aws_iam_role_policy_attachment.logs",
            format!("fn-runner/{policy_arn}"),
        ),
        ("aws_lambda_function.thumbs", "thumbs".to_string()),
        ("aws_ecr_repository.images", "team/thumbs".to_string()),
    ];
    for (addr, _) in &addrs {
        ws.run(&["state", "rm", addr]).success();
    }
    assert!(ws.state_list().is_empty());
    for (addr, id) in &addrs {
        moto.run(&ws, &["import", addr, id]).success();
    }
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("0 to add, 3 to change, 0 to destroy")
        .contains("aws_iam_role.fn will be updated in-place")
        .contains("aws_ecr_repository.images will be updated in-place")
        .contains("aws_lambda_function.thumbs will be updated in-place");
    moto.run(&ws, &["apply", "--auto-approve"]).success();
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // Destroy: the role goes although a policy was attached and another written inline
    // by hand (force_detach_policies), the repository although it holds an image
    // (force_delete).
    rt.block_on(async {
        let extra = iam
            .create_policy()
            .policy_name("by-hand")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
        iam.attach_role_policy()
            .role_name("fn-runner")
            .policy_arn(extra.policy().unwrap().arn().unwrap())
            .send()
            .await
            .unwrap();
        iam.put_role_policy()
            .role_name("fn-runner")
            .policy_name("inline")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
        ecr.put_image()
            .repository_name("team/thumbs")
            .image_manifest(r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#)
            .image_tag("v1")
            .send()
            .await
            .unwrap();
    });
    moto.run(&ws, &["destroy", "--auto-approve"])
        .success()
        .contains("5 destroyed");
    rt.block_on(async {
        assert!(iam.get_role().role_name("fn-runner").send().await.is_err());
        assert!(iam
            .get_policy()
            .policy_arn(&policy_arn)
            .send()
            .await
            .is_err());
        assert!(lambda
            .get_function()
            .function_name("thumbs")
            .send()
            .await
            .is_err());
        let repos = ecr.describe_repositories().send().await.unwrap();
        assert!(
            repos.repositories().is_empty(),
            "repositories left: {:?}",
            repos.repositories()
        );
    });
}

const SECRET: &str = "hunter2-Correct-Horse-Battery";

fn observability(secret: &str) -> String {
    format!(
        r#"{PROVIDER}
resource "aws_kms_key" "app" {{
  description             = "Encrypts the app's secrets and logs"
  deletion_window_in_days = 7
  enable_key_rotation     = true
  tags                    = {{ purpose = "app" }}
}}

resource "aws_secretsmanager_secret" "db" {{
  name                    = "app/db-password"
  description             = "Database password"
  kms_key_id              = aws_kms_key.app.key_id
  recovery_window_in_days = 0
}}

resource "aws_secretsmanager_secret_version" "db" {{
  secret_id      = aws_secretsmanager_secret.db.id
  secret_string  = "{secret}"
  version_stages = ["AWSCURRENT"]
}}

resource "aws_cloudwatch_log_group" "web" {{
  name              = "/app/web"
  retention_in_days = 14
  kms_key_id        = aws_kms_key.app.arn
  tags              = {{ app = "web" }}
}}

output "key_id" {{
  value = aws_kms_key.app.key_id
}}

output "secret_arn" {{
  value = aws_secretsmanager_secret.db.arn
}}

output "version_id" {{
  value = aws_secretsmanager_secret_version.db.version_id
}}
"#
    )
}

/// The value of `version`, which must hold AWSCURRENT (the stage Secrets Manager
/// serves by default). Both are named: moto answers a bare GetSecretValue from its own
/// notion of the default version, which UpdateSecretVersionStage does not move.
async fn current_secret(sm: &aws_sdk_secretsmanager::Client, arn: &str, version: &str) -> String {
    let v = sm
        .get_secret_value()
        .secret_id(arn)
        .version_id(version)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .unwrap_or_else(|e| panic!("version {version} should hold AWSCURRENT: {e:?}"));
    v.secret_string().unwrap().to_string()
}

#[test]
fn keys_secrets_and_log_groups_are_managed_without_showing_the_secret() {
    let moto = Moto::start();
    let ws = Ws::with_main(&observability(SECRET));
    moto.run(&ws, &["plan"]).success().lacks(SECRET);
    let out = moto.run(&ws, &["apply", "--auto-approve"]);
    out.success().contains("4 added").lacks(SECRET);
    let key_id = output(&out, "key_id");
    let secret_arn = output(&out, "secret_arn");
    let version_id = output(&out, "version_id");

    let sdk = moto.sdk();
    let kms = aws_sdk_kms::Client::new(&sdk);
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let rt = runtime();
    let group = || async {
        let out = logs
            .describe_log_groups()
            .log_group_name_prefix("/app/web")
            .send()
            .await
            .unwrap();
        out.log_groups()[0].clone()
    };
    rt.block_on(async {
        let key = kms.describe_key().key_id(&key_id).send().await.unwrap();
        let meta = key.key_metadata().unwrap();
        assert_eq!(
            meta.description(),
            Some("Encrypts the app's secrets and logs")
        );
        assert!(meta.enabled());
        let rotation = kms
            .get_key_rotation_status()
            .key_id(&key_id)
            .send()
            .await
            .unwrap();
        assert!(rotation.key_rotation_enabled());
        let secret = sm
            .describe_secret()
            .secret_id(&secret_arn)
            .send()
            .await
            .unwrap();
        assert_eq!(secret.kms_key_id(), Some(key_id.as_str()));
        assert_eq!(current_secret(&sm, &secret_arn, &version_id).await, SECRET);
        let g = group().await;
        assert_eq!(g.retention_in_days(), Some(14));
        assert!(g.kms_key_id().unwrap().ends_with(&key_id));
    });
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0)
        .lacks(SECRET);
    moto.run(
        &ws,
        &["state", "show", "aws_secretsmanager_secret_version.db"],
    )
    .success()
    .contains("secret_string")
    .contains("sensitive")
    .lacks(SECRET);

    // Changed by hand: the key disabled, a new secret value made current, the
    // retention raised.
    rt.block_on(async {
        kms.disable_key().key_id(&key_id).send().await.unwrap();
        sm.put_secret_value()
            .secret_id(&secret_arn)
            .secret_string("rotated-by-hand")
            .send()
            .await
            .unwrap();
        logs.put_retention_policy()
            .log_group_name("/app/web")
            .retention_in_days(30)
            .send()
            .await
            .unwrap();
    });
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("aws_kms_key.app will be updated in-place")
        .contains("aws_secretsmanager_secret_version.db will be updated in-place")
        .contains("aws_cloudwatch_log_group.web will be updated in-place")
        .contains("30 -> 14")
        .lacks(SECRET);
    moto.run(&ws, &["apply", "--auto-approve"])
        .success()
        .contains("3 changed")
        .lacks(SECRET);
    rt.block_on(async {
        let key = kms.describe_key().key_id(&key_id).send().await.unwrap();
        assert!(key.key_metadata().unwrap().enabled());
        assert_eq!(
            current_secret(&sm, &secret_arn, &version_id).await,
            SECRET,
            "terrane's version is current again"
        );
        assert_eq!(group().await.retention_in_days(), Some(14));
    });
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // Forgotten, then imported by Terraform's IDs: only the destroy-time settings
    // AWS does not report (deletion and recovery windows) differ.
    let addrs = [
        ("aws_kms_key.app", key_id.clone()),
        ("aws_secretsmanager_secret.db", secret_arn.clone()),
        (
            "aws_secretsmanager_secret_version.db",
            format!("{secret_arn}|{version_id}"),
        ),
        ("aws_cloudwatch_log_group.web", "/app/web".to_string()),
    ];
    for (addr, _) in &addrs {
        ws.run(&["state", "rm", addr]).success();
    }
    for (addr, id) in &addrs {
        moto.run(&ws, &["import", addr, id]).success().lacks(SECRET);
    }
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(2)
        .contains("0 to add, 2 to change, 0 to destroy")
        .contains("aws_kms_key.app will be updated in-place")
        .contains("aws_secretsmanager_secret.db will be updated in-place")
        .lacks(SECRET);
    moto.run(&ws, &["apply", "--auto-approve"])
        .success()
        .lacks(SECRET);
    moto.run(&ws, &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // A new value replaces the version; the old one loses AWSCURRENT.
    ws.write("main.tf", &observability("second-value"));
    let out = moto.run(&ws, &["apply", "--auto-approve"]);
    out.success()
        .contains("1 added, 0 changed, 1 destroyed")
        .lacks(SECRET);
    let second = output(&out, "version_id");
    assert_ne!(second, version_id);
    rt.block_on(async {
        assert_eq!(
            current_secret(&sm, &secret_arn, &second).await,
            "second-value"
        );
    });

    moto.run(&ws, &["destroy", "--auto-approve"])
        .success()
        .contains("4 destroyed");
    rt.block_on(async {
        let key = kms.describe_key().key_id(&key_id).send().await.unwrap();
        let meta = key.key_metadata().unwrap();
        assert_eq!(meta.key_state().unwrap().as_str(), "PendingDeletion");
        assert!(
            sm.describe_secret()
                .secret_id(&secret_arn)
                .send()
                .await
                .is_err(),
            "recovery_window_in_days = 0 deletes the secret at once"
        );
        let groups = logs.describe_log_groups().send().await.unwrap();
        assert!(groups.log_groups().is_empty());
    });
}

#[test]
fn bad_security_input_is_a_clear_error_at_plan_time() {
    let moto = Moto::start();
    let ws = Ws::with_main(&format!(
        r#"{PROVIDER}
resource "aws_iam_role" "r" {{
  name                 = "no spaces allowed"
  assume_role_policy   = "{{not json"
  max_session_duration = 600
}}

resource "aws_kms_key" "k" {{
  key_usage               = "ENCRYPT"
  deletion_window_in_days = 3
}}

resource "aws_secretsmanager_secret" "s" {{
  name                    = "app/s"
  recovery_window_in_days = 3
}}

resource "aws_secretsmanager_secret_version" "v" {{
  secret_id = "app/s"
}}

resource "aws_cloudwatch_metric_alarm" "a" {{
  alarm_name          = "a"
  comparison_operator = "Bigger"
  evaluation_periods  = 1
  metric_name         = "Errors"
  namespace           = "AWS/Lambda"
  period              = 45
  statistic           = "Median"
}}

resource "aws_cloudwatch_log_group" "g" {{
  name              = "g"
  retention_in_days = 10
}}

resource "aws_ecr_repository" "e" {{
  name                 = "Bad_Repo"
  image_tag_mutability = "SOMETIMES"
}}

resource "aws_lambda_function" "f" {{
  function_name = "f"
  role          = "arn:aws:iam::{ACCOUNT}:role/r"
  handler       = "index.handler"
  runtime       = "python3.12"
  filename      = "f.zip"
  memory_size   = 64
  timeout       = 1000
}}
"#
    ));
    moto.run(&ws, &["plan"])
        .expect_code(1)
        .contains("name \"no spaces allowed\" must be 1 to 64 letters")
        .contains("assume_role_policy is not a JSON policy document")
        .contains("max_session_duration 600 must be between 3600 and 43200")
        .contains("key_usage \"ENCRYPT\" is not one of")
        .contains("ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC")
        .contains("deletion_window_in_days 3 must be between 7 and 30")
        .contains("recovery_window_in_days 3 must be 0 (delete at once) or between 7 and 30")
        .contains("set exactly one of secret_string and secret_binary")
        .contains("comparison_operator \"Bigger\" is not one of")
        .contains("GreaterThanOrEqualToThreshold")
        .contains("statistic \"Median\" is not one of Average, Maximum, Minimum, SampleCount, Sum")
        .contains("period 45 must be 10, 20, 30 or a multiple of 60 seconds")
        .contains("retention_in_days 10 is not one of 0, 1, 3, 5, 7, 14")
        .contains("name \"Bad_Repo\" must be 2 to 256 lowercase letters")
        .contains("image_tag_mutability \"SOMETIMES\" is not one of IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE")
        .contains("memory_size 64 must be between 128 and 10240")
        .contains("timeout 1000 must be between 1 and 900");
    assert!(ws.state_list().is_empty());

    // A valid alarm plans with AWS's defaults. (moto cannot go further: the CloudWatch
    // SDK speaks the rpcv2-cbor protocol, which moto does not serve.)
    ws.write(
        "main.tf",
        &format!(
            r#"{PROVIDER}
resource "aws_cloudwatch_metric_alarm" "errors" {{
  alarm_name          = "web-errors"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 2
  metric_name         = "Errors"
  namespace           = "AWS/Lambda"
  period              = 60
  statistic           = "Sum"
  threshold           = 5
  dimensions          = {{ FunctionName = "web" }}
}}
"#
        ),
    );
    moto.run(&ws, &["plan"])
        .success()
        .contains("aws_cloudwatch_metric_alarm.errors will be created")
        .contains("treat_missing_data")
        .contains("\"missing\"")
        .contains("1 to add");
}
