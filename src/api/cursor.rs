//! Opaque list cursors. A cursor seals (ChaCha20-Poly1305) the upstream `@odata.nextLink` together
//! with the partner it was issued to, a fingerprint of the list's filters and an expiry, so it never
//! shows the upstream URL, cannot be forged or altered, and only works for the same partner and query.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::problem::ApiError;

#[derive(Serialize, Deserialize)]
struct Sealed {
    p: String,
    f: String,
    exp: i64,
    n: String,
}

pub struct CursorSealer {
    cipher: ChaCha20Poly1305,
    /// Keys the current one replaced: they open cursors, never seal.
    previous: Vec<ChaCha20Poly1305>,
    ttl_secs: i64,
}

/// Hash of everything that shapes a list (filters, sort, page size, embeds): a cursor only continues
/// the exact list it came from.
pub fn fingerprint(parts: &[(&str, String)]) -> String {
    let mut h = Sha256::new();
    for (k, v) in parts {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([1]);
    }
    URL_SAFE_NO_PAD.encode(&h.finalize()[..12])
}

impl CursorSealer {
    /// `key` from configuration (32 bytes); a random one makes cursors die with the process.
    pub fn new(key: [u8; 32], ttl_secs: i64) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
            previous: Vec::new(),
            ttl_secs,
        }
    }

    /// Also opens cursors sealed with `keys` (`gateway.previous_cursor_keys`), so a key rotation
    /// keeps partners' positions.
    pub fn with_previous(mut self, keys: &[[u8; 32]]) -> Self {
        self.previous = keys
            .iter()
            .map(|k| ChaCha20Poly1305::new(&Key::from(*k)))
            .collect();
        self
    }

    pub fn random(ttl_secs: i64) -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self::new(key, ttl_secs)
    }

    pub fn seal(
        &self,
        partner: &str,
        fingerprint: &str,
        next_link: &str,
    ) -> Result<String, ApiError> {
        self.seal_for(partner, fingerprint, next_link, self.ttl_secs)
    }

    /// `seal` with its own lifetime (the changes feed's cursors live as long as its retention).
    pub fn seal_for(
        &self,
        partner: &str,
        fingerprint: &str,
        next_link: &str,
        ttl_secs: i64,
    ) -> Result<String, ApiError> {
        let body = Sealed {
            p: partner.to_string(),
            f: fingerprint.to_string(),
            exp: chrono::Utc::now().timestamp().saturating_add(ttl_secs),
            n: next_link.to_string(),
        };
        let plain = serde_json::to_vec(&body)
            .map_err(|e| ApiError::Internal(format!("cursor encode: {e}")))?;
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(&Nonce::from(nonce), plain.as_ref())
            .map_err(|_| ApiError::Internal("cursor seal failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend(ct);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// The upstream link inside a cursor, if it is authentic, this partner's, for this query, and fresh.
    pub fn open(&self, cursor: &str, partner: &str, fingerprint: &str) -> Result<String, ApiError> {
        let invalid = || {
            ApiError::param(
                "cursor",
                "is not a cursor this API issued for this query; restart without a cursor",
            )
        };
        let raw = URL_SAFE_NO_PAD
            .decode(cursor.as_bytes())
            .map_err(|_| invalid())?;
        if raw.len() < 12 + 16 {
            return Err(invalid());
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| invalid())?;
        let nonce = Nonce::from(nonce);
        let plain = std::iter::once(&self.cipher)
            .chain(&self.previous)
            .find_map(|c| c.decrypt(&nonce, ct).ok())
            .ok_or_else(invalid)?;
        let body: Sealed = serde_json::from_slice(&plain).map_err(|_| invalid())?;
        if body.p != partner || body.f != fingerprint {
            return Err(invalid());
        }
        if body.exp < chrono::Utc::now().timestamp() {
            return Err(ApiError::CursorExpired);
        }
        Ok(body.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_key_still_opens_its_cursors_and_never_seals() {
        let (old, new) = ([1u8; 32], [2u8; 32]);
        let before = CursorSealer::new(old, 60)
            .seal("p", "f", "next")
            .expect("seal");
        let rotated = CursorSealer::new(new, 60).with_previous(&[old]);
        assert_eq!(rotated.open(&before, "p", "f").expect("open"), "next");
        // Sealed with the new key only: the old one alone does not open it.
        let after = rotated.seal("p", "f", "later").expect("seal");
        assert!(CursorSealer::new(old, 60).open(&after, "p", "f").is_err());
        assert_eq!(rotated.open(&after, "p", "f").expect("open"), "later");
        // Without the old key listed, its cursors are invalid (400), as before.
        assert!(CursorSealer::new(new, 60).open(&before, "p", "f").is_err());
        // Still bound to partner and query.
        assert!(rotated.open(&before, "q", "f").is_err());
    }

    #[test]
    fn round_trip_and_binding() {
        let s = CursorSealer::random(60);
        let c = s
            .seal("acme", "fp", "https://org/api/data/v9.2/x?$skiptoken=abc")
            .expect("seal");
        assert!(!c.contains("skiptoken") && !c.contains("org"));
        assert_eq!(
            s.open(&c, "acme", "fp").expect("open"),
            "https://org/api/data/v9.2/x?$skiptoken=abc"
        );
        assert!(s.open(&c, "other", "fp").is_err());
        assert!(s.open(&c, "acme", "fp2").is_err());
        let mut tampered = c.clone().into_bytes();
        let i = tampered.len() / 2;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        assert!(s
            .open(&String::from_utf8(tampered).expect("utf8"), "acme", "fp")
            .is_err());
        assert!(s.open("", "acme", "fp").is_err());
        assert!(s.open("!!!", "acme", "fp").is_err());
        let expired = CursorSealer {
            ttl_secs: -10,
            ..CursorSealer::random(0)
        };
        let c = expired.seal("acme", "fp", "x").expect("seal");
        assert!(matches!(
            expired.open(&c, "acme", "fp"),
            Err(ApiError::CursorExpired)
        ));
        assert_ne!(
            fingerprint(&[("a", "1".into())]),
            fingerprint(&[("a", "2".into())])
        );
    }
}
