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

use crate::{Result, StateError};

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

fn key_error(e: terrane_secrets::CryptoError) -> StateError {
    StateError::Key(e.to_string())
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
            value: vault
                .seal(json.to_string().as_bytes(), context)
                .map_err(key_error)?,
            sensitive: vault
                .seal(sensitive.as_bytes(), &format!("{context}#sensitive"))
                .map_err(key_error)?,
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
                .seal(slot.to_string().as_bytes(), &format!("{context}{path}"))
                .map_err(key_error)?;
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
    let need = || {
        StateError::Key(format!(
            "{context} holds encrypted values, and no key is configured to read them"
        ))
    };
    let (value, sensitive) = match sealed {
        WHOLE_SEALED => {
            let vault = &enc.ok_or_else(need)?.vault;
            let v = vault.open(value, context).map_err(key_error)?;
            let s = vault
                .open(sensitive, &format!("{context}#sensitive"))
                .map_err(key_error)?;
            (
                String::from_utf8(v).map_err(|e| corrupt(e.to_string()))?,
                String::from_utf8(s).map_err(|e| corrupt(e.to_string()))?,
            )
        }
        _ => {
            if let Some(e) = enc {
                if e.whole && !e.allow_unencrypted {
                    return Err(StateError::Key(format!(
                        "{context} is stored unencrypted, but this workspace requires whole-state encryption. If you are switching encryption on, set `allow_unencrypted = true` in the encryption block and run `terrane secret rotate-key` to encrypt every row; otherwise the state was replaced by someone without the key"
                    )));
                }
            }
            (value.to_string(), sensitive.to_string())
        }
    };
    let mut json: serde_json::Value =
        serde_json::from_str(&value).map_err(|e| corrupt(e.to_string()))?;
    let paths: Vec<String> =
        serde_json::from_str(&sensitive).map_err(|e| corrupt(e.to_string()))?;
    if sealed == SENSITIVE_SEALED {
        let vault = &enc.ok_or_else(need)?.vault;
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
            let plain = vault
                .open(s, &format!("{context}{path}"))
                .map_err(key_error)?;
            *slot = serde_json::from_slice(&plain).map_err(|e| corrupt(e.to_string()))?;
        }
    }
    Ok(Value::from_json(&json).with_sensitive_paths(&paths))
}
