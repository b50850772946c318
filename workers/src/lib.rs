//! The scan engine: everything a worker does with one data file, wherever it runs (the
//! gateway's in-process pool today, AWS Lambda later). It reads the file as a stream,
//! evaluates the query's filters on each record, and feeds matching values to a `Partial`.

mod lines;
mod record;
mod scan;

pub use lines::MAX_LINE_BYTES;
pub use record::{Record, RecordError};
pub use scan::{scan_file, scan_reader};
