//! Insert: applies a planned tree to the store; cannot fail once planned.

use serde_json::Value;
use uuid::Uuid;

use crate::data;
use crate::schema::EntityDef;
use crate::store::{Row, Store};

use super::plan::Node;
use super::rules::{rule_for, DEFAULT_COMPANY, PERSON, RR};
use super::values::{apply_link, entity, is_empty, nonempty};

/// Next readable number `prefix` + zero-padded counter, one past the highest in `col`.
pub(super) fn next_number(
    store: &Store,
    table: &str,
    col: &str,
    prefix: &str,
    width: usize,
) -> String {
    let max = store
        .table(table)
        .map(|t| {
            t.rows()
                .filter_map(|r| r.get_str(col))
                .filter_map(|s| {
                    s.get(..prefix.len())
                        .filter(|p| p.eq_ignore_ascii_case(prefix))
                        .and_then(|_| s[prefix.len()..].parse::<u64>().ok())
                })
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    format!("{prefix}{:0width$}", max + 1)
}

pub(super) fn generate(store: &Store, def: &EntityDef, row: &mut Row) {
    let logical = def.logical_name;
    let number = match logical {
        RR => {
            let company = nonempty(row, "mshr_dataareaid")
                .unwrap_or(DEFAULT_COMPANY)
                .to_uppercase();
            Some((
                "mshr_recruitingrequestid",
                next_number(
                    store,
                    logical,
                    "mshr_recruitingrequestid",
                    &format!("{company}-"),
                    6,
                ),
            ))
        }
        "mshr_hcmcandidatetohireentity" => Some((
            "mshr_candidateid",
            next_number(store, logical, "mshr_candidateid", "CAND-", 6),
        )),
        PERSON => Some((
            "mshr_partynumber",
            next_number(store, logical, "mshr_partynumber", "HR", 9),
        )),
        "mshr_hcmrecruitingrequestlocationentity"
        | "mshr_hcmpersonaddressentity"
        | "mshr_dirpartycontactentity"
            if is_empty(row, "mshr_locationid") =>
        {
            Some((
                "mshr_locationid",
                next_number(store, logical, "mshr_locationid", "", 9),
            ))
        }
        _ => None,
    };
    if let Some((col, v)) = number {
        row.insert(col.to_string(), Value::String(v));
    }
    if logical == PERSON {
        row.insert("mshr_name".into(), Value::String(data::person_name(row)));
    }
}

/// Sets `row`'s lookup to the stored row `id` and copies its natural keys.
pub(super) fn link(store: &Store, def: &EntityDef, row: &mut Row, lookup: &str, id: Uuid) {
    let target = rule_for(def, lookup).and_then(|r| {
        store
            .table(r.target)
            .and_then(|t| t.get(&id))
            .map(|t| (r, t.to_row()))
    });
    match target {
        Some((r, t)) => {
            apply_link(row, r, id, &t);
        }
        None => {
            row.insert(lookup.to_string(), Value::String(id.to_string()));
        }
    }
}

pub(super) fn insert(store: &mut Store, node: Node, base: i64) -> Uuid {
    let Node {
        def,
        pk,
        mut row,
        singles,
        children,
        relinks,
    } = node;
    for (lookup, child) in singles {
        let cid = insert(store, child, base);
        link(store, def, &mut row, lookup, cid);
    }
    generate(store, def, &mut row);
    let id = pk.unwrap_or_else(|| data::next_guid(store, def));
    let mut full = data::blank_row(def);
    for (k, v) in row {
        full.insert(k, v);
    }
    full.insert(def.primary_id.clone(), Value::String(id.to_string()));
    if let Some(pf) = data::primary_field(def, &full, base) {
        full.insert("mshr_primaryfield".into(), Value::String(pf));
    }
    if let Some(t) = store.table_mut(def.logical_name) {
        t.insert(full);
    }
    for (lookup, mut child) in children {
        link(store, child.def, &mut child.row, lookup, id);
        insert(store, child, base);
    }
    for (table, lookup, child_id) in relinks {
        relink(store, table, lookup, child_id, id, base);
    }
    id
}

/// Points an existing row at a new parent (collection `@odata.bind`).
pub(super) fn relink(
    store: &mut Store,
    table: &str,
    lookup: &str,
    child_id: Uuid,
    parent: Uuid,
    base: i64,
) {
    let Ok(cdef) = entity(table) else { return };
    let Some(mut row) = store
        .table(table)
        .and_then(|t| t.get(&child_id))
        .map(|r| r.to_row())
    else {
        return;
    };
    link(store, cdef, &mut row, lookup, parent);
    if let Some(pf) = data::primary_field(cdef, &row, base) {
        row.insert("mshr_primaryfield".into(), Value::String(pf));
    }
    if let Some(t) = store.table_mut(table) {
        t.update(&child_id, row);
    }
}
