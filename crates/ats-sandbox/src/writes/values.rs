//! Value checks and coercion, row helpers, and natural-key resolution.

use chrono::{DateTime, NaiveDate};
use serde_json::Value;
use uuid::Uuid;

use crate::data;
use crate::error::DvError;
use crate::schema::{schema, ColType, Column, EntityDef};
use crate::store::{Row, Store};

use super::errors::{lookup_property, not_found_key, picklist_out_of_range};
use super::rules::Rule;

pub(super) fn edm_name(ty: ColType) -> &'static str {
    match ty {
        ColType::String => "Edm.String",
        ColType::Guid | ColType::Lookup(_) => "Edm.Guid",
        ColType::Int | ColType::OptionSet(_) => "Edm.Int32",
        ColType::Decimal => "Edm.Decimal",
        ColType::Date => "Edm.DateTimeOffset",
    }
}

pub(super) fn type_error(def: &EntityDef, col: &Column, v: &Value) -> DvError {
    let literal = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    DvError::bad_payload(
        &def.set_name,
        format!(
            "Cannot convert the literal '{literal}' to the expected type '{}'.",
            edm_name(col.ty)
        ),
    )
}

/// `YYYY-MM-DD` or an RFC 3339 timestamp → the emulator's `YYYY-MM-DDT00:00:00Z`.
pub(super) fn parse_date(s: &str) -> Option<String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(data::date_string(d));
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|dt| data::date_string(dt.date_naive()))
}

/// Checks and normalises one column value from a request body.
pub(super) fn coerce(
    def: &EntityDef,
    col: &Column,
    v: &Value,
    base: i64,
) -> Result<Value, DvError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let bad = || type_error(def, col, v);
    match col.ty {
        ColType::String => v.as_str().map(|_| v.clone()).ok_or_else(bad),
        ColType::Guid => v
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .map(|u| Value::String(u.to_string()))
            .ok_or_else(bad),
        ColType::Int => v
            .as_i64()
            .filter(|n| i32::try_from(*n).is_ok())
            .map(Value::from)
            .ok_or_else(bad),
        ColType::Decimal => v.is_number().then(|| v.clone()).ok_or_else(bad),
        ColType::Date => v
            .as_str()
            .and_then(parse_date)
            .map(Value::String)
            .ok_or_else(bad),
        ColType::OptionSet(set) => {
            let n = v.as_i64().ok_or_else(bad)?;
            data::option_label(base, set, n).ok_or_else(picklist_out_of_range)?;
            Ok(Value::from(n))
        }
        ColType::Lookup(_) => Err(lookup_property()),
    }
}

pub(super) fn nonempty<'a>(row: &'a Row, col: &str) -> Option<&'a str> {
    row.get(col)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub(super) fn is_empty(row: &Row, col: &str) -> bool {
    match row.get(col) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

pub(super) fn same_key(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

pub(super) fn entity(logical: &str) -> Result<&'static EntityDef, DvError> {
    schema()
        .by_logical(logical)
        .ok_or_else(|| DvError::resource_not_found(logical))
}

#[cfg(test)]
pub(super) fn row_id(def: &EntityDef, row: &Row) -> Option<Uuid> {
    row.get(&def.primary_id)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// Finds the target row of `r` for the natural keys in `row` (F&O compares keys case-insensitively).
pub(super) fn resolve(
    store: &Store,
    def: &EntityDef,
    r: &Rule,
    row: &Row,
) -> Result<Option<(Uuid, Row)>, DvError> {
    let Some(key) = nonempty(row, r.keys[0].0) else {
        return Ok(None);
    };
    let target = entity(r.target)?;
    let filters: Vec<(&str, &str)> = r
        .keys
        .iter()
        .filter_map(|(own, theirs)| nonempty(row, own).map(|v| (*theirs, v)))
        .filter(|(theirs, _)| target.column(theirs).is_some())
        .collect();
    let found = store.table(r.target).and_then(|t| {
        t.rows().find(|candidate| {
            filters.iter().all(|(c, v)| {
                candidate
                    .get_str(c)
                    .filter(|x| !x.is_empty())
                    .is_some_and(|x| same_key(x, v))
            })
        })
    });
    match found {
        Some(t) => Ok(t.id().map(|id| (id, t.to_row()))),
        None => Err(not_found_key(def, r, key)),
    }
}

/// Points `row` at `target` through rule `r`: sets the lookup, the natural keys and the copies.
pub(super) fn apply_link(row: &mut Row, r: &Rule, id: Uuid, target: &Row) {
    row.insert(r.lookup.to_string(), Value::String(id.to_string()));
    for (i, (own, theirs)) in r.keys.iter().enumerate() {
        if let Some(v) = target.get(*theirs).filter(|v| !v.is_null()) {
            if i == 0 || is_empty(row, own) {
                row.insert(own.to_string(), v.clone());
            }
        }
    }
    for (own, theirs) in r.copies {
        if is_empty(row, own) {
            if let Some(v) = target.get(*theirs).filter(|v| !v.is_null()) {
                row.insert(own.to_string(), v.clone());
            }
        }
    }
}
