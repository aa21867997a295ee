//! Strict query strings, shared by the partner API (`api/params.rs`), the operator API and the
//! job boards: [`StrictQuery`] refuses what a route's parameter struct does not declare (unknown,
//! repeated or empty parameters are a 400 naming the parameter, so a typo never silently widens
//! a query), and [`pairs`] refuses a value whose percent-decoding is not UTF-8 (read lossily it
//! would become U+FFFD and silently match nothing).

use std::any::TypeId;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{OnceLock, RwLock};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::openapi::path::ParameterIn;
use utoipa::IntoParams;

use crate::problem::ApiError;

/// The query string parsed into `T`, strictly. Use `StrictQuery<NoParams>` on routes without any.
pub struct StrictQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for StrictQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned + IntoParams + Send + 'static,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parse(parts.uri.query().unwrap_or("")).map(StrictQuery)
    }
}

/// Names `T` documents as query parameters: the allowed ones. Built once per type (building the
/// OpenAPI parameters allocates their whole documentation, too much for every request); the set
/// of parameter types is fixed, so the leaked lists are bounded.
fn declared<T: IntoParams + 'static>() -> &'static [String] {
    static DECLARED: OnceLock<RwLock<HashMap<TypeId, &'static [String]>>> = OnceLock::new();
    let map = DECLARED.get_or_init(Default::default);
    let key = TypeId::of::<T>();
    if let Some(names) = map.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return names;
    }
    let names: Vec<String> = T::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .filter(|p| p.parameter_in == ParameterIn::Query)
        .map(|p| p.name)
        .collect();
    let mut names_by_type = map.write().unwrap_or_else(|e| e.into_inner());
    names_by_type.entry(key).or_insert_with(|| Vec::leak(names))
}

pub fn parse<T: DeserializeOwned + IntoParams + 'static>(raw: &str) -> Result<T, ApiError> {
    let allowed = declared::<T>();
    let mut seen = HashSet::new();
    for (k, v) in pairs(raw) {
        if !allowed.iter().any(|a| *a == k) {
            let detail = if allowed.is_empty() {
                "is not a parameter of this route (it takes none)".to_string()
            } else {
                format!(
                    "is not a parameter of this route (allowed: {})",
                    allowed.join(", ")
                )
            };
            return Err(ApiError::param(&k, detail));
        }
        // Present but empty would otherwise read as absent and widen the query.
        if value(&k, v)?.is_empty() {
            return Err(ApiError::param(&k, "must not be empty"));
        }
        if seen.contains(&k) {
            return Err(ApiError::param(&k, "is given more than once"));
        }
        seen.insert(k);
    }
    // Every value decoded as UTF-8 above, so the lossy parse below reads them exactly.
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let name = e.path().to_string();
        ApiError::param(&name, e.into_inner().to_string())
    })
}
/// A value that is not UTF-8 once percent-decoded (`q=%ff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUtf8;

/// A query pair: the name decoded lossily (a name that is not UTF-8 names no parameter), the
/// value strictly. Both borrow from the query string unless something in them was escaped.
pub type Pair<'a> = (Cow<'a, str>, Result<Cow<'a, str>, NotUtf8>);

/// The pairs of a query string as `form_urlencoded::parse` reads them (`&`-separated, empty
/// pieces skipped, `+` a space).
pub fn pairs(raw: &str) -> impl Iterator<Item = Pair<'_>> + '_ {
    raw.split('&').filter(|s| !s.is_empty()).map(|piece| {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let k = decode(k).unwrap_or_else(|bytes| match bytes {
            Cow::Borrowed(b) => String::from_utf8_lossy(b),
            Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
        });
        (k, decode(v).map_err(|_| NotUtf8))
    })
}

/// The value of parameter `name`, or the 400 naming it.
pub fn value<'a>(name: &str, v: Result<Cow<'a, str>, NotUtf8>) -> Result<Cow<'a, str>, ApiError> {
    v.map_err(|NotUtf8| ApiError::param(name, "must be UTF-8 text once percent-decoded"))
}

/// `s` with `+` as a space and percent-escapes decoded, borrowed when it has neither; the
/// decoded bytes when they are not UTF-8.
fn decode(s: &str) -> Result<Cow<'_, str>, Cow<'_, [u8]>> {
    if s.contains('+') {
        let spaced = s.replace('+', " ");
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(&spaced).collect();
        return String::from_utf8(bytes)
            .map(Cow::Owned)
            .map_err(|e| Cow::Owned(e.into_bytes()));
    }
    // `decode_utf8` borrows `s` when nothing is escaped; only escaped text is copied.
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map_err(|_| Cow::from(percent_encoding::percent_decode_str(s)))
}

/// For routes that take no query parameters: any parameter is refused.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoParams {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_read_as_form_urlencoded_does_and_refuse_what_is_not_utf8() {
        let raw = "a=x+y%20z&&b&c=%C3%A6&%ff=1&d=%ff&e=%zz";
        let got: Vec<_> = pairs(raw).collect();
        let lossy: Vec<_> = form_urlencoded::parse(raw.as_bytes()).collect();
        assert_eq!(got.len(), lossy.len());
        for ((k, v), (lk, lv)) in got.iter().zip(&lossy) {
            assert_eq!(k, lk);
            match v {
                Ok(v) => assert_eq!(v, lv),
                Err(NotUtf8) => assert!(lv.contains('\u{fffd}'), "{lv}"),
            }
        }
        assert_eq!(got[4], (Cow::Borrowed("d"), Err(NotUtf8)));
        // Nothing escaped: nothing copied.
        assert!(matches!(got[1].0, Cow::Borrowed(_)));
        assert!(matches!(got[2].1, Ok(Cow::Owned(_))));
        assert_eq!(got[5].1.as_deref(), Ok("%zz"));
    }
}
