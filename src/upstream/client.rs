//! The Dataverse Web API client (wire reference §2–§9): documented headers, paging by nextLink,
//! create/update, a concurrency limiter below Dataverse's 52-per-user limit, one retry after a 401
//! (with a fresh token) and after a short 429, Dataverse error bodies parsed into [`UpstreamError`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;
use uuid::Uuid;

use super::error::UpstreamError;
use super::odata::Query;
use super::token::{AccessToken, TokenProvider};

/// A Dataverse row as returned (values plus `@…` annotations, in wire order).
pub type Row = serde_json::Map<String, Value>;

/// Annotations the gateway resolves labels and lookup targets from.
const INCLUDE_ANNOTATIONS: &str = "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname\"";
/// Dataverse's page-size ceiling.
const MAX_PAGE_SIZE: u32 = 5000;
const MAX_ERROR_MESSAGE_CHARS: usize = 1000;
const MAX_REQUEST_ID_LEN: usize = 128;

#[derive(Debug, Clone)]
pub struct DataverseConfig {
    /// Environment URL, e.g. `https://contoso.crm4.dynamics.com`.
    pub org_url: String,
    pub api_version: String,
    /// Limit for one upstream attempt, including the wait for a limiter permit and the body.
    pub timeout: Duration,
    /// Concurrent requests in flight; Dataverse rejects more than 52 per user.
    pub max_concurrency: usize,
    /// A 429 whose `Retry-After` is at most this long is retried once; longer ones are returned.
    pub max_inline_retry_after: Duration,
}

impl DataverseConfig {
    pub fn new(org_url: &str) -> Self {
        Self {
            org_url: org_url.trim_end_matches('/').to_string(),
            api_version: "v9.2".to_string(),
            timeout: Duration::from_secs(30),
            max_concurrency: 50,
            max_inline_retry_after: Duration::from_secs(2),
        }
    }
}

/// One page of a collection read.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rows: Vec<Row>,
    /// `@odata.nextLink`, to pass verbatim to [`DataverseClient::get_next`].
    pub next_link: Option<String>,
    /// `@odata.count` when `$count=true` was asked (capped at 5,000 by Dataverse).
    pub count: Option<u64>,
}

/// Cheap to clone; clones share the HTTP pool, the token provider and the limiter.
#[derive(Clone)]
pub struct DataverseClient {
    inner: Arc<ClientInner>,
    request_id: Option<HeaderValue>,
}

impl std::fmt::Debug for DataverseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataverseClient")
            .field("base", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

struct ClientInner {
    http: reqwest::Client,
    /// `{org}/api/data/v9.2/`
    base: Url,
    tokens: TokenProvider,
    limiter: Semaphore,
    timeout: Duration,
    max_inline_retry_after: Duration,
}

/// What one logical call sends; re-sent as-is on a retry.
struct Call<'a> {
    method: Method,
    url: Url,
    /// `entity_set` metric label (a code-chosen name, never partner text).
    label: String,
    body: Option<&'a Value>,
    page_size: Option<u32>,
    annotations: bool,
    if_match_any: bool,
}

/// A fully read successful response.
struct Reply {
    headers: HeaderMap,
    body: bytes::Bytes,
}

impl DataverseClient {
    pub fn new(cfg: DataverseConfig, tokens: TokenProvider) -> Result<Self, UpstreamError> {
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| UpstreamError::Config(format!("http client: {e}")))?;
        Self::with_http(cfg, tokens, http)
    }

    pub fn with_http(
        cfg: DataverseConfig,
        tokens: TokenProvider,
        http: reqwest::Client,
    ) -> Result<Self, UpstreamError> {
        let base = Url::parse(&format!(
            "{}/api/data/{}/",
            cfg.org_url.trim_end_matches('/'),
            cfg.api_version
        ))
        .map_err(|e| UpstreamError::Config(format!("org url: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(UpstreamError::Config("org url must be http(s)".to_string()));
        }
        Ok(Self {
            inner: Arc::new(ClientInner {
                http,
                base,
                tokens,
                limiter: Semaphore::new(cfg.max_concurrency.max(1)),
                timeout: cfg.timeout,
                max_inline_retry_after: cfg.max_inline_retry_after,
            }),
            request_id: None,
        })
    }

    /// A handle that sends `id` as `x-ms-client-request-id` and `X-Request-Id` on every call, so
    /// upstream logs correlate with the gateway's. Ids that are not valid header text are ignored.
    pub fn with_request_id(&self, id: &str) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            request_id: header_request_id(id),
        }
    }

    /// `{org}/api/data/v9.2/`.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// First page of `query`, at most `page_size` rows (`Prefer: odata.maxpagesize`).
    pub async fn get_page(&self, query: &Query, page_size: u32) -> Result<Page, UpstreamError> {
        query
            .validate()
            .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
        let url = self.url_for(&query.to_relative_url())?;
        let reply = self
            .execute(Call {
                method: Method::GET,
                url,
                label: query.entity_set().to_string(),
                body: None,
                page_size: Some(page_size),
                annotations: true,
                if_match_any: false,
            })
            .await?;
        parse_page(&reply.body)
    }

    /// The page behind a nextLink, requested verbatim (with the same `page_size` as the first page).
    /// Refuses links that leave the configured org's Web API.
    pub async fn get_next(&self, next_link: &str, page_size: u32) -> Result<Page, UpstreamError> {
        let url = Url::parse(next_link)
            .map_err(|_| UpstreamError::InvalidRequest("nextLink is not a URL".to_string()))?;
        let base = &self.inner.base;
        let api_root = base.path().trim_end_matches('/');
        let api_prefix = api_root
            .rsplit_once('/')
            .map_or(api_root, |(prefix, _version)| prefix);
        if url.origin() != base.origin() || !url.path().starts_with(api_prefix) {
            return Err(UpstreamError::InvalidRequest(
                "nextLink points outside the configured Dataverse environment".to_string(),
            ));
        }
        let label = entity_set_label(&url);
        let reply = self
            .execute(Call {
                method: Method::GET,
                url,
                label,
                body: None,
                page_size: Some(page_size),
                annotations: true,
                if_match_any: false,
            })
            .await?;
        parse_page(&reply.body)
    }

    /// One row by primary key with `query`'s `$select`/`$expand`; `None` on 404.
    pub async fn get_by_id(&self, query: &Query, id: Uuid) -> Result<Option<Row>, UpstreamError> {
        let query = query.clone().key(id);
        query
            .validate()
            .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
        let url = self.url_for(&query.to_relative_url())?;
        let result = self
            .execute(Call {
                method: Method::GET,
                url,
                label: query.entity_set().to_string(),
                body: None,
                page_size: None,
                annotations: true,
                if_match_any: false,
            })
            .await;
        match result {
            Ok(reply) => match serde_json::from_slice::<Value>(&reply.body) {
                Ok(Value::Object(row)) => Ok(Some(row)),
                _ => Err(UpstreamError::BadResponse(
                    "entity body is not a JSON object".to_string(),
                )),
            },
            Err(UpstreamError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST set` and the new row's id from `OData-EntityId`.
    pub async fn create(
        &self,
        entity_set: &'static str,
        body: &Value,
    ) -> Result<Uuid, UpstreamError> {
        let url = self.url_for(entity_set)?;
        let reply = self
            .execute(Call {
                method: Method::POST,
                url,
                label: entity_set.to_string(),
                body: Some(body),
                page_size: None,
                annotations: false,
                if_match_any: false,
            })
            .await?;
        entity_id_from_headers(&reply.headers)
    }

    /// `PATCH set(id)` with `If-Match: *`, so a missing row is a 404 rather than an upsert-create.
    pub async fn update(
        &self,
        entity_set: &'static str,
        id: Uuid,
        body: &Value,
    ) -> Result<(), UpstreamError> {
        let url = self.url_for(&format!("{entity_set}({})", id.hyphenated()))?;
        self.execute(Call {
            method: Method::PATCH,
            url,
            label: entity_set.to_string(),
            body: Some(body),
            page_size: None,
            annotations: false,
            if_match_any: true,
        })
        .await?;
        Ok(())
    }

    /// GET of a path under the Web API root (metadata such as `EntityDefinitions(...)`), as JSON.
    /// The path is code-chosen; absolute URLs and `..` are refused.
    pub async fn get_json(&self, path: &str) -> Result<Value, UpstreamError> {
        if path.starts_with('/') || path.contains("://") || path.contains("..") {
            return Err(UpstreamError::InvalidRequest(
                "path must be relative to the Web API root".to_string(),
            ));
        }
        let url = self.url_for(path)?;
        let reply = self
            .execute(Call {
                method: Method::GET,
                url,
                label: "metadata".to_string(),
                body: None,
                page_size: None,
                annotations: false,
                if_match_any: false,
            })
            .await?;
        serde_json::from_slice(&reply.body)
            .map_err(|e| UpstreamError::BadResponse(format!("JSON body: {e}")))
    }

    fn url_for(&self, relative: &str) -> Result<Url, UpstreamError> {
        Url::parse(&format!("{}{relative}", self.inner.base))
            .map_err(|e| UpstreamError::InvalidRequest(format!("bad request URL: {e}")))
    }

    /// Sends `call`, retrying once after a 401 (fresh token) and once after a short 429.
    async fn execute(&self, call: Call<'_>) -> Result<Reply, UpstreamError> {
        let mut auth_retried = false;
        let mut throttle_retried = false;
        loop {
            let token = self.inner.tokens.token().await?;
            let (status, headers, body) = self.attempt(&call, &token).await?;
            if status.is_success() {
                return Ok(Reply { headers, body });
            }
            if status == StatusCode::UNAUTHORIZED && !auth_retried {
                auth_retried = true;
                self.inner.tokens.invalidate_token(&token).await;
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                let retry_after = parse_retry_after(&headers);
                match retry_after {
                    Some(wait)
                        if !throttle_retried && wait <= self.inner.max_inline_retry_after =>
                    {
                        throttle_retried = true;
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    _ => return Err(UpstreamError::Throttled { retry_after }),
                }
            }
            return Err(error_from_response(status, &body));
        }
    }

    /// One HTTP exchange under a limiter permit, body fully read, metrics recorded.
    async fn attempt(
        &self,
        call: &Call<'_>,
        token: &AccessToken,
    ) -> Result<(StatusCode, HeaderMap, bytes::Bytes), UpstreamError> {
        let started = Instant::now();
        crate::ops::upstream_calls::record();
        let result = tokio::time::timeout(self.inner.timeout, async {
            // Held until the body is read: Dataverse counts a request as concurrent until then.
            let _permit = self
                .inner
                .limiter
                .acquire()
                .await
                .map_err(|_| UpstreamError::Network("limiter closed".to_string()))?;
            let resp = self
                .request(call, token)?
                .send()
                .await
                .map_err(UpstreamError::from_reqwest)?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map_err(UpstreamError::from_reqwest)?;
            Ok::<_, UpstreamError>((status, headers, body))
        })
        .await
        .unwrap_or(Err(UpstreamError::Timeout));
        let status_label = match &result {
            Ok((s, _, _)) => s.as_u16().to_string(),
            Err(UpstreamError::Timeout) => "timeout".to_string(),
            Err(_) => "network".to_string(),
        };
        metrics::counter!(
            "upstream_requests_total",
            "entity_set" => call.label.clone(),
            "status" => status_label
        )
        .increment(1);
        metrics::histogram!(
            "upstream_request_duration_seconds",
            "entity_set" => call.label.clone()
        )
        .record(started.elapsed().as_secs_f64());
        result
    }

    fn request(
        &self,
        call: &Call<'_>,
        token: &AccessToken,
    ) -> Result<reqwest::RequestBuilder, UpstreamError> {
        let bearer =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                UpstreamError::BadResponse("token is not valid header text".to_string())
            })?;
        let mut rb = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone())
            .timeout(self.inner.timeout)
            .header(AUTHORIZATION, bearer)
            .header(ACCEPT, "application/json")
            .header("OData-MaxVersion", "4.0")
            .header("OData-Version", "4.0");
        if call.method == Method::GET {
            // Documented: defeats cached results for collection $expand.
            rb = rb.header("If-None-Match", "null");
        }
        if call.if_match_any {
            rb = rb.header("If-Match", "*");
        }
        if let Some(prefer) = prefer_header(call.page_size, call.annotations) {
            rb = rb.header("Prefer", prefer);
        }
        // An explicit id wins; else the partner request's (task-local); else a fresh one.
        let request_id = self
            .request_id
            .clone()
            .or_else(|| crate::ops::request_id::current().and_then(|id| header_request_id(&id)));
        match request_id {
            Some(id) => {
                rb = rb
                    .header("x-ms-client-request-id", id.clone())
                    .header("X-Request-Id", id);
            }
            None => rb = rb.header("x-ms-client-request-id", Uuid::new_v4().to_string()),
        }
        if let Some(body) = call.body {
            let bytes = serde_json::to_vec(body)
                .map_err(|e| UpstreamError::InvalidRequest(format!("body: {e}")))?;
            rb = rb
                .header(CONTENT_TYPE, "application/json; charset=utf-8")
                .body(bytes);
        }
        Ok(rb)
    }
}

/// `id` as a header value, if it is short visible ASCII (a partner chooses it: keep it bounded).
fn header_request_id(id: &str) -> Option<HeaderValue> {
    let ok = !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| HeaderValue::from_str(id).ok()).flatten()
}

/// `odata.maxpagesize=N,odata.include-annotations="…"` (RFC 7240 comma form).
fn prefer_header(page_size: Option<u32>, annotations: bool) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(n) = page_size {
        parts.push(format!("odata.maxpagesize={}", n.clamp(1, MAX_PAGE_SIZE)));
    }
    if annotations {
        parts.push(INCLUDE_ANNOTATIONS.to_string());
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// `Retry-After` in seconds (Dataverse sends delta-seconds; an HTTP-date is not honoured).
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// `{"error":{"code","message"}}` → (code, message); empty strings when the body has another shape.
fn parse_dataverse_error(body: &[u8]) -> (String, String) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    let field = |name: &str| {
        err.and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(MAX_ERROR_MESSAGE_CHARS)
            .collect::<String>()
    };
    (field("code"), field("message"))
}

fn error_from_response(status: StatusCode, body: &[u8]) -> UpstreamError {
    let (code, message) = parse_dataverse_error(body);
    match status.as_u16() {
        400 => UpstreamError::BadRequest { code, message },
        401 => UpstreamError::Unauthorized,
        403 => UpstreamError::Forbidden { code, message },
        404 => UpstreamError::NotFound { code, message },
        429 => UpstreamError::Throttled { retry_after: None },
        s @ (502..=504) => UpstreamError::Unavailable { status: s },
        s @ 500..=599 => {
            tracing::warn!(status = s, code = %code, "Dataverse server error");
            UpstreamError::ServerError { status: s, code }
        }
        s => UpstreamError::Rejected {
            status: s,
            code,
            message,
        },
    }
}

fn parse_page(body: &[u8]) -> Result<Page, UpstreamError> {
    let mut doc: serde_json::Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(UpstreamError::BadResponse(
                "collection body is not a JSON object".to_string(),
            ))
        }
    };
    let rows = match doc.remove("value") {
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::Object(row) => Ok(row),
                _ => Err(UpstreamError::BadResponse(
                    "row is not an object".to_string(),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(UpstreamError::BadResponse(
                "collection body without a value array".to_string(),
            ))
        }
    };
    let next_link = doc
        .get("@odata.nextLink")
        .and_then(Value::as_str)
        .map(str::to_string);
    let count = doc.get("@odata.count").and_then(Value::as_u64);
    Ok(Page {
        rows,
        next_link,
        count,
    })
}

/// The id in `OData-EntityId: [Org]/api/data/v9.2/set(<guid>)` (or `Location`).
fn entity_id_from_headers(headers: &HeaderMap) -> Result<Uuid, UpstreamError> {
    let value = headers
        .get("OData-EntityId")
        .or_else(|| headers.get(reqwest::header::LOCATION))
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| UpstreamError::BadResponse("create without OData-EntityId".to_string()))?;
    let inner = value
        .rsplit_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .ok_or_else(|| UpstreamError::BadResponse("OData-EntityId without a key".to_string()))?;
    Uuid::parse_str(inner)
        .map_err(|_| UpstreamError::BadResponse("OData-EntityId key is not a GUID".to_string()))
}

/// The entity-set segment of a Web API URL, for the metric label: `[a-z0-9_]` only, bounded.
fn entity_set_label(url: &Url) -> String {
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    let set: String = last
        .split('(')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    if set.is_empty() {
        "unknown".to_string()
    } else {
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::odata::Filter;
    use crate::upstream::secret::Secret;
    use crate::upstream::testutil::spawn_server;
    use crate::upstream::token::{ClientCredential, TokenConfig};
    use axum::body::Bytes as AxBytes;
    use axum::extract::{Request, State};
    use axum::http::{HeaderMap as AxHeaderMap, StatusCode as AxStatus};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use axum::{Json, Router};
    use std::collections::VecDeque;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    const SET: &str = "mshr_hcmjobpostingentities";

    /// A scripted answer: status, headers, body, delay before answering.
    struct Answer {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
        delay: Duration,
    }

    fn answer(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    struct Seen {
        method: String,
        uri: String,
        headers: AxHeaderMap,
        body: String,
    }

    #[derive(Default)]
    struct Mock {
        token_hits: AtomicUsize,
        data_hits: AtomicUsize,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
        script: Mutex<VecDeque<Answer>>,
        seen: Mutex<Vec<Seen>>,
    }

    async fn token(State(m): State<Arc<Mock>>) -> Json<Value> {
        let n = m.token_hits.fetch_add(1, Ordering::SeqCst) + 1;
        Json(
            serde_json::json!({"token_type":"Bearer","expires_in":3599,"access_token":format!("tok-{n}")}),
        )
    }

    async fn dataverse(State(m): State<Arc<Mock>>, req: Request) -> Response {
        m.data_hits.fetch_add(1, Ordering::SeqCst);
        let now = m.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        m.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_else(|_| AxBytes::new());
        m.seen.lock().expect("lock").push(Seen {
            method: parts.method.to_string(),
            uri: parts.uri.to_string(),
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let next = m.script.lock().expect("lock").pop_front();
        let a = next.unwrap_or_else(|| answer(200, serde_json::json!({"value": []})));
        if !a.delay.is_zero() {
            tokio::time::sleep(a.delay).await;
        }
        m.in_flight.fetch_sub(1, Ordering::SeqCst);
        let mut resp =
            (AxStatus::from_u16(a.status).unwrap_or(AxStatus::OK), a.body).into_response();
        for (k, v) in a.headers {
            resp.headers_mut()
                .insert(k, v.parse().expect("header value"));
        }
        resp
    }

    async fn start(
        script: Vec<Answer>,
        tweak: impl FnOnce(&mut DataverseConfig),
    ) -> (DataverseClient, Arc<Mock>, SocketAddr) {
        let mock = Arc::new(Mock::default());
        mock.script.lock().expect("lock").extend(script);
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .fallback(dataverse)
            .with_state(Arc::clone(&mock));
        let addr = spawn_server(app).await;
        let org = format!("http://{addr}");
        let tokens = TokenProvider::new(TokenConfig::for_dataverse(
            &org,
            "tenant-1",
            "client-1",
            &org,
            ClientCredential::Secret(Secret::new("s3cret")),
        ))
        .expect("tokens");
        let mut cfg = DataverseConfig::new(&org);
        tweak(&mut cfg);
        (
            DataverseClient::new(cfg, tokens).expect("client"),
            mock,
            addr,
        )
    }

    fn seen_header(m: &Mock, i: usize, name: &str) -> String {
        let seen = m.seen.lock().expect("lock");
        seen[i]
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("<missing>")
            .to_string()
    }

    fn dv_error(code: &str, message: &str) -> Value {
        serde_json::json!({"error": {"code": code, "message": message}})
    }

    #[tokio::test]
    async fn the_current_request_id_reaches_every_upstream_call() {
        let ok = || answer(200, serde_json::json!({"value": []}));
        let (client, mock, _) = start(vec![ok(), ok(), ok(), ok()], |_| {}).await;
        let q = Query::new(SET).select(&["mshr_title"]);
        crate::ops::request_id::scope(Some("partner-req-7".into()), async {
            client.get_page(&q, 5).await.expect("page");
            client.get_page(&q, 5).await.expect("page");
        })
        .await;
        // Not header-safe (too long, or not visible ASCII): a fresh id instead, never the text.
        for bad in ["x".repeat(129), "a b".to_string()] {
            crate::ops::request_id::scope(Some(bad), client.get_page(&q, 5))
                .await
                .expect("page");
        }
        assert_eq!(
            seen_header(&mock, 0, "x-ms-client-request-id"),
            "partner-req-7"
        );
        assert_eq!(
            seen_header(&mock, 1, "x-ms-client-request-id"),
            "partner-req-7"
        );
        assert_eq!(seen_header(&mock, 1, "x-request-id"), "partner-req-7");
        for i in [2, 3] {
            let id = seen_header(&mock, i, "x-ms-client-request-id");
            assert!(Uuid::parse_str(&id).is_ok(), "{id}");
        }
    }

    #[tokio::test]
    async fn get_page_sends_documented_headers_and_follows_next_link_verbatim() {
        let (client, mock, addr) = start(vec![], |_| {}).await;
        let next = format!(
            "http://{addr}/api/data/v9.2/{SET}?$select=mshr_title&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E"
        );
        mock.script.lock().expect("lock").extend([
            answer(
                200,
                serde_json::json!({"@odata.context":"x","@odata.count":3,
                    "value":[{"mshr_title":"A"},{"mshr_title":"B"}],"@odata.nextLink": next}),
            ),
            answer(200, serde_json::json!({"value":[{"mshr_title":"C"}]})),
        ]);
        let client = client.with_request_id("req-123");
        let q = Query::new(SET)
            .select(&["mshr_title"])
            .filter(Filter::eq("mshr_title", "R&D #1"))
            .count(true);
        let page = client.get_page(&q, 2).await.expect("page");
        assert_eq!(page.rows.len(), 2);
        assert_eq!(page.count, Some(3));
        assert_eq!(page.next_link.as_deref(), Some(next.as_str()));
        {
            let seen = mock.seen.lock().expect("lock");
            assert_eq!(seen[0].method, "GET");
            assert_eq!(
                seen[0].uri,
                format!("/api/data/v9.2/{}", q.to_relative_url())
            );
        }
        assert_eq!(seen_header(&mock, 0, "authorization"), "Bearer tok-1");
        assert_eq!(seen_header(&mock, 0, "accept"), "application/json");
        assert_eq!(seen_header(&mock, 0, "odata-maxversion"), "4.0");
        assert_eq!(seen_header(&mock, 0, "odata-version"), "4.0");
        assert_eq!(seen_header(&mock, 0, "if-none-match"), "null");
        assert_eq!(
            seen_header(&mock, 0, "prefer"),
            "odata.maxpagesize=2,odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname\""
        );
        assert_eq!(seen_header(&mock, 0, "x-ms-client-request-id"), "req-123");
        assert_eq!(seen_header(&mock, 0, "x-request-id"), "req-123");

        let page2 = client.get_next(&next, 2).await.expect("page 2");
        assert_eq!(page2.rows.len(), 1);
        assert_eq!(page2.next_link, None);
        let seen = mock.seen.lock().expect("lock");
        assert_eq!(
            seen[1].uri,
            next.strip_prefix(&format!("http://{addr}"))
                .expect("same origin")
        );
    }

    #[tokio::test]
    async fn get_next_refuses_foreign_links() {
        let (client, mock, addr) = start(vec![], |_| {}).await;
        for link in [
            "http://evil.example/api/data/v9.2/x?$skiptoken=1".to_string(),
            format!("https://{addr}/api/data/v9.2/x"),
            format!("http://{addr}/other/path"),
            "not a url".to_string(),
        ] {
            let err = client.get_next(&link, 10).await.expect_err("refused");
            assert!(
                matches!(err, UpstreamError::InvalidRequest(_)),
                "{link}: {err:?}"
            );
        }
        assert_eq!(mock.data_hits.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn unauthorized_invalidates_token_and_retries_once() {
        let (client, mock, _) = start(
            vec![
                answer(401, Value::Null),
                answer(200, serde_json::json!({"value":[]})),
            ],
            |_| {},
        )
        .await;
        client.get_page(&Query::new(SET), 10).await.expect("page");
        assert_eq!(mock.token_hits.load(Ordering::SeqCst), 2);
        assert_eq!(mock.data_hits.load(Ordering::SeqCst), 2);
        assert_eq!(seen_header(&mock, 1, "authorization"), "Bearer tok-2");

        // Twice in a row: exactly one retry, then Unauthorized.
        mock.script
            .lock()
            .expect("lock")
            .extend([answer(401, Value::Null), answer(401, Value::Null)]);
        let err = client
            .get_page(&Query::new(SET), 10)
            .await
            .expect_err("401");
        assert_eq!(err, UpstreamError::Unauthorized);
        assert_eq!(mock.data_hits.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn short_retry_after_is_honoured_once_long_one_is_returned() {
        let mut throttled = answer(429, dv_error("0x80072322", "Number of requests exceeded"));
        throttled.headers.push(("retry-after", "1".to_string()));
        let (client, mock, _) = start(vec![throttled], |_| {}).await;
        let t0 = Instant::now();
        client
            .get_page(&Query::new(SET), 10)
            .await
            .expect("retried");
        assert!(t0.elapsed() >= Duration::from_millis(900));
        assert_eq!(mock.data_hits.load(Ordering::SeqCst), 2);

        let mut long = answer(429, dv_error("0x80072322", "Number of requests exceeded"));
        long.headers.push(("retry-after", "30".to_string()));
        mock.script.lock().expect("lock").push_back(long);
        let err = client
            .get_page(&Query::new(SET), 10)
            .await
            .expect_err("429");
        assert_eq!(
            err,
            UpstreamError::Throttled {
                retry_after: Some(Duration::from_secs(30))
            }
        );
        assert_eq!(mock.data_hits.load(Ordering::SeqCst), 3);

        // A second short 429 after the retry is returned, not retried again.
        let mut a = answer(429, Value::Null);
        a.headers.push(("retry-after", "0".to_string()));
        let mut b = answer(429, Value::Null);
        b.headers.push(("retry-after", "0".to_string()));
        mock.script.lock().expect("lock").extend([a, b]);
        let err = client
            .get_page(&Query::new(SET), 10)
            .await
            .expect_err("429");
        assert!(matches!(err, UpstreamError::Throttled { .. }));
        assert_eq!(mock.data_hits.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn dataverse_errors_become_typed_variants() {
        let (client, _mock, _) = start(
            vec![
                answer(
                    403,
                    dv_error(
                        "0x80040220",
                        "Principal user is missing prvReadmshr privilege",
                    ),
                ),
                answer(400, dv_error("0x0", "Could not find a property named 'x'")),
                answer(503, Value::Null),
                answer(500, dv_error("0x80040216", "An unexpected error occurred.")),
                answer(412, dv_error("0x80060882", "version mismatch")),
                Answer {
                    status: 200,
                    headers: vec![],
                    body: "<html>".to_string(),
                    delay: Duration::ZERO,
                },
                answer(
                    404,
                    dv_error("0x80040217", "mshr_x With Id = 1 Does Not Exist"),
                ),
            ],
            |_| {},
        )
        .await;
        let q = Query::new(SET);
        assert_eq!(
            client.get_page(&q, 10).await.expect_err("403"),
            UpstreamError::Forbidden {
                code: "0x80040220".to_string(),
                message: "Principal user is missing prvReadmshr privilege".to_string()
            }
        );
        assert!(matches!(
            client.get_page(&q, 10).await.expect_err("400"),
            UpstreamError::BadRequest { code, .. } if code == "0x0"
        ));
        assert_eq!(
            client.get_page(&q, 10).await.expect_err("503"),
            UpstreamError::Unavailable { status: 503 }
        );
        assert_eq!(
            client.get_page(&q, 10).await.expect_err("500"),
            UpstreamError::ServerError {
                status: 500,
                code: "0x80040216".to_string()
            }
        );
        assert!(matches!(
            client.get_page(&q, 10).await.expect_err("412"),
            UpstreamError::Rejected { status: 412, .. }
        ));
        assert!(matches!(
            client.get_page(&q, 10).await.expect_err("html"),
            UpstreamError::BadResponse(_)
        ));
        assert_eq!(
            client
                .get_by_id(&q, Uuid::nil())
                .await
                .expect("404 is None"),
            None
        );
    }

    #[tokio::test]
    async fn create_parses_entity_id_and_update_uses_if_match() {
        let id = Uuid::parse_str("7eb682f1-ca75-e511-80d4-00155d2a68d1").expect("uuid");
        let (client, mock, addr) = start(vec![], |_| {}).await;
        let mut created = answer(204, Value::Null);
        created.body = String::new();
        created.headers.push((
            "odata-entityid",
            format!("http://{addr}/api/data/v9.2/{SET}({id})"),
        ));
        mock.script
            .lock()
            .expect("lock")
            .extend([created, answer(204, Value::Null)]);
        let body = serde_json::json!({"mshr_title": "Nurse"});
        assert_eq!(client.create(SET, &body).await.expect("create"), id);
        client.update(SET, id, &body).await.expect("update");
        let seen = mock.seen.lock().expect("lock");
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].uri, format!("/api/data/v9.2/{SET}"));
        assert_eq!(seen[0].body, body.to_string());
        assert!(seen[0].headers["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("application/json"));
        assert_eq!(seen[1].method, "PATCH");
        assert_eq!(seen[1].uri, format!("/api/data/v9.2/{SET}({id})"));
        assert_eq!(seen[1].headers["if-match"], "*");
    }

    #[tokio::test]
    async fn slow_upstream_times_out() {
        let mut slow = answer(200, serde_json::json!({"value": []}));
        slow.delay = Duration::from_secs(2);
        let (client, _mock, _) =
            start(vec![slow], |c| c.timeout = Duration::from_millis(200)).await;
        let err = client
            .get_page(&Query::new(SET), 10)
            .await
            .expect_err("timeout");
        assert_eq!(err, UpstreamError::Timeout);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn limiter_caps_requests_in_flight() {
        let script = (0..12)
            .map(|_| {
                let mut a = answer(200, serde_json::json!({"value": []}));
                a.delay = Duration::from_millis(50);
                a
            })
            .collect();
        let (client, mock, _) = start(script, |c| c.max_concurrency = 3).await;
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let c = client.clone();
                tokio::spawn(async move { c.get_page(&Query::new(SET), 10).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("join").expect("page");
        }
        assert_eq!(mock.data_hits.load(Ordering::SeqCst), 12);
        assert!(mock.max_in_flight.load(Ordering::SeqCst) <= 3);
    }

    #[tokio::test]
    async fn invalid_queries_and_paths_never_reach_the_wire() {
        let (client, mock, _) = start(vec![], |_| {}).await;
        let q = Query::new(SET).filter(Filter::eq("mshr_amount", f64::INFINITY));
        assert!(matches!(
            client.get_page(&q, 10).await.expect_err("invalid"),
            UpstreamError::InvalidRequest(_)
        ));
        for p in ["/etc/passwd", "http://x/y", "../secret"] {
            assert!(matches!(
                client.get_json(p).await.expect_err("bad path"),
                UpstreamError::InvalidRequest(_)
            ));
        }
        assert_eq!(mock.data_hits.load(Ordering::SeqCst), 0);
        let v = client
            .get_json("EntityDefinitions(LogicalName='mshr_x')")
            .await
            .expect("json");
        assert_eq!(v, serde_json::json!({"value": []}));
    }

    #[test]
    fn helpers_parse_wire_values() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("1.5"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(1500)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&h), None);
        let url =
            Url::parse("https://o.example/api/data/v9.2/mshr_xs(1)?$skiptoken=a").expect("url");
        assert_eq!(entity_set_label(&url), "mshr_xs");
        assert_eq!(
            prefer_header(Some(9000), false).as_deref(),
            Some("odata.maxpagesize=5000")
        );
        assert_eq!(prefer_header(None, false), None);
    }
}
