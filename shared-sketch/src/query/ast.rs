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
}

impl Agg {
    /// The label a user sees, in the query's own syntax.
    pub fn label(&self) -> String {
        match self {
            Agg::Count => "count()".to_string(),
            Agg::Distinct { field } => format!("dc({field})"),
            Agg::Top { n, field } => format!("top {n} {field}"),
        }
    }

    /// The field this aggregate reads, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Agg::Count => None,
            Agg::Distinct { field } | Agg::Top { field, .. } => Some(field),
        }
    }
}
