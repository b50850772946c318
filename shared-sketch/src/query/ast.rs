use serde::{Deserialize, Serialize};

/// A parsed query: the events to match and the aggregates to compute over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// All must hold (implicit AND).
    pub filters: Vec<Filter>,
    /// In the order the user wrote them; a `Partial` holds one state per entry.
    pub aggs: Vec<Agg>,
}

/// `field:value` — the field's value equals `value`, ignoring ASCII case (as in Splunk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub field: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Agg {
    /// `count()` — exact number of matching events.
    Count,
    /// `dc(field)` — distinct values of `field` (HyperLogLog).
    Distinct { field: String },
    /// `top N field` — the N most frequent values (FrequentItems, deterministic bounds).
    Top { n: u32, field: String },
    /// `rare N field` — the N least frequent values, exact counts (consistent sample).
    Rare { n: u32, field: String },
    /// `sum(f)`, `min(f)`, `max(f)`, `avg(f)` — exact, over the field's numeric values.
    Stat { kind: StatKind, field: String },
    /// `p50(f)` … `p99.9(f)`, `percentile(f, q)` — DDSketch, ±1% of the value.
    /// The quantile in hundredths of a percent: 9990 is p99.9.
    Quantile { field: String, hundredths: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatKind {
    Sum,
    Min,
    Max,
    Avg,
}

impl StatKind {
    pub fn name(self) -> &'static str {
        match self {
            StatKind::Sum => "sum",
            StatKind::Min => "min",
            StatKind::Max => "max",
            StatKind::Avg => "avg",
        }
    }
}

impl Agg {
    /// The label a user sees, in the query's own syntax.
    pub fn label(&self) -> String {
        match self {
            Agg::Count => "count()".to_string(),
            Agg::Distinct { field } => format!("dc({field})"),
            Agg::Top { n, field } => format!("top {n} {field}"),
            Agg::Rare { n, field } => format!("rare {n} {field}"),
            Agg::Stat { kind, field } => format!("{}({field})", kind.name()),
            Agg::Quantile { field, hundredths } if hundredths % 100 == 0 => {
                format!("p{}({field})", hundredths / 100)
            }
            Agg::Quantile { field, hundredths } => {
                let percent = format!("{}.{:02}", hundredths / 100, hundredths % 100);
                format!("percentile({field}, {})", percent.trim_end_matches('0'))
            }
        }
    }

    /// The field this aggregate reads, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Agg::Count => None,
            Agg::Distinct { field }
            | Agg::Top { field, .. }
            | Agg::Rare { field, .. }
            | Agg::Stat { field, .. }
            | Agg::Quantile { field, .. } => Some(field),
        }
    }
}
