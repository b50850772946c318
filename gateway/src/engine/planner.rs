//! Turns a query into scan tasks: the catalog's active files, less those whose time range
//! rules them out. Pages are pruned later, by each segment's index, in the worker.

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
    let tasks = planned
        .targets
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
        pruned: planned.pruned,
        pruned_bytes: planned.pruned_bytes,
    })
}
