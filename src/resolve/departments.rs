//! Department → recruiting requests with a position in it. Positions carry the department, so a
//! department filter costs a positions query before the requests query; caching the answer briefly
//! keeps a department listing at one upstream call per page after the first.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::lookups::uuid_of;
use crate::upstream::client::DataverseClient;
use crate::upstream::error::UpstreamError;
use crate::upstream::odata::{Filter, Literal, Query};

use crate::model::recruiting_request::POSITIONS_SET;
const REQUEST_FK: &str = "_mshr_fk_recruitingrequest_id_value";
/// Short: a position moved to another department shows up within this long.
const MAX_TTL: Duration = Duration::from_secs(60);
const CAPACITY: u64 = 1_000;
/// Rows read per lookup; more means the department is too broad to filter by id anyway.
const MAX_ROWS: u32 = 5_000;

/// A department as a partner names it: its GUID or its number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Department {
    Id(Uuid),
    Number(String),
}

/// The requests with a position in one department.
#[derive(Debug, PartialEq)]
pub struct DepartmentRequests {
    /// Sorted, distinct.
    pub ids: Vec<Uuid>,
    /// More positions than one read returns: `ids` is incomplete.
    pub truncated: bool,
}

/// A department as seen by a partner: its positions in these companies only (sorted, lower-case;
/// empty = every company), so a partner is told only about requests it could list.
type Key = (Department, Vec<String>);

pub struct DepartmentIndex {
    client: Arc<DataverseClient>,
    cache: moka::future::Cache<Key, Arc<DepartmentRequests>>,
}

impl DepartmentIndex {
    pub fn new(client: Arc<DataverseClient>, ttl: Duration) -> Self {
        Self {
            client,
            cache: moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl.min(MAX_TTL))
                .build(),
        }
    }

    /// The requests with a position in `d` in one of `companies` (empty = any company), cached;
    /// concurrent misses share one upstream call.
    pub async fn requests(
        &self,
        d: Department,
        companies: &BTreeSet<String>,
    ) -> Result<Arc<DepartmentRequests>, UpstreamError> {
        let client = Arc::clone(&self.client);
        let mut by = vec![match &d {
            Department::Id(id) => Filter::eq("_mshr_fk_department_id_value", Literal::Guid(*id)),
            Department::Number(n) => Filter::eq("mshr_departmentnumber", Literal::Str(n.clone())),
        }];
        if !companies.is_empty() {
            by.push(Filter::is_in(
                "mshr_dataareaid",
                companies.iter().map(|c| Literal::Str(c.clone())).collect(),
            ));
        }
        let key = (d, companies.iter().cloned().collect());
        self.cache
            .entry(key)
            .or_try_insert_with(async move {
                let q = Query::new(POSITIONS_SET)
                    .select(&["mshr_hcmrecruitingrequestpositionentityid", REQUEST_FK])
                    .filter_opt(Filter::all(by));
                let page = client.get_page(&q, MAX_ROWS).await?;
                let mut ids: Vec<Uuid> = page
                    .rows
                    .iter()
                    .filter_map(|r| uuid_of(r, REQUEST_FK))
                    .collect();
                ids.sort();
                ids.dedup();
                Ok(Arc::new(DepartmentRequests {
                    ids,
                    truncated: page.next_link.is_some(),
                }))
            })
            .await
            .map(|e| crate::ops::metrics::cached("departments", e))
            .map_err(|e: Arc<UpstreamError>| (*e).clone())
    }
}
