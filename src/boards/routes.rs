//! The public routes under `/boards`: no token accepted, no cookie set, a per-address rate limit
//! per board, CORS without credentials, `Cache-Control` + weak `ETag`/304 + `Vary`. Answers come
//! from the snapshot only (no Dataverse call).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{feeds, html, json, Board, Boards, ListFilter, Rendered};
use crate::problem::ApiError;
use crate::resolve::lang::Lang;

const CACHE_CONTROL: &str = "public, max-age=60, stale-while-revalidate=300";
/// The longest `q`, `department` or `location` a board accepts.
const MAX_PARAM_CHARS: usize = 200;

/// The `/boards` routes, with their own state (`S` is the outer router's).
pub fn router<S: Clone + Send + Sync + 'static>(boards: Arc<Boards>) -> Router<S> {
    Router::new()
        .route("/boards/{board}", get(board_page))
        .route("/boards/{board}/jobs", get(list))
        .route("/boards/{board}/jobs/{id}", get(detail))
        .route("/boards/{board}/sitemap.xml", get(sitemap))
        .route("/boards/{board}/feed.json", get(feed))
        .layer(axum::middleware::from_fn_with_state(boards.clone(), guard))
        .with_state(boards)
}

/// Whether the caller asked for HTML explicitly (browsers do; `*/*` alone gets JSON).
fn wants_html(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let q_of = |want: &[&str]| {
        accept
            .split(',')
            .filter_map(|part| {
                let mut it = part.trim().split(';');
                let range = it.next()?.trim().to_ascii_lowercase();
                let q = it
                    .find_map(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .and_then(|v| v.parse::<f32>().ok())
                    })
                    .unwrap_or(1.0);
                want.contains(&range.as_str()).then_some(q)
            })
            .fold(None, |best: Option<f32>, q| {
                Some(best.map_or(q, |b| b.max(q)))
            })
    };
    match q_of(&["text/html", "application/xhtml+xml"]) {
        Some(h) if h > 0.0 => q_of(&["application/json"]).is_none_or(|j| h >= j),
        _ => false,
    }
}

fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

/// No token, the board exists, the address within its allowance, CORS; then the route.
async fn guard(State(boards): State<Arc<Boards>>, req: Request, next: Next) -> Response {
    let id = req
        .uri()
        .path()
        .strip_prefix("/boards/")
        .and_then(|r| r.split('/').next())
        .unwrap_or("")
        .to_string();
    let html = wants_html(req.headers()) || req.uri().path() == format!("/boards/{id}");
    if req.headers().contains_key(header::AUTHORIZATION) {
        // Public routes: a token sent here would only end up in shared caches and logs.
        return ApiError::BadRequest("job boards are public: send no Authorization header".into())
            .into_response();
    }
    let Some(board) = boards.get(&id) else {
        return not_found(None, Lang::EnUs, html, "no such board");
    };
    let peer = crate::client_addr::client_ip(req.extensions());
    if let Some(ip) = peer {
        if let Err(retry_after) = board.limit(ip) {
            let mut resp = ApiError::RateLimited {
                retry_after,
                limit: u64::from(board.config.rate_limit_per_minute),
            }
            .into_response();
            cors(board, req.headers(), resp.headers_mut());
            return resp;
        }
    }
    if req.method() == Method::OPTIONS {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("accept, accept-language, if-none-match"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        cors(board, req.headers(), h);
        return resp;
    }
    let origin_headers = req.headers().clone();
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.remove(header::SET_COOKIE);
    cors(board, &origin_headers, h);
    resp
}

/// `Access-Control-Allow-Origin` for an allowed origin (never with credentials).
fn cors(board: &Board, req: &HeaderMap, h: &mut HeaderMap) {
    let origins = &board.config.cors_origins;
    if origins.iter().any(|o| o == "*") {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else {
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        let origin = req.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        if let Some(o) = origin.filter(|o| origins.iter().any(|a| a.trim_end_matches('/') == *o)) {
            if let Ok(v) = HeaderValue::from_str(o) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            }
        }
    }
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag, Content-Language, Retry-After"),
    );
}

/// A 404: the page for browsers, else a problem. Which one depends on `Accept` (and the page's
/// words on `Accept-Language`), so a cache that keeps 404s (Varnish and Fastly do by default)
/// must not hand one client's to another; and it is not stored at all: a job that opens is
/// shown at once, and a problem's `type` may follow the request's `Host` (no `public_url`).
fn not_found(board: Option<&Board>, lang: Lang, html: bool, detail: &str) -> Response {
    let mut resp = if html {
        let mut resp = (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html::gone_page(board, lang),
        )
            .into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(lang.tag()),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
        resp
    } else {
        ApiError::NotFound(detail.into()).into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Language"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// What a board answer's body varies on, besides `Host` while links follow it.
#[derive(Clone, Copy)]
enum Vary {
    Language,
    TypeAndLanguage,
    Encoding,
}

impl Vary {
    fn header(self, host: bool) -> &'static str {
        match (self, host) {
            (Vary::Language, false) => "Accept-Language",
            (Vary::Language, true) => "Accept-Language, Host",
            (Vary::TypeAndLanguage, false) => "Accept, Accept-Language",
            (Vary::TypeAndLanguage, true) => "Accept, Accept-Language, Host",
            (Vary::Encoding, false) => "Accept-Encoding",
            (Vary::Encoding, true) => "Accept-Encoding, Host",
        }
    }
}

/// A 200 with the rendered body and its (weak) ETag, or 304 when the caller has it.
/// Without `gateway.public_url` the body's absolute links come from the request's `Host`, so
/// `Vary` names it too: a shared cache keying on the path alone would otherwise keep a page whose
/// links point at whatever host one caller sent, and hand it to everyone.
fn respond(
    req: &HeaderMap,
    content_type: &'static str,
    r: &Rendered,
    vary: Vary,
    lang: Option<Lang>,
    public: &Public,
) -> Response {
    let mut resp = if crate::etag::if_none_match(req, &r.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut resp = r.body.clone().into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        resp
    };
    let h = resp.headers_mut();
    if let Some(v) = crate::etag::weak(&r.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static(vary.header(!public.0.is_configured())),
    );
    if let Some(l) = lang {
        h.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(l.tag()));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if content_type.starts_with("text/html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
    }
    resp
}

/// What a board page may load: its own inline `<style>` and nothing else (no script runs; the
/// JSON-LD block is data); its search form submits to itself. Framing stays allowed: career sites
/// embed boards.
const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'";

/// Query parameters: `department`, `location`, `q`, `content`; others (campaign tags) ignored.
fn params(raw: Option<&str>) -> Result<(ListFilter, bool), ApiError> {
    let mut f = ListFilter::default();
    let mut content = false;
    for (k, v) in crate::query::pairs(raw.unwrap_or("")) {
        if !matches!(&*k, "department" | "location" | "q" | "content") {
            continue;
        }
        // Read lossily, `q=%ff` would search for U+FFFD and silently show nothing.
        let v = crate::query::value(&k, v)?.trim().to_string();
        let slot = match &*k {
            "department" => &mut f.department,
            "location" => &mut f.location,
            "q" => &mut f.q,
            "content" => {
                content = match v.as_str() {
                    "true" => true,
                    "false" | "" => false,
                    _ => return Err(ApiError::param("content", "`true` or `false`")),
                };
                continue;
            }
            _ => continue,
        };
        if v.chars().count() > MAX_PARAM_CHARS {
            return Err(ApiError::param(
                &k,
                format!("at most {MAX_PARAM_CHARS} characters"),
            ));
        }
        *slot = Some(v).filter(|v| !v.is_empty());
    }
    Ok((f, content))
}

/// The board's snapshot view, or 503 while the cold build runs.
fn ready(boards: &Boards) -> Result<Arc<super::snapshot::Jobs>, ApiError> {
    let snap = boards.snapshot();
    if !snap.is_ready() {
        return Err(ApiError::UpstreamUnavailable(
            "the board is being built".into(),
        ));
    }
    Ok(snap.jobs())
}

/// The board (the guard already answered 404 for an unknown one; kept as a second check) and its
/// snapshot (503 while the first one is built): every board handler's opening.
fn open<'b>(
    boards: &'b Boards,
    id: &str,
    html: bool,
) -> Result<(&'b Board, Arc<super::snapshot::Jobs>), Box<Response>> {
    let board = boards
        .get(id)
        .ok_or_else(|| Box::new(not_found(None, Lang::EnUs, html, "no such board")))?;
    let jobs = ready(boards).map_err(|e| Box::new(e.into_response()))?;
    Ok((board, jobs))
}

/// The absolute base of links (`gateway.public_url`, else the request's `Host`).
fn base(headers: &HeaderMap, public: &Public) -> String {
    public.0.resolve(headers)
}

type Public = axum::Extension<crate::public_url::PublicUrl>;

async fn board_page(
    State(boards): State<Arc<Boards>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    public: Public,
    headers: HeaderMap,
) -> Response {
    let (board, jobs) = match open(&boards, &id, true) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let (f, _) = match params(raw.as_deref()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let lang = board.lang(accept_language(&headers));
    let base = base(&headers, &public);
    let key = format!("{}|page|{id}|{lang:?}|{base}|{f:?}", jobs.version);
    let r = boards.rendered(key, || {
        let all = board.jobs(&jobs);
        let shown: Vec<_> = all.iter().filter(|e| f.matches(&e.job)).cloned().collect();
        html::board_page(board, &base, lang, &all, &shown, &f).into_bytes()
    });
    respond(
        &headers,
        "text/html; charset=utf-8",
        &r,
        Vary::Language,
        Some(lang),
        &public,
    )
}

async fn list(
    State(boards): State<Arc<Boards>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    public: Public,
    headers: HeaderMap,
) -> Response {
    let (board, jobs) = match open(&boards, &id, false) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let (f, content) = match params(raw.as_deref()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let lang = board.lang(accept_language(&headers));
    let base = base(&headers, &public);
    let key = format!("{}|list|{id}|{lang:?}|{base}|{f:?}|{content}", jobs.version);
    let r = boards.rendered(key, || {
        let shown: Vec<_> = board
            .jobs(&jobs)
            .into_iter()
            .filter(|e| f.matches(&e.job))
            .collect();
        json::list(board, &base, &shown, content, lang)
            .to_string()
            .into_bytes()
    });
    respond(
        &headers,
        "application/json",
        &r,
        Vary::Language,
        Some(lang),
        &public,
    )
}

async fn detail(
    State(boards): State<Arc<Boards>>,
    Path((id, job)): Path<(String, String)>,
    public: Public,
    headers: HeaderMap,
) -> Response {
    let html = wants_html(&headers);
    let (board, jobs) = match open(&boards, &id, html) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let lang = board.lang(accept_language(&headers));
    let e = match board.job(&jobs, &job) {
        Ok(e) => e,
        // Closed, never active, or another company's: gone for this board (Google: expired → 404).
        Err(why) => {
            let detail = match why {
                super::NoJob::Missing => "no open position with this id on this board",
                super::NoJob::Ambiguous => {
                    "more than one open position on this board has this number: use its id"
                }
            };
            return not_found(Some(board), lang, html, detail);
        }
    };
    let base = base(&headers, &public);
    let key = format!(
        "{}|job|{id}|{lang:?}|{base}|{}|{html}",
        jobs.version, e.job.id
    );
    if html {
        let r = boards.rendered(key, || html::job_page(board, &base, lang, &e).into_bytes());
        respond(
            &headers,
            "text/html; charset=utf-8",
            &r,
            Vary::TypeAndLanguage,
            Some(lang),
            &public,
        )
    } else {
        let r = boards.rendered(key, || {
            json::job(board, &base, &e, true, lang)
                .to_string()
                .into_bytes()
        });
        respond(
            &headers,
            "application/json",
            &r,
            Vary::TypeAndLanguage,
            Some(lang),
            &public,
        )
    }
}

async fn sitemap(
    State(boards): State<Arc<Boards>>,
    Path(id): Path<String>,
    public: Public,
    headers: HeaderMap,
) -> Response {
    let (board, jobs) = match open(&boards, &id, false) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let base = base(&headers, &public);
    let key = format!("{}|sitemap|{id}|{base}", jobs.version);
    let r = boards.rendered(key, || {
        feeds::sitemap(board, &base, &board.jobs(&jobs)).into_bytes()
    });
    respond(
        &headers,
        "application/xml; charset=utf-8",
        &r,
        Vary::Encoding,
        None,
        &public,
    )
}

async fn feed(
    State(boards): State<Arc<Boards>>,
    Path(id): Path<String>,
    public: Public,
    headers: HeaderMap,
) -> Response {
    let (board, jobs) = match open(&boards, &id, false) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let base = base(&headers, &public);
    let key = format!("{}|feed|{id}|{base}", jobs.version);
    let r = boards.rendered(key, || {
        feeds::json_feed(board, &base, &board.jobs(&jobs))
            .to_string()
            .into_bytes()
    });
    respond(
        &headers,
        "application/feed+json",
        &r,
        Vary::Encoding,
        None,
        &public,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).expect("value"));
        h
    }

    #[test]
    fn html_only_when_asked_for() {
        assert!(wants_html(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!wants_html(&accept("*/*")));
        assert!(!wants_html(&accept("application/json")));
        assert!(!wants_html(&accept("text/html;q=0.5, application/json")));
        assert!(!wants_html(&HeaderMap::new()));
    }
}
