//! The ops listener's `/metrics` after real traffic: every metric the issue asks for, checked by
//! name, type, `# HELP` and label names (one process-wide recorder serves every test app, so values
//! are not compared, only shapes).

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{spawn_app_with, TestApp};
use ats_sandbox::config::SandboxConfig;
use serde_json::json;

/// A parsed Prometheus text exposition: families by name (type, help) and each sample's labels.
#[derive(Debug, Default)]
pub struct Scrape {
    pub types: BTreeMap<String, String>,
    pub helps: BTreeSet<String>,
    /// Sample name (with `_bucket`/`_sum`/`_count`) → label sets.
    pub samples: BTreeMap<String, Vec<BTreeMap<String, String>>>,
}

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let mut s = Scrape::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE line");
                s.types.insert(name.to_string(), kind.to_string());
            } else if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect("HELP line");
                assert!(!help.trim().is_empty(), "empty help for {name}");
                s.helps.insert(name.to_string());
            } else if !line.is_empty() && !line.starts_with('#') {
                let (name, labels) = match line.split_once('{') {
                    Some((name, rest)) => {
                        let (labels, _) = rest.rsplit_once('}').expect("closing brace");
                        (name, parse_labels(labels))
                    }
                    None => (line.split(' ').next().expect("name"), BTreeMap::new()),
                };
                s.samples.entry(name.to_string()).or_default().push(labels);
            }
        }
        s
    }

    /// Asserts the family exists with this type and help, and that some sample carries exactly
    /// `labels` (plus `le` on histogram buckets) with the given values where one is given.
    pub fn expect(&self, name: &str, kind: &str, labels: &[(&str, Option<&str>)]) {
        assert_eq!(
            self.types.get(name).map(String::as_str),
            Some(kind),
            "{name} as a {kind}"
        );
        assert!(self.helps.contains(name), "# HELP for {name}");
        let sample = if kind == "histogram" {
            format!("{name}_bucket")
        } else {
            name.to_string()
        };
        let series = self.samples.get(&sample).map(Vec::as_slice).unwrap_or(&[]);
        let want: BTreeSet<&str> = labels
            .iter()
            .map(|(k, _)| *k)
            .chain((kind == "histogram").then_some("le"))
            .collect();
        let found = series.iter().any(|ls| {
            ls.keys().map(String::as_str).collect::<BTreeSet<_>>() == want
                && labels
                    .iter()
                    .all(|(k, v)| v.is_none_or(|v| ls.get(*k).is_some_and(|x| x == v)))
        });
        assert!(
            found,
            "{name}: no series with labels {labels:?}; have {series:?}"
        );
    }
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while let Some((key, after)) = rest.split_once("=\"") {
        // Values are escaped (\" and \\); find the closing quote.
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(n);
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.insert(key.trim_start_matches(',').trim().to_string(), value);
        rest = &after[end..];
    }
    out
}

/// Traffic that touches every metric family: partner reads (caches, lookups, a queue under a cap of
/// one), a 429 from Dataverse (pause + retry), a partner over its rate limit, the token endpoint.
pub async fn app_after_traffic() -> TestApp {
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.dataverse.max_concurrency = 1;
        c.dataverse.client_secret_expires_at = Some("2030-01-01T00:00:00Z".parse().expect("date"));
    })
    .await;
    let acme = app.partner_token("acme-ats", None).await;
    for path in [
        "/v1/recruiting-requests?page_size=5&expand=positions",
        "/v1/recruiting-requests?page_size=5&expand=positions",
        "/v1/option-sets",
        "/v1/reference/jobs",
        "/v1/reference/jobs",
        "/v1/recruiting-requests?department=0000001",
        // Another page of the same department: the response cache misses, the department index hits.
        "/v1/recruiting-requests?department=0000001&page_size=7",
    ] {
        let (status, body) = app.get_json(path, &acme, None).await;
        assert!(status == 200, "{path}: {status} {body}");
    }
    // Concurrent distinct reads (identical ones would share one call) under a cap of one: some
    // wait in the queue.
    let paths: Vec<String> = (2..6)
        .map(|n| format!("/v1/recruiting-requests?page_size={n}"))
        .collect();
    let reads: Vec<_> = paths.iter().map(|p| app.get(p, &acme, None)).collect();
    for r in futures::future::join_all(reads).await {
        assert_eq!(r.status(), 200);
    }
    // One 429 from Dataverse: the gateway pauses, then the read is retried.
    app.emu
        .fault(json!({"kind": "throttle", "retry_after": 1, "count": 1}))
        .await;
    let (status, _) = app
        .get_json("/v1/recruiting-requests?page_size=3", &acme, None)
        .await;
    assert_eq!(status, 200, "retried after the pause");
    // tiny-board's burst is 2: the third request is refused by its rate limit.
    let tiny = app.partner_token("tiny-board", None).await;
    let mut limited = false;
    for _ in 0..5 {
        limited |= app.get("/v1/option-sets", &tiny, None).await.status() == 429;
    }
    assert!(limited, "tiny-board hits its rate limit");
    // A made-up token: no partner, so `anonymous` (partner labels come from verified tokens only).
    let (status, _) = app
        .get_json("/v1/candidates", "made-up-partner-token", None)
        .await;
    assert_eq!(status, 401);
    app
}

#[tokio::test]
async fn every_metric_by_name_type_and_labels() {
    let app = app_after_traffic().await;
    let s = Scrape::parse(&app.scrape().await);
    let any = None;
    s.expect(
        "http_server_request_duration_seconds",
        "histogram",
        &[
            ("http_route", Some("/v1/recruiting-requests")),
            ("http_request_method", Some("GET")),
            ("http_response_status_code", Some("200")),
            ("partner", Some("acme-ats")),
        ],
    );
    s.expect(
        "http_server_request_duration_seconds",
        "histogram",
        &[
            ("http_route", Some("/oauth2/token")),
            ("http_request_method", Some("POST")),
            ("http_response_status_code", Some("200")),
            ("partner", Some("anonymous")),
        ],
    );
    s.expect(
        "http_server_request_duration_seconds",
        "histogram",
        &[
            ("http_route", any),
            ("http_request_method", any),
            ("http_response_status_code", Some("429")),
            ("partner", Some("tiny-board")),
        ],
    );
    let upstream = [("entity_set", any), ("status", Some("200"))];
    s.expect("upstream_requests_total", "counter", &upstream);
    s.expect("upstream_request_duration_seconds", "histogram", &upstream);
    s.expect(
        "upstream_requests_total",
        "counter",
        &[("entity_set", any), ("status", Some("429"))],
    );
    s.expect(
        "upstream_retries_total",
        "counter",
        &[("entity_set", any), ("reason", any)],
    );
    s.expect("upstream_throttled_total", "counter", &[]);
    s.expect("upstream_throttle_pause_seconds", "histogram", &[]);
    s.expect("upstream_breaker_state", "gauge", &[]);
    s.expect("upstream_in_flight", "gauge", &[]);
    s.expect("upstream_queue_depth", "gauge", &[]);
    s.expect("upstream_queue_wait_seconds", "histogram", &[]);
    s.expect(
        "upstream_token_requests_total",
        "counter",
        &[("outcome", Some("ok"))],
    );
    s.expect("upstream_token_request_duration_seconds", "histogram", &[]);
    s.expect("token_expires_in_seconds", "gauge", &[]);
    s.expect(
        "dataverse_credential_expires_in_seconds",
        "gauge",
        &[("kind", Some("client_secret"))],
    );
    s.expect("gateway_ready", "gauge", &[]);
    for cache in [
        "option_sets",
        "lookups",
        "reference",
        "departments",
        "response",
    ] {
        for result in ["hit", "miss"] {
            s.expect(
                "cache_requests_total",
                "counter",
                &[("cache", Some(cache)), ("result", Some(result))],
            );
        }
    }
    s.expect(
        "rate_limit_rejections_total",
        "counter",
        &[("partner", Some("tiny-board"))],
    );
    s.expect("http_connections_open", "gauge", &[]);
    s.expect(
        "http_server_request_duration_seconds",
        "histogram",
        &[
            ("http_route", Some("/v1/candidates")),
            ("http_request_method", Some("GET")),
            ("http_response_status_code", Some("401")),
            ("partner", Some("anonymous")),
        ],
    );
    // Every family has help.
    for name in s.types.keys() {
        assert!(s.helps.contains(name), "# HELP for {name}");
    }
}

// ---- the Grafana dashboard and the Prometheus alert rules in deploy/ --------------------------

const PROMQL_WORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
    // Aggregations, which may be followed by `by (…)` before their parenthesis.
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
];

/// Words after which a parenthesised list holds label names.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names a PromQL expression reads: identifiers that are not functions (followed by
/// `(`), keywords, label names (inside `{…}` or a `by (…)` list), variables (`$x`), strings or
/// durations.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let chars: Vec<char> = expr.chars().collect();
    let (mut i, mut braces, mut in_by_list) = (0, 0, false);
    let mut prev_word = String::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '{' => (braces, i) = (braces + 1, i + 1),
            '}' => (braces, i) = (braces - 1, i + 1),
            '(' => {
                in_by_list = LABEL_LISTS.contains(&prev_word.as_str());
                prev_word.clear();
                i += 1;
            }
            ')' => (in_by_list, i) = (false, i + 1),
            '$' => {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                let is_call = next == Some(&'(') && !PROMQL_WORDS.contains(&word.as_str());
                if braces == 0 && !in_by_list && !is_call && !PROMQL_WORDS.contains(&word.as_str())
                {
                    out.insert(word.clone());
                }
                prev_word = word;
            }
            _ => i += 1,
        }
    }
    out
}

#[test]
fn metric_names_are_read_from_promql() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (instance, le) (rate(http_x_bucket{result="hit", instance=~"$instance"}[$__rate_interval]))) / on (instance) group_left up_metric > 30 * 86400 and min without (kind) (b_total[5m])"#,
    );
    assert_eq!(
        names,
        ["b_total", "http_x_bucket", "up_metric"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}

/// Every PromQL expression in the deploy/ files: alert rules (`expr:`) and dashboard targets.
fn deploy_expressions() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let rules = std::fs::read_to_string(root.join("prometheus/alerts.yml")).expect("alerts.yml");
    let mut out: Vec<(String, String)> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .map(|e| ("alerts.yml".to_string(), e.trim().to_string()))
        .collect();
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("grafana/ats-gateway.json")).expect("dashboard"),
    )
    .expect("dashboard JSON");
    for panel in dash["panels"].as_array().expect("panels") {
        for t in panel["targets"].as_array().expect("targets") {
            let title = panel["title"].as_str().unwrap_or("?").to_string();
            out.push((title, t["expr"].as_str().expect("expr").to_string()));
        }
    }
    for var in dash["templating"]["list"].as_array().expect("variables") {
        // label_values(metric, label): only the first argument is a metric.
        if let Some(q) = var["query"]
            .as_str()
            .and_then(|q| q.strip_prefix("label_values("))
        {
            let metric = q.split([',', ')']).next().unwrap_or("").trim();
            out.push(("templating".to_string(), metric.to_string()));
        }
    }
    out
}

#[tokio::test]
async fn every_metric_in_the_dashboard_and_alert_rules_exists() {
    let exprs = deploy_expressions();
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/prometheus/alerts.yml"
    ))
    .expect("alerts");
    for alert in [
        "AtsGatewayCredentialExpiringSoon",
        "AtsGatewayDataverseThrottling",
        "AtsGatewayBreakerOpen",
        "AtsGatewayNotReady",
        "AtsGatewayP99High",
    ] {
        assert!(rules.contains(&format!("alert: {alert}")), "{alert}");
    }
    let app = app_after_traffic().await;
    let s = Scrape::parse(&app.scrape().await);
    let mut used = BTreeSet::new();
    for (place, expr) in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{place}: no metric in {expr}");
        for name in names {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suf| {
                    name.strip_suffix(suf)
                        .filter(|base| s.types.get(*base).is_some_and(|t| t == "histogram"))
                })
                .unwrap_or(&name)
                .to_string();
            assert!(
                s.types.contains_key(&family),
                "{place}: `{name}` is not in a scrape after traffic ({expr})"
            );
            used.insert(family);
        }
    }
    eprintln!("deploy/ uses {} metrics: {used:?}", used.len());
    for needed in [
        "dataverse_credential_expires_in_seconds",
        "upstream_throttled_total",
        "upstream_breaker_state",
        "gateway_ready",
        "http_server_request_duration_seconds",
    ] {
        assert!(used.contains(needed), "deploy/ watches {needed}");
    }
}
