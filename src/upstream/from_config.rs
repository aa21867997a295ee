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
    let credential = credential(d)?;
    let token_config = TokenConfig::for_dataverse(
        &d.authority,
        &d.tenant_id,
        &d.client_id,
        &d.org_url,
        credential,
    );
    let extra_roots = extra_roots(d)?;
    // The same trust for the token endpoint as for Dataverse: a proxy or the sandbox sits before both.
    let token_http = reqwest::Client::builder()
        .timeout(token_config.timeout)
        .tls_certs_merge(extra_roots.iter().cloned())
        .build()
        .map_err(|e| UpstreamError::Config(format!("http client: {e}")))?;
    let tokens = TokenProvider::with_http(token_config, token_http);
    let mut cfg = super::DataverseConfig::new(&d.org_url);
    cfg.extra_roots = extra_roots;
    cfg.default_deadline = default_deadline;
    cfg.resilience = super::ResilienceConfig {
        attempt_timeout: Duration::from_millis(d.timeout_ms),
        max_concurrency: d.max_concurrency,
        queue_timeout: Duration::from_millis(d.queue_timeout_ms),
        breaker_failures: d.breaker_failures,
        breaker_open: Duration::from_millis(d.breaker_open_ms),
        retry_budget: d.retry_budget_percent as f32 / 100.0,
        max_retries: d.max_retries,
        budget_window: Duration::from_secs(d.budget_window_secs.max(1)),
        ..Default::default()
    };
    Ok(DataverseClient::new(cfg, tokens)?)
}

/// The credential a config names: the certificate files when set, else `client_secret_file` (read
/// now, so a rotation that rewrote it is seen), else `client_secret`.
pub fn credential(d: &DataverseConfig) -> Result<ClientCredential, SetupError> {
    let read = |p: &std::path::PathBuf, k: &'static str| {
        std::fs::read_to_string(p).map_err(|e| SetupError::Read {
            key: k,
            problem: format!("cannot read {} ({e})", p.display()),
        })
    };
    Ok(match (&d.certificate_file, &d.private_key_file) {
        (Some(cert), Some(key)) => {
            let cert_pem = read(cert, "dataverse.certificate_file")?;
            let key_pem = read(key, "dataverse.private_key_file")?;
            ClientCredential::Certificate(super::CertificateCredential::from_pem(
                &cert_pem,
                &Secret::new(key_pem),
            )?)
        }
        _ => match &d.client_secret_file {
            Some(f) => {
                let s = read(f, "dataverse.client_secret_file")?;
                if s.trim().is_empty() {
                    return Err(SetupError::Read {
                        key: "dataverse.client_secret_file",
                        problem: format!("{} is empty", f.display()),
                    });
                }
                ClientCredential::Secret(Secret::new(s.trim()))
            }
            None => ClientCredential::Secret(Secret::new(d.client_secret.expose())),
        },
    })
}

/// The certificates of `[dataverse] ca_file`; none configured is none added.
fn extra_roots(d: &DataverseConfig) -> Result<Vec<reqwest::Certificate>, SetupError> {
    let Some(path) = &d.ca_file else {
        return Ok(Vec::new());
    };
    let problem = |problem: String| SetupError::Read {
        key: "dataverse.ca_file",
        problem,
    };
    let pem = std::fs::read(path)
        .map_err(|e| problem(format!("cannot read {} ({e})", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| problem(format!("{}: not PEM certificates ({e})", path.display())))?;
    if certs.is_empty() {
        return Err(problem(format!("{}: no CERTIFICATE block", path.display())));
    }
    Ok(certs)
}
