use std::sync::Arc;

use shared_sketch::{Partial, Query};
use tokio::sync::{Semaphore, mpsc};
use workers::{FileRollups, ScanOptions, Watch};

use super::task::{Counts, Executor, ExecutorStatus, Running, ScanTask, next_slot};

/// Scans on the gateway's own blocking threads, at most `width` files at once across all
/// queries (scans are CPU-bound: more than the core count only adds contention).
pub struct LocalPool {
    slots: Arc<Semaphore>,
    width: usize,
    counts: Arc<Counts>,
}
impl LocalPool {
    pub fn new(width: usize) -> Self {
        let width = width.max(1);
        Self {
            slots: Arc::new(Semaphore::new(width)),
            width,
            counts: Arc::default(),
        }
    }

    /// One slot per available core.
    pub fn with_cores() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

impl Executor for LocalPool {
    fn execute(
        &self,
        query: Arc<Query>,
        options: Arc<ScanOptions>,
        tasks: Vec<ScanTask>,
    ) -> mpsc::Receiver<Partial> {
        let (tx, rx) = mpsc::channel(self.width * 2);
        let slots = self.slots.clone();
        let counts = self.counts.clone();
        tokio::spawn(async move {
            for task in tasks {
                let Some(slot) = next_slot(&slots, &tx).await else {
                    return;
                };
                let (tx, query, options) = (tx.clone(), query.clone(), options.clone());
                let counts = counts.clone();
                tokio::task::spawn_blocking(move || {
                    let _slot = slot;
                    if tx.is_closed() {
                        return;
                    }
                    let _running = Running::start(&counts);
                    let partial = task.file.scan(workers::stores(), &query, &options);
                    // The receiver may be gone (cancelled): nothing to do then.
                    let _ = tx.blocking_send(partial);
                });
            }
        });
        rx
    }

    fn detect(
        &self,
        rules: Arc<[Watch]>,
        options: Arc<ScanOptions>,
        tasks: Vec<ScanTask>,
    ) -> mpsc::Receiver<FileRollups> {
        let (tx, rx) = mpsc::channel(self.width * 2);
        let slots = self.slots.clone();
        let counts = self.counts.clone();
        tokio::spawn(async move {
            for task in tasks {
                let Some(slot) = next_slot(&slots, &tx).await else {
                    return;
                };
                let (tx, rules, options) = (tx.clone(), rules.clone(), options.clone());
                let counts = counts.clone();
                tokio::task::spawn_blocking(move || {
                    let _slot = slot;
                    if tx.is_closed() {
                        return;
                    }
                    let _running = Running::start(&counts);
                    let answer = task.file.detect(workers::stores(), &rules, &options);
                    let _ = tx.blocking_send(answer);
                });
            }
        });
        rx
    }

    fn status(&self) -> ExecutorStatus {
        self.counts.status("local", self.width)
    }
}
