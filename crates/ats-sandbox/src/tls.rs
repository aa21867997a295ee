//! HTTPS for the emulator: Microsoft's client libraries accept only an `https` authority. Either a CA made
//! at start (its certificate written to `ca_file` for clients to trust, its key kept in memory) signing a
//! server certificate for `127.0.0.1`, `localhost` and `::1`, or the caller's own certificate and key.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Where the server certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// Make a CA and a server certificate now; write the CA certificate to `dir/ca.pem`.
    Generate { dir: PathBuf },
    /// The caller's PEM certificate chain and private key; clients trust the chain's file.
    Files { cert: PathBuf, key: PathBuf },
}

/// A server configuration and the file a client trusts to reach it.
pub(crate) struct TlsSetup {
    pub config: Arc<ServerConfig>,
    pub ca_file: PathBuf,
}

/// The names the generated server certificate is valid for: every loopback spelling a client may use.
const SERVER_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

impl TlsSource {
    pub(crate) fn setup(&self) -> io::Result<TlsSetup> {
        match self {
            TlsSource::Generate { dir } => generate(dir),
            TlsSource::Files { cert, key } => {
                let chain = read_chain(cert)?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| invalid(format!("TLS key {}: {e}", key.display())))?;
                Ok(TlsSetup {
                    config: server_config(chain, key)?,
                    ca_file: cert.clone(),
                })
            }
        }
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn read_chain(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid(format!("TLS certificate {}: {e}", path.display())))?;
    if chain.is_empty() {
        return Err(invalid(format!(
            "TLS certificate {}: no CERTIFICATE block",
            path.display()
        )));
    }
    Ok(chain)
}

fn generate(dir: &Path) -> io::Result<TlsSetup> {
    let rc = |e: rcgen::Error| io::Error::other(format!("TLS certificate generation: {e}"));
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "ats-sandbox local CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(rc)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(rc)?;
    let issuer = Issuer::new(ca, ca_key);

    let names: Vec<String> = SERVER_NAMES.iter().map(|s| s.to_string()).collect();
    let mut leaf = CertificateParams::new(names).map_err(rc)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    // Python 3.13's strict verification wants the AKI and the usages on the leaf.
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().map_err(rc)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(rc)?;

    std::fs::create_dir_all(dir)?;
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem())?;
    let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).map_err(|e| invalid(e.into()))?;
    Ok(TlsSetup {
        config: server_config(vec![leaf_cert.der().clone(), ca_cert.der().clone()], key)?,
        ca_file,
    })
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> io::Result<Arc<ServerConfig>> {
    // An explicit provider: the build links more than one rustls backend, so there is no single default.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid(format!("TLS certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener that hands axum only connections whose handshake completed. Handshakes run in their own
/// tasks, so a slow or plain-HTTP client does not hold up the others.
pub(crate) struct TlsListener {
    addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    acceptor: tokio::task::JoinHandle<()>,
}

/// A client that does not finish its handshake within this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsListener {
    pub(crate) fn new(listener: TcpListener, config: Arc<ServerConfig>) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "sandbox tls: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let conn_tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = conn_tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, %peer, "sandbox tls: handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "sandbox tls: handshake timed out"),
                    }
                });
                if tx.is_closed() {
                    break;
                }
            }
        });
        Ok(Self {
            addr,
            ready,
            acceptor: task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The acceptor task is gone (it never ends on its own): no more connections, as when closed.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
