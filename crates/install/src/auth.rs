//! Package authentication, as Terraform's `getproviders` package does it: what a source
//! vouches for about a package ([`PackageAuthentication`], checked once the archive is
//! on disk) and what the check established ([`Authentication`], which `terrane init`
//! shows as Terraform does: "(signed by HashiCorp)", "(self-signed, key ID ...)",
//! "(verified checksum)", "(unauthenticated)").
//!
//! A registry's package is authenticated by its signed checksums:
//!
//! 1. the registry's `shasum` for the package is the one the `SHA256SUMS` document lists
//!    for its `filename`;
//! 2. the downloaded archive's SHA-256 is that `shasum`;
//! 3. the document's detached OpenPGP signature verifies with one of the signing keys
//!    the registry gave. A signature that verifies with HashiCorp's own key means an
//!    official provider; one by a key that carries a trust signature by HashiCorp's
//!    partners key, a partner's; any other a community provider's ("self-signed").
//!
//! Only then does the lock file record every `zh:` the document lists (the packages of
//! the other platforms too), as Terraform does: a signature vouches for all of them.
//!
//! A network mirror's package must match one of the hashes its index lists ("verified
//! checksum"); that is not a signature, so only the package's own `h1:` is locked.

use std::fmt;
use std::io::{BufRead, BufReader, Cursor, Read as _};
use std::path::Path;
use std::sync::OnceLock;

use pgp::composed::{Deserializable as _, DetachedSignature, SignedPublicKey};
use pgp::packet::{Signature, SignatureType};
use pgp::types::KeyDetails as _;
use sha2::{Digest as _, Sha256};

use crate::hash::{self, Hash, HashScheme};
use crate::install::matches_any;
use crate::source::PackageLocation;

/// HashiCorp's key, as Terraform embeds it: a registry signature by it marks an
/// official provider.
const HASHICORP_KEY: &str = include_str!("keys/hashicorp.asc");
/// The key of HashiCorp's trust signatures on partners' keys.
const HASHICORP_PARTNERS_KEY: &str = include_str!("keys/hashicorp-partners.asc");

/// A signing key as a registry lists it (`signing_keys.gpg_public_keys[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningKey {
    /// The ASCII-armored public key.
    pub ascii_armor: String,
    /// An ASCII-armored signature of the key by HashiCorp's partners key, or empty.
    pub trust_signature: String,
}

/// A registry's `SHA256SUMS` for a release, its signature, and what the registry said
/// about the one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedChecksums {
    /// The package's file name, as `SHA256SUMS` lists it.
    pub filename: String,
    /// The package's SHA-256, as the registry's download response gives it (`shasum`).
    pub sha256: [u8; 32],
    /// The `SHA256SUMS` document.
    pub document: Vec<u8>,
    /// Its detached signature (binary or armored).
    pub signature: Vec<u8>,
    /// The keys the registry says may have signed it.
    pub keys: Vec<SigningKey>,
    /// Where the document came from, for messages.
    pub document_url: String,
    /// Where the signature came from, for messages.
    pub signature_url: String,
}

/// What a source vouches for about a package, checked against the archive once it is on
/// disk (Terraform's `PackageAuthentication`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PackageAuthentication {
    /// Nothing: a filesystem mirror, or a network mirror that lists no hashes.
    #[default]
    None,
    /// A network mirror's hashes: the package must match one of those terrane can check.
    Hashes(Vec<Hash>),
    /// A registry's signed checksums.
    SignedChecksums(Box<SignedChecksums>),
}

/// What authenticating a package established (Terraform's `PackageAuthenticationResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// Nothing was checked: a mirror's package.
    Unauthenticated,
    /// The package matched a hash its source listed (a network mirror).
    VerifiedChecksum,
    /// The checksums were signed with HashiCorp's key.
    Official { key_id: String },
    /// The checksums were signed with a key HashiCorp's partners key vouches for.
    Partner { key_id: String },
    /// The checksums were signed with a key only the registry vouches for.
    Community { key_id: String },
}

impl Authentication {
    /// Whether a signature vouched for the package (Terraform's `SignedByAnyParty`): then
    /// the lock file records every hash the signed document lists.
    pub fn signed_by_any_party(&self) -> bool {
        matches!(
            self,
            Authentication::Official { .. }
                | Authentication::Partner { .. }
                | Authentication::Community { .. }
        )
    }

    /// The signing key's ID (16 upper-case hex digits), for a signed package.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Authentication::Official { key_id }
            | Authentication::Partner { key_id }
            | Authentication::Community { key_id } => Some(key_id),
            _ => None,
        }
    }
}

/// What Terraform prints in parentheses after "Installed NAME vVERSION": the key ID
/// only for a package signed by someone other than HashiCorp.
impl fmt::Display for Authentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authentication::Unauthenticated => f.write_str("unauthenticated"),
            Authentication::VerifiedChecksum => f.write_str("verified checksum"),
            Authentication::Official { .. } => f.write_str("signed by HashiCorp"),
            Authentication::Partner { key_id } => {
                write!(f, "signed by a HashiCorp partner, key ID {key_id}")
            }
            Authentication::Community { key_id } => write!(f, "self-signed, key ID {key_id}"),
        }
    }
}

/// Why a package failed authentication; the message says what did not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

impl PackageAuthentication {
    /// Checks the package at `location` (an archive, for every check but `None`).
    pub fn authenticate(&self, location: &PackageLocation) -> Result<Authentication, AuthError> {
        match self {
            PackageAuthentication::None => Ok(Authentication::Unauthenticated),
            PackageAuthentication::Hashes(hashes) => check_hashes(location, hashes),
            PackageAuthentication::SignedChecksums(signed) => {
                let PackageLocation::LocalArchive(archive) = location else {
                    return Err(AuthError(format!(
                        "cannot check archive hash for non-archive location {location}"
                    )));
                };
                signed.check_listed()?;
                signed.check_archive(archive)?;
                signed.check_signature()
            }
        }
    }

    /// The hashes a successful authentication vouches for, to lock when it was a
    /// signature (Terraform's `AcceptableHashes` of the strongest check): for signed
    /// checksums every `zh:` of the document (the archive's own if the document does
    /// not look like a checksums file); for a mirror's hashes, all of them.
    pub fn acceptable_hashes(&self) -> Vec<Hash> {
        match self {
            PackageAuthentication::None => Vec::new(),
            PackageAuthentication::Hashes(hashes) => hashes.clone(),
            PackageAuthentication::SignedChecksums(signed) => {
                let listed = sums_document_hashes(&signed.document);
                if listed.is_empty() {
                    vec![Hash::zip_from_digest(&signed.sha256)]
                } else {
                    listed
                }
            }
        }
    }
}

fn check_hashes(location: &PackageLocation, hashes: &[Hash]) -> Result<Authentication, AuthError> {
    let required: Vec<Hash> = hashes
        .iter()
        .filter(|h| h.scheme() != HashScheme::Other)
        .cloned()
        .collect();
    if required.is_empty() {
        return Err(AuthError("this version of terrane does not support any of the checksum formats given for this provider".to_string()));
    }
    let matched = matches_any(location, &required)
        .map_err(|e| AuthError(format!("failed to verify provider package checksums: {e}")))?;
    if matched {
        return Ok(Authentication::VerifiedChecksum);
    }
    let actual = match location {
        PackageLocation::LocalArchive(archive) => hash::hash_zip(archive).ok(),
        PackageLocation::LocalDir(dir) => hash::hash_dir(dir).ok(),
        PackageLocation::Remote(_) => None,
    }
    .map(|h| format!(" (it has {h})"))
    .unwrap_or_default();
    if let [only] = required.as_slice() {
        return Err(AuthError(format!(
            "provider package doesn't match the expected checksum \"{only}\"{actual}"
        )));
    }
    Err(AuthError(format!(
        "provider package doesn't match any of the expected checksums {}{actual}",
        required
            .iter()
            .map(Hash::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// Every line's hash of a `SHA256SUMS` document as `zh:`, or nothing when a line does
/// not look like `HEX  NAME` (Terraform's `signatureAuthentication.AcceptableHashes`).
fn sums_document_hashes(document: &[u8]) -> Vec<Hash> {
    let mut hashes = Vec::new();
    for line in document.split(|b| *b == b'\n') {
        let fields: Vec<&[u8]> = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty())
            .collect();
        match fields.as_slice() {
            [] => continue,
            [_] => return Vec::new(),
            [hex_sum, ..] => match decode_sha256(hex_sum) {
                Some(digest) => hashes.push(Hash::zip_from_digest(&digest)),
                None => return Vec::new(),
            },
        }
    }
    hashes
}

fn decode_sha256(hex_sum: &[u8]) -> Option<[u8; 32]> {
    let mut digest = [0u8; 32];
    if hex_sum.len() != 64 {
        return None;
    }
    hex::decode_to_slice(hex_sum, &mut digest).ok()?;
    Some(digest)
}

impl SignedChecksums {
    /// The registry's `shasum` is the one the document lists for the file.
    fn check_listed(&self) -> Result<(), AuthError> {
        let listed = self.document.split(|b| *b == b'\n').find_map(|line| {
            let mut fields = line
                .split(|b| b.is_ascii_whitespace())
                .filter(|f| !f.is_empty());
            let sum = fields.next()?;
            (fields.next()? == self.filename.as_bytes()).then_some(sum)
        });
        let Some(listed) = listed else {
            return Err(AuthError(format!(
                "the checksum list {} has no SHA-256 hash for {:?}",
                self.document_url, self.filename
            )));
        };
        let Some(digest) = decode_sha256(listed) else {
            return Err(AuthError(format!(
                "the checksum list {} has an invalid SHA-256 hash {:?} for {:?}",
                self.document_url,
                String::from_utf8_lossy(listed),
                self.filename
            )));
        };
        if digest != self.sha256 {
            return Err(AuthError(format!(
                "the checksum list {} has SHA-256 hash {} for {:?}, but the registry said {}",
                self.document_url,
                hex::encode(digest),
                self.filename,
                hex::encode(self.sha256)
            )));
        }
        Ok(())
    }

    /// The archive is the one the registry described.
    fn check_archive(&self, archive: &Path) -> Result<(), AuthError> {
        let got = sha256_file(archive).map_err(|e| {
            AuthError(format!(
                "failed to compute checksum for {}: {e}",
                archive.display()
            ))
        })?;
        if got != self.sha256 {
            return Err(AuthError(format!(
                "archive has incorrect checksum {} (expected {}): the downloaded package is not the one {} lists",
                Hash::zip_from_digest(&got),
                Hash::zip_from_digest(&self.sha256),
                self.document_url
            )));
        }
        Ok(())
    }

    /// The document's signature, by one of the registry's keys; who that key belongs to.
    fn check_signature(&self) -> Result<Authentication, AuthError> {
        let signature = parse_signature(&self.signature).map_err(|e| {
            AuthError(format!(
                "error checking signature: the signature at {} cannot be read: {e}",
                self.signature_url
            ))
        })?;
        let (signing_key, key_id) = self.find_signing_key(&signature)?;
        if verify_with(hashicorp_keys(), &signature, &self.document).is_ok() {
            return Ok(Authentication::Official { key_id });
        }
        if !signing_key.trust_signature.is_empty() {
            let key_bytes = dearmor(&signing_key.ascii_armor)
                .map_err(|e| AuthError(format!("error decoding signing key: {e}")))?;
            let trust = parse_signature(signing_key.trust_signature.as_bytes())
                .map_err(|e| AuthError(format!("error decoding trust signature: {e}")))?;
            verify_with(partners_keys(), &trust, &key_bytes)
                .map_err(|e| AuthError(format!("error verifying trust signature: {e}")))?;
            return Ok(Authentication::Partner { key_id });
        }
        Ok(Authentication::Community { key_id })
    }

    /// The first key that issued the signature (Terraform's `findSigningKey`): a key
    /// that cannot be read, or that issued the signature but does not verify it, fails
    /// the check; a key that did not issue it is skipped.
    fn find_signing_key(&self, signature: &Signature) -> Result<(&SigningKey, String), AuthError> {
        for key in &self.keys {
            let keyring = parse_keys(&key.ascii_armor)
                .map_err(|e| AuthError(format!("error decoding signing key: {e}")))?;
            match verify_with(&keyring, signature, &self.document) {
                Ok(key_id) => return Ok((key, key_id)),
                Err(VerifyError::UnknownIssuer) => continue,
                Err(error) => {
                    return Err(AuthError(format!(
                        "error checking signature: the signature {} by key {} does not match the checksums {} ({error}): the checksums or the signature were altered, or the registry lists the wrong key",
                        self.signature_url,
                        signature
                            .issuer_key_id()
                            .first()
                            .map(hex::encode_upper)
                            .unwrap_or_else(|| "n/a".to_string()),
                        self.document_url
                    )))
                }
            }
        }
        Err(AuthError(format!(
            "authentication signature from unknown issuer: none of the {} signing keys the registry lists issued the signature {}",
            self.keys.len(),
            self.signature_url
        )))
    }
}

fn sha256_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = BufReader::new(std::fs::File::open(path)?);
    let mut hasher = Sha256::new();
    loop {
        let buf = file.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        hasher.update(buf);
        let n = buf.len();
        file.consume(n);
    }
    Ok(hasher.finalize().into())
}

/// Why a signature did not verify with a keyring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum VerifyError {
    #[error("signature made by unknown entity")]
    UnknownIssuer,
    #[error("{0}")]
    Invalid(String),
}

/// Verifies `signature` over `data` with the key among `keyring` that issued it (the
/// primary key, or a signing subkey bound to it), returning the primary key's ID as
/// Terraform prints it.
fn verify_with(
    keyring: &[SignedPublicKey],
    signature: &Signature,
    data: &[u8],
) -> Result<String, VerifyError> {
    if !matches!(
        signature.typ(),
        Some(SignatureType::Binary | SignatureType::Text)
    ) {
        return Err(VerifyError::Invalid(format!(
            "unsupported signature type {:?} for a detached signature",
            signature.typ()
        )));
    }
    for key in keyring {
        let key_id = hex::encode_upper(key.primary_key.legacy_key_id());
        if issued_by(signature, &key.primary_key) {
            return signature
                .verify(&key.primary_key, Cursor::new(data))
                .map(|()| key_id)
                .map_err(invalid);
        }
        for subkey in &key.public_subkeys {
            if issued_by(signature, &subkey.key) && subkey.verify_bindings(&key.primary_key).is_ok()
            {
                return signature
                    .verify(&subkey.key, Cursor::new(data))
                    .map(|()| key_id)
                    .map_err(invalid);
            }
        }
    }
    Err(VerifyError::UnknownIssuer)
}

/// rPGP's verification failure, on one line ("invalid signature" when it is only a
/// failed assertion about the digest).
fn invalid(error: pgp::errors::Error) -> VerifyError {
    let text = error.to_string();
    let line = text.lines().next().unwrap_or("").trim().to_string();
    VerifyError::Invalid(if line.is_empty() || line.starts_with("assertion failed") {
        "invalid signature: the signed digest does not match".to_string()
    } else {
        format!("invalid signature: {line}")
    })
}

/// Whether `signature` names `key` as its issuer, by key ID or fingerprint.
fn issued_by(signature: &Signature, key: &impl pgp::types::KeyDetails) -> bool {
    let id = key.legacy_key_id();
    let fingerprint = key.fingerprint();
    signature.issuer_key_id().iter().any(|i| **i == id)
        || signature
            .issuer_fingerprint()
            .iter()
            .any(|f| **f == fingerprint)
}

/// A detached signature, binary (as registries serve `SHA256SUMS.sig`) or armored.
fn parse_signature(bytes: &[u8]) -> Result<Signature, String> {
    let (signature, _) =
        DetachedSignature::from_reader_single(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    Ok(signature.signature)
}

/// Every public key in every armored block of `text`.
fn parse_keys(text: &str) -> Result<Vec<SignedPublicKey>, String> {
    let mut keys = Vec::new();
    for block in armor_blocks(text) {
        let (parsed, _) =
            SignedPublicKey::from_armor_many(Cursor::new(block)).map_err(|e| e.to_string())?;
        for key in parsed {
            keys.push(key.map_err(|e| e.to_string())?);
        }
    }
    if keys.is_empty() {
        return Err("no armored public key found".to_string());
    }
    Ok(keys)
}

/// The armored blocks of a text that may hold several.
fn armor_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let from = &rest[start..];
        let Some(end_marker) = from.find("-----END ") else {
            blocks.push(from);
            break;
        };
        let end = from[end_marker..]
            .find('\n')
            .map(|n| end_marker + n + 1)
            .unwrap_or(from.len());
        blocks.push(&from[..end]);
        rest = &from[end..];
    }
    blocks
}

/// The binary packets of an armored block.
fn dearmor(text: &str) -> Result<Vec<u8>, String> {
    let block = armor_blocks(text)
        .into_iter()
        .next()
        .ok_or("no armored data found")?;
    let mut dearmor = pgp::armor::Dearmor::new(BufReader::new(Cursor::new(block.as_bytes())));
    let mut bytes = Vec::new();
    dearmor.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes)
}

fn hashicorp_keys() -> &'static [SignedPublicKey] {
    static KEYS: OnceLock<Vec<SignedPublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| parse_keys(HASHICORP_KEY).expect("HashiCorp's embedded public key parses"))
}

fn partners_keys() -> &'static [SignedPublicKey] {
    static KEYS: OnceLock<Vec<SignedPublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        parse_keys(HASHICORP_PARTNERS_KEY).expect("HashiCorp's embedded partners key parses")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_keys_parse_with_terraforms_key_ids() {
        let ids: Vec<String> = hashicorp_keys()
            .iter()
            .map(|k| hex::encode_upper(k.primary_key.legacy_key_id()))
            .collect();
        assert!(ids.iter().all(|id| id == "34365D9472D7468F"), "{ids:?}");
        assert_eq!(partners_keys().len(), 1);
    }

    #[test]
    fn every_line_of_a_sums_document_is_an_acceptable_hash() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let document = format!("{a}  terraform-provider-x_1.0.0_linux_amd64.zip\n{b}  terraform-provider-x_1.0.0_darwin_arm64.zip\n");
        assert_eq!(
            sums_document_hashes(document.as_bytes()),
            [
                Hash::parse(&format!("zh:{a}")).unwrap(),
                Hash::parse(&format!("zh:{b}")).unwrap()
            ]
        );
        assert!(sums_document_hashes(b"not a sums file\n").is_empty());
        assert!(sums_document_hashes(b"abc  x.zip\n").is_empty());
    }

    #[test]
    fn results_read_as_terraform_prints_them() {
        let key_id = "ABCDEF0123456789".to_string();
        assert_eq!(
            Authentication::Official {
                key_id: key_id.clone()
            }
            .to_string(),
            "signed by HashiCorp"
        );
        assert_eq!(
            Authentication::Partner {
                key_id: key_id.clone()
            }
            .to_string(),
            "signed by a HashiCorp partner, key ID ABCDEF0123456789"
        );
        assert_eq!(
            Authentication::Community { key_id }.to_string(),
            "self-signed, key ID ABCDEF0123456789"
        );
        assert_eq!(
            Authentication::VerifiedChecksum.to_string(),
            "verified checksum"
        );
        assert!(!Authentication::VerifiedChecksum.signed_by_any_party());
    }

    #[test]
    fn armored_blocks_are_split() {
        let text = "-----BEGIN A-----\nx\n-----END A-----\n-----BEGIN B-----\ny\n-----END B-----";
        assert_eq!(armor_blocks(text).len(), 2);
    }
}
