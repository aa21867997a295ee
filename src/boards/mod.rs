//! Job boards (`[[boards]]`): public, read-only, cacheable lists of a board's companies' active
//! recruiting requests, as JSON, HTML pages with schema.org `JobPosting` data, a sitemap and a
//! JSON Feed, for career sites and search engines. Served from an in-memory snapshot the change
//! scanner's events keep current (`snapshot.rs`): a page view costs no Dataverse call. What a board
//! may show is one allow-list (`fields.rs`); HR's description goes through `sanitize.rs`.

pub mod config;
pub mod feeds;
pub mod fields;
pub mod html;
pub mod json;
pub mod jsonld;
pub mod routes;
pub mod sanitize;
pub mod snapshot;

use std::collections::HashSet;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::resolve::lang::Lang;
pub use config::BoardConfig;
use fields::PublicJob;
use snapshot::{Entry, Jobs, Snapshot};

/// One configured board with its own per-address rate limiter.
pub struct Board {
    pub config: BoardConfig,
    langs: Vec<Lang>,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

/// What a list is narrowed by (`department`, `location`: exact, ignoring case; `q`: contained in
/// the title, job, department, location, description or skills).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub department: Option<String>,
    pub location: Option<String>,
    pub q: Option<String>,
}

impl ListFilter {
    fn matches(&self, j: &PublicJob) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref()
                .is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        if !same(&self.department, j.department.as_deref())
            || !same(&self.location, j.location.as_ref().and_then(|l| l.label()))
        {
            return false;
        }
        let Some(q) = self.q.as_deref().map(str::to_lowercase) else {
            return true;
        };
        let found = [
            j.title.as_deref(),
            j.job.as_deref(),
            j.department.as_deref(),
            j.location.as_ref().and_then(|l| l.label()),
            j.description_text.as_deref(),
        ]
        .into_iter()
        .flatten()
        .chain(j.skills.iter().map(String::as_str))
        .any(|s| s.to_lowercase().contains(&q));
        found
    }
}

impl Board {
    fn new(config: BoardConfig) -> Self {
        let per_minute = NonZeroU32::new(config.rate_limit_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            langs: config.langs(),
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            config,
        }
    }

    pub fn path(&self) -> String {
        format!("/boards/{}", self.config.id)
    }

    pub fn url(&self, base: &str) -> String {
        format!("{base}{}", self.path())
    }

    pub fn job_path(&self, j: &PublicJob) -> String {
        format!("/boards/{}/jobs/{}", self.config.id, j.id)
    }

    pub fn job_url(&self, base: &str, j: &PublicJob) -> String {
        format!("{base}{}", self.job_path(j))
    }

    /// The partner ATS's application URL for `j`.
    pub fn apply_url(&self, j: &PublicJob) -> String {
        let number: String =
            form_urlencoded::byte_serialize(j.number.as_deref().unwrap_or("").as_bytes()).collect();
        self.config
            .apply_url
            .replace("{number}", &number)
            .replace("{id}", &j.id.to_string())
    }

    pub fn default_lang(&self) -> Lang {
        self.langs.first().copied().unwrap_or(Lang::EnUs)
    }

    pub fn langs(&self) -> &[Lang] {
        &self.langs
    }

    /// The board's language the caller prefers (`Accept-Language` q-values), else its default.
    pub fn lang(&self, accept_language: Option<&str>) -> Lang {
        Lang::negotiate_among(accept_language, &self.langs).unwrap_or(self.default_lang())
    }

    /// The seconds to wait when `ip` has used its allowance.
    pub fn limit(&self, ip: IpAddr) -> Result<(), u64> {
        use governor::clock::{Clock, DefaultClock};
        if self.limiter.len() > 100_000 {
            // Addresses that have been quiet long enough hold a full allowance again.
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&ip).map_err(|not_until| {
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                .max(1)
        })
    }

    /// The board's active jobs (its companies only), newest first.
    pub fn jobs(&self, jobs: &Jobs) -> Vec<Arc<Entry>> {
        let mut out: Vec<Arc<Entry>> = jobs
            .by_id
            .values()
            .filter(|e| e.job.is_active() && self.config.has_company(&e.job.company))
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            b.posted_at
                .cmp(&a.posted_at)
                .then_with(|| a.job.number.cmp(&b.job.number))
        });
        out
    }

    /// One active job of this board by id or number.
    pub fn job(&self, jobs: &Jobs, id: &str) -> Option<Arc<Entry>> {
        let found = match uuid::Uuid::parse_str(id) {
            Ok(u) => jobs.by_id.get(&u).cloned(),
            Err(_) => jobs
                .by_id
                .values()
                .find(|e| {
                    e.job
                        .number
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(id))
                })
                .cloned(),
        };
        found.filter(|e| e.job.is_active() && self.config.has_company(&e.job.company))
    }
}

/// A rendered answer and its strong ETag (a hash of the body).
pub struct Rendered {
    pub body: bytes::Bytes,
    pub etag: String,
}

impl Rendered {
    fn new(body: Vec<u8>) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(&body);
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        Self {
            body: body.into(),
            etag: format!("\"{hex}\""),
        }
    }
}

/// Rendered answers kept at most (bytes); keys carry the snapshot version, so a change is never
/// served stale and old versions age out.
const RENDERED_MAX_BYTES: u64 = 32 * 1024 * 1024;

/// Every board, the snapshot they share and their rendered answers.
pub struct Boards {
    boards: Vec<Board>,
    snapshot: Arc<Snapshot>,
    rendered: moka::sync::Cache<String, Arc<Rendered>>,
}

impl Boards {
    /// The configured boards (`Err((key, problem))` when one is invalid).
    pub fn new(configs: &[BoardConfig]) -> Result<Self, (String, String)> {
        config::validate(configs)?;
        Ok(Self {
            boards: configs.iter().cloned().map(Board::new).collect(),
            snapshot: Arc::new(Snapshot::default()),
            rendered: moka::sync::Cache::builder()
                .max_capacity(RENDERED_MAX_BYTES)
                .weigher(|_: &String, v: &Arc<Rendered>| {
                    u32::try_from(v.body.len()).unwrap_or(u32::MAX)
                })
                .build(),
        })
    }

    /// The answer for `key` (which must name the snapshot version and everything the body
    /// depends on), rendered once per version.
    pub fn rendered(&self, key: String, render: impl FnOnce() -> Vec<u8>) -> Arc<Rendered> {
        self.rendered
            .get_with(key, || Arc::new(Rendered::new(render())))
    }

    pub fn get(&self, id: &str) -> Option<&Board> {
        self.boards.iter().find(|b| b.config.id == id)
    }

    pub fn all(&self) -> &[Board] {
        &self.boards
    }

    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// Every board's companies, lower-case.
    pub fn companies(&self) -> HashSet<String> {
        self.boards
            .iter()
            .flat_map(|b| b.config.companies.iter().map(|c| c.to_ascii_lowercase()))
            .collect()
    }
}
