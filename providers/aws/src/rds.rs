//! RDS: `aws_db_instance` and `aws_db_subnet_group`.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::types::Tag;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, Dispatch, ImportKey, PlannedChange, ProviderError, Resource, Result, Schema,
};

use crate::context::{api_error, deleted, found, tags_value, Aws};
use crate::util::{
    bool_attr, check_timeouts, default_to, import_by, num_attr, object, opt_num, opt_str, own_tags,
    set, str_attr, str_list, str_set_value, string_map, timeout, timeouts_block, wait_for,
};
use crate::{plan_tags, tag_attrs};

pub fn register(d: Dispatch<Aws>) -> Dispatch<Aws> {
    d.resource("aws_db_instance", DbInstance)
        .resource("aws_db_subnet_group", SubnetGroup)
}

fn rds_tags(aws: &Aws, planned: &Value) -> Option<Vec<Tag>> {
    let all = aws.tags_all(&string_map(planned.get("tags")));
    (!all.is_empty()).then(|| tag_list(&all))
}

fn tag_list(all: &BTreeMap<String, String>) -> Vec<Tag> {
    all.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn read_rds_tags(aws: &Aws, state: &mut Value, tags: &[Tag]) {
    let actual: BTreeMap<String, String> = tags
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let own = own_tags(state, &actual, &aws.settings.default_tags);
    set(state, "tags", own);
    set(state, "tags_all", tags_value(&actual));
}

async fn update_rds_tags(aws: &Aws, arn: &str, prior: &Value, planned: &Value) -> Result<()> {
    let rds = aws.rds().await?;
    aws.sync_tags(
        arn,
        prior,
        planned,
        |keys| {
            rds.remove_tags_from_resource()
                .resource_name(arn)
                .set_tag_keys(Some(keys))
                .send()
        },
        |all| {
            Ok(rds
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(tag_list(&all)))
                .send())
        },
    )
    .await
}

const ENGINES: [&str; 12] = [
    "mysql",
    "mariadb",
    "postgres",
    "aurora-mysql",
    "aurora-postgresql",
    "oracle-ee",
    "oracle-se2",
    "sqlserver-ee",
    "sqlserver-se",
    "sqlserver-ex",
    "sqlserver-web",
    "db2-se",
];

/// RDS identifiers: 1 to 63 lower-case letters, digits and hyphens, starting with a
/// letter, without two hyphens in a row or a hyphen at the end.
fn check_identifier(id: &str, attr: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 63
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ProviderError::config(format!(
            "{attr} {id:?} must be 1 to 63 lower-case letters, digits and hyphens, start with a letter, and have no \"--\" or trailing hyphen"
        )))
    }
}

/// The master password: checked without ever putting it in a message.
fn check_password(config: &Value) -> Result<()> {
    let Some(p) = str_attr(config, "password") else {
        return Ok(());
    };
    if p.len() < 8 || p.len() > 128 {
        return Err(ProviderError::config(
            "password must be 8 to 128 characters long (its value is not shown)",
        ));
    }
    if p.chars().any(|c| matches!(c, '/' | '"' | '@' | ' ')) {
        return Err(ProviderError::config(
            "password may not contain /, \", @ or spaces (its value is not shown)",
        ));
    }
    Ok(())
}

/// `aws_db_instance`: a managed database. Most settings change in place
/// (`apply_immediately` or in the next maintenance window); the engine, identifier,
/// encryption and subnet group replace it. The password is write-only: it is never
/// read back, and it is stored encrypted as a sensitive value.
pub struct DbInstance;

#[async_trait]
impl Resource<Aws> for DbInstance {
    fn schema(&self) -> Schema {
        let oc = AttrSchema::optional_computed;
        tag_attrs(
            Schema::new()
                .attr("identifier", oc(Type::String).force_new())
                .attr(
                    "identifier_prefix",
                    AttrSchema::optional(Type::String).force_new(),
                )
                .attr("engine", AttrSchema::required(Type::String).force_new())
                .attr("engine_version", oc(Type::String))
                .attr("instance_class", AttrSchema::required(Type::String))
                .attr("allocated_storage", oc(Type::Number))
                .attr("max_allocated_storage", AttrSchema::optional(Type::Number))
                .attr("storage_type", oc(Type::String))
                .attr("iops", oc(Type::Number))
                .attr("storage_encrypted", oc(Type::Bool).force_new())
                .attr("kms_key_id", oc(Type::String).force_new())
                .attr("username", oc(Type::String).force_new())
                .attr("password", AttrSchema::optional(Type::String).sensitive())
                .attr("db_name", oc(Type::String).force_new())
                .attr("port", oc(Type::Number))
                .attr("multi_az", oc(Type::Bool))
                .attr("publicly_accessible", oc(Type::Bool))
                .attr(
                    "vpc_security_group_ids",
                    oc(Type::Set(Box::new(Type::String))),
                )
                .attr("db_subnet_group_name", oc(Type::String).force_new())
                .attr("parameter_group_name", oc(Type::String))
                .attr("availability_zone", oc(Type::String).force_new())
                .attr("backup_retention_period", oc(Type::Number))
                .attr("deletion_protection", oc(Type::Bool))
                .attr("skip_final_snapshot", AttrSchema::optional(Type::Bool))
                .attr(
                    "final_snapshot_identifier",
                    AttrSchema::optional(Type::String),
                )
                .attr("apply_immediately", AttrSchema::optional(Type::Bool))
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .attr("address", AttrSchema::computed(Type::String))
                .attr("endpoint", AttrSchema::computed(Type::String))
                .attr("hosted_zone_id", AttrSchema::computed(Type::String))
                .attr("resource_id", AttrSchema::computed(Type::String))
                .attr("status", AttrSchema::computed(Type::String))
                .block("timeouts", timeouts_block()),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        check_timeouts(config)?;
        if let Some(id) = str_attr(config, "identifier") {
            check_identifier(id, "identifier")?;
        }
        if let Some(e) = str_attr(config, "engine") {
            if !ENGINES.contains(&e) {
                return Err(ProviderError::config(format!(
                    "engine {e:?}: must be one of {}",
                    ENGINES.join(", ")
                )));
            }
        }
        if let Some(c) = str_attr(config, "instance_class") {
            if !c.starts_with("db.") {
                return Err(ProviderError::config(format!(
                    "instance_class {c:?} is not an RDS class such as \"db.t3.micro\""
                )));
            }
        }
        check_password(config)?;
        if prior.is_none()
            && config.get("password").is_none_or(Value::is_null)
            && !str_attr(config, "engine")
                .unwrap_or_default()
                .starts_with("aurora")
        {
            return Err(ProviderError::config(
                "password is required for a new database (use a sensitive variable or a terrane_secret data source)",
            ));
        }
        if let (Some(a), Some(m)) = (
            num_attr(config, "allocated_storage"),
            num_attr(config, "max_allocated_storage"),
        ) {
            if m != 0 && m < a {
                return Err(ProviderError::config(format!(
                    "max_allocated_storage ({m}) must be at least allocated_storage ({a})"
                )));
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "publicly_accessible", false);
        default_to(&mut change.planned, "multi_az", false);
        default_to(&mut change.planned, "deletion_protection", false);
        default_to(&mut change.planned, "storage_encrypted", false);
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let id = match (
            str_attr(&planned, "identifier"),
            str_attr(&planned, "identifier_prefix"),
        ) {
            (Some(i), _) => i.to_string(),
            (None, prefix) => format!(
                "{}{}",
                prefix.unwrap_or("terraform-"),
                &uuid::Uuid::new_v4().simple().to_string()[..26]
            ),
        };
        let groups = str_list(&planned, "vpc_security_group_ids");
        aws.rds()
            .await?
            .create_db_instance()
            .db_instance_identifier(&id)
            .set_engine(str_attr(&planned, "engine").map(str::to_string))
            .set_engine_version(str_attr(&planned, "engine_version").map(str::to_string))
            .set_db_instance_class(str_attr(&planned, "instance_class").map(str::to_string))
            .set_allocated_storage(num_attr(&planned, "allocated_storage").map(|n| n as i32))
            .set_max_allocated_storage(
                num_attr(&planned, "max_allocated_storage").map(|n| n as i32),
            )
            .set_storage_type(str_attr(&planned, "storage_type").map(str::to_string))
            .set_iops(num_attr(&planned, "iops").map(|n| n as i32))
            .set_storage_encrypted(planned.get("storage_encrypted").and_then(Value::as_bool))
            .set_kms_key_id(str_attr(&planned, "kms_key_id").map(str::to_string))
            .set_master_username(str_attr(&planned, "username").map(str::to_string))
            .set_master_user_password(str_attr(&planned, "password").map(str::to_string))
            .set_db_name(str_attr(&planned, "db_name").map(str::to_string))
            .set_port(num_attr(&planned, "port").map(|n| n as i32))
            .set_multi_az(planned.get("multi_az").and_then(Value::as_bool))
            .set_publicly_accessible(planned.get("publicly_accessible").and_then(Value::as_bool))
            .set_vpc_security_group_ids((!groups.is_empty()).then_some(groups))
            .set_db_subnet_group_name(
                str_attr(&planned, "db_subnet_group_name").map(str::to_string),
            )
            .set_db_parameter_group_name(
                str_attr(&planned, "parameter_group_name").map(str::to_string),
            )
            .set_availability_zone(str_attr(&planned, "availability_zone").map(str::to_string))
            .set_backup_retention_period(
                num_attr(&planned, "backup_retention_period").map(|n| n as i32),
            )
            .set_deletion_protection(planned.get("deletion_protection").and_then(Value::as_bool))
            .set_tags(rds_tags(aws, &planned))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating database {id}"), e))?;
        set(&mut planned, "id", id.as_str());
        set(&mut planned, "identifier", id.as_str());
        let limit = timeout(&planned, "create", Duration::from_secs(2400))?;
        self.wait_available(aws, &id, limit).await?;
        self.read_back(aws, planned, &format!("database {id}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let id = str_attr(&state, "identifier")
            .or_else(|| str_attr(&state, "id"))
            .unwrap_or_default()
            .to_string();
        let Some(db) = describe_db(aws, &id).await? else {
            return Ok(None);
        };
        if db.db_instance_status() == Some("deleting") {
            return Ok(None);
        }
        let endpoint = db.endpoint();
        for (name, v) in [
            ("id", Value::from(id.as_str())),
            ("identifier", Value::from(id.as_str())),
            ("arn", opt_str(db.db_instance_arn())),
            ("engine", opt_str(db.engine())),
            ("engine_version", opt_str(db.engine_version())),
            ("instance_class", opt_str(db.db_instance_class())),
            ("allocated_storage", opt_num(db.allocated_storage())),
            ("storage_type", opt_str(db.storage_type())),
            ("iops", opt_num(db.iops())),
            (
                "storage_encrypted",
                Value::Bool(db.storage_encrypted().unwrap_or(false)),
            ),
            ("kms_key_id", opt_str(db.kms_key_id())),
            ("username", opt_str(db.master_username())),
            ("db_name", opt_str(db.db_name())),
            ("multi_az", Value::Bool(db.multi_az().unwrap_or(false))),
            (
                "publicly_accessible",
                Value::Bool(db.publicly_accessible().unwrap_or(false)),
            ),
            (
                "vpc_security_group_ids",
                str_set_value(
                    db.vpc_security_groups()
                        .iter()
                        .filter_map(|g| g.vpc_security_group_id()),
                ),
            ),
            (
                "db_subnet_group_name",
                opt_str(db.db_subnet_group().and_then(|g| g.db_subnet_group_name())),
            ),
            (
                "parameter_group_name",
                opt_str(
                    db.db_parameter_groups()
                        .first()
                        .and_then(|g| g.db_parameter_group_name()),
                ),
            ),
            ("availability_zone", opt_str(db.availability_zone())),
            (
                "backup_retention_period",
                opt_num(db.backup_retention_period()),
            ),
            (
                "deletion_protection",
                Value::Bool(db.deletion_protection().unwrap_or(false)),
            ),
            ("resource_id", opt_str(db.dbi_resource_id())),
            ("status", opt_str(db.db_instance_status())),
            ("address", opt_str(endpoint.and_then(|e| e.address()))),
            ("port", opt_num(endpoint.and_then(|e| e.port()))),
            (
                "endpoint",
                endpoint
                    .and_then(|e| Some(format!("{}:{}", e.address()?, e.port()?)))
                    .map(Value::from)
                    .unwrap_or(Value::Null),
            ),
            (
                "hosted_zone_id",
                opt_str(endpoint.and_then(|e| e.hosted_zone_id())),
            ),
        ] {
            set(&mut state, name, v);
        }
        if num_attr(&state, "max_allocated_storage").is_some() {
            set(
                &mut state,
                "max_allocated_storage",
                opt_num(db.max_allocated_storage()),
            );
        }
        read_rds_tags(aws, &mut state, db.tag_list());
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let id = str_attr(&prior, "identifier")
            .unwrap_or_default()
            .to_string();
        let changed = |a: &str| {
            planned.get(a) != prior.get(a) && planned.get(a).is_some_and(|v| !v.is_null())
        };
        let groups = str_list(&planned, "vpc_security_group_ids");
        let mut req = aws
            .rds()
            .await?
            .modify_db_instance()
            .db_instance_identifier(&id)
            .apply_immediately(bool_attr(&planned, "apply_immediately"));
        let mut any = false;
        let mut when = |yes: bool| {
            any |= yes;
            yes
        };
        if when(changed("instance_class")) {
            req =
                req.set_db_instance_class(str_attr(&planned, "instance_class").map(str::to_string));
        }
        if when(changed("engine_version")) {
            req = req.set_engine_version(str_attr(&planned, "engine_version").map(str::to_string));
        }
        if when(changed("allocated_storage")) {
            req = req
                .set_allocated_storage(num_attr(&planned, "allocated_storage").map(|n| n as i32));
        }
        if when(changed("max_allocated_storage")) {
            req = req.set_max_allocated_storage(
                num_attr(&planned, "max_allocated_storage").map(|n| n as i32),
            );
        }
        if when(changed("storage_type")) {
            req = req.set_storage_type(str_attr(&planned, "storage_type").map(str::to_string));
        }
        if when(changed("password")) {
            req = req.set_master_user_password(str_attr(&planned, "password").map(str::to_string));
        }
        if when(changed("multi_az")) {
            req = req.set_multi_az(planned.get("multi_az").and_then(Value::as_bool));
        }
        if when(changed("publicly_accessible")) {
            req = req.set_publicly_accessible(
                planned.get("publicly_accessible").and_then(Value::as_bool),
            );
        }
        if when(changed("vpc_security_group_ids")) {
            req = req.set_vpc_security_group_ids(Some(groups));
        }
        if when(changed("backup_retention_period")) {
            req = req.set_backup_retention_period(
                num_attr(&planned, "backup_retention_period").map(|n| n as i32),
            );
        }
        if when(changed("deletion_protection")) {
            req = req.set_deletion_protection(
                planned.get("deletion_protection").and_then(Value::as_bool),
            );
        }
        if when(changed("parameter_group_name")) {
            req = req.set_db_parameter_group_name(
                str_attr(&planned, "parameter_group_name").map(str::to_string),
            );
        }
        if when(changed("port")) {
            req = req.set_db_port_number(num_attr(&planned, "port").map(|n| n as i32));
        }
        if any {
            req.send()
                .await
                .map_err(|e| api_error(&format!("modifying database {id}"), e))?;
            let limit = timeout(&planned, "update", Duration::from_secs(4800))?;
            self.wait_available(aws, &id, limit).await?;
        }
        if let Some(arn) = str_attr(&prior, "arn") {
            update_rds_tags(aws, arn, &prior, &planned).await?;
        }
        set(&mut planned, "id", id.as_str());
        set(&mut planned, "identifier", id.as_str());
        self.read_back(aws, planned, &format!("database {id}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let id = str_attr(&state, "identifier")
            .unwrap_or_default()
            .to_string();
        let skip = bool_attr(&state, "skip_final_snapshot");
        let snapshot = str_attr(&state, "final_snapshot_identifier");
        if !skip && snapshot.is_none() {
            return Err(ProviderError::config(format!(
                "database {id}: set final_snapshot_identifier (a final snapshot is taken before deletion), or skip_final_snapshot = true, and apply before destroying"
            )));
        }
        if bool_attr(&state, "deletion_protection") {
            return Err(ProviderError::config(format!(
                "database {id} has deletion_protection on: set it to false and apply first"
            )));
        }
        deleted(
            &format!("deleting database {id}"),
            aws.rds()
                .await?
                .delete_db_instance()
                .db_instance_identifier(&id)
                .skip_final_snapshot(skip)
                .set_final_db_snapshot_identifier(
                    (!skip).then(|| snapshot.unwrap_or_default().to_string()),
                )
                .send()
                .await,
        )?;
        let limit = timeout(&state, "delete", Duration::from_secs(3600))?;
        wait_for(&format!("database {id} to be gone"), limit, || async {
            Ok(describe_db(aws, &id).await?.is_none().then_some(()))
        })
        .await
    }

    async fn import(&self, aws: &Aws, id: &str) -> Result<Value> {
        self.import_from(
            aws,
            object([
                ("identifier", Value::from(id)),
                ("tags", Value::Null),
                ("skip_final_snapshot", Value::Bool(false)),
            ]),
            &format!("database {id}"),
        )
        .await
    }
}

impl DbInstance {
    async fn wait_available(&self, aws: &Aws, id: &str, limit: Duration) -> Result<()> {
        wait_for(&format!("database {id} to be available"), limit, || async {
            let Some(db) = describe_db(aws, id).await? else {
                return Err(ProviderError::api(format!(
                    "database {id} vanished while waiting for it"
                )));
            };
            match db.db_instance_status() {
                Some("available") => Ok(Some(())),
                Some(
                    s @ ("failed"
                    | "incompatible-parameters"
                    | "incompatible-network"
                    | "storage-full"),
                ) => Err(ProviderError::api(format!("database {id} is {s}"))),
                _ => Ok(None),
            }
        })
        .await
    }
}

async fn describe_db(aws: &Aws, id: &str) -> Result<Option<aws_sdk_rds::types::DbInstance>> {
    Ok(found(
        &format!("reading database {id}"),
        aws.rds()
            .await?
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await,
    )?
    .and_then(|out| out.db_instances().first().cloned()))
}

/// `aws_db_subnet_group`: the subnets a database may be placed in.
pub struct SubnetGroup;

#[async_trait]
impl Resource<Aws> for SubnetGroup {
    fn schema(&self) -> Schema {
        tag_attrs(
            crate::util::name_attrs(Schema::new())
                .attr("description", AttrSchema::optional_computed(Type::String))
                .attr(
                    "subnet_ids",
                    AttrSchema::required(Type::Set(Box::new(Type::String))),
                )
                .attr("id", AttrSchema::computed(Type::String))
                .attr("arn", AttrSchema::computed(Type::String))
                .attr("vpc_id", AttrSchema::computed(Type::String)),
        )
    }

    fn plan(
        &self,
        aws: &Aws,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        if let Some(n) = str_attr(config, "name") {
            if n.is_empty()
                || n.len() > 255
                || !n
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._- ".contains(c))
            {
                return Err(ProviderError::config(format!(
                    "name {n:?} must be lower-case letters, digits, periods, underscores, spaces and hyphens"
                )));
            }
        }
        let mut change = plan_by_schema(schema, prior, config);
        default_to(&mut change.planned, "description", "Managed by Terraform");
        plan_tags(aws, &mut change.planned);
        Ok(change)
    }

    async fn create(&self, aws: &Aws, mut planned: Value) -> Result<Value> {
        let name = match str_attr(&planned, "name") {
            Some(n) => n.to_string(),
            // RDS names are lower case.
            None => crate::messaging::generated_name(
                str_attr(&planned, "name_prefix").unwrap_or("terraform-"),
            )
            .to_lowercase(),
        };
        set(&mut planned, "name", name.as_str());
        aws.rds()
            .await?
            .create_db_subnet_group()
            .db_subnet_group_name(&name)
            .db_subnet_group_description(str_attr(&planned, "description").unwrap_or_default())
            .set_subnet_ids(Some(str_list(&planned, "subnet_ids")))
            .set_tags(rds_tags(aws, &planned))
            .send()
            .await
            .map_err(|e| api_error(&format!("creating DB subnet group {name}"), e))?;
        set(&mut planned, "id", name.as_str());
        self.read_back(aws, planned, &format!("DB subnet group {name}"))
            .await
    }

    async fn read(&self, aws: &Aws, mut state: Value) -> Result<Option<Value>> {
        let name = str_attr(&state, "name")
            .or_else(|| str_attr(&state, "id"))
            .unwrap_or_default()
            .to_string();
        let rds = aws.rds().await?;
        let Some(out) = found(
            &format!("reading DB subnet group {name}"),
            rds.describe_db_subnet_groups()
                .db_subnet_group_name(&name)
                .send()
                .await,
        )?
        else {
            return Ok(None);
        };
        let Some(g) = out.db_subnet_groups().first() else {
            return Ok(None);
        };
        set(&mut state, "id", name.as_str());
        set(&mut state, "name", name.as_str());
        set(&mut state, "arn", opt_str(g.db_subnet_group_arn()));
        set(&mut state, "vpc_id", opt_str(g.vpc_id()));
        set(
            &mut state,
            "description",
            opt_str(g.db_subnet_group_description()),
        );
        set(
            &mut state,
            "subnet_ids",
            str_set_value(g.subnets().iter().filter_map(|s| s.subnet_identifier())),
        );
        if let Some(arn) = g.db_subnet_group_arn() {
            let tags = rds
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .map_err(|e| api_error(&format!("reading the tags of {arn}"), e))?;
            read_rds_tags(aws, &mut state, tags.tag_list());
        }
        Ok(Some(state))
    }

    async fn update(&self, aws: &Aws, prior: Value, mut planned: Value) -> Result<Value> {
        let name = str_attr(&prior, "name").unwrap_or_default().to_string();
        aws.rds()
            .await?
            .modify_db_subnet_group()
            .db_subnet_group_name(&name)
            .set_db_subnet_group_description(str_attr(&planned, "description").map(str::to_string))
            .set_subnet_ids(Some(str_list(&planned, "subnet_ids")))
            .send()
            .await
            .map_err(|e| api_error(&format!("modifying DB subnet group {name}"), e))?;
        if let Some(arn) = str_attr(&prior, "arn") {
            update_rds_tags(aws, arn, &prior, &planned).await?;
        }
        set(&mut planned, "id", name.as_str());
        self.read_back(aws, planned, &format!("DB subnet group {name}"))
            .await
    }

    async fn delete(&self, aws: &Aws, state: Value) -> Result<()> {
        let name = str_attr(&state, "name").unwrap_or_default().to_string();
        deleted(
            &format!("deleting DB subnet group {name}"),
            aws.rds()
                .await?
                .delete_db_subnet_group()
                .db_subnet_group_name(&name)
                .send()
                .await,
        )
    }

    fn import_key(&self) -> Option<ImportKey> {
        import_by("name", |id| format!("DB subnet group {id}"))
    }
}
