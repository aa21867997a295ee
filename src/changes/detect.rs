//! Change detection for one record: the fingerprint of a representation and the events that turn
//! the stored one into the new one. Pure functions, so the rules are tested without a scan.
//!
//! `changed_fields` are JSON pointers (RFC 6901) into `data`: nested objects are compared member by
//! member down to the changed member (`/person/first_name`); arrays are compared as a whole
//! (`/positions`), since their elements have no stable position.

use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::event::{Action, EventType, NewEvent, ResourceType};

/// `value` with every array of objects ordered by their `id`, so a child collection read in another
/// order is not a change.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical).collect();
            if items.iter().all(|i| i.get("id").is_some()) {
                items.sort_by(|a, b| a["id"].to_string().cmp(&b["id"].to_string()));
            }
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// The fingerprint of a mapped representation: SHA-256 of its canonical JSON, base16.
pub fn fingerprint(data: &Value) -> String {
    let digest = Sha256::digest(canonical(data).to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn diff(old: &Value, new: &Value, at: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                let here = format!("{at}/{}", escape(k));
                match a.get(k) {
                    Some(w) => diff(w, v, &here, out),
                    None => out.push(here),
                }
            }
            for k in a.keys().filter(|k| !b.contains_key(*k)) {
                out.push(format!("{at}/{}", escape(k)));
            }
        }
        (a, b) if canonical(a) != canonical(b) => out.push(at.to_string()),
        _ => {}
    }
}

/// JSON pointers of the members that differ between two representations.
pub fn changed_fields(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff(old, new, "", &mut out);
    out
}

/// The status key a representation shows (`status.key`).
fn status_key(data: &Value) -> Option<&str> {
    data.get("status")?.get("key")?.as_str()
}

/// The events for one record read by a scan: `old` is the stored representation (`None`: not seen
/// before). A status change is a `status_changed` (with `from`/`to` and its pointers); other
/// changed members in the same scan are one `updated` after it.
pub fn events_for(
    resource: ResourceType,
    id: Uuid,
    company: &str,
    old: Option<&Value>,
    new: &Value,
) -> Vec<NewEvent> {
    let event =
        |action, changed: Option<Vec<String>>, from: Option<&str>, to: Option<&str>| NewEvent {
            event_type: EventType::new(resource, action),
            resource_id: id,
            company: company.to_string(),
            data: new.clone(),
            changed_fields: changed,
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        };
    let Some(old) = old else {
        return vec![event(Action::Created, None, None, None)];
    };
    let changed = changed_fields(old, new);
    if changed.is_empty() {
        return Vec::new();
    }
    let (from, to) = (status_key(old), status_key(new));
    let (status, other): (Vec<String>, Vec<String>) = if from != to {
        changed
            .into_iter()
            .partition(|p| p == "/status" || p.starts_with("/status/"))
    } else {
        (Vec::new(), changed)
    };
    let mut out = Vec::new();
    if !status.is_empty() {
        out.push(event(Action::StatusChanged, Some(status), from, to));
    }
    if !other.is_empty() {
        out.push(event(Action::Updated, Some(other), None, None));
    }
    out
}

/// The event for a record a complete scan no longer found: its last known representation.
pub fn deleted(resource: ResourceType, id: Uuid, company: &str, last: &Value) -> NewEvent {
    NewEvent {
        event_type: EventType::new(resource, Action::Deleted),
        resource_id: id,
        company: company.to_string(),
        data: last.clone(),
        changed_fields: None,
        from: None,
        to: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const RR: ResourceType = ResourceType::RecruitingRequest;

    fn request(status: &str, description: &str) -> Value {
        json!({
            "id": Uuid::nil(),
            "description": description,
            "status": {"code": 1, "key": status, "label": status},
            "location": {"id": 1, "city": "Oslo"},
            "positions": [{"id": "b", "description": "x"}, {"id": "a", "description": "y"}]
        })
    }

    fn types(events: &[NewEvent]) -> Vec<String> {
        events.iter().map(|e| e.event_type.to_string()).collect()
    }

    #[test]
    fn fingerprints_ignore_child_order_but_not_content() {
        let a = request("draft", "d");
        let mut b = a.clone();
        b["positions"] = json!([{"id": "a", "description": "y"}, {"id": "b", "description": "x"}]);
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert!(changed_fields(&a, &b).is_empty());
        b["positions"][0]["description"] = json!("z");
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(changed_fields(&a, &b), vec!["/positions"]);
        assert_eq!(fingerprint(&a).len(), 64);
    }

    #[test]
    fn new_records_are_created_and_unchanged_ones_emit_nothing() {
        let a = request("draft", "d");
        let e = events_for(RR, Uuid::nil(), "usmf", None, &a);
        assert_eq!(types(&e), ["recruiting_request.created"]);
        assert_eq!(e[0].data, a);
        assert_eq!(e[0].company, "usmf");
        assert!(events_for(RR, Uuid::nil(), "usmf", Some(&a), &a).is_empty());
    }

    #[test]
    fn edits_name_their_pointers() {
        let a = request("draft", "d");
        let mut b = request("draft", "new text");
        b["location"]["city"] = json!("Bergen");
        b["new/member"] = json!(1);
        let e = events_for(RR, Uuid::nil(), "usmf", Some(&a), &b);
        assert_eq!(types(&e), ["recruiting_request.updated"]);
        assert_eq!(
            e[0].changed_fields.as_deref(),
            Some(
                &[
                    "/description".to_string(),
                    "/location/city".into(),
                    "/new~1member".into()
                ][..]
            )
        );
        assert!(e[0].from.is_none() && e[0].to.is_none());
        let mut c = a.clone();
        c.as_object_mut().expect("object").remove("location");
        assert_eq!(changed_fields(&a, &c), vec!["/location"]);
    }

    #[test]
    fn a_status_change_has_from_and_to_and_other_edits_follow_as_an_update() {
        let a = request("in_review", "d");
        let b = request("active", "d");
        let e = events_for(RR, Uuid::nil(), "usmf", Some(&a), &b);
        assert_eq!(types(&e), ["recruiting_request.status_changed"]);
        assert_eq!(e[0].from.as_deref(), Some("in_review"));
        assert_eq!(e[0].to.as_deref(), Some("active"));
        assert_eq!(
            e[0].changed_fields.as_deref(),
            Some(&["/status/key".to_string(), "/status/label".into()][..])
        );
        let c = request("closed", "other");
        let e = events_for(RR, Uuid::nil(), "usmf", Some(&b), &c);
        assert_eq!(
            types(&e),
            [
                "recruiting_request.status_changed",
                "recruiting_request.updated"
            ]
        );
        assert_eq!(
            e[1].changed_fields.as_deref(),
            Some(&["/description".to_string()][..])
        );
        // A relabelled status (same key) is an update, not a status change.
        let mut relabelled = a.clone();
        relabelled["status"]["label"] = json!("I vurdering");
        let e = events_for(RR, Uuid::nil(), "usmf", Some(&a), &relabelled);
        assert_eq!(types(&e), ["recruiting_request.updated"]);
    }

    #[test]
    fn deletions_carry_the_last_representation() {
        let a = request("closed", "d");
        let e = deleted(ResourceType::Candidate, Uuid::nil(), "nomf", &a);
        assert_eq!(e.event_type.to_string(), "candidate.deleted");
        assert_eq!(e.data, a);
        assert_eq!(e.company, "nomf");
    }
}
