//! The Dataverse Web API client: typed calls (pages by nextLink, one row, create/update, metadata)
//! turned into [`UpstreamRequest`]s with Dataverse's documented headers and sent through the
//! resilience stack (`stack/`: retry, breaker, token, throttle pause, fair concurrency cap, metrics,
//! timeout). Reads are idempotent; writes are not unless the caller says so
//! ([`DataverseClient::idempotent_writes`]), so a write is never re-sent blindly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;
use tower::ServiceExt;
use url::Url;
use uuid::Uuid;

use super::error::UpstreamError;
use super::odata::{Filter, Literal, Query};
use super::stack::{Reply, ResilienceConfig, Stack, UpstreamRequest};
use super::token::TokenProvider;
use super::wire::{
    entity_id_from_headers, entity_set_label, parse_entity, parse_page, prefer_header,
};

/// A Dataverse row as returned (values plus `@…` annotations, in wire order).
pub type Row = serde_json::Map<String, Value>;

#[derive(Debug, Clone)]
pub struct DataverseConfig {
    /// Environment URL, e.g. `https://contoso.crm4.dynamics.com`.
    pub org_url: String,
    pub api_version: String,
    /// How long a call may take, waits and retries included, when no partner deadline applies
    /// (readiness, cache warm-up).
    pub default_deadline: Duration,
    pub resilience: ResilienceConfig,
    /// CA certificates trusted beside the system's (`[dataverse] ca_file`).
    pub extra_roots: Vec<reqwest::Certificate>,
}

impl DataverseConfig {
    pub fn new(org_url: &str) -> Self {
        Self {
            org_url: org_url.trim_end_matches('/').to_string(),
            api_version: "v9.2".to_string(),
            default_deadline: Duration::from_secs(30),
            resilience: ResilienceConfig::default(),
            extra_roots: Vec::new(),
        }
    }
}

/// One page of a collection read, its rows as `R` (by default `Value` maps).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<R = Row> {
    pub rows: Vec<R>,
    /// `@odata.nextLink`, to pass verbatim to [`DataverseClient::get_next`].
    pub next_link: Option<String>,
    /// `@odata.count` when `$count=true` was asked (capped at 5,000 by Dataverse).
    pub count: Option<u64>,
}

/// A collection page's body as received, for a caller that reads it into typed rows borrowing
/// from it ([`RawPage::parse`]) instead of `Value` maps.
#[derive(Debug, Clone)]
pub struct RawPage(Bytes, u32);

impl RawPage {
    /// A body read elsewhere (tests and benchmarks build pages without an upstream).
    pub fn new(body: Bytes) -> Self {
        Self(body, 0)
    }

    /// The body's length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The page with its rows as `R` (members `R` does not name are skipped), room for the
    /// page size asked made at once (rows of a wide table are a kilobyte or more each; growing the
    /// list by doubling copied them again and again).
    pub fn parse<'a, R: serde::Deserialize<'a>>(&'a self) -> Result<Page<R>, UpstreamError> {
        parse_page(&self.0, self.1)
    }
}

/// One row's body as received: an entity read, or a filtered collection read of at most one row.
#[derive(Debug, Clone)]
pub enum RawRow {
    Entity(Bytes),
    First(RawPage),
}

impl RawRow {
    /// The row as `R`; `None` when the collection read found none.
    pub fn parse<'a, R: serde::Deserialize<'a>>(&'a self) -> Result<Option<R>, UpstreamError> {
        match self {
            RawRow::Entity(body) => parse_entity(body).map(Some),
            RawRow::First(page) => Ok(page.parse::<R>()?.rows.into_iter().next()),
        }
    }
}

/// Cheap to clone; clones share the HTTP pool, the token provider and the resilience state.
#[derive(Clone)]
pub struct DataverseClient {
    inner: Arc<ClientInner>,
    /// Writes through this handle may be re-sent (the caller made them safe to repeat).
    idempotent_writes: bool,
}

impl std::fmt::Debug for DataverseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataverseClient")
            .field("base", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

struct ClientInner {
    /// `{org}/api/data/v9.2/`
    base: Url,
    tokens: TokenProvider,
    stack: Stack,
    default_deadline: Duration,
}

/// What one logical call sends.
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

impl DataverseClient {
    pub fn new(cfg: DataverseConfig, tokens: TokenProvider) -> Result<Self, UpstreamError> {
        // Keep as many idle connections as calls may be in flight (the cap), so a burst reuses
        // warm TLS connections instead of opening new ones; HTTP/2 is negotiated by ALPN where
        // Dataverse offers it (one connection then carries every call).
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(cfg.resilience.max_concurrency)
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .connect_timeout(
                cfg.resilience
                    .attempt_timeout
                    .min(std::time::Duration::from_secs(10)),
            )
            .tcp_nodelay(true)
            // The Web API answers where it is asked; a redirect is an error to report, not to
            // follow with the bearer token (and following costs a URL parse per call).
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_merge(cfg.extra_roots.iter().cloned())
            .build()
            .map_err(|e| UpstreamError::Config(format!("http client: {e}")))?;
        Self::with_http(cfg, tokens, http)
    }

    fn with_http(
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
                base,
                stack: Stack::new(&cfg.resilience, tokens.clone(), http),
                tokens,
                default_deadline: cfg.default_deadline,
            }),
            idempotent_writes: false,
        })
    }

    /// A handle whose writes the retry layer may re-send like reads. Only for writes made safe to
    /// repeat (a PATCH with `If-Match` on a known ETag, a create whose key the caller chose): a
    /// write plan decides, never this client.
    pub fn idempotent_writes(&self) -> Self {
        Self {
            idempotent_writes: true,
            ..self.clone()
        }
    }

    /// The token provider (readiness asks whether a valid token is cached).
    pub fn tokens(&self) -> &TokenProvider {
        &self.inner.tokens
    }

    /// The resilience state (breaker, throttle pause, queue), for readiness and metrics.
    pub fn stack(&self) -> &Stack {
        &self.inner.stack
    }

    /// First page of `query`, at most `page_size` rows (`Prefer: odata.maxpagesize`).
    pub async fn get_page(&self, query: &Query, page_size: u32) -> Result<Page, UpstreamError> {
        self.get_page_raw(query, page_size).await?.parse()
    }

    /// [`Self::get_page`], unparsed.
    pub async fn get_page_raw(
        &self,
        query: &Query,
        page_size: u32,
    ) -> Result<RawPage, UpstreamError> {
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
        Ok(RawPage(reply.body, page_size))
    }

    /// The page behind a nextLink, requested verbatim (with the same `page_size` as the first page).
    /// Refuses links that leave the configured org's Web API.
    pub async fn get_next(&self, next_link: &str, page_size: u32) -> Result<Page, UpstreamError> {
        self.get_next_raw(next_link, page_size).await?.parse()
    }

    /// [`Self::get_next`], unparsed.
    pub async fn get_next_raw(
        &self,
        next_link: &str,
        page_size: u32,
    ) -> Result<RawPage, UpstreamError> {
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
        Ok(RawPage(reply.body, page_size))
    }

    /// One row by primary key with `query`'s `$select`/`$expand`; `None` on 404.
    pub async fn get_by_id(&self, query: &Query, id: Uuid) -> Result<Option<Row>, UpstreamError> {
        self.get_by_id_raw(query, id)
            .await?
            .map_or(Ok(None), |r| r.parse())
    }

    /// [`Self::get_by_id`], unparsed.
    pub async fn get_by_id_raw(
        &self,
        query: &Query,
        id: Uuid,
    ) -> Result<Option<RawRow>, UpstreamError> {
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
            Ok(reply) => Ok(Some(RawRow::Entity(reply.body))),
            Err(UpstreamError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One row by primary key `pk`, only if it also matches `scope` (the partner's companies): a
    /// filtered collection read, so a row outside the scope is never fetched and costs exactly
    /// what a missing one does (same request, same empty answer). Without a scope, `get_by_id`.
    /// Unparsed (`Some` may still hold no row: see [`RawRow::parse`]).
    pub async fn get_by_id_within_raw(
        &self,
        query: &Query,
        pk: &'static str,
        id: Uuid,
        scope: Option<Filter>,
    ) -> Result<Option<RawRow>, UpstreamError> {
        let Some(scope) = scope else {
            return self.get_by_id_raw(query, id).await;
        };
        let q = query
            .clone()
            .filter(Filter::eq(pk, Literal::Guid(id)))
            .filter(scope);
        Ok(Some(RawRow::First(self.get_page_raw(&q, 1).await?)))
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

    /// `DELETE set(id)`. Deleting is idempotent, so callers may retry it; a 404 means it is gone.
    pub async fn delete(&self, entity_set: &str, id: Uuid) -> Result<(), UpstreamError> {
        let url = self.url_for(&format!("{entity_set}({})", id.hyphenated()))?;
        self.execute(Call {
            method: Method::DELETE,
            url,
            label: entity_set.to_string(),
            body: None,
            page_size: None,
            annotations: false,
            if_match_any: false,
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

    /// Sends `call` through the stack, inside the partner request's deadline (else the default).
    async fn execute(&self, call: Call<'_>) -> Result<Reply, UpstreamError> {
        let scope = crate::ops::call_scope::current();
        let deadline = scope
            .deadline
            .unwrap_or_else(|| Instant::now() + self.inner.default_deadline);
        let idempotent = call.method == Method::GET || self.idempotent_writes;
        let body = match call.body {
            Some(v) => {
                Some(Bytes::from(serde_json::to_vec(v).map_err(|e| {
                    UpstreamError::InvalidRequest(format!("body: {e}"))
                })?))
            }
            None => None,
        };
        let req = UpstreamRequest {
            priority: super::pacing::Priority::current(scope.caller.is_some()),
            headers: self.headers(&call, body.is_some()),
            method: call.method,
            url: call.url,
            label: call.label.into(),
            body,
            idempotent,
            deadline,
            caller: scope.caller,
        };
        self.inner.stack.service.clone().oneshot(req).await
    }

    fn headers(&self, call: &Call<'_>, has_body: bool) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static("application/json"));
        h.insert("OData-MaxVersion", HeaderValue::from_static("4.0"));
        h.insert("OData-Version", HeaderValue::from_static("4.0"));
        if call.method == Method::GET {
            // Documented: defeats cached results for collection $expand.
            h.insert("If-None-Match", HeaderValue::from_static("null"));
        }
        if call.if_match_any {
            h.insert("If-Match", HeaderValue::from_static("*"));
        }
        if let Some(prefer) = prefer_header(call.page_size, call.annotations)
            .and_then(|p| HeaderValue::from_str(&p).ok())
        {
            h.insert("Prefer", prefer);
        }
        if has_body {
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
        }
        h
    }
}

#[cfg(test)]
mod tests;
