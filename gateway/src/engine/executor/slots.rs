//! The executor's slots, shared fairly between the queries waiting for them.
//!
//! A semaphore serves waiters first come, first served: a query's next task queues behind
//! one task of every other query, so a needle asked while a hundred scans run waits a
//! hundred tasks for each of its own. Here each query has a `Share`, an account of the
//! slot time its tasks have taken, and a free slot goes to the waiting query whose account
//! is lowest (start-time fair queueing, Goyal, Vin and Cheng 1996, charged with measured
//! time rather than declared sizes: a segment its index rules out costs what reading its
//! index costs). Queries that keep asking get equal shares of the slots.
//!
//! Equal shares alone make a short query wait as long as a long one takes when many run:
//! under a hundred scans a needle's 50 ms of slot time would take a hundredth of the slots
//! for as long as it needed, seconds. So a query that arrives starts `CREDIT_US` below the
//! clock (the level of the least-served query being served), as Linux's fair scheduler
//! places a new task behind the others' minimum less a bonus: its first quarter second
//! of slot time goes before every running query's, which is all a needle or a narrow
//! search needs, and a long query then takes its equal share. A query running long waits
//! at most for the credit of the queries that arrive meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// The slot time, in µs, a query just arrived may take before the queries already running.
const CREDIT_US: u64 = 250_000;

/// What a task's slot time is guessed to be until it ends, for a query none of whose
/// tasks has ended yet: it keeps a query just served from tying with one just arrived.
const FIRST_ESTIMATE_US: u64 = 1_000;

pub(super) struct FairSlots {
    state: Mutex<State>,
}

struct State {
    free: usize,
    /// The account level of the task most recently given a slot, in µs: a newly arrived
    /// query starts its credit below it.
    clock: u64,
    accounts: HashMap<u64, Account>,
    next_share: u64,
    waiting: Vec<Waiter>,
    arrivals: u64,
}

#[derive(Default)]
struct Account {
    /// Where the query started (the clock less its credit), plus the slot time of its
    /// tasks: ended ones as measured, running ones as estimated.
    level: u64,
    ended: u64,
    ended_us: u64,
}

impl Account {
    /// A running task's estimated slot time: the mean of this query's ended tasks.
    fn estimate(&self) -> u64 {
        self.ended_us
            .checked_div(self.ended)
            .unwrap_or(FIRST_ESTIMATE_US)
            .max(1)
    }
}

struct Waiter {
    share: u64,
    arrival: u64,
    /// Told the estimate its slot was given with.
    tell: oneshot::Sender<u64>,
}

/// One query's (or backfill's) account. Dropping it closes the account.
pub(super) struct Share {
    slots: Arc<FairSlots>,
    id: u64,
}

impl Drop for Share {
    fn drop(&mut self) {
        self.slots.lock().accounts.remove(&self.id);
    }
}

/// A slot held by one of `share`'s tasks; given to the next query when dropped, and the
/// time it was held charged to `share`.
pub(super) struct Slot {
    slots: Arc<FairSlots>,
    share: u64,
    estimate: u64,
    since: Instant,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots
            .release(self.share, self.estimate, self.since.elapsed());
    }
}

impl FairSlots {
    pub(super) fn new(width: usize) -> Arc<FairSlots> {
        Arc::new(FairSlots {
            state: Mutex::new(State {
                free: width.max(1),
                clock: 0,
                accounts: HashMap::new(),
                next_share: 0,
                waiting: Vec::new(),
                arrivals: 0,
            }),
        })
    }

    /// A new query's account, its credit below the clock.
    pub(super) fn share(self: &Arc<Self>) -> Share {
        let mut state = self.lock();
        let id = state.next_share;
        state.next_share += 1;
        let level = state.clock.saturating_sub(CREDIT_US);
        state.accounts.insert(
            id,
            Account {
                level,
                ..Account::default()
            },
        );
        Share {
            slots: self.clone(),
            id,
        }
    }

    /// A slot for one task of `share`. Cancel-safe: dropped while waiting, the task gives
    /// up its place, and a slot handed to it meanwhile is passed on.
    pub(super) async fn acquire(share: &Share) -> Slot {
        let slots = &share.slots;
        let granted = {
            let mut state = slots.lock();
            if state.free > 0 && state.waiting.is_empty() {
                state.free -= 1;
                let estimate = state.dispatch(share.id);
                return slots.slot(share.id, estimate);
            }
            let (tell, granted) = oneshot::channel();
            let arrival = state.arrivals;
            state.arrivals += 1;
            state.waiting.push(Waiter {
                share: share.id,
                arrival,
                tell,
            });
            granted
        };
        let mut waiting = Waiting {
            slots: slots.clone(),
            share: share.id,
            granted,
        };
        // The sender is only dropped after sending: this is a grant.
        let estimate = (&mut waiting.granted).await.unwrap_or(FIRST_ESTIMATE_US);
        waiting.granted.close();
        slots.slot(share.id, estimate)
    }

    fn slot(self: &Arc<Self>, share: u64, estimate: u64) -> Slot {
        Slot {
            slots: self.clone(),
            share,
            estimate,
            since: Instant::now(),
        }
    }

    /// Charges `share` what its task took, then hands the slot to the waiting query with
    /// the lowest account, or frees it.
    fn release(&self, share: u64, estimate: u64, held: Duration) {
        let mut state = self.lock();
        if let Some(account) = state.accounts.get_mut(&share) {
            let took = u64::try_from(held.as_micros()).unwrap_or(u64::MAX).max(1);
            account.level = account.level.saturating_sub(estimate).saturating_add(took);
            account.ended += 1;
            account.ended_us = account.ended_us.saturating_add(took);
        }
        // Tasks whose query stopped waiting are skipped.
        state.waiting.retain(|w| !w.tell.is_closed());
        while let Some(next) = state.next_waiter() {
            let waiter = state.waiting.swap_remove(next);
            let estimate = state.dispatch(waiter.share);
            if waiter.tell.send(estimate).is_ok() {
                return;
            }
            state.undo(waiter.share, estimate);
        }
        state.free += 1;
    }

    /// Tasks waiting for a slot now.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while the lock is held; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn level(&self, share: u64) -> u64 {
        self.accounts.get(&share).map_or(self.clock, |a| a.level)
    }

    /// The waiter to serve next: the lowest account, then the first to ask.
    fn next_waiter(&self) -> Option<usize> {
        (0..self.waiting.len()).min_by_key(|&i| {
            let w = &self.waiting[i];
            (self.level(w.share), w.arrival)
        })
    }

    /// Gives `share` a slot: the clock moves to its level, which then counts the task's
    /// estimate. Returns the estimate.
    fn dispatch(&mut self, share: u64) -> u64 {
        let level = self.level(share);
        self.clock = self.clock.max(level);
        match self.accounts.get_mut(&share) {
            Some(account) => {
                let estimate = account.estimate();
                account.level = account.level.saturating_add(estimate);
                estimate
            }
            None => FIRST_ESTIMATE_US,
        }
    }

    /// A dispatch whose task had stopped waiting.
    fn undo(&mut self, share: u64, estimate: u64) {
        if let Some(account) = self.accounts.get_mut(&share) {
            account.level = account.level.saturating_sub(estimate);
        }
    }
}

/// A task waiting for a slot. Dropped after it was given one but before it took it (its
/// query was cancelled at that moment), it passes the slot on; dropped before that, its
/// sender fails and `release` skips it.
struct Waiting {
    slots: Arc<FairSlots>,
    share: u64,
    granted: oneshot::Receiver<u64>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.granted.close();
        if let Ok(estimate) = self.granted.try_recv() {
            self.slots.release(self.share, estimate, Duration::ZERO);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits until `n` tasks wait for a slot.
    async fn until_waiting(slots: &FairSlots, n: usize) {
        while slots.waiting() != n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Holds a slot of `share` for `ms` of slot time.
    async fn run(share: &Share, ms: u64) {
        let _slot = FairSlots::acquire(share).await;
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    #[tokio::test]
    async fn a_query_just_arrived_goes_before_queries_already_served() {
        let slots = FairSlots::new(1);
        let order = Arc::new(Mutex::new(Vec::new()));
        // Three scans have each had a task run.
        let scans: Vec<Share> = (0..3).map(|_| slots.share()).collect();
        for share in &scans {
            run(share, 5).await;
        }
        let held = FairSlots::acquire(&slots.share()).await;
        // Their next tasks wait; then a needle arrives.
        let mut tasks = Vec::new();
        for (name, share) in ["scan 1", "scan 2", "scan 3"].into_iter().zip(scans) {
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                let _slot = FairSlots::acquire(&share).await;
                order.lock().unwrap().push(name);
            }));
            until_waiting(&slots, tasks.len()).await;
        }
        let needle = slots.share();
        tasks.push({
            let order = order.clone();
            tokio::spawn(async move {
                let _slot = FairSlots::acquire(&needle).await;
                order.lock().unwrap().push("needle");
            })
        });
        until_waiting(&slots, 4).await;
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        // The scans' order is that of the time each measured.
        let order = order.lock().unwrap();
        assert_eq!(order.len(), 4);
        assert_eq!(order[0], "needle", "{order:?}");
    }

    #[tokio::test]
    async fn slot_time_is_shared_not_turns() {
        let slots = FairSlots::new(1);
        let held = FairSlots::acquire(&slots.share()).await;
        // A query of 20 ms tasks and one of 2 ms tasks, each asking for its next slot
        // while its last task runs, as the pool's queries do: over the same stretch each
        // gets about the same slot time, so the short one runs ~10× the tasks. A
        // semaphore would give them turns.
        let runs: Vec<_> = [20, 2]
            .into_iter()
            .map(|ms| {
                let share = slots.share();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let mut tasks = 0u32;
                    while started.elapsed() < Duration::from_millis(600) {
                        let slot = FairSlots::acquire(&share).await;
                        tokio::task::spawn_blocking(move || {
                            std::thread::sleep(Duration::from_millis(ms));
                            drop(slot);
                        });
                        tasks += 1;
                    }
                    tasks
                })
            })
            .collect();
        until_waiting(&slots, 2).await;
        drop(held);
        let mut tasks = Vec::new();
        for run in runs {
            tasks.push(run.await.unwrap());
        }
        let ratio = f64::from(tasks[1]) / f64::from(tasks[0]);
        assert!((5.0..20.0).contains(&ratio), "{tasks:?}");
    }

    #[tokio::test]
    async fn a_cancelled_wait_gives_its_slot_on() {
        let slots = FairSlots::new(1);
        let held = FairSlots::acquire(&slots.share()).await;
        let cancelled = {
            let share = slots.share();
            tokio::spawn(async move { FairSlots::acquire(&share).await })
        };
        until_waiting(&slots, 1).await;
        cancelled.abort();
        let _ = cancelled.await;
        let next = {
            let share = slots.share();
            tokio::spawn(async move { drop(FairSlots::acquire(&share).await) })
        };
        until_waiting(&slots, 2).await;
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .expect("the slot reached the task still waiting")
            .unwrap();
        // And it came back: one slot, free.
        drop(FairSlots::acquire(&slots.share()).await);
    }
}
