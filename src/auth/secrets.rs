//! Partner client secrets: generated here, stored only as argon2id PHC strings, verified in
//! constant time by the argon2 crate, on a small fixed pool of threads (`run_check`).

use std::sync::{mpsc, LazyLock, Mutex};

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Creates a new client secret: `(plaintext, argon2 PHC hash)`. Print the plaintext once and store
/// only the hash in the partner registry.
pub fn create_partner_secret() -> (String, String) {
    // rand's thread RNG is a CSPRNG seeded (and reseeded) from the OS.
    let raw: [u8; 32] = rand::random();
    let plain = format!("atsgw_{}", URL_SAFE_NO_PAD.encode(raw));
    let hash = hash_secret(&plain);
    (plain, hash)
}

/// Hashes a secret with argon2id default parameters and a random salt.
pub fn hash_secret(plain: &str) -> String {
    // The argon2 crate draws the salt from the OS random source.
    match Argon2::default().hash_password(plain.as_bytes()) {
        Ok(h) => h.to_string(),
        // Only fails on invalid params/salt lengths (fixed here) or an OS RNG failure.
        Err(e) => unreachable!("argon2 with default params failed: {e}"),
    }
}

/// True when `phc` parses and matches `plain`. A malformed hash never matches.
pub fn verify_secret(plain: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(plain.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Checks that a configured hash is a PHC string argon2 can verify.
pub fn is_valid_phc(phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| h.algorithm.as_str().starts_with("argon2"))
        .unwrap_or(false)
}

/// Spends the same work as a real verification, so an unknown client id is not told apart by timing.
pub fn burn_verification(plain: &str) {
    static DUMMY: LazyLock<String> = LazyLock::new(|| hash_secret("dummy-secret-for-timing"));
    let _ = verify_secret(plain, &DUMMY);
}

/// Threads that run secret checks, named so.
pub const CHECK_THREAD: &str = "secret-check";

type Job = Box<dyn FnOnce() + Send>;

/// A check allocates ~19 MiB; the allocator keeps that per thread that ran one (glibc arenas), so
/// checks on tokio's blocking pool (hundreds of threads) left hundreds of MiB behind under a
/// flood. A few long-lived threads keep it at a few blocks.
static POOL: LazyLock<Option<Mutex<mpsc::Sender<Job>>>> = LazyLock::new(|| {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = std::sync::Arc::new(Mutex::new(rx));
    let mut started = 0;
    for i in 0..pool_size() {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{CHECK_THREAD}-{i}"))
            .spawn(move || loop {
                let job = match rx.lock() {
                    Ok(r) => r.recv(),
                    Err(p) => p.into_inner().recv(),
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(e) => tracing::error!(error = %e, "cannot start a secret-check thread"),
        }
    }
    (started > 0).then(|| Mutex::new(tx))
});

/// One per core, at most 4.
pub fn pool_size() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4))
}

/// Runs `f` (a secret check) on the pool; `None` if the pool is gone.
pub async fn run_check<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    {
        let pool = POOL.as_ref()?;
        let sender = match pool.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        sender.send(job).ok()?;
    }
    rx.await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_secret_verifies_against_its_hash_only() {
        let (plain, hash) = create_partner_secret();
        assert!(hash.starts_with("$argon2id$"));
        assert!(is_valid_phc(&hash));
        assert!(verify_secret(&plain, &hash));
        assert!(!verify_secret(&format!("{plain}x"), &hash));
        let (other, _) = create_partner_secret();
        assert_ne!(plain, other);
        assert!(!verify_secret(&other, &hash));
    }

    #[tokio::test]
    async fn checks_run_on_the_named_pool() {
        let name = run_check(|| std::thread::current().name().map(str::to_string))
            .await
            .flatten()
            .expect("pool thread");
        assert!(name.starts_with(CHECK_THREAD), "{name}");
    }

    #[test]
    fn malformed_hash_never_matches() {
        assert!(!verify_secret("anything", "not-a-phc"));
        assert!(!is_valid_phc("not-a-phc"));
        assert!(!verify_secret("", ""));
    }
}
