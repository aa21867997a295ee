//! Failed client authentications, limited per `client_id` and per source address *before* the
//! argon2 check runs: a wrong-secret flood is answered 429 at the cost of a map lookup, so it
//! neither burns the check slots other partners need nor grows memory.
//!
//! Each key has a bucket of attempts (one regained every `regain_ms`). An attempt takes one from
//! its address's bucket, one from its (client, address) pair's bucket and one from its client's
//! bucket; a correct secret gives them back, so a partner that authenticates correctly never runs
//! out. An empty client bucket locks the client only for addresses that have failed for it
//! lately (their pair bucket is not full): anyone can empty it, so it must not lock the real
//! partner out from its own address. Keys are bounded: client ids by a hash (an attacker's
//! 900 KB id costs 16 bytes), IPv6 addresses by their /64, the maps by capacity.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::auth::config::FailedAttemptsConfig;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

type Shared = Arc<Mutex<Bucket>>;

/// Keys remembered per map; beyond it the least used are forgotten (their buckets refill).
const CAPACITY: u64 = 100_000;

pub struct AttemptLimiter {
    cfg: FailedAttemptsConfig,
    clients: moka::sync::Cache<[u8; 16], Shared>,
    addresses: moka::sync::Cache<IpAddr, Shared>,
    /// (client, address): how much this address has failed for this client lately.
    pairs: moka::sync::Cache<([u8; 16], IpAddr), Shared>,
}

/// An attempt in progress: call `succeeded` when the secret was right; dropped, it counts. It
/// owns what it took (no borrow of the limiter), so the secret check itself can settle it.
pub struct Attempt {
    cfg: FailedAttemptsConfig,
    /// `None` when a clean address went past an empty client bucket (nothing taken there).
    client: Option<Shared>,
    address: Option<(Shared, u32)>,
    pair: Option<Shared>,
}

impl Attempt {
    /// A correct secret: the attempt does not count.
    pub fn succeeded(self) {
        self.refund();
    }

    /// The secret was never checked (the checks were busy): the attempt does not count either,
    /// or a partner retrying through a busy spell would be locked out with the right secret.
    pub fn not_checked(self) {
        self.succeeded();
    }
}

impl AttemptLimiter {
    pub fn new(cfg: FailedAttemptsConfig) -> Self {
        // A bucket untouched for this long is full again: forgetting it changes nothing.
        let refill = Duration::from_millis(cfg.regain_ms)
            .saturating_mul(cfg.per_client.max(cfg.per_address));
        Self {
            cfg,
            clients: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(refill)
                .build(),
            addresses: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(refill)
                .build(),
            pairs: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(refill)
                .build(),
        }
    }

    fn regain(&self) -> Duration {
        Duration::from_millis(self.cfg.regain_ms)
    }

    /// Takes an attempt for `client_id` from `peer`, or the seconds to wait (`Retry-After`).
    pub fn begin(&self, client_id: &str, peer: Option<IpAddr>) -> Result<Attempt, u64> {
        let regain = self.regain();
        let per_client = self.cfg.per_client;
        let key = client_key(client_id);
        let mut taken = Attempt {
            cfg: self.cfg,
            client: None,
            address: None,
            pair: None,
        };
        let mut clean = false;
        if let Some(ip) = peer {
            let ip = address_key(ip);
            let b = self
                .addresses
                .get_with(ip, || new_bucket(self.cfg.per_address));
            take(&b, self.cfg.per_address, regain)?;
            taken.address = Some((b, self.cfg.per_address));
            let p = self.pairs.get_with((key, ip), || new_bucket(per_client));
            // A full pair bucket: this address has not failed for this client lately.
            clean = is_full(&p, per_client, regain);
            if let Err(wait) = take(&p, per_client, regain) {
                taken.refund();
                return Err(wait);
            }
            taken.pair = Some(p);
        }
        let client = self.clients.get_with(key, || new_bucket(per_client));
        match take(&client, per_client, regain) {
            Ok(()) => taken.client = Some(client),
            // Someone emptied the client's bucket; an address that has not failed goes on
            // (it is limited by its own buckets), a failing one waits.
            Err(_) if clean => {}
            Err(wait) => {
                taken.refund();
                return Err(wait);
            }
        }
        Ok(taken)
    }
}

impl Attempt {
    /// Gives back what was taken (a refused attempt does not count against the other keys).
    fn refund(&self) {
        let regain = Duration::from_millis(self.cfg.regain_ms);
        if let Some(b) = &self.client {
            refund(b, self.cfg.per_client, regain);
        }
        if let Some((b, cap)) = &self.address {
            refund(b, *cap, regain);
        }
        if let Some(b) = &self.pair {
            refund(b, self.cfg.per_client, regain);
        }
    }
}

fn new_bucket(cap: u32) -> Shared {
    Arc::new(Mutex::new(Bucket {
        tokens: f64::from(cap),
        at: Instant::now(),
    }))
}

fn lock(b: &Shared) -> std::sync::MutexGuard<'_, Bucket> {
    match b.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn refill(b: &mut Bucket, cap: u32, regain: Duration) {
    let now = Instant::now();
    let gained = now.duration_since(b.at).as_secs_f64() / regain.as_secs_f64();
    b.tokens = (b.tokens + gained).min(f64::from(cap));
    b.at = now;
}

fn take(b: &Shared, cap: u32, regain: Duration) -> Result<(), u64> {
    let mut b = lock(b);
    refill(&mut b, cap, regain);
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        Ok(())
    } else {
        let wait = (1.0 - b.tokens) * regain.as_secs_f64();
        // Whole seconds, at least 1 (Retry-After has no fractions).
        Err((wait.ceil() as u64).max(1))
    }
}

fn is_full(b: &Shared, cap: u32, regain: Duration) -> bool {
    let mut b = lock(b);
    refill(&mut b, cap, regain);
    b.tokens >= f64::from(cap)
}

fn refund(b: &Shared, cap: u32, regain: Duration) {
    let mut b = lock(b);
    refill(&mut b, cap, regain);
    b.tokens = (b.tokens + 1.0).min(f64::from(cap));
}

fn client_key(client_id: &str) -> [u8; 16] {
    let h = Sha256::digest(client_id.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h[..16]);
    k
}

/// IPv6 hosts usually hold a whole /64: one bucket for it.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_client: u32, per_address: u32) -> AttemptLimiter {
        AttemptLimiter::new(FailedAttemptsConfig {
            per_client,
            per_address,
            regain_ms: 60_000,
        })
    }

    #[test]
    fn failures_run_out_per_client_and_successes_give_back() {
        let l = limiter(2, 100);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        assert!(l.begin("acme", Some(a)).is_ok());
        assert!(l.begin("acme", Some(a)).is_ok());
        let wait = l.begin("acme", Some(a)).err().expect("limited");
        assert!((1..=60).contains(&wait), "{wait}");
        // Another client is unaffected.
        l.begin("other", Some(a)).expect("other client").succeeded();
        l.begin("other", Some(a)).expect("other client").succeeded();
        l.begin("other", Some(a)).expect("other client").succeeded();
    }

    #[test]
    fn attempts_whose_secret_was_never_checked_do_not_count() {
        let l = limiter(2, 2);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        for _ in 0..5 {
            l.begin("acme", Some(a)).expect("not limited").not_checked();
        }
        assert!(l.begin("acme", Some(a)).is_ok());
    }

    #[test]
    fn failures_run_out_per_address() {
        let l = limiter(100, 2);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        assert!(l.begin("x1", Some(a)).is_ok());
        assert!(l.begin("x2", Some(a)).is_ok());
        assert!(l.begin("x3", Some(a)).is_err());
        assert!(l.begin("x3", Some(b)).is_ok());
    }

    #[test]
    fn an_emptied_client_stays_open_to_addresses_that_did_not_fail() {
        let l = limiter(2, 100);
        let attacker: IpAddr = "10.0.0.1".parse().expect("ip");
        let partner: IpAddr = "10.0.0.9".parse().expect("ip");
        assert!(l.begin("acme", Some(attacker)).is_ok());
        assert!(l.begin("acme", Some(attacker)).is_ok());
        assert!(l.begin("acme", Some(attacker)).is_err());
        for _ in 0..5 {
            l.begin("acme", Some(partner)).expect("partner").succeeded();
        }
        assert!(l.begin("acme", Some(attacker)).is_err(), "still locked");
    }

    #[test]
    fn ipv6_hosts_share_their_64() {
        let x: IpAddr = "2001:db8::1".parse().expect("ip");
        let y: IpAddr = "2001:db8::ffff:1".parse().expect("ip");
        assert_eq!(address_key(x), address_key(y));
        let z: IpAddr = "2001:db8:0:1::1".parse().expect("ip");
        assert_ne!(address_key(x), address_key(z));
    }
}
