//! The one cursor-paged list flow every list route shares: continue a sealed cursor or run the
//! route's first-page query, then answer `{data, next_cursor, has_more}` with an ETag that ignores
//! the freshly sealed cursor (nonce, expiry) so an unchanged page can answer 304.

use std::future::Future;

use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;

use super::cursor;
use super::respond::{self, ListPage};
use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::ApiError;
use crate::resolve::lang::Lang;
use crate::upstream::{Page, Query};

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

/// Fetches the page asked for on list `route` (its path template): the cursor's continuation, or
/// the first page of `first_query()`. `raw_query` is the request's query string (validated by the
/// route's `StrictQuery`).
pub async fn fetch_page<F, Fut>(
    st: &AppState,
    route: &'static str,
    principal: &Principal,
    raw_query: &str,
    cursor: Option<&str>,
    page_size: u32,
    first_query: F,
) -> Result<(Page, ListKey), ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Query, ApiError>>,
{
    let owned = shape(raw_query);
    let mut shape: Vec<(&str, String)> =
        owned.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    shape.push(("route", route.to_string()));
    shape.push(("partner", principal.partner_id.clone()));
    // A BTreeSet: already sorted, so the same rights give the same fingerprint.
    let companies: Vec<&str> = principal.companies.iter().map(String::as_str).collect();
    shape.push(("companies", companies.join(",")));
    shape.push(("pii", principal.pii.to_string()));
    let key = ListKey {
        partner: principal.partner_id.clone(),
        fingerprint: cursor::fingerprint(&shape),
    };
    let page = match cursor {
        Some(c) => {
            let link = st.cursors.open(c, &key.partner, &key.fingerprint)?;
            st.client.get_next(&link, page_size).await?
        }
        None => st.client.get_page(&first_query().await?, page_size).await?,
    };
    Ok((page, key))
}

/// The list response for `data` mapped from a page whose upstream continuation is `next_link`.
pub fn respond_page<T: Serialize>(
    st: &AppState,
    headers: &HeaderMap,
    key: &ListKey,
    data: Vec<T>,
    next_link: Option<&str>,
    lang: Lang,
) -> Result<Response, ApiError> {
    let next_cursor = next_link
        .map(|l| st.cursors.seal(&key.partner, &key.fingerprint, l))
        .transpose()?;
    let has_more = next_cursor.is_some();
    let body = ListPage {
        data,
        next_cursor,
        has_more,
    };
    let tag = (&body.data, next_link);
    respond::json_tagged(headers, &body, &tag, lang, true)
}
