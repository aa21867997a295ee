//! The binary itself: `emulator --listen 127.0.0.1:0` prints exactly one JSON ready line on stdout
//! with the documented keys, and the emulator it describes answers.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn emulator_command_prints_one_ready_line() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let guard = Kill(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("read line");
    let v: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    assert_eq!(v["event"], "ready");
    let emulator = v["emulator"].as_str().expect("emulator url");
    assert!(emulator.starts_with("http://127.0.0.1:") && !emulator.ends_with(":0"));
    for k in [
        "org_url",
        "token_url",
        "tenant_id",
        "client_id",
        "client_secret",
    ] {
        assert!(v["dataverse"][k].is_string(), "dataverse.{k}");
    }
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
    drop(guard);
}

#[test]
fn bad_config_names_the_key() {
    let dir = std::env::temp_dir().join(format!("atsgw-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[sandbox]\nscale = 0\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
        .args(["--config", file.to_str().expect("utf8"), "emulator"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sandbox.scale"), "{err}");
}
