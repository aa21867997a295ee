//! The hire's input and its answer, over real HTTP against the emulator (issues 18 and 19): an
//! internal hire names only a person of the partner's companies and nothing else about them, the
//! answer and its replays show what GET shows with the partner's rights now, every problem of a
//! body comes in one 422, and the body is bounded (collection caps, dates, characters, the
//! request's status).

use crate::common::{spawn_app, Emu, TestApp};
use serde_json::{json, Value};

const CANDIDATES: &str = "mshr_hcmcandidatetohireentities";
const PERSONS: &str = "mshr_dirpersonentities";
const REQUESTS: &str = "mshr_hcmrecruitingrequestentities";
/// `mshr_hcmrecruitingrequeststatus` values (the emulator's option base is the documented one).
const ACTIVE: i64 = 200_000_005;
const CANCELED: i64 = 200_000_003;
const CLOSED: i64 = 200_000_006;
/// acme-ats without `pii:read`.
const NO_PII: &str = "candidates:read candidates:write";

struct Reply {
    status: u16,
    replayed: bool,
    body: Value,
}

async fn post(app: &TestApp, token: &str, key: &str, body: &Value) -> Reply {
    let resp = app
        .http
        .post(format!("{}/v1/candidates", app.url))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("post");
    let status = resp.status().as_u16();
    let replayed = resp
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    Reply {
        status,
        replayed,
        body: resp.json().await.unwrap_or(Value::Null),
    }
}

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn pointers(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["pointer"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// One column of the first row matching `filter`.
async fn first(emu: &Emu, dv: &str, set: &str, col: &str, filter: &str) -> String {
    let (status, v) = emu
        .get_json(
            &format!("{set}?$select={col}&$top=1&$filter={filter}"),
            dv,
            None,
        )
        .await;
    assert_eq!(status, 200, "{set}: {v}");
    v["value"][0][col]
        .as_str()
        .unwrap_or_else(|| panic!("no {set} row with {filter}"))
        .to_string()
}

async fn count(emu: &Emu, dv: &str, set: &str) -> u64 {
    let resp = emu.get(&format!("{set}/$count"), dv, None).await;
    assert_eq!(resp.status(), 200, "{set}/$count");
    resp.text().await.expect("count").trim().parse().expect("n")
}

/// An active usmf request (acme-ats's company).
async fn active_request(emu: &Emu, dv: &str) -> String {
    first(
        emu,
        dv,
        REQUESTS,
        "mshr_recruitingrequestid",
        &format!("mshr_dataareaid eq 'usmf' and mshr_status eq {ACTIVE}"),
    )
    .await
}

/// The party number of a person who is a candidate in `company`.
async fn candidate_party(emu: &Emu, dv: &str, company: &str) -> String {
    first(
        emu,
        dv,
        CANDIDATES,
        "mshr_partynumber",
        &format!("mshr_dataareaid eq '{company}' and mshr_partynumber ne null"),
    )
    .await
}

fn external(request: &str) -> Value {
    json!({
        "recruiting_request": request, "status": "hired", "availability_date": "2027-02-01",
        "person": {
            "first_name": "Mira", "last_name": "Holt", "birth_date": "1991-05-06",
            "contacts": [{"type": "email_address", "locator": "mira.holt@example.com", "is_primary": true}],
            "identification_numbers": [{"identification_type": "SSN", "number": "987-65-4321"}]
        }
    })
}

#[tokio::test]
async fn an_internal_hire_names_only_a_person_of_the_partners_companies() {
    let app = spawn_app().await;
    let dv = app.emu.token().await;
    let acme = app.partner_token("acme-ats", None).await;
    let request = active_request(&app.emu, &dv).await;
    let nordic_person = candidate_party(&app.emu, &dv, "nomf").await;
    let before = count(&app.emu, &dv, CANDIDATES).await;

    // Another company's person and a person who does not exist get the same answer.
    let mut details = Vec::new();
    for party in [nordic_person.as_str(), "HR999999999"] {
        let body = json!({"recruiting_request": request, "person": {"party_number": party}});
        let r = post(&app, &acme, &key(), &body).await;
        assert_eq!(r.status, 422, "{party}: {}", r.body);
        assert_eq!(
            pointers(&r.body),
            vec!["/person/party_number"],
            "{}",
            r.body
        );
        details.push(
            r.body["errors"][0]["detail"]
                .as_str()
                .expect("detail")
                .replace(party, "…"),
        );
    }
    assert_eq!(details[0], details[1], "no existence oracle");
    assert_eq!(
        count(&app.emu, &dv, CANDIDATES).await,
        before,
        "nothing written"
    );

    // A person who is a candidate in one of acme's companies may be hired again.
    let own = candidate_party(&app.emu, &dv, "usmf").await;
    let body = json!({"recruiting_request": request, "person": {"party_number": own}});
    let r = post(&app, &acme, &key(), &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["person"]["party_number"], own.as_str());
}

#[tokio::test]
async fn an_internal_hire_names_the_person_and_nothing_else_and_answers_as_get() {
    let app = spawn_app().await;
    let dv = app.emu.token().await;
    let request = active_request(&app.emu, &dv).await;
    let own = candidate_party(&app.emu, &dv, "usmf").await;
    let acme = app.partner_token("acme-ats", None).await;
    let contacts_before = count(&app.emu, &dv, "mshr_dirpartycontactentities").await;
    let addresses_before = count(&app.emu, &dv, "mshr_hcmpersonaddressentities").await;

    let body = json!({"recruiting_request": request, "person": {"party_number": own,
        "first_name": "Renamed",
        "contacts": [{"type": "email_address", "locator": "attacker@example.com"}],
        "addresses": [{"roles": ["Home"], "street": "1 Elsewhere"}],
        "skills": [{"skill": "Rust", "rating_level": "5"}]}});
    let r = post(&app, &acme, &key(), &body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let mut got = pointers(&r.body);
    got.sort();
    assert_eq!(
        got,
        vec![
            "/person/addresses",
            "/person/contacts",
            "/person/first_name",
            "/person/skills"
        ],
        "{}",
        r.body
    );
    assert_eq!(
        count(&app.emu, &dv, "mshr_dirpartycontactentities").await,
        contacts_before
    );
    assert_eq!(
        count(&app.emu, &dv, "mshr_hcmpersonaddressentities").await,
        addresses_before
    );

    // Without pii:read the answer leaves the personal fields out, exactly as GET does.
    let no_pii = app.partner_token("acme-ats", Some(NO_PII)).await;
    let body = json!({"recruiting_request": request, "person": {"party_number": own}});
    let r = post(&app, &no_pii, &key(), &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    for hidden in ["birth_date", "contacts", "addresses", "primary_email"] {
        assert!(
            r.body["person"].get(hidden).is_none(),
            "{hidden}: {}",
            r.body
        );
    }
    let id = r.body["id"].as_str().expect("id");
    let (status, shown) = app
        .get_json(&format!("/v1/candidates/{id}"), &no_pii, None)
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(r.body, shown);
}

#[tokio::test]
async fn a_replay_shows_the_candidate_through_the_partners_current_rights() {
    let mut app = spawn_app().await;
    let dv = app.emu.token().await;
    let request = active_request(&app.emu, &dv).await;
    let acme = app.partner_token("acme-ats", None).await;
    let k = key();
    let body = external(&request);
    let first = post(&app, &acme, &k, &body).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["person"]["birth_date"], "1991-05-06");

    // The same partner, now without pii:read: the replay leaves personal data out.
    let no_pii = app.partner_token("acme-ats", Some(NO_PII)).await;
    let again = post(&app, &no_pii, &k, &body).await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert!(again.replayed);
    assert_eq!(again.body["id"], first.body["id"]);
    for hidden in ["birth_date", "identification_numbers", "contacts"] {
        assert!(
            again.body["person"].get(hidden).is_none(),
            "{hidden}: {}",
            again.body
        );
    }
    assert_eq!(again.body["person"]["first_name"], "Mira");

    // The partner lost usmf: the replay answers as GET would, 404.
    app.restart(|c| {
        for p in c.auth.partners.iter_mut().filter(|p| p.id == "acme-ats") {
            p.companies = vec!["gbsi".into()];
        }
    })
    .await;
    let acme = app.partner_token("acme-ats", None).await;
    let gone = post(&app, &acme, &k, &body).await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    assert!(gone.body.get("person").is_none(), "{}", gone.body);
    let id = first.body["id"].as_str().expect("id");
    let (status, _) = app
        .get_json(&format!("/v1/candidates/{id}"), &acme, None)
        .await;
    assert_eq!(status, 404, "as GET");
}

#[tokio::test]
async fn every_problem_of_a_hire_body_comes_in_one_answer() {
    let app = spawn_app().await;
    let dv = app.emu.token().await;
    let request = active_request(&app.emu, &dv).await;
    let acme = app.partner_token("acme-ats", None).await;
    // Unknown fields, a missing field, a format and codes, all in one body.
    let body = json!({"recruiting_request": request, "colour": "red", "status": "maybe",
        "person": {"first_name": "Ada", "gender": "dragon", "birth_date": "1990-02-30",
            "skills": [{"skill": "Alchemy", "rating_level": "4", "mood": "calm"}]}});
    let r = post(&app, &acme, &key(), &body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let mut got = pointers(&r.body);
    got.sort();
    assert_eq!(
        got,
        vec![
            "/colour",
            "/person/birth_date",
            "/person/gender",
            "/person/last_name",
            "/person/skills/0/mood",
            "/person/skills/0/skill",
            "/status",
        ],
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_new_person_needs_a_last_name() {
    let app = spawn_app().await;
    let dv = app.emu.token().await;
    let request = active_request(&app.emu, &dv).await;
    let acme = app.partner_token("acme-ats", None).await;
    let before = count(&app.emu, &dv, PERSONS).await;
    for last in [json!(null), json!("  ")] {
        let mut body = external(&request);
        body["person"]["last_name"] = last;
        let r = post(&app, &acme, &key(), &body).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(pointers(&r.body), vec!["/person/last_name"], "{}", r.body);
    }
    assert_eq!(count(&app.emu, &dv, PERSONS).await, before);
}

#[tokio::test]
async fn collections_past_their_cap_are_refused_before_any_write() {
    let app = spawn_app().await;
    let dv = app.emu.token().await;
    let request = active_request(&app.emu, &dv).await;
    let acme = app.partner_token("acme-ats", None).await;
    let before = count(&app.emu, &dv, PERSONS).await;
    let mut body = external(&request);
    body["person"]["contacts"] = json!(vec![
        json!({"type": "phone", "locator": "+1 555 0100"});
        2_000
    ]);
    body["person"]["skills"] = json!(vec![json!({"skill": "Rust", "rating_level": "5"}); 51]);
    let r = post(&app, &acme, &key(), &body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        pointers(&r.body),
        vec!["/person/skills/50", "/person/contacts/20"],
        "{}",
        r.body
    );
    let detail = r.body["errors"][1]["detail"].as_str().expect("detail");
    assert!(detail.contains("at most 20"), "{detail}");
    // At the caps only the (unknown) request is wrong.
    body["person"]["contacts"] =
        json!(vec![json!({"type": "phone", "locator": "+1 555 0100"}); 20]);
    body["person"]["skills"] = json!(vec![json!({"skill": "Rust", "rating_level": "5"}); 50]);
    body["recruiting_request"] = json!("USMF-999999");
    let r = post(&app, &acme, &key(), &body).await;
    assert_eq!(pointers(&r.body), vec!["/recruiting_request"], "{}", r.body);
    assert_eq!(
        count(&app.emu, &dv, PERSONS).await,
        before,
        "nothing written"
    );
}

#[tokio::test]
async fn text_with_hidden_characters_and_dates_out_of_range_are_refused() {
    let app = spawn_app().await;
    let dv = app.emu.token().await;
    let request = active_request(&app.emu, &dv).await;
    let acme = app.partner_token("acme-ats", None).await;
    let before = count(&app.emu, &dv, PERSONS).await;
    let mut body = external(&request);
    body["person"]["first_name"] = json!("Mira\u{0}");
    body["person"]["last_name"] = json!("Holt\u{202E}nimda");
    body["person"]["known_as"] = json!("Mi\u{200B}ra");
    body["person"]["birth_date"] = json!("0001-01-01");
    body["availability_date"] = json!("9999-12-31");
    body["comments"] = json!("Line one\nline two");
    body["person"]["contacts"][0]["description"] = json!("Work\u{2066}");
    let r = post(&app, &acme, &key(), &body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let mut got = pointers(&r.body);
    got.sort();
    assert_eq!(
        got,
        vec![
            "/availability_date",
            "/person/birth_date",
            "/person/contacts/0/description",
            "/person/first_name",
            "/person/known_as",
            "/person/last_name",
        ],
        "{} (a line break in free text is fine)",
        r.body
    );
    assert_eq!(count(&app.emu, &dv, PERSONS).await, before);
    // The bounds themselves are accepted.
    let mut body = external(&request);
    body["person"]["birth_date"] = json!("1900-01-01");
    body["availability_date"] = json!("2100-12-31");
    let r = post(&app, &acme, &key(), &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn no_hire_into_a_canceled_or_closed_request() {
    let app = spawn_app().await;
    let dv = app.emu.token().await;
    let acme = app.partner_token("acme-ats", None).await;
    let before = count(&app.emu, &dv, CANDIDATES).await;
    for status in [CANCELED, CLOSED] {
        let request = first(
            &app.emu,
            &dv,
            REQUESTS,
            "mshr_recruitingrequestid",
            &format!("mshr_dataareaid eq 'usmf' and mshr_status eq {status}"),
        )
        .await;
        let r = post(&app, &acme, &key(), &external(&request)).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(pointers(&r.body), vec!["/recruiting_request"], "{}", r.body);
    }
    assert_eq!(count(&app.emu, &dv, CANDIDATES).await, before);
}

#[tokio::test]
async fn the_primary_email_written_is_the_one_shown() {
    let app = spawn_app().await;
    let dv = app.emu.token().await;
    let request = active_request(&app.emu, &dv).await;
    let acme = app.partner_token("acme-ats", None).await;
    let mut body = external(&request);
    body["person"]["contacts"] = json!([
        {"type": "phone", "locator": "+1 555 0100", "is_primary": true, "is_mobile": true},
        {"type": "email_address", "locator": "old@example.com"},
        {"type": "email_address", "locator": "mira.holt@example.com", "is_primary": true}
    ]);
    let r = post(&app, &acme, &key(), &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["person"]["primary_email"], "mira.holt@example.com");
    assert_eq!(r.body["person"]["primary_phone"], "+1 555 0100");
    let id = r.body["id"].as_str().expect("id");
    let (_, shown) = app
        .get_json(&format!("/v1/candidates/{id}"), &acme, None)
        .await;
    assert_eq!(shown["person"]["primary_email"], "mira.holt@example.com");
}
