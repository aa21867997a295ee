//! Operator request bodies checked field by field: every problem with its JSON pointer (a 422),
//! unknown fields refused, nothing silently defaulted that matters.

use serde_json::{Map, Value};

use crate::auth::Scope;
use crate::json_body::JsonBody;
use crate::problem::{ApiError, FieldError};
use crate::store::partners::{PartnerDoc, RateLimit};

/// Collected problems of one body.
#[derive(Debug, Default)]
pub struct Issues(Vec<FieldError>);

impl Issues {
    pub fn add(&mut self, pointer: &str, detail: impl Into<String>) {
        self.0.push(FieldError {
            pointer: pointer.to_string(),
            detail: detail.into(),
        });
    }

    pub fn into_result<T>(self, v: T) -> Result<T, ApiError> {
        if self.0.is_empty() {
            Ok(v)
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

/// The body as an object; no body at all is `{}` (every field optional or reported missing).
pub fn json_object(body: JsonBody) -> Result<Map<String, Value>, ApiError> {
    match body.0 {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(ApiError::Validation(vec![FieldError {
            pointer: String::new(),
            detail: "must be a JSON object".into(),
        }])),
    }
}

pub fn unknown_fields(
    obj: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
    issues: &mut Issues,
) {
    unknown_fields_except(obj, allowed, &[], prefix, issues);
}

/// [`unknown_fields`], but the fields in `answered` (refused by a check of their own) are neither
/// reported here nor listed as allowed.
pub fn unknown_fields_except(
    obj: &Map<String, Value>,
    allowed: &[&str],
    answered: &[&str],
    prefix: &str,
    issues: &mut Issues,
) {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) && !answered.contains(&k.as_str()) {
            issues.add(
                &format!("{prefix}/{}", k.replace('~', "~0").replace('/', "~1")),
                format!("is not a field here (allowed: {})", allowed.join(", ")),
            );
        }
    }
}

/// A partner or client id: what tokens, logs and URLs carry.
pub fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

fn string(
    obj: &Map<String, Value>,
    key: &str,
    p: &str,
    max: usize,
    issues: &mut Issues,
) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) if s.chars().count() <= max && !s.chars().any(char::is_control) => {
            Some(s.trim().to_string())
        }
        Value::String(_) => {
            issues.add(
                &format!("{p}/{key}"),
                format!("must be at most {max} characters, without control characters"),
            );
            None
        }
        _ => {
            issues.add(&format!("{p}/{key}"), "must be a string");
            None
        }
    }
}

fn strings(
    obj: &Map<String, Value>,
    key: &str,
    p: &str,
    issues: &mut Issues,
) -> Option<Vec<String>> {
    match obj.get(key)? {
        Value::Array(items) if items.len() <= 100 => {
            let mut out = Vec::new();
            for (i, v) in items.iter().enumerate() {
                match v.as_str() {
                    Some(s) => out.push(s.to_string()),
                    None => issues.add(&format!("{p}/{key}/{i}"), "must be a string"),
                }
            }
            Some(out)
        }
        _ => {
            issues.add(
                &format!("{p}/{key}"),
                "must be an array of at most 100 strings",
            );
            None
        }
    }
}

/// The fields a PATCH (and a create) may set; `None` = not given.
#[derive(Debug, Default)]
pub struct Attributes {
    pub name: Option<String>,
    pub contact: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub companies: Option<Vec<String>>,
    pub rate_limit: Option<RateLimit>,
    pub cors_origins: Option<Vec<String>>,
    pub disabled: Option<bool>,
}

const ATTRIBUTES: [&str; 7] = [
    "name",
    "contact",
    "scopes",
    "companies",
    "rate_limit",
    "cors_origins",
    "disabled",
];

fn attributes(obj: &Map<String, Value>, p: &str, issues: &mut Issues) -> Attributes {
    let name = string(obj, "name", p, 200, issues);
    if name.as_deref() == Some("") {
        issues.add(&format!("{p}/name"), "must not be empty");
    }
    let contact = string(obj, "contact", p, 200, issues);
    let scopes = strings(obj, "scopes", p, issues).map(|list| {
        let mut out: Vec<String> = Vec::new();
        for (i, s) in list.iter().enumerate() {
            match s.parse::<Scope>() {
                Ok(sc) if !out.iter().any(|o| o == sc.as_str()) => {
                    out.push(sc.as_str().to_string())
                }
                Ok(_) => {}
                Err(_) => issues.add(
                    &format!("{p}/scopes/{i}"),
                    format!("unknown scope `{s}` (known: {})", Scope::join(&Scope::ALL)),
                ),
            }
        }
        if list.is_empty() {
            issues.add(&format!("{p}/scopes"), "must name at least one scope");
        }
        out
    });
    let companies = strings(obj, "companies", p, issues).map(|list| {
        let all = list.iter().any(|c| c == "*");
        if list.is_empty() || (all && list.len() > 1) {
            issues.add(
                &format!("{p}/companies"),
                "list the legal entities (mshr_dataareaid) this partner may see, or [\"*\"] alone for all",
            );
        }
        for (i, c) in list.iter().enumerate() {
            let ok = c == "*" || (!c.is_empty() && c.len() <= 10 && c.bytes().all(|b| b.is_ascii_alphanumeric()));
            if !ok {
                issues.add(&format!("{p}/companies/{i}"), "must be a company code like usmf (letters and digits, at most 10)");
            }
        }
        list.iter().map(|c| c.to_ascii_lowercase()).collect()
    });
    let rate_limit = match obj.get("rate_limit") {
        None => None,
        Some(Value::Object(r)) => {
            let rp = format!("{p}/rate_limit");
            unknown_fields(r, &["per_second", "burst"], &rp, issues);
            let mut num = |k: &str, max: u64| match r.get(k).map(Value::as_u64) {
                Some(Some(n)) if (1..=max).contains(&n) => u32::try_from(n).ok(),
                given => {
                    // "is required" only when it is missing: a wrong value was still given.
                    let verb = if given.is_none() {
                        "is required:"
                    } else {
                        "must be"
                    };
                    issues.add(
                        &format!("{rp}/{k}"),
                        format!("{verb} a whole number from 1 to {max}"),
                    );
                    None
                }
            };
            let per_second = num("per_second", 10_000);
            let burst = num("burst", 100_000);
            per_second
                .zip(burst)
                .map(|(per_second, burst)| RateLimit { per_second, burst })
        }
        Some(_) => {
            issues.add(
                &format!("{p}/rate_limit"),
                "must be an object {\"per_second\", \"burst\"}",
            );
            None
        }
    };
    let cors_origins = strings(obj, "cors_origins", p, issues).inspect(|list| {
        for (i, o) in list.iter().enumerate() {
            let ok = url::Url::parse(o).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.origin().ascii_serialization() == *o
            });
            if !ok {
                issues.add(
                    &format!("{p}/cors_origins/{i}"),
                    "must be an origin like https://app.example.com",
                );
            }
        }
    });
    let disabled = match obj.get("disabled") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            issues.add(&format!("{p}/disabled"), "must be true or false");
            None
        }
    };
    Attributes {
        name,
        contact,
        scopes,
        companies,
        rate_limit,
        cors_origins,
        disabled,
    }
}

/// A new partner's attributes (the body of `POST /operator/v1/partners`, or an invite's
/// `partner`), under the pointer prefix `p`.
pub fn new_partner(
    obj: &Map<String, Value>,
    p: &str,
    now: i64,
    issues: &mut Issues,
) -> Option<PartnerDoc> {
    let mut allowed = vec!["id", "client_id"];
    allowed.extend(ATTRIBUTES);
    unknown_fields(obj, &allowed, p, issues);
    let id = string(obj, "id", p, 64, issues);
    match &id {
        None if !obj.contains_key("id") => issues.add(&format!("{p}/id"), "is required"),
        Some(i) if !is_id(i) => issues.add(
            &format!("{p}/id"),
            "must be 1 to 64 of a-z, 0-9, '-', '_', '.', starting with a letter or digit",
        ),
        _ => {}
    }
    let client_id = string(obj, "client_id", p, 64, issues);
    if client_id.as_deref().is_some_and(|c| !is_id(c)) {
        issues.add(
            &format!("{p}/client_id"),
            "must be 1 to 64 of a-z, 0-9, '-', '_', '.'",
        );
    }
    let a = attributes(obj, p, issues);
    for (k, missing) in [
        ("name", a.name.is_none()),
        ("scopes", a.scopes.is_none()),
        ("companies", a.companies.is_none()),
    ] {
        if missing && !obj.contains_key(k) {
            issues.add(&format!("{p}/{k}"), "is required");
        }
    }
    let id = id?;
    Some(PartnerDoc {
        client_id: client_id.unwrap_or_else(|| id.clone()),
        id,
        name: a.name?,
        contact: a.contact.unwrap_or_default(),
        scopes: a.scopes?,
        companies: a.companies?,
        rate_limit: a.rate_limit.unwrap_or(RateLimit {
            per_second: 10,
            burst: 20,
        }),
        cors_origins: a.cors_origins.unwrap_or_default(),
        disabled: a.disabled.unwrap_or(false),
        created_at: now,
    })
}

/// A PATCH body applied to `doc`; `id` and `client_id` cannot change.
pub fn patch(obj: &Map<String, Value>, doc: &mut PartnerDoc) -> Result<(), ApiError> {
    let mut issues = Issues::default();
    for fixed in ["id", "client_id"] {
        if obj.contains_key(fixed) {
            issues.add(
                &format!("/{fixed}"),
                "cannot be changed (create a new partner instead)",
            );
        }
    }
    // `id` and `client_id` are answered above; listing them as allowed would contradict that.
    unknown_fields_except(obj, &ATTRIBUTES, &["id", "client_id"], "", &mut issues);
    let a = attributes(obj, "", &mut issues);
    if let Some(v) = a.name {
        doc.name = v;
    }
    if let Some(v) = a.contact {
        doc.contact = v;
    }
    if let Some(v) = a.scopes {
        doc.scopes = v;
    }
    if let Some(v) = a.companies {
        doc.companies = v;
    }
    if let Some(v) = a.rate_limit {
        doc.rate_limit = v;
    }
    if let Some(v) = a.cors_origins {
        doc.cors_origins = v;
    }
    if let Some(v) = a.disabled {
        doc.disabled = v;
    }
    issues.into_result(())
}

/// A whole number of seconds in `min..=max`, default `default` when absent.
pub fn seconds(
    obj: &Map<String, Value>,
    key: &str,
    default: u64,
    (min, max): (u64, u64),
    issues: &mut Issues,
) -> u64 {
    match obj.get(key) {
        None => default,
        Some(v) => match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => n,
            _ => {
                issues.add(
                    &format!("/{key}"),
                    format!("must be a whole number of seconds from {min} to {max}"),
                );
                default
            }
        },
    }
}
