//! The job boards in headless Chromium (Debian's): the board and a job page render (screenshots
//! at 1280 and 360 px; `UPDATE_SCREENSHOTS=1` writes them to docs/ for the README, else to
//! target/), the filter form is followed as the browser submits it (GET, no JavaScript), and the
//! JSON-LD is read from the rendered DOM.

use std::path::PathBuf;

use crate::boards::{board_app, json_ld};
use crate::browser::{chromium, run_chromium, target_dir};

const BOARD: &str = "contoso-careers";

fn shot_path(name: &str) -> PathBuf {
    match std::env::var_os("UPDATE_SCREENSHOTS") {
        Some(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(name),
        None => target_dir().join(name),
    }
}

async fn dom(bin: &str, url: &str) -> String {
    run_chromium(bin, url, &["--virtual-time-budget=5000", "--dump-dom"]).await
}

async fn screenshot(bin: &str, url: &str, width: u32, height: u32, name: &str) {
    let shot = shot_path(name);
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        bin,
        url,
        &[
            "--virtual-time-budget=5000",
            &format!("--window-size={width},{height}"),
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            &format!("--screenshot={}", shot.display()),
        ],
    )
    .await;
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "a real screenshot: {name}"
    );
}

/// The `value`s of a `<select id="{id}">` in the DOM (the empty "All" first).
fn options(dom: &str, id: &str) -> Vec<String> {
    let start = dom.find(&format!("<select id=\"{id}\"")).expect("select");
    let end = start + dom[start..].find("</select>").expect("end");
    dom[start..end]
        .split("<option value=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|v| v.replace("&amp;", "&"))
        .collect()
}

/// Job page links in document order.
fn job_links(dom: &str) -> Vec<String> {
    dom.split(&format!("href=\"/boards/{BOARD}/jobs/"))
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn chromium_renders_the_board_follows_a_filter_and_reads_the_json_ld() {
    let Some(bin) = chromium() else { return };
    let app = board_app(Vec::new()).await;
    let board_url = format!("{}/boards/{BOARD}", app.url);
    let board = dom(bin, &board_url).await;
    assert!(
        board.contains("<main id=\"main\">") && board.contains("role=\"search\""),
        "{board}"
    );
    assert!(
        board.contains("<label for=\"department\">"),
        "labelled filters"
    );
    let all = job_links(&board);
    assert!(!all.is_empty(), "{board}");

    // The GET form, as the browser submits it: action + every field, one department chosen.
    let departments = options(&board, "department");
    assert_eq!(departments[0], "", "the first option is All");
    let chosen = &departments[1];
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let filtered_url = format!("{board_url}?q=&department={}&location=", enc(chosen));
    let filtered = dom(bin, &filtered_url).await;
    let some = job_links(&filtered);
    assert!(!some.is_empty() && some.len() <= all.len(), "{filtered}");
    assert!(some.iter().all(|l| all.contains(l)));
    assert!(
        filtered.contains(&format!(
            "<option value=\"{}\" selected",
            chosen.replace('&', "&amp;")
        )),
        "the choice is kept"
    );
    if departments.len() > 2 {
        assert!(some.len() < all.len(), "a department narrows the list");
    }

    // A job page: the JSON-LD as the browser's DOM holds it.
    let job_url = format!("{}/boards/{BOARD}/jobs/{}", app.url, some[0]);
    let page = dom(bin, &job_url).await;
    let ld = json_ld(&page);
    assert_eq!(ld["@type"], "JobPosting", "{ld}");
    for key in [
        "title",
        "description",
        "datePosted",
        "hiringOrganization",
        "jobLocation",
    ] {
        assert!(ld.get(key).is_some(), "{key} in {ld}");
    }
    assert_eq!(ld["directApply"], false);

    for (url, name) in [(&board_url, "boards-board"), (&job_url, "boards-job")] {
        screenshot(bin, url, 1280, 1000, &format!("{name}-1280.png")).await;
        screenshot(bin, url, 360, 1400, &format!("{name}-360.png")).await;
    }
}
