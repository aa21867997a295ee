//! The emulator's HTTP surface: Entra token endpoint, Dataverse Web API (`/api/data/v9.2/`), and the
//! `/_sandbox/` admin path (faults, counters). One axum router, its own listener.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use uuid::Uuid;

use super::annotations::{split_prefer, AnnotationFilter, Annotator, Lcid};
use super::config::SandboxConfig;
use super::entra::{AadError, AppRegistration, ClientSecret, Entra, EntraConfig};
use super::error::DvError;
use super::faults::{FaultKind, FaultSpec, Faults, Limited, ServiceProtection, Stats};
use super::schema::{schema, EntityDef, NavKind};
use super::store::{Row, Store};
use super::{annotations, data, metadata, odata, paging, writes};

pub const API_PREFIX: &str = "/api/data/v9.2";
const MAX_PAGE: usize = 5000;

pub struct EmulatorState {
    pub config: SandboxConfig,
    pub url: String,
    pub entra: Entra,
    pub store: RwLock<Store>,
    pub faults: Faults,
    pub stats: Stats,
    pub protection: ServiceProtection,
    /// The application user's id (WhoAmI UserId; `context.Caller` in privilege errors).
    pub user_id: Uuid,
    /// Access tokens already verified, by SHA-256, with their `exp`.
    verified_tokens: moka::sync::Cache<[u8; 32], i64>,
}

impl EmulatorState {
    fn org(&self) -> &str {
        &self.url
    }
}

/// A running emulator.
pub struct EmulatorHandle {
    pub url: String,
    pub addr: SocketAddr,
    pub state: Arc<EmulatorState>,
    pub task: tokio::task::JoinHandle<()>,
}

impl EmulatorHandle {
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
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let seed_opts = data::SeedOptions {
        scale: config.scale,
        option_base: config.option_base,
    };
    let store = tokio::task::spawn_blocking(move || data::seed(&seed_opts))
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
        verified_tokens: moka::sync::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(Duration::from_secs(3600))
            .build(),
    });
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "emulator server stopped");
        }
    });
    Ok(EmulatorHandle {
        url,
        addr,
        state,
        task,
    })
}

/// The emulated tenant: the demo secret app, the certificate app (demo certificate), an app whose only
/// secret expired, and a disabled app.
fn entra_config(c: &SandboxConfig, url: &str) -> EntraConfig {
    let far = chrono::Utc::now() + chrono::Duration::days(365 * 10);
    let app = |client_id: Uuid,
               name: &str,
               secrets: Vec<ClientSecret>,
               certs: Vec<String>,
               disabled: bool| AppRegistration {
        client_id,
        object_id: Uuid::new_v5(&client_id, b"service-principal"),
        display_name: name.to_string(),
        secrets,
        certificates_pem: certs,
        disabled,
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
            app(
                c.client_id,
                "ats-gateway (sandbox)",
                vec![secret(&c.client_secret, far)],
                vec![],
                false,
            ),
            app(
                c.cert_client_id,
                "ats-gateway certificate (sandbox)",
                vec![],
                vec![super::entra::demo_certificate().0.to_string()],
                false,
            ),
            app(
                c.expired_client_id,
                "expired secret (sandbox)",
                vec![secret(
                    &c.client_secret,
                    chrono::Utc::now() - chrono::Duration::days(1),
                )],
                vec![],
                false,
            ),
            app(
                c.disabled_client_id,
                "disabled (sandbox)",
                vec![secret(&c.client_secret, far)],
                vec![],
                true,
            ),
        ],
    }
}

pub fn router(state: Arc<EmulatorState>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/stats/reset", post(stats_reset))
        .route(
            "/_sandbox/faults",
            get(faults_list).post(faults_add).delete(faults_clear),
        )
        .route("/_sandbox/health", get(|| async { "ok" }))
        .route(API_PREFIX, get(service_document))
        .route(&format!("{API_PREFIX}/"), get(service_document))
        .route(
            &format!("{API_PREFIX}/{{*rest}}"),
            axum::routing::any(dataverse),
        )
        .with_state(state)
}

// ---------- Entra ----------

async fn token(
    State(st): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.stats
        .token_requests
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let verdict = st.faults.for_token();
    if !verdict.delay.is_zero() {
        tokio::time::sleep(verdict.delay).await;
    }
    if verdict.fail.is_some() {
        return AadError::temporarily_unavailable().into_response(&headers);
    }
    let token_url = format!("{}/{}/oauth2/v2.0/token", st.url, tenant);
    let resp = st.entra.token(&tenant, &token_url, &headers, &body);
    if resp.status().is_success() {
        st.stats
            .tokens_issued
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    resp
}

// ---------- admin ----------

async fn stats(State(st): State<Arc<EmulatorState>>) -> Response {
    Json(st.stats.snapshot()).into_response()
}

async fn stats_reset(State(st): State<Arc<EmulatorState>>) -> StatusCode {
    st.stats.reset();
    st.protection.reset();
    StatusCode::NO_CONTENT
}

async fn faults_list(State(st): State<Arc<EmulatorState>>) -> Response {
    Json(st.faults.list()).into_response()
}

async fn faults_add(State(st): State<Arc<EmulatorState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultSpec>(&body) {
        Ok(spec) => {
            if let FaultKind::ServerError { status } = spec.kind {
                if !(500..=599).contains(&status) {
                    return (
                        StatusCode::BAD_REQUEST,
                        Json(json!({"error": "status must be 5xx"})),
                    )
                        .into_response();
                }
            }
            st.faults.add(spec);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": format!("invalid fault: {e}")})),
        )
            .into_response(),
    }
}

async fn faults_clear(State(st): State<Arc<EmulatorState>>) -> StatusCode {
    st.faults.clear();
    StatusCode::NO_CONTENT
}

// ---------- Dataverse ----------

async fn service_document(State(st): State<Arc<EmulatorState>>, headers: HeaderMap) -> Response {
    if let Err(e) = authenticate(&st, &headers) {
        return e.into_response();
    }
    let value: Vec<Value> = schema()
        .tables()
        .iter()
        .filter(|t| !st.config.not_generated.contains(&t.set_name))
        .map(|t| json!({"name": t.set_name, "kind": "EntitySet", "url": t.set_name}))
        .collect();
    odata_json(
        StatusCode::OK,
        json!({"@odata.context": format!("{}{API_PREFIX}/$metadata", st.org()), "value": value}),
        &[],
    )
}

fn odata_json(status: StatusCode, body: Value, extra: &[(&'static str, String)]) -> Response {
    let mut resp = (status, Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert("OData-Version", HeaderValue::from_static("4.0"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; odata.metadata=minimal"),
    );
    for (k, v) in extra {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(*k, v);
        }
    }
    resp
}

fn challenge(st: &EmulatorState) -> String {
    format!(
        "Bearer authorization_uri={}/{}/oauth2/authorize, resource_id={}/",
        st.url, st.config.tenant_id, st.url
    )
}

fn unauthorized(st: &EmulatorState) -> Response {
    DvError::new(StatusCode::UNAUTHORIZED, "", "")
        .with_header("WWW-Authenticate", challenge(st))
        .into_response()
}

fn token_key(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// `Authorization: Bearer …` checked against the emulator's own Entra; 401 like Dataverse otherwise.
fn authenticate(st: &EmulatorState, headers: &HeaderMap) -> Result<(), DvError> {
    let challenge = challenge(st);
    let unauthorized = |_why: &str| {
        DvError::new(StatusCode::UNAUTHORIZED, "", "")
            .with_header("WWW-Authenticate", challenge.clone())
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| unauthorized("missing"))?;
    let token = token.trim();
    // RSA verification per request dominated the emulator's CPU under load; a token already
    // verified is trusted until its own `exp` (the cache never extends it).
    let key = token_key(token);
    let now = chrono::Utc::now().timestamp();
    if st.verified_tokens.get(&key).is_some_and(|exp| exp > now) {
        return Ok(());
    }
    let claims = st
        .entra
        .verify_access_token(token)
        .map_err(|_| unauthorized("invalid"))?;
    st.verified_tokens.insert(key, claims.exp);
    Ok(())
}

/// What the first path segment names: an entity set (with optional key and `/$count`), a function,
/// or a metadata path.
#[derive(Debug, PartialEq)]
enum Target {
    Collection { set: String, count: bool },
    Entity { set: String, id: String },
    WhoAmI,
    RetrieveVersion,
    Metadata(String),
}

fn parse_target(rest: &str) -> Result<Target, DvError> {
    let rest = rest.trim_end_matches('/');
    if rest == "WhoAmI()" || rest == "WhoAmI" {
        return Ok(Target::WhoAmI);
    }
    if rest == "RetrieveVersion()" {
        return Ok(Target::RetrieveVersion);
    }
    if rest.starts_with("EntityDefinitions") || rest.starts_with("GlobalOptionSetDefinitions") {
        return Ok(Target::Metadata(rest.to_string()));
    }
    let (first, tail) = rest
        .split_once('/')
        .map_or((rest, None), |(a, b)| (a, Some(b)));
    if let Some(open) = first.find('(') {
        let set = &first[..open];
        let key = first[open + 1..].strip_suffix(')').ok_or_else(|| {
            DvError::bad_query(format!("Bad Request - Error in query syntax: '{first}'."))
        })?;
        if tail.is_some() {
            return Err(DvError::new(StatusCode::NOT_IMPLEMENTED, "0x8006088a", "The emulator does not serve navigation or property paths; use $expand and $select."));
        }
        return Ok(Target::Entity {
            set: set.to_string(),
            id: key.to_string(),
        });
    }
    match tail {
        None => Ok(Target::Collection {
            set: first.to_string(),
            count: false,
        }),
        Some("$count") => Ok(Target::Collection {
            set: first.to_string(),
            count: true,
        }),
        Some(other) => Err(DvError::resource_not_found(other)),
    }
}

fn target_name(t: &Target) -> String {
    match t {
        Target::Collection { set, .. } | Target::Entity { set, .. } => set.clone(),
        Target::WhoAmI => "WhoAmI".into(),
        Target::RetrieveVersion => "RetrieveVersion".into(),
        Target::Metadata(p) => p.split(['(', '/']).next().unwrap_or("metadata").to_string(),
    }
}

/// Request context parsed once from headers: preferences and language.
struct Ctx {
    prefs: Vec<String>,
    annotations: AnnotationFilter,
    lang: Lcid,
    if_match: Option<String>,
}

impl Ctx {
    fn from_headers(st: &EmulatorState, headers: &HeaderMap) -> Self {
        let prefs = split_prefer(
            headers
                .get_all("prefer")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::to_string),
        );
        let annotations = AnnotationFilter::from_prefer(&prefs);
        // The app user's configured language, overridable per request with `MSCRM.LanguageCode` [inf].
        let lang = headers
            .get("MSCRM.LanguageCode")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok())
            .and_then(Lcid::from_code)
            .or_else(|| Lcid::from_code(st.config.language))
            .unwrap_or(Lcid::EnUs);
        let if_match = headers
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string());
        Self {
            prefs,
            annotations,
            lang,
            if_match,
        }
    }

    fn max_page_size(&self) -> Result<Option<(usize, String)>, DvError> {
        for p in &self.prefs {
            if let Some(v) = p.strip_prefix("odata.maxpagesize=") {
                let n: usize = v.trim().parse().map_err(|_| {
                    DvError::bad_query(format!("Invalid value '{v}' for odata.maxpagesize."))
                })?;
                if n == 0 {
                    return Err(DvError::bad_query(
                        "odata.maxpagesize must be greater than 0.",
                    ));
                }
                // The effective size is echoed, not the asked one: 5,000 is the ceiling (wire reference §3/§4).
                let n = n.min(MAX_PAGE);
                return Ok(Some((n, format!("odata.maxpagesize={n}"))));
            }
        }
        Ok(None)
    }

    fn return_representation(&self) -> bool {
        self.prefs.iter().any(|p| p == "return=representation")
    }
}

async fn dataverse(
    State(st): State<Arc<EmulatorState>>,
    Path(rest): Path<String>,
    method: Method,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let uri = req.uri().clone();
    let body = match axum::body::to_bytes(req.into_body(), 16 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return DvError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "0x80048d19",
                "Request body too large.",
            )
            .into_response()
        }
    };
    // Authenticate before answering anything about the path: an anonymous caller gets 401 for any URL.
    let parsed = parse_target(&rest).map(|t| {
        let name = target_name(&t);
        (t, name)
    });
    let counted = parsed.as_ref().ok().map(|(_, name)| st.stats.begin(name));
    if let Err(e) = authenticate(&st, &headers) {
        return e.into_response();
    }
    let ((target, name), (in_flight, _guard)) = match (parsed, counted) {
        (Ok(t), Some(c)) => (t, c),
        (Err(e), _) => return e.into_response(),
        (Ok((_, name)), None) => return DvError::resource_not_found(&name).into_response(),
    };
    let verdict = st.faults.for_dataverse(&name);
    if verdict.fail == Some(FaultKind::Unauthorized) {
        return unauthorized(&st);
    }
    if !verdict.delay.is_zero() {
        tokio::time::sleep(verdict.delay).await;
    }
    if let Some(fail) = verdict.fail {
        return fault_response(&st, fail);
    }
    if let Some(limited) = st.protection.check(in_flight) {
        st.stats
            .throttled
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        return throttle_response(&st, limited);
    }
    let ctx = Ctx::from_headers(&st, &headers);
    let result = match (&method, target) {
        (&Method::GET, Target::WhoAmI) => Ok(who_am_i(&st)),
        (_, Target::WhoAmI) | (_, Target::RetrieveVersion) if method != Method::GET => {
            Err(DvError::new(
                StatusCode::NOT_FOUND,
                "",
                format!(
                    "No HTTP resource was found that matches the request URI '{}{}'.",
                    st.url, uri
                ),
            ))
        }
        (&Method::GET, Target::RetrieveVersion) => Ok(odata_json(
            StatusCode::OK,
            json!({"@odata.context": format!("{}{API_PREFIX}/$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse", st.url), "Version": "9.2.25093.00168"}),
            &[],
        )),
        (&Method::GET, Target::Metadata(path)) => get_metadata(&st, &ctx, &path, &uri),
        (&Method::GET, Target::Collection { set, count }) => {
            entity(&st, &set, Access::Read).and_then(|e| get_collection(&st, &ctx, e, &uri, count))
        }
        (&Method::GET, Target::Entity { set, id }) => {
            entity(&st, &set, Access::Read).and_then(|e| get_entity(&st, &ctx, e, &id, &uri))
        }
        (&Method::POST, Target::Collection { set, count: false }) => {
            entity(&st, &set, Access::Create).and_then(|e| create(&st, &ctx, e, &body))
        }
        (&Method::PATCH, Target::Entity { set, id }) => {
            entity(&st, &set, Access::Write).and_then(|e| update(&st, &ctx, e, &id, &body))
        }
        (&Method::DELETE, Target::Entity { set, id }) => {
            entity(&st, &set, Access::Delete).and_then(|e| delete(&st, &ctx, e, &id))
        }
        _ => Err(DvError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "0x80060888",
            format!("The requested method {method} is not supported for this resource."),
        )),
    };
    let resp = result.unwrap_or_else(IntoResponse::into_response);
    if resp.status() == StatusCode::BAD_REQUEST {
        st.stats
            .bad_requests
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    resp
}

fn fault_response(st: &EmulatorState, fail: FaultKind) -> Response {
    match fail {
        FaultKind::Throttle { retry_after } => {
            st.stats
                .throttled
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            throttle_response(st, Limited::Requests { retry_after })
        }
        FaultKind::ServerError { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            DvError::new(status, "0x80040265", "A token was obtained to call Finance and Operations, but Finance and Operations returned an error of type InternalServerError.").into_response()
        }
        FaultKind::Unauthorized => unauthorized(st),
        FaultKind::Latency { .. } | FaultKind::TokenOutage => {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn throttle_response(st: &EmulatorState, limited: Limited) -> Response {
    let (code, message, retry) = match limited {
        Limited::Requests { retry_after } => (
            "0x80072322",
            format!(
                "Number of requests exceeded the limit of {} over time window of {} seconds.",
                st.config.max_requests_per_window, st.config.window_secs
            ),
            retry_after,
        ),
        Limited::Concurrency => (
            "0x80072326",
            format!(
                "Number of concurrent requests exceeded the limit of {}.",
                st.config.max_concurrent
            ),
            1,
        ),
    };
    DvError::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        .with_header("Retry-After", retry.to_string())
        .into_response()
}

fn who_am_i(st: &EmulatorState) -> Response {
    let ns = st.config.tenant_id;
    odata_json(
        StatusCode::OK,
        json!({
            "@odata.context": format!("{}{API_PREFIX}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", st.url),
            "BusinessUnitId": Uuid::new_v5(&ns, b"business-unit").to_string(),
            "UserId": st.user_id.to_string(),
            "OrganizationId": Uuid::new_v5(&ns, b"organization").to_string(),
        }),
        &[],
    )
}

#[derive(Clone, Copy)]
enum Access {
    Read,
    Create,
    Write,
    Delete,
}

/// Resolves an entity set and checks the application user's security role.
fn entity<'a>(st: &EmulatorState, set: &str, access: Access) -> Result<&'a EntityDef, DvError> {
    let def = schema()
        .by_set(set)
        .filter(|_| !st.config.not_generated.iter().any(|s| s == set))
        .ok_or_else(|| DvError::resource_not_found(set))?;
    let (allowed, prv) = match access {
        Access::Read => (st.config.role.can_read(set), "prvRead"),
        Access::Create => (st.config.role.can_write(set), "prvCreate"),
        Access::Write => (st.config.role.can_write(set), "prvWrite"),
        Access::Delete => (st.config.role.can_write(set), "prvDelete"),
    };
    if !allowed {
        let privilege_id = Uuid::new_v5(
            &st.config.tenant_id,
            format!("{prv}{}", def.logical_name).as_bytes(),
        );
        return Err(DvError::new(
            StatusCode::FORBIDDEN,
            "0x80040220",
            format!(
                "Principal user (Id={uid}, type=8, roleCount=1, privilegeCount=465, accessMode=0), is missing {prv}{logical} privilege (Id={privilege_id}) on OTC={otc} for entity '{logical}'. context.Caller={uid}",
                uid = st.user_id,
                logical = def.logical_name,
                otc = def.object_type_code,
            ),
        ));
    }
    Ok(def)
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn parse_id(def: &EntityDef, key: &str) -> Result<Uuid, DvError> {
    let raw = key
        .strip_prefix(&format!("{}=", def.primary_id))
        .unwrap_or(key);
    Uuid::parse_str(raw).map_err(|_| {
        DvError::bad_query(format!(
            "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.{}'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource '{}'.",
            def.logical_name, def.logical_name
        ))
    })
}

fn context_url(st: &EmulatorState, def: &EntityDef, q: &odata::ODataQuery, single: bool) -> String {
    let mut s = format!("{}{API_PREFIX}/$metadata#{}", st.url, def.set_name);
    // Selected properties, then each expansion as `nav(its selected properties)` (wire reference §4).
    let mut items: Vec<String> = q.select.clone().unwrap_or_default();
    items.extend(q.expand.iter().map(|ex| {
        format!(
            "{}({})",
            ex.nav,
            ex.select
                .as_deref()
                .map(|s| s.join(","))
                .unwrap_or_default()
        )
    }));
    if !items.is_empty() {
        s.push('(');
        s.push_str(&items.join(","));
        s.push(')');
    }
    if single {
        s.push_str("/$entity");
    }
    s
}

/// The related row's primary name: what a lookup sorts by (and shows as its FormattedValue).
fn lookup_name(store: &Store, target: &str, id: &Uuid) -> Option<String> {
    let def = schema().by_logical(target)?;
    store
        .table(target)?
        .get(id)?
        .get(def.primary_name)?
        .as_str()
        .map(str::to_string)
}

/// Builds the response object for one row: projection, expansions, annotations.
fn render_row(
    st: &EmulatorState,
    ctx: &Ctx,
    store: &Store,
    def: &EntityDef,
    row: &Row,
    q: &odata::ODataQuery,
) -> Row {
    let annot = Annotator {
        filter: &ctx.annotations,
        lang: ctx.lang,
        option_base: st.config.option_base,
        store,
    };
    let id = row
        .get(&def.primary_id)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok());
    // Every entity carries its weak ETag, first, whatever $select or Prefer say (wire reference §4).
    let mut out = Row::new();
    if let Some(v) = id.and_then(|id| store.table(def.logical_name)?.version(&id)) {
        out.insert("@odata.etag".into(), Value::String(annotations::etag(v)));
    }
    out.extend(annot.annotate(def, odata::project(def, row, q.select.as_deref())));
    for ex in &q.expand {
        let Some(nav) = def.nav(&ex.nav) else {
            continue;
        };
        let sub = odata::ODataQuery {
            select: ex.select.clone(),
            ..Default::default()
        };
        match nav.kind {
            NavKind::Collection {
                child,
                child_lookup,
            } => {
                let (Some(child_def), Some(table), Some(id)) =
                    (schema().by_logical(child), store.table(child), id)
                else {
                    continue;
                };
                let mut rows: Vec<&Row> = table
                    .children_of(child_lookup, &id)
                    .into_iter()
                    .filter(|r| ex.filter.as_ref().is_none_or(|f| odata::matches(f, r)))
                    .collect();
                odata::sort_rows(child_def, &mut rows, &ex.orderby, &|t, id| {
                    lookup_name(store, t, id)
                });
                let take = ex.top.unwrap_or(MAX_PAGE).min(MAX_PAGE);
                let items: Vec<Value> = rows
                    .into_iter()
                    .take(take)
                    .map(|r| Value::Object(render_row(st, ctx, store, child_def, r, &sub)))
                    .collect();
                out.insert(ex.nav.clone(), Value::Array(items));
            }
            NavKind::Single { target, lookup } => {
                let target_row = row
                    .get(lookup)
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .and_then(|tid| store.table(target).and_then(|t| t.get(&tid)));
                let value = match (schema().by_logical(target), target_row) {
                    (Some(tdef), Some(r)) if ex.ref_only => {
                        let tid = r
                            .get(&tdef.primary_id)
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        json!({"@odata.id": format!("{}{API_PREFIX}/{}({tid})", st.url, tdef.set_name)})
                    }
                    (Some(tdef), Some(r)) => {
                        Value::Object(render_row(st, ctx, store, tdef, r, &sub))
                    }
                    _ => Value::Null,
                };
                out.insert(ex.nav.clone(), value);
            }
        }
    }
    out
}

fn get_collection(
    st: &EmulatorState,
    ctx: &Ctx,
    def: &EntityDef,
    uri: &Uri,
    count_only: bool,
) -> Result<Response, DvError> {
    let params = query_pairs(uri);
    let q = odata::parse_query(def, &params)?;
    let skiptoken = params
        .iter()
        .find(|(k, _)| k == "$skiptoken")
        .map(|(_, v)| v.as_str());
    let page_pref = ctx.max_page_size()?;
    let store = st.store.read().map_err(|_| poisoned())?;
    let table = store
        .table(def.logical_name)
        .ok_or_else(|| DvError::resource_not_found(&def.set_name))?;
    let rows: Vec<&Row> = table
        .rows
        .iter()
        .filter(|r| q.filter.as_ref().is_none_or(|f| odata::matches(f, r)))
        .collect();
    let total = rows.len();
    if count_only {
        let mut resp = (StatusCode::OK, total.min(MAX_PAGE).to_string()).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        resp.headers_mut()
            .insert("OData-Version", HeaderValue::from_static("4.0"));
        return Ok(resp);
    }
    let resume = skiptoken.map(paging::parse_skiptoken).transpose()?;
    let sort_cols: Vec<&str> = q.orderby.iter().map(|o| o.column.as_str()).collect();
    // Like Dataverse's, the cookie carries the last row's sort values and key, so the next page is
    // located from them alone: the anchor row may have been updated or deleted since.
    let anchor = resume
        .as_ref()
        .map(|r| {
            r.anchor(&def.primary_id, &sort_cols)
                .ok_or_else(|| DvError::bad_query("The $skiptoken value is not valid."))
        })
        .transpose()?;
    // `$top` is ignored when a page size is requested (wire reference §3).
    let (page_size, applied) = match (&page_pref, q.top) {
        (Some((n, p)), _) => (*n, Some(p.clone())),
        (None, Some(top)) => (top.min(MAX_PAGE), None),
        (None, None) => (MAX_PAGE, None),
    };
    let names = |t: &str, id: &Uuid| lookup_name(&store, t, id);
    let (page, more) = odata::page_after(def, rows, &q.orderby, anchor.as_ref(), page_size, &names);
    let has_more = more && !(page_pref.is_none() && q.top.is_some());
    let next_page = resume.map_or(2, |r| r.page + 1);
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(context_url(st, def, &q, false)),
    );
    if q.count {
        body.insert("@odata.count".into(), json!(total.min(MAX_PAGE)));
        if ctx
            .annotations
            .wants("Microsoft.Dynamics.CRM.totalrecordcount")
        {
            body.insert(
                "@Microsoft.Dynamics.CRM.totalrecordcount".into(),
                json!(total.min(MAX_PAGE)),
            );
            body.insert(
                "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded".into(),
                json!(total > MAX_PAGE),
            );
        }
    }
    let value: Vec<Value> = page
        .iter()
        .map(|r| Value::Object(render_row(st, ctx, &store, def, r, &q)))
        .collect();
    body.insert("value".into(), Value::Array(value));
    if has_more {
        if let Some(last) = page.last() {
            let first = page.first().copied().unwrap_or(last);
            let token = paging::skiptoken(&def.primary_id, &sort_cols, next_page, first, last);
            body.insert(
                "@odata.nextLink".into(),
                json!(paging::next_link(&st.url, &def.set_name, &params, &token)),
            );
        }
    }
    let mut applied_list: Vec<String> = applied.into_iter().collect();
    if let Some(a) = &ctx.annotations.applied {
        applied_list.push(a.clone());
    }
    let extra: Vec<(&'static str, String)> = if applied_list.is_empty() {
        vec![]
    } else {
        vec![("Preference-Applied", applied_list.join(","))]
    };
    Ok(odata_json(StatusCode::OK, Value::Object(body), &extra))
}

fn get_entity(
    st: &EmulatorState,
    ctx: &Ctx,
    def: &EntityDef,
    key: &str,
    uri: &Uri,
) -> Result<Response, DvError> {
    let id = parse_id(def, key)?;
    let params = query_pairs(uri);
    let q = odata::parse_query(def, &params)?;
    let store = st.store.read().map_err(|_| poisoned())?;
    let row = store
        .table(def.logical_name)
        .and_then(|t| t.get(&id))
        .ok_or_else(|| DvError::record_not_found(def.logical_name, &id.to_string()))?;
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(context_url(st, def, &q, true)),
    );
    body.extend(render_row(st, ctx, &store, def, row, &q));
    let mut extra: Vec<(&'static str, String)> = ctx
        .annotations
        .applied
        .iter()
        .map(|a| ("Preference-Applied", a.clone()))
        .collect();
    if let Some(v) = store.table(def.logical_name).and_then(|t| t.version(&id)) {
        extra.push(("ETag", annotations::etag(v)));
    }
    Ok(odata_json(StatusCode::OK, Value::Object(body), &extra))
}

fn parse_body(def: &EntityDef, body: &[u8]) -> Result<Value, DvError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DvError::bad_payload(&def.set_name, format!("Invalid JSON. {e}")))?;
    if !v.is_object() {
        return Err(DvError::bad_payload(
            &def.set_name,
            "The request body must be a JSON object.",
        ));
    }
    Ok(v)
}

fn entity_id_url(st: &EmulatorState, def: &EntityDef, id: &Uuid) -> String {
    format!("{}{API_PREFIX}/{}({id})", st.url, def.set_name)
}

fn poisoned() -> DvError {
    DvError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "0x80040216",
        "store poisoned",
    )
}

/// The written row, for `Prefer: return=representation` (201 on create, 200 on update).
fn representation(
    st: &EmulatorState,
    ctx: &Ctx,
    store: &Store,
    def: &EntityDef,
    id: &Uuid,
    status: StatusCode,
) -> Response {
    let row = store
        .table(def.logical_name)
        .and_then(|t| t.get(id))
        .cloned()
        .unwrap_or_default();
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!(
            "{}{API_PREFIX}/$metadata#{}/$entity",
            st.url, def.set_name
        )),
    );
    out.extend(render_row(
        st,
        ctx,
        store,
        def,
        &row,
        &odata::ODataQuery::default(),
    ));
    odata_json(
        status,
        Value::Object(out),
        &[("Preference-Applied", "return=representation".into())],
    )
}

fn create(
    st: &EmulatorState,
    ctx: &Ctx,
    def: &EntityDef,
    body: &[u8],
) -> Result<Response, DvError> {
    let v = parse_body(def, body)?;
    let mut store = st.store.write().map_err(|_| poisoned())?;
    let id = writes::create(&mut store, def, &v, st.config.option_base)?;
    if ctx.return_representation() {
        return Ok(representation(
            st,
            ctx,
            &store,
            def,
            &id,
            StatusCode::CREATED,
        ));
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    h.insert("OData-Version", HeaderValue::from_static("4.0"));
    if let Ok(v) = HeaderValue::from_str(&entity_id_url(st, def, &id)) {
        h.insert("OData-EntityId", v);
    }
    Ok(resp)
}

fn update(
    st: &EmulatorState,
    ctx: &Ctx,
    def: &EntityDef,
    key: &str,
    body: &[u8],
) -> Result<Response, DvError> {
    let id = parse_id(def, key)?;
    let v = parse_body(def, body)?;
    let mut store = st.store.write().map_err(|_| poisoned())?;
    check_if_match(ctx, &store, def, &id)?;
    writes::update(&mut store, def, id, &v, st.config.option_base)?;
    if ctx.return_representation() {
        return Ok(representation(st, ctx, &store, def, &id, StatusCode::OK));
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert("OData-Version", HeaderValue::from_static("4.0"));
    Ok(resp)
}

/// `If-Match: W/"<version>"` on PATCH/DELETE (optimistic concurrency, wire reference §6). `If-Match: *`
/// only guards against creating, which an update of a missing row never does here, so it passes.
fn check_if_match(ctx: &Ctx, store: &Store, def: &EntityDef, id: &Uuid) -> Result<(), DvError> {
    let Some(tag) = ctx.if_match.as_deref().filter(|t| *t != "*") else {
        return Ok(());
    };
    // Virtual tables have no row versions to compare (§12), so Dataverse refuses the request outright.
    if def.is_virtual() {
        return Err(DvError::new(
            StatusCode::BAD_REQUEST,
            "0x8006088D",
            format!(
                "Optimistic concurrency is not enabled for entity type {}.",
                def.logical_name
            ),
        ));
    }
    let current = store
        .table(def.logical_name)
        .and_then(|t| t.version(id))
        .ok_or_else(|| DvError::record_not_found(def.logical_name, &id.to_string()))?;
    if tag != annotations::etag(current) {
        return Err(DvError::new(
            StatusCode::PRECONDITION_FAILED,
            "0x80060882",
            "The version of the existing record doesn't match the RowVersion property provided.",
        ));
    }
    Ok(())
}

fn delete(st: &EmulatorState, ctx: &Ctx, def: &EntityDef, key: &str) -> Result<Response, DvError> {
    let id = parse_id(def, key)?;
    let mut store = st.store.write().map_err(|_| poisoned())?;
    check_if_match(ctx, &store, def, &id)?;
    writes::delete(&mut store, def, id)?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert("OData-Version", HeaderValue::from_static("4.0"));
    Ok(resp)
}

/// Metadata paths for option sets: `GlobalOptionSetDefinitions[(Name='x')]` and
/// `EntityDefinitions(LogicalName='t')/Attributes[(LogicalName='c')]/Microsoft.Dynamics.CRM.PicklistAttributeMetadata`.
fn get_metadata(st: &EmulatorState, ctx: &Ctx, path: &str, uri: &Uri) -> Result<Response, DvError> {
    let params = query_pairs(uri);
    let languages: Option<Vec<u32>> = params
        .iter()
        .find(|(k, _)| k == "LabelLanguages")
        .map(|(_, v)| v.split(',').filter_map(|s| s.trim().parse().ok()).collect());
    let langs = languages.as_deref();
    let base = st.config.option_base;
    let quoted = |s: &str, prefix: &str| -> Option<String> {
        s.strip_prefix(prefix)?
            .strip_suffix("')")
            .map(str::to_string)
    };
    let body = if path == "GlobalOptionSetDefinitions" {
        metadata::all_global_option_sets(&st.url, base, ctx.lang, langs)
    } else if let Some(name) = quoted(path, "GlobalOptionSetDefinitions(Name='") {
        metadata::global_option_set(&st.url, &name, base, ctx.lang, langs)?
    } else {
        let mut parts = path.split('/');
        let table = parts
            .next()
            .and_then(|p| quoted(p, "EntityDefinitions(LogicalName='"))
            .ok_or_else(|| DvError::resource_not_found(path))?;
        let def = schema().by_logical(&table).ok_or_else(|| {
            DvError::new(
                StatusCode::NOT_FOUND,
                "0x80040217",
                format!("Could not find entity with name {table}"),
            )
        })?;
        let attrs = parts
            .next()
            .ok_or_else(|| DvError::resource_not_found(path))?;
        let column = if attrs == "Attributes" {
            None
        } else {
            Some(
                quoted(attrs, "Attributes(LogicalName='")
                    .ok_or_else(|| DvError::resource_not_found(attrs))?,
            )
        };
        match parts.next() {
            Some("Microsoft.Dynamics.CRM.PicklistAttributeMetadata") => {}
            _ => return Err(DvError::resource_not_found(path)),
        }
        let expand = params.iter().any(|(k, v)| {
            k == "$expand" && (v.contains("OptionSet") || v.contains("GlobalOptionSet"))
        });
        metadata::picklist_attributes(
            &st.url,
            def,
            column.as_deref(),
            base,
            ctx.lang,
            langs,
            expand,
        )?
    };
    Ok(odata_json(StatusCode::OK, body, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(parse_target("WhoAmI()").ok(), Some(Target::WhoAmI));
        assert_eq!(
            parse_target("mshr_x").ok(),
            Some(Target::Collection {
                set: "mshr_x".into(),
                count: false
            })
        );
        assert_eq!(
            parse_target("mshr_x/$count").ok(),
            Some(Target::Collection {
                set: "mshr_x".into(),
                count: true
            })
        );
        assert_eq!(
            parse_target("mshr_x(abc)").ok(),
            Some(Target::Entity {
                set: "mshr_x".into(),
                id: "abc".into()
            })
        );
        assert!(parse_target("mshr_x(abc").is_err());
    }
}
