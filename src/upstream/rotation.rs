//! Rotation of the Dataverse client credential without a restart: on SIGHUP, or when the config
//! file, `client_secret_file` or the certificate files change, the credential is read again; a new
//! one must first get a token ([`TokenProvider::rotate`]) before it replaces the one in force. A
//! refused one is logged with its AADSTS code and tried again later (Entra can take a while to
//! accept a secret just added), while the old one keeps serving.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use super::{ClientCredential, TokenProvider, UpstreamError};
use crate::config::DataverseConfig;

/// First wait before a refused new credential is tried again; doubles up to [`RETRY_CAP`].
const RETRY_BASE: Duration = Duration::from_secs(5);
const RETRY_CAP: Duration = Duration::from_secs(300);

/// Where a rotation reads the `[dataverse]` section from (the config file and environment, as at
/// start). Without one, the files the section in force names are read again.
pub struct CredentialSource {
    pub load: Box<dyn Fn() -> Result<DataverseConfig, String> + Send + Sync>,
    /// Files whose change triggers a re-read, besides the credential files (the main config file).
    pub watch: Vec<PathBuf>,
}

/// The `[dataverse]` section whose credential is in force: the credential-expiry metric follows it.
#[derive(Clone)]
pub struct InForce(Arc<Mutex<Arc<DataverseConfig>>>);

impl InForce {
    pub fn new(d: DataverseConfig) -> Self {
        Self(Arc::new(Mutex::new(Arc::new(d))))
    }

    pub fn get(&self) -> Arc<DataverseConfig> {
        match self.0.lock() {
            Ok(d) => Arc::clone(&d),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn set(&self, d: DataverseConfig) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Arc::new(d);
        }
    }
}

/// A new credential not in force yet, and when to try it again.
struct Pending {
    config: DataverseConfig,
    credential: ClientCredential,
    failures: u32,
    next_try: Instant,
}

/// Watches for a new credential until `shutdown`; `poll` is how often files are checked.
pub fn spawn(
    tokens: TokenProvider,
    in_force: InForce,
    source: Option<CredentialSource>,
    poll: Duration,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    // Installed now, not in the task: a SIGHUP right after start must not end the process.
    #[cfg(unix)]
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .inspect_err(|e| tracing::warn!(error = %e, "no SIGHUP handler for credential rotation"))
        .ok();
    #[cfg(not(unix))]
    let hup: Option<()> = None;
    tokio::spawn(async move {
        let mut watcher = Watcher {
            tokens,
            in_force,
            source,
            pending: None,
        };
        let mut last = watcher.stamps();
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        #[allow(unused_mut)]
        let mut hup = hup;
        loop {
            #[cfg(unix)]
            let hangup = async {
                match hup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let hangup = {
                let _ = &mut hup;
                std::future::pending::<()>()
            };
            let forced = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => false,
                _ = hangup => true,
            };
            if forced || watcher.stamps() != last {
                watcher.reread();
            }
            watcher.try_pending().await;
            // The pending credential may name other files than the one in force.
            last = watcher.stamps();
        }
    })
}

struct Watcher {
    tokens: TokenProvider,
    in_force: InForce,
    source: Option<CredentialSource>,
    pending: Option<Pending>,
}

impl Watcher {
    /// The files whose change means a re-read: the source's, and the credential files named by the
    /// section in force and the pending one.
    fn stamps(&self) -> Vec<Option<(SystemTime, u64)>> {
        let mut files: Vec<PathBuf> = self
            .source
            .iter()
            .flat_map(|s| s.watch.iter().cloned())
            .collect();
        let current = self.in_force.get();
        files.extend(credential_files(&current));
        if let Some(p) = &self.pending {
            files.extend(credential_files(&p.config));
        }
        files.iter().map(|p| file_stamp(p)).collect()
    }

    /// Reads the section again; a credential other than the one in force becomes pending.
    fn reread(&mut self) {
        let config = match &self.source {
            Some(s) => match (s.load)() {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "dataverse credential: the configuration does not load; keeping the credential in force");
                    return;
                }
            },
            None => (*self.in_force.get()).clone(),
        };
        let credential = match super::from_config::credential(&config) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "dataverse credential: the new credential cannot be read; keeping the one in force");
                return;
            }
        };
        if Some(credential.fingerprint()) == self.tokens.credential_fingerprint() {
            // Same credential: other settings (its expiry date) may still have changed.
            self.pending = None;
            self.in_force.set(config);
            return;
        }
        tracing::info!(
            kind = credential.kind(),
            "dataverse credential changed: trying the new one for a token"
        );
        self.pending = Some(Pending {
            config,
            credential,
            failures: 0,
            next_try: Instant::now(),
        });
    }

    async fn try_pending(&mut self) {
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        if Instant::now() < p.next_try {
            return;
        }
        match self.tokens.rotate(p.credential.clone()).await {
            Ok(()) => {
                tracing::info!(
                    kind = p.credential.kind(),
                    "dataverse credential rotated: the new one got a token and is in use"
                );
                if let Some(p) = self.pending.take() {
                    self.in_force.set(p.config);
                }
            }
            Err(e) => {
                let wait = RETRY_BASE
                    .saturating_mul(1 << p.failures.min(10))
                    .min(RETRY_CAP);
                p.failures += 1;
                p.next_try = Instant::now() + wait;
                tracing::warn!(
                    kind = p.credential.kind(),
                    aadsts = aadsts(&e),
                    error = %e,
                    retry_in_s = wait.as_secs(),
                    "dataverse credential: the new one was refused; keeping the one in force"
                );
            }
        }
    }
}

/// `AADSTS7000215` and the like, when the token endpoint named one.
fn aadsts(e: &UpstreamError) -> Option<String> {
    match e {
        UpstreamError::TokenEndpoint(t) => t.aadsts.map(|c| format!("AADSTS{c}")),
        _ => None,
    }
}

fn credential_files(d: &DataverseConfig) -> impl Iterator<Item = PathBuf> + '_ {
    d.client_secret_file
        .iter()
        .chain(d.certificate_file.iter())
        .chain(d.private_key_file.iter())
        .cloned()
}

/// What identifies a version of a file: modification time and length.
use crate::file_stamp::file_stamp;
