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
use crate::resolve::lookups::{self, str_of, uuid_of, LookupRef};
use crate::resolve::options::OptionSetInfo;
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

pub async fn check(
    st: &HireContext,
    principal: &Principal,
    req: HireRequest,
) -> Result<Checked, WriteError> {
    let mut issues = Vec::new();
    let request = find_request(st, &req.recruiting_request).await?;
    let (company, request_number) = match request {
        Some((company, number)) if principal.may_see_company(&company) => (company, number),
        _ => {
            issues.push(Issue::new(
                "/recruiting_request",
                format!(
                    "no recruiting request `{}` in your companies",
                    req.recruiting_request
                ),
            ));
            (String::new(), String::new())
        }
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
    if let PersonIn::External(cells) = &req.person {
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
        PersonIn::External(cells) => {
            let mut person = Map::new();
            for cell in cells {
                match cell.on {
                    On::Own => put(&mut person, cell),
                    On::Candidate => put(&mut candidate, cell),
                }
            }
            (Some(person), None)
        }
        PersonIn::Internal { party_number } => (None, Some(party_number.clone())),
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
        match find_person(st, p).await? {
            Some(number) => {
                candidate.insert("mshr_partynumber".into(), Value::String(number));
            }
            None => issues.push(Issue::new(
                "/person/party_number",
                format!("no person `{p}` in HR"),
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

fn lookup_table(logical: &str) -> Result<&'static lookups::LookupTable, WriteError> {
    lookups::table(logical)
        .ok_or_else(|| WriteError::Internal(format!("no lookup table for {logical}")))
}

/// (company, request number) of a request given by number or id.
async fn find_request(
    st: &HireContext,
    given: &str,
) -> Result<Option<(String, String)>, WriteError> {
    let select = [REQUEST_PK, "mshr_recruitingrequestid", "mshr_dataareaid"];
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
        let company = str_of(&r, "mshr_dataareaid")?.to_ascii_lowercase();
        Some((company, str_of(&r, "mshr_recruitingrequestid")?))
    }))
}

/// The party number of an existing person, as HR spells it.
async fn find_person(st: &HireContext, party_number: &str) -> Result<Option<String>, WriteError> {
    let q = Query::new(crate::model::candidate::PERSON_SET)
        .select(&[crate::model::candidate::PERSON_PK, "mshr_partynumber"])
        .filter(Filter::eq(
            "mshr_partynumber",
            Literal::Str(party_number.to_string()),
        ))
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
