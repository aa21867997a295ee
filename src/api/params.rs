//! Strict query-string parsing shared by list routes: unknown or repeated parameters are 400 with the
//! parameter named, so a partner's typo never silently widens a query.

use std::collections::BTreeMap;

use crate::problem::ApiError;

pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut map = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if !allowed.contains(&k.as_ref()) {
                return Err(ApiError::param(
                    &k,
                    format!(
                        "is not a parameter of this route (allowed: {})",
                        allowed.join(", ")
                    ),
                ));
            }
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ApiError::param(&k, "is given more than once"));
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Comma-separated list, each item trimmed, no empties. Given but empty (`status=`, `status=,`,
    /// `status=%20`) is a 400: silently dropping the filter would widen the query.
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(v) = self.0.get(name) else {
            return Ok(None);
        };
        let items: Vec<String> = v
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            return Err(ApiError::param(name, "must list at least one value"));
        }
        Ok(Some(items))
    }

    pub fn page_size(&self, default: u32, max: u32) -> Result<u32, ApiError> {
        match self.get("page_size") {
            None => Ok(default),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::param("page_size", format!("must be between 1 and {max}"))
                }),
        }
    }

    /// Every parameter but the cursor, for the cursor fingerprint.
    pub fn shape(&self) -> Vec<(&str, String)> {
        self.0
            .iter()
            .filter(|(k, _)| k.as_str() != "cursor")
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect()
    }
}

/// A bounded free-text value: no control characters, at most `max` characters.
pub fn text(name: &str, v: &str, max: usize) -> Result<String, ApiError> {
    if v.chars().count() > max {
        return Err(ApiError::param(
            name,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(ApiError::param(name, "must not contain control characters"));
    }
    Ok(v.to_string())
}

/// A readable code (company, job id, department number): letters, digits, space and `-_./`, ≤ 40 chars.
pub fn code(name: &str, v: &str) -> Result<String, ApiError> {
    let ok = !v.is_empty()
        && v.len() <= 40
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || " -_./".contains(c));
    if ok {
        Ok(v.to_string())
    } else {
        Err(ApiError::param(
            name,
            "must be a code of letters, digits, spaces or -_./ (at most 40)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictness() {
        assert!(Params::parse(Some("page_size=10&sort=number"), &["page_size", "sort"]).is_ok());
        assert!(Params::parse(Some("pagesize=10"), &["page_size"]).is_err());
        assert!(Params::parse(Some("page_size=1&page_size=2"), &["page_size"]).is_err());
        let p = Params::parse(Some("page_size=0"), &["page_size"]).expect("parse");
        assert!(p.page_size(50, 200).is_err());
        let p = Params::parse(Some("page_size=201"), &["page_size"]).expect("parse");
        assert!(p.page_size(50, 200).is_err());
        let p = Params::parse(Some("page_size=abc"), &["page_size"]).expect("parse");
        assert!(p.page_size(50, 200).is_err());
        let p = Params::parse(None, &["page_size"]).expect("parse");
        assert_eq!(p.page_size(50, 200).ok(), Some(50));
        assert!(code("company", "usmf").is_ok());
        assert!(code("company", "us'mf").is_err());
        assert!(code("company", "").is_err());
        assert!(text("q", "a\nb", 10).is_err());
        assert!(text("q", &"x".repeat(11), 10).is_err());
        for raw in ["status=", "status=,", "status=%20", "status=%20,%20,"] {
            let p = Params::parse(Some(raw), &["status"]).expect("parse");
            assert!(p.list("status").is_err(), "{raw}");
        }
        let p = Params::parse(Some("status=a,%20b,"), &["status"]).expect("parse");
        assert_eq!(
            p.list("status").ok().flatten(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        let p = Params::parse(None, &["status"]).expect("parse");
        assert!(matches!(p.list("status"), Ok(None)));
    }
}
