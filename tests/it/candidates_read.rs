//! `GET /v1/candidates` and `/v1/candidates/{id}` over real HTTP against the seeded emulator:
//! filters, paging, the person's child collections, the company limit, the PII rule, labels.

use std::collections::BTreeSet;

use crate::common::{spawn_app, TestApp};
use ats_gateway::model::pii;
use serde_json::Value;

/// `person.birth_date` → the value at that path, or `None` when a key on the way is absent.
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, key| cur.get(key))
}

/// Every candidate visible to `token` for `query`, following cursors.
async fn all_pages(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = format!("/v1/candidates?page_size=7{query}");
    loop {
        let (status, body) = app.get_json(&path, token, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        out.extend(body["data"].as_array().cloned().unwrap_or_default());
        match body["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(body["has_more"], true);
                path = format!("/v1/candidates?page_size=7{query}&cursor={c}");
            }
            None => {
                assert_eq!(body["has_more"], false);
                return out;
            }
        }
    }
}

fn company(c: &Value) -> &str {
    c["company"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn list_filters_paging_and_company_limit() {
    let app = spawn_app().await;
    let acme = app.partner_token("acme-ats", None).await;

    let all = all_pages(&app, &acme, "").await;
    assert!(all.len() > 10, "seed has candidates for usmf and gbsi");
    let ids: BTreeSet<&str> = all.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids.len(), all.len(), "no candidate twice across pages");
    let numbers: Vec<&str> = all
        .iter()
        .filter_map(|c| c["candidate_number"].as_str())
        .collect();
    let mut sorted = numbers.clone();
    sorted.sort();
    assert_eq!(numbers, sorted, "ordered by candidate number");
    for c in &all {
        assert!(["usmf", "gbsi"].contains(&company(c)), "company limit: {c}");
        assert!(c["person"]["first_name"].is_string(), "name in list: {c}");
        assert!(c["status"]["key"].is_string());
        for child in ["education", "skills", "addresses", "identification_numbers"] {
            assert!(c["person"].get(child).is_none(), "no children in the list");
        }
        assert!(c.get("mshr_candidateid").is_none());
    }

    let (s, body) = app
        .get_json("/v1/candidates?status=hired&page_size=200", &acme, None)
        .await;
    assert_eq!(s, 200);
    let hired = body["data"].as_array().cloned().unwrap_or_default();
    assert!(!hired.is_empty());
    assert!(hired.iter().all(|c| c["status"]["key"] == "hired"));

    let two = all_pages(&app, &acme, "&status=not_processed,hired").await;
    assert!(two.len() > hired.len());
    assert!(two
        .iter()
        .all(|c| ["not_processed", "hired"].contains(&c["status"]["key"].as_str().unwrap_or(""))));

    let gb = all_pages(&app, &acme, "&company=gbsi").await;
    assert!(!gb.is_empty());
    assert!(gb.iter().all(|c| company(c) == "gbsi"));
    // Another company's filter cannot widen the limit.
    let (s, body) = app
        .get_json("/v1/candidates?company=nomf", &acme, None)
        .await;
    assert_eq!(s, 403, "{body}");
    assert_eq!(body["errors"][0]["pointer"], "#/company", "{body}");

    let with_request = all
        .iter()
        .find(|c| c["recruiting_request"].is_object())
        .expect("a candidate with a request");
    let rr = with_request["recruiting_request"]["id"]
        .as_str()
        .expect("request id");
    assert!(with_request["recruiting_request"]["code"].is_string());
    assert!(with_request["recruiting_request"]["name"].is_string());
    let by_request = all_pages(&app, &acme, &format!("&recruiting_request={rr}")).await;
    assert!(!by_request.is_empty());
    assert!(by_request
        .iter()
        .all(|c| c["recruiting_request"]["id"] == rr));

    for bad in [
        "status=hiredd",
        "recruiting_request=not%27a-number",
        "page_size=0",
        "page_size=201",
        "sort=name",
        "status=hired&status=dismissed",
        "cursor=garbage",
    ] {
        let (s, body) = app
            .get_json(&format!("/v1/candidates?{bad}"), &acme, None)
            .await;
        assert_eq!(s, 400, "{bad}: {body}");
    }
}

#[tokio::test]
async fn detail_has_the_person_and_all_children_and_every_pii_field_for_acme() {
    let app = spawn_app().await;
    let acme = app.partner_token("acme-ats", None).await;
    let all = all_pages(&app, &acme, "&company=usmf").await;
    // A US candidate with a request: US rows carry veteran data too.
    let pick = all
        .iter()
        .find(|c| c["recruiting_request"].is_object())
        .expect("usmf candidate");
    let id = pick["id"].as_str().expect("id");
    let (s, c) = app
        .get_json(&format!("/v1/candidates/{id}"), &acme, None)
        .await;
    assert_eq!(s, 200, "{c}");

    assert_eq!(c["id"], id);
    assert!(c["candidate_number"]
        .as_str()
        .is_some_and(|n| n.starts_with("CAND-")));
    assert!(c["status"]["key"].is_string() && c["status"]["code"].is_i64());
    assert_eq!(c["company"]["code"], "usmf");
    assert!(c["company"]["name"].is_string());
    assert!(c["recruiting_request"]["code"].is_string());
    assert!(c["position"]["id"].is_string());
    assert!(c["availability_date"]
        .as_str()
        .is_some_and(|d| d.len() == 10));
    assert!(c["willing_to_relocate"].is_boolean());
    assert!(c.get("comments").is_some() && c.get("do_not_hire_reason").is_some());

    let p = &c["person"];
    for key in ["first_name", "last_name", "party_number", "name"] {
        assert!(p[key].is_string(), "person.{key}: {p}");
    }
    for key in ["middle_name", "known_as", "language"] {
        assert!(p.get(key).is_some(), "person.{key} present (maybe null)");
    }
    for child in [
        "education",
        "experience",
        "addresses",
        "contacts",
        "skills",
        "certificates",
        "screenings",
        "identification_numbers",
    ] {
        let n = p[child].as_array().map(Vec::len).unwrap_or(0);
        assert!(n > 0, "person.{child} has rows: {p}");
    }
    assert!(p["skills"][0]["skill"]["code"].is_string());
    assert!(p["skills"][0]["skill"]["name"].is_string());
    assert!(p["education"][0]["discipline"]["code"].is_string());
    assert!(p["contacts"][0]["type"]["key"].is_string());
    assert!(p["screenings"][0]["status"]["key"].is_string());
    assert!(p["addresses"][0]["roles"].is_array());
    assert!(p["identification_numbers"][0]["number"].is_string());

    // Every PII field is present for a partner with `pii:read`.
    for path in pii::FIELDS {
        assert!(at(&c, path).is_some(), "{path} present for acme-ats: {c}");
    }
    assert!(p["gender"]["key"].is_string());
    assert!(p["birth_date"].as_str().is_some_and(|d| d.len() == 10));
    assert!(p["marital_status"]["key"].is_string());
    assert!(p["citizenship_country"].is_string());
    assert!(p["veteran_status"]["code"].is_string());
    assert!(p["disabled_veteran"].is_boolean());
    assert!(p["primary_email"].as_str().is_some_and(|e| e.contains('@')));
    assert!(p["primary_phone"].is_string());

    // And in the list, the scalar PII fields too.
    for path in pii::FIELDS.iter().filter(|p| {
        ![
            "person.addresses",
            "person.contacts",
            "person.identification_numbers",
        ]
        .contains(p)
    }) {
        assert!(at(pick, path).is_some(), "{path} in list for acme-ats");
    }

    let (s, _) = app
        .get_json(
            &format!("/v1/candidates/{}", uuid::Uuid::new_v4()),
            &acme,
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .get_json("/v1/candidates/CAND%27000001", &acme, None)
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn pii_is_omitted_for_a_partner_without_pii_read() {
    let app = spawn_app().await;
    let nordic = app.partner_token("nordic-hr", None).await;
    let all = all_pages(&app, &nordic, "").await;
    assert!(!all.is_empty(), "seed has nomf candidates");
    for c in &all {
        assert_eq!(company(c), "nomf", "company limit");
        assert!(c["person"]["first_name"].is_string());
        for path in pii::FIELDS {
            assert!(at(c, path).is_none(), "{path} omitted in list: {c}");
        }
    }
    let id = all[0]["id"].as_str().expect("id");
    let (s, c) = app
        .get_json(&format!("/v1/candidates/{id}"), &nordic, None)
        .await;
    assert_eq!(s, 200, "{c}");
    for path in pii::FIELDS {
        assert!(at(&c, path).is_none(), "{path} omitted in detail: {c}");
    }
    let p = &c["person"];
    assert!(p["last_name"].is_string());
    for child in [
        "education",
        "experience",
        "skills",
        "certificates",
        "screenings",
    ] {
        assert!(
            p[child].as_array().is_some_and(|a| !a.is_empty()),
            "non-PII person.{child} kept"
        );
    }
    assert!(c["status"]["key"].is_string());
}

#[tokio::test]
async fn scope_and_company_limits() {
    let app = spawn_app().await;
    let acme = app.partner_token("acme-ats", None).await;
    let nordic = app.partner_token("nordic-hr", None).await;
    let tiny = app.partner_token("tiny-board", None).await;
    let acme_ref_only = app.partner_token("acme-ats", Some("reference:read")).await;

    let (_, us) = app
        .get_json("/v1/candidates?company=usmf&page_size=1", &acme, None)
        .await;
    let us_id = us["data"][0]["id"]
        .as_str()
        .expect("usmf candidate")
        .to_string();
    let (_, no) = app
        .get_json("/v1/candidates?page_size=1", &nordic, None)
        .await;
    let no_id = no["data"][0]["id"]
        .as_str()
        .expect("nomf candidate")
        .to_string();

    for token in [&tiny, &acme_ref_only] {
        let (s, body) = app.get_json("/v1/candidates", token, None).await;
        assert_eq!(s, 403, "{body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap_or("")
                .contains("candidates:read")
                || body.to_string().contains("candidates:read")
        );
        let (s, _) = app
            .get_json(&format!("/v1/candidates/{us_id}"), token, None)
            .await;
        assert_eq!(s, 403);
    }
    // Another company's candidate is a 404, not a 403: its existence is not disclosed.
    let (s, _) = app
        .get_json(&format!("/v1/candidates/{us_id}"), &nordic, None)
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .get_json(&format!("/v1/candidates/{no_id}"), &acme, None)
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .get_json(&format!("/v1/candidates/{no_id}"), &nordic, None)
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .get_json(
            "/v1/candidates",
            &app.partner_token("acme-ats", Some("candidates:read")).await,
            None,
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn labels_follow_accept_language() {
    let app = spawn_app().await;
    let acme = app.partner_token("acme-ats", None).await;
    let (s, body) = app
        .get_json(
            "/v1/candidates?status=not_processed&page_size=5",
            &acme,
            Some("nb-NO"),
        )
        .await;
    assert_eq!(s, 200);
    let first = &body["data"][0];
    assert_eq!(first["status"]["label"], "Ikke behandlet");
    assert_eq!(first["status"]["key"], "not_processed");
    let id = first["id"].as_str().expect("id");
    let resp = app
        .get(&format!("/v1/candidates/{id}"), &acme, Some("nb-NO"))
        .await;
    assert_eq!(
        resp.headers()
            .get("content-language")
            .and_then(|v| v.to_str().ok()),
        Some("nb-NO")
    );
    assert!(resp.headers().get("etag").is_some());
    let c: Value = resp.json().await.expect("json");
    assert!(
        ["Mann", "Kvinne"].contains(&c["person"]["gender"]["label"].as_str().unwrap_or("")),
        "{c}"
    );
    let (_, en) = app
        .get_json(&format!("/v1/candidates/{id}"), &acme, None)
        .await;
    assert_eq!(en["status"]["label"], "Not processed");
}
