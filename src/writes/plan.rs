//! A hire as a journal of upstream steps. Step 0 is Dataverse's documented deep insert (candidate +
//! person + skills + education; for an internal candidate the candidate row alone); then one POST
//! per address, contact, experience, certificate, screening and identification number (virtual
//! tables have no transactions across tables, so these are separate calls). The plan is saved
//! before and after every upstream call; what each step created is recorded so it can be undone.
//!
//! Every row a step writes carries a primary key the plan chose (a random UUID, sent in the POST
//! body): a create whose answer was lost is found again by that key, which no one else can have
//! written, never by matching business fields (another partner may have hired the same name).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::request::{self, Collection};
use super::validate::Checked;
use crate::model::candidate as cand;

pub const CANDIDATE_STEP: &str = "candidate";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Steps are being written (or will be, by recovery).
    Running,
    /// A step failed: created rows are being deleted.
    Compensating,
    Completed,
    Undone,
    /// Closed by recovery without completing or undoing it: its journal contradicts itself (every
    /// step ran, yet it names no candidate), so neither is safe. `failure` lists the rows its
    /// steps recorded, for an operator to check in HR; its key answers `hire-needs-operator`.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    /// The call was sent (or about to be): its outcome is unknown until recorded.
    Started,
    Done,
    Undone,
}

/// A row a step created, in creation order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    pub set: String,
    pub id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// `candidate`, or the collection name (`addresses`).
    pub kind: String,
    /// Where the step's data sits in the partner's body (for error messages).
    pub pointer: String,
    /// The Dataverse body (children get the person's party number when they run); dropped once
    /// the step is done, so the journal keeps no personal fields it no longer needs.
    pub body: Value,
    pub state: StepState,
    /// Every row the step's POST writes, with the key the plan chose, in creation order; the
    /// last one is the POST's own row (step 0: person, skills, education, then the candidate).
    #[serde(default)]
    pub rows: Vec<Created>,
    /// Rows known to exist (the POST answered, or a read by the plan's key found them).
    pub created: Vec<Created>,
}

impl Step {
    pub fn collection(&self) -> Option<&'static Collection> {
        request::collection(&self.kind)
    }

    /// The entity set the step POSTs to.
    pub fn set(&self) -> &'static str {
        self.collection().map_or(cand::SET, |c| c.set)
    }

    /// The entity set's primary key column.
    pub fn pk(&self) -> &'static str {
        self.collection().map_or(cand::PK, |c| c.pk)
    }

    /// The key the plan chose for the POST's own row.
    pub fn key(&self) -> Option<Uuid> {
        self.rows.last().map(|r| r.id)
    }
}

/// Puts a fresh primary key into `row` and returns the row's record.
fn keyed(row: &mut Map<String, Value>, set: &str, pk: &str) -> Created {
    let id = Uuid::new_v4();
    row.insert(pk.to_string(), Value::String(id.to_string()));
    Created {
        set: set.to_string(),
        id,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub id: Uuid,
    pub partner: String,
    pub key: String,
    pub company: String,
    pub phase: Phase,
    pub candidate_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub party_number: Option<String>,
    /// True when step 0 creates the person (external candidate).
    pub new_person: bool,
    /// Journaled one record per step (`execute::save_step`), not inside the plan's own record.
    #[serde(default, skip_serializing)]
    pub steps: Vec<Step>,
    /// What failed, for the log and recovery.
    pub failure: Option<String>,
    /// HR answered one of this plan's creates with the key the plan sent: in this environment
    /// no row under a step's key proves the step wrote nothing. Journaled, so a replica that
    /// recovers the plan knows it without having written anything itself.
    #[serde(default)]
    pub keys_kept: bool,
    /// What this process wrote to the journal for the plan (for the "hire written" log line).
    #[serde(skip)]
    pub journal: Journal,
}

/// Journal writes and their bytes (the JSON documents handed to the store).
#[derive(Debug, Clone, Copy, Default)]
pub struct Journal {
    pub writes: u32,
    pub bytes: u64,
}

impl Journal {
    /// One write holding `docs`.
    pub fn add<'a>(&mut self, docs: impl Iterator<Item = &'a Value>) {
        self.writes += 1;
        for d in docs {
            self.bytes += serde_json::to_vec(d).map_or(0, |v| v.len() as u64);
        }
    }
}

impl Plan {
    pub fn new(partner: &str, key: &str, checked: Checked, today: &str) -> Plan {
        let Checked {
            company,
            candidate,
            person,
            party_number,
            children,
            ..
        } = checked;
        let mut first = candidate;
        let mut rest = Vec::new();
        let new_person = person.is_some();
        let mut deep: Vec<(&'static str, Vec<Value>)> = Vec::new();
        let mut deep_rows = Vec::new();
        for (name, pointer, mut row) in children {
            let Some(c) = request::collection(name) else {
                continue;
            };
            if c.name == request::SKILLS.name && !row.contains_key("mshr_leveldate") {
                // Required by HR; the partner may leave it out: rated today.
                row.insert("mshr_leveldate".into(), Value::String(today.to_string()));
            }
            if c.name == request::ADDRESSES.name && !row.contains_key("mshr_description") {
                let roles = row
                    .get("mshr_roles")
                    .and_then(Value::as_str)
                    .unwrap_or("Address")
                    .replace(';', ", ");
                row.insert("mshr_description".into(), Value::String(roles));
            }
            let key = keyed(&mut row, c.set, c.pk);
            match (c.deep_nav, new_person) {
                (Some(nav), true) => {
                    deep_rows.push(key);
                    match deep.iter_mut().find(|(n, _)| *n == nav) {
                        Some((_, items)) => items.push(Value::Object(row)),
                        None => deep.push((nav, vec![Value::Object(row)])),
                    }
                }
                _ => rest.push(Step {
                    kind: c.name.to_string(),
                    pointer,
                    body: Value::Object(row),
                    state: StepState::Pending,
                    rows: vec![key],
                    created: Vec::new(),
                }),
            }
        }
        let mut rows = Vec::new();
        if let Some(mut p) = person {
            rows.push(keyed(&mut p, cand::PERSON_SET, cand::PERSON_PK));
            rows.extend(deep_rows);
            for (nav, items) in deep {
                p.insert(nav.to_string(), Value::Array(items));
            }
            first.insert(cand::NAV_PERSON.to_string(), Value::Object(p));
        }
        rows.push(keyed(&mut first, cand::SET, cand::PK));
        let mut steps = vec![Step {
            kind: CANDIDATE_STEP.to_string(),
            pointer: String::new(),
            body: Value::Object(first),
            state: StepState::Pending,
            rows,
            created: Vec::new(),
        }];
        steps.extend(rest);
        Plan {
            id: Uuid::new_v4(),
            partner: partner.to_string(),
            key: key.to_string(),
            company,
            phase: Phase::Running,
            candidate_id: None,
            person_id: None,
            party_number,
            new_person,
            steps,
            failure: None,
            keys_kept: false,
            journal: Journal::default(),
        }
    }

    /// Upstream calls the plan's writes take when nothing fails (reads for the ids excluded).
    pub fn write_calls(&self) -> usize {
        self.steps.len()
    }
}
