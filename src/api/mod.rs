//! The partner-facing REST API (`/v1/...`): one file per resource; handlers stay thin.
pub mod accept;
pub mod candidates;
pub mod candidates_write;
pub mod changes;
pub mod cursor;
pub mod deadline;
pub mod detail;
pub mod docs;
pub mod hire_schema;
pub mod ids;
pub mod listing;
pub mod openapi;
pub mod params;
pub mod parts_body;
pub mod recruiting_requests;
pub mod reference;
pub mod respond;
pub mod route_scopes;
pub mod state;
pub mod webhooks;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use state::{App, AppState};

/// The partner API: each route registered once, with its OpenAPI operation (`#[utoipa::path]` on
/// the handler gives the path, method, parameters, responses and the scope). A new route is one
/// `.routes(routes!(module::handler))` line here; `app::router` adds the layers.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(recruiting_requests::list))
        .routes(routes!(recruiting_requests::get))
        .routes(routes!(candidates::list, candidates_write::create))
        .routes(routes!(candidates::get))
        .routes(routes!(reference::list_option_sets))
        .routes(routes!(reference::get_option_set))
        .routes(routes!(reference::get_lookup_list))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::delete))
        .routes(routes!(webhooks::enable))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::test))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(changes::list))
}
