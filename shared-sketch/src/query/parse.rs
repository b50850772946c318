//! A hand-written recursive-descent parser: the grammar is small, and error messages that
//! name the column and what was expected matter more here than a generator's conveniences.
//!
//! ```text
//! query   := filter* ( '|' command )?
//! filter  := FIELD ':' ( WORD | "quoted" )
//! command := ('top' | 'rare') [N] FIELD
//!          | 'stats' agg ( ',' agg )*
//! agg     := 'count' '(' ')' | ('dc' | 'sum' | 'min' | 'max' | 'avg') '(' FIELD ')'
//!          | 'p' PERCENT '(' FIELD ')' | 'percentile' '(' FIELD ',' PERCENT ')'
//! ```

use std::fmt;

use super::ast::{Agg, Filter, Query, StatKind};

/// Largest N accepted by `top N` and `rare N`: a list longer than this is no longer a
/// summary (and top-K bounds would be too wide to be useful).
pub const MAX_LIST_N: u32 = 1000;
const DEFAULT_LIST_N: u32 = 10;
/// Longest query accepted; a query is typed by a person, anything longer is an accident.
pub const MAX_QUERY_LEN: usize = 8 * 1024;

/// Where the query went wrong (1-based character column) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

/// Parses a query; see the module docs for the grammar.
pub fn parse(input: &str) -> Result<Query, ParseError> {
    if input.len() > MAX_QUERY_LEN {
        return Err(ParseError {
            column: 1,
            message: format!("query is longer than {MAX_QUERY_LEN} bytes"),
        });
    }
    let mut p = Parser { src: input, pos: 0 };
    let filters = p.filters()?;
    let mut aggs = Vec::new();
    if p.eat('|') {
        aggs = p.command()?;
    }
    p.skip_ws();
    if let Some(c) = p.peek() {
        let message = if c == '|' {
            "only one `| command` per query is supported".to_string()
        } else {
            format!("unexpected `{c}`, expected end of query")
        };
        return Err(p.error(message));
    }
    Ok(Query { filters, aggs })
}

struct Parser<'a> {
    src: &'a str,
    /// Byte offset into `src`.
    pos: usize,
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

    fn column(&self) -> usize {
        self.src[..self.pos].chars().count() + 1
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            column: self.column(),
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
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '-')))
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error(format!("expected {what}, found {}", self.found())));
        }
        self.pos += len;
        Ok(&rest[..len])
    }

    fn filters(&mut self) -> Result<Vec<Filter>, ParseError> {
        let mut filters = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None | Some('|') => return Ok(filters),
                Some('"') => {
                    return Err(
                        self.error("bare search terms are not supported yet: use field:value")
                    );
                }
                Some(_) => {}
            }
            let start = self.pos;
            let field = self.ident("a field name (as in `field:value`)")?;
            if self.peek() != Some(':') {
                self.pos = start;
                return Err(self.error(format!(
                    "expected `field:value`, found {} (bare search terms are not supported yet)",
                    self.found()
                )));
            }
            self.pos += 1;
            let value = self.value(field)?;
            filters.push(Filter {
                field: field.to_string(),
                value,
            });
        }
    }

    /// The value after `field:`: a word up to white space or `|`, or a "quoted string" with
    /// `\"` and `\\` escapes.
    fn value(&mut self, field: &str) -> Result<String, ParseError> {
        let rest = self.rest();
        if let Some(quoted) = rest.strip_prefix('"') {
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
            return Err(self.error(format!("unterminated quoted value for `{field}`")));
        }
        let len = rest
            .find(|c: char| c.is_whitespace() || c == '|')
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error(format!("expected a value after `{field}:`")));
        }
        self.pos += len;
        Ok(rest[..len].to_string())
    }

    fn command(&mut self) -> Result<Vec<Agg>, ParseError> {
        let start = self.pos;
        let name = self.ident("a command (`top`, `rare` or `stats`)")?;
        match name.to_ascii_lowercase().as_str() {
            "top" => {
                let (n, field) = self.count_and_field("top")?;
                Ok(vec![Agg::Top { n, field }])
            }
            "rare" => {
                let (n, field) = self.count_and_field("rare")?;
                Ok(vec![Agg::Rare { n, field }])
            }
            "stats" => self.stats(),
            other => {
                self.pos = start;
                self.skip_ws();
                Err(self.error(format!(
                    "unknown command `{other}`, expected `top`, `rare` or `stats`"
                )))
            }
        }
    }

    /// `[N] field` after `top` or `rare`.
    fn count_and_field(&mut self, command: &str) -> Result<(u32, String), ParseError> {
        self.skip_ws();
        let mut n = DEFAULT_LIST_N;
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            let digits = self
                .rest()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or("");
            n = match digits.parse::<u32>() {
                Ok(n) if (1..=MAX_LIST_N).contains(&n) => n,
                _ => return Err(self.error(format!("expected N between 1 and {MAX_LIST_N}"))),
            };
            self.pos += digits.len();
        }
        let field = self
            .ident(&format!("a field name after `{command}`"))?
            .to_string();
        Ok((n, field))
    }

    fn stats(&mut self) -> Result<Vec<Agg>, ParseError> {
        let mut aggs = vec![self.agg()?];
        while self.eat(',') {
            aggs.push(self.agg()?);
        }
        Ok(aggs)
    }

    fn agg(&mut self) -> Result<Agg, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let name = self.ident("an aggregate such as `count()` or `dc(field)`")?;
        let lower = name.to_ascii_lowercase();
        let stat = match lower.as_str() {
            "sum" => Some(StatKind::Sum),
            "min" => Some(StatKind::Min),
            "max" => Some(StatKind::Max),
            "avg" => Some(StatKind::Avg),
            _ => None,
        };
        let agg = if lower == "count" {
            self.expect('(', "after `count`")?;
            Agg::Count
        } else if lower == "dc" || stat.is_some() {
            self.expect('(', &format!("after `{lower}`"))?;
            let field = self
                .ident(&format!("a field name inside `{lower}( )`"))?
                .to_string();
            match stat {
                Some(kind) => Agg::Stat { kind, field },
                None => Agg::Distinct { field },
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
                self.pos = at;
                self.error(format!(
                    "expected a percentile between 0 and 100, found `{text}`"
                ))
            })?;
            Agg::Quantile { field, hundredths }
        } else if let Some(hundredths) = lower.strip_prefix('p').and_then(percent_hundredths) {
            self.expect('(', &format!("after `{lower}`"))?;
            let field = self
                .ident(&format!("a field name inside `{lower}( )`"))?
                .to_string();
            Agg::Quantile { field, hundredths }
        } else {
            self.pos = start;
            return Err(self.error(format!(
                "unknown aggregate `{name}`, expected count(), dc(f), sum(f), min(f), max(f), \
                 avg(f), p50(f) … p99.9(f) or percentile(f, q)"
            )));
        };
        self.expect(')', "to close the aggregate")?;
        Ok(agg)
    }
}

/// `99.9` → 9990; `None` unless a number in 0..=100 with at most two decimals.
fn percent_hundredths(text: &str) -> Option<u32> {
    let value: f64 = text.parse().ok()?;
    let hundredths = (value * 100.0).round();
    ((0.0..=100.0).contains(&value) && (value * 100.0 - hundredths).abs() < 1e-6)
        .then_some(hundredths as u32)
}

impl fmt::Display for Query {
    /// The canonical text of the query; `parse(q.to_string()) == q`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for filter in &self.filters {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let plain = !filter.value.is_empty()
                && !filter
                    .value
                    .contains(|c: char| c.is_whitespace() || matches!(c, '|' | '"' | '\\'));
            if plain {
                write!(f, "{}:{}", filter.field, filter.value)?;
            } else {
                let escaped = filter.value.replace('\\', "\\\\").replace('"', "\\\"");
                write!(f, "{}:\"{escaped}\"", filter.field)?;
            }
        }
        match self.aggs.as_slice() {
            [] => Ok(()),
            [command @ (Agg::Top { .. } | Agg::Rare { .. })] => {
                write!(f, "{}| {}", if first { "" } else { " " }, command.label())
            }
            aggs => {
                let labels: Vec<String> = aggs.iter().map(Agg::label).collect();
                write!(
                    f,
                    "{}| stats {}",
                    if first { "" } else { " " },
                    labels.join(", ")
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(field: &str, value: &str) -> Filter {
        Filter {
            field: field.into(),
            value: value.into(),
        }
    }

    #[test]
    fn filters_and_top() {
        let q = parse("action:REJECT dst_port:22 | top 5 src_ip").unwrap();
        assert_eq!(
            q.filters,
            vec![filter("action", "REJECT"), filter("dst_port", "22")]
        );
        assert_eq!(
            q.aggs,
            vec![Agg::Top {
                n: 5,
                field: "src_ip".into()
            }]
        );
    }

    #[test]
    fn rare_takes_a_count_and_a_field() {
        assert_eq!(
            parse("| rare 5 src_ip").unwrap().aggs,
            vec![Agg::Rare {
                n: 5,
                field: "src_ip".into()
            }]
        );
        assert_eq!(
            parse("| RARE dst_port").unwrap().aggs,
            vec![Agg::Rare {
                n: 10,
                field: "dst_port".into()
            }]
        );
        assert!(
            parse("| rare 5")
                .unwrap_err()
                .message
                .contains("after `rare`")
        );
    }

    #[test]
    fn top_defaults_to_ten() {
        let q = parse("| top src_ip").unwrap();
        assert_eq!(
            q.aggs,
            vec![Agg::Top {
                n: 10,
                field: "src_ip".into()
            }]
        );
    }

    #[test]
    fn stats_with_several_aggregates() {
        let q = parse("src_ip:10.0.3.17 | stats count(), dc(dst_ip)").unwrap();
        assert_eq!(
            q.aggs,
            vec![
                Agg::Count,
                Agg::Distinct {
                    field: "dst_ip".into()
                }
            ]
        );
    }

    #[test]
    fn numeric_aggregates_and_percentiles() {
        let q = parse(
            "| stats sum(bytes), AVG(bytes), min(x), max(x), p50(d), p99.9(d), percentile(d, 95)",
        )
        .unwrap();
        let labels: Vec<String> = q.aggs.iter().map(Agg::label).collect();
        assert_eq!(
            labels,
            [
                "sum(bytes)",
                "avg(bytes)",
                "min(x)",
                "max(x)",
                "p50(d)",
                "percentile(d, 99.9)",
                "p95(d)"
            ]
        );
        assert_eq!(
            q.aggs[5],
            Agg::Quantile {
                field: "d".into(),
                hundredths: 9990
            }
        );
        for bad in [
            "| stats p101(d)",
            "| stats percentile(d, abc)",
            "| stats percentile(d)",
            "| stats p99.999(d)",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let e = parse("| stats percentile(d, 250)").unwrap_err();
        assert_eq!(e.column, 23);
    }

    #[test]
    fn quoted_values_and_nested_fields() {
        let q =
            parse(r#"userIdentity.arn:"arn:aws:iam::1:user/a \"b\"" id.orig_h:1.2.3.4"#).unwrap();
        assert_eq!(
            q.filters[0],
            filter("userIdentity.arn", r#"arn:aws:iam::1:user/a "b""#)
        );
        assert_eq!(q.filters[1], filter("id.orig_h", "1.2.3.4"));
    }

    #[test]
    fn empty_query_matches_everything() {
        assert_eq!(
            parse("  ").unwrap(),
            Query {
                filters: vec![],
                aggs: vec![]
            }
        );
    }

    #[test]
    fn errors_name_the_column_and_what_was_expected() {
        let e = parse("action:REJECT | top 10").unwrap_err();
        assert_eq!(e.column, 23);
        assert!(e.message.contains("field name"), "{e}");

        let e = parse("action:REJECT | frobnicate x").unwrap_err();
        assert_eq!(e.column, 17);
        assert!(e.message.contains("unknown command"), "{e}");

        let e = parse("REJECT").unwrap_err();
        assert_eq!(e.column, 1);
        assert!(e.message.contains("field:value"), "{e}");

        let e = parse("| stats dc(src_ip").unwrap_err();
        assert_eq!(e.column, 18);

        let e = parse("a:\"open").unwrap_err();
        assert!(e.message.contains("unterminated"), "{e}");

        let e = parse("| top 0 src_ip").unwrap_err();
        assert!(e.message.contains("between 1"), "{e}");

        let e = parse("| top 5 a | top 5 b").unwrap_err();
        assert!(e.message.contains("one `| command`"), "{e}");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let e = parse("user:é |").unwrap_err();
        assert_eq!(e.column, 9);
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "action:REJECT | top 10 src_ip",
            r#"a:"x y" b:"q\"uote" | stats count(), dc(c)"#,
            "| stats sum(b), p99(b), percentile(b, 99.9), percentile(b, 12.5)",
            "| top 3 dst_port",
            "a:b | rare 7 c",
            "",
        ] {
            let q = parse(text).unwrap();
            assert_eq!(parse(&q.to_string()).unwrap(), q, "{text}");
        }
    }
}
