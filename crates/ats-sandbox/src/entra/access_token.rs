//! The Dataverse access token the emulator issues (docs/entra-client-credentials.md#dataverse-access-token):
//! an RS256 JWT in v1.0 shape, signed by the emulator's own key, and its verification for the Dataverse side
//! of the sandbox.

use super::certs::{parse_certificate, CertError};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The identity a valid bearer token carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccessClaims {
    pub appid: Uuid,
    pub oid: Uuid,
    pub tid: Uuid,
    pub exp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BearerError {
    #[error("the access token is invalid")]
    Invalid,
    #[error("the access token is expired")]
    Expired,
}

/// How the client authenticated, stamped into `appidacr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    Secret,
    Certificate,
}

impl ClientAuth {
    fn appidacr(self) -> &'static str {
        match self {
            ClientAuth::Secret => "1",
            ClientAuth::Certificate => "2",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct TokenClaims {
    aud: String,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    appid: String,
    appidacr: String,
    azp: String,
    idp: String,
    idtyp: String,
    oid: String,
    sub: String,
    tid: String,
    uti: String,
    ver: String,
}

/// What goes into one token.
pub(crate) struct TokenRequest {
    pub tenant_id: Uuid,
    pub resource: String,
    pub client_id: Uuid,
    pub object_id: Uuid,
    pub auth: ClientAuth,
    pub issued_at: DateTime<Utc>,
    pub lifetime: chrono::Duration,
}

/// The emulator's token-signing key and its certificate thumbprint (used as `kid` and `x5t`, as Entra does).
pub(crate) struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    x5t: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SigningKeyError {
    #[error("signing key: {0}")]
    Key(#[from] jsonwebtoken::errors::Error),
    #[error("signing certificate: {0}")]
    Cert(#[from] CertError),
}

impl SigningKey {
    pub(crate) fn from_pem(key_pem: &str, cert_pem: &str) -> Result<Self, SigningKeyError> {
        let encoding = EncodingKey::from_rsa_pem(key_pem.as_bytes())?;
        let cert = parse_certificate(cert_pem)?;
        Ok(Self {
            encoding,
            decoding: cert.key,
            x5t: cert.x5t,
        })
    }

    pub(crate) fn issue(&self, req: &TokenRequest) -> Result<String, jsonwebtoken::errors::Error> {
        let iss = issuer(req.tenant_id);
        let now = req.issued_at.timestamp();
        let claims = TokenClaims {
            aud: req.resource.clone(),
            iss: iss.clone(),
            iat: now,
            nbf: now,
            exp: now + req.lifetime.num_seconds(),
            appid: req.client_id.to_string(),
            appidacr: req.auth.appidacr().to_string(),
            azp: req.client_id.to_string(),
            idp: iss,
            idtyp: "app".to_string(),
            oid: req.object_id.to_string(),
            sub: req.object_id.to_string(),
            tid: req.tenant_id.to_string(),
            uti: random_uti(),
            ver: "1.0".to_string(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".to_string());
        header.kid = Some(self.x5t.clone());
        header.x5t = Some(self.x5t.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
    }

    /// Signature, `aud` == resource, `iss` == this tenant, then `nbf`/`exp` against `now` (no leeway: the
    /// sandbox's clock is the only clock, and tests rely on exact expiry).
    pub(crate) fn verify(
        &self,
        token: &str,
        resource: &str,
        tenant_id: Uuid,
        now: i64,
    ) -> Result<AccessClaims, BearerError> {
        let mut v = Validation::new(Algorithm::RS256);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.set_required_spec_claims(&["exp", "nbf", "aud", "iss"]);
        v.set_audience(&[resource]);
        v.set_issuer(&[issuer(tenant_id)]);
        let data = jsonwebtoken::decode::<TokenClaims>(token, &self.decoding, &v)
            .map_err(|_| BearerError::Invalid)?;
        let c = data.claims;
        if c.nbf > now {
            return Err(BearerError::Invalid);
        }
        if c.exp <= now {
            return Err(BearerError::Expired);
        }
        let parse = |s: &str| Uuid::parse_str(s).map_err(|_| BearerError::Invalid);
        let tid = parse(&c.tid)?;
        if tid != tenant_id {
            return Err(BearerError::Invalid);
        }
        Ok(AccessClaims {
            appid: parse(&c.appid)?,
            oid: parse(&c.oid)?,
            tid,
            exp: c.exp,
        })
    }
}

fn issuer(tenant_id: Uuid) -> String {
    format!("https://sts.windows.net/{tenant_id}/")
}

/// Entra's `uti` is an opaque base64url token identifier (~22 chars).
fn random_uti() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
