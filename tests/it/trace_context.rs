//! W3C Trace Context through the gateway: a partner's `traceparent` continues into every Dataverse
//! call (what the emulator's request log saw), each call a span of its own; an invalid or absent
//! one starts a new trace; `traceresponse` and problem bodies name the trace.

use serde_json::Value;

use crate::common::{spawn_app, TestApp};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

/// `00-trace-span-flags` split, after checking its shape.
fn parts(tp: &str) -> (String, String, String) {
    let p: Vec<&str> = tp.split('-').collect();
    assert_eq!(p.len(), 4, "{tp}");
    assert_eq!(p[0], "00", "{tp}");
    assert!(
        p[1].len() == 32 && p[2].len() == 16 && p[3].len() == 2,
        "{tp}"
    );
    assert!(
        tp.bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "lowercase hex: {tp}"
    );
    (p[1].into(), p[2].into(), p[3].into())
}

/// A list read (cold caches: options, lookups and the page each call Dataverse) with these headers;
/// answers the response and the emulator's log of the calls made for it (by its request id).
async fn read(
    app: &TestApp,
    token: &str,
    request_id: &str,
    page_size: u32,
    headers: &[(&str, &str)],
) -> (reqwest::Response, Vec<Value>) {
    let mut req = app
        .http
        .get(format!(
            "{}/v1/recruiting-requests?page_size={page_size}&expand=positions",
            app.url
        ))
        .bearer_auth(token)
        .header("X-Request-Id", request_id);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let calls = app
        .emu
        .requests()
        .await
        .into_iter()
        .filter(|r| r["client_request_id"] == request_id)
        .collect();
    (resp, calls)
}

fn traceresponse(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("traceresponse")
        .expect("traceresponse")
        .to_str()
        .expect("ascii")
        .to_string()
}

#[tokio::test]
async fn a_partner_trace_reaches_every_upstream_call_each_with_its_own_parent_id() {
    let app = spawn_app().await;
    let token = app.partner_token("acme-ats", None).await;
    let tp = format!("00-{TRACE}-{PARENT}-01");
    let (resp, calls) = read(
        &app,
        &token,
        "trace-test-1",
        2,
        &[
            ("traceparent", &tp),
            ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (trace, span, flags) = parts(&traceresponse(&resp));
    assert_eq!(trace, TRACE, "the partner's trace continues");
    assert_ne!(span, PARENT, "the gateway's span is its own");
    assert_eq!(flags, "01");

    assert!(
        calls.len() >= 2,
        "cold caches call Dataverse more than once: {calls:?}"
    );
    let mut parents = std::collections::HashSet::new();
    for c in &calls {
        let (t, parent, flags) = parts(c["traceparent"].as_str().expect("traceparent sent"));
        assert_eq!(t, TRACE, "{c}");
        assert_eq!(flags, "01", "sampled flag kept: {c}");
        assert!(
            parent != PARENT && parent != span,
            "a new span per call: {c}"
        );
        assert!(parents.insert(parent), "parent ids repeat: {calls:?}");
        assert_eq!(c["tracestate"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        assert!(c["service_request_id"]
            .as_str()
            .is_some_and(|s| s.len() == 36));
    }

    // An unsampled trace stays unsampled upstream.
    let tp = format!("00-{TRACE}-{PARENT}-00");
    let (resp, calls) = read(&app, &token, "trace-test-2", 3, &[("traceparent", &tp)]).await;
    assert_eq!(resp.status(), 200);
    assert!(traceresponse(&resp).ends_with("-00"));
    assert!(!calls.is_empty());
    for c in &calls {
        assert!(
            c["traceparent"].as_str().expect("sent").ends_with("-00"),
            "{c}"
        );
        assert_eq!(c["tracestate"], Value::Null);
    }
}

#[tokio::test]
async fn an_invalid_or_absent_traceparent_starts_a_new_trace() {
    let app = spawn_app().await;
    let token = app.partner_token("acme-ats", None).await;
    let invalid = [
        format!("00-{}-{PARENT}-01", TRACE.to_uppercase()),
        format!("00-{}-{PARENT}-01", "0".repeat(32)),
        format!("00-{TRACE}-{}-01", "0".repeat(16)),
        format!("ff-{TRACE}-{PARENT}-01"),
        format!("00-{TRACE}-{PARENT}-01-trailing"),
        "not a traceparent".to_string(),
    ];
    let mut seen = std::collections::HashSet::new();
    for (i, bad) in invalid.iter().enumerate() {
        let id = format!("trace-invalid-{i}");
        let (resp, calls) = read(
            &app,
            &token,
            &id,
            2 + i as u32,
            &[("traceparent", bad), ("tracestate", "rojo=1")],
        )
        .await;
        assert_eq!(resp.status(), 200, "never an error for the partner: {bad}");
        let (trace, _, flags) = parts(&traceresponse(&resp));
        assert_ne!(trace, TRACE, "{bad}");
        assert_eq!(flags, "01", "a new trace is sampled");
        assert!(seen.insert(trace.clone()), "a fresh trace each time");
        assert!(!calls.is_empty(), "{bad}");
        for c in &calls {
            let sent = c["traceparent"].as_str().expect("traceparent sent");
            assert_eq!(
                parts(sent).0,
                trace,
                "the new trace, not the invalid one: {c}"
            );
            assert_eq!(
                c["tracestate"],
                Value::Null,
                "no state without a valid parent: {c}"
            );
        }
    }

    // Absent: generated, different per request, and sent upstream.
    for (i, size) in [(0, 20), (1, 21)] {
        let id = format!("trace-absent-{i}");
        let (resp, calls) = read(&app, &token, &id, size, &[]).await;
        assert_eq!(resp.status(), 200);
        let (trace, _, _) = parts(&traceresponse(&resp));
        assert!(seen.insert(trace.clone()));
        assert!(!calls.is_empty());
        for c in &calls {
            assert_eq!(parts(c["traceparent"].as_str().expect("sent")).0, trace);
        }
    }
}

#[tokio::test]
async fn problems_name_the_trace() {
    let app = spawn_app().await;
    let token = app.partner_token("acme-ats", None).await;
    let resp = app
        .http
        .get(format!("{}/v1/recruiting-requests?page_size=0", app.url))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{TRACE}-{PARENT}-01"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 400);
    assert!(traceresponse(&resp).starts_with(&format!("00-{TRACE}-")));
    let v: Value = resp.json().await.expect("problem");
    assert_eq!(v["trace_id"], TRACE);
    assert!(v["request_id"].as_str().is_some_and(|s| !s.is_empty()));

    // Without a partner trace (and without a token): the generated one.
    let resp = app
        .http
        .get(format!("{}/v1/recruiting-requests", app.url))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
    let (trace, _, _) = parts(&traceresponse(&resp));
    let v: Value = resp.json().await.expect("problem");
    assert_eq!(v["trace_id"], trace.as_str());
}
