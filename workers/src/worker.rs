//! What a remote worker (the `worker` binary on AWS Lambda) is asked and answers: the JSON
//! of one invocation. The gateway's Lambda executor writes `ScanRequest`s and reads
//! `ScanResponse`s; the worker scans with the same code as the gateway's own pool, so both
//! executors give the same `Partial`s.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use shared_sketch::lookup::{LookupTable, Lookups};
use shared_sketch::{Partial, Query};

use crate::detect::{Rollup, Watch, detect_file, detect_segment};
use crate::format::Format;
use crate::scan::{ScanOptions, scan_file};
use crate::segment::scan_segment;
use crate::source::{SourceError, Stores};

/// Lambda's limit on a synchronous invocation's response (and request) payload.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Room left under the limit for the response's JSON around the partial.
const PAYLOAD_MARGIN: usize = 4 * 1024;
/// Files one invocation may be asked to scan: batches are of small files only, and a
/// request naming more is refused rather than run for minutes.
pub const MAX_FILES_PER_REQUEST: usize = 1_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanRequest {
    /// The query, resolved by the gateway ("now" fixed), as `shared_sketch::encode` bytes
    /// in base64: every worker filters and buckets time identically.
    pub query: String,
    /// `ScanOptions::format` by name.
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub time_field: Option<String>,
    pub files: Vec<FileTask>,
    /// A folder URL (`s3://bucket/prefix`) where an answer too large for the response is
    /// written instead; the gateway reads and deletes it.
    #[serde(default)]
    pub spill: Option<String>,
    /// Detection rules (`Vec<Watch>`, encoded as `query` is): when given, each file's
    /// rules' rollups are the answer (`ScanResponse::Rollups`), not the query's partial.
    #[serde(default)]
    pub rules: Option<String>,
    /// The lookup tables the query's `lookup`s name (`Vec<(String, LookupTable)>`, encoded
    /// as `query` is): shipped with it, so a worker reads nothing but the data.
    #[serde(default)]
    pub lookups: Option<String>,
}

/// One file's rollups for a detection request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRollups {
    pub url: String,
    pub rollups: Vec<Rollup>,
    /// Why the file could not be read to the end (its rollups hold what was read).
    pub error: Option<String>,
    /// A segment's pages its index showed no rule can match, skipped unread.
    pub pages_skipped: u64,
}

impl FileRollups {
    /// A file the rules could not be evaluated on at all, and why.
    pub fn failed(url: &str, why: String) -> FileRollups {
        FileRollups {
            url: url.to_string(),
            rollups: Vec::new(),
            error: Some(why),
            pages_skipped: 0,
        }
    }
}

/// One file to scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTask {
    /// `s3://bucket/key` (or `file:///…`, for a worker sharing the gateway's disk).
    pub url: String,
    /// How errors name it (relative to the lake's root).
    pub name: String,
    /// A segment written by ingest: its index sidecar rules pages out.
    pub segment: bool,
}

impl FileTask {
    /// Evaluates `rules` on the file's events. Blocking.
    pub fn detect(&self, stores: &Stores, rules: &[Watch], options: &ScanOptions) -> FileRollups {
        isolated(
            &self.name,
            || self.detect_unisolated(stores, rules, options),
            |why| FileRollups::failed(&self.url, why),
        )
    }

    fn detect_unisolated(
        &self,
        stores: &Stores,
        rules: &[Watch],
        options: &ScanOptions,
    ) -> FileRollups {
        let now = shared_sketch::time::now_ms();
        let (rollups, error, pages_skipped) = match stores.source(&self.url) {
            Ok(source) if self.segment => detect_segment(source, &self.name, rules, options, now),
            Ok(source) => {
                let (rollups, error) = detect_file(source, &self.name, rules, options, now);
                (rollups, error, 0)
            }
            Err(e) => (Vec::new(), Some(std::io::Error::other(e.to_string())), 0),
        };
        FileRollups {
            url: self.url.clone(),
            rollups,
            error: error.map(|e| e.to_string()),
            pages_skipped,
        }
    }

    /// Scans the file; one that cannot be opened is an error in the partial's stats.
    /// Blocking.
    pub fn scan(&self, stores: &Stores, query: &Query, options: &ScanOptions) -> Partial {
        let file = std::slice::from_ref(self);
        isolated(
            &self.name,
            || match stores.source(&self.url) {
                Ok(source) if self.segment => scan_segment(source, &self.name, query, options),
                Ok(source) => scan_file(source, &self.name, query, options),
                Err(e) => failed(query, file, &e.to_string()),
            },
            |why| failed(query, file, &why),
        )
    }
}

/// Reads one file with `read`; a panic in it (a reader's bug, on bytes it did not expect)
/// becomes that file's failure, said by `failed`, so the query's other files still answer
/// and a worker still serves its next request. Nothing `read` touched outlives it but the
/// shared gzip buffers, whose lock is taken whatever a panic left in them.
fn isolated<T>(name: &str, read: impl FnOnce() -> T, failed: impl FnOnce(String) -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
        Ok(answer) => answer,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(file = name, panic = %message, "a reader panicked; the file is reported failed");
            failed(format!(
                "the reader failed on this file (a bug in sketchlake, please report it: \
                 {message}); the rest of the answer stands"
            ))
        }
    }
}

/// The partial of `files` that could not be scanned at all, with `why` for each.
pub fn failed(query: &Query, files: &[FileTask], why: &str) -> Partial {
    let mut partial = Partial::new(query);
    for file in files {
        partial.stats.files += 1;
        partial.stats.add_error(&file.name, why);
    }
    partial
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanResponse {
    /// Every file's partial merged into one, as `shared_sketch::encode` bytes in base64.
    Partial(String),
    /// The merged partial (or the rollups) was too large to return and was written to
    /// this URL.
    Spilled(String),
    /// A detection request's `Vec<FileRollups>`, as `shared_sketch::encode` bytes in base64.
    Rollups(String),
    /// The request could not be run (it does not decode, or the answer could not be
    /// returned): answered rather than raised, so the gateway can tell it from a crash,
    /// which is worth retrying, while this is not.
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("the query does not decode: {0}")]
    Query(String),
    #[error("unknown format {0:?}")]
    Format(String),
    #[error("{0} files in one request; at most {MAX_FILES_PER_REQUEST}")]
    TooManyFiles(usize),
    #[error("no files to scan")]
    NoFiles,
    #[error("the answer is {0} bytes, over Lambda's response limit, and no spill folder was given")]
    TooLarge(usize),
    #[error("cannot encode the answer: {0}")]
    Encode(String),
    #[error("cannot spill the answer to {url}: {message}")]
    Spill { url: String, message: String },
}

/// `shared_sketch::encode` bytes in base64, as a request's JSON carries them.
fn encode_base64<T: Serialize>(value: &T) -> Result<String, RequestError> {
    shared_sketch::encode(value)
        .map(|bytes| STANDARD.encode(bytes))
        .map_err(|e| RequestError::Encode(e.to_string()))
}

impl ScanRequest {
    pub fn new(
        query: &Query,
        options: &ScanOptions,
        files: Vec<FileTask>,
        spill: Option<String>,
    ) -> Result<ScanRequest, RequestError> {
        let lookups: Vec<(&String, &LookupTable)> = options
            .lookups
            .iter()
            .map(|(name, table)| (name, table.as_ref()))
            .collect();
        Ok(ScanRequest {
            query: encode_base64(query)?,
            format: options.format.map(|f| f.to_string()),
            time_field: options.time_field.clone(),
            files,
            spill,
            rules: None,
            lookups: if lookups.is_empty() {
                None
            } else {
                Some(encode_base64(&lookups)?)
            },
        })
    }

    /// A request to evaluate `rules` on `files`, each file's rollups the answer.
    pub fn detection(
        rules: &[Watch],
        options: &ScanOptions,
        files: Vec<FileTask>,
        spill: Option<String>,
    ) -> Result<ScanRequest, RequestError> {
        let any = shared_sketch::parse("*").map_err(|e| RequestError::Encode(e.message))?;
        let rules = shared_sketch::encode(&rules.to_vec())
            .map_err(|e| RequestError::Encode(e.to_string()))?;
        Ok(ScanRequest {
            rules: Some(STANDARD.encode(rules)),
            ..ScanRequest::new(&any, options, files, spill)?
        })
    }

    /// The query and options, checked.
    pub fn decode(&self) -> Result<(Query, ScanOptions), RequestError> {
        if self.files.is_empty() {
            return Err(RequestError::NoFiles);
        }
        if self.files.len() > MAX_FILES_PER_REQUEST {
            return Err(RequestError::TooManyFiles(self.files.len()));
        }
        let bytes = STANDARD
            .decode(&self.query)
            .map_err(|e| RequestError::Query(e.to_string()))?;
        let query: Query =
            shared_sketch::decode(&bytes).map_err(|e| RequestError::Query(e.to_string()))?;
        let format = match &self.format {
            Some(name) => Some(
                name.parse::<Format>()
                    .map_err(|_| RequestError::Format(name.clone()))?,
            ),
            None => None,
        };
        let lookups: Lookups = match &self.lookups {
            Some(text) => {
                let bytes = STANDARD
                    .decode(text)
                    .map_err(|e| RequestError::Query(e.to_string()))?;
                let tables: Vec<(String, LookupTable)> = shared_sketch::decode(&bytes)
                    .map_err(|e| RequestError::Query(e.to_string()))?;
                tables
                    .into_iter()
                    .map(|(name, table)| (name, Arc::new(table)))
                    .collect()
            }
            None => Lookups::new(),
        };
        if let Some(missing) = query
            .lookup_tables()
            .into_iter()
            .find(|t| !lookups.contains_key(*t))
        {
            return Err(RequestError::Query(format!(
                "the lookup table `{missing}` was not sent with the query"
            )));
        }
        let options = ScanOptions {
            format,
            time_field: self.time_field.clone(),
            lookups,
        };
        Ok((query, options))
    }

    /// Scans every file, one after another, and answers with their merged partial.
    /// Blocking: call it off the async runtime (it drives object reads on `stores`'
    /// runtime). A file that cannot be read is an error in the partial's stats, not a
    /// failed request. `id` names a spilled answer (the invocation's request id).
    pub fn run(&self, stores: &Stores, id: &str) -> Result<ScanResponse, RequestError> {
        let (query, options) = self.decode()?;
        let encoded = match &self.rules {
            Some(rules) => {
                let bytes = STANDARD
                    .decode(rules)
                    .map_err(|e| RequestError::Query(e.to_string()))?;
                let rules: Vec<Watch> = shared_sketch::decode(&bytes)
                    .map_err(|e| RequestError::Query(e.to_string()))?;
                let answers: Vec<FileRollups> = self
                    .files
                    .iter()
                    .map(|file| file.detect(stores, &rules, &options))
                    .collect();
                shared_sketch::encode(&answers)
            }
            None => {
                let mut merged = Partial::new(&query);
                for file in &self.files {
                    // Both come from this query: they merge.
                    merged
                        .merge(&file.scan(stores, &query, &options))
                        .map_err(|e| RequestError::Encode(e.to_string()))?;
                }
                shared_sketch::encode(&merged)
            }
        }
        .map_err(|e| RequestError::Encode(e.to_string()))?;
        let text = STANDARD.encode(&encoded);
        if text.len() + PAYLOAD_MARGIN <= MAX_PAYLOAD_BYTES {
            return Ok(match self.rules {
                Some(_) => ScanResponse::Rollups(text),
                None => ScanResponse::Partial(text),
            });
        }
        let Some(folder) = &self.spill else {
            return Err(RequestError::TooLarge(text.len()));
        };
        let url = format!("{}/{id}.partial", folder.trim_end_matches('/'));
        let spill_error = |message: String| RequestError::Spill {
            url: url.clone(),
            message,
        };
        stores
            .source(&url)
            .map_err(|e| spill_error(e.to_string()))?
            .write(encoded)
            .map_err(|e| spill_error(e.to_string()))?;
        Ok(ScanResponse::Spilled(url))
    }
}

/// Why a worker's answer holds no partial.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The worker said so.
    #[error("{0}")]
    Failed(String),
    #[error("the answer is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("cannot reach the spilled answer: {0}")]
    Store(#[from] SourceError),
    #[error("cannot read the spilled answer: {0}")]
    Read(#[from] std::io::Error),
    #[error("the partial does not decode: {0}")]
    Decode(#[from] shared_sketch::CodecError),
}

impl ScanResponse {
    /// The partial this answer holds, reading (and then deleting) a spilled one.
    pub fn into_partial(self, stores: &Stores) -> Result<Partial, AnswerError> {
        self.into_answer(stores)
    }

    /// A detection request's answer: each file's rollups.
    pub fn into_rollups(self, stores: &Stores) -> Result<Vec<FileRollups>, AnswerError> {
        self.into_answer(stores)
    }

    fn into_answer<T: serde::de::DeserializeOwned>(
        self,
        stores: &Stores,
    ) -> Result<T, AnswerError> {
        let bytes = match self {
            ScanResponse::Failed(why) => return Err(AnswerError::Failed(why)),
            ScanResponse::Partial(text) | ScanResponse::Rollups(text) => STANDARD.decode(text)?,
            ScanResponse::Spilled(url) => {
                let source = stores.source(&url)?;
                let bytes = source.read_all(shared_sketch::codec::MAX_DECODED_BYTES as u64)?;
                if let Err(e) = source.delete() {
                    tracing::warn!(%url, error = %e, "cannot delete a spilled answer");
                }
                bytes
            }
        };
        Ok(shared_sketch::decode(&bytes)?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::scan_text;

    #[test]
    fn a_panicking_reader_fails_its_file_alone() {
        let query = shared_sketch::parse("| stats count").unwrap();
        let file = FileTask {
            url: "file:///lake/bad.log".into(),
            name: "bad.log".into(),
            segment: false,
        };
        let panicked = isolated(
            &file.name,
            || -> Partial { panic!("index out of bounds at byte {}", 7) },
            |why| failed(&query, std::slice::from_ref(&file), &why),
        );
        assert_eq!((panicked.stats.files, panicked.stats.failed_files), (1, 1));
        let error = &panicked.stats.errors[0];
        assert_eq!(error.file, "bad.log");
        assert!(
            error.message.contains("index out of bounds at byte 7"),
            "{error:?}"
        );
        // The rest of the query's answer stands beside it.
        let mut total = scan_text(
            b"{\"a\":1}\n{\"a\":2}\n",
            "good.log",
            &query,
            &ScanOptions::default(),
        );
        total.merge(&panicked).unwrap();
        assert_eq!(total.result(&query).matched, 2);
        assert_eq!(total.stats.failed_files, 1);
        // Detection likewise: the file's rollups say why, and the worker goes on.
        let rollups = isolated(
            &file.name,
            || -> FileRollups { panic!("boom") },
            |why| FileRollups::failed(&file.url, why),
        );
        assert!(rollups.error.unwrap().contains("boom"));
    }
}
