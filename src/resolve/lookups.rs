//! Lookup GUID → `{id, code, name}`. Names are not in the row (a lookup's FormattedValue is the
//! target's primary field, i.e. its readable id), so the resolver fetches the missing ones in one
//! upstream call per lookup table per page (`Microsoft.Dynamics.CRM.In` on the primary key) and
//! caches them in moka. Steady state: zero extra calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared, WeakShared};

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::departments::DepartmentIndex;
use crate::upstream::client::DataverseClient;
use crate::upstream::error::UpstreamError;
use crate::upstream::odata::{Filter, Literal, Query};

/// A lookup as partners see it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct LookupRef {
    pub id: Uuid,
    /// Readable id (`USMF-000001`, `000662`, `usmf`).
    #[serde(serialize_with = "super::shared::opt_text")]
    #[schema(value_type = Option<String>)]
    pub code: Option<Arc<str>>,
    /// Display name.
    #[serde(serialize_with = "super::shared::opt_text")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Arc<str>>,
}

/// Where a lookup target's code and name live. These tables are not documented by Microsoft
/// (docs/ats-data-model.md#lookup-targets); the columns are the natural-key and description fields of the F&O
/// entities.
#[derive(Debug, Clone, Copy)]
pub struct LookupTable {
    pub logical: &'static str,
    pub set: &'static str,
    pub pk: &'static str,
    pub code: &'static str,
    pub name: &'static str,
}

macro_rules! lt {
    ($logical:literal, $set:literal, $code:literal, $name:literal) => {
        LookupTable {
            logical: $logical,
            set: $set,
            pk: concat!($logical, "id"),
            code: $code,
            name: $name,
        }
    };
}

pub const LOOKUP_TABLES: &[LookupTable] = &[
    lt!(
        "cdm_company",
        "cdm_companies",
        "cdm_companycode",
        "cdm_name"
    ),
    lt!(
        "mshr_hcmworkerbaseentity",
        "mshr_hcmworkerbaseentities",
        "mshr_personnelnumber",
        "mshr_name"
    ),
    lt!(
        "mshr_hcmworkerentity",
        "mshr_hcmworkerentities",
        "mshr_personnelnumber",
        "mshr_name"
    ),
    lt!(
        "mshr_dirpersonentity",
        "mshr_dirpersonentities",
        "mshr_partynumber",
        "mshr_name"
    ),
    lt!(
        "mshr_hcmjobentity",
        "mshr_hcmjobentities",
        "mshr_jobid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmtitleentity",
        "mshr_hcmtitleentities",
        "mshr_titleid",
        "mshr_titleid"
    ),
    lt!(
        "mshr_hcmjobtypeentity",
        "mshr_hcmjobtypeentities",
        "mshr_jobtypeid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmpositionv2entity",
        "mshr_hcmpositionv2entities",
        "mshr_positionid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmpositiontypeentity",
        "mshr_hcmpositiontypeentities",
        "mshr_positiontypeid",
        "mshr_description"
    ),
    lt!(
        "mshr_omdepartmententity",
        "mshr_omdepartmententities",
        "mshr_operatingunitnumber",
        "mshr_name"
    ),
    lt!(
        "mshr_hcmskillentity",
        "mshr_hcmskillentities",
        "mshr_skillid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmratinglevelentity",
        "mshr_hcmratinglevelentities",
        "mshr_ratinglevelid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmratingmodelentity",
        "mshr_hcmratingmodelentities",
        "mshr_ratingmodelid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmeducationlevelentity",
        "mshr_hcmeducationlevelentities",
        "mshr_educationlevelid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmeducationdegreeentity",
        "mshr_hcmeducationdegreeentities",
        "mshr_educationlevelid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmeducationdisciplineentity",
        "mshr_hcmeducationdisciplineentities",
        "mshr_educationdisciplineid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmeducationinstitutionentity",
        "mshr_hcmeducationinstitutionentities",
        "mshr_educationinstitutionid",
        "mshr_name"
    ),
    lt!(
        "mshr_hcmrecruitingrequestlocationentity",
        "mshr_hcmrecruitingrequestlocationentities",
        "mshr_recruitingrequestlocationid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmcertificatetypeentity",
        "mshr_hcmcertificatetypeentities",
        "mshr_certificatetype",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmscreeningtypeentity",
        "mshr_hcmscreeningtypeentities",
        "mshr_screeningtypeid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmreasoncodeentity",
        "mshr_hcmreasoncodeentities",
        "mshr_reasoncodeid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmveteranstatusentity",
        "mshr_hcmveteranstatusentities",
        "mshr_veteranstatusid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmidentificationtypeentity",
        "mshr_hcmidentificationtypeentities",
        "mshr_identificationtypeid",
        "mshr_description"
    ),
    lt!(
        "mshr_hcmissuingagencyentity",
        "mshr_hcmissuingagencyentities",
        "mshr_issuingagencyid",
        "mshr_description"
    ),
    lt!(
        "mshr_logisticsaddresscountryregionentity",
        "mshr_logisticsaddresscountryregionentities",
        "mshr_countryregionid",
        "mshr_shortname"
    ),
];

pub fn table(logical: &str) -> Option<&'static LookupTable> {
    LOOKUP_TABLES.iter().find(|t| t.logical == logical)
}

/// Keeps the URL of one `In` call well under Dataverse's 32 KB limit.
const MAX_IDS_PER_CALL: usize = 200;

/// One `In` call's answer: every asked id, `None` when the target is missing or unreadable.
type BatchResult = Result<Arc<HashMap<Uuid, Option<Arc<Known>>>>, UpstreamError>;
type Batch = Shared<BoxFuture<'static, BatchResult>>;
type Pending = HashMap<(&'static str, Uuid), (u64, WeakShared<BoxFuture<'static, BatchResult>>)>;

pub struct LookupResolver {
    client: Arc<DataverseClient>,
    /// `None`: the target is missing or its table unreadable, remembered as long as a hit so a
    /// page with such a lookup does not ask again every time.
    /// Read for every distinct lookup of every page (about 90 on 100 rows): the sync cache, whose
    /// read is a call rather than a future, and rapidhash rather than moka's SipHash (the keys are
    /// Dataverse's ids, not chosen by a partner).
    cache:
        moka::sync::Cache<(&'static str, Uuid), Option<Arc<Known>>, rapidhash::fast::RandomState>,
    /// Ids being fetched now, and the call that fetches them: a concurrent page needing the same
    /// id waits for that call instead of asking again (a cold burst costs one call per table per
    /// distinct id set). Weak, so a call whose every waiter gave up is not waited for.
    pending: Arc<Mutex<Pending>>,
    next_batch: AtomicU64,
    /// Department → requests (held here so it shares the resolver's client and lifetime).
    pub departments: DepartmentIndex,
}

/// The lookups a page needs: distinct (target table, id) pairs. A page names the same worker or
/// job many times (about 700 ids, 90 distinct, on 100 rows), so repeats are dropped as they come:
/// a hash set keyed by the table name's address, not its text (sorting every pair with string
/// compares cost more than the rest of the lookup path).
#[derive(Debug, Default)]
pub struct Wanted(std::collections::HashSet<(Table, Uuid), rapidhash::fast::RandomState>);

/// A table name compared and hashed by address: the names are `&'static` constants.
#[derive(Debug, Clone, Copy)]
struct Table(&'static str);

impl PartialEq for Table {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Table {}

impl std::hash::Hash for Table {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.as_ptr() as usize);
    }
}

impl Wanted {
    pub fn add(&mut self, target: &'static str, id: Option<Uuid>) {
        if let Some(id) = id {
            self.0.insert((Table(target), id));
        }
    }

    /// The distinct ids of each table, sorted; a table named by two equal literals at different
    /// addresses is merged by name.
    fn by_table(self) -> Vec<(&'static str, Vec<Uuid>)> {
        let mut out: Vec<(&'static str, Vec<Uuid>)> = Vec::new();
        for (Table(name), id) in self.0 {
            match out.iter_mut().find(|(known, _)| std::ptr::eq(*known, name)) {
                Some((_, ids)) => ids.push(id),
                None => match out.iter_mut().find(|(known, _)| *known == name) {
                    Some((_, ids)) => ids.push(id),
                    None => out.push((name, vec![id])),
                },
            }
        }
        for (_, ids) in &mut out {
            ids.sort_unstable();
            ids.dedup();
        }
        out
    }

    /// How many distinct (table, id) pairs are wanted.
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        let groups = Wanted(self.0.clone()).by_table();
        groups.iter().map(|(_, ids)| ids.len()).sum()
    }
}

/// A lookup as the cache holds it: the partner view and its JSON, serialised once.
#[derive(Debug)]
pub struct Known {
    r: LookupRef,
    json: Box<str>,
}

impl Known {
    fn new(r: LookupRef) -> Arc<Self> {
        let json = serde_json::to_string(&r)
            .unwrap_or_default()
            .into_boxed_str();
        Arc::new(Self { r, json })
    }
}

/// A resolved lookup's key: hashed by the id alone (already random; a page reads ~90 of these per
/// 50 rows, and hashing the table name's bytes each time was 2.6 % of a distinct-URL request's
/// instructions), compared by table name and id.
#[derive(Debug, Clone, Copy)]
struct Key(&'static str, Uuid);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.1 == other.1 && (std::ptr::eq(self.0, other.0) || self.0 == other.0)
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.1.as_u128());
    }
}

/// Resolved lookups for one page.
#[derive(Debug, Default)]
pub struct Resolved(HashMap<Key, Arc<Known>, rapidhash::fast::RandomState>);

impl Resolved {
    /// Adds a known lookup (benchmarks and tests build pages without an upstream).
    pub fn insert(&mut self, target: &'static str, r: LookupRef) {
        self.0.insert(Key(target, r.id), Known::new(r));
    }

    /// The JSON of a resolved lookup (`{"id":…,"code":…,"name":…}`, as [`LookupRef`] serialises),
    /// `None` when it was not resolved (the caller falls back as [`Resolved::get`] does).
    pub fn json(&self, target: &'static str, id: Uuid) -> Option<&str> {
        self.0.get(&Key(target, id)).map(|k| &*k.json)
    }

    /// The partner-facing lookup, falling back to the row's FormattedValue as code when the
    /// target could not be read.
    pub fn get(
        &self,
        target: &'static str,
        id: Option<Uuid>,
        formatted: Option<&str>,
    ) -> Option<LookupRef> {
        let id = id?;
        Some(match self.0.get(&Key(target, id)) {
            Some(k) => k.r.clone(),
            None => LookupRef {
                id,
                code: formatted.map(Arc::from),
                name: None,
            },
        })
    }
}

impl LookupResolver {
    pub fn new(client: Arc<DataverseClient>, ttl: Duration, capacity: u64) -> Self {
        Self {
            departments: DepartmentIndex::new(Arc::clone(&client), ttl),
            client,
            cache: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build_with_hasher(rapidhash::fast::RandomState::default()),
            pending: Arc::default(),
            next_batch: AtomicU64::new(0),
        }
    }

    /// Resolves everything in `wanted`: cache hits first, then ids another page is fetching now
    /// (waiting for that call), then one `In` call per table for the rest.
    /// A table the application user cannot read degrades to code-only lookups (logged), not an error.
    pub async fn resolve(&self, wanted: Wanted) -> Result<Resolved, UpstreamError> {
        let mut out = HashMap::default();
        let mut waits: Vec<(&'static str, Vec<Uuid>, Batch)> = Vec::new();
        let (mut hits, mut misses) = (0, 0);
        for (logical, ids) in wanted.by_table() {
            let mut unknown = Vec::new();
            for id in ids {
                let cached = self.cache.get(&(logical, id));
                if cached.is_some() {
                    hits += 1;
                } else {
                    misses += 1;
                }
                match cached {
                    Some(Some(hit)) => {
                        out.insert(Key(logical, id), hit);
                    }
                    Some(None) => {} // known missing: the caller falls back to the code
                    None => unknown.push(id),
                }
            }
            let Some(t) = table(logical) else { continue };
            if unknown.is_empty() {
                continue;
            }
            // Under one lock: join the calls already fetching some ids, start one for the rest.
            let mut joined: HashMap<u64, (Vec<Uuid>, Batch)> = HashMap::new();
            let mut misses = Vec::new();
            {
                let mut pending = self
                    .pending
                    .lock()
                    .map_err(|_| UpstreamError::Config("lookup state poisoned".into()))?;
                for id in unknown {
                    match pending
                        .get(&(logical, id))
                        .and_then(|(n, w)| w.upgrade().map(|b| (*n, b)))
                    {
                        Some((n, batch)) => {
                            joined.entry(n).or_insert((Vec::new(), batch)).0.push(id)
                        }
                        None => misses.push(id),
                    }
                }
                for chunk in misses.chunks(MAX_IDS_PER_CALL) {
                    let n = self.next_batch.fetch_add(1, Ordering::Relaxed);
                    let batch = self.batch(t, chunk.to_vec(), n);
                    if let Some(weak) = batch.downgrade() {
                        for id in chunk {
                            pending.insert((logical, *id), (n, weak.clone()));
                        }
                    }
                    waits.push((logical, chunk.to_vec(), batch));
                }
            }
            waits.extend(joined.into_values().map(|(ids, b)| (logical, ids, b)));
        }
        // Counted once per page (a page asks for hundreds of ids).
        crate::ops::metrics::cache_lookups("lookups", hits, misses);
        let results = futures::future::join_all(
            waits
                .into_iter()
                .map(|(logical, ids, b)| async move { (logical, ids, b.await) }),
        )
        .await;
        for (logical, ids, result) in results {
            let found = result?;
            for id in ids {
                if let Some(Some(r)) = found.get(&id) {
                    out.insert(Key(logical, id), Arc::clone(r));
                }
            }
        }
        Ok(Resolved(out))
    }

    /// The shared call fetching `ids` of `t`: caches what it finds (and what it does not), then
    /// stops being pending.
    fn batch(&self, t: &'static LookupTable, ids: Vec<Uuid>, n: u64) -> Batch {
        let client = Arc::clone(&self.client);
        let cache = self.cache.clone();
        let pending = Arc::clone(&self.pending);
        let fut: BoxFuture<'static, BatchResult> = Box::pin(async move {
            let result = match fetch(&client, t, ids.clone()).await {
                Ok(found) => Ok(found),
                Err(e @ (UpstreamError::Forbidden { .. } | UpstreamError::NotFound { .. })) => {
                    tracing::warn!(error = %e, "lookup table not readable; names omitted");
                    Ok(Vec::new())
                }
                Err(e) => Err(e),
            };
            let outcome = match result {
                Ok(found) => {
                    let mut map: HashMap<Uuid, Option<Arc<Known>>> =
                        ids.iter().map(|id| (*id, None)).collect();
                    for r in found {
                        map.insert(r.r.id, Some(r));
                    }
                    for (id, r) in &map {
                        cache.insert((t.logical, *id), r.clone());
                    }
                    Ok(Arc::new(map))
                }
                Err(e) => Err(e),
            };
            if let Ok(mut p) = pending.lock() {
                for id in &ids {
                    if p.get(&(t.logical, *id)).is_some_and(|(m, _)| *m == n) {
                        p.remove(&(t.logical, *id));
                    }
                }
            }
            outcome
        });
        fut.shared()
    }
}

async fn fetch(
    client: &DataverseClient,
    t: &'static LookupTable,
    ids: Vec<Uuid>,
) -> Result<Vec<Arc<Known>>, UpstreamError> {
    let mut select = vec![t.pk, t.code];
    if t.name != t.code {
        select.push(t.name);
    }
    let query = Query::new(t.set).select(&select).filter(Filter::is_in(
        t.pk,
        ids.into_iter().map(Literal::Guid).collect(),
    ));
    let page = client.get_page(&query, MAX_IDS_PER_CALL as u32).await?;
    Ok(page
        .rows
        .iter()
        .filter_map(|row| {
            Some(Known::new(LookupRef {
                id: uuid_of(row, t.pk)?,
                code: str_of(row, t.code).map(Arc::from),
                name: str_of(row, t.name).map(Arc::from),
            }))
        })
        .collect())
}

pub fn uuid_of(row: &Map<String, Value>, key: &str) -> Option<Uuid> {
    row.get(key)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
}

pub fn str_of(row: &Map<String, Value>, key: &str) -> Option<String> {
    row.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_ids_are_distinct_per_table_even_when_one_name_has_two_addresses() {
        let (a, b) = (Uuid::from_u128(2), Uuid::from_u128(1));
        // Equal text, different addresses (as the same table named in two constant arrays).
        let first: &'static str = String::from("mshr_hcmjobentity").leak();
        let second: &'static str = String::from("mshr_hcmjobentity").leak();
        assert!(!std::ptr::eq(first, second));
        let mut w = Wanted::default();
        for (table, id) in [
            (first, a),
            (second, b),
            (first, a),
            ("cdm_company", a),
            (second, a),
        ] {
            w.add(table, Some(id));
        }
        w.add("cdm_company", None);
        let mut groups = w.by_table();
        groups.sort();
        assert_eq!(
            groups,
            vec![("cdm_company", vec![a]), ("mshr_hcmjobentity", vec![b, a])]
        );
    }

    #[test]
    fn resolved_lookups_are_found_by_table_name_and_id_whatever_the_names_address() {
        let id = Uuid::from_u128(7);
        let first: &'static str = String::from("mshr_hcmjobentity").leak();
        let second: &'static str = String::from("mshr_hcmjobentity").leak();
        let mut r = Resolved::default();
        let job = LookupRef {
            id,
            code: Some("J-1".into()),
            name: None,
        };
        r.insert(first, job);
        assert!(r.json(second, id).is_some_and(|j| j.contains("J-1")));
        // Same id, another table: not this lookup (the key hashes the id alone).
        assert!(r.json("mshr_hcmtitleentity", id).is_none());
        assert!(r.json(first, Uuid::from_u128(8)).is_none());
    }

    #[test]
    fn every_lookup_table_is_unique_and_named() {
        let mut seen = std::collections::HashSet::new();
        for t in LOOKUP_TABLES {
            assert!(seen.insert(t.logical), "{}", t.logical);
            assert!(t.pk.ends_with("id"));
        }
        assert!(table("cdm_company").is_some());
    }

    /// A target that does not exist, and one in a table the gateway may not read: each is asked for
    /// once, then remembered as missing.
    #[tokio::test]
    async fn missing_and_forbidden_targets_are_cached_as_misses() {
        use crate::upstream::client::DataverseConfig;
        use crate::upstream::secret::Secret;
        use crate::upstream::testutil::spawn_server;
        use crate::upstream::token::{ClientCredential, TokenConfig, TokenProvider};
        use axum::extract::{Request, State};
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        use std::sync::atomic::{AtomicUsize, Ordering};

        async fn upstream(
            State(hits): State<Arc<AtomicUsize>>,
            req: Request,
        ) -> axum::response::Response {
            if req.uri().path().ends_with("/oauth2/v2.0/token") {
                let t = serde_json::json!({"token_type": "Bearer", "expires_in": 3600, "access_token": "t"});
                return axum::Json(t).into_response();
            }
            hits.fetch_add(1, Ordering::SeqCst);
            if req.uri().path().ends_with("mshr_hcmjobentities") {
                let e =
                    serde_json::json!({"error": {"code": "0x80040220", "message": "no privilege"}});
                return (StatusCode::FORBIDDEN, axum::Json(e)).into_response();
            }
            axum::Json(serde_json::json!({"value": []})).into_response()
        }
        let hits = Arc::new(AtomicUsize::new(0));
        let router = axum::Router::new()
            .fallback(upstream)
            .with_state(Arc::clone(&hits));
        let org = format!("http://{}", spawn_server(router).await);
        let tokens = TokenProvider::new(TokenConfig::for_dataverse(
            &org,
            "tenant",
            "client",
            &org,
            ClientCredential::Secret(Secret::new("s")),
        ))
        .expect("tokens");
        let client = DataverseClient::new(DataverseConfig::new(&org), tokens).expect("client");
        let resolver = LookupResolver::new(Arc::new(client), Duration::from_secs(60), 100);
        let wanted = || {
            let mut w = Wanted::default();
            w.add("mshr_omdepartmententity", Some(Uuid::from_u128(1)));
            w.add("mshr_hcmjobentity", Some(Uuid::from_u128(2)));
            w
        };
        for _ in 0..3 {
            let r = resolver.resolve(wanted()).await.expect("resolve");
            let job = r.get("mshr_hcmjobentity", Some(Uuid::from_u128(2)), Some("Dev"));
            assert_eq!(job.and_then(|j| j.code).as_deref(), Some("Dev"));
        }
        assert_eq!(
            hits.load(Ordering::SeqCst),
            2,
            "one call per table, then cached misses"
        );
    }

    #[test]
    fn missing_lookup_falls_back_to_formatted_code() {
        let r = Resolved::default();
        let id = Uuid::from_u128(5);
        let l = r
            .get("mshr_hcmjobentity", Some(id), Some("Developer"))
            .expect("some");
        assert_eq!(l.code.as_deref(), Some("Developer"));
        assert_eq!(l.name, None);
        assert_eq!(r.get("mshr_hcmjobentity", None, None), None);
    }
}
