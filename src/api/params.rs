//! Query parameters, declared once per route as a struct deriving both `Deserialize` (parsing) and
//! `IntoParams` (the OpenAPI parameters). [`StrictQuery`] refuses what the struct does not declare:
//! unknown, repeated or empty parameters are a 400 naming the parameter, so a partner's typo never
//! silently widens a query. Value types ([`PageSize`], [`List`], [`Code`], …) carry the 400 message
//! of their own check.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

// The strict parser itself is shared with the operator API and the boards (`crate::query`).
pub use crate::query::{parse, NoParams, StrictQuery};

/// A value of one query parameter: its check and the message a partner reads when it fails.
pub trait ParamValue: Sized {
    fn parse(v: &str) -> Result<Self, String>;
}

impl ParamValue for String {
    fn parse(v: &str) -> Result<Self, String> {
        Ok(v.to_string())
    }
}

pub(crate) fn via_param_value<'de, D: Deserializer<'de>, T: ParamValue>(
    d: D,
) -> Result<T, D::Error> {
    let s = String::deserialize(d)?;
    T::parse(&s).map_err(D::Error::custom)
}

/// Implements `Deserialize` through [`ParamValue`], so serde reports the value's own message.
macro_rules! deserialize_via_param_value {
    ($($t:ty),*) => {$(
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::api::params::via_param_value(d)
            }
        }
    )*};
}
pub(crate) use deserialize_via_param_value;

/// A fixed set of values: one declaration gives the Rust enum, its parsing (with `$hint` as the
/// message for any other value) and its OpenAPI schema (`enum` of the strings, described by `$doc`).
macro_rules! param_enum {
    ($name:ident, $doc:literal, $hint:expr, { $($var:ident = $s:literal),* $(,)? }) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $(#[doc = $s] $var,)*
        }
        impl $crate::api::params::ParamValue for $name {
            fn parse(v: &str) -> Result<Self, String> {
                match v {
                    $($s => Ok(Self::$var),)*
                    other => Err(($hint)(other)),
                }
            }
        }
        $crate::api::params::deserialize_via_param_value!($name);
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some($doc))
                    .enum_values(Some([$($s),*]))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use param_enum;

/// `page_size`: 1–200, default 50.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(pub u32);

impl PageSize {
    pub const MAX: u32 = 200;
    pub const DEFAULT: u32 = 50;

    pub fn or_default(v: Option<PageSize>) -> u32 {
        v.map_or(Self::DEFAULT, |p| p.0)
    }
}

impl ParamValue for PageSize {
    fn parse(v: &str) -> Result<Self, String> {
        v.parse::<u32>()
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(PageSize)
            .ok_or_else(|| format!("must be between 1 and {}", Self::MAX))
    }
}

/// The most distinct values one list filter may carry: keeps the upstream `$filter` bounded.
pub const MAX_LIST_VALUES: usize = 20;

/// A comma-separated list: items trimmed, repeats dropped (first occurrence kept), at least one
/// and at most [`MAX_LIST_VALUES`] distinct values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T>(pub Vec<T>);

impl<T: ParamValue + PartialEq> ParamValue for List<T> {
    fn parse(v: &str) -> Result<Self, String> {
        let mut out: Vec<T> = Vec::new();
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let item = T::parse(item)?;
            if !out.contains(&item) {
                if out.len() == MAX_LIST_VALUES {
                    return Err(format!("lists more than {MAX_LIST_VALUES} distinct values"));
                }
                out.push(item);
            }
        }
        if out.is_empty() {
            return Err("must list at least one value".into());
        }
        Ok(List(out))
    }
}

impl<'de, T: ParamValue + PartialEq> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        via_param_value(d)
    }
}

/// A readable code (company, job id, department number): letters, digits, space and `-_./`, ≤ 40
/// characters, not starting or ending with a space. A GUID is one too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code(pub String);

/// The OpenAPI pattern of [`Code`].
pub const CODE_PATTERN: &str = "^[A-Za-z0-9._/-]([A-Za-z0-9 ._/-]{0,38}[A-Za-z0-9._/-])?$";

impl ParamValue for Code {
    fn parse(v: &str) -> Result<Self, String> {
        // A blank or padded code matches nothing HR holds: an error, not an empty list.
        let ok = !v.is_empty()
            && v.len() <= 40
            && !v.starts_with(' ')
            && !v.ends_with(' ')
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || " -_./".contains(c));
        if ok {
            Ok(Code(v.to_string()))
        } else {
            Err("must be a code of letters, digits, spaces or -_./ (at most 40), not starting or ending with a space".into())
        }
    }
}

/// A GUID (`3fa85f64-5717-4562-b3fc-2c963f66afa6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guid(pub uuid::Uuid);

impl ParamValue for Guid {
    fn parse(v: &str) -> Result<Self, String> {
        uuid::Uuid::parse_str(v)
            .map(Guid)
            .map_err(|_| "must be a GUID".to_string())
    }
}

/// Free text for a `contains` search: at most 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(pub String);

/// The OpenAPI pattern of [`SearchText`] (no C0/C1 control characters).
pub const SEARCH_TEXT_PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$";

impl ParamValue for SearchText {
    fn parse(v: &str) -> Result<Self, String> {
        if v.chars().count() > 100 {
            return Err("must be at most 100 characters".into());
        }
        if v.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(SearchText(v.to_string()))
    }
}

deserialize_via_param_value!(PageSize, Code, Guid, SearchText);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ApiError;
    use utoipa::IntoParams;

    #[derive(Debug, Deserialize, IntoParams)]
    #[into_params(parameter_in = Query)]
    struct Q {
        #[param(value_type = Option<u32>)]
        page_size: Option<PageSize>,
        #[param(value_type = Option<String>)]
        status: Option<List<String>>,
        #[param(value_type = Option<String>)]
        company: Option<Code>,
        #[param(value_type = Option<String>)]
        q: Option<SearchText>,
    }

    fn detail(e: ApiError) -> (String, String) {
        match e {
            ApiError::InvalidParameter { name, detail } => (name, detail),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// utoipa's `pattern` takes only a literal, so each code filter repeats [`CODE_PATTERN`] (and
    /// `q` [`SEARCH_TEXT_PATTERN`]): the document is held to the constants here.
    #[test]
    fn filter_patterns_in_the_document_are_the_constants() {
        let doc = serde_json::to_value(crate::api::openapi::document()).expect("document");
        let mut codes = 0;
        for ops in doc["paths"].as_object().expect("paths").values() {
            for op in ops.as_object().expect("operations").values() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let pattern = p["schema"]["pattern"].as_str();
                    match p["name"].as_str() {
                        Some("company" | "department" | "job" | "recruiting_request") => {
                            assert_eq!(pattern, Some(CODE_PATTERN), "{p}");
                            codes += 1;
                        }
                        Some("q") => assert_eq!(pattern, Some(SEARCH_TEXT_PATTERN), "{p}"),
                        _ => {}
                    }
                }
            }
        }
        assert_eq!(
            codes, 5,
            "the code filters of candidates and recruiting requests"
        );
    }

    #[test]
    fn strictness() {
        let q: Q = parse("page_size=10&status=a,%20b,,a&company=usmf").expect("parse");
        assert_eq!(q.page_size, Some(PageSize(10)));
        assert_eq!(q.status, Some(List(vec!["a".into(), "b".into()])));
        assert_eq!(q.company, Some(Code("usmf".into())));
        assert_eq!(q.q, None);
        let q: Q = parse("").expect("empty");
        assert_eq!(PageSize::or_default(q.page_size), 50);
        for (raw, name) in [
            ("pagesize=10", "pagesize"),
            ("page_size=1&page_size=2", "page_size"),
            ("page_size=0", "page_size"),
            ("page_size=201", "page_size"),
            ("page_size=abc", "page_size"),
            ("page_size=", "page_size"),
            ("company=us'mf", "company"),
            ("company=", "company"),
            ("q=a%0Ab", "q"),
            ("q=%ff", "q"),
            ("q=caf%C3", "q"),
            ("status=%ff", "status"),
            ("status=", "status"),
            ("status=,", "status"),
            ("status=%20", "status"),
            ("status=%20,%20,", "status"),
        ] {
            let e = parse::<Q>(raw).expect_err(raw);
            assert_eq!(detail(e).0, name, "{raw}");
        }
        let (_, d) = detail(parse::<Q>("page_size=0").expect_err("0"));
        assert_eq!(d, "must be between 1 and 200");
        let (_, d) = detail(parse::<Q>("q=%ff").expect_err("not UTF-8"));
        assert_eq!(d, "must be UTF-8 text once percent-decoded");
        let (_, d) = detail(parse::<Q>("pagesize=1").expect_err("unknown"));
        assert!(d.contains("allowed: page_size, status, company, q"), "{d}");
        let (_, d) = detail(parse::<NoParams>("x=1").expect_err("none"));
        assert!(d.contains("takes none"), "{d}");
    }

    #[test]
    fn lists_are_deduplicated_and_bounded() {
        let many = vec!["active"; 3000].join(",");
        let q: Q = parse(&format!("status={many}")).expect("repeats collapse");
        assert_eq!(q.status, Some(List(vec!["active".into()])));
        let distinct: Vec<String> = (0..=MAX_LIST_VALUES).map(|i| format!("s{i}")).collect();
        let (name, d) =
            detail(parse::<Q>(&format!("status={}", distinct.join(","))).expect_err("too many"));
        assert_eq!(name, "status");
        assert!(d.contains("more than 20"), "{d}");
    }
}
