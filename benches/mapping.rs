//! Criterion benchmark of the row → DTO mapping for a `page_size=50` page (labels + lookups
//! resolved), and of serialising it: the gateway's own CPU cost per partner page.

use ats_gateway::model::recruiting_request::{map_row, Embed, Labels, Row};
use ats_gateway::resolve::lang::Lang;
use ats_gateway::resolve::lookups::{LookupRef, Resolved};
use ats_gateway::resolve::options::parse_option_set;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use std::hint::black_box;
use uuid::Uuid;

fn option_set(n: i64) -> ats_gateway::resolve::options::OptionSetInfo {
    let opts: Vec<_> = (0..n)
        .map(|i| json!({"Value": 200_000_000 + i, "ExternalValue": format!("Value{i}"),
            "Label": {"LocalizedLabels": [{"Label": format!("Value {i}"), "LanguageCode": 1033}, {"Label": format!("Verdi {i}"), "LanguageCode": 1044}]}}))
        .collect();
    parse_option_set("x", &json!({ "Options": opts })).expect("valid")
}

fn page() -> (Vec<Row>, Resolved) {
    let mut resolved = Resolved::default();
    let mut rows = Vec::new();
    for i in 0..50u128 {
        let ids: Vec<Uuid> = (0..7).map(|k| Uuid::from_u128(i * 16 + k + 1)).collect();
        for (k, t) in [
            "cdm_company",
            "mshr_hcmworkerbaseentity",
            "mshr_dirpersonentity",
            "mshr_hcmjobentity",
            "mshr_hcmtitleentity",
            "mshr_hcmjobtypeentity",
            "mshr_hcmrecruitingrequestlocationentity",
        ]
        .iter()
        .enumerate()
        {
            resolved.insert(
                t,
                LookupRef {
                    id: ids[k],
                    code: Some(format!("C{k}")),
                    name: Some(format!("Name {k}")),
                },
            );
        }
        let row = json!({
            "mshr_hcmrecruitingrequestentityid": Uuid::from_u128(10_000 + i).to_string(),
            "mshr_recruitingrequestid": format!("USMF-{i:06}"), "mshr_dataareaid": "usmf",
            "_mshr_dataareaid_id_value": ids[0].to_string(), "mshr_description": "Senior developer", "mshr_externaldescription": "Join us",
            "mshr_status": 200_000_005, "_mshr_fk_hiringmanager_id_value": ids[1].to_string(), "_mshr_fk_recruiter_id_value": ids[2].to_string(),
            "_mshr_fk_job_id_value": ids[3].to_string(), "_mshr_fk_title_id_value": ids[4].to_string(), "_mshr_fk_jobtype_id_value": ids[5].to_string(),
            "mshr_jobfunctionid": "0100", "_mshr_fk_recruitingrequestlocation_id_value": ids[6].to_string(),
            "mshr_estimatedstartdate": "2026-01-04T00:00:00Z", "mshr_defaultfulltimeequivalency": 1.0,
            "mshr_regulatoryjobcategory": 200_000_003, "mshr_exemptstatus": 200_000_001,
            "mshr_compensationlowthreshold": 70000.0, "mshr_compensationcontrolpoint": 80000.0, "mshr_compensationhighthreshold": 92500.0,
            "mshr_compensationlevelid": "G05", "mshr_comments": null
        });
        rows.push(row.as_object().cloned().expect("object"));
    }
    (rows, resolved)
}

fn bench(c: &mut Criterion) {
    let (rows, resolved) = page();
    let (status, pstatus, reg, exempt) =
        (option_set(7), option_set(3), option_set(11), option_set(3));
    let labels = Labels {
        status: &status,
        position_status: &pstatus,
        regulatory: &reg,
        exempt: &exempt,
        lang: Lang::NbNo,
    };
    c.bench_function("map 50 recruiting requests", |b| {
        b.iter(|| {
            let out: Vec<_> = rows
                .iter()
                .filter_map(|r| map_row(black_box(r), Embed::default(), &labels, &resolved))
                .collect();
            black_box(out)
        })
    });
    c.bench_function("map + serialise 50 recruiting requests", |b| {
        b.iter(|| {
            let out: Vec<_> = rows
                .iter()
                .filter_map(|r| map_row(black_box(r), Embed::default(), &labels, &resolved))
                .collect();
            black_box(serde_json::to_vec(&out).expect("json"))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
