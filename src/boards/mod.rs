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

    /// One active job of this board by id or number. Numbers repeat across companies, so a
    /// number is looked up among this board's active jobs only, and one that several of them share
    /// names none (`Ambiguous`: the id does).
    pub fn job(&self, jobs: &Jobs, id: &str) -> Result<Arc<Entry>, NoJob> {
        let shown = |e: &&Arc<Entry>| e.job.is_active() && self.config.has_company(&e.job.company);
        if let Ok(u) = uuid::Uuid::parse_str(id) {
            return jobs
                .by_id
                .get(&u)
                .filter(shown)
                .cloned()
                .ok_or(NoJob::Missing);
        }
        let mut numbered = jobs.by_id.values().filter(shown).filter(|e| {
            e.job
                .number
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(id))
        });
        match (numbered.next(), numbered.next()) {
            (Some(e), None) => Ok(Arc::clone(e)),
            (Some(_), Some(_)) => Err(NoJob::Ambiguous),
            (None, _) => Err(NoJob::Missing),
        }
    }
}

/// Why [`Board::job`] found no job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoJob {
    /// Closed, never active, another company's, or no such id or number.
    Missing,
    /// A number several of the board's open positions carry (in different companies).
    Ambiguous,
}

/// A rendered answer and its entity tag (a hash of the body; sent weak, `crate::etag::weak`).
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

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn entry(id: u128, company: &str, number: &str, status: &str) -> (Uuid, Arc<Entry>) {
        let id = Uuid::from_u128(id);
        let job = PublicJob {
            id,
            company: company.into(),
            status: status.into(),
            number: Some(number.into()),
            title: None,
            job: None,
            department: None,
            location: None,
            employment_type: None,
            openings: 1,
            estimated_start: None,
            description_html: None,
            description_text: None,
            skills: vec![],
            education: vec![],
            pay: None,
        };
        let now = chrono::Utc::now();
        let e = Entry {
            job,
            posted_at: now,
            updated_at: now,
        };
        (id, Arc::new(e))
    }

    #[test]
    fn a_number_is_looked_up_among_the_boards_own_open_jobs() {
        let jobs = Jobs {
            by_id: [
                entry(1, "usmf", "000001", "active"),
                entry(2, "nomf", "000001", "active"),
                entry(3, "usmf", "000002", "closed"),
                entry(4, "nomf", "000002", "active"),
            ]
            .into_iter()
            .collect(),
            version: 1,
        };
        let us = Board::new(config::demo().remove(0));
        assert_eq!(us.config.companies, ["usmf"]);
        // Whatever order the map yields: the board's own job, never a miss for another's.
        for _ in 0..50 {
            assert_eq!(
                us.job(&jobs, "000001").map(|e| e.job.id),
                Ok(Uuid::from_u128(1))
            );
        }
        assert_eq!(us.job(&jobs, "000002").err(), Some(NoJob::Missing));
        assert_eq!(
            us.job(&jobs, &Uuid::from_u128(2).to_string()).err(),
            Some(NoJob::Missing)
        );
        let mut both = config::demo().remove(0);
        both.companies = vec!["usmf".into(), "nomf".into()];
        let both = Board::new(both);
        assert_eq!(both.job(&jobs, "000001").err(), Some(NoJob::Ambiguous));
        assert_eq!(
            both.job(&jobs, &Uuid::from_u128(2).to_string())
                .map(|e| e.job.id),
            Ok(Uuid::from_u128(2))
        );
        assert_eq!(
            both.job(&jobs, "000002").map(|e| e.job.id),
            Ok(Uuid::from_u128(4))
        );
    }
}
