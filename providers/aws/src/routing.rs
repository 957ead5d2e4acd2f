//! EC2 routing beyond route tables: `aws_nat_gateway`, `aws_egress_only_internet_gateway`
//! and `aws_route` (one route of a route table, as the public VPC modules manage them).

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, ImportKey, PlannedChange, ProviderError, Resource, Result, Schema,
};

use crate::context::{api_error, deleted, found, Aws};
use crate::ec2::{id_of, read_tags, tag_spec, update_tags};
use crate::util::{import_by, opt_str, set, str_attr};
use crate::{plan_tags, tag_attrs};

/// `aws_nat_gateway`: public (with an Elastic IP's `allocation_id`) or private.
pub struct NatGateway;

#[async_trait]
impl Resource<Aws> for NatGateway {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr("subnet_id", AttrSchema::required(Type::String).force_new())
                .attr(
                    "allocation_id",
                    AttrSchema::optional(Type::String).force_new(),
                )
                .attr(
                    "connectivity_type",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr(
                    "private_ip",
                    AttrSchema::optional_computed(Type::String).force_new(),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("network_interface_id", AttrSchema::computed(Type::String))
                .attr("public_ip", AttrSchema::computed(Type::String)),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let kind = str_attr(config, "connectivity_type").unwrap_or("public");
        if !matches!(kind, "public" | "private") {
            return Err(ProviderError::config(format!(
                "connectivity_type {kind:?} must be public or private"
            )));
        }
        if kind == "private" && str_attr(config, "allocation_id").is_some() {
            return Err(ProviderError::config(
                "a private NAT gateway takes no allocation_id (Elastic IPs are for public ones)",
            ));
        }
        let mut change = plan_by_schema(schema, prior, config);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let kind = str_attr(&planned, "connectivity_type").unwrap_or("public");
        let out = aws
            .ec2()
            .await?
            .create_nat_gateway()
            .subnet_id(str_attr(&planned, "subnet_id").unwrap_or_default())
            .set_allocation_id(str_attr(&planned, "allocation_id").map(str::to_string))
            .connectivity_type(kind.into())
            .set_private_ip_address(str_attr(&planned, "private_ip").map(str::to_string))
            .set_tag_specifications(
                tag_spec(ResourceType::Natgateway, aws, &planned).map(|t| vec![t]),
            )
            .send()
            .await
            .map_err(|e| api_error("creating a NAT gateway", e))?;
        let id = out
            .nat_gateway()
            .and_then(|g| g.nat_gateway_id())
            .unwrap_or_default()
            .to_string();
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("NAT gateway {id}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = id_of(&state)?;
        let Some(out) = found(
            &format!("reading NAT gateway {id}"),
            aws.ec2()
                .await?
                .describe_nat_gateways()
                .nat_gateway_ids(&id)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(g) = out.nat_gateways().first() else {
            return Ok(None);
        };
        if matches!(
            g.state().map(|s| s.as_str()),
            Some("deleted") | Some("deleting") | Some("failed")
        ) {
            return Ok(None);
        }
        set(&mut state, "subnet_id", opt_str(g.subnet_id()));
        set(
            &mut state,
            "connectivity_type",
            opt_str(g.connectivity_type().map(|c| c.as_str())),
        );
        let address = g.nat_gateway_addresses().first();
        set(
            &mut state,
            "allocation_id",
            opt_str(address.and_then(|a| a.allocation_id())),
        );
        set(
            &mut state,
            "network_interface_id",
            opt_str(address.and_then(|a| a.network_interface_id())),
        );
        set(
            &mut state,
            "private_ip",
            opt_str(address.and_then(|a| a.private_ip())),
        );
        set(
            &mut state,
            "public_ip",
            opt_str(address.and_then(|a| a.public_ip())),
        );
        read_tags(aws, &mut state, g.tags());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let id = id_of(&prior)?;
        update_tags(aws, &id, &prior, &planned).await?;
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("NAT gateway {id}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        deleted(
            &format!("deleting NAT gateway {id}"),
            aws.ec2()
                .await?
                .delete_nat_gateway()
                .nat_gateway_id(&id)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("NAT gateway {id}"))
    }
}

/// `aws_egress_only_internet_gateway`: outbound-only IPv6 for a VPC.
pub struct EgressOnlyGateway;

#[async_trait]
impl Resource<Aws> for EgressOnlyGateway {
    fn schema(&self) -> Schema {
        tag_attrs(
            Schema::new()
                .attr("vpc_id", AttrSchema::required(Type::String).force_new())
                .attr("id", AttrSchema::computed(Type::String)),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let mut change = plan_by_schema(schema, prior, config);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let out = aws
            .ec2()
            .await?
            .create_egress_only_internet_gateway()
            .vpc_id(str_attr(&planned, "vpc_id").unwrap_or_default())
            .set_tag_specifications(
                tag_spec(ResourceType::EgressOnlyInternetGateway, aws, &planned).map(|t| vec![t]),
            )
            .send()
            .await
            .map_err(|e| api_error("creating an egress-only internet gateway", e))?;
        let id = out
            .egress_only_internet_gateway()
            .and_then(|g| g.egress_only_internet_gateway_id())
            .unwrap_or_default()
            .to_string();
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("egress-only internet gateway {id}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = id_of(&state)?;
        let Some(out) = found(
            &format!("reading egress-only internet gateway {id}"),
            aws.ec2()
                .await?
                .describe_egress_only_internet_gateways()
                .egress_only_internet_gateway_ids(&id)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(g) = out.egress_only_internet_gateways().first() else {
            return Ok(None);
        };
        set(
            &mut state,
            "vpc_id",
            opt_str(g.attachments().first().and_then(|a| a.vpc_id())),
        );
        read_tags(aws, &mut state, g.tags());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let id = id_of(&prior)?;
        update_tags(aws, &id, &prior, &planned).await?;
        set(&mut planned, "id", id.as_str());
        self.read_back(aws, planned, &format!("egress-only internet gateway {id}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        deleted(
            &format!("deleting egress-only internet gateway {id}"),
            aws.ec2()
                .await?
                .delete_egress_only_internet_gateway()
                .egress_only_internet_gateway_id(&id)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("id", |id| format!("egress-only internet gateway {id}"))
    }
}

/// `aws_route`: one route of a route table, to one target. Its ID is Terraform's,
/// `r-` + the table ID + a hash of the destination; its import ID
/// `ROUTE_TABLE_ID_DESTINATION`.
pub struct Route;

/// The route's targets, each an argument of the resource and of `CreateRoute`.
const TARGETS: [&str; 6] = [
    "gateway_id",
    "nat_gateway_id",
    "egress_only_gateway_id",
    "network_interface_id",
    "vpc_peering_connection_id",
    "transit_gateway_id",
];

/// The destination of a route, and which argument holds it.
fn destination(v: &Value) -> Option<(&'static str, &str)> {
    ["destination_cidr_block", "destination_ipv6_cidr_block"]
        .into_iter()
        .find_map(|k| str_attr(v, k).map(|d| (k, d)))
}

/// A `CreateRoute` or `ReplaceRoute` call with the route's table, target and
/// destination (the two calls take the same arguments).
macro_rules! route_call {
    ($call:expr, $planned:expr, $table:expr, $kind:expr, $dest:expr) => {{
        let target = |k: &str| str_attr($planned, k).map(str::to_string);
        let call = $call
            .route_table_id($table)
            .set_gateway_id(target("gateway_id"))
            .set_nat_gateway_id(target("nat_gateway_id"))
            .set_egress_only_internet_gateway_id(target("egress_only_gateway_id"))
            .set_network_interface_id(target("network_interface_id"))
            .set_vpc_peering_connection_id(target("vpc_peering_connection_id"))
            .set_transit_gateway_id(target("transit_gateway_id"));
        if $kind == "destination_cidr_block" {
            call.destination_cidr_block($dest)
        } else {
            call.destination_ipv6_cidr_block($dest)
        }
    }};
}

/// Terraform's route ID: `r-` + table + the CRC-32 (IEEE) of the destination.
fn route_id(table: &str, destination: &str) -> String {
    format!("r-{table}{}", crc32fast::hash(destination.as_bytes()))
}

#[async_trait]
impl Resource<Aws> for Route {
    fn schema(&self) -> Schema {
        let mut s = Schema::new()
            .attr(
                "route_table_id",
                AttrSchema::required(Type::String).force_new(),
            )
            .attr(
                "destination_cidr_block",
                AttrSchema::optional(Type::String).force_new(),
            )
            .attr(
                "destination_ipv6_cidr_block",
                AttrSchema::optional(Type::String).force_new(),
            )
            .attr("id", AttrSchema::computed(Type::String))
            .attr("state", AttrSchema::computed(Type::String))
            .attr("origin", AttrSchema::computed(Type::String));
        for t in TARGETS {
            s = s.attr(t, AttrSchema::optional(Type::String));
        }
        s
    }

    fn plan(
        &self,
        _aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let destinations = ["destination_cidr_block", "destination_ipv6_cidr_block"]
            .iter()
            .filter(|k| config.get(k).is_some_and(|v| !v.is_null()))
            .count();
        if destinations != 1 {
            return Err(ProviderError::config(
                "a route needs exactly one of destination_cidr_block and destination_ipv6_cidr_block",
            ));
        }
        let targets = TARGETS
            .iter()
            .filter(|k| config.get(k).is_some_and(|v| !v.is_null()))
            .count();
        if targets != 1 {
            return Err(ProviderError::config(format!(
                "a route needs exactly one target: one of {}",
                TARGETS.join(", ")
            )));
        }
        Ok(plan_by_schema(schema, prior, config))
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let table = str_attr(&planned, "route_table_id")
            .unwrap_or_default()
            .to_string();
        let Some((kind, dest)) = destination(&planned).map(|(k, d)| (k, d.to_string())) else {
            return Err(ProviderError::config("the route has no destination"));
        };
        let call = route_call!(
            aws.ec2().await?.create_route(),
            &planned,
            &table,
            kind,
            &dest
        );
        call.send()
            .await
            .map_err(|e| api_error(&format!("creating the route to {dest} in {table}"), e))?;
        set(&mut planned, "id", route_id(&table, &dest));
        self.read_back(aws, planned, &format!("the route to {dest} in {table}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let table = str_attr(&state, "route_table_id")
            .unwrap_or_default()
            .to_string();
        let Some((kind, dest)) = destination(&state).map(|(k, d)| (k, d.to_string())) else {
            return Ok(None);
        };
        let Some(out) = found(
            &format!("reading route table {table}"),
            aws.ec2()
                .await?
                .describe_route_tables()
                .route_table_ids(&table)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(route) = out
            .route_tables()
            .first()
            .into_iter()
            .flat_map(|t| t.routes())
            .find(|r| match kind {
                "destination_cidr_block" => r.destination_cidr_block() == Some(dest.as_str()),
                _ => r.destination_ipv6_cidr_block() == Some(dest.as_str()),
            })
        else {
            return Ok(None);
        };
        // A gateway ID of an egress-only gateway is reported in its own field.
        let gateway = route.gateway_id().filter(|g| !g.starts_with("eigw-"));
        set(&mut state, "gateway_id", opt_str(gateway));
        set(
            &mut state,
            "nat_gateway_id",
            opt_str(route.nat_gateway_id()),
        );
        set(
            &mut state,
            "egress_only_gateway_id",
            opt_str(route.egress_only_internet_gateway_id()),
        );
        set(
            &mut state,
            "network_interface_id",
            opt_str(route.network_interface_id()),
        );
        set(
            &mut state,
            "vpc_peering_connection_id",
            opt_str(route.vpc_peering_connection_id()),
        );
        set(
            &mut state,
            "transit_gateway_id",
            opt_str(route.transit_gateway_id()),
        );
        set(
            &mut state,
            "state",
            opt_str(route.state().map(|s| s.as_str())),
        );
        set(
            &mut state,
            "origin",
            opt_str(route.origin().map(|s| s.as_str())),
        );
        set(&mut state, "id", route_id(&table, &dest));
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, _prior: Value, planned: Value) -> Result<Value> {
        let table = str_attr(&planned, "route_table_id")
            .unwrap_or_default()
            .to_string();
        let Some((kind, dest)) = destination(&planned).map(|(k, d)| (k, d.to_string())) else {
            return Err(ProviderError::config("the route has no destination"));
        };
        let call = route_call!(
            aws.ec2().await?.replace_route(),
            &planned,
            &table,
            kind,
            &dest
        );
        call.send()
            .await
            .map_err(|e| api_error(&format!("changing the route to {dest} in {table}"), e))?;
        self.read_back(aws, planned, &format!("the route to {dest} in {table}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let table = str_attr(&state, "route_table_id")
            .unwrap_or_default()
            .to_string();
        let Some((kind, dest)) = destination(&state).map(|(k, d)| (k, d.to_string())) else {
            return Ok(());
        };
        let mut call = aws.ec2().await?.delete_route().route_table_id(&table);
        call = if kind == "destination_cidr_block" {
            call.destination_cidr_block(&dest)
        } else {
            call.destination_ipv6_cidr_block(&dest)
        };
        deleted(
            &format!("deleting the route to {dest} in {table}"),
            call.send().await,
        )
    }

    async fn import(&self, aws: &Aws, id: &str) -> Result<Value> {
        let Some((table, dest)) = id.split_once('_') else {
            return Err(ProviderError::config(format!(
                "the import ID {id:?} is not ROUTE_TABLE_ID_DESTINATION (for example rtb-0abc_10.0.0.0/16)"
            )));
        };
        let kind = if dest.contains(':') {
            "destination_ipv6_cidr_block"
        } else {
            "destination_cidr_block"
        };
        let state = Value::map([
            ("route_table_id", Value::from(table)),
            (kind, Value::from(dest)),
        ]);
        match self.read(aws, state).await? {
            Some(v) => Ok(v),
            None => Err(ProviderError::config(format!(
                "route table {table} has no route to {dest}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_ids_are_terraforms() {
        // CRC-32 (IEEE) of "123456789" is 0xCBF43926, the standard check value.
        assert_eq!(super::route_id("rtb-1", "123456789"), "r-rtb-13421780262");
    }
}
