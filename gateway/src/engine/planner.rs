//! Turns a query into scan tasks: the catalog's active files, less those whose time range
//! rules them out and those outside its `@index=` folders. Pages are pruned later, by each segment's index, in the worker.

use shared_sketch::Query;
use workers::{FileTask, ScanOptions, scanned_time_fields};

use lake::{Kind, Lake, LakeError};

use super::executor::ScanTask;

/// A query's scan tasks, and what the catalog ruled out without reading.
#[derive(Debug, Default)]
pub struct ScanTasks {
    pub tasks: Vec<ScanTask>,
    pub pruned: u64,
    pub pruned_bytes: u64,
}

pub async fn plan(
    lake: &Lake,
    query: &Query,
    options: &ScanOptions,
) -> Result<ScanTasks, LakeError> {
    let planned = lake
        .catalog
        .plan(query.time_range_if_absolute(), |format| {
            scanned_time_fields(format, options)
        })
        .await?;
    let (mut pruned, mut pruned_bytes) = (planned.pruned, planned.pruned_bytes);
    let mut targets = planned.targets;
    if let Some(glob) = &query.index {
        // Where a file's events came from: the file, or a segment's source. A segment
        // compacted before sources were kept has none, and is read rather than missed.
        targets.retain(|t| {
            let keep = match (t.kind, &t.source) {
                (Kind::Segment, None) => true,
                (Kind::Segment, Some(source)) => lake.in_index(glob, source),
                _ => lake.in_index(glob, &t.uri),
            };
            if !keep {
                pruned += 1;
                pruned_bytes += t.bytes;
            }
            keep
        });
    }
    let tasks = targets
        .into_iter()
        .map(|t| ScanTask {
            file: FileTask {
                name: lake.name_of(&t.uri),
                segment: t.kind == Kind::Segment,
                url: t.uri,
            },
            bytes: t.bytes,
        })
        .collect();
    Ok(ScanTasks {
        tasks,
        pruned,
        pruned_bytes,
    })
}
