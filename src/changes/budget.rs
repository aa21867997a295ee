//! The scanner's share of the Dataverse budget: service protection allows an application user
//! 6,000 requests per sliding 5 minutes (docs/dataverse-web-api.md#service-protection),
//! shared with every partner call. The scanner keeps to `[changes] max_budget_share` of it (a
//! sliding window of its own calls) and, before each call, yields to partner calls queued at the
//! upstream concurrency cap: partners never wait behind a scan.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::upstream::stack::FairLimiter;

/// Requests an application user may make per window.
pub const DATAVERSE_REQUESTS: u32 = 6_000;
/// The window Dataverse counts them in.
pub const DATAVERSE_WINDOW: Duration = Duration::from_secs(300);

/// How long the scanner waits for partner calls to drain before it sends anyway: a partner load
/// that never lets go must not stop the changes feed for good.
const MAX_YIELD: Duration = Duration::from_secs(30);

/// The scanner's calls in the current window, against its limit.
pub struct ScanBudget {
    limit: u32,
    window: Duration,
    /// `(when, calls)`, oldest first.
    spent: Mutex<VecDeque<(Instant, u32)>>,
}

impl ScanBudget {
    /// `share` (0 < share ≤ 1) of Dataverse's budget; at least one call per window.
    pub fn new(share: f64) -> Self {
        let limit = (f64::from(DATAVERSE_REQUESTS) * share.clamp(0.0, 1.0)).floor() as u32;
        Self::with_limit(limit, DATAVERSE_WINDOW)
    }

    pub fn with_limit(limit: u32, window: Duration) -> Self {
        Self {
            limit: limit.max(1),
            window,
            spent: Mutex::new(VecDeque::new()),
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts `calls` made at `now`.
    pub fn record(&self, now: Instant, calls: u32) {
        if calls == 0 {
            return;
        }
        if let Ok(mut s) = self.spent.lock() {
            // Oldest first, also for calls dated back (a previous leader's, at its last scan).
            let at = s.partition_point(|(t, _)| *t <= now);
            s.insert(at, (now, calls));
        }
    }

    /// Calls counted in the window ending at `now` (older entries are forgotten).
    pub fn spent(&self, now: Instant) -> u32 {
        let Ok(mut s) = self.spent.lock() else {
            return 0;
        };
        while s
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= self.window)
        {
            s.pop_front();
        }
        s.iter().map(|(_, n)| n).sum()
    }

    /// The share of Dataverse's whole budget the scanner used in the window ending at `now`.
    pub fn share(&self, now: Instant) -> f64 {
        let whole = f64::from(DATAVERSE_REQUESTS) * self.window.as_secs_f64()
            / DATAVERSE_WINDOW.as_secs_f64();
        f64::from(self.spent(now)) / whole
    }

    /// How long to wait at `now` before the next call fits the limit (`None`: it fits now).
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        let spent = self.spent(now);
        if spent < self.limit {
            return None;
        }
        let s = self.spent.lock().ok()?;
        // Forget the oldest entries until the rest is under the limit: the call fits when the
        // last of them leaves the window.
        let mut left = spent;
        for (at, n) in s.iter() {
            left -= n;
            if left < self.limit {
                return Some((*at + self.window).saturating_duration_since(now));
            }
        }
        None
    }

    /// Waits until the next scanner call is both within the share and behind no partner call;
    /// answers the time spent yielding to partners.
    pub async fn pace(&self, limiter: &FairLimiter) -> Duration {
        while let Some(d) = self.wait(Instant::now()) {
            tracing::info!(
                wait_ms = d.as_millis() as u64,
                limit = self.limit,
                "changes scan paused: its share of the Dataverse budget is spent"
            );
            tokio::time::sleep(d).await;
        }
        // A waiting call may be the scanner's own (person children read beside the next page): it
        // drains with the rest, so this ends.
        limiter.drained(MAX_YIELD).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_the_share_of_six_thousand() {
        assert_eq!(ScanBudget::new(0.10).limit(), 600);
        assert_eq!(ScanBudget::new(0.0).limit(), 1, "never stopped for good");
        assert_eq!(ScanBudget::new(5.0).limit(), 6_000);
    }

    #[test]
    fn calls_over_the_limit_wait_for_the_oldest_to_leave_the_window() {
        let b = ScanBudget::with_limit(10, Duration::from_secs(300));
        let t0 = Instant::now();
        b.record(t0, 4);
        b.record(t0 + Duration::from_secs(100), 5);
        assert_eq!(b.wait(t0 + Duration::from_secs(100)), None);
        b.record(t0 + Duration::from_secs(200), 1);
        assert_eq!(b.spent(t0 + Duration::from_secs(200)), 10);
        // Full: the next call fits when the first 4 leave, 300 s after they were made.
        assert_eq!(
            b.wait(t0 + Duration::from_secs(200)),
            Some(Duration::from_secs(100))
        );
        assert_eq!(b.wait(t0 + Duration::from_secs(300)), None);
        assert_eq!(b.spent(t0 + Duration::from_secs(300)), 6);
        let share = ScanBudget::with_limit(600, DATAVERSE_WINDOW);
        share.record(t0, 60);
        assert!((share.share(t0) - 0.01).abs() < 1e-9);
    }

    #[test]
    fn calls_dated_back_keep_the_window_in_order() {
        let b = ScanBudget::with_limit(10, Duration::from_secs(300));
        let t0 = Instant::now();
        b.record(t0 + Duration::from_secs(200), 2);
        // A previous leader's calls, dated at its last scan before this replica's own.
        b.record(t0, 8);
        assert_eq!(b.spent(t0 + Duration::from_secs(200)), 10);
        assert_eq!(
            b.wait(t0 + Duration::from_secs(200)),
            Some(Duration::from_secs(100)),
            "the oldest calls leave first"
        );
        assert_eq!(b.spent(t0 + Duration::from_secs(300)), 2);
        assert_eq!(b.wait(t0 + Duration::from_secs(300)), None);
    }
}
