//! Operator authentication: a bearer operator token checked against `[operator] token_hashes`
//! (argon2, on the secret-check pool). A token seen before costs a SHA-256 and a cache lookup; the
//! hash it matched must still be configured. Anything else (no token, a partner's JWT, a wrong
//! token) is the same 401 problem.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::Digest;

use super::OperatorContext;
use crate::auth::secrets;
use crate::auth::TokenError;
use crate::problem::ApiError;
use crate::store::partners::{AuditRecord, PartnerStore};

/// Every operator token starts so: anything else is refused without an argon2 run.
pub const TOKEN_PREFIX: &str = "atsop_";

/// Creates an operator token: `(token, argon2 hash)`; the hash goes into `[operator] token_hashes`.
pub fn create_operator_token() -> (String, String) {
    let raw: [u8; 32] = rand::random();
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let hash = secrets::hash_secret(&token);
    (token, hash)
}

/// Who made an operator call (named by the token's hash, never the token).
#[derive(Debug, Clone)]
pub struct Actor(pub String);

/// What a handler tells the audit trail about its call.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub partner: Option<String>,
    pub detail: serde_json::Value,
}

pub struct OperatorTokens {
    hashes: Vec<String>,
    /// The external issuer whose users with the operator role are operators, and that role.
    jwt: Option<(crate::auth::external::ExternalIssuer, String)>,
    leeway_secs: u64,
    /// SHA-256 of a token → the hash it matched.
    seen: moka::sync::Cache<[u8; 32], Arc<str>>,
    /// Refused calls recorded in the current minute: (minute, count).
    refused: std::sync::Mutex<(i64, u32)>,
    /// One argon2 run at a time for operator tokens not seen before, waited for at most
    /// [`CHECK_WAIT`]: a flood of made-up `atsop_` tokens gets 401s instead of filling the
    /// secret-check pool that partners' token requests wait on (a real token, once seen, needs no
    /// run).
    checking: tokio::sync::Semaphore,
}

/// How long an unseen operator token waits for the check in progress.
const CHECK_WAIT: Duration = Duration::from_millis(500);

/// Refused operator calls written to the audit trail per minute (all are logged).
const REFUSED_PER_MINUTE: u32 = 60;

/// How long a refused call's answer waits for its audit record; the write goes on in the
/// background under the store's own bound. A refused call makes no store call of its own, so
/// without this a flood of them while Postgres is silent would each wait a full `[state]
/// timeout_ms` (and a healthy store writes a record in milliseconds, so the trail read right after
/// a refused call still has it).
const REFUSED_AUDIT_WAIT: Duration = Duration::from_millis(250);

impl OperatorTokens {
    pub fn new(
        config: &super::config::OperatorConfig,
        leeway_secs: u64,
    ) -> Result<Self, crate::auth::AuthConfigError> {
        let invalid = |e: String| crate::auth::AuthConfigError::invalid("operator.jwt", e);
        let jwt = match &config.jwt {
            Some(j) => {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|e| invalid(e.to_string()))?;
                // Its own errors name `operator.jwt.<key>`.
                let ext = crate::auth::external::ExternalIssuer::new(
                    "operator.jwt",
                    j.issuer_config(),
                    http,
                )?;
                Some((ext, j.role.clone()))
            }
            None => None,
        };
        // A mistyped hash refuses the start rather than silently locking the operator out.
        if let Some(i) = config
            .token_hashes
            .iter()
            .position(|h| !secrets::is_valid_phc(h))
        {
            return Err(crate::auth::AuthConfigError::invalid(
                format!("operator.token_hashes[{i}]"),
                "is not an argon2 PHC string (create one with `ats-gateway operator-token`)",
            ));
        }
        Ok(Self {
            hashes: config.token_hashes.clone(),
            jwt,
            leeway_secs,
            seen: moka::sync::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(Duration::from_secs(300))
                .build(),
            refused: std::sync::Mutex::new((0, 0)),
            checking: tokio::sync::Semaphore::new(1),
        })
    }

    /// The actor for `token`, or `None`.
    pub async fn check(&self, token: &str) -> Option<Actor> {
        if !token.starts_with(TOKEN_PREFIX) {
            return self.check_jwt(token).await;
        }
        if token.len() > 200 || self.hashes.is_empty() {
            return None;
        }
        let key: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        if let Some(known) = self.seen_before(&key) {
            return known;
        }
        let Ok(Ok(_checking)) = tokio::time::timeout(CHECK_WAIT, self.checking.acquire()).await
        else {
            tracing::info!("operator token refused: other unseen tokens kept the check busy");
            return None;
        };
        // The check just finished may have been this token's (concurrent first calls).
        if let Some(known) = self.seen_before(&key) {
            return known;
        }
        let hashes = self.hashes.clone();
        let plain = token.to_string();
        let matched = secrets::run_check(move || {
            hashes.iter().fold(None, |m, h| {
                m.or(secrets::verify_secret(&plain, h).then(|| h.clone()))
            })
        })
        .await
        .flatten()?;
        self.seen.insert(key, matched.as_str().into());
        Some(actor(&matched))
    }
}

impl OperatorTokens {
    /// For a token seen before (by its SHA-256): its actor while the hash it matched is still
    /// configured, else `Some(None)`. `None`: not seen.
    fn seen_before(&self, key: &[u8; 32]) -> Option<Option<Actor>> {
        let h = self.seen.get(key)?;
        Some(self.hashes.iter().any(|c| **c == *h).then(|| actor(&h)))
    }

    /// Whether this refused call still fits the minute's audit budget.
    fn refused_slot(&self) -> bool {
        let minute = chrono::Utc::now().timestamp() / 60;
        let mut g = match self.refused.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if g.0 != minute {
            *g = (minute, 0);
        }
        g.1 += 1;
        g.1 <= REFUSED_PER_MINUTE
    }

    /// A user of the configured issuer holding the operator role; named by its `sub`.
    async fn check_jwt(&self, token: &str) -> Option<Actor> {
        let (ext, role) = self.jwt.as_ref()?;
        let claims = crate::auth::verify::verify_issuer_token(token, ext, self.leeway_secs)
            .await
            .inspect_err(|e| tracing::info!(reason = %e, "operator JWT refused"))
            .ok()?;
        let roles = crate::auth::verify::claim_values(claims.get(&ext.config.scope_claim));
        if !roles.iter().any(|r| r == role) {
            tracing::info!("operator JWT refused: no operator role");
            return None;
        }
        let sub = claims.get("sub").and_then(|v| v.as_str()).unwrap_or("?");
        Some(Actor(format!(
            "jwt:{}",
            sub.chars().take(128).collect::<String>()
        )))
    }
}

fn actor(hash: &str) -> Actor {
    let d = sha2::Sha256::digest(hash.as_bytes());
    let hex: String = d[..4].iter().map(|b| format!("{b:02x}")).collect();
    Actor(format!("operator-token:{hex}"))
}

fn unauthorized(presented: bool) -> Response {
    ApiError::Unauthorized {
        error: presented.then_some("invalid_token"),
        description: "an operator token is required (ats-gateway operator-token)".into(),
    }
    .into_response()
}

/// Middleware for every `/operator/v1` route: authenticates, then appends the call to the audit
/// trail (actor, method and route, partner, status); a call the state store answered 503 is
/// written in the background.
pub async fn require_operator(
    State(ctx): State<OperatorContext>,
    mut req: Request,
    next: Next,
) -> Response {
    // The partner routes' parsing: one Authorization header, scheme `Bearer`, a token.
    // `presented`: the request carried a bearer token (well formed or not); RFC 6750 §3.1 keeps
    // error codes out of the challenge to one that carried none, as the partner listener does.
    let (actor, presented) = match crate::auth::principal::bearer_token(req.headers()) {
        Ok(Some(t)) => (ctx.tokens.check(t).await, true),
        Ok(None) | Err(TokenError::Missing | TokenError::NotBearer) => (None, false),
        Err(_) => (None, true),
    };
    let action = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or("<unmatched>", MatchedPath::as_str)
    );
    let Some(actor) = actor else {
        tracing::info!(target: "audit", action = %action, "operator call refused: no valid operator token");
        // Refused calls are audited too, at most REFUSED_PER_MINUTE a minute (a flood of them
        // must not fill the trail); the log has every one.
        if ctx.tokens.refused_slot() {
            let record = AuditRecord {
                seq: 0,
                at_ms: chrono::Utc::now().timestamp_millis(),
                actor: "anonymous".into(),
                action,
                partner: None,
                status: 401,
                detail: serde_json::json!({"refused": "no valid operator token"}),
            };
            ctx.background_audits
                .write_briefly(ctx.store.clone(), record, REFUSED_AUDIT_WAIT)
                .await;
        }
        return unauthorized(presented);
    };
    req.extensions_mut().insert(actor.clone());
    let resp = next.run(req).await;
    let note = resp
        .extensions()
        .get::<AuditNote>()
        .cloned()
        .unwrap_or_default();
    let record = AuditRecord {
        seq: 0,
        at_ms: chrono::Utc::now().timestamp_millis(),
        actor: actor.0.clone(),
        action,
        partner: note.partner,
        status: resp.status().as_u16(),
        detail: note.detail,
    };
    tracing::info!(target: "audit", actor = %record.actor, action = %record.action, partner = record.partner.as_deref().unwrap_or("-"), status = record.status, "operator call");
    // A call the store answered 503 has just found it away (refused or silent past `[state]
    // timeout_ms`): its record is written in the background, so the answer does not wait a second
    // full bound; it still lands if the store answers within its own bound (the line above has it
    // either way). Any other call's record is stored before it answers, so the trail read right
    // after a call has it.
    if found_store_away(&resp) {
        ctx.background_audits.spawn(ctx.store.clone(), record);
    } else if let Err(e) = ctx.store.append_audit(&record).await {
        tracing::error!(error = %e, "operator audit record not stored");
    }
    resp
}

/// Audit writes waiting in the background at most (each bounded by `[state] timeout_ms`): a
/// client retrying at once while the store is silent cannot pile up tasks.
const BACKGROUND_AUDIT_WRITES: usize = 32;

/// Audit records being written after their call was answered, tracked so a graceful stop waits
/// for them ([`BackgroundAudits::finish`]) instead of losing a record that was about to land.
pub struct BackgroundAudits {
    writes: tokio_util::task::TaskTracker,
    room: Arc<tokio::sync::Semaphore>,
}

impl Default for BackgroundAudits {
    fn default() -> Self {
        Self {
            writes: tokio_util::task::TaskTracker::new(),
            room: Arc::new(tokio::sync::Semaphore::new(BACKGROUND_AUDIT_WRITES)),
        }
    }
}

/// Stores `record`; a failure is logged (the call's audit log line has the record).
async fn store_record(store: Arc<dyn PartnerStore>, record: AuditRecord) {
    if let Err(e) = store.append_audit(&record).await {
        tracing::error!(error = %e, action = %record.action, "operator audit record not stored");
    }
}

impl BackgroundAudits {
    /// Writes `record` in a tracked task, for a call that found the store away; with
    /// [`BACKGROUND_AUDIT_WRITES`] already waiting, the record stays in the log only.
    pub(super) fn spawn(&self, store: Arc<dyn PartnerStore>, record: AuditRecord) {
        let Ok(permit) = self.room.clone().try_acquire_owned() else {
            tracing::error!(action = %record.action, status = record.status, "operator audit record not stored: too many audit writes wait on the state store (the audit log line has it)");
            return;
        };
        self.writes.spawn(async move {
            let _permit = permit;
            store_record(store, record).await;
        });
    }

    /// Writes `record` in a tracked task and waits for it at most `wait` (a refused call: its
    /// answer must not wait a store bound, its record should still be in the trail read next).
    async fn write_briefly(
        &self,
        store: Arc<dyn PartnerStore>,
        record: AuditRecord,
        wait: Duration,
    ) {
        let write = self.writes.spawn(store_record(store, record));
        if tokio::time::timeout(wait, write).await.is_err() {
            tracing::warn!(
                "refused operator call answered before its audit record was stored; still writing it"
            );
        }
    }

    /// At a graceful stop, once no call can start another: waits for the writes in flight (each
    /// gives up by itself after `[state] timeout_ms`; the caller bounds the wait as a whole).
    pub async fn finish(&self) {
        self.writes.close();
        if self.writes.is_empty() {
            return;
        }
        let waiting = self.writes.len();
        tracing::info!(
            writes = waiting,
            "waiting for operator audit records still being stored"
        );
        self.writes.wait().await;
    }
}

/// Whether the answer is the store's own 503 (`state-unavailable`): read from the problem the
/// answer carries, set where [`crate::store::StoreError::Unavailable`] became the problem, not from
/// the body.
fn found_store_away(resp: &Response) -> bool {
    resp.extensions()
        .get::<crate::problem::Problem>()
        .is_some_and(|p| *p.problem_type == crate::problem::types::STATE_UNAVAILABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unseen_tokens_are_checked_one_at_a_time_and_a_seen_one_never_waits() {
        let (token, hash) = create_operator_token();
        let config = super::super::config::OperatorConfig {
            token_hashes: vec![hash],
            ..Default::default()
        };
        let tokens = OperatorTokens::new(&config, 60).expect("tokens");
        let held = tokens.checking.try_acquire().expect("free");
        assert!(
            tokens.check(&token).await.is_none(),
            "refused once the check in progress kept it waiting too long"
        );
        drop(held);
        // Concurrent first calls with one token: one run, then the other finds it seen.
        let (a, b) = tokio::join!(tokens.check(&token), tokens.check(&token));
        assert!(a.is_some() && b.is_some());
        let _held = tokens.checking.try_acquire().expect("free");
        assert!(
            tokens.check(&token).await.is_some(),
            "a token seen before needs no run"
        );
    }

    /// Only the store's own 503 skips the audit write: another 503 (Dataverse away) or a store
    /// failure that is the gateway's fault (500) is still written.
    #[test]
    fn only_the_state_stores_503_counts_as_the_store_found_away() {
        use crate::store::StoreError;
        let away = ApiError::from(StoreError::Unavailable("no answer".into())).into_response();
        assert!(found_store_away(&away));
        for other in [
            ApiError::from(StoreError::Backend("refused statement".into())),
            ApiError::UpstreamUnavailable("breaker open".into()),
        ] {
            assert!(!found_store_away(&other.into_response()));
        }
        assert!(!found_store_away(
            &axum::http::StatusCode::OK.into_response()
        ));
    }

    #[test]
    fn an_operator_jwt_setting_out_of_bounds_is_named_under_its_section() {
        let config = super::super::config::OperatorConfig {
            jwt: Some(super::super::config::OperatorJwtConfig {
                issuer: "https://idp.example/ops".into(),
                jwks_url: "https://idp.example/ops/keys".into(),
                audience: "ats-gateway-ops".into(),
                algorithms: vec!["ES256".into()],
                role_claim: "roles".into(),
                role: "ats-gateway.operator".into(),
                jwks_stale_max_secs: u64::MAX,
            }),
            ..Default::default()
        };
        let Err(e) = OperatorTokens::new(&config, 60) else {
            panic!("an out-of-bounds stale limit was accepted");
        };
        let e = e.to_string();
        assert!(e.contains("operator.jwt.jwks_stale_max_secs"), "{e}");
        assert!(!e.contains("external_issuers"), "{e}");
    }
}
