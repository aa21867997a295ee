//! Server-driven paging like Dataverse (docs/dataverse-web-api.md#paging): `@odata.nextLink` carries a
//! `$skiptoken` holding a paging cookie with, for each `$orderby` column and then the primary key, the page's
//! last and first values. The emulator resumes after the `last` values alone, so rows inserted, updated or
//! deleted between pages (the anchor row included) never duplicate or skip rows.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use uuid::Uuid;

use super::error::DvError;
use super::store::{FieldRef, Fields, Row};

/// Characters kept as-is in query values; everything else is percent-encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

fn row_id<R: Fields + ?Sized>(row: &R, pk: &str) -> String {
    row.field(pk)
        .and_then(|f| f.as_str())
        .unwrap_or_default()
        .to_uppercase()
}

/// A column value as cookie text; `None` for null (the attribute is then left out).
fn cookie_text<R: Fields + ?Sized>(row: &R, col: &str) -> Option<String> {
    match row.field(col)? {
        FieldRef::Null => None,
        FieldRef::Str(s) => Some(s.to_string()),
        other => Some(other.to_value().to_string()),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&amp;", "&")
}

/// `<cookie pagenumber="N" pagingcookie="<enc(<cookie page="N-1"><col last=".." first=".." />…<pk last="{..}" first="{..}" /></cookie>)>" istracking="False" />`
/// `sort_cols` are the `$orderby` columns (the primary key, always last, is not repeated).
pub(crate) fn skiptoken<R: Fields + ?Sized>(
    pk: &str,
    sort_cols: &[&str],
    next_page: usize,
    first: &R,
    last: &R,
) -> String {
    let mut inner = format!("<cookie page=\"{}\">", next_page.saturating_sub(1));
    for col in sort_cols.iter().filter(|c| **c != pk) {
        inner.push('<');
        inner.push_str(col);
        for (name, row) in [("last", last), ("first", first)] {
            if let Some(t) = cookie_text(row, col) {
                inner.push_str(&format!(" {name}=\"{}\"", xml_escape(&t)));
            }
        }
        inner.push_str(" />");
    }
    inner.push_str(&format!(
        "<{pk} last=\"{{{}}}\" first=\"{{{}}}\" /></cookie>",
        row_id(last, pk),
        row_id(first, pk)
    ));
    format!(
        "<cookie pagenumber=\"{next_page}\" pagingcookie=\"{}\" istracking=\"False\" />",
        enc(&enc(&inner))
    )
}

/// The next page's URL: the original query (minus any old `$skiptoken`) plus the new token.
pub(crate) fn next_link(org: &str, set: &str, params: &[(String, String)], token: &str) -> String {
    let mut q: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "$skiptoken")
        .map(|(k, v)| format!("{}={}", enc(k).replace("%24", "$"), enc(v)))
        .collect();
    q.push(format!("$skiptoken={}", enc(token)));
    format!("{org}{}/{set}?{}", super::server::API_PREFIX, q.join("&"))
}

fn attr<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    let start = s.find(&format!("{name}=\""))? + name.len() + 2;
    let end = s[start..].find('"')? + start;
    Some(&s[start..end])
}

/// What a `$skiptoken` says: the page it leads to and the previous page's last row, as values.
#[derive(Debug, PartialEq)]
pub(crate) struct Resume {
    pub page: usize,
    pub last: Uuid,
    /// Each element of the inner cookie before the key: column and its `last` text (`None` = null).
    pub sort_values: Vec<(String, Option<String>)>,
}

impl Resume {
    /// A stand-in for the previous page's last row, built from the cookie alone (the row itself may
    /// be gone). `None` when the cookie lacks one of `sort_cols` (a token from another query).
    pub(crate) fn anchor(&self, pk: &str, sort_cols: &[&str]) -> Option<Row> {
        let mut row = Row::new();
        for col in sort_cols.iter().filter(|c| **c != pk) {
            let (_, text) = self.sort_values.iter().find(|(c, _)| c == col)?;
            row.insert(
                (*col).to_string(),
                text.clone().map_or(Value::Null, Value::String),
            );
        }
        row.insert(pk.to_string(), Value::String(self.last.to_string()));
        Some(row)
    }
}

pub(crate) fn parse_skiptoken(token: &str) -> Result<Resume, DvError> {
    let invalid = || DvError::bad_query("The $skiptoken value is not valid.");
    let page = attr(token, "pagenumber")
        .and_then(|p| p.parse().ok())
        .filter(|p: &usize| *p >= 2)
        .ok_or_else(invalid)?;
    let cookie = attr(token, "pagingcookie").ok_or_else(invalid)?;
    let once = percent_decode_str(cookie)
        .decode_utf8()
        .map_err(|_| invalid())?;
    let inner = percent_decode_str(&once)
        .decode_utf8()
        .map_err(|_| invalid())?;
    // Elements inside `<cookie page="n">…</cookie>`: sort columns first, the primary key last.
    let mut elements: Vec<(String, Option<String>)> = inner
        .split('<')
        .filter_map(|el| {
            let el = el.trim().trim_end_matches("/>").trim_end_matches('>');
            let name = el.split_whitespace().next()?;
            if name == "cookie" || name.starts_with('/') {
                return None;
            }
            Some((name.to_string(), attr(el, " last").map(xml_unescape)))
        })
        .collect();
    let (_, last) = elements.pop().ok_or_else(invalid)?;
    let last = last.ok_or_else(invalid)?;
    let last = Uuid::parse_str(last.trim_matches(['{', '}'])).map_err(|_| invalid())?;
    Ok(Resume {
        page,
        last,
        sort_values: elements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(id: &str) -> Row {
        json!({"pk": id}).as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn token_round_trips_through_a_url() {
        let a = row("00000001-0000-0000-0000-000000000001");
        let b = row("00000001-0000-0000-0000-000000000002");
        let tok = skiptoken("pk", &[], 2, &a, &b);
        assert!(tok.starts_with("<cookie pagenumber=\"2\" pagingcookie=\"%253Ccookie"));
        let link = next_link("http://h", "s", &[("$select".into(), "pk".into())], &tok);
        let url = url::Url::parse(&link).expect("url");
        let decoded = url
            .query_pairs()
            .find(|(k, _)| k == "$skiptoken")
            .map(|(_, v)| v.into_owned())
            .expect("token");
        assert_eq!(decoded, tok);
        let resume = parse_skiptoken(&decoded).expect("valid");
        assert_eq!(
            resume,
            Resume {
                page: 2,
                last: Uuid::from_u128(0x00000001_0000_0000_0000_000000000002),
                sort_values: vec![],
            }
        );
        assert!(parse_skiptoken("garbage").is_err());
    }

    #[test]
    fn sort_values_round_trip_with_markup_and_nulls() {
        let first = json!({"pk": "00000001-0000-0000-0000-000000000001", "d": "a", "n": 2.5})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let last = json!({"pk": "00000001-0000-0000-0000-000000000002", "d": "O'Bryan & <\"co\">", "n": null})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let tok = skiptoken("pk", &["d", "n", "pk"], 3, &first, &last);
        let r = parse_skiptoken(&tok).expect("valid");
        assert_eq!(r.page, 3);
        assert_eq!(
            r.sort_values,
            vec![
                ("d".to_string(), Some("O'Bryan & <\"co\">".to_string())),
                ("n".to_string(), None),
            ]
        );
        let anchor = r.anchor("pk", &["d", "n"]).expect("anchor");
        assert_eq!(anchor["d"], "O'Bryan & <\"co\">");
        assert!(anchor["n"].is_null());
        assert_eq!(anchor["pk"], "00000001-0000-0000-0000-000000000002");
        assert!(
            r.anchor("pk", &["other"]).is_none(),
            "a token from another $orderby"
        );
    }
}
