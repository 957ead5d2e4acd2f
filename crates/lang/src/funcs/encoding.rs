//! Encoding and hashing functions: base64 (of UTF-8, of other character encodings, of
//! gzip), JSON, YAML, CSV, URL encoding, the MD5 and SHA digests of strings (hex or
//! base64), `uuidv5` and `rsadecrypt`. `jsonencode` and `yamlencode` write exactly
//! Terraform's bytes.

use base64::Engine as _;
use terrane_core::Value;

use super::{Args, Func, FuncContext};

/// This family's rows of the registration table.
pub(super) const FUNCS: &[Func] = &[
    Func::exactly("base64decode", 1, base64decode),
    Func::exactly("base64encode", 1, base64encode),
    Func::exactly("base64gzip", 1, base64gzip),
    Func::exactly("base64sha256", 1, base64sha256),
    Func::exactly("base64sha512", 1, base64sha512),
    Func::exactly("csvdecode", 1, csvdecode),
    Func::exactly("jsondecode", 1, jsondecode),
    Func::exactly("jsonencode", 1, jsonencode),
    Func::exactly("md5", 1, md5),
    Func::exactly("rsadecrypt", 2, rsadecrypt),
    Func::exactly("sha1", 1, sha1),
    Func::exactly("sha256", 1, sha256),
    Func::exactly("sha512", 1, sha512),
    Func::exactly("textdecodebase64", 2, textdecodebase64),
    Func::exactly("textencodebase64", 2, textencodebase64),
    Func::exactly("urlencode", 1, urlencode),
    Func::exactly("uuidv5", 2, uuidv5),
    Func::exactly("yamldecode", 1, yamldecode),
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

fn yamldecode(a: &Args, _: &FuncContext) -> Result<Value, String> {
    super::yaml::decode(&a.str(0)?).map_err(|e| format!("yamldecode() got invalid YAML: {e}"))
}

/// The string gzip-compressed, in base64. The compressed bytes are a valid gzip stream
/// of the string; they are not byte for byte those of Go's compressor.
fn base64gzip(a: &Args, _: &FuncContext) -> Result<Value, String> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(a.str(0)?.as_bytes())
        .and_then(|()| gz.finish())
        .map(|bytes| Value::String(b64().encode(bytes)))
        .map_err(|e| format!("base64gzip() failed to compress: {e}"))
}

/// The character encodings `textencodebase64` and `textdecodebase64` know, by an IANA
/// name or alias (ignoring case).
#[derive(Clone, Copy, PartialEq)]
enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    /// UTF-16 with a byte order mark, big-endian when there is none.
    Utf16,
    Ascii,
    Latin1,
    Windows1252,
}

impl TextEncoding {
    fn by_name(name: &str) -> Option<TextEncoding> {
        const NAMES: &[(&[&str], TextEncoding)] = &[
            (&["utf-8", "csutf8"], TextEncoding::Utf8),
            (&["utf-16le", "csutf16le"], TextEncoding::Utf16Le),
            (&["utf-16be", "csutf16be"], TextEncoding::Utf16Be),
            (&["utf-16", "csutf16"], TextEncoding::Utf16),
            (
                &[
                    "us-ascii",
                    "iso-ir-6",
                    "ansi_x3.4-1968",
                    "ansi_x3.4-1986",
                    "iso_646.irv:1991",
                    "iso646-us",
                    "us",
                    "ibm367",
                    "cp367",
                    "csascii",
                ],
                TextEncoding::Ascii,
            ),
            (
                &[
                    "iso-8859-1",
                    "iso_8859-1:1987",
                    "iso-ir-100",
                    "iso_8859-1",
                    "latin1",
                    "l1",
                    "ibm819",
                    "cp819",
                    "csisolatin1",
                ],
                TextEncoding::Latin1,
            ),
            (
                &["windows-1252", "cswindows1252"],
                TextEncoding::Windows1252,
            ),
        ];
        let name = name.to_ascii_lowercase();
        NAMES
            .iter()
            .find(|(aliases, _)| aliases.contains(&name.as_str()))
            .map(|(_, e)| *e)
    }

    /// The characters 0x80 to 0x9F of windows-1252 (the rest is ISO 8859-1); `None`
    /// for the five it leaves undefined.
    const CP1252_HIGH: [Option<char>; 32] = {
        const U: Option<char> = None;
        [
            Some('€'),
            U,
            Some('‚'),
            Some('ƒ'),
            Some('„'),
            Some('…'),
            Some('†'),
            Some('‡'),
            Some('ˆ'),
            Some('‰'),
            Some('Š'),
            Some('‹'),
            Some('Œ'),
            U,
            Some('Ž'),
            U,
            U,
            Some('‘'),
            Some('’'),
            Some('“'),
            Some('”'),
            Some('•'),
            Some('–'),
            Some('—'),
            Some('˜'),
            Some('™'),
            Some('š'),
            Some('›'),
            Some('œ'),
            U,
            Some('ž'),
            Some('Ÿ'),
        ]
    };

    fn encode(self, s: &str) -> Option<Vec<u8>> {
        let utf16 = |be: bool| {
            s.encode_utf16()
                .flat_map(|u| if be { u.to_be_bytes() } else { u.to_le_bytes() })
                .collect::<Vec<u8>>()
        };
        let single = |c: char| -> Option<u8> {
            match (self, u32::from(c)) {
                (TextEncoding::Ascii, 0..=0x7F) => Some(c as u8),
                (TextEncoding::Latin1, 0..=0xFF) => Some(c as u8),
                (TextEncoding::Windows1252, n) if n < 0x80 || (0xA0..=0xFF).contains(&n) => {
                    Some(c as u8)
                }
                (TextEncoding::Windows1252, _) => TextEncoding::CP1252_HIGH
                    .iter()
                    .position(|x| *x == Some(c))
                    .map(|i| 0x80 + i as u8),
                _ => None,
            }
        };
        Some(match self {
            TextEncoding::Utf8 => s.as_bytes().to_vec(),
            TextEncoding::Utf16Le => utf16(false),
            TextEncoding::Utf16Be => utf16(true),
            TextEncoding::Utf16 => [0xFE, 0xFF].into_iter().chain(utf16(true)).collect(),
            _ => s.chars().map(single).collect::<Option<Vec<u8>>>()?,
        })
    }

    /// Text from bytes; what the encoding cannot decode becomes U+FFFD.
    fn decode(self, b: &[u8]) -> String {
        let utf16 = |b: &[u8], be: bool| {
            let units = b.chunks(2).map(|c| match c {
                [x, y] if be => u16::from_be_bytes([*x, *y]),
                [x, y] => u16::from_le_bytes([*x, *y]),
                _ => 0xFFFD,
            });
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect::<String>()
        };
        match self {
            TextEncoding::Utf8 => String::from_utf8_lossy(b).into_owned(),
            TextEncoding::Utf16Le => utf16(b, false),
            TextEncoding::Utf16Be => utf16(b, true),
            TextEncoding::Utf16 => match b {
                [0xFF, 0xFE, rest @ ..] => utf16(rest, false),
                [0xFE, 0xFF, rest @ ..] => utf16(rest, true),
                _ => utf16(b, true),
            },
            TextEncoding::Ascii => b
                .iter()
                .map(|&x| {
                    if x < 0x80 {
                        x as char
                    } else {
                        char::REPLACEMENT_CHARACTER
                    }
                })
                .collect(),
            TextEncoding::Latin1 => b.iter().map(|&x| x as char).collect(),
            TextEncoding::Windows1252 => b
                .iter()
                .map(|&x| match x {
                    0x80..=0x9F => TextEncoding::CP1252_HIGH[usize::from(x - 0x80)]
                        .unwrap_or(char::REPLACEMENT_CHARACTER),
                    _ => x as char,
                })
                .collect(),
        }
    }
}

/// The encoding named by argument `i`, or Terraform's error.
fn text_encoding(a: &Args, i: usize) -> Result<TextEncoding, String> {
    let name = a.str(i)?;
    TextEncoding::by_name(&name).ok_or_else(|| {
        format!("{}() argument {}: {name:?} is not a supported IANA encoding name or alias (terrane knows UTF-8, UTF-16, UTF-16LE, UTF-16BE, US-ASCII, ISO-8859-1 and windows-1252)", a.name, i + 1)
    })
}

fn textencodebase64(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (s, enc) = (a.str(0)?, text_encoding(a, 1)?);
    let bytes = enc.encode(&s).ok_or_else(|| {
        format!(
            "textencodebase64() argument 1 contains characters that cannot be represented in {}",
            a.str(1).unwrap_or_default()
        )
    })?;
    Ok(Value::String(b64().encode(bytes)))
}

fn textdecodebase64(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (s, enc) = (a.str(0)?, text_encoding(a, 1)?);
    let bytes = b64()
        .decode(&s)
        .map_err(|e| format!("textdecodebase64() argument 1 is not valid base64: {e}"))?;
    Ok(Value::String(enc.decode(&bytes)))
}

/// Decrypts base64 ciphertext made with RSA PKCS #1 v1.5 padding, with a private key in
/// PEM (PKCS #1 `RSA PRIVATE KEY` or PKCS #8 `PRIVATE KEY`).
fn rsadecrypt(a: &Args, _: &FuncContext) -> Result<Value, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    let (ciphertext, pem) = (a.str(0)?, a.str(1)?);
    let bytes = b64().decode(ciphertext.trim()).map_err(|_| {
        "rsadecrypt() argument 1: the ciphertext must be base64-encoded".to_string()
    })?;
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem.trim())
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(pem.trim()))
        .map_err(|_| "rsadecrypt() argument 2 is not an RSA private key in PEM (PKCS #1 \"RSA PRIVATE KEY\" or PKCS #8 \"PRIVATE KEY\")".to_string())?;
    let plain = key
        .decrypt(rsa::Pkcs1v15Encrypt, &bytes)
        .map_err(|_| "rsadecrypt() failed to decrypt: the key does not match the ciphertext, or it is not PKCS #1 v1.5".to_string())?;
    String::from_utf8(plain)
        .map(Value::String)
        .map_err(|_| "rsadecrypt() decrypted data that is not valid UTF-8".to_string())
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
