//! A webhook receiver for trying deliveries on the sandbox: verifies each request's Standard Webhooks
//! signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`; HMAC-SHA256 keyed with the
//! base64-decoded part of the `whsec_` secret) and prints the event as one JSON line.
//!
//! `WEBHOOK_SECRET=whsec_… cargo run --example webhook_receiver -- 127.0.0.1:9000`
//! (without `WEBHOOK_SECRET` it prints events unverified, marked so, e.g. before the subscription
//! exists). Answers 204 when the signature holds, 401 when it does not, 400 without the headers.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Timestamps further than this from now are refused (replays).
const TOLERANCE_SECS: i64 = 300;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".into());
    let key = std::env::var("WEBHOOK_SECRET").ok().and_then(|s| {
        STANDARD
            .decode(s.trim().strip_prefix("whsec_").unwrap_or(s.trim()))
            .ok()
    });
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "listening on http://{addr}/ ({})",
        if key.is_some() {
            "verifying signatures"
        } else {
            "WEBHOOK_SECRET unset: not verifying"
        }
    );
    let app = axum::Router::new().fallback(axum::routing::post(
        move |headers: HeaderMap, body: Bytes| {
            let key = key.clone();
            async move { receive(key.as_deref(), &headers, &body) }
        },
    ));
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("server stopped: {e}");
    }
}

fn receive(key: Option<&[u8]>, headers: &HeaderMap, body: &[u8]) -> StatusCode {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let (Some(id), Some(ts), Some(sigs)) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    ) else {
        eprintln!("refused: missing webhook-* headers");
        return StatusCode::BAD_REQUEST;
    };
    let text = String::from_utf8_lossy(body);
    let Some(key) = key else {
        println!("{{\"verified\":false,\"event\":{text}}}");
        return StatusCode::NO_CONTENT;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (now - t).abs() <= TOLERANCE_SECS);
    let Ok(mut mac) = <Hmac<Sha256>>::new_from_slice(key) else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    // Several signatures may be sent (space-separated) during a secret rotation.
    let valid = sigs.split(' ').any(|s| {
        s.strip_prefix("v1,")
            .and_then(|b| STANDARD.decode(b).ok())
            .is_some_and(|got| {
                // Constant time: compare every byte.
                got.len() == expected.len()
                    && got
                        .iter()
                        .zip(expected.iter())
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0
            })
    });
    if valid && fresh {
        println!("{text}");
        StatusCode::NO_CONTENT
    } else {
        eprintln!(
            "refused {id}: {}",
            if valid {
                "stale timestamp"
            } else {
                "bad signature"
            }
        );
        StatusCode::UNAUTHORIZED
    }
}
