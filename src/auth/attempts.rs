//! Failed client authentications, limited per `client_id` and per source address *before* the
//! argon2 check runs: a wrong-secret flood is answered 429 at the cost of a map lookup, so it
//! neither burns the check slots other partners need nor grows memory.
//!
//! Each key has a bucket of attempts (one regained every `regain_ms`). An attempt takes one from
//! its address's bucket and one from its client's bucket; a correct secret gives both back, so a
//! partner that authenticates correctly never runs out. Keys are bounded: client ids by a hash
//! (an attacker's 900 KB id costs 16 bytes), IPv6 addresses by their /64, both maps by capacity.

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
}

/// An attempt in progress: call `succeeded` when the secret was right.
pub struct Attempt<'a> {
    limiter: &'a AttemptLimiter,
    client: Shared,
    address: Option<(Shared, u32)>,
}

impl Attempt<'_> {
    /// A correct secret: the attempt does not count.
    pub fn succeeded(self) {
        let regain = self.limiter.regain();
        refund(&self.client, self.limiter.cfg.per_client, regain);
        if let Some((b, cap)) = &self.address {
            refund(b, *cap, regain);
        }
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
        }
    }

    fn regain(&self) -> Duration {
        Duration::from_millis(self.cfg.regain_ms)
    }

    /// Takes an attempt for `client_id` from `peer`, or the seconds to wait (`Retry-After`).
    pub fn begin(&self, client_id: &str, peer: Option<IpAddr>) -> Result<Attempt<'_>, u64> {
        let regain = self.regain();
        let address = match peer {
            Some(ip) => {
                let b = self
                    .addresses
                    .get_with(address_key(ip), || new_bucket(self.cfg.per_address));
                take(&b, self.cfg.per_address, regain)?;
                Some((b, self.cfg.per_address))
            }
            None => None,
        };
        let client = self
            .clients
            .get_with(client_key(client_id), || new_bucket(self.cfg.per_client));
        if let Err(wait) = take(&client, self.cfg.per_client, regain) {
            if let Some((b, cap)) = &address {
                refund(b, *cap, regain);
            }
            return Err(wait);
        }
        Ok(Attempt {
            limiter: self,
            client,
            address,
        })
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
    fn ipv6_hosts_share_their_64() {
        let x: IpAddr = "2001:db8::1".parse().expect("ip");
        let y: IpAddr = "2001:db8::ffff:1".parse().expect("ip");
        assert_eq!(address_key(x), address_key(y));
        let z: IpAddr = "2001:db8:0:1::1".parse().expect("ip");
        assert_ne!(address_key(x), address_key(z));
    }
}
