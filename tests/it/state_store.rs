//! The state directory: one process at a time, private files, keys kept across restarts,
//! and readiness that notices a broken store.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{self, spawn_app};

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_config(emu: &common::Emu, state: &std::path::Path) -> String {
    let c = emu.config();
    format!(
        "[gateway]\nlisten = \"127.0.0.1:0\"\nops_listen = \"127.0.0.1:0\"\n\
         [dataverse]\norg_url = \"{url}\"\nauthority = \"{url}\"\ntenant_id = \"{tenant}\"\n\
         client_id = \"{id}\"\nclient_secret = \"{secret}\"\n\
         [state]\npath = \"{state}\"\n",
        url = emu.handle.url,
        tenant = c.tenant_id,
        id = c.client_id,
        secret = c.client_secret,
        state = state.display(),
    )
}

fn serve(config: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
        .args(["--config", config.to_str().expect("utf8"), "serve"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

#[tokio::test]
async fn a_second_process_on_one_state_directory_exits_naming_the_holder() {
    let emu = common::emulator().await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, serve_config(&emu, &state)).expect("config");

    let mut first = Kill(serve(&config));
    let stdout = first.0.stdout.take().expect("stdout");
    let ready = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("ready line");
    let ready: Value = serde_json::from_str(ready.trim()).expect("JSON ready line");
    assert_eq!(ready["event"], "ready");

    let second = serve(&config);
    let pid = first.0.id();
    let out = tokio::task::spawn_blocking(move || second.wait_with_output())
        .await
        .expect("join")
        .expect("second process ends");
    assert!(!out.status.success(), "the second process must not serve");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("state.path"), "{err}");
    assert!(
        err.contains(&format!("pid {pid}")),
        "names the holder: {err}"
    );
    assert!(out.stdout.is_empty(), "no ready line from the second");
    assert!(
        matches!(first.0.try_wait(), Ok(None)),
        "the first keeps serving"
    );

    // Once the holder is gone, the directory is free again (the kernel dropped the lock).
    drop(first);
    let mut third = Kill(serve(&config));
    let mut line = String::new();
    let stdout = third.0.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("read");
    if !line.contains("ready") {
        let mut err = String::new();
        let _ = third
            .0
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err);
        panic!("a new process starts after the holder exited: {err}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_state_directory_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let app = common::spawn_app_with(ats_sandbox::config::SandboxConfig::default(), |c| {
        c.state.path = Some(state.clone());
    })
    .await;
    // A write puts something in the WAL, so the -wal/-shm files exist.
    let token = app.partner_token("acme-ats", None).await;
    app.gateway
        .state
        .changes
        .scan_now()
        .await
        .expect("scan writes events");
    let _ = app.get("/v1/changes", &token, None).await;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&state), 0o700, "state directory");
    let mut files = 0;
    for entry in std::fs::read_dir(&state).expect("list") {
        let path = entry.expect("entry").path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        files += 1;
    }
    for name in [
        "ats-gateway.sqlite3",
        "ats-gateway.sqlite3-wal",
        "ats-gateway.sqlite3-shm",
    ] {
        assert!(state.join(name).exists(), "{name}");
    }
    assert!(files >= 5, "db, wal, shm, lock and key files: {files}");
}

#[tokio::test]
async fn changes_cursors_survive_a_restart_without_a_configured_key() {
    let mut app = spawn_app().await;
    assert_eq!(app.gateway.state.config.gateway.cursor_key.expose(), "");
    let token = app.partner_token("acme-ats", None).await;
    let (status, page) = app.get_json("/v1/changes?start=latest", &token, None).await;
    assert_eq!(status, 200, "{page}");
    let cursor = page["next_cursor"].as_str().expect("cursor").to_string();
    app.restart(|_| {}).await;
    let token = app.partner_token("acme-ats", None).await;
    let (status, body) = app
        .get_json(&format!("/v1/changes?cursor={cursor}"), &token, None)
        .await;
    assert_eq!(
        status, 200,
        "the cursor still opens after a restart: {body}"
    );
}

#[tokio::test]
async fn readiness_says_not_ready_when_the_hire_tables_are_corrupt() {
    let app = spawn_app().await;
    let ready = app.ops_get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let db = app.state_dir.path().join("ats-gateway.sqlite3");
    // Another connection finds the idempotency table's root page, moves everything into the main
    // file, and overwrites that page with garbage.
    let (page, size) = {
        let conn = rusqlite::Connection::open(&db).expect("open");
        let page: i64 = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'idempotency'",
                [],
                |r| r.get(0),
            )
            .expect("root page");
        let size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("page size");
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("checkpoint");
        (page, size)
    };
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&db)
            .expect("open file");
        let at = u64::try_from((page - 1) * size).expect("offset");
        f.seek(SeekFrom::Start(at)).expect("seek");
        f.write_all(&vec![0xA5; usize::try_from(size).expect("size")])
            .expect("garbage");
        f.sync_all().expect("sync");
    }
    // A write through another connection changes the WAL, so the gateway's connection drops its
    // page cache and reads the damaged page.
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch("CREATE TABLE IF NOT EXISTS nudge (x INTEGER)")
            .expect("nudge");
    }
    // Readiness is cached for up to 5 s: poll (bounded) until it reflects the store.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let resp = app.ops_get("/readyz").await;
        if resp.status() == 503 {
            let body: Value = resp.json().await.expect("json");
            assert_eq!(body["status"], "not_ready");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "readiness kept saying ready with a corrupt store"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
