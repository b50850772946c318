//! A hand-written recursive-descent parser: the grammar is small, and error messages that
//! name the column and what was expected matter more here than a generator's conveniences.
//!
//! ```text
//! query    := search? ( '|' command )? ( '|' post )*
//! search   := or
//! or       := and ( 'OR' and )*
//! and      := unary ( 'AND'? unary )*
//! unary    := 'NOT' unary | '(' or ')' | compare | time | TERM | "PHRASE"
//! compare  := FIELD ( ':' | '=' | '!=' | '<' | '<=' | '>' | '>=' ) ( WORD | "quoted" )
//!           | FIELD '~' "regex" | FIELD ( ':' | '=' ) [*] '$' FIELD [*]
//! time     := ( 'earliest' | 'latest' ) '=' ( 'now' | -N(s|m|h|d|w) | ISO-8601 | epoch )
//! command  := 'stats' agg ( ',' agg )* by? | 'top' [N] FIELD by? | 'rare' [N] FIELD
//!           | 'timechart' [ 'span=' N(s|m|h|d|w) ] agg [ 'by' FIELD ]
//! by       := 'by' FIELD ( ',' FIELD )*
//! post     := 'where' agg-name op NUMBER | 'head' N | 'fields' FIELD ( ',' FIELD )*
//! agg      := 'count' ['(' ')'] | ('dc'|'sum'|'min'|'max'|'avg') '(' FIELD ')'
//!           | 'p' PERCENT '(' FIELD ')' | 'percentile' '(' FIELD ',' PERCENT ')'
//! ```
//!
//! `AND`, `OR` and `NOT` are operators only in capitals (as in Splunk): `or` is a word.

use super::ast::{
    AGGREGATES, Agg, BinOp, COMMANDS, Calc, Command, Compare, CompareOp, Expr, FUNCTIONS, Function,
    Post, Query, SortKey, Stage, StatKind, TimeBound, TimeUnit,
};
use super::patterns::compile_regex;
use crate::limits::{
    MAX_BY_FIELDS, MAX_COLUMNS, MAX_DEPTH, MAX_HITS, MAX_HITS_LIMIT, MAX_LIST_N, MAX_QUERY_LEN,
};

const DEFAULT_LIST_N: u32 = 10;

/// Where the query went wrong (1-based character column) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

/// Parses a query; see the module docs for the grammar.
pub fn parse(input: &str) -> Result<Query, ParseError> {
    parse_with_limit(input, MAX_QUERY_LEN)
}

/// Parses a query of up to `max_len` bytes: a rule's, written by its team (a Sigma rule
/// may list hundreds of values), may be longer than one typed in a page.
pub fn parse_with_limit(input: &str, max_len: usize) -> Result<Query, ParseError> {
    if input.len() > max_len {
        return Err(ParseError {
            column: 1,
            message: format!("query is longer than {max_len} bytes"),
        });
    }
    let mut p = Parser {
        src: input,
        pos: 0,
        depth: 0,
        earliest: None,
        latest: None,
        index: None,
        reads: Vec::new(),
        stage: 0,
    };
    p.skip_ws();
    let search = match p.peek() {
        None | Some('|') => None,
        Some(_) => p.or()?,
    };
    let mut query = Query {
        search,
        earliest: p.earliest,
        latest: p.latest,
        index: p.index.clone(),
        stages: Vec::new(),
        command: None,
        post: Vec::new(),
        hits: MAX_HITS as u32,
    };
    while p.eat('|') {
        p.stage = query.stages.len();
        p.pipe(&mut query)?;
    }
    p.check_reads(&query)?;
    // `head N` (or `tail N`) after a plain search keeps N events: the partials carry
    // that many.
    if query.command.is_none()
        && let Some(n) = query
            .post
            .iter()
            .filter_map(|p| match p {
                // `tail N` keeps the first N of the reversed order.
                Post::Head(n) | Post::Tail(n) => Some(*n),
                _ => None,
            })
            .min()
    {
        query.hits = n;
    }
    p.skip_ws();
    if let Some(c) = p.peek() {
        return Err(p.error(format!("unexpected `{c}`, expected `|` or end of query")));
    }
    if let (Some(TimeBound::At(a)), Some(TimeBound::At(b))) = (query.earliest, query.latest)
        && a >= b
    {
        return Err(ParseError {
            column: 1,
            message: "earliest= must be before latest=".to_string(),
        });
    }
    Ok(query)
}

struct Parser<'a> {
    src: &'a str,
    /// Byte offset into `src`.
    pos: usize,
    /// Parentheses and `NOT`s around the current position.
    depth: usize,
    earliest: Option<TimeBound>,
    latest: Option<TimeBound>,
    index: Option<String>,
    /// Each field an `eval` or `where` expression reads: (stage index, name, where written).
    reads: Vec<(usize, String, usize)>,
    /// The stage being parsed (its index in `Query::stages`).
    stage: usize,
}

/// Characters that end a bare word or value.
pub(super) fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '|' | '(' | ')' | '"')
}

/// The comparison operator `text` starts with (longest first: `<=` before `<`).
fn comparison(text: &str) -> Option<(&'static str, CompareOp)> {
    const OPERATORS: [(&str, CompareOp); 8] = [
        ("!=", CompareOp::Ne),
        ("<=", CompareOp::Le),
        (">=", CompareOp::Ge),
        ("==", CompareOp::Eq),
        (":", CompareOp::Eq),
        ("=", CompareOp::Eq),
        ("<", CompareOp::Lt),
        (">", CompareOp::Gt),
    ];
    OPERATORS.into_iter().find(|(sym, _)| text.starts_with(sym))
}

/// `$other`, `*$other*`, `$other*` or `*$other` as `field`'s value: a reference to the
/// other field's value.
fn field_reference(field: &str, value: &str) -> Option<Expr> {
    let (open_start, rest) = match value.strip_prefix('*') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (open_end, rest) = match rest.strip_suffix('*') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let other = rest.strip_prefix('$')?;
    let valid = other.starts_with(|c: char| c.is_alphabetic() || matches!(c, '_' | '@'))
        && other.chars().all(is_field_char);
    valid.then(|| Expr::FieldRef {
        field: field.to_string(),
        other: other.to_string(),
        open_start,
        open_end,
    })
}

fn is_field_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '-')
}

/// Whether the word `text` (no white space, `|`, parentheses or quotes in it), written
/// bare where a search term may stand, reads back as a bare term: not an operator, a
/// field comparison or `**:`. Else it is written `**:text`, which always does.
pub(super) fn reads_as_bare_term(text: &str) -> bool {
    if matches!(text, "AND" | "OR" | "NOT") {
        return false;
    }
    if let Some(after) = text.strip_prefix("**")
        && after.starts_with([':', '='])
    {
        return false;
    }
    let field_len = text.find(|c: char| !is_field_char(c)).unwrap_or(text.len());
    let starts_like_field = text.starts_with(|c: char| c.is_alphabetic() || matches!(c, '_' | '@'));
    let after = &text[field_len..];
    !(starts_like_field && (after.starts_with('~') || comparison(after).is_some()))
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
    }

    /// Skips white space, then consumes `c` if it is next.
    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(format!("expected `{c}` {what}, found {}", self.found())))
        }
    }

    /// Consumes `word` (ASCII case-insensitive) if it is the next whole word.
    fn eat_keyword(&mut self, word: &str) -> bool {
        self.skip_ws();
        let rest = self.rest();
        let matches = rest.len() >= word.len()
            && rest.is_char_boundary(word.len())
            && rest[..word.len()].eq_ignore_ascii_case(word)
            && !rest[word.len()..].starts_with(is_field_char);
        if matches {
            self.pos += word.len();
        }
        matches
    }

    /// The next whole word is exactly `word` (case-sensitive: search operators).
    fn at_operator(&self, word: &str) -> bool {
        self.rest()
            .strip_prefix(word)
            .is_some_and(|after| after.is_empty() || after.starts_with(ends_word))
    }

    fn column(&self) -> usize {
        self.src[..self.pos].chars().count() + 1
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            column: self.column(),
            message: message.into(),
        }
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            column: self.src[..pos].chars().count() + 1,
            message: message.into(),
        }
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "end of query".to_string(),
            Some(_) => format!("`{}`", self.rest().split_whitespace().next().unwrap_or("")),
        }
    }

    /// A field name: letters, digits, `_`, `.` (nested fields, e.g. `id.orig_h`), `@`, `-`.
    fn ident(&mut self, what: &str) -> Result<&'a str, ParseError> {
        self.skip_ws();
        let rest = self.rest();
        let len = rest.find(|c: char| !is_field_char(c)).unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error(format!("expected {what}, found {}", self.found())));
        }
        self.pos += len;
        Ok(&rest[..len])
    }

    fn number(
        &mut self,
        what: &str,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let digits = self
            .rest()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap_or("");
        match digits.parse::<u32>() {
            Ok(n) if range.contains(&n) => {
                self.pos += digits.len();
                Ok(n)
            }
            _ => Err(self.error_at(
                start,
                format!(
                    "expected {what} between {} and {}, found {}",
                    range.start(),
                    range.end(),
                    self.found()
                ),
            )),
        }
    }

    // ---- search expressions ----

    fn or(&mut self) -> Result<Option<Expr>, ParseError> {
        let start = self.pos;
        let first = self.and()?;
        let mut parts = Vec::new();
        loop {
            self.skip_ws();
            if !self.at_operator("OR") {
                break;
            }
            self.pos += 2;
            match self.and()? {
                Some(e) => parts.push(e),
                None => return Err(self.error("expected a search term after `OR`")),
            }
        }
        if parts.is_empty() {
            return Ok(first);
        }
        let first =
            first.ok_or_else(|| self.error_at(start, "expected a search term before `OR`"))?;
        parts.insert(0, first);
        Ok(Some(Expr::Or(parts)))
    }

    /// Terms joined by `AND` or juxtaposition. `None` when the sequence held only time
    /// bounds (which are not part of the expression).
    fn and(&mut self) -> Result<Option<Expr>, ParseError> {
        let mut parts = Vec::new();
        let mut any = false;
        loop {
            self.skip_ws();
            match self.peek() {
                None | Some('|') | Some(')') => break,
                _ if self.at_operator("OR") => break,
                _ => {}
            }
            if self.at_operator("AND") {
                if !any {
                    return Err(self.error("expected a search term before `AND`"));
                }
                self.pos += 3;
                self.skip_ws();
                if matches!(self.peek(), None | Some('|') | Some(')')) || self.at_operator("OR") {
                    return Err(self.error(format!(
                        "expected a search term after `AND`, found {}",
                        self.found()
                    )));
                }
                continue;
            }
            any = true;
            if let Some(e) = self.unary()? {
                parts.push(e);
            }
        }
        if !any {
            return Err(self.error(format!("expected a search term, found {}", self.found())));
        }
        Ok(match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Expr::And(parts)),
        })
    }

    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn unary(&mut self) -> Result<Option<Expr>, ParseError> {
        self.skip_ws();
        let start = self.pos;
        if self.at_operator("NOT") {
            self.pos += 3;
            self.skip_ws();
            if matches!(self.peek(), None | Some('|') | Some(')')) {
                return Err(self.error(format!(
                    "expected a search term after `NOT`, found {}",
                    self.found()
                )));
            }
            let inner = self.nested(Self::unary)?;
            return match inner {
                Some(e) => Ok(Some(Expr::Not(Box::new(e)))),
                None => Err(self.error_at(start, "`NOT` cannot apply to earliest=/latest=")),
            };
        }
        if self.eat('(') {
            let inner = self.nested(Self::or)?;
            self.expect(
                ')',
                &format!(
                    "to close the `(` at column {}",
                    self.src[..start].chars().count() + 1
                ),
            )?;
            return match inner {
                Some(e) => Ok(Some(e)),
                None => Err(self.error_at(start, "earliest=/latest= cannot be inside parentheses")),
            };
        }
        if self.peek() == Some('"') {
            let text = self.quoted("phrase")?;
            return Ok(Some(Expr::Term { text, phrase: true }));
        }
        // Scanner's `**:value`, a value in any field: the value's tokens anywhere in the
        // event, as a bare term or phrase matches them.
        if let Some(after) = self.rest().strip_prefix("**")
            && let Some(op) = after.chars().next().filter(|c| matches!(c, ':' | '='))
        {
            self.pos += 2 + op.len_utf8();
            let phrase = self.peek() == Some('"');
            let text = if phrase {
                self.quoted("a value after `**:`")?
            } else {
                self.word("a value after `**:`")?.to_string()
            };
            return Ok(Some(Expr::Term { text, phrase }));
        }
        // A field comparison if a field name is followed by an operator; else a bare word.
        let rest = self.rest();
        let field_len = rest.find(|c: char| !is_field_char(c)).unwrap_or(rest.len());
        let starts_like_field =
            rest.starts_with(|c: char| c.is_alphabetic() || matches!(c, '_' | '@'));
        if starts_like_field && field_len > 0 {
            let after = &rest[field_len..];
            if after.starts_with('~') {
                let field = &rest[..field_len];
                self.pos += field_len + 1;
                let pattern = self.pattern(&format!("`{field}~`"))?;
                return Ok(Some(Expr::Match {
                    field: field.to_string(),
                    pattern,
                }));
            }
            if let Some((sym, op)) = comparison(after) {
                let field = &rest[..field_len];
                self.pos += field_len + sym.len();
                let lower = field.to_ascii_lowercase();
                if (lower == "earliest" || lower == "latest") && sym == "=" {
                    return self.time_bound(start, &lower).map(|()| None);
                }
                if lower == "@index" && matches!(sym, "=" | ":") {
                    return self.index_clause(start).map(|()| None);
                }
                let quoted = self.peek() == Some('"');
                let value = if quoted {
                    self.quoted(&format!("value for `{field}`"))?
                } else {
                    self.word(&format!("a value after `{field}{sym}`"))?
                        .to_string()
                };
                if !quoted
                    && op == CompareOp::Eq
                    && let Some(reference) = field_reference(field, &value)
                {
                    return Ok(Some(reference));
                }
                return Ok(Some(Expr::Compare(Compare {
                    field: field.to_string(),
                    op,
                    value,
                    quoted,
                })));
            }
        }
        let word = self.word("a search term")?;
        Ok(Some(Expr::Term {
            text: word.to_string(),
            phrase: false,
        }))
    }

    /// A bare word or value: up to white space, `|`, parentheses or a quote.
    fn word(&mut self, what: &str) -> Result<&'a str, ParseError> {
        let rest = self.rest();
        let len = rest.find(ends_word).unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error(format!("expected {what}, found {}", self.found())));
        }
        self.pos += len;
        Ok(&rest[..len])
    }

    /// A "quoted string" with `\"` and `\\` escapes, at the current position.
    fn quoted(&mut self, what: &str) -> Result<String, ParseError> {
        let start = self.pos;
        let quoted = &self.rest()[1..];
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += 1 + i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\\'))) => out.push(e),
                    _ => {
                        self.pos += 1 + i;
                        return Err(self.error("expected `\\\"` or `\\\\` after `\\`"));
                    }
                },
                c => out.push(c),
            }
        }
        Err(self.error_at(start, format!("unterminated quoted {what}")))
    }

    /// A quoted regular expression (after `field~` or `rex`), checked to compile: `\"` is
    /// a quote, and every other backslash is the pattern's own (`\d`, `\\`), so patterns
    /// read as written.
    fn pattern(&mut self, after: &str) -> Result<String, ParseError> {
        let start = self.pos;
        if self.peek() != Some('"') {
            return Err(self.error(format!(
                "expected a quoted regular expression after {after}, found {}",
                self.found()
            )));
        }
        let out = self.raw_quoted("regular expression")?;
        if let Err(e) = compile_regex(&out) {
            return Err(self.error_at(start, format!("bad regular expression: {e}")));
        }
        Ok(out)
    }

    /// A quoted text where `\"` is a quote and every other backslash is kept (a regular
    /// expression's `\d`): eval's strings and `~`'s patterns.
    fn raw_quoted(&mut self, what: &str) -> Result<String, ParseError> {
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.rest()[1..].char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(1 + i + 1);
                    break;
                }
                '\\' => match chars.next() {
                    Some((_, '"')) => out.push('"'),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => out.push('\\'),
                },
                c => out.push(c),
            }
        }
        let Some(end) = end else {
            return Err(self.error_at(start, format!("unterminated quoted {what}")));
        };
        self.pos += end;
        Ok(out)
    }

    /// The value of `earliest=` or `latest=`, recorded on the parser.
    /// `@index=glob`: which folders of the lake the query reads, once per query.
    fn index_clause(&mut self, start: usize) -> Result<(), ParseError> {
        if self.depth > 0 {
            return Err(self.error_at(start, "@index= cannot be inside parentheses or NOT"));
        }
        let value = if self.peek() == Some('"') {
            self.quoted("a folder")?
        } else {
            self.word("a folder of the lake after `@index=`")?
                .to_string()
        };
        let value = value.trim_matches('/').to_string();
        if value.is_empty() || value.split('/').any(|part| part.is_empty() || part == "..") {
            return Err(self.error_at(
                start,
                format!("`@index={value}`: expected folder names, such as cloudtrail or aws/*"),
            ));
        }
        if self.index.replace(value).is_some() {
            return Err(self.error_at(start, "@index= given twice"));
        }
        Ok(())
    }

    fn time_bound(&mut self, start: usize, which: &str) -> Result<(), ParseError> {
        if self.depth > 0 {
            return Err(self.error_at(
                start,
                format!("{which}= cannot be inside parentheses or NOT"),
            ));
        }
        let at = self.pos;
        let text = if self.peek() == Some('"') {
            self.quoted("time")?
        } else {
            self.word(&format!("a time after `{which}=`"))?.to_string()
        };
        let bound = parse_time_bound(&text).ok_or_else(|| {
            self.error_at(
                at,
                format!(
                    "expected a time after `{which}=`: now, -15m, -7d (units s, m, h, d, w), \
                     2024-05-01, 2024-05-01T12:00:00Z or epoch seconds; found `{text}`"
                ),
            )
        })?;
        let slot = if which == "earliest" {
            &mut self.earliest
        } else {
            &mut self.latest
        };
        if slot.replace(bound).is_some() {
            return Err(self.error_at(start, format!("{which}= given twice")));
        }
        Ok(())
    }

    // ---- pipes ----

    fn pipe(&mut self, query: &mut Query) -> Result<(), ParseError> {
        self.skip_ws();
        let start = self.pos;
        let name = self.ident("a command after `|`")?.to_ascii_lowercase();
        let aggregating = matches!(
            name.as_str(),
            "stats" | "top" | "rare" | "timechart" | "groupbycount"
        );
        if aggregating {
            if query.command.is_some() {
                return Err(self.error_at(start, format!("`{name}`: a query has one aggregating command (stats, top, rare or timechart)")));
            }
            if !query.post.is_empty() {
                return Err(self.error_at(
                    start,
                    format!("`{name}` must come before where, head and fields"),
                ));
            }
        }
        match name.as_str() {
            "stats" => {
                let mut aggs = vec![self.agg()?];
                while self.eat(',') {
                    aggs.push(self.agg()?);
                }
                let by = self.by()?;
                query.command = Some(Command::Stats { aggs, by });
            }
            "groupbycount" => {
                // Scanner's `stats count by f, …`.
                let by = self.field_list("a field name after `groupbycount`", MAX_BY_FIELDS)?;
                query.command = Some(Command::Stats {
                    aggs: vec![Agg::Count],
                    by,
                });
            }
            "top" => {
                let (n, field) = self.count_and_field("top")?;
                let fields = self.more_fields(field, "a field name after `,`", MAX_BY_FIELDS)?;
                let by = self.by()?;
                query.command = Some(Command::Top { n, fields, by });
            }
            "rare" => {
                let (n, field) = self.count_and_field("rare")?;
                query.command = Some(Command::Rare { n, field });
            }
            "timechart" => {
                let mut span = None;
                if self.eat_keyword("span") {
                    self.expect('=', "after `span`")?;
                    self.skip_ws();
                    let at = self.pos;
                    let text = self.word("a span such as 1h")?;
                    span = Some(parse_span(text).ok_or_else(|| {
                        self.error_at(
                            at,
                            format!("expected a span such as 30s, 5m, 1h or 1d, found `{text}`"),
                        )
                    })?);
                }
                self.skip_ws();
                let at = self.pos;
                let agg = self.agg()?;
                if matches!(
                    agg,
                    Agg::Top { .. } | Agg::Rare { .. } | Agg::Values { .. } | Agg::Mode { .. }
                ) {
                    return Err(self.error_at(
                        at,
                        format!(
                            "timechart charts a number per bucket, not values like `{}`: use stats",
                            agg.label()
                        ),
                    ));
                }
                let by = if self.eat_keyword("by") {
                    Some(self.ident("a field name after `by`")?.to_string())
                } else {
                    None
                };
                query.command = Some(Command::Timechart { span, agg, by });
            }
            "eval" | "where" | "search" | "rename" | "fillnull" | "rex" | "bin" | "bucket"
            | "lookup"
                if query.command.is_none() =>
            {
                if !query.post.is_empty() {
                    return Err(self.error_at(
                        start,
                        format!("`{name}` runs on events: put it before head and fields"),
                    ));
                }
                let stage = self.stage(&name)?;
                query.stages.push(stage);
            }
            "eval" | "search" | "rename" | "fillnull" | "rex" | "bin" | "bucket" | "lookup" => {
                return Err(self.error_at(
                    start,
                    format!("`{name}` runs on events: put it before the aggregating command"),
                ));
            }
            "where" => {
                if query.post.iter().any(|p| matches!(p, Post::Table(_))) {
                    return Err(self.error_at(
                        start,
                        "`where` after `table`: compare the aggregates before choosing columns"
                            .to_string(),
                    ));
                }
                let post = self.where_clause(query)?;
                query.post.push(post);
            }
            "head" | "tail" => {
                self.skip_ws();
                // After a plain search it counts events, of which a query keeps more.
                let most = if query.command.is_none() {
                    MAX_HITS_LIMIT as u32
                } else {
                    MAX_LIST_N
                };
                let n = if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.number("N", 1..=most)?
                } else {
                    DEFAULT_LIST_N
                };
                query.post.push(if name == "head" {
                    Post::Head(n)
                } else {
                    Post::Tail(n)
                });
            }
            "fields" => {
                let fields = self.field_list("a field name after `fields`", usize::MAX)?;
                query.post.push(Post::Fields(fields));
            }
            "sort" => {
                // Splunk's `sort 20 -count` and `sort limit=20 -count`: a head after.
                self.skip_ws();
                let limit = if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    Some(self.number("N", 1..=MAX_HITS_LIMIT as u32)?)
                } else if self.eat_keyword("limit") {
                    self.expect('=', "after `limit`")?;
                    Some(self.number("N", 1..=MAX_HITS_LIMIT as u32)?)
                } else {
                    None
                };
                let keys = self.sort_keys(query)?;
                query.post.push(Post::Sort(keys));
                if let Some(n) = limit {
                    query.post.push(Post::Head(n));
                }
            }
            "dedup" => {
                self.skip_ws();
                if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return Err(self.error(
                        "`dedup N` (N events per value) is not built: dedup keeps the first of each"
                            .to_string(),
                    ));
                }
                let at = self.pos;
                let fields = self.loose_fields("a field name after `dedup`", &["keepevents"])?;
                let keep_events = if self.eat_keyword("keepevents") {
                    self.expect('=', "after `keepevents`")?;
                    self.skip_ws();
                    let at = self.pos;
                    match self.ident("true or false")?.to_ascii_lowercase().as_str() {
                        "true" | "t" | "1" => true,
                        "false" | "f" | "0" => false,
                        other => {
                            return Err(self
                                .error_at(at, format!("expected true or false, found `{other}`")));
                        }
                    }
                } else {
                    false
                };
                if query.command.is_some() {
                    self.check_columns(query, &fields, "dedup", at)?;
                }
                query.post.push(Post::Dedup {
                    fields,
                    keep_events,
                });
            }
            "table" => {
                self.skip_ws();
                let at = self.pos;
                let fields = self.loose_fields("a field name after `table`", &[])?;
                if query.command.is_some() {
                    self.check_columns(query, &fields, "table", at)?;
                }
                query.post.push(Post::Table(fields));
            }
            other => {
                return Err(self.error_at(
                    start,
                    format!(
                        "unknown command `{other}`, expected one of {}",
                        COMMANDS.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A field an expression reads that only a later `eval` or `rex` makes is a command
    /// out of order: Splunk would read nothing there, silently. A later command that
    /// reads the field itself (`eval bytes = bytes * 8`) shows it is the events' own.
    fn check_reads(&self, query: &Query) -> Result<(), ParseError> {
        for (stage, name, at) in &self.reads {
            let made_later = query
                .stages
                .iter()
                .enumerate()
                .skip(stage + 1)
                .find(|(i, s)| {
                    let (made, reads_it) = match s {
                        Stage::Eval(assignments) => (
                            assignments.iter().any(|(f, _)| f == name),
                            self.reads.iter().any(|(j, n, _)| j == i && n == name),
                        ),
                        Stage::Rex { pattern, .. } => (
                            compile_regex(pattern)
                                .is_ok_and(|r| r.capture_names().flatten().any(|n| n == name)),
                            false,
                        ),
                        _ => (false, false),
                    };
                    made && !reads_it
                });
            let made_before = query.stages[..(*stage).min(query.stages.len())]
                .iter()
                .any(|s| matches!(s, Stage::Eval(a) if a.iter().any(|(f, _)| f == name)));
            if let Some((_, later)) = made_later
                && !made_before
            {
                let command = later.to_string();
                let command = command
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                return Err(self.error_at(
                    *at,
                    format!(
                        "`{name}` is made by the `{command}` after this: put this command after it"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `sort`'s keys: `[-]key, …`. After an aggregate each names a `by` field or an
    /// aggregate (`sort -dc(src_ip)`); after a plain search, any field of the events.
    fn sort_keys(&mut self, query: &Query) -> Result<Vec<SortKey>, ParseError> {
        let mut keys = Vec::new();
        loop {
            self.skip_ws();
            let descending = self.eat('-');
            if !descending {
                self.eat('+');
            }
            self.skip_ws();
            let at = self.pos;
            // `+ -f` would read as a field named `-f`, written back as `-f`: descending.
            if matches!(self.peek(), Some('-' | '+')) {
                return Err(
                    self.error("a sort key has one sign: `-f` descending, `f` or `+f` ascending")
                );
            }
            let name = self.ident("a field or aggregate to sort by")?;
            self.skip_ws();
            let name = if self.peek() == Some('(') {
                self.pos = at;
                self.agg()?.label()
            } else {
                name.to_string()
            };
            if query.command.is_some() && !row_columns(query).contains(&name) {
                return Err(self.error_at(
                    at,
                    format!(
                        "cannot sort by `{name}`: the rows have {}",
                        row_columns(query).join(", ")
                    ),
                ));
            }
            if query.command.is_none() && name.contains('(') {
                return Err(self.error_at(
                    at,
                    format!("cannot sort events by `{name}`: aggregates belong to stats"),
                ));
            }
            keys.push(SortKey { name, descending });
            if !self.eat(',') {
                self.skip_ws();
                // Splunk separates keys by spaces too: `sort -count src_ip`.
                if !self.peek().is_some_and(|c| is_field_char(c) || c == '+') {
                    break;
                }
            }
        }
        Ok(keys)
    }

    /// Field names separated by commas or spaces (`table a, b c`), up to the next `|` or
    /// one of `stop` (an option such as `keepevents=`).
    fn loose_fields(&mut self, what: &str, stop: &[&str]) -> Result<Vec<String>, ParseError> {
        let mut fields = vec![self.ident(what)?.to_string()];
        loop {
            let comma = self.eat(',');
            self.skip_ws();
            let at_option = stop.iter().any(|word| {
                let rest = self.rest();
                rest.len() > word.len()
                    && rest.is_char_boundary(word.len())
                    && rest[..word.len()].eq_ignore_ascii_case(word)
                    && rest[word.len()..].trim_start().starts_with('=')
            });
            if !comma && (at_option || !self.peek().is_some_and(is_field_char)) {
                break;
            }
            if fields.len() == MAX_COLUMNS {
                return Err(self.error(format!("at most {MAX_COLUMNS} fields")));
            }
            fields.push(self.ident(what)?.to_string());
        }
        Ok(fields)
    }

    /// After an aggregate, `table` and `dedup` name the rows' columns: `by` fields and
    /// aggregates (`count` and the field for `top` and `rare`).
    fn check_columns(
        &self,
        query: &Query,
        fields: &[String],
        command: &str,
        at: usize,
    ) -> Result<(), ParseError> {
        let columns = row_columns(query);
        let by = query.by();
        for field in fields {
            let known = if command == "dedup" {
                by.contains(field)
            } else {
                columns.contains(field)
            };
            if !known {
                let have = if command == "dedup" {
                    by.to_vec()
                } else {
                    columns
                };
                return Err(self.error_at(
                    at,
                    format!(
                        "`{command} {field}`: the rows have no column `{field}`; they have {}",
                        if have.is_empty() {
                            "no `by` fields".to_string()
                        } else {
                            have.join(", ")
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    // ---- per-event commands ----

    fn stage(&mut self, name: &str) -> Result<Stage, ParseError> {
        match name {
            "eval" => {
                let mut assignments = Vec::new();
                loop {
                    let field = self.calc_field("a field name to set")?;
                    self.skip_ws();
                    if self.rest().starts_with("==") || !self.eat('=') {
                        return Err(self.error(format!(
                            "expected `=` after `{field}` in eval, found {}",
                            self.found()
                        )));
                    }
                    assignments.push((field, self.calc()?));
                    if !self.eat(',') {
                        break;
                    }
                }
                Ok(Stage::Eval(assignments))
            }
            "where" => Ok(Stage::Where(self.calc()?)),
            "bin" | "bucket" => {
                let mut span = None;
                if self.eat_keyword("span") {
                    self.expect('=', "after `span`")?;
                    self.skip_ws();
                    let at = self.pos;
                    let text = self.word("a span such as 1h or 100")?;
                    let seconds = parse_span(text).map(f64::from);
                    let number = text.parse::<f64>().ok().filter(|n| n.is_finite());
                    match number.or(seconds) {
                        Some(n) if n > 0.0 => span = Some(n),
                        _ => {
                            return Err(self.error_at(
                                at,
                                format!("expected a span above 0 (1h, 5m, or a number such as 100), found `{text}`"),
                            ));
                        }
                    }
                }
                self.skip_ws();
                let field_at = self.pos;
                let field = self.ident("the field to bin")?.to_string();
                let Some(span) = span else {
                    return Err(self.error_at(field_at, format!(
                        "bin needs span=: `bin span=1h {field}` (or a number for a numeric field)"
                    )));
                };
                let into = if self.eat_keyword("as") {
                    Some(self.ident("a field name after `AS`")?.to_string())
                } else {
                    None
                };
                Ok(Stage::Bin { field, span, into })
            }
            "rex" => {
                let field = if self.eat_keyword("field") {
                    self.expect('=', "after `field`")?;
                    self.ident("a field name after `field=`")?.to_string()
                } else {
                    RAW_FIELD.to_string()
                };
                self.skip_ws();
                let at = self.pos;
                let pattern = self.pattern("`rex`")?;
                // `pattern` checked that it compiles.
                let named = compile_regex(&pattern)
                    .is_ok_and(|regex| regex.capture_names().flatten().next().is_some());
                if !named {
                    return Err(self.error_at(
                        at,
                        "rex needs a named group, such as \"user=(?<user>\\w+)\": each becomes a field",
                    ));
                }
                Ok(Stage::Rex { field, pattern })
            }
            "lookup" => {
                self.skip_ws();
                let at = self.pos;
                let table = self.ident("a lookup table's name")?.to_string();
                if crate::lookup::check_name(&table).is_err() {
                    return Err(self.error_at(
                        at,
                        format!(
                            "`{table}` is not a lookup table's name (letters, digits, `_`, `-`)"
                        ),
                    ));
                }
                let key = self.ident("the table's column to match")?.to_string();
                let field = if self.eat_keyword("as") {
                    self.ident("the event's field after `AS`")?.to_string()
                } else {
                    key.clone()
                };
                let mut outputs = Vec::new();
                if self.eat_keyword("output") || self.eat_keyword("outputnew") {
                    loop {
                        let column = self
                            .ident("a column of the table after OUTPUT")?
                            .to_string();
                        let name = if self.eat_keyword("as") {
                            self.ident("the field's name after `AS`")?.to_string()
                        } else {
                            column.clone()
                        };
                        outputs.push((column, name));
                        self.skip_ws();
                        if !self.eat(',') && !self.peek().is_some_and(is_field_char) {
                            break;
                        }
                    }
                }
                Ok(Stage::Lookup {
                    table,
                    key,
                    field,
                    outputs,
                })
            }
            "search" => {
                self.skip_ws();
                match self.or()? {
                    Some(expr) => Ok(Stage::Search(expr)),
                    None => Err(self.error("expected a search expression after `search`")),
                }
            }
            "rename" => {
                let mut pairs = Vec::new();
                loop {
                    let from = self.ident("a field name to rename")?.to_string();
                    if !self.eat_keyword("as") {
                        return Err(self.error(format!(
                            "expected `AS` after `{from}` in rename, found {}",
                            self.found()
                        )));
                    }
                    let to = self.ident("the new name after `AS`")?.to_string();
                    pairs.push((from, to));
                    if !self.eat(',') {
                        break;
                    }
                }
                Ok(Stage::Rename(pairs))
            }
            _ => {
                let mut value = "0".to_string();
                if self.eat_keyword("value") {
                    self.expect('=', "after `value`")?;
                    self.skip_ws();
                    value = if self.peek() == Some('"') {
                        self.quoted("a value")?
                    } else {
                        self.word("a value after `value=`")?.to_string()
                    };
                }
                let mut fields = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek().is_none_or(|c| c == '|') {
                        break;
                    }
                    fields.push(self.ident("a field name to fill")?.to_string());
                    self.eat(',');
                }
                Ok(Stage::Fillnull { value, fields })
            }
        }
    }

    /// An eval expression. Precedence, loosest first: `OR` and `XOR`, `AND`, `NOT`,
    /// comparisons, `+ - .`, `* / %`, unary `-`.
    fn calc(&mut self) -> Result<Calc, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let calc = self.calc_or();
        self.depth -= 1;
        calc
    }

    fn calc_or(&mut self) -> Result<Calc, ParseError> {
        let mut left = self.calc_and()?;
        loop {
            self.skip_ws();
            let op = if self.at_operator("OR") {
                BinOp::Or
            } else if self.at_operator("XOR") {
                BinOp::Xor
            } else {
                return Ok(left);
            };
            self.pos += op.symbol().len();
            let right = self.calc_and()?;
            left = binary(op, left, right);
        }
    }

    fn calc_and(&mut self) -> Result<Calc, ParseError> {
        let mut left = self.calc_not()?;
        loop {
            self.skip_ws();
            if !self.at_operator("AND") {
                return Ok(left);
            }
            self.pos += 3;
            let right = self.calc_not()?;
            left = binary(BinOp::And, left, right);
        }
    }

    fn calc_not(&mut self) -> Result<Calc, ParseError> {
        self.skip_ws();
        if self.at_operator("NOT") {
            self.pos += 3;
            return Ok(Calc::Not(Box::new(self.calc_not()?)));
        }
        self.calc_compare()
    }

    fn calc_compare(&mut self) -> Result<Calc, ParseError> {
        let left = self.calc_sum()?;
        self.skip_ws();
        let rest = self.rest();
        let (len, op) = if rest.starts_with("==") {
            (2, BinOp::Eq)
        } else if rest.starts_with("!=") {
            (2, BinOp::Ne)
        } else if rest.starts_with("<=") {
            (2, BinOp::Le)
        } else if rest.starts_with(">=") {
            (2, BinOp::Ge)
        } else if rest.starts_with('=') {
            (1, BinOp::Eq)
        } else if rest.starts_with('<') {
            (1, BinOp::Lt)
        } else if rest.starts_with('>') {
            (1, BinOp::Gt)
        } else {
            return Ok(left);
        };
        self.pos += len;
        let right = self.calc_sum()?;
        Ok(binary(op, left, right))
    }

    fn calc_sum(&mut self) -> Result<Calc, ParseError> {
        let ops = [('+', BinOp::Add), ('-', BinOp::Sub), ('.', BinOp::Concat)];
        self.calc_left(&ops, Self::calc_product)
    }

    fn calc_product(&mut self) -> Result<Calc, ParseError> {
        let ops = [('*', BinOp::Mul), ('/', BinOp::Div), ('%', BinOp::Mod)];
        self.calc_left(&ops, Self::calc_unary)
    }

    /// Operands read by `operand`, joined left to right by the one-character `ops`.
    fn calc_left(
        &mut self,
        ops: &[(char, BinOp)],
        operand: fn(&mut Self) -> Result<Calc, ParseError>,
    ) -> Result<Calc, ParseError> {
        let mut left = operand(self)?;
        loop {
            self.skip_ws();
            let next = self.peek();
            let Some(&(c, op)) = ops.iter().find(|(c, _)| Some(*c) == next) else {
                return Ok(left);
            };
            self.pos += c.len_utf8();
            let right = operand(self)?;
            left = binary(op, left, right);
        }
    }

    fn calc_unary(&mut self) -> Result<Calc, ParseError> {
        self.skip_ws();
        if self.peek() == Some('-') {
            self.pos += 1;
            return Ok(Calc::Neg(Box::new(self.calc_unary()?)));
        }
        self.calc_primary()
    }

    fn calc_primary(&mut self) -> Result<Calc, ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let inner = self.calc()?;
                self.expect(')', "to close `(`")?;
                Ok(inner)
            }
            Some('"') => Ok(Calc::Text(self.raw_quoted("string")?)),
            Some('\'') => {
                let name = self.calc_field("a field name")?;
                self.reads.push((self.stage, name.clone(), start));
                Ok(Calc::Field(name))
            }
            Some(c) if c.is_ascii_digit() => {
                let rest = self.rest();
                let len = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E'))
                    .unwrap_or(rest.len());
                // `2.x` is 2 joined with x: the number ends before a dot not followed by a
                // digit.
                let text = &rest[..len];
                let text = match text.find('.') {
                    Some(dot) if !text[dot + 1..].starts_with(|c: char| c.is_ascii_digit()) => {
                        &text[..dot]
                    }
                    _ => text,
                };
                let n = text
                    .parse::<f64>()
                    .map_err(|_| self.error_at(start, format!("`{text}` is not a number")))?;
                self.pos += text.len();
                Ok(Calc::Number(n))
            }
            Some(c) if c.is_alphabetic() || c == '_' || c == '@' => {
                let name = self.calc_field("a field or function name")?;
                self.skip_ws();
                if self.peek() != Some('(') {
                    self.reads.push((self.stage, name.clone(), start));
                    return Ok(Calc::Field(name));
                }
                self.pos += 1;
                self.call(&name, start)
            }
            _ => Err(self.error(format!(
                "expected a value, field or function, found {}",
                self.found()
            ))),
        }
    }

    /// A function's arguments after its `(`, checked against what it takes.
    fn call(&mut self, name: &str, start: usize) -> Result<Calc, ParseError> {
        let Some(&(function, _, least, most)) = FUNCTIONS
            .iter()
            .find(|(_, known, ..)| known.eq_ignore_ascii_case(name))
        else {
            if AGGREGATES.iter().any(|a| a.eq_ignore_ascii_case(name)) {
                return Err(self.error_at(
                    start,
                    format!(
                        "`{name}` is an aggregate, over many events: it belongs to stats or \
                         timechart; eval and where read one event"
                    ),
                ));
            }
            let names: Vec<&str> = FUNCTIONS.iter().map(|(_, n, ..)| *n).collect();
            return Err(self.error_at(
                start,
                format!(
                    "unknown function `{name}`, expected one of {}",
                    names.join(", ")
                ),
            ));
        };
        let mut args = Vec::new();
        if !self.eat(')') {
            loop {
                self.skip_ws();
                let at = self.pos;
                let arg = self.calc()?;
                if function.pattern_argument() == Some(args.len()) {
                    let Calc::Text(pattern) = &arg else {
                        return Err(self.error_at(
                            at,
                            format!("{name}()'s regular expression must be a quoted string"),
                        ));
                    };
                    if let Err(e) = compile_regex(pattern) {
                        return Err(self.error_at(at, format!("bad regular expression: {e}")));
                    }
                }
                args.push(arg);
                if self.eat(')') {
                    break;
                }
                self.expect(',', "or `)` between a function's arguments")?;
            }
        }
        let takes = match (least, most) {
            (l, m) if l == m => format!("{l}"),
            (l, usize::MAX) => format!("at least {l}"),
            (l, m) => format!("{l} to {m}"),
        };
        if args.len() < least || args.len() > most {
            return Err(self.error_at(
                start,
                format!(
                    "{name}() takes {takes} argument{}, found {}",
                    if most == 1 && least == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        if function == Function::Case && args.len() % 2 != 0 {
            return Err(self.error_at(start, "case() takes pairs of a condition and a value"));
        }
        Ok(Calc::Call { function, args })
    }

    /// A field name in an eval expression: `'quoted'`, or letters, digits, `_` and `@`, with
    /// dots between such runs (`userIdentity.arn`; a dot before anything else joins).
    fn calc_field(&mut self, what: &str) -> Result<String, ParseError> {
        self.skip_ws();
        let rest = self.rest();
        if let Some(quoted) = rest.strip_prefix('\'') {
            let Some(end) = quoted.find('\'') else {
                return Err(self.error("a field name in `'` is not closed"));
            };
            if end == 0 {
                return Err(self.error("empty field name"));
            }
            self.pos += end + 2;
            return Ok(quoted[..end].to_string());
        }
        let word = |c: char| c.is_alphanumeric() || c == '_' || c == '@';
        let mut len = rest.find(|c: char| !word(c)).unwrap_or(rest.len());
        if len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(self.error(format!("expected {what}, found {}", self.found())));
        }
        while rest[len..].starts_with('.')
            && rest[len + 1..].starts_with(|c: char| word(c) && !c.is_ascii_digit())
        {
            len += 1 + rest[len + 1..]
                .find(|c: char| !word(c))
                .unwrap_or(rest.len() - len - 1);
        }
        self.pos += len;
        Ok(rest[..len].to_string())
    }

    fn field_list(&mut self, what: &str, max: usize) -> Result<Vec<String>, ParseError> {
        let first = self.ident(what)?.to_string();
        self.more_fields(first, what, max)
    }

    /// `first`, then each `, field` that follows it.
    fn more_fields(
        &mut self,
        first: String,
        what: &str,
        max: usize,
    ) -> Result<Vec<String>, ParseError> {
        let mut fields = vec![first];
        while self.eat(',') {
            if fields.len() == max {
                return Err(self.error(format!("at most {max} fields")));
            }
            fields.push(self.ident(what)?.to_string());
        }
        Ok(fields)
    }

    fn by(&mut self) -> Result<Vec<String>, ParseError> {
        if self.eat_keyword("by") {
            self.field_list("a field name after `by`", MAX_BY_FIELDS)
        } else {
            Ok(Vec::new())
        }
    }

    /// `[N] field` after `top` or `rare`.
    fn count_and_field(&mut self, command: &str) -> Result<(u32, String), ParseError> {
        self.skip_ws();
        let n = if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.number("N", 1..=MAX_LIST_N)?
        } else {
            DEFAULT_LIST_N
        };
        let field = self.ident(&format!("a field name after `{command}`"))?;
        if field.eq_ignore_ascii_case("by") {
            return Err(self.error(format!(
                "expected a field name after `{command}`, found `by`"
            )));
        }
        Ok((n, field.to_string()))
    }

    /// `where <aggregate> <op> <number>`, the aggregate named as in the command.
    fn where_clause(&mut self, query: &Query) -> Result<Post, ParseError> {
        let Some(command) = &query.command else {
            return Err(self.error("`where` needs stats, top, rare or timechart before it"));
        };
        self.skip_ws();
        let at = self.pos;
        let aggs = command.aggs();
        let index = match command {
            // `top`/`rare` rows have one number: the value's count.
            Command::Top { .. } | Command::Rare { .. } => {
                let name = self.ident("`count`")?;
                if !name.eq_ignore_ascii_case("count") {
                    return Err(self.error_at(
                        at,
                        format!("expected `count` (the rows' counts), found `{name}`"),
                    ));
                }
                0
            }
            _ => {
                let agg = self.agg()?;
                if matches!(agg, Agg::Top { .. } | Agg::Rare { .. }) {
                    return Err(self.error_at(
                        at,
                        format!(
                            "`{}` is a list of values: where compares numbers",
                            agg.label()
                        ),
                    ));
                }
                aggs.iter().position(|a| *a == agg).ok_or_else(|| {
                    let known: Vec<String> = aggs.iter().map(Agg::label).collect();
                    self.error_at(
                        at,
                        format!(
                            "`{}` is not computed by this query; expected one of {}",
                            agg.label(),
                            known.join(", ")
                        ),
                    )
                })?
            }
        };
        self.skip_ws();
        let rest = self.rest();
        let (sym, op) = comparison(rest).ok_or_else(|| {
            self.error(format!(
                "expected a comparison (>, >=, <, <=, =, !=), found {}",
                self.found()
            ))
        })?;
        self.pos += sym.len();
        self.skip_ws();
        let num_at = self.pos;
        let text = self.word("a number")?;
        let value: f64 = text
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| self.error_at(num_at, format!("expected a number, found `{text}`")))?;
        Ok(Post::Where {
            agg: index,
            op,
            value,
        })
    }

    fn agg(&mut self) -> Result<Agg, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let name = self.ident("an aggregate such as `count` or `dc(field)`")?;
        let mut lower = name.to_ascii_lowercase();
        if lower.starts_with("exactperc") || lower == "upperperc" {
            return Err(self.error_at(
                start,
                format!(
                    "`{name}`: exact percentiles do not merge across workers in bounded memory; \
                     use p95(f) or percentile(f, 95), within ±1% of the value"
                ),
            ));
        }
        // Splunk's and Scanner's spellings of the same aggregates.
        match lower.as_str() {
            "distinct_count" | "estdc" | "countdistinct" => lower = "dc".to_string(),
            "mean" => lower = "avg".to_string(),
            "median" => lower = "p50".to_string(),
            _ => {
                if let Some(q) = lower
                    .strip_prefix("perc")
                    .filter(|q| q.starts_with(|c: char| c.is_ascii_digit()))
                {
                    lower = format!("p{q}");
                }
            }
        }
        let stat = StatKind::ALL.into_iter().find(|k| k.name() == lower);
        let one_field = stat.is_some()
            || matches!(
                lower.as_str(),
                "dc" | "mode" | "values" | "earliest" | "latest"
            );
        let agg = if lower == "count" {
            // `count` and `count()` alike; `count(f)` counts the events with `f`.
            if !self.eat('(') || self.eat(')') {
                return Ok(Agg::Count);
            }
            let field = self
                .ident("a field name or `)` inside `count( )`")?
                .to_string();
            Agg::Present { field }
        } else if one_field {
            self.expect('(', &format!("after `{lower}`"))?;
            let field = self
                .ident(&format!("a field name inside `{lower}( )`"))?
                .to_string();
            match (stat, lower.as_str()) {
                (Some(kind), _) => Agg::Stat { kind, field },
                (None, "mode") => Agg::Mode { field },
                (None, "values") => Agg::Values { field },
                (None, "earliest") => Agg::Earliest { field },
                (None, "latest") => Agg::Latest { field },
                _ => Agg::Distinct { field },
            }
        } else if lower == "top" || lower == "rare" {
            // `top(f)`, `top(N, f)`: the command's list as one of several aggregates.
            self.expect('(', &format!("after `{lower}`"))?;
            self.skip_ws();
            let n = if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                let n = self.number("N", 1..=MAX_LIST_N)?;
                self.expect(',', &format!("between N and the field in `{lower}( )`"))?;
                n
            } else {
                DEFAULT_LIST_N
            };
            let field = self
                .ident(&format!("a field name inside `{lower}( )`"))?
                .to_string();
            if lower == "top" {
                let fields = self.more_fields(field, "a field name after `,`", MAX_BY_FIELDS)?;
                Agg::Top { n, fields }
            } else {
                Agg::Rare { n, field }
            }
        } else if lower == "percentile" {
            self.expect('(', "after `percentile`")?;
            let field = self
                .ident("a field name inside `percentile( )`")?
                .to_string();
            self.expect(',', "between the field and the percentile")?;
            self.skip_ws();
            let at = self.pos;
            let text = self.ident("a percentile between 0 and 100")?;
            let hundredths = percent_hundredths(text).ok_or_else(|| {
                self.error_at(
                    at,
                    format!("expected a percentile between 0 and 100, found `{text}`"),
                )
            })?;
            Agg::Quantile { field, hundredths }
        } else if let Some(hundredths) = lower.strip_prefix('p').and_then(percent_hundredths) {
            self.expect('(', &format!("after `{lower}`"))?;
            let field = self
                .ident(&format!("a field name inside `{lower}( )`"))?
                .to_string();
            Agg::Quantile { field, hundredths }
        } else {
            return Err(self.error_at(start, format!(
                "unknown aggregate `{name}`, expected count, count(f), dc(f), values(f), sum(f), min(f), \
                 max(f), avg(f), range(f), stdev(f), var(f), p50(f) … p99.9(f), percentile(f, q), \
                 mode(f), earliest(f), latest(f), top(N, f) or rare(N, f)"
            )));
        };
        self.expect(')', "to close the aggregate")?;
        Ok(agg)
    }
}

/// The columns of `query`'s rows, which `sort`, `table` and `dedup` name: its `by` fields
/// and aggregates' labels, or for `top` and `rare` rows `count` and the field.
fn row_columns(query: &Query) -> Vec<String> {
    let mut keys: Vec<String> = query.by().to_vec();
    match &query.command {
        Some(Command::Top { fields, by, .. }) if by.is_empty() => {
            keys.push("count".to_string());
            keys.extend(fields.iter().cloned());
        }
        Some(Command::Rare { field, .. }) => {
            keys.extend(["count".to_string(), field.clone()]);
        }
        _ => keys.extend(query.aggs().iter().map(Agg::label)),
    }
    keys
}

/// The raw record, which `rex` reads by default.
const RAW_FIELD: &str = "_raw";

fn binary(op: BinOp, left: Calc, right: Calc) -> Calc {
    Calc::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

/// `99.9` → 9990; `None` unless a number in 0..=100 with at most two decimals.
fn percent_hundredths(text: &str) -> Option<u32> {
    let value: f64 = text.parse().ok()?;
    let hundredths = (value * 100.0).round();
    ((0.0..=100.0).contains(&value) && (value * 100.0 - hundredths).abs() < 1e-6)
        .then_some(hundredths as u32)
}

/// `30s`, `5m`, `1h`, `1d`, `1w` → seconds (at most 366 days).
pub fn parse_span(text: &str) -> Option<u32> {
    let (amount, unit) = amount_and_unit(text)?;
    let seconds = i64::from(amount) * unit.seconds();
    (1..=366 * 86_400)
        .contains(&seconds)
        .then_some(seconds as u32)
}

fn amount_and_unit(text: &str) -> Option<(u32, TimeUnit)> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let amount: u32 = text[..split].parse().ok()?;
    let unit = match &text[split..] {
        "s" | "sec" | "secs" | "second" | "seconds" => TimeUnit::Second,
        "m" | "min" | "mins" | "minute" | "minutes" => TimeUnit::Minute,
        "h" | "hr" | "hrs" | "hour" | "hours" => TimeUnit::Hour,
        "d" | "day" | "days" => TimeUnit::Day,
        "w" | "week" | "weeks" => TimeUnit::Week,
        _ => return None,
    };
    (amount > 0).then_some((amount, unit))
}

/// `now`, `-7d`, an ISO-8601 date or date-time (UTC unless it says otherwise), or epoch
/// seconds.
fn parse_time_bound(text: &str) -> Option<TimeBound> {
    if text.eq_ignore_ascii_case("now") {
        return Some(TimeBound::Now);
    }
    if let Some(ago) = text.strip_prefix('-') {
        let (amount, unit) = amount_and_unit(ago)?;
        return Some(TimeBound::Ago { amount, unit });
    }
    crate::time::parse_timestamp(text).map(TimeBound::At)
}

/// A time bound written as in `earliest=` (`now`, `-7d`, an ISO time, epoch seconds): how
/// widget tokens state the time range they allow.
impl std::str::FromStr for TimeBound {
    type Err = NotATime;

    fn from_str(text: &str) -> Result<TimeBound, NotATime> {
        parse_time_bound(text.trim()).ok_or_else(|| NotATime(text.to_string()))
    }
}

/// A time bound that does not read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a time: expected now, -7d, an ISO time or epoch seconds")]
pub struct NotATime(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(field: &str, op: CompareOp, value: &str) -> Expr {
        Expr::Compare(Compare {
            field: field.into(),
            op,
            value: value.into(),
            quoted: false,
        })
    }

    fn term(text: &str) -> Expr {
        Expr::Term {
            text: text.into(),
            phrase: false,
        }
    }

    fn search(text: &str) -> Expr {
        parse(text).unwrap().search.unwrap()
    }

    #[test]
    fn field_values_and_operators() {
        assert_eq!(
            search("action:REJECT"),
            cmp("action", CompareOp::Eq, "REJECT")
        );
        assert_eq!(
            search("action=REJECT"),
            cmp("action", CompareOp::Eq, "REJECT")
        );
        assert_eq!(search("port!=22"), cmp("port", CompareOp::Ne, "22"));
        assert_eq!(search("bytes>1000"), cmp("bytes", CompareOp::Gt, "1000"));
        assert_eq!(search("bytes>=1e3"), cmp("bytes", CompareOp::Ge, "1e3"));
        assert_eq!(search("bytes<5"), cmp("bytes", CompareOp::Lt, "5"));
        assert_eq!(search("bytes<=5"), cmp("bytes", CompareOp::Le, "5"));
        assert_eq!(
            search("src_ip:10.0.0.0/8"),
            cmp("src_ip", CompareOp::Eq, "10.0.0.0/8")
        );
        assert_eq!(search("user:adm*"), cmp("user", CompareOp::Eq, "adm*"));
        assert_eq!(
            search(r#"userIdentity.arn:"arn:aws:iam::1:user/a \"b\"""#),
            Expr::Compare(Compare {
                field: "userIdentity.arn".into(),
                op: CompareOp::Eq,
                value: r#"arn:aws:iam::1:user/a "b""#.into(),
                quoted: true,
            })
        );
    }

    #[test]
    fn bare_terms_phrases_and_boolean_precedence() {
        assert_eq!(search("wget"), term("wget"));
        assert_eq!(
            search(r#""failed password""#),
            Expr::Term {
                text: "failed password".into(),
                phrase: true
            }
        );
        // NOT > AND (implicit too) > OR.
        assert_eq!(
            search("a b OR c NOT d"),
            Expr::Or(vec![
                Expr::And(vec![term("a"), term("b")]),
                Expr::And(vec![term("c"), Expr::Not(Box::new(term("d")))]),
            ])
        );
        assert_eq!(
            search("a AND (b OR c)"),
            Expr::And(vec![term("a"), Expr::Or(vec![term("b"), term("c")])])
        );
        // Lower-case `or` is a word.
        assert_eq!(
            search("a or b"),
            Expr::And(vec![term("a"), term("or"), term("b")])
        );
        assert_eq!(search("10.0.0.1:443"), term("10.0.0.1:443"));
    }

    #[test]
    fn a_time_range_is_narrowed_to_what_is_allowed() {
        let day = 86_400_000;
        let mut q = parse("earliest=-7d x").unwrap();
        q.resolve_time(10 * day);
        q.restrict_time(Some(8 * day), Some(9 * day));
        assert_eq!(q.time_range_if_absolute(), (Some(8 * day), Some(9 * day)));
        // Never wider than the query asked.
        let mut q = parse("earliest=-1d latest=-12h x").unwrap();
        q.resolve_time(10 * day);
        q.restrict_time(Some(0), None);
        assert_eq!(
            q.time_range_if_absolute(),
            (Some(9 * day), Some(10 * day - day / 2))
        );
        let mut q = parse("x").unwrap();
        q.restrict_time(None, Some(5));
        assert_eq!(q.time_range_if_absolute(), (None, Some(5)));
        assert_eq!(
            "-24h".parse(),
            Ok(TimeBound::Ago {
                amount: 24,
                unit: TimeUnit::Hour
            })
        );
        assert_eq!(" now ".parse(), Ok(TimeBound::Now));
        assert!("yesterday".parse::<TimeBound>().is_err());
    }

    #[test]
    fn time_bounds() {
        let q = parse("earliest=-7d latest=now action:REJECT").unwrap();
        assert_eq!(
            q.earliest,
            Some(TimeBound::Ago {
                amount: 7,
                unit: TimeUnit::Day
            })
        );
        assert_eq!(q.latest, Some(TimeBound::Now));
        assert_eq!(q.search, Some(cmp("action", CompareOp::Eq, "REJECT")));
        let q = parse("earliest=2024-05-01 latest=\"2024-05-01 12:00:00\"").unwrap();
        assert_eq!(q.earliest, Some(TimeBound::At(1_714_521_600_000)));
        assert_eq!(q.latest, Some(TimeBound::At(1_714_564_800_000)));
        assert_eq!(q.search, None);
        let mut q = parse("earliest=-15m").unwrap();
        q.resolve_time(1_000_000_000);
        assert_eq!(
            q.time_range_if_absolute(),
            (Some(1_000_000_000 - 900_000), None)
        );
    }

    #[test]
    fn commands() {
        let q = parse("| stats count(), dc(dst_ip), p99(bytes) by action, dst_port").unwrap();
        assert_eq!(
            q.command,
            Some(Command::Stats {
                aggs: vec![
                    Agg::Count,
                    Agg::Distinct {
                        field: "dst_ip".into()
                    },
                    Agg::Quantile {
                        field: "bytes".into(),
                        hundredths: 9900
                    }
                ],
                by: vec!["action".into(), "dst_port".into()],
            })
        );
        assert_eq!(
            parse("| top src_ip by action").unwrap().command,
            Some(Command::Top {
                n: 10,
                fields: vec!["src_ip".into()],
                by: vec!["action".into()]
            })
        );
        assert_eq!(
            parse("| RARE 5 user").unwrap().command,
            Some(Command::Rare {
                n: 5,
                field: "user".into()
            })
        );
        assert_eq!(
            parse("| timechart span=1h avg(bytes) by action")
                .unwrap()
                .command,
            Some(Command::Timechart {
                span: Some(3600),
                agg: Agg::Stat {
                    kind: StatKind::Avg,
                    field: "bytes".into()
                },
                by: Some("action".into())
            })
        );
        let q = parse("| stats count, dc(x) by y | where dc(x) > 2.5 | head 3 | fields a, b.c")
            .unwrap();
        assert_eq!(
            q.post,
            vec![
                Post::Where {
                    agg: 1,
                    op: CompareOp::Gt,
                    value: 2.5
                },
                Post::Head(3),
                Post::Fields(vec!["a".into(), "b.c".into()])
            ]
        );
        assert_eq!(parse("x | head").unwrap().post, vec![Post::Head(10)]);
        // Lists beside numbers: one scan feeds a whole dashboard.
        assert_eq!(
            parse("| stats count, top(src_ip), TOP(5, dst_port), rare(3, src_ip)")
                .unwrap()
                .aggs(),
            vec![
                Agg::Count,
                Agg::Top {
                    n: 10,
                    fields: vec!["src_ip".into()]
                },
                Agg::Top {
                    n: 5,
                    fields: vec!["dst_port".into()]
                },
                Agg::Rare {
                    n: 3,
                    field: "src_ip".into()
                },
            ]
        );
        // Several fields: the most frequent combinations (the top talking pairs).
        let pairs = Agg::Top {
            n: 5,
            fields: vec!["src_ip".into(), "dst_ip".into()],
        };
        assert_eq!(
            parse("| top 5 src_ip, dst_ip by action").unwrap().command,
            Some(Command::Top {
                n: 5,
                fields: pairs.fields().to_vec(),
                by: vec!["action".into()]
            })
        );
        assert_eq!(
            parse("| stats count, top(5, src_ip, dst_ip)")
                .unwrap()
                .aggs()[1],
            pairs
        );
        assert_eq!(pairs.label(), "top(5, src_ip, dst_ip)");
        assert!(parse("| top a, b, c, d, e").is_err());
        assert!(parse("| top a,").is_err());
    }

    #[test]
    fn index_names_the_folders_read() {
        let q = parse("@index=cloudtrail eventName:ConsoleLogin | stats count").unwrap();
        assert_eq!(q.index.as_deref(), Some("cloudtrail"));
        assert_eq!(q.search, parse("eventName:ConsoleLogin").unwrap().search);
        assert_eq!(
            parse("x @index:/aws/cloud*/").unwrap().index.as_deref(),
            Some("aws/cloud*")
        );
        for (bad, column) in [
            ("@index=a @index=b", 10),
            ("NOT @index=a", 5),
            ("@index=../x", 1),
            ("@index=", 8),
        ] {
            assert_eq!(parse(bad).unwrap_err().column, column, "{bad}");
        }
    }

    #[test]
    fn scanner_any_field_is_a_term() {
        assert_eq!(parse("**:root").unwrap(), parse("root").unwrap());
        assert_eq!(
            parse(r#"**="failed password""#).unwrap(),
            parse(r#""failed password""#).unwrap()
        );
        assert_eq!(parse("**:adm* x").unwrap(), parse("adm* x").unwrap());
        assert_eq!(parse("**:").unwrap_err().column, 4);
    }

    #[test]
    fn value_and_spread_aggregates() {
        let q = parse("| stats VALUES(a), Mode(b), earliest(c), latest(d), stdev(e), stdevp(e), var(e), varp(e), range(e)").unwrap();
        let labels: Vec<String> = q.aggs().iter().map(Agg::label).collect();
        assert_eq!(
            labels,
            [
                "values(a)",
                "mode(b)",
                "earliest(c)",
                "latest(d)",
                "stdev(e)",
                "stdevp(e)",
                "var(e)",
                "varp(e)",
                "range(e)"
            ]
        );
        let q = parse("| stats stdev(e) by h | where stdev(e) > 2 | sort -stdev(e)").unwrap();
        assert_eq!(q.post.len(), 2);
        let err = parse("| timechart values(a)").unwrap_err();
        assert!(err.message.contains("not values like `values(a)`"), "{err}");
        assert_eq!(parse("| stats values a").unwrap_err().column, 16);
    }

    #[test]
    fn percentiles() {
        let q = parse("| stats sum(b), AVG(b), p50(d), p99.9(d), percentile(d, 95)").unwrap();
        let labels: Vec<String> = q.aggs().iter().map(Agg::label).collect();
        assert_eq!(
            labels,
            [
                "sum(b)",
                "avg(b)",
                "p50(d)",
                "percentile(d, 99.9)",
                "p95(d)"
            ]
        );
        for bad in [
            "| stats p101(d)",
            "| stats percentile(d, abc)",
            "| stats percentile(d)",
            "| stats p99.999(d)",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_column_and_what_was_expected() {
        let cases: &[(&str, usize, &str)] = &[
            ("action:REJECT | top 10", 23, "field name"),
            ("action:REJECT | frobnicate x", 17, "unknown command"),
            ("| stats dc(src_ip", 18, "`)`"),
            ("a:\"open", 3, "unterminated"),
            ("| top 0 src_ip", 7, "between 1"),
            ("| top 5 a | top 5 b", 13, "one aggregating command"),
            ("(a OR b", 8, "to close the `(` at column 1"),
            ("a AND", 6, "after `AND`"),
            ("OR a", 1, "search term"),
            ("NOT", 4, "after `NOT`"),
            ("x:", 3, "value after `x:`"),
            ("uri~/a/", 5, "quoted regular expression after `uri~`"),
            (r#"uri~"a(b" x"#, 5, "bad regular expression"),
            (r#"uri~"abc"#, 5, "unterminated quoted regular expression"),
            ("earliest=yesterday", 10, "expected a time"),
            ("(earliest=-1d)", 2, "inside parentheses"),
            ("earliest=-1d earliest=-2d", 14, "given twice"),
            (
                "| stats count | where dc(x) > 1",
                23,
                "not computed by this query",
            ),
            (
                "| stats count | where count > many",
                31,
                "expected a number",
            ),
            ("| head 5 | stats count", 12, "before where"),
            ("| timechart span=7q count", 18, "expected a span"),
            ("| timechart top x", 17, "`(` after `top`"),
            ("| timechart top(x)", 13, "charts a number"),
            (
                "| stats top(x) | where top(10, x) > 1",
                24,
                "where compares numbers",
            ),
            ("| stats top(0, x)", 13, "between 1"),
            ("| stats rare(5 x)", 16, "between N and the field"),
            ("| stats top()", 13, "field name inside `top( )`"),
            ("| stats count by a, b, c, d, e", 29, "at most 4"),
            ("a ) b", 3, "unexpected `)`"),
        ];
        for (text, column, message) in cases {
            let e = parse(text).unwrap_err();
            assert!(
                e.column == *column && e.message.contains(message),
                "{text}: got {e}, wanted column {column} and {message:?}"
            );
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).unwrap_err().message.contains("nested deeper"));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let e = parse("user:é |").unwrap_err();
        assert_eq!(e.column, 9);
    }

    #[test]
    fn a_sort_key_has_one_sign() {
        // Found by the `query` fuzz target: `+ -co` read as a field named `-co`.
        for text in [
            "x | sort + -co",
            "x | sort - -co",
            "x | sort -+co",
            "x | sort a, +-b",
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.message.contains("one sign"), "{text}: {e:?}");
        }
        assert!(parse("x | sort + co, - cx").is_ok());
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "action:REJECT | top 10 src_ip",
            r#"a:"x y" b:"q\"uote" | stats count, dc(c)"#,
            "| stats sum(b), p99(b), percentile(b, 99.9), percentile(b, 12.5) by x, y",
            "| top 3 dst_port by action | where count >= 2 | head 2",
            "a:b | rare 7 c",
            "a b OR c NOT (d OR e) x!=1 y>2 z<=3",
            r#""failed password" OR "invalid user" user:adm* ip:10.0.0.0/8"#,
            "earliest=-7d latest=2024-05-01T12:00:00Z | timechart span=90m count by action",
            "earliest=now | timechart p99(latency)",
            "@index=cloudtrail a | top 3 b",
            r#"x @index="aws/cloud*" earliest=-1d"#,
            "x | head 5 | fields a, b",
            "| stats count, top(10, a), rare(5, b.c), dc(a)",
            "| top 3 a, b.c by d",
            "| stats top(4, a, b), count",
            "| stats values(a), mode(b), earliest(c), latest(d), stdev(e), varp(f), range(g) by h",
            r#"uri~"^/a\.php\?id=\d+" OR agent~"(?i)sqlmap|q\"q" _raw~"x\\""#,
            "a:$b c:*$d.e* f:$g* h:*$i j:\"$k\"",
            // Found by the `query` fuzz target: a word holding a backslash was quoted (and
            // a wildcard became a phrase); `**:` values that read as comparisons or
            // operators were written bare.
            r"a\* x\d",
            "**:a: **:OR **:b>=1 **:c~x **:**:d",
            // And a first sort key that read back as `sort N`.
            "x | sort 1 100",
            "x | sort +limit, -b",
            // And a sort key after a sign, read as a field named `-co`.
            "| stats count by co, cx | sort + co, - cx",
            "",
        ] {
            let q = parse(text).unwrap();
            let again = parse(&q.to_string()).unwrap_or_else(|e| panic!("{text} → {q}: {e}"));
            assert_eq!(again, q, "{text} → {q}");
        }
        assert_eq!(parse("a b OR c").unwrap().to_string(), "(a AND b) OR c");
    }
}
