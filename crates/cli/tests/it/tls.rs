//! The `tls` provider end to end: a CA, a server key, a request and a certificate
//! signed by the CA, and SSH keys, applied by the `terrane` binary and then checked by
//! OpenSSL and OpenSSH themselves (`openssl verify`, `openssl req -verify`,
//! `ssh-keygen -y` and `-l`), not by terrane.

use std::process::Command;

use crate::Ws;

fn tool(ws: &Ws, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(ws.path())
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

const MAIN: &str = r#"
resource "tls_private_key" "ca" {
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}
resource "tls_self_signed_cert" "ca" {
  private_key_pem = tls_private_key.ca.private_key_pem
  subject {
    common_name  = "terrane test CA"
    organization = "Acme"
  }
  validity_period_hours = 24
  is_ca_certificate     = true
  allowed_uses          = ["cert_signing", "crl_signing", "digital_signature"]
}
resource "tls_private_key" "server" {
  algorithm = "RSA"
  rsa_bits  = 2048
}
resource "tls_cert_request" "server" {
  private_key_pem = tls_private_key.server.private_key_pem
  subject {
    common_name = "web.internal"
  }
  dns_names    = ["web.internal", "localhost"]
  ip_addresses = ["127.0.0.1"]
}
resource "tls_locally_signed_cert" "server" {
  cert_request_pem      = tls_cert_request.server.cert_request_pem
  ca_private_key_pem    = tls_private_key.ca.private_key_pem
  ca_cert_pem           = tls_self_signed_cert.ca.cert_pem
  validity_period_hours = 12
  allowed_uses          = ["key_encipherment", "digital_signature", "server_auth"]
}
resource "tls_private_key" "ed" {
  algorithm = "ED25519"
}
resource "tls_private_key" "ec384" {
  algorithm   = "ECDSA"
  ecdsa_curve = "P384"
}

locals {
  public = {
    "ca.pem"     = tls_self_signed_cert.ca.cert_pem
    "server.pem" = tls_locally_signed_cert.server.cert_pem
    "server.csr" = tls_cert_request.server.cert_request_pem
    "ed.pub"     = tls_private_key.ed.public_key_openssh
    "rsa.pub"    = tls_private_key.server.public_key_openssh
    "ec384.pub"  = tls_private_key.ec384.public_key_openssh
  }
  secret = {
    "ca.key"      = tls_private_key.ca.private_key_pem
    "server.key"  = tls_private_key.server.private_key_pem
    "server.p8"   = tls_private_key.server.private_key_pem_pkcs8
    "ed.key"      = tls_private_key.ed.private_key_openssh
    "rsa.key"     = tls_private_key.server.private_key_openssh
    "ec384.key"   = tls_private_key.ec384.private_key_openssh
    "ec384.pem"   = tls_private_key.ec384.private_key_pem
  }
}
resource "local_file" "public" {
  for_each = local.public
  filename = "${path.module}/out/${each.key}"
  content  = each.value
}
resource "local_sensitive_file" "secret" {
  for_each        = local.secret
  filename        = "${path.module}/out/${each.key}"
  content         = each.value
  file_permission = "0600"
}
output "fingerprints" {
  value = [tls_private_key.ed.public_key_fingerprint_sha256, tls_private_key.ed.public_key_fingerprint_md5]
}
"#;

#[test]
fn keys_requests_and_certificates_pass_openssl_and_openssh() {
    let ws = Ws::with_main(MAIN);
    ws.run(&["apply", "--auto-approve"])
        .success()
        .lacks("BEGIN OPENSSH PRIVATE KEY")
        .lacks("BEGIN RSA PRIVATE KEY");

    let verified = tool(
        &ws,
        "openssl",
        &["verify", "-CAfile", "out/ca.pem", "out/server.pem"],
    );
    assert!(verified.contains("out/server.pem: OK"), "{verified}");
    let text = tool(
        &ws,
        "openssl",
        &["x509", "-in", "out/server.pem", "-noout", "-text"],
    );
    for want in [
        "Issuer: CN = terrane test CA, O = Acme",
        "Subject: CN = web.internal",
        "DNS:web.internal, DNS:localhost, IP Address:127.0.0.1",
        "TLS Web Server Authentication",
        "Digital Signature, Key Encipherment",
        "Public-Key: (2048 bit)",
    ] {
        assert!(
            text.contains(want),
            "the certificate lacks {want:?}:\n{text}"
        );
    }
    let ca = tool(
        &ws,
        "openssl",
        &["x509", "-in", "out/ca.pem", "-noout", "-text"],
    );
    assert!(
        ca.contains("CA:TRUE") && ca.contains("Certificate Sign"),
        "{ca}"
    );
    assert!(tool(
        &ws,
        "openssl",
        &["req", "-in", "out/server.csr", "-noout", "-verify"]
    )
    .contains("verify OK"));
    assert!(tool(
        &ws,
        "openssl",
        &["rsa", "-in", "out/server.key", "-check", "-noout"]
    )
    .contains("RSA key ok"));
    // PKCS#8 and PKCS#1 hold the same key; the SEC1 keys read as EC keys.
    let modulus = |file: &str| tool(&ws, "openssl", &["rsa", "-in", file, "-noout", "-modulus"]);
    assert_eq!(modulus("out/server.key"), modulus("out/server.p8"));
    assert!(tool(
        &ws,
        "openssl",
        &["ec", "-in", "out/ca.key", "-noout", "-check"]
    )
    .contains("EC Key valid"));
    assert!(tool(
        &ws,
        "openssl",
        &["ec", "-in", "out/ec384.pem", "-noout", "-text"]
    )
    .contains("NIST CURVE: P-384"));

    // OpenSSH reads the private keys and derives the same public keys.
    for name in ["ed", "rsa", "ec384"] {
        let derived = tool(&ws, "ssh-keygen", &["-y", "-f", &format!("out/{name}.key")]);
        let public = ws.read(&format!("out/{name}.pub"));
        assert_eq!(
            derived.split_whitespace().take(2).collect::<Vec<_>>(),
            public.split_whitespace().take(2).collect::<Vec<_>>(),
            "{name}"
        );
    }
    let sha = tool(
        &ws,
        "ssh-keygen",
        &["-l", "-E", "sha256", "-f", "out/ed.pub"],
    );
    let md5 = tool(&ws, "ssh-keygen", &["-l", "-E", "md5", "-f", "out/ed.pub"]);
    let out = ws.run(&["output", "--json", "fingerprints"]);
    let fingerprints: Vec<String> =
        serde_json::from_str(&out.success().stdout).expect("a JSON list");
    assert!(sha.contains(&fingerprints[0]), "{sha} vs {fingerprints:?}");
    assert!(
        md5.contains(&format!("MD5:{}", fingerprints[1])),
        "{md5} vs {fingerprints:?}"
    );

    // Everything is kept: a second plan changes nothing.
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn bad_tls_input_says_what_is_wrong() {
    let ws = Ws::with_main(
        r#"
resource "tls_private_key" "k" {
  algorithm   = "ECDSA"
  ecdsa_curve = "P224"
}
"#,
    );
    ws.run(&["apply", "--auto-approve"])
        .expect_code(1)
        .contains("ecdsa_curve \"P224\" is not supported");
    ws.write(
        "main.tf",
        r#"
resource "tls_self_signed_cert" "c" {
  private_key_pem       = "not a key"
  validity_period_hours = 1
  allowed_uses          = ["server_auth"]
}
"#,
    );
    ws.run(&["apply", "--auto-approve"])
        .expect_code(1)
        .contains("private_key_pem is not a PEM private key");
}

#[test]
fn keys_made_by_openssl_sign_certificates() {
    let ws = Ws::new();
    std::fs::create_dir_all(ws.file("keys")).expect("a directory");
    tool(
        &ws,
        "openssl",
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "keys/ec.pem",
        ],
    );
    tool(
        &ws,
        "openssl",
        &["genpkey", "-algorithm", "ed25519", "-out", "keys/ed.pem"],
    );
    tool(
        &ws,
        "openssl",
        &["genrsa", "-traditional", "-out", "keys/rsa.pem", "2048"],
    );
    let mut main = String::new();
    for name in ["ec", "ed", "rsa"] {
        main.push_str(&format!(
            "resource \"tls_self_signed_cert\" \"{name}\" {{\n  private_key_pem = file(\"keys/{name}.pem\")\n  subject {{\n    common_name = \"{name}\"\n  }}\n  validity_period_hours = 1\n  allowed_uses = [\"digital_signature\"]\n}}\nresource \"local_file\" \"{name}\" {{\n  filename = \"${{path.module}}/keys/{name}.crt\"\n  content  = tls_self_signed_cert.{name}.cert_pem\n}}\n"
        ));
    }
    ws.write("main.tf", &main);
    ws.run(&["apply", "--auto-approve"]).success();
    for name in ["ec", "ed", "rsa"] {
        let from_cert = tool(
            &ws,
            "openssl",
            &[
                "x509",
                "-in",
                &format!("keys/{name}.crt"),
                "-noout",
                "-pubkey",
            ],
        );
        let from_key = tool(
            &ws,
            "openssl",
            &["pkey", "-in", &format!("keys/{name}.pem"), "-pubout"],
        );
        assert_eq!(
            from_cert, from_key,
            "{name}: the certificate holds the key's public half"
        );
        let text = tool(
            &ws,
            "openssl",
            &[
                "verify",
                "-CAfile",
                &format!("keys/{name}.crt"),
                &format!("keys/{name}.crt"),
            ],
        );
        assert!(text.contains(": OK"), "{name}: {text}");
    }
}
