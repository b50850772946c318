//! `sketchlake ingest`: copies source files into indexed segments under an output folder,
//! leaving the sources as they are. Formats ingest does not convert yet are reported and
//! left to be scanned where they are.

use std::path::Path;

use workers::{Ingested, ScanOptions, ingest_file};

use crate::planner::list_files;

/// What one `ingest` run wrote.
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
    /// Source files in a format ingest does not convert, with that format.
    pub kept: Vec<(String, String)>,
}

/// Ingests `source` (a file, or every file under a folder) into `out`. A source
/// `a/b.json.gz` becomes `out/a/b.json.gz.0.ndjson.gz` (and `.1…` past `SEGMENT_BYTES`),
/// each with its `.idx` sidecar.
pub fn ingest(source: &Path, out: &Path, options: &ScanOptions) -> std::io::Result<Report> {
    let mut report = Report::default();
    for task in list_files(source)? {
        report.files += 1;
        let ingested = ingest_file(&task.path, options, |n| {
            out.join(format!("{}.{n}.ndjson.gz", task.name))
        })?;
        match ingested {
            Ingested::Segments {
                segments,
                malformed,
            } => {
                report.malformed += malformed;
                for segment in segments {
                    report.segments += 1;
                    report.rows += segment.rows;
                    report.bytes += segment.bytes;
                    report.index_bytes += segment.index_bytes;
                }
            }
            Ingested::Raw(format) => report.kept.push((task.name, format.to_string())),
        }
    }
    Ok(report)
}
