//! The Dataverse Web API entry: authentication, target parsing, per-request context, dispatch,
//! fault and throttle responses, `WhoAmI` and entity-set access.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::annotations::{split_prefer, AnnotationFilter, Lcid};
use crate::config::RoleConfig;
use crate::error::DvError;
use crate::faults::{FaultKind, Limited};
use crate::schema::{schema, EntityDef};

use super::read::{get_collection, get_entity, get_metadata};
use super::write::{create, delete, update};
use super::{EmulatorState, API_PREFIX, MAX_PAGE};

pub(super) async fn service_document(
    State(st): State<Arc<EmulatorState>>,
    headers: HeaderMap,
) -> Response {
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

pub(super) fn odata_json(
    status: StatusCode,
    body: Value,
    extra: &[(&'static str, String)],
) -> Response {
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

pub(super) fn challenge(st: &EmulatorState) -> String {
    format!(
        "Bearer authorization_uri={}/{}/oauth2/authorize, resource_id={}/",
        st.url, st.config.tenant_id, st.url
    )
}

pub(super) fn unauthorized(st: &EmulatorState) -> Response {
    DvError::new(StatusCode::UNAUTHORIZED, "", "")
        .with_header("WWW-Authenticate", challenge(st))
        .into_response()
}

pub(super) fn token_key(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// `Authorization: Bearer …` checked against the emulator's own Entra; 401 like Dataverse otherwise.
/// Answers the token's `appid` (which application user, hence which role).
pub(super) fn authenticate(st: &EmulatorState, headers: &HeaderMap) -> Result<Uuid, DvError> {
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
    if let Some((_, appid)) = st.verified_tokens.get(&key).filter(|(exp, _)| *exp > now) {
        return Ok(appid);
    }
    let claims = st
        .entra
        .verify_access_token(token)
        .map_err(|_| unauthorized("invalid"))?;
    st.verified_tokens.insert(key, (claims.exp, claims.appid));
    Ok(claims.appid)
}

/// What the first path segment names: an entity set (with optional key and `/$count`), a function,
/// or a metadata path.
#[derive(Debug, PartialEq)]
pub(super) enum Target {
    Collection {
        set: String,
        count: bool,
    },
    Entity {
        set: String,
        id: String,
    },
    WhoAmI,
    RetrieveVersion,
    /// The text after `AccessType=`: a literal or a parameter alias.
    RetrieveCurrentOrganization(String),
    Metadata(String),
}

pub(super) fn parse_target(rest: &str) -> Result<Target, DvError> {
    let rest = rest.trim_end_matches('/');
    if rest == "WhoAmI()" || rest == "WhoAmI" {
        return Ok(Target::WhoAmI);
    }
    if rest == "RetrieveVersion()" {
        return Ok(Target::RetrieveVersion);
    }
    if let Some(args) = rest.strip_prefix("RetrieveCurrentOrganization(") {
        let arg = args
            .strip_suffix(')')
            .and_then(|a| a.trim().strip_prefix("AccessType"))
            .and_then(|a| a.trim_start().strip_prefix('='))
            .ok_or_else(|| {
                DvError::bad_query(
                    "RetrieveCurrentOrganization takes one parameter, AccessType.".to_string(),
                )
            })?;
        return Ok(Target::RetrieveCurrentOrganization(arg.trim().to_string()));
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

pub(super) fn target_name(t: &Target) -> String {
    match t {
        Target::Collection { set, .. } | Target::Entity { set, .. } => set.clone(),
        Target::WhoAmI => "WhoAmI".into(),
        Target::RetrieveVersion => "RetrieveVersion".into(),
        Target::RetrieveCurrentOrganization(_) => "RetrieveCurrentOrganization".into(),
        Target::Metadata(p) => p.split(['(', '/']).next().unwrap_or("metadata").to_string(),
    }
}

/// Request context parsed once from headers: preferences and language.
pub(super) struct Ctx {
    pub(super) prefs: Vec<String>,
    pub(super) annotations: AnnotationFilter,
    pub(super) lang: Lcid,
    pub(super) if_match: Option<String>,
}

impl Ctx {
    pub(super) fn from_headers(st: &EmulatorState, headers: &HeaderMap) -> Self {
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

    pub(super) fn max_page_size(&self) -> Result<Option<(usize, String)>, DvError> {
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
                // The effective size is echoed, not the asked one: 5,000 is the ceiling
                // (docs/dataverse-web-api.md#paging).
                let n = n.min(MAX_PAGE);
                return Ok(Some((n, format!("odata.maxpagesize={n}"))));
            }
        }
        Ok(None)
    }

    pub(super) fn return_representation(&self) -> bool {
        self.prefs.iter().any(|p| p == "return=representation")
    }
}

/// Pages larger than this are built off the async worker (see [`off_worker`]).
const LARGE_PAGE: usize = 1_000;

/// Runs a collection read that may be large (a page of more than [`LARGE_PAGE`] rows, or no page
/// size asked for) with `block_in_place`: built in one go, a 5,000-row page with expanded children
/// held a worker for tens of milliseconds, and every small request queued on that worker waited
/// as long, where Dataverse's other web servers would have answered them. On a current-thread
/// runtime (tests) it runs in place.
fn off_worker<T>(ctx: &Ctx, read: impl FnOnce() -> T) -> T {
    let large = ctx
        .max_page_size()
        .ok()
        .flatten()
        .is_none_or(|(n, _)| n > LARGE_PAGE);
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if large && multi_thread {
        tokio::task::block_in_place(read)
    } else {
        read()
    }
}

pub(super) async fn dataverse(
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
    let role = match authenticate(&st, &headers) {
        Ok(appid) if st.config.without_application_user.contains(&appid) => {
            return DvError::not_a_member().into_response()
        }
        Ok(appid) => st.role_of(appid),
        Err(e) => return e.into_response(),
    };
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
    // A lost response is decided now, applied once the request has been served.
    let lost = match verdict.fail {
        Some(FaultKind::LostResponse { status }) => Some(status),
        Some(fail) => return fault_response(&st, fail),
        None => None,
    };
    if let Some(limited) = st.protection.check(in_flight) {
        st.stats
            .throttled
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut resp = throttle_response(&st, limited);
        budget_headers(&st, &mut resp);
        return resp;
    }
    let admitted = std::time::Instant::now();
    let ctx = Ctx::from_headers(&st, &headers);
    let result = match (&method, target) {
        (&Method::GET, Target::WhoAmI) => Ok(who_am_i(&st)),
        (_, Target::WhoAmI)
        | (_, Target::RetrieveVersion)
        | (_, Target::RetrieveCurrentOrganization(_))
            if method != Method::GET =>
        {
            Err(DvError::new(
                StatusCode::NOT_FOUND,
                "",
                format!(
                    "No HTTP resource was found that matches the request URI '{}{}'.",
                    st.url, uri
                ),
            ))
        }
        (&Method::GET, Target::RetrieveVersion) => Ok(super::organization::retrieve_version(&st)),
        (&Method::GET, Target::RetrieveCurrentOrganization(arg)) => {
            super::organization::retrieve_current_organization(&st, &arg, &uri)
        }
        (&Method::GET, Target::Metadata(path)) => get_metadata(&st, &ctx, &path, &uri),
        (&Method::GET, Target::Collection { set, count }) => entity(&st, role, &set, Access::Read)
            .and_then(|e| off_worker(&ctx, || get_collection(&st, &ctx, e, &uri, count))),
        (&Method::GET, Target::Entity { set, id }) => {
            entity(&st, role, &set, Access::Read).and_then(|e| get_entity(&st, &ctx, e, &id, &uri))
        }
        (&Method::POST, Target::Collection { set, count: false }) => {
            entity(&st, role, &set, Access::Create).and_then(|e| create(&st, &ctx, e, &body))
        }
        (&Method::PATCH, Target::Entity { set, id }) => {
            entity(&st, role, &set, Access::Write).and_then(|e| update(&st, &ctx, e, &id, &body))
        }
        (&Method::DELETE, Target::Entity { set, id }) => {
            entity(&st, role, &set, Access::Delete).and_then(|e| delete(&st, &ctx, e, &id))
        }
        _ => Err(DvError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "0x80060888",
            format!("The requested method {method} is not supported for this resource."),
        )),
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    st.protection.record_execution(admitted.elapsed());
    budget_headers(&st, &mut resp);
    if let Some(status) = lost {
        return fault_response(&st, FaultKind::ServerError { status });
    }
    if resp.status() == StatusCode::BAD_REQUEST {
        st.stats
            .bad_requests
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    resp
}

pub(super) fn fault_response(st: &EmulatorState, fail: FaultKind) -> Response {
    match fail {
        FaultKind::Throttle { retry_after } => {
            st.stats
                .throttled
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            throttle_response(st, Limited::Requests { retry_after })
        }
        FaultKind::ServerError { status } | FaultKind::LostResponse { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            DvError::new(status, "0x80040265", "A token was obtained to call Finance and Operations, but Finance and Operations returned an error of type InternalServerError.").into_response()
        }
        FaultKind::Unauthorized => unauthorized(st),
        FaultKind::Latency { .. } | FaultKind::TokenOutage => {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// What every answer past authentication says of the budget (docs/dataverse-web-api.md#service-protection):
/// requests left in the window, execution time left (seconds, formatted as Dataverse does:
/// `1,199.46`) and the suggested parallelism.
fn budget_headers(st: &EmulatorState, resp: &mut Response) {
    let left = st.protection.remaining();
    let h = resp.headers_mut();
    h.insert(
        "x-ms-ratelimit-burst-remaining-xrm-requests",
        axum::http::HeaderValue::from(left.requests),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&seconds_text(left.execution)) {
        h.insert("x-ms-ratelimit-time-remaining-xrm-requests", v);
    }
    h.insert(
        "x-ms-dop-hint",
        axum::http::HeaderValue::from(st.config.dop_hint),
    );
}

/// 1199.46 s → `1,199.46` (thousands grouped, two decimals).
fn seconds_text(d: std::time::Duration) -> String {
    let centis = d.as_millis() / 10;
    let digits = (centis / 100).to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out.push_str(&format!(".{:02}", centis % 100));
    out
}

pub(super) fn throttle_response(st: &EmulatorState, limited: Limited) -> Response {
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

pub(super) fn who_am_i(st: &EmulatorState) -> Response {
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
pub(super) enum Access {
    Read,
    Create,
    Write,
    Delete,
}

/// Resolves an entity set and checks the application user's security role.
pub(super) fn entity<'a>(
    st: &EmulatorState,
    role: &RoleConfig,
    set: &str,
    access: Access,
) -> Result<&'a EntityDef, DvError> {
    let def = schema()
        .by_set(set)
        .filter(|_| !st.config.not_generated.iter().any(|s| s == set))
        .ok_or_else(|| DvError::resource_not_found(set))?;
    let (allowed, prv) = match access {
        Access::Read => (role.can_read(set), "prvRead"),
        Access::Create => (role.can_write(set), "prvCreate"),
        Access::Write => (role.can_write(set), "prvWrite"),
        Access::Delete => (role.can_write(set), "prvDelete"),
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
