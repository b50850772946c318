//! The scan engine: everything a worker does with one data file, wherever it runs (the
//! gateway's in-process pool today, AWS Lambda later). It reads the file as a stream in
//! whichever log format it holds, evaluates the query's filters on each event, and feeds
//! matching values to a `Partial`.

mod apache;
mod array;
mod columns;
mod format;
mod json;
mod lines;
mod plan;
mod scan;

pub use format::{FORMATS, Format, UnknownFormat};
pub use lines::MAX_LINE_BYTES;
pub use scan::{ScanOptions, detect_format, scan_file};
