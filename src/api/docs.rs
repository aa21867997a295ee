//! `/docs`: the API reference (Swagger UI) over `/openapi.json`, with its assets compiled into the
//! binary (`utoipa-swagger-ui`, vendored), so the page works offline and no request leaves the
//! machine. "Authorize" gets a token from `/oauth2/token` (client credentials) and "Try it out"
//! calls the gateway that serves the page.

use axum::Router;
use utoipa_swagger_ui::{oauth, Config, SwaggerUi};

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let config = Config::new(["/openapi.json"])
        .try_it_out_enabled(true)
        .persist_authorization(true)
        .display_operation_id(true)
        .doc_expansion("list")
        // The default sends the document to an outside validator service for a badge.
        .validator_url("none");
    SwaggerUi::new("/docs")
        .config(config)
        .oauth(oauth::Config::new().app_name("ats-gateway"))
        .into()
}
