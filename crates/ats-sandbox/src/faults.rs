//! Fault knobs and counters for tests and benchmarks, driven over `/_sandbox/...` on the emulator.
//! Faults apply to Dataverse requests (optionally one entity set) or to the token endpoint, for a
//! number of requests or a duration; counters say what the emulator saw.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum FaultKind {
    /// 429 with `Retry-After` and Dataverse's service-protection body.
    Throttle {
        #[serde(default = "default_retry_after")]
        retry_after: u64,
    },
    /// A 5xx from Dataverse (500, 502, 503, 504).
    ServerError {
        #[serde(default = "default_status")]
        status: u16,
    },
    /// The request is served (a create writes its row), then its answer is lost: the client gets
    /// this 5xx instead and cannot tell that the write happened.
    LostResponse {
        #[serde(default = "default_status")]
        status: u16,
    },
    /// Extra latency before the request is served.
    Latency { ms: u64 },
    /// The token endpoint answers 503 `temporarily_unavailable`.
    TokenOutage,
    /// Dataverse answers 401 as if the bearer token had been revoked (tests the client's refresh + retry).
    Unauthorized,
}

fn default_retry_after() -> u64 {
    2
}
fn default_status() -> u16 {
    503
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct FaultSpec {
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Only requests to this entity set or function, or `"token"` for the token endpoint.
    #[serde(default)]
    pub target: Option<String>,
    /// Applies to this many requests…
    #[serde(default)]
    pub count: Option<u64>,
    /// …or for this long (ms). Neither: until cleared.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Lets this many matching requests through first (a failure part-way through a paged read).
    #[serde(default)]
    pub after: Option<u64>,
}

#[derive(Debug)]
struct ActiveFault {
    spec: FaultSpec,
    remaining: Option<u64>,
    until: Option<Instant>,
    /// Matching requests still to let through.
    pass: u64,
}

impl ActiveFault {
    fn live(&self, now: Instant) -> bool {
        self.remaining.is_none_or(|r| r > 0) && self.until.is_none_or(|u| now < u)
    }
}

/// The `target` that names the token endpoint (no entity set has this name).
pub(crate) const TOKEN_TARGET: &str = "token";

/// What a request must suffer before (or instead of) being served.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Verdict {
    pub delay: Duration,
    pub fail: Option<FaultKind>,
}

#[derive(Default)]
pub(crate) struct Faults {
    active: Mutex<Vec<ActiveFault>>,
}

impl Faults {
    pub(crate) fn add(&self, spec: FaultSpec) {
        let until = spec
            .duration_ms
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        let remaining = spec.count;
        if let Ok(mut a) = self.active.lock() {
            a.push(ActiveFault {
                pass: spec.after.unwrap_or(0),
                spec,
                remaining,
                until,
            });
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut a) = self.active.lock() {
            a.clear();
        }
    }

    pub(crate) fn list(&self) -> Vec<FaultSpec> {
        self.active
            .lock()
            .map(|a| a.iter().map(|f| f.spec.clone()).collect())
            .unwrap_or_default()
    }

    /// Consumes the faults that apply to a Dataverse request on `target`: all live latency faults
    /// add up; the first live failure fault wins.
    pub(crate) fn for_dataverse(&self, target: &str) -> Verdict {
        self.take(|k| !matches!(k, FaultKind::TokenOutage), Some(target))
    }

    /// Consumes the faults that apply to the token endpoint: untargeted ones, and those with
    /// `"target": "token"` (so token latency can be set without slowing Dataverse down).
    pub(crate) fn for_token(&self) -> Verdict {
        self.take(
            |k| matches!(k, FaultKind::TokenOutage | FaultKind::Latency { .. }),
            Some(TOKEN_TARGET),
        )
    }

    fn take(&self, kind_ok: impl Fn(&FaultKind) -> bool, target: Option<&str>) -> Verdict {
        let now = Instant::now();
        let mut verdict = Verdict::default();
        let Ok(mut active) = self.active.lock() else {
            return verdict;
        };
        active.retain(|f| f.live(now));
        for f in active.iter_mut() {
            let target_ok = match (&f.spec.target, target) {
                (Some(t), Some(actual)) => t == actual,
                (Some(_), None) => false,
                (None, _) => true,
            };
            if !target_ok || !kind_ok(&f.spec.kind) {
                continue;
            }
            if f.pass > 0 {
                f.pass -= 1;
                continue;
            }
            match &f.spec.kind {
                FaultKind::Latency { ms } => verdict.delay += Duration::from_millis(*ms),
                other if verdict.fail.is_none() => verdict.fail = Some(other.clone()),
                _ => continue,
            }
            if let Some(r) = f.remaining.as_mut() {
                *r = r.saturating_sub(1);
            }
        }
        verdict
    }
}

/// Counters exposed at `GET /_sandbox/stats`.
#[derive(Default)]
pub(crate) struct Stats {
    pub token_requests: AtomicU64,
    pub tokens_issued: AtomicU64,
    requests: Mutex<BTreeMap<String, u64>>,
    in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
    pub throttled: AtomicU64,
    /// Requests refused as malformed (400): a gateway should never cause one.
    pub bad_requests: AtomicU64,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StatsSnapshot {
    pub token_requests: u64,
    pub tokens_issued: u64,
    pub requests: BTreeMap<String, u64>,
    pub total_requests: u64,
    pub in_flight: u64,
    pub max_in_flight: u64,
    pub throttled: u64,
    pub bad_requests: u64,
}

/// Decrements the in-flight gauge when the request ends, however it ends.
pub(crate) struct InFlight<'a>(&'a Stats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Stats {
    /// Counts a Dataverse request on `target` and marks it in flight; returns the current in-flight
    /// count (including this one) and the guard.
    pub(crate) fn begin(&self, target: &str) -> (u64, InFlight<'_>) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry(target.to_string()).or_default() += 1;
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        (now, InFlight(self))
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let requests = self.requests.lock().map(|r| r.clone()).unwrap_or_default();
        StatsSnapshot {
            token_requests: self.token_requests.load(Ordering::SeqCst),
            tokens_issued: self.tokens_issued.load(Ordering::SeqCst),
            total_requests: requests.values().sum(),
            requests,
            in_flight: self.in_flight.load(Ordering::SeqCst),
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
            throttled: self.throttled.load(Ordering::SeqCst),
            bad_requests: self.bad_requests.load(Ordering::SeqCst),
        }
    }

    pub(crate) fn reset(&self) {
        self.token_requests.store(0, Ordering::SeqCst);
        self.tokens_issued.store(0, Ordering::SeqCst);
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
        self.throttled.store(0, Ordering::SeqCst);
        self.bad_requests.store(0, Ordering::SeqCst);
        if let Ok(mut r) = self.requests.lock() {
            r.clear();
        }
    }
}

/// Dataverse service protection (docs/dataverse-web-api.md#service-protection): requests per sliding window
/// and concurrent requests, per application user. The emulator has one web server, so one window.
pub(crate) struct ServiceProtection {
    pub max_requests: u64,
    pub window: Duration,
    pub max_concurrent: u64,
    /// Combined execution time per window (reported in a header, not enforced).
    pub max_execution: Duration,
    recent: Mutex<std::collections::VecDeque<Instant>>,
    /// When each admitted request finished and how long it ran, within the window, and their sum
    /// (kept as they come and go: a window holds hundreds of thousands under a benchmark, and
    /// every answer reports what is left).
    spent: Mutex<Spent>,
}

#[derive(Default)]
struct Spent {
    each: std::collections::VecDeque<(Instant, Duration)>,
    total: Duration,
}

/// What the budget headers of one answer say (docs/dataverse-web-api.md#service-protection).
pub(crate) struct Remaining {
    pub requests: u64,
    pub execution: Duration,
}

pub(crate) enum Limited {
    Requests { retry_after: u64 },
    Concurrency,
}

impl ServiceProtection {
    pub(crate) fn new(max_requests: u64, window: Duration, max_concurrent: u64) -> Self {
        Self {
            max_requests,
            window,
            max_concurrent,
            // Dataverse's 20 minutes per 5 minutes, kept in proportion to the window.
            max_execution: window.mul_f64(4.0),
            recent: Mutex::new(Default::default()),
            spent: Mutex::new(Default::default()),
        }
    }

    /// Counts `took` of execution time for a request that just finished.
    pub(crate) fn record_execution(&self, took: Duration) {
        if let Ok(mut s) = self.spent.lock() {
            s.each.push_back((Instant::now(), took));
            s.total += took;
        }
    }

    /// Requests and execution time left in the window now.
    pub(crate) fn remaining(&self) -> Remaining {
        let now = Instant::now();
        let in_window = |t: &Instant| now.duration_since(*t) <= self.window;
        // Both lists are in time order: what left the window is at the front.
        let requests = self
            .recent
            .lock()
            .map(|mut r| {
                while r.front().is_some_and(|t| !in_window(t)) {
                    r.pop_front();
                }
                r.len() as u64
            })
            .unwrap_or(0);
        let spent: Duration = self
            .spent
            .lock()
            .map(|mut s| {
                while let Some((_, took)) = s.each.front().copied().filter(|(t, _)| !in_window(t)) {
                    s.each.pop_front();
                    s.total = s.total.saturating_sub(took);
                }
                s.total
            })
            .unwrap_or_default();
        Remaining {
            requests: self.max_requests.saturating_sub(requests),
            execution: self.max_execution.saturating_sub(spent),
        }
    }

    pub(crate) fn check(&self, in_flight: u64) -> Option<Limited> {
        if in_flight > self.max_concurrent {
            return Some(Limited::Concurrency);
        }
        let now = Instant::now();
        let Ok(mut recent) = self.recent.lock() else {
            return None;
        };
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            recent.pop_front();
        }
        if recent.len() as u64 >= self.max_requests {
            let oldest = recent.front().copied().unwrap_or(now);
            // Rounded up: the oldest request leaves the window only after its full length (and
            // a client waiting the rounded-down value would be refused again).
            let left =
                self.window.saturating_sub(now.duration_since(oldest)) + Duration::from_millis(1);
            let retry = (left.as_secs_f64().ceil() as u64).max(1);
            return Some(Limited::Requests { retry_after: retry });
        }
        recent.push_back(now);
        None
    }

    pub(crate) fn reset(&self) {
        if let Ok(mut r) = self.recent.lock() {
            r.clear();
        }
        if let Ok(mut s) = self.spent.lock() {
            *s = Spent::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_limited_fault_expires_and_targets_match() {
        let f = Faults::default();
        f.add(FaultSpec {
            kind: FaultKind::Throttle { retry_after: 3 },
            target: Some("a".into()),
            count: Some(2),
            duration_ms: None,
            after: None,
        });
        assert_eq!(f.for_dataverse("b").fail, None);
        assert_eq!(
            f.for_dataverse("a").fail,
            Some(FaultKind::Throttle { retry_after: 3 })
        );
        assert!(f.for_dataverse("a").fail.is_some());
        assert_eq!(f.for_dataverse("a").fail, None);
        assert!(f.list().is_empty() || f.for_dataverse("a").fail.is_none());
    }

    #[test]
    fn after_lets_requests_through_first() {
        let f = Faults::default();
        f.add(FaultSpec {
            kind: FaultKind::ServerError { status: 503 },
            target: Some("a".into()),
            count: Some(1),
            duration_ms: None,
            after: Some(2),
        });
        assert_eq!(
            f.for_dataverse("b").fail,
            None,
            "other targets do not count"
        );
        assert_eq!(f.for_dataverse("a").fail, None);
        assert_eq!(f.for_dataverse("a").fail, None);
        assert!(f.for_dataverse("a").fail.is_some(), "the third fails");
        assert_eq!(f.for_dataverse("a").fail, None, "count spent");
    }

    #[test]
    fn latency_adds_up_and_token_outage_only_hits_token() {
        let f = Faults::default();
        f.add(FaultSpec {
            kind: FaultKind::Latency { ms: 5 },
            target: None,
            count: None,
            duration_ms: None,
            after: None,
        });
        f.add(FaultSpec {
            kind: FaultKind::TokenOutage,
            target: None,
            count: Some(1),
            duration_ms: None,
            after: None,
        });
        let v = f.for_dataverse("x");
        assert_eq!(v.delay, Duration::from_millis(5));
        assert_eq!(v.fail, None);
        assert_eq!(f.for_token().fail, Some(FaultKind::TokenOutage));
        assert_eq!(f.for_token().fail, None);
    }

    #[test]
    fn token_target_slows_the_token_endpoint_only() {
        let f = Faults::default();
        f.add(FaultSpec {
            kind: FaultKind::Latency { ms: 7 },
            target: Some(TOKEN_TARGET.into()),
            count: None,
            duration_ms: None,
            after: None,
        });
        f.add(FaultSpec {
            kind: FaultKind::Latency { ms: 3 },
            target: Some("mshr_x".into()),
            count: None,
            duration_ms: None,
            after: None,
        });
        assert_eq!(f.for_token().delay, Duration::from_millis(7));
        assert_eq!(f.for_dataverse("mshr_x").delay, Duration::from_millis(3));
        assert_eq!(f.for_dataverse("mshr_y").delay, Duration::ZERO);
    }

    #[test]
    fn service_protection_counts_and_concurrency() {
        let sp = ServiceProtection::new(2, Duration::from_secs(300), 52);
        assert!(sp.check(1).is_none());
        assert!(sp.check(1).is_none());
        assert!(matches!(sp.check(1), Some(Limited::Requests { .. })));
        assert!(matches!(sp.check(53), Some(Limited::Concurrency)));
        assert_eq!(sp.remaining().requests, 0);
    }

    #[test]
    fn retry_after_is_rounded_up() {
        let sp = ServiceProtection::new(1, Duration::from_millis(2500), 52);
        assert!(sp.check(1).is_none());
        // 2.5 s left (a little less by now): 3, not 2.
        match sp.check(1) {
            Some(Limited::Requests { retry_after }) => assert_eq!(retry_after, 3),
            _ => panic!("not limited"),
        }
    }
}
