//! Building one partial from matching events.

use std::borrow::Cow;

use super::merge::Partial;
use super::stats::ScanStats;
use crate::aggregate::Group;
use crate::query::{Agg, Fields, Query};

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
        let partial = Partial::new(query);
        Aggregator {
            aggs: query.aggs(),
            by: query.by().to_vec(),
            template: partial.all.clone(),
            partial,
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
