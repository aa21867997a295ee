//! Subscriptions: the body of `POST /v1/webhooks` checked field by field (every problem with its
//! JSON pointer), and the view partners read. The secret is generated here, sealed for the store and
//! shown once.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::webhooks::SubscriptionRow;

use super::url_policy::{Lookups, UrlPolicy};

/// Subscriptions one partner may hold.
pub const MAX_PER_PARTNER: usize = 25;

/// Entries one `events` list may have (repeats included; the OpenAPI document's `maxItems`, pinned
/// by `tests/it/openapi.rs`): several times the event types there are, so a list is never cut short,
/// and a 1 MiB body cannot make a million field problems.
pub const MAX_EVENTS: usize = 50;

/// A field problem: JSON pointer into the body and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub pointer: String,
    pub detail: String,
}

fn issue(pointer: impl Into<String>, detail: impl Into<String>) -> Issue {
    Issue {
        pointer: pointer.into(),
        detail: detail.into(),
    }
}

/// The issues found so far, at most as many as a problem shows (`problem::MAX_ERRORS`): the rest
/// would be built only to be dropped.
#[derive(Default)]
struct Issues(Vec<Issue>);

impl Issues {
    fn push(&mut self, i: Issue) {
        if !self.full() {
            self.0.push(i);
        }
    }

    fn full(&self) -> bool {
        self.0.len() >= crate::problem::MAX_ERRORS
    }
}

/// A checked `POST /v1/webhooks` body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    pub url: String,
    /// Deduplicated, in the order given.
    pub events: Vec<String>,
}

/// Checks the body's shape and the URL (DNS included, among `partner`'s share of `lookups`);
/// `known` is the event type vocabulary.
pub async fn parse(
    body: &Value,
    policy: &UrlPolicy,
    lookups: &Lookups,
    partner: &str,
    known: &[&str],
) -> Result<NewSubscription, Vec<Issue>> {
    let mut issues = Issues::default();
    let Some(obj) = body.as_object() else {
        return Err(vec![issue(
            "",
            "must be a JSON object with `url` and `events`",
        )]);
    };
    for k in obj.keys().filter(|k| *k != "url" && *k != "events") {
        if issues.full() {
            // Nothing more would be shown; and no DNS lookup for a body already refused.
            return Err(issues.0);
        }
        issues.push(issue(
            format!("/{}", escape(k)),
            "is not a field of a subscription (allowed: url, events)",
        ));
    }
    let url = match obj.get("url") {
        None | Some(Value::Null) => {
            issues.push(issue("/url", "is required"));
            None
        }
        // Stored as serialized: the form `check` judged (length included).
        Some(Value::String(u)) => match policy.check(u, lookups, partner).await {
            Ok(url) => Some(url.to_string()),
            Err(e) => {
                issues.push(issue("/url", e));
                None
            }
        },
        Some(_) => {
            issues.push(issue("/url", "must be a string"));
            None
        }
    };
    let mut events: Vec<String> = Vec::new();
    match obj.get("events") {
        None | Some(Value::Null) => issues.push(issue("/events", "is required")),
        Some(Value::Array(list)) if list.is_empty() => {
            issues.push(issue("/events", "must name at least one event type"))
        }
        Some(Value::Array(list)) if list.len() > MAX_EVENTS => issues.push(issue(
            "/events",
            format!(
                "must have at most {MAX_EVENTS} entries (this one has {})",
                list.len()
            ),
        )),
        Some(Value::Array(list)) => {
            // The known types' text: built at the first unknown entry, shared by the rest.
            let mut unknown: Option<String> = None;
            for (i, e) in list.iter().enumerate() {
                match e.as_str() {
                    Some(t) if known.contains(&t) => {
                        if !events.iter().any(|x| x == t) {
                            events.push(t.to_string());
                        }
                    }
                    Some(_) => {
                        let detail = unknown.get_or_insert_with(|| {
                            format!("is not an event type (known: {})", known.join(", "))
                        });
                        issues.push(issue(format!("/events/{i}"), detail.clone()))
                    }
                    None => issues.push(issue(format!("/events/{i}"), "must be a string")),
                }
                if issues.full() {
                    break;
                }
            }
        }
        Some(_) => issues.push(issue("/events", "must be an array of event types")),
    }
    match (issues.0.is_empty(), url) {
        (true, Some(url)) => Ok(NewSubscription { url, events }),
        _ => Err(issues.0),
    }
}

/// RFC 6901 escaping of one pointer segment.
fn escape(s: &str) -> String {
    s.chars()
        .take(64)
        .collect::<String>()
        .replace('~', "~0")
        .replace('/', "~1")
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Deliveries are attempted.
    Active,
    /// A delivery spent its retry schedule: nothing is attempted until the subscription is
    /// re-enabled (`POST /v1/webhooks/{id}/enable`); events keep being queued meanwhile.
    Failing,
}

/// A subscription as partners read it (the secret is never shown again).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0b5f3b8e-3c1e-4a55-9d0c-2f7d1f0a9c11", "url": "https://ats.example.com/hooks/hr",
    "events": ["recruiting_request.status_changed"], "status": "active",
    "created_at": "2026-11-29T10:00:00Z", "failing_since": null, "previous_secret_expires_at": null
}))]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub status: Status,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// When the subscription became `failing` (RFC 3339 UTC), else null.
    pub failing_since: Option<String>,
    /// After a secret rotation: until when deliveries are still signed with the replaced secret
    /// too (RFC 3339 UTC); null when no replaced secret signs any more.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_secret_expires_at: Option<String>,
}

/// The answer to `POST /v1/webhooks`: the subscription and, this once, its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0b5f3b8e-3c1e-4a55-9d0c-2f7d1f0a9c11", "url": "https://ats.example.com/hooks/hr",
    "events": ["recruiting_request.status_changed"], "status": "active",
    "created_at": "2026-11-29T10:00:00Z", "failing_since": null, "previous_secret_expires_at": null,
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwJ0ZmXRH9Tz8="
}))]
pub struct CreatedSubscription {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// `whsec_` + base64 of 32 random bytes: the key of every delivery's `webhook-signature`
    /// (HMAC-SHA256 with the base64-decoded bytes). Shown only in this answer; store it.
    pub secret: String,
}

/// The answer to `POST /v1/webhooks/{id}/rotate-secret`: the subscription and, this once, its new
/// secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0b5f3b8e-3c1e-4a55-9d0c-2f7d1f0a9c11", "url": "https://ats.example.com/hooks/hr",
    "events": ["recruiting_request.status_changed"], "status": "active",
    "created_at": "2026-11-29T10:00:00Z", "failing_since": null,
    "previous_secret_expires_at": "2026-11-30T10:00:00.000Z",
    "secret": "whsec_q3Jb0TQ9cXk1Vn2M8hUo7rW4sYzA6dEfGiKlNpRtUvw="
}))]
pub struct RotatedSubscription {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// The new `whsec_` secret: it signs every delivery from now on, first in
    /// `webhook-signature`. Shown only in this answer; store it.
    pub secret: String,
}

/// Unix milliseconds → RFC 3339 UTC (seconds).
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

impl From<&SubscriptionRow> for Subscription {
    fn from(r: &SubscriptionRow) -> Self {
        Subscription {
            id: r.id.clone(),
            url: r.url.clone(),
            events: r.events.clone(),
            status: if r.failing {
                Status::Failing
            } else {
                Status::Active
            },
            created_at: rfc3339(r.created_at),
            failing_since: r.failing_since.map(rfc3339),
            // Only while it still signs: an expired one is as good as none.
            previous_secret_expires_at: r
                .previous_at(super::now_ms())
                .map(|p| rfc3339(p.expires_at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KNOWN: &[&str] = &[
        "recruiting_request.created",
        "recruiting_request.status_changed",
    ];
    const SANDBOX: UrlPolicy = UrlPolicy {
        allow_private: true,
    };
    const PROD: UrlPolicy = UrlPolicy {
        allow_private: false,
    };

    #[tokio::test]
    async fn every_problem_has_its_pointer() {
        let errs = parse(
            &json!({"url": 5, "events": ["recruiting_request.created", "nope", 3], "secret": "x"}),
            &SANDBOX,
            &Lookups::default(),
            "p",
            KNOWN,
        )
        .await
        .expect_err("invalid");
        let pointers: Vec<&str> = errs.iter().map(|i| i.pointer.as_str()).collect();
        assert_eq!(pointers, ["/secret", "/url", "/events/1", "/events/2"]);
        let errs = parse(&json!({}), &SANDBOX, &Lookups::default(), "p", KNOWN)
            .await
            .expect_err("empty");
        assert_eq!(errs.len(), 2);
        let errs = parse(
            &json!({"url": "http://127.0.0.1:9/x", "events": []}),
            &PROD,
            &Lookups::default(),
            "p",
            KNOWN,
        )
        .await
        .expect_err("prod");
        assert_eq!(errs[0].pointer, "/url");
        assert_eq!(errs[1].pointer, "/events");
    }

    #[tokio::test]
    async fn huge_bodies_make_a_bounded_number_of_issues() {
        use crate::problem::MAX_ERRORS;
        let started = std::time::Instant::now();
        let url = "http://127.0.0.1:9/x";
        // 10,000 invalid entries: one issue for the list, none per entry.
        let many: Vec<Value> = (0..10_000).map(|i| json!(format!("nope.{i}"))).collect();
        let errs = parse(
            &json!({"url": url, "events": many}),
            &SANDBOX,
            &Lookups::default(),
            "p",
            KNOWN,
        )
        .await
        .expect_err("too many");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].pointer, "/events");
        assert!(errs[0].detail.contains(&MAX_EVENTS.to_string()), "{errs:?}");
        // At the cap, every entry bad: at most what a problem shows.
        let at_cap: Vec<Value> = (0..MAX_EVENTS)
            .map(|i| json!(format!("nope.{i}")))
            .collect();
        let errs = parse(
            &json!({"url": url, "events": at_cap}),
            &SANDBOX,
            &Lookups::default(),
            "p",
            KNOWN,
        )
        .await
        .expect_err("unknown");
        assert_eq!(errs.len(), MAX_EVENTS.min(MAX_ERRORS));
        assert!(errs.iter().all(|e| e.detail == errs[0].detail));
        // 10,000 unknown fields: no more than a problem shows.
        let mut body = serde_json::Map::new();
        for i in 0..10_000 {
            body.insert(format!("k{i}"), json!(i));
        }
        body.insert("url".into(), json!(url));
        body.insert("events".into(), json!(["nope"]));
        let errs = parse(
            &Value::Object(body),
            &SANDBOX,
            &Lookups::default(),
            "p",
            KNOWN,
        )
        .await
        .expect_err("unknown fields");
        assert_eq!(errs.len(), MAX_ERRORS);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        // Repeats count toward the cap; a list right at it is accepted.
        let repeated = vec![json!("recruiting_request.created"); MAX_EVENTS];
        let ok = parse(
            &json!({"url": url, "events": repeated}),
            &SANDBOX,
            &Lookups::default(),
            "p",
            KNOWN,
        )
        .await
        .expect("at the cap");
        assert_eq!(ok.events, ["recruiting_request.created"]);
    }

    #[tokio::test]
    async fn accepts_and_deduplicates() {
        let ok = parse(
            &json!({"url": "http://127.0.0.1:9/x", "events": ["recruiting_request.created", "recruiting_request.created"]}),
            &SANDBOX,
            &Lookups::default(),
            "p",
            KNOWN,
        )
        .await
        .expect("valid");
        assert_eq!(ok.events, ["recruiting_request.created"]);
        assert_eq!(ok.url, "http://127.0.0.1:9/x");
    }
}
