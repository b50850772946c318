use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use shared_sketch::{Partial, Query};
use tokio::sync::{Semaphore, mpsc};
use workers::ScanOptions;

use super::{Executor, ExecutorStatus, ScanTask};

/// Scans on the gateway's own blocking threads, at most `width` files at once across all
/// queries (scans are CPU-bound: more than the core count only adds contention).
pub struct LocalPool {
    slots: Arc<Semaphore>,
    width: usize,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    started: AtomicU64,
    running: AtomicU64,
}

/// Counts a scan as running from its start until it is dropped, however it ends.
struct Running(Arc<Counts>);

impl Running {
    fn start(counts: &Arc<Counts>) -> Self {
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
                let slot = tokio::select! {
                    slot = slots.clone().acquire_owned() => slot,
                    () = tx.closed() => return,
                };
                let Ok(slot) = slot else { return };
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

    fn status(&self) -> ExecutorStatus {
        ExecutorStatus {
            kind: "local",
            width: self.width as u64,
            running: self.counts.running.load(Ordering::Relaxed),
            started: self.counts.started.load(Ordering::Relaxed),
            retried: 0,
            failed: 0,
        }
    }
}
