//! External issuers (the organisation's IdP signing users in for a frontend): JWKS fetched with
//! reqwest, cached in moka with a TTL, and refetched on an unknown `kid` at most once per interval
//! so a flood of forged kids cannot turn the gateway into a JWKS hammer.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::Algorithm;
use moka::future::Cache;

use crate::auth::config::{AuthConfigError, ExternalIssuerConfig, MAX_JWKS_STALE_SECS};
use crate::auth::verify::TokenError;

pub struct ExternalIssuer {
    pub config: ExternalIssuerConfig,
    pub algorithms: Vec<Algorithm>,
    http: reqwest::Client,
    cache: Cache<(), Arc<JwkSet>>,
    last_forced_refresh: Mutex<Option<Instant>>,
    min_refresh_interval: Duration,
    /// The last failed fetch, answered again without a fetch for `min_refresh_interval`: while
    /// the IdP is down, its users' tokens must not each cost an outbound call and its timeout.
    last_failure: Mutex<Option<(Instant, String)>>,
    /// The last key set fetched: served while a refresh fails (until it is `stale_max` old), so
    /// an IdP outage at the cache's expiry does not refuse every token its still-good keys signed.
    last_good: Mutex<Option<(Instant, Arc<JwkSet>)>>,
    /// How old (since its fetch) the last key set may be and still be served while refreshes
    /// fail: `jwks_stale_max_secs`.
    stale_max: Duration,
}

impl ExternalIssuer {
    /// `section` names the issuer's config section in errors (`auth.external_issuers[0]`,
    /// `operator.jwt`).
    pub fn new(
        section: &str,
        config: ExternalIssuerConfig,
        http: reqwest::Client,
    ) -> Result<Self, AuthConfigError> {
        let key = |k: &str| format!("{section}.{k}");
        let algorithms = parse_algorithms(&config.algorithms)
            .map_err(|problem| AuthConfigError::invalid(key("algorithms"), problem))?;
        url::Url::parse(&config.jwks_url)
            .map_err(|e| AuthConfigError::invalid(key("jwks_url"), e.to_string()))?;
        if config.jwks_stale_max_secs > MAX_JWKS_STALE_SECS {
            return Err(AuthConfigError::invalid(
                key("jwks_stale_max_secs"),
                format!("must be at most {MAX_JWKS_STALE_SECS} (7 days); 0 = never use stale keys"),
            ));
        }
        for (name, v) in [
            ("issuer", &config.issuer),
            ("audience", &config.audience),
            ("partner_claim", &config.partner_claim),
            ("scope_claim", &config.scope_claim),
        ] {
            if v.trim().is_empty() {
                return Err(AuthConfigError::invalid(key(name), "is required"));
            }
        }
        let cache = Cache::builder()
            .max_capacity(1)
            .time_to_live(Duration::from_secs(config.jwks_ttl_secs.max(1)))
            .build();
        Ok(Self {
            min_refresh_interval: Duration::from_secs(config.jwks_refresh_min_interval_secs),
            algorithms,
            http,
            cache,
            last_forced_refresh: Mutex::new(None),
            last_failure: Mutex::new(None),
            last_good: Mutex::new(None),
            stale_max: Duration::from_secs(config.jwks_stale_max_secs),
            config,
        })
    }

    /// The JWK for `kid`, refetching the JWKS once if the kid is unknown and the last forced
    /// refresh is older than the configured interval.
    pub async fn key_for(&self, kid: &str) -> Result<Jwk, TokenError> {
        let set = match self.cache.try_get_with((), self.fetch_guarded()).await {
            Ok(set) => set,
            // Warned about where the refresh failed, once, not per request.
            Err(e) => self
                .stale()
                .ok_or_else(|| TokenError::Jwks(e.to_string()))?,
        };
        if let Some(k) = set.find(kid) {
            return Ok(k.clone());
        }
        if !self.claim_refresh_slot() {
            return Err(TokenError::UnknownKid(kid.to_string()));
        }
        let fresh = self.fetch_guarded().await.map_err(TokenError::Jwks)?;
        self.cache.insert((), fresh.clone()).await;
        fresh
            .find(kid)
            .cloned()
            .ok_or_else(|| TokenError::UnknownKid(kid.to_string()))
    }

    /// The last key set fetched, if younger than `stale_max`.
    fn stale(&self) -> Option<Arc<JwkSet>> {
        let g = match self.last_good.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.as_ref()
            .filter(|(at, _)| at.elapsed() < self.stale_max)
            .map(|(_, set)| set.clone())
    }

    /// True (and the slot is taken) when a forced refresh is allowed now.
    fn claim_refresh_slot(&self) -> bool {
        let mut last = match self.last_forced_refresh.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let allowed = last.is_none_or(|t| t.elapsed() >= self.min_refresh_interval);
        if allowed {
            *last = Some(Instant::now());
        }
        allowed
    }

    /// `fetch`, unless the last one failed within the refresh interval: then its error again.
    async fn fetch_guarded(&self) -> Result<Arc<JwkSet>, String> {
        let lock = || match self.last_failure.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some((at, why)) = lock().as_ref() {
            if at.elapsed() < self.min_refresh_interval {
                return Err(format!("{why} (not retried before the refresh interval)"));
            }
        }
        let result = self.fetch().await;
        *lock() = result.as_ref().err().map(|e| (Instant::now(), e.clone()));
        match &result {
            Ok(set) => {
                let mut good = match self.last_good.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                *good = Some((Instant::now(), set.clone()));
            }
            Err(e) if self.stale().is_some() => {
                tracing::warn!(issuer = %self.config.issuer, error = %e, "JWKS refresh failed; the last key set fetched is used meanwhile");
            }
            Err(_) => {}
        }
        result
    }

    async fn fetch(&self) -> Result<Arc<JwkSet>, String> {
        let resp = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(|e| format!("JWKS fetch failed: {}", e.without_url()))?;
        if !resp.status().is_success() {
            return Err(format!("JWKS fetch answered {}", resp.status()));
        }
        let body: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| format!("JWKS is not JSON: {}", e.without_url()))?;
        let keys = body
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or("JWKS has no `keys` array")?;
        // Skip keys this library cannot use rather than failing the whole set.
        let keys: Vec<Jwk> = keys
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .filter(|k| k.common.key_id.is_some())
            .collect();
        tracing::debug!(issuer = %self.config.issuer, keys = keys.len(), "JWKS fetched");
        Ok(Arc::new(JwkSet { keys }))
    }
}

/// Asymmetric algorithms only: a JWKS-published HMAC key would be a shared secret made public.
fn parse_algorithms(names: &[String]) -> Result<Vec<Algorithm>, String> {
    if names.is_empty() {
        return Err("at least one algorithm is required".into());
    }
    names
        .iter()
        .map(|n| {
            let alg = Algorithm::from_str(n).map_err(|_| format!("unknown algorithm `{n}`"))?;
            match alg {
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Err(format!(
                    "`{n}` is symmetric and not allowed for external issuers"
                )),
                _ => Ok(alg),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_list_refuses_none_and_hmac() {
        assert_eq!(
            parse_algorithms(&["RS256".into(), "ES256".into()]),
            Ok(vec![Algorithm::RS256, Algorithm::ES256])
        );
        assert!(parse_algorithms(&["none".into()]).is_err());
        assert!(parse_algorithms(&["HS256".into()]).is_err());
        assert!(parse_algorithms(&[]).is_err());
    }

    #[test]
    fn the_stale_limit_is_bounded_and_named() {
        let config = |stale: u64| ExternalIssuerConfig {
            issuer: "https://idp.example".into(),
            jwks_url: "https://idp.example/keys".into(),
            audience: "api".into(),
            algorithms: vec!["ES256".into()],
            scope_claim: "roles".into(),
            partner_claim: "tid".into(),
            partner_map: Default::default(),
            jwks_ttl_secs: 3600,
            jwks_refresh_min_interval_secs: 60,
            jwks_stale_max_secs: stale,
        };
        let http = reqwest::Client::new();
        for ok in [0, 86_400, MAX_JWKS_STALE_SECS] {
            assert!(
                ExternalIssuer::new("auth.external_issuers[0]", config(ok), http.clone()).is_ok(),
                "{ok}"
            );
        }
        let Err(e) = ExternalIssuer::new(
            "auth.external_issuers[2]",
            config(MAX_JWKS_STALE_SECS + 1),
            http,
        ) else {
            panic!("a stale limit over 7 days was accepted");
        };
        assert!(
            e.to_string()
                .contains("auth.external_issuers[2].jwks_stale_max_secs"),
            "{e}"
        );
    }
}
