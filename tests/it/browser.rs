//! Frontends in a real browser (Debian's headless Chromium): a page on a second loopback origin
//! listed in a partner's `cors_origins` fetches recruiting requests with a bearer token and
//! `Accept-Language: nb-NO` and shows the Norwegian labels; the same page from an unlisted origin
//! is blocked by CORS; `/docs` renders (screenshot under target/). Without Chromium the tests skip
//! with a reason, except under `CI=true`, where they fail (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;

use crate::common::{spawn_app_with, TestApp};
use ats_sandbox::config::SandboxConfig;

const CHROMIUM: &str = "/usr/bin/chromium";

/// The browser, or `None` (with the reason printed) when the test should skip.
pub(crate) fn chromium() -> Option<&'static str> {
    if Path::new(CHROMIUM).exists() {
        return Some(CHROMIUM);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{CHROMIUM} is missing under CI=true: .ci/run installs Debian's chromium"
    );
    eprintln!("skipped: {CHROMIUM} not installed (apt-get install chromium)");
    None
}

pub(crate) fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")
}

/// Runs headless Chromium on `url` with `extra` arguments (bounded: 90 s), returns stdout.
pub(crate) async fn run_chromium(bin: &str, url: &str, extra: &[&str]) -> String {
    let profile = target_dir().join(format!("chromium-profile-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&profile).expect("profile dir");
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url)
    .kill_on_drop(true)
    .stdin(std::process::Stdio::null());
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("chromium finished within 90 s")
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The frontend page: fetches a list from the gateway and writes what it got into the DOM.
fn page(gateway: &str, token: &str) -> String {
    format!(
        r#"<!doctype html><html lang="nb"><head><meta charset="utf-8"><title>jobs</title></head>
<body><p id="state">loading</p><ul id="labels"></ul>
<script>
fetch("{gateway}/v1/recruiting-requests?page_size=10", {{
  headers: {{"Authorization": "Bearer {token}", "Accept-Language": "nb-NO"}}
}}).then(r => r.json().then(body => {{
  const ul = document.getElementById("labels");
  for (const item of body.data) {{
    const li = document.createElement("li");
    li.textContent = item.status.label;
    ul.appendChild(li);
  }}
  document.getElementById("state").textContent = "status " + r.status;
}})).catch(e => {{ document.getElementById("state").textContent = "blocked: " + e.name; }});
</script></body></html>"#
    )
}

/// Serves `html` at `/` on a fresh loopback port; returns its origin.
async fn serve_page(html: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind page server");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route("/", get(move || async move { Html(html) }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    origin
}

/// Gateway whose `nordic-hr` partner lists `origin` as a browser origin.
async fn gateway_for(origin: &str) -> TestApp {
    let origin = origin.to_string();
    spawn_app_with(SandboxConfig::default(), move |c| {
        for p in &mut c.auth.partners {
            if p.id == "nordic-hr" {
                p.cors_origins.push(origin.clone());
            }
        }
    })
    .await
}

fn state_of(dom: &str) -> &str {
    dom.split("<p id=\"state\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or("")
}

#[tokio::test]
async fn a_listed_origin_reads_norwegian_labels_and_an_unlisted_one_is_blocked() {
    let Some(bin) = chromium() else { return };
    // Bind both page servers first: the allowed origin must be in the config at start.
    let listed_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let listed = format!("http://{}", listed_listener.local_addr().expect("addr"));
    drop(listed_listener);
    let app = gateway_for(&listed).await;
    let token = app.partner_token("nordic-hr", None).await;
    let html = page(&app.url, &token);

    // The listed origin: the page's server must answer on exactly that origin.
    let listener = tokio::net::TcpListener::bind(listed.trim_start_matches("http://"))
        .await
        .expect("rebind the listed origin's port");
    let page_html = html.clone();
    let server = axum::Router::new().route("/", get(move || async move { Html(page_html) }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, server).await;
    });
    let dom = run_chromium(
        bin,
        &format!("{listed}/"),
        &["--virtual-time-budget=15000", "--dump-dom"],
    )
    .await;
    assert_eq!(state_of(&dom), "status 200", "{dom}");
    let labels: Vec<&str> = dom
        .split("<li>")
        .skip(1)
        .filter_map(|s| s.split("</li>").next())
        .collect();
    assert!(!labels.is_empty(), "{dom}");
    let norwegian = [
        "Utkast",
        "Til gjennomgang",
        "Uavsluttet",
        "Annullert",
        "Nektet",
        "Aktive",
        "Lukket",
    ];
    assert!(
        labels.iter().all(|l| norwegian.contains(l)),
        "labels are Norwegian: {labels:?}"
    );

    // The same page from an origin no partner lists: the browser blocks the response.
    let unlisted = serve_page(html).await;
    let dom = run_chromium(
        bin,
        &format!("{unlisted}/"),
        &["--virtual-time-budget=15000", "--dump-dom"],
    )
    .await;
    assert!(state_of(&dom).starts_with("blocked"), "{dom}");
    assert!(!dom.contains("<li>"), "{dom}");
}

#[tokio::test]
async fn docs_page_renders_in_the_browser() {
    let Some(bin) = chromium() else { return };
    let app = gateway_for("http://127.0.0.1:9").await;
    let dom = run_chromium(
        bin,
        &format!("{}/docs/", app.url),
        &["--virtual-time-budget=15000", "--dump-dom"],
    )
    .await;
    // Swagger UI rendered the document: the operations and the Authorize button are in the DOM.
    for needle in [
        "listRecruitingRequests",
        "getCandidate",
        "authorize",
        "/oauth2/token",
    ] {
        assert!(dom.contains(needle), "{needle} in /docs DOM");
    }
    let shot = target_dir().join("docs-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        bin,
        &format!("{}/docs/", app.url),
        &[
            "--virtual-time-budget=15000",
            "--window-size=1280,1600",
            "--hide-scrollbars",
            &format!("--screenshot={}", shot.display()),
        ],
    )
    .await;
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
}

/// `/docs` used as a partner would: Authorize with a demo partner (client credentials through the
/// page), Execute `listRecruitingRequests`, see a 200; no request leaves the gateway's origin.
/// Driven by `scripts/docs-try-it.mjs` with playwright-core (installed by `.ci/run` under
/// target/browser); screenshot at target/docs-try-it.png.
#[tokio::test]
async fn docs_authorize_and_try_it_out() {
    let Some(bin) = chromium() else { return };
    let modules = target_dir().join("browser/node_modules");
    if !modules.join("playwright-core").exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "playwright-core is missing under CI=true: .ci/run installs it into target/browser"
        );
        eprintln!("skipped: playwright-core not installed (npm install --prefix target/browser playwright-core)");
        return;
    }
    let app = gateway_for("http://127.0.0.1:9").await;
    let shot = target_dir().join("docs-try-it.png");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/docs-try-it.mjs");
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .arg(&script)
            .args([
                app.url.as_str(),
                &shot.display().to_string(),
                "acme-ats",
                "acme-demo-secret",
            ])
            .env("NODE_PATH", &modules)
            .env("CHROMIUM", bin)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the docs run finished within 120 s")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("docs try-it-out: 200"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&shot).is_ok_and(|png| png.starts_with(b"\x89PNG")));
}
