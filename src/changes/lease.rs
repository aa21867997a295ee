//! Scanner leadership: among replicas sharing one feed, one scans at a time. The store keeps a
//! lease (holder, fencing token, expiry by the database's clock; [`ChangeStore::scan_lease`]) living
//! one scan interval: every replica tries it each tick (a quarter of that), the holder renews it,
//! also while it scans, so only four missed renewals in a row lose it. A replica that dies stops
//! renewing and another takes the lease once it expired, with the next token, then scans an
//! interval after the cluster's last scan: scans resume at most 1¼ intervals (plus the scan's own
//! time) after the leader died. The scan is recorded under its token, and the store refuses a
//! token that is no longer current: a stale leader that wakes up cannot record. With the embedded
//! store the lease is always held (one process).
//!
//! When the store does not answer, the scanner pauses (logged once, `changes_scan_paused` 1) and
//! resumes by itself; nothing recorded is lost (a scan is one transaction).
//!
//! [`ChangeStore::scan_lease`]: crate::store::changes::ChangeStore::scan_lease

use std::sync::Arc;
use std::time::Duration;

use super::Changes;

/// What this replica may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It holds the lease: it scans, recording under `token`.
    Leader {
        token: i64,
        /// It just took the lease (a new token), `since_scan` after the cluster's last scan.
        took_over: bool,
        since_scan: Option<Duration>,
        /// The scanner's calls in its budget window as of that scan (the previous leader's).
        window_calls: u32,
    },
    /// Another replica holds the lease.
    Follower,
    /// The store does not answer: nobody can record, the scanner waits.
    Unreachable,
}

pub struct Leadership {
    changes: Arc<Changes>,
    ttl: Duration,
    /// The token last held: another one means this replica took the lease (again).
    token: Option<i64>,
    leader: bool,
    paused: bool,
}

impl Leadership {
    /// The lease lives one scan `interval` (at least 200 ms, so a slow round trip does not lose
    /// it).
    pub fn new(changes: Arc<Changes>, interval: Duration) -> Self {
        Self {
            changes,
            ttl: interval.max(Duration::from_millis(200)),
            token: None,
            leader: false,
            paused: false,
        }
    }

    /// How often the lease is renewed or tried: four times per lifetime, so one late renewal
    /// does not lose it.
    pub fn tick(&self) -> Duration {
        (self.ttl / 4).max(Duration::from_millis(25))
    }

    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// Takes or renews the lease and says what this replica may do.
    pub async fn refresh(&mut self) -> Role {
        let lease = match self.changes.store().scan_lease(self.ttl).await {
            Ok(lease) => lease,
            Err(e) => {
                if !self.paused {
                    tracing::warn!(error = %e, "changes scanner paused: the state store does not answer (it resumes when it does)");
                    self.paused = true;
                    metrics::gauge!("changes_scan_paused").set(1.0);
                }
                self.set_leader(false);
                return Role::Unreachable;
            }
        };
        if self.paused {
            tracing::info!("changes scanner resumed: the state store answers again");
            self.paused = false;
            metrics::gauge!("changes_scan_paused").set(0.0);
        }
        // Events another replica recorded wake this replica's watchers (webhook deliveries).
        self.changes.observe(lease.last_seq);
        let Some(token) = lease.token else {
            if self.leader {
                tracing::info!("changes scanner: another replica holds the scan lease now");
            }
            self.set_leader(false);
            return Role::Follower;
        };
        let took_over = self.token != Some(token);
        if took_over {
            tracing::info!(token, "changes scanner: this replica holds the scan lease");
            metrics::counter!("changes_scan_takeovers_total").increment(1);
            self.token = Some(token);
        }
        self.set_leader(true);
        Role::Leader {
            token,
            took_over,
            since_scan: lease.since_scan,
            window_calls: lease.window_calls,
        }
    }

    /// Renews the lease every tick while a scan runs; returns only when another replica took it
    /// (the scan then cannot be recorded: stop it). A store that does not answer is tried again.
    pub async fn keep_alive(&self, token: i64) {
        loop {
            tokio::time::sleep(self.tick()).await;
            match self.changes.store().scan_lease(self.ttl).await {
                Ok(lease) if lease.token == Some(token) => {}
                Ok(_) => return,
                Err(_) => {}
            }
        }
    }

    /// Gives the lease up at shutdown, so another replica takes over at its next tick.
    pub async fn release(&mut self) {
        if let (true, Some(token)) = (self.leader, self.token) {
            let release = self.changes.store().release_scan_lease(token);
            match tokio::time::timeout(Duration::from_secs(2), release).await {
                Ok(Ok(())) => {}
                // It expires by itself.
                Ok(Err(e)) => tracing::warn!(error = %e, "changes scanner: lease not released"),
                Err(_) => tracing::warn!("changes scanner: lease not released (timeout)"),
            }
        }
        self.set_leader(false);
    }

    fn set_leader(&mut self, leader: bool) {
        self.leader = leader;
        metrics::gauge!("changes_scan_leader").set(if leader { 1.0 } else { 0.0 });
    }
}
