//! Test helpers shared by the row mapping tests: an upstream row with every selected column
//! filled, and the pointers of the `null`s a mapped DTO still has (a column it failed to read).

use serde_json::{json, Map, Value};

const FV: &str = "@OData.Community.Display.V1.FormattedValue";

/// Every selected column (valued by `value_for(column, n)`), with a FormattedValue per lookup.
pub(crate) fn full_row(
    select: &[&str],
    base: u128,
    value_for: impl Fn(&str, u128) -> Value,
) -> Map<String, Value> {
    let mut row = Map::new();
    for (n, col) in select.iter().enumerate() {
        row.insert(col.to_string(), value_for(col, base + n as u128));
        if col.starts_with('_') {
            row.insert(format!("{col}{FV}"), json!(format!("{col}-code")));
        }
    }
    row
}

/// JSON pointers (`*` for array items) of every `null` in `v`.
pub(crate) fn nulls(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(at.to_string()),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| nulls(v, &format!("{at}/{k}"), out)),
        Value::Array(a) => a.iter().for_each(|v| nulls(v, &format!("{at}/*"), out)),
        _ => {}
    }
}
