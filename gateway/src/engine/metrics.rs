//! What operators watch (`GET /metrics`, in Prometheus's text format): queries by how
//! they ended, bytes scanned and ruled out, the executor's slots, the watched folder's
//! ingest lag, and alert deliveries. Counters are atomics bumped where the thing happens;
//! the page is written when asked for.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use lake::watch::WatchStatus;

use super::executor::ExecutorStatus;

/// The gateway's counters since it started.
#[derive(Debug, Default)]
pub struct Metrics {
    pub queries_running: AtomicU64,
    /// Queries that answered in full.
    pub queries_finished: AtomicU64,
    /// Queries that could not run (the lake or catalog unavailable, an internal error).
    pub queries_failed: AtomicU64,
    /// Queries refused as written (they do not parse, name a missing table).
    pub queries_rejected: AtomicU64,
    /// Queries their client cancelled or left.
    pub queries_cancelled: AtomicU64,
    /// Queries stopped at the time limit, answering in part.
    pub queries_stopped: AtomicU64,
    /// Queries refused because their key or tenant ran as many as it may at once.
    pub queries_busy: AtomicU64,
    /// Stored bytes of the files queries read, and of the files and pages they ruled out
    /// unread (by time in the catalog, by the index in a segment).
    pub bytes_scanned: AtomicU64,
    pub bytes_pruned: AtomicU64,
    /// Files that failed to read (reported in their query's answer).
    pub files_failed: AtomicU64,
    /// The watched folder's ingest, when serving with `--watch`.
    pub watch: Arc<WatchStatus>,
}

/// How a query ended, for its counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Finished,
    Failed,
    Rejected,
    Cancelled,
    Stopped,
    Busy,
}

/// Counts a query as running from its start until it ends, then by how it ended: `end`
/// says how, before the query's last frame is sent, so whoever reads that frame and then
/// the metrics sees it counted; dropped without `end` (a panic), it failed.
pub struct QueryGauge<'m> {
    metrics: &'m Metrics,
    outcome: Outcome,
}

impl Metrics {
    pub fn start_query(&self) -> QueryGauge<'_> {
        self.queries_running.fetch_add(1, Ordering::Relaxed);
        QueryGauge {
            metrics: self,
            outcome: Outcome::Failed,
        }
    }

    /// The page: counters, and the gauges of `executor`, the watch and the deliveries
    /// (pending, and those of them whose last attempt failed) as read now.
    pub fn render(
        &self,
        executor: &ExecutorStatus,
        deliveries: Option<(u64, u64)>,
        now_ms: i64,
    ) -> String {
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        let watch = &self.watch;
        let mut out = String::new();
        let mut samples = vec![
            (
                "sketchlake_queries_running",
                Kind::Gauge,
                "Queries running now.",
                load(&self.queries_running),
            ),
            (
                "sketchlake_scanned_bytes_total",
                Kind::Counter,
                "Stored bytes of the files queries read.",
                load(&self.bytes_scanned),
            ),
            (
                "sketchlake_pruned_bytes_total",
                Kind::Counter,
                "Stored bytes queries ruled out unread (files by time, segment pages by index).",
                load(&self.bytes_pruned),
            ),
            (
                "sketchlake_failed_files_total",
                Kind::Counter,
                "Files a query could not read (reported in its answer).",
                load(&self.files_failed),
            ),
            (
                "sketchlake_executor_slots",
                Kind::Gauge,
                "Scan tasks the executor may run at once.",
                executor.width,
            ),
            (
                "sketchlake_executor_slots_in_use",
                Kind::Gauge,
                "Scan tasks running now.",
                executor.running,
            ),
            (
                "sketchlake_executor_tasks_total",
                Kind::Counter,
                "Scan tasks started.",
                executor.started,
            ),
            (
                "sketchlake_executor_retries_total",
                Kind::Counter,
                "Scan tasks tried again after a throttle, crash or timeout.",
                executor.retried,
            ),
            (
                "sketchlake_ingest_waiting_files",
                Kind::Gauge,
                "Files in the watched folder not ingested yet.",
                load(&watch.waiting),
            ),
            (
                "sketchlake_ingested_files_total",
                Kind::Counter,
                "Files ingested from the watched folder.",
                load(&watch.ingested),
            ),
            (
                "sketchlake_ingest_failures_total",
                Kind::Counter,
                "Ticks of the watched folder whose ingest failed (retried at the next).",
                load(&watch.failed_ticks),
            ),
        ];
        // Without a catalog answer the delivery gauges are left out, and alerting on
        // their absence sees it.
        if let Some((pending, failing)) = deliveries {
            samples.push((
                "sketchlake_alert_deliveries_pending",
                Kind::Gauge,
                "Alert deliveries not yet taken by their sink.",
                pending,
            ));
            samples.push((
                "sketchlake_alert_deliveries_failing",
                Kind::Gauge,
                "Pending alert deliveries whose last attempt failed.",
                failing,
            ));
        }
        for (name, kind, help, value) in samples {
            header(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        let name = "sketchlake_queries_total";
        header(&mut out, name, Kind::Counter, "Queries ended, by outcome.");
        for (outcome, n) in [
            ("finished", &self.queries_finished),
            ("failed", &self.queries_failed),
            ("rejected", &self.queries_rejected),
            ("cancelled", &self.queries_cancelled),
            ("stopped", &self.queries_stopped),
            ("busy", &self.queries_busy),
        ] {
            let _ = writeln!(out, "{name}{{outcome=\"{outcome}\"}} {}", load(n));
        }
        let name = "sketchlake_ingest_lag_seconds";
        let help = "How long the oldest file waiting in the watched folder has waited.";
        header(&mut out, name, Kind::Gauge, help);
        let _ = writeln!(out, "{name} {}", watch.lag_seconds(now_ms));
        out
    }
}

/// A metric's `HELP` and `TYPE` lines, which come before its samples.
fn header(out: &mut String, name: &str, kind: Kind, help: &str) {
    let kind = match kind {
        Kind::Gauge => "gauge",
        Kind::Counter => "counter",
    };
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Gauge,
    Counter,
}

impl QueryGauge<'_> {
    pub fn end(mut self, outcome: Outcome) {
        self.outcome = outcome;
    }
}

impl Drop for QueryGauge<'_> {
    fn drop(&mut self) {
        let m = self.metrics;
        m.queries_running.fetch_sub(1, Ordering::Relaxed);
        let counter = match self.outcome {
            Outcome::Finished => &m.queries_finished,
            Outcome::Failed => &m.queries_failed,
            Outcome::Rejected => &m.queries_rejected,
            Outcome::Cancelled => &m.queries_cancelled,
            Outcome::Stopped => &m.queries_stopped,
            Outcome::Busy => &m.queries_busy,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
