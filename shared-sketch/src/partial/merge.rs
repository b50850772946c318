//! The partial itself, and how two merge.

use serde::{Deserialize, Serialize};

use super::hits::{Hit, HitRank};
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
    /// The first `hit_limit` matching events by `hit_rank` (the newest by (time, file,
    /// line) unless the query sorts or deduplicates), first last, holding at most
    /// `MAX_HITS_TEXT` bytes of text.
    pub hits: Vec<Hit>,
    pub stats: ScanStats,
    /// Which events `hits` keeps (boxed: mostly the default, and frames carry partials
    /// by value).
    pub hit_rank: Box<HitRank>,
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
            hit_rank: Box::new(HitRank::of(query)),
        }
    }

    /// Events that matched.
    pub fn matched(&self) -> u64 {
        self.all.totals.matched
    }

    /// Records matching events (each cut to `MAX_HIT_BYTES`), keeping the first
    /// `hit_limit` of them and of those already kept by `hit_rank`.
    pub fn add_hits(&mut self, hits: impl IntoIterator<Item = Hit>) {
        let mut hits: Vec<Hit> = hits.into_iter().map(Hit::cut).collect();
        hits.sort();
        let kept = std::mem::take(&mut self.hits);
        self.hits = self.hit_rank.keep(kept, &hits, self.hit_limit as usize);
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
        // The first within the limits: the same whatever the merge order (each side kept at
        // least its part of the merged first).
        self.hit_limit = self
            .hit_limit
            .max(other.hit_limit)
            .min(MAX_HITS_LIMIT as u32);
        let kept = std::mem::take(&mut self.hits);
        self.hits = self
            .hit_rank
            .keep(kept, &other.hits, self.hit_limit as usize);
        self.stats.merge(&other.stats);
        Ok(())
    }
}
