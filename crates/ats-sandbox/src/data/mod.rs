//! Deterministic seed data for the sandbox: reference tables, recruiting requests with their children,
//! and candidates with their people. Everything comes from one splitmix64 stream seeded by a constant,
//! so two seeds with the same options are equal row for row.

pub(crate) mod candidates;
pub(crate) mod names;
pub(crate) mod recruiting;
pub(crate) mod reference;
pub(crate) mod rng;

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::schema::{option_sets::OPTION_SETS, schema, EntityDef};
use super::store::{Row, Store};
use rng::Rng;

/// Seed of the PRNG: changing it changes every generated row.
const SEED: u64 = 0x5EED_0A75_2021_0001;
/// First RecId handed out per table (F&O RecIds start around here).
const FIRST_RECID: u64 = 5_637_144_576;

#[derive(Debug, Clone)]
pub(crate) struct SeedOptions {
    /// Number of recruiting requests.
    pub scale: usize,
    /// Integer of the first option of every option set (real environments differ).
    pub option_base: i64,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            scale: 500,
            option_base: 200_000_000,
        }
    }
}

/// Builds the whole seeded store.
pub(crate) fn seed(opts: &SeedOptions) -> Store {
    let mut s = Seeder::new(opts.option_base);
    let refs = reference::seed_reference(&mut s);
    let requests = recruiting::seed_recruiting(&mut s, &refs, opts.scale);
    candidates::seed_candidates(&mut s, &refs, &requests);
    s.store
}

/// A GUID shaped like HR's RecId-derived keys: first group = entity id, last 8 bytes = RecId.
pub(crate) fn hr_guid(entity_code: u32, recid: u64) -> Uuid {
    let hi = (recid >> 48) & 0xffff;
    let lo = recid & 0xffff_ffff_ffff;
    let s = format!(
        "0000{:04x}-0000-0000-{hi:04x}-{lo:012x}",
        entity_code & 0xffff
    );
    Uuid::parse_str(&s).unwrap_or_default()
}

/// A fresh HR-style key for a new row of `def`, not used yet in `store`.
pub(crate) fn next_guid(store: &Store, def: &EntityDef) -> Uuid {
    let table = store.table(def.logical_name);
    let mut recid = FIRST_RECID + 50_000_000 + table.map_or(0, |t| t.len() as u64);
    loop {
        let id = hr_guid(def.object_type_code, recid);
        if table.is_none_or(|t| t.get(&id).is_none()) {
            return id;
        }
        recid += 1;
    }
}

/// A row of `def` with every column present and null.
pub(crate) fn blank_row(def: &EntityDef) -> Row {
    let mut row = Map::with_capacity(def.columns.len());
    for c in &def.columns {
        row.insert(c.name.to_string(), Value::Null);
    }
    row
}

/// `YYYY-MM-DDT00:00:00Z`, the emulator's date form.
pub(crate) fn date_string(d: NaiveDate) -> String {
    format!("{}T00:00:00Z", d.format("%Y-%m-%d"))
}

/// The seed's "today": fixed so that data never depends on the clock.
pub(crate) fn seed_today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 2).unwrap_or_default()
}

pub(crate) fn days_from_today(days: i64) -> NaiveDate {
    seed_today() + Duration::days(days)
}

/// Options of a global option set.
pub(crate) fn option_set(name: &str) -> Option<&'static [(i64, &'static str, &'static str)]> {
    OPTION_SETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, opts)| *opts)
}

/// Integer of the option labelled `label` (en-US) in `set`, shifted to `base`.
pub(crate) fn option_value(base: i64, set: &str, label: &str) -> Option<i64> {
    option_set(set)?
        .iter()
        .position(|(_, en, _)| *en == label)
        .map(|i| base + i as i64)
}

/// en-US label of `value` in `set` under `base`.
pub(crate) fn option_label(base: i64, set: &str, value: i64) -> Option<&'static str> {
    let idx = usize::try_from(value.checked_sub(base)?).ok()?;
    option_set(set)?.get(idx).map(|(_, en, _)| *en)
}

fn text(row: &Row, col: &str) -> String {
    match row.get(col) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn date_part(row: &Row, col: &str) -> String {
    text(row, col).chars().take(10).collect()
}

fn label_of(row: &Row, col: &str, set: &str, base: i64) -> String {
    row.get(col)
        .and_then(Value::as_i64)
        .and_then(|v| option_label(base, set, v))
        .unwrap_or_default()
        .to_string()
}

/// `mshr_primaryfield` of a row: the entity's natural keys joined with " | "
/// (docs/ats-data-model.md#conventions), or the readable id for reference tables. `None` for tables without
/// that column.
pub(crate) fn primary_field(def: &EntityDef, row: &Row, base: i64) -> Option<String> {
    if def.primary_name != "mshr_primaryfield" {
        return None;
    }
    let t = |c: &str| text(row, c);
    let parts: Vec<String> = match def.logical_name {
        "mshr_hcmrecruitingrequestentity" => vec![t("mshr_recruitingrequestid")],
        "mshr_hcmrecruitingrequestpositionentity" => {
            vec![t("mshr_recruitingrequestid"), t("mshr_positionid")]
        }
        "mshr_hcmrecruitingrequestskillentity" => {
            vec![t("mshr_recruitingrequestid"), t("mshr_skillid")]
        }
        "mshr_hcmrecruitingrequesteducationentity" => vec![
            t("mshr_recruitingrequestid"),
            t("mshr_educationlevelid"),
            t("mshr_educationdisciplineid"),
        ],
        "mshr_hcmrecruitingrequestlocationentity" => vec![t("mshr_recruitingrequestlocationid")],
        "mshr_hcmcandidatetohireentity" => vec![t("mshr_candidateid")],
        "mshr_dirpersonentity" => vec![t("mshr_partynumber")],
        "mshr_hcmpersoneducationentity" => vec![
            t("mshr_partynumber"),
            t("mshr_educationdisciplineid"),
            t("mshr_educationinstitutionid"),
            t("mshr_educationlevelid"),
        ],
        "mshr_hcmpersonprofessionalexperienceentity" => vec![
            t("mshr_partynumber"),
            date_part(row, "mshr_startdate"),
            t("mshr_employerposition"),
            t("mshr_employername"),
        ],
        "mshr_hcmpersonaddressentity" => vec![t("mshr_partynumber"), t("mshr_locationid")],
        "mshr_dirpartycontactentity" => vec![
            t("mshr_partynumber"),
            label_of(
                row,
                "mshr_type",
                "mshr_logisticselectronicaddressmethodtype",
                base,
            ),
            t("mshr_description"),
            t("mshr_locator"),
        ],
        "mshr_hcmpersonskillentity" => vec![
            t("mshr_partynumber"),
            label_of(row, "mshr_leveltype", "mshr_hrmskillleveltype", base),
            t("mshr_skillid"),
            date_part(row, "mshr_leveldate"),
        ],
        "mshr_hcmratinglevelentity" => vec![t("mshr_ratinglevelid"), t("mshr_ratingmodelid")],
        "mshr_hcmpersoncertificateentity" => vec![
            t("mshr_partynumber"),
            t("mshr_certificatetypeid"),
            date_part(row, "mshr_startdate"),
        ],
        "mshr_hcmpersonscreeningentity" => {
            vec![t("mshr_partynumber"), t("mshr_screeningtypeid")]
        }
        "mshr_hcmpersonidentificationnumberentity" => vec![
            t("mshr_partynumber"),
            t("mshr_identificationtypeid"),
            t("mshr_identificationnumber"),
        ],
        "mshr_hcmjobcompensationentity" => vec![
            t("mshr_dataareaid"),
            t("mshr_jobid"),
            t("mshr_compensationlevelid"),
        ],
        // Reference tables: the readable id, i.e. the first column after the primary key.
        _ => vec![def
            .columns
            .iter()
            .find(|c| c.name != def.primary_id)
            .map(|c| t(c.name))
            .unwrap_or_default()],
    };
    Some(parts.join(" | "))
}

/// Person display name per `mshr_namesequencedisplayas` (FirstMiddleLast when unset).
pub(crate) fn person_name(row: &Row) -> String {
    let first = text(row, "mshr_firstname");
    let middle = text(row, "mshr_middlename");
    let prefix = text(row, "mshr_lastnameprefix");
    let last_core = text(row, "mshr_lastname");
    let last = [prefix, last_core]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let join = |parts: &[&str], sep: &str| {
        parts
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(sep)
    };
    match text(row, "mshr_namesequencedisplayas").as_str() {
        "LastFirstMiddle" | "LastCommaFirstMiddle" => {
            let rest = join(&[&first, &middle], " ");
            join(&[&last, &rest], ", ")
        }
        "FirstLast" => join(&[&first, &last], " "),
        _ => join(&[&first, &middle, &last], " "),
    }
}

/// Builder state shared by the seed modules.
pub(crate) struct Seeder {
    pub rng: Rng,
    pub store: Store,
    pub base: i64,
    recids: HashMap<&'static str, u64>,
    /// Natural key → id, per table, for wiring lookups while seeding.
    keys: HashMap<&'static str, HashMap<String, Uuid>>,
    /// A blank row per table: cloning it is cheaper than building one column by column.
    templates: HashMap<&'static str, Row>,
}

impl Seeder {
    pub(crate) fn new(base: i64) -> Self {
        Self {
            rng: Rng::new(SEED),
            store: Store::empty(),
            base,
            recids: HashMap::new(),
            keys: HashMap::new(),
            templates: HashMap::new(),
        }
    }

    fn def(logical: &str) -> &'static EntityDef {
        // Startup-only code over our own constant table names; the schema test covers them.
        schema()
            .by_logical(logical)
            .unwrap_or_else(|| panic!("seed uses unknown table {logical}"))
    }

    /// A blank row of `logical` with a fresh primary key.
    pub(crate) fn row(&mut self, logical: &'static str) -> (Uuid, Row) {
        let def = Self::def(logical);
        let n = self.recids.entry(logical).or_insert(FIRST_RECID);
        let id = hr_guid(def.object_type_code, *n);
        *n += 1;
        let mut row = self
            .templates
            .entry(logical)
            .or_insert_with(|| blank_row(def))
            .clone();
        set(&mut row, &def.primary_id, id.to_string());
        (id, row)
    }

    /// Stores a row, filling `mshr_primaryfield`, and indexes it under `key` when given.
    pub(crate) fn put(&mut self, logical: &'static str, mut row: Row, key: Option<&str>) -> Uuid {
        let def = Self::def(logical);
        if let Some(pf) = primary_field(def, &row, self.base) {
            set(&mut row, "mshr_primaryfield", pf);
        }
        let id = row
            .get(&def.primary_id)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .unwrap_or_default();
        if let Some(k) = key {
            self.keys
                .entry(logical)
                .or_default()
                .insert(k.to_string(), id);
        }
        if let Some(t) = self.store.table_mut(logical) {
            t.insert(row);
        }
        id
    }

    /// Id of a seeded row by natural key.
    pub(crate) fn id_of(&self, logical: &'static str, key: &str) -> Option<Uuid> {
        self.keys.get(logical)?.get(key).copied()
    }

    /// Option integer for an en-US label; null if the label is unknown (a seed bug the tests catch).
    pub(crate) fn opt(&self, set: &str, label: &str) -> Value {
        option_value(self.base, set, label).map_or(Value::Null, Value::from)
    }
}

/// Sets a column. Rows already hold every column, so this replaces in place without allocating a
/// key; an unknown column is added (and caught by the column-set test).
pub(crate) fn set(row: &mut Row, col: &str, v: impl Into<Value>) {
    match row.get_mut(col) {
        Some(slot) => *slot = v.into(),
        None => {
            row.insert(col.to_string(), v.into());
        }
    }
}

/// Sets a lookup property to a GUID string (null when `None`).
pub(crate) fn set_ref(row: &mut Row, col: &str, id: Option<Uuid>) {
    set(
        row,
        col,
        id.map_or(Value::Null, |u| Value::String(u.to_string())),
    );
}

/// Date column from a NaiveDate.
pub(crate) fn set_date(row: &mut Row, col: &str, d: NaiveDate) {
    set(row, col, date_string(d));
}

/// Birth date parts used by the person table.
pub(crate) fn birth_parts(d: NaiveDate) -> (i64, u32, i64) {
    (i64::from(d.day()), d.month(), i64::from(d.year()))
}

#[cfg(test)]
mod tests;
