//! The final, user-facing shape of an answer: what the page renders and what
//! `POST /api/v1/query` returns as JSON. Computed from a merged `Partial`.

use serde::{Deserialize, Serialize};

use crate::partial::{Hit, ScanStats};
use crate::query::{CompareOp, Post, SortKey};
pub use crate::sketch::{DistinctEstimate, RareRow, RareSummary, TopRow};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    /// The query in canonical form.
    pub query: String,
    pub matched: u64,
    /// Over every matching event, in the query's order (emptied by a failing `where`).
    pub aggs: Vec<AggResult>,
    /// `timechart` without `by`: the aggregate per time bucket.
    pub series: Option<Series>,
    /// Matching events per time bucket, whatever the command (`value` is the count).
    pub timeline: Series,
    /// `by`: one row per group.
    pub groups: Option<GroupsResult>,
    /// The newest matching events, newest first (at most `MAX_HITS`).
    pub hits: Vec<Hit>,
    pub stats: ScanStats,
    /// The limits this answer reached, for people: what is left out and why.
    pub limits: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggResult {
    /// As written in the query, e.g. `dc(src_ip)`: how a dashboard panel names the answer
    /// it draws.
    pub label: String,
    /// The fields it reads, in the query's order (a `top` may read several).
    pub fields: Vec<String>,
    pub value: AggValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AggValue {
    /// Exact.
    Count { value: u64 },
    /// HyperLogLog estimate with its interval.
    Distinct(DistinctEstimate),
    /// Exact (`sum`, `min`, `max`, `avg`); `None` when no value of the field was a number.
    Number { value: Option<f64> },
    /// The value at a quantile, within ± `relative_error` × value of the true one.
    Quantile {
        value: Option<f64>,
        relative_error: f64,
    },
    /// The least frequent values with exact counts, from a consistent sample of the values.
    Rare(RareSummary),
    /// Heavy hitters, largest first; each true count lies in `[lower, upper]`.
    Top {
        rows: Vec<TopRow>,
        /// No count is off by more than this (0: all counts exact).
        maximum_error: u64,
    },
    /// `values(f)`: distinct values in text order, exact; `complete` is false when more
    /// than `MAX_VALUES` were seen and only the first are listed.
    Values { values: Vec<String>, complete: bool },
    /// `earliest(f)`, `latest(f)`: the value and its event time (epoch ms); `None` when no
    /// timed event had the field.
    Timed {
        value: Option<String>,
        time: Option<i64>,
    },
}

/// An aggregate per time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Bucket width: the query's `span=` or, without one, chosen to fit the range.
    pub span_seconds: u32,
    /// Matching events without a timestamp (counted, not charted).
    pub untimed: u64,
    /// Occupied buckets, oldest first.
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Bucket start, epoch milliseconds.
    pub time: i64,
    pub matched: u64,
    pub value: AggValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupsResult {
    pub by: Vec<String>,
    /// Largest first (ties by key).
    pub rows: Vec<GroupRow>,
    /// Events of groups beyond the sample (`complete` is false when there are any).
    pub other: Option<GroupRow>,
    /// Every group is a row.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRow {
    /// The `by` fields' values (empty for "other").
    pub key: Vec<String>,
    pub matched: u64,
    pub aggs: Vec<AggResult>,
    pub series: Option<Series>,
}

impl GroupsResult {
    /// `table`: only the named `by` fields and aggregates, in the order named (the `by`
    /// fields first, as the rows hold them apart).
    fn keep_columns(&mut self, columns: &[String]) {
        let by: Vec<usize> = columns
            .iter()
            .filter_map(|c| self.by.iter().position(|b| b == c))
            .collect();
        self.by = by.iter().map(|&i| self.by[i].clone()).collect();
        for row in self.rows.iter_mut().chain(self.other.as_mut()) {
            if !row.key.is_empty() {
                row.key = by.iter().filter_map(|&i| row.key.get(i).cloned()).collect();
            }
            pick_columns(&mut row.aggs, columns);
        }
    }
}

/// The aggregates named in `columns`, in that order.
fn pick_columns(aggs: &mut Vec<AggResult>, columns: &[String]) {
    let mut kept = Vec::new();
    for column in columns {
        if let Some(i) = aggs.iter().position(|a| a.label == *column) {
            kept.push(aggs.remove(i));
        }
    }
    *aggs = kept;
}

impl AggValue {
    /// The single number a `where` compares, if this value is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            AggValue::Count { value } => Some(*value as f64),
            AggValue::Distinct(d) => Some(d.estimate),
            AggValue::Number { value } | AggValue::Quantile { value, .. } => *value,
            AggValue::Timed { value, .. } => value
                .as_deref()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|n| n.is_finite()),
            AggValue::Rare(_) | AggValue::Top { .. } | AggValue::Values { .. } => None,
        }
    }

    /// The value a `sort` orders rows by: its number, else its text (`earliest(user)`, the
    /// first of `values(f)`, the value of `mode(f)`).
    fn sortable(&self) -> Sortable<'_> {
        match self {
            AggValue::Timed { value, .. } => Sortable::of_text(value.as_deref()),
            AggValue::Values { values, .. } => {
                Sortable::of_text(values.first().map(String::as_str))
            }
            AggValue::Top { rows, .. } => Sortable::of_text(rows.first().map(|r| r.value.as_str())),
            other => Sortable::Number(other.number()),
        }
    }
}

fn holds(left: f64, op: CompareOp, right: f64) -> bool {
    match op {
        CompareOp::Eq => left == right,
        CompareOp::Ne => left != right,
        CompareOp::Lt => left < right,
        CompareOp::Le => left <= right,
        CompareOp::Gt => left > right,
        CompareOp::Ge => left >= right,
    }
}

impl QueryResult {
    /// Applies one `where`, `head` or `fields` to the answer. Rows are groups when the
    /// query has `by`, else the rows of `top`/`rare`, else the totals; `head` after a plain
    /// search keeps the newest hits.
    pub(crate) fn apply(&mut self, post: &Post) {
        match post {
            Post::Where { agg, op, value } => {
                let keep = |aggs: &[AggResult]| {
                    aggs.get(*agg)
                        .and_then(|a| a.value.number())
                        .is_some_and(|n| holds(n, *op, *value))
                };
                if let Some(groups) = &mut self.groups {
                    groups.rows.retain(|row| keep(&row.aggs));
                    return;
                }
                match self.aggs.first_mut().map(|a| &mut a.value) {
                    Some(AggValue::Top { rows, .. }) => {
                        rows.retain(|r| holds(r.estimate as f64, *op, *value));
                    }
                    Some(AggValue::Rare(summary)) => {
                        summary.rows.retain(|r| holds(r.count as f64, *op, *value));
                    }
                    _ => {
                        if let Some(series) = &mut self.series {
                            series.points.retain(|p| {
                                p.value.number().is_some_and(|n| holds(n, *op, *value))
                            });
                        } else if !keep(&self.aggs) {
                            self.aggs.clear();
                        }
                    }
                }
            }
            Post::Head(n) => {
                let n = *n as usize;
                if let Some(groups) = &mut self.groups {
                    groups.rows.truncate(n);
                } else if self.aggs.is_empty() {
                    self.hits.truncate(n);
                } else {
                    match self.aggs.first_mut().map(|a| &mut a.value) {
                        Some(AggValue::Top { rows, .. }) => rows.truncate(n),
                        Some(AggValue::Rare(summary)) => summary.rows.truncate(n),
                        _ => {}
                    }
                }
            }
            // Workers fill each hit's fields; nothing to do to the merged answer.
            Post::Fields(_) => {}
            Post::Sort(keys) => self.sort(keys),
            Post::Dedup {
                fields,
                keep_events,
            } => self.dedup(fields, *keep_events),
            Post::Table(columns) => {
                // The events' columns are what workers filled; rows keep the named ones.
                if let Some(groups) = &mut self.groups {
                    groups.keep_columns(columns);
                } else if !matches!(
                    self.aggs.first().map(|a| &a.value),
                    Some(AggValue::Top { .. } | AggValue::Rare(_))
                ) {
                    pick_columns(&mut self.aggs, columns);
                }
            }
            Post::Tail(n) => {
                let n = *n as usize;
                let keep_last = |len: usize| len.saturating_sub(n);
                if let Some(groups) = &mut self.groups {
                    groups.rows.drain(..keep_last(groups.rows.len()));
                } else {
                    match self.aggs.first_mut().map(|a| &mut a.value) {
                        Some(AggValue::Top { rows, .. }) => {
                            rows.drain(..keep_last(rows.len()));
                        }
                        Some(AggValue::Rare(summary)) => {
                            summary.rows.drain(..keep_last(summary.rows.len()));
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// The first row (or event) of each combination of `fields`' values; `keep_events`
    /// keeps every event but the fields of those after the first. Events lacking a field
    /// are dropped (kept, with `keep_events`), as in Splunk.
    fn dedup(&mut self, fields: &[String], keep_events: bool) {
        let mut seen = std::collections::HashSet::new();
        if let Some(groups) = &mut self.groups {
            let at: Vec<Option<usize>> = fields
                .iter()
                .map(|f| groups.by.iter().position(|b| b == f))
                .collect();
            groups.rows.retain(|row| {
                let key: Option<Vec<&String>> =
                    at.iter().map(|i| i.and_then(|i| row.key.get(i))).collect();
                key.is_some_and(|key| seen.insert(crate::query::compound_key(&key)))
            });
            return;
        }
        self.hits.retain_mut(|hit| {
            let first = hit.key(fields).is_some_and(|key| seen.insert(key));
            if keep_events && !first {
                for field in fields {
                    hit.fields.remove(field);
                }
            }
            first || keep_events
        });
    }

    /// Orders the rows by `keys` (the parser checked each names a `by` field or an
    /// aggregate). A stable sort: rows equal in every key keep their order.
    fn sort(&mut self, keys: &[SortKey]) {
        if let Some(groups) = &mut self.groups {
            let by = groups.by.clone();
            groups.rows.sort_by(|a, b| {
                compare_by(
                    keys,
                    |key, row: &GroupRow| match by.iter().position(|f| *f == key.name) {
                        Some(i) => Sortable::of_text(row.key.get(i).map(String::as_str)),
                        None => row
                            .aggs
                            .iter()
                            .find(|agg| agg.label == key.name)
                            .map_or(Sortable::Number(None), |agg| agg.value.sortable()),
                    },
                    a,
                    b,
                )
            });
            return;
        }
        match self.aggs.first_mut().map(|a| &mut a.value) {
            Some(AggValue::Top { rows, .. }) => rows.sort_by(|a, b| {
                compare_by(
                    keys,
                    |key, row: &TopRow| match key.name.as_str() {
                        "count" => Sortable::Number(Some(row.estimate as f64)),
                        _ => Sortable::of_text(Some(&row.value)),
                    },
                    a,
                    b,
                )
            }),
            Some(AggValue::Rare(summary)) => summary.rows.sort_by(|a, b| {
                compare_by(
                    keys,
                    |key, row: &RareRow| match key.name.as_str() {
                        "count" => Sortable::Number(Some(row.count as f64)),
                        _ => Sortable::of_text(Some(&row.value)),
                    },
                    a,
                    b,
                )
            }),
            _ => {}
        }
    }
}

/// A row's value for one sort key: numbers order numerically, before text; absent last.
pub(crate) enum Sortable<'a> {
    Number(Option<f64>),
    Text(&'a str),
}

impl<'a> Sortable<'a> {
    pub(crate) fn of_text(text: Option<&'a str>) -> Sortable<'a> {
        match text {
            Some(t) => match t.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Sortable::Number(Some(n)),
                _ => Sortable::Text(t),
            },
            None => Sortable::Number(None),
        }
    }

    fn order(&self, other: &Sortable<'_>) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (self, other) {
            (Sortable::Number(Some(a)), Sortable::Number(Some(b))) => a.total_cmp(b),
            (Sortable::Text(a), Sortable::Text(b)) => a.cmp(b),
            (Sortable::Number(None), Sortable::Number(None)) => Ordering::Equal,
            // Absent last, whichever the direction: handled by the caller.
            (Sortable::Number(None), _) => Ordering::Greater,
            (_, Sortable::Number(None)) => Ordering::Less,
            (Sortable::Number(Some(_)), Sortable::Text(_)) => Ordering::Less,
            (Sortable::Text(_), Sortable::Number(Some(_))) => Ordering::Greater,
        }
    }
}

pub(crate) fn compare_by<'r, R>(
    keys: &[SortKey],
    value: impl Fn(&SortKey, &'r R) -> Sortable<'r>,
    a: &'r R,
    b: &'r R,
) -> std::cmp::Ordering {
    for key in keys {
        let (x, y) = (value(key, a), value(key, b));
        let absent = |s: &Sortable<'_>| matches!(s, Sortable::Number(None));
        let ordering = if absent(&x) || absent(&y) {
            x.order(&y)
        } else if key.descending {
            y.order(&x)
        } else {
            x.order(&y)
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    std::cmp::Ordering::Equal
}
