//! Where scan tasks run. The planner and the query runner only see this interface, so the
//! in-process pool and AWS Lambda are interchangeable.

mod lambda;
mod pool;

use std::sync::Arc;

use serde::Serialize;
use shared_sketch::{Partial, Query};
use tokio::sync::mpsc;
use workers::{FileTask, ScanOptions};

pub use lambda::{LambdaConfig, LambdaExecutor};
pub use pool::LocalPool;

/// One unit of scan work: a data file, or a segment written by ingest (whose pages its
/// index sidecar may rule out), local or in a bucket.
#[derive(Debug, Clone)]
pub struct ScanTask {
    pub file: FileTask,
    /// Its size as stored, for batching and progress.
    pub bytes: u64,
}

pub trait Executor: Send + Sync + 'static {
    /// Starts every task and returns their partials as they complete, in any order. Each
    /// task is counted in exactly one partial (`stats.files`; failures are recorded in its
    /// stats), which may cover several tasks (a Lambda batch). Dropping the receiver
    /// cancels: tasks not yet started never start.
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
    /// Attempts made again after a throttle, crash or timeout (Lambda only).
    pub retried: u64,
    /// Scan tasks given up on, reported in their query's answer (Lambda only).
    pub failed: u64,
}
