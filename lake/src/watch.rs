//! `serve --watch DIR`: the lake's upkeep while serving. Every tick it ingests the files
//! that arrived in DIR (once they stop changing: a file still being written is left for a
//! later tick), evaluating the rules on their events in the same pass; compacts small
//! segments; and now and then sweeps files the catalog no longer reads. Queries run
//! throughout; each catalog change is one transaction.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
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

/// Runs until `stop`; `ingested` is notified each time files were ingested (the rules'
/// runs wait on it, so an alert does not wait for their next tick).
pub async fn watch(
    lake: Arc<Lake>,
    dir: PathBuf,
    options: ScanOptions,
    rules: impl Fn() -> Watching + Send + 'static,
    interval: Duration,
    (ingested, stop): (Arc<Notify>, CancellationToken),
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
        match step(&lake, &dir, &options, &rules(), &mut seen, &mut done).await {
            Ok(0) => {}
            Ok(_) => ingested.notify_one(),
            Err(e) => {
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
    Ok(ingested)
}
