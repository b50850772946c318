//! A `Partial` is what one scan task returns for one query: the matching-event count, one
//! sketch state per aggregate (per group and time bucket when the query asks), the newest
//! matching events (hits), and scan statistics.
//! Partials merge associatively and commutatively, so workers, the gateway and the browser
//! may combine them in any order.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggs, Group, Groups, MAX_GROUPS, TimeSeries};
use crate::query::{Agg, Command, Fields, Query, StatKind, split_compound_key};
use crate::result::{AggResult, AggValue, GroupRow, GroupsResult, Point, QueryResult, Series};
use crate::sketch::{
    DistinctCount, NumericSummary, QUANTILE_RELATIVE_ERROR, Quantiles, RareItems, SketchError, TopK,
};

/// File errors kept in full; beyond this only the count grows (10,000 corrupt files must
/// not make a 10,000-line frame).
pub const MAX_FILE_ERRORS: usize = 100;
/// Matching events an answer keeps by default: the newest by (time, file, line) — file
/// names in a lake sort by time too. A request may ask for more (`Query::hits`).
pub const MAX_HITS: usize = 100;
/// The most matching events a request may ask for (the page's events list).
pub const MAX_HITS_LIMIT: usize = 100_000;
/// The most text the kept events may hold together, whatever their number: 100,000
/// CloudTrail events of 4 KB must not make a 400 MB answer.
pub const MAX_HITS_TEXT: usize = 32 << 20;
/// A hit's text is cut to this many bytes (at a character boundary): a 1 MiB line must not
/// make a 100 MiB frame.
pub const MAX_HIT_BYTES: usize = 4096;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Partial {
    /// Every matching event: the count, one state per aggregate, and a `timechart`'s series.
    pub all: Group,
    /// Per value of the `by` fields, when the query has them.
    pub groups: Option<Groups>,
    /// Matching events per time bucket, for every query: the histogram a user brushes to
    /// narrow the time range. Counts only, so it costs a bucket lookup per match.
    pub timeline: TimeSeries,
    /// How many of the newest matching events this partial keeps (the query's `hits`).
    pub hit_limit: u32,
    /// The newest `hit_limit` matching events by (time, file, line), ascending, holding at
    /// most `MAX_HITS_TEXT` bytes of text.
    pub hits: Vec<Hit>,
    pub stats: ScanStats,
}

/// One matching event as read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hit {
    /// The event's time, epoch milliseconds, when its format has one.
    pub time: Option<i64>,
    /// The data file, relative to the data root.
    pub file: String,
    /// 1-based line number in the (decompressed) file.
    pub line: u64,
    /// The event's text, at most `MAX_HIT_BYTES` (`truncated` says if cut).
    pub text: String,
    pub truncated: bool,
    /// The values of `| fields a, b` (absent fields left out).
    pub fields: BTreeMap<String, String>,
}

impl Hit {
    /// A hit without a time or fields.
    pub fn new(file: &str, line: u64, text: &str) -> Hit {
        Hit {
            time: None,
            file: file.to_string(),
            line,
            text: text.to_string(),
            truncated: false,
            fields: BTreeMap::new(),
        }
    }

    /// The hit with its text cut to `MAX_HIT_BYTES` (at a character boundary), flagged.
    fn cut(mut self) -> Hit {
        let mut end = self.text.len().min(MAX_HIT_BYTES);
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        self.truncated |= end < self.text.len();
        self.text.truncate(end);
        self
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AggState {
    /// `count` is the matched count; nothing more to carry.
    Count,
    Distinct(DistinctCount),
    Top(TopK),
    Rare(RareItems),
    /// Exact count, sum, min and max of a field's numeric values (for sum/min/max/avg).
    Numeric(NumericSummary),
    Quantile(Quantiles),
}

/// What a scan read. Sums merge exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanStats {
    /// Data files scanned (including those that failed part-way).
    pub files: u64,
    /// Bytes of those files as stored (compressed).
    pub bytes: u64,
    /// Of those bytes, how many were read: all of a plain file, the pages of a segment
    /// that its index could not rule out.
    pub bytes_read: u64,
    /// Pages of indexed segments considered, and how many of them the index ruled out.
    pub pages: u64,
    pub pages_pruned: u64,
    /// Records read.
    pub records: u64,
    /// Lines that were not valid records: counted, skipped.
    pub malformed: u64,
    /// Files that could not be read to the end.
    pub failed_files: u64,
    /// The first `MAX_FILE_ERRORS` of those failures, ordered by file.
    pub errors: Vec<FileError>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileError {
    pub file: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("partials are for different queries ({left} vs {right} aggregates)")]
    Shape { left: usize, right: usize },
    #[error("aggregate {index} differs in kind between partials")]
    Kind { index: usize },
    #[error("partials are for different queries (one is grouped, the other not)")]
    Grouping,
    #[error(transparent)]
    Sketch(#[from] SketchError),
}

impl AggState {
    pub fn new(agg: &Agg) -> Self {
        match agg {
            Agg::Count => AggState::Count,
            Agg::Distinct { .. } => AggState::Distinct(DistinctCount::new()),
            Agg::Top { .. } => AggState::Top(TopK::new()),
            Agg::Rare { .. } => AggState::Rare(RareItems::new()),
            Agg::Stat { .. } => AggState::Numeric(NumericSummary::default()),
            Agg::Quantile { .. } => AggState::Quantile(Quantiles::new()),
        }
    }

    /// Feeds one field value of a matching event (canonical text form).
    /// One event's value of the aggregate's field, at `time` (epoch ms) when it has one.
    pub fn update(&mut self, value: &str, time: Option<i64>) {
        match self {
            AggState::Count => {}
            AggState::Distinct(dc) => dc.update(value.as_bytes()),
            AggState::Top(top) => top.update(value),
            AggState::Rare(rare) => rare.update(value, time),
            AggState::Numeric(summary) => summary.update(value),
            AggState::Quantile(quantiles) => {
                if let Ok(number) = value.parse::<f64>() {
                    quantiles.update(number);
                }
            }
        }
    }

    /// Same kinds only (`Aggs::merge` checks before calling).
    pub(crate) fn merge(&mut self, other: &AggState) -> Result<(), SketchError> {
        match (self, other) {
            (AggState::Distinct(a), AggState::Distinct(b)) => a.merge(b),
            (AggState::Top(a), AggState::Top(b)) => a.merge(b)?,
            (AggState::Rare(a), AggState::Rare(b)) => a.merge(b),
            (AggState::Numeric(a), AggState::Numeric(b)) => a.merge(b),
            (AggState::Quantile(a), AggState::Quantile(b)) => a.merge(b)?,
            _ => {}
        }
        Ok(())
    }

    /// The answer of aggregate `agg` from this state; `matched` is the events it saw.
    fn value(&self, agg: &Agg, matched: u64) -> AggValue {
        match (agg, self) {
            (Agg::Top { n, fields }, AggState::Top(top)) => {
                let mut rows = top.top(*n as usize);
                if fields.len() > 1 {
                    for row in &mut rows {
                        if let Some(parts) = split_compound_key(&row.value) {
                            row.value = parts.join(" → ");
                            row.values = parts;
                        }
                    }
                    // Ties by the values, as a single field's are.
                    rows.sort_by(|a, b| {
                        b.estimate
                            .cmp(&a.estimate)
                            .then_with(|| a.values.cmp(&b.values))
                    });
                }
                AggValue::Top {
                    rows,
                    maximum_error: top.maximum_error(),
                }
            }
            (_, AggState::Distinct(dc)) => AggValue::Distinct(dc.estimate()),
            (Agg::Rare { n, .. }, AggState::Rare(rare)) => {
                AggValue::Rare(rare.summary(*n as usize))
            }
            (Agg::Stat { kind, .. }, AggState::Numeric(summary)) => AggValue::Number {
                value: match kind {
                    StatKind::Sum => summary.sum(),
                    StatKind::Min => summary.min(),
                    StatKind::Max => summary.max(),
                    StatKind::Avg => summary.avg(),
                },
            },
            (Agg::Quantile { hundredths, .. }, AggState::Quantile(quantiles)) => {
                AggValue::Quantile {
                    value: quantiles.quantile(f64::from(*hundredths) / 10_000.0),
                    relative_error: QUANTILE_RELATIVE_ERROR,
                }
            }
            // `count`; states are built from the same query, so kinds always pair up.
            _ => AggValue::Count { value: matched },
        }
    }
}

/// Builds one partial from matching events: resolves each aggregate's and `by` field once,
/// and routes every event to its group and time bucket.
#[derive(Debug, Clone)]
pub struct Aggregator {
    aggs: Vec<Agg>,
    by: Vec<String>,
    template: Group,
    partial: Partial,
    /// The last event's values buffer, kept for the next one's.
    spare: Vec<Option<Cow<'static, str>>>,
    /// Matches counted in the timeline bucket `[start, end)` and not yet added to it: a
    /// file's events come mostly in time order, so most land in the last one's bucket,
    /// and counting there skips a map lookup per event.
    hot: Option<(i64, i64, u64)>,
}

/// An empty buffer with the allocation of `values`, for values of another lifetime: the
/// collect reuses it in place, and no element survives to carry the old borrow.
pub fn recycle<'b>(mut values: Vec<Option<Cow<'_, str>>>) -> Vec<Option<Cow<'b, str>>> {
    values.clear();
    values.into_iter().map(|_| None).collect()
}

impl Aggregator {
    /// Time bounds still relative (`-7d`) are taken as open: the gateway resolves them
    /// once per query (`Query::resolve_time`) so every worker buckets alike.
    pub fn new(query: &Query) -> Aggregator {
        let aggs = query.aggs();
        let series = match &query.command {
            Some(Command::Timechart { span, .. }) => {
                Some(TimeSeries::new(*span, query.time_range_if_absolute()))
            }
            _ => None,
        };
        let template = Group {
            key: Vec::new(),
            totals: Aggs::new(&aggs),
            series,
        };
        let groups = (!query.by().is_empty()).then(|| Groups::new(&template));
        Aggregator {
            by: query.by().to_vec(),
            partial: Partial {
                all: template.clone(),
                groups,
                timeline: TimeSeries::new(None, query.time_range_if_absolute()),
                hit_limit: query.hit_limit() as u32,
                hits: Vec::new(),
                stats: ScanStats::default(),
            },
            aggs,
            template,
            spare: Vec::new(),
            hot: None,
        }
    }

    /// One matching event, at `time` (epoch ms) when it has one.
    pub fn add(&mut self, event: &impl Fields, time: Option<i64>) {
        let mut values = recycle(std::mem::take(&mut self.spare));
        values.extend(self.aggs.iter().map(|agg| agg.value(event)));
        self.partial.all.add(&values, time, &self.template.totals);
        match (time, &mut self.hot) {
            (Some(t), Some((start, end, n))) if *start <= t && t < *end => *n += 1,
            (Some(t), _) => {
                self.flush_timeline();
                let (start, end) = self.partial.timeline.bounds(t);
                self.hot = Some((start, end, 1));
            }
            (None, _) => self.partial.timeline.untimed += 1,
        }
        if let Some(groups) = &mut self.partial.groups {
            // Like Splunk: an event without every `by` field is in no group.
            let key: Option<Vec<Cow<'_, str>>> = self.by.iter().map(|f| event.get(f)).collect();
            if let Some(key) = key {
                groups.add(&key, &values, time, &self.template);
            }
        }
        self.spare = recycle(values);
    }

    /// Adds the hot bucket's count to the timeline. Its events all lie in one bucket of
    /// the span it was taken at, so they share a bucket at any wider span too.
    fn flush_timeline(&mut self) {
        if let Some((start, _, n)) = self.hot.take() {
            self.partial.timeline.count_at(start, n);
        }
    }

    pub fn stats_mut(&mut self) -> &mut ScanStats {
        &mut self.partial.stats
    }

    pub fn finish(mut self) -> Partial {
        self.flush_timeline();
        self.partial
    }
}

impl Partial {
    /// An empty partial for `query`.
    pub fn new(query: &Query) -> Self {
        Aggregator::new(query).finish()
    }

    /// Events that matched.
    pub fn matched(&self) -> u64 {
        self.all.totals.matched
    }

    /// Records matching events (each cut to `MAX_HIT_BYTES`), keeping the newest
    /// `hit_limit` of them and of those already kept.
    pub fn add_hits(&mut self, hits: impl IntoIterator<Item = Hit>) {
        let mut hits: Vec<Hit> = hits.into_iter().map(Hit::cut).collect();
        hits.sort();
        let kept = std::mem::take(&mut self.hits);
        self.hits = newest(kept, &hits, self.hit_limit as usize);
    }

    /// A partial of another query leaves `self` unchanged.
    pub fn merge(&mut self, other: &Partial) -> Result<(), MergeError> {
        if self.groups.is_some() != other.groups.is_some() {
            return Err(MergeError::Grouping);
        }
        self.all.merge(&other.all)?;
        if let (Some(a), Some(b)) = (&mut self.groups, &other.groups) {
            a.merge(b)?;
        }
        self.timeline.merge(&other.timeline)?;
        // Sorted, deduplicated, the newest within the limits: the same whatever the merge
        // order (each side kept at least its part of the merged newest).
        self.hit_limit = self
            .hit_limit
            .max(other.hit_limit)
            .min(MAX_HITS_LIMIT as u32);
        let kept = std::mem::take(&mut self.hits);
        self.hits = newest(kept, &other.hits, self.hit_limit as usize);
        self.stats.merge(&other.stats);
        Ok(())
    }

    /// The answer as a user sees it: estimates with bounds, in the query's order, with
    /// `where`, `head` and `fields` applied.
    pub fn result(&self, query: &Query) -> QueryResult {
        self.answer(query, self.hits.iter().rev().cloned().collect())
    }

    /// The answer without its events (`hits` empty; their limit still said): for a page
    /// that reads the events where they are, not a copy of 100,000 of them per frame.
    pub fn result_without_hits(&self, query: &Query) -> QueryResult {
        self.answer(query, Vec::new())
    }

    fn answer(&self, query: &Query, hits: Vec<Hit>) -> QueryResult {
        let aggs = query.aggs();
        let mut result = QueryResult {
            query: query.to_string(),
            matched: self.matched(),
            aggs: aggs_result(&aggs, &self.all.totals),
            series: self.all.series.as_ref().map(|s| series_result(&aggs, s)),
            timeline: series_result(&[], &self.timeline),
            groups: self.groups.as_ref().map(|g| groups_result(query, &aggs, g)),
            hits,
            stats: self.stats.clone(),
            limits: Vec::new(),
        };
        if !self.hits.is_empty() && result.matched > self.hits.len() as u64 {
            result.limits.push(format!(
                "the events list keeps the newest {} of {} matching events",
                self.hits.len(),
                result.matched
            ));
        }
        if let Some(other) = result.groups.as_ref().and_then(|g| g.other.as_ref()) {
            result.limits.push(format!(
                "more than {MAX_GROUPS} groups: {MAX_GROUPS} are named, and the {} events of \
                 the rest are summed in \"other\"",
                other.matched
            ));
        }
        for post in &query.post {
            result.apply(post);
        }
        result
    }
}

fn aggs_result(aggs: &[Agg], totals: &Aggs) -> Vec<AggResult> {
    aggs.iter()
        .zip(&totals.states)
        .map(|(agg, state)| AggResult {
            label: agg.label(),
            value: state.value(agg, totals.matched),
        })
        .collect()
}

fn series_result(aggs: &[Agg], series: &TimeSeries) -> Series {
    Series {
        span_seconds: series.span(),
        untimed: series.untimed,
        points: series
            .buckets()
            .map(|(time, bucket)| Point {
                time,
                matched: bucket.matched,
                value: aggs.first().zip(bucket.states.first()).map_or(
                    AggValue::Count {
                        value: bucket.matched,
                    },
                    |(agg, state)| state.value(agg, bucket.matched),
                ),
            })
            .collect(),
    }
}

fn groups_result(query: &Query, aggs: &[Agg], groups: &Groups) -> GroupsResult {
    let row = |group: &Group| GroupRow {
        key: group.key.clone(),
        matched: group.totals.matched,
        aggs: aggs_result(aggs, &group.totals),
        series: group.series.as_ref().map(|s| series_result(aggs, s)),
    };
    let mut rows: Vec<GroupRow> = groups.named().map(row).collect();
    rows.sort_by(|a, b| b.matched.cmp(&a.matched).then_with(|| a.key.cmp(&b.key)));
    GroupsResult {
        by: query.by().to_vec(),
        rows,
        other: (groups.other.totals.matched > 0).then(|| row(&groups.other)),
        complete: groups.complete(),
    }
}

impl ScanStats {
    pub fn merge(&mut self, other: &ScanStats) {
        self.files = self.files.saturating_add(other.files);
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.bytes_read = self.bytes_read.saturating_add(other.bytes_read);
        self.pages = self.pages.saturating_add(other.pages);
        self.pages_pruned = self.pages_pruned.saturating_add(other.pages_pruned);
        self.records = self.records.saturating_add(other.records);
        self.malformed = self.malformed.saturating_add(other.malformed);
        self.failed_files = self.failed_files.saturating_add(other.failed_files);
        // Sorted, deduplicated, truncated: the same whatever the merge order.
        self.errors.extend(other.errors.iter().cloned());
        self.errors.sort();
        self.errors.dedup();
        self.errors.truncate(MAX_FILE_ERRORS);
    }

    /// Records a file that failed part-way (or entirely).
    pub fn add_error(&mut self, file: impl Into<String>, message: impl Into<String>) {
        self.failed_files += 1;
        self.merge(&ScanStats {
            errors: vec![FileError {
                file: file.into(),
                message: message.into(),
            }],
            ..ScanStats::default()
        });
    }
}

/// The newest of two ascending, deduplicated lists of hits, ascending: at most `limit`,
/// and at most `MAX_HITS_TEXT` bytes of text. Walks both from their newest ends; `a`'s
/// hits are moved, and only what is kept of `b` is copied.
fn newest(mut a: Vec<Hit>, b: &[Hit], limit: usize) -> Vec<Hit> {
    let mut j = b.len();
    let mut kept: Vec<Hit> = Vec::new();
    let mut text = 0;
    while kept.len() < limit {
        let next = match (a.last(), j.checked_sub(1)) {
            (None, None) => break,
            (Some(_), None) => a.pop(),
            (None, Some(y)) => {
                j = y;
                Some(b[y].clone())
            }
            (Some(x), Some(y)) => match x.cmp(&b[y]) {
                Ordering::Greater => a.pop(),
                Ordering::Less => {
                    j = y;
                    Some(b[y].clone())
                }
                Ordering::Equal => {
                    j = y;
                    a.pop()
                }
            },
        };
        let Some(next) = next else { break };
        if kept.last() == Some(&next) {
            continue;
        }
        text += next.text.len();
        if text > MAX_HITS_TEXT {
            break;
        }
        kept.push(next);
    }
    kept.reverse();
    kept
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::query::parse;

    /// An event as field → value.
    struct Event(HashMap<&'static str, String>);

    impl Fields for Event {
        fn get(&self, field: &str) -> Option<Cow<'_, str>> {
            self.0.get(field).map(|v| Cow::Borrowed(v.as_str()))
        }
    }

    fn event(pairs: &[(&'static str, &str)]) -> Event {
        Event(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
    }

    /// `parts` merged first to last and last to first.
    fn merged_both_ways(query: &Query, parts: &[Partial]) -> (Partial, Partial) {
        let mut forward = Partial::new(query);
        let mut backward = Partial::new(query);
        for p in parts {
            forward.merge(p).unwrap();
        }
        for p in parts.iter().rev() {
            backward.merge(p).unwrap();
        }
        (forward, backward)
    }

    fn partial(query: &Query, values: &[&str]) -> Partial {
        let mut a = Aggregator::new(query);
        for v in values {
            a.add(&event(&[("x", v)]), None);
        }
        a.finish()
    }

    #[test]
    fn merge_adds_counts_and_sketches() {
        let q = parse("| stats count, dc(x)").unwrap();
        let mut a = partial(&q, &["a", "b"]);
        a.merge(&partial(&q, &["b", "c", "d"])).unwrap();
        let r = a.result(&q);
        assert_eq!(r.matched, 5);
        assert_eq!(r.aggs[0].value, AggValue::Count { value: 5 });
        match &r.aggs[1].value {
            AggValue::Distinct(e) => assert_eq!(e.estimate.round(), 4.0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn numeric_aggregates_and_quantiles_merge() {
        let q = parse("| stats sum(x), avg(x), min(x), max(x), p50(x)").unwrap();
        let mut a = partial(&q, &["1", "2", "oops", "3"]);
        a.merge(&partial(&q, &["4", "100"])).unwrap();
        let values: Vec<Option<f64>> = a
            .result(&q)
            .aggs
            .into_iter()
            .map(|r| r.value.number())
            .collect();
        assert_eq!(
            values[..4],
            [Some(110.0), Some(22.0), Some(1.0), Some(100.0)]
        );
        let p50 = values[4].unwrap();
        assert!((p50 - 3.0).abs() <= 0.03, "{p50}");
    }

    #[test]
    fn a_top_over_two_fields_counts_their_pairs() {
        let q = parse("| top 10 src, dst").unwrap();
        let mut a = Aggregator::new(&q);
        let flows = [
            ("10.0.0.1", "8.8.8.8"),
            ("10.0.0.1", "8.8.8.8"),
            ("10.0.0.1", "1.1.1.1"),
            // A separator-like value splits back exactly.
            ("a → b", "1:c"),
        ];
        for (src, dst) in flows {
            a.add(&event(&[("src", src), ("dst", dst)]), None);
        }
        // Without both fields an event is in no pair (it still matched).
        a.add(&event(&[("src", "10.0.0.9")]), None);
        let r = a.finish().result(&q);
        assert_eq!(r.matched, 5);
        let AggValue::Top { rows, .. } = &r.aggs[0].value else {
            panic!("{:?}", r.aggs[0])
        };
        let rows: Vec<(&str, Vec<&str>, u64)> = rows
            .iter()
            .map(|r| {
                let parts = r.values.iter().map(String::as_str).collect();
                (r.value.as_str(), parts, r.estimate)
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("10.0.0.1 → 8.8.8.8", vec!["10.0.0.1", "8.8.8.8"], 2),
                ("10.0.0.1 → 1.1.1.1", vec!["10.0.0.1", "1.1.1.1"], 1),
                ("a → b → 1:c", vec!["a → b", "1:c"], 1),
            ]
        );
    }

    #[test]
    fn merge_rejects_partials_of_another_query() {
        let a = parse("| stats count, dc(x)").unwrap();
        let b = parse("| top 3 x").unwrap();
        let mut pa = Partial::new(&a);
        assert!(matches!(
            pa.merge(&Partial::new(&b)),
            Err(MergeError::Shape { .. })
        ));
        let c = parse("| stats dc(x), count").unwrap();
        assert!(matches!(
            pa.merge(&Partial::new(&c)),
            Err(MergeError::Kind { index: 0 })
        ));
        let d = parse("| stats count, dc(x) by y").unwrap();
        assert!(matches!(
            pa.merge(&Partial::new(&d)),
            Err(MergeError::Grouping)
        ));
    }

    #[test]
    fn groups_are_exact_and_sorted_by_size() {
        let q = parse("| stats count, dc(x) by action, port | where count > 1").unwrap();
        let mut a = Aggregator::new(&q);
        for (action, port, x) in [
            ("ACCEPT", "22", "a"),
            ("REJECT", "22", "a"),
            ("REJECT", "22", "b"),
            ("REJECT", "443", "c"),
            ("ACCEPT", "22", "d"),
            ("ACCEPT", "22", "d"),
        ] {
            a.add(
                &event(&[("action", action), ("port", port), ("x", x)]),
                None,
            );
        }
        // No `port`: counted in the totals, in no group.
        a.add(&event(&[("action", "ACCEPT")]), None);
        let r = a.finish().result(&q);
        assert_eq!(r.matched, 7);
        let groups = r.groups.unwrap();
        assert!(groups.complete && groups.other.is_none());
        let rows: Vec<(Vec<String>, u64)> = groups
            .rows
            .iter()
            .map(|g| (g.key.clone(), g.matched))
            .collect();
        // REJECT/443 (one event) is filtered out by `where count > 1`.
        assert_eq!(
            rows,
            [
                (vec!["ACCEPT".into(), "22".into()], 3),
                (vec!["REJECT".into(), "22".into()], 2)
            ]
        );
        assert_eq!(
            groups.rows[0].aggs[1].value.number().map(f64::round),
            Some(2.0)
        );
    }

    #[test]
    fn too_many_groups_keep_a_consistent_sample_whatever_the_merge_order() {
        let q = parse("| stats count by k").unwrap();
        let build = |range: std::ops::Range<u32>| {
            let mut a = Aggregator::new(&q);
            for i in range {
                // Every key twice, in different partials for odd keys.
                a.add(&event(&[("k", &format!("k{}", i % 900))]), None);
            }
            a.finish()
        };
        let parts = [build(0..700), build(700..1300), build(1300..1800)];
        let (forward, backward) = merged_both_ways(&q, &parts);
        let (f, b) = (forward.result(&q), backward.result(&q));
        assert_eq!(f, b);
        let groups = f.groups.unwrap();
        assert_eq!(groups.rows.len(), MAX_GROUPS);
        assert!(!groups.complete);
        // Named groups are exact: each key was seen twice.
        assert!(groups.rows.iter().all(|r| r.matched == 2));
        let other = groups.other.unwrap().matched;
        assert_eq!(other + 2 * MAX_GROUPS as u64, 1800);
        // The answer says so, in words.
        assert_eq!(
            f.limits,
            [format!(
                "more than 500 groups: 500 are named, and the {other} events of the rest are \
                 summed in \"other\""
            )]
        );
    }

    #[test]
    fn timechart_buckets_by_span_and_coarsens_to_fit() {
        let q = parse("| timechart span=1m count").unwrap();
        let hour = 3_600_000;
        let mut a = Aggregator::new(&q);
        for minute in 0..3 {
            for _ in 0..=minute {
                a.add(&event(&[]), Some(10 * hour + minute * 60_000 + 5_000));
            }
        }
        a.add(&event(&[]), None);
        let r = a.finish().result(&q);
        let series = r.series.unwrap();
        assert_eq!(series.span_seconds, 60);
        assert_eq!(series.untimed, 1);
        let points: Vec<(i64, u64)> = series.points.iter().map(|p| (p.time, p.matched)).collect();
        assert_eq!(
            points,
            [
                (10 * hour, 1),
                (10 * hour + 60_000, 2),
                (10 * hour + 120_000, 3)
            ]
        );

        // 3,000 distinct minutes exceed the 2,000-bucket limit: 5-minute buckets.
        let mut a = Aggregator::new(&q);
        let mut b = Aggregator::new(&q);
        for minute in 0..3000 {
            let target = if minute % 2 == 0 { &mut a } else { &mut b };
            target.add(&event(&[]), Some(minute * 60_000));
        }
        let (a, b) = (a.finish(), b.finish());
        let mut ab = a.clone();
        ab.merge(&b).unwrap();
        let mut ba = b.clone();
        ba.merge(&a).unwrap();
        let (ab, ba) = (ab.result(&q).series.unwrap(), ba.result(&q).series.unwrap());
        assert_eq!(ab, ba);
        assert_eq!(ab.span_seconds, 300);
        assert_eq!(ab.points.len(), 600);
        assert!(ab.points.iter().all(|p| p.matched == 5));
    }

    #[test]
    fn every_query_has_a_timeline_of_its_matches() {
        let q = parse("| top 3 x").unwrap();
        let day = 86_400_000;
        // Two workers' events interleaved over 300 hours, one without a time. Unbounded, the
        // span starts at a second and widens while more than 200 buckets are needed.
        let mut a = Aggregator::new(&q);
        let mut b = Aggregator::new(&q);
        for hour in 0..300 {
            let target = if hour % 2 == 0 { &mut a } else { &mut b };
            target.add(&event(&[("x", "v")]), Some(hour * 3_600_000 + 1));
        }
        b.add(&event(&[("x", "v")]), None);
        let (a, b) = (a.finish(), b.finish());
        let (ab, ba) = merged_both_ways(&q, &[a, b]);
        let (ab, ba) = (ab.result(&q).timeline, ba.result(&q).timeline);
        assert_eq!(ab, ba);
        assert_eq!(ab.untimed, 1);
        assert_eq!(ab.span_seconds, 3 * 3600);
        assert_eq!(ab.points.len(), 100);
        assert!(
            ab.points
                .iter()
                .all(|p| p.matched == 3 && p.value == AggValue::Count { value: 3 })
        );

        // A query bounded to one day buckets it in 10 minutes from the first event.
        let mut q = parse("earliest=-1d latest=now x:v").unwrap();
        q.resolve_time(100 * day);
        let mut a = Aggregator::new(&q);
        a.add(&event(&[("x", "v")]), Some(99 * day + 1));
        assert_eq!(a.finish().result(&q).timeline.span_seconds, 600);
    }

    #[test]
    fn timechart_without_span_fits_the_range() {
        let mut q = parse("earliest=-1d latest=now | timechart dc(x) by y").unwrap();
        q.resolve_time(86_400_000 * 100);
        let mut a = Aggregator::new(&q);
        a.add(&event(&[("x", "1"), ("y", "a")]), Some(86_400_000 * 99 + 1));
        let r = a.finish().result(&q);
        let series = r.groups.unwrap().rows[0].series.clone().unwrap();
        // One day in at most 200 buckets: 10 minutes.
        assert_eq!(series.span_seconds, 600);
        assert_eq!(series.points[0].value.number().map(f64::round), Some(1.0));
    }

    #[test]
    fn hits_keep_the_newest_whatever_the_merge_order() {
        let q = parse("").unwrap();
        let file_partial = |file: &str, lines: u64| {
            let mut p = Partial::new(&q);
            p.add_hits((1..=lines).map(|line| Hit::new(file, line, &format!("{file}:{line}"))));
            p
        };
        let parts = [
            file_partial("2026/11/20", 80),
            file_partial("2026/11/22", 30),
            file_partial("2026/11/21", 150),
        ];
        assert_eq!(parts[2].hits.len(), MAX_HITS);
        let (forward, backward) = merged_both_ways(&q, &parts);
        assert_eq!(forward.hits, backward.hits);
        let newest = &forward.result(&q).hits;
        assert_eq!(newest.len(), MAX_HITS);
        assert_eq!(
            (newest[0].file.as_str(), newest[0].line),
            ("2026/11/22", 30)
        );
        // 30 from the 22nd, then the last 70 of the 21st.
        assert_eq!(
            (newest[99].file.as_str(), newest[99].line),
            ("2026/11/21", 81)
        );
        // `head 5` after a plain search: the 5 newest.
        let head = parse("| head 5").unwrap();
        assert_eq!(forward.result(&head).hits[..], newest[..5]);
    }

    #[test]
    fn a_request_keeps_up_to_100_000_events_and_32_mib_of_text() {
        // `head N` after a plain search asks for N; so may a request, by setting `hits`.
        assert_eq!(parse("x | head 50000").unwrap().hits, 50_000);
        assert_eq!(
            parse("x | stats count | head 5").unwrap().hits,
            MAX_HITS as u32
        );
        assert!(parse("x | head 100001").is_err());
        assert!(parse("| stats count | head 5000").is_err());
        let mut q = parse("").unwrap();
        q.hits = 3000;
        let part = |q: &Query, file: &str, n: u64, len: usize| {
            let mut p = Partial::new(q);
            p.add_hits((1..=n).map(|line| Hit::new(file, line, &"x".repeat(len))));
            p
        };
        let parts = [
            part(&q, "a", 2000, 10),
            part(&q, "c", 1500, 10),
            part(&q, "b", 1000, 10),
        ];
        let (forward, backward) = merged_both_ways(&q, &parts);
        assert_eq!(forward.hits, backward.hits);
        assert_eq!(forward.hits.len(), 3000);
        // The newest: all of c's and b's, then the last 500 of a's.
        assert_eq!(
            (forward.hits[0].file.as_str(), forward.hits[0].line),
            ("a", 1501)
        );
        // Text: 4 KiB events stop at 32 MiB, the newest kept, whatever the merge order.
        q.hits = MAX_HITS_LIMIT as u32;
        let big = [part(&q, "a", 6000, 4096), part(&q, "b", 3000, 4096)];
        let (forward, backward) = merged_both_ways(&q, &big);
        assert_eq!(forward.hits, backward.hits);
        assert_eq!(forward.hits.len(), MAX_HITS_TEXT / 4096);
        assert_eq!(
            forward.hits.last().map(|h| (h.file.as_str(), h.line)),
            Some(("b", 3000))
        );
    }

    #[test]
    fn a_long_hit_is_cut_at_a_character_boundary() {
        let q = parse("").unwrap();
        let mut p = Partial::new(&q);
        p.add_hits([Hit::new("f", 1, &"é".repeat(MAX_HIT_BYTES))]);
        let hit = &p.hits[0];
        assert!(
            hit.truncated && hit.text.len() <= MAX_HIT_BYTES && hit.text.len() > MAX_HIT_BYTES - 2
        );
    }

    #[test]
    fn file_errors_are_capped_and_order_independent() {
        let mut a = ScanStats::default();
        let mut b = ScanStats::default();
        for i in 0..150 {
            a.add_error(format!("f{i:03}"), "bad");
            b.add_error(format!("f{:03}", 149 - i), "bad");
        }
        assert_eq!(a, b);
        assert_eq!(a.errors.len(), MAX_FILE_ERRORS);
        assert_eq!(a.failed_files, 150);
    }
}
