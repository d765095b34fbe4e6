//! TLS for the query front: loads a PEM certificate chain and private key into a `TlsAcceptor`, and
//! bounds how long a new connection may take to finish its handshake.
//!
//! Owns only the loading and the handshake; serving the decrypted stream is `serve`'s. The forwarding from
//! the front to the frontend's own query server stays plain HTTP: it is on loopback and never leaves the
//! host. Uses rustls with the `ring` provider (no cmake/aws-lc build).

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a connection has to complete its TLS handshake, so a silent client cannot hold a task.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the certificate chain (`--tls-cert`) and private key (`--tls-key`) and checks that they match.
/// Errors name the flag and the file.
pub fn load(cert_path: &str, key_path: &str) -> Result<TlsAcceptor, String> {
    let cert_pem = read(cert_path, "--tls-cert")?;
    let key_pem = read(key_path, "--tls-key")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--tls-cert \"{cert_path}\" is not valid PEM: {e}"))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert \"{cert_path}\" holds no PEM certificate"
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("--tls-key \"{key_path}\" holds no usable PEM private key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("Cannot set up TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            format!("--tls-key \"{key_path}\" does not fit --tls-cert \"{cert_path}\": {e}")
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read(path: &str, flag: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("Cannot read {flag} \"{path}\": {e}"))
}

/// Completes the server side of the handshake within `HANDSHAKE_TIMEOUT`; `None` when the client fails
/// or stays silent (its connection is dropped).
pub async fn handshake<S>(acceptor: &TlsAcceptor, stream: S) -> Option<TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files {
        dir: std::path::PathBuf,
    }

    impl Files {
        fn new(name: &str) -> Files {
            let dir =
                std::env::temp_dir().join(format!("clipper-tls-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Files { dir }
        }
        fn write(&self, name: &str, text: &str) -> String {
            let path = self.dir.join(name);
            std::fs::write(&path, text).unwrap();
            path.to_string_lossy().into_owned()
        }
    }

    impl Drop for Files {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn pair() -> (String, String) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        (made.cert.pem(), made.key_pair.serialize_pem())
    }

    #[test]
    fn a_matching_certificate_and_key_load() {
        let files = Files::new("good");
        let (cert, key) = pair();
        let acceptor = load(&files.write("c.pem", &cert), &files.write("k.pem", &key));
        assert!(acceptor.is_ok(), "{:?}", acceptor.err());
    }

    #[test]
    fn a_missing_file_names_its_flag_and_path() {
        let files = Files::new("missing");
        let (_, key) = pair();
        let missing = files.dir.join("absent.pem").to_string_lossy().into_owned();
        let err = load(&missing, &files.write("k.pem", &key)).err().unwrap();
        assert!(
            err.contains("--tls-cert") && err.contains(&missing),
            "{err}"
        );
    }

    #[test]
    fn a_file_without_a_certificate_is_refused() {
        let files = Files::new("garbage");
        let (_, key) = pair();
        let garbage = files.write("c.pem", "not a certificate\n");
        let err = load(&garbage, &files.write("k.pem", &key)).err().unwrap();
        assert!(
            err.contains("--tls-cert") && err.contains(&garbage),
            "{err}"
        );
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let files = Files::new("mismatch");
        let (cert, _) = pair();
        let (_, other_key) = pair();
        let err = load(
            &files.write("c.pem", &cert),
            &files.write("k.pem", &other_key),
        )
        .err()
        .unwrap();
        assert!(err.contains("does not fit"), "{err}");
    }
}
