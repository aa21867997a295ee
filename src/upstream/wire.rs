//! What goes on the wire and comes back: Dataverse's documented request headers, `Retry-After`,
//! error bodies into [`UpstreamError`], collection pages, `OData-EntityId`, metric labels.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use url::Url;
use uuid::Uuid;

use super::client::Page;
use super::error::{ThrottledBy, UpstreamError};

/// Annotations the gateway resolves labels and lookup targets from.
const INCLUDE_ANNOTATIONS: &str =
    "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\"";
/// Dataverse's page-size ceiling.
const MAX_PAGE_SIZE: u32 = 5000;
const MAX_ERROR_MESSAGE_CHARS: usize = 1000;
const MAX_REQUEST_ID_LEN: usize = 128;

/// `id` as a header value, if it is short visible ASCII (a partner chooses it: keep it bounded).
pub(crate) fn header_request_id(id: &str) -> Option<HeaderValue> {
    let ok = !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| HeaderValue::from_str(id).ok()).flatten()
}

/// `odata.maxpagesize=N,odata.include-annotations="…"` (RFC 7240 comma form).
pub(crate) fn prefer_header(page_size: Option<u32>, annotations: bool) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(n) = page_size {
        parts.push(format!("odata.maxpagesize={}", n.clamp(1, MAX_PAGE_SIZE)));
    }
    if annotations {
        parts.push(INCLUDE_ANNOTATIONS.to_string());
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// `Retry-After` in seconds (Dataverse sends delta-seconds; an HTTP-date is not honoured).
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// `{"error":{"code","message"}}` → (code, message); empty strings when the body has another shape.
fn parse_dataverse_error(body: &[u8]) -> (String, String) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    let field = |name: &str| {
        err.and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(MAX_ERROR_MESSAGE_CHARS)
            .collect::<String>()
    };
    (field("code"), field("message"))
}

/// A non-2xx answer as the typed error (429 with its `Retry-After`).
pub(crate) fn error_from_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> UpstreamError {
    let (code, message) = parse_dataverse_error(body);
    match status.as_u16() {
        400 => UpstreamError::BadRequest { code, message },
        401 => UpstreamError::Unauthorized,
        403 => UpstreamError::Forbidden { code, message },
        404 => UpstreamError::NotFound { code, message },
        429 => UpstreamError::Throttled {
            retry_after: parse_retry_after(headers),
            by: ThrottledBy::Dataverse,
        },
        s @ (502..=504) => UpstreamError::Unavailable { status: s },
        s @ 500..=599 => {
            tracing::warn!(status = s, code = %code, "Dataverse server error");
            UpstreamError::ServerError { status: s, code }
        }
        s => UpstreamError::Rejected {
            status: s,
            code,
            message,
        },
    }
}

/// A collection body (`{"value": [...], "@odata.nextLink": …}`) with its rows as `R`: typed rows
/// borrow from `body`; other members are skipped.
#[derive(Deserialize)]
#[serde(bound(deserialize = "R: Deserialize<'de>"))]
struct WirePage<R> {
    #[serde(deserialize_with = "rows")]
    value: Vec<R>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
    #[serde(rename = "@odata.count", default)]
    count: Option<u64>,
}

pub(crate) fn parse_page<'a, R: Deserialize<'a>>(
    body: &'a [u8],
    rows_expected: u32,
) -> Result<Page<R>, UpstreamError> {
    let text = utf8(body, "collection body")?;
    ROWS_EXPECTED.set(rows_expected.min(MAX_ROWS_RESERVED) as usize);
    // sonic-rs: the same serde rows, with SIMD scanning of the strings and skipped annotations a
    // page is mostly made of (8 % fewer instructions per distinct-URL request than serde_json).
    let page = sonic_rs::from_str::<WirePage<R>>(text);
    ROWS_EXPECTED.set(0);
    let page = page
        .map_err(|e| UpstreamError::BadResponse(format!("collection body: {}", syntax_only(&e))))?;
    Ok(Page {
        rows: page.value,
        next_link: page.next_link,
        count: page.count,
    })
}

/// A parse error without the excerpt of the body sonic-rs appends after a blank line (row data:
/// not for logs or problems).
fn syntax_only(e: &sonic_rs::Error) -> String {
    let text = e.to_string();
    match text.split_once("\n\n") {
        Some((head, _)) => head.to_string(),
        None => text,
    }
}

/// Room made up front at most (a scan's 5,000-row pages grow past it as before).
const MAX_ROWS_RESERVED: u32 = 1000;

thread_local! {
    /// The rows the page being parsed on this thread was asked for (serde passes no state to a
    /// field's deserializer; parsing is synchronous, so the thread's value is this page's).
    static ROWS_EXPECTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// `value`'s rows, with room for the page size asked made at once.
fn rows<'de, D: serde::Deserializer<'de>, R: Deserialize<'de>>(d: D) -> Result<Vec<R>, D::Error> {
    struct Rows<R>(std::marker::PhantomData<R>);
    impl<'de, R: Deserialize<'de>> serde::de::Visitor<'de> for Rows<R> {
        type Value = Vec<R>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of rows")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<R>, A::Error> {
            let mut out = Vec::with_capacity(ROWS_EXPECTED.get());
            while let Some(row) = seq.next_element()? {
                out.push(row);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Rows(std::marker::PhantomData))
}

/// An entity body (one row) as `R`.
pub(crate) fn parse_entity<'a, R: Deserialize<'a>>(body: &'a [u8]) -> Result<R, UpstreamError> {
    serde_json::from_str(utf8(body, "entity body")?)
        .map_err(|e| UpstreamError::BadResponse(format!("entity body: {e}")))
}

/// The body as text, checked once. `serde_json::from_slice` checks every string member on its own
/// (one `from_utf8` call per string, 4–5 % of the gateway's CPU on 100-row pages with the
/// response cache off); `from_str` on text checked in one pass skips those calls. The pass is
/// simdutf8's (about a fifth of `std::str::from_utf8`'s instructions on a 250 KB page); std's
/// only names the position when the body is not UTF-8.
fn utf8<'a>(body: &'a [u8], what: &str) -> Result<&'a str, UpstreamError> {
    simdutf8::basic::from_utf8(body)
        .or_else(|_| std::str::from_utf8(body))
        .map_err(|e| UpstreamError::BadResponse(format!("{what}: not UTF-8 ({e})")))
}

/// The id in `OData-EntityId: [Org]/api/data/v9.2/set(<guid>)` (or `Location`).
pub(crate) fn entity_id_from_headers(headers: &HeaderMap) -> Result<Uuid, UpstreamError> {
    let value = headers
        .get("OData-EntityId")
        .or_else(|| headers.get(reqwest::header::LOCATION))
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| UpstreamError::BadResponse("create without OData-EntityId".to_string()))?;
    let inner = value
        .rsplit_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .ok_or_else(|| UpstreamError::BadResponse("OData-EntityId without a key".to_string()))?;
    Uuid::parse_str(inner)
        .map_err(|_| UpstreamError::BadResponse("OData-EntityId key is not a GUID".to_string()))
}

/// The entity-set segment of a Web API URL, for the metric label: `[a-z0-9_]` only, bounded.
pub(crate) fn entity_set_label(url: &Url) -> String {
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    let set: String = last
        .split('(')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    if set.is_empty() {
        "unknown".to_string()
    } else {
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Row<'a> {
        #[serde(borrow)]
        name: std::borrow::Cow<'a, str>,
    }

    #[test]
    fn pages_parse_from_text_checked_once() {
        let body =
            br#"{"value":[{"name":"plain"},{"name":"caf\u00e9 \"q\""}],"@odata.nextLink":"n"}"#;
        let page = parse_page::<Row>(body, 2).expect("page");
        assert_eq!(page.rows[0].name, "plain");
        // Unescaped strings still borrow from the body.
        assert!(matches!(page.rows[0].name, std::borrow::Cow::Borrowed(_)));
        assert_eq!(page.rows[1].name, "café \"q\"");
        assert_eq!(page.next_link.as_deref(), Some("n"));
        // Bytes that are not UTF-8 are a bad response, as before.
        let bad = b"{\"value\":[{\"name\":\"\xff\"}]}";
        assert!(matches!(
            parse_page::<Row>(bad, 0),
            Err(UpstreamError::BadResponse(_))
        ));
        // A syntax error says where, never what: the body's text stays out of logs and problems.
        match parse_page::<Row>(br#"{"value":[{"name":"secret-pii"} oops]}"#, 1) {
            Err(UpstreamError::BadResponse(m)) => {
                assert!(m.contains("line 1 column"), "{m}");
                assert!(!m.contains("secret") && !m.contains("oops"), "{m}");
            }
            _ => panic!("a syntax error is a bad response"),
        }
        assert!(matches!(
            parse_entity::<Row>(b"{\"name\":\"\xc3\"}"),
            Err(UpstreamError::BadResponse(_))
        ));
    }
}
