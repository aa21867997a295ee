//! The one cursor-paged list flow every list route shares: continue a sealed cursor or run the
//! route's first-page query (through the response cache, keyed by shaping), then answer
//! `{data, next_cursor, has_more}` with a weak ETag that ignores the freshly sealed cursor (nonce,
//! expiry) so an unchanged page can answer 304.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;

use super::cursor;
use super::params::PageSize;
use super::parts_body::PartsBody;
use super::respond;
use super::state::{AppState, Call};
use crate::auth::Principal;
use crate::cache::{CacheKey, Cached, KeyBuilder, Resource, Scope};
use crate::problem::ApiError;
use crate::resolve::lang::Lang;
use crate::resources::Reader;
use crate::upstream::odata::Query;
use crate::upstream::RawPage;

/// Which list a page belongs to: the partner and a fingerprint of the route, every parameter but the
/// cursor, plus the rights that shaped the upstream query (companies filter, PII columns), so a
/// cursor works only on the list it came from and stops working when those rights change instead
/// of continuing a query the partner may no longer run.
pub struct ListKey {
    partner: String,
    fingerprint: String,
}

/// Every parameter of the (already validated) query string but the cursor, sorted by name.
fn shape(raw_query: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = form_urlencoded::parse(raw_query.as_bytes())
        .filter(|(k, _)| k != "cursor")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    out.sort();
    out
}

/// One list request as the shared flow needs it.
pub struct ListRequest<'a> {
    /// The route's path template.
    pub route: &'static str,
    pub resource: Resource,
    pub principal: &'a Principal,
    pub headers: &'a HeaderMap,
    /// The request's query string (validated by the route's `StrictQuery`).
    pub raw_query: &'a str,
    pub cursor: Option<&'a str>,
    pub lang: Lang,
}

impl ListRequest<'_> {
    /// The list a cursor is bound to (partner and shaping).
    fn list_key(&self) -> ListKey {
        let owned = shape(self.raw_query);
        let mut shape: Vec<(&str, String)> =
            owned.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        shape.push(("route", self.route.to_string()));
        shape.push(("partner", self.principal.partner_id.clone()));
        // A BTreeSet: already sorted, so the same rights give the same fingerprint.
        let companies: Vec<&str> = self
            .principal
            .companies
            .iter()
            .map(String::as_str)
            .collect();
        shape.push(("companies", companies.join(",")));
        shape.push(("pii", self.principal.pii.to_string()));
        ListKey {
            partner: self.principal.partner_id.clone(),
            fingerprint: cursor::fingerprint(&shape),
        }
    }

    /// The response cache key: the shaping (route, parameters, rights, language) and what the page
    /// continues from, never the partner or the sealed cursor text.
    pub fn cache_key(&self, link: Option<&str>) -> CacheKey {
        KeyBuilder::new(self.route)
            .query(self.raw_query)
            .rights(self.principal)
            .lang(self.lang)
            .opt("link", link)
            .finish()
    }
}

/// Serves one page of a list: opens the cursor (bound to this partner and list) or starts at the
/// first page, answers from the response cache or from `page(next_link)` (the upstream read and the
/// mapping, see [`page_of`]), and responds with a freshly sealed cursor.
pub async fn serve<F, Fut>(
    st: &AppState,
    req: ListRequest<'_>,
    page: F,
) -> Result<Response, ApiError>
where
    F: Fn(Option<String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Cached, ApiError>> + Send + 'static,
{
    let key = req.list_key();
    let link = req
        .cursor
        .map(|c| st.cursors.open(c, &key.partner, &key.fingerprint))
        .transpose()?;
    let cache_key = req.cache_key(link.as_deref());
    let cached = st
        .reader
        .responses
        .get_or_compute(cache_key, Scope::List(req.resource), move || {
            page(link.clone())
        })
        .await?;
    respond_page(st, req.headers, &key, &cached, req.lang)
}

/// What a list route adds to the shared flow, implemented by the route's (already parsed) query
/// parameters: its path and resource, its paging parameters, its first-page query and how a page
/// body becomes the cached page (its typed rows rendered by the resource, see [`page_of`]).
pub trait ListRoute: Send + Sync + 'static {
    /// The route's path template.
    const PATH: &'static str;
    /// What its pages hold (a write to it invalidates them).
    const RESOURCE: Resource;

    /// The page size and the cursor, taken out of the parameters.
    fn paging(&mut self) -> (Option<PageSize>, Option<String>);

    /// The first page's query (filters from the parameters and the partner's rights).
    fn first_query(
        &self,
        rd: &Reader,
        principal: &Principal,
    ) -> impl Future<Output = Result<Query, ApiError>> + Send;

    /// One page body read into the route's rows and rendered for the partner.
    fn page(
        &self,
        rd: &Reader,
        raw: RawPage,
        principal: &Principal,
        lang: Lang,
    ) -> impl Future<Output = Result<Cached, ApiError>> + Send;
}

/// A list handler's whole body: the language, the page size and cursor, then [`serve`] with the
/// route's first-page query, or the cursor's upstream link after it.
pub async fn handle<R: ListRoute>(call: Call, mut params: R) -> Result<Response, ApiError> {
    let Call {
        st,
        principal,
        headers,
        raw_query,
    } = call;
    let headers = &headers;
    let lang = respond::lang_of(headers);
    let (page_size, cursor) = params.paging();
    let page_size = PageSize::or_default(page_size);
    let req = ListRequest {
        route: R::PATH,
        resource: R::RESOURCE,
        principal: &principal,
        headers,
        raw_query: raw_query.as_deref().unwrap_or(""),
        cursor: cursor.as_deref(),
        lang,
    };
    let route = Arc::new((params, principal.clone()));
    let rd = st.reader.clone();
    serve(&st, req, move |link| {
        let (rd, route) = (rd.clone(), Arc::clone(&route));
        async move {
            let (params, principal) = &*route;
            let raw = match link {
                Some(link) => rd.client.get_next_raw(&link, page_size).await?,
                None => {
                    let q = params.first_query(&rd, principal).await?;
                    rd.client.get_page_raw(&q, page_size).await?
                }
            };
            params.page(&rd, raw, principal, lang).await
        }
    })
    .await
}

/// What [`page_of`] reserves per row before serializing a page.
const ROW_BYTES_GUESS: usize = 1536;

/// A mapped page as the cache holds it: the `data` array's JSON and the upstream continuation, and
/// a tag over both (not over the sealed cursor, which differs on every answer: the tag is weak).
pub fn page_of<T: Serialize>(data: &[T], next_link: Option<String>) -> Result<Cached, ApiError> {
    let mut body = page_buffer(data.len());
    serde_json::to_writer(&mut body, data)
        .map_err(|e| ApiError::Internal(format!("serialize: {e}")))?;
    Ok(page_of_json(body, next_link))
}

/// A buffer for the `data` array of `rows` rows, sized for a typical mapped row (0.5–1 KB of
/// JSON): growing from empty re-copied the page about log2(size) times.
pub fn page_buffer(rows: usize) -> Vec<u8> {
    Vec::with_capacity(rows.saturating_mul(ROW_BYTES_GUESS) + 2)
}

/// [`page_of`] for a `data` array already written as JSON.
pub fn page_of_json(body: Vec<u8>, next_link: Option<String>) -> Cached {
    let etag = respond::etag_of(&[&body, next_link.as_deref().unwrap_or("").as_bytes()]);
    Cached {
        body: body.into(),
        next_link,
        etag,
    }
}

/// `{"data": …, "next_cursor": …, "has_more": …}` written straight from the cached `data` bytes.
fn respond_page(
    st: &AppState,
    headers: &HeaderMap,
    key: &ListKey,
    page: &Cached,
    lang: Lang,
) -> Result<Response, ApiError> {
    let next_cursor = page
        .next_link
        .as_deref()
        .map(|l| st.cursors.seal(&key.partner, &key.fingerprint, l))
        .transpose()?;
    // The envelope around the cached `data` bytes, sent as parts: no per-answer copy of the page.
    let mut tail = Vec::with_capacity(48 + next_cursor.as_ref().map_or(0, String::len));
    tail.extend_from_slice(b",\"next_cursor\":");
    match &next_cursor {
        // A sealed cursor is URL-safe base64: no JSON escaping needed, but written as JSON anyway.
        Some(c) => serde_json::to_writer(&mut tail, c)
            .map_err(|e| ApiError::Internal(format!("serialize: {e}")))?,
        None => tail.extend_from_slice(b"null"),
    }
    tail.extend_from_slice(if next_cursor.is_some() {
        b",\"has_more\":true}"
    } else {
        b",\"has_more\":false}"
    });
    let body = PartsBody::new([
        Bytes::from_static(b"{\"data\":"),
        page.body.clone(),
        Bytes::from(tail),
    ]);
    Ok(respond::tagged_body(
        headers,
        Body::new(body),
        &page.etag,
        lang,
    ))
}

/// The OpenAPI schema of a list route's page, `{data: [T], next_cursor, has_more}`, by name: the
/// page itself is written by [`handle`] from the cached `data` bytes, so the type only documents it.
macro_rules! list_page {
    ($name:ident, $item:ty) => {
        #[doc = "A page of a list: `data`, then `next_cursor` (null on the last page) and `has_more`."]
        #[derive(utoipa::ToSchema)]
        #[allow(dead_code)] // documents the page `listing::handle` writes
        pub struct $name {
            pub data: Vec<$item>,
            pub next_cursor: Option<String>,
            pub has_more: bool,
        }
    };
}
pub(crate) use list_page;
