//! Test TLS: a private CA and a leaf certificate for 127.0.0.1, localhost, the Dropbox API
//! host names and any extra names asked for. Kept in a directory so that restarts reuse
//! the same CA (clients keep trusting `ca.pem`).

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Names every leaf certificate carries.
pub const DEFAULT_SANS: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "api.dropboxapi.com",
    "content.dropboxapi.com",
    "notify.dropboxapi.com",
    "www.dropbox.com",
];

/// A server TLS configuration and the CA file clients should trust.
pub struct Tls {
    /// For the listener.
    pub config: Arc<rustls::ServerConfig>,
    /// PEM of the CA.
    pub ca_file: PathBuf,
}

/// Load the CA and leaf from `dir`, or create them there.
pub fn load_or_create(dir: &Path, extra_sans: &[String]) -> anyhow::Result<Tls> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating TLS dir {}", dir.display()))?;
    let ca_file = dir.join("ca.pem");
    let ca_key_file = dir.join("ca-key.pem");
    let cert_file = dir.join("cert.pem");
    let key_file = dir.join("key.pem");
    let sans_file = dir.join("sans.txt");
    let mut sans: Vec<String> = DEFAULT_SANS.iter().map(|s| s.to_string()).collect();
    for s in extra_sans {
        if !sans.contains(s) {
            sans.push(s.clone());
        }
    }
    let wanted = sans.join("\n");
    let have_ca = ca_file.exists() && ca_key_file.exists();
    let leaf_current = cert_file.exists()
        && key_file.exists()
        && std::fs::read_to_string(&sans_file).ok().as_deref() == Some(wanted.as_str());
    if !have_ca || !leaf_current {
        // The CA's parameters are fixed, so a saved CA key re-creates the same issuer and
        // new leaves verify against the saved ca.pem.
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "dropbox-emulator test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = if have_ca {
            KeyPair::from_pem(&std::fs::read_to_string(&ca_key_file)?)?
        } else {
            let key = KeyPair::generate()?;
            let cert = ca_params.self_signed(&key)?;
            write_private(&ca_key_file, &key.serialize_pem())?;
            std::fs::write(&ca_file, cert.pem())?;
            key
        };
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "dropbox-emulator");
        for s in &sans {
            params
                .subject_alt_names
                .push(match s.parse::<std::net::IpAddr>() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => SanType::DnsName(s.clone().try_into()?),
                });
        }
        let leaf = params.signed_by(&leaf_key, &issuer)?;
        std::fs::write(&cert_file, leaf.pem())?;
        write_private(&key_file, &leaf_key.serialize_pem())?;
        std::fs::write(&sans_file, &wanted)?;
    }
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(std::fs::File::open(
        &cert_file,
    )?))
    .collect::<Result<Vec<_>, _>>()?;
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(std::fs::File::open(
        &key_file,
    )?))?
    .context("no private key in key.pem")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    // HTTP/2 when the client offers it, as api.dropboxapi.com and content.dropboxapi.com do
    // (their ALPN answer is `h2`); HTTP/1.1 otherwise, and a client that offers just
    // http/1.0 must not be refused the handshake.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), b"http/1.0".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        ca_file,
    })
}

fn write_private(path: &Path, data: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data.as_bytes())?;
    Ok(())
}
