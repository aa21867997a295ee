//! Closed-loop HTTP load generator for loopback benchmarks (see scripts/bench.sh):
//! `cargo run --release --example load -- URL [--token T] [--header 'K: V'] [--concurrency 16] [--seconds 10]`.
//! Prints one JSON line: requests/s, p50/p90/p99 latency (ms), status counts. Bounded: stops after
//! `--seconds`, loopback only by convention of the scripts that call it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut url = String::new();
    let mut token = None;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut concurrency = 16usize;
    let mut seconds = 10u64;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--token" => token = args.next(),
            "--header" => {
                if let Some((k, v)) = args.next().as_deref().and_then(|h| h.split_once(':')) {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            "--concurrency" => concurrency = args.next().and_then(|v| v.parse().ok()).unwrap_or(16),
            "--seconds" => seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(10),
            other => url = other.to_string(),
        }
    }
    if url.is_empty() {
        eprintln!("usage: load URL [--token T] [--header 'K: V'] [--concurrency N] [--seconds S]");
        std::process::exit(2);
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, token, headers) =
            (client.clone(), url.clone(), token.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
            while Instant::now() < deadline {
                let mut req = client.get(&url);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                let started = Instant::now();
                let status = match req.send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
                };
                lat.push(started.elapsed());
                *statuses.entry(status).or_default() += 1;
            }
            (lat, statuses)
        }));
    }
    let mut all = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for t in tasks {
        if let Ok((lat, st)) = t.await {
            all.extend(lat);
            for (k, v) in st {
                *statuses.entry(k).or_default() += v;
            }
        }
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let rps = all.len() as f64 / seconds as f64;
    println!(
        "{}",
        serde_json::json!({"url": url, "requests": all.len(), "rps": (rps * 10.0).round() / 10.0,
            "p50_ms": (pct(0.50) * 100.0).round() / 100.0, "p90_ms": (pct(0.90) * 100.0).round() / 100.0,
            "p99_ms": (pct(0.99) * 100.0).round() / 100.0, "statuses": statuses, "concurrency": concurrency})
    );
}
