//! Compaction: many small segments (one per small source file) cost a task, an index read
//! and a catalog row each. Small segments of one source format and time fields are copied
//! into large ones, and one catalog transaction swaps them: queries plan the small ones or
//! the large ones, never both. The small files stay until the sweep's grace period has passed, for
//! queries already reading them.

use workers::compact_segments;
use xxhash_rust::xxh3::xxh3_64;

use crate::catalog::{Entry, Kind, State};
use shared_sketch::time::now_ms;

use crate::error::{LakeError, blocking, io_error};
use crate::lake::Lake;
use crate::store::source_of;

/// Segments stored in fewer bytes than this are compacted.
pub const SMALL_SEGMENT_BYTES: u64 = 16 << 20;
/// At most this many segments are copied in one step, so a step is bounded in time and a
/// crash loses at most one step's work.
const MAX_PER_STEP: usize = 256;

/// One compaction step's outcome.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Compacted {
    pub merged: u64,
    pub into: u64,
    pub rows: u64,
}

/// Copies up to `MAX_PER_STEP` small segments into large ones and swaps them in the
/// catalog. Nothing to do (fewer than two small segments alike) is `Compacted::default()`.
pub async fn compact(lake: &Lake) -> Result<Compacted, LakeError> {
    let mut small: Vec<Entry> = lake
        .catalog
        .list(State::Active)
        .await?
        .into_iter()
        .filter(|e| e.kind == Kind::Segment && e.bytes < SMALL_SEGMENT_BYTES)
        .collect();
    // The most common (source format, time fields, source folder) first; segments of
    // other kinds wait their turn. A segment keeps the fields its times were read from,
    // and its format says which fields a scan expects (see `workers::scanned_time_fields`).
    // Segments of one folder only: `@index=` finds a segment by where its events came from.
    let Some((format, fields, folder)) = most_common(small.iter().map(|e| {
        (
            e.format.as_str(),
            e.time_fields.as_str(),
            e.source.as_deref().map(folder_of),
        )
    })) else {
        return Ok(Compacted::default());
    };
    let (format, fields) = (format.to_string(), fields.to_string());
    let folder = folder.map(str::to_string);
    small.retain(|e| {
        e.format == format
            && e.time_fields == fields
            && e.source.as_deref().map(folder_of) == folder.as_deref()
    });
    small.truncate(MAX_PER_STEP);
    if small.len() < 2 {
        return Ok(Compacted::default());
    }
    let inputs = small
        .iter()
        .map(|e| source_of(&e.uri))
        .collect::<Result<Vec<_>, _>>()?;
    let staging = lake.staging()?;
    let prefix = format!(
        "compacted-{}-{:016x}",
        now_ms(),
        xxh3_64(small[0].uri.as_bytes())
    );
    let time_fields = if fields.is_empty() {
        Vec::new()
    } else {
        fields.split(',').map(str::to_string).collect()
    };
    let added = blocking(&staging.dir.clone(), move || {
        let dir = &staging.dir;
        compact_segments(&inputs, time_fields, |n| {
            dir.join(format!("{prefix}.{n}.ndjson.gz"))
        })
        .map_err(io_error(dir))?
        .iter()
        .map(|s| staging.publish(s, &format, folder.as_deref()))
        .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let retired_at = now_ms();
    for e in &mut small {
        // The sweep's grace period counts from here.
        e.modified_ms = retired_at;
    }
    lake.catalog.swap(&small, State::Retired, &added).await?;
    let outcome = Compacted {
        merged: small.len() as u64,
        into: added.len() as u64,
        rows: added.iter().filter_map(|e| e.rows).sum(),
    };
    tracing::info!(
        merged = outcome.merged,
        into = outcome.into,
        rows = outcome.rows,
        "compacted small segments"
    );
    Ok(outcome)
}

/// The folder of a source (`…/cloudtrail/`), or the source itself when it is one.
fn folder_of(source: &str) -> &str {
    source.rfind('/').map_or(source, |end| &source[..=end])
}

fn most_common<K: Ord>(values: impl Iterator<Item = K>) -> Option<K> {
    let mut counts = std::collections::BTreeMap::<K, usize>::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    counts.into_iter().max_by_key(|&(_, n)| n).map(|(v, _)| v)
}
