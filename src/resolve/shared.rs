//! Text shared between the caches and every row that shows it (`Arc<str>`): a resolved lookup or an
//! option label is cloned into each DTO by bumping a count, not by copying the string.

use std::sync::Arc;

use serde::Serializer;

/// `#[serde(serialize_with = …)]` for an `Arc<str>` (serde's `rc` feature is not needed for this).
pub(crate) fn text<S: Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

/// [`text`] for an `Option<Arc<str>>` (`None` is `null`).
pub(crate) fn opt_text<S: Serializer>(s: &Option<Arc<str>>, ser: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(s) => ser.serialize_str(s),
        None => ser.serialize_none(),
    }
}

/// Appends `value`'s JSON to `out` (writing to a `Vec` cannot fail; these types always serialise).
pub(crate) fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(out, value);
}
