//! The circuit breaker: after `failures` consecutive outages (5xx, timeouts, connect errors) the
//! circuit opens and every call fails at once (`CircuitOpen`, a 503 for partners) for `open_for`;
//! then one probe call is let through (half-open): an answer closes the circuit, another outage
//! opens it again. 4xx answers and 429s are answers, so they neither count nor trip it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tower::{Service, ServiceExt};

use super::{always_ready, BoxFuture, Inner, Reply, UpstreamRequest};
use crate::upstream::error::UpstreamError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// The `upstream_breaker_state` gauge value.
    fn gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::Open => 1.0,
            Self::HalfOpen => 2.0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A probe is in flight; everyone else still fails fast.
    HalfOpen,
}

pub struct Breaker {
    failures: u32,
    open_for: Duration,
    state: Mutex<State>,
}

/// What a call was admitted as.
enum Admission {
    Normal,
    Probe,
}

impl Breaker {
    pub fn new(failures: u32, open_for: Duration) -> Self {
        metrics::gauge!("upstream_breaker_state").set(0.0);
        Self {
            failures: failures.max(1),
            open_for,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    pub fn state(&self) -> BreakerState {
        match self.state.lock().as_deref() {
            Ok(State::Closed { .. }) | Err(_) => BreakerState::Closed,
            Ok(State::Open { .. }) => BreakerState::Open,
            Ok(State::HalfOpen) => BreakerState::HalfOpen,
        }
    }

    fn set(&self, st: &mut State, next: State) {
        let from = state_of(st);
        *st = next;
        let to = state_of(st);
        if from != to {
            metrics::gauge!("upstream_breaker_state").set(to.gauge());
            metrics::counter!("upstream_breaker_transitions_total", "to" => to.name()).increment(1);
            match to {
                BreakerState::Open => tracing::warn!(
                    open_for_ms = self.open_for.as_millis() as u64,
                    "upstream circuit opened after repeated failures"
                ),
                BreakerState::Closed => tracing::info!("upstream circuit closed"),
                BreakerState::HalfOpen => tracing::info!("upstream circuit half-open: probing"),
            }
        }
    }

    fn admit(&self) -> Result<Admission, UpstreamError> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| UpstreamError::Network("breaker poisoned".to_string()))?;
        match *st {
            State::Closed { .. } => Ok(Admission::Normal),
            State::Open { until } => {
                let now = Instant::now();
                if now < until {
                    Err(UpstreamError::CircuitOpen {
                        retry_after: until - now,
                    })
                } else {
                    self.set(&mut st, State::HalfOpen);
                    Ok(Admission::Probe)
                }
            }
            State::HalfOpen => Err(UpstreamError::CircuitOpen {
                retry_after: self.open_for,
            }),
        }
    }

    /// Records how an admitted call ended; `None` = it never ended (dropped mid-way).
    fn record(&self, admission: &Admission, outage: Option<bool>) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let next = match (admission, outage, &*st) {
            // A probe that never finished: let the next call probe.
            (Admission::Probe, None, _) => State::Open {
                until: Instant::now(),
            },
            (Admission::Probe, Some(true), _) => State::Open {
                until: Instant::now() + self.open_for,
            },
            (Admission::Probe, Some(false), _) => State::Closed { failures: 0 },
            (Admission::Normal, Some(true), State::Closed { failures }) => {
                if failures + 1 >= self.failures {
                    State::Open {
                        until: Instant::now() + self.open_for,
                    }
                } else {
                    State::Closed {
                        failures: failures + 1,
                    }
                }
            }
            (Admission::Normal, Some(false), State::Closed { .. }) => State::Closed { failures: 0 },
            // Calls admitted before the circuit opened do not change it.
            _ => return,
        };
        self.set(&mut st, next);
    }
}

fn state_of(st: &State) -> BreakerState {
    match st {
        State::Closed { .. } => BreakerState::Closed,
        State::Open { .. } => BreakerState::Open,
        State::HalfOpen => BreakerState::HalfOpen,
    }
}

/// Records a dropped call (request cancelled) so a probe cannot stay in flight forever.
struct Pending {
    breaker: Arc<Breaker>,
    admission: Admission,
    done: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.record(&self.admission, None);
        }
    }
}

#[derive(Clone)]
pub(super) struct BreakerLayer(pub Arc<Breaker>);

#[derive(Clone)]
pub(super) struct BreakerService<S> {
    state: Arc<Breaker>,
    inner: S,
}

super::layer_for!(BreakerLayer => BreakerService);

impl<S: Inner> Service<UpstreamRequest> for BreakerService<S> {
    type Response = Reply;
    type Error = UpstreamError;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, req: UpstreamRequest) -> Self::Future {
        let breaker = self.state.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let admission = breaker.admit()?;
            let mut pending = Pending {
                breaker,
                admission,
                done: false,
            };
            let result = inner.oneshot(req).await;
            // Gateway-side refusals (queue full, paused, no token) say nothing about Dataverse.
            let outage = match &result {
                Ok(_) => Some(false),
                Err(e) if e.is_outage() => Some(true),
                Err(UpstreamError::Overloaded { .. })
                | Err(UpstreamError::Throttled { .. })
                | Err(UpstreamError::TokenEndpoint(_)) => None,
                Err(_) => Some(false),
            };
            pending.done = true;
            match outage {
                Some(o) => pending.breaker.record(&pending.admission, Some(o)),
                // Neutral for a closed circuit; a probe that learnt nothing lets the next call probe.
                None => pending.breaker.record(&pending.admission, None),
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_outages_and_a_probe_closes_it() {
        let b = Breaker::new(3, Duration::from_millis(20));
        for _ in 0..2 {
            let a = b.admit().expect("closed");
            b.record(&a, Some(true));
        }
        // An answer in between resets the count.
        let a = b.admit().expect("closed");
        b.record(&a, Some(false));
        for _ in 0..3 {
            let a = b.admit().expect("closed");
            b.record(&a, Some(true));
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert!(matches!(b.admit(), Err(UpstreamError::CircuitOpen { .. })));
        std::thread::sleep(Duration::from_millis(25));
        let probe = b.admit().expect("probe");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.admit().is_err(), "one probe at a time");
        b.record(&probe, Some(true));
        assert_eq!(b.state(), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(25));
        let probe = b.admit().expect("probe");
        b.record(&probe, Some(false));
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let b = Breaker::new(1, Duration::from_millis(1));
        let a = b.admit().expect("closed");
        b.record(&a, Some(true));
        std::thread::sleep(Duration::from_millis(2));
        let probe = b.admit().expect("probe");
        b.record(&probe, None);
        assert!(b.admit().is_ok(), "next call probes");
    }
}
