//! Encoding and hashing functions: base64, JSON, URL encoding, and the MD5 and SHA
//! digests of strings (hex or base64), `uuidv5`. `jsonencode` writes exactly
//! Terraform's bytes.

use base64::Engine as _;
use terrane_core::Value;

use super::{Args, Func, FuncContext};

/// This family's rows of the registration table.
pub(super) const FUNCS: &[Func] = &[
    Func::exactly("base64decode", 1, base64decode),
    Func::exactly("base64encode", 1, base64encode),
    Func::exactly("base64sha256", 1, base64sha256),
    Func::exactly("base64sha512", 1, base64sha512),
    Func::exactly("csvdecode", 1, csvdecode),
    Func::exactly("jsondecode", 1, jsondecode),
    Func::exactly("jsonencode", 1, jsonencode),
    Func::exactly("md5", 1, md5),
    Func::exactly("sha1", 1, sha1),
    Func::exactly("sha256", 1, sha256),
    Func::exactly("sha512", 1, sha512),
    Func::exactly("urlencode", 1, urlencode),
    Func::exactly("uuidv5", 2, uuidv5),
    Func::exactly("yamlencode", 1, yamlencode),
];

/// CSV (RFC 4180) with a header line: a list of objects, one per record, keyed by the
/// header's names; every record must have as many fields as the header.
fn csvdecode(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let text = a.str(0)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("csvdecode() got invalid CSV: {e}"))?
        .clone();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("csvdecode() got invalid CSV: {e}"))?;
        if record.len() != headers.len() {
            return Err(format!(
                "csvdecode(): record {} has {} fields, but the header has {}",
                i + 2,
                record.len(),
                headers.len()
            ));
        }
        rows.push(Value::map(
            headers
                .iter()
                .zip(record.iter())
                .map(|(h, f)| (h, Value::from(f))),
        ));
    }
    Ok(Value::List(rows))
}

fn yamlencode(a: &Args, _: &FuncContext) -> Result<Value, String> {
    super::yaml::encode(a.raw(0)).map(Value::String)
}

fn base64encode(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::String(b64().encode(a.str(0)?)))
}

fn base64decode(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let s = a.str(0)?;
    let bytes = b64()
        .decode(&s)
        .map_err(|_| format!("base64decode() got invalid base64 data {s:?}"))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| "base64decode() decoded data that is not valid UTF-8".to_string())
}

/// A name-based UUID (version 5, SHA-1) in the namespace `dns`, `url`, `oid`, `x500`
/// or a UUID given as text.
fn uuidv5(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (ns, name) = (a.str(0)?, a.str(1)?);
    let namespace = match ns.as_str() {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other).map_err(|_| {
            format!("uuidv5() got namespace {other:?}: give dns, url, oid, x500 or a UUID")
        })?,
    };
    Ok(Value::String(
        uuid::Uuid::new_v5(&namespace, name.as_bytes()).to_string(),
    ))
}

fn md5(a: &Args, _: &FuncContext) -> Result<Value, String> {
    hex_digest(a, "md5")
}

fn sha1(a: &Args, _: &FuncContext) -> Result<Value, String> {
    hex_digest(a, "sha1")
}

fn sha256(a: &Args, _: &FuncContext) -> Result<Value, String> {
    hex_digest(a, "sha256")
}

fn sha512(a: &Args, _: &FuncContext) -> Result<Value, String> {
    hex_digest(a, "sha512")
}

fn base64sha256(a: &Args, _: &FuncContext) -> Result<Value, String> {
    base64_digest(a, "sha256")
}

fn base64sha512(a: &Args, _: &FuncContext) -> Result<Value, String> {
    base64_digest(a, "sha512")
}

/// The string argument's digest in lowercase hex.
fn hex_digest(a: &Args, alg: &str) -> Result<Value, String> {
    let s = a.str(0)?;
    Ok(Value::String(hex::encode(digest(alg, s.as_bytes()))))
}

/// The string argument's digest in base64.
fn base64_digest(a: &Args, alg: &str) -> Result<Value, String> {
    let s = a.str(0)?;
    Ok(Value::String(b64().encode(digest(alg, s.as_bytes()))))
}

fn jsonencode(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::String(json_encode(a.raw(0))))
}

fn jsondecode(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let json: serde_json::Value = serde_json::from_str(&a.str(0)?)
        .map_err(|e| format!("jsondecode() got invalid JSON: {e}"))?;
    Ok(Value::from_json(&json))
}

fn urlencode(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let mut out = String::new();
    for b in a.str(0)?.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::String(out))
}

/// Standard base64 with padding, as Terraform writes it.
pub(super) fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The digest of `data` with `alg` (`md5`, `sha1`, `sha512`; anything else is SHA-256).
pub(super) fn digest(alg: &str, data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    match alg {
        "md5" => md5::Md5::digest(data).to_vec(),
        "sha1" => sha1::Sha1::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        _ => sha2::Sha256::digest(data).to_vec(),
    }
}

/// JSON exactly as Terraform's `jsonencode` writes it: compact, object keys sorted,
/// integral numbers without a fraction, and `<`, `>`, `&`, U+2028, U+2029 escaped.
pub(super) fn json_encode(v: &Value) -> String {
    v.to_json()
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}
