//! Writing a partner page's JSON straight from the typed rows, with no DTO in between: the same
//! bytes `serde_json` writes for the DTOs (a test compares them), at a fraction of the work. A
//! string borrowed from the upstream body had no escape sequence there, and JSON text cannot hold
//! a raw control character, so it needs no escaping here and is copied as it is; resolved lookups
//! and option values copy the JSON their caches stored once.

use std::borrow::Cow;

use uuid::Uuid;

use super::row::Cell;
use crate::resolve::lang::Lang;
use crate::resolve::lookups::Resolved;
use crate::resolve::options::OptionSetInfo;
use crate::resolve::shared::write_json;

/// A string cell's text, and whether it was borrowed from the upstream body (so holds nothing to
/// escape).
fn str_of<'c>(cell: &'c Cell<'_>) -> Option<(&'c str, bool)> {
    match cell {
        Cell::Str(s) => Some((s, matches!(s, Cow::Borrowed(_)))),
        _ => None,
    }
}

/// `s` as a JSON string: copied when `verbatim` (borrowed from the upstream body), else escaped.
fn string(out: &mut Vec<u8>, s: &str, verbatim: bool) {
    if verbatim {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        write_json(out, s);
    }
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

/// [`Cell::text`]: a non-empty string, else `null`.
pub(super) fn text(out: &mut Vec<u8>, cell: &Cell<'_>) {
    match str_of(cell) {
        Some((s, verbatim)) if !s.is_empty() => string(out, s, verbatim),
        _ => null(out),
    }
}

/// [`Cell::date`]: the first ten characters of a string, else `null`.
pub(super) fn date(out: &mut Vec<u8>, cell: &Cell<'_>) {
    match str_of(cell).and_then(|(s, verbatim)| Some((s.get(..10)?, verbatim))) {
        Some((d, verbatim)) => string(out, d, verbatim),
        None => null(out),
    }
}

/// [`Cell::as_f64`]: any number (as `serde_json` writes an `f64`), else `null`.
pub(super) fn number(out: &mut Vec<u8>, cell: &Cell<'_>) {
    match cell.as_f64() {
        Some(f) => write_json(out, &f),
        None => null(out),
    }
}

/// [`super::row::option_cell`]: the set's value for the code, else `null`.
pub(super) fn option(out: &mut Vec<u8>, cell: &Cell<'_>, set: &OptionSetInfo, lang: Lang) {
    match cell.as_i64() {
        Some(code) => set.write_value(code, lang, out),
        None => null(out),
    }
}

/// A GUID as `serde` writes a [`Uuid`] to JSON (lower-case, hyphenated).
pub(super) fn uuid(out: &mut Vec<u8>, id: Uuid) {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    string(out, id.hyphenated().encode_lower(&mut buf), true);
}

/// A lookup as [`Resolved::get`] maps it: the resolved JSON, else the id with the row's
/// FormattedValue as code and no name, else (no GUID) `null`.
pub(super) fn lookup(
    out: &mut Vec<u8>,
    resolved: &Resolved,
    target: &'static str,
    (id, formatted): (Option<Uuid>, &Cell<'_>),
) {
    let Some(id) = id else {
        return null(out);
    };
    if let Some(json) = resolved.json(target, id) {
        return out.extend_from_slice(json.as_bytes());
    }
    out.extend_from_slice(b"{\"id\":");
    uuid(out, id);
    out.extend_from_slice(b",\"code\":");
    match str_of(formatted) {
        Some((s, verbatim)) => string(out, s, verbatim),
        None => null(out),
    }
    out.extend_from_slice(b",\"name\":null}");
}

/// `[…]` of the items that have a key (`id`; the DTO mapping skips the others), each an object
/// starting with that `"id"`; `rest` writes its other members (each led by a comma).
pub(super) fn keyed_array<T>(
    out: &mut Vec<u8>,
    items: &[T],
    id: impl Fn(&T) -> Option<Uuid>,
    mut rest: impl FnMut(&mut Vec<u8>, &T),
) {
    out.push(b'[');
    let mut first = true;
    for item in items {
        let Some(key) = id(item) else { continue };
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(b"{\"id\":");
        uuid(out, key);
        rest(out, item);
        out.push(b'}');
    }
    out.push(b']');
}
