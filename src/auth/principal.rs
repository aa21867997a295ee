//! `Principal`: who is calling and with which rights, as an axum extractor. The `authenticate`
//! middleware verifies the bearer once per request and leaves the outcome in the request
//! extensions for the extractor, the rate limiter and the audit line.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, ORIGIN};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::scopes::Scope;
use crate::auth::verify::TokenError;
use crate::auth::AuthService;
use crate::problem::ApiError;

/// Who is calling and with which rights. Shared: built once per verified token and registry
/// generation, then cloned along the request (extensions, extractors, layers) for an `Arc` bump.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal(Arc<Rights>);

#[derive(Debug, PartialEq)]
pub struct Rights {
    pub partner_id: String,
    pub scopes: BTreeSet<Scope>,
    /// Legal entities (`mshr_dataareaid`) the partner may see, lower-case.
    pub companies: BTreeSet<String>,
    /// Has `pii:read`.
    pub pii: bool,
    /// The token's `sub`: the partner id for gateway tokens, the user for external issuers.
    pub subject: String,
    /// The partner id again, shared: the per-request keys (upstream fairness, audit, metrics).
    pub partner_key: Arc<str>,
}

impl std::ops::Deref for Principal {
    type Target = Rights;

    fn deref(&self) -> &Rights {
        &self.0
    }
}

impl Principal {
    /// `pii` follows from the scopes (`pii:read`).
    pub fn new(
        partner_id: impl Into<String>,
        scopes: BTreeSet<Scope>,
        companies: BTreeSet<String>,
        subject: impl Into<String>,
    ) -> Self {
        let partner_id = partner_id.into();
        Self(Arc::new(Rights {
            partner_key: partner_id.as_str().into(),
            partner_id,
            pii: scopes.contains(&Scope::PiiRead),
            scopes,
            companies,
            subject: subject.into(),
        }))
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// 403 `MissingScope` naming the scope when the token lacks it.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ApiError::MissingScope {
                scope: scope.as_str().to_string(),
            })
        }
    }

    /// Whether a record of legal entity `company` is visible: an empty set means every company.
    /// (Compared without lower-casing a copy: it runs per record.)
    pub fn may_see_company(&self, company: &str) -> bool {
        self.companies.is_empty()
            || self
                .companies
                .iter()
                .any(|c| c.eq_ignore_ascii_case(company))
    }
}

/// Copied into the response extensions so outer layers (the audit line) know the partner.
#[derive(Debug, Clone)]
pub struct AuthenticatedPartner(pub Arc<str>);

/// The token in `Authorization: Bearer <token>`; `None` when there is no Authorization header.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, TokenError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(v) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(TokenError::Malformed("several Authorization headers"));
    }
    let v = v
        .to_str()
        .map_err(|_| TokenError::Malformed("non-ASCII Authorization"))?;
    let (scheme, token) = v
        .split_once(' ')
        .ok_or(TokenError::Malformed("Authorization without scheme"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    Ok(Some(token))
}

impl AuthService {
    /// Authenticates a request's headers, including the partner's browser origin list.
    pub async fn authenticate_headers(&self, headers: &HeaderMap) -> Result<Principal, TokenError> {
        let token = match bearer_token(headers) {
            Ok(Some(t)) => t,
            Ok(None) => return Err(TokenError::Missing),
            Err(e) => {
                tracing::info!(reason = %e, "bearer token refused");
                return Err(e);
            }
        };
        let principal = self.authenticate(token).await?;
        self.check_origin(headers, &principal)?;
        Ok(principal)
    }

    /// A browser request must come from one of *this* partner's origins (CORS only knows that
    /// the origin belongs to some partner).
    fn check_origin(&self, headers: &HeaderMap, p: &Principal) -> Result<(), TokenError> {
        let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
            return Ok(());
        };
        let reg = self.registry.snapshot();
        let ok = reg
            .partner(&p.partner_id)
            .is_some_and(|partner| partner.cors_origins.contains(origin));
        if ok {
            Ok(())
        } else {
            let e = TokenError::OriginNotAllowed(p.partner_id.clone());
            tracing::info!(reason = %e, "bearer token refused");
            Err(e)
        }
    }
}

/// Middleware: verifies the bearer (when present) once and records the outcome for later layers
/// and the `Principal` extractor. Requests without a bearer pass; protected handlers refuse them.
pub async fn authenticate(
    State(auth): State<Arc<AuthService>>,
    mut req: Request,
    next: Next,
) -> Response {
    if !req.headers().contains_key(AUTHORIZATION) {
        return next.run(req).await;
    }
    match auth.authenticate_headers(req.headers()).await {
        Ok(p) => {
            let partner = AuthenticatedPartner(p.partner_key.clone());
            // The request's log span (declared empty in `app.rs`): every later line names it.
            tracing::Span::current().record("partner", p.partner_id.as_str());
            req.extensions_mut().insert(p);
            let mut resp = next.run(req).await;
            resp.extensions_mut().insert(partner);
            resp
        }
        Err(e) => e.to_api_error().into_response(),
    }
}

impl<S> FromRequestParts<S> for Principal
where
    S: Send + Sync,
    Arc<AuthService>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        // Without the middleware: verify here.
        let auth = Arc::<AuthService>::from_ref(state);
        let p = auth
            .authenticate_headers(&parts.headers)
            .await
            .map_err(|e| e.to_api_error())?;
        parts.extensions.insert(p.clone());
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn principal(scopes: &[Scope]) -> Principal {
        Principal::new(
            "acme",
            scopes.iter().copied().collect(),
            ["usmf".to_string()].into_iter().collect(),
            "acme",
        )
    }

    #[test]
    fn require_names_the_missing_scope() {
        let p = principal(&[Scope::ReferenceRead]);
        assert!(p.require(Scope::ReferenceRead).is_ok());
        match p.require(Scope::CandidatesWrite) {
            Err(ApiError::MissingScope { scope }) => assert_eq!(scope, "candidates:write"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(p.may_see_company("USMF"));
        assert!(!p.may_see_company("nomf"));
    }

    #[test]
    fn an_all_company_partner_sees_every_company() {
        let p = Principal::new("acme", BTreeSet::new(), BTreeSet::new(), "acme");
        assert!(p.may_see_company("nomf"));
        assert!(p.may_see_company(""));
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert!(matches!(bearer_token(&h), Ok(None)));
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer_token(&h).ok().flatten(), Some("abc"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(bearer_token(&h).is_err());
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert!(bearer_token(&h).is_err());
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert!(bearer_token(&h).is_err());
    }
}
