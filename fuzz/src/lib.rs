//! What the fuzz targets share: how an input is cut into parts, and the checks every
//! reading of untrusted bytes must pass beyond not crashing.

use std::io::Write;
use std::sync::OnceLock;

use flate2::Compression;
use flate2::write::GzEncoder;
use shared_sketch::{Partial, Query, parse};
use workers::{Format, ScanOptions, scan_text};

/// Splits a structured input at 0xFF bytes (never in UTF-8 text, so a seed's text parts
/// need no escaping): at most `N` parts, missing ones empty.
pub fn parts<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        if i + 1 == N {
            *slot = rest;
            break;
        }
        match rest.iter().position(|&b| b == 0xFF) {
            Some(at) => {
                *slot = &rest[..at];
                rest = &rest[at + 1..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out
}

/// `bytes` gzipped as the codec and the lake write them.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(bytes);
    gz.finish().unwrap_or_default()
}

/// Flips bytes of `body`: each 3 bytes of `edits` are a position (2 bytes, modulo the
/// length) and the value to XOR there. Lets the fuzzer damage a well-formed message
/// behind its checksum.
pub fn damage(body: &mut [u8], edits: &[u8]) {
    if body.is_empty() {
        return;
    }
    for edit in edits.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % body.len();
        body[at] ^= edit[2];
    }
}

/// Parses `text` once, for a target's fixed queries.
pub fn fixed_query(cell: &'static OnceLock<Query>, text: &str) -> &'static Query {
    cell.get_or_init(|| match parse(text) {
        Ok(query) => query,
        Err(e) => panic!("the target's own query {text:?} does not parse: {e}"),
    })
}

/// Reads `text` as `format`, as a scan of a file of it does, and checks what every
/// reading must give: each line is at most one event or one malformed line, and the
/// answer can be drawn.
pub fn read_as(format: Format, text: &[u8], query: &Query) -> Partial {
    let options = ScanOptions {
        format: Some(format),
        ..ScanOptions::default()
    };
    let partial = scan_text(text, "input", query, &options);
    let stats = &partial.stats;
    if format != Format::Json {
        let lines = text.split(|&b| b == b'\n').count() as u64;
        assert!(
            stats.records + stats.malformed <= lines,
            "{} records and {} malformed from {lines} lines",
            stats.records,
            stats.malformed
        );
    }
    let _ = partial.result(query);
    partial
}

/// A reader's target: `format`'s reader on any bytes, through `read_as`, for `query` (the
/// fields it reads are that format's usual ones).
#[macro_export]
macro_rules! reader_target {
    ($format:expr, $query:literal) => {
        static QUERY: std::sync::OnceLock<shared_sketch::Query> = std::sync::OnceLock::new();

        libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            let query = $crate::fixed_query(&QUERY, $query);
            $crate::read_as($format, data, query);
        });
    };
}
