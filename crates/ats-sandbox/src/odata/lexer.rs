//! `$filter` lexer: the whole text is tokenised before parsing, so a lexical error (an unterminated
//! literal) is reported before any syntax error after it, as Dataverse does.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::error::DvError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// Column, keyword or (dotted) function name.
    Ident(String),
    Str(String),
    Int(i64),
    Dec(f64),
    Guid(Uuid),
    /// Date-only literal (`2021-01-04`), as midnight UTC.
    Date(DateTime<Utc>),
    DateTime(DateTime<Utc>),
    /// Parameter alias, with its `@`.
    Alias(String),
    /// Raw JSON array text (`["1","2"]`) for `PropertyValues`.
    Json(String),
    LParen,
    RParen,
    Comma,
    Equals,
    Slash,
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    /// Character position in the text (what Dataverse's messages count).
    pub pos: usize,
}

pub(super) fn syntax_error(pos: usize, text: &str) -> DvError {
    DvError::bad_query(format!("Syntax error at position {pos} in '{text}'."))
}

fn unterminated(pos: usize, text: &str) -> DvError {
    DvError::bad_query(format!(
        "There is an unterminated literal at position {pos} in '{text}'."
    ))
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

pub(super) fn lex(text: &str) -> Result<Vec<Token>, DvError> {
    let chars: Vec<char> = text.chars().collect();
    let mut lexer = Lexer {
        c: &chars,
        text,
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        let t = lexer.next()?;
        let end = t.tok == Tok::End;
        out.push(t);
        if end {
            return Ok(out);
        }
    }
}

struct Lexer<'a> {
    c: &'a [char],
    text: &'a str,
    i: usize,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.c.get(i).copied()
    }

    fn next(&mut self) -> Result<Token, DvError> {
        while self.at(self.i).is_some_and(char::is_whitespace) {
            self.i += 1;
        }
        let pos = self.i;
        let Some(ch) = self.at(pos) else {
            return Ok(Token { tok: Tok::End, pos });
        };
        let single = match ch {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '=' => Some(Tok::Equals),
            '/' => Some(Tok::Slash),
            _ => None,
        };
        let tok = if let Some(t) = single {
            self.i += 1;
            t
        } else if ch == '\'' {
            self.string()?
        } else if ch == '[' {
            self.json_array()?
        } else if ch == '@' {
            self.alias()?
        } else if let Some(g) = self.guid() {
            g
        } else if ch.is_ascii_digit() && self.looks_like_date() {
            self.date()?
        } else if ch.is_ascii_digit()
            || (ch == '-' && self.at(pos + 1).is_some_and(|c| c.is_ascii_digit()))
        {
            self.number()?
        } else if ch.is_ascii_alphabetic() || ch == '_' {
            let start = self.i;
            while self
                .at(self.i)
                .is_some_and(|c| is_ident_char(c) || c == '.')
            {
                self.i += 1;
            }
            Tok::Ident(self.c[start..self.i].iter().collect())
        } else {
            return Err(DvError::bad_query(format!(
                "Syntax error: character '{ch}' is not valid at position {pos} in '{}'.",
                self.text
            )));
        };
        Ok(Token { tok, pos })
    }

    /// `'…'` with `''` standing for one quote.
    fn string(&mut self) -> Result<Tok, DvError> {
        let mut s = String::new();
        let mut j = self.i + 1;
        loop {
            match self.at(j) {
                None => return Err(unterminated(self.c.len(), self.text)),
                Some('\'') if self.at(j + 1) == Some('\'') => {
                    s.push('\'');
                    j += 2;
                }
                Some('\'') => {
                    self.i = j + 1;
                    return Ok(Tok::Str(s));
                }
                Some(c) => {
                    s.push(c);
                    j += 1;
                }
            }
        }
    }

    /// A JSON array, kept raw; brackets inside double-quoted strings do not count.
    fn json_array(&mut self) -> Result<Tok, DvError> {
        let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
        let mut j = self.i;
        while let Some(c) = self.at(j) {
            j += 1;
            if in_str {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_str = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_str = true,
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        let raw = self.c[self.i..j].iter().collect();
                        self.i = j;
                        return Ok(Tok::Json(raw));
                    }
                }
                _ => {}
            }
        }
        Err(unterminated(self.c.len(), self.text))
    }

    fn alias(&mut self) -> Result<Tok, DvError> {
        let start = self.i;
        let mut j = start + 1;
        while self.at(j).is_some_and(is_ident_char) {
            j += 1;
        }
        if j == start + 1 {
            return Err(syntax_error(start, self.text));
        }
        self.i = j;
        Ok(Tok::Alias(self.c[start..j].iter().collect()))
    }

    /// Unquoted GUID: 8-4-4-4-12 hex digits not followed by an identifier character.
    fn guid(&mut self) -> Option<Tok> {
        let end = self.i + 36;
        let cand = self.c.get(self.i..end)?;
        let shape_ok = cand.iter().enumerate().all(|(k, c)| match k {
            8 | 13 | 18 | 23 => *c == '-',
            _ => c.is_ascii_hexdigit(),
        });
        if !shape_ok || self.at(end).is_some_and(is_ident_char) {
            return None;
        }
        let s: String = cand.iter().collect();
        let id = Uuid::parse_str(&s).ok()?;
        self.i = end;
        Some(Tok::Guid(id))
    }

    fn looks_like_date(&self) -> bool {
        let p = |k: usize, f: fn(char) -> bool| self.at(self.i + k).is_some_and(f);
        let digit = |c: char| c.is_ascii_digit();
        let dash = |c: char| c == '-';
        (0..4).all(|k| p(k, digit))
            && p(4, dash)
            && p(5, digit)
            && p(6, digit)
            && p(7, dash)
            && p(8, digit)
            && p(9, digit)
    }

    /// `2021-01-04` or `2021-01-04T00:00:00Z` (any RFC 3339 offset).
    fn date(&mut self) -> Result<Tok, DvError> {
        let start = self.i;
        let mut j = start;
        while self
            .at(j)
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | '.' | 'T' | 'Z' | '+'))
        {
            j += 1;
        }
        let raw: String = self.c[start..j].iter().collect();
        self.i = j;
        if raw.len() == 10 {
            if let Some(dt) = NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
            {
                return Ok(Tok::Date(dt.and_utc()));
            }
        } else if let Ok(dt) = DateTime::parse_from_rfc3339(&raw) {
            return Ok(Tok::DateTime(dt.with_timezone(&Utc)));
        }
        let kind = if raw.len() == 10 {
            "Edm.Date"
        } else {
            "Edm.DateTimeOffset"
        };
        Err(DvError::bad_query(format!(
            "Unrecognized '{kind}' literal '{raw}' at '{start}' in '{}'.",
            self.text
        )))
    }

    fn number(&mut self) -> Result<Tok, DvError> {
        let start = self.i;
        let mut j = start;
        if self.at(j) == Some('-') {
            j += 1;
        }
        let digits = |j: &mut usize| {
            while self.at(*j).is_some_and(|c| c.is_ascii_digit()) {
                *j += 1;
            }
        };
        digits(&mut j);
        let mut fractional = false;
        if self.at(j) == Some('.') && self.at(j + 1).is_some_and(|c| c.is_ascii_digit()) {
            fractional = true;
            j += 1;
            digits(&mut j);
        }
        if matches!(self.at(j), Some('e' | 'E')) {
            let mut k = j + 1;
            if matches!(self.at(k), Some('+' | '-')) {
                k += 1;
            }
            if self.at(k).is_some_and(|c| c.is_ascii_digit()) {
                fractional = true;
                j = k;
                digits(&mut j);
            }
        }
        let raw: String = self.c[start..j].iter().collect();
        // OData type suffixes (`10L`, `1.5m`, `2.0d`, `1f`) are accepted and ignored.
        if matches!(
            self.at(j),
            Some('L' | 'l' | 'M' | 'm' | 'D' | 'd' | 'F' | 'f')
        ) && !self.at(j + 1).is_some_and(is_ident_char)
        {
            j += 1;
        }
        if self.at(j).is_some_and(is_ident_char) {
            return Err(syntax_error(start, self.text));
        }
        self.i = j;
        if !fractional {
            if let Ok(n) = raw.parse::<i64>() {
                return Ok(Tok::Int(n));
            }
        }
        match raw.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Tok::Dec(f)),
            _ => Err(DvError::bad_query(format!(
                "Invalid numeric literal '{raw}' at position {start} in '{}'.",
                self.text
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_every_literal_kind() {
        let g = "4026be43-6b69-e111-8f65-78e7d1620f5e";
        let t = toks(&format!(
            "a eq 'O''Bryan' 12 -3 1.5 2e3 {g} 2021-01-04 2021-01-04T10:00:00Z @p1 [\"a]\",\"b\"] ( ) , = /"
        ));
        assert_eq!(t[0], Tok::Ident("a".into()));
        assert_eq!(t[2], Tok::Str("O'Bryan".into()));
        assert_eq!(t[3], Tok::Int(12));
        assert_eq!(t[4], Tok::Int(-3));
        assert_eq!(t[5], Tok::Dec(1.5));
        assert_eq!(t[6], Tok::Dec(2000.0));
        assert_eq!(t[7], Tok::Guid(Uuid::parse_str(g).unwrap()));
        assert!(matches!(t[8], Tok::Date(_)));
        assert!(matches!(t[9], Tok::DateTime(_)));
        assert_eq!(t[10], Tok::Alias("@p1".into()));
        assert_eq!(t[11], Tok::Json("[\"a]\",\"b\"]".into()));
        assert_eq!(
            &t[12..],
            &[
                Tok::LParen,
                Tok::RParen,
                Tok::Comma,
                Tok::Equals,
                Tok::Slash,
                Tok::End
            ]
        );
    }

    #[test]
    fn unterminated_literal_position_matches_dataverse() {
        let e = lex("lastname eq 'O'Bryan'").unwrap_err();
        assert_eq!(
            e.message,
            "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''."
        );
    }

    #[test]
    fn bad_characters_and_numbers_are_errors() {
        assert!(lex("a eq #").is_err());
        assert!(lex("a eq 12abc").is_err());
        assert!(lex("a eq 2021-13-45").is_err());
        assert!(lex("a eq [\"x\"").is_err());
        assert!(lex("@").is_err());
        assert!(lex(&"9".repeat(500)).is_err());
    }
}
