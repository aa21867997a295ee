//! Reading Dataverse rows: columns, lookups with their FormattedValue fallback, option values,
//! collections. Shared by the per-resource mappings.
//!
//! Rows are typed (a serde struct per table: `recruiting_request::RequestRow`, `candidate::rows`),
//! their columns [`Cell`]s borrowing from the response body.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use uuid::Uuid;

use crate::resolve::lang::Lang;
use crate::resolve::lookups::{LookupRef, Resolved, Wanted};
use crate::resolve::options::{OptionSetInfo, OptionValue};

/// One column of a typed row: the JSON scalar as sent, strings borrowed from the body when they
/// need no unescaping. Any other JSON (null, a boolean, an object, an array, a missing column)
/// reads as absent, exactly as the `Value` readers treated a value of the wrong kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Cell<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Float(f64),
}

impl Cell<'_> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An integer that fits `i64` (as `Value::as_i64`).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Cell::Int(i) => Some(i),
            Cell::UInt(u) => i64::try_from(u).ok(),
            _ => None,
        }
    }

    /// Any number (as `Value::as_f64`).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Cell::Int(i) => Some(i as f64),
            Cell::UInt(u) => Some(u as f64),
            Cell::Float(f) => Some(f),
            _ => None,
        }
    }

    pub fn uuid(&self) -> Option<Uuid> {
        self.as_str().and_then(|s| Uuid::parse_str(s).ok())
    }

    /// A non-empty string, owned for the DTO.
    pub fn text(&self) -> Option<String> {
        self.as_str().filter(|s| !s.is_empty()).map(str::to_string)
    }

    /// `2021-01-04T00:00:00Z` or `2021-01-04` → `2021-01-04`.
    pub fn date(&self) -> Option<String> {
        self.as_str().and_then(|s| s.get(..10)).map(str::to_string)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Cell<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CellVisitor(PhantomData))
    }
}

struct CellVisitor<'a>(PhantomData<Cell<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for CellVisitor<'a> {
    type Value = Cell<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cell::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cell::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cell::Str(Cow::Owned(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Cell::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Cell::UInt(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Cell::Float(v))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Cell::Absent)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Cell::Absent)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Cell::Absent)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Cell::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Cell::Absent)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Cell::Absent)
    }
}

/// A GUID column (a lookup's id), parsed once as the row is read: a page both collects and
/// writes each lookup id. Anything but a GUID string reads as absent, as [`Cell::uuid`] does.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Guid(pub Option<Uuid>);

impl<'de> Deserialize<'de> for Guid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Cell::deserialize(d).map(|c| Guid(c.uuid()))
    }
}

/// A collection navigation of a typed row: `null` or absent reads as empty, as `children` did.
pub(super) fn collection<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A lookup of a typed row: its GUID and FormattedValue columns.
pub(super) type LookupCells<'r, 'a> = (Option<Uuid>, &'r Cell<'a>);

/// Each (GUID, FormattedValue) pair resolved against its target table.
pub(super) fn resolve_all<const N: usize>(
    pairs: [LookupCells<'_, '_>; N],
    targets: &[&'static str; N],
    resolved: &Resolved,
) -> [Option<LookupRef>; N] {
    let mut i = 0;
    pairs.map(|(id, fv)| {
        let target = targets[i];
        i += 1;
        resolved.get(target, id, fv.as_str())
    })
}

pub(super) fn want_all<const N: usize>(
    w: &mut Wanted,
    pairs: [LookupCells<'_, '_>; N],
    targets: &[&'static str; N],
) {
    for ((id, _), target) in pairs.into_iter().zip(targets) {
        w.add(target, id);
    }
}

/// An option-set column of a typed row.
pub(super) fn option_cell(cell: &Cell<'_>, set: &OptionSetInfo, lang: Lang) -> Option<OptionValue> {
    cell.as_i64().map(|code| set.value(code, lang))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guid_column_reads_a_guid_string_and_nothing_else() {
        let id = "000028a1-0000-0000-0000-000150000001";
        let read = |json: &str| serde_json::from_str::<Guid>(json).expect("json");
        assert_eq!(read(&format!("\"{id}\"")).0, Uuid::parse_str(id).ok());
        // An escaped string (owned, not borrowed) reads the same.
        assert_eq!(
            read("\"000028a1-0000-0000-0000-00015000000\\u0031\"").0,
            Uuid::parse_str(id).ok()
        );
        for other in [
            "null",
            "\"usmf\"",
            "\"\"",
            "42",
            "true",
            "[\"x\"]",
            "{\"a\":1}",
        ] {
            assert_eq!(read(other), Guid(None), "{other}");
        }
    }
}
