//! Per-event commands, run by the workers on each matching event before the aggregate:
//! `eval`, `where` on events, `search` after a pipe, `rename`, `fillnull`, `rex` and
//! `bin`. What they make is an overlay on the event (`Derived`): later commands, the
//! aggregate, its groups and the hits' fields read through it as through the event.
//!
//! `eval`'s expressions follow Splunk's: values are text that reads as a number where it
//! is one, `.` joins text, `+` adds numbers (or joins two texts), comparisons are numeric
//! when both sides are numbers and case-sensitive text otherwise, and null (an absent
//! field, `null()`) makes arithmetic, joins and comparisons null.

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use ipnet::IpNet;
use regex::Regex;

use super::ast::{BinOp, Calc, Expr, Function, Query, Stage, TIME_FIELD};
use super::eval::Matcher;
use super::fields::Fields;
use super::patterns::compile_regex;
use crate::lookup::{Indexed, Lookups};

impl Calc {
    /// The fields the expression reads.
    fn fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Calc::Field(name) => out.push(name),
            Calc::Text(_) | Calc::Number(_) => {}
            Calc::Not(inner) | Calc::Neg(inner) => inner.fields(out),
            Calc::Binary { left, right, .. } => {
                left.fields(out);
                right.fields(out);
            }
            Calc::Call { args, .. } => args.iter().for_each(|a| a.fields(out)),
        }
    }
}

impl Query {
    /// The source fields the per-event commands read (a field an earlier `eval` makes is
    /// read too: it costs a slot that stays empty).
    pub fn stage_fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for stage in &self.stages {
            match stage {
                Stage::Eval(assignments) => {
                    assignments.iter().for_each(|(_, c)| c.fields(&mut out))
                }
                Stage::Where(calc) => calc.fields(&mut out),
                Stage::Search(expr) => expr_fields(expr, &mut out),
                Stage::Rename(pairs) => out.extend(pairs.iter().map(|(from, _)| from.as_str())),
                Stage::Fillnull { fields, .. } => out.extend(fields.iter().map(String::as_str)),
                Stage::Rex { field, .. }
                | Stage::Bin { field, .. }
                | Stage::Lookup { field, .. } => out.push(field),
            }
        }
        out
    }

    /// The fields the per-event commands make (`eval`'s, `rex`'s named groups, `rename`'s
    /// new names, `bin … AS g`), in order, each once: what a kept event shows beside its
    /// text, and what a filter on one must follow rather than precede.
    pub fn stage_outputs(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for stage in &self.stages {
            match stage {
                Stage::Eval(assignments) => out.extend(assignments.iter().map(|(f, _)| f.clone())),
                Stage::Rename(pairs) => out.extend(pairs.iter().map(|(_, to)| to.clone())),
                Stage::Rex { pattern, .. } => {
                    if let Ok(regex) = compile_regex(pattern) {
                        out.extend(regex.capture_names().flatten().map(str::to_string));
                    }
                }
                Stage::Bin {
                    into: Some(into), ..
                } => out.push(into.clone()),
                // Without OUTPUT, the columns are known once the table is.
                Stage::Lookup { outputs, .. } => out.extend(outputs.iter().map(|(_, f)| f.clone())),
                Stage::Bin { into: None, .. }
                | Stage::Where(_)
                | Stage::Search(_)
                | Stage::Fillnull { .. } => {}
            }
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|f| seen.insert(f.clone()));
        out
    }
}

fn expr_fields<'a>(expr: &'a Expr, out: &mut Vec<&'a str>) {
    match expr {
        Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| expr_fields(p, out)),
        Expr::Not(inner) => expr_fields(inner, out),
        Expr::Term { .. } => {}
        Expr::Compare(c) => out.push(&c.field),
        Expr::Match { field, .. } => out.push(field),
        Expr::FieldRef { field, other, .. } => out.extend([field.as_str(), other.as_str()]),
    }
}

/// A value while an expression is evaluated.
#[derive(Debug, Clone, PartialEq)]
enum Datum<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Text(Cow<'a, str>),
    /// A multi-valued result (`split`, `mvindex` of a range): only the `mv` functions and
    /// an assignment read it; to anything else it is null.
    List(Vec<Cow<'a, str>>),
}

impl Datum<'_> {
    fn number(&self) -> Option<f64> {
        match self {
            Datum::Number(n) => Some(*n),
            Datum::Text(t) => t.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            Datum::Null | Datum::Bool(_) | Datum::List(_) => None,
        }
    }

    /// The value as a field holds it: numbers in their shortest form (`2`, `2.5`).
    fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Datum::Null | Datum::List(_) => None,
            Datum::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Datum::Number(n) => Some(Cow::Owned(format_number(*n))),
            Datum::Text(t) => Some(Cow::Borrowed(t)),
        }
    }

    fn truth(&self) -> bool {
        matches!(self, Datum::Bool(true))
    }
}

/// A number as eval writes it: whole numbers without a fraction.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// An expression ready to run: its regular expressions compiled.
#[derive(Debug)]
enum Node {
    Field(String),
    Const(Datum<'static>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    Call(Function, Vec<Node>, Option<Regex>),
}

impl Node {
    fn new(calc: &Calc) -> Node {
        match calc {
            Calc::Field(name) => Node::Field(name.clone()),
            Calc::Text(t) => Node::Const(Datum::Text(Cow::Owned(t.clone()))),
            Calc::Number(n) => Node::Const(Datum::Number(*n)),
            Calc::Not(inner) => Node::Not(Box::new(Node::new(inner))),
            Calc::Neg(inner) => Node::Neg(Box::new(Node::new(inner))),
            Calc::Binary { op, left, right } => {
                Node::Binary(*op, Box::new(Node::new(left)), Box::new(Node::new(right)))
            }
            Calc::Call { function, args } => {
                // The parser checked the pattern; one that no longer compiles matches
                // nothing (null).
                let regex = function.pattern_argument().and_then(|i| match args.get(i) {
                    Some(Calc::Text(pattern)) => compile_regex(pattern).ok(),
                    _ => None,
                });
                Node::Call(*function, args.iter().map(Node::new).collect(), regex)
            }
        }
    }

    fn eval<'e>(&'e self, event: &'e impl Fields) -> Datum<'e> {
        match self {
            Node::Field(name) => match event.get(name) {
                Some(value) => Datum::Text(value),
                // No single value: perhaps several (a JSON array, a `split`).
                None => {
                    let mut values = Vec::new();
                    event.any(name, |v| {
                        values.push(Cow::Owned(v.to_string()));
                        false
                    });
                    if values.is_empty() {
                        Datum::Null
                    } else {
                        Datum::List(values)
                    }
                }
            },
            Node::Const(value) => value.clone(),
            Node::Not(inner) => match inner.eval(event) {
                Datum::Bool(b) => Datum::Bool(!b),
                _ => Datum::Null,
            },
            Node::Neg(inner) => inner
                .eval(event)
                .number()
                .map_or(Datum::Null, |n| Datum::Number(-n)),
            Node::Binary(op, left, right) => binary(*op, left.eval(event), || right.eval(event)),
            Node::Call(function, args, regex) => call(*function, args, regex.as_ref(), event),
        }
    }
}

fn binary<'e>(op: BinOp, left: Datum<'e>, right: impl FnOnce() -> Datum<'e>) -> Datum<'e> {
    match op {
        // `AND` and `OR` stop at the left side when it decides.
        BinOp::And => match left {
            Datum::Bool(false) => Datum::Bool(false),
            Datum::Bool(true) => match right() {
                Datum::Bool(b) => Datum::Bool(b),
                _ => Datum::Null,
            },
            _ => Datum::Null,
        },
        BinOp::Or => match left {
            Datum::Bool(true) => Datum::Bool(true),
            Datum::Bool(false) => match right() {
                Datum::Bool(b) => Datum::Bool(b),
                _ => Datum::Null,
            },
            _ => Datum::Null,
        },
        BinOp::Xor => match (left, right()) {
            (Datum::Bool(a), Datum::Bool(b)) => Datum::Bool(a != b),
            _ => Datum::Null,
        },
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            // A field of several values compares true when any of them does, as in Splunk.
            match (left, right()) {
                (Datum::List(_), Datum::List(_)) => Datum::Null,
                (Datum::List(values), other) => Datum::Bool(
                    values
                        .iter()
                        .any(|v| compare(op, &Datum::Text(Cow::Borrowed(v)), &other).truth()),
                ),
                (other, Datum::List(values)) => Datum::Bool(
                    values
                        .iter()
                        .any(|v| compare(op, &other, &Datum::Text(Cow::Borrowed(v))).truth()),
                ),
                (left, right) => compare(op, &left, &right),
            }
        }
        BinOp::Concat => match (left.text(), right().text()) {
            (Some(a), Some(b)) => Datum::Text(Cow::Owned(format!("{a}{b}"))),
            _ => Datum::Null,
        },
        BinOp::Add => {
            let right = right();
            match (left.number(), right.number()) {
                (Some(a), Some(b)) => Datum::Number(a + b),
                // Two texts, not both numbers: joined, as Splunk's `+` does.
                _ => match (&left, &right) {
                    (Datum::Text(a), Datum::Text(b)) => Datum::Text(Cow::Owned(format!("{a}{b}"))),
                    _ => Datum::Null,
                },
            }
        }
        BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
            let (Some(a), Some(b)) = (left.number(), right().number()) else {
                return Datum::Null;
            };
            let n = match op {
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div if b == 0.0 => return Datum::Null,
                BinOp::Div => a / b,
                _ if b == 0.0 => return Datum::Null,
                _ => a % b,
            };
            if n.is_finite() {
                Datum::Number(n)
            } else {
                Datum::Null
            }
        }
    }
}

/// `left op right` for single values: numbers as numbers, else text order.
fn compare(op: BinOp, left: &Datum<'_>, right: &Datum<'_>) -> Datum<'static> {
    let ordering = match (left.number(), right.number()) {
        (Some(a), Some(b)) => a.partial_cmp(&b),
        _ => match (left.text(), right.text()) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => None,
        },
    };
    let Some(ordering) = ordering else {
        return Datum::Null;
    };
    Datum::Bool(match op {
        BinOp::Eq => ordering.is_eq(),
        BinOp::Ne => ordering.is_ne(),
        BinOp::Lt => ordering.is_lt(),
        BinOp::Le => ordering.is_le(),
        BinOp::Gt => ordering.is_gt(),
        _ => ordering.is_ge(),
    })
}

fn call<'e>(
    function: Function,
    args: &'e [Node],
    regex: Option<&Regex>,
    event: &'e impl Fields,
) -> Datum<'e> {
    let arg = |i: usize| args.get(i).map_or(Datum::Null, |a| a.eval(event));
    let number = |i: usize| arg(i).number();
    let text = |i: usize| arg(i).text().map(Cow::into_owned);
    let owned = |s: String| Datum::Text(Cow::Owned(s));
    match function {
        Function::If => {
            if arg(0).truth() {
                arg(1)
            } else {
                arg(2)
            }
        }
        Function::Case => args
            .chunks(2)
            .find(|pair| pair[0].eval(event).truth())
            .and_then(|pair| pair.get(1))
            .map_or(Datum::Null, |value| value.eval(event)),
        Function::Coalesce => args
            .iter()
            .map(|a| a.eval(event))
            .find(|v| *v != Datum::Null)
            .unwrap_or(Datum::Null),
        Function::IsNull => Datum::Bool(arg(0) == Datum::Null),
        Function::IsNotNull => Datum::Bool(arg(0) != Datum::Null),
        Function::Lower => text(0).map_or(Datum::Null, |t| owned(t.to_lowercase())),
        Function::Upper => text(0).map_or(Datum::Null, |t| owned(t.to_uppercase())),
        Function::Len => text(0).map_or(Datum::Null, |t| Datum::Number(t.chars().count() as f64)),
        Function::Substr => {
            let (Some(t), Some(start)) = (text(0), number(1)) else {
                return Datum::Null;
            };
            let chars: Vec<char> = t.chars().collect();
            // 1-based; a negative start counts from the end.
            let len = chars.len() as i64;
            let start = start.trunc() as i64;
            let from = if start < 0 { len + start } else { start - 1 }.clamp(0, len);
            let to = match number(2) {
                Some(n) => (from + n.trunc().max(0.0) as i64).min(len),
                None => len,
            };
            owned(chars[from as usize..to.max(from) as usize].iter().collect())
        }
        Function::Replace => match (text(0), regex, text(2)) {
            (Some(t), Some(regex), Some(with)) => owned(
                regex
                    .replace_all(&t, splunk_replacement(&with).as_str())
                    .into_owned(),
            ),
            _ => Datum::Null,
        },
        Function::ToNumber => {
            let Some(t) = text(0) else {
                return Datum::Null;
            };
            match number(1) {
                Some(base) if base != 10.0 => {
                    let t = t.trim();
                    let digits = if base == 16.0 {
                        t.trim_start_matches("0x").trim_start_matches("0X")
                    } else {
                        t
                    };
                    u32::try_from(base as i64)
                        .ok()
                        .filter(|b| (2..=36).contains(b))
                        .and_then(|b| i64::from_str_radix(digits, b).ok())
                        .map_or(Datum::Null, |n| Datum::Number(n as f64))
                }
                _ => Datum::Text(Cow::Owned(t))
                    .number()
                    .map_or(Datum::Null, Datum::Number),
            }
        }
        Function::ToString => text(0).map_or(Datum::Null, owned),
        Function::Round => {
            let Some(n) = number(0) else {
                return Datum::Null;
            };
            let digits = number(1).unwrap_or(0.0).clamp(0.0, 15.0) as i32;
            let scale = 10f64.powi(digits);
            Datum::Number((n * scale).round() / scale)
        }
        Function::Floor => number(0).map_or(Datum::Null, |n| Datum::Number(n.floor())),
        Function::Ceil => number(0).map_or(Datum::Null, |n| Datum::Number(n.ceil())),
        Function::Abs => number(0).map_or(Datum::Null, |n| Datum::Number(n.abs())),
        Function::CidrMatch => match (text(0), text(1)) {
            (Some(net), Some(ip)) => match (net.parse::<IpNet>(), ip.trim().parse::<IpAddr>()) {
                (Ok(net), Ok(ip)) => Datum::Bool(net.contains(&ip)),
                (Ok(_), Err(_)) => Datum::Bool(false),
                _ => Datum::Null,
            },
            _ => Datum::Null,
        },
        Function::Match => match (text(0), regex) {
            (Some(t), Some(regex)) => Datum::Bool(regex.is_match(&t)),
            _ => Datum::Null,
        },
        Function::Null => Datum::Null,
        Function::True => Datum::Bool(true),
        Function::False => Datum::Bool(false),
        Function::Strftime => match (number(0), text(1)) {
            (Some(seconds), Some(format)) => strftime(seconds, &format).map_or(Datum::Null, owned),
            _ => Datum::Null,
        },
        Function::Strptime => match (text(0), text(1)) {
            (Some(time), Some(format)) => {
                strptime(&time, &format).map_or(Datum::Null, Datum::Number)
            }
            _ => Datum::Null,
        },
        Function::Split => match (text(0), text(1)) {
            (Some(t), Some(sep)) if sep.is_empty() => {
                Datum::List(t.chars().map(|c| Cow::Owned(c.to_string())).collect())
            }
            (Some(t), Some(sep)) => Datum::List(
                t.split(sep.as_str())
                    .map(|p| Cow::Owned(p.to_string()))
                    .collect(),
            ),
            _ => Datum::Null,
        },
        Function::Mvcount => {
            values_of(args.first(), event).map_or(Datum::Null, |v| Datum::Number(v.len() as f64))
        }
        Function::Mvindex => {
            let (Some(values), Some(start)) = (values_of(args.first(), event), number(1)) else {
                return Datum::Null;
            };
            // 0-based, both ends included; negative counts from the end.
            let len = values.len() as i64;
            let at = |n: f64| {
                let n = n.trunc() as i64;
                if n < 0 { len + n } else { n }
            };
            let from = at(start);
            let to = number(2).map_or(from, at).min(len - 1);
            if from < 0 || from > to {
                return Datum::Null;
            }
            let mut picked: Vec<Cow<'e, str>> = values
                .into_iter()
                .skip(from as usize)
                .take((to - from + 1) as usize)
                .collect();
            match picked.len() {
                1 => Datum::Text(picked.remove(0)),
                _ => Datum::List(picked),
            }
        }
        Function::Mvjoin => match (values_of(args.first(), event), text(1)) {
            (Some(values), Some(with)) => owned(values.join(with.as_str())),
            _ => Datum::Null,
        },
        // The gateway replaces `now()` by its time (`Query::resolve_time`); a query run
        // without that has no "now" every worker agrees on.
        Function::Now => Datum::Null,
        Function::RelativeTime => match (number(0), text(1)) {
            (Some(seconds), Some(spec)) => {
                relative_time(seconds, &spec).map_or(Datum::Null, Datum::Number)
            }
            _ => Datum::Null,
        },
    }
}

/// Every value of an `mv` function's argument: each element of a field that holds several
/// (a JSON array, a `split`), a single value as one; `None` when it has none.
fn values_of<'e>(node: Option<&'e Node>, event: &'e impl Fields) -> Option<Vec<Cow<'e, str>>> {
    let values = match node? {
        Node::Field(name) => {
            let mut values = Vec::new();
            event.any(name, |v| {
                values.push(Cow::Owned(v.to_string()));
                false
            });
            values
        }
        other => match other.eval(event) {
            Datum::List(values) => values,
            value => value.text().map(|t| vec![Cow::Owned(t.into_owned())])?,
        },
    };
    (!values.is_empty()).then_some(values)
}

/// Splunk's relative time modifier applied to epoch `seconds`: offsets (`-1d`, `+2h`,
/// `-30m`), then a snap to the start of a unit (`@d`, `@h`, `@w1` for Monday), in UTC;
/// `now` or an empty spec is the time itself. `None` for a spec it does not read.
fn relative_time(seconds: f64, spec: &str) -> Option<f64> {
    use chrono::{Datelike, Duration, Months, TimeZone, Timelike};

    let mut time = DateTime::<Utc>::from_timestamp_millis((seconds * 1000.0).round() as i64)?;
    let spec = spec.trim();
    if spec.is_empty() || spec.eq_ignore_ascii_case("now") {
        return Some(seconds);
    }
    let (offsets, snap) = match spec.split_once('@') {
        Some((offsets, snap)) => (offsets, Some(snap)),
        None => (spec, None),
    };
    let mut rest = offsets;
    while !rest.is_empty() {
        let sign = match rest.as_bytes()[0] {
            b'-' => -1,
            b'+' => 1,
            _ => return None,
        };
        rest = &rest[1..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let amount: i64 = if digits == 0 {
            1
        } else {
            rest[..digits].parse().ok()?
        };
        rest = &rest[digits..];
        let unit_len = rest.find(['-', '+']).unwrap_or(rest.len());
        let amount = sign * amount;
        time = match time_unit(&rest[..unit_len])? {
            Unit::Seconds(s) => time.checked_add_signed(Duration::try_seconds(amount * s)?)?,
            Unit::Months(m) => {
                let months = Months::new(u32::try_from((amount * m).unsigned_abs()).ok()?);
                if amount < 0 {
                    time.checked_sub_months(months)?
                } else {
                    time.checked_add_months(months)?
                }
            }
        };
        rest = &rest[unit_len..];
    }
    if let Some(snap) = snap {
        let day = |t: DateTime<Utc>| {
            Utc.with_ymd_and_hms(t.year(), t.month(), t.day(), 0, 0, 0)
                .single()
        };
        time = match snap.to_ascii_lowercase().as_str() {
            s if s.starts_with('w') => {
                // `@w0` is Sunday (the default), `@w1` Monday …
                let weekday: i64 = s[1..].parse().unwrap_or(0);
                if !(0..=7).contains(&weekday) {
                    return None;
                }
                let today = i64::from(time.weekday().num_days_from_sunday());
                let back = (today - weekday % 7).rem_euclid(7);
                day(time)?.checked_sub_signed(Duration::try_days(back)?)?
            }
            unit => match time_unit(unit)? {
                Unit::Seconds(1) => time.with_nanosecond(0)?,
                Unit::Seconds(60) => time.with_second(0)?.with_nanosecond(0)?,
                Unit::Seconds(3_600) => time.with_minute(0)?.with_second(0)?.with_nanosecond(0)?,
                Unit::Seconds(86_400) => day(time)?,
                Unit::Months(1) => Utc
                    .with_ymd_and_hms(time.year(), time.month(), 1, 0, 0, 0)
                    .single()?,
                Unit::Months(3) => {
                    let quarter = (time.month() - 1) / 3 * 3 + 1;
                    Utc.with_ymd_and_hms(time.year(), quarter, 1, 0, 0, 0)
                        .single()?
                }
                Unit::Months(12) => Utc.with_ymd_and_hms(time.year(), 1, 1, 0, 0, 0).single()?,
                _ => return None,
            },
        };
    }
    Some(time.timestamp_millis() as f64 / 1000.0)
}

enum Unit {
    Seconds(i64),
    Months(i64),
}

/// A time unit as Splunk spells it (`s`, `sec`, `min`, `h`, `d`, `w`, `mon`, `q`, `y` …).
fn time_unit(text: &str) -> Option<Unit> {
    Some(match text.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => Unit::Seconds(1),
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Seconds(60),
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Seconds(3_600),
        "d" | "day" | "days" => Unit::Seconds(86_400),
        "w" | "week" | "weeks" => Unit::Seconds(604_800),
        "mon" | "month" | "months" => Unit::Months(1),
        "q" | "qtr" | "qtrs" | "quarter" | "quarters" => Unit::Months(3),
        "y" | "yr" | "yrs" | "year" | "years" => Unit::Months(12),
        _ => return None,
    })
}

/// Epoch seconds as `format` (strftime's `%Y-%m-%d %H:%M:%S`, UTC); `None` for a time out
/// of range or a format chrono does not read (never a panic).
fn strftime(seconds: f64, format: &str) -> Option<String> {
    use std::fmt::Write as _;

    let items = StrftimeItems::new(format);
    if items.clone().any(|item| matches!(item, Item::Error)) {
        return None;
    }
    let time = DateTime::<Utc>::from_timestamp_millis((seconds * 1000.0).round() as i64)?;
    let mut out = String::new();
    write!(out, "{}", time.format_with_items(items)).ok()?;
    Some(out)
}

/// `time` read with `format` as epoch seconds: with its offset (`%z`) when it has one,
/// else UTC; a format without a time of day reads midnight.
fn strptime(time: &str, format: &str) -> Option<f64> {
    let millis = DateTime::parse_from_str(time, format)
        .map(|t| t.timestamp_millis())
        .or_else(|_| {
            NaiveDateTime::parse_from_str(time, format).map(|t| t.and_utc().timestamp_millis())
        })
        .or_else(|_| {
            NaiveDate::parse_from_str(time, format)
                .map(|d| d.and_time(NaiveTime::MIN).and_utc().timestamp_millis())
        })
        .ok()?;
    Some(millis as f64 / 1000.0)
}

/// Splunk writes a group in a replacement as `\1`; the `regex` crate as `${1}`. A `$` of
/// the text is `$$`.
fn splunk_replacement(with: &str) -> String {
    let mut out = String::with_capacity(with.len());
    let mut chars = with.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push_str("${");
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    out.push(d);
                }
                out.push('}');
            }
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
}

/// The per-event commands of a query, ready to run.
#[derive(Debug, Default)]
pub struct Pipeline {
    stages: Vec<Compiled>,
    reads_text: bool,
}

#[derive(Debug)]
enum Compiled {
    Eval(Vec<(String, Node)>),
    Where(Node),
    Search(Matcher),
    Rename(Vec<(String, String)>),
    Fillnull {
        value: String,
        fields: Vec<String>,
    },
    /// `None` when the pattern no longer compiles (the parser checked it): nothing is set.
    Rex {
        field: String,
        regex: Option<Regex>,
    },
    Bin {
        field: String,
        span: f64,
        into: String,
    },
    /// `None` when the table was not given (the gateway refuses such a query before it
    /// runs): nothing is set.
    Lookup {
        field: String,
        table: Option<Indexed>,
        /// (column index, field).
        outputs: Vec<(usize, String)>,
    },
}

impl Pipeline {
    /// The query's commands, with the tables its `lookup`s name.
    pub fn new(query: &Query, lookups: &Lookups) -> Pipeline {
        let later = || {
            let aggs = query.aggs();
            let mut fields: Vec<String> = Vec::new();
            let named = aggs.iter().flat_map(|a| a.fields());
            for field in named
                .chain(query.by())
                .chain(query.hit_fields().unwrap_or(&[]))
            {
                if !fields.contains(field) {
                    fields.push(field.clone());
                }
            }
            fields
        };
        let stages: Vec<Compiled> = query
            .stages
            .iter()
            .map(|stage| match stage {
                Stage::Eval(assignments) => Compiled::Eval(
                    assignments
                        .iter()
                        .map(|(name, calc)| (name.clone(), Node::new(calc)))
                        .collect(),
                ),
                Stage::Where(calc) => Compiled::Where(Node::new(calc)),
                Stage::Search(expr) => Compiled::Search(Matcher::new(Some(expr))),
                Stage::Rename(pairs) => Compiled::Rename(pairs.clone()),
                Stage::Fillnull { value, fields } => Compiled::Fillnull {
                    value: value.clone(),
                    fields: if fields.is_empty() {
                        later()
                    } else {
                        fields.clone()
                    },
                },
                Stage::Rex { field, pattern } => Compiled::Rex {
                    field: field.clone(),
                    regex: compile_regex(pattern).ok(),
                },
                Stage::Bin { field, span, into } => Compiled::Bin {
                    field: field.clone(),
                    span: *span,
                    into: into.clone().unwrap_or_else(|| field.clone()),
                },
                Stage::Lookup {
                    table,
                    key,
                    field,
                    outputs,
                } => {
                    let table = lookups.get(table).and_then(|t| t.indexed(key));
                    let columns = table.as_ref().map_or(&[][..], |t| &t.table.columns[..]);
                    let outputs = if outputs.is_empty() {
                        columns
                            .iter()
                            .enumerate()
                            .filter(|(_, c)| *c != key)
                            .map(|(i, c)| (i, c.clone()))
                            .collect()
                    } else {
                        outputs
                            .iter()
                            .filter_map(|(column, name)| {
                                Some((columns.iter().position(|c| c == column)?, name.clone()))
                            })
                            .collect()
                    };
                    Compiled::Lookup {
                        field: field.clone(),
                        table,
                        outputs,
                    }
                }
            })
            .collect();
        let reads_text = stages
            .iter()
            .any(|s| matches!(s, Compiled::Search(m) if m.reads_text()));
        Pipeline { stages, reads_text }
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// A `search` stage has bare terms: it reads the event's lower-cased text.
    pub fn reads_text(&self) -> bool {
        self.reads_text
    }

    /// The event as the commands leave it, or `None` when one drops it. `lowered_text` is
    /// the event's text, lower-cased, when `reads_text`; `time` its time (epoch ms), which
    /// they read as `_time`.
    pub fn apply<'e, E: Fields>(
        &self,
        event: &'e E,
        lowered_text: &[u8],
        time: Option<i64>,
    ) -> Option<Derived<'e, E>> {
        let mut derived = Derived {
            event,
            set: Vec::new(),
            time,
        };
        for stage in &self.stages {
            match stage {
                Compiled::Eval(assignments) => {
                    for (name, node) in assignments {
                        let value = match node.eval(&derived) {
                            Datum::List(values) if !values.is_empty() => {
                                Held::Many(values.into_iter().map(Cow::into_owned).collect())
                            }
                            value => Held::from(value.text().map(Cow::into_owned)),
                        };
                        derived.set(name, value);
                    }
                }
                Compiled::Where(node) => {
                    if !node.eval(&derived).truth() {
                        return None;
                    }
                }
                Compiled::Search(matcher) => {
                    if !matcher.matches(&derived, lowered_text) {
                        return None;
                    }
                }
                Compiled::Rename(pairs) => {
                    for (from, to) in pairs {
                        let value = derived.get(from).map(Cow::into_owned);
                        derived.set(from, None);
                        derived.set(to, value);
                    }
                }
                Compiled::Fillnull { value, fields } => {
                    for field in fields {
                        if derived.get(field).is_none() {
                            derived.set(field, Some(value.clone()));
                        }
                    }
                }
                Compiled::Rex {
                    field,
                    regex: Some(regex),
                } => {
                    let Some(text) = derived.get(field).map(Cow::into_owned) else {
                        continue;
                    };
                    let Some(captures) = regex.captures(&text) else {
                        continue;
                    };
                    for name in regex.capture_names().flatten() {
                        if let Some(value) = captures.name(name) {
                            derived.set(name, Some(value.as_str().to_string()));
                        }
                    }
                }
                Compiled::Rex { regex: None, .. } => {}
                Compiled::Lookup {
                    field,
                    table: Some(table),
                    outputs,
                } => {
                    // An event without the field, or without a row, gets no fields (as in
                    // Splunk: `isnull(threat)` tells them apart).
                    let row = derived.get(field).and_then(|v| table.row(v.trim()));
                    let values: Vec<Option<String>> = outputs
                        .iter()
                        .map(|(i, _)| row.and_then(|r| r.get(*i)).cloned())
                        .collect();
                    for ((_, name), value) in outputs.iter().zip(values) {
                        derived.set(name, value.filter(|v| !v.is_empty()));
                    }
                }
                Compiled::Lookup { table: None, .. } => {}
                Compiled::Bin { field, span, into } => {
                    let binned = derived
                        .get(field)
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .filter(|n| n.is_finite())
                        .map(|n| format_number((n / span).floor() * span));
                    derived.set(into, binned);
                }
            }
        }
        Some(derived)
    }
}

/// An event with what the per-event commands set: a field they set (or removed) reads as
/// they left it, any other as the event has it.
pub struct Derived<'e, E> {
    event: &'e E,
    set: Vec<(String, Held)>,
    time: Option<i64>,
}

/// A value the commands set.
#[derive(Debug)]
enum Held {
    Absent,
    One(String),
    /// Several (`split`): tested element by element, as a JSON array is, and like one
    /// no single value to aggregate or show.
    Many(Vec<String>),
}

impl From<Option<String>> for Held {
    fn from(value: Option<String>) -> Held {
        value.map_or(Held::Absent, Held::One)
    }
}

impl<E> Derived<'_, E> {
    fn set(&mut self, name: &str, value: impl Into<Held>) {
        let value = value.into();
        match self.set.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => self.set.push((name.to_string(), value)),
        }
    }

    fn lookup(&self, name: &str) -> Option<&Held> {
        self.set.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

impl<E: Fields> Fields for Derived<'_, E> {
    /// `_time`, unless the record has a field of that name, is the event's time.
    fn get(&self, field: &str) -> Option<Cow<'_, str>> {
        match self.lookup(field) {
            Some(Held::One(value)) => Some(Cow::Borrowed(value)),
            Some(Held::Absent | Held::Many(_)) => None,
            None => self.event.get(field).or_else(|| {
                (field == TIME_FIELD)
                    .then_some(self.time)
                    .flatten()
                    .map(|ms| Cow::Owned(format_number(ms as f64 / 1000.0)))
            }),
        }
    }

    fn any(&self, field: &str, mut test: impl FnMut(&str) -> bool) -> bool {
        match self.lookup(field) {
            Some(Held::One(value)) => test(value),
            Some(Held::Many(values)) => values.iter().any(|v| test(v)),
            Some(Held::Absent) => false,
            None if field == TIME_FIELD => self.get(field).is_some_and(|v| test(&v)),
            None => self.event.any(field, test),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::query::parse;

    struct Event(HashMap<&'static str, &'static str>);

    impl Fields for Event {
        fn get(&self, field: &str) -> Option<Cow<'_, str>> {
            self.0.get(field).map(|v| Cow::Borrowed(*v))
        }
    }

    fn event() -> Event {
        Event(HashMap::from([
            ("bytes", "1500"),
            ("packets", "4"),
            ("user", "Root"),
            ("src_ip", "10.1.2.3"),
            ("userIdentity.arn", "arn:aws:iam::1:user/alice"),
            ("path", "/wp-admin/setup.php"),
            ("empty", ""),
        ]))
    }

    /// What `eval x = <expr>` leaves in `x` (None: null).
    fn eval(expr: &str) -> Option<String> {
        let query = parse(&format!("| eval x = {expr}")).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let event = event();
        let pipeline = Pipeline::new(&query, &Lookups::new());
        let derived = pipeline
            .apply(&event, b"", Some(1_714_567_890_500))
            .expect("eval keeps every event");
        derived.get("x").map(Cow::into_owned)
    }

    fn kept(stages: &str) -> bool {
        let query = parse(stages).unwrap_or_else(|e| panic!("{stages}: {e}"));
        Pipeline::new(&query, &Lookups::new())
            .apply(&event(), b"", Some(1_714_567_890_500))
            .is_some()
    }

    #[test]
    fn arithmetic_text_and_null_as_splunk_evaluates_them() {
        let cases: &[(&str, Option<&str>)] = &[
            ("bytes / packets", Some("375")),
            ("bytes / 1000", Some("1.5")),
            ("(bytes + 500) * 2 - 1", Some("3999")),
            ("bytes % 7", Some("2")),
            ("-bytes", Some("-1500")),
            ("bytes / 0", None),
            ("nosuch + 1", None),
            ("user . \"@\" . src_ip", Some("Root@10.1.2.3")),
            ("user.\"x\"", Some("Rootx")),
            ("\"a\" + \"b\"", Some("ab")),
            ("user . nosuch", None),
            ("'userIdentity.arn'", Some("arn:aws:iam::1:user/alice")),
            ("userIdentity.arn", Some("arn:aws:iam::1:user/alice")),
            ("bytes > 999", Some("true")),
            ("\"10\" < \"9\"", Some("false")),
            ("\"b\" < \"a\"", Some("false")),
            ("user == \"root\"", Some("false")),
            ("user = \"Root\" AND bytes >= 1500", Some("true")),
            ("NOT (user = \"Root\") OR nosuch > 1", None),
            ("true() XOR false()", Some("true")),
            ("2.5 * 2", Some("5")),
        ];
        for (expr, want) in cases {
            assert_eq!(eval(expr).as_deref(), *want, "{expr}");
        }
    }

    #[test]
    fn multivalue_functions_and_relative_time() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"mvcount(split("a,b,,c", ","))"#, Some("4")),
            (r#"mvindex(split("a,b,c", ","), 1)"#, Some("b")),
            (r#"mvindex(split("a,b,c", ","), -1)"#, Some("c")),
            (
                r#"mvjoin(mvindex(split("a,b,c,d", ","), 1, 2), "+")"#,
                Some("b+c"),
            ),
            (
                r#"mvjoin(mvindex(split("a,b", ","), 0, 9), "+")"#,
                Some("a+b"),
            ),
            (r#"mvindex(split("a,b", ","), 5)"#, None),
            (r#"mvjoin(split("abc", ""), "-")"#, Some("a-b-c")),
            ("mvcount(user)", Some("1")),
            ("mvcount(nosuch)", None),
            (r#"split("a,b", ",") . "x""#, None),
            // 2024-05-01T12:51:30.5Z
            (
                r#"relative_time(1714567890.5, "-1d@d")"#,
                Some("1714435200"),
            ),
            (r#"relative_time(1714567890, "@h")"#, Some("1714564800")),
            (r#"relative_time(1714567890, "+2h")"#, Some("1714575090")),
            (
                r#"relative_time(1714567890, "-1mon@mon")"#,
                Some("1711929600"),
            ),
            (r#"relative_time(1714567890, "@w1")"#, Some("1714348800")),
            (r#"relative_time(1714567890, "@y")"#, Some("1704067200")),
            (r#"relative_time(1714567890, "now")"#, Some("1714567890")),
            (r#"relative_time(1714567890, "-1fortnight")"#, None),
            ("now()", None),
        ];
        for (expr, want) in cases {
            assert_eq!(eval(expr).as_deref(), *want, "{expr}");
        }
        // A split field is tested element by element, and has no single value.
        assert!(kept(
            r#"| eval parts = split("x,root,y", ",") | where parts == "root""#
        ));
        assert!(kept(r#"| eval parts = split("x,y", ",") | search parts:y"#));
        assert!(!kept(
            r#"| eval parts = split("x,y", ",") | where parts == "z""#
        ));
        // The gateway fixes `now()` once per query.
        let mut query =
            parse("| eval age = now() - _time, day = relative_time(now(), \"@d\")").unwrap();
        query.resolve_time(1_714_567_890_000);
        let event = event();
        let derived = Pipeline::new(&query, &Lookups::new())
            .apply(&event, b"", Some(1_714_567_800_000))
            .unwrap();
        assert_eq!(derived.get("age").as_deref(), Some("90"));
        assert_eq!(derived.get("day").as_deref(), Some("1714521600"));
    }

    #[test]
    fn functions() {
        let cases: &[(&str, Option<&str>)] = &[
            ("if(bytes > 1000, \"big\", \"small\")", Some("big")),
            (
                "case(bytes < 100, \"s\", bytes < 2000, \"m\", true(), \"l\")",
                Some("m"),
            ),
            ("case(bytes < 100, \"s\")", None),
            ("coalesce(nosuch, empty, user)", Some("")),
            ("coalesce(nosuch, user)", Some("Root")),
            ("if(isnull(nosuch) AND isnotnull(empty), 1, 0)", Some("1")),
            ("lower(user) . upper(\"x\")", Some("rootX")),
            ("len(path)", Some("19")),
            ("substr(path, 2, 8)", Some("wp-admin")),
            ("substr(path, -3)", Some("php")),
            ("substr(path, 100)", Some("")),
            (
                "replace(path, \"^/(\\w+)-(\\w+)/.*\", \"\\2-\\1 $\")",
                Some("admin-wp $"),
            ),
            (
                "tonumber(\"0x1F\", 16) + tonumber(\"11\", 2) + tonumber(\" 7 \")",
                Some("41"),
            ),
            ("tonumber(user)", None),
            ("tostring(bytes / 4)", Some("375")),
            ("round(bytes / 7, 2)", Some("214.29")),
            ("round(2.5)", Some("3")),
            (
                "floor(-1.5) . \",\" . ceil(1.2) . \",\" . abs(-3)",
                Some("-2,2,3"),
            ),
            ("cidrmatch(\"10.0.0.0/8\", src_ip)", Some("true")),
            ("cidrmatch(\"10.0.0.0/8\", user)", Some("false")),
            ("match(path, \"(?i)WP-ADMIN\")", Some("true")),
            ("match(nosuch, \"x\")", None),
            ("null()", None),
            (
                "strftime(_time, \"%Y-%m-%d %H:%M:%S\")",
                Some("2024-05-01 12:51:30"),
            ),
            ("strftime(1714564800, \"%A %j\")", Some("Wednesday 122")),
            ("strftime(_time, \"%Q\")", None),
            (
                "strptime(\"2024-05-01 12:00:00\", \"%Y-%m-%d %H:%M:%S\")",
                Some("1714564800"),
            ),
            (
                "strptime(\"01/May/2024:14:00:00 +0200\", \"%d/%b/%Y:%H:%M:%S %z\")",
                Some("1714564800"),
            ),
            ("strptime(\"2024-05-01\", \"%Y-%m-%d\")", Some("1714521600")),
            ("strptime(user, \"%Y\")", None),
        ];
        for (expr, want) in cases {
            assert_eq!(eval(expr).as_deref(), *want, "{expr}");
        }
    }

    #[test]
    fn commands_see_what_the_ones_before_them_set() {
        assert!(kept(
            "| eval kb = bytes / 1000, big = kb > 1 | where big = \"true\""
        ));
        assert!(!kept("| where bytes > 2000"));
        assert!(!kept("| where nosuch > 1"));
        assert!(kept(
            "| rename user AS account | where account = \"Root\" AND isnull(user)"
        ));
        assert!(kept(
            "| fillnull value=none nosuch | where nosuch = \"none\""
        ));
        assert!(kept("| fillnull nosuch | where nosuch = 0"));
        assert!(kept(
            "| eval u = lower(user) | search u:root src_ip:10.0.0.0/8"
        ));
        assert!(!kept("| eval u = upper(user) | search NOT u:root"));
        assert!(kept("| eval user = null() | where isnull(user)"));
        assert!(kept(
            "| rex field=path \"^/(?<area>[a-z-]+)/(?<page>\\w+)\" | where area = \"wp-admin\" AND page = \"setup\""
        ));
        assert!(kept(
            "| rex field=user \"(?<digit>\\d)\" | where isnull(digit)"
        ));
        // Without fields, fillnull fills those the rest of the query reads.
        let query = parse("| fillnull value=- | stats count by nosuch").expect("parses");
        let event = event();
        let pipeline = Pipeline::new(&query, &Lookups::new());
        let derived = pipeline
            .apply(&event, b"", Some(1_714_567_890_500))
            .expect("kept");
        assert_eq!(derived.get("nosuch").as_deref(), Some("-"));
    }

    #[test]
    fn errors_point_at_the_column() {
        let cases: &[(&str, usize, &str)] = &[
            ("| eval x = nosuchfn(1)", 12, "unknown function `nosuchfn`"),
            (
                "| eval x = substr(a)",
                12,
                "substr() takes 2 to 3 arguments, found 1",
            ),
            ("| eval x = if(a, b)", 12, "if() takes 3 arguments, found 2"),
            ("| eval x = case(a, b, c)", 12, "case() takes pairs"),
            ("| eval x = match(a, b)", 21, "must be a quoted string"),
            ("| eval x = match(a, \"(\")", 21, "bad regular expression"),
            ("| eval x = 1 +", 15, "expected a value, field or function"),
            ("| eval x == 1", 10, "expected `=` after `x`"),
            ("| eval x = (1", 14, "expected `)` to close `(`"),
            ("| rename a b", 12, "expected `AS` after `a`"),
            (
                "| stats count | eval x = 1",
                17,
                "put it before the aggregating command",
            ),
            (
                "| head 3 | where x > 1",
                12,
                "put it before head and fields",
            ),
            ("| search", 9, "expected a search term"),
            ("| rex field=a \"\\d+\"", 15, "rex needs a named group"),
            ("| rex \"(?<x>\"", 7, "bad regular expression"),
            (
                "| stats exactperc99(x)",
                9,
                "exact percentiles do not merge",
            ),
            ("| bin _time", 7, "bin needs span="),
            ("| bin span=0 bytes", 12, "a span above 0"),
            (
                "| stats count by a | sort -b",
                28,
                "cannot sort by `b`: the rows have a, count",
            ),
            (
                "| where plen > 8 | eval plen = len(password)",
                9,
                "`plen` is made by the `eval` after this: put this command after it",
            ),
            (
                r#"| eval u = lower(who) | rex "user=(?<who>\w+)""#,
                18,
                "`who` is made by the `rex` after this",
            ),
            (
                "| eval n = count(x)",
                12,
                "`count` is an aggregate, over many events",
            ),
            ("| where dc(src_ip) > 3", 9, "`dc` is an aggregate"),
            ("x | sort -dc(a)", 11, "cannot sort events by `dc(a)`"),
            ("x | dedup 2 a", 11, "`dedup N`"),
            (
                "x | dedup a keepevents=maybe",
                24,
                "expected true or false, found `maybe`",
            ),
        ];
        for (query, column, message) in cases {
            let error = parse(query).expect_err(query);
            assert_eq!(error.column, *column, "{query}: {error}");
            assert!(error.message.contains(message), "{query}: {error}");
        }
    }

    #[test]
    fn splunk_and_scanner_spellings_read_as_ours() {
        for (theirs, ours) in [
            (
                "| stats distinct_count(a), estdc(b), countdistinct(c)",
                "| stats dc(a), dc(b), dc(c)",
            ),
            (
                "| stats perc95(x), median(y), mean(z)",
                "| stats p95(x), p50(y), avg(z)",
            ),
            ("| groupbycount a, b", "| stats count by a, b"),
        ] {
            assert_eq!(
                parse(theirs).expect(theirs),
                parse(ours).expect(ours),
                "{theirs}"
            );
        }
    }

    #[test]
    fn stages_round_trip_through_their_canonical_text() {
        for text in [
            "src_ip:10.0.0.0/8 | eval kb = bytes / 1024, who = lower(user) . \"@\" . 'id.orig_h' | where kb > 1 AND NOT isnull(who) | stats count by who",
            "| eval r = replace(path, \"\\d+\", \"N\"), q = \"say \\\"hi\\\"\" | search r:*N* | rename r AS route | fillnull value=\"n a\" route x",
            "| eval x = -(1 - 2) * 3 % 4 | where match(x, \"^\\\\d\") XOR true()",
            "| bin span=5m _time AS minute | bin span=1.5 bytes | stats count by minute",
            "| stats count, dc(src_ip) by user | sort -dc(src_ip), user | tail 3",
            "| top 5 user | sort user",
            "| stats count(user), count() by x | where count(user) > 2 | sort -count(user)",
            "| rex \"user=(?<user>\\w+) \\\"q\\\"\" | rex field=user \"(?P<first>.)\" | stats count by first",
        ] {
            let query = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let again = parse(&query.to_string()).unwrap_or_else(|e| panic!("{}: {e}", query));
            assert_eq!(again, query, "{text} → {query}");
        }
    }
}
