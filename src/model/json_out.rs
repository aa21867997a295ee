//! Writing a partner page's JSON straight from the typed rows, with no DTO in between: the same
//! bytes `serde_json` writes for the DTOs (a test compares them), at a fraction of the work. A
//! string borrowed from the upstream body had no escape sequence there, and JSON text cannot hold
//! a raw control character, so it needs no escaping here and is copied as it is; resolved lookups
//! and option values copy the JSON their caches stored once.

use std::borrow::Cow;

use uuid::Uuid;

use super::row::Cell;
use crate::resolve::lookups::Resolved;
use crate::resolve::shared::write_json;

/// A JSON string: copied when borrowed from the upstream body (nothing to escape), else escaped.
#[allow(clippy::ptr_arg)] // the variant, not just the text, decides: borrowed means unescaped
fn string(out: &mut Vec<u8>, s: &Cow<'_, str>) {
    match s {
        Cow::Borrowed(s) => {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        Cow::Owned(s) => write_json(out, s.as_str()),
    }
}

/// [`Cell::text`]: a non-empty string, else `null`.
pub(super) fn text(out: &mut Vec<u8>, cell: &Cell<'_>) {
    match cell {
        Cell::Str(s) if !s.is_empty() => string(out, s),
        _ => out.extend_from_slice(b"null"),
    }
}

/// [`Cell::date`]: the first ten characters of a string, else `null`.
pub(super) fn date(out: &mut Vec<u8>, cell: &Cell<'_>) {
    match cell {
        Cell::Str(s) => match s.get(..10) {
            Some(d) => string(
                out,
                &match s {
                    Cow::Borrowed(b) => Cow::Borrowed(&b[..d.len()]),
                    Cow::Owned(_) => Cow::Owned(d.to_string()),
                },
            ),
            None => out.extend_from_slice(b"null"),
        },
        _ => out.extend_from_slice(b"null"),
    }
}

/// [`Cell::as_f64`]: any number (as `serde_json` writes an `f64`), else `null`.
pub(super) fn number(out: &mut Vec<u8>, cell: &Cell<'_>) {
    match cell.as_f64() {
        Some(f) => write_json(out, &f),
        None => out.extend_from_slice(b"null"),
    }
}

/// A GUID as `serde` writes a [`Uuid`] to JSON (lower-case, hyphenated).
pub(super) fn uuid(out: &mut Vec<u8>, id: Uuid) {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
    out.push(b'"');
}

/// A lookup as [`Resolved::get`] maps it: the resolved JSON, else the id with the row's
/// FormattedValue as code and no name, else (no GUID) `null`.
pub(super) fn lookup(
    out: &mut Vec<u8>,
    resolved: &Resolved,
    target: &'static str,
    id: &Cell<'_>,
    formatted: &Cell<'_>,
) {
    let Some(id) = id.uuid() else {
        out.extend_from_slice(b"null");
        return;
    };
    if let Some(json) = resolved.json(target, id) {
        out.extend_from_slice(json.as_bytes());
        return;
    }
    out.extend_from_slice(b"{\"id\":");
    uuid(out, id);
    out.extend_from_slice(b",\"code\":");
    match formatted {
        Cell::Str(s) => string(out, s),
        _ => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"name\":null}");
}
