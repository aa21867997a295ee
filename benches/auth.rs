//! Criterion benchmark of the per-request auth path: a partner token already verified once is
//! looked up in the verified-token cache and turned into the request's principal on every request.

use ats_gateway::auth::secrets::hash_secret;
use ats_gateway::auth::{AuthConfig, AuthService, PartnerConfig, RateLimitConfig, Scope};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let scopes = vec![
        Scope::RecruitingRequestsRead,
        Scope::CandidatesRead,
        Scope::ReferenceRead,
        Scope::PiiRead,
    ];
    let cfg = AuthConfig {
        partners: vec![PartnerConfig {
            id: "acme".into(),
            display_name: String::new(),
            client_id: "acme-client".into(),
            client_secret_hashes: vec![hash_secret("bench-secret")],
            scopes: scopes.clone(),
            companies: vec!["usmf".into(), "usrt".into(), "nomf".into()],
            rate_limit: RateLimitConfig::default(),
            cors_origins: vec![],
            disabled: false,
        }],
        ..Default::default()
    };
    let svc = AuthService::new(&cfg).expect("auth service");
    let token = svc
        .issue_token("acme", "acme-client", &scopes.into_iter().collect(), None)
        .expect("token")
        .access_token;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    // The first call verifies the signature and fills the cache; the bench measures the hits.
    rt.block_on(svc.authenticate(&token)).expect("verified");
    c.bench_function("authenticate a cached token", |b| {
        b.iter(|| black_box(rt.block_on(svc.authenticate(black_box(&token))).is_ok()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
