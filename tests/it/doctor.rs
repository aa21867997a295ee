//! `ats-gateway doctor` against the sandbox: a healthy configuration passes every check; each
//! misconfiguration fails the right check with the right cause (read from the JSON report), and
//! the real binary prints the checklist and sets its exit code.

use std::path::{Path, PathBuf};
use std::process::Command;

use ats_gateway::doctor::{self, Report};
use ats_sandbox::config::SandboxConfig;
use serde_json::{json, Value};

use crate::common::{emulator, emulator_with, Emu};

/// A config directory that disappears with the test.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!("atsgw-doctor-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).expect("temp dir");
        Self(p)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `[dataverse]` section for `emu` with the demo app, plus `extra` lines (later keys win).
fn dataverse_toml(emu: &Emu, overrides: &[(&str, String)]) -> String {
    let c = emu.config();
    let mut keys: Vec<(String, String)> = vec![
        ("org_url".into(), q(&emu.handle.url)),
        ("authority".into(), q(&emu.handle.url)),
        ("tenant_id".into(), q(&c.tenant_id.to_string())),
        ("client_id".into(), q(&c.client_id.to_string())),
        ("client_secret".into(), q(&c.client_secret)),
    ];
    for (k, v) in overrides {
        keys.retain(|(key, _)| key != k);
        keys.push((k.to_string(), v.clone()));
    }
    let body: Vec<String> = keys.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!("[dataverse]\n{}\n", body.join("\n"))
}

fn q(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

async fn doctor_with(emu: &Emu, overrides: &[(&str, String)]) -> (Report, Value) {
    let dir = Dir::new();
    let file = dir.write("gateway.toml", &dataverse_toml(emu, overrides));
    run(&file).await
}

async fn run(file: &Path) -> (Report, Value) {
    let report = doctor::run(Some(file)).await;
    let v: Value = serde_json::from_str(&doctor::render::json(&report)).expect("JSON report");
    (report, v)
}

/// The named check from the JSON report.
fn check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {v:#}"))
}

/// Only `name` failed (besides summaries listed in `also`), with a cause containing each of `cause`.
fn fails_with(v: &Value, name: &str, also: &[&str], cause: &[&str]) {
    assert_eq!(v["ok"], false, "{v:#}");
    let c = check(v, name);
    assert_eq!(c["ok"], false, "{c:#}");
    let detail = c["detail"].as_str().expect("detail");
    for want in cause {
        assert!(detail.contains(want), "{name}: {want:?} not in {detail:?}");
    }
    assert!(c["fix"].as_str().is_some_and(|f| f.len() > 20), "{c:#}");
    let failed: Vec<&str> = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["ok"] == false)
        .filter_map(|c| c["name"].as_str())
        .collect();
    let mut expected: Vec<&str> = also.to_vec();
    expected.push(name);
    let mut got = failed.clone();
    got.sort_unstable();
    expected.sort_unstable();
    assert_eq!(got, expected, "failed checks");
}

fn names(v: &Value) -> Vec<String> {
    v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn healthy_config_passes_every_check() {
    let emu = emulator().await;
    let (report, v) = doctor_with(&emu, &[]).await;
    assert!(report.ok, "{v:#}");
    assert_eq!(v["ok"], true);
    assert_eq!(
        names(&v),
        ["config", "credential", "token", "whoami", "tables", "data"]
    );
    for c in v["checks"].as_array().expect("checks") {
        assert_eq!(c["ok"], true, "{c:#}");
        let keys: Vec<&String> = c.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["name", "ok", "detail", "fix"]);
    }
    let tables = ats_gateway::doctor::tables::integration_tables();
    assert!(check(&v, "tables")["detail"]
        .as_str()
        .is_some_and(|d| d.contains(&format!("all {} tables", tables.len()))));
    // The data probe counts what the emulator holds, labelled from the environment's metadata.
    let token = emu.token().await;
    let (_, all) = emu
        .get_json(
            "mshr_hcmrecruitingrequestentities?$count=true&$select=mshr_hcmrecruitingrequestentityid",
            &token,
            Some("odata.maxpagesize=1"),
        )
        .await;
    let (_, meta) = emu
        .get_json(
            "GlobalOptionSetDefinitions(Name='mshr_hcmrecruitingrequeststatus')",
            &token,
            None,
        )
        .await;
    let data = check(&v, "data")["detail"].as_str().expect("detail");
    assert!(
        data.starts_with(&format!("{} recruiting requests: ", all["@odata.count"])),
        "{data}"
    );
    let first_label = meta["Options"][0]["Label"]["LocalizedLabels"][0]["Label"]
        .as_str()
        .expect("label");
    assert!(data.contains(first_label), "{data} lacks {first_label}");
    // No secret anywhere in either rendering.
    let text = doctor::render::text(&report);
    for out in [text.as_str(), &v.to_string()] {
        assert!(!out.contains(&emu.config().client_secret), "secret printed");
    }
}

#[tokio::test]
async fn option_labels_come_from_metadata_not_integers() {
    let emu = emulator_with(SandboxConfig {
        option_base: 7_000,
        ..Default::default()
    })
    .await;
    let (_, v) = doctor_with(&emu, &[]).await;
    assert_eq!(v["ok"], true, "{v:#}");
    let data = check(&v, "data")["detail"].as_str().expect("detail");
    assert!(data.contains("Active ") && !data.contains("7000"), "{data}");
}

#[tokio::test]
async fn config_errors_are_listed_each_with_its_key() {
    let emu = emulator().await;
    let dir = Dir::new();
    let file = dir.write(
        "gateway.toml",
        "[dataverse]\norg_url = \"https://contoso.crm4.dynamics.com/api/data\"\nclient_id = \"x\"\n",
    );
    let (report, v) = run(&file).await;
    fails_with(
        &v,
        "config",
        &[],
        &[
            "dataverse.org_url",
            "dataverse.tenant_id",
            "dataverse.client_secret",
        ],
    );
    assert_eq!(names(&v), ["config"], "nothing else can run");
    assert!(report.skipped.contains(&"token"));
    // An unreadable value is named by its key too (figment's error), and nothing else runs.
    let file = dir.write(
        "gateway.toml",
        &format!(
            "[gateway]\nlisten = \"nope\"\n{}",
            dataverse_toml(&emu, &[])
        ),
    );
    let (_, v) = run(&file).await;
    fails_with(&v, "config", &[], &["gateway.listen"]);
}

/// `serve` refuses a malformed previous cursor key at start, so doctor names it first: by its
/// index, never its value.
#[tokio::test]
async fn a_malformed_previous_cursor_key_is_named_by_its_index() {
    let emu = emulator().await;
    let dir = Dir::new();
    let bad = "not-a-key-4f2a9c";
    let file = dir.write(
        "gateway.toml",
        &format!(
            "[gateway]\nprevious_cursor_keys = [\"{}\", \"{bad}\"]\n{}",
            "ab".repeat(32),
            dataverse_toml(&emu, &[])
        ),
    );
    let (_, v) = run(&file).await;
    fails_with(&v, "config", &[], &["gateway.previous_cursor_keys[1]"]);
    let detail = check(&v, "config")["detail"].as_str().expect("detail");
    assert!(!detail.contains("previous_cursor_keys[0]"), "{detail}");
    assert!(!v.to_string().contains(bad), "the value is never shown");
}

#[tokio::test]
async fn an_issuer_that_is_not_the_public_url_is_advised() {
    let emu = emulator().await;
    let dir = Dir::new();
    let file = dir.write(
        "gateway.toml",
        &format!(
            "[gateway]\npublic_url = \"https://ats.example.com\"\n[auth]\nissuer = \"ats-gateway\"\n{}",
            dataverse_toml(&emu, &[])
        ),
    );
    let (_, v) = run(&file).await;
    let config = check(&v, "config");
    assert_eq!(config["ok"], true, "{v}");
    let fix = config["fix"].as_str().expect("advice");
    assert!(
        fix.contains("auth.issuer") && fix.contains("https://ats.example.com"),
        "{fix}"
    );
}

/// Boards without `public_url` build their public links from each request's `Host`: advised.
#[tokio::test]
async fn boards_without_a_public_url_are_advised() {
    let emu = emulator().await;
    let dir = Dir::new();
    let board = "[[boards]]\nid = \"careers\"\nname = \"Careers\"\ncompanies = [\"usmf\"]\napply_url = \"https://ats.example.com/apply?request={number}\"\nhiring_organization = { name = \"Contoso\", url = \"https://www.contoso.com\" }\n";
    let without = dir.write(
        "boards.toml",
        &format!("{}{board}", dataverse_toml(&emu, &[])),
    );
    let (_, v) = run(&without).await;
    let config = check(&v, "config");
    assert_eq!(config["ok"], true, "{v}");
    let fix = config["fix"].as_str().unwrap_or_default();
    assert!(
        fix.contains("gateway.public_url") && fix.contains("Host"),
        "{v}"
    );
    let with = dir.write(
        "boards-public.toml",
        &format!(
            "[gateway]\npublic_url = \"https://ats.example.com\"\n[auth]\nissuer = \"https://ats.example.com\"\n{}{board}",
            dataverse_toml(&emu, &[])
        ),
    );
    let (_, v) = run(&with).await;
    assert!(check(&v, "config")["fix"].is_null(), "{v}");
}

#[tokio::test]
async fn wrong_secret() {
    let emu = emulator().await;
    let (_, v) = doctor_with(&emu, &[("client_secret", q("not-the-secret"))]).await;
    fails_with(&v, "token", &[], &["AADSTS7000215", "client secret"]);
    assert!(check(&v, "token")["fix"]
        .as_str()
        .is_some_and(|f| f.contains("Value (not its Secret ID)")));
    assert!(!v.to_string().contains("not-the-secret"), "secret printed");
    assert_eq!(names(&v), ["config", "credential", "token"]);
}

#[tokio::test]
async fn expired_secret_from_entra_and_from_config() {
    let emu = emulator().await;
    let expired_app = emu.config().expired_client_id.to_string();
    let (_, v) = doctor_with(&emu, &[("client_id", q(&expired_app))]).await;
    fails_with(&v, "token", &[], &["AADSTS7000222", "has expired"]);
    // The configured expiry date is checked before Entra is asked.
    let (_, v) = doctor_with(
        &emu,
        &[("client_secret_expires_at", q("2025-06-30T00:00:00Z"))],
    )
    .await;
    fails_with(&v, "credential", &[], &["expired on 2025-06-30"]);
    // Soon: a pass with advice.
    let soon = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let (_, v) = doctor_with(&emu, &[("client_secret_expires_at", q(&soon))]).await;
    assert_eq!(v["ok"], true, "{v:#}");
    let c = check(&v, "credential");
    assert!(
        c["detail"]
            .as_str()
            .is_some_and(|d| d.contains("(in 9 days)") || d.contains("(in 10 days)")),
        "{c:#}"
    );
    assert!(c["fix"]
        .as_str()
        .is_some_and(|f| f.contains("New client secret")));
}

#[tokio::test]
async fn unknown_app_wrong_tenant_disabled_app_and_bad_scope() {
    let emu = emulator().await;
    let (_, v) = doctor_with(
        &emu,
        &[("client_id", q("00000000-1111-2222-3333-444444444444"))],
    )
    .await;
    fails_with(
        &v,
        "token",
        &[],
        &["AADSTS700016", "has no application with client id"],
    );

    let (_, v) = doctor_with(
        &emu,
        &[("tenant_id", q("11111111-2222-3333-4444-555555555555"))],
    )
    .await;
    fails_with(&v, "token", &[], &["AADSTS90002", "has no tenant"]);

    let disabled = emu.config().disabled_client_id.to_string();
    let (_, v) = doctor_with(&emu, &[("client_id", q(&disabled))]).await;
    fails_with(&v, "token", &[], &["AADSTS7000112", "is disabled"]);

    // The scope is `{org_url}/.default`: another environment's URL is a resource the tenant lacks.
    let (_, v) = doctor_with(&emu, &[("org_url", q("https://other.crm4.dynamics.com"))]).await;
    fails_with(
        &v,
        "token",
        &[],
        &["AADSTS500011", "does not know the resource"],
    );
}

#[tokio::test]
async fn certificate_valid_and_expired() {
    let emu = emulator().await;
    let dir = Dir::new();
    let (cert, key) = ats_sandbox::entra::demo_certificate();
    let cert_file = dir.write("cert.pem", cert);
    let key_file = dir.write("key.pem", key);
    let cert_app = emu.config().cert_client_id.to_string();
    let with_cert = |c: &Path, k: &Path| {
        vec![
            ("client_id", q(&cert_app)),
            ("client_secret", q("")),
            ("certificate_file", q(&c.display().to_string())),
            ("private_key_file", q(&k.display().to_string())),
        ]
    };
    let (_, v) = doctor_with(&emu, &with_cert(&cert_file, &key_file)).await;
    assert_eq!(v["ok"], true, "{v:#}");
    let detail = check(&v, "credential")["detail"].as_str().expect("detail");
    assert!(
        detail.contains("thumbprint") && detail.contains("valid until 2126"),
        "{detail}"
    );

    // Dates read from the PEM: expired on 2025-01-01; Entra refuses the unregistered certificate.
    let old_cert = dir.write("old.pem", include_str!("doctor/expired_client_cert.pem"));
    let old_key = dir.write("old_key.pem", include_str!("doctor/expired_client_key.pem"));
    let (_, v) = doctor_with(&emu, &with_cert(&old_cert, &old_key)).await;
    fails_with(&v, "credential", &["token"], &["expired on 2025-01-01"]);
    assert!(check(&v, "token")["detail"]
        .as_str()
        .is_some_and(|d| d.contains("AADSTS700027")));
    let text = doctor::render::text(
        &doctor::run(Some(&dir.write(
            "c.toml",
            &dataverse_toml(&emu, &with_cert(&old_cert, &old_key)),
        )))
        .await,
    );
    assert!(!text.contains("PRIVATE KEY"), "key printed");
}

#[tokio::test]
async fn application_user_missing() {
    let c = SandboxConfig::default();
    let emu = emulator_with(SandboxConfig {
        without_application_user: vec![c.client_id],
        ..c
    })
    .await;
    let (_, v) = doctor_with(&emu, &[]).await;
    fails_with(
        &v,
        "whoami",
        &[],
        &["has no application user", "0x80072560"],
    );
    assert!(check(&v, "whoami")["fix"]
        .as_str()
        .is_some_and(|f| f.contains("Application users > New app user")));
    assert_eq!(names(&v), ["config", "credential", "token", "whoami"]);
}

#[tokio::test]
async fn role_lacks_a_table() {
    let lacking = "mshr_hcmjobentities";
    let read: Vec<String> = ats_gateway::doctor::tables::integration_tables()
        .iter()
        .map(|t| t.set.to_string())
        .filter(|s| s != lacking)
        .collect();
    let mut sandbox = SandboxConfig::default();
    sandbox.role.read = read;
    let emu = emulator_with(sandbox).await;
    let (_, v) = doctor_with(&emu, &[]).await;
    let name = format!("table:{lacking}");
    fails_with(
        &v,
        &name,
        &["tables"],
        &[
            "security role lacks read access",
            "privilege prvReadmshr_hcmjobentity",
        ],
    );
    assert!(check(&v, &name)["fix"]
        .as_str()
        .is_some_and(|f| f.contains("Security roles")));
    assert!(check(&v, "tables")["detail"]
        .as_str()
        .is_some_and(|d| d.contains(lacking)));
}

#[tokio::test]
async fn virtual_table_not_generated() {
    let missing = "mshr_hcmpersonskillentities";
    let emu = emulator_with(SandboxConfig {
        not_generated: vec![missing.to_string()],
        ..Default::default()
    })
    .await;
    let (_, v) = doctor_with(&emu, &[]).await;
    let name = format!("table:{missing}");
    fails_with(&v, &name, &["tables"], &["is not generated", "404"]);
    assert!(check(&v, &name)["fix"]
        .as_str()
        .is_some_and(|f| f.contains("Generate/refresh")));
}

#[tokio::test]
async fn throttling_is_not_a_missing_table() {
    let emu = emulator().await;
    let throttled = "mshr_hcmcandidatetohireentities";
    emu.fault(json!({"kind": "throttle", "retry_after": 30, "target": throttled}))
        .await;
    let (_, v) = doctor_with(&emu, &[]).await;
    let name = format!("table:{throttled}");
    fails_with(
        &v,
        &name,
        &["tables", "data"],
        &["throttled", "429", "after 30 s"],
    );
    assert!(check(&v, "tables")["detail"]
        .as_str()
        .is_some_and(|d| d.contains("rest were not checked")));
}

#[test]
fn binary_prints_the_checklist_and_sets_the_exit_code() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let emu = rt.block_on(emulator());
    let dir = Dir::new();
    let good = dir.write("good.toml", &dataverse_toml(&emu, &[]));
    let bad = dir.write(
        "bad.toml",
        &dataverse_toml(&emu, &[("client_secret", q("wrong-secret"))]),
    );
    let doctor = |file: &Path, json: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ats-gateway"));
        cmd.args(["doctor", "--config", file.to_str().expect("utf8")]);
        if json {
            cmd.arg("--json");
        }
        cmd.output().expect("run doctor")
    };
    let out = doctor(&good, false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for line in [
        "PASS  config",
        "PASS  token",
        "PASS  whoami",
        "PASS  tables",
        "PASS  data",
        "All 6 checks passed.",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }

    let out = doctor(&bad, false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL  token") && text.contains("AADSTS7000215"),
        "{text}"
    );
    assert!(text.contains("fix: Copy the secret's Value"), "{text}");
    assert!(
        text.contains("SKIP") && text.contains("whoami, tables, data"),
        "{text}"
    );
    assert!(!text.contains("wrong-secret"));

    let out = doctor(&bad, true);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON report");
    assert_eq!(v["ok"], false);
    assert_eq!(check(&v, "token")["ok"], false);
    drop(emu);
}

/// Issue 18: with `client_id` and `client_secret` swapped, Entra's AADSTS700016 quotes the "client
/// id" (the secret); neither doctor nor the gateway's WARN lines may repeat it.
#[tokio::test]
async fn a_swapped_id_and_secret_never_show_the_secret() {
    crate::common::logs::capture();
    let emu = emulator().await;
    let c = emu.config().clone();
    let secret = c.client_secret.clone();
    let (_, v) = doctor_with(
        &emu,
        &[
            ("client_id", q(&secret)),
            ("client_secret", q(&c.client_id.to_string())),
        ],
    )
    .await;
    assert_eq!(check(&v, "token")["ok"], false);
    let report = v.to_string();
    assert!(report.contains("AADSTS700016"), "{report}");
    assert!(
        !report.contains(&secret),
        "the report shows the secret: {report}"
    );

    let app = crate::common::spawn_app_with(SandboxConfig::default(), |cfg| {
        cfg.dataverse.client_id = secret.clone();
        cfg.dataverse.client_secret =
            ats_gateway::config::SecretString::new(c.client_id.to_string());
    })
    .await;
    let ready = app.ops_get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let logs = crate::common::logs::text();
    assert!(logs.contains("AADSTS700016"), "the refusal is logged");
    assert!(!logs.contains(&secret), "a log line shows the secret");
}

/// Issue 19: doctor's output is the checklist; routine log lines (`auth ready`) stay out of it.
#[test]
fn doctor_prints_only_the_checklist() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let emu = rt.block_on(emulator());
    let dir = Dir::new();
    let good = dir.write("good.toml", &dataverse_toml(&emu, &[]));
    let out = Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
        .args(["doctor", "--config", good.to_str().expect("utf8")])
        .env_remove("RUST_LOG")
        .output()
        .expect("run doctor");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  token"), "{stdout}");
    assert!(
        stdout.lines().all(|l| !l.trim_start().starts_with('{')),
        "a log line in the checklist: {stdout}"
    );
    assert!(
        stderr.trim().is_empty(),
        "nothing but warnings may be logged, and a healthy run has none: {stderr}"
    );
    drop(emu);
}
