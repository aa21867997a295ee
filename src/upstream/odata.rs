//! The typed OData query builder: THE ONLY place in the codebase that writes `$filter`, `$select`,
//! `$orderby`, `$expand`, `$top` and `$count`.
//!
//! Entity-set, column and navigation names are `&'static str`, so they can only be chosen by code,
//! never by a partner. Partner values travel only inside [`Literal`]s, which are escaped for OData
//! (quotes doubled, SQL wildcards bracketed inside string functions) and then percent-encoded, so
//! no value can end a literal, add a query option or split the query string.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use uuid::Uuid;

/// Characters left as-is in a query option value; everything else (including `&`, `#`, `+`, `%`,
/// `=`, `;`, `'`, space, control characters and non-ASCII) is percent-encoded. `'` is encoded because
/// the `url` crate (and so reqwest) would re-encode it anyway: this way the string built here is the
/// string sent.
const VALUE_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'(')
    .remove(b')')
    .remove(b',')
    .remove(b'/')
    .remove(b':')
    .remove(b'$')
    .remove(b'*')
    .remove(b'@');

/// A typed value in a filter. Rendering follows the Dataverse literal forms
/// (docs/dataverse-web-api.md#query-options).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Guid(Uuid),
    Int(i64),
    /// Must be finite; [`Query::validate`] rejects NaN and infinities.
    Decimal(f64),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Bool(bool),
    Null,
}

impl Literal {
    /// The OData literal: `'O''Bryan'`, `4026be43-…`, `42`, `2024-01-31`, `2023-04-07T21:59:01Z`, `null`.
    fn render(&self) -> String {
        match self {
            Literal::Str(s) => quote(s),
            Literal::Guid(g) => g.hyphenated().to_string(),
            Literal::Int(i) => i.to_string(),
            Literal::Decimal(d) => d.to_string(),
            Literal::Date(d) => d.format("%Y-%m-%d").to_string(),
            Literal::DateTime(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            Literal::Bool(b) => b.to_string(),
            Literal::Null => "null".to_string(),
        }
    }

    /// The element of an `In(...PropertyValues=[...])` array: always a JSON string.
    fn render_array_item(&self) -> String {
        let plain = match self {
            Literal::Str(s) => s.clone(),
            other => other.render(),
        };
        // serde_json escapes `"` and `\`; serialising a &str cannot fail.
        serde_json::Value::String(plain).to_string()
    }
}

impl From<&str> for Literal {
    fn from(v: &str) -> Self {
        Literal::Str(v.to_string())
    }
}
impl From<String> for Literal {
    fn from(v: String) -> Self {
        Literal::Str(v)
    }
}
impl From<Uuid> for Literal {
    fn from(v: Uuid) -> Self {
        Literal::Guid(v)
    }
}
impl From<i64> for Literal {
    fn from(v: i64) -> Self {
        Literal::Int(v)
    }
}
impl From<i32> for Literal {
    fn from(v: i32) -> Self {
        Literal::Int(i64::from(v))
    }
}
impl From<f64> for Literal {
    fn from(v: f64) -> Self {
        Literal::Decimal(v)
    }
}
impl From<bool> for Literal {
    fn from(v: bool) -> Self {
        Literal::Bool(v)
    }
}
impl From<NaiveDate> for Literal {
    fn from(v: NaiveDate) -> Self {
        Literal::Date(v)
    }
}
impl From<DateTime<Utc>> for Literal {
    fn from(v: DateTime<Utc>) -> Self {
        Literal::DateTime(v)
    }
}

/// `'…'` with embedded quotes doubled.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Dataverse honours SQL LIKE wildcards inside `contains`/`startswith`/`endswith`, so a partner's
/// `%`, `_` and `[` must be bracketed to match literally.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '%' => out.push_str("[%]"),
            '_' => out.push_str("[_]"),
            '[' => out.push_str("[[]"),
            other => out.push(other),
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrFn {
    Contains,
    StartsWith,
    EndsWith,
}

impl StrFn {
    fn as_str(self) -> &'static str {
        match self {
            StrFn::Contains => "contains",
            StrFn::StartsWith => "startswith",
            StrFn::EndsWith => "endswith",
        }
    }
}

/// A `$filter` expression tree. Columns may be paths (`mshr_FK_Person_id/mshr_name`) but are always
/// static strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Cmp {
        column: &'static str,
        op: CmpOp,
        value: Literal,
    },
    Str {
        func: StrFn,
        column: &'static str,
        value: String,
    },
    In(&'static str, Vec<Literal>),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    pub fn cmp(column: &'static str, op: CmpOp, value: impl Into<Literal>) -> Self {
        Filter::Cmp {
            column,
            op,
            value: value.into(),
        }
    }
    pub fn eq(column: &'static str, value: impl Into<Literal>) -> Self {
        Self::cmp(column, CmpOp::Eq, value)
    }
    pub fn ne(column: &'static str, value: impl Into<Literal>) -> Self {
        Self::cmp(column, CmpOp::Ne, value)
    }
    pub fn gt(column: &'static str, value: impl Into<Literal>) -> Self {
        Self::cmp(column, CmpOp::Gt, value)
    }
    pub fn ge(column: &'static str, value: impl Into<Literal>) -> Self {
        Self::cmp(column, CmpOp::Ge, value)
    }
    pub fn lt(column: &'static str, value: impl Into<Literal>) -> Self {
        Self::cmp(column, CmpOp::Lt, value)
    }
    pub fn le(column: &'static str, value: impl Into<Literal>) -> Self {
        Self::cmp(column, CmpOp::Le, value)
    }
    pub fn contains(column: &'static str, value: impl Into<String>) -> Self {
        Filter::Str {
            func: StrFn::Contains,
            column,
            value: value.into(),
        }
    }
    pub fn starts_with(column: &'static str, value: impl Into<String>) -> Self {
        Filter::Str {
            func: StrFn::StartsWith,
            column,
            value: value.into(),
        }
    }
    pub fn ends_with(column: &'static str, value: impl Into<String>) -> Self {
        Filter::Str {
            func: StrFn::EndsWith,
            column,
            value: value.into(),
        }
    }
    pub fn is_in(column: &'static str, values: Vec<Literal>) -> Self {
        Filter::In(column, values)
    }
    /// `self and other`, flattening nested ands.
    pub fn and(self, other: Filter) -> Self {
        match self {
            Filter::And(mut v) => {
                v.push(other);
                Filter::And(v)
            }
            first => Filter::And(vec![first, other]),
        }
    }
    /// `self or other`, flattening nested ors.
    pub fn or(self, other: Filter) -> Self {
        match self {
            Filter::Or(mut v) => {
                v.push(other);
                Filter::Or(v)
            }
            first => Filter::Or(vec![first, other]),
        }
    }
    // `Filter::not` reads as the OData operator; `std::ops::Not` would hide it behind `!`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Self {
        Filter::Not(Box::new(self))
    }
    /// All of `filters` (None when empty), so callers can fold optional conditions.
    pub fn all(filters: Vec<Filter>) -> Option<Filter> {
        match filters.len() {
            0 => None,
            1 => filters.into_iter().next(),
            _ => Some(Filter::And(filters)),
        }
    }

    /// The unencoded OData expression.
    pub fn render(&self) -> String {
        match self {
            Filter::Cmp { column, op, value } => {
                format!("{column} {} {}", op.as_str(), value.render())
            }
            Filter::Str {
                func,
                column,
                value,
            } => format!("{}({column},{})", func.as_str(), quote(&escape_like(value))),
            Filter::In(column, values) => {
                let items: Vec<String> = values.iter().map(Literal::render_array_item).collect();
                format!(
                    "Microsoft.Dynamics.CRM.In(PropertyName='{column}',PropertyValues=[{}])",
                    items.join(",")
                )
            }
            Filter::And(items) => join_grouped(items, " and "),
            Filter::Or(items) => join_grouped(items, " or "),
            Filter::Not(inner) => format!("not ({})", inner.render()),
        }
    }

    fn validate(&self) -> Result<(), QueryError> {
        match self {
            Filter::Cmp { value, .. } => validate_literal(value),
            Filter::Str { .. } => Ok(()),
            Filter::In(column, values) => {
                if values.is_empty() {
                    return Err(QueryError(format!("empty In list for {column}")));
                }
                for v in values {
                    if *v == Literal::Null {
                        return Err(QueryError(format!("null in In list for {column}")));
                    }
                    validate_literal(v)?;
                }
                Ok(())
            }
            Filter::And(items) | Filter::Or(items) => {
                if items.is_empty() {
                    return Err(QueryError("empty and/or group".to_string()));
                }
                items.iter().try_for_each(Filter::validate)
            }
            Filter::Not(inner) => {
                // Dataverse: "Not operator along with the Custom Named Condition operators is not allowed".
                if matches!(**inner, Filter::In(..)) {
                    return Err(QueryError("not cannot wrap In".to_string()));
                }
                inner.validate()
            }
        }
    }
}

fn validate_literal(value: &Literal) -> Result<(), QueryError> {
    match value {
        Literal::Decimal(d) if !d.is_finite() => {
            Err(QueryError("non-finite decimal literal".to_string()))
        }
        _ => Ok(()),
    }
}

/// Joins children, parenthesising composite ones so precedence never depends on operator rules.
fn join_grouped(items: &[Filter], sep: &str) -> String {
    items
        .iter()
        .map(|f| match f {
            Filter::And(_) | Filter::Or(_) => format!("({})", f.render()),
            other => other.render(),
        })
        .collect::<Vec<_>>()
        .join(sep)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

fn render_orderby(items: &[(&'static str, Order)]) -> String {
    items
        .iter()
        .map(|(c, o)| format!("{c} {}", o.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

/// One `$expand` item with its nested options (`nav($select=a,b;$filter=…)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    nav: &'static str,
    select: Vec<&'static str>,
    filter: Option<Filter>,
    orderby: Vec<(&'static str, Order)>,
    top: Option<u32>,
}

impl Expand {
    pub fn new(nav: &'static str) -> Self {
        Self {
            nav,
            select: Vec::new(),
            filter: None,
            orderby: Vec::new(),
            top: None,
        }
    }
    pub fn select(mut self, columns: &[&'static str]) -> Self {
        self.select.extend_from_slice(columns);
        self
    }
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }
    pub fn order_by(mut self, column: &'static str, order: Order) -> Self {
        self.orderby.push((column, order));
        self
    }
    pub fn top(mut self, n: u32) -> Self {
        self.top = Some(n);
        self
    }

    fn render(&self) -> String {
        let mut opts = Vec::new();
        if !self.select.is_empty() {
            opts.push(format!("$select={}", self.select.join(",")));
        }
        if let Some(f) = &self.filter {
            opts.push(format!("$filter={}", f.render()));
        }
        if !self.orderby.is_empty() {
            opts.push(format!("$orderby={}", render_orderby(&self.orderby)));
        }
        if let Some(n) = self.top {
            opts.push(format!("$top={n}"));
        }
        if opts.is_empty() {
            self.nav.to_string()
        } else {
            format!("{}({})", self.nav, opts.join(";"))
        }
    }
}

/// A query the builder refuses to render into a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid query: {0}")]
pub struct QueryError(pub String);

/// A Web API read: entity set, optional key, and query options.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    entity_set: &'static str,
    key: Option<Uuid>,
    select: Vec<&'static str>,
    filter: Option<Filter>,
    orderby: Vec<(&'static str, Order)>,
    expand: Vec<Expand>,
    top: Option<u32>,
    count: bool,
}

impl Query {
    pub fn new(entity_set: &'static str) -> Self {
        Self {
            entity_set,
            key: None,
            select: Vec::new(),
            filter: None,
            orderby: Vec::new(),
            expand: Vec::new(),
            top: None,
            count: false,
        }
    }
    /// Addresses one row: `set(<guid>)`.
    pub fn key(mut self, id: Uuid) -> Self {
        self.key = Some(id);
        self
    }
    pub fn select(mut self, columns: &[&'static str]) -> Self {
        self.select.extend_from_slice(columns);
        self
    }
    /// Sets the filter, and-ing it with any filter already present.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing.and(filter),
            None => filter,
        });
        self
    }
    /// Like [`Query::filter`] but a no-op for `None`, for optional partner conditions.
    pub fn filter_opt(self, filter: Option<Filter>) -> Self {
        match filter {
            Some(f) => self.filter(f),
            None => self,
        }
    }
    pub fn order_by(mut self, column: &'static str, order: Order) -> Self {
        self.orderby.push((column, order));
        self
    }
    pub fn expand(mut self, expand: Expand) -> Self {
        self.expand.push(expand);
        self
    }
    pub fn top(mut self, n: u32) -> Self {
        self.top = Some(n);
        self
    }
    /// Adds `$count=true` (Dataverse caps `@odata.count` at 5,000).
    pub fn count(mut self, on: bool) -> Self {
        self.count = on;
        self
    }

    pub fn entity_set(&self) -> &'static str {
        self.entity_set
    }
    pub fn key_id(&self) -> Option<Uuid> {
        self.key
    }

    /// `mshr_xxxentities` or `mshr_xxxentities(<guid>)`.
    pub fn entity_path(&self) -> String {
        match self.key {
            Some(id) => format!("{}({})", self.entity_set, id.hyphenated()),
            None => self.entity_set.to_string(),
        }
    }

    /// Rejects queries Dataverse would refuse or that cannot be rendered faithfully.
    pub fn validate(&self) -> Result<(), QueryError> {
        if let Some(f) = &self.filter {
            f.validate()?;
        }
        if self.expand.len() > 15 {
            return Err(QueryError("more than 15 $expand items".to_string()));
        }
        for e in &self.expand {
            if let Some(f) = &e.filter {
                f.validate()?;
            }
        }
        Ok(())
    }

    /// The query string without the leading `?` (empty when there are no options). Option names
    /// are literal; option values are percent-encoded so that no value can split parameters.
    pub fn to_query_string(&self) -> String {
        let mut params: Vec<(&str, String)> = Vec::new();
        if !self.select.is_empty() {
            params.push(("$select", self.select.join(",")));
        }
        if let Some(f) = &self.filter {
            params.push(("$filter", f.render()));
        }
        if !self.orderby.is_empty() {
            params.push(("$orderby", render_orderby(&self.orderby)));
        }
        if !self.expand.is_empty() {
            let items: Vec<String> = self.expand.iter().map(Expand::render).collect();
            params.push(("$expand", items.join(",")));
        }
        if let Some(n) = self.top {
            params.push(("$top", n.to_string()));
        }
        if self.count {
            params.push(("$count", "true".to_string()));
        }
        params
            .into_iter()
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(&v, VALUE_ENCODE)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// `entity_path` plus `?query` when there are options.
    pub fn to_relative_url(&self) -> String {
        let qs = self.to_query_string();
        if qs.is_empty() {
            self.entity_path()
        } else {
            format!("{}?{qs}", self.entity_path())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::percent_decode_str;

    const SET: &str = "mshr_hcmworkerentities";

    /// Splits a query string like a server would and percent-decodes each value.
    fn params(qs: &str) -> Vec<(String, String)> {
        qs.split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').expect("name=value");
                let v = percent_decode_str(v).decode_utf8().expect("utf8");
                (k.to_string(), v.into_owned())
            })
            .collect()
    }

    /// Reads the single-quoted literal starting at `s[0]`, undoubling quotes; returns it and the rest.
    fn read_quoted(s: &str) -> (String, &str) {
        assert!(s.starts_with('\''), "not a literal: {s}");
        let bytes = s.as_bytes();
        let mut out = String::new();
        let mut i = 1;
        let mut start = 1;
        loop {
            assert!(i < bytes.len(), "unterminated literal: {s}");
            if bytes[i] == b'\'' {
                if bytes.get(i + 1) == Some(&b'\'') {
                    out.push_str(&s[start..=i]);
                    i += 2;
                    start = i;
                    continue;
                }
                out.push_str(&s[start..i]);
                return (out, &s[i + 1..]);
            }
            i += 1;
        }
    }

    const NASTY: &[&str] = &[
        "' or 1 eq 1",
        "')",
        "x') or contains(mshr_name,'",
        "%27",
        "&$top=1",
        "a&$filter=true",
        "#frag",
        "a+b",
        "100%",
        "line1\nline2\r\n",
        "Ærlig Østby Ål 🚀 日本",
        "semi;colon=eq",
        "back\\slash \"dq\"",
        "",
    ];

    #[test]
    fn injection_attempts_stay_inside_one_eq_literal() {
        for &input in NASTY {
            let q = Query::new(SET)
                .filter(Filter::eq("mshr_name", input))
                .top(5);
            let qs = q.to_query_string();
            assert!(
                !qs.contains('#') && !qs.contains('+') && !qs.contains(' '),
                "{qs}"
            );
            let p = params(&qs);
            let names: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(names, vec!["$filter", "$top"], "input {input:?} -> {qs}");
            assert_eq!(p[1].1, "5");
            let rest = p[0].1.strip_prefix("mshr_name eq ").expect("prefix");
            let (lit, tail) = read_quoted(rest);
            assert_eq!(lit, input);
            assert_eq!(tail, "", "literal must end the expression for {input:?}");
        }
    }

    #[test]
    fn injection_attempts_stay_inside_string_function_literal() {
        for &input in NASTY {
            let q = Query::new(SET).filter(Filter::contains("mshr_name", input));
            let p = params(&q.to_query_string());
            assert_eq!(p.len(), 1);
            let rest = p[0].1.strip_prefix("contains(mshr_name,").expect("prefix");
            let (lit, tail) = read_quoted(rest);
            assert_eq!(tail, ")");
            // Undo the LIKE bracketing: the literal holds the partner text verbatim.
            let unbracketed = lit
                .replace("[%]", "%")
                .replace("[_]", "_")
                .replace("[[]", "[");
            assert_eq!(unbracketed, input);
        }
    }

    #[test]
    fn like_wildcards_are_bracketed() {
        let f = Filter::starts_with("mshr_name", "50%_off[x]");
        assert_eq!(f.render(), "startswith(mshr_name,'50[%][_]off[[]x]')");
        let f = Filter::ends_with("mshr_name", "O'Bryan");
        assert_eq!(f.render(), "endswith(mshr_name,'O''Bryan')");
        // eq is not a LIKE: no bracketing there.
        assert_eq!(
            Filter::eq("mshr_name", "50%").render(),
            "mshr_name eq '50%'"
        );
    }

    #[test]
    fn literals_render_in_dataverse_forms() {
        let g = Uuid::parse_str("4026BE43-6B69-E111-8F65-78E7D1620F5E").expect("uuid");
        let d = NaiveDate::from_ymd_opt(2024, 1, 31).expect("date");
        let t = DateTime::parse_from_rfc3339("2023-04-07T21:59:01Z")
            .expect("ts")
            .with_timezone(&Utc);
        assert_eq!(
            Filter::eq("_ownerid_value", g).render(),
            "_ownerid_value eq 4026be43-6b69-e111-8f65-78e7d1620f5e"
        );
        assert_eq!(Filter::ge("a", d).render(), "a ge 2024-01-31");
        assert_eq!(Filter::lt("a", t).render(), "a lt 2023-04-07T21:59:01Z");
        assert_eq!(Filter::gt("a", 5i64).render(), "a gt 5");
        assert_eq!(Filter::le("a", 2.5f64).render(), "a le 2.5");
        assert_eq!(Filter::ne("a", Literal::Null).render(), "a ne null");
        assert_eq!(Filter::eq("a", true).render(), "a eq true");
    }

    #[test]
    fn boolean_composition_is_parenthesised() {
        let f = Filter::eq("a", 1i64)
            .or(Filter::eq("b", 2i64))
            .and(Filter::eq("c", 3i64))
            .and(Filter::eq("d", 4i64).not());
        assert_eq!(f.render(), "(a eq 1 or b eq 2) and c eq 3 and not (d eq 4)");
    }

    #[test]
    fn in_renders_dataverse_function_with_json_strings() {
        let f = Filter::is_in(
            "mshr_name",
            vec![
                "OBrian".into(),
                "O'Brian".into(),
                "q\"uote".into(),
                7i64.into(),
            ],
        );
        assert_eq!(
            f.render(),
            r#"Microsoft.Dynamics.CRM.In(PropertyName='mshr_name',PropertyValues=["OBrian","O'Brian","q\"uote","7"])"#
        );
    }

    #[test]
    fn golden_typical_list_query() {
        let q = Query::new("mshr_hcmjobpostingentities")
            .select(&["mshr_jobpostingid", "mshr_title", "modifiedon"])
            .filter(Filter::eq("mshr_dataareaid", "usmf"))
            .filter(Filter::ge(
                "modifiedon",
                DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z")
                    .expect("ts")
                    .with_timezone(&Utc),
            ))
            .order_by("modifiedon", Order::Desc)
            .order_by("mshr_jobpostingid", Order::Asc)
            .top(50)
            .count(true);
        assert_eq!(q.entity_path(), "mshr_hcmjobpostingentities");
        assert_eq!(
            q.to_query_string(),
            "$select=mshr_jobpostingid,mshr_title,modifiedon\
             &$filter=mshr_dataareaid%20eq%20%27usmf%27%20and%20modifiedon%20ge%202024-05-01T00:00:00Z\
             &$orderby=modifiedon%20desc,mshr_jobpostingid%20asc\
             &$top=50&$count=true"
        );
    }

    #[test]
    fn golden_by_id_with_expand() {
        let id = Uuid::parse_str("00000000-0000-0000-0000-000000000001").expect("uuid");
        let q = Query::new(SET)
            .key(id)
            .select(&["mshr_name"])
            .expand(
                Expand::new("mshr_FK_Person_id")
                    .select(&["mshr_firstname", "mshr_lastname"])
                    .filter(Filter::contains("mshr_firstname", "a;b")),
            )
            .expand(Expand::new("mshr_FK_Company_id"));
        assert_eq!(
            q.entity_path(),
            "mshr_hcmworkerentities(00000000-0000-0000-0000-000000000001)"
        );
        assert_eq!(
            q.to_query_string(),
            "$select=mshr_name&$expand=mshr_FK_Person_id($select%3Dmshr_firstname,mshr_lastname%3B\
             $filter%3Dcontains(mshr_firstname,%27a%3Bb%27)),mshr_FK_Company_id"
        );
        assert_eq!(
            q.to_relative_url(),
            format!("{}?{}", q.entity_path(), q.to_query_string())
        );
    }

    #[test]
    fn empty_query_has_no_options() {
        let q = Query::new(SET);
        assert_eq!(q.to_query_string(), "");
        assert_eq!(q.to_relative_url(), SET);
    }

    #[test]
    fn validate_rejects_unrenderable_queries() {
        assert!(Query::new(SET)
            .filter(Filter::eq("a", f64::NAN))
            .validate()
            .is_err());
        assert!(Query::new(SET)
            .filter(Filter::is_in("a", vec![]))
            .validate()
            .is_err());
        assert!(Query::new(SET)
            .filter(Filter::is_in("a", vec!["x".into()]).not())
            .validate()
            .is_err());
        assert!(Query::new(SET)
            .filter(Filter::eq("a", 1.5f64))
            .validate()
            .is_ok());
        assert_eq!(Filter::all(vec![]), None);
    }
}
