//! Reading Dataverse rows: expanded navigations, lookups with their FormattedValue fallback, option
//! values, numbers and dates. Shared by the per-resource mappings.

use serde_json::{Map, Value};

use crate::resolve::lang::Lang;
use crate::resolve::lookups::{uuid_of, LookupRef, Resolved, Wanted};
use crate::resolve::options::{OptionSetInfo, OptionValue};

/// One row of a Dataverse response, with its expanded navigations.
pub type Row = Map<String, Value>;

const FORMATTED: &str = "@OData.Community.Display.V1.FormattedValue";

/// A single-valued navigation expanded into the row.
pub(super) fn object<'a>(row: &'a Row, nav: &str) -> Option<&'a Row> {
    row.get(nav).and_then(Value::as_object)
}

/// The rows of a collection navigation expanded into the row.
pub(super) fn children<'a>(row: &'a Row, nav: &str) -> impl Iterator<Item = &'a Row> {
    row.get(nav)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// Records the lookup ids of a row the resolver must fetch; `lookups` is (lookup property, target table).
pub(super) fn add_lookups(wanted: &mut Wanted, row: &Row, lookups: &[(&str, &'static str)]) {
    for (prop, target) in lookups {
        wanted.add(target, uuid_of(row, prop));
    }
}

/// A lookup's reference from the resolver, its FormattedValue the fallback name; the target table
/// comes from `lookups` (lookup property, target table).
pub(super) fn lookup(
    row: &Row,
    prop: &str,
    lookups: &[(&str, &'static str)],
    resolved: &Resolved,
) -> Option<LookupRef> {
    let target = lookups
        .iter()
        .find(|(p, _)| *p == prop)
        .map_or("", |(_, t)| t);
    let formatted = row
        .get(&format!("{prop}{FORMATTED}"))
        .and_then(Value::as_str);
    resolved.get(target, uuid_of(row, prop), formatted)
}

pub(super) fn option(row: &Row, col: &str, set: &OptionSetInfo, lang: Lang) -> Option<OptionValue> {
    row.get(col)
        .and_then(Value::as_i64)
        .map(|code| set.value(code, lang))
}

/// A `mshr_noyes` column as a bool, by the option's stable key (codes differ per environment).
pub(super) fn yes_no(row: &Row, col: &str, noyes: &OptionSetInfo) -> Option<bool> {
    let code = row.get(col).and_then(Value::as_i64)?;
    noyes.by_code(code).map(|o| o.key == "yes")
}

pub(super) fn num(row: &Row, col: &str) -> Option<f64> {
    row.get(col).and_then(Value::as_f64)
}

/// `2021-01-04T00:00:00Z` or `2021-01-04` → `2021-01-04`.
pub(super) fn date_of(row: &Row, col: &str) -> Option<String> {
    row.get(col)
        .and_then(Value::as_str)
        .and_then(|s| s.get(..10))
        .map(str::to_string)
}
