use serde_json::json;

use super::rules::{POSITION, RR};
use super::values::row_id;
use super::*;
use crate::data::{seed, SeedOptions};
use crate::schema::schema;

const BASE: i64 = 200_000_000;

fn store() -> Store {
    // Default scale: the documented example needs request USMF-000141.
    seed(&SeedOptions::default())
}

fn def(set: &str) -> &'static EntityDef {
    schema().by_set(set).expect("set")
}

fn count(store: &Store, logical: &str) -> usize {
    store.table(logical).map_or(0, |t| t.len())
}

/// The stored row as JSON, kept for the test's life (leaked: tests read many of them).
fn get(store: &Store, logical: &str, id: Uuid) -> &'static Row {
    let row = store
        .table(logical)
        .and_then(|t| t.get(&id))
        .expect("row")
        .to_row();
    Box::leak(Box::new(row))
}

fn s<'a>(row: &'a Row, col: &str) -> &'a str {
    row.get(col).and_then(Value::as_str).unwrap_or_default()
}

fn find_id(store: &Store, logical: &str, col: &str, v: &str) -> Uuid {
    let d = schema().by_logical(logical).expect("def");
    store
        .table(logical)
        .and_then(|t| t.rows().map(|r| r.to_row()).find(|r| s(r, col) == v))
        .and_then(|r| row_id(d, &r))
        .expect("row by key")
}

const CANDIDATES: &str = "mshr_hcmcandidatetohireentities";

/// The documented 3-level deep insert (docs/ats-data-model.md#documented-examples), verbatim.
fn documented_example() -> Value {
    json!({ "mshr_dataareaid": "usmf", "mshr_recruitingrequestid": "USMF-000141", "mshr_positionid": "000601",
      "mshr_iswillingtorelocate": 200000000, "mshr_availabilitydate": "2021-03-18", "mshr_comments": "...",
      "mshr_FK_Person_id": {
        "mshr_firstname": "Evelyn", "mshr_lastname": "Chambers", "mshr_namesequencedisplayas": "FirstMiddleLast",
        "mshr_FK_HcmPersonSkillEntity_Person": [
          { "mshr_skillid": "CustFocus", "mshr_ratingid": "Skills", "mshr_levelid": "4", "mshr_ratinglevelexaminer": "",
            "mshr_leveltype": 200000000, "mshr_yearsofexperience": 0, "mshr_verified": 200000000,
            "mshr_leveldate": "2013-01-01T00:00:00Z" },
          { "mshr_skillid": "CashFlow", "mshr_ratingid": "Skills", "mshr_levelid": "4", "mshr_ratinglevelexaminer": "",
            "mshr_leveltype": 200000000, "mshr_yearsofexperience": 0, "mshr_verified": 200000000,
            "mshr_leveldate": "2013-01-01T00:00:00Z" } ],
        "mshr_FK_HcmPersonEducationEntity_Person": [
          { "mshr_creditbasis": 200000000, "mshr_enddate": "2021-02-22T00:00:00Z", "mshr_educationlevelid": "Bachelor",
            "mshr_creditsearned": 0, "mshr_startdate": "2017-02-21T00:00:00Z", "mshr_creditscompleted": 0,
            "mshr_educationinstitutionid": "Cottonwood Univ", "mshr_educationdisciplineid": "Business Mgmt",
            "mshr_durationunit": 200000000 } ] } })
}

const COUNTED: [&str; 4] = [
    "mshr_hcmcandidatetohireentity",
    "mshr_dirpersonentity",
    "mshr_hcmpersonskillentity",
    "mshr_hcmpersoneducationentity",
];

fn counts(store: &Store) -> Vec<usize> {
    COUNTED.iter().map(|t| count(store, t)).collect()
}

#[test]
fn documented_deep_insert_creates_the_tree() {
    let mut st = store();
    let before = counts(&st);
    let id = create(&mut st, def(CANDIDATES), &documented_example(), BASE).expect("create");
    let after = counts(&st);
    let added: Vec<usize> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(added, vec![1, 1, 2, 1]);

    let cand = get(&st, "mshr_hcmcandidatetohireentity", id).clone();
    assert_eq!(s(&cand, "mshr_firstname"), "Evelyn");
    assert_eq!(s(&cand, "mshr_availabilitydate"), "2021-03-18T00:00:00Z");
    assert!(s(&cand, "mshr_candidateid").starts_with("CAND-"));
    assert_eq!(cand["mshr_applicantintegrationresult"], json!(BASE));
    let rr = find_id(&st, RR, "mshr_recruitingrequestid", "USMF-000141");
    assert_eq!(
        s(&cand, "_mshr_fk_recruitingrequest_id_value"),
        rr.to_string()
    );
    let pos = find_id(&st, POSITION, "mshr_positionid", "000601");
    assert_eq!(s(&cand, "_mshr_fk_position_id_value"), pos.to_string());
    let company = find_id(&st, "cdm_company", "cdm_companycode", "usmf");
    assert_eq!(s(&cand, "_mshr_dataareaid_id_value"), company.to_string());

    let pid = Uuid::parse_str(s(&cand, "_mshr_fk_person_id_value")).expect("person id");
    let person = get(&st, PERSON, pid).clone();
    assert_eq!(s(&person, "mshr_name"), "Evelyn Chambers");
    assert_eq!(s(&cand, "mshr_partynumber"), s(&person, "mshr_partynumber"));
    assert!(s(&person, "mshr_partynumber").starts_with("HR"));
    let party = s(&person, "mshr_partynumber");

    let skills = st
        .table("mshr_hcmpersonskillentity")
        .expect("t")
        .children_of("_mshr_fk_person_id_value", &pid)
        .into_iter()
        .map(|r| r.to_row())
        .collect::<Vec<Row>>();
    assert_eq!(skills.len(), 2);
    for k in &skills {
        assert_eq!(s(k, "mshr_partynumber"), party);
        assert!(!s(k, "_mshr_fk_skill_id_value").is_empty());
        assert!(!s(k, "_mshr_fk_ratinglevel_id_value").is_empty());
        assert!(k["_mshr_fk_ratinglevelexaminer_id_value"].is_null());
        assert!(s(k, "mshr_primaryfield").starts_with(&format!("{party} | Actual | ")));
    }
    let edu = st
        .table("mshr_hcmpersoneducationentity")
        .expect("t")
        .children_of("_mshr_fk_person_id_value", &pid)
        .into_iter()
        .map(|r| r.to_row())
        .collect::<Vec<Row>>();
    assert_eq!(edu.len(), 1);
    let degree = find_id(
        &st,
        "mshr_hcmeducationdegreeentity",
        "mshr_educationlevelid",
        "Bachelor",
    );
    assert_eq!(
        s(&edu[0], "_mshr_fk_educationlevel_id_value"),
        degree.to_string()
    );
    assert_eq!(
        s(&edu[0], "mshr_primaryfield"),
        format!("{party} | Business Mgmt | Cottonwood Univ | Bachelor")
    );
}

fn assert_err(r: Result<impl std::fmt::Debug, DvError>, status: u16, code: &str, needle: &str) {
    let e = r.expect_err("should fail");
    assert_eq!(e.status.as_u16(), status, "{e}");
    assert_eq!(e.code, code, "{e}");
    assert!(e.message.contains(needle), "{e}");
}

#[test]
fn unknown_natural_key_fails_and_inserts_nothing() {
    let mut st = store();
    let before = counts(&st);
    let mut body = documented_example();
    body["mshr_FK_Person_id"]["mshr_FK_HcmPersonSkillEntity_Person"][1]["mshr_skillid"] =
        json!("Juggling");
    assert_err(
        create(&mut st, def(CANDIDATES), &body, BASE),
        400,
        "0x80040265",
        "'Juggling'",
    );
    assert_eq!(counts(&st), before);
    let body = json!({"mshr_recruitingrequestid": "USMF-999999", "mshr_firstname": "A"});
    assert_err(
        create(&mut st, def(CANDIDATES), &body, BASE),
        400,
        "0x80040265",
        "USMF-999999",
    );
    assert_eq!(counts(&st), before);
}

#[test]
fn validation_errors() {
    let mut st = store();
    let c = def(CANDIDATES);
    let base = json!({"mshr_firstname": "Ann"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    assert_err(create(&mut st, c, &with("mshr_nickname", json!("x")), BASE), 400, "0x0",
        "Invalid property 'mshr_nickname' was found in entity 'Microsoft.Dynamics.CRM.mshr_hcmcandidatetohireentity'");
    assert_err(
        create(
            &mut st,
            c,
            &with("_mshr_fk_person_id_value", json!(Uuid::nil())),
            BASE,
        ),
        400,
        "0x0",
        "Navigation properties",
    );
    assert_err(
        create(&mut st, c, &with("mshr_gender", json!("Female")), BASE),
        400,
        "0x80048d19",
        "Edm.Int32",
    );
    assert_err(
        create(
            &mut st,
            c,
            &with("mshr_birthdate", json!("not a date")),
            BASE,
        ),
        400,
        "0x80048d19",
        "not a date",
    );
    assert_err(
        create(&mut st, c, &with("mshr_firstname", json!(12)), BASE),
        400,
        "0x80048d19",
        "Edm.String",
    );
    assert_err(
        create(&mut st, c, &with("mshr_gender", json!(BASE + 4)), BASE),
        400,
        "0x8004431A",
        "picklist value is out of the range",
    );
    assert_err(
        create(&mut st, c, &with("mshr_gender", json!(1)), BASE),
        400,
        "0x8004431A",
        "out of the range",
    );
    assert_err(
        create(&mut st, c, &json!({"mshr_lastname": "Only"}), BASE),
        400,
        "0x80040265",
        "mshr_firstname",
    );
    assert_err(
        create(&mut st, c, &json!([1, 2]), BASE),
        400,
        "0x80048d19",
        "JSON object",
    );
    // A column name with @odata.bind.
    assert_err(
        create(
            &mut st,
            c,
            &with(
                "mshr_partynumber@odata.bind",
                json!("/mshr_dirpersonentities(00000000-0000-0000-0000-000000000001)"),
            ),
            BASE,
        ),
        400,
        "0x80048d19",
        "undeclared property 'mshr_partynumber'",
    );
    assert_err(
        create(
            &mut st,
            c,
            &with(
                "mshr_fk_person_id@odata.bind",
                json!("/mshr_dirpersonentities(00000000-0000-0000-0000-000000000001)"),
            ),
            BASE,
        ),
        400,
        "0x80048d19",
        "undeclared property",
    );
    assert_err(
        create(
            &mut st,
            c,
            &with(
                "mshr_FK_Person_id@odata.bind",
                json!("/mshr_dirpersonentities(00000000-0000-0000-0000-000000000001)"),
            ),
            BASE,
        ),
        404,
        "0x80040217",
        "Does Not Exist",
    );
    assert_err(
        create(
            &mut st,
            c,
            &with(
                "mshr_FK_Person_id@odata.bind",
                json!("/mshr_hcmskillentities(00000000-0000-0000-0000-000000000001)"),
            ),
            BASE,
        ),
        400,
        "0x80048d19",
        "entity set",
    );
    let rr = json!({"mshr_jobid": "Accountant", "mshr_estimatedstartdate": "2025-09-01"});
    assert_err(
        create(&mut st, def("mshr_hcmrecruitingrequestentities"), &rr, BASE),
        400,
        "0x80040265",
        "mshr_description",
    );
}

#[test]
fn other_option_base() {
    let base = 1_000;
    let mut st = seed(&SeedOptions {
        scale: 20,
        option_base: base,
    });
    let c = def(CANDIDATES);
    assert_err(
        create(
            &mut st,
            c,
            &json!({"mshr_firstname": "A", "mshr_gender": 200000001}),
            base,
        ),
        400,
        "0x8004431A",
        "range",
    );
    let id = create(
        &mut st,
        c,
        &json!({"mshr_firstname": "A", "mshr_gender": base + 2}),
        base,
    )
    .expect("create");
    assert_eq!(
        get(&st, "mshr_hcmcandidatetohireentity", id)["mshr_applicantintegrationresult"],
        json!(base)
    );
}

#[test]
fn implicit_person_and_internal_candidate() {
    let mut st = store();
    let c = def(CANDIDATES);
    let persons = count(&st, PERSON);
    let body = json!({"mshr_firstname": "Ingrid", "mshr_lastname": "Hansen", "mshr_birthdate": "1990-05-17",
                      "mshr_dataareaid": "NOMF", "mshr_gender": BASE + 2});
    let id = create(&mut st, c, &body, BASE).expect("implicit");
    assert_eq!(count(&st, PERSON), persons + 1);
    let cand = get(&st, "mshr_hcmcandidatetohireentity", id).clone();
    assert_eq!(s(&cand, "mshr_dataareaid"), "nomf");
    let pid = Uuid::parse_str(s(&cand, "_mshr_fk_person_id_value")).expect("pid");
    let person = get(&st, PERSON, pid);
    assert_eq!(s(person, "mshr_name"), "Ingrid Hansen");
    assert_eq!(person["mshr_birthyear"], json!(1990));
    assert_eq!(person["mshr_birthmonth"], json!(BASE + 5));
    let party = s(person, "mshr_partynumber").to_string();

    // Internal candidate: the existing person's party number, no personal data.
    let id2 = create(&mut st, c, &json!({"mshr_partynumber": party}), BASE).expect("internal");
    assert_eq!(count(&st, PERSON), persons + 1);
    let cand2 = get(&st, "mshr_hcmcandidatetohireentity", id2);
    assert_eq!(s(cand2, "_mshr_fk_person_id_value"), pid.to_string());
    assert_eq!(s(cand2, "mshr_firstname"), "Ingrid");

    // Bind to an existing person (leading slash optional).
    let bind = json!({"mshr_FK_Person_id@odata.bind": format!("mshr_dirpersonentities({pid})")});
    let id3 = create(&mut st, c, &bind, BASE).expect("bind");
    assert_eq!(
        s(
            get(&st, "mshr_hcmcandidatetohireentity", id3),
            "mshr_partynumber"
        ),
        party
    );
    assert_eq!(count(&st, PERSON), persons + 1);
}

#[test]
fn recruiting_request_with_children() {
    let mut st = store();
    let body = json!({
        "mshr_dataareaid": "usmf", "mshr_description": "Accountant", "mshr_jobid": "Accountant",
        "mshr_estimatedstartdate": "2025-09-01", "mshr_compensationlevelid": "G04",
        "mshr_hiringmanagerpersonnelnumber": "000301",
        "mshr_FK_HcmRecruitingRequestSkillEntity_RecruitingRequest": [{"mshr_skillid": "Excel", "mshr_ratinglevelid": "3"}],
        "mshr_FK_HcmRecruitingRequestEducationEntity_RecruitingRequest": [{"mshr_educationlevelid": "Bachelor", "mshr_educationdisciplineid": "Accounting"}]
    });
    let id = create(
        &mut st,
        def("mshr_hcmrecruitingrequestentities"),
        &body,
        BASE,
    )
    .expect("rr");
    let rr = get(&st, RR, id).clone();
    let number = s(&rr, "mshr_recruitingrequestid").to_string();
    assert!(number.starts_with("USMF-"));
    assert_eq!(s(&rr, "mshr_primaryfield"), number);
    assert_eq!(s(&rr, "mshr_titleid"), "Accountant");
    assert_eq!(rr["mshr_status"], json!(BASE));
    assert_eq!(rr["mshr_compensationlowthreshold"], json!(56000.0));
    for col in [
        "_mshr_fk_job_id_value",
        "_mshr_fk_title_id_value",
        "_mshr_fk_jobtype_id_value",
        "_mshr_fk_compensationlevel_id_value",
        "_mshr_fk_hiringmanager_id_value",
        "_mshr_dataareaid_id_value",
    ] {
        assert!(!s(&rr, col).is_empty(), "{col}");
    }
    let skills = st
        .table("mshr_hcmrecruitingrequestskillentity")
        .expect("t")
        .children_of("_mshr_fk_recruitingrequest_id_value", &id)
        .into_iter()
        .map(|r| r.to_row())
        .collect::<Vec<Row>>();
    assert_eq!(skills.len(), 1);
    assert_eq!(s(&skills[0], "mshr_recruitingrequestid"), number);
    assert_eq!(s(&skills[0], "mshr_dataareaid"), "usmf");
    assert_eq!(s(&skills[0], "mshr_skilldescription"), "Microsoft Excel");
    assert_eq!(s(&skills[0], "mshr_ratingleveldescription"), "Intermediate");
    assert_eq!(
        s(&skills[0], "mshr_primaryfield"),
        format!("{number} | Excel")
    );

    // A position by natural keys: the request number resolves the lookup and the company.
    let pos = json!({"mshr_recruitingrequestid": number, "mshr_positionid": "000601"});
    let pid = create(
        &mut st,
        def("mshr_hcmrecruitingrequestpositionentities"),
        &pos,
        BASE,
    )
    .expect("pos");
    let p = get(&st, "mshr_hcmrecruitingrequestpositionentity", pid);
    assert_eq!(s(p, "_mshr_fk_recruitingrequest_id_value"), id.to_string());
    assert_eq!(s(p, "mshr_dataareaid"), "usmf");
    assert!(!s(p, "mshr_departmentnumber").is_empty());
    // Position 000601 belongs to usmf: from a gbsi request it is unknown.
    let gbsi = json!({"mshr_recruitingrequestid": "GBSI-000001", "mshr_positionid": "000601"});
    assert_err(
        create(
            &mut st,
            def("mshr_hcmrecruitingrequestpositionentities"),
            &gbsi,
            BASE,
        ),
        400,
        "0x80040265",
        "000601",
    );
}

#[test]
fn update_and_delete() {
    let mut st = store();
    let c = def(CANDIDATES);
    let id = create(&mut st, c, &documented_example(), BASE).expect("create");
    let before = get(&st, "mshr_hcmcandidatetohireentity", id).clone();
    update(
        &mut st,
        c,
        id,
        &json!({"mshr_applicantintegrationresult": BASE + 1, "mshr_comments": "hired"}),
        BASE,
    )
    .expect("patch");
    let after = get(&st, "mshr_hcmcandidatetohireentity", id).clone();
    assert_eq!(after["mshr_applicantintegrationresult"], json!(BASE + 1));
    assert_eq!(s(&after, "mshr_comments"), "hired");
    for (k, v) in &before {
        if k != "mshr_applicantintegrationresult" && k != "mshr_comments" {
            assert_eq!(&after[k], v, "{k} changed");
        }
    }
    // A natural key re-resolves its lookup; an unknown one fails without changes.
    update(
        &mut st,
        c,
        id,
        &json!({"mshr_donothirereasoncodeid": "Salary"}),
        BASE,
    )
    .expect("reason");
    let reason = find_id(
        &st,
        "mshr_hcmreasoncodeentity",
        "mshr_reasoncodeid",
        "Salary",
    );
    assert_eq!(
        s(
            get(&st, "mshr_hcmcandidatetohireentity", id),
            "_mshr_fk_reasoncode_id_value"
        ),
        reason.to_string()
    );
    assert_err(
        update(&mut st, c, id, &json!({"mshr_positionid": "999999"}), BASE),
        400,
        "0x80040265",
        "999999",
    );
    assert_err(
        update(&mut st, c, id, &json!({"mshr_gender": 7}), BASE),
        400,
        "0x8004431A",
        "range",
    );
    assert_err(
        update(&mut st, c, id, &json!({"bogus": 1}), BASE),
        400,
        "0x0",
        "Invalid property 'bogus'",
    );
    let missing = Uuid::from_u128(42);
    assert_err(
        update(&mut st, c, missing, &json!({"mshr_comments": "x"}), BASE),
        404,
        "0x80040217",
        "Does Not Exist",
    );

    delete(&mut st, c, id).expect("delete");
    assert!(st
        .table("mshr_hcmcandidatetohireentity")
        .and_then(|t| t.get(&id))
        .is_none());
    assert_err(delete(&mut st, c, id), 404, "0x80040217", "Does Not Exist");
}

#[test]
fn person_update_renames() {
    let mut st = store();
    let p = def("mshr_dirpersonentities");
    let id = create(
        &mut st,
        p,
        &json!({"mshr_firstname": "Kari", "mshr_lastname": "Nilsen"}),
        BASE,
    )
    .expect("person");
    update(
        &mut st,
        p,
        id,
        &json!({"mshr_middlename": "Marie", "mshr_partynumber": "ignored"}),
        BASE,
    )
    .expect("patch");
    let row = get(&st, PERSON, id);
    assert_eq!(s(row, "mshr_name"), "Kari Marie Nilsen");
    assert!(s(row, "mshr_partynumber").starts_with("HR"));
    assert_err(
        update(&mut st, p, id, &json!({"mshr_firstname": null}), BASE),
        400,
        "0x80040265",
        "mshr_firstname",
    );
}
