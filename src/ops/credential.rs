//! When the Dataverse client credential expires: the certificate's `notAfter` (read from its PEM),
//! else `dataverse.client_secret_expires_at` (Entra does not tell a client when its secret expires,
//! so the operator copies the date from the app registration). Exported as a gauge so an alert
//! fires weeks before the gateway loses access.

use chrono::{DateTime, Utc};

use crate::config::DataverseConfig;

/// The credential's kind (`certificate`, `client_secret`) and expiry, when known.
pub fn expiry(d: &DataverseConfig) -> Option<(&'static str, DateTime<Utc>)> {
    if let Some(path) = &d.certificate_file {
        let pem = match std::fs::read_to_string(path) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "certificate not readable");
                return None;
            }
        };
        return certificate_not_after(&pem).map(|at| ("certificate", at));
    }
    d.client_secret_expires_at.map(|at| ("client_secret", at))
}

/// `notAfter` of the first CERTIFICATE block in `pem`.
pub fn certificate_not_after(pem: &str) -> Option<DateTime<Utc>> {
    let blocks = pem::parse_many(pem).ok()?;
    let der = blocks.iter().find(|b| b.tag() == "CERTIFICATE")?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.contents()).ok()?;
    DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
}

#[cfg(all(test, feature = "sandbox"))]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_expiry_comes_from_its_pem() {
        let (cert, _) = ats_sandbox::entra::demo_certificate();
        let at = certificate_not_after(cert).expect("notAfter");
        assert!(at > DateTime::from_timestamp(1_700_000_000, 0).expect("date"));
        assert_eq!(certificate_not_after("not a pem"), None);
        let dir = std::env::temp_dir().join(format!("atsgw-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("cert.pem");
        std::fs::write(&file, cert).expect("write");
        let d = DataverseConfig {
            certificate_file: Some(file),
            client_secret_expires_at: Some(Utc::now()),
            ..Default::default()
        };
        assert_eq!(expiry(&d), Some(("certificate", at)), "the PEM wins");
        let d = DataverseConfig {
            client_secret_expires_at: Some(at),
            ..Default::default()
        };
        assert_eq!(expiry(&d), Some(("client_secret", at)));
        assert_eq!(expiry(&DataverseConfig::default()), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
