//! Partner usage counted in memory (requests per hour and status, upstream calls, last seen, the
//! last use of each stored secret) and handed to the state store in batches by a flusher: a
//! request costs a map update, never a write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::store::partners::{hour_of, UsageRow};

type Key = (Arc<str>, i64, u16);

/// Counts and last-seen times behind one lock: a request takes it once, briefly.
#[derive(Debug, Default)]
struct Counts {
    by_hour: HashMap<Key, (u64, u64)>,
    seen: HashMap<Arc<str>, i64>,
}

#[derive(Debug, Default)]
pub struct UsageMeter {
    counts: Mutex<Counts>,
    secrets: Mutex<HashMap<String, i64>>,
}

/// What accumulated since the last flush.
#[derive(Debug, Default)]
pub struct Drained {
    pub rows: Vec<UsageRow>,
    pub last_seen: Vec<(String, i64)>,
    pub secret_uses: Vec<(String, i64)>,
}

impl Drained {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.last_seen.is_empty() && self.secret_uses.is_empty()
    }
}

use super::lock;

impl UsageMeter {
    /// One partner request that ended with `status` after `upstream_calls` Dataverse calls.
    pub fn record(&self, partner: &Arc<str>, status: u16, upstream_calls: u64) {
        let now = chrono::Utc::now().timestamp();
        let mut counts = lock(&self.counts);
        let e = counts
            .by_hour
            .entry((partner.clone(), hour_of(now), status))
            .or_default();
        e.0 += 1;
        e.1 += upstream_calls;
        match counts.seen.get_mut(partner) {
            Some(t) => *t = now,
            None => {
                counts.seen.insert(partner.clone(), now);
            }
        }
    }

    /// A stored secret authenticated a token request just now.
    pub fn secret_used(&self, secret_id: String) {
        lock(&self.secrets).insert(secret_id, chrono::Utc::now().timestamp());
    }

    /// Takes everything counted so far (the flusher adds it to the store).
    pub fn drain(&self) -> Drained {
        let Counts {
            by_hour: counts,
            seen,
        } = std::mem::take(&mut *lock(&self.counts));
        let secrets = std::mem::take(&mut *lock(&self.secrets));
        Drained {
            rows: counts
                .into_iter()
                .map(|((partner, hour, status), (requests, calls))| UsageRow {
                    partner: partner.to_string(),
                    hour,
                    status,
                    requests,
                    upstream_calls: calls,
                })
                .collect(),
            last_seen: seen.into_iter().map(|(p, t)| (p.to_string(), t)).collect(),
            secret_uses: secrets.into_iter().collect(),
        }
    }

    /// Puts back what a failed flush took, so a store outage loses nothing.
    pub fn restore(&self, d: Drained) {
        {
            let mut counts = lock(&self.counts);
            for r in d.rows {
                let e = counts
                    .by_hour
                    .entry((r.partner.as_str().into(), r.hour, r.status))
                    .or_default();
                e.0 += r.requests;
                e.1 += r.upstream_calls;
            }
            for (p, t) in d.last_seen {
                let e = counts.seen.entry(p.as_str().into()).or_insert(t);
                *e = (*e).max(t);
            }
        }
        let mut secrets = lock(&self.secrets);
        for (id, t) in d.secret_uses {
            let e = secrets.entry(id).or_insert(t);
            *e = (*e).max(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_hour_and_status_and_survive_a_failed_flush() {
        let m = UsageMeter::default();
        let p: Arc<str> = "acme".into();
        m.record(&p, 200, 2);
        m.record(&p, 200, 1);
        m.record(&p, 429, 0);
        let d = m.drain();
        assert_eq!(d.rows.len(), 2);
        let ok = d.rows.iter().find(|r| r.status == 200).expect("200 row");
        assert_eq!((ok.requests, ok.upstream_calls), (2, 3));
        m.restore(d);
        m.record(&p, 200, 0);
        let again = m.drain();
        let ok = again
            .rows
            .iter()
            .find(|r| r.status == 200)
            .expect("200 row");
        assert_eq!(ok.requests, 3, "restored counts are added to new ones");
        assert!(m.drain().is_empty());
    }
}
