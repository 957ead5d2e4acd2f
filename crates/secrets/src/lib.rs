//! Encryption of values at rest: terrane's secret store and the sensitive values in
//! state and plan files.
//!
//! Values are sealed with XChaCha20-Poly1305 under a 256-bit *data key*; a sealed value
//! is a string `tsv1:<key id>:<base64 of nonce and ciphertext>`, bound to its context
//! (an attribute path, a secret's name and version) as associated data, so a sealed
//! value moved to another place fails to open. Data keys are stored next to what they
//! protect, each *wrapped* by a [`KeyProvider`]: an age identity ([`AgeProvider`]), a
//! passphrase through argon2id ([`PassphraseProvider`]), or a cloud KMS implemented
//! outside this crate. A [`Keyring`] is the set of unwrapped data keys of a workspace;
//! new values are sealed with its active key, and older keys stay for older values.
//!
//! **Invariant:** nothing here logs, formats or returns a plaintext except `open`'s
//! result; errors name keys and contexts, never values.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The prefix of every sealed value.
pub const SEALED_PREFIX: &str = "tsv1:";

const NONCE: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// No key, or the wrong one: the message says which key and how to supply it.
    #[error("{0}")]
    Key(String),
    /// The authentication tag did not match.
    #[error(
        "{0} failed its integrity check: it was altered, or it was encrypted under another key"
    )]
    Tampered(String),
    #[error("{0} is not an encrypted value terrane can read")]
    Malformed(String),
}

/// A 256-bit data key with its ID.
pub struct DataKey {
    pub id: String,
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({})", self.id)
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

impl DataKey {
    pub fn generate() -> DataKey {
        let id: [u8; 6] = random();
        DataKey {
            id: id.iter().map(|b| format!("{b:02x}")).collect(),
            key: Zeroizing::new(random()),
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.key.as_ref().into())
    }

    /// Seals `plaintext` bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let body = self.seal_bytes(plaintext, context);
        format!("{SEALED_PREFIX}{}:{}", self.id, B64.encode(body))
    }

    /// The nonce and ciphertext, without the key ID and text encoding.
    fn seal_bytes(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let nonce: [u8; NONCE] = random();
        let ct = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut body = Vec::with_capacity(NONCE + ct.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&ct);
        body
    }

    fn open(&self, body: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        if body.len() < NONCE + 16 {
            return Err(CryptoError::Malformed(format!("the value at {context}")));
        }
        let (nonce, ct) = body.split_at(NONCE);
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Tampered(format!("the encrypted value at {context}")))
    }
}

/// A data key as stored: wrapped by a key provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WrappedKey {
    pub id: String,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// Which provider wrapped it: [`KeyProvider::kind`].
    pub provider: String,
    pub wrapped: String,
    /// New values are sealed with the active key; there is one.
    pub active: bool,
}

/// Wraps and unwraps data keys: the key *encryption* key.
pub trait KeyProvider: Send + Sync {
    /// Stored with each wrapped key to find the provider that can unwrap it, e.g.
    /// `age:age1…` or `passphrase`.
    fn kind(&self) -> String;
    /// How to name it in messages.
    fn describe(&self) -> String;
    fn wrap(&self, key: &[u8; 32]) -> Result<String, CryptoError>;
    fn unwrap(&self, wrapped: &str) -> Result<Zeroizing<[u8; 32]>, CryptoError>;
}

/// A 32-byte key from an unwrapped buffer (`what` names it in the error).
pub fn key_bytes(v: Vec<u8>, what: &str) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let v = Zeroizing::new(v);
    let arr: [u8; 32] = v
        .as_slice()
        .try_into()
        .map_err(|_| CryptoError::Malformed(what.to_string()))?;
    Ok(Zeroizing::new(arr))
}

/// An age X25519 identity, read from an identity file (`AGE-SECRET-KEY-1…` lines, as
/// `age-keygen` writes them).
pub struct AgeProvider {
    identity: age::x25519::Identity,
    path: String,
}

impl AgeProvider {
    /// Reads the first identity in the file at `path`. With `create`, a missing file
    /// is generated (mode 0600) first.
    pub fn load(path: &std::path::Path, create: bool) -> Result<AgeProvider, CryptoError> {
        use age::secrecy::ExposeSecret;
        let shown = path.display().to_string();
        if create && !path.exists() {
            let id = age::x25519::Identity::generate();
            let text = format!(
                "# terrane workspace key: it decrypts this workspace's secrets and sensitive state values.\n# Keep it out of version control and back it up apart from the state.\n# public key: {}\n{}\n",
                id.to_public(),
                id.to_string().expose_secret()
            );
            write_private(path, text.as_bytes()).map_err(|e| {
                CryptoError::Key(format!("cannot create the key file {shown}: {e}"))
            })?;
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            CryptoError::Key(format!(
                "cannot read the age identity file {shown}: {e}. It holds the key that decrypts this workspace's secrets; restore it from your backup, or point `identity_file` at it"
            ))
        })?;
        let text = Zeroizing::new(text);
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .ok_or_else(|| {
                CryptoError::Key(format!(
                    "{shown} holds no age identity (a line starting AGE-SECRET-KEY-1)"
                ))
            })?;
        let identity = line
            .parse::<age::x25519::Identity>()
            .map_err(|e| CryptoError::Key(format!("{shown}: invalid age identity: {e}")))?;
        Ok(AgeProvider {
            identity,
            path: shown,
        })
    }
}

/// Writes a file readable only by its owner, atomically (a temporary file, synced, then
/// renamed over the target), creating its directory. Used for key files and for
/// anything else that may hold secrets, such as saved plans.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("terrane-tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

impl KeyProvider for AgeProvider {
    fn kind(&self) -> String {
        format!("age:{}", self.identity.to_public())
    }

    fn describe(&self) -> String {
        format!("the age identity in {}", self.path)
    }

    fn wrap(&self, key: &[u8; 32]) -> Result<String, CryptoError> {
        let out = age::encrypt(&self.identity.to_public(), key)
            .map_err(|e| CryptoError::Key(format!("age encryption failed: {e}")))?;
        Ok(B64.encode(out))
    }

    fn unwrap(&self, wrapped: &str) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let raw = B64
            .decode(wrapped)
            .map_err(|_| CryptoError::Malformed("a wrapped data key".into()))?;
        let key = age::decrypt(&self.identity, &raw).map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => CryptoError::Key(format!(
                "{} does not match the key the data key was wrapped with",
                self.describe()
            )),
            _ => CryptoError::Tampered("a wrapped data key".into()),
        })?;
        key_bytes(key, "a wrapped data key")
    }
}

/// A passphrase, stretched with argon2id (19 MiB, 2 passes: OWASP's recommended
/// minimum) into the key that wraps data keys.
pub struct PassphraseProvider {
    passphrase: Zeroizing<String>,
    source: String,
}

const ARGON_M: u32 = 19 * 1024;
const ARGON_T: u32 = 2;
const ARGON_P: u32 = 1;

impl PassphraseProvider {
    /// `source` says where the passphrase came from, for messages (e.g. "TERRANE_PASSPHRASE").
    pub fn new(passphrase: String, source: &str) -> Result<PassphraseProvider, CryptoError> {
        if passphrase.is_empty() {
            return Err(CryptoError::Key(format!(
                "the passphrase from {source} is empty"
            )));
        }
        Ok(PassphraseProvider {
            passphrase: Zeroizing::new(passphrase),
            source: source.to_string(),
        })
    }

    fn derive(
        &self,
        salt: &[u8],
        m: u32,
        t: u32,
        p: u32,
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let params = argon2::Params::new(m, t, p, Some(32))
            .map_err(|e| CryptoError::Malformed(format!("argon2 parameters ({e})")))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(self.passphrase.as_bytes(), salt, out.as_mut())
            .map_err(|e| CryptoError::Key(format!("argon2id failed: {e}")))?;
        Ok(out)
    }
}

impl KeyProvider for PassphraseProvider {
    fn kind(&self) -> String {
        "passphrase".into()
    }

    fn describe(&self) -> String {
        format!("the passphrase from {}", self.source)
    }

    fn wrap(&self, key: &[u8; 32]) -> Result<String, CryptoError> {
        let salt: [u8; 16] = random();
        let kek = DataKey {
            id: String::new(),
            key: self.derive(&salt, ARGON_M, ARGON_T, ARGON_P)?,
        };
        let body = kek.seal_bytes(key, "data key");
        Ok(format!(
            "argon2id$m={ARGON_M},t={ARGON_T},p={ARGON_P}${}${}",
            B64.encode(salt),
            B64.encode(body)
        ))
    }

    fn unwrap(&self, wrapped: &str) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let bad = || CryptoError::Malformed("a passphrase-wrapped data key".into());
        let parts: Vec<&str> = wrapped.split('$').collect();
        let [alg, params, salt, body] = parts.as_slice() else {
            return Err(bad());
        };
        if *alg != "argon2id" {
            return Err(bad());
        }
        let mut mtp = [0u32; 3];
        for (slot, kv) in mtp.iter_mut().zip(params.split(',')) {
            *slot = kv
                .split_once('=')
                .and_then(|(_, v)| v.parse().ok())
                .ok_or_else(bad)?;
        }
        let salt = B64.decode(salt).map_err(|_| bad())?;
        let body = B64.decode(body).map_err(|_| bad())?;
        let kek = DataKey {
            id: String::new(),
            key: self.derive(&salt, mtp[0], mtp[1], mtp[2])?,
        };
        let key = kek.open(&body, "data key").map_err(|_| {
            CryptoError::Key(format!(
                "wrong passphrase: {} does not unlock this workspace's data key",
                self.describe()
            ))
        })?;
        key_bytes(key, "a passphrase-wrapped data key")
    }
}

/// The unwrapped data keys of a workspace.
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<DataKey>,
    active: usize,
}

impl Keyring {
    /// A new keyring with one fresh data key, and that key wrapped by `provider`.
    pub fn create(
        provider: &dyn KeyProvider,
        now: u64,
    ) -> Result<(Keyring, WrappedKey), CryptoError> {
        let key = DataKey::generate();
        let wrapped = WrappedKey {
            id: key.id.clone(),
            created_at: now,
            provider: provider.kind(),
            wrapped: provider.wrap(&key.key)?,
            active: true,
        };
        Ok((
            Keyring {
                keys: vec![key],
                active: 0,
            },
            wrapped,
        ))
    }

    /// Unwraps every stored key with the first of `providers` of its kind (the
    /// configured provider, then fallbacks).
    pub fn unlock(
        stored: &[WrappedKey],
        providers: &[&dyn KeyProvider],
    ) -> Result<Keyring, CryptoError> {
        let mut keys = Vec::new();
        let mut active = None;
        for w in stored {
            let candidates: Vec<_> = providers
                .iter()
                .filter(|p| p.kind() == w.provider)
                .collect();
            if candidates.is_empty() {
                let have: Vec<String> = providers.iter().map(|p| p.describe()).collect();
                return Err(CryptoError::Key(format!(
                    "data key {} is wrapped by {}, but the configured key provider is {}. Configure that provider (or add it as the fallback while you run `terrane secret rotate-key`)",
                    w.id,
                    describe_kind(&w.provider),
                    if have.is_empty() { "none".to_string() } else { have.join(", ") }
                )));
            }
            let mut last = None;
            let mut key = None;
            for p in candidates {
                match p.unwrap(&w.wrapped) {
                    Ok(k) => {
                        key = Some(k);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            let Some(key) = key else {
                return Err(last.unwrap_or_else(|| CryptoError::Key("no key".into())));
            };
            if w.active {
                active = Some(keys.len());
            }
            keys.push(DataKey {
                id: w.id.clone(),
                key,
            });
        }
        let active = active
            .or(keys.len().checked_sub(1))
            .ok_or_else(|| CryptoError::Key("the keyring is empty".into()))?;
        Ok(Keyring { keys, active })
    }

    /// A keyring of one key kept in a file of its own (`<id> <hex>`, mode 0600),
    /// created when missing: for what a process must read back unattended, such as
    /// the agent's runtime file, which holds services' environments.
    pub fn from_key_file(path: &std::path::Path) -> Result<Keyring, CryptoError> {
        let shown = path.display().to_string();
        if !path.exists() {
            let k = DataKey::generate();
            let hex: String = k.key.iter().map(|b| format!("{b:02x}")).collect();
            write_private(path, format!("{} {hex}\n", k.id).as_bytes()).map_err(|e| {
                CryptoError::Key(format!("cannot create the key file {shown}: {e}"))
            })?;
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| CryptoError::Key(format!("cannot read the key file {shown}: {e}")))?,
        );
        let bad = || CryptoError::Key(format!("{shown} is not a terrane key file"));
        let (id, hex) = text.trim().split_once(' ').ok_or_else(bad)?;
        if hex.len() != 64 {
            return Err(bad());
        }
        let mut key = Zeroizing::new([0u8; 32]);
        for (i, slot) in key.iter_mut().enumerate() {
            *slot = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(Keyring {
            keys: vec![DataKey {
                id: id.to_string(),
                key,
            }],
            active: 0,
        })
    }

    pub fn active_id(&self) -> &str {
        &self.keys[self.active].id
    }

    /// Seals with the active key.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        self.keys[self.active].seal(plaintext, context)
    }

    /// Opens a sealed value (any key of the ring).
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, CryptoError> {
        let malformed = || CryptoError::Malformed(format!("the value at {context}"));
        let rest = sealed.strip_prefix(SEALED_PREFIX).ok_or_else(malformed)?;
        let (id, body) = rest.split_once(':').ok_or_else(malformed)?;
        let key = self.keys.iter().find(|k| k.id == id).ok_or_else(|| {
            CryptoError::Key(format!(
                "the value at {context} was encrypted under data key {id}, which this workspace's keyring does not hold"
            ))
        })?;
        let body = B64.decode(body).map_err(|_| malformed())?;
        key.open(&body, context)
    }
}

/// The key providers a workspace is configured with: the primary one first, then
/// fallbacks (for reading what was wrapped before a rotation).
pub type Providers = Vec<Box<dyn KeyProvider>>;

/// A workspace's keyring, unlocked on first use: a command that never meets an
/// encrypted value never asks for a passphrase or reads a key file. When the
/// workspace has no data key yet, the first seal creates one; the store persists it
/// ([`Vault::take_created`]) with the first value sealed under it.
pub struct Vault {
    stored: Vec<WrappedKey>,
    providers: Box<dyn Fn() -> Result<Providers, CryptoError> + Send + Sync>,
    ring: std::sync::OnceLock<Result<Keyring, String>>,
    created: std::sync::Mutex<Option<WrappedKey>>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Vault({} stored keys)", self.stored.len())
    }
}

impl Vault {
    pub fn new(
        stored: Vec<WrappedKey>,
        providers: impl Fn() -> Result<Providers, CryptoError> + Send + Sync + 'static,
    ) -> Vault {
        Vault {
            stored,
            providers: Box::new(providers),
            ring: std::sync::OnceLock::new(),
            created: std::sync::Mutex::new(None),
        }
    }

    /// A vault over an already unlocked keyring (after a rotation).
    pub fn unlocked(ring: Keyring) -> Vault {
        let v = Vault::new(Vec::new(), || Ok(Vec::new()));
        let _ = v.ring.set(Ok(ring));
        v
    }

    pub fn keyring(&self) -> Result<&Keyring, CryptoError> {
        self.ring
            .get_or_init(|| {
                let providers = (self.providers)().map_err(|e| e.to_string())?;
                if self.stored.is_empty() {
                    let primary = providers
                        .first()
                        .ok_or_else(|| "no key provider is configured".to_string())?;
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    let (ring, wrapped) =
                        Keyring::create(primary.as_ref(), now).map_err(|e| e.to_string())?;
                    *self.created.lock().unwrap_or_else(|e| e.into_inner()) = Some(wrapped);
                    return Ok(ring);
                }
                let refs: Vec<&dyn KeyProvider> = providers.iter().map(|p| p.as_ref()).collect();
                Keyring::unlock(&self.stored, &refs).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| CryptoError::Key(e.clone()))
    }

    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String, CryptoError> {
        Ok(self.keyring()?.seal(plaintext, context))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, CryptoError> {
        self.keyring()?.open(sealed, context)
    }

    /// The data key created by the first seal, once, for the store to persist.
    pub fn take_created(&self) -> Option<WrappedKey> {
        self.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

fn describe_kind(kind: &str) -> String {
    match kind.split_once(':') {
        Some(("age", r)) => format!("the age identity with public key {r}"),
        Some(("aws_kms", k)) => format!("AWS KMS key {k}"),
        _ if kind == "passphrase" => "a passphrase (TERRANE_PASSPHRASE)".into(),
        _ => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age_in(dir: &std::path::Path, name: &str) -> AgeProvider {
        AgeProvider::load(&dir.join(name), true).unwrap()
    }

    #[test]
    fn sealed_values_open_only_in_their_context_and_untampered() {
        let dir = tempfile::tempdir().unwrap();
        let p = age_in(dir.path(), "id.txt");
        let (ring, _) = Keyring::create(&p, 1).unwrap();
        let sealed = ring.seal(b"hunter2", "aws_db_instance.db/password");
        assert!(sealed.starts_with(SEALED_PREFIX) && !sealed.contains("hunter2"));
        assert_eq!(
            ring.open(&sealed, "aws_db_instance.db/password").unwrap(),
            b"hunter2"
        );
        // Moved to another attribute: refused.
        assert!(matches!(
            ring.open(&sealed, "aws_db_instance.db/username"),
            Err(CryptoError::Tampered(_))
        ));
        // One byte of the ciphertext changed: refused.
        let (head, body) = sealed.rsplit_once(':').unwrap();
        let mut raw = B64.decode(body).unwrap();
        raw[30] ^= 1;
        let tampered = format!("{head}:{}", B64.encode(raw));
        let err = ring
            .open(&tampered, "aws_db_instance.db/password")
            .unwrap_err();
        assert!(
            err.to_string().contains("failed its integrity check"),
            "{err}"
        );
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn keys_unwrap_only_with_the_right_provider() {
        let dir = tempfile::tempdir().unwrap();
        let p = age_in(dir.path(), "a.txt");
        let (ring, wrapped) = Keyring::create(&p, 1).unwrap();
        let sealed = ring.seal(b"v", "c");
        let again = Keyring::unlock(std::slice::from_ref(&wrapped), &[&p]).unwrap();
        assert_eq!(again.open(&sealed, "c").unwrap(), b"v");
        // Another identity: a clear error naming the key that is needed.
        let other = age_in(dir.path(), "b.txt");
        let err = Keyring::unlock(std::slice::from_ref(&wrapped), &[&other]).unwrap_err();
        assert!(
            err.to_string().contains("wrapped by the age identity"),
            "{err}"
        );

        let pass = PassphraseProvider::new("correct horse".into(), "test").unwrap();
        let (ring, wrapped) = Keyring::create(&pass, 1).unwrap();
        assert!(wrapped.wrapped.starts_with("argon2id$m=19456,t=2,p=1$"));
        let sealed = ring.seal(b"v", "c");
        let wrong = PassphraseProvider::new("battery staple".into(), "test").unwrap();
        let err = Keyring::unlock(std::slice::from_ref(&wrapped), &[&wrong]).unwrap_err();
        assert!(err.to_string().starts_with("wrong passphrase"), "{err}");
        let right = PassphraseProvider::new("correct horse".into(), "test").unwrap();
        let ring = Keyring::unlock(&[wrapped], &[&right]).unwrap();
        assert_eq!(ring.open(&sealed, "c").unwrap(), b"v");
    }

    #[test]
    fn a_key_file_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let ring = Keyring::from_key_file(&path).unwrap();
        let sealed = ring.seal(b"env value", "ctx");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = Keyring::from_key_file(&path).unwrap();
        assert_eq!(again.open(&sealed, "ctx").unwrap(), b"env value");
        std::fs::write(&path, "nonsense").unwrap();
        assert!(Keyring::from_key_file(&path).is_err());
    }
}
