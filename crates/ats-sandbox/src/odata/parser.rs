//! `$filter` parser: tokens → a typed [`Expr`], type-checked against the table's columns the way
//! Dataverse (OData's URI parser) does it, with Dataverse's error messages.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::lexer::{lex, syntax_error, Tok, Token};
use crate::error::DvError;
use crate::schema::{ColType, EntityDef};

/// Nesting limit (parentheses, `not`, function arguments): deep input errors instead of
/// overflowing the stack.
pub(crate) const MAX_DEPTH: usize = 100;
/// Longest accepted `$filter` (Dataverse's URL limit).
pub(crate) const MAX_FILTER_LEN: usize = 32_768;

const CRM_NS: &str = "Microsoft.Dynamics.CRM.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn from_keyword(s: &str) -> Option<Self> {
        Some(match s {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }
    /// OData's operator kind name, used in type errors.
    fn kind_name(self) -> &'static str {
        match self {
            Self::Eq => "Equal",
            Self::Ne => "NotEqual",
            Self::Gt => "GreaterThan",
            Self::Ge => "GreaterThanOrEqual",
            Self::Lt => "LessThan",
            Self::Le => "LessThanOrEqual",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrFunc {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Dec(f64),
    Str(String),
    Guid(Uuid),
    Date(DateTime<Utc>),
    DateTime(DateTime<Utc>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Column { name: String, ty: ColType },
    Lit(Lit),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Const(bool),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        op: CmpOp,
        left: Operand,
        right: Operand,
    },
    /// `contains/startswith/endswith(column,'value')`; `value` may hold SQL wildcards.
    StrFn {
        func: StrFunc,
        column: String,
        value: String,
    },
    /// `Microsoft.Dynamics.CRM.In` / `NotIn`, values already converted to the column's type.
    In {
        column: String,
        ty: ColType,
        values: Vec<Lit>,
        negate: bool,
    },
    /// `Microsoft.Dynamics.CRM.Between` / `NotBetween` (inclusive).
    Between {
        column: String,
        ty: ColType,
        low: Lit,
        high: Lit,
        negate: bool,
    },
}

impl Expr {
    /// Whether a Dataverse query function (`Microsoft.Dynamics.CRM.*`) occurs in the expression.
    fn has_custom_fn(&self) -> bool {
        match self {
            Self::In { .. } | Self::Between { .. } => true,
            Self::And(v) | Self::Or(v) => v.iter().any(Self::has_custom_fn),
            Self::Not(e) => e.has_custom_fn(),
            _ => false,
        }
    }
}

pub(super) fn edm_of_col(ty: ColType) -> &'static str {
    match ty {
        ColType::String => "Edm.String",
        ColType::Guid | ColType::Lookup(_) => "Edm.Guid",
        ColType::Int | ColType::OptionSet(_) => "Edm.Int32",
        ColType::Decimal => "Edm.Decimal",
        ColType::Date => "Edm.DateTimeOffset",
    }
}

fn edm_of(o: &Operand) -> Option<&'static str> {
    Some(match o {
        Operand::Column { ty, .. } => edm_of_col(*ty),
        Operand::Lit(l) => match l {
            Lit::Null => return None,
            Lit::Bool(_) => "Edm.Boolean",
            Lit::Int(n) if i32::try_from(*n).is_ok() => "Edm.Int32",
            Lit::Int(_) => "Edm.Int64",
            Lit::Dec(_) => "Edm.Decimal",
            Lit::Str(_) => "Edm.String",
            Lit::Guid(_) => "Edm.Guid",
            Lit::Date(_) => "Edm.Date",
            Lit::DateTime(_) => "Edm.DateTimeOffset",
        },
    })
}

fn compatible(a: &str, b: &str) -> bool {
    let numeric = |t: &str| matches!(t, "Edm.Int32" | "Edm.Int64" | "Edm.Decimal");
    let datey = |t: &str| matches!(t, "Edm.Date" | "Edm.DateTimeOffset");
    a == b || (numeric(a) && numeric(b)) || (datey(a) && datey(b))
}

fn binary_type_error(a: &str, b: &str, kind: &str) -> DvError {
    DvError::bad_query(format!(
        "A binary operator with incompatible types was detected. Found operand types '{a}' and '{b}' for operator kind '{kind}'."
    ))
}

fn not_supported(what: &str) -> DvError {
    DvError::bad_query(format!("{what} is not supported by the sandbox emulator."))
}

/// A parsed sub-expression: boolean, or a value still to be compared.
#[derive(Debug)]
enum Node {
    Bool(Expr),
    Val(Operand),
}

/// Parses `$filter` text for `entity`. `aliases` maps `@name` to its raw (decoded) value.
pub(crate) fn parse_filter(
    entity: &EntityDef,
    text: &str,
    aliases: &HashMap<String, String>,
) -> Result<Expr, DvError> {
    if text.chars().count() > MAX_FILTER_LEN {
        return Err(DvError::bad_query(format!(
            "The $filter query option is longer than {MAX_FILTER_LEN} characters."
        )));
    }
    let mut p = Parser {
        toks: lex(text)?,
        i: 0,
        text,
        entity,
        aliases,
        depth: 0,
    };
    let node = p.parse_or()?;
    if p.peek() != &Tok::End {
        return Err(syntax_error(p.pos(), text));
    }
    match node {
        Node::Bool(e) => Ok(e),
        Node::Val(Operand::Lit(Lit::Bool(b))) => Ok(Expr::Const(b)),
        Node::Val(_) => Err(DvError::bad_query(
            "The $filter expression must evaluate to a single boolean value.",
        )),
    }
}

struct Parser<'a> {
    toks: Vec<Token>,
    i: usize,
    text: &'a str,
    entity: &'a EntityDef,
    aliases: &'a HashMap<String, String>,
    depth: usize,
}

enum ParamVal {
    Null,
    Str(String),
    Json(String),
    Other,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map_or(&Tok::End, |t| &t.tok)
    }
    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(0, |t| t.pos)
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == kw)
    }
    /// Error at the current token; at the end of input, Dataverse points at the last token
    /// (`'mshr_status eq'` → position 12).
    fn error_here(&self) -> DvError {
        let pos = if self.peek() == &Tok::End && self.i > 0 {
            self.toks.get(self.i - 1).map_or(0, |t| t.pos)
        } else {
            self.pos()
        };
        syntax_error(pos, self.text)
    }
    fn expect(&mut self, tok: Tok) -> Result<(), DvError> {
        if self.peek() == &tok {
            self.bump();
            Ok(())
        } else {
            Err(self.error_here())
        }
    }
    fn enter(&mut self) -> Result<(), DvError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(DvError::bad_query(format!(
                "The $filter expression is nested more than {MAX_DEPTH} levels deep."
            )));
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn to_bool(node: Node, kind: &str) -> Result<Expr, DvError> {
        match node {
            Node::Bool(e) => Ok(e),
            Node::Val(Operand::Lit(Lit::Bool(b))) => Ok(Expr::Const(b)),
            Node::Val(o) => Err(binary_type_error(
                edm_of(&o).unwrap_or("null"),
                "Edm.Boolean",
                kind,
            )),
        }
    }

    fn parse_or(&mut self) -> Result<Node, DvError> {
        self.parse_chain("or", "Or", Self::parse_and, Expr::Or)
    }

    fn parse_and(&mut self) -> Result<Node, DvError> {
        self.parse_chain("and", "And", Self::parse_comparison, Expr::And)
    }

    /// `operand (kw operand)*` flattened into one n-ary node (no recursion per operator).
    fn parse_chain(
        &mut self,
        kw: &str,
        kind: &str,
        next: fn(&mut Self) -> Result<Node, DvError>,
        build: fn(Vec<Expr>) -> Expr,
    ) -> Result<Node, DvError> {
        let first = next(self)?;
        if !self.is_kw(kw) {
            return Ok(first);
        }
        let mut items = vec![Self::to_bool(first, kind)?];
        while self.is_kw(kw) {
            self.bump();
            let n = next(self)?;
            items.push(Self::to_bool(n, kind)?);
        }
        Ok(Node::Bool(build(items)))
    }

    fn parse_comparison(&mut self) -> Result<Node, DvError> {
        let mut left = self.parse_unary()?;
        loop {
            let op = match self.peek() {
                Tok::Ident(s) => CmpOp::from_keyword(s),
                _ => None,
            };
            let Some(op) = op else {
                return Ok(left);
            };
            self.bump();
            let right = self.parse_unary()?;
            left = Node::Bool(Self::compare(op, left, right)?);
        }
    }

    fn parse_unary(&mut self) -> Result<Node, DvError> {
        if !self.is_kw("not") {
            return self.parse_primary();
        }
        self.bump();
        self.enter()?;
        let inner = self.parse_unary()?;
        self.leave();
        match inner {
            Node::Bool(e) if e.has_custom_fn() => Err(DvError::bad_query(
                "Not operator along with the Custom Named Condition operators is not allowed",
            )),
            Node::Bool(e) => Ok(Node::Bool(Expr::Not(Box::new(e)))),
            Node::Val(Operand::Lit(Lit::Bool(b))) => Ok(Node::Bool(Expr::Const(!b))),
            Node::Val(o) => Err(DvError::bad_query(format!(
                "A unary operator with an incompatible type was detected. Found operand type '{}' for operator kind 'Not'.",
                edm_of(&o).unwrap_or("null")
            ))),
        }
    }

    fn parse_primary(&mut self) -> Result<Node, DvError> {
        let pos = self.pos();
        let lit = |l: Lit| Ok(Node::Val(Operand::Lit(l)));
        match self.peek().clone() {
            Tok::LParen => {
                self.bump();
                self.enter()?;
                let n = self.parse_or()?;
                self.leave();
                if self.peek() != &Tok::RParen {
                    return Err(DvError::bad_query(format!(
                        "')' or operator expected at position {} in '{}'.",
                        self.pos(),
                        self.text
                    )));
                }
                self.bump();
                Ok(n)
            }
            Tok::Str(s) => {
                self.bump();
                lit(Lit::Str(s))
            }
            Tok::Int(n) => {
                self.bump();
                lit(Lit::Int(n))
            }
            Tok::Dec(f) => {
                self.bump();
                lit(Lit::Dec(f))
            }
            Tok::Guid(g) => {
                self.bump();
                lit(Lit::Guid(g))
            }
            Tok::Date(d) => {
                self.bump();
                lit(Lit::Date(d))
            }
            Tok::DateTime(d) => {
                self.bump();
                lit(Lit::DateTime(d))
            }
            Tok::Alias(a) => {
                self.bump();
                self.alias_literal(&a).map(|l| Node::Val(Operand::Lit(l)))
            }
            Tok::Ident(name) => self.parse_ident(name, pos),
            _ => Err(self.error_here()),
        }
    }

    /// An alias used as an operand: its value must be one literal; unassigned means null.
    fn alias_literal(&self, alias: &str) -> Result<Lit, DvError> {
        let Some(raw) = self.aliases.get(alias) else {
            return Ok(Lit::Null);
        };
        let bad = || {
            DvError::bad_query(format!(
                "The parameter alias '{alias}' has an invalid value '{raw}'."
            ))
        };
        let toks = lex(raw).map_err(|_| bad())?;
        let [t, end] = toks.as_slice() else {
            return Err(bad());
        };
        if end.tok != Tok::End {
            return Err(bad());
        }
        Ok(match &t.tok {
            Tok::Str(s) => Lit::Str(s.clone()),
            Tok::Int(n) => Lit::Int(*n),
            Tok::Dec(f) => Lit::Dec(*f),
            Tok::Guid(g) => Lit::Guid(*g),
            Tok::Date(d) => Lit::Date(*d),
            Tok::DateTime(d) => Lit::DateTime(*d),
            Tok::Ident(s) if s == "null" => Lit::Null,
            Tok::Ident(s) if s == "true" => Lit::Bool(true),
            Tok::Ident(s) if s == "false" => Lit::Bool(false),
            _ => return Err(bad()),
        })
    }

    fn parse_ident(&mut self, name: String, pos: usize) -> Result<Node, DvError> {
        match name.as_str() {
            "true" | "false" | "null" => {
                self.bump();
                let l = match name.as_str() {
                    "true" => Lit::Bool(true),
                    "false" => Lit::Bool(false),
                    _ => Lit::Null,
                };
                return Ok(Node::Val(Operand::Lit(l)));
            }
            "and" | "or" | "not" | "eq" | "ne" | "gt" | "ge" | "lt" | "le" => {
                return Err(syntax_error(pos, self.text));
            }
            _ => {}
        }
        self.bump();
        if self.peek() == &Tok::LParen {
            return self.parse_call(&name);
        }
        if let Some(col) = self.entity.column(&name) {
            return Ok(Node::Val(Operand::Column { name, ty: col.ty }));
        }
        if self.entity.nav(&name).is_some() {
            return Err(not_supported(&format!(
                "Filtering on the navigation property '{name}'"
            )));
        }
        Err(DvError::unknown_property(&name, self.entity.logical_name))
    }

    fn parse_call(&mut self, name: &str) -> Result<Node, DvError> {
        let func = match name {
            "contains" => StrFunc::Contains,
            "startswith" => StrFunc::StartsWith,
            "endswith" => StrFunc::EndsWith,
            _ if name.starts_with(CRM_NS) => return self.parse_crm_call(name),
            _ => {
                return Err(DvError::bad_query(format!(
                    "An unknown function with name '{name}' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."
                )))
            }
        };
        self.bump(); // '('
        self.enter()?;
        let args = self.parse_args()?;
        self.leave();
        let signature_error = || {
            DvError::bad_query(format!(
                "No function signature for the function with name '{name}' matches the specified arguments. The function signatures considered are: {name}(Edm.String Nullable=true, Edm.String Nullable=true)."
            ))
        };
        let mut args = args.into_iter();
        let (Some(first), Some(second), None) = (args.next(), args.next(), args.next()) else {
            return Err(signature_error());
        };
        let Node::Val(Operand::Column {
            name: column,
            ty: ColType::String,
        }) = first
        else {
            return Err(signature_error());
        };
        match second {
            // docs/dataverse-web-api.md#query-options: a wildcard at the anchored end (`startswith(c,'%v')`,
            // `endswith(c,'v%')`) is documented as unsupported; the error text is the emulator's [inf].
            Node::Val(Operand::Lit(Lit::Str(value)))
                if (func == StrFunc::StartsWith && value.starts_with('%'))
                    || (func == StrFunc::EndsWith && value.ends_with('%')) =>
            {
                let end = if func == StrFunc::StartsWith {
                    "leading"
                } else {
                    "trailing"
                };
                Err(DvError::bad_query(format!(
                    "The function '{name}' does not support a {end} wildcard ('%') in '{value}'. Use contains instead."
                )))
            }
            Node::Val(Operand::Lit(Lit::Str(value))) => Ok(Node::Bool(Expr::StrFn {
                func,
                column,
                value,
            })),
            // A null pattern matches nothing (SQL LIKE NULL).
            Node::Val(Operand::Lit(Lit::Null)) => Ok(Node::Bool(Expr::Const(false))),
            _ => Err(signature_error()),
        }
    }

    /// Comma-separated arguments after `(`, through the closing `)`.
    fn parse_args(&mut self) -> Result<Vec<Node>, DvError> {
        let mut args = Vec::new();
        if self.peek() == &Tok::RParen {
            self.bump();
            return Ok(args);
        }
        loop {
            args.push(self.parse_or()?);
            match self.bump() {
                Tok::Comma => {}
                Tok::RParen => return Ok(args),
                _ => {
                    self.i = self.i.saturating_sub(1);
                    return Err(DvError::bad_query(format!(
                        "')' or ',' expected at position {} in '{}'.",
                        self.pos(),
                        self.text
                    )));
                }
            }
        }
    }

    /// `Microsoft.Dynamics.CRM.In(PropertyName=…,PropertyValues=…)` and friends.
    fn parse_crm_call(&mut self, name: &str) -> Result<Node, DvError> {
        let short = &name[CRM_NS.len()..];
        let (between, negate) = match short {
            "In" => (false, false),
            "NotIn" => (false, true),
            "Between" => (true, false),
            "NotBetween" => (true, true),
            _ => return Err(not_supported(&format!("The query function '{name}'"))),
        };
        self.bump(); // '('
        let params = self.parse_named_params(name)?;
        let mut prop = None;
        let mut values = None;
        for (pname, val) in params {
            match pname.as_str() {
                "PropertyName" => prop = Some(val),
                "PropertyValues" => values = Some(val),
                _ => {
                    return Err(DvError::bad_query(format!(
                        "The parameter '{pname}' is not a parameter of the function '{name}'."
                    )))
                }
            }
        }
        let missing = |p: &str| {
            DvError::bad_query(format!(
                "The parameter '{p}' of the function '{name}' is missing or not valid."
            ))
        };
        let Some(ParamVal::Str(column)) = prop else {
            return Err(missing("PropertyName"));
        };
        let Some(ParamVal::Json(raw)) = values else {
            return Err(missing("PropertyValues"));
        };
        let col = self
            .entity
            .column(&column)
            .ok_or_else(|| DvError::unknown_property(&column, self.entity.logical_name))?;
        let ty = col.ty;
        let items: Vec<Value> = serde_json::from_str(&raw)
            .map_err(|e| DvError::bad_query(format!("Invalid JSON. {e}")))?;
        let values = items
            .iter()
            .map(|v| convert_value(&column, ty, v))
            .collect::<Result<Vec<_>, _>>()?;
        if !between {
            return Ok(Node::Bool(Expr::In {
                column,
                ty,
                values,
                negate,
            }));
        }
        let mut it = values.into_iter();
        match (it.next(), it.next(), it.next()) {
            (Some(low), Some(high), None) => Ok(Node::Bool(Expr::Between {
                column,
                ty,
                low,
                high,
                negate,
            })),
            _ => Err(DvError::bad_query(format!(
                "The function '{name}' requires exactly two values in PropertyValues."
            ))),
        }
    }

    fn parse_named_params(&mut self, func: &str) -> Result<Vec<(String, ParamVal)>, DvError> {
        let mut out = Vec::new();
        if self.peek() == &Tok::RParen {
            self.bump();
            return Ok(out);
        }
        loop {
            let Tok::Ident(pname) = self.peek().clone() else {
                return Err(self.error_here());
            };
            self.bump();
            self.expect(Tok::Equals)?;
            let val = match self.bump() {
                Tok::Str(s) => ParamVal::Str(s),
                Tok::Json(j) => ParamVal::Json(j),
                Tok::Alias(a) => self.alias_param(&a),
                Tok::Ident(s) if s == "null" => ParamVal::Null,
                Tok::Int(_) | Tok::Dec(_) | Tok::Guid(_) | Tok::Date(_) | Tok::DateTime(_) => {
                    ParamVal::Other
                }
                _ => {
                    self.i = self.i.saturating_sub(1);
                    return Err(self.error_here());
                }
            };
            if out.iter().any(|(n, _)| n == &pname) {
                return Err(DvError::bad_query(format!(
                    "The parameter '{pname}' is specified more than once for the function '{func}'."
                )));
            }
            out.push((pname, val));
            match self.bump() {
                Tok::Comma => {}
                Tok::RParen => return Ok(out),
                _ => {
                    self.i = self.i.saturating_sub(1);
                    return Err(DvError::bad_query(format!(
                        "')' or ',' expected at position {} in '{}'.",
                        self.pos(),
                        self.text
                    )));
                }
            }
        }
    }

    /// An alias used as a function parameter: a quoted string or a JSON array.
    fn alias_param(&self, alias: &str) -> ParamVal {
        let Some(raw) = self.aliases.get(alias) else {
            return ParamVal::Null;
        };
        let trimmed = raw.trim();
        if trimmed.starts_with('[') {
            return ParamVal::Json(trimmed.to_string());
        }
        match lex(trimmed).ok().as_deref() {
            Some([t, end]) if end.tok == Tok::End => match &t.tok {
                Tok::Str(s) => ParamVal::Str(s.clone()),
                _ => ParamVal::Other,
            },
            _ => ParamVal::Other,
        }
    }

    fn compare(op: CmpOp, left: Node, right: Node) -> Result<Expr, DvError> {
        match (left, right) {
            (Node::Bool(e), Node::Val(Operand::Lit(Lit::Bool(b))))
            | (Node::Val(Operand::Lit(Lit::Bool(b))), Node::Bool(e))
                if matches!(op, CmpOp::Eq | CmpOp::Ne) =>
            {
                if b == (op == CmpOp::Eq) {
                    Ok(e)
                } else if e.has_custom_fn() {
                    Err(DvError::bad_query(
                        "Not operator along with the Custom Named Condition operators is not allowed",
                    ))
                } else {
                    Ok(Expr::Not(Box::new(e)))
                }
            }
            (Node::Bool(_), Node::Bool(_)) => Err(not_supported("Comparing two conditions")),
            (Node::Bool(_), Node::Val(o)) => Err(binary_type_error(
                "Edm.Boolean",
                edm_of(&o).unwrap_or("null"),
                op.kind_name(),
            )),
            (Node::Val(o), Node::Bool(_)) => Err(binary_type_error(
                edm_of(&o).unwrap_or("null"),
                "Edm.Boolean",
                op.kind_name(),
            )),
            (Node::Val(a), Node::Val(b)) => {
                let (ta, tb) = (col_type(&a), col_type(&b));
                let (a, b) = (coerce_quoted_guid(a, tb), coerce_quoted_guid(b, ta));
                check_types(op, &a, &b)?;
                Ok(Expr::Compare {
                    op,
                    left: a,
                    right: b,
                })
            }
        }
    }
}

/// Column type of an operand, if it is a column.
fn col_type(o: &Operand) -> Option<ColType> {
    match o {
        Operand::Column { ty, .. } => Some(*ty),
        Operand::Lit(_) => None,
    }
}

fn is_guid_col(ty: Option<ColType>) -> bool {
    matches!(ty, Some(ColType::Guid | ColType::Lookup(_)))
}

/// A quoted GUID (`'…'`) compared with a GUID column is accepted as a GUID literal.
fn coerce_quoted_guid(o: Operand, other_ty: Option<ColType>) -> Operand {
    match o {
        Operand::Lit(Lit::Str(s)) if is_guid_col(other_ty) => match Uuid::parse_str(&s) {
            Ok(g) if s.len() == 36 => Operand::Lit(Lit::Guid(g)),
            _ => Operand::Lit(Lit::Str(s)),
        },
        o => o,
    }
}

fn check_types(op: CmpOp, a: &Operand, b: &Operand) -> Result<(), DvError> {
    match (edm_of(a), edm_of(b)) {
        (Some(ta), Some(tb)) if !compatible(ta, tb) => {
            Err(binary_type_error(ta, tb, op.kind_name()))
        }
        _ => Ok(()),
    }
}

/// One `PropertyValues` item (a JSON string, or a bare number) converted to the column's type.
fn convert_value(column: &str, ty: ColType, v: &Value) -> Result<Lit, DvError> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Null => return Ok(Lit::Null),
        _ => String::new(),
    };
    let bad = || {
        DvError::bad_query(format!(
            "The value '{v}' in PropertyValues cannot be converted to the type '{}' of the property '{column}'.",
            edm_of_col(ty)
        ))
    };
    if text.is_empty() && !matches!(ty, ColType::String) {
        return Err(bad());
    }
    Ok(match ty {
        ColType::String => Lit::Str(text),
        ColType::Int | ColType::OptionSet(_) => Lit::Int(text.trim().parse().map_err(|_| bad())?),
        ColType::Decimal => match text.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Lit::Dec(f),
            _ => return Err(bad()),
        },
        ColType::Guid | ColType::Lookup(_) => {
            Lit::Guid(Uuid::parse_str(text.trim()).map_err(|_| bad())?)
        }
        ColType::Date => Lit::DateTime(parse_instant(text.trim()).ok_or_else(bad)?),
    })
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 instant.
pub(super) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}
