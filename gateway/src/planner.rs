//! Turns a query into scan tasks: the catalog's active files, less those whose time range
//! rules them out. Pages are pruned later, by each segment's index, in the worker.

use shared_sketch::Query;
use workers::{Format, ScanOptions, time_fields};

use crate::catalog::Kind;
use crate::executor::ScanTask;
use crate::lake::{Lake, LakeError, path_of};

/// A query's scan tasks, and what the catalog ruled out without reading.
#[derive(Debug, Default)]
pub struct Planned {
    pub tasks: Vec<ScanTask>,
    pub pruned: u64,
    pub pruned_bytes: u64,
}

pub async fn plan(lake: &Lake, query: &Query, options: &ScanOptions) -> Result<Planned, LakeError> {
    // Segment time ranges were read from the NDJSON time fields: they bound a scan reading
    // the same fields (raw files have no recorded range and are never ruled out).
    let fields = time_fields(Format::Ndjson, options).join(",");
    let planned = lake
        .catalog
        .plan(query.time_range_if_absolute(), &fields)
        .await?;
    let tasks = planned
        .targets
        .into_iter()
        .map(|t| {
            let path = path_of(&t.uri)?;
            Ok(ScanTask {
                name: lake.name(&path),
                bytes: t.bytes,
                segment: t.kind == Kind::Segment,
                path,
            })
        })
        .collect::<Result<_, LakeError>>()?;
    Ok(Planned {
        tasks,
        pruned: planned.pruned,
        pruned_bytes: planned.pruned_bytes,
    })
}
