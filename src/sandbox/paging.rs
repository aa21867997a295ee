//! Server-driven paging like Dataverse (wire reference §4): `@odata.nextLink` carries a `$skiptoken`
//! holding a paging cookie with the last and first primary keys of the page. The emulator resumes
//! after the `last` key, so inserts between pages never duplicate or skip rows.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use uuid::Uuid;

use super::error::DvError;
use super::store::Row;

/// Characters kept as-is in query values; everything else is percent-encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

fn row_id(row: &Row, pk: &str) -> String {
    row.get(pk)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_uppercase()
}

/// `<cookie pagenumber="N" pagingcookie="<enc(<cookie page="N-1"><pk last="{..}" first="{..}" /></cookie>)>" istracking="False" />`
pub fn skiptoken(pk: &str, next_page: usize, first: &Row, last: &Row) -> String {
    let inner = format!(
        "<cookie page=\"{}\"><{pk} last=\"{{{}}}\" first=\"{{{}}}\" /></cookie>",
        next_page.saturating_sub(1),
        row_id(last, pk),
        row_id(first, pk)
    );
    format!(
        "<cookie pagenumber=\"{next_page}\" pagingcookie=\"{}\" istracking=\"False\" />",
        enc(&enc(&inner))
    )
}

/// The next page's URL: the original query (minus any old `$skiptoken`) plus the new token.
pub fn next_link(org: &str, set: &str, params: &[(String, String)], token: &str) -> String {
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

/// What a `$skiptoken` says: the page it leads to and the last row of the previous page.
#[derive(Debug, PartialEq)]
pub struct Resume {
    pub page: usize,
    pub last: Uuid,
}

pub fn parse_skiptoken(token: &str) -> Result<Resume, DvError> {
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
    let last = attr(&inner, "last").ok_or_else(invalid)?;
    let last = Uuid::parse_str(last.trim_matches(['{', '}'])).map_err(|_| invalid())?;
    Ok(Resume { page, last })
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
        let tok = skiptoken("pk", 2, &a, &b);
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
                last: Uuid::from_u128(0x00000001_0000_0000_0000_000000000002)
            }
        );
        assert!(parse_skiptoken("garbage").is_err());
    }
}
