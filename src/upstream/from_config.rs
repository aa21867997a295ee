//! The Dataverse client for the gateway's `[dataverse]` section: the credential (certificate files
//! or client secret), the token provider and the resilience settings. `serve` and `doctor` build
//! theirs here.

use std::time::Duration;

use super::{ClientCredential, DataverseClient, Secret, TokenConfig, TokenProvider, UpstreamError};
use crate::config::DataverseConfig;

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A configured file could not be read (`key` names the setting).
    #[error("{key}: {problem}")]
    Read { key: &'static str, problem: String },
    #[error("dataverse: {0}")]
    Upstream(#[from] UpstreamError),
}

/// The Dataverse client for a config: certificate when configured, else the client secret.
pub fn dataverse_client(
    d: &DataverseConfig,
    default_deadline: Duration,
) -> Result<DataverseClient, SetupError> {
    let credential = match (&d.certificate_file, &d.private_key_file) {
        (Some(cert), Some(key)) => {
            let read = |p: &std::path::PathBuf, k: &'static str| {
                std::fs::read_to_string(p).map_err(|e| SetupError::Read {
                    key: k,
                    problem: format!("cannot read {} ({e})", p.display()),
                })
            };
            let cert_pem = read(cert, "dataverse.certificate_file")?;
            let key_pem = read(key, "dataverse.private_key_file")?;
            ClientCredential::Certificate(super::CertificateCredential::from_pem(
                &cert_pem,
                &Secret::new(key_pem),
            )?)
        }
        _ => ClientCredential::Secret(Secret::new(d.client_secret.expose())),
    };
    let tokens = TokenProvider::new(TokenConfig::for_dataverse(
        &d.authority,
        &d.tenant_id,
        &d.client_id,
        &d.org_url,
        credential,
    ))?;
    let mut cfg = super::DataverseConfig::new(&d.org_url);
    cfg.default_deadline = default_deadline;
    cfg.resilience = super::ResilienceConfig {
        attempt_timeout: Duration::from_millis(d.timeout_ms),
        max_concurrency: d.max_concurrency,
        queue_timeout: Duration::from_millis(d.queue_timeout_ms),
        breaker_failures: d.breaker_failures,
        breaker_open: Duration::from_millis(d.breaker_open_ms),
        retry_budget: d.retry_budget_percent as f32 / 100.0,
        max_retries: d.max_retries,
        ..Default::default()
    };
    Ok(DataverseClient::new(cfg, tokens)?)
}
