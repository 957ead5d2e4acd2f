//! go-plugin's AutoMTLS: terrane makes a fresh certificate for every plugin it starts
//! and hands it over in `PLUGIN_CLIENT_CERT`; the plugin answers with its own
//! certificate in the handshake line, and each side then trusts exactly the other's
//! certificate. Nothing else is trusted: the server certificate is pinned, so its
//! chain, name and dates do not matter; only the TLS signature made with its key is
//! checked.
//!
//! TLS is rustls with the ring provider. The signature may come from an ECDSA P-521 key
//! (Go plugins), which ring does not verify, so RustCrypto's `p521` does; or from an RSA
//! key of 1024 bits, which rustls (through webpki) refuses anywhere else: some plugins
//! (the Python `tf` framework) make such keys. See [`pinned_algorithms`] for why
//! accepting them here is safe.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, PrivateKeyDer, PrivatePkcs8KeyDer,
    ServerName, SignatureVerificationAlgorithm, UnixTime,
};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// terrane's side of one plugin connection: a self-signed certificate and its key.
pub struct ClientIdentity {
    pub cert_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl ClientIdentity {
    /// A new ECDSA P-384 certificate for `localhost`, marked as a CA (the plugin uses
    /// it as the only root it trusts for client certificates) and for client and
    /// server authentication, as go-plugin's own certificates are.
    pub fn generate() -> Result<ClientIdentity, String> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)
            .map_err(|e| format!("making a key for the plugin connection: {e}"))?;
        let mut params =
            CertificateParams::new(vec!["localhost".to_string()]).map_err(|e| e.to_string())?;
        params
            .distinguished_name
            .push(DnType::OrganizationName, "terrane");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let cert = params
            .self_signed(&key)
            .map_err(|e| format!("making the plugin connection's certificate: {e}"))?;
        Ok(ClientIdentity {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }

    /// A TLS client configuration that presents this identity and accepts only the
    /// server certificate `server_der`, speaking HTTP/2 (gRPC servers require ALPN h2).
    pub fn client_config(&self, server_der: Vec<u8>) -> Result<ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Pinned {
            cert: server_der,
            algorithms: pinned_algorithms(),
        };
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(
                vec![self.cert_der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
            )
            .map_err(|e| e.to_string())?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

#[derive(Debug)]
struct Pinned {
    cert: Vec<u8>,
    algorithms: &'static WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the plugin presented a certificate other than the one in its handshake".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The signature algorithms of the pinned verifier: ring's, plus ECDSA P-521 with
/// SHA-512, with every RSA scheme also accepting keys of 1024 to 2047 bits.
///
/// ring verifies ECDSA on P-256 and P-384 only, but Go plugins (go-plugin's AutoMTLS)
/// make their certificate on P-521, so TLS 1.3 (and Go's TLS 1.2) signs with
/// `ecdsa_secp521r1_sha512`: [`EcdsaP521Sha512`] checks it with RustCrypto's `p521`.
///
/// webpki refuses RSA keys under 2048 bits because a certificate is normally trusted
/// through its chain for years, and a 1024-bit key might be factored in that time. Here
/// nothing is trusted through a chain: the plugin, a child process terrane has just
/// started, printed this exact certificate on its own stdout a moment ago, and the key
/// only has to prove, in this one handshake, that the peer at the socket is that process.
/// Forging that signature would mean factoring the key during the handshake. Whoever can
/// read the plugin's stdout or the key in its memory is already this user, and gains
/// nothing by it. So the floor for the pinned certificate is 1024 bits.
///
/// ring's RSA algorithms take keys of 2048 to 8192 bits; keys of 1024 to 2047 bits are
/// checked by RustCrypto's `rsa`: PKCS#1 v1.5 (SHA-256, SHA-384, SHA-512) and RSA-PSS,
/// the only RSA signature TLS 1.3 allows and so the one a TLS 1.3 server uses (salt as
/// long as the hash, as TLS requires).
fn pinned_algorithms() -> &'static WebPkiSupportedAlgorithms {
    static ALGORITHMS: OnceLock<WebPkiSupportedAlgorithms> = OnceLock::new();
    ALGORITHMS.get_or_init(|| {
        let base = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        static P521: &[&dyn SignatureVerificationAlgorithm] = &[&EcdsaP521Sha512];
        let mut all: Vec<&'static dyn SignatureVerificationAlgorithm> = base.all.to_vec();
        all.extend_from_slice(P521);
        let mut mapping = Vec::with_capacity(base.mapping.len() + 1);
        for &(scheme, algs) in base.mapping {
            let legacy = match scheme {
                SignatureScheme::RSA_PKCS1_SHA256 => Some(Legacy::Pkcs1Sha256),
                SignatureScheme::RSA_PKCS1_SHA384 => Some(Legacy::Pkcs1Sha384),
                SignatureScheme::RSA_PKCS1_SHA512 => Some(Legacy::Pkcs1Sha512),
                SignatureScheme::RSA_PSS_SHA256 => Some(Legacy::PssSha256),
                SignatureScheme::RSA_PSS_SHA384 => Some(Legacy::PssSha384),
                SignatureScheme::RSA_PSS_SHA512 => Some(Legacy::PssSha512),
                _ => None,
            };
            match (legacy, algs.first()) {
                (Some(kind), Some(&modern)) => {
                    let alg: &'static dyn SignatureVerificationAlgorithm =
                        Box::leak(Box::new(LegacyRsa { kind, modern }));
                    all.push(alg);
                    // TLS 1.3 uses the first algorithm of a scheme only.
                    let mut list = vec![alg];
                    list.extend_from_slice(&algs[1..]);
                    mapping.push((scheme, &*Box::leak(list.into_boxed_slice())));
                }
                _ => mapping.push((scheme, algs)),
            }
            // Where rustls's aws-lc-rs provider puts it: after the other ECDSA schemes.
            if scheme == SignatureScheme::ECDSA_NISTP256_SHA256 {
                mapping.push((SignatureScheme::ECDSA_NISTP521_SHA512, P521));
            }
        }
        WebPkiSupportedAlgorithms {
            all: Box::leak(all.into_boxed_slice()),
            mapping: Box::leak(mapping.into_boxed_slice()),
        }
    })
}

/// ECDSA on P-521 with SHA-512 (`ecdsa_secp521r1_sha512`), which ring lacks.
#[derive(Debug)]
struct EcdsaP521Sha512;

impl SignatureVerificationAlgorithm for EcdsaP521Sha512 {
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        rustls::pki_types::alg_id::ECDSA_P521
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        rustls::pki_types::alg_id::ECDSA_SHA512
    }

    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        use p521::ecdsa::signature::Verifier;
        // `public_key` is the certificate's SEC1 point; TLS signatures are DER.
        let key =
            p521::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let signature = ecdsa::Signature::<p521::NistP521>::from_der(signature)
            .map_err(|_| InvalidSignature)?;
        key.verify(message, &signature)
            .map_err(|_| InvalidSignature)
    }
}

#[derive(Clone, Copy, Debug)]
enum Legacy {
    Pkcs1Sha256,
    Pkcs1Sha384,
    Pkcs1Sha512,
    PssSha256,
    PssSha384,
    PssSha512,
}

/// One RSA signature scheme for keys of 1024 bits and up: `modern` (ring's, 2048 bits
/// and up) for keys it takes, RustCrypto's `rsa` for keys of 1024 to 2047 bits.
#[derive(Debug)]
struct LegacyRsa {
    kind: Legacy,
    modern: &'static dyn SignatureVerificationAlgorithm,
}

impl SignatureVerificationAlgorithm for LegacyRsa {
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.modern.public_key_alg_id()
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.modern.signature_alg_id()
    }

    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::signature::Verifier;
        use rsa::traits::PublicKeyParts;
        // `public_key` is the certificate's RSAPublicKey (PKCS#1 DER). rsa reads keys of
        // up to 4096 bits; larger ones are ring's anyway.
        let key = match rsa::RsaPublicKey::from_pkcs1_der(public_key) {
            Ok(k) if k.size() < 2048 / 8 => k,
            _ => return self.modern.verify_signature(public_key, message, signature),
        };
        if key.size() < 1024 / 8 {
            return Err(InvalidSignature);
        }
        fn pkcs1<D>(key: rsa::RsaPublicKey, message: &[u8], signature: &[u8]) -> bool
        where
            D: sha2::Digest + rsa::pkcs8::AssociatedOid,
        {
            rsa::pkcs1v15::Signature::try_from(signature).is_ok_and(|s| {
                rsa::pkcs1v15::VerifyingKey::<D>::new(key)
                    .verify(message, &s)
                    .is_ok()
            })
        }
        fn pss<D>(key: rsa::RsaPublicKey, message: &[u8], signature: &[u8]) -> bool
        where
            D: sha2::Digest + sha2::digest::FixedOutputReset,
        {
            rsa::pss::Signature::try_from(signature).is_ok_and(|s| {
                rsa::pss::VerifyingKey::<D>::new(key)
                    .verify(message, &s)
                    .is_ok()
            })
        }
        let ok = match self.kind {
            Legacy::Pkcs1Sha256 => pkcs1::<sha2::Sha256>(key, message, signature),
            Legacy::Pkcs1Sha384 => pkcs1::<sha2::Sha384>(key, message, signature),
            Legacy::Pkcs1Sha512 => pkcs1::<sha2::Sha512>(key, message, signature),
            Legacy::PssSha256 => pss::<sha2::Sha256>(key, message, signature),
            Legacy::PssSha384 => pss::<sha2::Sha384>(key, message, signature),
            Legacy::PssSha512 => pss::<sha2::Sha512>(key, message, signature),
        };
        if ok {
            Ok(())
        } else {
            Err(InvalidSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    const MESSAGE: &[u8] = b"terrane pins the plugin's certificate";
    // An RSA-1024 key (PKCS#1 DER) and its signatures of MESSAGE, made by Python's
    // cryptography; an RSA-512 key and a signature, made by openssl.
    const PUB1024: &str = concat!(
        "MIGJAoGBAOQ4oqM8cK5CRnQP8zpbH7QtFJXRvA/wfli7ioEpNZP/E/ryvnnE5ikYAGFvM1agDfbq",
        "rGolGgphyHPVByKDfUWXtnEiC7IaTu77E7z/iNUykrGVlk3Pv/jdOs4k9Ex1YQjGkPhOG7sQr71W",
        "KaBa+8SMPfLyajS4NTzEtY7yKQ1TAgMBAAE=",
    );
    const PSS256: &str = concat!(
        "U8IMDZzdMswodix0a+G0rRppDVXXP57xuhrooN+PQy8GcA0G3XPyLF0ayxQsJthJH5nGmEWqglZc",
        "mz5gy2BEgLtWeh6PvWf/32Q7sajWhdM8qeGhLG3rDY9stQG7PTH6qJcGQjB7Jh3tbsmRBnGvdC5b",
        "EW6P4sVUVPoP7rg2FAY=",
    );
    const PSS384: &str = concat!(
        "rz1c6tETnsK1o6DVn/wcoqpXkUQVpUjN9KWkHqovqJN9jKheEe3FoGsAtgerzCJilYdioXp/QDqg",
        "3hTCh7wlCfeF/io+OwVZxFN7chIfi9+jZeSl3Nj7KQJhkRfu0ybG8DGmtW1XNuhDhl+WOjtDVEH8",
        "xzP6VLKdiJVWelj5PgE=",
    );
    const PKCS256: &str = concat!(
        "4qN38YsJ7T0wpWdWMmR/A1dTlIhsP+KjiIv3UMsZc0kB6i1PPKS+XFUSWj4DN1Nw0Fwcz/a4N0yb",
        "5fbyvRbYpORhO71QViGrL/OBFzEGPhsVNy8TdVDjoNF6te+gY1Vlp2UfErDqbLjHZRdvXaog6uC2",
        "xNYDQjxo+cr1cg7xsVA=",
    );
    const PKCS384: &str = concat!(
        "1TPlUdWD0WHPJHaXTXcEQ9nlAD3/aq5Y86y2yxbY8Cayr3SoE/+U7Qdab/GP9Zyf73i+wpai8nye",
        "KR5QTQ0dU73Djj2RXv+wieP/wyL36JpQ60x57WgPmf3vCOIA6WJoL2e2HpIEh7CYHJtj3RM2FBCn",
        "rRbG+7kg9FNRcSk+OFI=",
    );
    const PUB512: &str = concat!(
        "MEgCQQC6UeSJK2CQ47e6AMbsDNwt2zashXZwbTBQHnOyPCJ8CrOPBn5KDNiPjmVC2ZQz6ZRj6N8t",
        "jurFoWDtg+12Q3AxAgMBAAE=",
    );
    const PKCS256_512: &str = concat!(
        "Y5A+9RKOmo90Pqwe4+1D10sGgbxvbOedZyzfDeNdTdM4a3eSsjAzezEov9uXsY2LQdWKp+Po1ch5",
        "qY7ydbaEVw==",
    );

    // Another RSA-1024 key and a PKCS#1 SHA-512 signature of MESSAGE (Python's
    // cryptography: PSS with SHA-512 needs more than 1024 bits).
    const PUB1024_B: &str = concat!(
        "MIGJAoGBAN9YqvuNDswR2RsB2tywMvpY7OgSR8sWeKmga9tcBk0GBPlJnyIeQ8gG60ohgNBUiEVW",
        "t3p5QdQovGHmTEBrwgbs7TvPLJtAY0refS/fSmY9UwJL9oH8Om0n5KP7uXbpbQLE4pk+3k+ZjcU/",
        "ZoJVy8qkKLzOGoW6dnxgIpsl8o6dAgMBAAE=",
    );
    const PKCS512_B: &str = concat!(
        "VShGapTqrXT/reiBPXhNYq8EIZDcQ1bwdDZk50h1RMt2svnsCnBbOnn6IPwZ7gehg4hSlMnbkFMc",
        "35u1JZb0B3JRzkZsd+nBwmS/TgoHHEW5Tt3M4fq9S9VRXbQyAHdNy9Bw9aGlEk2CiW1QF0rGOUQh",
        "aovNl/gzvvyO63pgyH0=",
    );
    // An RSA-2048 key and its RSA-PSS SHA-256 signature of MESSAGE; a P-521 key (SEC1
    // point) and its ECDSA SHA-512 signature (DER), as Go plugins sign; both made by
    // Python's cryptography.
    const PUB2048: &str = concat!(
        "MIIBCgKCAQEAtdI6+XI8lpnKN4PPH4U4n5ceBh3y4EfjZVOU+2zT7Vk3aNBfPekG70EY+M0ZQjAd",
        "a+kGvnwd9HpjSZ90SUf/D8P54jjuonmpFvAQJByH8HAOS+Xe6ajK9d7ddJdsnejyZqK8//B5phUe",
        "4V0czgub2VQJKlhSPtgwL4MfC3gj74bwCrJCC2IW4xMYK+KZ+BWPvy3QPvWIJ9YqbLvqUcm9mJop",
        "OMpsLUYTvscUeR5Ix64rHkMlHcTd5kPf28lz1By0/LFHR0Dpnm/IckONolLAPqMmqUS8RzQvr8rA",
        "VFDMB0wA7tvwq+QrtiL1seP4MXxazjzK9aLbpqPiBgLG/smmHwIDAQAB",
    );
    const PSS256_2048: &str = concat!(
        "cjgLsy0uItLzQAgY3Rwo15NK9P9zoyDrOWtttI911Nb1SIy9pvIILV81XLvHgyrxtFCnvrD62cLb",
        "h2125p3wqmEbVO2xuIDpuakFfbRPFWarqy305oTXDrfTVE2H+ACXzRBWUGcKr28mtzuw2Pc5vN5A",
        "S3gAUX+OKnh3Aij1ZN+QEHVcxjf1OkuriYCx1woLtXlxF8rk6aapGKyhITerQWnbCsNj0SHEFWaJ",
        "2obsJd2U6UZGPlK5xjmgzUrKe5RGgApwvYAiWH8N9UrYmIFNzXLBTZBvvGvlJFDSczgsL2s0+Kn0",
        "dyuHIRINCE/DdXm7sOWexDPWtBZp+LV7Wu4K0Q==",
    );
    const PUB_P521: &str = concat!(
        "BAB40BBM2T2hkhBNrkgxMFCex/3qghGYCdsp8bgjeaEOyalLz2MDqlPr9dX35eiBRd3QsVPRf9Bf",
        "LYyXk+iO1Ba/dQD2dpGgJ0sWEsRDvU15+LS3TK/jGGUfy+vH553VHI+yfMVGApYVQxX/5orxYj37",
        "dQmgcPU+PZVEBe69r7ZGHWelPg==",
    );
    const SIG_P521: &str = concat!(
        "MIGIAkIA5cIMsmSH5sl3KT4LYO1oPIPKq61VmCDA9WcufotBjC/MB7Zpd/BLbyuFK3Qy/SqQiHap",
        "ABgE81LDAUX9wI5C20UCQgDwXxj80Nawv5H00MK/V5dQYrr9QN/pCC9WGIIjsQOrUPYdCD2R8ZPI",
        "2y6Dv/5Bkm223CWYJufder/jC1qNzNMUFw==",
    );

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    /// The algorithm TLS 1.3 would use for `scheme`: the first of its mapping.
    fn first(
        algs: &WebPkiSupportedAlgorithms,
        scheme: SignatureScheme,
    ) -> &'static dyn SignatureVerificationAlgorithm {
        algs.mapping
            .iter()
            .find(|(s, _)| *s == scheme)
            .map(|(_, a)| a[0])
            .unwrap()
    }

    #[test]
    fn rsa_1024_signatures_verify_for_the_pinned_certificate_only() {
        let base = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        let key = b64(PUB1024);
        for (scheme, sig) in [
            (SignatureScheme::RSA_PSS_SHA256, PSS256),
            (SignatureScheme::RSA_PSS_SHA384, PSS384),
            (SignatureScheme::RSA_PKCS1_SHA256, PKCS256),
            (SignatureScheme::RSA_PKCS1_SHA384, PKCS384),
        ] {
            let sig = b64(sig);
            let pinned = first(pinned_algorithms(), scheme);
            assert!(
                pinned.verify_signature(&key, MESSAGE, &sig).is_ok(),
                "{scheme:?}"
            );
            assert!(pinned
                .verify_signature(&key, b"another message", &sig)
                .is_err());
            // rustls's own algorithms refuse the key.
            assert!(first(&base, scheme)
                .verify_signature(&key, MESSAGE, &sig)
                .is_err());
        }
        // A signature is checked with the scheme it claims.
        let pss = b64(PSS256);
        let pkcs1 = first(pinned_algorithms(), SignatureScheme::RSA_PKCS1_SHA256);
        assert!(pkcs1.verify_signature(&key, MESSAGE, &pss).is_err());

        let (key, sig) = (b64(PUB1024_B), b64(PKCS512_B));
        let pkcs1 = first(pinned_algorithms(), SignatureScheme::RSA_PKCS1_SHA512);
        assert!(pkcs1.verify_signature(&key, MESSAGE, &sig).is_ok());
        assert!(pkcs1.verify_signature(&key, b"x", &sig).is_err());
        assert!(first(&base, SignatureScheme::RSA_PKCS1_SHA512)
            .verify_signature(&key, MESSAGE, &sig)
            .is_err());
    }

    #[test]
    fn rsa_keys_under_1024_bits_are_refused() {
        let alg = first(pinned_algorithms(), SignatureScheme::RSA_PKCS1_SHA256);
        assert!(alg
            .verify_signature(&b64(PUB512), MESSAGE, &b64(PKCS256_512))
            .is_err());
    }

    #[test]
    fn rsa_2048_signatures_still_verify() {
        let (key, sig) = (b64(PUB2048), b64(PSS256_2048));
        let alg = first(pinned_algorithms(), SignatureScheme::RSA_PSS_SHA256);
        assert!(alg.verify_signature(&key, MESSAGE, &sig).is_ok());
        assert!(alg.verify_signature(&key, b"x", &sig).is_err());
    }

    #[test]
    fn ecdsa_p521_sha512_signatures_verify() {
        let (key, sig) = (b64(PUB_P521), b64(SIG_P521));
        // TLS 1.3 and Go's TLS 1.2 sign with this scheme for a P-521 key.
        let alg = first(pinned_algorithms(), SignatureScheme::ECDSA_NISTP521_SHA512);
        assert_eq!(
            alg.public_key_alg_id(),
            rustls::pki_types::alg_id::ECDSA_P521
        );
        assert!(alg.verify_signature(&key, MESSAGE, &sig).is_ok());
        assert!(alg.verify_signature(&key, b"x", &sig).is_err());
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(alg.verify_signature(&key, MESSAGE, &bad).is_err());
        assert!(pinned_algorithms()
            .supported_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }
}
