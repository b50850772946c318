//! What `GET /api/v1/lake` says of a lake: enough for the page to open the dashboard that
//! fits its data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The dashboards the page has, by the fields the data shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// Network flows: VPC flow logs, Zeek conn, CICFlowMeter (source and destination
    /// addresses, ports, bytes).
    Flows,
    /// AWS CloudTrail (`eventName`, `eventSource`, `userIdentity`).
    Cloudtrail,
    /// Anything else: the generic dashboard.
    Events,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LakeSummary {
    /// Files queries read (raw files and active segments).
    pub files: u64,
    pub bytes: u64,
    /// Files per source format.
    pub formats: BTreeMap<String, u64>,
    /// The span of event times the catalog knows (segments record theirs; raw files are
    /// only read by queries).
    pub earliest_ms: Option<i64>,
    pub latest_ms: Option<i64>,
    /// What most of the sampled files hold.
    pub kind: DataKind,
}
