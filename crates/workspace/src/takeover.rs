//! Taking over a Terraform state, and giving one back: `terrane state migrate --from
//! terraform.tfstate` and `--to FILE.tfstate`.
//!
//! Coming in, every managed resource instance keeps its address (modules, `count` and
//! `for_each` keys), attributes (with every digit), schema version, private data,
//! dependencies and `create_before_destroy`; outputs keep their sensitivity, and the
//! state keeps Terraform's lineage and serial. The whole state is written in one
//! transaction into an empty terrane state (sensitive values sealed on the way in), or
//! not at all; the source file is only read. Going out, the current terrane state is
//! written as a Terraform state file, format 4.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value as Json};
use terrane_core::tfstate::{TfInstance, TfOutput, TfResource, TfState};
use terrane_core::{InstanceAddr, InstanceKey, Type, Value};
use terrane_state::dump::{DumpOutput, DumpRow, DumpSerial};
use terrane_state::{Backend, BackendSpec, Dump, InstanceState, ObjectMeta, OutputState, Snapshot};

use crate::Workspace;

/// The built-in provider's source prefix: its objects are terrane's native provider's.
const BUILTIN: &str = "terraform.io/builtin/";

/// Reads the Terraform state file at `path` into this workspace's (empty) state.
/// Returns what to tell the user.
pub fn from_terraform(
    ws: &Workspace,
    backend: &mut dyn Backend,
    from: &str,
) -> Result<String, String> {
    let (text, shown) = read_source(ws, from)?;
    let tf = TfState::parse(&text, &shown).map_err(|e| e.to_string())?;
    let current = backend.read_current().map_err(|e| e.to_string())?;
    if current.serial > 0 || !current.resources.is_empty() {
        return Err(format!(
            "{} already holds a terrane state (serial {}, {} resource instances); terrane takes a Terraform state over only into an empty one. Use a new workspace (terrane workspace new NAME) or another backend",
            backend.describe(),
            current.serial,
            current.resources.len()
        ));
    }
    let snapshot = snapshot_of(ws, &tf, &shown)?;
    let serial = tf.serial.max(1);
    let enc = backend.encryption().cloned();
    let mut dump = Dump::new();
    dump.lineage = if tf.lineage.is_empty() {
        current.lineage.clone()
    } else {
        tf.lineage.clone()
    };
    dump.serials.push(DumpSerial {
        serial,
        created_at: terrane_state::lock::now_secs(),
        operation: "state migrate".into(),
        user: terrane_state::lock::username(),
        status: terrane_state::SerialStatus::Complete.as_str().into(),
        changed: (snapshot.resources.len() + snapshot.outputs.len()) as u64,
    });
    for inst in snapshot.resources.values() {
        dump.resources
            .push(DumpRow::encode(enc.as_ref(), serial, inst).map_err(|e| e.to_string())?);
    }
    for (name, o) in &snapshot.outputs {
        dump.outputs
            .push(DumpOutput::encode(enc.as_ref(), serial, name, o).map_err(|e| e.to_string())?);
    }
    dump.keys = backend.keys().map_err(|e| e.to_string())?;
    dump.keys
        .extend(enc.as_ref().and_then(|e| e.vault.take_created()));
    backend.import(&dump).map_err(|e| e.to_string())?;
    let copy = backend.read_current().map_err(|e| e.to_string())?;
    if copy.resources != snapshot.resources || copy.outputs != snapshot.outputs {
        return Err(format!("the state written to {} does not read back as what was taken over; remove it and report this", backend.describe()));
    }
    let data = tf.resources.iter().filter(|r| r.mode == "data").count();
    let mut msg = format!(
        "Took over {shown} (lineage {}, serial {serial}): {} resource instances and {} outputs are now in {}. {shown} was not changed; keep it as a backup, and run terrane plan: it should show no changes.",
        dump.lineage,
        snapshot.resources.len(),
        snapshot.outputs.len(),
        backend.describe()
    );
    if data > 0 {
        msg +=
            &format!(" {data} data sources were left out: terrane reads them again on every plan.");
    }
    let missing = missing_providers(ws, &snapshot);
    if !missing.is_empty() {
        msg += &format!("\n\nterrane has no provider for these instances yet (declare and install it with required_providers and terrane init before planning): {}", missing.join(", "));
    }
    Ok(msg)
}

/// The text of the Terraform state `from` names, and how to name it in messages: a
/// file; `s3://BUCKET/KEY?region=R&endpoint=URL` (Terraform's `s3` backend; with
/// `&workspace=W` another workspace's state, under `env:/W/KEY`); or
/// `postgres://USER:PASS@HOST/DB?schema_name=S&workspace=W` (Terraform's `pg` backend:
/// table `S.states`, schema `terraform_remote_state` by default). Only reads.
fn read_source(ws: &Workspace, from: &str) -> Result<(Vec<u8>, String), String> {
    let (head, query) = from.split_once('?').unwrap_or((from, ""));
    let param = |name: &str| terrane_state::spec::query_param(query, name);
    let workspace = param("workspace").unwrap_or_else(|| "default".into());
    let missing = |shown: &str| {
        format!("{shown} holds no state for workspace {workspace:?}: check the address and the workspace")
    };
    if let Some(rest) = from.strip_prefix("s3://") {
        let loc = terrane_state::S3Location::parse(rest);
        let key = if workspace == "default" {
            loc.key.clone()
        } else {
            format!("env:/{workspace}/{}", loc.key)
        };
        let shown = format!("s3://{}/{key}", loc.bucket);
        return read_s3(&loc, &key, &shown)?
            .map(|t| (t, shown.clone()))
            .ok_or_else(|| missing(&shown));
    }
    if head.starts_with("postgres://") || head.starts_with("postgresql://") {
        let schema = param("schema_name").unwrap_or_else(|| "terraform_remote_state".into());
        let shown = format!(
            "the Terraform pg backend at {} (schema {schema})",
            redact(head)
        );
        return terrane_state::pg::terraform_state(head, &schema, &workspace)
            .map_err(|e| format!("reading {shown}: {e}"))?
            .map(|t| (t, shown.clone()))
            .ok_or_else(|| missing(&shown));
    }
    let path = ws.dir.join(from);
    let shown = path
        .strip_prefix(&ws.dir)
        .unwrap_or(&path)
        .display()
        .to_string();
    let text = std::fs::read(&path).map_err(|e| format!("reading {shown}: {e}"))?;
    Ok((text, shown))
}

/// How `terraform_remote_state` reads Terraform's `s3` and `pg` backends, from the
/// settings Terraform's backends take (`bucket`, `key`, `region`, `endpoints.s3`,
/// `workspace_key_prefix`; `conn_str`, `schema_name`).
pub fn remote_state_reader() -> terrane_provider_builtin::misc::StateReader {
    std::sync::Arc::new(|backend: &str, config: &Value, workspace: &str| {
        let get = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_string);
        let need = |k: &str| {
            get(k).ok_or_else(|| format!("config.{k} is required for the {backend} backend"))
        };
        match backend {
            "s3" => {
                let key = need("key")?;
                let key = match workspace {
                    "default" => key,
                    ws => format!("{}/{ws}/{key}", get("workspace_key_prefix").unwrap_or_else(|| "env:".into())),
                };
                let endpoint = config
                    .get("endpoints")
                    .and_then(|e| e.get("s3"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| get("endpoint"));
                let loc = terrane_state::S3Location {
                    bucket: need("bucket")?,
                    key: key.clone(),
                    region: get("region").unwrap_or_else(|| "us-east-1".into()),
                    endpoint,
                };
                let shown = format!("s3://{}/{key}", loc.bucket);
                Ok(read_s3(&loc, &key, &shown)?.map(|t| (t, shown)))
            }
            "pg" => {
                let conn = get("conn_str")
                    .or_else(|| std::env::var("PG_CONN_STR").ok())
                    .ok_or("config.conn_str (or PG_CONN_STR) is required for the pg backend")?;
                let schema = get("schema_name").unwrap_or_else(|| "terraform_remote_state".into());
                let shown = format!("the pg backend at {} (schema {schema})", redact(&conn));
                terrane_state::pg::terraform_state(&conn, &schema, workspace)
                    .map(|t| t.map(|t| (t, shown.clone())))
                    .map_err(|e| format!("reading {shown}: {e}"))
            }
            "sqlite" | "terrane" => {
                let base = std::env::current_dir().unwrap_or_default();
                let spec = match (backend, get("url")) {
                    ("terrane", Some(url)) => BackendSpec::parse_url(&url, &base).map_err(|e| e.to_string())?,
                    ("terrane", None) => return Err("config.url is required for the terrane backend: a terrane state URL (sqlite:PATH, postgres://...?workspace=NAME, s3://BUCKET/KEY?region=...)".into()),
                    _ => BackendSpec::Sqlite { path: base.join(need("path")?) },
                };
                let spec = if workspace == "default" { spec } else { spec.for_workspace(workspace) };
                terrane_outputs(&spec, get("dir").map(PathBuf::from))
            }
            other => Err(format!("terraform_remote_state reads Terraform's backends \"local\", \"s3\" and \"pg\", and terrane's \"sqlite\" and \"terrane\" (config.url); backend {other:?} is not supported. Copy the state to a file (`terraform state pull > F`) and read it with backend = \"local\"")),
        }
    })
}

/// The outputs of a terrane state, as a Terraform state document (outputs only) for
/// `terraform_remote_state`. Sensitive outputs are unsealed with the keys of the
/// workspace in `dir` (by default the one whose `.terrane` holds a SQLite state, else
/// the current directory).
fn terrane_outputs(
    spec: &BackendSpec,
    dir: Option<PathBuf>,
) -> Result<Option<(Vec<u8>, String)>, String> {
    let shown = spec.describe();
    if !spec.may_exist() {
        return Ok(None);
    }
    let dir = dir.unwrap_or_else(|| match spec {
        BackendSpec::Sqlite { path } => path
            .parent()
            .map(|p| {
                if p.ends_with(".terrane") {
                    p.parent().unwrap_or(p)
                } else {
                    p
                }
            })
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        _ => std::env::current_dir().unwrap_or_default(),
    });
    let backend =
        crate::open_encrypted(spec, &dir, &None).map_err(|e| format!("reading {shown}: {e}"))?;
    let state = backend
        .read_current()
        .map_err(|e| format!("reading {shown}: {e} (sensitive outputs are unsealed with the keys of the workspace in {}; name it with config.dir)", dir.display()))?;
    if state.serial == 0 {
        return Ok(None);
    }
    let doc = TfState {
        version: terrane_core::tfstate::VERSION,
        terraform_version: terrane_core::TERRAFORM_VERSION.into(),
        serial: state.serial,
        lineage: state.lineage.clone(),
        outputs: tf_outputs(&state),
        resources: Vec::new(),
        check_results: Json::Null,
    };
    let text = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
    Ok(Some((text, shown)))
}

/// A state's root outputs as Terraform's state document records them.
fn tf_outputs(state: &Snapshot) -> BTreeMap<String, TfOutput> {
    state
        .outputs
        .iter()
        .map(|(name, o)| {
            let (value, _) = o.value.unmark();
            let out = TfOutput {
                value: value.to_json(),
                type_json: terrane_engine::json::type_json(&value),
                sensitive: o.sensitive,
            };
            (name.clone(), out)
        })
        .collect()
}

#[cfg(feature = "aws")]
fn read_s3(
    loc: &terrane_state::S3Location,
    key: &str,
    shown: &str,
) -> Result<Option<Vec<u8>>, String> {
    terrane_state::s3::S3Blobs::connect(&loc.bucket, "", &loc.region, loc.endpoint.as_deref())
        .and_then(|b| b.get(key))
        .map_err(|e| format!("reading {shown}: {e}"))
}

#[cfg(not(feature = "aws"))]
fn read_s3(_: &terrane_state::S3Location, _: &str, shown: &str) -> Result<Option<Vec<u8>>, String> {
    Err(format!("reading {shown}: this terrane was built without S3 support (the aws feature); copy the state to a file with `terraform state pull > terraform.tfstate` and migrate from the file"))
}

/// A connection string without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

/// The instances whose provider neither terrane nor an installed plugin provides.
fn missing_providers(ws: &Workspace, snapshot: &Snapshot) -> Vec<String> {
    let plugins: Vec<String> = crate::plugins::needs(&ws.module)
        .map(|needs| needs.into_values().flat_map(|n| n.local_names).collect())
        .unwrap_or_default();
    snapshot
        .resources
        .values()
        .filter(|i| {
            let local = local_name(&i.provider);
            ws.registry.get(&local).is_none() && !plugins.contains(&local)
        })
        .map(|i| i.addr.to_string())
        .collect()
}

/// The provider's local name in a terrane provider address (`module.m.provider.aws.west`
/// → `aws`).
fn local_name(provider: &str) -> String {
    provider
        .rsplit("provider.")
        .next()
        .and_then(|s| s.split('.').next())
        .unwrap_or(provider)
        .to_string()
}

/// A Terraform state as a terrane snapshot (managed resources only).
fn snapshot_of(ws: &Workspace, tf: &TfState, shown: &str) -> Result<Snapshot, String> {
    let mut snap = Snapshot {
        lineage: tf.lineage.clone(),
        serial: tf.serial,
        ..Default::default()
    };
    for r in tf.resources.iter().filter(|r| r.mode == "managed") {
        let (prefix, source, alias) = parse_provider(&r.provider)
            .ok_or_else(|| format!("{shown}: resource {}.{} names the provider {:?}, which is not a Terraform provider address", r.type_name, r.name, r.provider))?;
        let local = source.rsplit('/').next().unwrap_or(&source).to_string();
        let provider = match alias {
            Some(a) => format!("{prefix}provider.{local}.{a}"),
            None => format!("{prefix}provider.{local}"),
        };
        let schema = ws
            .registry
            .get(&local)
            .and_then(|f| f.schema().resources.get(&r.type_name).cloned());
        for i in &r.instances {
            let key = match &i.index_key {
                None => InstanceKey::None,
                Some(Json::Number(n)) => InstanceKey::Int(n.as_i64().unwrap_or_default()),
                Some(Json::String(s)) => InstanceKey::Str(s.clone()),
                Some(other) => return Err(format!("{shown}: {}.{} has the instance key {other}, which is neither a number nor a string", r.type_name, r.name)),
            };
            let module = r
                .module
                .as_deref()
                .map(|m| format!("{m}."))
                .unwrap_or_default();
            let text = format!("{module}{}.{}{key}", r.type_name, r.name);
            let addr = InstanceAddr::parse(&text).map_err(|e| format!("{shown}: {text}: {e}"))?;
            if let Some(d) = &i.deposed {
                return Err(format!("{shown}: {addr} has a deposed object ({d}) that a create_before_destroy replacement left behind. Finish it with terraform apply first, then migrate"));
            }
            let value = attributes_in(&i.attributes, schema.as_ref())
                .with_sensitive_paths(&pointer_paths(&i.sensitive_attributes));
            let private = match &i.private {
                Some(p) => base64::engine::general_purpose::STANDARD
                    .decode(p)
                    .map_err(|e| format!("{shown}: {addr}: private data is not base64: {e}"))?,
                None => Vec::new(),
            };
            snap.resources.insert(
                addr.clone(),
                InstanceState {
                    addr,
                    provider: provider.clone(),
                    value,
                    dependencies: i.dependencies.clone(),
                    create_before_destroy: i.create_before_destroy,
                    meta: ObjectMeta {
                        private,
                        schema_version: i.schema_version,
                        // Written by Terraform's plugin of that provider, unless built in.
                        plugin: !source.starts_with(BUILTIN),
                        // A tainted object stays tainted: the next plan replaces it.
                        tainted: i.status.as_deref() == Some("tainted"),
                    },
                },
            );
        }
    }
    for (name, o) in &tf.outputs {
        let value = Value::from_json(&o.value).mark_if(o.sensitive);
        snap.outputs.insert(
            name.clone(),
            OutputState {
                value,
                sensitive: o.sensitive,
            },
        );
    }
    Ok(snap)
}

/// `module.a.provider["registry.terraform.io/hashicorp/aws"].west` → (`module.a.`,
/// the source, `Some("west")`).
fn parse_provider(p: &str) -> Option<(String, String, Option<String>)> {
    let at = p.find("provider[\"")?;
    let rest = &p[at + "provider[\"".len()..];
    let end = rest.find("\"]")?;
    let alias = rest[end + 2..].strip_prefix('.').map(str::to_string);
    Some((p[..at].to_string(), rest[..end].to_string(), alias))
}

/// Attribute values from Terraform's JSON: an attribute of dynamic type is stored
/// with its type (`{"value": ..., "type": ...}`), which terrane does not keep.
fn attributes_in(attrs: &Json, schema: Option<&terrane_provider::Schema>) -> Value {
    let Json::Object(m) = attrs else {
        return Value::from_json(attrs);
    };
    let dynamic = |k: &str| {
        schema
            .and_then(|s| s.attributes.get(k))
            .is_some_and(|a| a.ty == Type::Any)
    };
    Value::Map(
        m.iter()
            .map(|(k, v)| {
                let v = match v {
                    Json::Object(o)
                        if dynamic(k) && o.contains_key("value") && o.contains_key("type") =>
                    {
                        &o["value"]
                    }
                    v => v,
                };
                (k.clone(), Value::from_json(v))
            })
            .collect(),
    )
}

/// Terraform's sensitive attribute paths (`[{"type":"get_attr","value":"a"},
/// {"type":"index","value":{"value":0,"type":"number"}}]`) as terrane's JSON pointers.
fn pointer_paths(paths: &[Json]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| {
            let steps = p.as_array()?;
            let mut out = String::new();
            for s in steps {
                let seg = match (s["type"].as_str()?, &s["value"]) {
                    ("get_attr", Json::String(name)) => name.clone(),
                    ("index", v) => match &v["value"] {
                        Json::String(k) => k.clone(),
                        Json::Number(n) => n.to_string(),
                        _ => return None,
                    },
                    _ => return None,
                };
                out.push('/');
                out.push_str(&seg.replace('~', "~0").replace('/', "~1"));
            }
            Some(out)
        })
        .collect()
}

/// A Terraform state beside the configuration that terrane has not taken over: the
/// refusal to plan (every object would be planned as new), saying how to migrate.
/// Checked while terrane's own state is empty.
pub fn unmigrated_state(ws: &Workspace) -> Option<String> {
    let file = if ws.name == "default" {
        ws.dir.join("terraform.tfstate")
    } else {
        ws.dir
            .join("terraform.tfstate.d")
            .join(&ws.name)
            .join("terraform.tfstate")
    };
    let (text, shown, from) = match std::fs::read(&file) {
        Ok(text) => {
            let shown = file
                .strip_prefix(&ws.dir)
                .unwrap_or(&file)
                .display()
                .to_string();
            (text, shown.clone(), shown)
        }
        // A Terraform `pg` backend block, read as terrane's: the same database may
        // hold Terraform's state in its own schema.
        Err(_) => {
            match ws.backend_spec() {
                Ok(terrane_state::BackendSpec::Pg {
                    conn_str,
                    workspace,
                }) => {
                    let text = terrane_state::pg::terraform_state(
                        &conn_str,
                        "terraform_remote_state",
                        &workspace,
                    )
                    .ok()??;
                    let shown = "This PostgreSQL database's Terraform state (schema terraform_remote_state)".to_string();
                    let from = format!("'{}?workspace={workspace}'", redact(&conn_str));
                    (text, shown, from)
                }
                _ => return None,
            }
        }
    };
    let objects: usize = match TfState::parse(&text, &shown) {
        Ok(tf) => tf
            .resources
            .iter()
            .filter(|r| r.mode == "managed")
            .map(|r| r.instances.len())
            .sum(),
        Err(e) => {
            return Some(format!(
                "{e}. terrane will not plan beside it: it would plan every object as new"
            ))
        }
    };
    (objects > 0).then(|| format!(
        "{shown} is a Terraform state with {objects} resource instances, and terrane's state is empty: a plan now would create every object again. Take the state over first:\n\n  terrane state migrate --from {from}\n\nthen plan (it should show no changes). The Terraform state is only read, never changed."
    ))
}

/// Writes this workspace's current state to `path` as a Terraform state file (which
/// must not exist yet). Returns what to tell the user.
pub fn to_terraform(ws: &Workspace, backend: &dyn Backend, path: &Path) -> Result<String, String> {
    let shown = path
        .strip_prefix(&ws.dir)
        .unwrap_or(path)
        .display()
        .to_string();
    if path.exists() {
        return Err(format!("{shown} already exists; terrane will not overwrite a state file. Move it aside, or name another file"));
    }
    let state = backend.read_current().map_err(|e| e.to_string())?;
    if state.serial == 0 {
        return Err("this workspace has no state yet: there is nothing to write".into());
    }
    let sources: terrane_provider::Sources = ws
        .registry
        .names()
        .filter_map(|n| Some((n.clone(), ws.registry.get(n)?.source())))
        .collect();
    let mut resources: BTreeMap<(String, String, String), TfResource> = BTreeMap::new();
    for inst in state.resources.values() {
        let r = &inst.addr.resource;
        let local = local_name(&inst.provider);
        let prefix = inst.provider.split("provider.").next().unwrap_or_default();
        let alias = inst
            .provider
            .rsplit("provider.")
            .next()
            .and_then(|s| s.split_once('.'))
            .map(|(_, a)| format!(".{a}"))
            .unwrap_or_default();
        let source = terrane_provider::full_provider_name(&inst.provider, &sources);
        let module = (!r.module.is_root()).then(|| r.module.to_string());
        let schema = ws
            .registry
            .get(&local)
            .and_then(|f| f.schema().resources.get(&r.type_name).cloned());
        let entry = resources
            .entry((
                module.clone().unwrap_or_default(),
                r.type_name.clone(),
                r.name.clone(),
            ))
            .or_insert_with(|| TfResource {
                module,
                mode: "managed".into(),
                type_name: r.type_name.clone(),
                name: r.name.clone(),
                each: None,
                provider: format!("{prefix}provider[\"{source}\"]{alias}"),
                instances: Vec::new(),
            });
        entry.instances.push(TfInstance {
            index_key: match &inst.addr.key {
                InstanceKey::None => None,
                InstanceKey::Int(n) => Some(json!(n)),
                InstanceKey::Str(s) => Some(json!(s)),
            },
            status: inst.meta.tainted.then(|| "tainted".to_string()),
            deposed: None,
            schema_version: inst.meta.schema_version,
            attributes: attributes_out(&inst.value, schema.as_ref()),
            sensitive_attributes: terraform_paths(&inst.value),
            identity_schema_version: None,
            identity: None,
            private: (!inst.meta.private.is_empty())
                .then(|| base64::engine::general_purpose::STANDARD.encode(&inst.meta.private)),
            dependencies: inst.dependencies.clone(),
            create_before_destroy: inst.create_before_destroy,
        });
    }
    let outputs = tf_outputs(&state);
    let tf = TfState {
        version: terrane_core::tfstate::VERSION,
        terraform_version: terrane_core::TERRAFORM_VERSION.into(),
        serial: state.serial,
        lineage: state.lineage.clone(),
        outputs,
        resources: resources.into_values().collect(),
        check_results: Json::Null,
    };
    let text = serde_json::to_string_pretty(&tf).map_err(|e| e.to_string())? + "\n";
    write_private(path, text.as_bytes()).map_err(|e| format!("writing {shown}: {e}"))?;
    let sensitive = state
        .resources
        .values()
        .any(|i| i.value.contains_sensitive())
        || state.outputs.values().any(|o| o.sensitive);
    let mut msg = format!(
        "Wrote {shown} (Terraform state format 4, lineage {}, serial {}): {} resource instances and {} outputs. This workspace's state was not changed.",
        state.lineage,
        state.serial,
        state.resources.len(),
        state.outputs.len()
    );
    if sensitive {
        msg += &format!(" {shown} holds sensitive values in plain text, as every Terraform state does; it was created readable by you alone (mode 0600).");
    }
    Ok(msg)
}

/// Attribute values as Terraform stores them, dynamic ones with their type.
fn attributes_out(v: &Value, schema: Option<&terrane_provider::Schema>) -> Json {
    let (plain, _) = v.unmark();
    let Value::Map(m) = &plain else {
        return plain.to_json();
    };
    let mut out = serde_json::Map::new();
    for (k, v) in m {
        let dynamic = schema
            .and_then(|s| s.attributes.get(k))
            .is_some_and(|a| a.ty == Type::Any);
        let j = if dynamic && !v.is_null() {
            json!({ "value": v.to_json(), "type": terrane_engine::json::type_json(v) })
        } else {
            v.to_json()
        };
        out.insert(k.clone(), j);
    }
    Json::Object(out)
}

/// terrane's sensitive marks as Terraform's attribute paths.
fn terraform_paths(v: &Value) -> Vec<Json> {
    v.sensitive_paths()
        .iter()
        .map(|p| {
            let mut steps = Vec::new();
            let mut at = v.unmark().0;
            for seg in p.split('/').skip(1) {
                let seg = seg.replace("~1", "/").replace("~0", "~");
                let (step, next) = match &at {
                    Value::List(items) | Value::Set(items) => {
                        let i: usize = seg.parse().unwrap_or_default();
                        let step =
                            json!({"type": "index", "value": {"value": i, "type": "number"}});
                        (step, items.get(i).cloned().unwrap_or(Value::Null))
                    }
                    Value::Map(m) => (
                        json!({"type": "get_attr", "value": seg}),
                        m.get(&seg).cloned().unwrap_or(Value::Null),
                    ),
                    _ => break,
                };
                steps.push(step);
                at = next;
            }
            Json::Array(steps)
        })
        .collect()
}

/// Writes a file readable by its owner alone, through a temporary file renamed into
/// place, so a crash leaves either no file or the whole one.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tfstate.terrane-tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_addresses_and_paths_read_as_terraform_writes_them() {
        assert_eq!(
            parse_provider("module.a.provider[\"registry.terraform.io/hashicorp/aws\"].west"),
            Some((
                "module.a.".into(),
                "registry.terraform.io/hashicorp/aws".into(),
                Some("west".into())
            ))
        );
        assert_eq!(parse_provider("aws"), None);
        assert_eq!(local_name("module.m.provider.aws.west"), "aws");
        let paths = vec![json!([
            {"type": "get_attr", "value": "tags"},
            {"type": "index", "value": {"value": "a/b", "type": "string"}}
        ])];
        assert_eq!(pointer_paths(&paths), vec!["/tags/a~1b"]);
        let v = Value::map([("pw", Value::from("x").into_sensitive())]);
        assert_eq!(
            terraform_paths(&v),
            vec![json!([{"type": "get_attr", "value": "pw"}])]
        );
    }

    #[test]
    fn connection_strings_lose_their_password() {
        assert_eq!(
            redact("postgres://u:secret@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
    }
}
