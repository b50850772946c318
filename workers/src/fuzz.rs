//! What the fuzz targets (`fuzz/`, `cargo xtask fuzz`) reach of this crate's private
//! readers, so that the code fuzzed is the code that runs. Not an API.

use shared_sketch::{Partial, Query};

use crate::events::read_file_events;
use crate::format::Format;
use crate::scan::{Scan, ScanOptions, ScanSink, time_fields};

/// The whole-file gzip walker over libdeflate (`gzip::inflate`): the text of every member
/// of `compressed`, at most `max` bytes, or `None` when it would stream instead.
pub fn inflate_whole(compressed: &[u8], max: usize) -> Option<Vec<u8>> {
    let mut text = Vec::new();
    crate::gzip::inflate(compressed, max, &mut text).then_some(text)
}

/// Scans NDJSON `text` for `query` as `scan_text` does: with `by_block`, as every scan
/// reads NDJSON (64 lines parsed as one document, `JsonBlock`), else each line parsed
/// alone. Both must give the same partial, whatever the text.
pub fn scan_ndjson(text: &[u8], query: &Query, by_block: bool) -> Partial {
    let options = ScanOptions::default();
    let mut scan = Scan::new(query, &options);
    scan.stats().files = 1;
    let projection = scan.projection(&time_fields(Format::Ndjson, &options));
    let outcome = if by_block {
        let mut sink = ScanSink::new(&mut scan, Format::Ndjson, &projection);
        read_file_events(text, Format::Ndjson, "input", &mut sink)
    } else {
        let mut sink = ScanSink::line_by_line(&mut scan, &projection);
        read_file_events(text, Format::Ndjson, "input", &mut sink)
    };
    if let Err(e) = outcome {
        scan.stats().add_error("input", e.to_string());
    }
    scan.finish("input")
}
