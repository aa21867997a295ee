//! The invite page in headless Chromium (Debian's `chromium`, driven by playwright-core as the
//! docs test is): open the invite (nothing revealed), reveal with the keyboard, copy, "Test my
//! connection" (the page shows HTTP 200), reload (nothing revealed), the same at 360 px in
//! Norwegian without sideways scrolling, and an expired link. Screenshots go to target/; with
//! `UPDATE_SCREENSHOTS=1` also to docs/screenshots/ (the README shows them). Without Chromium or
//! playwright-core the test skips with a reason, except under `CI=true`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::poll;
use crate::operator::{invite, spawn_operated};

const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test]
async fn an_invited_partner_reveals_copies_and_tests_in_a_browser() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join("target/browser/node_modules");
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if !Path::new(CHROMIUM).exists() || !modules.join("playwright-core").exists() {
        assert!(
            !ci,
            "chromium and playwright-core are installed by .ci/run under CI=true"
        );
        eprintln!("skipped: {CHROMIUM} or playwright-core (target/browser) not installed");
        return;
    }
    let op = spawn_operated().await;
    let new_partner = |id: &str, name: &str| json!({"partner": {"id": id, "name": name, "scopes": ["recruiting-requests:read", "reference:read", "candidates:read"], "companies": ["usmf", "gbsi"]}});
    let en = invite(&op, new_partner("fjord-ats", "Fjord ATS Ltd")).await;
    let nb = invite(&op, new_partner("vidde-hr", "Vidde HR AS")).await;
    let mut late = new_partner("late-co", "Late Co");
    late["expires_in"] = json!(1);
    let expired = invite(&op, late).await;
    let gone = poll::until(Duration::from_secs(4), || async {
        op.app
            .http
            .get(&expired)
            .send()
            .await
            .expect("get")
            .status()
            == 410
    })
    .await;
    assert!(gone.is_some(), "the short invite expired");

    let shots = root.join("target/onboarding-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let out = tokio::time::timeout(
        Duration::from_secs(150),
        tokio::process::Command::new("node")
            .arg(root.join("scripts/onboarding.mjs"))
            .args([
                en.as_str(),
                nb.as_str(),
                expired.as_str(),
                &shots.display().to_string(),
            ])
            .env("NODE_PATH", &modules)
            .env("CHROMIUM", CHROMIUM)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser run finished within 150 s")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("one JSON line");
    for (lang, id) in [("en", "fjord-ats"), ("nb", "vidde-hr")] {
        let s = &seen[lang];
        assert_eq!(s["get_status"], 200, "{seen}");
        assert_eq!(s["get_reveals"], false, "a GET reveals nothing: {seen}");
        assert_eq!(s["reveal_by_keyboard"], true, "{seen}");
        assert_ne!(s["focus_outline"], "none", "visible focus: {seen}");
        assert_eq!(s["revealed"], true, "{seen}");
        assert_eq!(s["client_id"], id);
        assert_eq!(s["copied"], true, "{seen}");
        assert!(
            s["test"]
                .as_str()
                .is_some_and(|t| t.starts_with("HTTP 200")),
            "{seen}"
        );
        assert_eq!(s["reload_status"], 410);
        assert_eq!(s["reload_reveals"], false);
    }
    assert!(
        seen["nb"]["scroll_width"]
            .as_u64()
            .is_some_and(|w| w <= 360),
        "fits 360 px: {seen}"
    );
    assert_eq!(seen["expired_status"], 410);
    assert_eq!(seen["expired_reveals"], false);
    assert!(
        seen["outside"].as_array().is_some_and(Vec::is_empty),
        "no outside requests: {seen}"
    );
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        let docs = root.join("docs/screenshots");
        std::fs::create_dir_all(&docs).expect("docs/screenshots");
        for name in [
            "onboarding-1280-invite.png",
            "onboarding-1280-revealed.png",
            "onboarding-360-invite.png",
            "onboarding-360-revealed.png",
        ] {
            std::fs::copy(shots.join(name), docs.join(name)).expect("copy screenshot");
        }
    }
}
