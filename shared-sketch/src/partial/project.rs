//! From a partial to the answer a user sees: estimates with their bounds, in the query's
//! order, with `where`, `head` and `fields` applied.

use super::hits::Hit;
use super::merge::Partial;
use crate::aggregate::{AggState, Aggs, Group, Groups, TimeSeries};
use crate::limits::MAX_GROUPS;
use crate::query::{Agg, Query, StatKind, split_compound_key};
use crate::result::{AggResult, AggValue, GroupRow, GroupsResult, Point, QueryResult, Series};
use crate::sketch::QUANTILE_RELATIVE_ERROR;

impl Partial {
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
            let which = if self.hit_rank.newest() {
                "newest"
            } else {
                "first, in the query's order,"
            };
            result.limits.push(format!(
                "the events list keeps the {which} {} of {} matching events",
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
        if self.stats.unindexed > 0 {
            result.limits.push(format!(
                "{} segments were read whole: their index could not be read (the answer is \
                 exact; the gateway's log says why)",
                self.stats.unindexed
            ));
        }
        for post in &query.post {
            result.apply(post);
        }
        result
    }
}

impl AggState {
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
            (_, AggState::Present(n)) => AggValue::Count { value: *n },
            (_, AggState::Distinct(dc)) => AggValue::Distinct(dc.estimate()),
            (Agg::Rare { n, .. }, AggState::Rare(rare)) => {
                AggValue::Rare(rare.summary(*n as usize))
            }
            (Agg::Mode { .. }, AggState::Top(top)) => AggValue::Top {
                rows: top.top(1),
                maximum_error: top.maximum_error(),
            },
            (Agg::Stat { kind, .. }, AggState::Numeric(summary)) => AggValue::Number {
                value: match kind {
                    StatKind::Sum => summary.sum(),
                    StatKind::Min => summary.min(),
                    StatKind::Max => summary.max(),
                    StatKind::Avg => summary.avg(),
                    StatKind::Range => summary.max().zip(summary.min()).map(|(a, b)| a - b),
                    // Spreads have their own state (below).
                    _ => None,
                },
            },
            (Agg::Stat { kind, .. }, AggState::Moments(moments)) => AggValue::Number {
                value: match kind {
                    StatKind::Var => moments.variance(false),
                    StatKind::Varp => moments.variance(true),
                    StatKind::Stdev => moments.variance(false).map(f64::sqrt),
                    _ => moments.variance(true).map(f64::sqrt),
                },
            },
            (_, AggState::Values(set)) => AggValue::Values {
                values: set.values().map(str::to_string).collect(),
                complete: set.complete(),
            },
            (_, AggState::Earliest(slot) | AggState::Latest(slot)) => AggValue::Timed {
                value: slot.as_ref().map(|t| t.value.clone()),
                time: slot.as_ref().map(|t| t.time),
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

fn aggs_result(aggs: &[Agg], totals: &Aggs) -> Vec<AggResult> {
    aggs.iter()
        .zip(&totals.states)
        .map(|(agg, state)| AggResult {
            label: agg.label(),
            fields: agg.fields().to_vec(),
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
