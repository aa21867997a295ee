//! Check `credential`: the client secret or certificate is there and not expired. Certificate dates
//! come from the PEM itself; a secret's expiry only from `dataverse.client_secret_expires_at`
//! (Entra never tells a client when its secret expires). Never prints the secret or the key.

use chrono::{DateTime, Utc};
use sha1::{Digest, Sha1};

use super::Check;
use crate::config::DataverseConfig;
use crate::upstream::{CertificateCredential, Secret};

const NAME: &str = "credential";
/// Expiring within this long is still a pass, with advice to renew.
const RENEW_WITHIN_DAYS: i64 = 30;

pub(super) struct Outcome {
    pub check: Check,
    /// Whether a token request can be tried with it (an expired one can: Entra's answer confirms).
    pub usable: bool,
}

pub(super) fn check(d: &DataverseConfig) -> Outcome {
    match (&d.certificate_file, &d.private_key_file) {
        (Some(cert), Some(key)) => certificate(cert, key, d),
        _ => secret(d),
    }
}

fn secret(d: &DataverseConfig) -> Outcome {
    let from = match &d.client_secret_file {
        Some(f) => format!("client secret from {}", f.display()),
        None => "client secret set".to_string(),
    };
    let now = Utc::now();
    let check = match d.client_secret_expires_at {
        None => Check::pass(NAME, format!("{from}; its expiry date is not configured"))
            .advise("Set [dataverse] client_secret_expires_at to the secret's \"Expires\" date (Entra admin center > App registrations > the app > Certificates & secrets) so doctor and the metrics can warn before it runs out."),
        Some(at) if at <= now => Check::fail(
            NAME,
            format!("{from}, but it expired on {} ({} days ago, per dataverse.client_secret_expires_at)", day(at), (now - at).num_days()),
            renew_secret(&super::entra::shown_client_id(&d.client_id)),
        ),
        Some(at) if (at - now).num_days() < RENEW_WITHIN_DAYS => Check::pass(
            NAME,
            format!("{from}; it expires on {} (in {} days)", day(at), (at - now).num_days()),
        )
        .advise(renew_secret(&super::entra::shown_client_id(&d.client_id))),
        Some(at) => Check::pass(
            NAME,
            format!("{from}; it expires on {} (in {} days)", day(at), (at - now).num_days()),
        ),
    };
    Outcome {
        check,
        usable: true,
    }
}

fn renew_secret(client_id: &str) -> String {
    format!("Create a new client secret for app {client_id} (Entra admin center > App registrations > the app > Certificates & secrets > New client secret), put its Value (not its Secret ID) in dataverse.client_secret or client_secret_file, set dataverse.client_secret_expires_at to its new expiry, then delete the old secret.")
}

fn certificate(cert: &std::path::Path, key: &std::path::Path, d: &DataverseConfig) -> Outcome {
    let unusable = |detail: String, fix: String| Outcome {
        check: Check::fail(NAME, detail, fix),
        usable: false,
    };
    let cert_pem = match std::fs::read_to_string(cert) {
        Ok(p) => p,
        Err(e) => {
            return unusable(
                format!("cannot read dataverse.certificate_file {} ({e})", cert.display()),
                "Point dataverse.certificate_file at the PEM certificate whose public part is uploaded to the app registration, readable by the gateway's user.".into(),
            )
        }
    };
    let parsed = match parse_certificate(&cert_pem) {
        Ok(p) => p,
        Err(why) => {
            return unusable(
                format!("dataverse.certificate_file {}: {why}", cert.display()),
                "The file must hold the certificate in PEM (-----BEGIN CERTIFICATE-----); convert a .pfx with `openssl pkcs12 -in cert.pfx -clcerts -nokeys -out cert.pem`.".into(),
            )
        }
    };
    let key_pem = match std::fs::read_to_string(key) {
        Ok(p) => Secret::new(p),
        Err(e) => {
            return unusable(
                format!("cannot read dataverse.private_key_file {} ({e})", key.display()),
                "Point dataverse.private_key_file at the certificate's RSA private key in PEM, readable by the gateway's user.".into(),
            )
        }
    };
    // Error texts from the key parser never echo the key.
    if let Err(e) = CertificateCredential::from_pem(&cert_pem, &key_pem) {
        return unusable(
            format!("dataverse.private_key_file {}: {e}", key.display()),
            "The key must be the certificate's unencrypted RSA private key in PEM (PKCS#1 or PKCS#8); export it with `openssl pkcs12 -in cert.pfx -nocerts -nodes -out key.pem`.".into(),
        );
    }
    let now = Utc::now();
    let what = format!(
        "certificate \"{}\" (thumbprint {})",
        parsed.subject, parsed.thumbprint
    );
    let renew = format!("Create a new certificate, upload its public part to app {} (Entra admin center > App registrations > the app > Certificates & secrets > Certificates), point dataverse.certificate_file and private_key_file at the new pair, then remove the old certificate.", d.client_id);
    let check = if parsed.not_after <= now {
        Check::fail(
            NAME,
            format!(
                "{what} expired on {} ({} days ago)",
                day(parsed.not_after),
                (now - parsed.not_after).num_days()
            ),
            renew,
        )
    } else if parsed.not_before > now {
        Check::fail(
            NAME,
            format!("{what} is not valid before {}", day(parsed.not_before)),
            "Check the machine's clock, or use a certificate that is valid now.",
        )
    } else if (parsed.not_after - now).num_days() < RENEW_WITHIN_DAYS {
        Check::pass(
            NAME,
            format!(
                "{what} expires on {} (in {} days)",
                day(parsed.not_after),
                (parsed.not_after - now).num_days()
            ),
        )
        .advise(renew)
    } else {
        Check::pass(
            NAME,
            format!(
                "{what} valid until {} (in {} days)",
                day(parsed.not_after),
                (parsed.not_after - now).num_days()
            ),
        )
    };
    Outcome {
        check,
        usable: true,
    }
}

struct Parsed {
    subject: String,
    /// SHA-1, upper-case hex: what the Entra admin center lists.
    thumbprint: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

fn parse_certificate(pem_text: &str) -> Result<Parsed, String> {
    let blocks = pem::parse_many(pem_text).map_err(|e| format!("not PEM ({e})"))?;
    let der = blocks
        .iter()
        .find(|b| b.tag() == "CERTIFICATE")
        .map(|b| b.contents().to_vec())
        .ok_or("no CERTIFICATE block")?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| format!("not a valid X.509 certificate ({e})"))?;
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::<Utc>::from_timestamp(t.timestamp(), 0).ok_or("a date out of range")
    };
    Ok(Parsed {
        subject: cert.subject().to_string(),
        thumbprint: Sha1::digest(&der)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect(),
        not_before: time(cert.validity().not_before)?,
        not_after: time(cert.validity().not_after)?,
    })
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

#[cfg(all(test, feature = "sandbox"))]
mod tests {
    use super::*;

    #[test]
    fn reads_dates_and_thumbprint_from_the_pem() {
        let (cert, _) = ats_sandbox::entra::demo_certificate();
        let p = parse_certificate(cert).expect("parses");
        assert!(p.subject.contains("sandbox demo client"), "{}", p.subject);
        assert_eq!(p.thumbprint.len(), 40);
        assert!(p.not_before < p.not_after);
        assert!(parse_certificate("nope").is_err());
    }
}
