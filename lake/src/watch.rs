//! `serve --watch DIR`: the lake's upkeep while serving. Every tick it ingests the files
//! that arrived in DIR (once they stop changing: a file still being written is left for a
//! later tick), evaluating the rules on their events in the same pass; compacts small
//! segments; and now and then sweeps files the catalog no longer reads. Queries run
//! throughout; each catalog change is one transaction.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use workers::{ScanOptions, Source};

use crate::compact::compact;
use crate::error::{LakeError, blocking};
use crate::folder::{list_files, raw_entry};
use crate::ingest::{Report, ingest_one};
use crate::lake::{Lake, SWEEP_GRACE};
use crate::rollups::Watching;

/// Ticks between sweeps.
const SWEEP_EVERY: u32 = 300;

/// How far the watched folder's ingest is behind, for operators (`/metrics`).
#[derive(Debug, Default)]
pub struct WatchStatus {
    /// Files in the folder not ingested yet (arrived, still being written, or failing).
    pub waiting: AtomicU64,
    /// The modification time (epoch ms) of the oldest of them; 0 when none wait.
    pub oldest_waiting_ms: AtomicI64,
    /// Ticks whose ingest failed (each is retried at the next).
    pub failed_ticks: AtomicU64,
    /// Files ingested since the gateway started.
    pub ingested: AtomicU64,
}

impl WatchStatus {
    /// Seconds the oldest waiting file has waited at `now_ms`: the ingest lag.
    pub fn lag_seconds(&self, now_ms: i64) -> f64 {
        match self.oldest_waiting_ms.load(Ordering::Relaxed) {
            0 => 0.0,
            oldest => (now_ms.saturating_sub(oldest)).max(0) as f64 / 1000.0,
        }
    }
}

/// Runs until `stop`; `ingested` is notified each time files were ingested (the rules'
/// runs wait on it, so an alert does not wait for their next tick). `status` says how far
/// behind it is.
pub async fn watch(
    lake: Arc<Lake>,
    dir: PathBuf,
    options: ScanOptions,
    rules: impl Fn() -> Watching + Send + 'static,
    interval: Duration,
    (ingested, stop, status): (Arc<Notify>, CancellationToken, Arc<WatchStatus>),
) {
    // Size and modification time of each file at the previous tick.
    let mut seen: HashMap<PathBuf, (u64, i64)> = HashMap::new();
    let mut done: HashMap<PathBuf, (u64, i64)> = HashMap::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match step(
            &lake,
            &dir,
            &options,
            &rules(),
            &mut seen,
            &mut done,
            &status,
        )
        .await
        {
            Ok(0) => {}
            Ok(n) => {
                status.ingested.fetch_add(n, Ordering::Relaxed);
                ingested.notify_one();
            }
            Err(e) => {
                status.failed_ticks.fetch_add(1, Ordering::Relaxed);
                tracing::error!(dir = %dir.display(), error = %e, "watched folder: ingest failed; retrying next tick");
            }
        }
        if let Err(e) = compact(&lake).await {
            tracing::error!(error = %e, "compaction failed; retrying next tick");
        }
        ticks = ticks.wrapping_add(1);
        if ticks % SWEEP_EVERY == 1
            && let Err(e) = lake.sweep(SWEEP_GRACE).await
        {
            tracing::error!(error = %e, "sweep failed");
        }
    }
}

/// Ingests every file under `dir` whose size and modification time are as they were a tick
/// ago, and that was not ingested before; returns how many.
async fn step(
    lake: &Lake,
    dir: &std::path::Path,
    options: &ScanOptions,
    rules: &Watching,
    seen: &mut HashMap<PathBuf, (u64, i64)>,
    done: &mut HashMap<PathBuf, (u64, i64)>,
    status: &WatchStatus,
) -> Result<u64, LakeError> {
    let files = {
        let within = dir.to_path_buf();
        blocking(dir, move || {
            list_files(&within)?
                .into_iter()
                .map(|path| raw_entry(&path).map(|e| (path, (e.bytes, e.modified_ms))))
                .collect::<Result<Vec<_>, LakeError>>()
        })
        .await?
    };
    let now: HashMap<PathBuf, (u64, i64)> = files.into_iter().collect();
    // Noted before ingesting too: a tick that fails part-way leaves it standing.
    note_waiting(&now, done, status);
    let mut ingested = 0;
    for (path, stamp) in &now {
        let steady = seen.get(path) == Some(stamp);
        if !steady || done.get(path) == Some(stamp) {
            continue;
        }
        let mut report = Report::default();
        let file = Source::File(path.clone());
        ingest_one(lake, raw_entry(path)?, file, options, rules, &mut report).await?;
        if report.segments > 0 || !report.kept.is_empty() || !report.failed.is_empty() {
            tracing::info!(
                file = %path.display(),
                segments = report.segments,
                rows = report.rows,
                "ingested from the watched folder"
            );
        }
        done.insert(path.clone(), *stamp);
        ingested += 1;
    }
    done.retain(|path, _| now.contains_key(path));
    *seen = now;
    note_waiting(seen, done, status);
    Ok(ingested)
}

/// Notes in `status` the files of `now` not ingested as they are, and the oldest of them.
fn note_waiting(
    now: &HashMap<PathBuf, (u64, i64)>,
    done: &HashMap<PathBuf, (u64, i64)>,
    status: &WatchStatus,
) {
    let waiting = now
        .iter()
        .filter(|(path, stamp)| done.get(*path) != Some(*stamp));
    let (count, oldest) = waiting.fold(
        (0, None),
        |(n, oldest): (u64, Option<i64>), (_, (_, at))| {
            (n + 1, Some(oldest.map_or(*at, |o| o.min(*at))))
        },
    );
    status.waiting.store(count, Ordering::Relaxed);
    // 0 says none wait: a file stamped at the epoch counts from 1 ms.
    let oldest = oldest.map_or(0, |at| at.max(1));
    status.oldest_waiting_ms.store(oldest, Ordering::Relaxed);
}
