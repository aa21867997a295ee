//! Single flight for reads: identical GETs in flight at once share one call (retries included, as
//! this layer sits outside them). The key is the full URL plus `Prefer` (page size, annotations):
//! the stack belongs to one application user, so the URL is the whole identity of a read.
//!
//! A write that completes ends sharing with every read started before it, so a read issued after a
//! write never receives an answer fetched before it. A joiner stops waiting at its own deadline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::{FutureExt, Shared, WeakShared};
use reqwest::Method;
use tower::{Service, ServiceExt};

use super::{always_ready, BoxFuture, Inner, Reply, UpstreamRequest};
use crate::upstream::error::UpstreamError;

type Flight = Shared<BoxFuture>;

#[derive(Default)]
pub struct Flights {
    /// Weak: a flight whose every waiter gave up is dropped, not kept half-done.
    map: Mutex<HashMap<String, (u64, WeakShared<BoxFuture>)>>,
    next: AtomicU64,
}

impl Flights {
    /// Reads in flight right now (tests and metrics).
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn forget(&self, key: &str, id: u64) {
        if let Ok(mut m) = self.map.lock() {
            if m.get(key).is_some_and(|(i, _)| *i == id) {
                m.remove(key);
            }
        }
    }

    fn clear(&self) {
        if let Ok(mut m) = self.map.lock() {
            m.clear();
        }
    }
}

#[derive(Clone)]
pub(super) struct CoalesceLayer(pub Arc<Flights>);

#[derive(Clone)]
pub(super) struct Coalesce<S> {
    state: Arc<Flights>,
    inner: S,
}

super::layer_for!(CoalesceLayer => Coalesce);

fn key_of(req: &UpstreamRequest) -> Option<String> {
    if req.method != Method::GET || req.body.is_some() {
        return None;
    }
    let prefer = req
        .headers
        .get("Prefer")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Some(format!("{prefer}\n{}", req.url.as_str()))
}

impl<S: Inner> Service<UpstreamRequest> for Coalesce<S> {
    type Response = Reply;
    type Error = UpstreamError;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, req: UpstreamRequest) -> Self::Future {
        let flights = Arc::clone(&self.state);
        let inner = self.inner.clone();
        let Some(key) = key_of(&req) else {
            // A write: reads started before it completes must not answer reads started after.
            return Box::pin(async move {
                let result = inner.oneshot(req).await;
                flights.clear();
                result
            });
        };
        let deadline = tokio::time::Instant::from_std(req.deadline);
        let Ok(mut map) = flights.map.lock() else {
            return Box::pin(inner.oneshot(req));
        };
        if let Some(shared) = map.get(&key).and_then(|(_, weak)| weak.upgrade()) {
            drop(map);
            return Box::pin(async move {
                metrics::counter!("upstream_coalesced_total").increment(1);
                tokio::time::timeout_at(deadline, shared)
                    .await
                    .unwrap_or(Err(UpstreamError::Timeout))
            });
        }
        let id = flights.next.fetch_add(1, Ordering::Relaxed);
        let done = Arc::clone(&flights);
        let k = key.clone();
        let call: BoxFuture = Box::pin(async move {
            let result = inner.oneshot(req).await;
            done.forget(&k, id);
            result
        });
        let shared: Flight = call.shared();
        if let Some(weak) = shared.downgrade() {
            map.insert(key, (id, weak));
        }
        Box::pin(shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use reqwest::header::HeaderMap;
    use reqwest::StatusCode;

    #[derive(Clone)]
    struct Slow(Arc<AtomicUsize>);

    impl Service<UpstreamRequest> for Slow {
        type Response = Reply;
        type Error = UpstreamError;
        type Future = BoxFuture;
        always_ready!();
        fn call(&mut self, req: UpstreamRequest) -> Self::Future {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(Reply {
                    status: StatusCode::OK,
                    headers: HeaderMap::new(),
                    body: Bytes::from(req.url.to_string()),
                })
            })
        }
    }

    fn req(method: Method, url: &str) -> UpstreamRequest {
        UpstreamRequest {
            method,
            url: url::Url::parse(url).expect("url"),
            label: "t".into(),
            headers: HeaderMap::new(),
            body: None,
            idempotent: true,
            deadline: Instant::now() + Duration::from_secs(5),
            caller: None,
            priority: crate::upstream::pacing::Priority::Background,
        }
    }

    #[tokio::test]
    async fn identical_reads_in_flight_share_one_call() {
        let calls = Arc::new(AtomicUsize::new(0));
        let flights = Arc::new(Flights::default());
        let svc = tower::Layer::layer(&CoalesceLayer(flights.clone()), Slow(calls.clone()));
        let many = (0..20).map(|i| {
            let url = if i % 2 == 0 {
                "http://x/a"
            } else {
                "http://x/b"
            };
            svc.clone().oneshot(req(Method::GET, url))
        });
        let out = futures::future::join_all(many).await;
        assert!(out.iter().all(Result::is_ok));
        assert_eq!(calls.load(Ordering::SeqCst), 2, "one call per distinct URL");
        assert!(flights.is_empty(), "finished flights are forgotten");
        // Later reads are new calls; writes are never shared.
        svc.clone()
            .oneshot(req(Method::GET, "http://x/a"))
            .await
            .expect("ok");
        let w = (0..3).map(|_| svc.clone().oneshot(req(Method::DELETE, "http://x/a")));
        futures::future::join_all(w).await;
        assert_eq!(calls.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_does_not_strand_the_others() {
        let calls = Arc::new(AtomicUsize::new(0));
        let flights = Arc::new(Flights::default());
        let svc = tower::Layer::layer(&CoalesceLayer(flights.clone()), Slow(calls.clone()));
        let first = svc.clone().oneshot(req(Method::GET, "http://x/a"));
        drop(first); // never polled: its flight has no waiter left
        let mut late = req(Method::GET, "http://x/a");
        late.deadline = Instant::now() + Duration::from_secs(5);
        assert!(svc.clone().oneshot(late).await.is_ok());
        let mut short = req(Method::GET, "http://x/c");
        short.deadline = Instant::now();
        let leader = svc.clone().oneshot(req(Method::GET, "http://x/c"));
        let (a, b) = tokio::join!(leader, async {
            tokio::task::yield_now().await;
            svc.clone().oneshot(short).await
        });
        assert!(a.is_ok());
        assert!(matches!(b, Err(UpstreamError::Timeout)) || b.is_ok());
    }
}
