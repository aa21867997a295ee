//! The person's primary contact per channel (`mshr_primarycontactemail`, `…phone`, …) follows the
//! contact marked primary, as in HR, where the person's primary contact fields point at the
//! party's primary electronic address: writing a contact with `mshr_isprimary` = Yes copies it
//! onto the person and demotes the channel's former primary contact.

use serde_json::Value;
use uuid::Uuid;

use crate::data;
use crate::store::{Row, Store};

use super::rules::PERSON;
use super::values::entity;

pub(super) const CONTACT: &str = "mshr_dirpartycontactentity";
const TYPES: &str = "mshr_logisticselectronicaddressmethodtype";
const PERSON_LOOKUP: &str = "_mshr_fk_person_id_value";

/// The person column group of a contact type (en-US label).
fn channel(label: &str) -> Option<&'static str> {
    Some(match label {
        "Phone" => "phone",
        "Email address" => "email",
        "URL" => "url",
        "Telex" => "telex",
        "Fax" => "fax",
        "Facebook" => "facebook",
        "Twitter" => "twitter",
        "LinkedIn" => "linkedin",
        _ => return None,
    })
}

/// Applies contact `id`'s primary flag to its person (nothing when it is not primary).
pub(super) fn sync(store: &mut Store, id: Uuid, base: i64) {
    let Some(contact) = store
        .table(CONTACT)
        .and_then(|t| t.get(&id))
        .map(|r| r.to_row())
    else {
        return;
    };
    let yes = data::option_value(base, "mshr_noyes", "Yes");
    let no = data::option_value(base, "mshr_noyes", "No");
    let int = |row: &Row, col: &str| row.get(col).and_then(Value::as_i64);
    if yes.is_none() || int(&contact, "mshr_isprimary") != yes {
        return;
    }
    let kind = int(&contact, "mshr_type");
    let Some(prefix) = kind
        .and_then(|k| data::option_label(base, TYPES, k))
        .and_then(channel)
    else {
        return;
    };
    let Some(person) = contact
        .get(PERSON_LOOKUP)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
    else {
        return;
    };
    if let Some(t) = store.table_mut(CONTACT) {
        let former: Vec<Uuid> = t
            .children_of(PERSON_LOOKUP, &person)
            .into_iter()
            .map(|r| r.to_row())
            .filter(|r| int(r, "mshr_type") == kind && int(r, "mshr_isprimary") == yes)
            .filter_map(|r| {
                r.get("mshr_dirpartycontactentityid")?
                    .as_str()?
                    .parse()
                    .ok()
            })
            .filter(|other| *other != id)
            .collect();
        for other in former {
            let mut patch = Row::new();
            patch.insert("mshr_isprimary".into(), no.map_or(Value::Null, Value::from));
            t.update(&other, patch);
        }
    }
    let Ok(def) = entity(PERSON) else { return };
    let mut patch = Row::new();
    let copies = [
        ("mshr_locator", String::new()),
        ("mshr_description", "description".to_string()),
        ("mshr_purpose", "purpose".to_string()),
        ("mshr_locatorextension", "extension".to_string()),
        ("mshr_ismobilephone", "ismobile".to_string()),
        ("mshr_isprivate", "isprivate".to_string()),
        ("mshr_isinstantmessage", "isim".to_string()),
    ];
    for (from, suffix) in copies {
        let col = format!("mshr_primarycontact{prefix}{suffix}");
        // Each channel has its own subset of these columns on the person.
        if def.column(&col).is_some() {
            patch.insert(col, contact.get(from).cloned().unwrap_or(Value::Null));
        }
    }
    if let Some(t) = store.table_mut(PERSON) {
        t.update(&person, patch);
    }
}
