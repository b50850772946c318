//! Where scan tasks run. The planner and the query runner only see this interface, so the
//! in-process pool and (later) AWS Lambda are interchangeable.

mod pool;

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use shared_sketch::{Partial, Query};
use tokio::sync::mpsc;
use workers::ScanOptions;

pub use pool::LocalPool;

/// One unit of scan work: a data file, or a segment written by ingest (whose pages its
/// index sidecar may rule out).
#[derive(Debug, Clone)]
pub struct ScanTask {
    pub path: PathBuf,
    /// The file's name relative to the data root, used in reports.
    pub name: String,
    pub bytes: u64,
    pub segment: bool,
}

impl ScanTask {
    pub fn scan(&self, query: &Query, options: &ScanOptions) -> Partial {
        if self.segment {
            workers::scan_segment(&self.path, &self.name, query, options)
        } else {
            workers::scan_file(&self.path, &self.name, query, options)
        }
    }
}

pub trait Executor: Send + Sync + 'static {
    /// Starts every task and returns their partials as they complete, in any order; each
    /// task yields exactly one partial (failures are recorded in its stats). Dropping the
    /// receiver cancels: tasks not yet started never start.
    fn execute(
        &self,
        query: Arc<Query>,
        options: Arc<ScanOptions>,
        tasks: Vec<ScanTask>,
    ) -> mpsc::Receiver<Partial>;

    /// What the executor is doing now, for operators (`GET /api/v1/status`).
    fn status(&self) -> ExecutorStatus;
}

/// Scan tasks in flight and started since the gateway began.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ExecutorStatus {
    pub kind: &'static str,
    /// Tasks that may run at once.
    pub width: u64,
    pub running: u64,
    pub started: u64,
}
