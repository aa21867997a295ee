//! HTTP load generator for loopback benchmarks (see scripts/bench.sh).
//!
//! `cargo run --release --example load -- URL [--token T] [--header 'K: V'] [--seconds 10]
//!  [--concurrency 16 | --rate 200] [--vary 1..200] [--slow MS]`
//!
//! Closed loop (`--concurrency`): N connections each send the next request when the last answered,
//! which measures throughput. Open loop (`--rate`): requests start on a fixed schedule whatever the
//! answers do, and latency counts from the scheduled start (no coordinated omission), which
//! measures what a hop adds at a load below saturation. Prints one JSON line: requests/s,
//! p50/p90/p99/max latency (ms), status counts. Bounded: stops after `--seconds`.
//!
//! `--vary LO..HI` replaces `{n}` in the URL and header values with LO, LO+1, … HI, then LO again,
//! one value per request in send order, so no two requests in flight are alike (as long as fewer
//! than HI-LO+1 are): the gateway's coalescing cannot share an upstream call between them.
//!
//! `--slow MS` (open loop) prints each request slower than MS to stderr as a JSON line with its
//! wall-clock start (Unix seconds) and index, to line stalls up with the server's own logs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    url: String,
    token: Option<String>,
    headers: Vec<(String, String)>,
    concurrency: usize,
    rate: Option<u32>,
    seconds: u64,
    /// `--vary LO..HI`: the values `{n}` takes, and the next request's index.
    vary: Option<(u64, u64)>,
    /// `--slow MS`: report requests slower than this.
    slow: Option<Duration>,
    sent: AtomicU64,
}

impl Args {
    /// `text` with `{n}` replaced by this request's value (unchanged without `--vary`).
    fn fill(&self, text: &str, i: u64) -> String {
        match self.vary {
            Some((lo, hi)) => text.replace("{n}", &(lo + i % (hi - lo + 1)).to_string()),
            None => text.to_string(),
        }
    }
}

fn parse() -> Args {
    let mut args = std::env::args().skip(1);
    let mut a = Args {
        url: String::new(),
        token: None,
        headers: Vec::new(),
        concurrency: 16,
        rate: None,
        seconds: 10,
        vary: None,
        slow: None,
        sent: AtomicU64::new(0),
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--token" => a.token = args.next(),
            "--header" => {
                if let Some((k, v)) = args.next().as_deref().and_then(|h| h.split_once(':')) {
                    a.headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            "--concurrency" => {
                a.concurrency = args.next().and_then(|v| v.parse().ok()).unwrap_or(16)
            }
            "--rate" => a.rate = args.next().and_then(|v| v.parse().ok()).filter(|r| *r > 0),
            "--vary" => {
                a.vary = args
                    .next()
                    .as_deref()
                    .and_then(|v| v.split_once(".."))
                    .and_then(|(lo, hi)| Some((lo.parse().ok()?, hi.parse().ok()?)))
                    .filter(|(lo, hi)| lo <= hi)
            }
            "--slow" => {
                a.slow = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .map(Duration::from_millis)
            }
            "--seconds" => a.seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(10),
            other => a.url = other.to_string(),
        }
    }
    if a.url.is_empty() {
        eprintln!("usage: load URL [--token T] [--header 'K: V'] [--seconds S] [--concurrency N | --rate R] [--vary LO..HI] [--slow MS]");
        std::process::exit(2);
    }
    a
}

/// One request; its status (0 = transport error) once the whole body has arrived, and its index.
async fn send(client: &reqwest::Client, a: &Args) -> (u16, u64) {
    let i = a.sent.fetch_add(1, Ordering::Relaxed);
    (send_one(client, a, i).await, i)
}

async fn send_one(client: &reqwest::Client, a: &Args, i: u64) -> u16 {
    let mut req = client.get(a.fill(&a.url, i));
    if let Some(t) = &a.token {
        req = req.bearer_auth(t);
    }
    for (k, v) in &a.headers {
        req = req.header(k, a.fill(v, i));
    }
    match req.send().await {
        Ok(r) => {
            let s = r.status().as_u16();
            match r.bytes().await {
                Ok(_) => s,
                Err(_) => 0,
            }
        }
        Err(_) => 0,
    }
}

type Samples = (Vec<Duration>, BTreeMap<u16, u64>);

async fn closed_loop(client: reqwest::Client, a: std::sync::Arc<Args>) -> Samples {
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..a.concurrency {
        let (client, a) = (client.clone(), a.clone());
        tasks.spawn(async move {
            let mut out: Samples = Default::default();
            while Instant::now() < deadline {
                let started = Instant::now();
                let (status, _) = send(&client, &a).await;
                out.0.push(started.elapsed());
                *out.1.entry(status).or_default() += 1;
            }
            out
        });
    }
    merge(tasks).await
}

async fn open_loop(client: reqwest::Client, a: std::sync::Arc<Args>, rate: u32) -> Samples {
    let total = u64::from(rate) * a.seconds;
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate);
    // Late ticks fire at once: the schedule, not the answers, decides when requests start.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..total {
        let scheduled = ticks.tick().await;
        let wall = std::time::SystemTime::now();
        let (client, a) = (client.clone(), a.clone());
        tasks.spawn(async move {
            let (status, i) = send(&client, &a).await;
            let took = scheduled.elapsed();
            if a.slow.is_some_and(|s| took > s) {
                let at = wall
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                eprintln!(
                    "{}",
                    serde_json::json!({"slow_ms": took.as_secs_f64() * 1000.0, "at": at,
                        "index": i, "value": a.fill("{n}", i), "status": status})
                );
            }
            let mut out: Samples = Default::default();
            out.0.push(took);
            out.1.insert(status, 1);
            out
        });
    }
    merge(tasks).await
}

async fn merge(mut tasks: tokio::task::JoinSet<Samples>) -> Samples {
    let mut all: Samples = Default::default();
    while let Some(done) = tasks.join_next().await {
        if let Ok((lat, st)) = done {
            all.0.extend(lat);
            for (k, v) in st {
                *all.1.entry(k).or_default() += v;
            }
        }
    }
    all
}

#[tokio::main]
async fn main() {
    let a = std::sync::Arc::new(parse());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency.max(64))
        .build()
        .expect("client");
    let started = Instant::now();
    let (mut all, statuses) = match a.rate {
        Some(rate) => open_loop(client, a.clone(), rate).await,
        None => closed_loop(client, a.clone()).await,
    };
    let elapsed = started.elapsed().as_secs_f64().max(f64::EPSILON);
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| (d.as_secs_f64() * 100_000.0).round() / 100.0)
    };
    let rps = all.len() as f64 / elapsed;
    println!(
        "{}",
        serde_json::json!({"url": a.url, "requests": all.len(), "rps": (rps * 10.0).round() / 10.0,
            "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1.0),
            "statuses": statuses, "concurrency": a.concurrency, "rate": a.rate,
            "vary": a.vary.map(|(lo, hi)| format!("{lo}..{hi}"))})
    );
}
