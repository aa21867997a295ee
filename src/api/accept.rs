//! Content negotiation for partner routes: they answer JSON only, so an `Accept` header that rules
//! JSON out gets a 406 problem instead of a body the client said it cannot read.

use axum::extract::Request;
use axum::http::header::ACCEPT;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::ApiError;

/// Whether an `Accept` value admits `application/json` (or `application/problem+json`).
fn admits_json(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused
            && matches!(
                media.as_str(),
                "*/*" | "application/*" | "application/json" | "application/problem+json" | ""
            )
    })
}

/// Middleware on the partner routes.
pub async fn require_json(req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get_all(ACCEPT)
        .iter()
        .all(|v| v.to_str().is_ok_and(admits_json));
    if ok {
        next.run(req).await
    } else {
        ApiError::NotAcceptable("this route answers application/json".into()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_ranges() {
        for ok in [
            "application/json",
            "*/*",
            "text/html, application/*;q=0.5",
            "application/problem+json",
            "",
        ] {
            assert!(admits_json(ok), "{ok}");
        }
        for no in [
            "text/html",
            "application/xml",
            "application/json;q=0",
            "image/*",
        ] {
            assert!(!admits_json(no), "{no}");
        }
    }
}
