//! TLS on the host side of the transport (rustls): client configs built from the guest's
//! `tls-options` (Mozilla or system roots, extra CA certificates, verification off, a client
//! identity named by the guest but held here, ALPN), the server config from PEM files
//! (encrypted PKCS#8 keys included), and handshake errors in words.

use super::error::SocketError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// ALPN protocol offered when the guest names none (CPython's HTTPSConnection and HTTPSServer default).
pub const DEFAULT_ALPN: &str = "http/1.1";

/// How to verify and present TLS as a client (the guest's `tls-options`, converted at the
/// edge). Keys are never here: a client identity is named, and held in [`ClientIdentities`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// The name sent in SNI and verified; the connect host when none.
    pub server_name: Option<String>,
    /// Verify the certificate chain and name.
    pub verify: bool,
    /// Extra trusted roots, PEM.
    pub ca_certs: Option<Vec<u8>>,
    /// The system's trust store instead of Mozilla's roots.
    pub system_roots: bool,
    /// The name of a client identity to present.
    pub client_identity: Option<String>,
    /// ALPN protocols to offer, in order (`http/1.1` when empty).
    pub alpn_protocols: Vec<String>,
}

/// What the host adds to the guest's own TLS settings for a whole session: an operator's
/// choice (`httplib run --cacert`, `-k`), not the app's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TrustOverride {
    /// The guest's settings, as they are.
    #[default]
    AsAsked,
    /// These roots (PEM) trusted too.
    ExtraRoots(Vec<u8>),
    /// No verification of chain or name (curl's `-k`).
    Insecure,
}

impl TrustOverride {
    /// The guest's `settings` with this override applied.
    pub fn apply(&self, mut settings: TlsSettings) -> TlsSettings {
        match self {
            TrustOverride::AsAsked => {}
            TrustOverride::ExtraRoots(pem) => {
                let mut roots = settings.ca_certs.take().unwrap_or_default();
                if !roots.is_empty() && !roots.ends_with(b"\n") {
                    roots.push(b'\n');
                }
                roots.extend_from_slice(pem);
                settings.ca_certs = Some(roots);
            }
            TrustOverride::Insecure => settings.verify = false,
        }
        settings
    }
}

/// A certificate chain and its key.
pub struct Identity {
    /// The certificate chain, leaf first.
    pub certs: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    /// From PEM files: the chain, and the key (from the chain's file when `key_file` is none),
    /// decrypted with `password` when it is an encrypted PKCS#8 key.
    pub fn from_pem_files(
        cert_file: &std::path::Path,
        key_file: Option<&std::path::Path>,
        password: Option<&str>,
    ) -> anyhow::Result<Self> {
        let cert_pem = std::fs::read(cert_file).map_err(|e| anyhow::anyhow!("{}: {e}", cert_file.display()))?;
        let certs = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("{}: {e}", cert_file.display()))?;
        if certs.is_empty() {
            anyhow::bail!("{}: no certificate found", cert_file.display());
        }
        let key_pem = match key_file {
            Some(k) => std::fs::read(k).map_err(|e| anyhow::anyhow!("{}: {e}", k.display()))?,
            None => cert_pem,
        };
        let key = load_key(&key_pem, password)?;
        Ok(Self { certs, key })
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            certs: self.certs.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// A private key from PEM: PKCS#8, PKCS#1 or SEC1, or an encrypted PKCS#8 key with `password`.
pub fn load_key(pem: &[u8], password: Option<&str>) -> anyhow::Result<PrivateKeyDer<'static>> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let Some(password) = password else {
            anyhow::bail!("the private key is encrypted: give its password (--tls-password-file)");
        };
        let start = text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----").unwrap_or(0);
        let end_marker = "-----END ENCRYPTED PRIVATE KEY-----";
        let end = text[start..]
            .find(end_marker)
            .map(|i| start + i + end_marker.len())
            .unwrap_or(text.len());
        let (label, der) = pkcs8::der::pem::decode_vec(text[start..end].as_bytes())
            .map_err(|e| anyhow::anyhow!("reading the encrypted key: {e}"))?;
        if label != "ENCRYPTED PRIVATE KEY" {
            anyhow::bail!("unexpected PEM label {label:?}");
        }
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
            .map_err(|e| anyhow::anyhow!("reading the encrypted key: {e}"))?;
        let plain = info
            .decrypt(password)
            .map_err(|_| anyhow::anyhow!("cannot decrypt the private key: wrong password?"))?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            plain.as_bytes().to_vec(),
        )));
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| anyhow::anyhow!("no usable private key: {e}"))
}

/// Client identities the embedder holds, by the name the guest uses for them.
#[derive(Clone, Default)]
pub struct ClientIdentities(pub HashMap<String, Identity>);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

fn mozilla_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn system_roots() -> RootCertStore {
    let mut store = RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = store.add(cert);
    }
    store
}

/// The rustls client config for one connection's `tls-options`.
pub fn client_config(options: &TlsSettings, identities: &ClientIdentities) -> Result<Arc<ClientConfig>, SocketError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| SocketError::Tls(e.to_string()))?;
    let builder = if options.verify {
        let mut roots = if options.system_roots {
            system_roots()
        } else {
            mozilla_roots()
        };
        let mut pinned = Vec::new();
        if let Some(pem) = &options.ca_certs {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| SocketError::Tls(format!("CA certificates: {e}")))?;
                roots
                    .add(cert.clone())
                    .map_err(|e| SocketError::Tls(format!("CA certificate: {}", describe_rustls(&e))))?;
                pinned.push(cert);
            }
            if pinned.is_empty() {
                return Err(SocketError::Tls("CA file holds no certificate".into()));
            }
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| SocketError::Tls(format!("certificate verifier: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(TrustedOrPinned { webpki, pinned }))
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
    };
    let mut config = match &options.client_identity {
        Some(name) => {
            let id = identities
                .0
                .get(name)
                .ok_or_else(|| SocketError::Denied(format!("no client identity named {name:?}")))?;
            builder
                .with_client_auth_cert(id.certs.clone(), id.key.clone_key())
                .map_err(|e| SocketError::Tls(format!("client certificate: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn(&options.alpn_protocols);
    Ok(Arc::new(config))
}

/// The server config: the identity, ALPN (default `http/1.1`, as HTTPSServer's `alpn_protocols`).
pub fn server_config(identity: Identity, alpn_protocols: &[String]) -> anyhow::Result<Arc<ServerConfig>> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(identity.certs, identity.key)?;
    config.alpn_protocols = alpn(alpn_protocols);
    Ok(Arc::new(config))
}

fn alpn(protocols: &[String]) -> Vec<Vec<u8>> {
    if protocols.is_empty() {
        vec![DEFAULT_ALPN.as_bytes().to_vec()]
    } else {
        protocols.iter().map(|p| p.as_bytes().to_vec()).collect()
    }
}

/// The name to send in SNI and verify: `server_name` if given, else the host.
pub fn server_name(host: &str, options: &TlsSettings) -> Result<ServerName<'static>, SocketError> {
    let name = options.server_name.as_deref().unwrap_or(host);
    let name = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(name.to_string()).map_err(|_| SocketError::Tls(format!("invalid server name {name:?}")))
}

/// A rustls failure as a transport error: a certificate that failed verification is
/// `Certificate` (Python's `SSLCertVerificationError`), anything else `Tls`; in words.
pub fn error(e: &rustls::Error) -> SocketError {
    match e {
        rustls::Error::InvalidCertificate(_) => SocketError::Certificate(describe_rustls(e)),
        _ => SocketError::Tls(describe_rustls(e)),
    }
}

/// A rustls error in words (as OpenSSL's reasons read), never a Rust `Debug` string.
pub fn describe_rustls(e: &rustls::Error) -> String {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(c) => format!("certificate verify failed: {}", describe_cert(c)),
        E::AlertReceived(alert) => format!("the peer sent the alert \"{}\"", words(&format!("{alert:?}"))),
        E::PeerIncompatible(why) => format!("the peer is incompatible: {}", words(&format!("{why:?}"))),
        E::PeerMisbehaved(why) => format!("the peer misbehaved: {}", words(&format!("{why:?}"))),
        E::InvalidMessage(why) => format!("received a corrupt TLS message: {}", words(&format!("{why:?}"))),
        E::InappropriateMessage { got_type, .. } => {
            format!(
                "received an unexpected TLS message ({})",
                words(&format!("{got_type:?}"))
            )
        }
        E::InappropriateHandshakeMessage { got_type, .. } => {
            format!(
                "received an unexpected handshake message ({})",
                words(&format!("{got_type:?}"))
            )
        }
        E::General(text) => text.clone(),
        E::Other(other) => words(&other.0.to_string()),
        other => words(&other.to_string()),
    }
}

/// `HandshakeFailure` as "handshake failure", `Tls12NotOffered` as "tls12 not offered"; a
/// variant's fields (after `(` or `{`) are dropped, since they are Rust syntax, not words.
fn words(debug: &str) -> String {
    let name = debug.split(['(', '{']).next().unwrap_or(debug).trim();
    if name.contains(' ') {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 8);
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn describe_cert(c: &CertificateError) -> String {
    match c {
        CertificateError::UnknownIssuer => "unable to get local issuer certificate (unknown issuer)".into(),
        CertificateError::NotValidForName => "hostname mismatch (name mismatch)".into(),
        CertificateError::NotValidForNameContext { expected, presented } => {
            // webpki presents the certificate's names as `DnsName("a")` / `IpAddress(1.2.3.4)`.
            let names: Vec<&str> = presented
                .iter()
                .map(|p| match p.split_once('(') {
                    Some((_, inner)) => inner.trim_end_matches(')').trim_matches('"'),
                    None => p.as_str(),
                })
                .collect();
            let valid_for = match names.is_empty() {
                true => "no names".to_string(),
                false => names.join(", "),
            };
            format!(
                "hostname mismatch, certificate is not valid for '{}' but for {valid_for} (name mismatch)",
                expected.to_str()
            )
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "certificate has expired (expired)".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate is not yet valid".into()
        }
        CertificateError::Revoked => "certificate revoked".into(),
        CertificateError::BadSignature => "bad certificate signature".into(),
        CertificateError::BadEncoding => "the certificate is malformed".into(),
        CertificateError::UnhandledCriticalExtension => "unhandled critical extension".into(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "the certificate is not for a TLS server (invalid purpose)".into()
        }
        CertificateError::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(webpki::Error::CaUsedAsEndEntity) => {
                "self-signed certificate (a CA certificate presented as the server's own)".into()
            }
            _ => words(&other.0.to_string()),
        },
        other => words(&other.to_string()),
    }
}

/// Verification with the roots, plus curl's and CPython's acceptance of a self-signed
/// certificate given with `--cacert` / `cafile` that is itself the server's certificate: webpki
/// refuses such a certificate (`openssl req -x509` marks it CA:TRUE) as a CA used as an end
/// entity, after it has checked its validity dates; here it is accepted only when its bytes are
/// those of a given certificate, and only if it is valid for the server's name.
#[derive(Debug)]
struct TrustedOrPinned {
    webpki: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl TrustedOrPinned {
    fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
        match e {
            rustls::Error::InvalidCertificate(CertificateError::Other(other)) => matches!(
                other.0.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            ),
            _ => false,
        }
    }
}

impl ServerCertVerifier for TrustedOrPinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(e) if Self::is_ca_used_as_end_entity(&e) && self.pinned.iter().any(|p| p[..] == end_entity[..]) => {
                verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// `-k` / `--insecure` / `verify: false`: accept any certificate (signatures still checked).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
