//! The operator API (`/operator/v1/…` on the ops listener, never on the partner port): partners,
//! their secrets, the audit trail, usage and invites, on the shared state store
//! ([`crate::store::partners::PartnerStore`]). Every replica polls the store's partner generation
//! (`sync`), so a change made on one is in force on all within `[operator] poll_ms` plus a reload.
//! The invite page (`onboarding`) is served on the partner listener.

pub mod api;
pub mod body;
pub mod client;
pub mod config;
pub mod guard;
pub mod invites;
pub mod onboarding;
pub mod sync;
pub mod views;

use std::sync::Arc;

use axum::routing::{delete, get, post};
use axum::Router;

use crate::auth::AuthService;
use crate::store::partners::{PartnerStore, StoredPartner};
use crate::store::StoreError;

/// What the operator routes, the onboarding page and the sync task use.
#[derive(Clone)]
pub struct OperatorContext {
    pub store: Arc<dyn PartnerStore>,
    pub auth: Arc<AuthService>,
    pub tokens: Arc<guard::OperatorTokens>,
    pub config: Arc<config::OperatorConfig>,
    /// The partner listener's public base URL (invite links, the page's quickstart).
    pub partner_url: Arc<str>,
    /// Audit records written after their call was answered (the store was found away).
    pub background_audits: Arc<guard::BackgroundAudits>,
    /// The store generation of the partners in force here (`u64::MAX`: none loaded yet).
    loaded: Arc<std::sync::atomic::AtomicU64>,
    /// Held while comparing generations and installing, so a slow read cannot put an older
    /// generation back over a newer one another task installed meanwhile.
    install: Arc<std::sync::Mutex<()>>,
}

impl OperatorContext {
    pub fn new(
        store: Arc<dyn PartnerStore>,
        auth: Arc<AuthService>,
        config: config::OperatorConfig,
        partner_url: &str,
    ) -> Result<Self, crate::auth::AuthConfigError> {
        let tokens = guard::OperatorTokens::new(&config, auth.settings.leeway_secs)?;
        Ok(Self {
            store,
            auth,
            tokens: Arc::new(tokens),
            config: Arc::new(config),
            partner_url: partner_url.trim_end_matches('/').into(),
            background_audits: Arc::default(),
            loaded: Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX)),
            install: Arc::new(std::sync::Mutex::new(())),
        })
    }

    /// Reads the stored partners and puts them in force here (the sync task does it on every
    /// replica when the generation moves; a change made here is applied at once). Answers the
    /// generation and the partners read, so a write's answer needs no second read. A read older
    /// than what is already in force is not installed: the sync task's read that started before
    /// a revoke here must not bring the revoked partner back when it lands after it.
    pub async fn refresh(&self) -> Result<(u64, Vec<StoredPartner>), StoreError> {
        let (generation, partners) = self.store.partners().await?;
        self.install_if_newer(generation, &partners);
        Ok((generation, partners))
    }

    fn install_if_newer(&self, generation: u64, partners: &[StoredPartner]) {
        use std::sync::atomic::Ordering;
        // A poisoned lock only means another install panicked; the comparison still holds.
        let _installing = self
            .install
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let loaded = self.loaded.load(Ordering::Acquire);
        if loaded != u64::MAX && generation < loaded {
            return;
        }
        self.auth.set_stored_partners(partners);
        self.loaded.store(generation, Ordering::Release);
    }

    /// The generation of the partners in force here, if any were loaded.
    pub fn loaded_generation(&self) -> Option<u64> {
        let g = self.loaded.load(std::sync::atomic::Ordering::Acquire);
        (g != u64::MAX).then_some(g)
    }
}

/// `/operator/v1/…`, behind the operator guard (which also writes the audit trail).
pub fn router(ctx: OperatorContext) -> Router {
    Router::new()
        .route("/operator/v1/partners", get(api::list).post(api::create))
        .route(
            "/operator/v1/partners/{id}",
            get(api::one).patch(api::update).delete(api::revoke),
        )
        .route("/operator/v1/partners/{id}/secrets", post(api::rotate))
        .route(
            "/operator/v1/partners/{id}/secrets/{secret_id}",
            delete(api::revoke_secret),
        )
        .route("/operator/v1/partners/{id}/usage", get(api::usage))
        .route("/operator/v1/audit", get(api::audit))
        .route("/operator/v1/invites", post(invites::create))
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            guard::require_operator,
        ))
        .with_state(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::partners::SecretRecord;

    fn partner(id: &str) -> StoredPartner {
        StoredPartner {
            doc: crate::store::partners::test_doc(id),
            secrets: vec![SecretRecord {
                id: format!("{id}-s1"),
                hash: crate::auth::secrets::hash_secret("s"),
                created_at: 0,
                expires_at: None,
                last_used_at: None,
            }],
        }
    }

    #[tokio::test]
    async fn a_read_older_than_the_partners_in_force_is_not_installed() {
        let dir = tempfile::tempdir().expect("dir");
        let state = crate::config::StateConfig {
            path: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let stores = crate::store::open::open(&state).await.expect("stores");
        let auth = AuthService::new(&crate::auth::config::AuthConfig::default()).expect("auth");
        let ctx = OperatorContext::new(
            stores.partners.clone(),
            auth.clone(),
            config::OperatorConfig::default(),
            "http://127.0.0.1:1",
        )
        .expect("context");
        ctx.install_if_newer(4, &[partner("a"), partner("b")]);
        assert!(auth.registry().partner("b").is_some());
        // A revoke here installs generation 5 without `b`...
        ctx.install_if_newer(5, &[partner("a")]);
        assert!(auth.registry().partner("b").is_none());
        // ...and the sync task's read of generation 4, landing after it, changes nothing.
        ctx.install_if_newer(4, &[partner("a"), partner("b")]);
        assert!(auth.registry().partner("b").is_none(), "b came back");
        assert_eq!(ctx.loaded_generation(), Some(5));
        ctx.install_if_newer(6, &[]);
        assert!(auth.registry().partner("a").is_none());
    }
}
