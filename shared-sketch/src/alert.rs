//! Alerts as they cross the wire: what a rule raised, as the HTTP API answers it and the
//! page shows it, and a rule as the page lists it. The catalog keeps them (lake's alerts).

use serde::{Deserialize, Serialize};

use crate::partial::Hit;

/// What a team has done about an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    New,
    Acknowledged,
    Closed,
}

impl AlertState {
    pub fn name(self) -> &'static str {
        match self {
            AlertState::New => "new",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Closed => "closed",
        }
    }

    pub fn parse(name: &str) -> Option<AlertState> {
        match name {
            "new" => Some(AlertState::New),
            "acknowledged" => Some(AlertState::Acknowledged),
            "closed" => Some(AlertState::Closed),
            _ => None,
        }
    }
}

/// One alert: a rule fired for a group over a window of event time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable: the same rule, dedup key and window give the same id.
    pub id: String,
    pub tenant: String,
    pub rule: String,
    pub version: String,
    /// The rule's name and query when it fired.
    pub name: String,
    pub query: String,
    pub severity: String,
    /// The `by` fields, and the group's values of them.
    pub fields: Vec<String>,
    pub group: Vec<String>,
    /// `[start, end)`, epoch ms of event time.
    pub window: (i64, i64),
    /// Matching events in the window (for the group).
    pub count: u64,
    /// The first and last event time among the samples of the group (and of the alerts
    /// folded into this one), when known.
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    /// Up to 10 of the events, as read.
    pub samples: Vec<Hit>,
    pub dedup_key: String,
    pub state: AlertState,
    /// Raised by a rule in staging: recorded, never sent.
    pub staging: bool,
    pub created_ms: i64,
}

impl Alert {
    /// `src_ip=198.51.100.23, dst_ip=10.0.1.22`: the group the alert is for, as people
    /// read it (empty for a rule without groups). An alert grouped by `entity` (a rule
    /// over other alerts) is for that entity.
    pub fn entity(&self) -> String {
        if let ([field], [value]) = (self.fields.as_slice(), self.group.as_slice())
            && field == "entity"
        {
            return value.clone();
        }
        self.fields
            .iter()
            .zip(&self.group)
            .map(|(f, v)| format!("{f}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A detection rule as the page lists it (`GET /api/v1/rules`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub id: String,
    pub version: String,
    pub name: String,
    pub description: String,
    pub severity: String,
    /// `active`, `staging` or `paused`.
    pub state: String,
    pub tags: Vec<String>,
    pub query: String,
    /// Seconds.
    pub window: u32,
    pub every: u32,
    pub sinks: Vec<String>,
    /// When it last ran, epoch ms.
    pub last_run_ms: Option<i64>,
    /// Alerts raised in each of the last 24 hours, oldest first.
    pub alerts_24h: Vec<u32>,
    /// Its file no longer reads: it runs as it last read (`problem` says why).
    pub kept: bool,
}

/// The rules of a tenant, and the rule files that do not read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleList {
    pub rules: Vec<RuleInfo>,
    /// `file:line:column: why`, per file refused.
    pub refused: Vec<String>,
}
