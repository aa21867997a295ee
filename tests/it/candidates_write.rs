//! `POST /v1/candidates` over real HTTP against the emulator: full and internal hires land with
//! every row, validation answers 422 with pointers before any write, idempotency (428, replays,
//! another body, concurrent posts), a failure at each step leaves nothing behind and the retry
//! lands once, and a gateway killed mid-plan finishes (or undoes) the hire when it starts again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::{spawn_app, Emu, TestApp};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const CANDIDATES: &str = "mshr_hcmcandidatetohireentities";
const PERSONS: &str = "mshr_dirpersonentities";
/// Every table a hire writes, in plan order after the deep insert.
const CHILD_SETS: &[&str] = &[
    "mshr_hcmpersonskillentities",
    "mshr_hcmpersoneducationentities",
    "mshr_hcmpersonaddressentities",
    "mshr_dirpartycontactentities",
    "mshr_hcmpersonprofessionalexperienceentities",
    "mshr_hcmpersoncertificateentities",
    "mshr_hcmpersonscreeningentities",
    "mshr_hcmpersonidentificationnumberentities",
];

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    async fn of(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        Reply {
            status,
            headers,
            body: resp.json().await.unwrap_or(Value::Null),
        }
    }
}

async fn post(
    http: &reqwest::Client,
    gw: &str,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> Reply {
    let mut req = http
        .post(format!("{gw}/v1/candidates"))
        .bearer_auth(token)
        .json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    Reply::of(req.send().await.expect("post")).await
}

/// The problem type's slug (the `type` URI is absolute).
fn slug(body: &Value) -> &str {
    body["type"]
        .as_str()
        .and_then(|t| t.rsplit("/problems/").next())
        .unwrap_or("")
}

fn replayed(r: &Reply) -> bool {
    r.headers
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
        == Some("true")
}

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A code from the emulator (`$top=1`, optional filter).
async fn first_code(emu: &Emu, token: &str, set: &str, col: &str, filter: &str) -> String {
    let f = if filter.is_empty() {
        String::new()
    } else {
        format!("&$filter={filter}")
    };
    let (status, v) = emu
        .get_json(&format!("{set}?$select={col}&$top=1{f}"), token, None)
        .await;
    assert_eq!(status, 200, "{set}: {v}");
    v["value"][0][col].as_str().expect("code").to_string()
}

/// Rows per table (the whole table: a failed hire must leave every count unchanged).
async fn counts(emu: &Emu, token: &str) -> BTreeMap<&'static str, u64> {
    let mut out = BTreeMap::new();
    for set in [CANDIDATES, PERSONS].iter().chain(CHILD_SETS) {
        let resp = emu.get(&format!("{set}/$count"), token, None).await;
        assert_eq!(resp.status(), 200, "{set}/$count");
        let n: u64 = resp
            .text()
            .await
            .expect("count")
            .trim()
            .parse()
            .expect("number");
        out.insert(*set, n);
    }
    out
}

fn diff(
    before: &BTreeMap<&'static str, u64>,
    after: &BTreeMap<&'static str, u64>,
) -> BTreeMap<&'static str, i64> {
    after
        .iter()
        .map(|(k, v)| (*k, *v as i64 - *before.get(k).unwrap_or(&0) as i64))
        .filter(|(_, d)| *d != 0)
        .collect()
}

/// What a full external hire adds: one row in every table.
fn one_of_each() -> BTreeMap<&'static str, i64> {
    [CANDIDATES, PERSONS]
        .iter()
        .chain(CHILD_SETS)
        .map(|s| (*s, 1))
        .collect()
}

struct Fixture {
    request: String,
    position: String,
    party_number: String,
    dv: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let dv = app.emu.token().await;
    let request = first_code(
        &app.emu,
        &dv,
        "mshr_hcmrecruitingrequestentities",
        "mshr_recruitingrequestid",
        // Active: HR takes no hires into canceled, denied or closed requests.
        "mshr_dataareaid eq 'usmf' and mshr_status eq 200000005",
    )
    .await;
    let position = first_code(
        &app.emu,
        &dv,
        "mshr_hcmpositionv2entities",
        "mshr_positionid",
        "mshr_dataareaid eq 'usmf'",
    )
    .await;
    // A person acme-ats may name: a candidate in one of its companies.
    let party_number = first_code(
        &app.emu,
        &dv,
        CANDIDATES,
        "mshr_partynumber",
        "mshr_dataareaid eq 'usmf' and mshr_partynumber ne null",
    )
    .await;
    Fixture {
        request,
        position,
        party_number,
        dv,
    }
}

fn full_body(f: &Fixture, last_name: &str) -> Value {
    json!({
        "recruiting_request": f.request, "position": f.position,
        "availability_date": "2027-02-01", "willing_to_relocate": true, "comments": "Accepted the offer",
        "status": "hired",
        "person": {
            "first_name": "Evelyn", "last_name": last_name, "gender": "female", "birth_date": "1990-04-02",
            "citizenship_country": "USA",
            "contacts": [{"type": "email_address", "locator": "evelyn@example.com", "is_primary": true}],
            "addresses": [{"street": "1 Main St", "city": "Seattle", "zip_code": "98052", "country_region": "USA", "roles": ["Home"], "is_primary": true}],
            "education": [{"education_level": "Bachelor", "discipline": "Business Mgmt", "institution": "Cottonwood Univ", "start_date": "2008-09-01", "end_date": "2012-06-01"}],
            "experience": [{"employer": "Fabrikam", "position": "Analyst", "start_date": "2012-07-01", "end_date": "2026-12-31"}],
            "skills": [{"skill": "CustFocus", "rating_level": "4", "years_of_experience": 3}],
            "certificates": [{"certificate_type": "ITIL", "start_date": "2020-05-01"}],
            "screenings": [{"screening_type": "Background", "status": "pass"}],
            "identification_numbers": [{"identification_type": "SSN", "number": "123-45-6789", "issuing_agency": "SSA"}]
        }
    })
}

async fn upstream_total(emu: &Emu) -> u64 {
    emu.stats().await["total_requests"].as_u64().expect("total")
}

/// A hire body sent as it is: `content_type` if any, each of `keys` as its own header line.
async fn post_raw(
    app: &TestApp,
    token: &str,
    keys: &[&str],
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    let mut req = app
        .http
        .post(format!("{}/v1/candidates", app.url))
        .bearer_auth(token)
        .body(body.to_string());
    for k in keys {
        req = req.header("Idempotency-Key", *k);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    Reply::of(req.send().await.expect("post")).await
}

/// A gateway, its fixture, acme's token, the row counts now and a full hire's body as text.
async fn raw_hire_setup() -> (
    TestApp,
    Fixture,
    String,
    BTreeMap<&'static str, u64>,
    String,
) {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let acme = app.partner_token("acme-ats", None).await;
    let before = counts(&app.emu, &f.dv).await;
    let text = full_body(&f, "Once").to_string();
    (app, f, acme, before, text)
}

#[tokio::test]
async fn a_member_repeated_in_a_hire_body_is_422_at_its_pointer() {
    let (app, f, acme, before, text) = raw_hire_setup().await;
    let person = r#""person":{"first_name":"Evelyn""#;
    assert!(text.contains(person) && text.ends_with('}'), "{text}");
    // Each was a 201 hire before: the last `person`, `first_name` or `type` silently won.
    let repeated = [
        (
            format!(
                r#"{},"person":{{"first_name":"Dup","last_name":"Dup"}}}}"#,
                &text[..text.len() - 1]
            ),
            "/person",
        ),
        (
            text.replacen(person, &format!(r#"{person},"first_name":"Dup""#), 1),
            "/person/first_name",
        ),
        (
            text.replacen(
                r#""type":"email_address""#,
                r#""type":"email_address","type":"phone""#,
                1,
            ),
            "/person/contacts/0/type",
        ),
    ];
    for (body, pointer) in &repeated {
        let r = post_raw(&app, &acme, &[&key()], Some("application/json"), body).await;
        assert_eq!(r.status, 422, "{pointer}: {}", r.body);
        assert_eq!(slug(&r.body), "validation-failed");
        assert_eq!(
            r.body["errors"].as_array().map(Vec::len),
            Some(1),
            "{}",
            r.body
        );
        assert_eq!(r.body["errors"][0]["pointer"], *pointer, "{}", r.body);
    }
    assert_eq!(
        diff(&before, &counts(&app.emu, &f.dv).await),
        BTreeMap::new()
    );
}

#[tokio::test]
async fn a_hire_body_not_sent_as_json_is_415_and_claims_no_key() {
    let (app, f, acme, before, text) = raw_hire_setup().await;
    let k = key();
    // text/plain used to be parsed as JSON and hired, as was a body without a type.
    for ct in [Some("text/plain"), Some("application/xml"), None] {
        let r = post_raw(&app, &acme, &[&k], ct, &text).await;
        assert_eq!(r.status, 415, "{ct:?}: {}", r.body);
        assert_eq!(slug(&r.body), "unsupported-media-type");
        assert_eq!(r.headers["content-type"], "application/problem+json");
    }
    assert_eq!(
        diff(&before, &counts(&app.emu, &f.dv).await),
        BTreeMap::new()
    );
    // The key is still free: sent as JSON (parameters allowed), the same key hires once.
    let r = post_raw(
        &app,
        &acme,
        &[&k],
        Some("application/json; charset=utf-8"),
        &text,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(!replayed(&r));
    assert_eq!(r.body["person"]["first_name"], "Evelyn", "{}", r.body);
    assert_eq!(diff(&before, &counts(&app.emu, &f.dv).await), one_of_each());
}

#[tokio::test]
async fn two_idempotency_key_lines_are_400_as_one_comma_joined_line() {
    let (app, f, acme, before, text) = raw_hire_setup().await;
    // The second line used to be dropped and the hire made under the first.
    for keys in [&["tk-1", "tk-2"][..], &["tk-1, tk-2"][..]] {
        let r = post_raw(&app, &acme, keys, Some("application/json"), &text).await;
        assert_eq!(r.status, 400, "{keys:?}: {}", r.body);
        assert_eq!(slug(&r.body), "invalid-parameter");
        assert_eq!(
            r.body["errors"][0]["pointer"], "#/Idempotency-Key",
            "{}",
            r.body
        );
    }
    assert_eq!(
        diff(&before, &counts(&app.emu, &f.dv).await),
        BTreeMap::new()
    );
}

/// The hire takes no query parameters: `?dry_run=true` used to be ignored and the hire made.
#[tokio::test]
async fn a_hire_with_a_query_parameter_is_400_and_hires_nobody() {
    let (app, f, acme, before, text) = raw_hire_setup().await;
    let r = app
        .http
        .post(format!("{}/v1/candidates?dry_run=true", app.url))
        .bearer_auth(&acme)
        .header("Idempotency-Key", key())
        .header("content-type", "application/json")
        .body(text)
        .send()
        .await
        .expect("post");
    let r = Reply::of(r).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(slug(&r.body), "invalid-parameter");
    assert_eq!(r.body["errors"][0]["pointer"], "#/dry_run", "{}", r.body);
    assert_eq!(
        diff(&before, &counts(&app.emu, &f.dv).await),
        BTreeMap::new()
    );
}

#[tokio::test]
async fn a_full_external_hire_lands_every_row_and_reads_back_the_same() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let acme = app.partner_token("acme-ats", None).await;
    let before = counts(&app.emu, &f.dv).await;
    let calls_before = upstream_total(&app.emu).await;
    let started = Instant::now();
    let r = post(
        &app.http,
        &app.url,
        &acme,
        Some(&key()),
        &full_body(&f, "Chambers"),
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(r.status, 201, "{}", r.body);
    let calls = upstream_total(&app.emu).await - calls_before;
    eprintln!("full hire: {calls} upstream calls (reads included), {elapsed:?}");
    assert_eq!(diff(&before, &counts(&app.emu, &f.dv).await), one_of_each());

    let id = r.body["id"].as_str().expect("id");
    let location = r.headers["location"].to_str().expect("location");
    assert_eq!(location, format!("/v1/candidates/{id}"));
    let (status, shown) = app.get_json(location, &acme, None).await;
    assert_eq!(status, 200);
    assert_eq!(shown, r.body, "201 body = what GET returns");
    let p = &shown["person"];
    assert_eq!(p["first_name"], "Evelyn");
    assert_eq!(p["last_name"], "Chambers");
    assert_eq!(p["gender"]["key"], "female");
    assert_eq!(p["birth_date"], "1990-04-02");
    assert_eq!(p["citizenship_country"], "USA");
    assert_eq!(shown["status"]["key"], "hired");
    assert_eq!(shown["willing_to_relocate"], true);
    assert_eq!(shown["recruiting_request"]["code"], f.request.as_str());
    assert_eq!(shown["position"]["code"], f.position.as_str());
    assert_eq!(p["skills"][0]["skill"]["code"], "CustFocus");
    assert_eq!(p["skills"][0]["rating_level"]["code"], "4");
    assert_eq!(p["education"][0]["institution"]["code"], "Cottonwood Univ");
    assert_eq!(p["addresses"][0]["roles"], json!(["Home"]));
    assert_eq!(p["addresses"][0]["is_primary"], true);
    assert_eq!(p["contacts"][0]["locator"], "evelyn@example.com");
    assert_eq!(p["contacts"][0]["type"]["key"], "email_address");
    assert_eq!(p["experience"][0]["employer"], "Fabrikam");
    assert_eq!(p["certificates"][0]["certificate_type"]["code"], "ITIL");
    assert_eq!(p["screenings"][0]["status"]["key"], "pass");
    assert_eq!(p["identification_numbers"][0]["number"], "123-45-6789");
    assert_eq!(
        p["identification_numbers"][0]["issuing_agency"]["code"],
        "SSA"
    );

    // Not visible to a partner whose companies exclude usmf.
    let nordic = app.partner_token("nordic-hr", None).await;
    let (status, _) = app.get_json(location, &nordic, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_internal_candidate_points_at_the_existing_person() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let acme = app.partner_token("acme-ats", None).await;
    let before = counts(&app.emu, &f.dv).await;
    let body = json!({"recruiting_request": f.request, "status": "hired", "availability_date": "2027-03-01",
        "person": {"party_number": f.party_number}});
    let r = post(&app.http, &app.url, &acme, Some(&key()), &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["person"]["party_number"], f.party_number.as_str());
    let added = diff(&before, &counts(&app.emu, &f.dv).await);
    assert_eq!(
        added,
        [(CANDIDATES, 1)].into_iter().collect(),
        "no new person, nothing added to the person"
    );
}

#[tokio::test]
async fn every_validation_rule_answers_422_with_its_pointer_and_writes_nothing() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let acme = app.partner_token("acme-ats", None).await;
    let before = counts(&app.emu, &f.dv).await;

    // Shape: unknown fields, required fields, formats, types.
    let body = json!({"recruiting_request": f.request, "colour": "red", "availability_date": "01/02/2027",
        "willing_to_relocate": "yes",
        "person": {"last_name": "X", "birth_date": "1990-02-30", "nickname": "E",
            "contacts": [{"type": "email_address", "locator": "not-an-email"}],
            "addresses": [{"roles": [], "zip_code": "12345678901"}],
            "experience": [{"employer": "Fabrikam"}],
            "skills": [{"skill": "CustFocus", "rating_level": "4", "years_of_experience": -1}],
            "certificates": "ITIL"}});
    let r = post(&app.http, &app.url, &acme, Some(&key()), &body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(slug(&r.body), "validation-failed");
    let pointers = |r: &Reply| -> Vec<String> {
        r.body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["pointer"].as_str().expect("pointer").to_string())
            .collect()
    };
    for want in [
        "/colour",
        "/availability_date",
        "/willing_to_relocate",
        "/person/first_name",
        "/person/birth_date",
        "/person/nickname",
        "/person/contacts/0/locator",
        "/person/addresses/0/roles",
        "/person/addresses/0/zip_code",
        "/person/experience/0/position",
        "/person/experience/0/start_date",
        "/person/skills/0/years_of_experience",
        "/person/certificates",
    ] {
        assert!(
            pointers(&r).contains(&want.to_string()),
            "{want} in {}",
            r.body
        );
    }

    // References: every code is looked up, every option key checked.
    let mut body = full_body(&f, "Refs");
    body["status"] = json!("promoted");
    body["position"] = json!("999999");
    body["person"]["gender"] = json!("robot");
    body["person"]["citizenship_country"] = json!("ATL");
    body["person"]["skills"][0]["skill"] = json!("Telepathy");
    body["person"]["skills"][0]["rating_level"] = json!("11");
    body["person"]["education"][0]["education_level"] = json!("Kindergarten");
    body["person"]["education"][0]["discipline"] = json!("Alchemy");
    body["person"]["education"][0]["institution"] = json!("Hogwarts");
    body["person"]["addresses"][0]["country_region"] = json!("ATL");
    body["person"]["contacts"][0]["type"] = json!("pigeon");
    body["person"]["certificates"][0]["certificate_type"] = json!("Wizard");
    body["person"]["screenings"][0]["screening_type"] = json!("Palm");
    body["person"]["screenings"][0]["status"] = json!("maybe");
    body["person"]["identification_numbers"][0]["identification_type"] = json!("Tattoo");
    body["person"]["identification_numbers"][0]["issuing_agency"] = json!("Nobody");
    body["person"]["experience"][0]["allow_contact_employer"] = json!("perhaps");
    let r = post(&app.http, &app.url, &acme, Some(&key()), &body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    for want in [
        "/status",
        "/position",
        "/person/gender",
        "/person/citizenship_country",
        "/person/skills/0/skill",
        "/person/skills/0/rating_level",
        "/person/education/0/education_level",
        "/person/education/0/discipline",
        "/person/education/0/institution",
        "/person/addresses/0/country_region",
        "/person/contacts/0/type",
        "/person/certificates/0/certificate_type",
        "/person/screenings/0/screening_type",
        "/person/screenings/0/status",
        "/person/identification_numbers/0/identification_type",
        "/person/identification_numbers/0/issuing_agency",
        "/person/experience/0/allow_contact_employer",
    ] {
        assert!(
            pointers(&r).contains(&want.to_string()),
            "{want} in {}",
            r.body
        );
    }

    // The request must exist and be in one of the partner's companies (nomf is not acme's).
    let dv = &f.dv;
    let norwegian = first_code(
        &app.emu,
        dv,
        "mshr_hcmrecruitingrequestentities",
        "mshr_recruitingrequestid",
        "mshr_dataareaid eq 'nomf'",
    )
    .await;
    for request in ["USMF-999999", norwegian.as_str()] {
        let mut body = full_body(&f, "Foreign");
        body["recruiting_request"] = json!(request);
        let r = post(&app.http, &app.url, &acme, Some(&key()), &body).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(
            pointers(&r),
            vec!["/recruiting_request".to_string()],
            "{}",
            r.body
        );
    }
    // An internal candidate's person must exist.
    let body = json!({"recruiting_request": f.request, "person": {"party_number": "HR999999999"}});
    let r = post(&app.http, &app.url, &acme, Some(&key()), &body).await;
    assert_eq!(
        pointers(&r),
        vec!["/person/party_number".to_string()],
        "{}",
        r.body
    );

    assert!(
        diff(&before, &counts(&app.emu, &f.dv).await).is_empty(),
        "nothing written"
    );
}

#[tokio::test]
async fn idempotency_key_required_replayed_and_bound_to_its_body() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let acme = app.partner_token("acme-ats", None).await;
    let before = counts(&app.emu, &f.dv).await;

    let r = post(&app.http, &app.url, &acme, None, &full_body(&f, "Nokey")).await;
    assert_eq!(r.status, 428, "{}", r.body);
    assert_eq!(slug(&r.body), "idempotency-key-required");
    assert!(r.body["detail"]
        .as_str()
        .expect("detail")
        .contains("Idempotency-Key"));

    let k = key();
    let body = full_body(&f, "Replay");
    let first = post(&app.http, &app.url, &acme, Some(&k), &body).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(!replayed(&first));
    let calls = upstream_total(&app.emu).await;
    for _ in 0..5 {
        let again = post(&app.http, &app.url, &acme, Some(&k), &body).await;
        assert_eq!(again.status, 201);
        assert!(replayed(&again));
        // Rendered again from the stored id (the store keeps no body), so the same as the first.
        assert_eq!(again.body, first.body);
        assert_eq!(again.headers["location"], first.headers["location"]);
    }
    // A replay renders the candidate through the partner's current rights, as GET does: the
    // candidate and the person's children, two reads, and no write (the counts below).
    assert_eq!(
        upstream_total(&app.emu).await,
        calls + 5 * 2,
        "replays only read"
    );
    assert_eq!(
        diff(&before, &counts(&app.emu, &f.dv).await),
        one_of_each(),
        "one candidate"
    );

    let other = post(
        &app.http,
        &app.url,
        &acme,
        Some(&k),
        &full_body(&f, "Different"),
    )
    .await;
    assert_eq!(other.status, 422, "{}", other.body);
    assert_eq!(slug(&other.body), "idempotency-key-reused");
    // Keys are per partner: the same key is fresh for another partner (which may not write here).
    let nordic = app.partner_token("nordic-hr", None).await;
    let r = post(&app.http, &app.url, &nordic, Some(&k), &body).await;
    assert_eq!(r.status, 403, "nordic-hr lacks candidates:write");
}

#[tokio::test]
async fn twenty_concurrent_posts_with_one_key_make_one_candidate() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let acme = app.partner_token("acme-ats", None).await;
    let before = counts(&app.emu, &f.dv).await;
    // The first hire's deep insert is slow, so the others arrive while it runs.
    app.emu
        .fault(json!({"kind": "latency", "ms": 500, "target": CANDIDATES, "count": 1}))
        .await;
    let k = key();
    let body = full_body(&f, "Concurrent");
    let posts: Vec<_> = (0..20)
        .map(|_| {
            let (http, url, token, k, body) = (
                app.http.clone(),
                app.url.clone(),
                acme.clone(),
                k.clone(),
                body.clone(),
            );
            tokio::spawn(async move { post(&http, &url, &token, Some(&k), &body).await })
        })
        .collect();
    let mut created = 0;
    let mut conflicts = 0;
    for p in posts {
        let r = p.await.expect("join");
        match (r.status, replayed(&r)) {
            (201, false) => created += 1,
            (201, true) => {}
            (409, _) => {
                conflicts += 1;
                assert_eq!(slug(&r.body), "conflict");
            }
            other => panic!("unexpected {other:?}: {}", r.body),
        }
    }
    assert_eq!(created, 1);
    assert!(conflicts >= 1, "requests during the first one get 409");
    assert_eq!(diff(&before, &counts(&app.emu, &f.dv).await), one_of_each());
}

#[tokio::test]
async fn a_failure_at_any_step_leaves_nothing_and_the_retry_lands_once() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let acme = app.partner_token("acme-ats", None).await;
    // The deep insert (candidate, person, skills, education), then each separate child table.
    let steps = [
        CANDIDATES,
        "mshr_hcmpersonaddressentities",
        "mshr_dirpartycontactentities",
        "mshr_hcmpersonprofessionalexperienceentities",
        "mshr_hcmpersoncertificateentities",
        "mshr_hcmpersonscreeningentities",
        "mshr_hcmpersonidentificationnumberentities",
    ];
    for (i, target) in steps.iter().enumerate() {
        let before = counts(&app.emu, &f.dv).await;
        let k = key();
        let body = full_body(&f, &format!("Step{i}"));
        // A refusal HR documents as "not written" (a 429: writes are not re-sent, the step fails).
        app.emu
            .fault(json!({"kind": "throttle", "retry_after": 1, "target": target, "count": 1}))
            .await;
        let r = post(&app.http, &app.url, &acme, Some(&k), &body).await;
        assert_eq!(r.status, 429, "{target}: {}", r.body);
        assert_eq!(slug(&r.body), "upstream-throttled");
        assert!(
            r.body["detail"]
                .as_str()
                .expect("detail")
                .contains("removed"),
            "{}",
            r.body
        );
        assert!(r.headers.contains_key("retry-after"));
        assert!(
            diff(&before, &counts(&app.emu, &f.dv).await).is_empty(),
            "{target}: nothing left behind"
        );

        let retry = post(&app.http, &app.url, &acme, Some(&k), &body).await;
        assert_eq!(retry.status, 201, "{target}: {}", retry.body);
        assert!(!replayed(&retry), "the failed attempt is not replayed");
        assert_eq!(
            diff(&before, &counts(&app.emu, &f.dv).await),
            one_of_each(),
            "{target}: exactly once"
        );
    }

    // A 5xx says nothing about whether the row was written: the gateway reads before retrying once.
    let before = counts(&app.emu, &f.dv).await;
    app.emu.fault(json!({"kind": "server_error", "status": 503, "target": "mshr_dirpartycontactentities", "count": 1})).await;
    let r = post(
        &app.http,
        &app.url,
        &acme,
        Some(&key()),
        &full_body(&f, "Blip"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(diff(&before, &counts(&app.emu, &f.dv).await), one_of_each());

    // A table that stays down: whether its write happened cannot be learnt, so the answer says the
    // undo goes on; every other row is removed, and the retry (once it is back) settles and lands.
    let before = counts(&app.emu, &f.dv).await;
    let k = key();
    app.emu.fault(json!({"kind": "server_error", "status": 503, "target": "mshr_hcmpersoncertificateentities"})).await;
    let r = post(
        &app.http,
        &app.url,
        &acme,
        Some(&k),
        &full_body(&f, "Outage"),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .expect("detail")
            .contains("same Idempotency-Key"),
        "{}",
        r.body
    );
    let still = post(
        &app.http,
        &app.url,
        &acme,
        Some(&k),
        &full_body(&f, "Outage"),
    )
    .await;
    assert_eq!(
        still.status, 409,
        "the undo is not finished while the table is down: {}",
        still.body
    );
    let cleared = app
        .http
        .delete(app.emu.url("/_sandbox/faults"))
        .send()
        .await
        .expect("clear");
    assert!(cleared.status().is_success());
    // The retry settles the pending undo first (the breaker may need a moment to close again).
    let mut retry = None;
    for _ in 0..60 {
        let r = post(
            &app.http,
            &app.url,
            &acme,
            Some(&k),
            &full_body(&f, "Outage"),
        )
        .await;
        if r.status != 409 && r.status != 503 {
            retry = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let retry = retry.expect("the retry lands once HR is back");
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(diff(&before, &counts(&app.emu, &f.dv).await), one_of_each());
}

// ------------------------------------------------------------------ kill -9 mid-plan

/// The gateway binary (`serve`) against an emulator that outlives it.
struct Gateway {
    child: std::process::Child,
    url: String,
}

impl Gateway {
    async fn start(config: &std::path::Path) -> Gateway {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
            .args([
                "--config",
                config.to_str().expect("utf8"),
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--ops-listen",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await
        .expect("join")
        .expect("ready line");
        let ready: Value = serde_json::from_str(line.trim()).expect("one JSON ready line");
        let url = ready["gateway"].as_str().expect("gateway url").to_string();
        Gateway { child, url }
    }

    async fn token(&self) -> String {
        let resp = reqwest::Client::new()
            .post(format!("{}/oauth2/token", self.url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "acme-ats"),
                ("client_secret", "acme-demo-secret"),
            ])
            .send()
            .await
            .expect("token");
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.expect("json")["access_token"]
            .as_str()
            .expect("token")
            .to_string()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn requests_to(emu: &Emu, set: &str) -> u64 {
    emu.stats().await["requests"][set].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_gateway_killed_mid_plan_completes_the_hire_when_it_starts_again() {
    let emu = crate::common::emulator().await;
    let c = emu.config().clone();
    let guard = tempfile::Builder::new()
        .prefix("atsgw-kill-")
        .tempdir()
        .expect("dir");
    let dir = guard.path();
    let config = dir.join("gateway.toml");
    let hash = ats_gateway::auth::secrets::hash_secret("acme-demo-secret");
    std::fs::write(
        &config,
        format!(
            "[dataverse]\norg_url = \"{url}\"\nauthority = \"{url}\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\n\
             [state]\npath = \"{}\"\n\n\
             [[auth.partners]]\nid = \"acme-ats\"\nclient_id = \"acme-ats\"\nclient_secret_hashes = [\"{hash}\"]\n\
             scopes = [\"candidates:write\", \"candidates:read\", \"pii:read\"]\ncompanies = [\"usmf\", \"gbsi\"]\n\
             rate_limit = {{ per_second = 1000, burst = 1000 }}\n",
            c.tenant_id,
            c.client_id,
            c.client_secret,
            dir.join("state").display(),
            url = emu.handle.url,
        ),
    )
    .expect("config");
    let dv = emu.token().await;
    let request = first_code(
        &emu,
        &dv,
        "mshr_hcmrecruitingrequestentities",
        "mshr_recruitingrequestid",
        // Active: HR takes no hires into canceled, denied or closed requests.
        "mshr_dataareaid eq 'usmf' and mshr_status eq 200000005",
    )
    .await;
    let position = first_code(
        &emu,
        &dv,
        "mshr_hcmpositionv2entities",
        "mshr_positionid",
        "mshr_dataareaid eq 'usmf'",
    )
    .await;
    let f = Fixture {
        request,
        position,
        party_number: String::new(),
        dv: dv.clone(),
    };
    let body = full_body(&f, "Killed");
    let k = key();
    let before = counts(&emu, &dv).await;

    let mut gw = Gateway::start(&config).await;
    let token = gw.token().await;
    // The deep insert lands; the read-back of the new candidate (before the separate child rows)
    // hangs.
    let seen = requests_to(&emu, CANDIDATES).await;
    emu.fault(
        json!({"kind": "latency", "ms": 30000, "target": CANDIDATES, "count": 1, "after": 1}),
    )
    .await;
    let hire = {
        let (url, token, k, body) = (gw.url.clone(), token.clone(), k.clone(), body.clone());
        tokio::spawn(
            async move { post(&reqwest::Client::new(), &url, &token, Some(&k), &body).await },
        )
    };
    let mut reached = false;
    for _ in 0..400 {
        if requests_to(&emu, CANDIDATES).await > seen + 1 {
            reached = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(reached, "the plan reached the candidate read-back");
    gw.child.kill().expect("kill -9");
    gw.child.wait().expect("reaped");
    hire.abort();
    let half = diff(&before, &counts(&emu, &dv).await);
    assert_eq!(half.get(CANDIDATES), Some(&1), "killed mid-plan: {half:?}");
    assert_eq!(
        half.get("mshr_hcmpersonscreeningentities"),
        None,
        "killed mid-plan: {half:?}"
    );
    let cleared = emu
        .http
        .delete(emu.url("/_sandbox/faults"))
        .send()
        .await
        .expect("clear");
    assert!(cleared.status().is_success());

    // Restart on the same state directory: the plan is finished before the gateway says ready.
    let gw = Gateway::start(&config).await;
    assert_eq!(
        diff(&before, &counts(&emu, &dv).await),
        one_of_each(),
        "completed at start"
    );
    let token = gw.token().await;
    let r = post(&reqwest::Client::new(), &gw.url, &token, Some(&k), &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(replayed(&r), "the key reports the recovered outcome");
    assert_eq!(r.body["person"]["last_name"], "Killed");
    assert_eq!(
        r.body["person"]["screenings"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        diff(&before, &counts(&emu, &dv).await),
        one_of_each(),
        "exactly once"
    );
}
