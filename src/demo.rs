//! Demo partners for `ats-gateway sandbox` (and the tests): different scopes, companies and rate
//! limits, so a new user can see a 200, a 403 and a 429 with the printed curl lines. Their secrets
//! are printed on purpose: they exist only in the sandbox.

use crate::auth::config::{PartnerConfig, RateLimitConfig};
use crate::auth::secrets::hash_secret;
use crate::auth::Scope;

pub struct DemoPartner {
    pub config: PartnerConfig,
    pub secret: &'static str,
}

fn partner(
    id: &str,
    name: &str,
    secret: &'static str,
    scopes: &[Scope],
    companies: &[&str],
    rate: (u32, u32),
) -> DemoPartner {
    DemoPartner {
        config: PartnerConfig {
            id: id.into(),
            display_name: name.into(),
            client_id: id.into(),
            client_secret_hashes: vec![hash_secret(secret)],
            scopes: scopes.to_vec(),
            companies: companies.iter().map(|c| c.to_string()).collect(),
            rate_limit: RateLimitConfig {
                per_second: rate.0,
                burst: rate.1,
            },
            cors_origins: vec!["http://localhost:3000".into()],
            disabled: false,
        },
        secret,
    }
}

pub fn partners() -> Vec<DemoPartner> {
    vec![
        partner(
            "acme-ats",
            "Acme ATS (all scopes, US + UK)",
            "acme-demo-secret",
            &Scope::ALL,
            &["usmf", "gbsi"],
            (50, 100),
        ),
        partner(
            "nordic-hr",
            "Nordic HR frontend (Norway only, no PII)",
            "nordic-demo-secret",
            &[
                Scope::RecruitingRequestsRead,
                Scope::ReferenceRead,
                Scope::CandidatesRead,
            ],
            &["nomf"],
            (20, 40),
        ),
        partner(
            "nordic-watch",
            "Nordic change watcher (Norway only: changes feed and webhooks)",
            "nordic-watch-demo-secret",
            &[Scope::ChangesRead, Scope::WebhooksManage],
            &["nomf"],
            (20, 40),
        ),
        partner(
            "tiny-board",
            "Tiny job board (reference data only, 1 request/s)",
            "tiny-demo-secret",
            &[Scope::ReferenceRead],
            &["usmf"],
            (1, 2),
        ),
    ]
}
