//! What the operator API shows of a partner: its profile, where it comes from, and each secret's
//! id, created, expires and last used (never a secret or a hash).

use serde_json::{json, Value};

use crate::auth::registry::{ManagedBy, Partner, ALL_COMPANIES};
use crate::store::partners::{StoredPartner, UsageRow};

pub fn time(unix_secs: Option<i64>) -> Value {
    unix_secs
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or(Value::Null, |t| {
            Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        })
}

/// A partner in force (`live`), with the store's record when it is an API partner.
pub fn partner(live: &Partner, stored: Option<&StoredPartner>) -> Value {
    let now = chrono::Utc::now().timestamp();
    let companies: Vec<&str> = if live.companies.is_empty() {
        vec![ALL_COMPANIES]
    } else {
        live.companies.iter().map(String::as_str).collect()
    };
    let secrets: Vec<Value> = match stored {
        Some(s) => s
            .secrets
            .iter()
            .map(|x| {
                json!({
                    "id": x.id,
                    "created_at": time(Some(x.created_at)),
                    "expires_at": time(x.expires_at),
                    "last_used_at": time(x.last_used_at),
                    "live": x.live_at(now),
                })
            })
            .collect(),
        // Config secrets have no id or dates: only how many there are.
        None => live
            .secrets
            .iter()
            .map(|_| json!({"id": null, "created_at": null, "expires_at": null, "last_used_at": null, "live": true}))
            .collect(),
    };
    json!({
        "id": live.id,
        "name": live.display_name,
        "contact": live.contact,
        "client_id": live.client_id,
        "scopes": live.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "companies": companies,
        "rate_limit": {"per_second": live.rate_limit.per_second, "burst": live.rate_limit.burst},
        "cors_origins": live.cors_origins,
        "disabled": live.disabled,
        "managed_by": live.managed_by.as_str(),
        "created_at": time(stored.map(|s| s.doc.created_at)),
        "secrets": secrets,
    })
}

pub fn config_managed(id: &str) -> crate::problem::ApiError {
    crate::problem::ApiError::Conflict(format!(
        "partner `{id}` comes from the configuration file (auth.partners or auth.partners_file, managed_by: config); change it there and reload"
    ))
}

pub fn is_config(p: &Partner) -> bool {
    p.managed_by == ManagedBy::Config
}

/// Hourly rows → the usage answer: per hour requests, errors by status, 429s, upstream calls.
pub fn usage(partner: &str, from: i64, rows: &[UsageRow], last_seen: Option<i64>) -> Value {
    let mut hours: Vec<Value> = Vec::new();
    let (mut total, mut errors, mut throttled, mut calls) = (0u64, 0u64, 0u64, 0u64);
    let mut i = 0;
    while i < rows.len() {
        let hour = rows[i].hour;
        let mut h = (0u64, serde_json::Map::new(), 0u64, 0u64);
        while i < rows.len() && rows[i].hour == hour {
            let r = &rows[i];
            h.0 += r.requests;
            if r.status >= 400 {
                h.1.insert(r.status.to_string(), json!(r.requests));
                errors += r.requests;
            }
            if r.status == 429 {
                h.2 += r.requests;
            }
            h.3 += r.upstream_calls;
            i += 1;
        }
        total += h.0;
        throttled += h.2;
        calls += h.3;
        hours.push(json!({
            "hour": time(Some(hour)),
            "requests": h.0,
            "errors_by_status": h.1,
            "throttled": h.2,
            "upstream_calls": h.3,
        }));
    }
    json!({
        "partner": partner,
        "from": time(Some(from)),
        "last_seen": time(last_seen),
        "totals": {"requests": total, "errors": errors, "throttled": throttled, "upstream_calls": calls},
        "hours": hours,
    })
}
