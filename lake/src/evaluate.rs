//! Rules evaluated over the files a lake reads where they are (a folder or bucket served
//! as it is, free text, a file that could not be ingested): ingest's pass never saw their
//! events, so each is read once for every rule that has not yet read it as it is now, and
//! its rollups are stored as ingest would have stored them. A file that grows is read again
//! and its rollups replaced.

use std::path::Path;

use shared_sketch::time::now_ms;
use shared_sketch::{Hit, Partial, Query};
use workers::{ScanOptions, Watch, detect_file, scan_file, scan_segment, scanned_time_fields};

use crate::catalog::{Kind, State};
use crate::error::{LakeError, blocking};
use crate::lake::Lake;
use crate::rollups::{Detected, RuleKey, Watching};
use crate::store::source_of;

/// Reads every raw file some of `rules` have not read as it is now; returns how many.
pub async fn evaluate_raw_files(
    lake: &Lake,
    rules: &Watching,
    options: &ScanOptions,
) -> Result<u64, LakeError> {
    if rules.is_empty() {
        return Ok(0);
    }
    let mut read = 0;
    let evaluated = lake.catalog.evaluated_sources().await?;
    for entry in lake.catalog.list(State::Active).await? {
        if entry.kind != Kind::Raw {
            continue;
        }
        let mut keys: Vec<RuleKey> = Vec::new();
        let mut watches: Vec<Watch> = Vec::new();
        let read_by = evaluated.get(&entry.uri);
        for (key, watch) in rules.keys.iter().zip(rules.watches.iter()) {
            if read_by.and_then(|rules| rules.get(key)) != Some(&entry.modified_ms) {
                keys.push(key.clone());
                watches.push(watch.clone());
            }
        }
        if keys.is_empty() {
            continue;
        }
        let source = source_of(&entry.uri)?;
        let name = lake.name_of(&entry.uri);
        let options = options.clone();
        let rollups = blocking(Path::new(&entry.uri), move || {
            let (rollups, error) = detect_file(source, &name, &watches, &options, now_ms());
            if let Some(error) = error {
                // What was read before it counts, as a query of the file would.
                tracing::warn!(file = %name, %error, "rules could not read the whole file");
            }
            Ok(rollups)
        })
        .await?;
        lake.catalog
            .add_rollups(Detected {
                source: entry.uri.clone(),
                modified_ms: entry.modified_ms,
                rules: keys,
                rollups,
            })
            .await?;
        read += 1;
    }
    Ok(read)
}

/// The newest `query.hits` events matching `query` in the lake's files that its time range
/// reaches, chosen and read as a query's are (segments through their page index): what an
/// alert shows of its group when its minutes kept no sample of it. Files that fail are
/// skipped (a warning names them).
pub async fn read_matching(
    lake: &Lake,
    query: &Query,
    options: &ScanOptions,
) -> Result<Vec<Hit>, LakeError> {
    let planned = lake
        .catalog
        .plan(query.time_range_if_absolute(), |format| {
            scanned_time_fields(format, options)
        })
        .await?;
    let mut found = Partial::new(query);
    for target in planned.targets {
        let source = source_of(&target.uri)?;
        let name = lake.name_of(&target.uri);
        let segment = target.kind == Kind::Segment;
        let (query, options) = (query.clone(), options.clone());
        let read = blocking(Path::new(&target.uri), move || {
            Ok(if segment {
                scan_segment(source, &name, &query, &options)
            } else {
                scan_file(source, &name, &query, &options)
            })
        })
        .await?;
        for error in &read.stats.errors {
            tracing::warn!(file = %error.file, error = %error.message, "reading samples");
        }
        found.add_hits(read.hits);
    }
    Ok(found.hits)
}
