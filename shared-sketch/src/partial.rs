//! A `Partial` is what one scan task returns for one query: the matching-event count, one
//! sketch state per aggregate, the newest matching events (hits), and scan statistics.
//! Partials merge associatively and commutatively, so workers, the gateway and the browser
//! may combine them in any order.

use serde::{Deserialize, Serialize};

use crate::query::{Agg, Query, StatKind};
use crate::result::{AggResult, AggValue, QueryResult};
use crate::sketch::{
    DistinctCount, NumericSummary, QUANTILE_RELATIVE_ERROR, Quantiles, RareItems, SketchError, TopK,
};

/// File errors kept in full; beyond this only the count grows (10,000 corrupt files must
/// not make a 10,000-line frame).
pub const MAX_FILE_ERRORS: usize = 100;
/// Matching events carried whole, per partial and after any merge: the newest by
/// (file, line) — file names in a lake sort by time.
pub const MAX_HITS: usize = 100;
/// A hit's text is cut to this many bytes (at a character boundary): a 1 MiB line must not
/// make a 100 MiB frame.
pub const MAX_HIT_BYTES: usize = 4096;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Partial {
    /// Events that matched the query's filters.
    pub matched: u64,
    /// One state per `Query::aggs` entry, in order.
    pub aggs: Vec<AggState>,
    /// The last `MAX_HITS` matching events by (file, line), ascending.
    pub hits: Vec<Hit>,
    pub stats: ScanStats,
}

/// One matching event as read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hit {
    /// The data file, relative to the data root.
    pub file: String,
    /// 1-based line number in the (decompressed) file.
    pub line: u64,
    /// The event's text, at most `MAX_HIT_BYTES` (`truncated` says if cut).
    pub text: String,
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AggState {
    /// `count()` is `Partial::matched`; nothing more to carry.
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
    #[error(transparent)]
    Sketch(#[from] SketchError),
}

impl AggState {
    fn new(agg: &Agg) -> Self {
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
    pub fn update(&mut self, value: &str) {
        match self {
            AggState::Count => {}
            AggState::Distinct(dc) => dc.update(value.as_bytes()),
            AggState::Top(top) => top.update(value),
            AggState::Rare(rare) => rare.update(value),
            AggState::Numeric(summary) => summary.update(value),
            AggState::Quantile(quantiles) => {
                if let Ok(number) = value.parse::<f64>() {
                    quantiles.update(number);
                }
            }
        }
    }
}

impl Partial {
    /// An empty partial with one state per aggregate of `query`.
    pub fn new(query: &Query) -> Self {
        Partial {
            matched: 0,
            aggs: query.aggs.iter().map(AggState::new).collect(),
            hits: Vec::new(),
            stats: ScanStats::default(),
        }
    }

    /// Records a matching event. Call in (file, line) order, as a scan reads: the partial
    /// keeps the last `MAX_HITS`.
    pub fn add_hit(&mut self, file: &str, line: u64, text: &str) {
        let mut end = text.len().min(MAX_HIT_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        if self.hits.len() == MAX_HITS {
            self.hits.remove(0);
        }
        self.hits.push(Hit {
            file: file.to_string(),
            line,
            text: text[..end].to_string(),
            truncated: end < text.len(),
        });
    }

    pub fn merge(&mut self, other: &Partial) -> Result<(), MergeError> {
        if self.aggs.len() != other.aggs.len() {
            return Err(MergeError::Shape {
                left: self.aggs.len(),
                right: other.aggs.len(),
            });
        }
        // Check every kind first so a failed merge leaves `self` untouched.
        for (index, (a, b)) in self.aggs.iter().zip(&other.aggs).enumerate() {
            if std::mem::discriminant(a) != std::mem::discriminant(b) {
                return Err(MergeError::Kind { index });
            }
        }
        for (a, b) in self.aggs.iter_mut().zip(&other.aggs) {
            match (a, b) {
                (AggState::Distinct(a), AggState::Distinct(b)) => a.merge(b),
                (AggState::Top(a), AggState::Top(b)) => a.merge(b)?,
                (AggState::Rare(a), AggState::Rare(b)) => a.merge(b),
                (AggState::Numeric(a), AggState::Numeric(b)) => a.merge(b),
                (AggState::Quantile(a), AggState::Quantile(b)) => a.merge(b)?,
                _ => {}
            }
        }
        self.matched = self.matched.saturating_add(other.matched);
        // Sorted, deduplicated, the last MAX_HITS: the same whatever the merge order.
        self.hits.extend(other.hits.iter().cloned());
        self.hits.sort();
        self.hits.dedup();
        let excess = self.hits.len().saturating_sub(MAX_HITS);
        self.hits.drain(..excess);
        self.stats.merge(&other.stats);
        Ok(())
    }

    /// The answer as a user sees it: estimates with bounds, in the query's order.
    pub fn result(&self, query: &Query) -> QueryResult {
        let aggs = query
            .aggs
            .iter()
            .zip(&self.aggs)
            .map(|(agg, state)| AggResult {
                label: agg.label(),
                value: match (agg, state) {
                    (Agg::Top { n, .. }, AggState::Top(top)) => AggValue::Top {
                        rows: top.top(*n as usize),
                        maximum_error: top.maximum_error(),
                    },
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
                    // `count()`; states are built from the same query, so kinds always pair up.
                    _ => AggValue::Count {
                        value: self.matched,
                    },
                },
            })
            .collect();
        QueryResult {
            query: query.to_string(),
            matched: self.matched,
            aggs,
            hits: self.hits.iter().rev().cloned().collect(),
            stats: self.stats.clone(),
        }
    }
}

impl ScanStats {
    pub fn merge(&mut self, other: &ScanStats) {
        self.files = self.files.saturating_add(other.files);
        self.bytes = self.bytes.saturating_add(other.bytes);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    fn partial(query: &Query, values: &[&str]) -> Partial {
        let mut p = Partial::new(query);
        for v in values {
            p.matched += 1;
            for agg in &mut p.aggs {
                agg.update(v);
            }
        }
        p
    }

    #[test]
    fn merge_adds_counts_and_sketches() {
        let q = parse("| stats count(), dc(x)").unwrap();
        let mut a = partial(&q, &["a", "b"]);
        a.merge(&partial(&q, &["b", "c", "d"])).unwrap();
        let r = a.result(&q);
        assert_eq!(r.matched, 5);
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
        let values: Vec<AggValue> = a.result(&q).aggs.into_iter().map(|r| r.value).collect();
        let number = |v: &AggValue| match v {
            AggValue::Number { value } => *value,
            AggValue::Quantile { value, .. } => *value,
            other => panic!("{other:?}"),
        };
        assert_eq!(number(&values[0]), Some(110.0));
        assert_eq!(number(&values[1]), Some(22.0));
        assert_eq!(
            (number(&values[2]), number(&values[3])),
            (Some(1.0), Some(100.0))
        );
        let p50 = number(&values[4]).unwrap();
        assert!((p50 - 3.0).abs() <= 0.03, "{p50}");
    }

    #[test]
    fn merge_rejects_partials_of_another_query() {
        let a = parse("| stats count(), dc(x)").unwrap();
        let b = parse("| top 3 x").unwrap();
        let mut pa = Partial::new(&a);
        assert!(matches!(
            pa.merge(&Partial::new(&b)),
            Err(MergeError::Shape { .. })
        ));
        let c = parse("| stats dc(x), count()").unwrap();
        assert!(matches!(
            pa.merge(&Partial::new(&c)),
            Err(MergeError::Kind { index: 0 })
        ));
    }

    #[test]
    fn hits_keep_the_newest_whatever_the_merge_order() {
        let q = parse("| stats count()").unwrap();
        let file_partial = |file: &str, lines: u64| {
            let mut p = Partial::new(&q);
            for line in 1..=lines {
                p.add_hit(file, line, &format!("{file}:{line}"));
            }
            p
        };
        let parts = [
            file_partial("2026/11/20", 80),
            file_partial("2026/11/22", 30),
            file_partial("2026/11/21", 150),
        ];
        assert_eq!(parts[2].hits.len(), MAX_HITS);
        let mut forward = Partial::new(&q);
        let mut backward = Partial::new(&q);
        for p in &parts {
            forward.merge(p).unwrap();
        }
        for p in parts.iter().rev() {
            backward.merge(p).unwrap();
        }
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
    }

    #[test]
    fn a_long_hit_is_cut_at_a_character_boundary() {
        let q = parse("| stats count()").unwrap();
        let mut p = Partial::new(&q);
        let text = "é".repeat(MAX_HIT_BYTES);
        p.add_hit("f", 1, &text);
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
