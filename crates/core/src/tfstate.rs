//! Terraform's own state file format, version 4 (written by Terraform 0.12 to 1.x and
//! OpenTofu): read to take a state over or to read another configuration's outputs
//! (`terraform_remote_state`), and written to hand a state back.
//!
//! Values are kept as JSON (`serde_json` keeps every digit of a number), so reading and
//! writing a file changes nothing in it that terrane does not understand.

use std::collections::BTreeMap;

use crate::Value;
use serde::{Deserialize, Serialize};

/// The state format version this module reads and writes.
pub const VERSION: u64 = 4;

/// A whole `terraform.tfstate`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TfState {
    pub version: u64,
    #[serde(default)]
    pub terraform_version: String,
    #[serde(default)]
    pub serial: u64,
    #[serde(default)]
    pub lineage: String,
    #[serde(default)]
    pub outputs: BTreeMap<String, TfOutput>,
    #[serde(default)]
    pub resources: Vec<TfResource>,
    /// Results of the last checks; kept as written.
    #[serde(default)]
    pub check_results: serde_json::Value,
}

/// One root module output.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TfOutput {
    pub value: serde_json::Value,
    /// The output's type in Terraform's JSON type syntax (`"string"`, `["list","number"]`).
    #[serde(rename = "type", default)]
    pub type_json: serde_json::Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

/// One resource (all its instances).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TfResource {
    /// The module instance address (`module.a["x"].module.b`), absent for the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// `managed` or `data`.
    pub mode: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub name: String,
    /// `count` or `for_each` (older files only; Terraform 1.x leaves it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub each: Option<String>,
    /// The provider configuration: `provider["registry.terraform.io/hashicorp/aws"]`,
    /// with `.ALIAS` and a `module.NAME.` prefix where they apply.
    pub provider: String,
    #[serde(default)]
    pub instances: Vec<TfInstance>,
}

/// One resource instance (or one deposed object of it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TfInstance {
    /// The `count` index (a number) or `for_each` key (a string); absent without either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_key: Option<serde_json::Value>,
    /// `tainted` when a create failed half way; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The key of a deposed object (one `create_before_destroy` left behind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposed: Option<String>,
    #[serde(default)]
    pub schema_version: u64,
    #[serde(default)]
    pub attributes: serde_json::Value,
    /// Paths to sensitive attributes, as Terraform writes them
    /// (`[[{"type":"get_attr","value":"password"}]]`).
    #[serde(default)]
    pub sensitive_attributes: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_schema_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<serde_json::Value>,
    /// The provider's private data, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
}

/// Why a file could not be read as a Terraform state.
#[derive(Debug, thiserror::Error)]
pub enum TfStateError {
    #[error("{path} is not a Terraform state file: {reason}")]
    NotAState { path: String, reason: String },
    #[error("{path} is a Terraform state of format version {found}; terrane reads version 4 (Terraform 0.12 and later). {hint}")]
    Version {
        path: String,
        found: u64,
        hint: &'static str,
    },
}

impl TfState {
    /// Parses the text of a state file; `path` names it in errors.
    pub fn parse(text: &[u8], path: &str) -> Result<TfState, TfStateError> {
        let not_a_state = |reason: String| TfStateError::NotAState {
            path: path.to_string(),
            reason,
        };
        let doc: serde_json::Value =
            serde_json::from_slice(text).map_err(|e| not_a_state(format!("not JSON ({e})")))?;
        let version = doc
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| not_a_state("it has no \"version\" number".to_string()))?;
        if version != VERSION {
            return Err(TfStateError::Version {
                path: path.to_string(),
                found: version,
                hint: if version > VERSION {
                    "It was written by a newer tool than terrane knows; nothing was read"
                } else {
                    "Run `terraform plan` once with Terraform 1.x to upgrade it, then try again"
                },
            });
        }
        serde_json::from_value(doc).map_err(|e| not_a_state(e.to_string()))
    }

    /// The root module's outputs as values, sensitive ones marked.
    pub fn output_values(&self) -> BTreeMap<String, Value> {
        self.outputs
            .iter()
            .map(|(name, o)| {
                (
                    name.clone(),
                    Value::from_json(&o.value).mark_if(o.sensitive),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"{
      "version": 4, "terraform_version": "1.15.5", "serial": 3,
      "lineage": "0f4c6f4e-2a39-4fd4-9e4e-9f2d6b0d4a11",
      "outputs": {
        "n": {"value": 12345678901234567890, "type": "number"},
        "pw": {"value": "s3cret", "type": "string", "sensitive": true}
      },
      "resources": [{
        "module": "module.app[0]", "mode": "managed", "type": "terraform_data",
        "name": "x", "provider": "provider[\"terraform.io/builtin/terraform\"]",
        "instances": [{"index_key": "a", "schema_version": 0,
          "attributes": {"id": "1", "input": 1.5}, "sensitive_attributes": [],
          "dependencies": ["terraform_data.y"]}]
      }],
      "check_results": null
    }"#;

    #[test]
    fn reads_and_writes_back_what_it_read() {
        let st = TfState::parse(STATE.as_bytes(), "t.tfstate").unwrap();
        assert_eq!(st.serial, 3);
        assert_eq!(st.resources[0].module.as_deref(), Some("module.app[0]"));
        let outs = st.output_values();
        assert_eq!(outs["n"].to_json().to_string(), "12345678901234567890");
        assert!(outs["pw"].contains_sensitive());
        let again: serde_json::Value = serde_json::to_value(&st).unwrap();
        let orig: serde_json::Value = serde_json::from_str(STATE).unwrap();
        assert_eq!(again, orig);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let e = TfState::parse(b"{\"version\": 5}", "t").unwrap_err();
        assert!(e.to_string().contains("newer tool"), "{e}");
        let e = TfState::parse(b"{\"version\": 3}", "t").unwrap_err();
        assert!(e.to_string().contains("Terraform 1.x to upgrade"), "{e}");
        let e = TfState::parse(b"hello", "t").unwrap_err();
        assert!(e.to_string().contains("not JSON"), "{e}");
    }
}
