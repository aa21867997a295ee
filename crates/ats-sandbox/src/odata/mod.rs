//! The emulator's OData query engine: parses the query options of a Dataverse Web API GET
//! (docs/dataverse-web-api.md#query-options), validates them against the schema, and evaluates them over
//! in-memory rows. Every bad input is a 400 [`DvError`] in Dataverse's wording; nothing here panics.

mod eval;
mod expand;
mod lexer;
mod parser;
mod project;

use std::collections::{HashMap, HashSet};

pub(crate) use eval::{count, index_key, matches, page, sort_rows};
pub(crate) use expand::Expand;
pub(crate) use parser::{parse_filter, Expr};
pub(crate) use project::project;

use crate::error::DvError;
use crate::schema::EntityDef;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderBy {
    pub column: String,
    pub descending: bool,
}

/// A parsed and validated query.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ODataQuery {
    /// Validated column names; `None` = all columns.
    pub select: Option<Vec<String>>,
    pub filter: Option<Expr>,
    pub orderby: Vec<OrderBy>,
    pub top: Option<usize>,
    pub count: bool,
    pub expand: Vec<Expand>,
}

/// Parses the (percent-decoded) query pairs of a collection GET on `entity`. Parameter aliases
/// (`@p1=…`) are taken from the same list; `$skiptoken` is left to the server's paging.
pub(crate) fn parse_query(
    entity: &EntityDef,
    params: &[(String, String)],
) -> Result<ODataQuery, DvError> {
    let aliases: HashMap<String, String> = params
        .iter()
        .filter(|(k, _)| k.starts_with('@'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut seen = HashSet::new();
    let mut q = ODataQuery::default();
    for (key, value) in params {
        if !key.starts_with('$') {
            continue; // aliases (read above) and custom options, which OData ignores
        }
        if !seen.insert(key.as_str()) {
            return Err(DvError::bad_query(format!(
                "Query option '{key}' was specified more than once, but it must be specified at most once."
            )));
        }
        match key.as_str() {
            "$select" => q.select = parse_select(entity, value)?,
            "$filter" => q.filter = Some(parse_filter(entity, value, &aliases)?),
            "$orderby" => q.orderby = parse_orderby(entity, value)?,
            "$top" => q.top = Some(parse_top(value)?),
            "$count" => q.count = parse_count(value)?,
            "$expand" => q.expand = expand::parse_expand(entity, value)?,
            "$skiptoken" => {}
            "$apply" => {
                return Err(DvError::bad_query(
                    "The query parameter $apply is not supported by the sandbox emulator.",
                ))
            }
            _ => return Err(unsupported_option(key)),
        }
    }
    Ok(q)
}

/// Dataverse rejects `$skip`, `$search`, `$format` and any unknown (or wrongly cased) option.
fn unsupported_option(key: &str) -> DvError {
    DvError::bad_query(format!("The query parameter {key} is not supported"))
}

/// `$select=a,b`: `None` for `*`; unknown names are errors.
pub(crate) fn parse_select(
    entity: &EntityDef,
    value: &str,
) -> Result<Option<Vec<String>>, DvError> {
    let mut out: Vec<String> = Vec::new();
    for item in value.split(',').map(str::trim) {
        if item == "*" {
            return Ok(None);
        }
        if item.is_empty() {
            return Err(lexer::syntax_error(value.len(), value));
        }
        if entity.column(item).is_none() {
            return Err(DvError::unknown_property(item, entity.logical_name));
        }
        if !out.iter().any(|s| s == item) {
            out.push(item.to_string());
        }
    }
    Ok(Some(out))
}

/// `$orderby=a asc,b desc` (direction optional, ascending by default).
pub(crate) fn parse_orderby(entity: &EntityDef, value: &str) -> Result<Vec<OrderBy>, DvError> {
    let mut out: Vec<OrderBy> = Vec::new();
    let mut offset = 0;
    for raw in value.split(',') {
        let pos = offset + (raw.len() - raw.trim_start().len());
        offset += raw.chars().count() + 1;
        let words: Vec<&str> = raw.split_whitespace().collect();
        let (column, descending) = match words.as_slice() {
            [c] => (*c, false),
            [c, "asc"] => (*c, false),
            [c, "desc"] => (*c, true),
            _ => return Err(lexer::syntax_error(pos, value)),
        };
        if entity.column(column).is_none() {
            return Err(DvError::unknown_property(column, entity.logical_name));
        }
        if out.iter().any(|o| o.column == column) {
            return Err(DvError::bad_query(format!(
                "Duplicate property named '{column}' is not supported in '$orderby'."
            )));
        }
        out.push(OrderBy {
            column: column.to_string(),
            descending,
        });
    }
    Ok(out)
}

pub(crate) fn parse_top(value: &str) -> Result<usize, DvError> {
    value.trim().parse::<usize>().map_err(|_| {
        DvError::bad_query(format!(
            "Invalid value '{value}' for $top query option found. The $top query option requires a non-negative integer value."
        ))
    })
}

fn parse_count(value: &str) -> Result<bool, DvError> {
    match value.trim() {
        v if v.eq_ignore_ascii_case("true") => Ok(true),
        v if v.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(DvError::bad_query(format!(
            "'{value}' is not a valid count option."
        ))),
    }
}

#[cfg(test)]
mod tests;
