//! Encryption of state values at rest.
//!
//! A resource row's sensitive attribute values are sealed one by one (each bound to its
//! address and attribute path), so the row's structure stays readable and only the
//! secrets are ciphertext; with whole-state encryption on, the row's whole value (and
//! its list of sensitive paths) is sealed. The `sealed` column records which: a reader
//! never guesses, and an unencrypted row in a state that requires encryption is
//! refused unless that is explicitly allowed.

use std::sync::Arc;

use terrane_core::Value;
use terrane_secrets::Vault;

use crate::{OutputState, Result, StateError};

/// How a backend encrypts what it stores.
#[derive(Clone, Debug)]
pub struct Encryption {
    pub vault: Arc<Vault>,
    /// Seal every attribute value, not only the sensitive ones.
    pub whole: bool,
    /// With `whole`, still read rows written without encryption (while migrating).
    pub allow_unencrypted: bool,
}

/// What the `sealed` column says about a row.
pub const PLAIN: i64 = 0;
pub const SENSITIVE_SEALED: i64 = 1;
pub const WHOLE_SEALED: i64 = 2;

/// The vault to read `what` with; an encrypted value without one is an error.
fn vault<'a>(enc: Option<&'a Encryption>, what: &str) -> Result<&'a Vault> {
    enc.map(|e| e.vault.as_ref()).ok_or_else(|| {
        StateError::Key(format!(
            "{what} is encrypted, and no key is configured to read it"
        ))
    })
}

/// A value stored unencrypted is refused where whole-state encryption is required.
fn check_plain(enc: Option<&Encryption>, context: &str) -> Result<()> {
    if enc.is_some_and(|e| e.whole && !e.allow_unencrypted) {
        return Err(StateError::Key(format!(
            "{context} is stored unencrypted, but this workspace requires whole-state encryption. If you are switching encryption on, set `allow_unencrypted = true` in the encryption block and run `terrane secret rotate-key` to encrypt every row; otherwise the state was replaced by someone without the key"
        )));
    }
    Ok(())
}

/// A stored row: its value and sensitive paths as text, and how they are sealed.
pub struct Encoded {
    pub value: String,
    pub sensitive: String,
    pub sealed: i64,
}

/// Encodes a value for storage under `context` (the address of its row).
pub fn encode(enc: Option<&Encryption>, context: &str, value: &Value) -> Result<Encoded> {
    let mut json = value.to_json();
    let paths = value.sensitive_paths();
    let sensitive = serde_json::to_string(&paths).unwrap_or_else(|_| "[]".into());
    let Some(enc) = enc else {
        return Ok(Encoded {
            value: json.to_string(),
            sensitive,
            sealed: PLAIN,
        });
    };
    if enc.whole {
        let vault = &enc.vault;
        return Ok(Encoded {
            value: vault.seal(json.to_string().as_bytes(), context)?,
            sensitive: vault.seal(sensitive.as_bytes(), &format!("{context}#sensitive"))?,
            sealed: WHOLE_SEALED,
        });
    }
    if paths.is_empty() {
        return Ok(Encoded {
            value: json.to_string(),
            sensitive,
            sealed: PLAIN,
        });
    }
    for path in &paths {
        let slot = if path.is_empty() {
            Some(&mut json)
        } else {
            json.pointer_mut(path)
        };
        if let Some(slot) = slot {
            let sealed = enc
                .vault
                .seal(slot.to_string().as_bytes(), &format!("{context}{path}"))?;
            *slot = serde_json::Value::String(sealed);
        }
    }
    Ok(Encoded {
        value: json.to_string(),
        sensitive,
        sealed: SENSITIVE_SEALED,
    })
}

/// Decodes a stored row back into a value with its sensitive marks.
pub fn decode(
    enc: Option<&Encryption>,
    context: &str,
    value: &str,
    sensitive: &str,
    sealed: i64,
) -> Result<Value> {
    let corrupt = |e: String| StateError::Storage(format!("row {context}: {e}"));
    let (value, sensitive) = match sealed {
        WHOLE_SEALED => {
            let vault = vault(enc, context)?;
            let v = vault.open(value, context)?;
            let s = vault.open(sensitive, &format!("{context}#sensitive"))?;
            (
                String::from_utf8(v).map_err(|e| corrupt(e.to_string()))?,
                String::from_utf8(s).map_err(|e| corrupt(e.to_string()))?,
            )
        }
        _ => {
            check_plain(enc, context)?;
            (value.to_string(), sensitive.to_string())
        }
    };
    let mut json: serde_json::Value =
        serde_json::from_str(&value).map_err(|e| corrupt(e.to_string()))?;
    let paths: Vec<String> =
        serde_json::from_str(&sensitive).map_err(|e| corrupt(e.to_string()))?;
    if sealed == SENSITIVE_SEALED {
        let vault = vault(enc, context)?;
        for path in &paths {
            let slot = if path.is_empty() {
                Some(&mut json)
            } else {
                json.pointer_mut(path)
            };
            let Some(slot) = slot else { continue };
            let serde_json::Value::String(s) = slot else {
                return Err(corrupt(format!(
                    "the sensitive value at {path} is not encrypted"
                )));
            };
            let plain = vault.open(s, &format!("{context}{path}"))?;
            *slot = serde_json::from_slice(&plain).map_err(|e| corrupt(e.to_string()))?;
        }
    }
    Ok(Value::from_json(&json).with_sensitive_paths(&paths))
}

/// Encodes an output for storage: sealed whole when it is sensitive or the whole
/// state is encrypted.
pub fn encode_output(
    enc: Option<&Encryption>,
    name: &str,
    o: &OutputState,
) -> Result<(String, i64)> {
    let json = o.value.to_json().to_string();
    match enc {
        Some(e) if e.whole || o.sensitive => Ok((
            e.vault.seal(json.as_bytes(), &format!("output.{name}"))?,
            WHOLE_SEALED,
        )),
        _ => Ok((json, PLAIN)),
    }
}

/// Decodes a stored output.
pub fn decode_output(
    enc: Option<&Encryption>,
    name: &str,
    value: &str,
    sensitive: bool,
    sealed: i64,
) -> Result<OutputState> {
    let context = format!("output.{name}");
    let corrupt = |e: serde_json::Error| StateError::Storage(format!("{context}: {e}"));
    let json: serde_json::Value = if sealed == WHOLE_SEALED {
        let plain = vault(enc, &context)?.open(value, &context)?;
        serde_json::from_slice(&plain).map_err(corrupt)?
    } else {
        check_plain(enc, &context)?;
        serde_json::from_str(value).map_err(corrupt)?
    };
    Ok(OutputState {
        value: Value::from_json(&json).mark_if(sensitive),
        sensitive,
    })
}

fn secret_context(name: &str, version: u64) -> String {
    format!("secret {name} version {version}")
}

/// Seals one version of a secret (bound to its name and version).
pub fn seal_secret(
    enc: Option<&Encryption>,
    name: &str,
    version: u64,
    value: &[u8],
) -> Result<String> {
    let enc = enc.ok_or_else(|| {
        StateError::Key("secrets need an encryption key, and none is configured".into())
    })?;
    Ok(enc.vault.seal(value, &secret_context(name, version))?)
}

/// Opens one version of a secret.
pub fn open_secret(
    enc: Option<&Encryption>,
    name: &str,
    version: u64,
    sealed: &str,
) -> Result<Vec<u8>> {
    Ok(vault(enc, &format!("secret {name:?}"))?.open(sealed, &secret_context(name, version))?)
}

/// Re-encrypts a stored row (`reseal`): opened with `from`, sealed again with `to`.
pub fn reseal_row(
    from: Option<&Encryption>,
    to: &Encryption,
    context: &str,
    value: &str,
    sensitive: &str,
    sealed: i64,
) -> Result<Encoded> {
    encode(
        Some(to),
        context,
        &decode(from, context, value, sensitive, sealed)?,
    )
}

/// Re-encrypts a stored output; returns its new text and `sealed` value.
pub fn reseal_output(
    from: Option<&Encryption>,
    to: &Encryption,
    name: &str,
    value: &str,
    sensitive: bool,
    sealed: i64,
) -> Result<(String, i64)> {
    encode_output(
        Some(to),
        name,
        &decode_output(from, name, value, sensitive, sealed)?,
    )
}

/// Re-encrypts one stored version of a secret.
pub fn reseal_secret(
    from: Option<&Encryption>,
    to: &Encryption,
    name: &str,
    version: u64,
    sealed: &str,
) -> Result<String> {
    seal_secret(
        Some(to),
        name,
        version,
        &open_secret(from, name, version, sealed)?,
    )
}
