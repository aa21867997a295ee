//! The response cache: mapped partner bodies (list page data, details) by [`CacheKey`], bounded by
//! bytes, fresh for `ttl`, then served stale once more while one refresh runs in the background
//! (stale-while-revalidate, up to another `ttl`). Concurrent misses of one key compute once.
//!
//! Invalidation is by generation: every `invalidate` advances a clock; an entry computed before the
//! last invalidation of its resource (all lists of the type, or the one id) is not served, even if
//! its computation finished after the invalidation.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use uuid::Uuid;

use super::key::CacheKey;
use crate::problem::ApiError;

/// The resource types the cache holds (what invalidation names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    RecruitingRequests,
    Candidates,
}

impl Resource {
    const ALL: [Resource; 2] = [Resource::RecruitingRequests, Resource::Candidates];

    fn index(self) -> usize {
        self as usize
    }

    /// The name in invalidation notices between replicas.
    pub fn name(self) -> &'static str {
        match self {
            Self::RecruitingRequests => "recruiting_request",
            Self::Candidates => "candidate",
        }
    }

    /// By the name events use (`recruiting_request`, `candidate`, plural or not).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim_end_matches('s') {
            "recruiting_request" | "recruiting-request" => Some(Self::RecruitingRequests),
            "candidate" => Some(Self::Candidates),
            _ => None,
        }
    }
}

/// A cached body: for a list, the serialized `data` array and the upstream continuation; for a
/// detail, the whole body. The `etag` is computed once, when the body is.
#[derive(Debug, Clone)]
pub struct Cached {
    pub body: Bytes,
    pub next_link: Option<String>,
    /// Quoted, without `W/`.
    pub etag: String,
}

/// What an entry answers: one resource by id, or a list of a type.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    List(Resource),
    One(Resource, Uuid),
}

/// One invalidation, as replicas pass it on (`cluster/`): `one <type> <id>` or `lists <type>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidation {
    One(Resource, Uuid),
    Lists(Resource),
}

impl Invalidation {
    pub fn to_wire(self) -> String {
        match self {
            Self::One(r, id) => format!("one {} {id}", r.name()),
            Self::Lists(r) => format!("lists {}", r.name()),
        }
    }

    pub fn from_wire(s: &str) -> Option<Self> {
        let mut parts = s.split(' ');
        let kind = parts.next()?;
        let resource = Resource::from_name(parts.next()?)?;
        let out = match (kind, parts.next()) {
            ("one", Some(id)) => Self::One(resource, id.parse().ok()?),
            ("lists", None) => Self::Lists(resource),
            _ => return None,
        };
        parts.next().is_none().then_some(out)
    }
}

/// Told of every local invalidation (the cluster publishes it to the other replicas).
pub type Announce = Arc<dyn Fn(Invalidation) + Send + Sync>;

struct Entry {
    value: Arc<Cached>,
    scope: Scope,
    /// The clock when its computation started.
    born: u64,
    at: Instant,
    refreshing: AtomicBool,
}

struct Inner {
    ttl: Duration,
    entries: moka::future::Cache<CacheKey, Arc<Entry>>,
    clock: AtomicU64,
    /// Per resource type: the clock of the last invalidation of its lists (and of the whole type).
    lists: [AtomicU64; Resource::ALL.len()],
    /// The clock of the last invalidation of one resource.
    ones: moka::sync::Cache<(Resource, Uuid), u64>,
    announce: std::sync::OnceLock<Announce>,
}

/// Cheap to clone; clones share the entries. `None` inside: the cache is off (`response_ttl_ms = 0`).
#[derive(Clone)]
pub struct ResponseCache(Option<Arc<Inner>>);

/// Per-entry bookkeeping on top of the body, for the byte weigher.
const ENTRY_OVERHEAD: usize = 256;

fn count(result: &'static str) {
    metrics::counter!("cache_requests_total", "cache" => "response", "result" => result)
        .increment(1);
}

impl ResponseCache {
    pub fn new(ttl: Duration, max_bytes: u64) -> Self {
        if ttl.is_zero() {
            return Self(None);
        }
        let entries = moka::future::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_k: &CacheKey, e: &Arc<Entry>| {
                let n = e.value.body.len()
                    + e.value.next_link.as_ref().map_or(0, String::len)
                    + ENTRY_OVERHEAD;
                u32::try_from(n).unwrap_or(u32::MAX)
            })
            // Fresh for `ttl`, then stale (served while one refresh runs) for another `ttl`.
            .time_to_live(ttl.saturating_mul(2))
            .build();
        Self(Some(Arc::new(Inner {
            ttl,
            entries,
            clock: AtomicU64::new(0),
            lists: Default::default(),
            ones: moka::sync::Cache::builder()
                .max_capacity(100_000)
                // Outlives any entry computed before the invalidation (life 2 × ttl, plus a
                // computation that was still running).
                .time_to_live(ttl.saturating_mul(2) + Duration::from_secs(120))
                .build(),
            announce: std::sync::OnceLock::new(),
        })))
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Drops what `(resource, id)` changes: that resource's entries and every list of its type.
    /// For writes through the gateway and change events.
    pub fn invalidate(&self, resource: Resource, id: Uuid) {
        self.apply(Invalidation::One(resource, id));
        self.announce(Invalidation::One(resource, id));
    }

    /// Drops every list of `resource` (a new row of that type, whose id no entry knows yet).
    pub fn invalidate_lists(&self, resource: Resource) {
        self.apply(Invalidation::Lists(resource));
        self.announce(Invalidation::Lists(resource));
    }

    /// Applies an invalidation without announcing it (one another replica announced).
    pub fn apply(&self, invalidation: Invalidation) {
        let Some(inner) = &self.0 else { return };
        let now = inner.tick();
        let resource = match invalidation {
            Invalidation::One(resource, id) => {
                inner.ones.insert((resource, id), now);
                resource
            }
            Invalidation::Lists(resource) => resource,
        };
        inner.lists[resource.index()].fetch_max(now, Ordering::SeqCst);
    }

    /// Every local invalidation is passed to `announce` from now on (installed once, at start).
    pub fn on_invalidate(&self, announce: Announce) {
        if let Some(inner) = &self.0 {
            let _ = inner.announce.set(announce);
        }
    }

    fn announce(&self, invalidation: Invalidation) {
        if let Some(announce) = self.0.as_ref().and_then(|i| i.announce.get()) {
            announce(invalidation);
        }
    }

    /// The cached body for `key`, or `compute`'s (cached when it succeeds; errors are not cached).
    /// `compute` runs again, in the background, to refresh a stale entry: it must not depend on
    /// the calling request beyond what `key` holds.
    pub async fn get_or_compute<F, Fut>(
        &self,
        key: CacheKey,
        scope: Scope,
        compute: F,
    ) -> Result<Arc<Cached>, ApiError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Cached, ApiError>> + Send + 'static,
    {
        let Some(inner) = &self.0 else {
            return compute().await.map(Arc::new);
        };
        if let Some(e) = inner.entries.get(&key).await {
            if inner.valid(&e) {
                if e.at.elapsed() < inner.ttl {
                    count("hit");
                    return Ok(Arc::clone(&e.value));
                }
                if !e.refreshing.swap(true, Ordering::SeqCst) {
                    inner.spawn_refresh(key, scope, Arc::clone(&e), compute);
                }
                count("stale");
                return Ok(Arc::clone(&e.value));
            }
            inner.entries.invalidate(&key).await;
        }
        count("miss");
        let born = inner.clock.load(Ordering::SeqCst);
        let entry = inner
            .entries
            .try_get_with(key, async move {
                let value = compute().await?;
                Ok::<_, ApiError>(Arc::new(Entry {
                    value: Arc::new(value),
                    scope,
                    born,
                    at: Instant::now(),
                    refreshing: AtomicBool::new(false),
                }))
            })
            .await
            .map_err(|e: Arc<ApiError>| (*e).clone())?;
        Ok(Arc::clone(&entry.value))
    }
}

impl Inner {
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn valid(&self, e: &Entry) -> bool {
        match e.scope {
            Scope::List(r) => e.born >= self.lists[r.index()].load(Ordering::SeqCst),
            Scope::One(r, id) => self.ones.get(&(r, id)).is_none_or(|at| e.born >= at),
        }
    }

    fn spawn_refresh<F, Fut>(
        self: &Arc<Self>,
        key: CacheKey,
        scope: Scope,
        old: Arc<Entry>,
        compute: F,
    ) where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Cached, ApiError>> + Send + 'static,
    {
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            let born = inner.clock.load(Ordering::SeqCst);
            match compute().await {
                Ok(value) => {
                    let fresh = Arc::new(Entry {
                        value: Arc::new(value),
                        scope,
                        born,
                        at: Instant::now(),
                        refreshing: AtomicBool::new(false),
                    });
                    inner.entries.insert(key, fresh).await;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "response cache refresh failed; next request retries");
                    old.refreshing.store(false, Ordering::SeqCst);
                }
            }
        });
    }
}
