//! The emulator's HTTP surface: Entra token endpoint, Dataverse Web API (`/api/data/v9.2/`), and the
//! `/_sandbox/` admin path (faults, counters). One axum router, its own listener.

mod admin;
mod dataverse;
mod discovery;
mod organization;
mod read;
mod token;
mod write;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::config::SandboxConfig;
use crate::data;
use crate::entra::{AppRegistration, ClientSecret, Entra, EntraConfig};
use crate::faults::{Faults, ServiceProtection, Stats};
use crate::store::Store;

use self::admin::{
    faults_add, faults_clear, faults_list, requests_clear, requests_list, secrets_add,
    secrets_list, secrets_remove, stats, stats_reset,
};
use self::dataverse::{dataverse, service_document};
use self::token::token;

pub(crate) const API_PREFIX: &str = "/api/data/v9.2";
const MAX_PAGE: usize = 5000;

pub(crate) struct EmulatorState {
    pub config: SandboxConfig,
    pub url: String,
    pub entra: Entra,
    pub store: RwLock<Store>,
    pub faults: Faults,
    pub stats: Stats,
    pub protection: ServiceProtection,
    /// The Dataverse requests seen (`/_sandbox/requests`).
    pub requests: crate::request_log::RequestLog,
    /// The application user's id (WhoAmI UserId; `context.Caller` in privilege errors).
    pub user_id: Uuid,
    /// Access tokens already verified, by SHA-256, with their `exp` and `appid`.
    verified_tokens: moka::sync::Cache<[u8; 32], (i64, Uuid)>,
}

impl EmulatorState {
    fn org(&self) -> &str {
        &self.url
    }

    /// The security role of the application user behind `appid`: HR's app has its own.
    pub(crate) fn role_of(&self, appid: Uuid) -> &crate::config::RoleConfig {
        if appid == self.config.hr_client_id {
            &self.config.hr_role
        } else {
            &self.config.role
        }
    }
}

/// A running emulator.
pub struct EmulatorHandle {
    pub url: String,
    /// With TLS: the PEM file a client trusts to reach `url` (the generated CA, or the given chain).
    pub ca_file: Option<std::path::PathBuf>,
    pub addr: SocketAddr,
    pub(crate) state: Arc<EmulatorState>,
    pub task: tokio::task::JoinHandle<()>,
}

impl EmulatorHandle {
    /// The configuration the emulator runs with (tenant, client ids, roles).
    pub fn config(&self) -> &SandboxConfig {
        &self.state.config
    }

    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.url, self.state.config.tenant_id
        )
    }
}

/// Seeds the data and serves the emulator on `listener` until the task is dropped/aborted.
pub async fn start(
    config: SandboxConfig,
    listener: TcpListener,
) -> std::io::Result<EmulatorHandle> {
    serve(config, listener, None).await
}

/// Same as `start`, over HTTPS with the certificate `tls` names; `ca_file` of the handle is what to trust.
pub async fn start_tls(
    config: SandboxConfig,
    listener: TcpListener,
    tls: &crate::tls::TlsSource,
) -> std::io::Result<EmulatorHandle> {
    serve(config, listener, Some(tls)).await
}

async fn serve(
    config: SandboxConfig,
    listener: TcpListener,
    tls: Option<&crate::tls::TlsSource>,
) -> std::io::Result<EmulatorHandle> {
    let addr = listener.local_addr()?;
    let tls = tls.map(crate::tls::TlsSource::setup).transpose()?;
    let url = match tls {
        Some(_) => format!("https://{addr}"),
        None => format!("http://{addr}"),
    };
    let seed_opts = data::SeedOptions {
        scale: config.scale,
        option_base: config.option_base,
    };
    let store = tokio::task::spawn_blocking(move || {
        let store = data::seed(&seed_opts);
        read::index_number_columns(&store);
        store
    })
    .await
    .map_err(std::io::Error::other)?;
    let entra = Entra::new(entra_config(&config, &url));
    let protection = ServiceProtection::new(
        config.max_requests_per_window,
        Duration::from_secs(config.window_secs),
        config.max_concurrent,
    );
    let state = Arc::new(EmulatorState {
        user_id: Uuid::new_v5(&config.client_id, b"application-user"),
        config,
        url: url.clone(),
        entra,
        store: RwLock::new(store),
        faults: Faults::default(),
        stats: Stats::default(),
        protection,
        requests: Default::default(),
        verified_tokens: moka::sync::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(Duration::from_secs(3600))
            .build(),
    });
    let app = router(state.clone());
    let ca_file = tls.as_ref().map(|t| t.ca_file.clone());
    let task = match tls {
        Some(t) => {
            let listener = crate::tls::TlsListener::new(listener, t.config)?;
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "emulator server stopped");
                }
            })
        }
        None => tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "emulator server stopped");
            }
        }),
    };
    Ok(EmulatorHandle {
        url,
        ca_file,
        addr,
        state,
        task,
    })
}

/// The emulated tenant: the demo secret app, the certificate app (demo certificate), HR's app, an app whose only
/// secret expired, and a disabled app.
fn entra_config(c: &SandboxConfig, url: &str) -> EntraConfig {
    let far = chrono::Utc::now() + chrono::Duration::days(365 * 10);
    let app = |client_id: Uuid, secrets: Vec<ClientSecret>, certs: Vec<String>, disabled: bool| {
        AppRegistration {
            client_id,
            object_id: Uuid::new_v5(&client_id, b"service-principal"),
            secrets,
            certificates_pem: certs,
            disabled,
        }
    };
    let secret = |value: &str, expires_at| ClientSecret {
        value: value.to_string(),
        expires_at,
    };
    EntraConfig {
        tenant_id: c.tenant_id,
        tenant_domain: c.tenant_domain.clone(),
        resource: url.to_string(),
        token_lifetime: chrono::Duration::seconds(c.token_lifetime_secs as i64),
        apps: vec![
            // The gateway with the demo secret.
            app(
                c.client_id,
                vec![secret(&c.client_secret, far)],
                vec![],
                false,
            ),
            // The gateway with the demo certificate.
            app(
                c.cert_client_id,
                vec![],
                vec![super::entra::demo_certificate().0.to_string()],
                false,
            ),
            // HR's app: same tenant, its own role (`hr_role`), used to change data as HR would.
            app(
                c.hr_client_id,
                vec![secret(&c.hr_client_secret, far)],
                vec![],
                false,
            ),
            // An app whose only secret expired yesterday.
            app(
                c.expired_client_id,
                vec![secret(
                    &c.client_secret,
                    chrono::Utc::now() - chrono::Duration::days(1),
                )],
                vec![],
                false,
            ),
            // A disabled app.
            app(
                c.disabled_client_id,
                vec![secret(&c.client_secret, far)],
                vec![],
                true,
            ),
        ],
    }
}

pub(crate) fn router(state: Arc<EmulatorState>) -> Router {
    let dataverse_api = Router::new()
        .route(API_PREFIX, get(service_document))
        .route(&format!("{API_PREFIX}/"), get(service_document))
        .route(
            &format!("{API_PREFIX}/{{*rest}}"),
            axum::routing::any(dataverse),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::request_log::record,
        ));
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_v2),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery::openid_v1),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys))
        .route("/{tenant}/discovery/keys", get(discovery::keys))
        .route("/common/discovery/instance", get(discovery::instance))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/stats/reset", post(stats_reset))
        .route(
            "/_sandbox/faults",
            get(faults_list).post(faults_add).delete(faults_clear),
        )
        .route(
            "/_sandbox/requests",
            get(requests_list).delete(requests_clear),
        )
        .route("/_sandbox/secrets", get(secrets_list).post(secrets_add))
        .route("/_sandbox/secrets/remove", post(secrets_remove))
        .route("/_sandbox/health", get(|| async { "ok" }))
        .merge(dataverse_api)
        .with_state(state)
}
