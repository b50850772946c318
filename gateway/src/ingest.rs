//! Ingest: copies source files into indexed segments in a lake and registers them, leaving
//! the sources as they are. For each source, one catalog transaction adds its segments and
//! marks the source ingested, so a crash at any point leaves either the source read raw or
//! its segments — never both, never neither — and a rerun picks up where it stopped.
//! Formats ingest does not convert are registered and read where they are.

use std::path::Path;

use workers::{Ingested, ScanOptions, Segment, index_path, ingest_file};
use xxhash_rust::xxh3::xxh3_64;

use crate::catalog::{Entry, Kind, State};
use crate::lake::{Lake, LakeError, blocking, format_name, list_files, now_ms, raw_entry, uri_of};

/// What one `ingest` run did.
#[derive(Debug, Default)]
pub struct Report {
    pub files: u64,
    pub segments: u64,
    pub rows: u64,
    /// Events that were not JSON objects: counted, left out of the segments.
    pub malformed: u64,
    /// Compressed bytes of the segments, and of their index sidecars.
    pub bytes: u64,
    pub index_bytes: u64,
    /// Sources ingested before: not copied again.
    pub skipped: u64,
    /// Source files in a format ingest does not convert, with that format: registered and
    /// read where they are.
    pub kept: Vec<(String, String)>,
    /// Source files that could not be read to the end, with why: registered and read
    /// where they are, so queries read what they can and report the rest.
    pub failed: Vec<(String, String)>,
}

/// Ingests `source` (a file, or every file under a folder) into `lake`.
pub async fn ingest(
    lake: &Lake,
    source: &Path,
    options: &ScanOptions,
) -> Result<Report, LakeError> {
    let mut report = Report::default();
    let source = std::path::absolute(source).map_err(|e| LakeError::Io {
        path: source.to_path_buf(),
        source: e,
    })?;
    for path in list_files(&source)? {
        ingest_one(lake, &path, options, &mut report).await?;
    }
    Ok(report)
}

/// Ingests one source file (an absolute path) into `lake`, adding to `report`.
pub async fn ingest_one(
    lake: &Lake,
    path: &Path,
    options: &ScanOptions,
    report: &mut Report,
) -> Result<(), LakeError> {
    report.files += 1;
    let mut entry = raw_entry(path)?;
    if lake
        .catalog
        .get(&entry.uri)
        .await?
        .is_some_and(|e| e.state == State::Ingested)
    {
        report.skipped += 1;
        return Ok(());
    }
    let ingested = {
        let (source, options) = (path.to_path_buf(), options.clone());
        let (dir, prefix) = (lake.segments_dir()?, segment_prefix(path, &entry.uri));
        blocking(path, move || {
            Ok(ingest_file(&source, &options, |n| {
                dir.join(format!("{prefix}.{n}.ndjson.gz"))
            }))
        })
        .await?
    };
    let ingested = match ingested {
        Ok(ingested) => ingested,
        Err(e) => {
            // Unreadable part-way (a truncated gzip, say): read it where it is instead,
            // where each query reads what it can and reports the rest. Nothing is lost.
            tracing::warn!(file = %path.display(), error = %e, "cannot copy into segments; registered as it is");
            entry.format = format_name(path, options).unwrap_or_else(|_| "unknown".to_string());
            lake.catalog.register(&[entry]).await?;
            report.failed.push((lake.name(path), e.to_string()));
            return Ok(());
        }
    };
    match ingested {
        Ingested::Segments {
            format,
            segments,
            malformed,
        } => {
            report.malformed += malformed;
            let mut added = Vec::with_capacity(segments.len());
            for segment in &segments {
                report.segments += 1;
                report.rows += segment.rows;
                report.bytes += segment.bytes;
                report.index_bytes += segment.index_bytes;
                added.push(segment_entry(segment, format.name(), Some(&entry.uri))?);
            }
            entry.format = format.to_string();
            lake.catalog.swap(&[entry], State::Ingested, &added).await?;
        }
        Ingested::Raw(format) => {
            entry.format = format.to_string();
            lake.catalog.register(&[entry]).await?;
            report.kept.push((lake.name(path), format.to_string()));
        }
    }
    Ok(())
}

/// The catalog entry of a segment just written from a source in `format` (whose time fields
/// the segment's times were read from).
pub fn segment_entry(
    segment: &Segment,
    format: &str,
    source: Option<&str>,
) -> Result<Entry, LakeError> {
    Ok(Entry {
        uri: uri_of(&segment.path)?,
        kind: Kind::Segment,
        format: format.to_string(),
        time: segment.time,
        time_fields: segment.time_fields.join(","),
        rows: Some(segment.rows),
        bytes: segment.bytes,
        index_uri: Some(uri_of(&index_path(&segment.path))?),
        source: source.map(str::to_string),
        modified_ms: now_ms(),
        state: State::Active,
    })
}

/// `<file name>.<hash of its uri>`: readable, and distinct for same-named sources in
/// different folders. A rerun after a crash writes the same names, replacing what the crash
/// left unregistered.
fn segment_prefix(path: &Path, uri: &str) -> String {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    format!("{name}.{:016x}", xxh3_64(uri.as_bytes()))
}
