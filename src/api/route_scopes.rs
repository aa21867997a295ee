//! The scope each partner route needs, read from its `#[utoipa::path(security(...))]` attribute:
//! the one place a route declares it, and the same one the OpenAPI document shows. `require_scope`
//! enforces it for every partner route, so a handler cannot forget the check and a route that
//! declares nothing is refused rather than open.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{AuthService, Principal, Scope};
use crate::problem::ApiError;

/// Path template → (method, scope): looked up by `&str`, so a request builds no key.
type Table = HashMap<String, Vec<(Method, Scope)>>;

/// (method, path template) → scope, from the generated document.
static TABLE: LazyLock<Table> = LazyLock::new(|| table(&crate::api::openapi::document()));

fn table(doc: &utoipa::openapi::OpenApi) -> Table {
    let mut out = Table::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::PUT, &item.put),
            (Method::PATCH, &item.patch),
            (Method::DELETE, &item.delete),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            // A route lists one bearer requirement with one scope (checked by tests/it/openapi.rs).
            let scope = serde_json::to_value(&op.security)
                .ok()
                .and_then(|v| v[0]["bearer"][0].as_str().map(str::to_string))
                .and_then(|s| s.parse::<Scope>().ok());
            if let Some(scope) = scope {
                out.entry(path.clone()).or_default().push((method, scope));
            }
        }
    }
    out
}

/// The scope a route needs, if it declares one. HEAD is GET without a body (axum serves it with
/// the GET handler), so it needs what GET needs.
pub fn scope_for(method: &Method, path: &str) -> Option<Scope> {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    TABLE
        .get(path)?
        .iter()
        .find_map(|(m, scope)| (m == method).then_some(*scope))
}

/// Route layer (`route_layer(from_fn_with_state(auth, require_scope))`), inside `authenticate`:
/// 401 without a valid token, 403 naming the scope when the token lacks it.
pub async fn require_scope(
    State(_): State<Arc<AuthService>>,
    principal: Principal,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Response {
    match scope_for(req.method(), matched.as_str()) {
        Some(scope) => match principal.require(scope) {
            Ok(()) => next.run(req).await,
            Err(e) => e.into_response(),
        },
        None => ApiError::Internal(format!(
            "{} {} declares no scope in its OpenAPI attribute",
            req.method(),
            matched.as_str()
        ))
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partner_route_has_its_scope() {
        assert_eq!(
            scope_for(&Method::GET, "/v1/recruiting-requests"),
            Some(Scope::RecruitingRequestsRead)
        );
        assert_eq!(
            scope_for(&Method::GET, "/v1/candidates/{id}"),
            Some(Scope::CandidatesRead)
        );
        assert_eq!(
            scope_for(&Method::GET, "/v1/option-sets/{name}"),
            Some(Scope::ReferenceRead)
        );
        assert_eq!(
            scope_for(&Method::HEAD, "/v1/candidates/{id}"),
            Some(Scope::CandidatesRead)
        );
        assert_eq!(scope_for(&Method::POST, "/oauth2/token"), None);
        assert_eq!(scope_for(&Method::DELETE, "/v1/recruiting-requests"), None);
    }
}
