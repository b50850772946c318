//! A query written back as text the parser reads again to the same query: what the plan
//! shows and a saved query keeps.

use std::fmt;

use super::ast::{Agg, Calc, Command, CompareOp, Expr, Post, Query, Stage, TimeBound, TimeUnit};
use super::calc::format_number;
use super::parse::{ends_word, reads_as_bare_term};

impl fmt::Display for TimeBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeBound::Now => f.write_str("now"),
            TimeBound::Ago { amount, unit } => write!(f, "-{amount}{}", unit.suffix()),
            TimeBound::At(ms) => f.write_str(&crate::time::format_timestamp(*ms)),
        }
    }
}

/// A value as the parser reads it back: bare when it can be, else quoted and escaped. A
/// bare word keeps its backslashes as written, so one holding a backslash stays bare: in
/// quotes it would be a phrase, and `a\*` a wildcard no more.
fn write_value(f: &mut fmt::Formatter<'_>, value: &str, force_quotes: bool) -> fmt::Result {
    let bare = !force_quotes && !value.is_empty() && !value.contains(ends_word);
    if bare {
        f.write_str(value)
    } else {
        write!(
            f,
            "\"{}\"",
            value.replace('\\', "\\\\").replace('"', "\\\"")
        )
    }
}

/// A text as `raw_quoted` reads it back: only a quote is escaped, as the parser keeps every
/// other backslash as written. A backslash already before a quote in the text escapes it
/// for a regex, and `\"` reads back as that quote, which means the same.
fn write_raw_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    let mut after_backslash = false;
    for c in text.chars() {
        if c == '"' && !after_backslash {
            f.write_str("\\")?;
        }
        after_backslash = c == '\\' && !after_backslash;
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Eval(assignments) => {
                f.write_str("eval ")?;
                for (i, (field, calc)) in assignments.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_calc_field(f, field)?;
                    write!(f, " = {calc}")?;
                }
                Ok(())
            }
            Stage::Where(calc) => write!(f, "where {calc}"),
            Stage::Search(expr) => write!(f, "search {expr}"),
            Stage::Rename(pairs) => {
                let pairs: Vec<String> = pairs.iter().map(|(a, b)| format!("{a} AS {b}")).collect();
                write!(f, "rename {}", pairs.join(", "))
            }
            Stage::Bin { field, span, into } => {
                write!(f, "bin span={} {field}", format_number(*span))?;
                match into {
                    Some(into) => write!(f, " AS {into}"),
                    None => Ok(()),
                }
            }
            Stage::Rex { field, pattern } => {
                write!(f, "rex field={field} ")?;
                write_raw_quoted(f, pattern)
            }
            Stage::Lookup {
                table,
                key,
                field,
                outputs,
            } => {
                write!(f, "lookup {table} {key}")?;
                if field != key {
                    write!(f, " AS {field}")?;
                }
                for (i, (column, name)) in outputs.iter().enumerate() {
                    f.write_str(if i == 0 { " OUTPUT " } else { ", " })?;
                    f.write_str(column)?;
                    if name != column {
                        write!(f, " AS {name}")?;
                    }
                }
                Ok(())
            }
            Stage::Fillnull { value, fields } => {
                f.write_str("fillnull value=")?;
                write_value(f, value, false)?;
                for field in fields {
                    write!(f, " {field}")?;
                }
                Ok(())
            }
        }
    }
}

/// A field in an eval expression: bare when the parser reads it back whole, else quoted.
fn write_calc_field(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '@';
    let bare = name.split('.').all(|part| {
        part.starts_with(|c: char| word(c) && !c.is_ascii_digit()) && part.chars().all(word)
    });
    if bare {
        f.write_str(name)
    } else {
        write!(f, "'{name}'")
    }
}

impl fmt::Display for Calc {
    /// Every operation in parentheses: the canonical text need not be the shortest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Calc::Field(name) => write_calc_field(f, name),
            Calc::Text(text) => write_raw_quoted(f, text),
            Calc::Number(n) => f.write_str(&format_number(*n)),
            Calc::Not(inner) => write!(f, "NOT {inner}"),
            Calc::Neg(inner) => write!(f, "-{inner}"),
            Calc::Binary { op, left, right } => write!(f, "({left} {} {right})", op.symbol()),
            Calc::Call { function, args } => {
                write!(f, "{}(", function.name())?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Expr {
    /// Canonical text with explicit `AND`, and parentheses wherever precedence needs them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, parts: &[Expr], sep: &str, wrap_or: bool| {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                let wrap = matches!(part, Expr::Or(_)) || (wrap_or && matches!(part, Expr::And(_)));
                if wrap {
                    write!(f, "({part})")?;
                } else {
                    write!(f, "{part}")?;
                }
            }
            Ok(())
        };
        match self {
            Expr::And(parts) => join(f, parts, " AND ", false),
            Expr::Or(parts) => join(f, parts, " OR ", true),
            Expr::Not(inner) => match **inner {
                Expr::And(_) | Expr::Or(_) => write!(f, "NOT ({inner})"),
                _ => write!(f, "NOT {inner}"),
            },
            Expr::Term {
                text,
                phrase: false,
            } if !text.contains(ends_word) && !reads_as_bare_term(text) => write!(f, "**:{text}"),
            Expr::Term { text, phrase } => write_value(f, text, *phrase),
            Expr::Compare(c) => {
                write!(f, "{}{}", c.field, c.op.symbol())?;
                write_value(f, &c.value, c.quoted)
            }
            // Only a quote is escaped: the parser keeps every other backslash as written. A
            // backslash already before a quote in the pattern escapes it for the regex, and
            // `\"` reads back as that quote, which means the same.
            Expr::FieldRef {
                field,
                other,
                open_start,
                open_end,
            } => {
                let star = |open: bool| if open { "*" } else { "" };
                write!(
                    f,
                    "{field}:{}${other}{}",
                    star(*open_start),
                    star(*open_end)
                )
            }
            Expr::Match { field, pattern } => {
                write!(f, "{field}~")?;
                write_raw_quoted(f, pattern)
            }
        }
    }
}

/// A value as the parser reads it back: bare, or quoted when it must be.
struct Written<'a>(&'a str);

impl fmt::Display for Written<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_value(f, self.0, false)
    }
}

impl fmt::Display for Query {
    /// The canonical text of the query; `parse(q.to_string()) == q`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(search) = &self.search {
            parts.push(search.to_string());
        }
        if let Some(b) = self.earliest {
            parts.push(format!("earliest={b}"));
        }
        if let Some(b) = self.latest {
            parts.push(format!("latest={b}"));
        }
        if let Some(index) = &self.index {
            parts.push(format!("@index={}", Written(index)));
        }
        let by = |fields: &[String]| {
            if fields.is_empty() {
                String::new()
            } else {
                format!(" by {}", fields.join(", "))
            }
        };
        parts.extend(self.stages.iter().map(|stage| format!("| {stage}")));
        let aggs = self.aggs();
        if let Some(command) = &self.command {
            parts.push(match command {
                Command::Stats { aggs, by: fields } => {
                    let labels: Vec<String> = aggs.iter().map(Agg::label).collect();
                    format!("| stats {}{}", labels.join(", "), by(fields))
                }
                Command::Top {
                    n,
                    fields,
                    by: by_fields,
                } => format!("| top {n} {}{}", fields.join(", "), by(by_fields)),
                Command::Rare { n, field } => format!("| rare {n} {field}"),
                Command::Timechart {
                    span,
                    agg,
                    by: field,
                } => {
                    let span = span
                        .map(|s| format!("span={} ", format_span(s)))
                        .unwrap_or_default();
                    let by = field
                        .as_ref()
                        .map(|b| format!(" by {b}"))
                        .unwrap_or_default();
                    format!("| timechart {span}{}{by}", agg.label())
                }
            });
        }
        for post in &self.post {
            parts.push(match post {
                Post::Where { agg, op, value } => {
                    let name = match &self.command {
                        Some(Command::Top { .. } | Command::Rare { .. }) => "count".to_string(),
                        _ => aggs.get(*agg).map(Agg::label).unwrap_or_default(),
                    };
                    let op = match op {
                        CompareOp::Eq => "=",
                        op => op.symbol(),
                    };
                    format!("| where {name} {op} {value}")
                }
                Post::Head(n) => format!("| head {n}"),
                Post::Fields(fields) => format!("| fields {}", fields.join(", ")),
                Post::Sort(keys) => {
                    // A first key that reads as `sort N` or `sort limit=N` is written `+key`.
                    let ambiguous = |name: &str| {
                        name.starts_with(|c: char| c.is_ascii_digit())
                            || name.eq_ignore_ascii_case("limit")
                    };
                    let keys: Vec<String> = keys
                        .iter()
                        .enumerate()
                        .map(|(i, k)| {
                            let sign = match (k.descending, i == 0 && ambiguous(&k.name)) {
                                (true, _) => "-",
                                (false, true) => "+",
                                (false, false) => "",
                            };
                            format!("{sign}{}", k.name)
                        })
                        .collect();
                    format!("| sort {}", keys.join(", "))
                }
                Post::Tail(n) => format!("| tail {n}"),
                Post::Dedup {
                    fields,
                    keep_events,
                } => {
                    let keep = if *keep_events { " keepevents=true" } else { "" };
                    format!("| dedup {}{keep}", fields.join(", "))
                }
                Post::Table(fields) => format!("| table {}", fields.join(", ")),
            });
        }
        f.write_str(&parts.join(" "))
    }
}

/// Seconds as the largest whole unit: 3600 → `1h`.
pub fn format_span(seconds: u32) -> String {
    let seconds = i64::from(seconds);
    [
        TimeUnit::Week,
        TimeUnit::Day,
        TimeUnit::Hour,
        TimeUnit::Minute,
        TimeUnit::Second,
    ]
    .into_iter()
    .find(|u| seconds % u.seconds() == 0)
    .map(|u| format!("{}{}", seconds / u.seconds(), u.suffix()))
    .unwrap_or_default()
}
