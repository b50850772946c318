use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use shared_sketch::{Partial, Query};
use tokio::sync::mpsc;
use workers::{FileRollups, FileTask, ScanOptions, Watch};

use super::slots::FairSlots;
use super::task::{Counts, Executor, ExecutorStatus, Running, ScanTask, next_slot};

/// Scans on the gateway's own blocking threads, at most `width` files at once across all
/// queries (scans are CPU-bound: more than the core count only adds contention), shared
/// fairly between them (`FairSlots`).
pub struct LocalPool {
    slots: Arc<FairSlots>,
    width: usize,
    counts: Arc<Counts>,
}
impl LocalPool {
    pub fn new(width: usize) -> Self {
        let width = width.max(1);
        Self {
            slots: FairSlots::new(width),
            width,
            counts: Arc::default(),
        }
    }

    /// One slot per available core.
    pub fn with_cores() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// How long a query may keep a slot for its next task: a segment its index rules out
/// takes a fraction of a millisecond, so a needle over a thousand of them runs them in a
/// few turns, not in a thousand waits for a slot. A task over it ends the turn.
const TURN: Duration = Duration::from_millis(20);

impl LocalPool {
    /// Runs `work` on each task's file on a blocking thread, at most `width` at once
    /// across all callers, each caller its fair share; the answers as they come. Dropping
    /// the receiver cancels: tasks not yet started never start.
    fn each_file<T: Send + 'static>(
        &self,
        tasks: Vec<ScanTask>,
        work: impl Fn(&FileTask) -> T + Send + Sync + 'static,
    ) -> mpsc::Receiver<T> {
        let (tx, rx) = mpsc::channel(self.width * 2);
        let share = self.slots.share();
        let counts = self.counts.clone();
        let work = Arc::new(work);
        let queue: Arc<Mutex<VecDeque<FileTask>>> =
            Arc::new(Mutex::new(tasks.into_iter().map(|t| t.file).collect()));
        tokio::spawn(async move {
            // A slot whenever one is this query's turn, while tasks are left: each slot
            // runs tasks from the queue for one turn.
            while !lock(&queue).is_empty() {
                let Some(slot) = next_slot(&share, &tx).await else {
                    return;
                };
                let (tx, work, counts, queue) =
                    (tx.clone(), work.clone(), counts.clone(), queue.clone());
                tokio::task::spawn_blocking(move || {
                    let _slot = slot;
                    let turn = Instant::now();
                    while !tx.is_closed() && turn.elapsed() < TURN {
                        let Some(task) = lock(&queue).pop_front() else {
                            return;
                        };
                        let _running = Running::start(&counts);
                        let answer = work(&task);
                        // The receiver may be gone (cancelled): nothing to do then.
                        if tx.blocking_send(answer).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        rx
    }
}

fn lock(queue: &Mutex<VecDeque<FileTask>>) -> std::sync::MutexGuard<'_, VecDeque<FileTask>> {
    // Popping a task cannot panic: a poisoned queue is still whole.
    queue.lock().unwrap_or_else(PoisonError::into_inner)
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
