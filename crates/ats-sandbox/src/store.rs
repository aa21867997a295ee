//! In-memory rows of every emulated table. A row is what Dataverse would return with no `$select`
//! (all columns, lookups as `_x_value` GUID strings, option sets as integers, dates as
//! `YYYY-MM-DDT00:00:00Z`), stored compactly ([`Record`]). Rows keep insertion order, which is
//! primary-key order for seeded data.
//!
//! Indexes keep a page cheap at benchmark scale: the primary key, every lookup (for `$expand` and
//! `$filter` on keys), `mshr_dataareaid` and `mshr_status` (equality), and, per `$orderby`, the
//! table's rows in that order (built on first use, dropped by any write).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::record::{Cell, Record, Strings};
pub(crate) use crate::record::{FieldRef, Fields, Row};
use crate::schema::{ColType, EntityDef};

/// An index key: a column's value as the `$filter` evaluator compares it for equality (strings
/// case-insensitively, numbers by their bits, GUIDs by value).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum IndexKey {
    Str(Box<str>),
    Num(u64),
    Guid(Uuid),
}

/// Columns indexed for equality besides the primary key and the lookups.
const EQ_COLUMNS: &[&str] = &["mshr_dataareaid", "mshr_status"];

#[derive(Debug, Default, Clone)]
pub(crate) struct Table {
    pk: String,
    /// Column names in output order: the schema's, then any a write added.
    columns: Vec<String>,
    types: Vec<Option<ColType>>,
    col_of: HashMap<String, usize>,
    records: Vec<Record>,
    strings: Strings,
    index: HashMap<Uuid, u32>,
    /// Equality indexes by column position: value → rows holding it, in insertion order.
    eq: HashMap<usize, HashMap<IndexKey, Vec<u32>>>,
    next_version: u64,
}

/// A stored row with the table it lives in.
#[derive(Clone, Copy)]
pub(crate) struct RowRef<'a> {
    table: &'a Table,
    rec: &'a Record,
    idx: u32,
}

impl std::fmt::Debug for RowRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RowRef").field(&self.to_row()).finish()
    }
}

impl PartialEq for RowRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.rec, other.rec)
    }
}

impl<'a> RowRef<'a> {
    /// The row's position in its table.
    pub(crate) fn position(&self) -> u32 {
        self.idx
    }
    pub(crate) fn field(&self, name: &str) -> Option<FieldRef<'a>> {
        let i = *self.table.col_of.get(name)?;
        self.rec.cells.get(i)?.field(&self.table.strings)
    }
    pub(crate) fn get_str(&self, name: &str) -> Option<&'a str> {
        self.field(name)?.as_str()
    }
    pub(crate) fn id(&self) -> Option<Uuid> {
        self.get_str(&self.table.pk)
            .and_then(|s| Uuid::parse_str(s).ok())
    }
    pub(crate) fn version(&self) -> u64 {
        self.rec.version
    }
    /// The row as Dataverse returns it with no `$select`.
    pub(crate) fn to_row(self) -> Row {
        let mut out = Row::with_capacity(self.rec.cells.len());
        for (name, cell) in self.table.columns.iter().zip(self.rec.cells.iter()) {
            if let Some(f) = cell.field(&self.table.strings) {
                out.insert(name.clone(), f.to_value());
            }
        }
        out
    }
}

impl Fields for RowRef<'_> {
    fn field(&self, name: &str) -> Option<FieldRef<'_>> {
        RowRef::field(self, name)
    }
    fn to_row(&self) -> Row {
        RowRef::to_row(*self)
    }
}

impl Table {
    pub(crate) fn new(def: &EntityDef) -> Self {
        let mut t = Self {
            pk: def.primary_id.clone(),
            ..Default::default()
        };
        for c in &def.columns {
            t.add_column(c.name, Some(c.ty));
        }
        t
    }

    fn add_column(&mut self, name: &str, ty: Option<ColType>) -> usize {
        let i = self.columns.len();
        self.columns.push(name.to_string());
        self.types.push(ty);
        self.col_of.insert(name.to_string(), i);
        let indexed =
            name == self.pk || EQ_COLUMNS.contains(&name) || matches!(ty, Some(ColType::Lookup(_)));
        if indexed && name != self.pk {
            self.eq.insert(i, HashMap::new());
        }
        i
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn row(&self, idx: u32) -> Option<RowRef<'_>> {
        self.records.get(idx as usize).map(|rec| RowRef {
            table: self,
            rec,
            idx,
        })
    }

    /// Every row, in insertion order.
    pub(crate) fn rows(&self) -> impl Iterator<Item = RowRef<'_>> + '_ {
        self.records.iter().enumerate().map(|(i, rec)| RowRef {
            table: self,
            rec,
            idx: i as u32,
        })
    }

    /// Next row version; starts high like real rowversions so it never looks like a row count.
    fn bump(&mut self) -> u64 {
        self.next_version = self.next_version.max(1_000_000) + 1;
        self.next_version
    }

    /// Adds a row; it must carry its primary key as a GUID string.
    pub(crate) fn insert(&mut self, row: Row) {
        let mut cells = vec![Cell::Absent; self.columns.len()];
        for (k, v) in row {
            let i = match self.col_of.get(&k) {
                Some(&i) => i,
                None => {
                    cells.push(Cell::Absent);
                    self.add_column(&k, None)
                }
            };
            cells[i] = Cell::from_value(v, &mut self.strings);
        }
        let version = self.bump();
        self.records.push(Record {
            cells: cells.into_boxed_slice(),
            version,
        });
        self.index_row(self.records.len() as u32 - 1);
    }

    fn key_at(&self, idx: u32, col: usize) -> Option<IndexKey> {
        let row = self.row(idx)?;
        let field = row.rec.cells.get(col)?.field(&self.strings);
        crate::odata::index_key(field, self.types[col]?)
    }

    fn index_row(&mut self, idx: u32) {
        if let Some(id) = self.row(idx).and_then(|r| r.id()) {
            self.index.insert(id, idx);
        }
        let cols: Vec<usize> = self.eq.keys().copied().collect();
        for col in cols {
            if let Some(key) = self.key_at(idx, col) {
                if let Some(m) = self.eq.get_mut(&col) {
                    m.entry(key).or_default().push(idx);
                }
            }
        }
    }

    pub(crate) fn get(&self, id: &Uuid) -> Option<RowRef<'_>> {
        self.index.get(id).and_then(|&i| self.row(i))
    }

    /// The row's current version (its weak ETag is `W/"<version>"`).
    pub(crate) fn version(&self, id: &Uuid) -> Option<u64> {
        self.get(id).map(|r| r.version())
    }

    /// Replaces the columns given in `patch` on an existing row, bumps its version and moves it
    /// in the indexes of the columns that changed.
    pub(crate) fn update(&mut self, id: &Uuid, patch: Row) -> bool {
        let Some(&idx) = self.index.get(id) else {
            return false;
        };
        for (k, v) in patch {
            let col = match self.col_of.get(&k) {
                Some(&i) => i,
                None => self.add_column(&k, None),
            };
            let old = self.eq.contains_key(&col).then(|| self.key_at(idx, col));
            let cell = Cell::from_value(v, &mut self.strings);
            let rec = &mut self.records[idx as usize];
            if rec.cells.len() <= col {
                let mut cells = std::mem::take(&mut rec.cells).into_vec();
                cells.resize(col + 1, Cell::Absent);
                rec.cells = cells.into_boxed_slice();
            }
            rec.cells[col] = cell;
            if let Some(old) = old {
                let new = self.key_at(idx, col);
                if old != new {
                    if let Some(m) = self.eq.get_mut(&col) {
                        if let Some(list) = old.and_then(|k| m.get_mut(&k)) {
                            list.retain(|&i| i != idx);
                        }
                        if let Some(k) = new {
                            m.entry(k).or_default().push(idx);
                        }
                    }
                }
            }
        }
        let v = self.bump();
        self.records[idx as usize].version = v;
        true
    }

    /// Removes a row. Indexes are rebuilt (deletes are rare in the emulator).
    pub(crate) fn delete(&mut self, id: &Uuid) -> bool {
        let Some(&idx) = self.index.get(id) else {
            return false;
        };
        self.records.remove(idx as usize);
        self.index.clear();
        for m in self.eq.values_mut() {
            m.clear();
        }
        for i in 0..self.records.len() {
            // Re-indexing only: the surviving rows keep their versions.
            self.index_row(i as u32);
        }
        true
    }

    /// Rows of this table whose lookup property `lookup` points at `parent`.
    pub(crate) fn children_of(&self, lookup: &str, parent: &Uuid) -> Vec<RowRef<'_>> {
        self.eq_rows(lookup, &IndexKey::Guid(*parent))
            .map(|idxs| idxs.iter().filter_map(|&i| self.row(i)).collect())
            .unwrap_or_default()
    }

    /// Positions of the rows whose `col` equals `key`, in insertion order; `None` when `col` has
    /// no index (the caller scans instead).
    pub(crate) fn eq_rows(&self, col: &str, key: &IndexKey) -> Option<Cow<'_, [u32]>> {
        if col == self.pk {
            return Some(match key {
                IndexKey::Guid(id) => self
                    .index
                    .get(id)
                    .map_or(Cow::Borrowed(&[][..]), |&i| Cow::Owned(vec![i])),
                _ => Cow::Borrowed(&[][..]),
            });
        }
        let m = self.eq.get(self.col_of.get(col)?)?;
        Some(Cow::Borrowed(m.get(key).map_or(&[][..], Vec::as_slice)))
    }
}

/// Row orders per (table, `$orderby`); bounded, since `$orderby` comes from callers.
type Orders = HashMap<(&'static str, Vec<(String, bool)>), Arc<[u32]>>;
const MAX_ORDERS: usize = 64;

/// All tables, keyed by logical name.
#[derive(Debug, Default)]
pub(crate) struct Store {
    tables: HashMap<String, Table>,
    /// Sorted row positions, built on first use. Every mutable access clears them: a lookup
    /// column sorts by the name of a row in another table.
    orders: Mutex<Orders>,
}

impl Clone for Store {
    fn clone(&self) -> Self {
        Self {
            tables: self.tables.clone(),
            orders: Mutex::default(),
        }
    }
}

impl Store {
    /// An empty table for every table in the schema.
    pub(crate) fn empty() -> Self {
        let mut tables = HashMap::new();
        for t in super::schema::schema().tables() {
            tables.insert(t.logical_name.to_string(), Table::new(t));
        }
        Self {
            tables,
            orders: Mutex::default(),
        }
    }
    pub(crate) fn table(&self, logical: &str) -> Option<&Table> {
        self.tables.get(logical)
    }
    pub(crate) fn table_mut(&mut self, logical: &str) -> Option<&mut Table> {
        self.orders
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.tables.get_mut(logical)
    }

    /// The positions of `def`'s rows sorted by `orderby` (then the primary key): from the cache,
    /// else built by `build` and cached.
    pub(crate) fn order(
        &self,
        def: &EntityDef,
        orderby: Vec<(String, bool)>,
        build: impl FnOnce() -> Vec<u32>,
    ) -> Arc<[u32]> {
        let key = (def.logical_name, orderby);
        if let Some(found) = self.orders.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return found;
        }
        // Built outside the lock: two first requests may both build it, which is harmless.
        let built: Arc<[u32]> = build().into();
        if let Ok(mut m) = self.orders.lock() {
            if m.len() >= MAX_ORDERS {
                m.clear();
            }
            m.insert(key, built.clone());
        }
        built
    }
}
