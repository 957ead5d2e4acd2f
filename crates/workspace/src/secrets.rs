//! The workspace's keys and secrets: the key providers of `terraform { encryption }`
//! (age, passphrase, AWS KMS), key rotation, encryption of saved plans, and provider
//! `terrane` with its `terrane_secret` data source over the state's secret store.
//!
//! A passphrase not given in the environment is asked for through the prompt the
//! program installs ([`set_passphrase_prompt`]); this crate never touches a terminal.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use terrane_core::{Type, Value};
use terrane_lang::{EncryptionSettings, KeyProviderBlock};
use terrane_provider::{
    AttrSchema, PlannedChange, Provider, ProviderError, ProviderFactory, ProviderSchema, Schema,
};
use terrane_secrets::{AgeProvider, CryptoError, KeyProvider, PassphraseProvider, Providers};

use crate::{LockGuard, Workspace};

/// Asks the person running terrane for a passphrase, given the prompt; `None` when no
/// one can be asked (not interactive).
pub type PassphrasePrompt = fn(&str) -> Option<String>;

static PROMPT: OnceLock<PassphrasePrompt> = OnceLock::new();

/// Installs how a passphrase missing from the environment is asked for.
pub fn set_passphrase_prompt(prompt: PassphrasePrompt) {
    let _ = PROMPT.set(prompt);
}

/// The passphrase from `var`, else asked for through the installed prompt.
fn passphrase(var: &str) -> Result<String, CryptoError> {
    if let Ok(p) = std::env::var(var) {
        return Ok(p);
    }
    let prompt = if var.ends_with("FALLBACK") {
        "Previous passphrase (fallback): "
    } else {
        "Passphrase: "
    };
    PROMPT.get().and_then(|ask| ask(prompt)).ok_or_else(|| {
        CryptoError::Key(format!(
            "a passphrase is needed to unlock this workspace's keys: set {var}, or run terrane interactively to be asked for it"
        ))
    })
}

/// What a key rotation did.
pub struct Rotated {
    /// The new data key's ID.
    pub key_id: String,
    /// The key provider that wraps it.
    pub wrapped_by: String,
    pub rows: u64,
    pub secrets: u64,
}

/// Re-encrypts every state row and secret version of the workspace under a new data
/// key, wrapped by the primary key provider, under the state lock. The current keys
/// are unlocked first, so a wrong or missing key fails before anything is made.
pub fn rotate_key(
    ws: &Workspace,
    backend: &mut dyn terrane_state::Backend,
) -> Result<Rotated, String> {
    let _lock = LockGuard::acquire(backend, "secret rotate-key").map_err(|e| e.to_string())?;
    // With no key yet there is nothing to unlock, and asking would create one.
    if let Some(current) = backend.encryption() {
        if !backend.keys().map_err(|e| e.to_string())?.is_empty() {
            current.vault.keyring().map_err(|e| e.to_string())?;
        }
    }
    let providers = key_providers(&ws.dir, ws.module.terraform.encryption.as_ref(), true)
        .map_err(|e| e.to_string())?;
    let primary = providers[0].as_ref();
    let (ring, wrapped) =
        terrane_secrets::Keyring::create(primary, terrane_state::lock::now_secs())
            .map_err(|e| e.to_string())?;
    let key_id = ring.active_id().to_string();
    // The workspace's settings, over the new key; plaintext is never allowed in what
    // the rotation writes.
    let mut to = ws.encryption(Vec::new());
    to.vault = Arc::new(terrane_secrets::Vault::unlocked(ring));
    to.allow_unencrypted = false;
    let done = backend.reseal(to, &[wrapped]).map_err(|e| e.to_string())?;
    Ok(Rotated {
        key_id,
        wrapped_by: primary.describe(),
        rows: done.rows,
        secrets: done.secrets,
    })
}

/// Where the generated workspace key lives when no key provider is configured.
pub fn default_identity(dir: &Path) -> PathBuf {
    dir.join(".terrane").join("identity.txt")
}

/// The key providers of a workspace, the primary first, then the fallback.
///
/// Without an `encryption` block: a passphrase when `TERRANE_PASSPHRASE` is set, else
/// the workspace's age identity `.terrane/identity.txt`, generated on first use.
/// `create` allows generating that default identity.
pub fn key_providers(
    dir: &Path,
    settings: Option<&EncryptionSettings>,
    create: bool,
) -> Result<Providers, CryptoError> {
    let mut out: Providers = Vec::new();
    match settings.and_then(|s| s.key_provider.as_ref()) {
        Some(p) => out.push(provider_of(dir, p, "TERRANE_PASSPHRASE", create)?),
        None => {
            if let Ok(p) = std::env::var("TERRANE_PASSPHRASE") {
                out.push(Box::new(PassphraseProvider::new(p, "TERRANE_PASSPHRASE")?));
            } else {
                out.push(Box::new(AgeProvider::load(&default_identity(dir), create)?));
            }
        }
    }
    if let Some(f) = settings.and_then(|s| s.fallback.as_ref()) {
        out.push(provider_of(dir, f, "TERRANE_PASSPHRASE_FALLBACK", false)?);
    }
    Ok(out)
}

fn provider_of(
    dir: &Path,
    p: &KeyProviderBlock,
    passphrase_var: &str,
    create: bool,
) -> Result<Box<dyn KeyProvider>, CryptoError> {
    match p.kind.as_str() {
        "age" => {
            let path = match p.args.get("identity_file") {
                Some(f) => dir.join(f),
                None => default_identity(dir),
            };
            // Only the default location is generated; a named file must exist.
            let create = create && !p.args.contains_key("identity_file");
            Ok(Box::new(AgeProvider::load(&path, create)?))
        }
        "passphrase" => Ok(Box::new(PassphraseProvider::new(
            passphrase(passphrase_var)?,
            passphrase_var,
        )?)),
        #[cfg(feature = "aws")]
        "aws_kms" => Ok(Box::new(kms::KmsProvider {
            key_id: p.args.get("key_id").cloned().unwrap_or_default(),
            region: p.args.get("region").cloned(),
            endpoint: p.args.get("endpoint").cloned(),
        })),
        other => Err(CryptoError::Key(format!(
            "the {other} key provider is not available in this build; use age or passphrase"
        ))),
    }
}

/// AWS KMS as a key provider: data keys are wrapped with `Encrypt` and unwrapped with
/// `Decrypt` under one KMS key, with an encryption context naming terrane, so a blob
/// from another application does not unwrap here. Credentials and region come from
/// the standard chain (environment, profiles, IMDS) unless set in the block;
/// `endpoint` (or `AWS_ENDPOINT_URL_KMS`) points it at an emulator or private endpoint.
#[cfg(feature = "aws")]
mod kms {
    use aws_sdk_kms::primitives::Blob;
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;
    use terrane_secrets::{CryptoError, KeyProvider};
    use zeroize::Zeroizing;

    pub struct KmsProvider {
        pub key_id: String,
        pub region: Option<String>,
        pub endpoint: Option<String>,
    }

    const CONTEXT: (&str, &str) = ("terrane", "data-key");

    impl KmsProvider {
        /// Runs one KMS call on a runtime of its own (the key provider interface is
        /// synchronous and may be called from inside terrane's runtime).
        fn call<T: Send>(
            &self,
            op: &str,
            f: impl FnOnce(
                    aws_sdk_kms::Client,
                ) -> std::pin::Pin<
                    Box<dyn std::future::Future<Output = Result<T, String>> + Send>,
                > + Send,
        ) -> Result<T, CryptoError> {
            let (region, endpoint) = (self.region.clone(), self.endpoint.clone());
            let result = std::thread::scope(|s| {
                s.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    rt.block_on(async move {
                        let mut loader =
                            aws_config::defaults(aws_config::BehaviorVersion::latest());
                        if let Some(r) = region {
                            loader = loader.region(aws_config::Region::new(r));
                        }
                        let conf = loader.load().await;
                        let mut b = aws_sdk_kms::config::Builder::from(&conf);
                        if let Some(e) = endpoint {
                            b = b.endpoint_url(e);
                        }
                        f(aws_sdk_kms::Client::from_conf(b.build())).await
                    })
                })
                .join()
                .unwrap_or_else(|_| Err("the KMS call stopped unexpectedly".into()))
            });
            result.map_err(|e| {
                CryptoError::Key(format!("AWS KMS {op} with key {} failed: {e}", self.key_id))
            })
        }
    }

    fn err(e: impl std::error::Error) -> String {
        aws_sdk_kms::error::DisplayErrorContext(e).to_string()
    }

    impl KeyProvider for KmsProvider {
        fn kind(&self) -> String {
            format!("aws_kms:{}", self.key_id)
        }

        fn describe(&self) -> String {
            format!("AWS KMS key {}", self.key_id)
        }

        fn wrap(&self, key: &[u8; 32]) -> Result<String, CryptoError> {
            let (key_id, plain) = (self.key_id.clone(), key.to_vec());
            let blob = self.call("Encrypt", move |c| {
                Box::pin(async move {
                    let out = c
                        .encrypt()
                        .key_id(key_id)
                        .plaintext(Blob::new(plain))
                        .encryption_context(CONTEXT.0, CONTEXT.1)
                        .send()
                        .await
                        .map_err(err)?;
                    out.ciphertext_blob
                        .map(Blob::into_inner)
                        .ok_or_else(|| "KMS returned no ciphertext".to_string())
                })
            })?;
            Ok(B64.encode(blob))
        }

        fn unwrap(&self, wrapped: &str) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
            let raw = B64
                .decode(wrapped)
                .map_err(|_| CryptoError::Malformed("a KMS-wrapped data key".into()))?;
            let key_id = self.key_id.clone();
            let plain = self.call("Decrypt", move |c| {
                Box::pin(async move {
                    let out = c
                        .decrypt()
                        .key_id(key_id)
                        .ciphertext_blob(Blob::new(raw))
                        .encryption_context(CONTEXT.0, CONTEXT.1)
                        .send()
                        .await
                        .map_err(err)?;
                    out.plaintext
                        .map(Blob::into_inner)
                        .ok_or_else(|| "KMS returned no plaintext".to_string())
                })
            })?;
            terrane_secrets::key_bytes(plain, "a KMS-wrapped data key")
        }
    }
}

/// Secret names: letters, digits and `_ - . /`, as in Vault paths.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid secret name {name:?}: use letters, digits and _ - . / (at most 256 characters)"
        ))
    }
}

/// Provider `terrane`: data source `terrane_secret` reads the workspace's secret store.
pub struct TerraneFactory {
    schema: ProviderSchema,
    open: Arc<dyn Fn() -> Result<Box<dyn terrane_state::Backend>, String> + Send + Sync>,
}

impl TerraneFactory {
    pub fn new(
        open: impl Fn() -> Result<Box<dyn terrane_state::Backend>, String> + Send + Sync + 'static,
    ) -> TerraneFactory {
        let mut schema = ProviderSchema::default();
        schema.data_sources.insert(
            "terrane_secret".into(),
            Schema::new()
                .attr("name", AttrSchema::required(Type::String))
                .attr("version", AttrSchema::optional_computed(Type::Number))
                .attr("value", AttrSchema::computed(Type::String).sensitive())
                .attr("id", AttrSchema::computed(Type::String)),
        );
        TerraneFactory {
            schema,
            open: Arc::new(open),
        }
    }
}

impl ProviderFactory for TerraneFactory {
    fn name(&self) -> &str {
        "terrane"
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn configure(&self, _config: &Value) -> terrane_provider::Result<Arc<dyn Provider>> {
        Ok(Arc::new(TerraneProvider {
            open: self.open.clone(),
        }))
    }
}

struct TerraneProvider {
    open: Arc<dyn Fn() -> Result<Box<dyn terrane_state::Backend>, String> + Send + Sync>,
}

#[async_trait]
impl Provider for TerraneProvider {
    async fn plan(
        &self,
        type_name: &str,
        _prior: Option<&Value>,
        _prior_private: &[u8],
        _config: &Value,
        _schema: &Schema,
    ) -> terrane_provider::Result<PlannedChange> {
        Err(ProviderError::config(format!(
            "provider terrane has no resource type {type_name}"
        )))
    }

    async fn create(&self, t: &str, _: Value) -> terrane_provider::Result<Value> {
        Err(ProviderError::config(format!(
            "provider terrane has no resource type {t}"
        )))
    }

    async fn read(&self, t: &str, _: Value) -> terrane_provider::Result<Option<Value>> {
        Err(ProviderError::config(format!(
            "provider terrane has no resource type {t}"
        )))
    }

    async fn update(&self, t: &str, _: Value, _: Value) -> terrane_provider::Result<Value> {
        Err(ProviderError::config(format!(
            "provider terrane has no resource type {t}"
        )))
    }

    async fn delete(&self, t: &str, _: Value) -> terrane_provider::Result<()> {
        Err(ProviderError::config(format!(
            "provider terrane has no resource type {t}"
        )))
    }

    async fn read_data(&self, type_name: &str, config: Value) -> terrane_provider::Result<Value> {
        if type_name != "terrane_secret" {
            return Err(ProviderError::config(format!(
                "provider terrane has no data source {type_name}"
            )));
        }
        let name = config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        check_name(&name).map_err(ProviderError::config)?;
        let asked = name.clone();
        let version = match config.get("version") {
            Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v >= 1) => {
                n.as_i64().map(|v| v as u64)
            }
            Some(Value::Number(n)) => {
                return Err(ProviderError::config(format!(
                    "version = {n}: versions are whole numbers from 1"
                )))
            }
            _ => None,
        };
        let open = self.open.clone();
        let found = tokio::task::spawn_blocking(move || {
            let backend = open()?;
            backend
                .secret_get(&asked, version)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| ProviderError::config(e.to_string()))?
        .map_err(ProviderError::config)?;
        let Some((version, bytes)) = found else {
            return Err(ProviderError::config(match version {
                Some(v) => format!("secret {name:?} has no version {v}; see terrane secret list"),
                None => format!(
                    "no secret named {name:?} in this workspace; create it with: terrane secret set {name}"
                ),
            }));
        };
        let value = String::from_utf8(bytes).map_err(|_| {
            ProviderError::config(format!(
                "secret {name:?} is not UTF-8 text, so it cannot be used as a string"
            ))
        })?;
        Ok(Value::map([
            ("name", Value::from(name.as_str())),
            ("version", Value::from(version as f64)),
            ("value", Value::from(value.as_str()).into_sensitive()),
            ("id", Value::from(format!("{name}/{version}").as_str())),
        ]))
    }
}

/// Encrypts the sensitive values of a saved plan (`{"$sensitive": …}` in the plan
/// file format) and the values of sensitive variables, under a data key of the plan's
/// own, wrapped by the workspace's key provider and stored in the file. A plan without
/// sensitive values is left as it is.
pub fn seal_plan(
    dir: &Path,
    settings: Option<&EncryptionSettings>,
    plan: &mut serde_json::Value,
) -> Result<(), String> {
    use serde_json::Value as Json;
    fn has_sensitive(j: &Json) -> bool {
        match j {
            Json::Object(m) => m.contains_key("$sensitive") || m.values().any(has_sensitive),
            Json::Array(a) => a.iter().any(has_sensitive),
            _ => false,
        }
    }
    let sensitive_vars: Vec<String> = plan["sensitive_variables"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let vars_present = sensitive_vars
        .iter()
        .any(|v| plan["variables"].get(v).is_some());
    if !vars_present && !has_sensitive(plan) {
        return Ok(());
    }
    let providers = key_providers(dir, settings, true).map_err(|e| e.to_string())?;
    let (ring, wrapped) =
        terrane_secrets::Keyring::create(providers[0].as_ref(), terrane_state::lock::now_secs())
            .map_err(|e| e.to_string())?;
    fn walk(j: &mut Json, ring: &terrane_secrets::Keyring) {
        match j {
            Json::Object(m) if m.len() == 1 && m.contains_key("$sensitive") => {
                let inner = m["$sensitive"].to_string();
                *j = serde_json::json!({ "$sealed": ring.seal(inner.as_bytes(), "plan value") });
            }
            Json::Object(m) => m.values_mut().for_each(|v| walk(v, ring)),
            Json::Array(a) => a.iter_mut().for_each(|v| walk(v, ring)),
            _ => {}
        }
    }
    walk(plan, &ring);
    for name in &sensitive_vars {
        if let Some(v) = plan["variables"].get_mut(name) {
            let text = v.to_string();
            *v = serde_json::json!({
                "$sealed": ring.seal(text.as_bytes(), &format!("plan variable {name}"))
            });
        }
    }
    plan["encryption"] = serde_json::json!({ "key": wrapped });
    Ok(())
}

/// Decrypts what [`seal_plan`] encrypted; a wrong key or an altered file is refused.
pub fn open_plan(
    dir: &Path,
    settings: Option<&EncryptionSettings>,
    plan: &mut serde_json::Value,
    shown: &str,
) -> Result<(), String> {
    use serde_json::Value as Json;
    let Some(enc) = plan.get("encryption").cloned() else {
        return Ok(());
    };
    let wrapped: terrane_secrets::WrappedKey = serde_json::from_value(enc["key"].clone())
        .map_err(|e| format!("the plan file {shown} has an unreadable key: {e}"))?;
    let providers = key_providers(dir, settings, false).map_err(|e| e.to_string())?;
    let refs: Vec<&dyn KeyProvider> = providers.iter().map(|p| p.as_ref()).collect();
    let ring = terrane_secrets::Keyring::unlock(&[wrapped], &refs)
        .map_err(|e| format!("cannot decrypt the plan file {shown}: {e}"))?;
    let open = |sealed: &Json, context: &str| -> Result<Json, String> {
        let s = sealed.as_str().unwrap_or_default();
        let plain = ring
            .open(s, context)
            .map_err(|e| format!("the plan file {shown}: {e}"))?;
        serde_json::from_slice(&plain).map_err(|e| format!("the plan file {shown}: {e}"))
    };
    if let Some(Json::Object(vars)) = plan.get_mut("variables") {
        for (name, v) in vars.iter_mut() {
            if let Some(sealed) = v.get("$sealed") {
                *v = open(sealed, &format!("plan variable {name}"))?;
            }
        }
    }
    fn walk(
        j: &mut Json,
        open: &dyn Fn(&Json, &str) -> Result<Json, String>,
    ) -> Result<(), String> {
        match j {
            Json::Object(m) if m.len() == 1 && m.contains_key("$sealed") => {
                let inner = open(&m["$sealed"], "plan value")?;
                *j = serde_json::json!({ "$sensitive": inner });
            }
            Json::Object(m) => {
                for v in m.values_mut() {
                    walk(v, open)?;
                }
            }
            Json::Array(a) => {
                for v in a.iter_mut() {
                    walk(v, open)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    walk(plan, &open)
}
