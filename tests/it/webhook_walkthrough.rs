//! The README's webhook walkthrough, run as written: its two shell blocks go through one bash (curl,
//! sed and the built binary's `webhook-receiver`) against a gateway and emulator on free ports;
//! only the addresses are substituted. The receiver must print the test event, HR's change and its
//! redelivery, each verified.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc;

use crate::common::{spawn_app_with, TestApp};

/// The ```sh blocks of the README's "### Webhooks" section, in order.
fn walkthrough_blocks() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("\n### Webhooks\n")
        .nth(1)
        .expect("a Webhooks section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("\n```").next())
        .map(str::to_string)
        .collect()
}

/// The bash running the walkthrough and everything it started (one process group).
struct Shell {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<Value>,
}

impl Drop for Shell {
    fn drop(&mut self) {
        // The whole group: bash and the receiver it started in the background.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

impl Shell {
    fn start(dir: &std::path::Path) -> Shell {
        let mut child = Command::new("bash")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .expect("bash");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Shell {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn run(&mut self, script: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(script.as_bytes()).expect("write");
        stdin.write_all(b"\n").expect("write");
        stdin.flush().expect("flush");
    }

    /// The first JSON line `pick` accepts, printed already or within `secs` (the receiver's lines
    /// and curl's answers interleave in any order; each line is taken once).
    async fn expect(&mut self, secs: u64, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(&pick) {
            return self.seen.remove(i);
        }
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = tokio::time::timeout(left, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} within {secs} s; seen: {:?}", self.seen))
                .unwrap_or_else(|| panic!("the shell ended before {what}"));
            // curl's answer has no newline of its own: a line the receiver prints at that moment
            // lands right after it, so a line may hold several JSON values.
            let values: Vec<Value> = serde_json::Deserializer::from_str(&line)
                .into_iter::<Value>()
                .map_while(Result::ok)
                .collect();
            self.seen.extend(values);
            if let Some(i) = self.seen.iter().position(&pick) {
                return self.seen.remove(i);
            }
        }
    }
}

#[tokio::test]
async fn the_readme_webhook_walkthrough_runs_as_written() {
    let app: TestApp = spawn_app_with(Default::default(), |c| {
        c.webhooks.allow_private_urls = true;
        c.webhooks.retry_schedule_ms = vec![500, 1_000, 2_000];
        c.changes.scan_interval_ms = Some(500);
    })
    .await;
    // The baseline, so HR's change in step 4 is an event.
    crate::changes::scan(&app).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let bin = env!("CARGO_BIN_EXE_ats-gateway");
    let tenant = app.emu.config().tenant_id.to_string();
    let localise = |block: &str| {
        block
            .replace("http://127.0.0.1:8080", &app.url)
            .replace("http://127.0.0.1:8090", &app.emu.handle.url)
            .replace("127.0.0.1:9000", &format!("127.0.0.1:{port}"))
            .replace("7e1d0c4a-2b6f-4f0e-9a3c-5d8e1f2a3b4c", &tenant)
            .replace(
                "ats-gateway webhook-receiver",
                &format!("{bin} webhook-receiver"),
            )
    };
    let blocks = walkthrough_blocks();
    assert_eq!(blocks.len(), 2, "subscribe + HR change, then redeliver");
    assert!(
        blocks[0].find("webhook-receiver") < blocks[0].find("/v1/webhooks"),
        "the receiver starts before the subscription"
    );
    let dir = tempfile::tempdir().expect("dir");
    let mut sh = Shell::start(dir.path());
    sh.run(&localise(&blocks[0]));

    sh.expect(30, "the receiver's ready line", |v| v["event"] == "ready")
        .await;
    let answer = sh
        .expect(30, "the test action's answer", |v| {
            v.get("event_id").is_some()
        })
        .await;
    assert_eq!(answer["status"], "delivered", "{answer}");
    let test = sh
        .expect(30, "the printed test event", |v| {
            v["type"] == "webhook.test"
        })
        .await;
    assert_eq!(test["id"], answer["event_id"]);
    let sub = test["data"]["subscription_id"]
        .as_str()
        .expect("subscription id")
        .to_string();
    let change = sh
        .expect(30, "HR's change, printed", |v| {
            v["type"] == "recruiting_request.status_changed"
        })
        .await;
    assert_eq!(change["to"], "active", "{change}");

    // Step 5 redelivers the newest attempt's event: wait (bounded) until the log shows it.
    let watch = app.partner_token("nordic-watch", None).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, log) = app
            .get_json(
                &format!("/v1/webhooks/{sub}/deliveries?page_size=1"),
                &watch,
                None,
            )
            .await;
        if log["data"][0]["event_id"] == change["id"] {
            break;
        }
        assert!(Instant::now() < deadline, "the delivery was not logged");
        // Well inside nordic-watch's rate limit (20/s), which the script's own calls share.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    sh.run(&localise(&blocks[1]));
    let queued = sh
        .expect(30, "the redeliver answer", |v| v["status"] == "queued")
        .await;
    assert_eq!(queued["event_id"], change["id"]);
    let again = sh
        .expect(30, "the redelivered event, printed", |v| {
            v["id"] == change["id"]
        })
        .await;
    assert_eq!(again, change, "the same event, verified again");
}
