//! The sandbox's Dataverse Web API, over real HTTP: auth and privilege errors, every query option,
//! paging, annotations in both languages, metadata, writes (deep insert), and each fault knob.

use std::time::{Duration, Instant};

use crate::common;
use crate::common::{emulator, emulator_with, ANNOTATIONS};
use ats_sandbox::config::{RoleConfig, SandboxConfig};
use serde_json::{json, Value};

const RR: &str = "mshr_hcmrecruitingrequestentities";
const FORMATTED: &str = "@OData.Community.Display.V1.FormattedValue";

fn values(v: &Value) -> &Vec<Value> {
    v["value"].as_array().expect("value array")
}

#[tokio::test]
async fn bearer_is_required_and_checked() {
    let emu = emulator().await;
    let resp = emu.http.get(emu.api(RR)).send().await.expect("send");
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        challenge.starts_with("Bearer authorization_uri="),
        "{challenge}"
    );
    assert!(challenge.contains(&format!("resource_id={}/", emu.handle.url)));
    let resp = emu.get(RR, "not-a-jwt", None).await;
    assert_eq!(resp.status(), 401);
    let token = emu.token().await;
    let tampered = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(emu.get(RR, &tampered, None).await.status(), 401);
    assert_eq!(
        emu.get(&format!("{RR}?$top=1"), &token, None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn expired_token_is_refused() {
    let emu = emulator_with(SandboxConfig {
        token_lifetime_secs: 1,
        ..Default::default()
    })
    .await;
    let token = emu.token().await;
    assert_eq!(
        emu.get(&format!("{RR}?$top=1"), &token, None)
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(2100)).await; // the token's own lifetime, not synchronisation
    let resp = emu.get(&format!("{RR}?$top=1"), &token, None).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn missing_privilege_is_403_and_not_generated_is_404() {
    let cfg = SandboxConfig {
        role: RoleConfig {
            read: vec![RR.into()],
            write: vec![],
        },
        not_generated: vec!["mshr_hcmpersonscreeningentities".into()],
        ..Default::default()
    };
    let emu = emulator_with(cfg).await;
    let token = emu.token().await;
    let (status, body) = emu
        .get_json("mshr_hcmcandidatetohireentities", &token, None)
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "0x80040220");
    let msg = body["error"]["message"].as_str().expect("message");
    assert!(
        msg.contains("is missing prvReadmshr_hcmcandidatetohireentity privilege"),
        "{msg}"
    );
    assert!(msg.starts_with("Principal user (Id="), "{msg}");

    let (status, body) = emu
        .get_json("mshr_hcmpersonscreeningentities", &token, None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "0x8006088a");
    assert_eq!(
        body["error"]["message"],
        "Resource not found for the segment 'mshr_hcmpersonscreeningentities'."
    );

    let (status, body) = emu
        .get_json("Mshr_hcmrecruitingrequestentities", &token, None)
        .await;
    assert_eq!(status, 404, "entity set names are case-sensitive");
    assert_eq!(body["error"]["code"], "0x8006088a");

    let (status, body) = emu
        .get_json(
            &format!("{RR}(00000000-0000-0000-0000-000000000001)"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "0x80040217");
    assert_eq!(body["error"]["message"], "mshr_hcmrecruitingrequestentity With Id = 00000000-0000-0000-0000-000000000001 Does Not Exist");

    let resp = emu
        .http
        .post(emu.api(RR))
        .bearer_auth(&token)
        .json(&json!({"mshr_description": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn who_am_i_answers_like_dataverse() {
    let emu = emulator().await;
    let token = emu.token().await;
    let (status, body) = emu.get_json("WhoAmI()", &token, None).await;
    assert_eq!(status, 200);
    assert!(body["@odata.context"]
        .as_str()
        .expect("ctx")
        .ends_with("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"));
    for k in ["BusinessUnitId", "UserId", "OrganizationId"] {
        assert!(uuid::Uuid::parse_str(body[k].as_str().expect(k)).is_ok());
    }
    let resp = emu
        .http
        .post(emu.api("WhoAmI()"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn select_filter_orderby_top_count() {
    let emu = emulator().await;
    let t = emu.token().await;
    let base = emu.config().option_base;
    let active = base + 5;

    // $select returns only those columns plus the primary key.
    let (s, v) = emu
        .get_json(
            &format!("{RR}?$select=mshr_recruitingrequestid,mshr_status&$top=3"),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let rows = values(&v);
    assert_eq!(rows.len(), 3);
    let keys: Vec<&String> = rows[0].as_object().expect("obj").keys().collect();
    assert_eq!(
        keys,
        vec![
            "@odata.etag",
            "mshr_hcmrecruitingrequestentityid",
            "mshr_recruitingrequestid",
            "mshr_status"
        ]
    );
    assert!(v["@odata.context"]
        .as_str()
        .expect("ctx")
        .ends_with("#mshr_hcmrecruitingrequestentities(mshr_recruitingrequestid,mshr_status)"));

    // $filter eq on an option set + $count.
    let (s, v) = emu
        .get_json(
            &format!("{RR}?$select=mshr_status&$filter=mshr_status%20eq%20{active}&$count=true"),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let n = v["@odata.count"].as_u64().expect("count");
    assert!(n > 0 && n < 500);
    assert!(values(&v).iter().all(|r| r["mshr_status"] == active));
    assert_eq!(values(&v).len() as u64, n);

    // and/or/not + parentheses + contains + startswith.
    let q = format!("{RR}?$select=mshr_recruitingrequestid,mshr_dataareaid,mshr_status&$filter=(mshr_dataareaid%20eq%20'nomf'%20or%20mshr_dataareaid%20eq%20'gbsi')%20and%20not%20(mshr_status%20eq%20{active})");
    let (s, v) = emu.get_json(&q, &t, None).await;
    assert_eq!(s, 200, "{v}");
    assert!(!values(&v).is_empty());
    assert!(values(&v).iter().all(|r| (r["mshr_dataareaid"] == "nomf"
        || r["mshr_dataareaid"] == "gbsi")
        && r["mshr_status"] != active));
    let (s, v) = emu.get_json(&format!("{RR}?$select=mshr_recruitingrequestid&$filter=startswith(mshr_recruitingrequestid,'NOMF-')"), &t, None).await;
    assert_eq!(s, 200);
    assert!(values(&v).iter().all(|r| r["mshr_recruitingrequestid"]
        .as_str()
        .expect("id")
        .starts_with("NOMF-")));
    assert!(!values(&v).is_empty());
    let (s, v) = emu
        .get_json(
            &format!("{RR}?$select=mshr_description&$filter=contains(mshr_description,'a')&$top=5"),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(values(&v).iter().all(|r| r["mshr_description"]
        .as_str()
        .expect("d")
        .to_lowercase()
        .contains('a')));

    // null, ne, GUID literal, Microsoft.Dynamics.CRM.In with aliases.
    let (_, all) = emu
        .get_json(
            &format!("{RR}?$select=_mshr_dataareaid_id_value&$top=1"),
            &t,
            None,
        )
        .await;
    let company = values(&all)[0]["_mshr_dataareaid_id_value"]
        .as_str()
        .expect("company")
        .to_string();
    let (s, v) = emu.get_json(&format!("{RR}?$select=_mshr_dataareaid_id_value&$filter=_mshr_dataareaid_id_value%20eq%20{company}"), &t, None).await;
    assert_eq!(s, 200, "{v}");
    assert!(values(&v)
        .iter()
        .all(|r| r["_mshr_dataareaid_id_value"] == company.as_str()));
    let (s, v) = emu
        .get_json(
            &format!("{RR}?$select=mshr_comments&$filter=mshr_comments%20ne%20null&$top=5"),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(values(&v).iter().all(|r| !r["mshr_comments"].is_null()));
    let q = format!(
        "{RR}?$select=mshr_status&$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='mshr_status'&@p2=%5B%22{}%22,%22{}%22%5D",
        base, base + 6
    );
    let (s, v) = emu.get_json(&q, &t, None).await;
    assert_eq!(s, 200, "{v}");
    assert!(values(&v)
        .iter()
        .all(|r| r["mshr_status"] == base || r["mshr_status"] == base + 6));
    assert!(!values(&v).is_empty());

    // Date literal comparisons.
    let (s, v) = emu.get_json(&format!("{RR}?$select=mshr_estimatedstartdate&$filter=mshr_estimatedstartdate%20ge%202026-01-01"), &t, None).await;
    assert_eq!(s, 200, "{v}");
    assert!(values(&v)
        .iter()
        .all(|r| r["mshr_estimatedstartdate"].as_str().expect("date") >= "2026-01-01"));

    // gt / lt / le on a decimal, each result checked against the bound.
    for (op, holds) in [
        ("gt", (|x: f64| x > 50000.0) as fn(f64) -> bool),
        ("lt", |x: f64| x < 50000.0),
        ("le", |x: f64| x <= 50000.0),
    ] {
        let (s, v) = emu
            .get_json(
                &format!("{RR}?$select=mshr_compensationhighthreshold&$filter=mshr_compensationhighthreshold%20{op}%2050000"),
                &t,
                None,
            )
            .await;
        assert_eq!(s, 200, "{op}: {v}");
        assert!(!values(&v).is_empty(), "{op} matches some rows");
        assert!(
            values(&v)
                .iter()
                .all(|r| r["mshr_compensationhighthreshold"]
                    .as_f64()
                    .is_some_and(holds)),
            "{op}: {v}"
        );
    }

    // endswith.
    let (s, v) = emu.get_json(&format!("{RR}?$select=mshr_recruitingrequestid&$filter=endswith(mshr_recruitingrequestid,'1')"), &t, None).await;
    assert_eq!(s, 200, "{v}");
    assert!(!values(&v).is_empty());
    assert!(values(&v).iter().all(|r| r["mshr_recruitingrequestid"]
        .as_str()
        .expect("id")
        .ends_with('1')));

    // DateTimeOffset literal (unquoted, `Z`), URL-encoded colons.
    let (s, v) = emu.get_json(&format!("{RR}?$select=mshr_estimatedstartdate&$filter=mshr_estimatedstartdate%20lt%202026-01-01T00%3A00%3A00Z"), &t, None).await;
    assert_eq!(s, 200, "{v}");
    assert!(!values(&v).is_empty());
    assert!(values(&v)
        .iter()
        .all(|r| r["mshr_estimatedstartdate"].as_str().expect("date") < "2026-01-01"));

    // Doubled quotes unescape to one apostrophe: exactly the seeded O'Bryan matches.
    let (s, v) = emu
        .get_json(
            "mshr_hcmcandidatetohireentities?$select=mshr_lastname,mshr_candidateid&$filter=mshr_lastname%20eq%20'O''Bryan'",
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(values(&v).len(), 1, "{v}");
    assert_eq!(values(&v)[0]["mshr_lastname"], "O'Bryan");
    assert_eq!(values(&v)[0]["mshr_candidateid"], "CAND-000001");

    // $orderby desc, $top.
    let (s, v) = emu.get_json(&format!("{RR}?$select=mshr_recruitingrequestid&$orderby=mshr_recruitingrequestid%20desc&$top=10"), &t, None).await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = values(&v)
        .iter()
        .map(|r| r["mshr_recruitingrequestid"].as_str().expect("id"))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), 10);
    assert!(
        v.get("@odata.nextLink").is_none(),
        "$top without maxpagesize does not page"
    );

    // $count path.
    let resp = emu.get(&format!("{RR}/$count"), &t, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.expect("text").trim(), "500");
}

#[tokio::test]
async fn invalid_queries_answer_400_with_dataverse_body() {
    let emu = emulator().await;
    let t = emu.token().await;
    for q in [
        "$filter=mshr_status%20eq",
        "$filter=startswith(mshr_description,'%25a')",
        "$filter=endswith(mshr_description,'a%25')",
        "$filter=mshr_description%20eq%20'O'Bryan'",
        "$filter=nosuchcolumn%20eq%201",
        "$select=nosuchcolumn",
        "$orderby=nosuchcolumn",
        "$filter=mshr_status%20eq%20'Active'",
        "$filter=((((mshr_status",
        "$top=-1",
        "$skip=10",
        "$expand=nosuchnav",
        "$filter=not%20Microsoft.Dynamics.CRM.In(PropertyName='mshr_status',PropertyValues=%5B%221%22%5D)",
    ] {
        let (s, v) = emu.get_json(&format!("{RR}?{q}"), &t, None).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert!(v["error"]["code"].is_string(), "{q}: {v}");
        assert!(!v["error"]["message"].as_str().unwrap_or_default().is_empty(), "{q}");
    }
    let (_, v) = emu
        .get_json(&format!("{RR}?$select=Mshr_Status"), &t, None)
        .await;
    assert_eq!(v["error"]["message"], "Could not find a property named 'Mshr_Status' on type 'Microsoft.Dynamics.CRM.mshr_hcmrecruitingrequestentity'.");
    // Only the anchored end refuses a wildcard: inside the value, or in contains, it is honoured.
    let (_, v) = emu
        .get_json(
            &format!("{RR}?$filter=startswith(mshr_description,'%25a')"),
            &t,
            None,
        )
        .await;
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("message")
            .contains("wildcard"),
        "{v}"
    );
    let (s, v) = emu
        .get_json(&format!("{RR}?$select=mshr_recruitingrequestid&$filter=startswith(mshr_recruitingrequestid,'NOMF-%25')"), &t, None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(!values(&v).is_empty());
    let (s, _) = emu
        .get_json(
            &format!("{RR}?$filter=contains(mshr_description,'%25a')&$top=1"),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn expand_collections_and_single_with_nested_select() {
    let emu = emulator().await;
    let t = emu.token().await;
    let q = format!(
        "{RR}?$select=mshr_recruitingrequestid&$top=20&$expand=mshr_FK_HcmRecruitingRequestPositionEntity_RecruitingRequest($select=mshr_positionid,mshr_status),mshr_FK_HcmRecruitingRequestSkillEntity_RecruitingRequest($select=mshr_skillid),mshr_FK_HcmRecruitingRequestEducationEntity_RecruitingRequest,mshr_FK_RecruitingRequestLocation_id($select=mshr_description)"
    );
    let (s, v) = emu.get_json(&q, &t, None).await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["@odata.context"].as_str().expect("context").ends_with(
            "#mshr_hcmrecruitingrequestentities(mshr_recruitingrequestid,\
             mshr_FK_HcmRecruitingRequestPositionEntity_RecruitingRequest(mshr_positionid,mshr_status),\
             mshr_FK_HcmRecruitingRequestSkillEntity_RecruitingRequest(mshr_skillid),\
             mshr_FK_HcmRecruitingRequestEducationEntity_RecruitingRequest(),\
             mshr_FK_RecruitingRequestLocation_id(mshr_description))"
        ),
        "{}",
        v["@odata.context"]
    );
    let rows = values(&v);
    assert!(rows.iter().any(|r| !r
        ["mshr_FK_HcmRecruitingRequestPositionEntity_RecruitingRequest"]
        .as_array()
        .expect("positions")
        .is_empty()));
    for r in rows {
        let id = r["mshr_hcmrecruitingrequestentityid"].clone();
        for p in r["mshr_FK_HcmRecruitingRequestPositionEntity_RecruitingRequest"]
            .as_array()
            .expect("arr")
        {
            let keys: Vec<&String> = p.as_object().expect("obj").keys().collect();
            assert_eq!(
                keys,
                vec![
                    "@odata.etag",
                    "mshr_hcmrecruitingrequestpositionentityid",
                    "mshr_positionid",
                    "mshr_status"
                ]
            );
        }
        assert!(
            !r["mshr_FK_HcmRecruitingRequestSkillEntity_RecruitingRequest"]
                .as_array()
                .expect("skills")
                .is_empty()
        );
        let loc = &r["mshr_FK_RecruitingRequestLocation_id"];
        assert!(loc.is_null() || loc["mshr_description"].is_string());
        // Children belong to their parent (checked via a filter on the child set).
        let (_, kids) = emu
            .get_json(
                &format!("mshr_hcmrecruitingrequestskillentities?$select=mshr_skillid&$filter=_mshr_fk_recruitingrequest_id_value%20eq%20{}", id.as_str().expect("id")),
                &t,
                None,
            )
            .await;
        assert_eq!(
            values(&kids).len(),
            r["mshr_FK_HcmRecruitingRequestSkillEntity_RecruitingRequest"]
                .as_array()
                .expect("arr")
                .len()
        );
    }
    // Single entity with the documented expand (docs/ats-data-model.md#documented-examples).
    let id = rows[0]["mshr_hcmrecruitingrequestentityid"]
        .as_str()
        .expect("id");
    let (s, one) = emu
        .get_json(
            &format!("{RR}({id})?$expand=mshr_FK_HcmRecruitingRequestPositionEntity_RecruitingRequest,mshr_FK_HcmRecruitingRequestSkillEntity_RecruitingRequest,mshr_FK_HcmRecruitingRequestEducationEntity_RecruitingRequest"),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{one}");
    assert!(one["@odata.context"]
        .as_str()
        .expect("ctx")
        .ends_with("/$entity"));
    assert_eq!(one["mshr_hcmrecruitingrequestentityid"], id);
    assert!(one["mshr_description"].is_string());
}

#[tokio::test]
async fn paging_walks_every_row_once() {
    let emu = emulator().await;
    let t = emu.token().await;
    let mut url = emu.api(&format!("{RR}?$select=mshr_recruitingrequestid"));
    let mut seen = std::collections::HashSet::new();
    let mut pages = 0;
    loop {
        let resp = emu
            .http
            .get(&url)
            .bearer_auth(&t)
            .header("Prefer", "odata.maxpagesize=37")
            .send()
            .await
            .expect("page");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["preference-applied"], "odata.maxpagesize=37");
        let v: Value = resp.json().await.expect("json");
        for r in values(&v) {
            assert!(
                seen.insert(
                    r["mshr_hcmrecruitingrequestentityid"]
                        .as_str()
                        .expect("id")
                        .to_string()
                ),
                "duplicate row"
            );
        }
        pages += 1;
        assert!(pages <= 20, "bounded");
        match v["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&emu.handle.url));
                assert!(next.contains("$skiptoken="));
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 500);
    assert_eq!(pages, 14);

    // A filtered, sorted walk is complete too.
    let mut url = emu.api(&format!("{RR}?$select=mshr_description&$orderby=mshr_description&$filter=mshr_dataareaid%20eq%20'usmf'&$count=true"));
    let mut n = 0;
    let mut expected = None;
    for _ in 0..100 {
        let resp = emu
            .http
            .get(&url)
            .bearer_auth(&t)
            .header("Prefer", "odata.maxpagesize=25")
            .send()
            .await
            .expect("page");
        let v: Value = resp.json().await.expect("json");
        expected = expected.or(v["@odata.count"].as_u64());
        n += values(&v).len() as u64;
        match v["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(Some(n), expected);

    let bad = emu
        .get(
            &format!("{RR}?$skiptoken=%3Ccookie%20pagenumber%3D%222%22"),
            &t,
            None,
        )
        .await;
    assert_eq!(bad.status(), 400);
}

/// Walks `query` in pages of `page_size`, deleting the last row of the first page (the very row
/// the skiptoken names) before following the nextLink. Returns every id the walk saw, the ids the
/// unpaged query returned beforehand, and the first nextLink's `$skiptoken`.
async fn walk_deleting_the_anchor(
    emu: &common::Emu,
    query: &str,
    page_size: usize,
) -> (Vec<String>, Vec<String>, String) {
    let t = emu.token().await;
    let id_col = "mshr_hcmcandidatetohireentityid";
    let ids = |v: &Value| -> Vec<String> {
        values(v)
            .iter()
            .map(|r| r[id_col].as_str().expect("id").to_string())
            .collect()
    };
    let (_, all) = emu.get_json(query, &t, None).await;
    let all = ids(&all);
    assert!(all.len() > 2 * page_size, "seed has candidates");
    let page = |url: String| {
        let (http, t) = (emu.http.clone(), t.clone());
        async move {
            let resp = http
                .get(url)
                .bearer_auth(t)
                .header("Prefer", format!("odata.maxpagesize={page_size}"))
                .send()
                .await
                .expect("page");
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.expect("json")
        }
    };
    let first = page(emu.api(query)).await;
    let mut seen = ids(&first);
    let anchor = seen.last().expect("a row").clone();
    let resp = emu
        .http
        .delete(emu.api(&format!("{CAND}({anchor})")))
        .bearer_auth(&t)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 204);
    let mut next = first["@odata.nextLink"].as_str().map(str::to_string);
    let token = next
        .as_deref()
        .and_then(|link| url::Url::parse(link).ok())
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "$skiptoken")
                .map(|(_, v)| v.into_owned())
        })
        .expect("a skiptoken");
    for _ in 0..all.len() {
        let Some(url) = next.take() else { break };
        let v = page(url).await;
        seen.extend(ids(&v));
        next = v["@odata.nextLink"].as_str().map(str::to_string);
    }
    (seen, all, token)
}

/// A row deleted between two pages neither shifts the next page nor hides a row: paging resumes
/// by key, not by offset.
#[tokio::test]
async fn paging_survives_a_row_deleted_between_pages() {
    let emu = emulator().await;
    let query = format!("{CAND}?$select=mshr_hcmcandidatetohireentityid");
    let (seen, all, _) = walk_deleting_the_anchor(&emu, &query, 3).await;
    assert_eq!(seen, all, "every row once, in order, none skipped");
}

/// Same with `$orderby` on a column with ties: the cookie carries the deleted anchor's sort values
/// (then its key), so the walk resumes right after it.
#[tokio::test]
async fn sorted_paging_survives_the_anchor_row_being_deleted() {
    let emu = emulator().await;
    let query = format!("{CAND}?$select=mshr_lastname&$orderby=mshr_lastname%20desc");
    let (seen, all, token) = walk_deleting_the_anchor(&emu, &query, 4).await;
    assert!(
        token.contains("mshr_lastname%2520last%253D"),
        "sort values in the cookie: {token}"
    );
    assert_eq!(seen, all, "every row once, in order, none skipped");
}

#[tokio::test]
async fn annotations_only_when_asked_and_in_the_callers_language() {
    let emu = emulator().await;
    let t = emu.token().await;
    let q = format!("{RR}?$select=mshr_status,_mshr_dataareaid_id_value,mshr_estimatedstartdate,mshr_compensationhighthreshold&$filter=mshr_status%20eq%20{}&$top=1", emu.config().option_base + 5);
    let (_, plain) = emu.get_json(&q, &t, None).await;
    let row = &values(&plain)[0];
    // Only the ETag, which every entity carries (docs/dataverse-web-api.md#etags), is there without asking.
    assert!(
        row.as_object()
            .expect("obj")
            .keys()
            .all(|k| k == "@odata.etag" || !k.contains('@')),
        "{row}"
    );
    assert!(row["@odata.etag"].is_string(), "{row}");

    let resp = emu.get(&q, &t, Some(ANNOTATIONS)).await;
    assert_eq!(resp.headers()["preference-applied"], ANNOTATIONS);
    let v: Value = resp.json().await.expect("json");
    let row = &values(&v)[0];
    assert_eq!(row[format!("mshr_status{FORMATTED}")], "Active");
    assert_eq!(
        row["_mshr_dataareaid_id_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
        "cdm_company"
    );
    assert!(row[format!("_mshr_dataareaid_id_value{FORMATTED}")].is_string());
    assert!(row["@odata.etag"]
        .as_str()
        .expect("etag")
        .starts_with("W/\""));
    let date = row[format!("mshr_estimatedstartdate{FORMATTED}")]
        .as_str()
        .expect("date");
    assert!(date.contains('/'), "{date}");
    // Annotations precede the property they annotate.
    let keys: Vec<&String> = row.as_object().expect("obj").keys().collect();
    let pos = |k: &str| keys.iter().position(|x| *x == k).expect(k);
    assert!(pos(&format!("mshr_status{FORMATTED}")) + 1 == pos("mshr_status"));

    // nb-NO via the per-request language header…
    let resp = emu
        .http
        .get(emu.api(&q))
        .bearer_auth(&t)
        .header("Prefer", ANNOTATIONS)
        .header("MSCRM.LanguageCode", "1044")
        .send()
        .await
        .expect("send");
    let v: Value = resp.json().await.expect("json");
    let row_nb = &values(&v)[0];
    assert_eq!(row_nb[format!("mshr_status{FORMATTED}")], "Aktive");
    assert!(row_nb[format!("mshr_estimatedstartdate{FORMATTED}")]
        .as_str()
        .expect("date")
        .contains('.'));
    // Numbers: decimal comma and no-break-space thousands in nb-NO, the en-US text with its separators swapped.
    let money = format!("mshr_compensationhighthreshold{FORMATTED}");
    assert!(
        row_nb["mshr_compensationhighthreshold"]
            .as_f64()
            .expect("amount")
            >= 1000.0,
        "the row exercises thousands grouping: {row_nb}"
    );
    let en_money = row[&money].as_str().expect("en-US number");
    let nb_money = row_nb[&money].as_str().expect("nb-NO number");
    assert!(
        en_money.contains(',') && en_money.contains('.'),
        "{en_money}"
    );
    assert_eq!(nb_money, en_money.replace(',', "\u{a0}").replace('.', ","));
    // Lookups: the related row's primary name, whatever the language.
    let lookup = format!("_mshr_dataareaid_id_value{FORMATTED}");
    let company = row_nb["_mshr_dataareaid_id_value"]
        .as_str()
        .expect("company id");
    let (s, c) = emu
        .get_json(
            &format!("cdm_companies({company})?$select=cdm_name"),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(row_nb[&lookup], c["cdm_name"], "{row_nb}");
    assert_eq!(row_nb[&lookup], row[&lookup]);
    // …and via the application user's configured language.
    let emu_nb = emulator_with(SandboxConfig {
        language: 1044,
        ..Default::default()
    })
    .await;
    let t = emu_nb.token().await;
    let (_, v) = emu_nb
        .get_json(
            &q,
            &t,
            Some("odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\""),
        )
        .await;
    let row = &values(&v)[0];
    assert_eq!(row[format!("mshr_status{FORMATTED}")], "Aktive");
    assert!(
        row.get("_mshr_dataareaid_id_value@Microsoft.Dynamics.CRM.lookuplogicalname")
            .is_none(),
        "only the asked annotation"
    );
}

#[tokio::test]
async fn option_set_metadata_in_both_languages_and_another_numbering() {
    let emu = emulator_with(SandboxConfig {
        option_base: 412_590_000,
        ..Default::default()
    })
    .await;
    let t = emu.token().await;
    let (s, v) = emu
        .get_json(
            "GlobalOptionSetDefinitions(Name='mshr_hcmrecruitingrequeststatus')",
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let opts = v["Options"].as_array().expect("options");
    assert_eq!(opts.len(), 7);
    assert_eq!(opts[5]["Value"], 412_590_005);
    let labels = opts[5]["Label"]["LocalizedLabels"]
        .as_array()
        .expect("labels");
    let by_lang = |l: u64| {
        labels
            .iter()
            .find(|x| x["LanguageCode"] == l)
            .map(|x| x["Label"].clone())
    };
    assert_eq!(by_lang(1033), Some(json!("Active")));
    assert_eq!(by_lang(1044), Some(json!("Aktive")));
    let (s, v) = emu
        .get_json(
            "EntityDefinitions(LogicalName='mshr_hcmrecruitingrequestentity')/Attributes(LogicalName='mshr_status')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)",
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["LogicalName"], "mshr_status");
    assert_eq!(v["OptionSet"]["Options"][0]["Value"], 412_590_000);
    let (s, v) = emu.get_json("GlobalOptionSetDefinitions", &t, None).await;
    assert_eq!(s, 200);
    assert_eq!(values(&v).len(), 17);
    // Data uses the same numbering.
    let (_, rows) = emu
        .get_json(&format!("{RR}?$select=mshr_status&$top=50"), &t, None)
        .await;
    assert!(values(&rows)
        .iter()
        .all(|r| (412_590_000..412_590_007).contains(&r["mshr_status"].as_i64().expect("int"))));
}

#[tokio::test]
async fn documented_deep_insert_creates_candidate_person_and_children() {
    let emu = emulator().await;
    let t = emu.token().await;
    let base = emu.config().option_base;
    let (_, rr) = emu.get_json(&format!("{RR}?$select=mshr_recruitingrequestid&$filter=mshr_dataareaid%20eq%20'usmf'&$top=1"), &t, None).await;
    let rr_number = values(&rr)[0]["mshr_recruitingrequestid"]
        .as_str()
        .expect("number")
        .to_string();
    let body = json!({
        "mshr_dataareaid": "usmf", "mshr_recruitingrequestid": rr_number,
        "mshr_iswillingtorelocate": base, "mshr_availabilitydate": "2021-03-18", "mshr_comments": "Deep insert",
        "mshr_FK_Person_id": {
            "mshr_firstname": "Evelyn", "mshr_lastname": "Chambers", "mshr_namesequencedisplayas": "FirstMiddleLast",
            "mshr_FK_HcmPersonSkillEntity_Person": [
                {"mshr_skillid": "CustFocus", "mshr_ratingid": "Skills", "mshr_levelid": "4", "mshr_ratinglevelexaminer": "",
                 "mshr_leveltype": base, "mshr_yearsofexperience": 0, "mshr_verified": base, "mshr_leveldate": "2013-01-01T00:00:00Z"},
                {"mshr_skillid": "CashFlow", "mshr_ratingid": "Skills", "mshr_levelid": "4", "mshr_ratinglevelexaminer": "",
                 "mshr_leveltype": base, "mshr_yearsofexperience": 0, "mshr_verified": base, "mshr_leveldate": "2013-01-01T00:00:00Z"}
            ],
            "mshr_FK_HcmPersonEducationEntity_Person": [
                {"mshr_creditbasis": base, "mshr_enddate": "2021-02-22T00:00:00Z", "mshr_educationlevelid": "Bachelor",
                 "mshr_creditsearned": 0, "mshr_startdate": "2017-02-21T00:00:00Z", "mshr_creditscompleted": 0,
                 "mshr_educationinstitutionid": "Cottonwood Univ", "mshr_educationdisciplineid": "Business Mgmt", "mshr_durationunit": base}
            ]
        }
    });
    let resp = emu
        .http
        .post(emu.api("mshr_hcmcandidatetohireentities"))
        .bearer_auth(&t)
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = resp.status();
    let entity_id = resp
        .headers()
        .get("odata-entityid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    assert_eq!(status, 204, "{:?}", resp.text().await);
    let entity_id = entity_id.expect("OData-EntityId");
    let prefix = emu.api("mshr_hcmcandidatetohireentities(");
    assert!(entity_id.starts_with(&prefix), "{entity_id}");
    let id = entity_id
        .trim_start_matches(&prefix)
        .trim_end_matches(')')
        .to_string();

    let (s, cand) = emu
        .get_json(
            &format!("mshr_hcmcandidatetohireentities({id})?$expand=mshr_FK_Person_id($select=mshr_firstname,mshr_lastname,mshr_partynumber)"),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{cand}");
    assert_eq!(cand["mshr_FK_Person_id"]["mshr_firstname"], "Evelyn");
    assert!(cand["mshr_candidateid"].is_string());
    let person = cand["_mshr_fk_person_id_value"]
        .as_str()
        .expect("person")
        .to_string();
    assert!(
        !cand["_mshr_fk_recruitingrequest_id_value"].is_null(),
        "natural key resolved the lookup"
    );
    let (_, skills) = emu
        .get_json(
            &format!(
                "mshr_hcmpersonskillentities?$filter=_mshr_fk_person_id_value%20eq%20{person}"
            ),
            &t,
            None,
        )
        .await;
    assert_eq!(values(&skills).len(), 2);
    let (_, edu) = emu
        .get_json(
            &format!(
                "mshr_hcmpersoneducationentities?$filter=_mshr_fk_person_id_value%20eq%20{person}"
            ),
            &t,
            None,
        )
        .await;
    assert_eq!(values(&edu).len(), 1);

    // return=representation → 201 with the row.
    let resp = emu
        .http
        .post(emu.api("mshr_hcmcandidatetohireentities"))
        .bearer_auth(&t)
        .header("Prefer", "return=representation")
        .json(&json!({"mshr_dataareaid": "usmf", "mshr_firstname": "Ola", "mshr_lastname": "Nordmann"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 201);
    assert_eq!(
        resp.headers()["preference-applied"],
        "return=representation"
    );
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["mshr_firstname"], "Ola");

    // PATCH then DELETE.
    let resp = emu
        .http
        .patch(emu.api(&format!("mshr_hcmcandidatetohireentities({id})")))
        .bearer_auth(&t)
        .json(&json!({"mshr_comments": "updated"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status(), 204);
    let (_, c) = emu
        .get_json(
            &format!("mshr_hcmcandidatetohireentities({id})?$select=mshr_comments"),
            &t,
            None,
        )
        .await;
    assert_eq!(c["mshr_comments"], "updated");
    let resp = emu
        .http
        .delete(emu.api(&format!("mshr_hcmcandidatetohireentities({id})")))
        .bearer_auth(&t)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 204);
    let resp = emu
        .http
        .delete(emu.api(&format!("mshr_hcmcandidatetohireentities({id})")))
        .bearer_auth(&t)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 404);

    // Bad payloads: unknown property, bad option value.
    let resp = emu
        .http
        .post(emu.api("mshr_hcmcandidatetohireentities"))
        .bearer_auth(&t)
        .json(&json!({"mshr_firstname": "A", "nosuch": 1}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400);
    let resp = emu
        .http
        .post(emu.api("mshr_hcmcandidatetohireentities"))
        .bearer_auth(&t)
        .json(&json!({"mshr_firstname": "A", "mshr_iswillingtorelocate": base + 77}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["code"], "0x8004431A");
}

#[tokio::test]
async fn fault_knobs_and_counters() {
    let emu = emulator().await;
    let t = emu.token().await;
    let q = format!("{RR}?$select=mshr_status&$top=1");

    emu.fault(json!({"kind": "throttle", "retry_after": 7, "count": 2, "target": RR}))
        .await;
    for _ in 0..2 {
        let resp = emu.get(&q, &t, None).await;
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "7");
        let v: Value = resp.json().await.expect("json");
        assert_eq!(v["error"]["code"], "0x80072322");
    }
    assert_eq!(
        emu.get(&q, &t, None).await.status(),
        200,
        "count-limited fault is spent"
    );

    emu.fault(json!({"kind": "server_error", "status": 502, "count": 1}))
        .await;
    assert_eq!(emu.get(&q, &t, None).await.status(), 502);
    assert_eq!(emu.get(&q, &t, None).await.status(), 200);

    emu.fault(json!({"kind": "latency", "ms": 300, "count": 1}))
        .await;
    let started = Instant::now();
    assert_eq!(emu.get(&q, &t, None).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    emu.fault(json!({"kind": "token_outage", "duration_ms": 60_000}))
        .await;
    let c = emu.config().clone();
    let scope = format!("{}/.default", emu.handle.url);
    let resp = emu
        .token_response(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.client_id.to_string()),
            ("client_secret", &c.client_secret),
            ("scope", &scope),
        ])
        .await;
    assert_eq!(resp.status(), 503);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"], "temporarily_unavailable");
    let r = emu
        .http
        .delete(emu.url("/_sandbox/faults"))
        .send()
        .await
        .expect("clear");
    assert_eq!(r.status(), 204);
    emu.token().await;

    let bad = emu
        .http
        .post(emu.url("/_sandbox/faults"))
        .json(&json!({"kind": "nope"}))
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), 400);

    // Counters: tokens, per-set requests, max in flight.
    let stats = emu.stats().await;
    assert!(stats["token_requests"].as_u64().expect("n") >= 3);
    assert_eq!(stats["requests"][RR], 6);
    let futs: Vec<_> = (0..10).map(|_| emu.get(&q, &t, None)).collect();
    emu.fault(json!({"kind": "latency", "ms": 200, "count": 10}))
        .await;
    let results = futures::future::join_all(futs).await;
    assert!(results.iter().all(|r| r.status() == 200));
    let stats = emu.stats().await;
    assert!(stats["max_in_flight"].as_u64().expect("n") >= 2, "{stats}");
}

#[tokio::test]
async fn service_protection_limits_apply() {
    let emu = emulator_with(SandboxConfig {
        max_requests_per_window: 3,
        ..Default::default()
    })
    .await;
    let t = emu.token().await;
    for _ in 0..3 {
        assert_eq!(emu.get("WhoAmI()", &t, None).await.status(), 200);
    }
    let resp = emu.get("WhoAmI()", &t, None).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let v: Value = resp.json().await.expect("json");
    assert_eq!(
        v["error"]["message"],
        "Number of requests exceeded the limit of 3 over time window of 300 seconds."
    );
}

const CAND: &str = "mshr_hcmcandidatetohireentities";

async fn patch(
    emu: &common::Emu,
    t: &str,
    url: &str,
    if_match: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = emu.http.patch(emu.api(url)).bearer_auth(t).json(&body);
    if let Some(m) = if_match {
        req = req.header("If-Match", m);
    }
    let resp = req.send().await.expect("patch");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn etag_is_the_row_version_whatever_the_select() {
    let emu = emulator().await;
    let t = emu.token().await;
    let (_, v) = emu
        .get_json(&format!("{CAND}?$select=mshr_candidateid&$top=2"), &t, None)
        .await;
    let id = values(&v)[0]["mshr_hcmcandidatetohireentityid"]
        .as_str()
        .expect("id")
        .to_string();
    let other = values(&v)[1].clone();
    let in_list = values(&v)[0]["@odata.etag"]
        .as_str()
        .expect("etag in a collection")
        .to_string();
    assert!(
        in_list.starts_with("W/\"") && in_list.ends_with('"'),
        "{in_list}"
    );

    // Same row, two projections (and the annotated form): one ETag, also sent as the ETag header.
    let mut seen = Vec::new();
    for (select, prefer) in [
        ("mshr_candidateid", None),
        ("mshr_firstname,mshr_lastname", None),
        ("mshr_firstname", Some(ANNOTATIONS)),
    ] {
        let resp = emu
            .get(&format!("{CAND}({id})?$select={select}"), &t, prefer)
            .await;
        assert_eq!(resp.status(), 200);
        let header = resp.headers()["etag"].to_str().expect("ascii").to_string();
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["@odata.etag"], header.as_str(), "{body}");
        seen.push(header);
    }
    assert!(seen.iter().all(|e| *e == in_list), "{seen:?} vs {in_list}");

    // A write changes this row's ETag, and only this row's.
    let (s, _) = patch(
        &emu,
        &t,
        &format!("{CAND}({id})"),
        None,
        json!({"mshr_comments": "etag bump"}),
    )
    .await;
    assert_eq!(s, 204);
    let (_, after) = emu
        .get_json(&format!("{CAND}({id})?$select=mshr_candidateid"), &t, None)
        .await;
    assert_ne!(after["@odata.etag"], in_list.as_str(), "{after}");
    let other_id = other["mshr_hcmcandidatetohireentityid"]
        .as_str()
        .expect("id");
    let (_, o) = emu
        .get_json(
            &format!("{CAND}({other_id})?$select=mshr_candidateid"),
            &t,
            None,
        )
        .await;
    assert_eq!(o["@odata.etag"], other["@odata.etag"]);
}

#[tokio::test]
async fn if_match_on_a_virtual_table_is_refused_and_star_is_not() {
    let emu = emulator().await;
    let t = emu.token().await;
    let (_, v) = emu
        .get_json(&format!("{CAND}?$select=mshr_candidateid&$top=1"), &t, None)
        .await;
    let row = &values(&v)[0];
    let id = row["mshr_hcmcandidatetohireentityid"].as_str().expect("id");
    let etag = row["@odata.etag"].as_str().expect("etag");
    // Even the current ETag: virtual tables have no optimistic concurrency
    // (docs/dataverse-web-api.md#concurrency).
    let (s, e) = patch(
        &emu,
        &t,
        &format!("{CAND}({id})"),
        Some(etag),
        json!({"mshr_comments": "x"}),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["code"], "0x8006088D", "{e}");
    let (_, unchanged) = emu
        .get_json(&format!("{CAND}({id})?$select=mshr_comments"), &t, None)
        .await;
    assert_ne!(
        unchanged["mshr_comments"], "x",
        "a refused update writes nothing"
    );
    let resp = emu
        .http
        .delete(emu.api(&format!("{CAND}({id})")))
        .bearer_auth(&t)
        .header("If-Match", etag)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 400, "DELETE is refused the same way");
    assert_eq!(
        emu.get(&format!("{CAND}({id})"), &t, None).await.status(),
        200
    );
    // `If-Match: *` only prevents an upsert-create; the update goes through.
    let (s, _) = patch(
        &emu,
        &t,
        &format!("{CAND}({id})"),
        Some("*"),
        json!({"mshr_comments": "y"}),
    )
    .await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn unauthenticated_requests_get_401_whatever_the_path() {
    let emu = emulator().await;
    for path in [
        "no_such_set",
        "mshr_x(abc",
        "mshr_x(abc)/nav/deeper",
        "WhoAmI()",
    ] {
        let resp = emu.http.get(emu.api(path)).send().await.expect("send");
        assert_eq!(resp.status(), 401, "{path}");
        assert!(resp.headers().contains_key("www-authenticate"), "{path}");
    }
    // With a token the same bad paths get their own errors.
    let t = emu.token().await;
    assert_eq!(emu.get("no_such_set", &t, None).await.status(), 404);
    assert_eq!(emu.get("mshr_x(abc", &t, None).await.status(), 400);
}

#[tokio::test]
async fn preference_applied_echoes_the_effective_page_size() {
    let emu = emulator().await;
    let t = emu.token().await;
    let resp = emu
        .get(
            &format!("{RR}?$select=mshr_recruitingrequestid"),
            &t,
            Some("odata.maxpagesize=9999"),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["preference-applied"],
        "odata.maxpagesize=5000"
    );
    let resp = emu
        .get(
            &format!("{RR}?$select=mshr_recruitingrequestid"),
            &t,
            Some("odata.maxpagesize=7"),
        )
        .await;
    assert_eq!(resp.headers()["preference-applied"], "odata.maxpagesize=7");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(values(&v).len(), 7);
}

/// Native (dual-write) tables do have optimistic concurrency: a stale ETag is 412, the current one works.
#[tokio::test]
async fn if_match_on_a_native_table_checks_the_row_version() {
    let emu = emulator_with(SandboxConfig {
        role: RoleConfig {
            read: vec!["*".into()],
            write: vec!["*".into()],
        },
        ..Default::default()
    })
    .await;
    let t = emu.token().await;
    let (_, v) = emu
        .get_json("cdm_companies?$select=cdm_name&$top=1", &t, None)
        .await;
    let row = &values(&v)[0];
    let id = row["cdm_companyid"].as_str().expect("id").to_string();
    let etag = row["@odata.etag"].as_str().expect("etag").to_string();
    let url = format!("cdm_companies({id})");
    let (s, _) = patch(&emu, &t, &url, Some(&etag), json!({"cdm_name": "Renamed"})).await;
    assert_eq!(s, 204);
    let (s, e) = patch(&emu, &t, &url, Some(&etag), json!({"cdm_name": "Again"})).await;
    assert_eq!(s, 412, "{e}");
    assert_eq!(e["error"]["code"], "0x80060882");
    let (_, now) = emu
        .get_json(&format!("{url}?$select=cdm_name"), &t, None)
        .await;
    assert_eq!(now["cdm_name"], "Renamed");
}

/// `$orderby` on a lookup sorts by the related row's primary name, not its GUID
/// (docs/dataverse-web-api.md#query-options), and paging such a query walks every row once.
#[tokio::test]
async fn orderby_a_lookup_sorts_by_the_related_name() {
    let emu = emulator().await;
    let t = emu.token().await;
    let lookup = "_mshr_dataareaid_id_value";
    let (s, v) = emu
        .get_json(
            &format!("{RR}?$select={lookup}&$orderby={lookup}%20desc"),
            &t,
            Some(ANNOTATIONS),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let rows = values(&v);
    let names: Vec<String> = rows
        .iter()
        .map(|r| {
            r[format!("{lookup}{FORMATTED}")]
                .as_str()
                .expect("name")
                .to_lowercase()
        })
        .collect();
    let mut by_name = names.clone();
    by_name.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, by_name);
    let guids: Vec<&str> = rows
        .iter()
        .map(|r| r[lookup].as_str().expect("id"))
        .collect();
    let mut by_guid = guids.clone();
    by_guid.sort_by(|a, b| b.cmp(a));
    assert_ne!(
        guids, by_guid,
        "this seed's GUID order differs from its name order"
    );

    let mut url = emu.api(&format!("{RR}?$select={lookup}&$orderby={lookup}%20desc"));
    let mut walked = Vec::new();
    for _ in 0..rows.len() {
        let resp = emu
            .http
            .get(&url)
            .bearer_auth(&t)
            .header("Prefer", "odata.maxpagesize=97")
            .send()
            .await
            .expect("page");
        let v: Value = resp.json().await.expect("json");
        walked.extend(
            values(&v)
                .iter()
                .map(|r| r["mshr_hcmrecruitingrequestentityid"].clone()),
        );
        match v["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    let all: Vec<Value> = rows
        .iter()
        .map(|r| r["mshr_hcmrecruitingrequestentityid"].clone())
        .collect();
    assert_eq!(walked, all);
}
