//! `$select` projection.

use serde_json::Value;

use crate::schema::EntityDef;
use crate::store::Row;

/// The row reduced to the selected columns plus the primary key (always returned), in the
/// schema's column order. `None` = every column of the row, unchanged. A selected column the row
/// lacks is returned as `null`, as Dataverse does for empty columns.
pub(crate) fn project(entity: &EntityDef, row: &Row, select: Option<&[String]>) -> Row {
    let Some(select) = select else {
        return row.clone();
    };
    entity
        .columns
        .iter()
        .filter(|c| c.name == entity.primary_id || select.iter().any(|s| s == c.name))
        .map(|c| {
            (
                c.name.to_string(),
                row.get(c.name).cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}
