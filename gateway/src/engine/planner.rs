//! Turns a query into scan tasks: the catalog's active files, less those whose time range
//! rules them out. Pages are pruned later, by each segment's index, in the worker.

use shared_sketch::Query;
use workers::{FileTask, Format, ScanOptions, time_fields};

use lake::{Kind, Lake, LakeError};

use super::executor::ScanTask;

/// A query's scan tasks, and what the catalog ruled out without reading.
#[derive(Debug, Default)]
pub struct ScanTasks {
    pub tasks: Vec<ScanTask>,
    pub pruned: u64,
    pub pruned_bytes: u64,
}

/// The fields a scan reads an entry's time from, for an entry of `format` (a segment's is
/// its source's, whose fields its times were read from and its scan reads): a recorded
/// range read from other fields bounds nothing.
pub fn scanned_time_fields(format: &str, options: &ScanOptions) -> String {
    match options.format.or_else(|| format.parse::<Format>().ok()) {
        Some(format) => time_fields(format, options).join(","),
        None => String::new(),
    }
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
