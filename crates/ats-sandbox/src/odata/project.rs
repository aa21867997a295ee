//! `$select` projection.

use serde_json::Value;

use crate::schema::EntityDef;
use crate::store::{Fields, Row};

/// The row reduced to the selected columns plus the primary key (always returned), in the
/// schema's column order. `None` = every column of the row, unchanged. A selected column the row
/// lacks is returned as `null`, as Dataverse does for empty columns.
pub(crate) fn project<R: Fields + ?Sized>(
    entity: &EntityDef,
    row: &R,
    select: Option<&[String]>,
) -> Row {
    let Some(select) = select else {
        return row.to_row();
    };
    entity
        .columns
        .iter()
        .filter(|c| c.name == entity.primary_id || select.iter().any(|s| s == c.name))
        .map(|c| {
            (
                c.name.to_string(),
                row.field(c.name).map_or(Value::Null, |f| f.to_value()),
            )
        })
        .collect()
}
