//! The binary itself: `emulator --listen 127.0.0.1:0` prints exactly one JSON ready line on stdout
//! with the documented keys, and the emulator it describes answers.

use crate::common;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The ready line's `dataverse` object: what a user needs to call the emulator directly.
fn assert_dataverse_keys(v: &serde_json::Value) {
    for k in [
        "org_url",
        "token_url",
        "tenant_id",
        "client_id",
        "client_secret",
        "hr_client_id",
        "hr_client_secret",
    ] {
        assert!(v["dataverse"][k].is_string(), "dataverse.{k}");
    }
}

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn emulator_command_prints_one_ready_line() {
    let p = Proc::start(&["emulator", "--listen", "127.0.0.1:0"]).await;
    let v = p.ready.clone();
    assert_eq!(v["event"], "ready");
    let emulator = v["emulator"].as_str().expect("emulator url");
    assert!(emulator.starts_with("http://127.0.0.1:") && !emulator.ends_with(":0"));
    assert_dataverse_keys(&v);
    let http = reqwest::Client::new();
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_id",
            v["dataverse"]["client_id"].as_str().expect("id"),
        ),
        (
            "client_secret",
            v["dataverse"]["client_secret"].as_str().expect("secret"),
        ),
        (
            "scope",
            &format!(
                "{}/.default",
                v["dataverse"]["org_url"].as_str().expect("org")
            ),
        ),
    ];
    let resp = http
        .post(v["dataverse"]["token_url"].as_str().expect("token url"))
        .form(&form)
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200);
}

#[test]
fn bad_config_names_the_key() {
    let dir = temp_dir("cli");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[sandbox]\nscale = 0\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
        .args(["--config", file.to_str().expect("utf8"), "emulator"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sandbox.scale"), "{err}");
}

#[test]
fn the_receivers_help_never_shows_the_secret_from_the_environment() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwJ0ZmXRH9Tz8=";
    let out = Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
        .args(["webhook-receiver", "--help"])
        .env("WEBHOOK_SECRET", secret)
        .output()
        .expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("WEBHOOK_SECRET"), "{help}");
    assert!(!help.contains(&secret[6..]), "{help}");
}

// ------------------------------------------------------------------ a running gateway process

/// A running `ats-gateway` with its ready line and its log lines (stderr) as they come.
struct Proc {
    child: Kill,
    ready: serde_json::Value,
    logs: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Proc {
    async fn start(args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, logs) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await
        .expect("join")
        .expect("read line");
        let ready = serde_json::from_str(line.trim()).expect("one JSON ready line");
        Proc {
            child: Kill(child),
            ready,
            logs,
        }
    }

    /// `ats-gateway [--config FILE] sandbox` on free loopback ports.
    async fn sandbox(config: Option<&std::path::Path>) -> Proc {
        let mut args: Vec<&str> = Vec::new();
        if let Some(c) = config {
            args.extend(["--config", c.to_str().expect("utf8")]);
        }
        args.extend([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--emulator-listen",
            "127.0.0.1:0",
        ]);
        Proc::start(&args).await
    }

    fn gateway(&self) -> String {
        self.ready["gateway"]
            .as_str()
            .expect("gateway url")
            .to_string()
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.0.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits (bounded) for a log line containing `needle`; the process tells us, no sleeping.
    async fn log_line(&mut self, needle: &str) -> String {
        let wait = async {
            while let Some(line) = self.logs.recv().await {
                if line.contains(needle) {
                    return line;
                }
            }
            panic!("the gateway ended before logging `{needle}`");
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), wait)
            .await
            .unwrap_or_else(|_| panic!("no log line `{needle}` within 30 s"))
    }

    fn running(&mut self) -> bool {
        matches!(self.child.0.try_wait(), Ok(None))
    }
}

async fn partner_token(gw: &str, id: &str, secret: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{gw}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .expect("token request")
}

async fn access_token(gw: &str, id: &str, secret: &str) -> String {
    let resp = partner_token(gw, id, secret).await;
    assert_eq!(resp.status(), 200, "token for {id}");
    let v: serde_json::Value = resp.json().await.expect("json");
    v["access_token"].as_str().expect("token").to_string()
}

fn kid(token: &str) -> String {
    use base64::Engine;
    let head = token.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head)
        .expect("b64");
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    v["kid"].as_str().expect("kid").to_string()
}

async fn option_sets(gw: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{gw}/v1/option-sets"))
        .bearer_auth(token)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// A directory removed when the guard drops (also when the test fails).
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("atsgw-{name}-"))
        .tempdir()
        .expect("dir")
}

fn write_key(path: &std::path::Path) {
    use p256::elliptic_curve::Generate;
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let key = p256::SecretKey::generate();
    let pem = key.to_pkcs8_pem(LineEnding::LF).expect("pem");
    std::fs::write(path, pem.as_bytes()).expect("write key");
}

fn partner_toml(id: &str, hash: &str) -> String {
    format!(
        "[[auth.partners]]\nid = \"{id}\"\nclient_id = \"{id}\"\nclient_secret_hashes = [\"{hash}\"]\n\
         scopes = [\"reference:read\"]\ncompanies = [\"*\"]\nrate_limit = {{ per_second = 100000, burst = 100000 }}\n"
    )
}

/// Writes the file whole (rename), so a reload never reads half of it.
fn replace_file(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// The sandbox makes an operator token at start: the ready line's `operator_token` opens the
/// operator API on `ops`, which lists the demo partners as config-managed.
#[tokio::test]
async fn sandbox_ready_line_carries_an_operator_token_for_the_ops_listener() {
    let p = Proc::sandbox(None).await;
    let token = p.ready["operator_token"].as_str().expect("operator_token");
    assert!(token.starts_with("atsop_"));
    let ops = p.ready["ops"].as_str().expect("ops");
    let http = reqwest::Client::new();
    let list: serde_json::Value = http
        .get(format!("{ops}/operator/v1/partners"))
        .bearer_auth(token)
        .send()
        .await
        .expect("operator call")
        .json()
        .await
        .expect("json");
    let data = list["data"].as_array().expect("data");
    assert_eq!(data.len(), 4, "{list}");
    assert!(data.iter().all(|p| p["managed_by"] == "config"));
    let refused = http
        .get(format!("{ops}/operator/v1/partners"))
        .send()
        .await
        .expect("call");
    assert_eq!(refused.status(), 401);
}

#[tokio::test]
async fn sandbox_ready_line_and_sighup_without_a_config_file() {
    let mut p = Proc::sandbox(None).await;
    let v = p.ready.clone();
    assert_eq!(v["event"], "ready");
    for k in ["emulator", "gateway", "ops", "admin"] {
        let url = v[k].as_str().unwrap_or_else(|| panic!("{k}"));
        assert!(
            url.starts_with("http://127.0.0.1:") && !url.contains(":0/") && !url.ends_with(":0")
        );
    }
    assert_dataverse_keys(&v);
    let partners = v["partners"].as_array().expect("partners");
    assert_eq!(partners.len(), 4);
    for partner in partners {
        for k in ["id", "client_id", "client_secret"] {
            assert!(partner[k].is_string(), "partners[].{k}");
        }
        assert!(!partner["scopes"].as_array().expect("scopes").is_empty());
        assert!(!partner["companies"]
            .as_array()
            .expect("companies")
            .is_empty());
    }
    let gw = p.gateway();
    let token = access_token(&gw, "acme-ats", "acme-demo-secret").await;
    assert_eq!(option_sets(&gw, &token).await, 200);
    // The two demo job boards, public (no token), once their snapshot is built (bounded poll).
    let boards = v["boards"].as_array().expect("boards");
    let ids: Vec<&str> = boards.iter().filter_map(|b| b["id"].as_str()).collect();
    assert_eq!(ids, ["contoso-careers", "contoso-norge"]);
    assert_eq!(boards[1]["companies"], serde_json::json!(["nomf"]));
    let jobs = format!("{}/jobs", boards[0]["url"].as_str().expect("board url"));
    assert!(jobs.starts_with(&gw));
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while reqwest::get(&jobs)
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
        != 200
    {
        assert!(
            std::time::Instant::now() < until,
            "{jobs} did not answer 200"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // SIGHUP's default action ends a process: the gateway must reload instead, and keep serving.
    p.signal("-HUP");
    p.log_line("partner registry replaced").await;
    assert!(p.running(), "SIGHUP ended the gateway");
    assert_eq!(option_sets(&gw, &token).await, 200);
    let again = access_token(&gw, "acme-ats", "acme-demo-secret").await;
    assert_eq!(option_sets(&gw, &again).await, 200);
}

#[tokio::test]
async fn sighup_reloads_partners_and_rotates_keys_without_dropping_requests() {
    let guard = temp_dir("reload");
    let dir = guard.path();
    let (key_a, key_b) = (dir.join("a.pem"), dir.join("b.pem"));
    write_key(&key_a);
    write_key(&key_b);
    let (s1, h1) = ats_gateway::auth::create_partner_secret();
    let (s2, h2) = ats_gateway::auth::create_partner_secret();
    let config = dir.join("gateway.toml");
    // The poll interval is long so that only SIGHUP triggers the reload here.
    let head = "[auth]\nreload_poll_ms = 3600000\n";
    replace_file(
        &config,
        &format!(
            "{head}signing_key_file = \"{}\"\n{}",
            key_a.display(),
            partner_toml("p1", &h1)
        ),
    );
    let mut p = Proc::sandbox(Some(&config)).await;
    assert_eq!(p.ready["partners"][0]["id"], "p1");
    assert_eq!(
        p.ready["partners"][0]["companies"],
        serde_json::json!(["*"])
    );
    let gw = p.gateway();
    let t1 = access_token(&gw, "p1", &s1).await;
    assert_eq!(partner_token(&gw, "p2", &s2).await.status(), 401);

    // Traffic keeps flowing through the reload: every request must succeed.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (gw, t1, stop) = (gw.clone(), t1.clone(), stop.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for _ in 0..5_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    statuses.push(option_sets(&gw, &t1).await);
                }
                statuses
            })
        })
        .collect();

    // Rotate: key B signs from now on, key A only verifies; partner p2 is added.
    replace_file(
        &config,
        &format!(
            "{head}signing_key_file = \"{}\"\nprevious_signing_key_files = [\"{}\"]\n{}{}",
            key_b.display(),
            key_a.display(),
            partner_toml("p1", &h1),
            partner_toml("p2", &h2)
        ),
    );
    p.signal("-HUP");
    p.log_line("partner registry replaced").await;
    let t2 = access_token(&gw, "p2", &s2).await;
    assert_eq!(option_sets(&gw, &t2).await, 200);
    let t1_new = access_token(&gw, "p1", &s1).await;
    assert_ne!(
        kid(&t1_new),
        kid(&t1),
        "new tokens are signed with the new key"
    );
    assert_eq!(option_sets(&gw, &t1).await, 200, "old key still verifies");

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut n = 0;
    for task in load {
        for status in task.await.expect("load task") {
            assert_eq!(status, 200, "a request failed during the reload");
            n += 1;
        }
    }
    assert!(n > 0);
    assert_eq!(common::jwks_kids(&gw).await, vec![kid(&t1_new), kid(&t1)]);

    // A restart (or another replica) with the same config accepts tokens of both keys.
    drop(p);
    let p = Proc::sandbox(Some(&config)).await;
    let gw = p.gateway();
    assert_eq!(
        option_sets(&gw, &t1).await,
        200,
        "previous key after restart"
    );
    assert_eq!(
        option_sets(&gw, &t1_new).await,
        200,
        "current key after restart"
    );
}

#[test]
fn partner_secret_prints_a_secret_and_its_hash_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
        .arg("partner-secret")
        .output()
        .expect("run");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let secret = v["client_secret"].as_str().expect("secret");
    let hash = v["client_secret_hash"].as_str().expect("hash");
    assert!(secret.len() >= 32);
    assert!(hash.starts_with("$argon2id$"));
    assert!(!hash.contains(secret));
    let partner = ats_gateway::auth::PartnerConfig {
        id: "x".into(),
        display_name: String::new(),
        client_id: "x".into(),
        client_secret_hashes: vec![hash.into()],
        scopes: vec![],
        companies: vec!["*".into()],
        rate_limit: ats_gateway::auth::RateLimitConfig::default(),
        cors_origins: vec![],
        disabled: false,
    };
    let reg = ats_gateway::auth::Registry::from_config(&[partner]).expect("registry");
    let p = reg.partner("x").expect("partner");
    assert!(p.verify_secret(secret).is_some());
    assert!(p.verify_secret("not-it").is_none());
}

#[tokio::test]
async fn logs_are_json_by_default_and_text_on_request() {
    let mut json = Proc::sandbox(None).await;
    let line = json.log_line("state store opened").await;
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(v["level"], "INFO", "{line}");

    let mut text = Proc::start(&[
        "--log-format",
        "text",
        "sandbox",
        "--listen",
        "127.0.0.1:0",
        "--emulator-listen",
        "127.0.0.1:0",
    ])
    .await;
    let line = text.log_line("state store opened").await;
    assert!(
        serde_json::from_str::<serde_json::Value>(&line).is_err(),
        "{line}"
    );
    assert!(line.contains(" INFO "), "{line}");
}

/// The request's log span carries its request id, trace id, partner and route template; each
/// upstream call's line adds Dataverse's `x-ms-service-request-id`; no secret or token appears.
#[tokio::test]
async fn json_log_lines_carry_request_trace_partner_route_and_upstream_ids() {
    let mut p = Proc::sandbox(None).await;
    let gw = p.gateway();
    let token = access_token(&gw, "acme-ats", "acme-demo-secret").await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let resp = reqwest::Client::new()
        .get(format!("{gw}/v1/recruiting-requests?page_size=2"))
        .bearer_auth(&token)
        .header("X-Request-Id", "log-fields-1")
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);

    // Lines come in order: the upstream calls, then the request's audit line.
    let mut upstream = Vec::new();
    let audit = loop {
        let line = p.log_line("log-fields-1").await;
        let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
        assert!(!line.contains(&token) && !line.contains("secret"), "{line}");
        let span = &v["span"];
        assert_eq!(span["name"], "request", "{line}");
        assert_eq!(span["request_id"], "log-fields-1", "{line}");
        assert_eq!(span["trace_id"], trace, "{line}");
        assert_eq!(span["partner"], "acme-ats", "{line}");
        assert_eq!(span["route"], "/v1/recruiting-requests", "{line}");
        match v["fields"]["message"].as_str() {
            Some("upstream call") => upstream.push(v),
            Some("partner request") => break v,
            _ => {}
        }
    };
    assert_eq!(audit["fields"]["status"], 200);
    assert!(!upstream.is_empty(), "no upstream call line before {audit}");
    for v in &upstream {
        let f = &v["fields"];
        assert_eq!(v["target"], "upstream", "{v}");
        // A UUID, as Dataverse (here the emulator) sends it.
        let id = f["service_request_id"]
            .as_str()
            .expect("service request id");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{v}");
        assert!(f["status"].is_u64() && f["entity_set"].is_string(), "{v}");
        assert_eq!(f["span_id"].as_str().map(str::len), Some(16), "{v}");
    }
    assert!(upstream
        .iter()
        .any(|v| v["fields"]["entity_set"] == "mshr_hcmrecruitingrequestentities"));
}

/// With `[telemetry] otlp_endpoint`, spans reach an OTLP/HTTP collector (a fake one here) with the
/// ids the wire carries: the request span is the one `traceresponse` names, child of the partner's
/// span; each upstream attempt's span is the parent id Dataverse received, with its service id.
#[tokio::test]
async fn spans_are_exported_over_otlp_with_the_ids_on_the_wire() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use prost::Message;

    // The collector: every POST /v1/traces body, as it arrives.
    let (tx, mut batches) = tokio::sync::mpsc::unbounded_channel::<bytes::Bytes>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let collector = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: bytes::Bytes| {
            let _ = tx.send(body);
            async {
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let guard = temp_dir("otlp");
    let dir = guard.path();
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[telemetry]\notlp_endpoint = \"{collector}/\"\nservice_name = \"gw-under-test\"\n"
        ),
    )
    .expect("config");
    let p = Proc::sandbox(Some(&config)).await;
    let gw = p.gateway();
    let token = access_token(&gw, "acme-ats", "acme-demo-secret").await;
    let (trace, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let resp = reqwest::Client::new()
        .get(format!(
            "{gw}/v1/recruiting-requests?page_size=2&expand=positions"
        ))
        .bearer_auth(&token)
        .header("X-Request-Id", "otlp-1")
        .header("traceparent", format!("00-{trace}-{parent}-01"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let answered = resp.headers()["traceresponse"]
        .to_str()
        .expect("ascii")
        .to_string();
    let gateway_span = answered.split('-').nth(2).expect("span id").to_string();
    // What Dataverse (the emulator) received for this request: parent id → its service id.
    let admin = p.ready["admin"].as_str().expect("admin url");
    let seen: Vec<serde_json::Value> = reqwest::get(format!("{admin}/requests"))
        .await
        .expect("request log")
        .json()
        .await
        .expect("json");
    let upstream: std::collections::HashMap<String, String> = seen
        .iter()
        .filter(|r| r["client_request_id"] == "otlp-1")
        .map(|r| {
            let tp = r["traceparent"].as_str().expect("traceparent");
            (
                tp.split('-').nth(2).expect("parent").to_string(),
                r["service_request_id"].as_str().expect("id").to_string(),
            )
        })
        .collect();
    assert!(!upstream.is_empty());

    // At exit the queued spans are flushed.
    p.signal("-TERM");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let attr = |attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue], key: &str| {
        attrs
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref()?.value.clone())
    };
    let mut request_span = None;
    let mut upstream_spans = Vec::new();
    let collect = async {
        while request_span.is_none() || upstream_spans.len() < upstream.len() {
            let body = batches.recv().await.expect("collector open");
            let export = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
            for rs in export.resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| attr(&r.attributes, "service.name"));
                assert_eq!(service, Some(Any::StringValue("gw-under-test".into())));
                for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                    if hex(&span.trace_id) != trace {
                        continue;
                    }
                    match span.name.as_str() {
                        "request" => request_span = Some(span),
                        "upstream" => upstream_spans.push(span),
                        _ => {}
                    }
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), collect)
        .await
        .expect("the spans reach the collector within 30 s");
    let request_span = request_span.expect("request span");
    assert_eq!(
        hex(&request_span.span_id),
        gateway_span,
        "traceresponse names it"
    );
    assert_eq!(
        hex(&request_span.parent_span_id),
        parent,
        "child of the partner's span"
    );
    assert_eq!(
        attr(&request_span.attributes, "partner"),
        Some(Any::StringValue("acme-ats".into()))
    );
    assert_eq!(
        attr(&request_span.attributes, "route"),
        Some(Any::StringValue("/v1/recruiting-requests".into()))
    );
    assert_eq!(upstream_spans.len(), upstream.len());
    for span in &upstream_spans {
        assert_eq!(hex(&span.parent_span_id), gateway_span);
        let id = hex(&span.span_id);
        let service_id = upstream
            .get(&id)
            .unwrap_or_else(|| panic!("span {id} is not a parent id Dataverse saw"));
        assert_eq!(
            attr(&span.attributes, "service_request_id"),
            Some(Any::StringValue(service_id.clone()))
        );
    }
    server.abort();
}
