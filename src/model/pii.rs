//! The PII rule, in one place: which partner-facing fields are personal data. Without `pii:read`
//! the candidate reads leave them out of the DTO (`candidate::Pii`) and `redact` removes them from
//! a stored representation (the changes feed, webhooks). Hidden fields are omitted, never `null`,
//! so a partner can tell "hidden" from "empty" (API conventions). The upstream side (not selecting
//! these columns at all) is driven by the same list: see `model::candidate::pii_sources`.

use serde_json::Value;

/// Dotted paths, relative to one candidate as serialized (`person.birth_date` is
/// `{"person": {"birth_date": …}}`).
pub const FIELDS: &[&str] = &[
    "person.gender",
    "person.birth_date",
    "person.marital_status",
    "person.citizenship_country",
    "person.veteran_status",
    "person.military_service_start_date",
    "person.military_service_end_date",
    "person.disabled_veteran",
    "person.primary_email",
    "person.primary_phone",
    "person.addresses",
    "person.contacts",
    "person.identification_numbers",
];

/// Whether `path` is personal data.
pub fn is_pii(path: &str) -> bool {
    FIELDS.contains(&path)
}

/// Whether the member `field` of a candidate's person is personal data (`is_pii("person.{field}")`).
pub fn is_person_pii(field: &str) -> bool {
    FIELDS
        .iter()
        .any(|f| f.strip_prefix("person.") == Some(field))
}

/// Removes every PII field from one serialized DTO unless the partner may see personal data.
pub fn redact(dto: &mut Value, can_see_pii: bool) {
    if can_see_pii {
        return;
    }
    for path in FIELDS {
        remove_path(dto, path);
    }
}

fn remove_path(v: &mut Value, path: &str) {
    match path.split_once('.') {
        Some((head, rest)) => {
            if let Some(inner) = v.get_mut(head) {
                remove_path(inner, rest);
            }
        }
        None => {
            if let Some(obj) = v.as_object_mut() {
                obj.remove(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "id": "x",
            "comments": "ok",
            "person": {
                "first_name": "Ada", "gender": null, "birth_date": "1990-01-02",
                "marital_status": {"key": "single"}, "citizenship_country": "USA",
                "veteran_status": null, "military_service_start_date": null,
                "military_service_end_date": null, "disabled_veteran": false,
                "primary_email": "a@b.c", "primary_phone": "+1", "addresses": [],
                "contacts": [], "identification_numbers": [], "skills": []
            }
        })
    }

    #[test]
    fn removes_every_field_without_pii_read() {
        let mut v = sample();
        redact(&mut v, false);
        for path in FIELDS {
            let (_, field) = path.split_once('.').unwrap_or(("", path));
            assert!(v["person"].get(field).is_none(), "{path} still present");
        }
        assert_eq!(v["person"]["first_name"], "Ada");
        assert_eq!(v["comments"], "ok");
        assert!(v["person"]["skills"].is_array());
    }

    #[test]
    fn keeps_everything_with_pii_read() {
        let mut v = sample();
        redact(&mut v, true);
        assert_eq!(v, sample());
    }

    #[test]
    fn missing_parents_are_ignored() {
        let mut v = json!({"person": null});
        redact(&mut v, false);
        assert_eq!(v, json!({"person": null}));
        assert!(is_person_pii("birth_date") && !is_person_pii("first_name"));
        assert!(is_pii("person.contacts"));
        assert!(!is_pii("person.skills"));
    }
}
