//! What a query computes over matching events, in mergeable pieces: [`Aggs`] (a count and
//! one sketch per aggregate), a [`TimeSeries`] of them for `timechart`, and [`Groups`] of
//! them for `by`. Every piece merges associatively and commutatively and is bounded in size
//! whatever the data: a series coarsens its buckets, groups keep a consistent sample.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::limits::{MAX_BUCKETS, MAX_GROUPS};
use crate::query::Agg;
use crate::sketch::{
    DistinctCount, Moments, NumericSummary, Quantiles, RareItems, SketchError, TimedValue, TopK,
    ValueSet,
};

/// Buckets of a `timechart` without `span=`: a chart's worth.
pub const AUTO_BUCKETS: u32 = 200;
/// Bucket widths in seconds, each a multiple of the one before: a series coarsens along it.
pub const SPANS: [u32; 15] = [
    1, 5, 10, 30, 60, 300, 600, 1_800, 3_600, 10_800, 21_600, 43_200, 86_400, 604_800, 2_419_200,
];

/// One aggregate's state: the sketch (or exact summary) its values feed.
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
    /// `count(f)`: the events that had the field. (New variants go last: the variants'
    /// order is their encoding, and minute rollups are stored.)
    Present(u64),
    /// `stdev`, `var` and their population forms.
    Moments(Moments),
    /// `values(f)`.
    Values(ValueSet),
    /// `earliest(f)`: the least (time, value).
    Earliest(Option<TimedValue>),
    /// `latest(f)`: the greatest (time, value).
    Latest(Option<TimedValue>),
}

impl AggState {
    pub fn new(agg: &Agg) -> Self {
        match agg {
            Agg::Count => AggState::Count,
            Agg::Present { .. } => AggState::Present(0),
            Agg::Distinct { .. } => AggState::Distinct(DistinctCount::new()),
            Agg::Top { .. } => AggState::Top(TopK::new()),
            Agg::Rare { .. } => AggState::Rare(RareItems::new()),
            Agg::Stat { kind, .. } if kind.spread() => AggState::Moments(Moments::default()),
            Agg::Stat { .. } => AggState::Numeric(NumericSummary::default()),
            Agg::Mode { .. } => AggState::Top(TopK::new()),
            Agg::Values { .. } => AggState::Values(ValueSet::default()),
            Agg::Earliest { .. } => AggState::Earliest(None),
            Agg::Latest { .. } => AggState::Latest(None),
            Agg::Quantile { .. } => AggState::Quantile(Quantiles::new()),
        }
    }

    /// One event's value of the aggregate's field, at `time` (epoch ms) when it has one.
    pub fn update(&mut self, value: &str, time: Option<i64>) {
        match self {
            AggState::Count => {}
            AggState::Present(n) => *n += 1,
            AggState::Distinct(dc) => dc.update(value.as_bytes()),
            AggState::Top(top) => top.update(value),
            AggState::Rare(rare) => rare.update(value, time),
            AggState::Numeric(summary) => summary.update(value),
            AggState::Moments(moments) => moments.update(value),
            AggState::Values(values) => values.update(value),
            // An event without a time has no place in time order.
            AggState::Earliest(slot) => {
                if let Some(time) = time {
                    TimedValue::keep(slot, time, value, false);
                }
            }
            AggState::Latest(slot) => {
                if let Some(time) = time {
                    TimedValue::keep(slot, time, value, true);
                }
            }
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
            (AggState::Present(a), AggState::Present(b)) => *a = a.saturating_add(*b),
            (AggState::Distinct(a), AggState::Distinct(b)) => a.merge(b),
            (AggState::Top(a), AggState::Top(b)) => a.merge(b)?,
            (AggState::Rare(a), AggState::Rare(b)) => a.merge(b),
            (AggState::Numeric(a), AggState::Numeric(b)) => a.merge(b),
            (AggState::Quantile(a), AggState::Quantile(b)) => a.merge(b)?,
            (AggState::Moments(a), AggState::Moments(b)) => a.merge(b),
            (AggState::Values(a), AggState::Values(b)) => a.merge(b),
            (AggState::Earliest(a), AggState::Earliest(b)) => TimedValue::merge(a, b, false),
            (AggState::Latest(a), AggState::Latest(b)) => TimedValue::merge(a, b, true),
            _ => {}
        }
        Ok(())
    }
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

/// The count of matching events and one state per aggregate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Aggs {
    pub matched: u64,
    pub states: Vec<AggState>,
}

impl Aggs {
    pub fn new(aggs: &[Agg]) -> Aggs {
        Aggs {
            matched: 0,
            states: aggs.iter().map(AggState::new).collect(),
        }
    }

    /// One matching event; `values[i]` is the value of aggregate `i`'s field.
    pub fn add(&mut self, values: &[Option<Cow<'_, str>>], time: Option<i64>) {
        self.matched += 1;
        for (state, value) in self.states.iter_mut().zip(values) {
            if let Some(value) = value {
                state.update(value, time);
            }
        }
    }

    /// Both sides must come from the same query: a shape error leaves `self` unchanged (a
    /// sketch's own error, from crafted bytes, may come after others merged).
    pub fn merge(&mut self, other: &Aggs) -> Result<(), MergeError> {
        self.check_shape(other)?;
        for (a, b) in self.states.iter_mut().zip(&other.states) {
            a.merge(b)?;
        }
        self.matched = self.matched.saturating_add(other.matched);
        Ok(())
    }

    fn check_shape(&self, other: &Aggs) -> Result<(), MergeError> {
        if self.states.len() != other.states.len() {
            return Err(MergeError::Shape {
                left: self.states.len(),
                right: other.states.len(),
            });
        }
        for (index, (a, b)) in self.states.iter().zip(&other.states).enumerate() {
            if std::mem::discriminant(a) != std::mem::discriminant(b) {
                return Err(MergeError::Kind { index });
            }
        }
        Ok(())
    }
}

/// `Aggs` per time bucket. Buckets are `span` seconds wide with edges on multiples of the
/// span since the epoch; when more than `limit` buckets are occupied the span steps up the
/// `SPANS` ladder (each width a multiple of the one before, so a coarse bucket is a union of
/// fine ones). The span a merge ends at is the narrowest that fits every event of all its
/// inputs, whatever the order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "SeriesWire")]
pub struct TimeSeries {
    span: u32,
    limit: u32,
    /// Keyed by bucket start, epoch milliseconds.
    buckets: BTreeMap<i64, Aggs>,
    /// Matching events without a timestamp: counted here, not charted.
    pub untimed: u64,
}

#[derive(Deserialize)]
struct SeriesWire {
    span: u32,
    limit: u32,
    buckets: BTreeMap<i64, Aggs>,
    untimed: u64,
}

impl TryFrom<SeriesWire> for TimeSeries {
    type Error = SketchError;

    fn try_from(w: SeriesWire) -> Result<Self, SketchError> {
        let bad = |m: String| Err(SketchError::new("time series", m));
        if w.span == 0 || w.limit == 0 || w.limit > MAX_BUCKETS {
            return bad(format!("span {} s, limit {}", w.span, w.limit));
        }
        if w.buckets.len() > w.limit as usize {
            return bad(format!(
                "{} buckets over the limit {}",
                w.buckets.len(),
                w.limit
            ));
        }
        let width = i64::from(w.span) * 1000;
        if w.buckets.keys().any(|start| start % width != 0) {
            return bad("a bucket is not aligned to the span".to_string());
        }
        Ok(TimeSeries {
            span: w.span,
            limit: w.limit,
            buckets: w.buckets,
            untimed: w.untimed,
        })
    }
}

impl TimeSeries {
    /// An explicit `span=` (seconds) is kept while at most `MAX_BUCKETS` are needed;
    /// without one the span is the narrowest on the ladder that shows `range` (epoch ms,
    /// when the query bounds it) in `AUTO_BUCKETS`, and widens as the data needs.
    pub fn new(span: Option<u32>, range: (Option<i64>, Option<i64>)) -> TimeSeries {
        let (span, limit) = match (span, range) {
            (Some(span), _) => (span.max(1), MAX_BUCKETS),
            (None, (Some(start), Some(end))) if end > start => {
                let needed = |s: u32| end.saturating_sub(start).div_euclid(i64::from(s) * 1000) + 2;
                let span = SPANS
                    .into_iter()
                    .find(|&s| needed(s) <= i64::from(AUTO_BUCKETS))
                    .unwrap_or(SPANS[SPANS.len() - 1]);
                (span, AUTO_BUCKETS)
            }
            (None, _) => (SPANS[0], AUTO_BUCKETS),
        };
        TimeSeries {
            span,
            limit,
            buckets: BTreeMap::new(),
            untimed: 0,
        }
    }

    /// Bucket width in seconds.
    pub fn span(&self) -> u32 {
        self.span
    }

    /// `(bucket start in epoch ms, aggregates)`, oldest first.
    pub fn buckets(&self) -> impl Iterator<Item = (i64, &Aggs)> {
        self.buckets.iter().map(|(t, a)| (*t, a))
    }

    fn start_of(&self, time_ms: i64) -> i64 {
        let width = i64::from(self.span) * 1000;
        // Saturating: a wild time within a bucket of i64's end (a log's year -292 billion,
        // found by the `csv` fuzz target) goes in the first bucket, not past the end.
        time_ms.saturating_sub(time_ms.rem_euclid(width))
    }

    /// The bucket of `time_ms`, created from `template` if new; `None` only for a time so
    /// far out that no span fits it in the limit.
    pub fn bucket(&mut self, time_ms: i64, template: &Aggs) -> Option<&mut Aggs> {
        while !self.buckets.contains_key(&self.start_of(time_ms))
            && self.buckets.len() >= self.limit as usize
        {
            if !self.widen() {
                return None;
            }
        }
        let start = self.start_of(time_ms);
        Some(
            self.buckets
                .entry(start)
                .or_insert_with(|| template.clone()),
        )
    }

    /// `n` events at `time_ms` in a count-only series (a partial's timeline).
    pub fn count_at(&mut self, time_ms: i64, n: u64) {
        match self.bucket(time_ms, &Aggs::new(&[])) {
            Some(bucket) => bucket.matched += n,
            None => self.untimed += n,
        }
    }

    /// `[start, end)` of the bucket `time_ms` falls in at the current span, epoch ms.
    pub fn bounds(&self, time_ms: i64) -> (i64, i64) {
        let start = self.start_of(time_ms);
        (start, start + i64::from(self.span) * 1000)
    }

    /// Steps the span up the ladder (then doubles it past the ladder's end).
    fn widen(&mut self) -> bool {
        let next = SPANS
            .into_iter()
            .find(|&s| s > self.span && s % self.span == 0)
            .unwrap_or(self.span.saturating_mul(2));
        if next == self.span {
            return false;
        }
        self.rebucket(next);
        true
    }

    /// Re-buckets at `span`, a multiple of the current one.
    fn rebucket(&mut self, span: u32) {
        let old = std::mem::take(&mut self.buckets);
        self.span = span;
        for (start, aggs) in old {
            let start = self.start_of(start);
            match self.buckets.entry(start) {
                Entry::Vacant(e) => {
                    e.insert(aggs);
                }
                Entry::Occupied(mut e) => {
                    // Same query, same shape: merging cannot fail.
                    let _ = e.get_mut().merge(&aggs);
                }
            }
        }
    }

    pub fn merge(&mut self, other: &TimeSeries) -> Result<(), MergeError> {
        let (wide, narrow) = (self.span.max(other.span), self.span.min(other.span));
        if self.limit != other.limit || wide % narrow != 0 {
            return Err(MergeError::Sketch(SketchError::new(
                "time series",
                format!(
                    "spans {} s and {} s (limits {}, {}) do not belong to one query",
                    self.span, other.span, self.limit, other.limit
                ),
            )));
        }
        // Shapes are checked above; only the side with the narrower span is re-bucketed, and
        // `other` is copied only then.
        if self.span < wide {
            self.rebucket(wide);
        }
        let coarsened;
        let other = if other.span < wide {
            let mut copy = other.clone();
            copy.rebucket(wide);
            coarsened = copy;
            &coarsened
        } else {
            other
        };
        for (start, aggs) in &other.buckets {
            match self.buckets.entry(*start) {
                Entry::Vacant(e) => {
                    e.insert(aggs.clone());
                }
                Entry::Occupied(mut e) => e.get_mut().merge(aggs)?,
            }
        }
        self.untimed = self.untimed.saturating_add(other.untimed);
        while self.buckets.len() > self.limit as usize && self.widen() {}
        Ok(())
    }
}

/// The aggregates of one group (or of every event).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    /// The `by` fields' values; empty for "other".
    pub key: Vec<String>,
    pub totals: Aggs,
    pub series: Option<TimeSeries>,
}

impl Group {
    /// Shape errors (another query's group) leave `self` unchanged.
    pub fn merge(&mut self, other: &Group) -> Result<(), MergeError> {
        self.check_shape(other)?;
        if let (Some(a), Some(b)) = (&mut self.series, &other.series) {
            a.merge(b)?;
        }
        self.totals.merge(&other.totals)
    }

    fn check_shape(&self, other: &Group) -> Result<(), MergeError> {
        self.totals.check_shape(&other.totals)?;
        if self.series.is_some() != other.series.is_some() {
            return Err(MergeError::Sketch(SketchError::new(
                "group",
                "one side has a time series, the other not",
            )));
        }
        Ok(())
    }

    pub(crate) fn add(
        &mut self,
        values: &[Option<Cow<'_, str>>],
        time: Option<i64>,
        template: &Aggs,
    ) {
        self.totals.add(values, time);
        if let Some(series) = &mut self.series {
            match time.and_then(|t| series.bucket(t, template)) {
                Some(bucket) => bucket.add(values, time),
                None => series.untimed += 1,
            }
        }
    }
}

/// Groups for `by`: a consistent sample of at most `MAX_GROUPS` keys — those whose hash
/// (xxh3 of the values, each length-prefixed) is smallest — and "other" for the rest. A
/// key is named in a partial only if it is named in every partial that saw it, so merged
/// groups are exact and the sample is the same whatever the order of merging.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Groups {
    named: BTreeMap<u64, Group>,
    pub other: Group,
    /// Keys hashing at or above this went to "other" (`None`: none did).
    threshold: Option<u64>,
}

/// The hash that orders group keys: explicit bytes, the same on every target.
pub fn key_hash<S: AsRef<str>>(key: &[S]) -> u64 {
    let mut h = Xxh3::new();
    for part in key {
        let bytes = part.as_ref().as_bytes();
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.digest()
}

impl Groups {
    pub fn new(template: &Group) -> Groups {
        Groups {
            named: BTreeMap::new(),
            other: template.clone(),
            threshold: None,
        }
    }

    /// `named` (at most `MAX_GROUPS`, none folded into "other" yet) and `other`.
    pub(crate) fn from_named(named: BTreeMap<u64, Group>, other: Group) -> Groups {
        Groups {
            named,
            other,
            threshold: None,
        }
    }

    /// Named groups by hash (the order carries no meaning to a reader).
    pub fn named(&self) -> impl Iterator<Item = &Group> {
        self.named.values()
    }

    /// Every key was named: "other" holds nothing.
    pub fn complete(&self) -> bool {
        self.threshold.is_none()
    }

    /// The named group whose `by` values are `key`.
    pub fn get<S: AsRef<str>>(&self, key: &[S]) -> Option<&Group> {
        self.named.get(&key_hash(key)).filter(|group| {
            group
                .key
                .iter()
                .map(String::as_str)
                .eq(key.iter().map(AsRef::as_ref))
        })
    }

    /// One matching event whose `by` values are `key`.
    pub fn add(
        &mut self,
        key: &[Cow<'_, str>],
        values: &[Option<Cow<'_, str>>],
        time: Option<i64>,
        template: &Group,
    ) {
        let hash = key_hash(key);
        let named = self.threshold.is_none_or(|t| hash < t);
        // Full, and this hash above every named one: a new group would be named only to be
        // folded into "other" at once by `evict`. It is counted there directly, as that
        // would leave it, without a group made and dropped per event.
        let folded_at_once = self.named.len() >= MAX_GROUPS
            && self.named.last_key_value().is_some_and(|(h, _)| hash > *h);
        let mut inserted = false;
        let group = match self.named.entry(hash) {
            Entry::Occupied(e) if e.get().key.iter().eq(key.iter()) => e.into_mut(),
            // Two keys with one hash (~n²/2⁶⁵): the later one is "other".
            Entry::Occupied(_) => &mut self.other,
            Entry::Vacant(_) if !named || folded_at_once => {
                if folded_at_once {
                    self.threshold = Some(self.threshold.map_or(hash, |t| t.min(hash)));
                }
                &mut self.other
            }
            Entry::Vacant(e) => {
                let mut group = template.clone();
                group.key = key.iter().map(|k| k.to_string()).collect();
                inserted = true;
                e.insert(group)
            }
        };
        group.add(values, time, &template.totals);
        // Only a new group can take the named ones past `MAX_GROUPS`.
        if inserted {
            self.evict();
        }
    }

    /// Folds the groups above the threshold, then the largest hashes until `MAX_GROUPS`
    /// remain, into "other".
    fn evict(&mut self) {
        loop {
            let over_threshold = self
                .named
                .last_key_value()
                .is_some_and(|(h, _)| self.threshold.is_some_and(|t| *h >= t));
            if !over_threshold && self.named.len() <= MAX_GROUPS {
                return;
            }
            let Some((hash, group)) = self.named.pop_last() else {
                return;
            };
            self.threshold = Some(self.threshold.map_or(hash, |t| t.min(hash)));
            let mut folded = group;
            folded.key.clear();
            // Groups of one query share a shape: merging cannot fail.
            let _ = self.other.merge(&folded);
        }
    }

    /// `other` is checked whole before anything is merged: a partial of another query, or
    /// crafted bytes, leave `self` unchanged.
    pub fn merge(&mut self, other: &Groups) -> Result<(), MergeError> {
        let bad = |m: String| Err(MergeError::Sketch(SketchError::new("groups", m)));
        if other.named.len() > MAX_GROUPS {
            return bad(format!(
                "{} named groups, more than {MAX_GROUPS}",
                other.named.len()
            ));
        }
        for (hash, group) in &other.named {
            if key_hash(&group.key) != *hash {
                return bad("a group's hash does not match its key".to_string());
            }
            self.other.check_shape(group)?;
        }
        self.other.check_shape(&other.other)?;
        self.other.merge(&other.other)?;
        self.threshold = match (self.threshold, other.threshold) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (hash, group) in &other.named {
            match self.named.entry(*hash) {
                Entry::Occupied(mut e) if e.get().key == group.key => e.get_mut().merge(group)?,
                Entry::Occupied(_) => {
                    let mut folded = group.clone();
                    folded.key.clear();
                    self.other.merge(&folded)?;
                }
                Entry::Vacant(e) => {
                    e.insert(group.clone());
                }
            }
        }
        self.evict();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn times_at_the_ends_of_i64_find_a_bucket() {
        let template = Aggs::new(&[Agg::Count]);
        for span in [None, Some(1), Some(86_400)] {
            let mut series = TimeSeries::new(span, (Some(i64::MIN), Some(i64::MAX)));
            for time in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
                assert!(series.bucket(time, &template).is_some(), "{span:?} {time}");
            }
            assert!(
                series
                    .buckets()
                    .all(|(start, _)| start <= 0 || start % 1000 == 0)
            );
        }
    }
}
