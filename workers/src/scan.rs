//! The scan loop: one file in, one `Partial` out. A failure part-way through a file (a
//! truncated gzip stream, an unreadable block) keeps everything read before it and is
//! reported in the partial's stats; it never fails the query.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;
use shared_sketch::{MAX_HIT_BYTES, MAX_HITS, Partial, Query};

use crate::lines::{Line, LineReader};
use crate::record::Record;

const READ_BUFFER: usize = 256 * 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Scans one data file (NDJSON, plain or gzip with any number of members, detected by
/// content). `name` is how the file is named in error reports (relative to the data root:
/// server paths stay on the server).
pub fn scan_file(path: &Path, name: &str, query: &Query) -> Partial {
    let mut partial = Partial::new(query);
    partial.stats.files = 1;
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) => {
            partial.stats.add_error(name, format!("cannot open: {e}"));
            return partial;
        }
    };
    partial.stats.bytes = file.metadata().map_or(0, |m| m.len());
    let mut reader = BufReader::with_capacity(READ_BUFFER, file);
    let outcome = match reader.fill_buf() {
        Ok(head) if head.starts_with(&GZIP_MAGIC) => {
            let inflated = BufReader::with_capacity(READ_BUFFER, MultiGzDecoder::new(reader));
            scan_reader(inflated, name, query, &mut partial)
        }
        Ok(_) => scan_reader(reader, name, query, &mut partial),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        let records = partial.stats.records;
        let what = match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                "file is truncated (gzip stream ends early)".to_string()
            }
            _ => e.to_string(),
        };
        partial.stats.add_error(
            name,
            format!("{what}; kept the {records} records read before it"),
        );
    }
    partial
}

/// Scans NDJSON from `reader` (the contents of `file`) into `partial`. Malformed lines are
/// counted and skipped; an I/O error ends the stream (the caller reports it).
pub fn scan_reader<R: BufRead>(
    reader: R,
    file: &str,
    query: &Query,
    partial: &mut Partial,
) -> io::Result<()> {
    let mut lines = LineReader::new(reader);
    let mut recent = RecentLines::default();
    let outcome = scan_lines(&mut lines, query, partial, &mut recent);
    // Hits read before an I/O error are kept, like everything else read.
    for (number, text) in &recent.lines {
        partial.add_hit(file, *number, &String::from_utf8_lossy(text));
    }
    outcome
}

/// The last `MAX_HITS` matching lines, their buffers reused: remembering a match costs a
/// copy, not an allocation.
#[derive(Default)]
struct RecentLines {
    lines: VecDeque<(u64, Vec<u8>)>,
}

impl RecentLines {
    fn push(&mut self, number: u64, text: &[u8]) {
        let mut buffer = if self.lines.len() == MAX_HITS {
            self.lines.pop_front().map(|(_, b)| b).unwrap_or_default()
        } else {
            Vec::new()
        };
        buffer.clear();
        // A few bytes over the limit: `add_hit` cuts at a character boundary and flags it.
        buffer.extend_from_slice(&text[..text.len().min(MAX_HIT_BYTES + 4)]);
        self.lines.push_back((number, buffer));
    }
}

fn scan_lines<R: BufRead>(
    lines: &mut LineReader<R>,
    query: &Query,
    partial: &mut Partial,
    recent: &mut RecentLines,
) -> io::Result<()> {
    let mut number = 0u64;
    while let Some(line) = lines.next_line()? {
        number += 1;
        let line = match line {
            Line::Text(text) if text.iter().all(u8::is_ascii_whitespace) => continue,
            Line::Text(text) => text,
            Line::TooLong => {
                partial.stats.malformed += 1;
                continue;
            }
        };
        let Ok(record) = Record::parse(line) else {
            partial.stats.malformed += 1;
            continue;
        };
        partial.stats.records += 1;
        let matches = query.filters.iter().all(|filter| {
            record
                .get(&filter.field)
                .is_some_and(|v| v.eq_ignore_ascii_case(&filter.value))
        });
        if !matches {
            continue;
        }
        partial.matched += 1;
        recent.push(number, line);
        for (agg, state) in query.aggs.iter().zip(partial.aggs.iter_mut()) {
            if let Some(value) = agg.field().and_then(|f| record.get(f)) {
                state.update(&value);
            }
        }
    }
    Ok(())
}
