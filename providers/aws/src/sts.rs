//! STS: the `aws_caller_identity` data source.

use async_trait::async_trait;
use terrane_core::{Type, Value};
use terrane_provider::{AttrSchema, DataSource, Result, Schema};

use crate::context::{api_error, Aws};
use crate::util::{opt_str, set};

pub struct CallerIdentity;

#[async_trait]
impl DataSource<Aws> for CallerIdentity {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("id", AttrSchema::computed(Type::String))
            .attr("account_id", AttrSchema::computed(Type::String))
            .attr("arn", AttrSchema::computed(Type::String))
            .attr("user_id", AttrSchema::computed(Type::String))
    }

    async fn read(&self, aws: &Aws, mut config: Value) -> Result<Value> {
        let out = aws
            .sts()
            .await?
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| api_error("reading the caller identity (sts:GetCallerIdentity)", e))?;
        set(&mut config, "id", opt_str(out.account()));
        set(&mut config, "account_id", opt_str(out.account()));
        set(&mut config, "arn", opt_str(out.arn()));
        set(&mut config, "user_id", opt_str(out.user_id()));
        Ok(config)
    }
}
