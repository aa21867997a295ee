//! JSON request bodies, read in one place: every route that takes JSON (the hire, webhook
//! subscriptions, the operator API) extracts a [`JsonBody`] and never sees the bytes. First the
//! media type (415 unless JSON), then one parse that also refuses a member name repeated in an
//! object (serde_json alone keeps the last one silently, so `{"id":"a","id":"b"}` would act on
//! `b`): 422 naming each repeat by its JSON pointer. Not JSON, or nested past serde_json's
//! recursion limit: 400. The form-taking token endpoint keeps its own rule (`auth/`).

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::problem::body::FullBody;
use crate::problem::{ApiError, FieldError};

/// At most this many repeated members are named in one answer (the rest are found by fixing
/// these): a 1 MiB body could hold a hundred thousand.
const MAX_REPEATS: usize = 20;

/// Each pointer named is cut here: 20 of them stay small whatever the body's names.
const MAX_POINTER_BYTES: usize = 2048;

const REPEATED: &str = "is repeated in its object; send each member once";

/// A request's JSON body; `None` when the request had no body at all (zero bytes), which a route
/// may take as `{}` (the operator API) or refuse ([`JsonBody::required`]).
#[derive(Debug)]
pub struct JsonBody(pub Option<Value>);

impl JsonBody {
    /// The body, which must be there.
    pub fn required(self) -> Result<Value, ApiError> {
        self.0
            .ok_or_else(|| ApiError::BadRequest("the body is empty; send a JSON object".into()))
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let declared = declared_json(req.headers());
        // The body limit's 413, a body cut short as `Bytes` answers it, and one past its deadline
        // the 408 (`FullBody`).
        let FullBody(bytes) = FullBody::from_request(req, state).await?;
        // No body is no body whatever its declared type (`curl -X POST -d ''` declares a form).
        if bytes.is_empty() {
            return Ok(JsonBody(None));
        }
        let declared = declared.map_err(IntoResponse::into_response)?;
        // Bytes without a media type are not taken for JSON: a client that forgot the header
        // may not be sending what it thinks it is.
        if !declared {
            return Err(ApiError::UnsupportedMediaType(
                "the body has no Content-Type; send it as Content-Type: application/json".into(),
            )
            .into_response());
        }
        parse(&bytes)
            .map(|v| JsonBody(Some(v)))
            .map_err(IntoResponse::into_response)
    }
}

/// `Ok(true)` for a JSON media type (`application/json` or `application/*+json`, any parameters,
/// a `charset` only UTF-8: JSON is UTF-8, RFC 8259 §8.1), `Ok(false)` when there is no
/// `Content-Type`, 415 for anything else (several `Content-Type` lines included: ambiguous).
fn declared_json(headers: &HeaderMap) -> Result<bool, ApiError> {
    let mut lines = headers.get_all(CONTENT_TYPE).iter();
    let Some(line) = lines.next() else {
        return Ok(false);
    };
    let refuse = |why: &str| {
        Err(ApiError::UnsupportedMediaType(format!(
            "{why}; send the body as Content-Type: application/json"
        )))
    };
    if lines.next().is_some() {
        return refuse("the request has several Content-Type headers");
    }
    let Ok(text) = line.to_str() else {
        return refuse("the Content-Type is not a media type");
    };
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let json = essence.split_once('/').is_some_and(|(kind, sub)| {
        let sub = sub.to_ascii_lowercase();
        kind.eq_ignore_ascii_case("application")
            && (sub == "json"
                || sub
                    .strip_suffix("+json")
                    .is_some_and(|s| !s.is_empty() && !s.contains(['/', ' '])))
    });
    if !json {
        return refuse(&format!(
            "this route takes JSON, not `{}`",
            essence.chars().take(100).collect::<String>()
        ));
    }
    for param in parts.filter(|p| !p.trim().is_empty()) {
        let Some((name, value)) = param.split_once('=') else {
            return refuse("the Content-Type's parameters are malformed");
        };
        let value = value.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset") && !value.eq_ignore_ascii_case("utf-8") {
            return refuse("JSON is UTF-8 only");
        }
    }
    Ok(true)
}

/// The bytes as JSON, in one pass that also notes every member name repeated in its object.
pub fn parse(bytes: &[u8]) -> Result<Value, ApiError> {
    let mut scan = Scan::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = ValueSeed { scan: &mut scan }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    let value = parsed.map_err(|e| ApiError::BadRequest(format!("the body is not JSON ({e})")))?;
    if scan.repeats.is_empty() {
        Ok(value)
    } else {
        Err(ApiError::Validation(
            scan.repeats
                .into_iter()
                .map(|pointer| FieldError {
                    pointer,
                    detail: REPEATED.into(),
                })
                .collect(),
        ))
    }
}

enum Step {
    Member(String),
    Item(usize),
}

/// Where the parse is (the members and items above the current value) and what it found.
#[derive(Default)]
struct Scan {
    path: Vec<Step>,
    repeats: Vec<String>,
}

impl Scan {
    /// The current place as an RFC 6901 pointer, cut at `MAX_POINTER_BYTES` (the problem cuts
    /// it shorter still; a member name may be most of the body).
    fn pointer(&self) -> String {
        let mut out = String::new();
        'steps: for step in &self.path {
            out.push('/');
            match step {
                Step::Member(name) => {
                    for c in name.chars() {
                        if out.len() >= MAX_POINTER_BYTES {
                            break 'steps;
                        }
                        match c {
                            '~' => out.push_str("~0"),
                            '/' => out.push_str("~1"),
                            c => out.push(c),
                        }
                    }
                }
                Step::Item(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }
}

/// One value: built as `serde_json::Value` is, its objects checked for repeats. serde_json's own
/// recursion limit bounds the nesting (each `[`/`{` counts before the visitor runs), so a deep
/// body is its 400, not a stack overflow.
struct ValueSeed<'a> {
    scan: &'a mut Scan,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // As serde_json's own `Value` does (a JSON number is never NaN or infinite).
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.scan.path.push(Step::Item(items.len()));
            let item = seq.next_element_seed(ValueSeed {
                scan: &mut *self.scan,
            })?;
            self.scan.path.pop();
            match item {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let repeated = members.contains_key(&name);
            self.scan.path.push(Step::Member(name.clone()));
            if repeated && self.scan.repeats.len() < MAX_REPEATS {
                let pointer = self.scan.pointer();
                if !self.scan.repeats.contains(&pointer) {
                    self.scan.repeats.push(pointer);
                }
            }
            let value = map.next_value_seed(ValueSeed {
                scan: &mut *self.scan,
            })?;
            self.scan.path.pop();
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn repeats(body: &str) -> Vec<String> {
        match parse(body.as_bytes()) {
            Err(ApiError::Validation(errs)) => errs.into_iter().map(|e| e.pointer).collect(),
            Ok(_) => Vec::new(),
            Err(e) => panic!("{body}: {e}"),
        }
    }

    #[test]
    fn a_body_without_repeats_parses_as_serde_json_does() {
        for body in [
            r#"{"a":1,"b":[{"a":2},{"a":3}],"c":{"a":{"a":null}},"d":-1.5e3,"e":"\u00e9","f":true,"g":18446744073709551615,"h":-9223372036854775808}"#,
            r#"[1,2,{"x":[]}]"#,
            r#""text""#,
            "  null ",
            "{}",
        ] {
            let ours = parse(body.as_bytes()).expect(body);
            let theirs: Value = serde_json::from_str(body).expect(body);
            assert_eq!(ours, theirs, "{body}");
            // Member order kept, as the hire's replay comparison and the 422 pointers expect.
            assert_eq!(ours.to_string(), theirs.to_string(), "{body}");
        }
    }

    #[test]
    fn repeats_are_found_at_any_depth_with_their_pointers() {
        assert_eq!(repeats(r#"{"id":"p4","id":"p5"}"#), ["/id"]);
        assert_eq!(
            repeats(r#"{"person":{"first_name":"A"},"person":{"first_name":"Dup"}}"#),
            ["/person"]
        );
        assert_eq!(
            repeats(r#"{"person":{"first_name":"A","last_name":"B","first_name":"Dup"}}"#),
            ["/person/first_name"]
        );
        // Inside arrays, and objects in arrays in objects.
        assert_eq!(
            repeats(r#"{"person":{"contacts":[{"type":"x"},{"type":"a","type":"b"}]}}"#),
            ["/person/contacts/1/type"]
        );
        assert_eq!(repeats(r#"[[{"k":1,"k":2}]]"#), ["/0/0/k"]);
        // Every repeated name, once each; RFC 6901 escapes.
        assert_eq!(
            repeats(r#"{"a/b":1,"a/b":2,"m~n":1,"m~n":2,"m~n":3}"#),
            ["/a~1b", "/m~0n"]
        );
        // Names compared as decoded: an escape does not hide a repeat.
        assert_eq!(repeats(r#"{"url":1,"\u0075rl":2}"#), ["/url"]);
        // The same name in sibling objects is no repeat.
        assert!(repeats(r#"{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}"#).is_empty());
    }

    #[test]
    fn repeats_named_are_bounded() {
        let long = "n".repeat(100_000);
        let body = format!(r#"{{"{long}":[{{"a":1,"a":2}}]}}"#);
        let found = repeats(&body);
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("/nnn") && found[0].len() <= MAX_POINTER_BYTES + 4);
        let many: Vec<&str> = (0..1000).map(|_| r#"{"k":1,"k":2}"#).collect();
        let body = format!("[{}]", many.join(","));
        assert_eq!(repeats(&body).len(), MAX_REPEATS);
    }

    #[test]
    fn not_json_and_deep_nesting_are_400_not_a_panic() {
        for body in [
            "{".to_string(),
            r#"{"a":1,"a":2"#.to_string(),
            r#"{"a":1} x"#.to_string(),
            "[".repeat(100_000),
            format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)),
            "{\"a\":".repeat(50_000),
        ] {
            match parse(body.as_bytes()) {
                Err(ApiError::BadRequest(d)) => {
                    assert!(d.starts_with("the body is not JSON"), "{d}")
                }
                other => panic!("{}: {other:?}", &body[..body.len().min(40)]),
            }
        }
        // Just inside serde_json's limit of 128 levels: parsed.
        let deep = format!("{}1{}", "[".repeat(127), "]".repeat(127));
        assert!(parse(deep.as_bytes()).is_ok());
        // A syntax error wins over a repeat before it.
        assert!(matches!(
            parse(br#"{"a":1,"a":2,}"#),
            Err(ApiError::BadRequest(_))
        ));
    }

    fn declared(values: &[&str]) -> Result<bool, ApiError> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CONTENT_TYPE, HeaderValue::from_str(v).expect("value"));
        }
        declared_json(&h)
    }

    #[test]
    fn json_media_types_only() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;",
            "application/json;charset=\"UTF-8\"",
            "application/merge-patch+json",
            "application/vnd.acme.hire+json; version=1",
        ] {
            assert!(matches!(declared(&[ok]), Ok(true)), "{ok}");
        }
        assert!(matches!(declared(&[]), Ok(false)));
        for refused in [
            "text/plain",
            "text/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/jsonx",
            "application/+json",
            "application",
            "",
            "application/json; charset=latin1",
            "application/json; charset",
        ] {
            assert!(
                matches!(declared(&[refused]), Err(ApiError::UnsupportedMediaType(_))),
                "{refused}"
            );
        }
        assert!(matches!(
            declared(&["application/json", "application/json"]),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }

    async fn extract(content_type: &str, body: &'static str) -> Result<JsonBody, u16> {
        let req = Request::builder()
            .method("POST")
            .header(CONTENT_TYPE, content_type)
            .body(axum::body::Body::from(body))
            .expect("request");
        JsonBody::from_request(req, &())
            .await
            .map_err(|r| r.status().as_u16())
    }

    #[tokio::test]
    async fn no_body_is_no_body_whatever_type_it_declares() {
        let empty = extract("application/x-www-form-urlencoded", "").await;
        assert!(matches!(empty, Ok(JsonBody(None))));
        assert_eq!(extract("text/plain", "{}").await.err(), Some(415));
        assert!(matches!(
            extract("application/json", "{}").await,
            Ok(JsonBody(Some(_)))
        ));
    }
}
