//! The change event as partners see it (feed and webhook bodies):
//! `{id, type, occurred_at, resource: {type, id}, data, changed_fields?, from?, to?}`.
//! Events are ordered by the store's sequence number; the string id embeds it (zero-padded), so ids
//! sort in feed order too.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// Which partner resource an event is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    RecruitingRequest,
    Candidate,
}

impl ResourceType {
    pub const ALL: [ResourceType; 2] = [ResourceType::RecruitingRequest, ResourceType::Candidate];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::RecruitingRequest => "recruiting_request",
            ResourceType::Candidate => "candidate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The version of the representation the scanner fingerprints and stores for this resource.
    /// Raise it in a release that changes what the representation holds (a member added,
    /// renamed or relabelled): that release's first scan then re-baselines instead of emitting
    /// `updated` for every record, and a replica still on the older release stops recording it
    /// (a rollback to that release leaves the resource unscanned, warned at every scan, until the
    /// newer one runs again). Events recorded before keep their older shape in the feed for
    /// `retention_days`: a personal member renamed keeps its old path in `pii::FIELDS` as long.
    pub const fn representation(self) -> i32 {
        match self {
            ResourceType::RecruitingRequest => 1,
            ResourceType::Candidate => 1,
        }
    }
}

/// What happened to the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Created,
    Updated,
    StatusChanged,
    Deleted,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::Created,
        Action::Updated,
        Action::StatusChanged,
        Action::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::StatusChanged => "status_changed",
            Action::Deleted => "deleted",
        }
    }
}

/// An event type: `recruiting_request.created`, …, `candidate.deleted` (the eight of `ALL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType {
    pub resource: ResourceType,
    pub action: Action,
}

impl EventType {
    pub const fn new(resource: ResourceType, action: Action) -> Self {
        Self { resource, action }
    }

    /// Every event type, in a fixed order (resource, then action).
    pub fn all() -> impl Iterator<Item = EventType> {
        ResourceType::ALL
            .into_iter()
            .flat_map(|r| Action::ALL.into_iter().map(move |a| EventType::new(r, a)))
    }

    /// `resource.action`, e.g. `recruiting_request.status_changed`.
    pub fn name(self) -> String {
        format!("{}.{}", self.resource.as_str(), self.action.as_str())
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.resource.as_str(), self.action.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{0}`")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::all()
            .find(|t| t.to_string() == s)
            .ok_or_else(|| UnknownEventType(s.to_string()))
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The names every event type serializes to (for the OpenAPI enum and request validation).
pub const EVENT_TYPE_NAMES: [&str; 8] = [
    "recruiting_request.created",
    "recruiting_request.updated",
    "recruiting_request.status_changed",
    "recruiting_request.deleted",
    "candidate.created",
    "candidate.updated",
    "candidate.status_changed",
    "candidate.deleted",
];

/// An event type in the OpenAPI document: one of [`EVENT_TYPE_NAMES`].
impl utoipa::PartialSchema for EventType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("An event type, `resource.action`."))
            .enum_values(Some(EVENT_TYPE_NAMES))
            .into()
    }
}

impl utoipa::ToSchema for EventType {}

/// The record an event is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResourceRef {
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub id: Uuid,
}

/// An event as the store keeps it and partners see it. `seq` and `company` are not shown: the
/// first orders the feed (and is inside `id`), the second decides who may see the event.
/// Deserialize reads it back from a webhook outbox row (`seq` and `company` then come from the row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Sortable, unique: `evt_` + the zero-padded sequence number. Also the `webhook-id`.
    #[schema(example = "evt_0000000000000042")]
    pub id: String,
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "recruiting_request.status_changed")]
    pub event_type: EventType,
    /// When the gateway detected the change (RFC 3339, UTC).
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: DateTime<Utc>,
    pub resource: ResourceRef,
    /// The resource as `GET` shows it (for `deleted`: as it was last seen).
    #[schema(value_type = Object)]
    pub data: Value,
    /// `updated` (and `status_changed`): JSON pointers (RFC 6901) into `data` of the members whose
    /// value changed; a changed array is named as a whole (`/positions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_fields: Option<Vec<String>>,
    /// `status_changed`: the previous status key (e.g. `in_review`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `status_changed`: the new status key (e.g. `active`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip)]
    #[schema(ignore)]
    pub seq: i64,
    /// Legal entity (`mshr_dataareaid`, lower-case) of the record: who may see the event.
    #[serde(skip)]
    #[schema(ignore)]
    pub company: String,
}

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The public id of the event with sequence number `seq`.
pub fn event_id(seq: i64) -> String {
    format!("evt_{seq:016}")
}

/// An event the scanner detected, before the store gives it a sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: EventType,
    pub resource_id: Uuid,
    pub company: String,
    pub data: Value,
    pub changed_fields: Option<Vec<String>>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl NewEvent {
    /// The stored event, once `seq` and the time are known.
    pub fn into_event(self, seq: i64, occurred_at: DateTime<Utc>) -> Event {
        Event {
            id: event_id(seq),
            event_type: self.event_type,
            occurred_at,
            resource: ResourceRef {
                kind: self.event_type.resource,
                id: self.resource_id,
            },
            data: self.data,
            changed_fields: self.changed_fields,
            from: self.from,
            to: self.to,
            seq,
            company: self.company,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_types_round_trip_by_name() {
        let names: Vec<String> = EventType::all().map(|t| t.to_string()).collect();
        assert_eq!(names, EVENT_TYPE_NAMES);
        for n in EVENT_TYPE_NAMES {
            let t: EventType = n.parse().expect("parses");
            assert_eq!(t.to_string(), n);
            assert_eq!(serde_json::to_value(t).expect("ser"), json!(n));
        }
        assert!("recruiting_request.moved".parse::<EventType>().is_err());
        assert!("candidate".parse::<EventType>().is_err());
        assert_eq!(
            serde_json::from_value::<EventType>(json!("candidate.deleted")).expect("de"),
            EventType::new(ResourceType::Candidate, Action::Deleted)
        );
    }

    #[test]
    fn ids_sort_like_sequence_numbers() {
        assert!(event_id(9) < event_id(10));
        assert!(event_id(99_999) < event_id(100_000));
        assert_eq!(event_id(42), "evt_0000000000000042");
    }

    #[test]
    fn serializes_as_the_feed_shows_it() {
        let id = Uuid::nil();
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .expect("time")
            .with_timezone(&Utc);
        let e = NewEvent {
            event_type: EventType::new(ResourceType::RecruitingRequest, Action::StatusChanged),
            resource_id: id,
            company: "usmf".into(),
            data: json!({"id": id}),
            changed_fields: Some(vec!["/status".into()]),
            from: Some("in_review".into()),
            to: Some("active".into()),
        }
        .into_event(7, t);
        assert_eq!(
            serde_json::to_value(&e).expect("ser"),
            json!({
                "id": "evt_0000000000000007",
                "type": "recruiting_request.status_changed",
                "occurred_at": "2026-01-02T03:04:05.000Z",
                "resource": {"type": "recruiting_request", "id": id},
                "data": {"id": id},
                "changed_fields": ["/status"],
                "from": "in_review",
                "to": "active"
            })
        );
        let created = NewEvent {
            event_type: EventType::new(ResourceType::Candidate, Action::Created),
            resource_id: id,
            company: "usmf".into(),
            data: json!({}),
            changed_fields: None,
            from: None,
            to: None,
        }
        .into_event(8, t);
        let v = serde_json::to_value(&created).expect("ser");
        assert!(v.get("changed_fields").is_none() && v.get("from").is_none());
        assert!(v.get("company").is_none() && v.get("seq").is_none());
    }
}
