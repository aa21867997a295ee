//! Create / update / delete against the store, with Dataverse's validation and HR's natural-key
//! lookups (docs/ats-data-model.md#mshr_hcmcandidatetohireentity,
//! docs/dataverse-web-api.md#writes).
//!
//! Read-only columns: `_x_value` lookup properties are rejected with Dataverse's 0x0 "Use Navigation
//! properties instead" error, because a client sending them has a bug worth seeing. System-generated
//! columns (primary key on update, `mshr_primaryfield`, `mshr_candidateid`, person `mshr_partynumber`
//! and `mshr_name`, the request number) are silently ignored, as Dataverse ignores attributes that are
//! not valid for create/update. On create a client-chosen primary key is honoured, as in Dataverse.
//!
//! A create validates the whole deep-insert tree against the store first (`plan`), then inserts
//! (`insert`), which cannot fail: all or nothing.

mod errors;
mod insert;
mod plan;
mod primary_contact;
mod rules;
#[cfg(test)]
mod tests;
mod values;

use std::collections::HashSet;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::data;
use crate::error::DvError;
use crate::schema::EntityDef;
use crate::store::{Row, Store};

use self::errors::{fno_error, invalid_property};
use self::insert::{insert, relink};
use self::plan::{plan, plan_bind, Node};
use self::rules::{all_rules, required, system_generated, PERSON};
use self::values::{apply_link, coerce, entity, resolve};

/// POST to an entity set: validates and inserts; deep insert of nested single-valued navs (object)
/// and collection navs (arrays), `<nav>@odata.bind` to existing rows. Returns the new row's id.
pub(crate) fn create(
    store: &mut Store,
    entity: &EntityDef,
    body: &Value,
    option_base: i64,
) -> Result<Uuid, DvError> {
    let def = self::entity(entity.logical_name)?;
    let node = plan(store, def, body, option_base, None)?;
    let id = insert(store, node, option_base);
    if def.logical_name == primary_contact::CONTACT {
        primary_contact::sync(store, id, option_base);
    }
    Ok(id)
}

/// PATCH: validates and applies only the given columns; natural keys given re-resolve their lookups.
pub(crate) fn update(
    store: &mut Store,
    entity: &EntityDef,
    id: Uuid,
    body: &Value,
    option_base: i64,
) -> Result<(), DvError> {
    let def = self::entity(entity.logical_name)?;
    let existing = store
        .table(def.logical_name)
        .and_then(|t| t.get(&id))
        .map(|r| r.to_row())
        .ok_or_else(|| DvError::record_not_found(def.logical_name, &id.to_string()))?;
    let obj = body
        .as_object()
        .ok_or_else(|| DvError::bad_payload(&def.set_name, "The payload must be a JSON object."))?;
    let mut patch = Map::new();
    let mut node = Node {
        def,
        pk: None,
        row: Map::new(),
        singles: Vec::new(),
        children: Vec::new(),
        relinks: Vec::new(),
    };
    let mut provided = HashSet::new();
    for (k, v) in obj {
        if let Some(name) = k.strip_suffix("@odata.bind") {
            plan_bind(store, def, name, v, &mut node, &mut provided)?;
        } else if k.contains('@') {
            continue;
        } else if def.nav(k).is_some() {
            return Err(DvError::bad_payload(
                &def.set_name,
                format!("Deep update of navigation property '{k}' is not supported."),
            ));
        } else if let Some(col) = def.column(k) {
            let value = coerce(def, col, v, option_base)?;
            if col.name != def.primary_id && !system_generated(def, k) {
                if value.is_null() && required(def).contains(&col.name) {
                    return Err(fno_error(def, format!("Field '{k}' must be filled in.")));
                }
                patch.insert(k.clone(), value);
            }
        } else {
            return Err(invalid_property(k, def));
        }
    }
    // Natural keys in the patch re-resolve their lookups against the merged row.
    let mut merged = existing.clone();
    for (k, v) in node.row.iter().chain(patch.iter()) {
        merged.insert(k.clone(), v.clone());
    }
    for r in all_rules(def) {
        if provided.contains(r.lookup) || !r.keys.iter().any(|(own, _)| patch.contains_key(*own)) {
            continue;
        }
        match resolve(store, def, r, &merged)? {
            Some((tid, target)) => {
                apply_link(&mut merged, r, tid, &target);
            }
            None => {
                merged.insert(r.lookup.to_string(), Value::Null);
            }
        }
    }
    if def.logical_name == PERSON {
        merged.insert(
            "mshr_name".into(),
            Value::String(data::person_name(&merged)),
        );
    }
    if let Some(pf) = data::primary_field(def, &merged, option_base) {
        merged.insert("mshr_primaryfield".into(), Value::String(pf));
    }
    let changed: Row = merged
        .into_iter()
        .filter(|(k, v)| existing.get(k) != Some(v))
        .collect();
    if let Some(t) = store.table_mut(def.logical_name) {
        t.update(&id, changed);
    }
    for (table, lookup, child_id) in node.relinks {
        relink(store, table, lookup, child_id, id, option_base);
    }
    if def.logical_name == primary_contact::CONTACT {
        primary_contact::sync(store, id, option_base);
    }
    Ok(())
}

/// DELETE: removes the row; 404 when it does not exist.
pub(crate) fn delete(store: &mut Store, entity: &EntityDef, id: Uuid) -> Result<(), DvError> {
    let deleted = store
        .table_mut(entity.logical_name)
        .is_some_and(|t| t.delete(&id));
    if deleted {
        Ok(())
    } else {
        Err(DvError::record_not_found(
            entity.logical_name,
            &id.to_string(),
        ))
    }
}
