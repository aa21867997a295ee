//! The checked-in OpenAPI document matches the code (`UPDATE_OPENAPI=1` rewrites it), and the gateway
//! serves it and the docs page, with a scope on every route.

use crate::common;
use std::path::PathBuf;

use serde_json::Value;

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json")
}

fn generated() -> String {
    let mut doc = ats_gateway::api::openapi::document_json();
    doc.push('\n');
    doc
}

#[test]
fn checked_in_document_is_current() {
    let path = checked_in();
    let fresh = generated();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &fresh).expect("write openapi/openapi.json");
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != fresh {
        let line = on_disk
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_string(), |i| format!("line {}", i + 1));
        panic!(
            "openapi/openapi.json is stale (first difference at {line}); regenerate it with \
             `UPDATE_OPENAPI=1 cargo test --test openapi` and commit the result"
        );
    }
}

#[test]
fn every_operation_declares_a_bearer_scope() {
    let doc: Value = serde_json::from_str(&generated()).expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 5);
    // The partner API; the token endpoint is how a token is obtained, so it has none.
    for (path, item) in paths.iter().filter(|(p, _)| p.starts_with("/v1/")) {
        for (method, op) in item.as_object().expect("path item") {
            let scopes = op["security"][0]["bearer"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} has no security entry"));
            assert!(!scopes.is_empty(), "{method} {path}");
            assert!(
                scopes
                    .iter()
                    .all(|s| s.as_str().is_some_and(|s| s.contains(':'))),
                "{method} {path}: {scopes:?}"
            );
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let token = &doc["paths"]["/oauth2/token"]["post"];
    assert!(token["security"].is_null(), "the token endpoint is public");
    assert!(token["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    for status in ["200", "400", "401"] {
        assert!(token["responses"][status].is_object(), "token {status}");
    }
}

/// Every route documents its error answers with the Problem schema, 304 with If-None-Match, and
/// Accept-Language; detail routes their 404.
#[test]
fn every_operation_documents_problems_and_conditional_requests() {
    let doc: Value = serde_json::from_str(&generated()).expect("json");
    let problem = &doc["components"]["schemas"]["Problem"];
    for field in [
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "request_id",
        "errors",
    ] {
        assert!(problem["properties"][field].is_object(), "Problem.{field}");
    }
    let field_error = &doc["components"]["schemas"]["FieldError"]["properties"];
    assert!(field_error["pointer"].is_object() && field_error["detail"].is_object());
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths.iter().filter(|(p, _)| p.starts_with("/v1/")) {
        let op = &item["get"];
        let mut statuses = vec!["400", "401", "403", "429", "502", "503", "504"];
        if path.contains('{') {
            statuses.push("404");
        }
        for status in statuses {
            let schema = &op["responses"][status]["content"]["application/problem+json"]["schema"];
            assert_eq!(
                schema["$ref"], "#/components/schemas/Problem",
                "{path} {status}"
            );
        }
        assert!(op["responses"]["304"].is_object(), "{path} 304");
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for header in ["If-None-Match", "Accept-Language"] {
            assert!(params.contains(&header), "{path} {header}: {params:?}");
        }
    }
    let list = &doc["paths"]["/v1/recruiting-requests"]["get"]["parameters"];
    assert!(list
        .as_array()
        .expect("parameters")
        .iter()
        .any(|p| p["name"] == "modified_since"));
}

#[tokio::test]
async fn gateway_serves_the_document_and_the_docs_page() {
    let app = common::spawn_app().await;
    let r = app
        .http
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .expect("openapi");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("application/json"));
    let served: Value = r.json().await.expect("json");
    let expected: Value = serde_json::from_str(&generated()).expect("json");
    assert_eq!(served, expected);
    assert!(served["paths"]["/v1/recruiting-requests"]["get"].is_object());

    let r = app
        .http
        .get(format!("{}/docs", app.url))
        .send()
        .await
        .expect("docs");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/html"));
    let html = r.text().await.expect("html");
    assert!(html.contains("/openapi.json"));
}
