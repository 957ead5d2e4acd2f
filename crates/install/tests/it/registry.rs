//! The registry protocol (`direct`) and the network mirror protocol, against servers
//! this test runs on 127.0.0.1 over HTTPS.
//!
//! Terraform reaches registries and mirrors over HTTPS only, so the tests do too, by the
//! path a user with a private registry takes: a CA the test makes signs the server's
//! certificate for `127.0.0.1`, and the CA's PEM file is named in `SSL_CERT_FILE` (for
//! terrane, `CliEnv::ssl_cert_file`; for Terraform, the variable itself). Providers are
//! required as `127.0.0.1:PORT/NAMESPACE/TYPE`, so service discovery asks this server
//! too. Nothing here contacts any other host.
//!
//! The packages are zips the test makes, listed in a `SHA256SUMS` document signed with an
//! OpenPGP key the test generates (Ed25519, or RSA where a test says so).

use std::collections::HashMap;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use pgp::composed::{
    ArmorOptions, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
    SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize as _;
use pgp::types::{KeyDetails as _, Password};
use sha2::{Digest as _, Sha256};
use terrane_install::install::{InstallAction, ProviderErrorKind};
use terrane_install::source::SourceError;
use terrane_install::{Authentication, InstallMode, LockFile, Platform};

use crate::{Case, Module};

// ---------------------------------------------------------------------------------------
// An HTTPS server on 127.0.0.1.

/// The test CA and the server configuration whose certificate it signed (for 127.0.0.1
/// and localhost); one per test binary.
struct TestCa {
    ca_file: PathBuf,
    server: Arc<rustls::ServerConfig>,
    _dir: tempfile::TempDir,
}

fn test_ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "terrane-install test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("the CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().expect("a server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().expect("an IP")));
        let cert = params
            .signed_by(&key, &issuer)
            .expect("the server certificate");

        let dir = tempfile::tempdir().expect("a directory for the CA");
        let ca_file = dir.path().join("ca.pem");
        fs::write(&ca_file, ca_cert.pem()).expect("the CA file");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("the server's TLS configuration");
        TestCa {
            ca_file,
            server: Arc::new(server),
            _dir: dir,
        }
    })
}

/// The PEM file of the test CA, for `SSL_CERT_FILE`.
pub fn test_ca_file() -> PathBuf {
    test_ca().ca_file.clone()
}

/// One answer of the server.
#[derive(Clone)]
pub struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(body: &serde_json::Value) -> Reply {
        Reply {
            status: 200,
            content_type: "application/json".to_string(),
            body: body.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    pub fn bytes(body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            content_type: "application/octet-stream".to_string(),
            body,
            headers: Vec::new(),
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            content_type: "text/plain".to_string(),
            body: format!("status {status}\n").into_bytes(),
            headers: Vec::new(),
        }
    }

    /// The same reply with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// An HTTPS server on a free port of 127.0.0.1 answering GETs from a table of paths
/// (anything else is 404), until dropped.
pub struct Server {
    port: u16,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        listener.set_nonblocking(true).expect("non-blocking accept");
        let routes: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let config = test_ca().server.clone();
        let thread = {
            let (routes, log, stop) = (routes.clone(), log.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (routes, log, config) =
                                (routes.clone(), log.clone(), config.clone());
                            std::thread::spawn(move || {
                                let _ = serve(stream, config, &routes, &log);
                            });
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        Server {
            port,
            routes,
            log,
            stop,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    pub fn set(&self, path: &str, reply: Reply) {
        self.routes
            .lock()
            .expect("routes")
            .insert(path.to_string(), reply);
    }

    /// The paths asked for so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    routes: &Mutex<HashMap<String, Reply>>,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let connection = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tls.read(&mut buf)?;
        if n == 0 || request.len() > 64 * 1024 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    let target = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = target.split('?').next().unwrap_or("/").to_string();
    log.lock().expect("log").push(path.clone());
    let reply = routes
        .lock()
        .expect("routes")
        .get(&path)
        .cloned()
        .unwrap_or_else(|| Reply::status(404));
    let reason = match reply.status {
        200 => "OK",
        204 => "No Content",
        401 => "Unauthorized",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let extra: String = reply
        .headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        tls,
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    )?;
    tls.write_all(&reply.body)?;
    tls.flush()?;
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A registry on that server.

/// An OpenPGP key that signs `SHA256SUMS` documents.
pub struct Signer {
    secret: SignedSecretKey,
    pub armored: String,
    /// The primary key's ID as Terraform prints it.
    pub key_id: String,
}

impl Signer {
    pub fn ed25519() -> Signer {
        Signer::generate(KeyType::Ed25519Legacy)
    }

    pub fn rsa() -> Signer {
        Signer::generate(KeyType::Rsa(2048))
    }

    fn generate(key_type: KeyType) -> Signer {
        let mut params = SecretKeyParamsBuilder::default();
        params
            .key_type(key_type)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id("terrane test registry <registry@example.com>".into());
        let secret = params
            .build()
            .expect("key parameters")
            .generate(rand_core::OsRng)
            .expect("a signing key");
        let public = SignedPublicKey::from(secret.clone());
        let armored = public
            .to_armored_string(ArmorOptions::default())
            .expect("an armored public key");
        let key_id = hex::encode_upper(public.primary_key.legacy_key_id());
        Signer {
            secret,
            armored,
            key_id,
        }
    }

    /// A detached binary signature of `data`, as registries serve `SHA256SUMS.sig`.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        DetachedSignature::sign_binary_data(
            rand_core::OsRng,
            &self.secret.primary_key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            data,
        )
        .expect("a signature")
        .to_bytes()
        .expect("signature bytes")
    }
}

/// A provider package: a zip with the executable, as releases ship them.
pub fn package_zip(type_name: &str, version: &str, flavour: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    zip.start_file(
        format!("terraform-provider-{type_name}_v{version}"),
        options,
    )
    .expect("zip entry");
    zip.write_all(format!("#!/bin/sh\necho {type_name} {version} {flavour}\n").as_bytes())
        .expect("zip write");
    zip.finish().expect("zip finish").into_inner()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A published package, as the registry describes it.
pub struct Published {
    pub zip: Vec<u8>,
    pub filename: String,
    /// Every `zh:` of the release's `SHA256SUMS`.
    pub zip_hashes: Vec<String>,
    /// Where the registry serves the archive.
    pub archive_path: String,
    pub sums_path: String,
    pub signature_path: String,
}

/// A registry at `https://127.0.0.1:PORT`, discovered through
/// `/.well-known/terraform.json` (whose `providers.v1` is relative, as the public
/// registry's is).
pub struct Registry {
    pub server: Server,
    pub signer: Signer,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::with_signer(Signer::ed25519())
    }

    pub fn with_signer(signer: Signer) -> Registry {
        let server = Server::start();
        server.set(
            "/.well-known/terraform.json",
            Reply::json(&serde_json::json!({
                "providers.v1": "/v1/providers/",
                "modules.v1": "/v1/modules/",
            })),
        );
        Registry { server, signer }
    }

    /// `127.0.0.1:PORT/NAMESPACE/TYPE`.
    pub fn source(&self, namespace: &str, type_name: &str) -> String {
        format!("{}/{namespace}/{type_name}", self.server.host())
    }

    /// The version list of a provider: each version with its protocols, for this
    /// platform and another.
    pub fn versions(&self, namespace: &str, type_name: &str, versions: &[(&str, &[&str])]) {
        let current = Platform::current();
        let list: Vec<serde_json::Value> = versions
            .iter()
            .map(|(version, protocols)| {
                serde_json::json!({
                    "version": version,
                    "protocols": protocols,
                    "platforms": [
                        {"os": current.os, "arch": current.arch},
                        {"os": "plan9", "arch": "arm"},
                    ],
                })
            })
            .collect();
        self.server.set(
            &format!("/v1/providers/{namespace}/{type_name}/versions"),
            Reply::json(&serde_json::json!({ "versions": list, "warnings": null })),
        );
    }

    /// Publishes a version's package for this platform: the download document (whose
    /// `download_url` is relative and whose checksum URLs are absolute, as on the public
    /// registry), the archive, `SHA256SUMS` (listing a package for another platform too)
    /// and its signature.
    pub fn publish(
        &self,
        namespace: &str,
        type_name: &str,
        version: &str,
        protocols: &[&str],
    ) -> Published {
        let platform = Platform::current();
        let zip = package_zip(type_name, version, "registry");
        let filename = format!("terraform-provider-{type_name}_{version}_{platform}.zip");
        let other = package_zip(type_name, version, "plan9");
        let other_name = format!("terraform-provider-{type_name}_{version}_plan9_arm.zip");
        let sums = format!(
            "{}  {other_name}\n{}  {filename}\n",
            sha256_hex(&other),
            sha256_hex(&zip)
        );
        let files = format!("/files/{namespace}/{type_name}/{version}");
        let archive_path = format!("{files}/{filename}");
        let sums_path = format!("{files}/terraform-provider-{type_name}_{version}_SHA256SUMS");
        let signature_path = format!("{sums_path}.sig");
        self.server.set(&archive_path, Reply::bytes(zip.clone()));
        self.server
            .set(&sums_path, Reply::bytes(sums.clone().into_bytes()));
        self.server.set(
            &signature_path,
            Reply::bytes(self.signer.sign(sums.as_bytes())),
        );
        self.server.set(
            &format!(
                "/v1/providers/{namespace}/{type_name}/{version}/download/{}/{}",
                platform.os, platform.arch
            ),
            Reply::json(&serde_json::json!({
                "protocols": protocols,
                "os": platform.os,
                "arch": platform.arch,
                "filename": filename,
                "download_url": archive_path.clone(),
                "shasums_url": self.server.url(&sums_path),
                "shasums_signature_url": self.server.url(&signature_path),
                "shasum": sha256_hex(&zip),
                "signing_keys": {
                    "gpg_public_keys": [{
                        "key_id": self.signer.key_id,
                        "ascii_armor": self.signer.armored,
                        "trust_signature": "",
                        "source": "test",
                        "source_url": null,
                    }],
                },
            })),
        );
        let mut zip_hashes = vec![
            format!("zh:{}", sha256_hex(&zip)),
            format!("zh:{}", sha256_hex(&other)),
        ];
        zip_hashes.sort();
        Published {
            zip,
            filename,
            zip_hashes,
            archive_path,
            sums_path,
            signature_path,
        }
    }
}

/// The CLI configuration that installs everything from origin registries.
fn direct_config(case: &Case) {
    case.cli_config("provider_installation {\n  direct {}\n}\n");
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

fn locked_hashes(case: &Case, workdir: &str, source: &str) -> Vec<String> {
    let lock = LockFile::parse(
        &case.lock_file(workdir).expect("a lock file"),
        &case.path(workdir).join(".terraform.lock.hcl"),
    )
    .expect("a valid lock file");
    let source = terrane_install::ProviderSource::parse(source).expect("a source");
    lock.provider(&source)
        .expect("the provider is locked")
        .hashes
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn h1_of(zip: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("p.zip");
    fs::write(&path, zip).expect("the zip");
    terrane_install::hash::hash_zip(&path)
        .expect("an h1 hash")
        .to_string()
}

fn installed_dir(case: &Case, source: &str, version: &str) -> PathBuf {
    case.path("tr/.terraform/providers")
        .join(source)
        .join(version)
        .join(Platform::current().to_string())
}

// ---------------------------------------------------------------------------------------
// The cases.

#[test]
fn a_registry_package_is_installed_and_locked_with_h1_and_every_signed_zh() {
    let registry = Registry::start();
    let source = registry.source("example", "x");
    registry.versions(
        "example",
        "x",
        &[
            ("1.0.0", &["5.0"]),
            ("1.1.0", &["5.0", "6.0"]),
            ("2.0.0", &["6.0"]),
        ],
    );
    let published = registry.publish("example", "x", "1.1.0", &["5.0", "6.0"]);
    let mut case = Case::setup();
    case.ca_file = Some(test_ca().ca_file.clone());
    direct_config(&case);
    let modules: Vec<Module> = vec![vec![("x", leak(source.clone()), Some("~> 1.0"))]];
    case.configuration(&modules);

    let outcome = case
        .terrane_init(&modules, InstallMode::KeepLocked)
        .unwrap_or_else(|e| panic!("{e}"));
    let InstallAction::Installed {
        from,
        authenticated,
        authentication,
    } = &outcome.providers[0].action
    else {
        panic!("not installed: {:?}", outcome.providers[0].action);
    };
    assert_eq!(from, &format!("registry {}", registry.server.host()));
    assert!(authenticated);
    assert_eq!(
        authentication,
        &Authentication::Community {
            key_id: registry.signer.key_id.clone()
        }
    );
    assert_eq!(
        authentication.to_string(),
        format!("self-signed, key ID {}", registry.signer.key_id)
    );
    assert!(
        outcome.incomplete_lock.is_empty(),
        "a signed install locks every platform"
    );

    let mut expected = vec![h1_of(&published.zip)];
    expected.extend(published.zip_hashes.iter().cloned());
    expected.sort();
    assert_eq!(locked_hashes(&case, "tr", &source), expected);
    let lock = case.lock_file("tr").expect("a lock file");
    assert!(
        lock.contains(&format!(
            "provider \"{source}\" {{\n  version     = \"1.1.0\"\n  constraints = \"~> 1.0\"\n"
        )),
        "{lock}"
    );
    let exe = installed_dir(&case, &source, "1.1.0").join("terraform-provider-x_v1.1.0");
    assert!(fs::read_to_string(&exe)
        .expect("the executable")
        .contains("x 1.1.0 registry"));

    // Service discovery, the version list, the package's metadata, its checksums and
    // their signature, then the archive: each once.
    let requests = registry.server.requests();
    let platform = Platform::current();
    assert_eq!(
        requests,
        [
            "/.well-known/terraform.json".to_string(),
            "/v1/providers/example/x/versions".to_string(),
            format!(
                "/v1/providers/example/x/1.1.0/download/{}/{}",
                platform.os, platform.arch
            ),
            published.sums_path.clone(),
            published.signature_path.clone(),
            published.archive_path.clone(),
        ]
    );

    // Init again: the locked version is still there, so nothing is downloaded.
    let again = case
        .terrane_init(&modules, InstallMode::KeepLocked)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.providers[0].action, InstallAction::Reused);
    assert!(!again.lock_changed);
    let later: Vec<String> = registry.server.requests()[requests.len()..].to_vec();
    assert!(
        !later.contains(&published.archive_path),
        "the package was downloaded again: {later:?}"
    );
}

#[test]
fn an_rsa_signature_authenticates_too() {
    let registry = Registry::with_signer(Signer::rsa());
    let source = registry.source("example", "rsa");
    registry.versions("example", "rsa", &[("0.1.0", &["6.0"])]);
    registry.publish("example", "rsa", "0.1.0", &["6.0"]);
    let mut case = Case::setup();
    case.ca_file = Some(test_ca().ca_file.clone());
    direct_config(&case);
    let modules: Vec<Module> = vec![vec![("rsa", leak(source), None)]];
    case.configuration(&modules);
    let outcome = case
        .terrane_init(&modules, InstallMode::KeepLocked)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        &outcome.providers[0].action,
        InstallAction::Installed { authentication: Authentication::Community { key_id }, .. } if *key_id == registry.signer.key_id
    ));
}

#[test]
fn without_a_provider_installation_block_the_registry_serves_what_no_local_directory_has() {
    let registry = Registry::start();
    registry.versions("example", "x", &[("1.0.0", &["5.0"])]);
    registry.publish("example", "x", "1.0.0", &["5.0"]);
    let mut case = Case::setup();
    case.ca_file = Some(test_ca().ca_file.clone());
    // A local plugin directory has example/y; Terraform's implied `direct` excludes it.
    case.unpacked(
        "tr/terraform.d/plugins",
        "registry.terraform.io/example/y",
        "1.0.0",
    );
    let modules: Vec<Module> = vec![vec![
        ("x", leak(registry.source("example", "x")), None),
        ("y", "example/y", None),
    ]];
    case.configuration(&modules);
    let outcome = case
        .terrane_init(&modules, InstallMode::KeepLocked)
        .unwrap_or_else(|e| panic!("{e}"));
    let froms: Vec<String> = outcome
        .providers
        .iter()
        .map(|p| match &p.action {
            InstallAction::Installed { from, .. } => from.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        froms,
        [
            format!("registry {}", registry.server.host()),
            case.path("tr/terraform.d/plugins").display().to_string(),
        ]
    );
}

/// The one error of a failed installation.
fn single_error(case: &Case, modules: &[Module]) -> terrane_install::install::ProviderError {
    match case.terrane_init(modules, InstallMode::KeepLocked) {
        Err(terrane_install::InstallError::Providers(mut failures)) => {
            assert_eq!(failures.len(), 1);
            failures.remove(0).1
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(outcome) => panic!("installed: {:?}", outcome.providers),
    }
}

fn registry_case(registry: &Registry, type_name: &str) -> (Case, Vec<Module>) {
    let mut case = Case::setup();
    case.ca_file = Some(test_ca().ca_file.clone());
    direct_config(&case);
    let modules: Vec<Module> = vec![vec![(
        leak(type_name.to_string()),
        leak(registry.source("example", type_name)),
        None,
    )]];
    case.configuration(&modules);
    (case, modules)
}

#[test]
fn a_tampered_package_is_refused() {
    let registry = Registry::start();
    registry.versions("example", "x", &[("1.0.0", &["5.0"])]);
    let published = registry.publish("example", "x", "1.0.0", &["5.0"]);
    // Someone swaps the archive; the registry's shasum and the signed SHA256SUMS still
    // describe the original.
    registry.server.set(
        &published.archive_path,
        Reply::bytes(package_zip("x", "1.0.0", "evil")),
    );
    let (case, modules) = registry_case(&registry, "x");
    let error = single_error(&case, &modules);
    let message = error.to_string();
    assert!(
        matches!(error.kind(), ProviderErrorKind::Authentication { .. }),
        "{message}"
    );
    assert!(
        message.contains(&registry.server.url(&published.archive_path))
            && message.contains("failed authentication")
            && message.contains("archive has incorrect checksum")
            && message.contains(&format!("(expected zh:{})", sha256_hex(&published.zip))),
        "{message}"
    );
    assert!(!installed_dir(&case, &registry.source("example", "x"), "1.0.0").exists());
    assert!(case.lock_file("tr").is_none());
}

#[test]
fn a_checksum_list_that_does_not_match_its_signature_is_refused() {
    let registry = Registry::start();
    registry.versions("example", "x", &[("1.0.0", &["5.0"])]);
    let published = registry.publish("example", "x", "1.0.0", &["5.0"]);
    // SHA256SUMS gains a line after it was signed.
    let mut sums = format!("{}  {}\n", sha256_hex(&published.zip), published.filename);
    sums.push_str(&format!("{}  extra.zip\n", "0".repeat(64)));
    registry
        .server
        .set(&published.sums_path, Reply::bytes(sums.into_bytes()));
    let (case, modules) = registry_case(&registry, "x");
    let message = single_error(&case, &modules).to_string();
    assert!(
        message.contains("error checking signature")
            && message.contains(&registry.server.url(&published.signature_path))
            && message.contains("failed authentication"),
        "{message}"
    );
    assert!(case.lock_file("tr").is_none());
}

#[test]
fn a_signature_by_a_key_the_registry_does_not_list_is_refused() {
    let registry = Registry::start();
    registry.versions("example", "x", &[("1.0.0", &["5.0"])]);
    let published = registry.publish("example", "x", "1.0.0", &["5.0"]);
    let sums = format!("{}  {}\n", sha256_hex(&published.zip), published.filename);
    let stranger = Signer::ed25519();
    registry.server.set(
        &published.sums_path,
        Reply::bytes(sums.clone().into_bytes()),
    );
    registry.server.set(
        &published.signature_path,
        Reply::bytes(stranger.sign(sums.as_bytes())),
    );
    let (case, modules) = registry_case(&registry, "x");
    let message = single_error(&case, &modules).to_string();
    assert!(
        message.contains("authentication signature from unknown issuer"),
        "{message}"
    );
}

#[test]
fn a_provider_the_registry_does_not_know_is_an_error_that_says_how_to_fix_it() {
    let registry = Registry::start();
    let (case, modules) = registry_case(&registry, "nope");
    let error = single_error(&case, &modules);
    let message = error.to_string();
    assert!(
        matches!(
            error.kind(),
            ProviderErrorKind::Query(terrane_install::source::QueryError::Source(
                SourceError::RegistryProviderNotKnown { .. }
            ))
        ),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "provider registry {} does not have a provider named {}",
            registry.server.host(),
            registry.source("example", "nope")
        )) && message.contains(&registry.server.url("/v1/providers/example/nope/versions"))
            && message.contains("source = \"NAMESPACE/TYPE\""),
        "{message}"
    );
}

#[test]
fn a_version_without_a_package_for_this_platform_is_an_error() {
    let registry = Registry::start();
    registry.versions("example", "x", &[("1.0.0", &["5.0"])]);
    let (case, modules) = registry_case(&registry, "x");
    let message = single_error(&case, &modules).to_string();
    let platform = Platform::current();
    assert!(
        message.contains(&format!("1.0.0 is not available for {platform}"))
            && message.contains(&registry.server.url(&format!(
                "/v1/providers/example/x/1.0.0/download/{}/{}",
                platform.os, platform.arch
            )))
            && message.contains("version constraint"),
        "{message}"
    );
}

#[test]
fn a_provider_without_protocol_5_or_6_is_refused_naming_a_version_that_has_one() {
    let registry = Registry::start();
    registry.versions(
        "example",
        "old",
        &[("1.0.0", &["5.0"]), ("2.0.0", &["4.0"])],
    );
    registry.publish("example", "old", "2.0.0", &["4.0"]);
    let (case, modules) = registry_case(&registry, "old");
    let error = single_error(&case, &modules);
    let message = error.to_string();
    assert!(
        message.contains("2.0.0 is not supported by terrane")
            && message.contains("plugin protocol 4.0")
            && message.contains("version = \"1.0.0\""),
        "{message}"
    );
}

#[test]
fn a_failing_registry_is_asked_again_then_reported() {
    let registry = Registry::start();
    registry
        .server
        .set("/v1/providers/example/x/versions", Reply::status(500));
    let (case, modules) = registry_case(&registry, "x");
    let message = single_error(&case, &modules).to_string();
    assert!(
        message.contains(&format!(
            "could not query provider registry {} for {}: the request failed after 2 attempts, please try again later: 500 Internal Server Error returned from {}",
            registry.server.host(),
            registry.source("example", "x"),
            registry.server.host()
        )),
        "{message}"
    );
    let asked = registry
        .server
        .requests()
        .iter()
        .filter(|p| p.ends_with("/versions"))
        .count();
    assert_eq!(asked, 2, "Terraform's one retry");
}

#[test]
fn an_unreachable_registry_host_is_an_error_that_names_it() {
    // Nothing listens on a port that was just free.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut case = Case::setup();
    case.ca_file = Some(test_ca().ca_file.clone());
    direct_config(&case);
    let modules: Vec<Module> = vec![vec![(
        "x",
        leak(format!("127.0.0.1:{port}/example/x")),
        None,
    )]];
    case.configuration(&modules);
    let message = single_error(&case, &modules).to_string();
    assert!(
        message.contains(&format!("could not connect to 127.0.0.1:{port}"))
            && message.contains(&format!(
                "https://127.0.0.1:{port}/.well-known/terraform.json"
            ))
            && message.contains("network connection"),
        "{message}"
    );
}

#[test]
fn a_host_that_is_no_registry_is_an_error() {
    let server = Server::start();
    server.set(
        "/.well-known/terraform.json",
        Reply::json(&serde_json::json!({"modules.v1": "/v1/modules/"})),
    );
    let mut case = Case::setup();
    case.ca_file = Some(test_ca().ca_file.clone());
    direct_config(&case);
    let modules: Vec<Module> = vec![vec![(
        "x",
        leak(format!("{}/example/x", server.host())),
        None,
    )]];
    case.configuration(&modules);
    let message = single_error(&case, &modules).to_string();
    assert!(
        message.contains("does not offer a Terraform provider registry"),
        "{message}"
    );
}

#[test]
fn a_certificate_from_an_unknown_ca_is_refused() {
    let registry = Registry::start();
    registry.versions("example", "x", &[("1.0.0", &["5.0"])]);
    registry.publish("example", "x", "1.0.0", &["5.0"]);
    // The system's roots do not include the test CA.
    let mut case = Case::setup();
    case.ca_file = None;
    direct_config(&case);
    let modules: Vec<Module> = vec![vec![("x", leak(registry.source("example", "x")), None)]];
    case.configuration(&modules);
    let message = single_error(&case, &modules).to_string();
    assert!(message.contains("SSL_CERT_FILE"), "{message}");
}

// ---------------------------------------------------------------------------------------
// The network mirror protocol.

/// A network mirror at `https://127.0.0.1:PORT/mirror/` holding `HOST/NS/TYPE` at
/// `version` for this platform, listed with `hashes` (the package's own `h1:` and `zh:`
/// when `None`).
fn mirror(server: &Server, addr: &str, version: &str, hashes: Option<Vec<String>>) -> Vec<u8> {
    let type_name = addr.rsplit('/').next().expect("an address");
    let zip = package_zip(type_name, version, "mirror");
    let platform = Platform::current();
    let hashes = hashes.unwrap_or_else(|| vec![h1_of(&zip), format!("zh:{}", sha256_hex(&zip))]);
    server.set(
        &format!("/mirror/{addr}/index.json"),
        Reply::json(&serde_json::json!({"versions": {version: {}}})),
    );
    server.set(
        &format!("/mirror/{addr}/{version}.json"),
        Reply::json(&serde_json::json!({"archives": {platform.to_string(): {
            "url": format!("terraform-provider-{type_name}_{version}_{platform}.zip"),
            "hashes": hashes,
        }}})),
    );
    server.set(
        &format!("/mirror/{addr}/terraform-provider-{type_name}_{version}_{platform}.zip"),
        Reply::bytes(zip.clone()),
    );
    zip
}

fn mirror_case(server: &Server) -> Case {
    let mut case = Case::setup();
    case.ca_file = Some(test_ca().ca_file.clone());
    case.cli_config(&format!(
        "provider_installation {{\n  network_mirror {{\n    url = \"{}\"\n  }}\n}}\n",
        server.url("/mirror/")
    ));
    case
}

#[test]
fn a_network_mirror_package_is_verified_and_only_its_h1_is_locked() {
    let server = Server::start();
    let zip = mirror(&server, "registry.terraform.io/example/m", "3.1.0", None);
    let case = mirror_case(&server);
    let modules: Vec<Module> = vec![vec![("m", "example/m", Some(">= 3.0"))]];
    case.configuration(&modules);
    let outcome = case
        .terrane_init(&modules, InstallMode::KeepLocked)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        &outcome.providers[0].action,
        InstallAction::Installed { from, authenticated: true, authentication: Authentication::VerifiedChecksum }
            if *from == format!("provider mirror at {}", server.url("/mirror/"))
    ));
    assert_eq!(
        locked_hashes(&case, "tr", "example/m"),
        [h1_of(&zip)],
        "a checksum is no signature: only the package's own h1 is locked"
    );
    assert_eq!(
        outcome.incomplete_lock.len(),
        1,
        "the lock covers one platform only"
    );
    let again = case
        .terrane_init(&modules, InstallMode::KeepLocked)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.providers[0].action, InstallAction::Reused);
}

#[test]
fn a_network_mirror_package_that_does_not_match_its_hash_is_refused() {
    let server = Server::start();
    let wrong = format!("zh:{}", "1".repeat(64));
    mirror(
        &server,
        "registry.terraform.io/example/m",
        "1.0.0",
        Some(vec![wrong.clone()]),
    );
    let case = mirror_case(&server);
    let modules: Vec<Module> = vec![vec![("m", "example/m", None)]];
    case.configuration(&modules);
    let message = single_error(&case, &modules).to_string();
    assert!(
        message.contains(&format!("doesn't match the expected checksum \"{wrong}\""))
            && message.contains(&server.url("/mirror/registry.terraform.io/example/m/")),
        "{message}"
    );
}

#[test]
fn a_network_mirror_without_the_provider_lets_the_next_method_answer() {
    let server = Server::start();
    let mut case = mirror_case(&server);
    case.ca_file = Some(test_ca().ca_file.clone());
    let modules: Vec<Module> = vec![vec![("m", "example/m", None)]];
    case.configuration(&modules);
    let message = single_error(&case, &modules).to_string();
    assert!(
        message.contains("was not found in any of the search locations")
            && message.contains(&format!("provider mirror at {}", server.url("/mirror/"))),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------
// Against Terraform.

/// `terraform init` and terrane against the same registry over HTTPS (Terraform trusts
/// the test CA through `SSL_CERT_FILE`): the same lock file, byte for byte, and the same
/// `.terraform/providers` tree; then the same for a network mirror.
#[test]
fn registry_and_network_mirror_installs_match_terraforms() {
    let registry = Registry::start();
    let source = registry.source("example", "x");
    registry.versions(
        "example",
        "x",
        &[("1.0.0", &["5.0"]), ("1.2.0", &["5.0", "6.0"])],
    );
    registry.publish("example", "x", "1.2.0", &["5.0", "6.0"]);
    let mut case = Case::setup();
    case.ca_file = Some(test_ca().ca_file.clone());
    direct_config(&case);
    let modules: Vec<Module> = vec![vec![("x", leak(source.clone()), Some("~> 1.0"))]];
    case.configuration(&modules);
    let terraform = case.terraform_init(&[]);
    assert!(terraform.success, "{}", terraform.output);
    assert!(
        terraform.says(&format!(
            "Installed {source} v1.2.0 (self-signed, key ID {})",
            registry.signer.key_id
        )),
        "{}",
        terraform.output
    );
    let outcome = case
        .terrane_init(&modules, InstallMode::KeepLocked)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        &outcome.providers[0].action,
        InstallAction::Installed { authentication, .. }
            if terraform.says(&format!("Installed {source} v1.2.0 ({authentication})"))
    ));
    case.assert_same_results();
    // Both reuse what they installed.
    case.init_both(&modules, InstallMode::KeepLocked);

    let server = Server::start();
    mirror(&server, "registry.terraform.io/example/m", "2.0.0", None);
    let case = mirror_case(&server);
    let modules: Vec<Module> = vec![vec![("m", "example/m", Some("~> 2.0"))]];
    case.configuration(&modules);
    let terraform = case.terraform_init(&[]);
    assert!(terraform.success, "{}", terraform.output);
    assert!(
        terraform.says("Installed example/m v2.0.0 (verified checksum)"),
        "{}",
        terraform.output
    );
    let outcome = case
        .terrane_init(&modules, InstallMode::KeepLocked)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.incomplete_lock.len(), 1);
    assert!(
        terraform.says("Incomplete lock file information for providers"),
        "{}",
        terraform.output
    );
    case.assert_same_results();
}
