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
    assert_eq!(
        token["security"],
        serde_json::json!([]),
        "the token endpoint is public"
    );
    assert!(token["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    for status in ["200", "400", "401"] {
        assert!(token["responses"][status].is_object(), "token {status}");
    }
}

/// Every scope a partner can be granted is required by some operation, except `pii:read`, which
/// widens what the read routes return: a scope no route declares would promise access to nothing.
#[test]
fn every_grantable_scope_is_required_by_a_route() {
    let doc: Value = serde_json::from_str(&generated()).expect("json");
    let mut used = std::collections::BTreeSet::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            for s in op["security"][0]["bearer"].as_array().into_iter().flatten() {
                used.insert(s.as_str().expect("scope").to_string());
            }
        }
    }
    for scope in ats_gateway::auth::Scope::ALL {
        let name = scope.as_str();
        assert!(
            name == "pii:read" || used.contains(name),
            "scope {name} is grantable but no route requires it"
        );
    }
}

/// Every answer of every partner route documents the headers each one carries, those a route
/// documents itself included (the test route's own 429, which also shows the rate limit's example).
#[test]
fn every_partner_answer_documents_the_common_headers() {
    let doc: Value = serde_json::from_str(&generated()).expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths.iter().filter(|(p, _)| p.starts_with("/v1/")) {
        for (method, op) in item.as_object().expect("item") {
            let Some(responses) = op["responses"].as_object() else {
                continue;
            };
            for (status, r) in responses {
                for h in [
                    "X-Request-Id",
                    "traceresponse",
                    "RateLimit-Policy",
                    "RateLimit",
                ] {
                    assert!(
                        r["headers"][h].is_object(),
                        "{method} {path} {status}: no {h}"
                    );
                }
            }
        }
    }
    let busy = &doc["paths"]["/v1/webhooks/{id}/test"]["post"]["responses"]["429"];
    assert!(busy["headers"]["Retry-After"].is_object(), "{busy}");
    let examples = &busy["content"]["application/problem+json"]["examples"];
    for slug in ["webhook-sends-busy", "rate-limited"] {
        assert!(
            examples[slug]["value"]["type"]
                .as_str()
                .is_some_and(|t| t.ends_with(&format!("/problems/{slug}"))),
            "{slug}: {examples}"
        );
    }
}

/// Every route on the state store says it answers 503 `state-unavailable` with `Retry-After` while
/// the store is away (a hire's 503 names it in its own words).
#[test]
fn routes_on_the_state_store_document_state_unavailable() {
    let doc: Value = serde_json::from_str(&generated()).expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    let mut seen = 0;
    for (path, item) in paths
        .iter()
        .filter(|(p, _)| p.starts_with("/v1/webhooks") || *p == "/v1/changes")
    {
        for (method, op) in item.as_object().expect("item") {
            let r = &op["responses"]["503"];
            assert!(
                r["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("`state-unavailable`")),
                "{method} {path}: {r}"
            );
            assert!(r["headers"]["Retry-After"].is_object(), "{method} {path}");
            let content = &r["content"]["application/problem+json"];
            assert_eq!(content["schema"]["$ref"], "#/components/schemas/Problem");
            let example = if content["example"].is_object() {
                &content["example"]
            } else {
                &content["examples"]["state-unavailable"]["value"]
            };
            assert_eq!(example["status"], 503, "{method} {path}: {content}");
            seen += 1;
        }
    }
    assert_eq!(seen, 10, "the changes feed and the nine webhook operations");
    let hire = doc["paths"]["/v1/candidates"]["post"]["responses"]["503"]["description"]
        .as_str()
        .unwrap_or("");
    assert!(hire.contains("state store"), "{hire}");
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
        "trace_id",
        "errors",
    ] {
        assert!(problem["properties"][field].is_object(), "Problem.{field}");
    }
    let field_error = &doc["components"]["schemas"]["FieldError"]["properties"];
    assert!(field_error["pointer"].is_object() && field_error["detail"].is_object());
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths.iter().filter(|(p, _)| p.starts_with("/v1/")) {
        let op = &item["get"];
        // Routes with only actions (POST) document their problems in their own way.
        if op.is_null() {
            continue;
        }
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
    assert!(html.contains("swagger-ui"), "{html}");
    // Every asset the page loads is served by the gateway itself (no outside host).
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        assert!(html.contains(asset), "{asset}");
        let r = app
            .http
            .get(format!("{}/docs/{asset}", app.url))
            .send()
            .await
            .expect("asset");
        assert_eq!(r.status(), 200, "{asset}");
        let text = r.text().await.expect("asset text");
        if asset == "swagger-initializer.js" {
            assert!(text.contains("/openapi.json"), "{text}");
        }
    }
    assert!(!html.contains("https://"), "no outside URL in the page");
}

/// Every `$ref` resolves; operation ids are unique; every operation has a summary, a description
/// and a tag that the document describes; every list filter has its enum where the values are fixed.
#[test]
fn document_is_self_consistent() {
    let text = generated();
    let doc: Value = serde_json::from_str(&text).expect("json");
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for piece in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap_or_default();
        assert!(schemas.contains_key(name), "dangling $ref {name}");
    }
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .inspect(|t| assert!(t["description"].is_string(), "{t}"))
        .filter_map(|t| t["name"].as_str())
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
            assert!(op["summary"].is_string(), "{method} {path} summary");
            assert!(op["description"].is_string(), "{method} {path} description");
            for tag in op["tags"].as_array().expect("tags") {
                assert!(tags.contains(&tag.as_str().unwrap_or_default()), "{tag}");
            }
        }
    }
    assert!(ids.contains("listRecruitingRequests") && ids.contains("getCandidate"));
    assert!(doc["servers"].as_array().is_some_and(|s| !s.is_empty()));
    let list = doc["paths"]["/v1/recruiting-requests"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let param = |n: &str| list.iter().find(|p| p["name"] == n).expect(n);
    assert_eq!(param("page_size")["schema"]["minimum"], 1);
    assert_eq!(param("page_size")["schema"]["maximum"], 200);
    for (name, schema) in [
        ("status", "RecruitingRequestStatusKey"),
        ("expand", "ExpandItem"),
    ] {
        assert_eq!(
            param(name)["schema"]["items"]["$ref"],
            format!("#/components/schemas/{schema}").as_str()
        );
    }
    assert!(schemas["Sort"]["enum"]
        .as_array()
        .is_some_and(|e| e.iter().any(|v| v == "-estimated_start_date")));
    let flows = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"];
    assert_eq!(flows["tokenUrl"], "/oauth2/token");
    assert!(flows["scopes"]["recruiting-requests:read"].is_string());
}

/// The subscription URL's schema states the policy's own limits (utoipa's attribute takes
/// literals), and a URL the schema forbids is one the policy refuses (so a negative case of the
/// contract check meets a 422).
#[test]
fn the_subscription_url_schema_states_the_policys_limits() {
    use ats_gateway::webhooks::url_policy::{UrlPolicy, MAX_URL_LEN, URL_PATTERN};
    let doc: Value = serde_json::from_str(&generated()).expect("json");
    let url = &doc["components"]["schemas"]["NewSubscriptionBody"]["properties"]["url"];
    assert_eq!(url["maxLength"].as_u64(), u64::try_from(MAX_URL_LEN).ok());
    assert_eq!(url["pattern"].as_str(), Some(URL_PATTERN));
    let described = url["description"].as_str().unwrap_or_default();
    assert!(
        described.contains(&format!("At most {MAX_URL_LEN} characters")),
        "{described}"
    );
    let policy = UrlPolicy {
        allow_private: true,
    };
    let host = "http://127.0.0.1/";
    let at_limit = format!("{host}{}", "a".repeat(MAX_URL_LEN - host.len()));
    assert!(policy.check_shape(&at_limit).is_ok(), "at the limit");
    assert!(
        policy.check_shape(&format!("{at_limit}x")).is_err(),
        "past the limit"
    );
    // Within `maxLength` as sent but past it as stored (percent-encoded): refused too, as the
    // description says, so the stored URL never exceeds the limit.
    let encoded_past = format!("{host}{}", "é".repeat(MAX_URL_LEN - host.len()));
    assert!(policy.check_shape(&encoded_past).is_err(), "encoded");
    assert!(described.contains("percent-encoded"), "{described}");
    // Outside the pattern: refused.
    for bad in [
        " http://127.0.0.1/",
        "ftp://127.0.0.1/",
        "http:127.0.0.1/",
        "127.0.0.1/",
    ] {
        assert!(policy.check_shape(bad).is_err(), "{bad:?} passed");
    }
    assert!(
        policy.check_shape("HTTP://127.0.0.1/").is_ok(),
        "the pattern takes any case"
    );
}

/// The subscription's `events` schema states the parser's cap (utoipa's attribute takes literals).
#[test]
fn the_subscription_events_schema_states_the_cap() {
    use ats_gateway::webhooks::subscriptions::MAX_EVENTS;
    let doc: Value = serde_json::from_str(&generated()).expect("json");
    let events = &doc["components"]["schemas"]["NewSubscriptionBody"]["properties"]["events"];
    assert_eq!(
        events["maxItems"].as_u64(),
        u64::try_from(MAX_EVENTS).ok(),
        "{events}"
    );
    let described = events["description"].as_str().unwrap_or_default();
    assert!(
        described.contains(&format!("at most {MAX_EVENTS} entries")),
        "{described}"
    );
}

/// Every response link leads to an operation of this document, names only that operation's
/// parameters (each path parameter given), and takes a value from the answer's own fields.
#[test]
fn every_link_leads_to_an_operation_with_its_parameters() {
    let doc: Value = serde_json::from_str(&generated()).expect("json");
    let schemas = &doc["components"]["schemas"];
    let resolve = |s: &Value| -> Value {
        match s["$ref"].as_str() {
            Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
            None => s.clone(),
        }
    };
    let mut operations = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for op in item.as_object().expect("item").values() {
            operations.insert(
                op["operationId"].as_str().expect("id").to_string(),
                (path, op),
            );
        }
    }
    let mut links = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            for (status, response) in op["responses"].as_object().expect("responses") {
                let Some(map) = response["links"].as_object() else {
                    continue;
                };
                let body = resolve(&response["content"]["application/json"]["schema"]);
                for (name, link) in map {
                    links += 1;
                    let target = link["operationId"].as_str().expect("operationId");
                    let (target_path, target_op) = operations
                        .get(target)
                        .expect("a link to an existing operation");
                    let params = link["parameters"].as_object().expect("parameters");
                    let declared: Vec<&str> = target_op["parameters"]
                        .as_array()
                        .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
                        .unwrap_or_default();
                    for (param, expr) in params {
                        assert!(
                            declared.contains(&param.as_str()),
                            "{name}: {target} has no {param}"
                        );
                        let expr = expr.as_str().expect("expression");
                        if let Some(pointer) = expr.strip_prefix("$response.body#/") {
                            // The first field named is one the answer has (a list: its `data`).
                            let field = pointer.split('/').next().unwrap_or_default();
                            let props = resolve(&body);
                            let has = props["properties"][field].is_object()
                                || props["allOf"].as_array().is_some_and(|all| {
                                    all.iter()
                                        .any(|s| resolve(s)["properties"][field].is_object())
                                });
                            assert!(has, "{method} {path} {status} → {name}: no field {field}");
                        } else {
                            let p = expr
                                .strip_prefix("$request.path.")
                                .expect("a known expression");
                            assert!(
                                path.contains(&format!("{{{p}}}")),
                                "{name}: {path} has no {p}"
                            );
                        }
                    }
                    for segment in target_path.split('/').filter(|s| s.starts_with('{')) {
                        let p = segment.trim_matches(|c| c == '{' || c == '}');
                        assert!(
                            params.contains_key(p),
                            "{name}: path parameter {p} not given"
                        );
                    }
                }
            }
        }
    }
    assert_eq!(links, 9, "every entry of `LINKS` is in the document");
}

/// The documented status keys are the ones the option sets carry (the sandbox's metadata).
#[tokio::test]
async fn documented_status_keys_match_the_option_sets() {
    let app = common::spawn_app().await;
    let t = app.partner_token("acme-ats", None).await;
    let doc: Value = serde_json::from_str(&generated()).expect("json");
    for (schema, set) in [
        ("RecruitingRequestStatusKey", "recruiting-request-status"),
        ("CandidateStatusKey", "applicant-integration-result"),
    ] {
        let documented: Vec<&str> = doc["components"]["schemas"][schema]["enum"]
            .as_array()
            .expect("enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let (status, v) = app
            .get_json(&format!("/v1/option-sets/{set}"), &t, None)
            .await;
        assert_eq!(status, 200);
        let keys: Vec<&str> = v["values"]
            .as_array()
            .expect("values")
            .iter()
            .filter_map(|o| o["key"].as_str())
            .collect();
        assert_eq!(documented, keys, "{schema}");
    }
}

/// RFC 8414 metadata names the token endpoint and the keys under the gateway's URL.
#[tokio::test]
async fn authorization_server_metadata() {
    let app = common::spawn_app().await;
    let r = app
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            app.url
        ))
        .send()
        .await
        .expect("metadata");
    assert_eq!(r.status(), 200);
    // No public_url here: the URLs come from Host, so a shared cache keys on it.
    assert_eq!(
        r.headers().get("vary").and_then(|v| v.to_str().ok()),
        Some("Host")
    );
    let m: Value = r.json().await.expect("json");
    assert_eq!(
        m["token_endpoint"],
        format!("{}/oauth2/token", app.url).as_str()
    );
    assert_eq!(
        m["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.url).as_str()
    );
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );
    assert!(m["scopes_supported"]
        .as_array()
        .is_some_and(|s| s.iter().any(|v| v == "recruiting-requests:read")));
    let jwks = app
        .http
        .get(m["jwks_uri"].as_str().expect("uri"))
        .send()
        .await
        .expect("jwks");
    assert_eq!(jwks.status(), 200);
}

/// Every scope the gateway advertises (RFC 8414 metadata, the OpenAPI oauth2 flow, the demo
/// partners) is one some route declares, or `pii:read`; and every declared one is advertised.
#[tokio::test]
async fn advertised_scopes_are_the_routes_scopes_and_pii_read() {
    use std::collections::BTreeSet;
    let doc: Value = serde_json::from_str(&generated()).expect("document");
    let mut declared: BTreeSet<String> = BTreeSet::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            for req in op["security"].as_array().into_iter().flatten() {
                for scopes in req.as_object().expect("requirement").values() {
                    for s in scopes.as_array().expect("scopes") {
                        declared.insert(s.as_str().expect("scope").to_string());
                    }
                }
            }
        }
    }
    assert!(declared.len() >= 6, "{declared:?}");
    let mut expected = declared.clone();
    expected.insert("pii:read".to_string());

    let flow: BTreeSet<String> = doc["components"]["securitySchemes"]["oauth2"]["flows"]
        ["clientCredentials"]["scopes"]
        .as_object()
        .expect("oauth2 scopes")
        .iter()
        .map(|(k, v)| {
            let text = v.as_str().expect("description");
            assert_ne!(text, k, "scope {k} has no description");
            k.clone()
        })
        .collect();
    assert_eq!(flow, expected, "the OpenAPI oauth2 flow");

    let app = common::spawn_app().await;
    let m: Value = app
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            app.url
        ))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    let supported: BTreeSet<String> = m["scopes_supported"]
        .as_array()
        .expect("scopes_supported")
        .iter()
        .map(|s| s.as_str().expect("scope").to_string())
        .collect();
    assert_eq!(supported, expected, "scopes_supported");

    let demo: BTreeSet<String> = ats_gateway::demo::partners()
        .iter()
        .flat_map(|p| p.config.scopes.iter().map(|s| s.as_str().to_string()))
        .collect();
    assert!(demo.is_subset(&expected), "demo partners: {demo:?}");
}
