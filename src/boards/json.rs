//! The JSON a board answers: `GET /boards/{board}/jobs` and `GET /boards/{board}/jobs/{id}`.

use chrono::SecondsFormat;
use serde_json::{json, Map, Value};

use super::fields::Place;
use super::snapshot::Entry;
use super::Board;
use crate::resolve::lang::Lang;

pub fn place(p: &Place) -> Value {
    json!({
        "name": p.name,
        "street": p.street,
        "city": p.city,
        "region": p.region,
        "postal_code": p.postal_code,
        "country": p.country,
    })
}

/// One job: the facts always; `content` adds the description, skills and education; the
/// compensation range only on boards with pay transparency.
pub fn job(board: &Board, base: &str, e: &Entry, content: bool, lang: Lang) -> Value {
    let j = &e.job;
    let mut m = Map::new();
    m.insert("id".into(), json!(j.id));
    m.insert("number".into(), json!(j.number));
    m.insert("title".into(), json!(j.title));
    m.insert("job".into(), json!(j.job));
    m.insert("department".into(), json!(j.department));
    m.insert(
        "location".into(),
        j.location.as_ref().map_or(Value::Null, place),
    );
    m.insert(
        "employment_type".into(),
        json!(j.employment_type.map(|t| t.schema_org())),
    );
    // The one label a job carries, in the caller's language (as the partner API's labels).
    m.insert(
        "employment_type_label".into(),
        json!(j
            .employment_type
            .map(|t| super::html::employment_label(t, lang))),
    );
    m.insert("openings".into(), json!(j.openings));
    m.insert("estimated_start".into(), json!(j.estimated_start));
    m.insert(
        "posted_at".into(),
        json!(e.posted_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
    );
    m.insert(
        "updated_at".into(),
        json!(e.updated_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
    );
    m.insert("apply_url".into(), json!(board.apply_url(j)));
    m.insert("url".into(), json!(board.job_url(base, j)));
    if board.config.pay_transparency {
        m.insert(
            "compensation".into(),
            j.pay.map_or(
                Value::Null,
                |p| json!({"currency": board.config.currency, "min": p.low, "max": p.high}),
            ),
        );
    }
    if content {
        m.insert("content".into(), json!(j.description_html));
        m.insert("skills".into(), json!(j.skills));
        m.insert("education".into(), json!(j.education));
    }
    Value::Object(m)
}

pub fn list(
    board: &Board,
    base: &str,
    jobs: &[std::sync::Arc<Entry>],
    content: bool,
    lang: Lang,
) -> Value {
    json!({
        "board": {"id": board.config.id, "name": board.config.name, "url": board.url(base)},
        "data": jobs.iter().map(|e| job(board, base, e, content, lang)).collect::<Vec<_>>(),
        "total": jobs.len(),
    })
}
