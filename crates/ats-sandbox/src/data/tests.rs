use std::collections::HashSet;

use serde_json::Value;

use super::*;
use crate::schema::ColType;

fn small() -> Store {
    seed(&SeedOptions::default())
}

/// The table's rows as JSON objects. Stored rows are compact; the tests read them as the API
/// would, and keep them for the test's life (leaked: a few MB per test process).
fn rows(store: &Store, logical: &str) -> &'static [Row] {
    let all: Vec<Row> = store
        .table(logical)
        .expect("table")
        .rows()
        .map(|r| r.to_row())
        .collect();
    Box::leak(all.into_boxed_slice())
}

fn find(store: &Store, logical: &str, col: &str, v: &str) -> Option<&'static Row> {
    rows(store, logical)
        .iter()
        .find(|r| r.get(col).and_then(Value::as_str) == Some(v))
}

fn s<'a>(row: &'a Row, col: &str) -> &'a str {
    row.get(col).and_then(Value::as_str).unwrap_or_default()
}

fn target(store: &Store, logical: &str, row: &Row, lookup: &str) -> Option<&'static Row> {
    let id = Uuid::parse_str(s(row, lookup)).ok()?;
    let row = store.table(logical)?.get(&id)?.to_row();
    Some(Box::leak(Box::new(row)))
}

#[test]
fn seed_is_deterministic() {
    let a = small();
    let b = small();
    for t in schema().tables() {
        assert_eq!(
            rows(&a, t.logical_name),
            rows(&b, t.logical_name),
            "{}",
            t.logical_name
        );
    }
}

/// Every row has exactly the schema's columns, typed as the schema says, with unique HR-style keys
/// and lookups pointing at existing rows of the target table.
fn check_integrity(store: &Store, base: i64) {
    for def in schema().tables() {
        let mut ids = HashSet::new();
        for row in rows(store, def.logical_name) {
            let keys: Vec<&str> = row.keys().map(String::as_str).collect();
            let cols: Vec<&str> = def.columns.iter().map(|c| c.name).collect();
            assert_eq!(keys, cols, "{} columns", def.logical_name);
            let id = s(row, &def.primary_id);
            assert!(ids.insert(id.to_string()), "duplicate key {id}");
            if def.logical_name != "cdm_company" {
                assert!(
                    id.starts_with("0000") && &id[8..19] == "-0000-0000-",
                    "{id}"
                );
            }
            for c in &def.columns {
                let v = &row[c.name];
                if v.is_null() {
                    continue;
                }
                match c.ty {
                    ColType::Lookup(t) => assert!(
                        target(store, t, row, c.name).is_some(),
                        "{}.{} → {t} dangling",
                        def.logical_name,
                        c.name
                    ),
                    ColType::OptionSet(set) => {
                        let n = v.as_i64().expect("option int");
                        assert!(option_label(base, set, n).is_some(), "{}={n}", c.name);
                    }
                    ColType::Date => {
                        let d = v.as_str().expect("date string");
                        assert!(d.len() == 20 && d.ends_with("T00:00:00Z"), "{d}");
                    }
                    ColType::Decimal | ColType::Int => assert!(v.is_number(), "{}", c.name),
                    ColType::String | ColType::Guid => assert!(v.is_string(), "{}", c.name),
                }
            }
            if def.primary_name == "mshr_primaryfield" {
                assert!(
                    !s(row, "mshr_primaryfield").is_empty(),
                    "{}",
                    def.logical_name
                );
            }
        }
    }
}

#[test]
fn rows_are_complete_and_lookups_resolve() {
    check_integrity(&small(), 200_000_000);
}

#[test]
fn option_base_is_respected() {
    let base = 100_000;
    let store = seed(&SeedOptions {
        scale: 50,
        option_base: base,
    });
    check_integrity(&store, base);
    let statuses: HashSet<i64> = rows(&store, "mshr_hcmrecruitingrequestentity")
        .iter()
        .filter_map(|r| r["mshr_status"].as_i64())
        .collect();
    assert!(statuses.iter().all(|v| (base..base + 7).contains(v)));
}

#[test]
fn requests_cover_every_status_and_company() {
    let store = small();
    let rr = rows(&store, "mshr_hcmrecruitingrequestentity");
    assert_eq!(rr.len(), 500);
    for i in 0..7 {
        let n = rr
            .iter()
            .filter(|r| r["mshr_status"].as_i64() == Some(200_000_000 + i))
            .count();
        assert!(n >= 5, "status {i}: {n}");
    }
    for c in ["USMF", "GBSI", "NOMF"] {
        let mut numbers: Vec<&str> = rr
            .iter()
            .map(|r| s(r, "mshr_recruitingrequestid"))
            .filter(|n| n.starts_with(c))
            .collect();
        numbers.sort();
        assert!(numbers.len() > 50, "{c}");
        assert_eq!(numbers[0], format!("{c}-000001"));
        assert_eq!(
            numbers[numbers.len() - 1],
            format!("{c}-{:06}", numbers.len())
        );
    }
}

#[test]
fn request_children_are_consistent() {
    let store = small();
    let pos = rows(&store, "mshr_hcmrecruitingrequestpositionentity");
    let skills = rows(&store, "mshr_hcmrecruitingrequestskillentity");
    assert!(!pos.is_empty() && !skills.is_empty());
    for p in pos {
        let rr = target(
            &store,
            "mshr_hcmrecruitingrequestentity",
            p,
            "_mshr_fk_recruitingrequest_id_value",
        )
        .expect("rr");
        assert_eq!(
            s(p, "mshr_recruitingrequestid"),
            s(rr, "mshr_recruitingrequestid")
        );
        assert_eq!(s(p, "mshr_dataareaid"), s(rr, "mshr_dataareaid"));
        let position = target(
            &store,
            "mshr_hcmpositionv2entity",
            p,
            "_mshr_fk_position_id_value",
        )
        .expect("position");
        assert_eq!(s(p, "mshr_positionid"), s(position, "mshr_positionid"));
        assert_eq!(s(position, "mshr_dataareaid"), s(rr, "mshr_dataareaid"));
        assert_eq!(
            s(position, "_mshr_fk_job_id_value"),
            s(rr, "_mshr_fk_job_id_value")
        );
        assert_eq!(
            s(p, "mshr_primaryfield"),
            format!(
                "{} | {}",
                s(rr, "mshr_recruitingrequestid"),
                s(p, "mshr_positionid")
            )
        );
    }
    for k in skills {
        let skill =
            target(&store, "mshr_hcmskillentity", k, "_mshr_fk_skill_id_value").expect("skill");
        assert_eq!(s(k, "mshr_skilldescription"), s(skill, "mshr_description"));
        let level = target(
            &store,
            "mshr_hcmratinglevelentity",
            k,
            "_mshr_fk_ratinglevel_id_value",
        )
        .expect("level");
        assert_eq!(s(k, "mshr_ratinglevelid"), s(level, "mshr_ratinglevelid"));
        assert_eq!(
            s(k, "mshr_ratingleveldescription"),
            s(level, "mshr_description")
        );
    }
    for rr in rows(&store, "mshr_hcmrecruitingrequestentity") {
        let job = target(&store, "mshr_hcmjobentity", rr, "_mshr_fk_job_id_value").expect("job");
        assert_eq!(s(rr, "mshr_jobid"), s(job, "mshr_jobid"));
        let manager = target(
            &store,
            "mshr_hcmworkerbaseentity",
            rr,
            "_mshr_fk_hiringmanager_id_value",
        )
        .expect("manager");
        assert_eq!(
            s(rr, "mshr_hiringmanagerpersonnelnumber"),
            s(manager, "mshr_personnelnumber")
        );
        let comp = target(
            &store,
            "mshr_hcmjobcompensationentity",
            rr,
            "_mshr_fk_compensationlevel_id_value",
        )
        .expect("comp");
        assert_eq!(
            s(rr, "mshr_compensationlevelid"),
            s(comp, "mshr_compensationlevelid")
        );
        assert_eq!(s(rr, "mshr_jobid"), s(comp, "mshr_jobid"));
        let low = rr["mshr_compensationlowthreshold"].as_f64().expect("low");
        let high = rr["mshr_compensationhighthreshold"].as_f64().expect("high");
        assert!(low < high);
    }
}

#[test]
fn documented_example_targets_exist() {
    let store = small();
    let rr = find(
        &store,
        "mshr_hcmrecruitingrequestentity",
        "mshr_recruitingrequestid",
        "USMF-000141",
    )
    .expect("USMF-000141");
    let id = s(rr, "mshr_hcmrecruitingrequestentityid").to_string();
    let pos = find(
        &store,
        "mshr_hcmpositionv2entity",
        "mshr_positionid",
        "000601",
    )
    .expect("000601");
    assert_eq!(s(pos, "mshr_dataareaid"), "usmf");
    assert!(rows(&store, "mshr_hcmrecruitingrequestpositionentity")
        .iter()
        .any(|p| {
            s(p, "_mshr_fk_recruitingrequest_id_value") == id && s(p, "mshr_positionid") == "000601"
        }));
    for skill in ["CustFocus", "CashFlow"] {
        assert!(find(&store, "mshr_hcmskillentity", "mshr_skillid", skill).is_some());
    }
    assert!(find(
        &store,
        "mshr_hcmeducationdegreeentity",
        "mshr_educationlevelid",
        "Bachelor"
    )
    .is_some());
    assert!(find(
        &store,
        "mshr_hcmeducationinstitutionentity",
        "mshr_educationinstitutionid",
        "Cottonwood Univ"
    )
    .is_some());
    assert!(find(
        &store,
        "mshr_hcmeducationdisciplineentity",
        "mshr_educationdisciplineid",
        "Business Mgmt"
    )
    .is_some());
}

#[test]
fn norwegian_company_is_norwegian() {
    let store = small();
    let nomf = find(&store, "cdm_company", "cdm_companycode", "nomf").expect("nomf");
    assert_eq!(s(nomf, "cdm_name"), "Contoso Norge AS");
    let no_jobs: HashSet<&str> = reference::JOBS
        .iter()
        .filter(|j| j.norwegian)
        .map(|j| j.id)
        .collect();
    let nomf_rr: Vec<&Row> = rows(&store, "mshr_hcmrecruitingrequestentity")
        .iter()
        .filter(|r| s(r, "mshr_dataareaid") == "nomf")
        .collect();
    assert!(nomf_rr.iter().all(|r| no_jobs.contains(s(r, "mshr_jobid"))));
    assert!(nomf_rr
        .iter()
        .any(|r| s(r, "mshr_description") == "Utvikler"));
    let cities: HashSet<&str> = rows(&store, "mshr_hcmrecruitingrequestlocationentity")
        .iter()
        .filter(|r| s(r, "mshr_dataareaid") == "nomf")
        .map(|r| s(r, "mshr_city"))
        .collect();
    assert!(cities.contains("Oslo") && cities.contains("Bergen") && cities.contains("Trondheim"));
}

#[test]
fn candidates_cover_results_and_person_children() {
    let store = small();
    let cands = rows(&store, "mshr_hcmcandidatetohireentity");
    assert_eq!(cands.len(), candidates::CANDIDATES);
    let results: HashSet<i64> = cands
        .iter()
        .filter_map(|c| c["mshr_applicantintegrationresult"].as_i64())
        .collect();
    assert_eq!(results.len(), 4);
    let kids = [
        "mshr_hcmpersonskillentity",
        "mshr_hcmpersoneducationentity",
        "mshr_hcmpersonprofessionalexperienceentity",
        "mshr_hcmpersonaddressentity",
        "mshr_dirpartycontactentity",
        "mshr_hcmpersoncertificateentity",
        "mshr_hcmpersonscreeningentity",
        "mshr_hcmpersonidentificationnumberentity",
    ];
    for c in cands {
        let person = target(
            &store,
            "mshr_dirpersonentity",
            c,
            "_mshr_fk_person_id_value",
        )
        .expect("person");
        assert_eq!(s(c, "mshr_partynumber"), s(person, "mshr_partynumber"));
        assert_eq!(s(c, "mshr_firstname"), s(person, "mshr_firstname"));
        let pid = Uuid::parse_str(s(person, "mshr_dirpersonentityid")).expect("id");
        for k in kids {
            let children = store
                .table(k)
                .expect("t")
                .children_of("_mshr_fk_person_id_value", &pid)
                .into_iter()
                .map(|r| r.to_row())
                .collect::<Vec<Row>>();
            assert!(!children.is_empty(), "{k}");
            assert!(children
                .iter()
                .all(|r| s(r, "mshr_partynumber") == s(person, "mshr_partynumber")));
        }
    }
}

#[test]
fn primary_fields_follow_the_docs() {
    let store = small();
    let e = rows(&store, "mshr_hcmrecruitingrequesteducationentity")
        .first()
        .expect("education");
    assert_eq!(
        s(e, "mshr_primaryfield"),
        format!(
            "{} | {} | {}",
            s(e, "mshr_recruitingrequestid"),
            s(e, "mshr_educationlevelid"),
            s(e, "mshr_educationdisciplineid")
        )
    );
    let skill = find(&store, "mshr_hcmskillentity", "mshr_skillid", "Present").expect("skill");
    assert_eq!(s(skill, "mshr_primaryfield"), "Present");
}

#[test]
fn guid_shape() {
    assert_eq!(
        hr_guid(0x0d6b, 0x0050_0100_0000).to_string(),
        "00000d6b-0000-0000-0000-005001000000"
    );
}

/// Run with `cargo test --release -- --ignored large_scale` to time the 100k build.
#[test]
#[ignore]
fn large_scale_builds_quickly() {
    let t = std::time::Instant::now();
    let store = seed(&SeedOptions {
        scale: 100_000,
        option_base: 200_000_000,
    });
    assert_eq!(
        rows(&store, "mshr_hcmrecruitingrequestentity").len(),
        100_000
    );
    eprintln!("100k seed: {:?}", t.elapsed());
}
