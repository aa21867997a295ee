//! Test helpers: an axum mock server on `127.0.0.1:0` and a bounded condition wait.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Serves `app` on an ephemeral loopback port for the rest of the test runtime.
pub(crate) async fn spawn_server(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns whether it held.
pub(crate) async fn wait_until(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}
