//! The one flow of a `GET /v1/…/{id}` route: the path id (GUID or number) resolved, the resource
//! loaded as the partner may see it through the response cache (keyed by shaping, never the
//! partner), and answered with its ETag (304 when unchanged).

use std::future::Future;

use axum::response::Response;
use serde::Serialize;
use uuid::Uuid;

use super::respond;
use super::state::Call;
use crate::auth::Principal;
use crate::cache::{KeyBuilder, Resource, Scope};
use crate::problem::ApiError;
use crate::resolve::lang::Lang;
use crate::resources::numbers::Numbered;
use crate::resources::Reader;

/// One detail route: its path template, what it holds, and where its ids and numbers live.
pub struct DetailRoute {
    pub path: &'static str,
    pub resource: Resource,
    pub numbered: &'static Numbered,
}

/// Serves `segment` of `route`: `load` reads the record as `principal` may see it (`None`: 404).
pub async fn serve<T, F, Fut>(
    call: Call,
    segment: &str,
    route: &DetailRoute,
    load: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: Fn(Reader, Principal, Uuid, Lang) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<T>, ApiError>> + Send + 'static,
{
    let Call {
        st,
        principal,
        headers,
        ..
    } = call;
    let headers = &headers;
    let lang = respond::lang_of(headers);
    let id = super::ids::resolve(&st.reader, &principal, segment, route.numbered).await?;
    let key = KeyBuilder::new(route.path)
        .field("id", &id.to_string())
        .rights(&principal)
        .lang(lang)
        .finish();
    let (rd, not_found) = (st.reader.clone(), route.numbered.not_found);
    let one = st
        .reader
        .responses
        .get_or_compute(key, Scope::One(route.resource, id), move || {
            // Boxed: the read and rendering future is large, and each wrapper would copy it on the stack.
            let shown = Box::pin(load(rd.clone(), principal.clone(), id, lang));
            async move {
                let one = shown
                    .await?
                    .ok_or_else(|| ApiError::NotFound(not_found.into()))?;
                respond::cached_json(&one)
            }
        })
        .await?;
    Ok(respond::tagged_bytes(
        headers,
        one.body.clone(),
        &one.etag,
        lang,
    ))
}
