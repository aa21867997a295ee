//! In-memory rows of every emulated table. A row is the JSON object Dataverse would return with no
//! `$select` (all columns, lookups as `_x_value` GUID strings, option sets as integers, dates as
//! `YYYY-MM-DDT00:00:00Z`). Rows keep insertion order, which is primary-key order for seeded data.

use std::collections::HashMap;

use serde_json::{Map, Value};
use uuid::Uuid;

pub(crate) type Row = Map<String, Value>;

#[derive(Debug, Default, Clone)]
pub(crate) struct Table {
    pub rows: Vec<Row>,
    index: HashMap<Uuid, usize>,
    /// Child rows by (lookup property, parent id), for `$expand` of collections without a scan.
    children: HashMap<(String, Uuid), Vec<usize>>,
    /// Row version per primary key (Dataverse's rowversion, the `@odata.etag` value): set on insert and
    /// bumped on every update, kept outside the row so projections never see or change it.
    versions: HashMap<Uuid, u64>,
    next_version: u64,
    pk: String,
}

impl Table {
    pub(crate) fn new(pk: &str) -> Self {
        Self {
            pk: pk.to_string(),
            ..Default::default()
        }
    }

    /// Adds a row; it must carry its primary key as a GUID string.
    pub(crate) fn insert(&mut self, row: Row) {
        if let Some(id) = self.id_of(&row) {
            let v = self.bump();
            self.versions.insert(id, v);
        }
        self.index_row(row);
    }

    fn id_of(&self, row: &Row) -> Option<Uuid> {
        row.get(&self.pk)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
    }

    /// Next row version; starts high like real rowversions so it never looks like a row count.
    fn bump(&mut self) -> u64 {
        self.next_version = self.next_version.max(1_000_000) + 1;
        self.next_version
    }

    /// The row's current version (its weak ETag is `W/"<version>"`).
    pub(crate) fn version(&self, id: &Uuid) -> Option<u64> {
        self.versions.get(id).copied()
    }

    fn index_row(&mut self, row: Row) {
        let idx = self.rows.len();
        if let Some(id) = self.id_of(&row) {
            self.index.insert(id, idx);
        }
        for (k, v) in &row {
            if k.starts_with('_') && k.ends_with("_value") {
                if let Some(parent) = v.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
                    self.children
                        .entry((k.clone(), parent))
                        .or_default()
                        .push(idx);
                }
            }
        }
        self.rows.push(row);
    }

    pub(crate) fn get(&self, id: &Uuid) -> Option<&Row> {
        self.index.get(id).map(|&i| &self.rows[i])
    }

    /// Replaces the columns given in `patch` on an existing row. Lookup indexes are rebuilt for
    /// changed lookup properties.
    pub(crate) fn update(&mut self, id: &Uuid, patch: Row) -> bool {
        let Some(&idx) = self.index.get(id) else {
            return false;
        };
        for (k, v) in patch {
            if k.starts_with('_') && k.ends_with("_value") {
                if let Some(old) = self.rows[idx]
                    .get(&k)
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok())
                {
                    if let Some(list) = self.children.get_mut(&(k.clone(), old)) {
                        list.retain(|&i| i != idx);
                    }
                }
                if let Some(new) = v.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
                    self.children.entry((k.clone(), new)).or_default().push(idx);
                }
            }
            self.rows[idx].insert(k, v);
        }
        let v = self.bump();
        self.versions.insert(*id, v);
        true
    }

    /// Removes a row. Indexes are rebuilt (deletes are rare in the emulator).
    pub(crate) fn delete(&mut self, id: &Uuid) -> bool {
        let Some(&idx) = self.index.get(id) else {
            return false;
        };
        let rows = std::mem::take(&mut self.rows);
        self.index.clear();
        self.children.clear();
        for (i, row) in rows.into_iter().enumerate() {
            if i != idx {
                // Re-indexing only: the surviving rows keep their versions.
                self.index_row(row);
            }
        }
        self.versions.remove(id);
        true
    }

    /// Rows of this table whose lookup property `lookup` points at `parent`.
    pub(crate) fn children_of(&self, lookup: &str, parent: &Uuid) -> Vec<&Row> {
        self.children
            .get(&(lookup.to_string(), *parent))
            .map(|idxs| idxs.iter().map(|&i| &self.rows[i]).collect())
            .unwrap_or_default()
    }
}

/// All tables, keyed by logical name.
#[derive(Debug, Default, Clone)]
pub(crate) struct Store {
    pub tables: HashMap<String, Table>,
}

impl Store {
    /// An empty table for every table in the schema.
    pub(crate) fn empty() -> Self {
        let mut tables = HashMap::new();
        for t in super::schema::schema().tables() {
            tables.insert(t.logical_name.to_string(), Table::new(&t.primary_id));
        }
        Self { tables }
    }
    pub(crate) fn table(&self, logical: &str) -> Option<&Table> {
        self.tables.get(logical)
    }
    pub(crate) fn table_mut(&mut self, logical: &str) -> Option<&mut Table> {
        self.tables.get_mut(logical)
    }
}
