//! Evaluation of a parsed `$filter` over a row, and `$orderby` sorting. Semantics follow SQL, which
//! Dataverse runs underneath: comparisons with a null value are false (only `eq null`/`ne null`
//! test nullness), strings compare case-insensitively, LIKE wildcards are honoured.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::parser::{parse_instant, CmpOp, Expr, Lit, Operand, StrFunc};
use super::OrderBy;
use crate::schema::{ColType, EntityDef};
use crate::store::{FieldRef, Fields, IndexKey, Row, RowRef, Store, Table};

/// A value ready to compare.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Guid(Uuid),
    Time(DateTime<Utc>),
}

impl Val {
    /// Rank of the variant, so that sorting mixed (bad) data is still a total order.
    fn rank(&self) -> u8 {
        match self {
            Val::Null => 0,
            Val::Bool(_) => 1,
            Val::Num(_) => 2,
            Val::Str(_) => 3,
            Val::Guid(_) => 4,
            Val::Time(_) => 5,
        }
    }
}

fn field_val(field: Option<FieldRef<'_>>, ty: ColType) -> Val {
    let Some(v) = field.filter(|v| !v.is_null()) else {
        return Val::Null;
    };
    let as_num = |v: &FieldRef| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    };
    let opt = match ty {
        ColType::String => Some(Val::Str(
            v.as_str()
                .map_or_else(|| v.to_value().to_string(), str::to_string),
        )),
        ColType::Int | ColType::OptionSet(_) | ColType::Decimal => as_num(&v).map(Val::Num),
        ColType::Guid | ColType::Lookup(_) => v
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .map(Val::Guid),
        ColType::Date => v.as_str().and_then(parse_instant).map(Val::Time),
    };
    opt.unwrap_or(Val::Null)
}

fn column_val<R: Fields + ?Sized>(row: &R, name: &str, ty: ColType) -> Val {
    field_val(row.field(name), ty)
}

/// Lower case as the comparison sees it (per character, no context-dependent rules).
fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// The index key of a value: two values have the same key exactly when `eq` holds between them.
/// `None` for null and for kinds no index holds.
fn val_key(v: Val) -> Option<IndexKey> {
    match v {
        Val::Str(s) => Some(IndexKey::Str(fold(&s).into_boxed_str())),
        // `total_cmp` says Equal exactly for equal bits.
        Val::Num(f) => Some(IndexKey::Num(f.to_bits())),
        Val::Guid(g) => Some(IndexKey::Guid(g)),
        Val::Null | Val::Bool(_) | Val::Time(_) => None,
    }
}

/// The key a stored column value is indexed under.
pub(crate) fn index_key(field: Option<FieldRef<'_>>, ty: ColType) -> Option<IndexKey> {
    val_key(field_val(field, ty))
}

fn lit_val(l: &Lit) -> Val {
    match l {
        Lit::Null => Val::Null,
        Lit::Bool(b) => Val::Bool(*b),
        // i64 → f64 is exact for every value a Dataverse Int32/option set can hold.
        Lit::Int(n) => Val::Num(*n as f64),
        Lit::Dec(f) => Val::Num(*f),
        Lit::Str(s) => Val::Str(s.clone()),
        Lit::Guid(g) => Val::Guid(*g),
        Lit::Date(d) | Lit::DateTime(d) => Val::Time(*d),
    }
}

fn operand_val<R: Fields + ?Sized>(o: &Operand, row: &R) -> Val {
    match o {
        Operand::Column { name, ty } => column_val(row, name, *ty),
        Operand::Lit(l) => lit_val(l),
    }
}

/// Ordering of two non-null values of the same kind; `None` when they cannot be compared.
fn compare_vals(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Num(x), Val::Num(y)) => Some(x.total_cmp(y)),
        // Case-insensitive like Dataverse, without allocating: this runs in every sort comparison.
        (Val::Str(x), Val::Str(y)) => Some(
            x.chars()
                .flat_map(char::to_lowercase)
                .cmp(y.chars().flat_map(char::to_lowercase)),
        ),
        (Val::Guid(x), Val::Guid(y)) => Some(x.cmp(y)),
        (Val::Time(x), Val::Time(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Total order for sorting: nulls first (SQL Server's ascending order), then by value.
fn order_vals(a: &Val, b: &Val) -> Ordering {
    compare_vals(a, b).unwrap_or_else(|| a.rank().cmp(&b.rank()))
}

/// SQL three-valued logic: `None` is UNKNOWN (a comparison involving a null value).
fn eval_compare<R: Fields + ?Sized>(
    op: CmpOp,
    left: &Operand,
    right: &Operand,
    row: &R,
) -> Option<bool> {
    let (l, r) = (operand_val(left, row), operand_val(right, row));
    let null_test =
        matches!(left, Operand::Lit(Lit::Null)) || matches!(right, Operand::Lit(Lit::Null));
    if null_test {
        let both_null = l == Val::Null && r == Val::Null;
        return match op {
            CmpOp::Eq => Some(both_null),
            CmpOp::Ne => Some(!both_null),
            _ => None,
        };
    }
    let ord = compare_vals(&l, &r)?;
    Some(match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
    })
}

/// Whether `row` satisfies `filter`. As in SQL, a row whose condition is UNKNOWN (because of a
/// null column) is not returned, also under `not`: `not contains(x,'a')` skips rows where x is null.
pub(crate) fn matches<R: Fields + ?Sized>(filter: &Expr, row: &R) -> bool {
    eval(filter, row) == Some(true)
}

fn eval<R: Fields + ?Sized>(filter: &Expr, row: &R) -> Option<bool> {
    match filter {
        Expr::Const(b) => Some(*b),
        // Kleene logic: false wins in AND, true wins in OR, otherwise UNKNOWN taints.
        Expr::And(items) => {
            let mut result = Some(true);
            for e in items {
                match eval(e, row) {
                    Some(false) => return Some(false),
                    None => result = None,
                    Some(true) => {}
                }
            }
            result
        }
        Expr::Or(items) => {
            let mut result = Some(false);
            for e in items {
                match eval(e, row) {
                    Some(true) => return Some(true),
                    None => result = None,
                    Some(false) => {}
                }
            }
            result
        }
        Expr::Not(e) => eval(e, row).map(|b| !b),
        Expr::Compare { op, left, right } => eval_compare(*op, left, right, row),
        Expr::StrFn {
            func,
            column,
            value,
        } => {
            let Val::Str(text) = column_val(row, column, ColType::String) else {
                return None;
            };
            let pattern = match func {
                StrFunc::Contains => format!("%{value}%"),
                StrFunc::StartsWith => format!("{value}%"),
                StrFunc::EndsWith => format!("%{value}"),
            };
            Some(like(&text, &pattern))
        }
        Expr::In {
            column,
            ty,
            values,
            negate,
        } => {
            let v = column_val(row, column, *ty);
            if v == Val::Null {
                return None;
            }
            let found = values
                .iter()
                .any(|l| compare_vals(&v, &lit_val(l)) == Some(Ordering::Equal));
            Some(found != *negate)
        }
        Expr::Between {
            column,
            ty,
            low,
            high,
            negate,
        } => {
            let v = column_val(row, column, *ty);
            let ge_low = compare_vals(&v, &lit_val(low))? != Ordering::Less;
            let le_high = compare_vals(&v, &lit_val(high))? != Ordering::Greater;
            Some((ge_low && le_high) != *negate)
        }
    }
}

/// Positions of a superset of the rows matching `filter`, from the table's indexes: for an
/// equality or `In` on an indexed column, and conjunctions (the smallest set) or disjunctions
/// (the union) of those. `None` when no index answers; the caller then scans.
pub(crate) fn candidates<'t>(filter: &Expr, table: &'t Table) -> Option<Cow<'t, [u32]>> {
    match filter {
        Expr::Compare {
            op: CmpOp::Eq,
            left,
            right,
        } => {
            let (name, lit) = match (left, right) {
                (Operand::Column { name, .. }, Operand::Lit(l))
                | (Operand::Lit(l), Operand::Column { name, .. }) => (name, l),
                _ => return None,
            };
            table.eq_rows(name, &val_key(lit_val(lit))?)
        }
        Expr::In {
            column,
            values,
            negate: false,
            ..
        } => {
            let mut all: Vec<u32> = Vec::new();
            for l in values {
                all.extend_from_slice(&table.eq_rows(column, &val_key(lit_val(l))?)?);
            }
            all.sort_unstable();
            all.dedup();
            Some(Cow::Owned(all))
        }
        Expr::And(items) => items
            .iter()
            .filter_map(|e| candidates(e, table))
            .min_by_key(|c| c.len()),
        Expr::Or(items) => {
            let mut all: Vec<u32> = Vec::new();
            for e in items {
                all.extend_from_slice(&candidates(e, table)?);
            }
            all.sort_unstable();
            all.dedup();
            Some(Cow::Owned(all))
        }
        _ => None,
    }
}

/// Number of rows of `table` matching `filter`.
pub(crate) fn count(table: &Table, filter: Option<&Expr>) -> usize {
    let Some(f) = filter else {
        return table.len();
    };
    match candidates(f, table) {
        Some(c) => c
            .iter()
            .filter_map(|&i| table.row(i))
            .filter(|r| matches(f, r))
            .count(),
        None => table.rows().filter(|r| matches(f, r)).count(),
    }
}

/// Sort columns of an `$orderby` (unknown names were rejected by the parser), then the primary key.
fn order_keys<'e>(entity: &'e EntityDef, orderby: &[OrderBy]) -> Vec<(&'e str, ColType, bool)> {
    let mut keys: Vec<(&str, ColType, bool)> = orderby
        .iter()
        .filter_map(|o| {
            entity
                .column(&o.column)
                .map(|c| (c.name, c.ty, o.descending))
        })
        .collect();
    keys.push((entity.primary_id.as_str(), ColType::Guid, false));
    keys
}

/// The primary name of a related row (`table logical name`, `id`): lookups sort by it, as Dataverse's
/// do (docs/dataverse-web-api.md#query-options), rather than by GUID.
pub(crate) type LookupName<'a> = &'a dyn Fn(&str, &Uuid) -> Option<String>;

/// A row's sort key, read once per row rather than once per comparison.
fn sort_key<R: Fields + ?Sized>(
    keys: &[(&str, ColType, bool)],
    row: &R,
    names: LookupName,
) -> Vec<Val> {
    keys.iter()
        .map(|&(name, ty, _)| match ty {
            ColType::Lookup(target) => match column_val(row, name, ty) {
                Val::Guid(id) => names(target, &id).map_or(Val::Null, Val::Str),
                other => other,
            },
            _ => column_val(row, name, ty),
        })
        .collect()
}

fn cmp_keys(keys: &[(&str, ColType, bool)], a: &[Val], b: &[Val]) -> Ordering {
    for (i, &(_, _, desc)) in keys.iter().enumerate() {
        let ord = order_vals(&a[i], &b[i]);
        let ord = if desc { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Sorts by `orderby`, then by the primary key (stable, deterministic paging).
pub(crate) fn sort_rows<R: Fields + Clone>(
    entity: &EntityDef,
    rows: &mut [R],
    orderby: &[OrderBy],
    names: LookupName,
) {
    let keys = order_keys(entity, orderby);
    let mut decorated: Vec<(Vec<Val>, R)> = rows
        .iter()
        .map(|r| (sort_key(&keys, r, names), r.clone()))
        .collect();
    decorated.sort_by(|(a, _), (b, _)| cmp_keys(&keys, a, b));
    for (slot, (_, r)) in rows.iter_mut().zip(decorated) {
        *slot = r;
    }
}

/// The first `n` rows, in `orderby` order, that come strictly after `after` (a row's position is
/// its sort key, so rows inserted or deleted between pages never shift a page), and whether more
/// follow. Linear in the number of rows plus `n·log n`.
pub(crate) fn page_after<R: Fields>(
    entity: &EntityDef,
    rows: Vec<R>,
    orderby: &[OrderBy],
    after: Option<&Row>,
    n: usize,
    names: LookupName,
) -> (Vec<R>, bool) {
    let keys = order_keys(entity, orderby);
    let after_key = after.map(|r| sort_key(&keys, r, names));
    let mut decorated: Vec<(Vec<Val>, R)> = rows
        .into_iter()
        .map(|r| (sort_key(&keys, &r, names), r))
        .filter(|(k, _)| {
            after_key
                .as_ref()
                .is_none_or(|a| cmp_keys(&keys, k, a) == Ordering::Greater)
        })
        .collect();
    let has_more = decorated.len() > n;
    if has_more && n > 0 {
        decorated.select_nth_unstable_by(n, |(a, _), (b, _)| cmp_keys(&keys, a, b));
    }
    decorated.truncate(n);
    decorated.sort_by(|(a, _), (b, _)| cmp_keys(&keys, a, b));
    (decorated.into_iter().map(|(_, r)| r).collect(), has_more)
}

/// A page of `table` for `filter` and `orderby` after `after` (see [`page_after`]), without
/// touching every row: a small index match is paged directly; otherwise the rows are walked in
/// the table's cached `orderby` order from the anchor on, until the page is full.
#[allow(clippy::too_many_arguments)]
pub(crate) fn page<'t>(
    entity: &EntityDef,
    store: &Store,
    table: &'t Table,
    filter: Option<&Expr>,
    orderby: &[OrderBy],
    after: Option<&Row>,
    n: usize,
    names: LookupName,
) -> (Vec<RowRef<'t>>, bool) {
    let matching = |r: &RowRef| filter.is_none_or(|f| matches(f, r));
    let found = filter.and_then(|f| candidates(f, table));
    if let Some(c) = &found {
        // Paging c rows directly costs about 3·|c| row reads; walking the order about
        // (n+1)·|table|/|c| (matches are spread through it).
        if 3 * c.len() * c.len() <= (n + 1) * table.len().max(1) {
            let rows: Vec<RowRef<'t>> = c
                .iter()
                .filter_map(|&i| table.row(i))
                .filter(|r| matching(r))
                .collect();
            return page_after(entity, rows, orderby, after, n, names);
        }
    }
    let keys = order_keys(entity, orderby);
    let spec = orderby
        .iter()
        .map(|o| (o.column.clone(), o.descending))
        .collect();
    let order = store.order(entity, spec, || {
        let mut decorated: Vec<(Vec<Val>, u32)> = table
            .rows()
            .map(|r| (sort_key(&keys, &r, names), r.position()))
            .collect();
        decorated.sort_by(|(a, _), (b, _)| cmp_keys(&keys, a, b));
        decorated.into_iter().map(|(_, i)| i).collect()
    });
    let start = after.map_or(0, |a| {
        let a = sort_key(&keys, a, names);
        order.partition_point(|&i| {
            table.row(i).is_none_or(|r| {
                cmp_keys(&keys, &sort_key(&keys, &r, names), &a) != Ordering::Greater
            })
        })
    });
    let mut out: Vec<RowRef<'t>> = order[start..]
        .iter()
        .filter_map(|&i| table.row(i))
        .filter(|r| matching(r))
        .take(n + 1)
        .collect();
    let has_more = out.len() > n;
    out.truncate(n);
    (out, has_more)
}

/// One element of a LIKE pattern.
enum Pat {
    Any,
    One,
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Char(char),
}

impl Pat {
    fn matches(&self, c: char) -> bool {
        match self {
            Pat::Any | Pat::One => true,
            Pat::Char(p) => *p == c,
            Pat::Set { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

/// Compiles SQL LIKE syntax: `%`, `_`, `[abc]`, `[a-z]`, `[^abc]`; an unclosed `[` is literal.
fn compile_like(pattern: &str) -> Vec<Pat> {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '%' => out.push(Pat::Any),
            '_' => out.push(Pat::One),
            '[' => {
                if let Some(close) = p[i + 1..].iter().skip(1).position(|&c| c == ']') {
                    let body = &p[i + 1..i + 2 + close];
                    let (negated, body) = match body.split_first() {
                        Some(('^', rest)) if !rest.is_empty() => (true, rest),
                        _ => (false, body),
                    };
                    let mut ranges = Vec::new();
                    let mut k = 0;
                    while k < body.len() {
                        if k + 2 < body.len() && body[k + 1] == '-' {
                            ranges.push((body[k], body[k + 2]));
                            k += 3;
                        } else {
                            ranges.push((body[k], body[k]));
                            k += 1;
                        }
                    }
                    out.push(Pat::Set { negated, ranges });
                    i += close + 3;
                    continue;
                }
                out.push(Pat::Char('['));
            }
            c => out.push(Pat::Char(c)),
        }
        i += 1;
    }
    out
}

/// Case-insensitive SQL LIKE, by dynamic programming (no backtracking blow-up).
pub(crate) fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let pats = compile_like(&pattern.to_lowercase());
    let n = t.len();
    // reach[j]: the first j characters are matched by the pattern elements seen so far.
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for p in &pats {
        let mut next = vec![false; n + 1];
        if let Pat::Any = p {
            let mut any = false;
            for j in 0..=n {
                any |= reach[j];
                next[j] = any;
            }
        } else {
            for j in 0..n {
                if reach[j] && p.matches(t[j]) {
                    next[j + 1] = true;
                }
            }
        }
        reach = next;
    }
    reach[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_handles_wildcards_and_sets() {
        assert!(like("Contoso Ltd", "%SO L%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abbc", "a_c"));
        assert!(like("b1", "[abc]1"));
        assert!(like("x1", "[^abc]1"));
        assert!(!like("a1", "[^abc]1"));
        assert!(like("m", "[a-z]"));
        assert!(like("[x", "[x"));
        assert!(like("", "%"));
        assert!(!like("", "_"));
        assert!(like("100% sure", "%100[%]%"));
    }
}
