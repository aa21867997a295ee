//! Changes feed: HR edits recruiting requests through the emulator's Web API (HR's own app
//! registration), the gateway's scanner turns them into events.

use serde_json::{json, Value};

use crate::common::{emulator, Emu, ANNOTATIONS};

const RR: &str = "mshr_hcmrecruitingrequestentities";
const STATUS_ACTIVE: i64 = 200_000_005;

/// A Dataverse token for HR's app registration (the one whose role writes every table).
pub async fn hr_token(emu: &Emu) -> String {
    let c = emu.config();
    let scope = format!("{}/.default", emu.handle.url);
    let resp = emu
        .token_response(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.hr_client_id.to_string()),
            ("client_secret", &c.hr_client_secret),
            ("scope", &scope),
        ])
        .await;
    assert_eq!(resp.status(), 200, "HR app token");
    let v: Value = resp.json().await.expect("json");
    v["access_token"].as_str().expect("access_token").into()
}

/// PATCH `set(id)` with `body` as `token`'s app; answers the status and the body (if any).
pub async fn patch(emu: &Emu, set: &str, id: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = emu
        .http
        .patch(emu.api(&format!("{set}({id})")))
        .bearer_auth(token)
        .header("OData-MaxVersion", "4.0")
        .header("OData-Version", "4.0")
        .json(&body)
        .send()
        .await
        .expect("patch");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The first request of `company` (by number) that is not in `status`.
async fn a_request(emu: &Emu, token: &str, company: &str, not_status: i64) -> String {
    let (s, v) = emu
        .get_json(
            &format!("{RR}?$select=mshr_hcmrecruitingrequestentityid&$filter=mshr_dataareaid eq '{company}' and mshr_status ne {not_status}&$orderby=mshr_recruitingrequestid&$top=1"),
            token,
            Some(ANNOTATIONS),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v["value"][0]["mshr_hcmrecruitingrequestentityid"]
        .as_str()
        .expect("a request")
        .into()
}

#[tokio::test]
async fn hr_app_writes_recruiting_requests_the_integration_app_may_not() {
    let emu = emulator().await;
    let integration = emu.token().await;
    let hr = hr_token(&emu).await;
    let id = a_request(&emu, &integration, "usmf", STATUS_ACTIVE).await;

    let (s, v) = patch(
        &emu,
        RR,
        &id,
        &integration,
        json!({"mshr_status": STATUS_ACTIVE}),
    )
    .await;
    assert_eq!(s, 403, "integration app may not write requests: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("prvWrite")),
        "{v}"
    );

    let (s, v) = patch(&emu, RR, &id, &hr, json!({"mshr_status": STATUS_ACTIVE})).await;
    assert_eq!(s, 204, "HR app writes requests: {v}");
    let (s, v) = emu
        .get_json(
            &format!("{RR}({id})?$select=mshr_status"),
            &integration,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["mshr_status"], STATUS_ACTIVE, "{v}");
}
