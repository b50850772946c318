//! Ingest: copies source files into indexed segments in a lake and registers them, leaving
//! the sources as they are. For each source, one catalog transaction adds its segments and
//! marks the source ingested, so a crash at any point leaves either the source read raw or
//! its segments — never both, never neither — and a rerun picks up where it stopped.
//! Formats ingest does not convert are registered and read where they are.

use std::collections::VecDeque;
use std::io;
use std::path::Path;

use shared_sketch::time::now_ms;
use workers::{Detector, Format, Ingested, ScanOptions, Segment, Source, ingest_file};
use xxhash_rust::xxh3::xxh3_64;

use crate::bucket::list_objects;
use crate::catalog::{CatalogError, Entry, State};
use crate::error::{LakeError, io_error};
use crate::folder::{format_name, list_files, raw_entry};
use crate::lake::Lake;
use crate::rollups::{Detected, Encoded, Watching};
use crate::store::source_of;

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

/// Ingests `source` into `lake`: a file, every file under a folder, or every object under
/// an `s3://bucket/prefix` (but segments already there), evaluating `rules` on its events.
pub async fn ingest(
    lake: &Lake,
    source: &str,
    options: &ScanOptions,
    rules: &Watching,
) -> Result<Report, LakeError> {
    let mut report = Report::default();
    let files: Vec<(Entry, Source)> = if workers::is_object_url(source) {
        let mut files = Vec::new();
        for listed in list_objects(source).await? {
            if listed.segment {
                continue;
            }
            let file = source_of(&listed.url)?;
            files.push((listed.raw_entry(String::new()), file));
        }
        if files.is_empty() {
            // As a local path that does not exist: most likely a mistyped prefix.
            return Err(LakeError::Store {
                url: source.to_string(),
                message: "no objects to ingest there".to_string(),
            });
        }
        files
    } else {
        let path = std::path::absolute(source).map_err(io_error(Path::new(source)))?;
        list_files(&path)?
            .into_iter()
            .map(|path| Ok((raw_entry(&path)?, Source::File(path))))
            .collect::<Result<_, LakeError>>()?
    };
    // Files are copied a core each, on blocking threads, and recorded in the catalog in
    // their order, a transaction each, as their copies end. After an error, the copies
    // under way end on their own and are not recorded: a rerun copies them again.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut under_way: VecDeque<Copying> = VecDeque::new();
    for (entry, file) in files {
        if under_way.len() >= cores
            && let Some(copied) = under_way.pop_front()
        {
            copied.record(lake, &mut report).await?;
        }
        match Copying::start(lake, entry, file, options, rules, &mut report).await {
            Ok(Some(copying)) => under_way.push_back(copying),
            Ok(None) => {}
            Err(error) => {
                // The copies under way are good: recorded before the error is told.
                while let Some(copied) = under_way.pop_front() {
                    copied.record(lake, &mut report).await?;
                }
                return Err(error);
            }
        }
    }
    while let Some(copied) = under_way.pop_front() {
        copied.record(lake, &mut report).await?;
    }
    Ok(report)
}

/// Ingests one source `file` into `lake`, adding to `report`, and stores `rules`' rollups
/// of its events with its segments; `entry` is its raw catalog entry (format left empty).
/// A source kept raw is evaluated where it is, by the rules' runs.
pub async fn ingest_one(
    lake: &Lake,
    entry: Entry,
    file: Source,
    options: &ScanOptions,
    rules: &Watching,
    report: &mut Report,
) -> Result<(), LakeError> {
    match Copying::start(lake, entry, file, options, rules, report).await? {
        Some(copying) => copying.record(lake, report).await,
        None => Ok(()),
    }
}

/// A source being copied into segments, its rules evaluated in the same pass, on a
/// blocking thread.
struct Copying {
    entry: Entry,
    name: String,
    copy: tokio::task::JoinHandle<Result<Copied, LakeError>>,
}

impl Copying {
    /// Starts copying `file`, unless it is ingested already (`None`).
    async fn start(
        lake: &Lake,
        entry: Entry,
        file: Source,
        options: &ScanOptions,
        rules: &Watching,
        report: &mut Report,
    ) -> Result<Option<Copying>, LakeError> {
        report.files += 1;
        if lake
            .catalog
            .get(&entry.uri)
            .await?
            .is_some_and(|e| e.state == State::Ingested)
        {
            report.skipped += 1;
            return Ok(None);
        }
        let name = lake.name_of(&entry.uri);
        let (options, uri, staging) = (options.clone(), entry.uri.clone(), lake.staging()?);
        let prefix = segment_prefix(&file, &entry.uri);
        let (rules, detector_name) = (rules.clone(), name.clone());
        let copy = tokio::task::spawn_blocking(move || {
            let dir = &staging.dir;
            let mut detector = Detector::new(&rules.watches, &detector_name, now_ms());
            let ingested = ingest_file(
                &file,
                &options,
                |n| dir.join(format!("{prefix}.{n}.ndjson.gz")),
                &mut detector,
            );
            Ok(match ingested {
                Ok(Ingested::Segments {
                    format,
                    segments,
                    malformed,
                }) => Copied::Segments {
                    // The detector encodes its rollups as it finishes: here, on the thread
                    // that read the file, rather than on the one that records every file in
                    // the catalog.
                    detected: Detected {
                        source: uri.clone(),
                        modified_ms: 0,
                        rules: rules.keys.to_vec(),
                        rollups: detector.finish().map_err(|e| CatalogError::Row {
                            uri: uri.clone(),
                            why: format!("rule rollups: {e}"),
                        })?,
                    }
                    .encode(),
                    added: segments
                        .iter()
                        .map(|s| staging.publish(s, format.name(), Some(&uri)))
                        .collect::<Result<_, _>>()?,
                    format,
                    segments,
                    malformed,
                },
                Ok(Ingested::Raw(format)) => Copied::Raw(format),
                Err(error) => Copied::Unreadable {
                    error,
                    format: format_name(&file, &options).unwrap_or_else(|_| "unknown".to_string()),
                },
            })
        });
        Ok(Some(Copying { entry, name, copy }))
    }

    /// Waits for the copy and records it in the catalog, adding to `report`.
    async fn record(self, lake: &Lake, report: &mut Report) -> Result<(), LakeError> {
        let Copying {
            mut entry,
            name,
            copy,
        } = self;
        // A panic in the copy is an error of this file.
        let copied = copy
            .await
            .map_err(|e| io_error(Path::new(&entry.uri))(io::Error::other(e)))??;
        match copied {
            Copied::Unreadable { error, format } => {
                // Unreadable part-way (a truncated gzip, say): read it where it is instead,
                // where each query reads what it can and reports the rest. Nothing is lost.
                tracing::warn!(file = %name, %error, "cannot copy into segments; registered as it is");
                entry.format = format;
                lake.catalog.register(&[entry]).await?;
                report.failed.push((name, error.to_string()));
            }
            Copied::Segments {
                format,
                segments,
                added,
                malformed,
                mut detected,
            } => {
                report.malformed += malformed;
                for segment in &segments {
                    report.segments += 1;
                    report.rows += segment.rows;
                    report.bytes += segment.bytes;
                    report.index_bytes += segment.index_bytes;
                }
                entry.format = format.to_string();
                detected.modified_ms = entry.modified_ms;
                lake.catalog
                    .swap_detected(&[entry], State::Ingested, &added, &detected)
                    .await?;
            }
            Copied::Raw(format) => {
                entry.format = format.to_string();
                lake.catalog.register(&[entry]).await?;
                report.kept.push((name, format.to_string()));
            }
        }
        Ok(())
    }
}

/// What became of one source, on the blocking thread that copied it.
enum Copied {
    /// Segments written and put in the lake, with their catalog entries.
    Segments {
        format: Format,
        segments: Vec<Segment>,
        added: Vec<Entry>,
        malformed: u64,
        /// The rules' rollups of its events.
        detected: Encoded,
    },
    /// Free text, which ingest does not convert.
    Raw(Format),
    /// Unreadable part-way; to be read where it is, as `format`.
    Unreadable { error: io::Error, format: String },
}

/// `<file name>.<hash of its uri>`: readable, and distinct for same-named sources in
/// different folders. A rerun after a crash writes the same names, replacing what the crash
/// left unregistered.
fn segment_prefix(file: &Source, uri: &str) -> String {
    let name = match file {
        Source::File(path) => path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        Source::Object(object) => object.path().filename().unwrap_or_default().to_string(),
    };
    format!("{name}.{:016x}", xxh3_64(uri.as_bytes()))
}
