//! Issue 19: `/docs` "Try it out" pre-fills each parameter's example (and default), and the first
//! Execute of `listRecruitingRequests` sent `company=usmf&department=000163&job=Assembler&q=engineer`,
//! which matches nothing. Every list operation, called with exactly what the page pre-fills, must
//! show data.

use serde_json::Value;

use crate::common::spawn_app;

/// What Swagger UI puts into a parameter's field when "Try it out" opens.
fn prefilled(p: &Value) -> Option<String> {
    let v = [
        &p["example"],
        &p["schema"]["example"],
        &p["schema"]["default"],
    ]
    .into_iter()
    .find(|v| !v.is_null())?;
    Some(match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    })
}

#[tokio::test]
async fn the_first_try_it_out_of_every_list_shows_data() {
    let app = spawn_app().await;
    let token = app.partner_token("acme-ats", None).await;
    let doc: Value = app
        .http
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("json");
    let mut checked = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(op) = item.get("get") else { continue };
        let id = op["operationId"].as_str().unwrap_or_default();
        // The feed and the webhook lists start empty by design (nothing changed, nothing subscribed).
        if path.contains('{')
            || !id.starts_with("list")
            || path.contains("changes")
            || path.contains("webhooks")
        {
            continue;
        }
        let pairs: Vec<(String, String)> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| Some((p["name"].as_str()?.to_string(), prefilled(p)?)))
            .collect();
        let url =
            reqwest::Url::parse_with_params(&format!("{}{path}", app.url), &pairs).expect("url");
        let resp = app
            .http
            .get(url.clone())
            .bearer_auth(&token)
            .send()
            .await
            .expect("answer");
        let status = resp.status();
        let body: Value = resp.json().await.expect("json");
        assert_eq!(status, 200, "{id} {url}: {body}");
        assert!(
            body["data"].as_array().is_some_and(|d| !d.is_empty()),
            "{id}: the pre-filled call {url} lists nothing"
        );
        checked.push(id.to_string());
    }
    assert!(
        checked.iter().any(|id| id == "listRecruitingRequests")
            && checked.iter().any(|id| id == "listCandidates"),
        "{checked:?}"
    );
}
