//! Reference checks of a parsed hire, before any upstream write: the recruiting request exists in
//! one of the partner's companies, the position in that company, the person (internal candidate),
//! every option key and every referenced code (cached reference lists, one call per list when cold).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::request::{Cell, HireRequest, On, Pending, PersonIn};
use super::HireContext;
use super::{Issue, WriteError};
use crate::auth::Principal;
use crate::model::candidate as cand;
use crate::model::recruiting_request::OS_STATUS as OS_REQUEST_STATUS;
use crate::resolve::lookups::{self, str_of, uuid_of, LookupRef};
use crate::resolve::options::OptionSetInfo;
use crate::resources::recruiting_requests::company_limit;
use crate::resources::reference::{fetch_lookup_list, LOOKUP_LISTS};
use crate::upstream::odata::{Filter, Literal, Query};

pub const REQUEST_SET: &str = "mshr_hcmrecruitingrequestentities";
const REQUEST_PK: &str = "mshr_hcmrecruitingrequestentityid";
const POSITIONS: &str = "mshr_hcmpositionv2entity";

/// A hire whose every value is checked and in Dataverse's terms.
#[derive(Debug, Clone)]
pub struct Checked {
    pub company: String,
    pub request_number: String,
    /// Candidate columns (request, company and position included).
    pub candidate: Map<String, Value>,
    /// A new person's columns; `None` for an internal candidate.
    pub person: Option<Map<String, Value>>,
    /// An internal candidate's party number.
    pub party_number: Option<String>,
    /// (collection, pointer, columns) in body order.
    pub children: Vec<(&'static str, String, Map<String, Value>)>,
}

/// Recruiting request statuses that take no more hires (option keys; see `docs/hire-rules.md`):
/// the request was withdrawn, refused or filled.
pub const CLOSED_REQUEST_STATUSES: &[&str] = &["canceled", "denied", "closed"];

/// Checks every reference of a parsed hire and adds its problems to the shape's `issues`, so one
/// answer lists every problem of the body.
pub async fn check(
    st: &HireContext,
    principal: &Principal,
    req: HireRequest,
    mut issues: Vec<Issue>,
) -> Result<Checked, WriteError> {
    let (company, request_number) = match &req.recruiting_request {
        Some(given) => match find_request(st, given).await? {
            Some(found) if principal.may_see_company(&found.company) => {
                if let Some(why) = closed_request(st, found.status).await? {
                    issues.push(Issue::new("/recruiting_request", why));
                }
                (found.company, found.number)
            }
            _ => {
                issues.push(Issue::new(
                    "/recruiting_request",
                    format!("no recruiting request `{given}` in your companies"),
                ));
                (String::new(), String::new())
            }
        },
        None => (String::new(), String::new()),
    };
    let mut candidate = Map::new();
    candidate.insert(
        "mshr_recruitingrequestid".into(),
        Value::String(request_number.clone()),
    );
    candidate.insert("mshr_dataareaid".into(), Value::String(company.clone()));
    if let (Some(position), false) = (&req.position, company.is_empty()) {
        let table = lookup_table(POSITIONS)?;
        let list = fetch_lookup_list(&st.reader, table, std::slice::from_ref(&company))
            .await
            .map_err(WriteError::Read)?;
        match find_code(&list, position) {
            Some(code) => {
                candidate.insert("mshr_positionid".into(), Value::String(code));
            }
            None => issues.push(Issue::new(
                "/position",
                format!("no position `{position}` in company {company}"),
            )),
        }
    }

    let mut all: Vec<&Cell> = req.candidate.iter().collect();
    if let Some(PersonIn::External(cells)) = &req.person {
        all.extend(cells.iter());
    }
    all.extend(req.children.iter().flat_map(|c| c.cells.iter()));
    let refs = References::load(st, &all).await?;

    let mut put = |row: &mut Map<String, Value>, cell: &Cell| match refs.value(&cell.value) {
        Ok(v) => {
            row.insert(cell.column.to_string(), v);
        }
        Err(why) => issues.push(Issue::new(&cell.pointer, why)),
    };
    for cell in &req.candidate {
        put(&mut candidate, cell);
    }
    let (person, party_number) = match &req.person {
        Some(PersonIn::External(cells)) => {
            let mut person = Map::new();
            for cell in cells {
                match cell.on {
                    On::Own => put(&mut person, cell),
                    On::Candidate => put(&mut candidate, cell),
                }
            }
            (Some(person), None)
        }
        Some(PersonIn::Internal { party_number }) => (None, Some(party_number.clone())),
        None => (None, None),
    };
    let mut children = Vec::new();
    for child in &req.children {
        let mut row = Map::new();
        for cell in &child.cells {
            put(&mut row, cell);
        }
        children.push((child.collection, child.pointer.clone(), row));
    }
    if let Some(p) = &party_number {
        match find_visible_person(st, principal, p).await? {
            Some(number) => {
                candidate.insert("mshr_partynumber".into(), Value::String(number));
            }
            // One answer whether the person does not exist or is not the partner's to see, so
            // the 422 tells nothing about other companies' people.
            None => issues.push(Issue::new(
                "/person/party_number",
                format!("no person `{p}` among the candidates of your companies"),
            )),
        }
    }
    if !issues.is_empty() {
        return Err(WriteError::Invalid(issues));
    }
    Ok(Checked {
        company,
        request_number,
        candidate,
        person,
        children,
        party_number,
    })
}

/// Why a request with this status takes no hire; `None` when it does (or has no status).
async fn closed_request(
    st: &HireContext,
    status: Option<i64>,
) -> Result<Option<String>, WriteError> {
    let Some(code) = status else {
        return Ok(None);
    };
    let info = st.reader.options.get(OS_REQUEST_STATUS).await?;
    let closed = CLOSED_REQUEST_STATUSES
        .iter()
        .filter_map(|k| info.by_key(k))
        .find(|o| o.code == code);
    Ok(closed.map(|o| {
        format!(
            "the recruiting request is `{}`: HR takes hires only into requests that are not {}",
            o.key,
            CLOSED_REQUEST_STATUSES.join(", ")
        )
    }))
}

fn lookup_table(logical: &str) -> Result<&'static lookups::LookupTable, WriteError> {
    lookups::table(logical)
        .ok_or_else(|| WriteError::Internal(format!("no lookup table for {logical}")))
}

/// A recruiting request as the hire needs it.
struct FoundRequest {
    company: String,
    number: String,
    status: Option<i64>,
}

/// The request given by number or id.
async fn find_request(st: &HireContext, given: &str) -> Result<Option<FoundRequest>, WriteError> {
    let select = [
        REQUEST_PK,
        "mshr_recruitingrequestid",
        "mshr_dataareaid",
        "mshr_status",
    ];
    let row = match Uuid::parse_str(given) {
        Ok(id) => {
            st.client
                .get_by_id(&Query::new(REQUEST_SET).select(&select), id)
                .await?
        }
        Err(_) => {
            let q = Query::new(REQUEST_SET)
                .select(&select)
                .filter(Filter::eq(
                    "mshr_recruitingrequestid",
                    Literal::Str(given.to_string()),
                ))
                .top(1);
            st.client.get_page(&q, 1).await?.rows.into_iter().next()
        }
    };
    Ok(row.and_then(|r| {
        Some(FoundRequest {
            company: str_of(&r, "mshr_dataareaid")?.to_ascii_lowercase(),
            number: str_of(&r, "mshr_recruitingrequestid")?,
            status: r.get("mshr_status").and_then(Value::as_i64),
        })
    }))
}

/// The party number (as HR spells it) of a person the partner may name in an internal hire: one
/// that is a candidate in one of the partner's companies, judged by HR's candidate rows (the ATS
/// API has no company on the person and no person on the worker tables). A partner of every
/// company may name any person.
async fn find_visible_person(
    st: &HireContext,
    principal: &Principal,
    party_number: &str,
) -> Result<Option<String>, WriteError> {
    let by_number = Filter::eq("mshr_partynumber", Literal::Str(party_number.to_string()));
    let q = match company_limit(principal) {
        Some(companies) => Query::new(cand::SET)
            .select(&[cand::PK, "mshr_partynumber"])
            .filter(by_number.and(companies)),
        None => Query::new(cand::PERSON_SET)
            .select(&[cand::PERSON_PK, "mshr_partynumber"])
            .filter(by_number),
    }
    .top(1);
    let page = st.client.get_page(&q, 1).await?;
    Ok(page
        .rows
        .first()
        .and_then(|r| str_of(r, "mshr_partynumber")))
}

/// A code as the list spells it: by code (exact, then ignoring case, as HR compares keys) or by id.
fn find_code(list: &[LookupRef], given: &str) -> Option<String> {
    let id = Uuid::parse_str(given).ok();
    list.iter()
        .find(|r| r.code.as_deref() == Some(given))
        .or_else(|| {
            list.iter().find(|r| {
                r.code
                    .as_deref()
                    .is_some_and(|c| c.eq_ignore_ascii_case(given))
            })
        })
        .or_else(|| id.and_then(|id| list.iter().find(|r| r.id == id)))
        .and_then(|r| r.code.as_deref().map(str::to_string))
}

/// The option sets and reference lists a body refers to, loaded once per check.
struct References {
    options: BTreeMap<&'static str, Arc<OptionSetInfo>>,
    lists: BTreeMap<&'static str, Arc<Vec<LookupRef>>>,
}

impl References {
    async fn load(st: &HireContext, cells: &[&Cell]) -> Result<Self, WriteError> {
        let mut sets = BTreeSet::new();
        let mut tables = BTreeSet::new();
        for c in cells {
            match &c.value {
                Pending::Option { set, .. } => {
                    sets.insert(*set);
                }
                Pending::Lookup { table, .. } => {
                    tables.insert(*table);
                }
                Pending::Ready(_) => {}
            }
        }
        let mut options = BTreeMap::new();
        for set in sets {
            options.insert(set, st.reader.options.get(set).await?);
        }
        let mut lists = BTreeMap::new();
        for t in tables {
            let list = fetch_lookup_list(&st.reader, lookup_table(t)?, &[])
                .await
                .map_err(WriteError::Read)?;
            lists.insert(t, list);
        }
        Ok(Self { options, lists })
    }

    fn value(&self, p: &Pending) -> Result<Value, String> {
        match p {
            Pending::Ready(v) => Ok(v.clone()),
            Pending::Option { set, key } => {
                let info = self.options.get(set).ok_or("option set not loaded")?;
                info.by_key(key)
                    .map(|o| Value::from(o.code))
                    .ok_or_else(|| format!("`{key}` is not one of: {}", info.keys().join(", ")))
            }
            Pending::Lookup { table, code } => {
                let list = self.lists.get(table).ok_or("reference list not loaded")?;
                find_code(list, code).map(Value::String).ok_or_else(|| {
                    let name = LOOKUP_LISTS
                        .iter()
                        .find(|(_, t)| t == table)
                        .map(|(n, _)| *n);
                    match name {
                        Some(n) => format!("no `{code}` in /v1/reference/{n}"),
                        None => format!("`{code}` does not exist in HR"),
                    }
                })
            }
        }
    }
}

/// The candidate and person ids in a row read back after the create.
pub fn person_of(row: &Map<String, Value>) -> (Option<Uuid>, Option<String>) {
    (
        uuid_of(row, "_mshr_fk_person_id_value"),
        str_of(row, "mshr_partynumber"),
    )
}
