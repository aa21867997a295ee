//! Instance annotations on emulated rows (docs/dataverse-web-api.md#annotations): `Prefer:
//! odata.include-annotations=…` parsing, and `OData.Community.Display.V1.FormattedValue` /
//! `Microsoft.Dynamics.CRM.lookuplogicalname` values in the caller's language (1033 en-US, 1044 nb-NO).

use serde_json::{Map, Value};
use uuid::Uuid;

use super::schema::{option_sets::OPTION_SETS, ColType, EntityDef};
use super::store::{Row, Store};

pub(crate) const FORMATTED: &str = "OData.Community.Display.V1.FormattedValue";
pub(crate) const LOOKUP_LOGICAL: &str = "Microsoft.Dynamics.CRM.lookuplogicalname";

/// Languages the emulated environment has provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lcid {
    EnUs = 1033,
    NbNo = 1044,
}

impl Lcid {
    pub(crate) fn from_code(code: u32) -> Option<Self> {
        match code {
            1033 => Some(Self::EnUs),
            1044 => Some(Self::NbNo),
            _ => None,
        }
    }
}

/// Which annotations a request asked for, from its `Prefer` header(s).
#[derive(Debug, Clone, Default)]
pub(crate) struct AnnotationFilter {
    patterns: Vec<String>,
    /// The exact preference text, echoed in `Preference-Applied`.
    pub applied: Option<String>,
}

impl AnnotationFilter {
    /// Parses `odata.include-annotations="a,b*"` out of a Prefer value list (RFC 7240 comma form).
    pub(crate) fn from_prefer(prefs: &[String]) -> Self {
        for p in prefs {
            if let Some(v) = p.trim().strip_prefix("odata.include-annotations=") {
                let list = v.trim().trim_matches('"');
                let patterns = list
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                return Self {
                    patterns,
                    applied: Some(p.trim().to_string()),
                };
            }
        }
        Self::default()
    }

    pub(crate) fn any(&self) -> bool {
        !self.patterns.is_empty()
    }

    pub(crate) fn wants(&self, annotation: &str) -> bool {
        self.patterns.iter().any(|p| {
            if p == "*" {
                true
            } else if let Some(prefix) = p.strip_suffix('*') {
                annotation.starts_with(prefix)
            } else {
                p == annotation
            }
        })
    }
}

/// Splits a `Prefer` header list into single preferences, keeping quoted commas intact.
pub(crate) fn split_prefer(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    for v in values {
        let mut cur = String::new();
        let mut quoted = false;
        for ch in v.chars() {
            match ch {
                '"' => {
                    quoted = !quoted;
                    cur.push(ch)
                }
                ',' if !quoted => {
                    if !cur.trim().is_empty() {
                        out.push(cur.trim().to_string());
                    }
                    cur.clear();
                }
                _ => cur.push(ch),
            }
        }
        if !cur.trim().is_empty() {
            out.push(cur.trim().to_string());
        }
    }
    out
}

/// Label of an option value in a language, given the environment's option-set numbering base.
pub(crate) fn option_label(
    set: &str,
    value: i64,
    option_base: i64,
    lang: Lcid,
) -> Option<&'static str> {
    let (_, _, options) = OPTION_SETS.iter().find(|(name, _, _)| *name == set)?;
    let idx = usize::try_from(value - option_base).ok()?;
    let (_, en, nb) = options.get(idx)?;
    Some(match lang {
        Lcid::EnUs => en,
        Lcid::NbNo => nb,
    })
}

fn group_thousands(int_part: &str, sep: &str) -> String {
    let digits: Vec<char> = int_part.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(*c);
    }
    out
}

/// Number formatted the way each locale's users see it: `70,000.00` / `70 000,00`.
pub(crate) fn format_number(v: f64, decimals: usize, lang: Lcid) -> String {
    let neg = v < 0.0;
    let s = format!("{:.*}", decimals, v.abs());
    let (int_part, frac) = s.split_once('.').map_or((s.as_str(), ""), |(a, b)| (a, b));
    let (tsep, dsep) = match lang {
        Lcid::EnUs => (",", "."),
        Lcid::NbNo => ("\u{a0}", ","),
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&group_thousands(int_part, tsep));
    if !frac.is_empty() {
        out.push_str(dsep);
        out.push_str(frac);
    }
    out
}

/// Date-only formatting: `1/4/2021` (en-US) / `04.01.2021` (nb-NO).
pub(crate) fn format_date(iso: &str, lang: Lcid) -> Option<String> {
    let date = chrono::NaiveDate::parse_from_str(iso.get(..10)?, "%Y-%m-%d").ok()?;
    Some(match lang {
        Lcid::EnUs => date.format("%-m/%-d/%Y").to_string(),
        Lcid::NbNo => date.format("%d.%m.%Y").to_string(),
    })
}

/// Context needed to annotate rows of one table.
pub(crate) struct Annotator<'a> {
    pub filter: &'a AnnotationFilter,
    pub lang: Lcid,
    pub option_base: i64,
    pub store: &'a Store,
}

impl Annotator<'_> {
    /// Returns `row` with annotations inserted immediately before the properties they annotate.
    /// `@odata.etag` is not an annotation here: the caller adds it to every entity.
    pub(crate) fn annotate(&self, entity: &EntityDef, row: Row) -> Row {
        if !self.filter.any() {
            return row;
        }
        let mut out = Map::with_capacity(row.len() * 2);
        for (k, v) in row {
            if let (Some(col), false) = (entity.column(&k), v.is_null()) {
                let formatted = self.formatted(col.ty, &v);
                if col.ty.is_lookup() {
                    if let ColType::Lookup(target) = col.ty {
                        if self.filter.wants(LOOKUP_LOGICAL) {
                            out.insert(
                                format!("{k}@{LOOKUP_LOGICAL}"),
                                Value::String(target.to_string()),
                            );
                        }
                    }
                }
                if let (Some(f), true) = (formatted, self.filter.wants(FORMATTED)) {
                    out.insert(format!("{k}@{FORMATTED}"), Value::String(f));
                }
            }
            out.insert(k, v);
        }
        out
    }

    fn formatted(&self, ty: ColType, v: &Value) -> Option<String> {
        match ty {
            ColType::OptionSet(set) => {
                option_label(set, v.as_i64()?, self.option_base, self.lang).map(str::to_string)
            }
            ColType::Lookup(target) => {
                let id = Uuid::parse_str(v.as_str()?).ok()?;
                let def = super::schema::schema().by_logical(target)?;
                let row = self.store.table(target)?.get(&id)?;
                row.get_str(def.primary_name).map(str::to_string)
            }
            ColType::Date => format_date(v.as_str()?, self.lang),
            ColType::Decimal => Some(format_number(v.as_f64()?, 2, self.lang)),
            ColType::Int => Some(format_number(v.as_f64()?, 0, self.lang)),
            ColType::String | ColType::Guid => None,
        }
    }
}

/// Weak ETag from a row version (docs/dataverse-web-api.md#etags: `W/"<rowversion integer>"`).
pub(crate) fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

impl ColType {
    pub(crate) fn is_lookup(&self) -> bool {
        matches!(self, ColType::Lookup(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_parsing_keeps_quoted_commas() {
        let prefs = split_prefer(
            ["odata.maxpagesize=10,odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.*\"".to_string()]
                .into_iter(),
        );
        assert_eq!(prefs.len(), 2);
        let f = AnnotationFilter::from_prefer(&prefs);
        assert!(f.wants(FORMATTED));
        assert!(f.wants(LOOKUP_LOGICAL));
        assert!(!f.wants("Other.Thing"));
    }

    #[test]
    fn labels_follow_language_and_base() {
        let s = "mshr_hcmrecruitingrequeststatus";
        assert_eq!(
            option_label(s, 200_000_005, 200_000_000, Lcid::EnUs),
            Some("Active")
        );
        assert_eq!(
            option_label(s, 200_000_005, 200_000_000, Lcid::NbNo),
            Some("Aktive")
        );
        assert_eq!(
            option_label(s, 300_000_005, 300_000_000, Lcid::EnUs),
            Some("Active")
        );
        assert_eq!(option_label(s, 200_000_099, 200_000_000, Lcid::EnUs), None);
    }

    #[test]
    fn numbers_and_dates_per_locale() {
        assert_eq!(format_number(70000.0, 2, Lcid::EnUs), "70,000.00");
        assert_eq!(format_number(70000.0, 2, Lcid::NbNo), "70\u{a0}000,00");
        assert_eq!(format_number(-1234567.5, 1, Lcid::EnUs), "-1,234,567.5");
        assert_eq!(
            format_date("2021-01-04T00:00:00Z", Lcid::EnUs).as_deref(),
            Some("1/4/2021")
        );
        assert_eq!(
            format_date("2021-01-04T00:00:00Z", Lcid::NbNo).as_deref(),
            Some("04.01.2021")
        );
    }
}
