//! The partial itself, and how two merge.

use serde::{Deserialize, Serialize};

use super::hits::{Hit, newest};
use super::stats::ScanStats;
use crate::aggregate::{Aggs, Group, Groups, MergeError, TimeSeries};
use crate::limits::MAX_HITS_LIMIT;
use crate::query::{Command, Query};

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

impl Partial {
    /// An empty partial for `query`.
    pub fn new(query: &Query) -> Self {
        let series = match &query.command {
            Some(Command::Timechart { span, .. }) => {
                Some(TimeSeries::new(*span, query.time_range_if_absolute()))
            }
            _ => None,
        };
        let all = Group {
            key: Vec::new(),
            totals: Aggs::new(&query.aggs()),
            series,
        };
        Partial {
            groups: (!query.by().is_empty()).then(|| Groups::new(&all)),
            all,
            timeline: TimeSeries::new(None, query.time_range_if_absolute()),
            hit_limit: query.hit_limit() as u32,
            hits: Vec::new(),
            stats: ScanStats::default(),
        }
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
}
