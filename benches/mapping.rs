//! Criterion benchmark of the row → DTO mapping for a `page_size=50` page (labels + lookups
//! resolved), of serialising it, and of the whole path from the upstream body (parse + map +
//! serialise): the gateway's own CPU cost per partner page.

use ats_gateway::model::recruiting_request::{map_row, Embed, Labels, RequestRow};
use ats_gateway::resolve::lang::Lang;
use ats_gateway::resolve::lookups::{LookupRef, Resolved};
use ats_gateway::resolve::options::parse_option_set;
use ats_gateway::upstream::RawPage;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use std::hint::black_box;
use uuid::Uuid;

fn option_set(n: i64) -> ats_gateway::resolve::options::OptionSetInfo {
    let opts: Vec<_> = (0..n)
        .map(|i| json!({"Value": 200_000_000 + i, "ExternalValue": format!("Value{i}"),
            "Label": {"LocalizedLabels": [{"Label": format!("Value {i}"), "LanguageCode": 1033}, {"Label": format!("Verdi {i}"), "LanguageCode": 1044}]}}))
        .collect();
    parse_option_set("x", &json!({ "Options": opts })).expect("valid")
}

const FV: &str = "@OData.Community.Display.V1.FormattedValue";
const LLN: &str = "@Microsoft.Dynamics.CRM.lookuplogicalname";

/// A page body as Dataverse sends it (annotations included), and the lookups it resolves to.
fn page() -> (Vec<u8>, Resolved) {
    let mut resolved = Resolved::default();
    let mut rows = Vec::new();
    let targets = [
        ("_mshr_dataareaid_id_value", "cdm_company"),
        (
            "_mshr_fk_hiringmanager_id_value",
            "mshr_hcmworkerbaseentity",
        ),
        ("_mshr_fk_recruiter_id_value", "mshr_dirpersonentity"),
        ("_mshr_fk_job_id_value", "mshr_hcmjobentity"),
        ("_mshr_fk_title_id_value", "mshr_hcmtitleentity"),
        ("_mshr_fk_jobtype_id_value", "mshr_hcmjobtypeentity"),
        (
            "_mshr_fk_recruitingrequestlocation_id_value",
            "mshr_hcmrecruitingrequestlocationentity",
        ),
    ];
    for i in 0..50u128 {
        let mut row = json!({
            "@odata.etag": "W/\"1234\"",
            "mshr_hcmrecruitingrequestentityid": Uuid::from_u128(10_000 + i).to_string(),
            "mshr_recruitingrequestid": format!("USMF-{i:06}"), "mshr_dataareaid": "usmf",
            "mshr_description": "Senior developer", "mshr_externaldescription": "Join us: \"great\" colleagues",
            "mshr_status": 200_000_005, "mshr_jobfunctionid": "0100",
            "mshr_estimatedstartdate": "2026-01-04T00:00:00Z", "mshr_defaultfulltimeequivalency": 1.0,
            "mshr_regulatoryjobcategory": 200_000_003, "mshr_exemptstatus": 200_000_001,
            "mshr_compensationlowthreshold": 70000.0, "mshr_compensationcontrolpoint": 80000.0, "mshr_compensationhighthreshold": 92500.0,
            "mshr_compensationlevelid": "G05", "mshr_comments": null
        });
        for col in [
            "mshr_status",
            "mshr_regulatoryjobcategory",
            "mshr_exemptstatus",
        ] {
            row[format!("{col}{FV}")] = json!("Active");
        }
        for (k, (col, table)) in targets.iter().enumerate() {
            let id = Uuid::from_u128(i * 16 + k as u128 + 1);
            row[*col] = json!(id.to_string());
            row[format!("{col}{FV}")] = json!(format!("C{k}"));
            row[format!("{col}{LLN}")] = json!(table);
            resolved.insert(
                table,
                LookupRef {
                    id,
                    code: Some(format!("C{k}").into()),
                    name: Some(format!("Name {k}").into()),
                },
            );
        }
        rows.push(row);
    }
    let body = json!({
        "@odata.context": "https://org.crm.dynamics.com/api/data/v9.2/$metadata#mshr_hcmrecruitingrequestentities",
        "value": rows,
        "@odata.nextLink": "https://org.crm.dynamics.com/api/data/v9.2/mshr_hcmrecruitingrequestentities?$skiptoken=x"
    });
    (serde_json::to_vec(&body).expect("json"), resolved)
}

fn bench(c: &mut Criterion) {
    let (body, resolved) = page();
    let raw = RawPage::new(body.clone().into());
    let parsed = raw.parse::<RequestRow>().expect("page");
    let rows = &parsed.rows;
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
    c.bench_function("parse + map + serialise a page of 50", |b| {
        b.iter(|| {
            let page = black_box(&raw).parse::<RequestRow>().expect("page");
            let out: Vec<_> = page
                .rows
                .iter()
                .filter_map(|r| map_row(r, Embed::default(), &labels, &resolved))
                .collect();
            black_box(serde_json::to_vec(&out).expect("json"))
        })
    });
    // The same body into `Value` maps, as rows were read before typed rows (for comparison).
    c.bench_function("parse 50 rows into Value maps", |b| {
        b.iter(|| black_box(serde_json::from_slice::<Value>(black_box(&body)).expect("json")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
