use std::sync::Arc;

use shared_sketch::{Partial, Query};
use tokio::sync::{Semaphore, mpsc};
use workers::{FileRollups, FileTask, ScanOptions, Watch};

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

impl LocalPool {
    /// Runs `work` on each task's file on a blocking thread, at most `width` at once
    /// across all callers; the answers as they come. Dropping the receiver cancels: tasks
    /// not yet started never start.
    fn each_file<T: Send + 'static>(
        &self,
        tasks: Vec<ScanTask>,
        work: impl Fn(&FileTask) -> T + Send + Sync + 'static,
    ) -> mpsc::Receiver<T> {
        let (tx, rx) = mpsc::channel(self.width * 2);
        let slots = self.slots.clone();
        let counts = self.counts.clone();
        let work = Arc::new(work);
        tokio::spawn(async move {
            for task in tasks {
                let Some(slot) = next_slot(&slots, &tx).await else {
                    return;
                };
                let (tx, work, counts) = (tx.clone(), work.clone(), counts.clone());
                tokio::task::spawn_blocking(move || {
                    let _slot = slot;
                    if tx.is_closed() {
                        return;
                    }
                    let _running = Running::start(&counts);
                    let answer = work(&task.file);
                    // The receiver may be gone (cancelled): nothing to do then.
                    let _ = tx.blocking_send(answer);
                });
            }
        });
        rx
    }
}

impl Executor for LocalPool {
    fn execute(
        &self,
        query: Arc<Query>,
        options: Arc<ScanOptions>,
        tasks: Vec<ScanTask>,
    ) -> mpsc::Receiver<Partial> {
        self.each_file(tasks, move |file| {
            file.scan(workers::stores(), &query, &options)
        })
    }

    fn detect(
        &self,
        rules: Arc<[Watch]>,
        options: Arc<ScanOptions>,
        tasks: Vec<ScanTask>,
    ) -> mpsc::Receiver<FileRollups> {
        self.each_file(tasks, move |file| {
            file.detect(workers::stores(), &rules, &options)
        })
    }

    fn status(&self) -> ExecutorStatus {
        self.counts.status("local", self.width)
    }
}
