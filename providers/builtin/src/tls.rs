//! Provider `tls`, with the `hashicorp/tls` provider's resource names and attributes:
//! `tls_private_key` (RSA, ECDSA P-256/P-384, Ed25519), `tls_self_signed_cert`,
//! `tls_cert_request` and `tls_locally_signed_cert`. Everything is computed at create
//! and kept in state (every argument forces a new object), as in that provider.
//!
//! Keys are drawn from the operating system's CSPRNG (RSA with the `rsa` crate, the
//! others with ring through rcgen); certificates and requests are made by rcgen.
//! Encodings follow the provider: `private_key_pem` is PKCS#1 for RSA, SEC1 for ECDSA
//! and PKCS#8 for Ed25519; `private_key_pem_pkcs8` is PKCS#8 for all; the OpenSSH forms
//! and both fingerprints are those `ssh-keygen` prints.

use base64::Engine as _;
use md5::Md5;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
use sha2::{Digest as _, Sha256};
use terrane_core::{Type, Value};
use terrane_provider::{AttrSchema, BlockSchema, Dispatch, ProviderError, Result, Schema};

use crate::random::{Draw, Random};
use crate::{set_attr, SimpleFactory};

pub fn factory() -> SimpleFactory {
    SimpleFactory::new("tls", provider)
}

/// The `tls` provider with every type registered.
pub fn provider() -> Dispatch<()> {
    Dispatch::new(())
        .resource("tls_private_key", Random(PrivateKey))
        .resource("tls_self_signed_cert", Random(Cert::SelfSigned))
        .resource("tls_cert_request", Random(Cert::Request))
        .resource("tls_locally_signed_cert", Random(Cert::LocallySigned))
}

fn config_error(message: impl Into<String>) -> ProviderError {
    ProviderError::config(message.into())
}

/// A private key of one of the algorithms the provider makes.
enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    /// The seed and the public key.
    Ed25519([u8; 32], [u8; 32]),
}

/// PKCS#8 v1 of an Ed25519 seed (RFC 8410): a fixed prefix, then the 32 bytes.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

impl Key {
    fn generate(algorithm: &str, rsa_bits: usize, curve: &str) -> Result<Key> {
        match algorithm {
            "RSA" => {
                if !(1024..=16384).contains(&rsa_bits) {
                    return Err(config_error(format!("rsa_bits {rsa_bits} is out of range: use 2048, 3072 or 4096")));
                }
                let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, rsa_bits)
                    .map_err(|e| config_error(format!("generating an RSA key: {e}")))?;
                Ok(Key::Rsa(Box::new(key)))
            }
            "ECDSA" => match curve {
                "P256" => Ok(Key::P256(p256::SecretKey::random(&mut rand_core::OsRng))),
                "P384" => Ok(Key::P384(p384::SecretKey::random(&mut rand_core::OsRng))),
                other => Err(config_error(format!(
                    "ecdsa_curve {other:?} is not supported by terrane's tls provider: use P256 or P384 (P224 and P521 are not available)"
                ))),
            },
            "ED25519" => {
                let pair = KeyPair::generate_for(&rcgen::PKCS_ED25519)
                    .map_err(|e| config_error(format!("generating an Ed25519 key: {e}")))?;
                Key::from_pkcs8(&pair.serialize_der())
            }
            other => Err(config_error(format!(
                "algorithm {other:?} is not one of RSA, ECDSA, ED25519"
            ))),
        }
    }

    fn from_pkcs8(der: &[u8]) -> Result<Key> {
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(der) {
            return Ok(Key::Rsa(Box::new(k)));
        }
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
            return Ok(Key::P256(k));
        }
        if let Ok(k) = p384::SecretKey::from_pkcs8_der(der) {
            return Ok(Key::P384(k));
        }
        // Ed25519: the seed is the OCTET STRING inside the private key OCTET STRING.
        if let Some(at) = der.windows(4).position(|w| w == [0x04, 0x22, 0x04, 0x20]) {
            if der.get(7..12) == Some(&[0x06, 0x03, 0x2b, 0x65, 0x70][..]) && der.len() >= at + 36 {
                let mut seed = [0u8; 32];
                seed.copy_from_slice(&der[at + 4..at + 36]);
                let mut v1 = ED25519_PKCS8_PREFIX.to_vec();
                v1.extend_from_slice(&seed);
                let pair = KeyPair::try_from(v1.as_slice()).map_err(|e| {
                    config_error(format!("an Ed25519 key that cannot be used: {e}"))
                })?;
                let mut public = [0u8; 32];
                public.copy_from_slice(pair.public_key_raw());
                return Ok(Key::Ed25519(seed, public));
            }
        }
        Err(config_error(
            "the private key is not RSA, ECDSA P-256/P-384 or Ed25519",
        ))
    }

    /// Reads a PEM private key: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or
    /// SEC1 (`EC PRIVATE KEY`).
    fn from_pem(text: &str, what: &str) -> Result<Key> {
        let bad = |why: String| config_error(format!("{what} is not a PEM private key: {why}"));
        let block = pem::parse(text.trim()).map_err(|e| bad(e.to_string()))?;
        match block.tag() {
            "PRIVATE KEY" => Key::from_pkcs8(block.contents()),
            "RSA PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs1_der(block.contents())
                .map(|k| Key::Rsa(Box::new(k)))
                .map_err(|e| bad(e.to_string())),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(block.contents())
                .map(Key::P256)
                .or_else(|_| p384::SecretKey::from_sec1_der(block.contents()).map(Key::P384))
                .map_err(|_| bad("an EC key on a curve other than P-256 and P-384".into())),
            other => Err(bad(format!("the PEM block is {other:?}"))),
        }
    }

    fn algorithm(&self) -> &'static str {
        match self {
            Key::Rsa(_) => "RSA",
            Key::P256(_) | Key::P384(_) => "ECDSA",
            Key::Ed25519(..) => "ED25519",
        }
    }

    fn pkcs8_der(&self) -> Result<Vec<u8>> {
        let failed = |e: String| config_error(format!("encoding the key: {e}"));
        Ok(match self {
            Key::Rsa(k) => k
                .to_pkcs8_der()
                .map_err(|e| failed(e.to_string()))?
                .as_bytes()
                .to_vec(),
            Key::P256(k) => k
                .to_pkcs8_der()
                .map_err(|e| failed(e.to_string()))?
                .as_bytes()
                .to_vec(),
            Key::P384(k) => k
                .to_pkcs8_der()
                .map_err(|e| failed(e.to_string()))?
                .as_bytes()
                .to_vec(),
            Key::Ed25519(seed, _) => {
                let mut v = ED25519_PKCS8_PREFIX.to_vec();
                v.extend_from_slice(seed);
                v
            }
        })
    }

    /// The key as rcgen signs with it.
    fn key_pair(&self) -> Result<KeyPair> {
        let der = self.pkcs8_der()?;
        let pair = match self {
            // ring reads EC keys whose inner structure leaves out the curve (it is in the
            // outer algorithm identifier), so EC keys go through ring's own form.
            Key::P256(k) => KeyPair::from_pkcs8_der_and_sign_algo(
                &ring_ec_pkcs8(&k.to_bytes(), &k.public_key().to_sec1_bytes(), Curve::P256).into(),
                &rcgen::PKCS_ECDSA_P256_SHA256,
            ),
            Key::P384(k) => KeyPair::from_pkcs8_der_and_sign_algo(
                &ring_ec_pkcs8(&k.to_bytes(), &k.public_key().to_sec1_bytes(), Curve::P384).into(),
                &rcgen::PKCS_ECDSA_P384_SHA384,
            ),
            Key::Rsa(_) => {
                KeyPair::from_pkcs8_der_and_sign_algo(&der.into(), &rcgen::PKCS_RSA_SHA256)
            }
            Key::Ed25519(..) => KeyPair::try_from(der.as_slice()),
        };
        pair.map_err(|e| config_error(format!("the key cannot sign: {e}")))
    }

    /// `private_key_pem`: PKCS#1, SEC1 or (Ed25519) PKCS#8.
    fn private_pem(&self) -> Result<String> {
        let failed = |e: String| config_error(format!("encoding the key: {e}"));
        let lf = rsa::pkcs8::LineEnding::LF;
        Ok(match self {
            Key::Rsa(k) => k
                .to_pkcs1_pem(lf)
                .map_err(|e| failed(e.to_string()))?
                .to_string(),
            Key::P256(k) => pem_block(
                "EC PRIVATE KEY",
                &ec_private_key(
                    &k.to_bytes(),
                    &k.public_key().to_sec1_bytes(),
                    Some(Curve::P256),
                ),
            ),
            Key::P384(k) => pem_block(
                "EC PRIVATE KEY",
                &ec_private_key(
                    &k.to_bytes(),
                    &k.public_key().to_sec1_bytes(),
                    Some(Curve::P384),
                ),
            ),
            Key::Ed25519(..) => self.pkcs8_pem()?,
        })
    }

    fn pkcs8_pem(&self) -> Result<String> {
        Ok(pem_block("PRIVATE KEY", &self.pkcs8_der()?))
    }

    /// The OpenSSH public key blob (the wire form).
    fn ssh_public_blob(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match self {
            Key::Rsa(k) => {
                ssh_string(&mut b, b"ssh-rsa");
                ssh_mpint(&mut b, &k.e().to_bytes_be());
                ssh_mpint(&mut b, &k.n().to_bytes_be());
            }
            Key::P256(k) => {
                ssh_string(&mut b, b"ecdsa-sha2-nistp256");
                ssh_string(&mut b, b"nistp256");
                ssh_string(&mut b, &k.public_key().to_sec1_bytes());
            }
            Key::P384(k) => {
                ssh_string(&mut b, b"ecdsa-sha2-nistp384");
                ssh_string(&mut b, b"nistp384");
                ssh_string(&mut b, &k.public_key().to_sec1_bytes());
            }
            Key::Ed25519(_, public) => {
                ssh_string(&mut b, b"ssh-ed25519");
                ssh_string(&mut b, public);
            }
        }
        b
    }

    fn ssh_type(&self) -> &'static str {
        match self {
            Key::Rsa(_) => "ssh-rsa",
            Key::P256(_) => "ecdsa-sha2-nistp256",
            Key::P384(_) => "ecdsa-sha2-nistp384",
            Key::Ed25519(..) => "ssh-ed25519",
        }
    }

    /// `public_key_openssh`: `TYPE BASE64\n`, as the provider writes it.
    fn public_openssh(&self) -> String {
        format!(
            "{} {}\n",
            self.ssh_type(),
            base64::engine::general_purpose::STANDARD.encode(self.ssh_public_blob())
        )
    }

    /// `private_key_openssh`: the unencrypted `openssh-key-v1` format.
    fn private_openssh(&self) -> String {
        let mut private = Vec::new();
        let check: u32 = rand::random();
        private.extend_from_slice(&check.to_be_bytes());
        private.extend_from_slice(&check.to_be_bytes());
        ssh_string(&mut private, self.ssh_type().as_bytes());
        match self {
            Key::Rsa(k) => {
                ssh_mpint(&mut private, &k.n().to_bytes_be());
                ssh_mpint(&mut private, &k.e().to_bytes_be());
                ssh_mpint(&mut private, &k.d().to_bytes_be());
                let iqmp = k
                    .crt_coefficient()
                    .map(|c| c.to_bytes_be())
                    .unwrap_or_default();
                ssh_mpint(&mut private, &iqmp);
                ssh_mpint(&mut private, &k.primes()[0].to_bytes_be());
                ssh_mpint(&mut private, &k.primes()[1].to_bytes_be());
            }
            Key::P256(k) => {
                ssh_string(&mut private, b"nistp256");
                ssh_string(&mut private, &k.public_key().to_sec1_bytes());
                ssh_mpint(&mut private, &k.to_bytes());
            }
            Key::P384(k) => {
                ssh_string(&mut private, b"nistp384");
                ssh_string(&mut private, &k.public_key().to_sec1_bytes());
                ssh_mpint(&mut private, &k.to_bytes());
            }
            Key::Ed25519(seed, public) => {
                ssh_string(&mut private, public);
                let mut both = seed.to_vec();
                both.extend_from_slice(public);
                ssh_string(&mut private, &both);
            }
        }
        ssh_string(&mut private, b"");
        let mut pad = 1u8;
        while private.len() % 8 != 0 {
            private.push(pad);
            pad += 1;
        }
        let mut whole = b"openssh-key-v1\0".to_vec();
        ssh_string(&mut whole, b"none");
        ssh_string(&mut whole, b"none");
        ssh_string(&mut whole, b"");
        whole.extend_from_slice(&1u32.to_be_bytes());
        ssh_string(&mut whole, &self.ssh_public_blob());
        ssh_string(&mut whole, &private);
        let body = base64::engine::general_purpose::STANDARD.encode(&whole);
        let mut out = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
        for chunk in body.as_bytes().chunks(70) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END OPENSSH PRIVATE KEY-----\n");
        out
    }
}

#[derive(Clone, Copy)]
enum Curve {
    P256,
    P384,
}

/// An EC key in the PKCS#8 form ring reads: the inner `ECPrivateKey` with the public
/// key and without the (redundant) curve parameters.
fn ring_ec_pkcs8(scalar: &[u8], public: &[u8], curve: Curve) -> Vec<u8> {
    let ec_public_key_oid: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    der_seq(&[
        der(0x02, &[0]),
        der_seq(&[ec_public_key_oid.to_vec(), curve.oid().to_vec()]),
        der(0x04, &ec_private_key(scalar, public, None)),
    ])
}

impl Curve {
    fn oid(self) -> &'static [u8] {
        match self {
            Curve::P256 => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            Curve::P384 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        }
    }
}

/// SEC1's `ECPrivateKey` (RFC 5915), with the curve named when `curve` is given (as
/// OpenSSL and Go write the `EC PRIVATE KEY` PEM block).
fn ec_private_key(scalar: &[u8], public: &[u8], curve: Option<Curve>) -> Vec<u8> {
    let mut bit_string = vec![0x00];
    bit_string.extend_from_slice(public);
    let mut items = vec![der(0x02, &[1]), der(0x04, scalar)];
    if let Some(c) = curve {
        items.push(der(0xa0, c.oid()));
    }
    items.push(der(0xa1, &der(0x03, &bit_string)));
    der_seq(&items)
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

fn der_seq(items: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &items.concat())
}

fn pem_block(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

fn ssh_string(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

/// An SSH `mpint` from big-endian magnitude bytes.
fn ssh_mpint(out: &mut Vec<u8>, bytes: &[u8]) {
    let trimmed: &[u8] = {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        &bytes[start..]
    };
    let mut v = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(trimmed);
    ssh_string(out, &v);
}

fn str_arg<'v>(v: &'v Value, name: &str) -> Option<&'v str> {
    v.get(name).and_then(Value::as_str)
}

/// `tls_private_key`.
struct PrivateKey;

impl Draw for PrivateKey {
    fn name(&self) -> &'static str {
        "tls_private_key"
    }

    fn schema(&self) -> Schema {
        let secret = || AttrSchema::computed(Type::String).sensitive();
        let computed = || AttrSchema::computed(Type::String);
        Schema::new()
            .attr("algorithm", AttrSchema::required(Type::String).force_new())
            .attr("rsa_bits", AttrSchema::optional(Type::Number).force_new())
            .attr(
                "ecdsa_curve",
                AttrSchema::optional(Type::String).force_new(),
            )
            .attr("private_key_pem", secret())
            .attr("private_key_pem_pkcs8", secret())
            .attr("private_key_openssh", secret())
            .attr("public_key_pem", computed())
            .attr("public_key_openssh", computed())
            .attr("public_key_fingerprint_md5", computed())
            .attr("public_key_fingerprint_sha256", computed())
            .attr("id", computed())
    }

    fn draw(&self, out: &mut Value) -> Result<()> {
        let algorithm = str_arg(out, "algorithm").unwrap_or_default().to_string();
        let bits = out
            .get("rsa_bits")
            .and_then(Value::as_f64)
            .unwrap_or(2048.0) as usize;
        let curve = str_arg(out, "ecdsa_curve").unwrap_or("P224").to_string();
        let key = Key::generate(&algorithm, bits, &curve)?;
        let pair = key.key_pair()?;
        let blob = key.ssh_public_blob();
        let md5 = Md5::digest(&blob)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        let sha256 = format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(&blob))
        );
        let public_pem = pair.public_key_pem();
        set_attr(out, "private_key_pem", Value::String(key.private_pem()?));
        set_attr(
            out,
            "private_key_pem_pkcs8",
            Value::String(key.pkcs8_pem()?),
        );
        set_attr(
            out,
            "private_key_openssh",
            Value::String(key.private_openssh()),
        );
        set_attr(
            out,
            "public_key_openssh",
            Value::String(key.public_openssh()),
        );
        set_attr(out, "public_key_fingerprint_md5", Value::String(md5));
        set_attr(out, "public_key_fingerprint_sha256", Value::String(sha256));
        set_attr(
            out,
            "id",
            Value::String(hex::encode(sha1::Sha1::digest(public_pem.as_bytes()))),
        );
        set_attr(out, "public_key_pem", Value::String(public_pem));
        if algorithm == "RSA" && out.get("rsa_bits").is_some_and(Value::is_null) {
            set_attr(out, "rsa_bits", Value::from(bits as f64));
        }
        Ok(())
    }
}

/// The certificate types: what they are made from and what they produce.
enum Cert {
    SelfSigned,
    Request,
    LocallySigned,
}

fn subject_schema() -> BlockSchema {
    let mut s = Schema::new();
    for name in [
        "common_name",
        "organization",
        "organizational_unit",
        "street_address",
        "locality",
        "province",
        "country",
        "postal_code",
        "serial_number",
    ] {
        let ty = if name == "street_address" {
            Type::List(Box::new(Type::String))
        } else {
            Type::String
        };
        s = s.attr(name, AttrSchema::optional(ty));
    }
    BlockSchema {
        force_new: true,
        ..BlockSchema::list(s)
    }
}

fn strings(v: &Value, name: &str) -> Vec<String> {
    match v.get(name) {
        Some(Value::List(items)) | Some(Value::Set(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The subject and the alternative names of the configuration.
fn identity(v: &Value, params: &mut CertificateParams) -> Result<()> {
    let mut dn = rcgen::DistinguishedName::new();
    if let Some(subject) = v.get("subject").and_then(|s| match s {
        Value::List(items) => items.first(),
        other => Some(other),
    }) {
        for (name, ty) in [
            ("common_name", DnType::CommonName),
            ("organization", DnType::OrganizationName),
            ("organizational_unit", DnType::OrganizationalUnitName),
            ("locality", DnType::LocalityName),
            ("province", DnType::StateOrProvinceName),
            ("country", DnType::CountryName),
        ] {
            if let Some(text) = str_arg(subject, name) {
                dn.push(ty, text);
            }
        }
    }
    params.distinguished_name = dn;
    for name in strings(v, "dns_names") {
        let ia5 = name
            .clone()
            .try_into()
            .map_err(|_| config_error(format!("dns_names: {name:?} is not an ASCII name")))?;
        params.subject_alt_names.push(SanType::DnsName(ia5));
    }
    for ip in strings(v, "ip_addresses") {
        let addr = ip
            .parse()
            .map_err(|_| config_error(format!("ip_addresses: {ip:?} is not an IP address")))?;
        params.subject_alt_names.push(SanType::IpAddress(addr));
    }
    for uri in strings(v, "uris") {
        let ia5 = uri
            .clone()
            .try_into()
            .map_err(|_| config_error(format!("uris: {uri:?} is not an ASCII URI")))?;
        params.subject_alt_names.push(SanType::URI(ia5));
    }
    Ok(())
}

/// Validity, usages, CA flag and a random serial number.
fn validity(v: &Value, params: &mut CertificateParams) -> Result<(String, String, String)> {
    let hours = v
        .get("validity_period_hours")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    if hours < 0.0 {
        return Err(config_error("validity_period_hours must not be negative"));
    }
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(time::OffsetDateTime::now_utc());
    let end = now + time::Duration::seconds((hours * 3600.0) as i64);
    params.not_before = now;
    params.not_after = end;
    for usage in strings(v, "allowed_uses") {
        match usage.as_str() {
            "digital_signature" => params.key_usages.push(KeyUsagePurpose::DigitalSignature),
            "content_commitment" => params.key_usages.push(KeyUsagePurpose::ContentCommitment),
            "key_encipherment" => params.key_usages.push(KeyUsagePurpose::KeyEncipherment),
            "data_encipherment" => params.key_usages.push(KeyUsagePurpose::DataEncipherment),
            "key_agreement" => params.key_usages.push(KeyUsagePurpose::KeyAgreement),
            "cert_signing" => params.key_usages.push(KeyUsagePurpose::KeyCertSign),
            "crl_signing" => params.key_usages.push(KeyUsagePurpose::CrlSign),
            "encipher_only" => params.key_usages.push(KeyUsagePurpose::EncipherOnly),
            "decipher_only" => params.key_usages.push(KeyUsagePurpose::DecipherOnly),
            "any_extended" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::Any),
            "server_auth" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth),
            "client_auth" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::ClientAuth),
            "code_signing" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::CodeSigning),
            "email_protection" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::EmailProtection),
            "timestamping" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::TimeStamping),
            "ocsp_signing" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::OcspSigning),
            other => return Err(config_error(format!("allowed_uses: {other:?} is not a key usage the tls provider knows (digital_signature, key_encipherment, cert_signing, server_auth, client_auth, ...)"))),
        }
    }
    if v.get("is_ca_certificate").and_then(Value::as_bool) == Some(true) {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    let serial: [u8; 16] = rand::random();
    let mut serial = serial.to_vec();
    serial[0] &= 0x7f;
    let decimal = serial.iter().fold(String::from("0"), |acc, b| {
        crate::random::decimal_mul_add(&acc, 256, u32::from(*b))
    });
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok((decimal, rfc3339(now), rfc3339(end)))
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn rcgen_error(what: &str) -> impl Fn(rcgen::Error) -> ProviderError + '_ {
    move |e| config_error(format!("{what}: {e}"))
}

impl Draw for Cert {
    fn name(&self) -> &'static str {
        match self {
            Cert::SelfSigned => "tls_self_signed_cert",
            Cert::Request => "tls_cert_request",
            Cert::LocallySigned => "tls_locally_signed_cert",
        }
    }

    fn schema(&self) -> Schema {
        let arg = |ty: Type| AttrSchema::optional(ty).force_new();
        let strings = || arg(Type::List(Box::new(Type::String)));
        let computed = || AttrSchema::computed(Type::String);
        let signed = |s: Schema| {
            s.attr(
                "validity_period_hours",
                AttrSchema::required(Type::Number).force_new(),
            )
            .attr(
                "allowed_uses",
                AttrSchema::required(Type::List(Box::new(Type::String))).force_new(),
            )
            .attr("is_ca_certificate", arg(Type::Bool))
            .attr("early_renewal_hours", arg(Type::Number))
            .attr("set_subject_key_id", arg(Type::Bool))
            .attr("cert_pem", computed())
            .attr("validity_start_time", computed())
            .attr("validity_end_time", computed())
            .attr("ready_for_renewal", AttrSchema::computed(Type::Bool))
        };
        let named = |s: Schema| {
            s.attr(
                "private_key_pem",
                AttrSchema::required(Type::String).sensitive().force_new(),
            )
            .attr("dns_names", strings())
            .attr("ip_addresses", strings())
            .attr("uris", strings())
            .attr("key_algorithm", computed())
            .block("subject", subject_schema())
        };
        let base = Schema::new().attr("id", computed());
        match self {
            Cert::SelfSigned => signed(named(base)).attr("set_authority_key_id", arg(Type::Bool)),
            Cert::Request => named(base).attr("cert_request_pem", computed()),
            Cert::LocallySigned => signed(base)
                .attr(
                    "cert_request_pem",
                    AttrSchema::required(Type::String).force_new(),
                )
                .attr(
                    "ca_private_key_pem",
                    AttrSchema::required(Type::String).sensitive().force_new(),
                )
                .attr(
                    "ca_cert_pem",
                    AttrSchema::required(Type::String).force_new(),
                )
                .attr("ca_key_algorithm", computed())
                .attr("set_authority_key_id", arg(Type::Bool)),
        }
    }

    fn draw(&self, out: &mut Value) -> Result<()> {
        match self {
            Cert::Request => {
                let key = Key::from_pem(
                    str_arg(out, "private_key_pem").unwrap_or_default(),
                    "private_key_pem",
                )?;
                let mut params = CertificateParams::default();
                identity(out, &mut params)?;
                let csr = params
                    .serialize_request(&key.key_pair()?)
                    .and_then(|r| r.pem())
                    .map_err(rcgen_error("making the certificate request"))?;
                set_attr(
                    out,
                    "id",
                    Value::String(hex::encode(sha1::Sha1::digest(csr.as_bytes()))),
                );
                set_attr(out, "cert_request_pem", Value::String(csr));
                set_attr(out, "key_algorithm", Value::from(key.algorithm()));
            }
            Cert::SelfSigned => {
                let key = Key::from_pem(
                    str_arg(out, "private_key_pem").unwrap_or_default(),
                    "private_key_pem",
                )?;
                let mut params = CertificateParams::default();
                identity(out, &mut params)?;
                let (serial, start, end) = validity(out, &mut params)?;
                let cert = params
                    .self_signed(&key.key_pair()?)
                    .map_err(rcgen_error("making the certificate"))?;
                set_attr(out, "key_algorithm", Value::from(key.algorithm()));
                finish(out, cert.pem(), serial, start, end);
            }
            Cert::LocallySigned => {
                let ca_key = Key::from_pem(
                    str_arg(out, "ca_private_key_pem").unwrap_or_default(),
                    "ca_private_key_pem",
                )?;
                let ca_pair = ca_key.key_pair()?;
                let issuer = Issuer::from_ca_cert_pem(
                    str_arg(out, "ca_cert_pem").unwrap_or_default(),
                    &ca_pair,
                )
                .map_err(rcgen_error("ca_cert_pem is not a PEM certificate"))?;
                let mut request = CertificateSigningRequestParams::from_pem(
                    str_arg(out, "cert_request_pem").unwrap_or_default(),
                )
                .map_err(rcgen_error(
                    "cert_request_pem is not a valid PEM certificate request",
                ))?;
                let (serial, start, end) = validity(out, &mut request.params)?;
                request.params.use_authority_key_identifier_extension =
                    out.get("set_authority_key_id").and_then(Value::as_bool) == Some(true);
                let cert = request
                    .signed_by(&issuer)
                    .map_err(rcgen_error("signing the certificate"))?;
                set_attr(out, "ca_key_algorithm", Value::from(ca_key.algorithm()));
                finish(out, cert.pem(), serial, start, end);
            }
        }
        Ok(())
    }
}

fn finish(out: &mut Value, pem: String, serial: String, start: String, end: String) {
    set_attr(out, "cert_pem", Value::String(pem));
    set_attr(out, "id", Value::String(serial));
    set_attr(out, "validity_start_time", Value::String(start));
    set_attr(out, "validity_end_time", Value::String(end));
    set_attr(out, "ready_for_renewal", Value::Bool(false));
}
