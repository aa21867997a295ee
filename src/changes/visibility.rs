//! Who may see an event, and how: the read API's rules, applied to an event. A partner sees an event
//! only for a record of one of its companies (`Principal::may_see_company`, as the by-id reads), and
//! a candidate's personal fields only with `pii:read` (`model::pii::redact`, as the candidate reads).
//! Used by `GET /v1/changes` and by webhook deliveries, so both show exactly the same thing.

use crate::auth::Principal;
use crate::model::pii;

use super::event::{Action, Event, ResourceType};

/// The event as `principal` may see it, or `None` when it may not see it at all. Without `pii:read`,
/// a candidate's personal fields are removed from `data` and from `changed_fields`; an update that
/// changed only personal fields is then invisible (nothing the partner can see changed).
pub fn shape_for(principal: &Principal, event: &Event) -> Option<Event> {
    if !principal.may_see_company(&event.company) {
        return None;
    }
    let mut shown = event.clone();
    if event.resource.kind == ResourceType::Candidate && !principal.pii {
        pii::redact(&mut shown.data, false);
        if let Some(fields) = shown.changed_fields.as_mut() {
            fields.retain(|pointer| !is_personal(pointer));
            if fields.is_empty() && event.event_type.action == Action::Updated {
                return None;
            }
        }
    }
    Some(shown)
}

/// Whether a JSON pointer into a candidate names a personal field or something inside one.
fn is_personal(pointer: &str) -> bool {
    let segments: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    (1..=segments.len()).any(|n| pii::is_pii(&segments[..n].join(".")))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::Utc;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::auth::scopes::Scope;
    use crate::changes::event::{EventType, NewEvent};

    fn principal(companies: &[&str], pii: bool) -> Principal {
        let mut scopes: BTreeSet<Scope> = [Scope::ChangesRead].into_iter().collect();
        if pii {
            scopes.insert(Scope::PiiRead);
        }
        Principal::new(
            "p",
            scopes,
            companies.iter().map(|c| c.to_string()).collect(),
            "p",
        )
    }

    fn candidate_event(action: Action, changed: &[&str]) -> Event {
        NewEvent {
            event_type: EventType::new(ResourceType::Candidate, action),
            resource_id: Uuid::nil(),
            company: "usmf".into(),
            data: json!({
                "id": Uuid::nil(),
                "comments": "ok",
                "person": {"first_name": "Ada", "birth_date": "1990-01-02", "primary_email": "a@b.c"}
            }),
            changed_fields: (!changed.is_empty())
                .then(|| changed.iter().map(|s| s.to_string()).collect()),
            from: None,
            to: None,
        }
        .into_event(1, Utc::now())
    }

    #[test]
    fn companies_decide_who_sees_an_event() {
        let e = candidate_event(Action::Created, &[]);
        assert!(shape_for(&principal(&["usmf"], true), &e).is_some());
        assert!(shape_for(&principal(&["nomf"], true), &e).is_none());
        assert!(
            shape_for(&principal(&[], true), &e).is_some(),
            "no company limit: every company"
        );
        let mut rr = e.clone();
        rr.event_type = EventType::new(ResourceType::RecruitingRequest, Action::Created);
        rr.resource.kind = ResourceType::RecruitingRequest;
        rr.company = "nomf".into();
        assert!(shape_for(&principal(&["usmf"], true), &rr).is_none());
        assert_eq!(shape_for(&principal(&["nomf"], false), &rr), Some(rr));
    }

    #[test]
    fn personal_data_is_shaped_as_the_read_api_shapes_it() {
        let e = candidate_event(
            Action::Updated,
            &["/comments", "/person/primary_email", "/person/addresses/0"],
        );
        let with = shape_for(&principal(&["usmf"], true), &e).expect("visible");
        assert_eq!(with, e, "pii:read sees everything");
        let without = shape_for(&principal(&["usmf"], false), &e).expect("visible");
        assert!(without.data["person"].get("birth_date").is_none());
        assert!(without.data["person"].get("primary_email").is_none());
        assert_eq!(without.data["person"]["first_name"], "Ada");
        assert_eq!(without.changed_fields, Some(vec!["/comments".to_string()]));
    }

    #[test]
    fn an_update_of_personal_fields_only_is_invisible_without_pii() {
        let e = candidate_event(Action::Updated, &["/person/birth_date"]);
        assert!(shape_for(&principal(&["usmf"], false), &e).is_none());
        assert!(shape_for(&principal(&["usmf"], true), &e).is_some());
        let mut status = candidate_event(Action::StatusChanged, &["/person/birth_date"]);
        status.from = Some("not_processed".into());
        status.to = Some("hired".into());
        let shown = shape_for(&principal(&["usmf"], false), &status).expect("status is visible");
        assert_eq!(shown.changed_fields, Some(vec![]));
        assert_eq!(shown.to.as_deref(), Some("hired"));
    }

    #[test]
    fn personal_pointers() {
        assert!(is_personal("/person/birth_date"));
        assert!(is_personal("/person/contacts/2/value"));
        assert!(!is_personal("/person/first_name"));
        assert!(!is_personal("/person"));
        assert!(!is_personal("/comments"));
    }
}
