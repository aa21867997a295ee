//! schema.org `JobPosting` for a job page (Google's required properties: `title`, `description`,
//! `datePosted`, `hiringOrganization`, `jobLocation` with an address; and the recommended ones HR
//! has), written into a `<script type="application/ld+json">`.

use chrono::SecondsFormat;
use serde_json::{json, Map, Value};

use super::snapshot::Entry;
use super::Board;

pub fn job_posting(board: &Board, base: &str, e: &Entry) -> Value {
    let j = &e.job;
    let org = &board.config.hiring_organization;
    let mut hiring = Map::new();
    hiring.insert("@type".into(), json!("Organization"));
    hiring.insert("name".into(), json!(org.name));
    if let Some(u) = &org.url {
        hiring.insert("sameAs".into(), json!(u));
    }
    if let Some(u) = &org.logo_url {
        hiring.insert("logo".into(), json!(u));
    }
    let place = j.location.clone().unwrap_or_default();
    let mut address = Map::new();
    address.insert("@type".into(), json!("PostalAddress"));
    for (k, v) in [
        ("streetAddress", &place.street),
        ("addressLocality", &place.city),
        ("addressRegion", &place.region),
        ("postalCode", &place.postal_code),
        ("addressCountry", &place.country),
    ] {
        if let Some(v) = v {
            address.insert(k.into(), json!(v));
        }
    }
    if address.len() == 1 {
        // No postal parts: the location's name is the best address HR gave.
        address.insert(
            "addressLocality".into(),
            json!(place.name.clone().unwrap_or_default()),
        );
    }
    let title = j.title.clone().unwrap_or_default();
    let mut m = Map::new();
    m.insert("@context".into(), json!("https://schema.org/"));
    m.insert("@type".into(), json!("JobPosting"));
    m.insert("title".into(), json!(title));
    m.insert(
        "description".into(),
        json!(j
            .description_html
            .clone()
            .unwrap_or_else(|| super::html::esc(&title))),
    );
    m.insert(
        "datePosted".into(),
        json!(e.posted_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
    );
    m.insert("hiringOrganization".into(), Value::Object(hiring));
    m.insert(
        "jobLocation".into(),
        json!({"@type": "Place", "address": Value::Object(address)}),
    );
    if let Some(t) = j.employment_type {
        m.insert("employmentType".into(), json!(t.schema_org()));
    }
    if let Some(n) = &j.number {
        m.insert(
            "identifier".into(),
            json!({"@type": "PropertyValue", "name": org.name, "value": n}),
        );
    }
    m.insert("directApply".into(), json!(false));
    m.insert("url".into(), json!(board.job_url(base, j)));
    m.insert("totalJobOpenings".into(), json!(j.openings));
    if let (true, Some(p)) = (board.config.pay_transparency, j.pay) {
        let mut value = Map::new();
        value.insert("@type".into(), json!("QuantitativeValue"));
        if let Some(v) = p.low {
            value.insert("minValue".into(), json!(v));
        }
        if let Some(v) = p.high {
            value.insert("maxValue".into(), json!(v));
        }
        value.insert("unitText".into(), json!("YEAR"));
        m.insert(
            "baseSalary".into(),
            json!({"@type": "MonetaryAmount", "currency": board.config.currency, "value": Value::Object(value)}),
        );
    }
    if let Some(s) = &j.estimated_start {
        m.insert("jobStartDate".into(), json!(s));
    }
    Value::Object(m)
}

/// JSON safe inside `<script>`: `<`, `>` and `&` as `\u` escapes (valid JSON, no `</script>`).
pub fn script_text(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::boards::fields::project;
    use crate::resolve::lang::Lang;

    #[test]
    fn text_from_hr_cannot_close_the_script_or_break_the_page() {
        let data = json!({
            "id": "000028a1-0000-0000-0000-000150000000",
            "number": "USMF-1",
            "status": {"key": "active"},
            "title": {"name": "</script><script>alert(1)</script>"},
            "external_description": "<p>a & b</p>",
        });
        let job = project(&data, "usmf").expect("job");
        let board = crate::boards::Board::new(crate::boards::config::demo().remove(0));
        let e = Arc::new(Entry {
            job,
            posted_at: Utc::now(),
            updated_at: Utc::now(),
        });
        let ld = job_posting(&board, "https://jobs.example.com", &e);
        let text = script_text(&ld);
        assert!(
            !text.contains('<') && !text.contains('>') && !text.contains('&'),
            "{text}"
        );
        let back: Value = serde_json::from_str(&text).expect("still JSON");
        assert_eq!(back, ld);
        let page =
            crate::boards::html::job_page(&board, "https://jobs.example.com", Lang::EnUs, &e);
        assert_eq!(
            page.matches("<script").count(),
            1,
            "only the JSON-LD script"
        );
        assert!(
            page.contains("&lt;/script&gt;"),
            "the title is escaped in the page"
        );
    }
}
