//! The final, user-facing shape of an answer: what the page renders and what
//! `POST /api/v1/query` returns as JSON. Computed from a merged `Partial`.

use serde::{Deserialize, Serialize};

use crate::partial::{Hit, ScanStats};
pub use crate::sketch::{DistinctEstimate, RareRow, RareSummary};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    /// The query in canonical form.
    pub query: String,
    pub matched: u64,
    pub aggs: Vec<AggResult>,
    /// The newest matching events, newest first (at most `MAX_HITS`).
    pub hits: Vec<Hit>,
    pub stats: ScanStats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggResult {
    /// As written in the query, e.g. `dc(src_ip)`.
    pub label: String,
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopRow {
    pub value: String,
    pub estimate: u64,
    pub lower: u64,
    pub upper: u64,
}
