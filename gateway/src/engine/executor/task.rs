//! What an executor is given and owes: scan tasks in, partials out, and counts of its
//! work. The planner and the query runner only see this interface, so the in-process pool
//! and AWS Lambda are interchangeable.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use shared_sketch::{Partial, Query};
use tokio::sync::mpsc;
use workers::{FileRollups, FileTask, ScanOptions, Watch};

use super::slots::{FairSlots, Share, Slot};

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

    /// Evaluates detection rules on every task's file (a rule's backfill): each file's
    /// rollups as they complete, in any order; a file that could not be read says why in
    /// its answer. Dropping the receiver cancels.
    fn detect(
        &self,
        rules: Arc<[Watch]>,
        options: Arc<ScanOptions>,
        tasks: Vec<ScanTask>,
    ) -> mpsc::Receiver<FileRollups>;

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

/// What an executor has done, for `status`; shared with its running tasks.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) started: AtomicU64,
    pub(super) running: AtomicU64,
    pub(super) retried: AtomicU64,
    pub(super) failed: AtomicU64,
}

impl Counts {
    pub(super) fn status(&self, kind: &'static str, width: usize) -> ExecutorStatus {
        ExecutorStatus {
            kind,
            width: width as u64,
            running: self.running.load(Ordering::Relaxed),
            started: self.started.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// Counts a task as running from its start until it is dropped, however it ends.
pub(super) struct Running(Arc<Counts>);

impl Running {
    pub(super) fn start(counts: &Arc<Counts>) -> Self {
        counts.started.fetch_add(1, Ordering::Relaxed);
        counts.running.fetch_add(1, Ordering::Relaxed);
        Self(counts.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A slot for the next task of a query, in its fair turn (`share`), or `None` once the
/// query's receiver is gone (cancelled). A cancel frees the slots of the tasks it stops,
/// so it is looked for first, and again after a slot is had.
pub(super) async fn next_slot<T>(share: &Share, tx: &mpsc::Sender<T>) -> Option<Slot> {
    let slot = tokio::select! {
        biased;
        () = tx.closed() => return None,
        slot = FairSlots::acquire(share) => slot,
    };
    (!tx.is_closed()).then_some(slot)
}
