//! Emulated Entra ID v2.0 token endpoint, client-credentials grant only (docs/entra-client-credentials.md):
//! client secret (body or HTTP Basic) or certificate (signed JWT assertion), Entra-shaped errors, and
//! verification of the issued Dataverse tokens for the emulated Dataverse API.

mod access_token;
mod assertion;
mod certs;
mod config;
mod discovery;
mod errors;
mod keys;
mod request;
mod secrets;

pub(crate) use access_token::{AccessClaims, BearerError, ClientAuth, SigningKey};
pub(crate) use config::{AppRegistration, ClientSecret, EntraConfig};
pub(crate) use errors::{json_response, AadError};
pub(crate) use secrets::SecretView;

use access_token::TokenRequest;
use assertion::{AssertionCheck, ReplayCache};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use certs::RegisteredCert;
use chrono::Utc;
use request::{Credential, TokenForm};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// The sandbox's certificate-authenticated demo app: (certificate PEM, private key PEM). Public demo keys.
pub fn demo_certificate() -> (&'static str, &'static str) {
    (keys::DEMO_CLIENT_CERT, keys::DEMO_CLIENT_KEY)
}

/// An unrelated certificate and key, for "wrong certificate" scenarios.
pub fn other_certificate() -> (&'static str, &'static str) {
    (keys::OTHER_CLIENT_CERT, keys::OTHER_CLIENT_KEY)
}

/// Test support (unit and integration tests, demo clients): signs `claims` as a client assertion with
/// `key_pem`, naming `cert_pem` in the header by SHA-256 (`x5t#S256`, PS256) or SHA-1 (`x5t`, RS256), the two
/// documented header variants (docs/entra-client-credentials.md#token-request).
pub fn sign_client_assertion(
    claims: &impl serde::Serialize,
    ps256: bool,
    cert_pem: &str,
    key_pem: &str,
) -> Result<String, String> {
    use base64::Engine;
    let cert = certs::parse_certificate(cert_pem).map_err(|e| e.to_string())?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let alg = if ps256 {
        jsonwebtoken::Algorithm::PS256
    } else {
        jsonwebtoken::Algorithm::RS256
    };
    let mut h = jsonwebtoken::Header::new(alg);
    h.typ = Some("JWT".into());
    if ps256 {
        h.x5t_s256 = Some(b64.encode(cert.sha256));
    } else {
        h.x5t = Some(b64.encode(cert.sha1));
    }
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).map_err(|e| e.to_string())?;
    jsonwebtoken::encode(&h, claims, &key).map_err(|e| e.to_string())
}

pub(crate) const PUBLIC_TOKEN_HOST: &str = "https://login.microsoftonline.com";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(crate) struct Entra {
    config: EntraConfig,
    signer: SigningKey,
    certs: HashMap<Uuid, Vec<RegisteredCert>>,
    /// The apps' client secrets now (seeded from the config; `/_sandbox/secrets` changes them).
    secrets: secrets::Secrets,
    replay: ReplayCache,
}

impl Entra {
    /// Startup: uses the embedded demo signing key, which is known to be valid.
    pub(crate) fn new(config: EntraConfig) -> Self {
        // The fixture is compiled in and covered by tests: a failure here is a build defect.
        let signer = SigningKey::from_pem(keys::TOKEN_SIGNING_KEY, keys::TOKEN_SIGNING_CERT)
            .expect("embedded token-signing fixture is valid");
        Self::with_signing_key(config, signer)
    }

    /// Same as `new` with another signing key (tests: tokens from a foreign key must be rejected).
    pub(crate) fn with_signing_key(config: EntraConfig, signer: SigningKey) -> Self {
        let certs = config
            .apps
            .iter()
            .map(|app| (app.client_id, registered_certs(app)))
            .collect();
        Self {
            secrets: secrets::Secrets::seeded(&config.apps),
            config,
            signer,
            certs,
            replay: assertion::new_replay_cache(),
        }
    }

    /// Handles `POST /{tenant}/oauth2/v2.0/token`. `token_url` is this endpoint's own URL for `tenant`; it and
    /// `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token` are accepted as assertion `aud`.
    pub(crate) fn token(
        &self,
        tenant: &str,
        token_url: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Response {
        match self.issue(tenant, token_url, headers, body) {
            Ok((token, auth, client_id)) => {
                tracing::info!(%client_id, appidacr = ?auth, "sandbox entra: token issued");
                self.success(&token)
            }
            Err(e) => {
                // Only the code: descriptions may contain caller input, never credentials, but stay terse.
                tracing::info!(
                    code = e.code,
                    error = e.error,
                    "sandbox entra: token request refused"
                );
                e.into_response(headers)
            }
        }
    }

    /// Adds a client secret to the app `client_id` (an operator's new secret before a rotation).
    pub(crate) fn add_secret(
        &self,
        client_id: Uuid,
        value: String,
        expires_at: chrono::DateTime<Utc>,
    ) {
        self.secrets
            .add(client_id, config::ClientSecret { value, expires_at });
    }

    /// Deletes the app's secrets equal to `value` (the old secret after a rotation); how many.
    pub(crate) fn remove_secret(&self, client_id: Uuid, value: &str) -> usize {
        self.secrets.remove(client_id, value)
    }

    pub(crate) fn secrets(&self) -> Vec<SecretView> {
        self.secrets.list()
    }

    /// Validates a Dataverse bearer token: signature (own key), `aud` == resource, `iss`, `nbf`/`exp`.
    pub(crate) fn verify_access_token(&self, token: &str) -> Result<AccessClaims, BearerError> {
        self.signer.verify(
            token,
            &self.config.resource,
            self.config.tenant_id,
            Utc::now().timestamp(),
        )
    }

    fn issue(
        &self,
        tenant: &str,
        token_url: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(String, ClientAuth, Uuid), AadError> {
        self.check_tenant(tenant)?;
        let form = TokenForm::parse(headers, body)?;
        let grant = form.required("grant_type")?;
        if grant != "client_credentials" {
            return Err(AadError::unsupported_grant(grant));
        }
        let client_id = form
            .client_id
            .as_deref()
            .ok_or_else(|| AadError::missing_parameter("client_id"))?;
        let scope = form.required("scope")?;
        let app = self
            .config
            .app(client_id)
            .ok_or_else(|| AadError::unknown_client(client_id, &self.config.tenant_domain))?;
        if app.disabled {
            return Err(AadError::disabled_app(client_id));
        }
        let auth = self.authenticate(app, &form, tenant, token_url)?;
        self.check_scope(scope)?;
        let now = Utc::now();
        let token = self
            .signer
            .issue(&TokenRequest {
                tenant_id: self.config.tenant_id,
                resource: self.config.resource.clone(),
                client_id: app.client_id,
                object_id: app.object_id,
                auth,
                issued_at: now,
                lifetime: self.config.token_lifetime,
            })
            .map_err(|_| AadError::invalid_request("the token could not be signed"))?;
        Ok((token, auth, app.client_id))
    }

    fn check_tenant(&self, tenant: &str) -> Result<(), AadError> {
        let lower = tenant.to_ascii_lowercase();
        match lower.as_str() {
            "common" | "consumers" => return Err(AadError::tenantless_endpoint()),
            "organizations" => return Err(AadError::no_tenant_information()),
            _ => {}
        }
        if Uuid::parse_str(tenant).is_err() && !is_dns_name(tenant) {
            return Err(AadError::malformed_tenant(tenant));
        }
        if !self.config.is_this_tenant(tenant) {
            return Err(AadError::unknown_tenant(tenant));
        }
        Ok(())
    }

    fn authenticate(
        &self,
        app: &AppRegistration,
        form: &TokenForm,
        tenant: &str,
        token_url: &str,
    ) -> Result<ClientAuth, AadError> {
        match form.credential()? {
            Credential::None => Err(AadError::no_credential()),
            Credential::Secret(secret) => self
                .secrets
                .check(app.client_id, secret)
                .map(|()| ClientAuth::Secret)
                .map_err(|r| {
                    let id = app.client_id.to_string();
                    match r {
                        secrets::SecretRefusal::Expired => AadError::expired_secret(&id),
                        secrets::SecretRefusal::Invalid => AadError::invalid_secret(&id),
                    }
                }),
            Credential::Assertion { kind, jwt } => {
                if kind != ASSERTION_TYPE {
                    return Err(AadError::invalid_request(
                        "unsupported 'client_assertion_type'",
                    ));
                }
                let audiences = self.assertion_audiences(tenant, token_url);
                let check = AssertionCheck {
                    client_id: app.client_id,
                    certs: self
                        .certs
                        .get(&app.client_id)
                        .map(Vec::as_slice)
                        .unwrap_or(&[]),
                    audiences: &audiences,
                    now: Utc::now().timestamp(),
                    replay: &self.replay,
                };
                check.validate(jwt).map(|()| ClientAuth::Certificate)
            }
        }
    }

    /// The emulator's own URL plus the public Entra URL, for every name of this tenant.
    fn assertion_audiences(&self, tenant: &str, token_url: &str) -> Vec<String> {
        let names = [
            tenant.to_string(),
            self.config.tenant_id.to_string(),
            self.config.tenant_domain.clone(),
        ];
        let mut out = vec![token_url.to_string()];
        out.extend(
            names
                .iter()
                .map(|n| format!("{PUBLIC_TOKEN_HOST}/{n}/oauth2/v2.0/token")),
        );
        out
    }

    /// Exactly one scope, `<resource>/.default`, naming the configured Dataverse org.
    fn check_scope(&self, scope: &str) -> Result<(), AadError> {
        let mut parts = scope.split_whitespace();
        let (Some(only), None) = (parts.next(), parts.next()) else {
            return Err(AadError::invalid_scope(scope));
        };
        let Some(resource) = only.strip_suffix("/.default") else {
            // A resource-looking value without `/.default` (incl. a double-encoded one) gets the dedicated code.
            let looks_like_resource =
                only.contains('/') || only.to_ascii_lowercase().contains("%2f");
            return Err(if looks_like_resource {
                AadError::scope_without_default(scope)
            } else {
                AadError::invalid_scope(scope)
            });
        };
        if resource.is_empty() {
            return Err(AadError::invalid_scope(scope));
        }
        let wanted = self.config.resource.trim_end_matches('/');
        if !resource.trim_end_matches('/').eq_ignore_ascii_case(wanted) {
            return Err(AadError::unknown_resource(
                resource,
                &self.config.tenant_domain,
            ));
        }
        Ok(())
    }

    fn success(&self, token: &str) -> Response {
        let secs = self.config.token_lifetime.num_seconds().max(0);
        let body = json!({
            "token_type": "Bearer",
            "expires_in": secs,
            "ext_expires_in": secs,
            "access_token": token,
        });
        errors::json_response(StatusCode::OK, &body, Uuid::new_v4())
    }
}

fn registered_certs(app: &AppRegistration) -> Vec<RegisteredCert> {
    app.certificates_pem
        .iter()
        .filter_map(|pem| match certs::parse_certificate(pem) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(client_id = %app.client_id, error = %e, "sandbox entra: ignoring unusable certificate");
                None
            }
        })
        .collect()
}

/// Labels of letters, digits and hyphens, at least two labels (Entra wants a domain, not a bare word).
fn is_dns_name(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && s.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests;
