//! Plan: validates a create's whole deep-insert tree against the store, without mutating it.

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::NaiveDate;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::data::{self, reference};
use crate::error::DvError;
use crate::schema::{EntityDef, NavKind};
use crate::store::{Row, Store};

use super::errors::{fno_error, invalid_property, undeclared_property};
use super::rules::{
    all_rules, option_defaults, required, rule_for, system_generated, text_defaults,
    CANDIDATE_PERSON_FIELDS, COMPANY_RULE, DEFAULT_COMPANY, PERSON, PERSON_RULE, RR,
};
use super::values::{apply_link, coerce, entity, is_empty, nonempty, resolve};

/// One row to create, with everything nested under it.
pub(super) struct Node {
    pub(super) def: &'static EntityDef,
    pub(super) pk: Option<Uuid>,
    pub(super) row: Row,
    /// Rows to create first; this row's lookup (`.0`) points at them.
    pub(super) singles: Vec<(&'static str, Node)>,
    /// Rows to create after this one; their lookup (`.0`) points at it.
    pub(super) children: Vec<(&'static str, Node)>,
    /// Existing rows to point at this one: (table, lookup, id).
    pub(super) relinks: Vec<(&'static str, &'static str, Uuid)>,
}

/// A parent row under construction, seen by its nested children.
pub(super) struct ParentLink<'a> {
    pub(super) lookup: &'static str,
    pub(super) row: &'a Row,
}

/// Parses an `@odata.bind` reference, `"/set(guid)"` (leading `/` and a URL prefix optional).
pub(super) fn parse_ref(v: &Value) -> Option<(String, Uuid)> {
    let s = v.as_str()?;
    let last = s.rsplit('/').find(|p| !p.is_empty())?;
    let (set, rest) = last.split_once('(')?;
    let id = rest.strip_suffix(')')?;
    Some((
        set.to_string(),
        Uuid::parse_str(id.trim_matches('\'')).ok()?,
    ))
}

/// Resolves a bind reference to an existing row of `target`.
pub(super) fn bind_target(
    store: &Store,
    def: &EntityDef,
    target: &str,
    v: &Value,
) -> Result<(Uuid, Row), DvError> {
    let tdef = entity(target)?;
    let (set, id) = parse_ref(v).ok_or_else(|| {
        DvError::bad_payload(
            &def.set_name,
            format!("The reference '{v}' is not a valid entity reference."),
        )
    })?;
    if set != tdef.set_name {
        return Err(DvError::bad_payload(
            &def.set_name,
            format!(
                "The entity set '{set}' does not match the navigation property target '{}'.",
                tdef.set_name
            ),
        ));
    }
    store
        .table(target)
        .and_then(|t| t.get(&id))
        .map(|r| (id, r.to_row()))
        .ok_or_else(|| DvError::record_not_found(target, &id.to_string()))
}

/// The column a `<name>@odata.bind` wrongly targets, if it names a column or lookup attribute.
pub(super) fn is_column_name(def: &EntityDef, name: &str) -> bool {
    def.column(name).is_some() || def.column(&format!("_{name}_value")).is_some()
}

pub(super) fn plan(
    store: &Store,
    def: &'static EntityDef,
    body: &Value,
    base: i64,
    parent: Option<ParentLink<'_>>,
) -> Result<Node, DvError> {
    let obj = body
        .as_object()
        .ok_or_else(|| DvError::bad_payload(&def.set_name, "The payload must be a JSON object."))?;
    let mut node = Node {
        def,
        pk: None,
        row: Map::new(),
        singles: Vec::new(),
        children: Vec::new(),
        relinks: Vec::new(),
    };
    let mut provided: HashSet<&'static str> = HashSet::new();
    let mut collections: Vec<(&'static str, &'static str, &Value)> = Vec::new();

    for (k, v) in obj {
        if let Some(name) = k.strip_suffix("@odata.bind") {
            plan_bind(store, def, name, v, &mut node, &mut provided)?;
        } else if k.contains('@') {
            // Other instance annotations (e.g. `@odata.type`) carry no data.
        } else if let Some(nav) = def.nav(k) {
            match (&nav.kind, v) {
                (NavKind::Single { target, lookup }, Value::Object(_)) => {
                    let child = plan(store, entity(target)?, v, base, None)?;
                    node.singles.push((lookup, child));
                    provided.insert(lookup);
                }
                (
                    NavKind::Collection {
                        child,
                        child_lookup,
                    },
                    Value::Array(_),
                ) => {
                    collections.push((child, child_lookup, v));
                }
                _ => {
                    return Err(DvError::bad_payload(
                        &def.set_name,
                        format!("The value of navigation property '{k}' has the wrong shape."),
                    ))
                }
            }
        } else if let Some(col) = def.column(k) {
            if col.name == def.primary_id {
                let id = coerce(def, col, v, base)?;
                node.pk = id.as_str().and_then(|s| Uuid::parse_str(s).ok());
                continue;
            }
            let value = coerce(def, col, v, base)?;
            if !system_generated(def, k) {
                node.row.insert(k.clone(), value);
            }
        } else {
            return Err(invalid_property(k, def));
        }
    }
    if let Some(id) = node.pk {
        if store
            .table(def.logical_name)
            .is_some_and(|t| t.get(&id).is_some())
        {
            return Err(DvError::new(
                StatusCode::PRECONDITION_FAILED,
                "0x80040237",
                "Cannot insert duplicate key.",
            ));
        }
    }

    apply_defaults(def, &mut node.row, base);
    if let Some(p) = &parent {
        provided.insert(p.lookup);
        if let Some(r) = rule_for(def, p.lookup) {
            for (own, theirs) in r.copies {
                if is_empty(&node.row, own) {
                    if let Some(v) = p.row.get(*theirs).filter(|v| !v.is_null()) {
                        node.row.insert(own.to_string(), v.clone());
                    }
                }
            }
        }
    }
    if def.logical_name == "mshr_hcmcandidatetohireentity" {
        plan_implicit_person(store, &mut node, base, &mut provided)?;
    }
    if def.logical_name == RR {
        fill_from_job(&mut node.row, base);
    }
    resolve_rules(store, def, &mut node.row, &provided)?;
    check_required(def, &node.row, &provided)?;

    for (child, child_lookup, v) in collections {
        let cdef = entity(child)?;
        for item in v.as_array().into_iter().flatten() {
            let link = ParentLink {
                lookup: child_lookup,
                row: &node.row,
            };
            let c = plan(store, cdef, item, base, Some(link))?;
            node.children.push((child_lookup, c));
        }
    }
    Ok(node)
}

pub(super) fn plan_bind(
    store: &Store,
    def: &'static EntityDef,
    name: &str,
    v: &Value,
    node: &mut Node,
    provided: &mut HashSet<&'static str>,
) -> Result<(), DvError> {
    let Some(nav) = def.nav(name) else {
        if is_column_name(def, name) {
            return Err(undeclared_property(def, name));
        }
        return Err(invalid_property(name, def));
    };
    match &nav.kind {
        NavKind::Single { target, lookup } => {
            if v.is_null() {
                node.row.insert(lookup.to_string(), Value::Null);
                return Ok(());
            }
            let (id, trow) = bind_target(store, def, target, v)?;
            match rule_for(def, lookup) {
                Some(r) => apply_link(&mut node.row, r, id, &trow),
                None => {
                    node.row
                        .insert(lookup.to_string(), Value::String(id.to_string()));
                }
            }
            provided.insert(lookup);
        }
        NavKind::Collection {
            child,
            child_lookup,
        } => {
            let items = v.as_array().ok_or_else(|| {
                DvError::bad_payload(
                    &def.set_name,
                    format!("The value of '{name}@odata.bind' must be an array."),
                )
            })?;
            for item in items {
                let (id, _) = bind_target(store, def, child, item)?;
                node.relinks.push((child, child_lookup, id));
            }
        }
    }
    Ok(())
}

pub(super) fn apply_defaults(def: &EntityDef, row: &mut Row, base: i64) {
    for (col, set, label) in option_defaults(def.logical_name) {
        if is_empty(row, col) {
            if let Some(v) = data::option_value(base, set, label) {
                row.insert(col.to_string(), Value::from(v));
            }
        }
    }
    for (col, v) in text_defaults(def.logical_name) {
        if is_empty(row, col) {
            row.insert(col.to_string(), Value::String(v.to_string()));
        }
    }
}

/// Without a nested or bound person and without a party number, the candidate's own person fields
/// create the person (docs/ats-data-model.md#mshr_hcmcandidatetohireentity).
pub(super) fn plan_implicit_person(
    store: &Store,
    node: &mut Node,
    base: i64,
    provided: &mut HashSet<&'static str>,
) -> Result<(), DvError> {
    let lookup = PERSON_RULE.lookup;
    if provided.contains(lookup) || nonempty(&node.row, "mshr_partynumber").is_some() {
        return Ok(());
    }
    let mut body = Map::new();
    for f in CANDIDATE_PERSON_FIELDS {
        if let Some(v) = node.row.get(*f).filter(|v| !v.is_null()) {
            body.insert(f.to_string(), v.clone());
        }
    }
    if let Some(d) = nonempty(&node.row, "mshr_birthdate").and_then(|s| s.get(..10)) {
        if let Ok(d) = NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            let (day, month, year) = data::birth_parts(d);
            body.insert("mshr_birthday".into(), Value::from(day));
            body.insert(
                "mshr_birthmonth".into(),
                Value::from(base + i64::from(month)),
            );
            body.insert("mshr_birthyear".into(), Value::from(year));
        }
    }
    let person = plan(store, entity(PERSON)?, &Value::Object(body), base, None)?;
    node.singles.push((lookup, person));
    provided.insert(lookup);
    Ok(())
}

/// HR copies title, function, type, FTE, category and exempt status from the job, and the
/// thresholds from the compensation level; fills what the client left empty.
pub(super) fn fill_from_job(row: &mut Row, base: i64) {
    let Some(job) = nonempty(row, "mshr_jobid").and_then(reference::job_profile) else {
        return;
    };
    let text: [(&str, &str); 3] = [
        ("mshr_titleid", job.description()),
        ("mshr_jobfunctionid", job.function),
        ("mshr_jobtypeid", job.job_type),
    ];
    for (col, v) in text {
        if is_empty(row, col) {
            row.insert(col.into(), Value::String(v.into()));
        }
    }
    let options = [
        (
            "mshr_regulatoryjobcategory",
            "mshr_hcmregulatoryjobcategory",
            job.category,
        ),
        ("mshr_exemptstatus", "cdm_jobexemptstatus", job.exempt),
    ];
    for (col, set, label) in options {
        if is_empty(row, col) {
            if let Some(v) = data::option_value(base, set, label) {
                row.insert(col.into(), Value::from(v));
            }
        }
    }
    if is_empty(row, "mshr_defaultfulltimeequivalency") {
        row.insert("mshr_defaultfulltimeequivalency".into(), Value::from(1.0));
    }
    let company = nonempty(row, "mshr_dataareaid")
        .unwrap_or(DEFAULT_COMPANY)
        .to_string();
    let band = nonempty(row, "mshr_compensationlevelid")
        .and_then(|level| reference::comp_band(level, &company));
    if let Some((low, mid, high)) = band {
        for (col, v) in [
            ("mshr_compensationlowthreshold", low),
            ("mshr_compensationcontrolpoint", mid),
            ("mshr_compensationhighthreshold", high),
        ] {
            if is_empty(row, col) {
                row.insert(col.into(), Value::from(v));
            }
        }
    }
}

/// Resolves every natural-key lookup not provided by a parent, nested row or bind; then fills
/// readable ids of lookups set through copies (e.g. department number from the position).
pub(super) fn resolve_rules(
    store: &Store,
    def: &EntityDef,
    row: &mut Row,
    provided: &HashSet<&'static str>,
) -> Result<(), DvError> {
    for r in all_rules(def) {
        if r.lookup == COMPANY_RULE.lookup && is_empty(row, "mshr_dataareaid") && def.documented {
            row.insert("mshr_dataareaid".into(), Value::from(DEFAULT_COMPANY));
        }
        if provided.contains(r.lookup) {
            continue;
        }
        if let Some((id, target)) = resolve(store, def, r, row)? {
            apply_link(row, r, id, &target);
        } else if def.column(r.lookup).is_some() && !row.contains_key(r.lookup) {
            row.insert(r.lookup.to_string(), Value::Null);
        }
    }
    for r in all_rules(def) {
        let Some(id) = row
            .get(r.lookup)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            continue;
        };
        if !is_empty(row, r.keys[0].0) {
            continue;
        }
        if let Some(target) = store
            .table(r.target)
            .and_then(|t| t.get(&id))
            .map(|t| t.to_row())
        {
            apply_link(row, r, id, &target);
        }
    }
    Ok(())
}

pub(super) fn check_required(
    def: &EntityDef,
    row: &Row,
    provided: &HashSet<&'static str>,
) -> Result<(), DvError> {
    for col in required(def) {
        let by_link = all_rules(def)
            .any(|r| provided.contains(r.lookup) && r.keys.iter().any(|(own, _)| *own == col));
        if is_empty(row, col) && !by_link {
            return Err(fno_error(def, format!("Field '{col}' must be filled in.")));
        }
    }
    Ok(())
}
