//! `ats-gateway webhook-receiver`: a receiver for trying webhooks. Verifies each request's Standard
//! Webhooks signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`: HMAC-SHA256 of
//! `{id}.{timestamp}.{body}` keyed with the base64-decoded part of the `whsec_` secret) and prints
//! each verified event on stdout as one JSON line, after one ready line
//! (`{"event":"ready","receiver":"http://…/"}`). Answers 204 when the signature holds, 401 when it
//! does not or the timestamp is stale, 400 without the headers or a JSON body, and 503 while the
//! secret file does not exist yet (the gateway retries). Refusals are explained on stderr.
//!
//! The secret comes from `--secret` or from `--secret-file`, read at every request: a receiver
//! started before the subscription exists (so that the first delivery finds it up) verifies as soon
//! as the subscription's secret is written to the file.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::signing::SigningKey;

/// Timestamps further than this from now are refused (replays), as Standard Webhooks suggests.
const TOLERANCE_SECS: i64 = 300;

/// Where the receiver finds the subscription's secret.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// The `whsec_…` secret itself.
    Value(String),
    /// A file holding it (read at every request; it may appear after the receiver started).
    File(PathBuf),
}

impl SecretSource {
    fn key(&self) -> Result<SigningKey, Refusal> {
        let text = match self {
            SecretSource::Value(s) => s.clone(),
            SecretSource::File(path) => match std::fs::read_to_string(path) {
                Ok(t) if !t.trim().is_empty() => t,
                _ => return Err(Refusal::NoSecretYet),
            },
        };
        SigningKey::from_secret(text.trim()).ok_or(Refusal::BadSecret)
    }
}

/// Why a request was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    MissingHeaders,
    NotJson,
    BadSignature,
    StaleTimestamp,
    NoSecretYet,
    BadSecret,
}

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            Refusal::MissingHeaders | Refusal::NotJson => StatusCode::BAD_REQUEST,
            Refusal::BadSignature | Refusal::StaleTimestamp => StatusCode::UNAUTHORIZED,
            Refusal::NoSecretYet | Refusal::BadSecret => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Refusal::MissingHeaders => "missing webhook-id, webhook-timestamp or webhook-signature",
            Refusal::NotJson => "the body is not JSON",
            Refusal::BadSignature => "bad signature",
            Refusal::StaleTimestamp => "timestamp more than 5 minutes from now",
            Refusal::NoSecretYet => "no secret yet (the secret file is missing or empty)",
            Refusal::BadSecret => "the secret is not a whsec_ base64 secret",
        }
    }
}

/// Checks one request; the event as one JSON line when it holds.
pub fn verify(
    key: &SigningKey,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<String, Refusal> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let (Some(id), Some(ts), Some(sigs)) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    ) else {
        return Err(Refusal::MissingHeaders);
    };
    let timestamp: i64 = ts.parse().map_err(|_| Refusal::StaleTimestamp)?;
    let expected = key.sign(id, timestamp, body);
    // Several signatures may be sent (space-separated) during a secret rotation.
    if !sigs
        .split(' ')
        .any(|s| constant_time_eq(s.as_bytes(), expected.as_bytes()))
    {
        return Err(Refusal::BadSignature);
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(Refusal::StaleTimestamp);
    }
    let event: Value = serde_json::from_slice(body).map_err(|_| Refusal::NotJson)?;
    Ok(event.to_string())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Binds `listen`, prints the ready line and serves until `stop` resolves.
pub async fn run(
    listen: SocketAddr,
    secret: SecretSource,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    println_flush(&json!({"event": "ready", "receiver": format!("http://{addr}/")}).to_string());
    let secret = Arc::new(secret);
    let app = axum::Router::new().fallback(axum::routing::post(
        move |headers: HeaderMap, body: Bytes| {
            let secret = secret.clone();
            async move { receive(&secret, &headers, &body) }
        },
    ));
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}

fn receive(secret: &SecretSource, headers: &HeaderMap, body: &[u8]) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .chars()
        .take(64)
        .collect::<String>();
    match secret
        .key()
        .and_then(|key| verify(&key, headers, body, chrono::Utc::now().timestamp()))
    {
        Ok(line) => {
            println_flush(&line);
            StatusCode::NO_CONTENT
        }
        Err(why) => {
            eprintln!("refused {id}: {}", why.reason());
            why.status()
        }
    }
}

/// One line on stdout, flushed at once (a pipe would otherwise hold it).
fn println_flush(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(key: &SigningKey, id: &str, ts: i64, body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", id.parse().expect("id"));
        h.insert("webhook-timestamp", ts.to_string().parse().expect("ts"));
        let sig = format!("v1,bm90IGl0 {}", key.sign(id, ts, body));
        h.insert("webhook-signature", sig.parse().expect("sig"));
        h
    }

    #[test]
    fn verifies_signatures_and_timestamps() {
        let key = SigningKey::generate();
        let body = br#"{"id":"evt_1","type":"webhook.test"}"#;
        let h = signed(&key, "evt_1", 1_000, body);
        assert_eq!(
            verify(&key, &h, body, 1_100).as_deref(),
            Ok(r#"{"id":"evt_1","type":"webhook.test"}"#)
        );
        assert_eq!(verify(&key, &h, body, 1_400), Err(Refusal::StaleTimestamp));
        assert_eq!(verify(&key, &h, b"{}", 1_000), Err(Refusal::BadSignature));
        let other = SigningKey::generate();
        assert_eq!(verify(&other, &h, body, 1_000), Err(Refusal::BadSignature));
        assert_eq!(
            verify(&key, &HeaderMap::new(), body, 1_000),
            Err(Refusal::MissingHeaders)
        );
    }

    #[test]
    fn a_secret_file_is_read_when_it_appears() {
        let path = std::env::temp_dir().join(format!("atsgw-whsec-{}", uuid::Uuid::new_v4()));
        let source = SecretSource::File(path.clone());
        assert!(matches!(source.key(), Err(Refusal::NoSecretYet)));
        let key = SigningKey::generate();
        std::fs::write(&path, format!("{}\n", key.to_secret())).expect("write");
        assert!(source.key().is_ok());
        let _ = std::fs::remove_file(&path);
    }
}
