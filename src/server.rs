//! The connection-level HTTP server: an accept loop over hyper's HTTP/1.1 connections with the
//! limits a public edge needs (a slow or idle client must not hold a connection or memory), and a
//! shutdown signal so a caller can stop accepting and drain. Serves both the partner listener and
//! the ops listener.
//!
//! - `header_read_timeout`: hyper starts this timer whenever the connection waits for a request
//!   head, so it closes half-sent and dribbled headers *and* idle keep-alive connections (including
//!   a fresh connection that never sends a byte).
//! - `max_header_bytes`: the most a connection may buffer while its head is incomplete; beyond it
//!   the answer is 431 (414 when the request line itself never ended), problem+json like every
//!   error (`head_errors.rs` replaces hyper's empty answers), and the connection closes. A head
//!   that arrived whole is counted too (`head_errors::oversized`), so none over it is served.
//! - `max_connections`: connections beyond it are answered `503` (problem+json) and closed at once.
//! - `body_read_timeout`: one deadline for the whole request body from when its head is read
//!   (tower-http's `DeadlineBody`, not reset by progress, so dribbling does not extend it); the
//!   routes that read a body answer its expiry 408 `request-timeout` (`problem::body`). Shorter
//!   than the partner request deadline, so a stalled body is never taken for a slow HR system.
//!
//! HTTP/1.1 only: HTTP/2 has no head-read timer in hyper, so an idle h2 connection could be held
//! forever (TLS and HTTP/2 belong to the ingress in front of the gateway).

mod head_errors;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use futures::future::{self, Either};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyDeadline;

use crate::client_addr::{ForwardedFor, TrustedProxies};

/// hyper's smallest allowed read buffer.
pub const MIN_HEADER_BYTES: usize = 8 * 1024;

/// Per-listener connection limits, and the proxies whose forwarded client address is believed.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub max_connections: usize,
    pub max_header_bytes: usize,
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Where the `type` of a problem answering an unreadable head points (`head_errors.rs`).
    pub problem_base: Arc<str>,
}

impl Limits {
    /// The limits from the gateway config, or the key that is out of range. `listen_url`: the
    /// partner listener's own URL, the base of problem pages when `public_url` is not set.
    pub fn from_config(
        c: &crate::config::GatewayConfig,
        listen_url: &str,
    ) -> Result<Self, (&'static str, String)> {
        if c.header_read_timeout_ms == 0 {
            return Err(("gateway.header_read_timeout_ms", "must be > 0".into()));
        }
        let body_read_timeout_ms = c.body_read_timeout_ms();
        if body_read_timeout_ms == 0 {
            return Err(("gateway.body_read_timeout_ms", "must be > 0".into()));
        }
        // The body's deadline must fall first: the request deadline's 504 says HR was too slow.
        if body_read_timeout_ms >= c.request_timeout_ms {
            return Err((
                "gateway.body_read_timeout_ms",
                format!(
                    "must be less than gateway.request_timeout_ms ({})",
                    c.request_timeout_ms
                ),
            ));
        }
        if c.max_connections == 0 {
            return Err(("gateway.max_connections", "must be > 0".into()));
        }
        if c.max_header_bytes < MIN_HEADER_BYTES {
            return Err((
                "gateway.max_header_bytes",
                format!("must be at least {MIN_HEADER_BYTES}"),
            ));
        }
        let trusted_proxies = TrustedProxies::parse(&c.trusted_proxies)
            .map_err(|problem| ("gateway.trusted_proxies", problem))?;
        Ok(Self {
            header_read_timeout: Duration::from_millis(c.header_read_timeout_ms),
            body_read_timeout: Duration::from_millis(body_read_timeout_ms),
            max_connections: c.max_connections,
            max_header_bytes: c.max_header_bytes,
            trusted_proxies: Arc::new(trusted_proxies),
            problem_base: problem_base(c, listen_url).into(),
        })
    }
}

/// `problem_base_url`, else `{public_url}/problems`, else the partner listener's own
/// `/problems` (`problem_context` would take the host from `Host`, which an unreadable head
/// does not give); relative `/problems` when that listener is bound to every address
/// (`0.0.0.0`, `[::]`): no client can reach that host.
fn problem_base(c: &crate::config::GatewayConfig, listen_url: &str) -> String {
    let configured = c.problem_base_url.trim().trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_string();
    }
    let public = c.public_url.trim().trim_end_matches('/');
    if !public.is_empty() {
        return format!("{public}/problems");
    }
    let unspecified = url::Url::parse(listen_url)
        .ok()
        .and_then(|u| match u.host() {
            Some(url::Host::Ipv4(ip)) => Some(ip.is_unspecified()),
            Some(url::Host::Ipv6(ip)) => Some(ip.is_unspecified()),
            _ => None,
        })
        .unwrap_or(true);
    if unspecified {
        "/problems".to_string()
    } else {
        format!("{}/problems", listen_url.trim_end_matches('/'))
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled; then stops accepting (the listening
/// socket is closed, so new connections are refused), lets each connection finish its request in
/// flight (idle keep-alive connections close at once), and returns once all are closed or `grace`
/// has passed. Each request carries `ConnectInfo<SocketAddr>` (the peer address).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // An answer goes out as several writes (head, then the page's parts): with Nagle's
        // algorithm on, a later small write waited for the client's delayed ACK, ~40 ms.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::counter!("http_connections_refused_total").increment(1);
            tokio::spawn(refuse(stream, Arc::clone(&limits.problem_base)));
            continue;
        };
        let trusted = Arc::clone(&limits.trusted_proxies);
        let svc = RequestBodyDeadline::new(app.clone(), limits.body_read_timeout).map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                // Nothing to read without trusted proxies (the default).
                if !trusted.is_empty() {
                    if let Some(ip) = trusted.client(peer.ip(), req.headers()) {
                        req.extensions_mut().insert(ForwardedFor(ip));
                    }
                }
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            },
        );
        let (max_head, base) = (limits.max_header_bytes, Arc::clone(&limits.problem_base));
        let svc = tower::service_fn(move |req: axum::extract::Request<hyper::body::Incoming>| {
            match head_errors::oversized(&req, max_head) {
                Some(ty) => Either::Left(future::ready(Ok(head_errors::refuse_head(ty, &base)))),
                None => Either::Right(svc.clone().oneshot(req)),
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_header_bytes)
            .serve_connection(
                TokioIo::new(head_errors::ProblemHeads::new(
                    stream,
                    Arc::clone(&limits.problem_base),
                )),
                TowerToHyperService::new(svc),
            );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            metrics::gauge!("http_connections_open").increment(1.0);
            if let Err(e) = conn.await {
                // Timeouts and resets are routine at an edge.
                tracing::debug!(peer = %peer, error = %e, "connection ended");
            }
            metrics::gauge!("http_connections_open").decrement(1.0);
            drop(slot);
        });
    }
    drop(listener);
    let open = graceful.count();
    if open > 0 {
        tracing::info!(connections = open, "draining connections");
    }
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_ms = grace.as_millis() as u64,
            "shutdown grace period over; closing the connections still open"
        );
    }
}

/// Answers a connection over `max_connections` (best effort, within 1 s), then closes it.
async fn refuse(mut stream: TcpStream, problem_base: Arc<str>) {
    let busy = head_errors::busy(&problem_base);
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&busy)).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_trusted_proxy_is_a_start_error_naming_the_key() {
        let c = crate::config::GatewayConfig {
            trusted_proxies: vec!["10.0.0.0/8".into(), "ingress".into()],
            ..Default::default()
        };
        let (key, problem) = Limits::from_config(&c, "http://127.0.0.1:1").expect_err("refused");
        assert_eq!(key, "gateway.trusted_proxies");
        assert!(problem.contains("ingress"), "{problem}");
    }

    #[test]
    fn a_body_deadline_not_below_the_request_deadline_is_refused() {
        for body_read_timeout_ms in [0, 30_000, 40_000] {
            let c = crate::config::GatewayConfig {
                body_read_timeout_ms: Some(body_read_timeout_ms),
                request_timeout_ms: 30_000,
                ..Default::default()
            };
            let (key, _) = Limits::from_config(&c, "http://127.0.0.1:1").expect_err("refused");
            assert_eq!(key, "gateway.body_read_timeout_ms");
        }
        let limits =
            Limits::from_config(&Default::default(), "http://127.0.0.1:1").expect("the defaults");
        assert_eq!(limits.body_read_timeout, Duration::from_millis(10_000));
        // Unset, it stays below a short request deadline: older configurations keep starting.
        let short = crate::config::GatewayConfig {
            request_timeout_ms: 1_000,
            ..Default::default()
        };
        let limits =
            Limits::from_config(&short, "http://127.0.0.1:1").expect("a short request deadline");
        assert_eq!(limits.body_read_timeout, Duration::from_millis(500));
    }

    #[test]
    fn head_problems_never_name_a_wildcard_address() {
        let c = crate::config::GatewayConfig::default();
        assert_eq!(problem_base(&c, "http://0.0.0.0:8080"), "/problems");
        assert_eq!(problem_base(&c, "http://[::]:8080"), "/problems");
        assert_eq!(
            problem_base(&c, "http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/problems"
        );
        let public = crate::config::GatewayConfig {
            public_url: "https://ats.example.com/".into(),
            ..Default::default()
        };
        assert_eq!(
            problem_base(&public, "http://0.0.0.0:8080"),
            "https://ats.example.com/problems"
        );
    }

    #[test]
    fn busy_answer_is_well_formed() {
        let busy = head_errors::busy("https://ats.example.com/problems");
        let (head, body) = std::str::from_utf8(&busy)
            .expect("ascii")
            .split_once("\r\n\r\n")
            .expect("head");
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("retry-after: 1\r\n"), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["status"], 503);
        assert_eq!(
            v["type"],
            "https://ats.example.com/problems/too-many-connections"
        );
        let id = v["request_id"].as_str().expect("a request id");
        assert!(head.contains(&format!("x-request-id: {id}\r\n")), "{head}");
    }
}
