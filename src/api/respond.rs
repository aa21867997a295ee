//! JSON responses with a weak `ETag` over the body (`crate::etag::weak`: compression shares it)
//! and `If-None-Match` → 304, and the caller's language in `Content-Language` (labels depend on
//! it, so `Vary: Accept-Language`).

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use serde::Serialize;

use crate::problem::ApiError;
use crate::resolve::lang::Lang;

pub fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::negotiate(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// A JSON body with an `ETag` over its bytes.
pub fn json<T: Serialize>(headers: &HeaderMap, body: &T, lang: Lang) -> Result<Response, ApiError> {
    json_tagged(headers, body, body, lang)
}

/// Like [`json`], with the `ETag` computed over `tag_source`: list pages carry a freshly sealed
/// cursor (random nonce, expiry) that differs on every call, so their tag covers the data and what
/// the cursor points at (the bytes differ; the page is equivalent).
pub fn json_tagged<T: Serialize, E: Serialize>(
    headers: &HeaderMap,
    body: &T,
    tag_source: &E,
    lang: Lang,
) -> Result<Response, ApiError> {
    let bytes =
        serde_json::to_vec(body).map_err(|e| ApiError::Internal(format!("serialize: {e}")))?;
    let tag_bytes = serde_json::to_vec(tag_source)
        .map_err(|e| ApiError::Internal(format!("serialize: {e}")))?;
    Ok(tagged_bytes(
        headers,
        bytes.into(),
        &etag_of(&[&tag_bytes]),
        lang,
    ))
}

/// A serialized body as a cacheable detail: the bytes and their tag.
pub fn cached_json<T: Serialize>(body: &T) -> Result<crate::cache::Cached, ApiError> {
    let bytes =
        serde_json::to_vec(body).map_err(|e| ApiError::Internal(format!("serialize: {e}")))?;
    Ok(crate::cache::Cached {
        etag: etag_of(&[&bytes]),
        body: bytes.into(),
        next_link: None,
    })
}

/// Fixed, so every replica and every restart tags equal bodies alike; rapidhash v3's output is
/// frozen across crate versions.
static ETAG_SEED: rapidhash::v3::RapidSecrets =
    rapidhash::v3::RapidSecrets::seed(0x6174_732d_6574_6167);

/// A fast non-cryptographic hash: a tag only has to change when the body does (the bodies are
/// Dataverse's data, not chosen by whoever sends `If-None-Match`), and SHA-256 over a 60 KB page
/// was 4 % of the gateway's CPU with the response cache off. 64 bits, one pass: two versions of
/// one resource sharing a tag is a 2^-64 chance (a second pass for 128 bits doubled the cost).
pub fn etag_of(parts: &[&[u8]]) -> String {
    let mut h = rapidhash::v3::RapidStreamHasherV3::new(&ETAG_SEED);
    for p in parts {
        h.write(&(p.len() as u64).to_le_bytes());
        h.write(p);
    }
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(h.finish().to_le_bytes()))
}

/// The answer for JSON `bytes` tagged `etag` (quoted; sent weak): 304 when `If-None-Match`
/// names it.
pub fn tagged_bytes(headers: &HeaderMap, bytes: Bytes, etag: &str, lang: Lang) -> Response {
    tagged_body(headers, Body::from(bytes), etag, lang)
}

/// [`tagged_bytes`] for any body (a list page sends its parts without joining them).
pub fn tagged_body(headers: &HeaderMap, body: Body, etag: &str, lang: Lang) -> Response {
    // Weak comparison (RFC 9110 §13.1.2), as If-None-Match requires.
    let mut resp = if crate::etag::if_none_match(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = (StatusCode::OK, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    let h = resp.headers_mut();
    if let Some(v) = crate::etag::weak(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Authorization"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    resp
}

/// `{ "data": [...], "next_cursor": ..., "has_more": ... }`
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListPage<T: Serialize> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_follows_the_tag_source_not_the_body() {
        let h = HeaderMap::new();
        let a = json_tagged(&h, &("data", "cursor-1"), &"data", Lang::EnUs).expect("a");
        let b = json_tagged(&h, &("data", "cursor-2"), &"data", Lang::EnUs).expect("b");
        assert_eq!(a.headers()[header::ETAG], b.headers()[header::ETAG]);
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, a.headers()[header::ETAG].clone());
        let c = json_tagged(&h, &("data", "cursor-3"), &"data", Lang::EnUs).expect("c");
        assert_eq!(c.status(), StatusCode::NOT_MODIFIED);
        let d = json_tagged(&h, &("data", "cursor-3"), &"other", Lang::EnUs).expect("d");
        assert_eq!(d.status(), StatusCode::OK);
    }

    #[test]
    fn tags_are_stable_and_separate_parts() {
        let page = vec![b'x'; 60_000];
        let a = etag_of(&[&page, b"next"]);
        // 8 bytes, base64url, quoted; the same input gives the same tag (replicas, restarts).
        assert_eq!(a.len(), 13);
        assert_eq!(a, etag_of(&[&page, b"next"]));
        let mut changed = page.clone();
        changed[30_000] = b'y';
        assert_ne!(a, etag_of(&[&changed, b"next"]));
        assert_ne!(a, etag_of(&[&page, b"nexu"]));
        // Bytes moved from one part to the next change the tag.
        assert_ne!(etag_of(&[b"ab", b"c"]), etag_of(&[b"a", b"bc"]));
        assert_ne!(etag_of(&[b"", b"a"]), etag_of(&[b"a", b""]));
    }
}
