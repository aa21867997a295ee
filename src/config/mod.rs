//! Typed configuration: a TOML file plus `ATS_GATEWAY__SECTION__KEY` environment overrides,
//! validated at start with errors that name the key. Secrets may come from files (`*_file`) or env;
//! they are wrapped so that they never print.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[cfg(feature = "sandbox")]
use ats_sandbox::config::SandboxConfig;

/// A secret string: `Debug`/`Display` never show it.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    /// Upper bound for one partner request, upstream calls included.
    pub request_timeout_ms: u64,
    /// 64 hex characters: the key sealing cursors. Empty = one generated once and kept in the state
    /// store (`[state] path/cursor.key` on SQLite; Postgres' `gateway_keys`, shared by replicas).
    pub cursor_key: SecretString,
    /// Keys `cursor_key` replaced: cursors they sealed still open (verify only), so rotating the
    /// key does not cut every partner's changes-feed position. Drop one once its cursors expired.
    pub previous_cursor_keys: Vec<SecretString>,
    pub cursor_ttl_secs: i64,
    /// How long option-set labels, lookup names and reference lists are cached.
    pub reference_ttl_secs: u64,
    /// The gateway's external base URL (`https://ats.example.com`), for absolute URLs in bodies
    /// (problem types, OAuth metadata). Empty: taken from each request's `Host`.
    pub public_url: String,
    /// Base of problem `type` URIs. Empty: `{public_url}/problems`, the gateway's own pages.
    pub problem_base_url: String,
    /// How long a connection may take to send a request head, counted from when it starts waiting
    /// for one: also the idle keep-alive timeout (a slow or silent client is closed after it).
    pub header_read_timeout_ms: u64,
    /// How long a request body may take to arrive in full, counted from its head (both
    /// listeners): a stalled or dribbled body is answered 408 `request-timeout` and the connection
    /// closed. Below `request_timeout_ms`, so a stalled body is never taken for a slow HR; unset,
    /// the smaller of 10 s and half of `request_timeout_ms` ([`Self::body_read_timeout_ms`]).
    pub body_read_timeout_ms: Option<u64>,
    /// Open connections at most; more are answered 503 and closed.
    pub max_connections: usize,
    /// Bytes a connection may buffer for an unfinished request head (at least 8192); more is 431.
    pub max_header_bytes: usize,
    /// The ops listener (`/metrics`, `/healthz`, `/readyz`): keep it off the partner network.
    pub ops_listen: SocketAddr,
    /// On SIGTERM, how long requests in flight may take to finish before the process exits anyway.
    pub shutdown_grace_ms: u64,
    /// After start, fill the reference caches in the background (option sets, the first page's
    /// lookups, reference lists; one call at a time); the boards' first read from Dataverse
    /// follows it. `false`: each fills on first use and the boards read at once.
    pub warm_up: bool,
    /// Threads running requests. 0: one per CPU the process may use. Fewer spend less CPU per
    /// request on a machine other busy processes share (less work handed across cores), but a long
    /// task holds more of the others up.
    pub worker_threads: usize,
    /// Proxies (addresses or CIDR ranges) in front of the gateway whose `X-Forwarded-For` names
    /// the client: what the per-address limits (token endpoint failures, job boards) count by.
    /// Empty (the default): the connection's peer, as when clients connect directly.
    pub trusted_proxies: Vec<String>,
}

/// Worker threads at most (`[gateway] worker_threads`): more is a typo, not a machine.
pub const MAX_WORKER_THREADS: usize = 1024;

impl GatewayConfig {
    /// The runtime's worker threads: `None` for one per CPU.
    pub fn workers(&self) -> Result<Option<usize>, ConfigError> {
        match self.worker_threads {
            0 => Ok(None),
            n if n > MAX_WORKER_THREADS => Err(ConfigError::Invalid {
                key: "gateway.worker_threads",
                problem: format!("must be at most {MAX_WORKER_THREADS} (0: one per CPU)"),
            }),
            n => Ok(Some(n)),
        }
    }
}

impl GatewayConfig {
    /// `body_read_timeout_ms` as set, else the smaller of 10 s and half of `request_timeout_ms`
    /// (a configuration written before the key existed keeps starting).
    pub fn body_read_timeout_ms(&self) -> u64 {
        self.body_read_timeout_ms
            .unwrap_or_else(|| (self.request_timeout_ms / 2).clamp(1, 10_000))
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            request_timeout_ms: 30_000,
            cursor_key: SecretString::default(),
            previous_cursor_keys: Vec::new(),
            cursor_ttl_secs: 3600,
            reference_ttl_secs: 600,
            public_url: String::new(),
            problem_base_url: String::new(),
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: None,
            max_connections: 1_024,
            max_header_bytes: 32 * 1024,
            ops_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            shutdown_grace_ms: 20_000,
            warm_up: true,
            worker_threads: 0,
            trusted_proxies: Vec::new(),
        }
    }
}

/// How the gateway reaches Dataverse as a service principal.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataverseConfig {
    /// Environment URL, e.g. `https://contoso.crm4.dynamics.com`.
    pub org_url: String,
    /// Entra authority; the token URL is `{authority}/{tenant_id}/oauth2/v2.0/token`.
    pub authority: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub client_secret_file: Option<PathBuf>,
    /// Certificate credential: PEM certificate and its PEM private key.
    pub certificate_file: Option<PathBuf>,
    pub private_key_file: Option<PathBuf>,
    /// When the client secret expires (RFC 3339, e.g. `2027-03-31T00:00:00Z`, as the app
    /// registration shows it): Entra does not tell a client, so `doctor` and the metrics read it here.
    pub client_secret_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// PEM file of extra CA certificates trusted for Dataverse and Entra, beside the system's: a
    /// TLS-inspecting proxy's CA, or the sandbox emulator's with `--tls`.
    pub ca_file: Option<PathBuf>,
    /// One upstream attempt, body included (never past the partner request's deadline).
    pub timeout_ms: u64,
    /// Upstream calls in flight for the whole process, shared fairly across partners: stay below
    /// Dataverse's 52 concurrent requests per application user. With `[cluster] redis_url`, also
    /// the cap for all replicas together.
    pub max_concurrency: usize,
    /// Longest wait for a free upstream slot; past it the partner gets 503 with `Retry-After`.
    pub queue_timeout_ms: u64,
    /// Consecutive upstream outages (5xx, timeouts, connection errors) that open the circuit.
    pub breaker_failures: u32,
    /// How long the open circuit fails calls fast before a probe is let through.
    pub breaker_open_ms: u64,
    /// Retries allowed, in percent of upstream calls (idempotent reads only).
    pub retry_budget_percent: u32,
    /// Retries of one read at most.
    pub max_retries: u32,
    /// Length of Dataverse's service-protection window (300 s): the budget headers say what is
    /// left, not when it frees up. The sandbox sets its emulator's.
    pub budget_window_secs: u64,
}

impl Default for DataverseConfig {
    fn default() -> Self {
        Self {
            org_url: String::new(),
            authority: "https://login.microsoftonline.com".into(),
            tenant_id: String::new(),
            client_id: String::new(),
            client_secret: SecretString::default(),
            client_secret_file: None,
            certificate_file: None,
            private_key_file: None,
            client_secret_expires_at: None,
            ca_file: None,
            timeout_ms: 15_000,
            max_concurrency: 48,
            queue_timeout_ms: 3_000,
            breaker_failures: 5,
            breaker_open_ms: 5_000,
            retry_budget_percent: 20,
            max_retries: 3,
            budget_window_secs: 300,
        }
    }
}

/// Where durable gateway state (idempotency records, write plans, events, webhooks) lives.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    /// `sqlite://PATH` (one process: the embedded file, the default) or `postgres://…` (several
    /// replicas share it; TLS through `sslmode`). Empty: SQLite in `path`. A secret: a Postgres URL
    /// may carry a password.
    pub url: SecretString,
    /// Data directory, created at start (SQLite's file and the generated keys). Unset: `serve`
    /// uses `./data`; the sandbox and tests a fresh temporary directory.
    pub path: Option<PathBuf>,
    /// Connections per replica to Postgres.
    pub pool_size: u32,
    /// How long an `Idempotency-Key` is remembered per partner.
    pub idempotency_ttl_secs: u64,
    /// The recovery period: a running hire's plan and key are leased for this long, renewed while
    /// it runs; a replica that dies leaves them to another replica once the lease expires.
    pub lease_secs: u64,
    /// With Postgres: the longest one state-store call waits for its answer (the pool checkout
    /// included; a scan's record and a purge: each statement), then Postgres counts as unreachable
    /// (a hire, like every route on the store, answers 503 `state-unavailable`). Above the 10 s
    /// `statement_timeout`, so a slow statement is cancelled by the server first; this bound is
    /// for a server that never answers.
    pub timeout_ms: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            url: SecretString::default(),
            path: None,
            pool_size: 10,
            idempotency_ttl_secs: 24 * 3600,
            lease_secs: 30,
            timeout_ms: 15_000,
        }
    }
}

/// Where `[state]` says the state lives.
#[derive(Debug, Clone, PartialEq)]
pub enum StateLocation {
    /// The embedded store: `dir` (None: the caller's default) holding the database `file`.
    Sqlite { dir: Option<PathBuf>, file: String },
    /// A Postgres server several replicas share.
    Postgres { url: SecretString },
}

/// SQLite's file name when only a directory is given (`[state] path`).
pub const SQLITE_FILE: &str = "ats-gateway.sqlite3";

impl StateConfig {
    pub fn location(&self) -> Result<StateLocation, ConfigError> {
        if self.lease_secs == 0 {
            return Err(ConfigError::Invalid {
                key: "state.lease_secs",
                problem: "must be at least 1".into(),
            });
        }
        let url = self.url.expose().trim();
        if url.is_empty() {
            return Ok(StateLocation::Sqlite {
                dir: self.path.clone(),
                file: SQLITE_FILE.into(),
            });
        }
        if let Some(rest) = url.strip_prefix("sqlite://") {
            let path = Path::new(rest);
            let (Some(file), Some(dir)) = (path.file_name(), path.parent()) else {
                return Err(ConfigError::Invalid {
                    key: "state.url",
                    problem: "sqlite:// needs the database file's path, e.g. sqlite://./data/ats-gateway.sqlite3"
                        .into(),
                });
            };
            let dir = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir.to_path_buf()
            };
            return Ok(StateLocation::Sqlite {
                dir: Some(dir),
                file: file.to_string_lossy().into_owned(),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            if self.pool_size == 0 {
                return Err(ConfigError::Invalid {
                    key: "state.pool_size",
                    problem: "must be at least 1".into(),
                });
            }
            if self.timeout_ms == 0 {
                return Err(ConfigError::Invalid {
                    key: "state.timeout_ms",
                    problem: "must be at least 1".into(),
                });
            }
            return Ok(StateLocation::Postgres {
                url: SecretString::new(url),
            });
        }
        Err(ConfigError::Invalid {
            key: "state.url",
            problem: "must start with sqlite:// or postgres:// (the URL itself is not shown: it may hold a password)".into(),
        })
    }
}

/// Webhook deliveries (`/v1/webhooks`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Accept `http` URLs and hosts resolving to private, loopback or link-local addresses. Only for
    /// the sandbox (where it is on, so a partner can try `http://127.0.0.1`): in production it lets a
    /// partner make the gateway call into its own network.
    pub allow_private_urls: bool,
    /// The waits between attempts of one delivery (each stretched by up to 20 % random jitter);
    /// when the last retry fails too, the subscription is marked `failing`. The default spans
    /// about 28 h.
    pub retry_schedule_ms: Vec<u64>,
    /// How long a receiver has to answer 2xx.
    pub timeout_ms: u64,
    /// Deliveries in flight at once across all subscriptions (one per subscription at a time; one
    /// receiver origin at most an eighth of them, one partner a quarter: `webhooks::slots`).
    pub max_concurrent_sends: usize,
    /// 64 hex characters: the key sealing subscription secrets in the state store. Empty: a key
    /// file generated in the state directory (`webhook-secrets.key`).
    pub secret_key: SecretString,
    /// After `POST /v1/webhooks/{id}/rotate-secret`, how long deliveries are still signed with the
    /// replaced secret too (its `v1,` signature after the new one's), so receivers can switch
    /// without rejecting anything. 0: the old secret stops at once. At most 7 days.
    pub secret_rotation_grace_ms: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private_urls: false,
            // 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 12 h: about 27.7 h in all.
            retry_schedule_ms: vec![
                5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000,
                28_800_000, 43_200_000,
            ],
            timeout_ms: 10_000,
            max_concurrent_sends: 32,
            secret_key: SecretString::default(),
            // A day, as Svix gives the replaced secret.
            secret_rotation_grace_ms: 24 * 3600 * 1000,
        }
    }
}

/// The changes feed (`[changes]`): how often the scanner reads HR and how long events are kept.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChangesConfig {
    /// Time between two scans. Unset: 60 000 (`serve`), 2 000 (the sandbox).
    pub scan_interval_ms: Option<u64>,
    /// How long events stay in the feed; an older cursor answers 410.
    pub retention_days: u32,
    /// Rows per upstream page the scanner asks for (`odata.maxpagesize`; Dataverse's largest page
    /// is 5,000, so a scan costs few calls).
    pub page_size: u32,
    /// The most of the application user's Dataverse budget (6,000 requests per 5 minutes) the
    /// scanner may use per window, 0–1; it waits past that, and yields to queued partner calls.
    pub max_budget_share: f64,
}

impl ChangesConfig {
    pub const DEFAULT_INTERVAL_MS: u64 = 60_000;

    pub fn interval_ms(&self) -> u64 {
        self.scan_interval_ms
            .unwrap_or(Self::DEFAULT_INTERVAL_MS)
            .max(100)
    }
}

impl Default for ChangesConfig {
    fn default() -> Self {
        Self {
            scan_interval_ms: None,
            retention_days: 7,
            page_size: 5_000,
            max_budget_share: 0.10,
        }
    }
}

/// The response cache (`[cache]`): partner pages and details, keyed after the partner's rights.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// How long a cached response is fresh; past it, it is served once more while one refresh
    /// runs (stale-while-revalidate). `0` turns the response cache off.
    pub response_ttl_ms: u64,
    /// Bytes of cached bodies at most (least recently used evicted first).
    pub response_max_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            response_ttl_ms: 5_000,
            response_max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// OpenTelemetry trace export (`[telemetry]`): off unless `otlp_endpoint` is set.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// OTLP/HTTP collector base URL (`http://collector:4318`); spans go to `{otlp_endpoint}/v1/traces`
    /// as protobuf. Empty: no export.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: String::new(),
            service_name: "ats-gateway".into(),
        }
    }
}

/// Limits the replicas share (`[cluster]`): without `redis_url`, every limit is this process's own.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// `redis://host:6379/0` or `rediss://…` (TLS). Empty: no cluster, limits per process.
    pub redis_url: SecretString,
    /// Prefix of every key and channel the gateway uses in Redis (several gateways may share one).
    pub key_prefix: String,
    /// Replicas expected: while Redis is unreachable each replica enforces its share (limit ÷ this).
    pub replicas_hint: u32,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            redis_url: SecretString::default(),
            key_prefix: "ats-gateway:".into(),
            replicas_hint: 1,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub gateway: GatewayConfig,
    pub dataverse: DataverseConfig,
    pub state: StateConfig,
    pub webhooks: WebhooksConfig,
    pub changes: ChangesConfig,
    pub cache: CacheConfig,
    pub telemetry: TelemetryConfig,
    pub cluster: ClusterConfig,
    /// `[[boards]]`: public job boards (`boards::config`).
    pub boards: Vec<crate::boards::BoardConfig>,
    /// The emulator's settings (`sandbox` and `emulator` commands only).
    #[cfg(feature = "sandbox")]
    pub sandbox: SandboxConfig,
    pub auth: crate::auth::config::AuthConfig,
    /// The operator API (`/operator/v1` on the ops listener).
    pub operator: crate::operator::config::OperatorConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(String),
    #[error("configuration key `{key}`: {problem}")]
    Invalid { key: &'static str, problem: String },
}

impl Config {
    /// Loads defaults ← file (if given) ← environment (`ATS_GATEWAY__DATAVERSE__CLIENT_SECRET=...`).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError::Parse(format!(
                    "file {} does not exist",
                    f.display()
                )));
            }
            fig = fig.merge(Toml::file(f));
        }
        fig = fig.merge(Env::prefixed("ATS_GATEWAY__").split("__"));
        let cfg: Config = fig
            .extract()
            .map_err(|e| ConfigError::Parse(describe_figment_error(e)))?;
        #[cfg(feature = "sandbox")]
        cfg.sandbox.validate().map_err(ConfigError::Parse)?;
        cfg.state.location()?;
        cfg.gateway.workers()?;
        Ok(cfg)
    }

    /// Checks what `serve` needs to reach a real Dataverse; reads secret files.
    pub fn resolve_dataverse(&mut self) -> Result<(), ConfigError> {
        if let Some(first) = self.dataverse_problems().into_iter().next() {
            return Err(first);
        }
        let d = &mut self.dataverse;
        d.org_url = d.org_url.trim_end_matches('/').to_string();
        if let Some(f) = &d.client_secret_file {
            let s = std::fs::read_to_string(f).map_err(|e| ConfigError::Invalid {
                key: "dataverse.client_secret_file",
                problem: format!("cannot read {} ({e})", f.display()),
            })?;
            d.client_secret = SecretString::new(s.trim());
        }
        Ok(())
    }

    /// Every problem `resolve_dataverse` would refuse, each naming its key (`doctor` lists them
    /// all; `serve` stops at the first).
    pub fn dataverse_problems(&self) -> Vec<ConfigError> {
        let d = &self.dataverse;
        let mut problems = Vec::new();
        let mut need = |key: &'static str, v: &str| {
            if v.trim().is_empty() {
                problems.push(ConfigError::Invalid {
                    key,
                    problem: "is required".into(),
                });
            }
        };
        need("dataverse.org_url", &d.org_url);
        need("dataverse.tenant_id", &d.tenant_id);
        need("dataverse.client_id", &d.client_id);
        if !d.org_url.trim().is_empty() {
            match url::Url::parse(&d.org_url) {
                Err(e) => problems.push(ConfigError::Invalid {
                    key: "dataverse.org_url",
                    problem: format!("not a URL ({e})"),
                }),
                Ok(url) if url.path() != "/" || url.query().is_some() => {
                    problems.push(ConfigError::Invalid {
                        key: "dataverse.org_url",
                        problem: "must be the environment root, e.g. https://contoso.crm.dynamics.com (no path)".into(),
                    })
                }
                Ok(_) => {}
            }
        }
        let mut has_secret = !d.client_secret.is_empty();
        if let Some(f) = &d.client_secret_file {
            match std::fs::read_to_string(f) {
                Ok(s) => has_secret = !s.trim().is_empty(),
                Err(e) => {
                    // Already reported; not also "no credential".
                    has_secret = true;
                    problems.push(ConfigError::Invalid {
                        key: "dataverse.client_secret_file",
                        problem: format!("cannot read {} ({e})", f.display()),
                    })
                }
            }
        }
        match (&d.certificate_file, &d.private_key_file, has_secret) {
            (Some(_), Some(_), _) | (None, None, true) => {}
            (Some(_), None, _) => problems.push(ConfigError::Invalid { key: "dataverse.private_key_file", problem: "is required with dataverse.certificate_file".into() }),
            (None, Some(_), _) => problems.push(ConfigError::Invalid { key: "dataverse.certificate_file", problem: "is required with dataverse.private_key_file".into() }),
            (None, None, false) => problems.push(ConfigError::Invalid {
                key: "dataverse.client_secret",
                problem: "no credential: set client_secret (or client_secret_file, or ATS_GATEWAY__DATAVERSE__CLIENT_SECRET) or certificate_file + private_key_file".into(),
            }),
        }
        problems
    }
}

fn describe_figment_error(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let path = e.path.join(".");
            if path.is_empty() {
                e.to_string()
            } else {
                format!("key `{path}`: {}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a 32-byte key in hex must look like (`gateway.cursor_key`).
pub const HEX_KEY_PROBLEM: &str = "must be 64 hex characters (32 bytes)";

/// A 32-byte key written as 64 hex characters.
pub fn hex_key(hex: &str) -> Option<[u8; 32]> {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect::<Option<_>>()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s:?}"), "\"***\"");
        let mut c = Config::default();
        c.dataverse.client_secret = s;
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn errors_name_the_key() {
        let dir = std::env::temp_dir().join(format!("atsgw-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("bad.toml");
        std::fs::write(&f, "[gateway]\nlisten = \"nope\"\n").expect("write");
        let err = Config::load(Some(&f)).expect_err("invalid");
        assert!(err.to_string().contains("gateway.listen"), "{err}");
        #[cfg(feature = "sandbox")]
        {
            std::fs::write(&f, "[sandbox]\nlanguage = 1031\n").expect("write");
            let err = Config::load(Some(&f)).expect_err("invalid");
            assert!(err.to_string().contains("sandbox.language"), "{err}");
        }
        std::fs::write(&f, "[gateway]\nworker_threads = 100000\n").expect("write");
        let err = Config::load(Some(&f)).expect_err("invalid");
        assert!(err.to_string().contains("gateway.worker_threads"), "{err}");
        std::fs::write(&f, "[gateway]\nworker_threads = 1\n").expect("write");
        let one = Config::load(Some(&f)).expect("valid");
        assert_eq!(one.gateway.workers().expect("valid"), Some(1));
        assert_eq!(Config::default().gateway.workers().expect("valid"), None);
        let mut c = Config::default();
        let err = c.resolve_dataverse().expect_err("missing");
        assert!(err.to_string().contains("dataverse.org_url"));
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The shipped example must stay loadable and complete enough for `serve`.
    #[test]
    fn example_config_loads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let cfg = Config::load(Some(&path)).expect("config.example.toml loads");
        assert_eq!(cfg.dataverse.max_concurrency, 48);
        assert_eq!(cfg.auth.partners.len(), 1);
        cfg.auth.validate().expect("auth section valid");
        crate::auth::AuthService::new(&cfg.auth).expect("partners and keys accepted");
    }
}
