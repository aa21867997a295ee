//! Strict bearer-token verification. The header `alg` is checked against the issuer's fixed list
//! before any key is looked up (no `none`, no HS/RS confusion); then signature, `exp`/`nbf` with a
//! small leeway, `iss`, `aud` and required claims. Callers get one opaque 401; the precise reason
//! is logged here (never the token).

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::auth::principal::Principal;
use crate::auth::registry::Registry;
use crate::auth::scopes::Scope;
use crate::auth::AuthService;
use crate::problem::ApiError;

/// Why a token was refused; logged, never sent to the caller.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("Authorization scheme is not Bearer")]
    NotBearer,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("unknown issuer")]
    UnknownIssuer,
    #[error("algorithm `{0}` not allowed for this issuer")]
    AlgorithmNotAllowed(String),
    #[error("token has no kid")]
    MissingKid,
    #[error("unknown kid `{0}`")]
    UnknownKid(String),
    #[error("JWKS unavailable: {0}")]
    Jwks(String),
    #[error("key unusable: {0}")]
    Key(String),
    #[error("{0}")]
    Rejected(&'static str),
    #[error("partner `{0}` unknown or disabled")]
    UnknownPartner(String),
    #[error("the secret the token was issued for is revoked or expired")]
    SecretRevoked,
    #[error("request origin not allowed for partner `{0}`")]
    OriginNotAllowed(String),
}

impl TokenError {
    /// The one answer every failure gets: the check that failed is not disclosed.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            // RFC 6750 §3.1: no credentials, or another scheme, get a challenge without an error code.
            TokenError::Missing | TokenError::NotBearer => ApiError::Unauthorized {
                error: None,
                description: "a bearer token is required (POST /oauth2/token)".into(),
            },
            // The token is fine; the browser origin is not one of its partner's. Saying so spares a
            // frontend developer a hunt for a token bug (the allowed origins are not listed).
            TokenError::OriginNotAllowed(_) => ApiError::OriginNotAllowed,
            _ => ApiError::Unauthorized {
                error: Some("invalid_token"),
                description: "the access token is invalid or expired".into(),
            },
        }
    }
}

/// Bearer tokens larger than this are refused before any parsing.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Header fields and the (unverified) issuer, read only to choose the verification rules.
struct Peek {
    alg: String,
    kid: Option<String>,
    iss: String,
}

fn peek(token: &str) -> Result<Peek, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed("too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not three segments"));
    };
    let header = decode_json(h).ok_or(TokenError::Malformed("header"))?;
    let payload = decode_json(p).ok_or(TokenError::Malformed("payload"))?;
    if header.contains_key("crit") {
        return Err(TokenError::Rejected(
            "critical header extensions not supported",
        ));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(TokenError::Malformed("no alg"))?
        .to_string();
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let iss = payload
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(TokenError::Rejected("no iss"))?
        .to_string();
    Ok(Peek { alg, kid, iss })
}

fn decode_json(seg: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(seg).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Checks the header alg against the issuer's list; runs before any key lookup.
fn allowed_alg(alg: &str, allowed: &[Algorithm]) -> Result<Algorithm, TokenError> {
    Algorithm::from_str(alg)
        .ok()
        .filter(|a| allowed.contains(a))
        .ok_or_else(|| TokenError::AlgorithmNotAllowed(alg.chars().take(16).collect()))
}

fn validation(alg: Algorithm, iss: &str, aud: &str, leeway: u64, own: bool) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = leeway;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.validate_aud = true;
    v.set_issuer(&[iss]);
    v.set_audience(&[aud]);
    let mut required = vec!["exp", "iss", "aud"];
    if own {
        required.push("sub");
    }
    v.set_required_spec_claims(&required);
    v
}

fn check_signature_and_claims(
    token: &str,
    key: &DecodingKey,
    v: &Validation,
) -> Result<Map<String, Value>, TokenError> {
    jsonwebtoken::decode::<Map<String, Value>>(token, key, v)
        .map(|d| d.claims)
        .map_err(|e| {
            TokenError::Rejected(match e.kind() {
                ErrorKind::InvalidSignature => "bad signature",
                ErrorKind::ExpiredSignature => "expired",
                ErrorKind::ImmatureSignature => "not yet valid (nbf)",
                ErrorKind::InvalidIssuer => "wrong iss",
                ErrorKind::InvalidAudience => "wrong aud",
                ErrorKind::MissingRequiredClaim(_) => "missing required claim",
                ErrorKind::InvalidAlgorithm => "algorithm mismatch",
                ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) => "key/alg mismatch",
                _ => "undecodable token",
            })
        })
}

/// What an own token proved once its signature and claims checked out, with the principal last
/// built for it and the registry generation that principal was built from.
#[derive(Debug)]
pub struct VerifiedOwn {
    /// The key it was verified with: a cached token ends when its key leaves the ring.
    kid: String,
    sub: String,
    scopes: BTreeSet<Scope>,
    exp: i64,
    /// The secret the token was minted with (tokens from before `sid` name none).
    sid: Option<String>,
    principal: Option<Built>,
}

/// A principal built for a cached token: reused while the registry generation is the one it was
/// built from and the secret it rests on has not expired.
#[derive(Debug)]
struct Built {
    generation: u64,
    secret_expires_at: Option<i64>,
    principal: Principal,
}

impl AuthService {
    /// Verifies a bearer token (own or external issuer) and resolves the partner profile.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, TokenError> {
        let result = self.authenticate_inner(token).await;
        if let Err(e) = &result {
            // The reason, never the token.
            tracing::info!(reason = %e, "bearer token refused");
        }
        result
    }

    async fn authenticate_inner(&self, token: &str) -> Result<Principal, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("too long"));
        }
        // The cache first: a token seen before costs a hash and a lookup, not a parse.
        let cache_key = cache_key(token);
        if let Some(principal) = self.cached_own(&cache_key) {
            return principal;
        }
        let peek = peek(token)?;
        if peek.iss == self.settings.issuer {
            self.verify_own(token, &peek, cache_key)
        } else if let Some(ext) = self.external.iter().find(|e| e.config.issuer == peek.iss) {
            self.verify_external(token, &peek, ext).await
        } else {
            Err(TokenError::UnknownIssuer)
        }
    }

    /// The principal for an own token already verified and not expired; `None` on a miss. The
    /// principal is reused while the registry generation is the one it was built from, and
    /// rebuilt from the live registry otherwise (a reload takes effect on the next request).
    fn cached_own(&self, cache_key: &[u8; 32]) -> Option<Result<Principal, TokenError>> {
        let hit = self.verified.get(cache_key)?;
        // Strict on expiry for cached entries (no leeway): the cache never extends a token's life.
        if hit.exp <= chrono::Utc::now().timestamp() {
            self.verified.invalidate(cache_key);
            return None;
        }
        // A key dropped from the ring (a leaked one replaced on SIGHUP and not listed in
        // `previous_signing_key_files`) ends the tokens it signed, cached ones too.
        if self.keys.find(&hit.kid).is_none() {
            self.verified.invalidate(cache_key);
            return Some(Err(TokenError::UnknownKid(
                hit.kid.chars().take(64).collect(),
            )));
        }
        let generation = self.registry.generation();
        let now = chrono::Utc::now().timestamp();
        if let Some(b) = &hit.principal {
            if b.generation == generation && b.secret_expires_at.is_none_or(|e| e > now) {
                return Some(Ok(b.principal.clone()));
            }
        }
        let built = principal_for(
            &self.registry.snapshot(),
            &hit.sub,
            &hit.sub,
            &hit.scopes,
            Basis::Own(hit.sid.as_deref()),
        );
        Some(built.map(|b| {
            let principal = b.principal.clone();
            self.verified.insert(
                *cache_key,
                Arc::new(VerifiedOwn {
                    kid: hit.kid.clone(),
                    sub: hit.sub.clone(),
                    scopes: hit.scopes.clone(),
                    exp: hit.exp,
                    sid: hit.sid.clone(),
                    principal: Some(b),
                }),
            );
            principal
        }))
    }

    fn verify_own(
        &self,
        token: &str,
        peek: &Peek,
        cache_key: [u8; 32],
    ) -> Result<Principal, TokenError> {
        let mut verified = self.verify_own_uncached(token, peek)?;
        let built = principal_for(
            &self.registry.snapshot(),
            &verified.sub,
            &verified.sub,
            &verified.scopes,
            Basis::Own(verified.sid.as_deref()),
        );
        let principal = built.map(|b| {
            let principal = b.principal.clone();
            verified.principal = Some(b);
            principal
        });
        // Cached even for a partner refused now: a reload may enable it again.
        self.verified.insert(cache_key, Arc::new(verified));
        principal
    }

    fn verify_own_uncached(&self, token: &str, peek: &Peek) -> Result<VerifiedOwn, TokenError> {
        let alg = allowed_alg(&peek.alg, &[Algorithm::ES256])?;
        let kid = peek.kid.as_deref().ok_or(TokenError::MissingKid)?;
        let key = self
            .keys
            .find(kid)
            .ok_or_else(|| TokenError::UnknownKid(kid.chars().take(64).collect()))?;
        let s = &self.settings;
        let v = validation(alg, &s.issuer, &s.audience, s.leeway_secs, true);
        let claims = check_signature_and_claims(token, &key.decoding, &v)?;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or(TokenError::Rejected("sub is not a string"))?;
        let scopes = claims
            .get("scope")
            .and_then(Value::as_str)
            .map(Scope::parse_list)
            .transpose()
            .map_err(|_| TokenError::Rejected("unknown scope in own token"))?
            .unwrap_or_default();
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(TokenError::Rejected("exp is not a number"))?;
        let sid = match claims.get("sid") {
            None => None,
            Some(Value::String(sid)) => Some(sid.clone()),
            Some(_) => return Err(TokenError::Rejected("sid is not a string")),
        };
        // No own token lives longer than any gateway may issue (the largest `token_ttl_secs`,
        // not this process's: a replica with a longer one, in a rolling restart that lowers it,
        // issued valid tokens), nor was issued in the future: a token signed with a leaked key
        // cannot outlive the key's removal by long.
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or(TokenError::Rejected("iat is not a number"))?;
        let leeway = i64::try_from(s.leeway_secs).unwrap_or(i64::MAX);
        let max_ttl = i64::try_from(crate::auth::config::MAX_TOKEN_TTL_SECS).unwrap_or(i64::MAX);
        if iat > chrono::Utc::now().timestamp().saturating_add(leeway)
            || exp.saturating_sub(iat) > max_ttl.saturating_add(leeway)
        {
            return Err(TokenError::Rejected("lifetime longer than any issued"));
        }
        Ok(VerifiedOwn {
            kid: kid.to_string(),
            sub: sub.to_string(),
            scopes: scopes.into_iter().collect(),
            exp,
            sid,
            principal: None,
        })
    }

    async fn verify_external(
        &self,
        token: &str,
        peek: &Peek,
        ext: &crate::auth::external::ExternalIssuer,
    ) -> Result<Principal, TokenError> {
        let claims = issuer_claims(token, peek, ext, self.settings.leeway_secs).await?;
        let c = &ext.config;
        let mapped = claims
            .get(&c.partner_claim)
            .and_then(Value::as_str)
            .and_then(|value| c.partner_map.get(value))
            .ok_or(TokenError::Rejected("partner claim missing or unmapped"))?;
        let subject = claims.get("sub").and_then(Value::as_str).unwrap_or("");
        // IdP roles may include values unrelated to this API: unknown ones are ignored.
        let scopes: BTreeSet<Scope> = scope_claim_values(claims.get(&c.scope_claim))
            .filter_map(|s| Scope::from_str(&s).ok())
            .collect();
        principal_for(
            &self.registry.snapshot(),
            mapped,
            subject,
            &scopes,
            Basis::Idp,
        )
        .map(|b| b.principal)
    }
}

/// Checks a token of an external issuer: the header alg against its list, the key from its JWKS,
/// the signature, `exp`/`nbf` (with `leeway`), `iss` and `aud`. Its claims.
async fn issuer_claims(
    token: &str,
    peek: &Peek,
    ext: &crate::auth::external::ExternalIssuer,
    leeway: u64,
) -> Result<Map<String, Value>, TokenError> {
    let alg = allowed_alg(&peek.alg, &ext.algorithms)?;
    let kid = peek.kid.as_deref().ok_or(TokenError::MissingKid)?;
    let jwk = ext.key_for(kid).await?;
    if let Some(key_alg) = jwk.common.key_algorithm {
        if key_alg.to_string() != alg_name(alg) {
            return Err(TokenError::Rejected("JWK alg differs from header alg"));
        }
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| TokenError::Key(e.to_string()))?;
    let c = &ext.config;
    let v = validation(alg, &c.issuer, &c.audience, leeway, false);
    check_signature_and_claims(token, &key, &v)
}

/// A token of `ext` (the operator API's issuer): its claims once everything checks out.
pub async fn verify_issuer_token(
    token: &str,
    ext: &crate::auth::external::ExternalIssuer,
    leeway: u64,
) -> Result<Map<String, Value>, TokenError> {
    let peek = peek(token)?;
    if peek.iss != ext.config.issuer {
        return Err(TokenError::UnknownIssuer);
    }
    issuer_claims(token, &peek, ext, leeway).await
}

/// A claim's values: a space-separated string or an array of strings.
pub fn claim_values(v: Option<&Value>) -> Vec<String> {
    scope_claim_values(v).collect()
}

/// The SHA-256 of the token: the verified-token cache's key.
fn cache_key(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// What a token rests on besides its signature.
#[derive(Clone, Copy)]
enum Basis<'a> {
    /// One of this gateway's tokens: the secret it was minted with (`sid`; none for a config
    /// secret).
    Own(Option<&'a str>),
    /// An external issuer's token: its IdP, not one of our secrets.
    Idp,
}

/// The effective rights: what the token carries, narrowed to what the partner has in `reg`
/// (a reload that removes a scope takes effect on the next request), as built from `reg`'s
/// generation and, for an own token, resting on the secret it was minted with (`sid`): a
/// revoked or expired secret ends its tokens too.
fn principal_for(
    reg: &Registry,
    partner_id: &str,
    subject: &str,
    token_scopes: &BTreeSet<Scope>,
    basis: Basis<'_>,
) -> Result<Built, TokenError> {
    let partner = reg
        .partner(partner_id)
        .filter(|p| !p.disabled)
        .ok_or_else(|| TokenError::UnknownPartner(partner_id.chars().take(64).collect()))?;
    let secret_expires_at = match basis {
        Basis::Own(Some(sid)) => {
            partner
                .live_secret(sid, chrono::Utc::now().timestamp())
                .ok_or(TokenError::SecretRevoked)?
                .expires_at
        }
        // Every secret of a partner the operator API manages has an id, so its own tokens carry
        // one: an own token without is of another partner that had the id before (a config
        // partner since removed), not of this one.
        Basis::Own(None) if partner.managed_by == crate::auth::registry::ManagedBy::Api => {
            return Err(TokenError::SecretRevoked);
        }
        Basis::Own(None) | Basis::Idp => None,
    };
    let scopes: BTreeSet<Scope> = token_scopes
        .intersection(&partner.scopes)
        .copied()
        .collect();
    Ok(Built {
        generation: reg.generation(),
        secret_expires_at,
        principal: Principal::new(
            partner.id.as_str(),
            scopes,
            partner.companies.clone(),
            subject,
        ),
    })
}

fn alg_name(alg: Algorithm) -> String {
    format!("{alg:?}")
}

fn scope_claim_values(v: Option<&Value>) -> impl Iterator<Item = String> {
    let values: Vec<String> = match v {
        Some(Value::String(s)) => s
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    values.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seg(v: Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn peek_reads_alg_kid_iss_and_refuses_junk() {
        let t = format!(
            "{}.{}.sig",
            seg(json!({"alg":"ES256","kid":"k1"})),
            seg(json!({"iss":"me"}))
        );
        let p = peek(&t).expect("peek");
        assert_eq!(
            (p.alg.as_str(), p.kid.as_deref(), p.iss.as_str()),
            ("ES256", Some("k1"), "me")
        );
        assert!(peek("a.b").is_err());
        assert!(peek("a.b.c.d").is_err());
        assert!(peek(&"x".repeat(MAX_TOKEN_LEN + 1)).is_err());
        let crit = format!(
            "{}.{}.sig",
            seg(json!({"alg":"ES256","crit":["exp"]})),
            seg(json!({"iss":"me"}))
        );
        assert!(peek(&crit).is_err());
    }

    #[tokio::test]
    async fn cached_verification_still_applies_live_rights() {
        use crate::auth::config::{AuthConfig, PartnerConfig, RateLimitConfig};
        // One hash for every reload, as a config file keeps it.
        let hash = crate::auth::secrets::hash_secret("s");
        let partner = |scopes: Vec<Scope>| PartnerConfig {
            id: "p".into(),
            display_name: String::new(),
            client_id: "p".into(),
            client_secret_hashes: vec![hash.clone()],
            scopes,
            companies: vec!["usmf".into()],
            rate_limit: RateLimitConfig::default(),
            cors_origins: vec![],
            disabled: false,
        };
        let all = vec![Scope::ReferenceRead, Scope::PiiRead];
        let cfg = AuthConfig {
            partners: vec![partner(all.clone())],
            ..Default::default()
        };
        let svc = crate::auth::AuthService::new(&cfg).expect("service");
        let token = svc
            .issue_token("p", "p", &all.iter().copied().collect(), None)
            .expect("token")
            .access_token;
        let first = svc.authenticate(&token).await.expect("verified");
        let second = svc.authenticate(&token).await.expect("from cache");
        assert_eq!(first, second);
        svc.reload_partners(&[partner(vec![Scope::ReferenceRead])])
            .expect("reload");
        let narrowed = svc.authenticate(&token).await.expect("still valid");
        assert!(
            !narrowed.pii,
            "a cached token does not keep rights the partner lost"
        );
        svc.reload_partners(&[]).expect("reload");
        assert!(
            svc.authenticate(&token).await.is_err(),
            "a removed partner's cached token is refused"
        );
        let mut tampered = token.clone();
        tampered.push('x');
        assert!(svc.authenticate(&tampered).await.is_err());

        // The id comes back as a partner the operator API manages: the config partner's tokens
        // (no `sid`) are not its tokens.
        svc.reload_partners(&[partner(all.clone())])
            .expect("reload");
        let old = svc
            .issue_token("p", "p", &all.iter().copied().collect(), None)
            .expect("token")
            .access_token;
        svc.authenticate(&old).await.expect("the config partner's");
        svc.reload_partners(&[]).expect("reload");
        svc.set_stored_partners(&[crate::store::partners::StoredPartner {
            doc: crate::store::partners::test_doc("p"),
            secrets: vec![],
        }]);
        assert!(svc.registry().partner("p").is_some());
        assert!(
            svc.authenticate(&old).await.is_err(),
            "another partner's token under the same id"
        );
    }

    #[tokio::test]
    async fn a_cached_token_ends_with_its_key_and_none_outlives_the_longest_lifetime() {
        use crate::auth::config::{AuthConfig, PartnerConfig, RateLimitConfig};
        let cfg = AuthConfig {
            partners: vec![PartnerConfig {
                id: "p".into(),
                display_name: String::new(),
                client_id: "p".into(),
                client_secret_hashes: vec![crate::auth::secrets::hash_secret("s")],
                scopes: vec![Scope::ReferenceRead],
                companies: vec!["usmf".into()],
                rate_limit: RateLimitConfig::default(),
                cors_origins: vec![],
                disabled: false,
            }],
            ..Default::default()
        };
        let svc = crate::auth::AuthService::new(&cfg).expect("service");
        let now = chrono::Utc::now().timestamp();
        let sign = |key: &crate::auth::keys::SigningKey, iat: i64, exp: i64| {
            let mut h = jsonwebtoken::Header::new(Algorithm::ES256);
            h.kid = Some(key.kid.clone());
            let claims = serde_json::json!({
                "iss": svc.settings.issuer, "aud": svc.settings.audience, "sub": "p",
                "scope": "reference:read", "iat": iat, "exp": exp,
            });
            jsonwebtoken::encode(&h, &claims, &key.encoding).expect("sign")
        };
        // A verify-only key (`previous_signing_key_files`) dropped on a reload: its tokens end,
        // the cached one included.
        let old = crate::auth::keys::SigningKey::generate().expect("key");
        let token = sign(&old, now, now + 60);
        svc.keys.set_configured(vec![old]);
        svc.authenticate(&token).await.expect("verified");
        svc.authenticate(&token).await.expect("from cache");
        svc.keys.set_configured(vec![]);
        assert!(svc.authenticate(&token).await.is_err(), "its key is gone");

        let current = svc.keys.current();
        let ttl = i64::try_from(svc.settings.token_ttl_secs).expect("ttl");
        svc.authenticate(&sign(&current, now, now + ttl))
            .await
            .expect("as issued");
        // A replica configured with a longer lifetime issued it (a rolling restart lowering
        // `token_ttl_secs`): still valid.
        svc.authenticate(&sign(&current, now, now + 10 * ttl))
            .await
            .expect("issued by a replica with a longer lifetime");
        let max = i64::try_from(crate::auth::config::MAX_TOKEN_TTL_SECS).expect("max");
        let leeway = i64::try_from(svc.settings.leeway_secs).expect("leeway");
        svc.authenticate(&sign(&current, now, now + max + leeway))
            .await
            .expect("the longest any gateway issues");
        assert!(
            svc.authenticate(&sign(&current, now, now + max + leeway + 1))
                .await
                .is_err(),
            "longer than any gateway issues"
        );
        assert!(
            svc.authenticate(&sign(&current, now + 3_600, now + 3_600 + ttl))
                .await
                .is_err(),
            "issued in the future"
        );
    }

    #[test]
    fn alg_list_is_enforced_before_keys() {
        assert!(allowed_alg("ES256", &[Algorithm::ES256]).is_ok());
        assert!(allowed_alg("none", &[Algorithm::ES256]).is_err());
        assert!(allowed_alg("HS256", &[Algorithm::ES256]).is_err());
        assert!(allowed_alg("RS256", &[Algorithm::ES256]).is_err());
    }

    #[test]
    fn scope_claim_accepts_string_or_array() {
        let s: Vec<_> = scope_claim_values(Some(&json!("a  b"))).collect();
        assert_eq!(s, vec!["a", "b"]);
        let a: Vec<_> = scope_claim_values(Some(&json!(["a", 1, "b"]))).collect();
        assert_eq!(a, vec!["a", "b"]);
        assert_eq!(scope_claim_values(Some(&json!(5))).count(), 0);
    }

    #[test]
    fn every_failure_maps_to_the_same_opaque_401() {
        let a = TokenError::Rejected("wrong aud").to_api_error().to_string();
        let b = TokenError::UnknownKid("k".into())
            .to_api_error()
            .to_string();
        assert_eq!(a, b);
        assert!(!a.contains("aud") && !a.contains("kid"));
    }
}
