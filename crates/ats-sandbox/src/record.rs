//! Compact stored rows. A 100k-request seed holds about half a million rows; as `serde_json` maps
//! (an `IndexMap` of owned keys and 72-byte values each) that was 2.4 GiB. A [`Record`] is one
//! 16-byte [`Cell`] per column of its table, strings interned in the table's [`Strings`] pool, so
//! a repeated value (a company, a job, a parent's GUID) is stored once.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Number, Value};

/// A row as the API sees it: Dataverse's JSON object (writes build these; reads render them).
pub(crate) type Row = Map<String, Value>;

/// One column of a stored row. `Absent` is a column the row never had (a column added to the
/// table after the row was stored), which the row's JSON leaves out; `Null` is an empty column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Absent,
    Null,
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    /// Index into the table's string pool.
    Str(u32),
    /// Arrays and objects: never in seeded rows, kept as they are.
    Json(Box<Value>),
}

/// A column value borrowed from a stored or an API row, for the evaluator and the paging cookie.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldRef<'a> {
    Null,
    Bool(bool),
    Num(Number),
    Str(&'a str),
    Json(&'a Value),
}

impl<'a> FieldRef<'a> {
    pub(crate) fn of(v: &'a Value) -> Self {
        match v {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => Self::Num(n.clone()),
            Value::String(s) => Self::Str(s),
            other => Self::Json(other),
        }
    }
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
    pub(crate) fn as_str(&self) -> Option<&'a str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Num(n) => n.as_f64(),
            _ => None,
        }
    }
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Num(n) => Value::Number(n.clone()),
            Self::Str(s) => Value::String((*s).to_string()),
            Self::Json(v) => (*v).clone(),
        }
    }
}

/// Read access to a row's columns, whether stored ([`RowRef`]) or an API object ([`Row`]).
pub(crate) trait Fields {
    /// The column's value; `None` when the row does not have the column at all.
    fn field(&self, name: &str) -> Option<FieldRef<'_>>;
    /// Every column, as Dataverse returns the row with no `$select`.
    fn to_row(&self) -> Row;
}

impl<T: Fields + ?Sized> Fields for &T {
    fn field(&self, name: &str) -> Option<FieldRef<'_>> {
        (**self).field(name)
    }
    fn to_row(&self) -> Row {
        (**self).to_row()
    }
}

impl Fields for Row {
    fn field(&self, name: &str) -> Option<FieldRef<'_>> {
        self.get(name).map(FieldRef::of)
    }
    fn to_row(&self) -> Row {
        self.clone()
    }
}

/// Interned strings of one table: each distinct value stored once, cells hold its index.
#[derive(Debug, Default, Clone)]
pub(crate) struct Strings {
    list: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32>,
}

impl Strings {
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        let arc: Arc<str> = Arc::from(s);
        self.list.push(arc.clone());
        self.ids.insert(arc, id);
        id
    }
    pub(crate) fn get(&self, id: u32) -> &str {
        self.list.get(id as usize).map_or("", |s| s)
    }
}

impl Cell {
    pub(crate) fn from_value(v: Value, strings: &mut Strings) -> Self {
        match v {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Bool(b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Cell::UInt(u)
                } else if let Some(i) = n.as_i64() {
                    Cell::Int(i)
                } else {
                    Cell::Float(n.as_f64().unwrap_or_default())
                }
            }
            Value::String(s) => Cell::Str(strings.intern(&s)),
            other => Cell::Json(Box::new(other)),
        }
    }

    /// `None` for `Absent`.
    pub(crate) fn field<'a>(&'a self, strings: &'a Strings) -> Option<FieldRef<'a>> {
        Some(match self {
            Cell::Absent => return None,
            Cell::Null => FieldRef::Null,
            Cell::Bool(b) => FieldRef::Bool(*b),
            Cell::UInt(u) => FieldRef::Num(Number::from(*u)),
            Cell::Int(i) => FieldRef::Num(Number::from(*i)),
            // Stored floats came from a `Number`, so they are finite.
            Cell::Float(f) => FieldRef::Num(Number::from_f64(*f).unwrap_or_else(|| 0.into())),
            Cell::Str(id) => FieldRef::Str(strings.get(*id)),
            Cell::Json(v) => FieldRef::Json(v),
        })
    }
}

/// A stored row: its cells in the table's column order, and its row version (the `@odata.etag`).
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) cells: Box<[Cell]>,
    pub(crate) version: u64,
}
