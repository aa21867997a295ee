//! A hire whose upstream calls fail part-way, over real HTTP against the emulator: a create whose
//! answer was lost is resolved by the key the plan chose for the row (never by matching names, so
//! another partner's candidate is neither adopted nor deleted), the journal grows with the steps
//! (not with their square), and the hire's audit line counts its upstream calls.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::common::{self, spawn_app_with, Emu, TestApp};
use ats_sandbox::config::SandboxConfig;
use serde_json::{json, Value};

const CANDIDATES: &str = "mshr_hcmcandidatetohireentities";
const PERSONS: &str = "mshr_dirpersonentities";
const CONTACTS: &str = "mshr_dirpartycontactentities";
const SETS: &[&str] = &[
    CANDIDATES,
    PERSONS,
    "mshr_hcmpersonskillentities",
    "mshr_hcmpersoneducationentities",
    "mshr_hcmpersonaddressentities",
    CONTACTS,
    "mshr_hcmpersonprofessionalexperienceentities",
    "mshr_hcmpersoncertificateentities",
    "mshr_hcmpersonscreeningentities",
    "mshr_hcmpersonidentificationnumberentities",
];

/// A second partner in acme-ats's companies (same secret): another ATS hiring into the same HR.
const OTHER: &str = "acme-two";

async fn app() -> TestApp {
    spawn_app_with(SandboxConfig::default(), |c| {
        let mut two = c
            .auth
            .partners
            .iter()
            .find(|p| p.id == "acme-ats")
            .cloned()
            .expect("acme-ats");
        two.id = OTHER.into();
        two.client_id = OTHER.into();
        c.auth.partners.push(two);
    })
    .await
}

async fn token(app: &TestApp, client_id: &str) -> String {
    let resp = app
        .http
        .post(format!("{}/oauth2/token", app.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", "acme-demo-secret"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200, "token for {client_id}");
    let v: Value = resp.json().await.expect("json");
    v["access_token"].as_str().expect("token").to_string()
}

async fn hire(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}/v1/candidates", app.url))
        .bearer_auth(token)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(body)
        .send()
        .await
        .expect("post");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn request_number(emu: &Emu, dv: &str) -> String {
    let (status, v) = emu
        .get_json(
            "mshr_hcmrecruitingrequestentities?$select=mshr_recruitingrequestid&$top=1&$filter=mshr_dataareaid eq 'usmf'",
            dv,
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v["value"][0]["mshr_recruitingrequestid"]
        .as_str()
        .expect("request")
        .to_string()
}

async fn counts(emu: &Emu, dv: &str) -> BTreeMap<&'static str, i64> {
    let mut out = BTreeMap::new();
    for set in SETS {
        let resp = emu.get(&format!("{set}/$count"), dv, None).await;
        assert_eq!(resp.status(), 200, "{set}/$count");
        let n = resp.text().await.expect("count").trim().parse().expect("n");
        out.insert(*set, n);
    }
    out
}

fn diff(
    before: &BTreeMap<&'static str, i64>,
    after: &BTreeMap<&'static str, i64>,
) -> BTreeMap<&'static str, i64> {
    after
        .iter()
        .map(|(k, v)| (*k, v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, d)| *d != 0)
        .collect()
}

/// "Lena Gone" with one e-mail contact: the deep insert (candidate + person), then the contact.
fn lena(request: &str, email: &str) -> Value {
    json!({"recruiting_request": request, "status": "hired",
        "person": {"first_name": "Lena", "last_name": "Gone",
            "contacts": [{"type": "email_address", "locator": email, "is_primary": true}]}})
}

/// One candidate, its person and the person's contacts as HR has them.
async fn candidate_in_hr(emu: &Emu, dv: &str, id: &str) -> Option<(String, u64)> {
    let (status, c) = emu
        .get_json(
            &format!("{CANDIDATES}({id})?$select=_mshr_fk_person_id_value"),
            dv,
            None,
        )
        .await;
    if status == 404 {
        return None;
    }
    assert_eq!(status, 200, "{c}");
    let person = c["_mshr_fk_person_id_value"]
        .as_str()
        .expect("person")
        .to_string();
    let (status, p) = emu
        .get_json(&format!("{PERSONS}({person})"), dv, None)
        .await;
    assert_eq!(status, 200, "the candidate's person exists: {p}");
    let (_, contacts) = emu
        .get_json(
            &format!(
                "{CONTACTS}?$select=mshr_locator&$filter=_mshr_fk_person_id_value eq {person}"
            ),
            dv,
            None,
        )
        .await;
    let n = contacts["value"].as_array().map_or(0, Vec::len) as u64;
    Some((person, n))
}

async fn clear_faults(app: &TestApp) {
    let r = app
        .http
        .delete(app.emu.url("/_sandbox/faults"))
        .send()
        .await
        .expect("clear");
    assert!(r.status().is_success());
}

#[tokio::test]
async fn a_lost_create_is_never_matched_to_another_partners_candidate() {
    let app = app().await;
    let dv = app.emu.token().await;
    let request = request_number(&app.emu, &dv).await;
    let acme = token(&app, "acme-ats").await;
    let two = token(&app, OTHER).await;
    let (status, first) = hire(&app, &acme, &lena(&request, "lena@acme.example")).await;
    assert_eq!(status, 201, "{first}");
    let theirs = first["id"].as_str().expect("id").to_string();
    let their_person = candidate_in_hr(&app.emu, &dv, &theirs)
        .await
        .expect("acme-ats's candidate");

    // The other partner's create fails with a 503 that wrote nothing: the same request and name
    // are acme-ats's row, not this plan's.
    let before = counts(&app.emu, &dv).await;
    app.emu
        .fault(json!({"kind": "server_error", "status": 503, "target": CANDIDATES, "count": 1}))
        .await;
    let (status, second) = hire(&app, &two, &lena(&request, "lena@two.example")).await;
    assert_eq!(status, 201, "{second}");
    let ours = second["id"].as_str().expect("id");
    assert_ne!(ours, theirs, "a candidate of its own, not acme-ats's");
    assert_eq!(
        candidate_in_hr(&app.emu, &dv, &theirs).await,
        Some(their_person),
        "acme-ats's candidate and person untouched (no contact written onto it)"
    );
    let (_, our_contacts) = candidate_in_hr(&app.emu, &dv, ours).await.expect("ours");
    assert_eq!(our_contacts, 1);
    assert_eq!(
        diff(&before, &counts(&app.emu, &dv).await),
        BTreeMap::from([(CANDIDATES, 1), (PERSONS, 1), (CONTACTS, 1)]),
        "written exactly once"
    );
}

#[tokio::test]
async fn a_failed_hire_never_deletes_another_partners_rows() {
    let app = app().await;
    let dv = app.emu.token().await;
    let request = request_number(&app.emu, &dv).await;
    let acme = token(&app, "acme-ats").await;
    let two = token(&app, OTHER).await;
    let (status, first) = hire(&app, &acme, &lena(&request, "lena@acme.example")).await;
    assert_eq!(status, 201, "{first}");
    let theirs = first["id"].as_str().expect("id").to_string();
    let their_person = candidate_in_hr(&app.emu, &dv, &theirs)
        .await
        .expect("acme-ats's candidate");

    let before = counts(&app.emu, &dv).await;
    app.emu
        .fault(json!({"kind": "server_error", "status": 503, "target": CANDIDATES, "count": 1}))
        .await;
    app.emu
        .fault(json!({"kind": "throttle", "retry_after": 1, "target": CONTACTS, "count": 3}))
        .await;
    let (status, failed) = hire(&app, &two, &lena(&request, "lena@two.example")).await;
    clear_faults(&app).await;
    assert_eq!(status, 429, "{failed}");
    assert!(
        failed["detail"]
            .as_str()
            .expect("detail")
            .contains("removed"),
        "{failed}"
    );
    assert_eq!(
        candidate_in_hr(&app.emu, &dv, &theirs).await,
        Some(their_person),
        "acme-ats's candidate and person are still in HR"
    );
    assert!(
        diff(&before, &counts(&app.emu, &dv).await).is_empty(),
        "the failed hire removed its own rows and nothing else"
    );
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_by_its_key() {
    let app = app().await;
    let dv = app.emu.token().await;
    let request = request_number(&app.emu, &dv).await;
    let acme = token(&app, "acme-ats").await;
    // The deep insert and the contact are written, but their answers are lost: the plan finds them
    // by the keys it chose, once each, and does not write them again.
    for target in [CANDIDATES, CONTACTS] {
        let before = counts(&app.emu, &dv).await;
        app.emu
            .fault(json!({"kind": "lost_response", "status": 503, "target": target, "count": 1}))
            .await;
        let (status, r) = hire(&app, &acme, &lena(&request, "lena@lost.example")).await;
        assert_eq!(status, 201, "{target}: {r}");
        assert_eq!(
            diff(&before, &counts(&app.emu, &dv).await),
            BTreeMap::from([(CANDIDATES, 1), (PERSONS, 1), (CONTACTS, 1)]),
            "{target}: written exactly once"
        );
    }
    // A lost answer, then a refusal: the row found by its key is removed with the rest.
    let before = counts(&app.emu, &dv).await;
    app.emu
        .fault(json!({"kind": "lost_response", "status": 503, "target": CANDIDATES, "count": 1}))
        .await;
    app.emu
        .fault(json!({"kind": "throttle", "retry_after": 1, "target": CONTACTS, "count": 1}))
        .await;
    let (status, r) = hire(&app, &acme, &lena(&request, "lena@lost.example")).await;
    clear_faults(&app).await;
    assert_eq!(status, 429, "{r}");
    assert!(diff(&before, &counts(&app.emu, &dv).await).is_empty());
}

/// A hire with 40 children: 30 separate steps (five of each collection written one by one) and
/// ten skills in the deep insert.
fn forty_children(request: &str) -> Value {
    let n = 5;
    let many = |f: &dyn Fn(usize) -> Value| (0..n).map(f).collect::<Vec<_>>();
    json!({"recruiting_request": request, "status": "hired",
    "person": {"first_name": "Journal", "last_name": "Sized",
        "contacts": many(&|i| json!({"type": "phone", "locator": format!("+1 425 555 01{i:02}")})),
        "addresses": many(&|i| json!({"street": format!("{i} Main St"), "city": "Seattle", "zip_code": "98052", "country_region": "USA", "roles": ["Home"]})),
        "experience": many(&|i| json!({"employer": format!("Fabrikam {i}"), "position": "Analyst", "start_date": format!("{}-01-01", 1980 + i), "end_date": format!("{}-12-31", 1980 + i)})),
        "certificates": many(&|i| json!({"certificate_type": "ITIL", "start_date": format!("{}-05-01", 1980 + i)})),
        "screenings": many(&|_| json!({"screening_type": "Background", "status": "pass"})),
        "identification_numbers": many(&|i| json!({"identification_type": "SSN", "number": format!("123-45-67{i:02}"), "issuing_agency": "SSA"})),
        "skills": (0..10).map(|i| json!({"skill": "CustFocus", "rating_level": "4", "level_date": format!("202{i}-01-01")})).collect::<Vec<_>>()
    }})
}

/// `key=value` of a `tracing` fmt line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    line[at..].split_whitespace().next()
}

#[tokio::test]
async fn the_journal_grows_with_the_steps_and_the_audit_line_counts_upstream_calls() {
    common::logs::capture();
    let app = app().await;
    let dv = app.emu.token().await;
    let request = request_number(&app.emu, &dv).await;
    let acme = token(&app, "acme-ats").await;
    let body = forty_children(&request);
    let body_bytes = serde_json::to_vec(&body).expect("json").len() as u64;
    let started = Instant::now();
    let (status, r) = hire(&app, &acme, &body).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 201, "{r}");
    let id = r["id"].as_str().expect("id");

    let text = common::logs::text();
    let line = text
        .lines()
        .find(|l| l.contains("hire written") && l.contains(id))
        .expect("the hire's journal line");
    let bytes: u64 = field(line, "journal_bytes")
        .and_then(|v| v.parse().ok())
        .expect("journal_bytes");
    let writes: u64 = field(line, "journal_writes")
        .and_then(|v| v.parse().ok())
        .expect("journal_writes");
    let steps: u64 = field(line, "steps")
        .and_then(|v| v.parse().ok())
        .expect("steps");
    eprintln!(
        "hire ({body_bytes} B body, {steps} steps): {writes} journal writes, {bytes} B journaled, {elapsed:?}"
    );
    assert_eq!(steps, 31);
    // Two writes per step (before and after its call) plus the plan's first and last: each the
    // size of a step. Rewriting the whole plan per write was ~ steps × plan size (~1 MB here).
    assert!(writes <= 2 * steps + 2, "{writes} writes");
    assert!(
        bytes < 8 * body_bytes + 1_000 * steps,
        "{bytes} B journaled for a {body_bytes} B body"
    );

    // The hire runs in its own task; its upstream calls still count on the request's audit line.
    let audit = text
        .lines()
        .filter(|l| {
            l.contains("partner request")
                && l.contains("route=\"/v1/candidates\"")
                && l.contains("status=201")
        })
        .filter_map(|l| field(l, "upstream_calls")?.parse::<u64>().ok())
        .max()
        .expect("an audit line for the hire");
    assert!(
        audit > steps,
        "the hire's audit line counts its {steps}+ upstream calls, not {audit}"
    );
}

/// Every document the state store keeps about hires: plans, their steps, idempotency outcomes.
fn stored_documents(app: &TestApp) -> Vec<String> {
    let path = app
        .state_dir
        .path()
        .join(ats_gateway::store::sqlite::FILE_NAME);
    let conn = rusqlite::Connection::open(path).expect("state store");
    let mut stmt = conn
        .prepare(
            "SELECT doc FROM plans UNION ALL SELECT doc FROM plan_steps \
             UNION ALL SELECT outcome FROM idempotency WHERE outcome IS NOT NULL",
        )
        .expect("query");
    let docs = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .expect("rows")
        .collect::<Result<Vec<_>, _>>()
        .expect("docs");
    docs
}

#[tokio::test]
async fn finished_hires_keep_ids_not_personal_fields_in_the_state_store() {
    let app = app().await;
    let dv = app.emu.token().await;
    let request = request_number(&app.emu, &dv).await;
    let acme = token(&app, "acme-ats").await;
    let hired = json!({"recruiting_request": request, "status": "hired",
        "person": {"first_name": "Kept", "last_name": "Outofjournal", "birth_date": "1991-02-03",
            "contacts": [{"type": "email_address", "locator": "kept@journal.example"}]}});
    let (status, r) = hire(&app, &acme, &hired).await;
    assert_eq!(status, 201, "{r}");
    let id = r["id"].as_str().expect("id");

    let undone = json!({"recruiting_request": request, "status": "hired",
        "person": {"first_name": "Undone", "last_name": "Outofjournal",
            "contacts": [{"type": "email_address", "locator": "undone@journal.example"}],
            "addresses": [{"street": "9 Private Rd", "city": "Seattle", "zip_code": "98052", "country_region": "USA", "roles": ["Home"]}]}});
    app.emu
        .fault(json!({"kind": "throttle", "retry_after": 1, "target": CONTACTS, "count": 1}))
        .await;
    let (status, r) = hire(&app, &acme, &undone).await;
    clear_faults(&app).await;
    assert_eq!(status, 429, "{r}");

    let docs = stored_documents(&app);
    assert!(
        docs.iter().any(|d| d.contains(id)),
        "the outcome keeps the candidate's id"
    );
    for d in &docs {
        for personal in [
            "Outofjournal",
            "1991-02-03",
            "journal.example",
            "Private Rd",
        ] {
            assert!(!d.contains(personal), "{personal} kept in {d}");
        }
    }
}

/// Saves, under a key `acme-ats` began for `body`, a plan whose every step ran but that names no
/// candidate (only a corrupt journal reads so); returns the plan's id and the row its step
/// recorded as written.
async fn corrupt_plan(app: &TestApp, key: &str, body: &Value) -> (uuid::Uuid, uuid::Uuid) {
    use ats_gateway::store::{Begin, PlanRecord};
    let store = app.gateway.state.hiring.hires.store();
    let fingerprint = ats_gateway::writes::fingerprint(body);
    assert_eq!(
        store
            .begin("acme-ats", key, &fingerprint)
            .await
            .expect("begin"),
        Begin::Started
    );
    let (id, row) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let written = json!([{"set": CANDIDATES, "id": row}]);
    store
        .save_plan(&PlanRecord {
            id,
            partner: "acme-ats".into(),
            key: key.into(),
            open: true,
            doc: json!({"id": id, "partner": "acme-ats", "key": key, "company": "usmf",
                "phase": "running", "candidate_id": null, "person_id": null,
                "party_number": "000123", "new_person": false, "failure": null, "keys_kept": true}),
            steps: vec![json!({"kind": "candidate", "pointer": "", "body": null,
                "state": "done", "rows": written, "created": written})],
        })
        .await
        .expect("save");
    (id, row)
}

/// A retry of `key` with `body`: status and problem.
async fn retry(app: &TestApp, token: &str, key: &str, body: &Value) -> (u16, Value) {
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
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn problem_type(p: &Value) -> &str {
    p["type"]
        .as_str()
        .and_then(|t| t.rsplit("/problems/").next())
        .unwrap_or_default()
}

/// A plan whose every step ran but that names no candidate cannot be completed nor safely undone.
/// Recovery closes it once, as failed (logged once, with its id and the rows its steps recorded),
/// instead of claiming and running it again on every pass; it calls HR for nothing, and its key
/// answers a 409 `hire-needs-operator` problem from then on, whether a pass or the retry itself
/// settled it.
#[tokio::test]
async fn a_plan_that_ran_every_step_without_a_candidate_is_closed_once_as_failed() {
    common::logs::capture();
    let app = app().await;
    let acme = token(&app, "acme-ats").await;
    let hiring = &app.gateway.state.hiring;
    let body = json!({"recruiting_request": "corrupt", "person": {"first_name": "Never", "last_name": "Settled"}});
    let key = uuid::Uuid::new_v4().to_string();
    let (id, row) = corrupt_plan(&app, &key, &body).await;
    let sent_before = app.emu.requests().await.len();

    for _ in 0..2 {
        ats_gateway::writes::recover(hiring)
            .await
            .expect("recovery pass");
    }
    let open = hiring.hires.store().open_plans().await.expect("open plans");
    assert!(
        open.iter().all(|p| p.id != id),
        "closed by the first pass, not left for every pass"
    );
    let sent: Vec<Value> = app.emu.requests().await.split_off(sent_before);
    assert!(
        sent.iter().all(|r| r["method"] == "GET"
            && !r["target"]
                .as_str()
                .unwrap_or_default()
                .contains(&row.to_string())),
        "no upstream call for the corrupt plan: {sent:?}"
    );
    let logged: Vec<String> = common::logs::text()
        .lines()
        .filter(|l| l.contains(&id.to_string()))
        .map(str::to_string)
        .collect();
    assert_eq!(logged.len(), 1, "logged once: {logged:#?}");
    assert!(
        logged[0].contains("closed as failed") && logged[0].contains(&row.to_string()),
        "names what an operator checks in HR: {}",
        logged[0]
    );
    assert!(!logged[0].contains(&key), "{}", logged[0]);

    for _ in 0..2 {
        let (status, p) = retry(&app, &acme, &key, &body).await;
        assert_eq!(status, 409, "{p}");
        assert_eq!(problem_type(&p), "hire-needs-operator", "{p}");
        assert!(
            p["detail"].as_str().is_some_and(|d| d.contains("operator")),
            "{p}"
        );
    }

    // Settled by the retry itself (no pass has run yet): the same answer, not "still running".
    let key = uuid::Uuid::new_v4().to_string();
    let (id, _) = corrupt_plan(&app, &key, &body).await;
    let (status, p) = retry(&app, &acme, &key, &body).await;
    assert_eq!(status, 409, "{p}");
    assert_eq!(problem_type(&p), "hire-needs-operator", "{p}");
    let open = hiring.hires.store().open_plans().await.expect("open plans");
    assert!(open.iter().all(|p| p.id != id));
}
