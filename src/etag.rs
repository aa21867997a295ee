//! Entity tags as the partner API and the job boards send them, and `If-None-Match` against one.

use axum::http::{header, HeaderMap, HeaderValue};

/// The `ETag` header for `etag` (an opaque tag, `"…"`): always weak. The compression layer
/// (`app.rs`) sends one answer as identity, gzip or br under the tag its handler set, and a
/// strong validator must differ per content-coding (RFC 9110 §8.8.3). A weak one still answers
/// `If-None-Match` (compared weakly); these routes take no `If-Match` or `Range`, which need strong.
pub fn weak(etag: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("W/{}", etag.trim_start_matches("W/"))).ok()
}

/// Whether any `If-None-Match` value names `etag` (an opaque tag, `"…"`, with or without `W/`) or
/// is `*`, by the weak comparison RFC 9110 §13.1.2 prescribes for it: a `W/` prefix on either
/// side is ignored (caches and proxies that compress mark tags weak).
pub fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    let etag = etag.trim_start_matches("W/");
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                header::IF_NONE_MATCH,
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn sent_tags_are_weak_once() {
        assert_eq!(weak("\"a\"").expect("value"), "W/\"a\"");
        assert_eq!(weak("W/\"a\"").expect("value"), "W/\"a\"");
        let sent = weak("\"a\"").expect("value");
        assert!(if_none_match(
            &with(&[sent.to_str().expect("ascii")]),
            "\"a\""
        ));
    }

    #[test]
    fn tags_compare_weakly_across_lists_and_headers() {
        assert!(if_none_match(&with(&["\"a\""]), "\"a\""));
        assert!(if_none_match(&with(&["W/\"a\""]), "\"a\""));
        assert!(if_none_match(&with(&["\"a\""]), "W/\"a\""));
        assert!(if_none_match(&with(&["\"x\", W/\"a\""]), "\"a\""));
        assert!(if_none_match(&with(&["\"x\"", "\"a\""]), "\"a\""));
        assert!(if_none_match(&with(&["*"]), "\"a\""));
        assert!(!if_none_match(&with(&["\"b\""]), "\"a\""));
        assert!(!if_none_match(&HeaderMap::new(), "\"a\""));
    }
}
