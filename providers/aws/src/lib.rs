//! Provider `aws`: AWS resources through the official AWS SDK for Rust, with
//! Terraform's resource names and attributes.
//!
//! [`context`] holds the provider configuration (region, credentials, endpoints, default
//! tags) and the lazily built SDK clients; each service module implements
//! [`terrane_provider::Resource`] once per resource type, and [`factory`] registers them
//! in a [`Dispatch`].

pub mod autoscaling;
pub mod cloudwatch;
pub mod compute;
pub mod context;
pub mod dynamodb;
pub mod ec2;
pub mod ecr;
pub mod elasticache;
pub mod elb;
pub mod iam;
pub mod kms;
pub mod lambda;
pub mod messaging;
pub mod policy_doc;
pub mod rds;
pub mod route53;
pub mod routing;
pub mod s3;
pub mod secretsmanager;
pub mod sts;
pub mod util;

use std::sync::Arc;

use terrane_core::{Type, Value};
use terrane_provider::{
    AttrSchema, BlockSchema, Dispatch, Provider, ProviderFactory, ProviderSchema, Result, Schema,
};

use context::{Aws, Settings, SERVICES};
use util::{set, string_map};

/// Adds `tags` (set by the user) and `tags_all` (with the provider's default tags).
pub fn tag_attrs(schema: Schema) -> Schema {
    schema
        .attr(
            "tags",
            AttrSchema::optional(Type::Map(Box::new(Type::String))),
        )
        .attr(
            "tags_all",
            AttrSchema::computed(Type::Map(Box::new(Type::String))),
        )
}

/// Plans `tags_all` from the provider's default tags and the resource's own, when the
/// latter are known.
pub fn plan_tags(aws: &Aws, planned: &mut Value) {
    let tags = planned.get("tags");
    if tags.is_some_and(|t| !t.is_wholly_known()) {
        set(planned, "tags_all", Value::Unknown);
        return;
    }
    let all = aws.tags_all(&string_map(tags));
    set(planned, "tags_all", context::tags_value(&all));
}

fn provider(aws: Aws) -> Dispatch<Aws> {
    let d = Dispatch::new(aws)
        .resource("aws_s3_bucket", s3::Bucket)
        .resource("aws_s3_bucket_versioning", s3::Versioning)
        .resource("aws_s3_bucket_replication_configuration", s3::Replication)
        .resource(
            "aws_s3_bucket_server_side_encryption_configuration",
            s3::Encryption,
        )
        .resource("aws_s3_bucket_public_access_block", s3::PublicAccessBlock)
        .resource("aws_s3_object", s3::Object)
        .resource("aws_sqs_queue", messaging::Queue)
        .resource("aws_sns_topic", messaging::Topic)
        .resource("aws_dynamodb_table", dynamodb::Table)
        .resource("aws_vpc", ec2::Vpc)
        .resource("aws_subnet", ec2::Subnet)
        .resource("aws_internet_gateway", ec2::InternetGateway)
        .resource("aws_nat_gateway", routing::NatGateway)
        .resource(
            "aws_egress_only_internet_gateway",
            routing::EgressOnlyGateway,
        )
        .resource("aws_route", routing::Route)
        .resource("aws_security_group", ec2::SecurityGroup)
        .resource("aws_route_table", ec2::RouteTable)
        .resource("aws_route_table_association", ec2::RouteTableAssociation)
        .resource(
            "aws_vpc_security_group_ingress_rule",
            ec2::SecurityGroupRule { egress: false },
        )
        .resource(
            "aws_vpc_security_group_egress_rule",
            ec2::SecurityGroupRule { egress: true },
        )
        .data_source("aws_availability_zones", ec2::AvailabilityZones)
        .data_source("aws_caller_identity", sts::CallerIdentity);
    // Newer service modules register their own types.
    [
        policy_doc::register,
        compute::register,
        elb::register,
        autoscaling::register,
        route53::register,
        rds::register,
        elasticache::register,
        iam::register,
        kms::register,
        secretsmanager::register,
        cloudwatch::register,
        ecr::register,
        lambda::register,
    ]
    .into_iter()
    .fold(d, |d, register| register(d))
}

fn provider_schema() -> Schema {
    let flag = || AttrSchema::optional(Type::Bool);
    let endpoints = SERVICES.iter().fold(Schema::new(), |s, svc| {
        s.attr(svc, AttrSchema::optional(Type::String))
    });
    Schema::new()
        .attr(
            "region",
            AttrSchema::optional(Type::String)
                .describe("The AWS region; else AWS_REGION or the profile's region."),
        )
        .attr("profile", AttrSchema::optional(Type::String))
        .attr("access_key", AttrSchema::optional(Type::String))
        .attr("secret_key", AttrSchema::optional(Type::String).sensitive())
        .attr("token", AttrSchema::optional(Type::String).sensitive())
        .attr("max_retries", AttrSchema::optional(Type::Number))
        .attr("s3_use_path_style", flag())
        .attr("skip_credentials_validation", flag())
        .attr("skip_requesting_account_id", flag())
        .attr("skip_metadata_api_check", flag())
        .attr("skip_region_validation", flag())
        .block("endpoints", BlockSchema::single(endpoints))
        .block(
            "default_tags",
            BlockSchema::single(Schema::new().attr(
                "tags",
                AttrSchema::optional(Type::Map(Box::new(Type::String))),
            )),
        )
        .block(
            "assume_role",
            BlockSchema::single(
                Schema::new()
                    .attr("role_arn", AttrSchema::required(Type::String))
                    .attr("session_name", AttrSchema::optional(Type::String))
                    .attr("external_id", AttrSchema::optional(Type::String)),
            ),
        )
}

/// The `aws` provider's factory.
pub struct AwsFactory {
    schema: ProviderSchema,
}

impl ProviderFactory for AwsFactory {
    fn name(&self) -> &str {
        "aws"
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn configure(&self, config: &Value) -> Result<Arc<dyn Provider>> {
        let settings = Settings::from_config(config)?;
        Ok(Arc::new(provider(Aws::new(settings))))
    }
}

pub fn factory() -> AwsFactory {
    let (mut resources, data_sources) = provider(Aws::new(Settings::default())).schemas();
    // AWS provider v6: every resource may name its own region (a change replaces it);
    // left out, it is the provider's.
    for schema in resources.values_mut() {
        schema.attributes.insert(
            "region".into(),
            terrane_provider::AttrSchema::optional_computed(terrane_core::Type::String).force_new(),
        );
    }
    AwsFactory {
        schema: ProviderSchema {
            provider: provider_schema(),
            resources,
            data_sources,
        },
    }
}

/// `schema.json` beside this crate is the provider's schema as a build without the AWS
/// SDK registers it (`terrane_provider::snapshot`): this test keeps it current.
/// After changing a schema, write it anew with
/// `TERRANE_UPDATE_SCHEMA=1 cargo test -p terrane-provider-aws schema_snapshot`.
#[cfg(test)]
mod schema_snapshot {
    #[test]
    fn schema_json_matches_the_provider() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.json");
        let schema = terrane_provider::ProviderFactory::schema(&super::factory()).clone();
        let want = serde_json::to_string_pretty(&terrane_provider::snapshot::to_json(&schema))
            .expect("serialize")
            + "\n";
        if std::env::var_os("TERRANE_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &want).expect("write schema.json");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is out of date with the provider's schemas; write it anew with TERRANE_UPDATE_SCHEMA=1 cargo test -p terrane-provider-aws schema_snapshot",
            path.display()
        );
        // And it reads back as the same schema.
        let back = terrane_provider::snapshot::from_json(&serde_json::from_str(&have).unwrap())
            .expect("schema.json reads back");
        assert_eq!(
            terrane_provider::snapshot::to_json(&back),
            terrane_provider::snapshot::to_json(&schema)
        );
    }
}
