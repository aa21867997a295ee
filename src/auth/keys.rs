//! The gateway's own ES256 signing keys. `rotate()` makes a new current key; the previous public key
//! stays published and valid for verification until every token it signed has expired.

use std::path::Path;
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use p256::SecretKey;
use sha2::{Digest, Sha256};

use crate::auth::config::AuthConfigError;

pub struct SigningKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> Result<Self, AuthConfigError> {
        Self::from_secret(SecretKey::generate())
    }

    /// Loads a PEM P-256 private key: PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
    pub fn from_pem_file(path: &Path) -> Result<Self, AuthConfigError> {
        let bad = |problem: String| AuthConfigError::invalid("auth.signing_key_file", problem);
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(format!("cannot read {} ({e})", path.display())))?;
        let secret = SecretKey::from_pkcs8_pem(&text)
            .or_else(|_| SecretKey::from_sec1_pem(&text))
            .map_err(|_| bad(format!("{} is not a PEM P-256 private key", path.display())))?;
        Self::from_secret(secret)
    }

    fn from_secret(secret: SecretKey) -> Result<Self, AuthConfigError> {
        let der = secret
            .to_pkcs8_der()
            .map_err(|e| AuthConfigError::invalid("auth.signing_key_file", e.to_string()))?;
        let point = secret.public_key().to_sec1_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(AuthConfigError::invalid(
                "auth.signing_key_file",
                "public key is the identity point",
            ));
        };
        let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
        let kid = thumbprint(&x, &y);
        let decoding = DecodingKey::from_ec_components(&x, &y)
            .map_err(|e| AuthConfigError::invalid("auth.signing_key_file", e.to_string()))?;
        let jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::ES256),
                key_id: Some(kid.clone()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x,
                y,
            }),
        };
        Ok(Self {
            kid,
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            decoding,
            jwk,
        })
    }
}

/// RFC 7638 JWK thumbprint (SHA-256): a stable kid derived from the public key alone.
fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

struct Ring {
    current: Arc<SigningKey>,
    /// Previous keys with the unix time after which no token they signed can still be valid.
    retired: Vec<(Arc<SigningKey>, i64)>,
    /// Verify-only keys named in config (`previous_signing_key_files`): kept until config drops
    /// them, so a restart or another replica with a new key still accepts the old key's tokens.
    configured: Vec<Arc<SigningKey>>,
}

pub struct KeyRing {
    ring: RwLock<Ring>,
    /// Token lifetime + leeway: how long a retired key must stay verifiable.
    retire_after_secs: i64,
}

impl KeyRing {
    pub fn new(current: SigningKey, retire_after_secs: u64) -> Self {
        Self {
            ring: RwLock::new(Ring {
                current: Arc::new(current),
                retired: Vec::new(),
                configured: Vec::new(),
            }),
            retire_after_secs: i64::try_from(retire_after_secs).unwrap_or(i64::MAX),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Ring) -> T) -> T {
        match self.ring.read() {
            Ok(g) => f(&g),
            Err(p) => f(&p.into_inner()),
        }
    }

    pub fn current(&self) -> Arc<SigningKey> {
        self.read(|r| r.current.clone())
    }

    fn write<T>(&self, f: impl FnOnce(&mut Ring) -> T) -> T {
        match self.ring.write() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// Makes a freshly generated key current; the old one stays verifiable for its tokens' lifetime.
    pub fn rotate(&self) -> Result<String, AuthConfigError> {
        let kid = self.install(SigningKey::generate()?);
        Ok(kid)
    }

    /// Makes `key` current (a no-op when it already is); the old one stays verifiable for its
    /// tokens' lifetime.
    pub fn install(&self, key: SigningKey) -> String {
        let kid = key.kid.clone();
        let until = now() + self.retire_after_secs;
        self.write(|g| {
            if g.current.kid == kid {
                return;
            }
            let old = std::mem::replace(&mut g.current, Arc::new(key));
            g.retired
                .retain(|(k, until)| *until > now() && k.kid != kid);
            g.retired.push((old, until));
            tracing::info!(kid = %kid, "signing key rotated");
        });
        kid
    }

    /// Replaces the configured verify-only keys.
    pub fn set_configured(&self, keys: Vec<SigningKey>) {
        self.write(|g| g.configured = keys.into_iter().map(Arc::new).collect());
    }

    /// A reload: `current` (when given) becomes the current key and `configured` the verify-only
    /// keys, in one step. The key `current` replaces is not retired: it verifies on only if
    /// `configured` lists it, so a leaked key replaced by a reload stops verifying at once.
    pub fn reload(&self, current: Option<SigningKey>, configured: Vec<SigningKey>) {
        self.write(|g| {
            if let Some(key) = current.filter(|k| k.kid != g.current.kid) {
                let kid = key.kid.clone();
                g.current = Arc::new(key);
                g.retired
                    .retain(|(k, until)| *until > now() && k.kid != kid);
                tracing::info!(kid = %kid, "signing key replaced");
            }
            g.configured = configured.into_iter().map(Arc::new).collect();
        });
    }

    /// The verification key for `kid`, if it is current or retired but not yet expired.
    pub fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        let t = now();
        self.read(|r| {
            if r.current.kid == kid {
                return Some(r.current.clone());
            }
            r.retired
                .iter()
                .find(|(k, until)| k.kid == kid && *until > t)
                .map(|(k, _)| k.clone())
                .or_else(|| r.configured.iter().find(|k| k.kid == kid).cloned())
        })
    }

    pub fn jwks(&self) -> JwkSet {
        let t = now();
        self.read(|r| {
            let mut keys = vec![r.current.jwk.clone()];
            let live_retired = r.retired.iter().filter(|(_, until)| *until > t);
            for k in live_retired.map(|(k, _)| k).chain(&r.configured) {
                if !keys
                    .iter()
                    .any(|j| j.common.key_id.as_ref() == Some(&k.kid))
                {
                    keys.push(k.jwk.clone());
                }
            }
            JwkSet { keys }
        })
    }
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_previous_key_published() {
        let ring = KeyRing::new(SigningKey::generate().expect("key"), 60);
        let first = ring.current().kid.clone();
        let second = ring.rotate().expect("rotate");
        assert_ne!(first, second);
        assert_eq!(ring.current().kid, second);
        assert!(ring.find(&first).is_some());
        let kids: Vec<_> = ring
            .jwks()
            .keys
            .iter()
            .filter_map(|k| k.common.key_id.clone())
            .collect();
        assert_eq!(kids, vec![second, first]);
    }

    #[test]
    fn retired_key_disappears_after_its_window() {
        let ring = KeyRing::new(SigningKey::generate().expect("key"), 0);
        let first = ring.current().kid.clone();
        ring.rotate().expect("rotate");
        assert!(ring.find(&first).is_none());
        assert_eq!(ring.jwks().keys.len(), 1);
    }

    #[test]
    fn installed_and_configured_keys_verify_without_duplicates() {
        let ring = KeyRing::new(SigningKey::generate().expect("key"), 60);
        let first = ring.current().kid.clone();
        let next = SigningKey::generate().expect("key");
        let next_kid = next.kid.clone();
        assert_eq!(ring.install(next), next_kid);
        let old = SigningKey::generate().expect("key");
        let old_kid = old.kid.clone();
        ring.set_configured(vec![old]);
        for kid in [&first, &next_kid, &old_kid] {
            assert!(ring.find(kid).is_some(), "{kid}");
        }
        assert_eq!(ring.jwks().keys.len(), 3);
        ring.set_configured(Vec::new());
        assert!(ring.find(&old_kid).is_none());
        assert_eq!(ring.jwks().keys.len(), 2);
    }

    #[test]
    fn a_reload_keeps_the_replaced_key_only_if_listed() {
        let a = SecretKey::generate();
        let ring = KeyRing::new(SigningKey::from_secret(a.clone()).expect("key"), 60);
        let a_kid = ring.current().kid.clone();
        let b = SigningKey::generate().expect("key");
        let listed = SigningKey::from_secret(a).expect("key");
        ring.reload(Some(b), vec![listed]);
        assert!(ring.find(&a_kid).is_some(), "listed: still verifies");
        let b_kid = ring.current().kid.clone();
        ring.reload(Some(SigningKey::generate().expect("key")), Vec::new());
        assert!(ring.find(&b_kid).is_none(), "not listed: dropped at once");
        assert!(ring.find(&a_kid).is_none(), "no longer listed");
        assert_eq!(ring.jwks().keys.len(), 1);
    }

    #[test]
    fn loads_pkcs8_pem_with_a_stable_kid() {
        let secret = SecretKey::generate();
        let pem = secret
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .expect("pem");
        let path = std::env::temp_dir().join(format!("atsgw-key-{}.pem", std::process::id()));
        std::fs::write(&path, pem.as_bytes()).expect("write");
        let a = SigningKey::from_pem_file(&path).expect("load");
        let b = SigningKey::from_pem_file(&path).expect("load");
        assert_eq!(a.kid, b.kid);
        std::fs::write(&path, "garbage").expect("write");
        assert!(SigningKey::from_pem_file(&path).is_err());
        let _ = std::fs::remove_file(&path);
    }
}
