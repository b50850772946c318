//! Runs one query: parse, plan, execute, and coalesce the partials that arrive between
//! flushes into one `Partial` frame, so the frame rate to the client stays bounded
//! (≤ 1/FLUSH_INTERVAL) however many files the query fans out to.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shared_sketch::query::TimeBound;
use shared_sketch::time::now_ms;
use shared_sketch::{
    ErrorKind, Frame, MAX_HITS_LIMIT, Partial, Progress, QueryError, Scope, parse,
};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::build::Engine;
use super::metrics::Outcome;
use super::planner::plan;
use lake::LookupsError;
use workers::ScanOptions;

pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// One query to run: whose, what, and what a widget token allows.
#[derive(Debug, Clone)]
pub struct Ask {
    pub tenant: String,
    pub q: String,
    /// How many of the newest matching events to keep (0: the query's own).
    pub hits: u32,
    /// The time range a widget token allows: the query is narrowed to it.
    pub within: (Option<TimeBound>, Option<TimeBound>),
    /// The id of the key that asked, for its limit of queries at once.
    pub key: Option<String>,
}

impl Ask {
    pub fn new(tenant: &str, q: &str, hits: u32) -> Ask {
        Ask {
            tenant: tenant.to_string(),
            q: q.to_string(),
            hits,
            within: (None, None),
            key: None,
        }
    }

    /// Asked with the key of id `key`.
    pub fn with_key(mut self, key: Option<String>) -> Ask {
        self.key = key;
        self
    }
}

/// Sends `Plan`, then `Partial`/`Progress` frames, then `Done` — or a single `Error` if the
/// query cannot run. Returns early, quietly, if the receiver of `frames` goes away.
pub async fn run_query(
    engine: &Engine,
    ask: &Ask,
    frames: mpsc::Sender<Frame>,
    cancel: CancellationToken,
) {
    let started = Instant::now();
    let gauge = engine.metrics().start_query();
    // Held until the query ends: its key's and its tenant's count of queries at once.
    let _admitted = match engine.admission().admit(&ask.tenant, ask.key.as_deref()) {
        Ok(admitted) => admitted,
        Err(busy) => {
            gauge.end(Outcome::Busy);
            let _ = frames.send(Frame::Error(busy)).await;
            return;
        }
    };
    let Some(lake) = engine.lake_for(&ask.tenant) else {
        gauge.end(Outcome::Rejected);
        let _ = frames
            .send(Frame::Error(QueryError::new(
                ErrorKind::NotFound,
                format!("tenant {:?} has no data here", ask.tenant),
            )))
            .await;
        return;
    };
    let query = match parse(&ask.q) {
        Ok(mut query) => {
            // Once, here: every worker then filters and buckets time identically.
            let now = now_ms();
            query.resolve_time(now);
            let (earliest, latest) = ask.within;
            if earliest.is_some() || latest.is_some() {
                query.restrict_time(
                    earliest.map(|t| t.resolve(now)),
                    latest.map(|t| t.resolve(now)),
                );
            }
            if ask.hits > 0 {
                query.hits = ask.hits.min(MAX_HITS_LIMIT as u32);
            }
            Arc::new(query)
        }
        Err(e) => {
            gauge.end(Outcome::Rejected);
            let _ = frames.send(Frame::Error(e.into())).await;
            return;
        }
    };
    // The tables its `lookup`s name travel with the query to every worker.
    let names = query.lookup_tables();
    let options = if names.is_empty() {
        engine.scan().clone()
    } else {
        match lake.catalog.read_lookups(&names).await {
            Ok(lookups) => Arc::new(ScanOptions {
                lookups,
                ..ScanOptions::clone(engine.scan())
            }),
            Err(why) => {
                let (kind, outcome) = match why {
                    LookupsError::Catalog(_) => (ErrorKind::LakeUnavailable, Outcome::Failed),
                    _ => (ErrorKind::BadQuery, Outcome::Rejected),
                };
                gauge.end(outcome);
                let _ = frames
                    .send(Frame::Error(QueryError::new(kind, why.to_string())))
                    .await;
                return;
            }
        }
    };
    let planned = match plan(lake, &query, &options).await {
        Ok(planned) => planned,
        Err(why) => {
            tracing::error!(lake = %lake.root, %why, "cannot plan");
            gauge.end(Outcome::Failed);
            let _ = frames
                .send(Frame::Error(QueryError::new(
                    ErrorKind::LakeUnavailable,
                    format!("cannot plan the query: {why}"),
                )))
                .await;
            return;
        }
    };
    let tasks = planned.tasks;
    let mut progress = Progress {
        files_total: tasks.len() as u64,
        bytes_total: tasks.iter().map(|t| t.bytes).sum(),
        ..Progress::default()
    };
    let scope = Scope {
        query: (*query).clone(),
        files: progress.files_total,
        bytes: progress.bytes_total,
        files_pruned: planned.pruned,
        bytes_pruned: planned.pruned_bytes,
    };
    let metrics = engine.metrics();
    metrics
        .bytes_pruned
        .fetch_add(planned.pruned_bytes, Ordering::Relaxed);
    if frames.send(Frame::Plan(scope)).await.is_err() {
        gauge.end(Outcome::Cancelled);
        return;
    }

    let mut partials = engine.executor().execute(query.clone(), options, tasks);
    let mut pending: Option<Partial> = None;
    let mut tick = tokio::time::interval(FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep(engine.timeout());
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                progress.cancelled = true;
                break;
            }
            () = &mut deadline => {
                progress.stopped = Some(format!(
                    "stopped at the {} s time limit for a query: the answer covers {} of {} files",
                    engine.timeout().as_secs_f64(),
                    progress.files_done,
                    progress.files_total
                ));
                break;
            }
            next = partials.recv() => {
                let Some(partial) = next else { break };
                let stats = &partial.stats;
                progress.files_done += stats.files;
                progress.bytes_done += stats.bytes;
                metrics.bytes_scanned.fetch_add(stats.bytes_read, Ordering::Relaxed);
                metrics
                    .bytes_pruned
                    .fetch_add(stats.bytes.saturating_sub(stats.bytes_read), Ordering::Relaxed);
                metrics.files_failed.fetch_add(stats.failed_files, Ordering::Relaxed);
                match &mut pending {
                    None => pending = Some(partial),
                    Some(acc) => {
                        if let Err(e) = acc.merge(&partial) {
                            // Every partial comes from this query's own plan: a bug, not input.
                            tracing::error!(error = %e, "partials do not merge");
                            gauge.end(Outcome::Failed);
                            let _ = frames.send(Frame::Error(QueryError::new(
                                ErrorKind::Internal,
                                format!("internal error: {e}"),
                            ))).await;
                            return;
                        }
                    }
                }
            }
            _ = tick.tick() => {
                if flush(&frames, &mut pending, &mut progress, started).await.is_err() {
                    gauge.end(Outcome::Cancelled);
                    return;
                }
            }
        }
    }
    // Dropping the receiver stops tasks that have not started.
    drop(partials);
    if flush(&frames, &mut pending, &mut progress, started)
        .await
        .is_err()
    {
        gauge.end(Outcome::Cancelled);
        return;
    }
    gauge.end(if progress.cancelled {
        Outcome::Cancelled
    } else if progress.stopped.is_some() {
        Outcome::Stopped
    } else {
        Outcome::Finished
    });
    progress.elapsed_ms = elapsed_ms(started);
    tracing::info!(
        tenant = %ask.tenant,
        query = %query,
        files = progress.files_done,
        bytes = progress.bytes_done,
        elapsed_ms = progress.elapsed_ms,
        cancelled = progress.cancelled,
        stopped = progress.stopped.is_some(),
        "query finished"
    );
    let _ = frames.send(Frame::Done(progress)).await;
}

async fn flush(
    frames: &mpsc::Sender<Frame>,
    pending: &mut Option<Partial>,
    progress: &mut Progress,
    started: Instant,
) -> Result<(), mpsc::error::SendError<Frame>> {
    let Some(partial) = pending.take() else {
        return Ok(());
    };
    frames.send(Frame::Partial(partial)).await?;
    progress.elapsed_ms = elapsed_ms(started);
    frames.send(Frame::Progress(progress.clone())).await
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
