//! The scan engine: everything a worker does with one data file, wherever it runs (the
//! gateway's in-process pool today, AWS Lambda later). It reads the file as a stream in
//! whichever log format it holds, evaluates the query's filters on each event, and feeds
//! matching values to a `Partial`.

mod apache;
mod array;
mod columns;
mod convert;
mod detect;
mod events;
mod format;
#[doc(hidden)]
pub mod fuzz;
mod gzip;
mod index;
mod ingest;
mod json;
mod lines;
mod projection;
mod scan;
mod segment;
mod source;
mod worker;

pub use detect::{BIN_MS, Detector, Rollup, RollupError, Watch, detect_file, detect_segment};
pub use format::{FORMATS, Format, UnknownFormat};
pub use index::{PageIndex, SegmentIndex};
pub use ingest::{Ingested, SEGMENT_BYTES, compact_segments, ingest_file};
pub use lines::MAX_LINE_BYTES;
pub use scan::{
    ScanOptions, detect_format, read_head, scan_file, scan_text, scanned_time_fields, time_fields,
};
pub use segment::{
    INDEX_SUFFIX, PAGE_BYTES, Segment, SegmentWriter, index_path, read_index, scan_segment,
};
pub use source::{Object, Source, SourceError, Stores, is_object_url, stores};
pub use worker::{
    AnswerError, FileRollups, FileTask, MAX_FILES_PER_REQUEST, MAX_PAYLOAD_BYTES, RequestError,
    ScanRequest, ScanResponse, failed,
};
