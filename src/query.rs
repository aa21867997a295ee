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
        if !allowed.contains(&k) {
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
        if !seen.insert(k.clone()) {
            return Err(ApiError::param(&k, "is given more than once"));
        }
        // Present but empty would otherwise read as absent and widen the query.
        if value(&k, v)?.is_empty() {
            return Err(ApiError::param(&k, "must not be empty"));
        }
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

/// The pairs of a query string as `form_urlencoded::parse` reads them (`&`-separated, empty
/// pieces skipped, `+` a space), the name decoded lossily (a name that is not UTF-8 names no
/// parameter), the value strictly.
pub fn pairs(raw: &str) -> impl Iterator<Item = (String, Result<String, NotUtf8>)> + '_ {
    raw.split('&').filter(|s| !s.is_empty()).map(|piece| {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let k = decode(k).map_or_else(
            |bytes| String::from_utf8_lossy(&bytes).into_owned(),
            Cow::into_owned,
        );
        (k, decode(v).map(Cow::into_owned).map_err(|_| NotUtf8))
    })
}

/// The value of parameter `name`, or the 400 naming it.
pub fn value(name: &str, v: Result<String, NotUtf8>) -> Result<String, ApiError> {
    v.map_err(|NotUtf8| ApiError::param(name, "must be UTF-8 text once percent-decoded"))
}

fn decode(s: &str) -> Result<Cow<'_, str>, Vec<u8>> {
    let plus = if s.contains('+') {
        Cow::Owned(s.replace('+', " "))
    } else {
        Cow::Borrowed(s)
    };
    let bytes: Cow<'_, [u8]> = percent_encoding::percent_decode_str(&plus).into();
    match String::from_utf8(bytes.into_owned()) {
        Ok(s) => Ok(Cow::Owned(s)),
        Err(e) => Err(e.into_bytes()),
    }
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
        assert_eq!(got[4], ("d".to_string(), Err(NotUtf8)));
        assert_eq!(got[5].1.as_deref(), Ok("%zz"));
    }
}
