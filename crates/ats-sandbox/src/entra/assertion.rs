//! Client assertion (certificate credential) validation: header thumbprint → registered certificate →
//! signature → `aud`, `iss`/`sub`, time range, `jti` replay. Replay is checked last so a rejected assertion
//! does not burn its `jti`.

use super::certs::{decode_thumbprint, hex_upper, RegisteredCert};
use super::errors::AadError;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use moka::sync::Cache;
use serde::Deserialize;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Clock skew tolerated on the assertion's `nbf`/`exp` [inf].
pub(super) const LEEWAY_SECS: i64 = 60;
/// Upper bound on how long a `jti` is remembered, whatever the assertion's `exp` says (Entra does not restrict
/// `exp`; the bound keeps the cache finite) [inf].
const MAX_REPLAY_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Deserialize)]
struct AssertionClaims {
    aud: Option<serde_json::Value>,
    iss: Option<String>,
    sub: Option<String>,
    jti: Option<String>,
    #[serde(default, deserialize_with = "numeric_date")]
    nbf: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    exp: Option<i64>,
}

/// RFC 7519's NumericDate may be fractional: MSAL for Python sends `exp` as `time.time() + 600`. Seconds are
/// what the checks compare, so the fraction is dropped.
fn numeric_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let n = Option::<serde_json::Number>::deserialize(d)?;
    Ok(n.and_then(|n| {
        n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.floor() as i64)
        })
    }))
}

/// `jti` replay cache: key `client_id:jti`, value = how long to remember it (until the assertion's `exp`).
pub(super) type ReplayCache = Cache<String, Duration>;

struct UntilAssertionExpiry;

impl moka::Expiry<String, Duration> for UntilAssertionExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        ttl: &Duration,
        _created: Instant,
    ) -> Option<Duration> {
        Some(*ttl)
    }
}

pub(super) fn new_replay_cache() -> ReplayCache {
    Cache::builder()
        .max_capacity(100_000)
        .expire_after(UntilAssertionExpiry)
        .build()
}

pub(super) struct AssertionCheck<'a> {
    pub client_id: Uuid,
    pub certs: &'a [RegisteredCert],
    /// Token endpoint URLs accepted as `aud` (compared case-insensitively, trailing slash ignored).
    pub audiences: &'a [String],
    pub now: i64,
    pub replay: &'a ReplayCache,
}

impl AssertionCheck<'_> {
    pub(super) fn validate(&self, assertion: &str) -> Result<(), AadError> {
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| {
            AadError::malformed_assertion("the header is not a readable JWS header")
        })?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
            return Err(AadError::malformed_assertion(
                "the signing algorithm must be RS256 or PS256",
            ));
        }
        let cert = self.find_certificate(header.x5t_s256.as_deref(), header.x5t.as_deref())?;
        let claims = self.verify_signature(assertion, header.alg, cert)?;
        self.check_claims(&claims)?;
        self.check_not_replayed(&claims)
    }

    /// `x5t#S256` wins when both are present (the current documented form).
    fn find_certificate(
        &self,
        s256: Option<&str>,
        sha1: Option<&str>,
    ) -> Result<&RegisteredCert, AadError> {
        let (bytes, by_sha256) = match (s256, sha1) {
            (Some(v), _) => (decode_thumbprint(v), true),
            (None, Some(v)) => (decode_thumbprint(v), false),
            (None, None) => {
                return Err(AadError::malformed_assertion(
                    "the header has neither 'x5t' nor 'x5t#S256'",
                ))
            }
        };
        let bytes = bytes.ok_or_else(|| {
            AadError::malformed_assertion("the certificate thumbprint is not base64url")
        })?;
        let found = self.certs.iter().find(|c| {
            if by_sha256 {
                c.sha256[..] == bytes[..]
            } else {
                c.sha1[..] == bytes[..]
            }
        });
        let thumb = hex_upper(&bytes);
        let cert = found
            .ok_or_else(|| AadError::unknown_certificate(&thumb, &self.client_id.to_string()))?;
        if self.now > cert.not_after || self.now < cert.not_before {
            return Err(AadError::expired_certificate(&thumb));
        }
        Ok(cert)
    }

    fn verify_signature(
        &self,
        assertion: &str,
        alg: Algorithm,
        cert: &RegisteredCert,
    ) -> Result<AssertionClaims, AadError> {
        // Claims are checked by hand below so each failure maps to its own AADSTS code.
        let mut v = Validation::new(alg);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        match jsonwebtoken::decode::<AssertionClaims>(assertion, &cert.key, &v) {
            Ok(data) => Ok(data.claims),
            Err(e) => Err(match e.kind() {
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidRsaKey(_)
                | ErrorKind::InvalidKeyFormat => AadError::bad_assertion_signature(),
                _ => AadError::malformed_assertion("the payload is not a readable JWT claims set"),
            }),
        }
    }

    fn check_claims(&self, c: &AssertionClaims) -> Result<(), AadError> {
        let exp = c
            .exp
            .ok_or_else(|| AadError::malformed_assertion("the 'exp' claim is missing"))?;
        let too_late = self.now > exp + LEEWAY_SECS;
        let too_early = c.nbf.is_some_and(|nbf| nbf > self.now + LEEWAY_SECS);
        if too_late || too_early {
            return Err(AadError::assertion_time_range(self.now, c.nbf, exp));
        }
        if !self.audience_ok(c.aud.as_ref()) {
            return Err(AadError::assertion_audience());
        }
        let is_client = |v: &Option<String>| {
            v.as_deref().and_then(|s| Uuid::parse_str(s).ok()) == Some(self.client_id)
        };
        if !is_client(&c.iss) || !is_client(&c.sub) {
            return Err(AadError::assertion_client_mismatch());
        }
        match c.jti.as_deref() {
            Some(j) if !j.is_empty() => Ok(()),
            _ => Err(AadError::malformed_assertion("the 'jti' claim is missing")),
        }
    }

    /// `aud` is a string per the docs; a one-element array is tolerated as JWT allows it [inf].
    fn audience_ok(&self, aud: Option<&serde_json::Value>) -> bool {
        let matches = |s: &str| {
            let s = s.trim_end_matches('/');
            self.audiences
                .iter()
                .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(s))
        };
        match aud {
            Some(serde_json::Value::String(s)) => matches(s),
            Some(serde_json::Value::Array(items)) => {
                items.len() == 1 && items[0].as_str().is_some_and(matches)
            }
            _ => false,
        }
    }

    fn check_not_replayed(&self, c: &AssertionClaims) -> Result<(), AadError> {
        let (Some(jti), Some(exp)) = (c.jti.as_deref(), c.exp) else {
            return Err(AadError::malformed_assertion("the 'jti' claim is missing"));
        };
        let remaining = u64::try_from(exp + LEEWAY_SECS - self.now)
            .unwrap_or(1)
            .max(1);
        let ttl = Duration::from_secs(remaining).min(MAX_REPLAY_TTL);
        // `jti` is case-sensitive per the docs, so it is used as is.
        let entry = self
            .replay
            .entry(format!("{}:{jti}", self.client_id))
            .or_insert(ttl);
        if entry.is_fresh() {
            Ok(())
        } else {
            Err(AadError::assertion_replayed())
        }
    }
}
