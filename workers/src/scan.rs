//! The scan loop: one file in, one `Partial` out. A failure part-way through a file (a
//! truncated gzip stream, an unreadable block) keeps everything read before it and is
//! reported in the partial's stats; it never fails the query.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;
use shared_sketch::{Aggregator, Hit, MAX_HIT_BYTES, MAX_HITS, Matcher, Partial, Query};

use crate::lines::{Line, LineReader};
use crate::record::Record;

const READ_BUFFER: usize = 256 * 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Scans one data file (NDJSON, plain or gzip with any number of members, detected by
/// content). `name` is how the file is named in error reports (relative to the data root:
/// server paths stay on the server).
pub fn scan_file(path: &Path, name: &str, query: &Query) -> Partial {
    let mut scan = Scan::new(query);
    scan.partial().stats.files = 1;
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) => {
            scan.partial()
                .stats
                .add_error(name, format!("cannot open: {e}"));
            return scan.finish(name);
        }
    };
    scan.partial().stats.bytes = file.metadata().map_or(0, |m| m.len());
    let mut reader = BufReader::with_capacity(READ_BUFFER, file);
    let outcome = match reader.fill_buf() {
        Ok(head) if head.starts_with(&GZIP_MAGIC) => {
            let inflated = BufReader::with_capacity(READ_BUFFER, MultiGzDecoder::new(reader));
            scan.lines(inflated)
        }
        Ok(_) => scan.lines(reader),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        let stats = &mut scan.partial().stats;
        let records = stats.records;
        let what = match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                "file is truncated (gzip stream ends early)".to_string()
            }
            _ => e.to_string(),
        };
        stats.add_error(
            name,
            format!("{what}; kept the {records} records read before it"),
        );
    }
    scan.finish(name)
}

/// Scans NDJSON from `reader` (the contents of `file`). Malformed lines are counted and
/// skipped; an I/O error ends the stream and is returned with everything read before it.
pub fn scan_reader<R: BufRead>(reader: R, file: &str, query: &Query) -> (Partial, io::Result<()>) {
    let mut scan = Scan::new(query);
    let outcome = scan.lines(reader);
    (scan.finish(file), outcome)
}

/// One query's evaluation over one file's events.
struct Scan<'q> {
    query: &'q Query,
    matcher: Matcher,
    /// `[earliest, latest)`, epoch ms, where the query bounds time.
    range: (Option<i64>, Option<i64>),
    aggregator: Aggregator,
    /// The current line, lower-cased, when the search has bare terms.
    lowered: Vec<u8>,
    recent: RecentLines,
}

/// The last `MAX_HITS` matching lines, their buffers reused: remembering a match costs a
/// copy, not an allocation.
#[derive(Default)]
struct RecentLines {
    lines: VecDeque<Recent>,
}

struct Recent {
    line: u64,
    time: Option<i64>,
    text: Vec<u8>,
    fields: BTreeMap<String, String>,
}

impl<'q> Scan<'q> {
    fn new(query: &'q Query) -> Scan<'q> {
        Scan {
            query,
            matcher: Matcher::new(query.search.as_ref()),
            range: query.time_range_if_absolute(),
            aggregator: Aggregator::new(query),
            lowered: Vec::new(),
            recent: RecentLines::default(),
        }
    }

    fn partial(&mut self) -> &mut Partial {
        self.aggregator.partial_mut()
    }

    fn lines<R: BufRead>(&mut self, reader: R) -> io::Result<()> {
        let mut lines = LineReader::new(reader);
        let mut number = 0u64;
        while let Some(line) = lines.next_line()? {
            number += 1;
            match line {
                Line::Text(text) if text.iter().all(u8::is_ascii_whitespace) => {}
                Line::Text(text) => self.event(number, text),
                Line::TooLong => self.partial().stats.malformed += 1,
            }
        }
        Ok(())
    }

    fn event(&mut self, number: u64, text: &[u8]) {
        let Ok(record) = Record::parse(text) else {
            self.partial().stats.malformed += 1;
            return;
        };
        self.partial().stats.records += 1;
        // The time is read for every record only when the query bounds it; otherwise only
        // for matches (their bucket and hit order).
        let bounded = self.range != (None, None);
        let time = if bounded { record.time() } else { None };
        if bounded {
            let (start, end) = self.range;
            let inside =
                time.is_some_and(|t| start.is_none_or(|s| t >= s) && end.is_none_or(|e| t < e));
            if !inside {
                return;
            }
        }
        if self.matcher.reads_text() {
            self.lowered.clear();
            self.lowered.extend(text.iter().map(u8::to_ascii_lowercase));
        }
        if !self.matcher.matches(&record, &self.lowered) {
            return;
        }
        let time = if bounded { time } else { record.time() };
        self.aggregator.add(&record, time);
        let fields = self.query.hit_fields().map_or_else(BTreeMap::new, |names| {
            names
                .iter()
                .filter_map(|n| record.get(n).map(|v| (n.clone(), v.into_owned())))
                .collect()
        });
        self.recent.push(number, time, text, fields);
    }

    fn finish(mut self, file: &str) -> Partial {
        let recent = std::mem::take(&mut self.recent.lines);
        let partial = self.partial();
        for r in recent {
            partial.add_hit(Hit {
                time: r.time,
                file: file.to_string(),
                line: r.line,
                text: String::from_utf8_lossy(&r.text).into_owned(),
                truncated: false,
                fields: r.fields,
            });
        }
        self.aggregator.finish()
    }
}

impl RecentLines {
    fn push(
        &mut self,
        line: u64,
        time: Option<i64>,
        text: &[u8],
        fields: BTreeMap<String, String>,
    ) {
        let mut buffer = if self.lines.len() == MAX_HITS {
            self.lines.pop_front().map(|r| r.text).unwrap_or_default()
        } else {
            Vec::new()
        };
        buffer.clear();
        // A few bytes over the limit: `add_hit` cuts at a character boundary and flags it.
        buffer.extend_from_slice(&text[..text.len().min(MAX_HIT_BYTES + 4)]);
        self.lines.push_back(Recent {
            line,
            time,
            text: buffer,
            fields,
        });
    }
}
