//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//! keyed with the secret's decoded bytes (the `whsec_` prefix and base64 are only its text form).
//! While a rotated-out secret is in its grace period the header carries one signature per secret,
//! space-separated, the current one first ([`signatures`]), as the specification allows.
//! Secrets are sealed (ChaCha20-Poly1305, the subscription id as associated data) before they reach
//! the state store, so a copy of the database does not let anyone sign events.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the specification allows 24 to 64).
const SECRET_BYTES: usize = 32;

/// A subscription's signing key: the raw bytes. `Debug` never shows them.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    pub fn generate() -> Self {
        let mut raw = vec![0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut raw);
        Self(raw)
    }

    /// Parses `whsec_<base64>` (the prefix is optional, as in the specification's libraries).
    pub fn from_secret(secret: &str) -> Option<Self> {
        let b64 = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
        STANDARD
            .decode(b64)
            .ok()
            .filter(|k| !k.is_empty())
            .map(Self)
    }

    /// The text form shown to the partner once: `whsec_` + base64 of the bytes.
    pub fn to_secret(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `webhook-signature` value for one attempt.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC accepts keys of any length: this cannot fail.
        let mut mac = match <Hmac<Sha256>>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` value for one attempt signed with each of `keys` (the current secret
/// first, then a replaced one still in its grace period): space-separated `v1,` entries, any of
/// which a receiver may verify.
pub fn signatures(keys: &[&SigningKey], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| k.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Seals signing keys for the store.
pub struct SecretSealer {
    cipher: ChaCha20Poly1305,
}

impl SecretSealer {
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
        }
    }

    /// `base64(nonce || ciphertext)`, bound to `subscription_id`.
    pub fn seal(&self, subscription_id: &str, key: &SigningKey) -> Result<String, String> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &key.0,
                    aad: subscription_id.as_bytes(),
                },
            )
            .map_err(|_| "sealing failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, subscription_id: &str, sealed: &str) -> Result<SigningKey, String> {
        let raw = STANDARD
            .decode(sealed)
            .map_err(|_| "sealed secret is not base64".to_string())?;
        if raw.len() < 12 {
            return Err("sealed secret too short".into());
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| "bad nonce".to_string())?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: subscription_id.as_bytes(),
                },
            )
            .map(SigningKey)
            .map_err(|_| {
                "cannot open a subscription secret (was webhooks.secret_key or the key file changed?)"
                    .to_string()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector the Standard Webhooks reference libraries test against.
    #[test]
    fn matches_the_specification_vector() {
        let key = SigningKey::from_secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").expect("key");
        assert_eq!(
            key.sign(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn during_a_rotation_both_secrets_sign_the_new_one_first() {
        let (new, old) = (SigningKey::generate(), SigningKey::generate());
        let header = signatures(&[&new, &old], "evt_1", 7, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            parts,
            [new.sign("evt_1", 7, b"{}"), old.sign("evt_1", 7, b"{}")]
        );
        assert_eq!(signatures(&[&new], "evt_1", 7, b"{}"), parts[0]);
    }

    #[test]
    fn secrets_round_trip_and_never_print() {
        let key = SigningKey::generate();
        let text = key.to_secret();
        assert!(text.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&text[6..]).expect("b64").len(), 32);
        let back = SigningKey::from_secret(&text).expect("parse");
        assert_eq!(back.sign("a", 1, b"x"), key.sign("a", 1, b"x"));
        assert!(!format!("{key:?}").contains(&text[6..]));
    }

    #[test]
    fn sealed_secrets_open_only_for_their_subscription() {
        let sealer = SecretSealer::new([7; 32]);
        let key = SigningKey::generate();
        let sealed = sealer.seal("sub-1", &key).expect("seal");
        assert!(!sealed.contains(&key.to_secret()[6..]));
        let opened = sealer.open("sub-1", &sealed).expect("open");
        assert_eq!(opened.to_secret(), key.to_secret());
        assert!(sealer.open("sub-2", &sealed).is_err());
        assert!(SecretSealer::new([8; 32]).open("sub-1", &sealed).is_err());
    }
}
