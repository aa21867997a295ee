//! `$expand=nav($select=…;$filter=…;$orderby=…;$top=…),nav2,nav3/$ref`, validated against the
//! navigation properties of the table and, inside the parentheses, against the *target* table.

use std::collections::HashMap;

use axum::http::StatusCode;

use super::parser::{parse_filter, Expr};
use super::{parse_orderby, parse_select, parse_top, OrderBy};
use crate::error::DvError;
use crate::schema::{schema, EntityDef, NavKind};

/// Dataverse allows at most 15 `$expand` options per query.
pub(super) const MAX_EXPANDS: usize = 15;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expand {
    /// Navigation property name, as in `EntityDef::navs`.
    pub nav: String,
    /// Logical name of the related table.
    pub target: &'static str,
    /// True for a collection-valued (one-to-many) navigation.
    pub collection: bool,
    /// `nav/$ref`: only references (`@odata.id`) are returned.
    pub ref_only: bool,
    pub select: Option<Vec<String>>,
    pub filter: Option<Expr>,
    pub orderby: Vec<OrderBy>,
    pub top: Option<usize>,
}

fn expand_misuse(message: &str) -> DvError {
    DvError::new(StatusCode::BAD_REQUEST, "0x80060888", message)
}

/// Splits on `sep` outside parentheses, single-quoted strings and JSON arrays.
fn split_top_level(s: &str, sep: char) -> Result<Vec<&str>, DvError> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let (mut in_single, mut in_double, mut escaped) = (false, false, false);
    for (i, c) in s.char_indices() {
        if in_double {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_double = false,
                _ => {}
            }
            continue;
        }
        match c {
            '\'' => in_single = !in_single,
            _ if in_single => {}
            '"' => in_double = true,
            '(' | '[' => depth += 1,
            ')' | ']' => {
                depth -= 1;
                if depth < 0 {
                    return Err(super::lexer::syntax_error(i, s));
                }
            }
            c if c == sep && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if depth != 0 || in_single || in_double {
        return Err(super::lexer::syntax_error(s.chars().count(), s));
    }
    parts.push(&s[start..]);
    Ok(parts)
}

pub(super) fn parse_expand(entity: &EntityDef, value: &str) -> Result<Vec<Expand>, DvError> {
    let items = split_top_level(value, ',')?;
    if items.len() > MAX_EXPANDS {
        return Err(DvError::bad_query(format!(
            "The number of $expand options exceeds the limit of {MAX_EXPANDS}."
        )));
    }
    let mut out: Vec<Expand> = Vec::new();
    for item in items {
        let e = parse_item(entity, item.trim(), value)?;
        if out.iter().any(|x| x.nav == e.nav) {
            return Err(DvError::bad_query(format!(
                "The navigation property '{}' is expanded more than once.",
                e.nav
            )));
        }
        out.push(e);
    }
    Ok(out)
}

fn parse_item(entity: &EntityDef, item: &str, whole: &str) -> Result<Expand, DvError> {
    let (head, options) = match item.find('(') {
        Some(open) if item.ends_with(')') => (&item[..open], Some(&item[open + 1..item.len() - 1])),
        Some(_) => return Err(super::lexer::syntax_error(item.len(), whole)),
        None => (item, None),
    };
    let head = head.trim();
    let (name, ref_only) = match head.strip_suffix("/$ref") {
        Some(n) => (n, true),
        None => (head, false),
    };
    if name.is_empty() {
        return Err(super::lexer::syntax_error(0, whole));
    }
    if name.contains('/') {
        return Err(DvError::bad_query(
            "Multi-level $expand paths are not supported by the sandbox emulator.",
        ));
    }
    let nav = entity
        .nav(name)
        .ok_or_else(|| DvError::unknown_property(name, entity.logical_name))?;
    let (target, collection) = match nav.kind {
        NavKind::Collection { child, .. } => (child, true),
        NavKind::Single { target, .. } => (target, false),
    };
    if ref_only && collection {
        return Err(expand_misuse(
            "Expand with $ref is only supported on lookup type navigation property.",
        ));
    }
    let target_def = schema().by_logical(target).ok_or_else(|| {
        DvError::bad_query(format!("The table '{target}' is not known to the sandbox."))
    })?;
    let mut e = Expand {
        nav: name.to_string(),
        target,
        collection,
        ref_only,
        select: None,
        filter: None,
        orderby: Vec::new(),
        top: None,
    };
    if let Some(options) = options.filter(|o| !o.trim().is_empty()) {
        apply_options(&mut e, target_def, options)?;
    }
    Ok(e)
}

fn apply_options(e: &mut Expand, target: &EntityDef, options: &str) -> Result<(), DvError> {
    // Parameter aliases are not supported inside $expand (docs/dataverse-web-api.md#query-options): an alias
    // there is unassigned.
    let no_aliases = HashMap::new();
    let mut seen: Vec<&str> = Vec::new();
    for opt in split_top_level(options, ';')? {
        let opt = opt.trim();
        let (key, value) = opt
            .split_once('=')
            .ok_or_else(|| super::lexer::syntax_error(0, options))?;
        if seen.contains(&key) {
            return Err(DvError::bad_query(format!(
                "Query option '{key}' was specified more than once, but it must be specified at most once."
            )));
        }
        seen.push(key);
        match key {
            "$select" => e.select = parse_select(target, value)?,
            "$filter" => e.filter = Some(parse_filter(target, value, &no_aliases)?),
            "$orderby" | "$top" if !e.collection => {
                return Err(expand_misuse(
                    "Only $select and $filter clause can be provided while doing $expand on many-to-one relationship or nested one-to-many relationship.",
                ))
            }
            "$orderby" => e.orderby = parse_orderby(target, value)?,
            "$top" => e.top = Some(parse_top(value)?),
            "$expand" => {
                return Err(DvError::bad_query(
                    "Nested $expand is not supported by the sandbox emulator.",
                ))
            }
            _ => {
                return Err(DvError::bad_query(format!(
                    "The query option '{key}' is not supported inside $expand."
                )))
            }
        }
    }
    Ok(())
}
