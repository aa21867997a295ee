//! Registered X.509 certificates: thumbprints (SHA-1 for `x5t`, SHA-256 for `x5t#S256`), validity and the
//! RSA public key as a `jsonwebtoken` verification key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::DecodingKey;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_parser::public_key::PublicKey;

#[derive(Clone)]
pub(super) struct RegisteredCert {
    pub sha1: [u8; 20],
    pub sha256: [u8; 32],
    /// base64url (no padding) of `sha1`, the `x5t` header value.
    pub x5t: String,
    pub not_before: i64,
    pub not_after: i64,
    pub key: DecodingKey,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CertError {
    #[error("not a PEM certificate: {0}")]
    Pem(String),
    #[error("not a parsable X.509 certificate")]
    X509,
    #[error("the certificate's public key is not RSA")]
    NotRsa,
}

pub(super) fn parse_certificate(cert_pem: &str) -> Result<RegisteredCert, CertError> {
    let block = pem::parse(cert_pem).map_err(|e| CertError::Pem(e.to_string()))?;
    if block.tag() != "CERTIFICATE" {
        return Err(CertError::Pem(format!(
            "unexpected PEM tag {}",
            block.tag()
        )));
    }
    let der = block.contents();
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| CertError::X509)?;
    let key = match cert.public_key().parsed() {
        // DER integers carry a leading zero byte when the top bit is set; the aws-lc backend wants
        // the plain big-endian magnitude.
        Ok(PublicKey::RSA(rsa)) => DecodingKey::from_rsa_raw_components(
            strip_leading_zeros(rsa.modulus),
            strip_leading_zeros(rsa.exponent),
        ),
        _ => return Err(CertError::NotRsa),
    };
    let sha1: [u8; 20] = Sha1::digest(der).into();
    let sha256: [u8; 32] = Sha256::digest(der).into();
    Ok(RegisteredCert {
        sha1,
        sha256,
        x5t: URL_SAFE_NO_PAD.encode(sha1),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        key,
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Decodes an `x5t`/`x5t#S256` header value; lenient about padding and the standard alphabet, as clients vary.
pub(super) fn decode_thumbprint(value: &str) -> Option<Vec<u8>> {
    let trimmed = value.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .ok()
}

pub(super) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fixture_certificate_and_thumbprints_match_openssl_convention() {
        let cert = parse_certificate(super::super::keys::DEMO_CLIENT_CERT).unwrap();
        assert_eq!(decode_thumbprint(&cert.x5t).unwrap(), cert.sha1.to_vec());
        assert!(cert.not_after > cert.not_before);
    }

    #[test]
    fn rejects_non_certificate_pem() {
        assert!(parse_certificate(super::super::keys::DEMO_CLIENT_KEY).is_err());
        assert!(parse_certificate("garbage").is_err());
    }
}
