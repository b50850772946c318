//! The scan loop: one file in, one `Partial` out. The file's format is recognised from
//! its first bytes (or given), each event is read for only the fields the query needs, and
//! lines that cannot contain a match are skipped before they are parsed. A failure
//! part-way through a file (a truncated gzip stream, an unreadable block) keeps everything
//! read before it and is reported in the partial's stats; it never fails the query.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read};
use std::sync::{Mutex, PoisonError};

use flate2::bufread::MultiGzDecoder;
use memchr::memmem;
use shared_sketch::lookup::Lookups;
use shared_sketch::partial::HitRank;
use shared_sketch::query::{Pipeline, TIME_FIELD, format_number};
use shared_sketch::{
    Aggregator, Fields, Hit, MAX_HIT_BYTES, MAX_HITS_TEXT, Matcher, Partial, Query, ScanStats,
};

use crate::apache;
use crate::columns::{Csv, VpcFlow, Zeek};
use crate::events::{EventError, Sink, read_file_events};
use crate::format::{Format, event_time};
use crate::gzip;
use crate::json::{JsonBlock, JsonReader};
use crate::projection::{Projection, Values};
use crate::source::Source;

const READ_BUFFER: usize = 256 * 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How to read files: both default to what the data says.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// The format of every file, instead of recognising each from its first bytes.
    pub format: Option<Format>,
    /// The field holding each event's time, instead of the format's usual ones.
    pub time_field: Option<String>,
    /// The tables the query's `lookup`s name.
    pub lookups: Lookups,
}

/// Scans one data file, plain or gzip (any number of members), detected by content.
/// `name` is how the file is named in error reports (relative to the data root: server
/// paths stay on the server).
pub fn scan_file(
    source: impl Into<Source>,
    name: &str,
    query: &Query,
    options: &ScanOptions,
) -> Partial {
    let mut scan = Scan::new(query, options);
    scan.stats().files = 1;
    let (file, bytes) = match source.into().open() {
        Ok(opened) => opened,
        Err(e) => {
            scan.stats().add_error(name, format!("cannot open: {e}"));
            return scan.finish(name);
        }
    };
    scan.stats().bytes = bytes;
    scan.stats().bytes_read = bytes;
    let mut reader = BufReader::with_capacity(READ_BUFFER, file);
    let outcome = match reader.fill_buf() {
        Ok(head) if head.starts_with(&GZIP_MAGIC) => {
            scan_gzip(&mut scan, reader, bytes, name, options)
        }
        Ok(_) => scan.run(reader, name, options),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        let stats = scan.stats();
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

/// Scans events held in memory (a rule's test events, say) as `scan_file` scans a file's
/// text; `name` names them in the answer.
pub fn scan_text(text: &[u8], name: &str, query: &Query, options: &ScanOptions) -> Partial {
    let mut scan = Scan::new(query, options);
    scan.stats().files = 1;
    scan.stats().bytes = text.len() as u64;
    scan.stats().bytes_read = text.len() as u64;
    if let Err(e) = scan.run(text, name, options) {
        scan.stats().add_error(name, e.to_string());
    }
    scan.finish(name)
}

/// Buffers for whole gzip files (compressed, text), reused from file to file and shared
/// by the scans running at once: allocating up to 16 MiB per file left glibc's heap
/// holding two or three times that, and faulted every page in afresh. There are never
/// more of them than scans that ran at the same time.
static WHOLE_FILE_BUFFERS: Mutex<Vec<(Vec<u8>, Vec<u8>)>> = Mutex::new(Vec::new());

/// Scans a gzip file of `bytes` bytes. A small one is read whole and inflated at once by
/// libdeflate; a large or damaged one is streamed (see `gzip`).
fn scan_gzip(
    scan: &mut Scan,
    mut reader: BufReader<Box<dyn Read + Send>>,
    bytes: u64,
    name: &str,
    options: &ScanOptions,
) -> io::Result<()> {
    let small = usize::try_from(bytes).is_ok_and(|n| n <= gzip::WHOLE_TEXT_MAX);
    if !small {
        let inflated = BufReader::with_capacity(READ_BUFFER, MultiGzDecoder::new(reader));
        return scan.run(inflated, name, options);
    }
    let buffers = || {
        WHOLE_FILE_BUFFERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    };
    let (mut compressed, mut text) = buffers().pop().unwrap_or_default();
    compressed.clear();
    let outcome = reader.read_to_end(&mut compressed).and_then(|_| {
        if gzip::inflate(&compressed, gzip::WHOLE_TEXT_MAX, &mut text) {
            scan.run(&text[..], name, options)
        } else {
            let inflated = MultiGzDecoder::new(&compressed[..]);
            scan.run(
                BufReader::with_capacity(READ_BUFFER, inflated),
                name,
                options,
            )
        }
    });
    buffers().push((compressed, text));
    outcome
}

impl ScanOptions {
    /// The format to read `text` as: the one given, else the one its first bytes show.
    pub(crate) fn format_of(&self, text: &mut impl BufRead) -> io::Result<Format> {
        match self.format {
            Some(format) => Ok(format),
            None => Ok(Format::detect(text.fill_buf()?)),
        }
    }
}

/// How much of a file's start format detection reads: one ranged GET of an object, and
/// plenty of lines either way.
const HEAD_BYTES: u64 = 256 * 1024;

/// The format `scan_file` would read `source` as (gzip is looked through).
pub fn detect_format(source: impl Into<Source>) -> io::Result<Format> {
    let head = source.into().open_head(HEAD_BYTES)?;
    Ok(Format::detect(text_of(head)?.fill_buf()?))
}

/// At most `limit` bytes from the start of a file's text (gzip is looked through).
pub fn read_head(source: impl Into<Source>, limit: usize) -> io::Result<Vec<u8>> {
    let start = source.into().open_head(HEAD_BYTES.max(limit as u64))?;
    let mut head = Vec::with_capacity(limit.min(READ_BUFFER));
    match text_of(start)?.take(limit as u64).read_to_end(&mut head) {
        // A gzip'd start cut off where the range ended: what was inflated is the head.
        Err(e) if e.kind() != io::ErrorKind::UnexpectedEof => Err(e),
        _ => Ok(head),
    }
}

/// The text of a file, plain or gzip (any number of members).
pub(crate) fn open_text(source: &Source) -> io::Result<Box<dyn BufRead + Send>> {
    text_of(source.open()?.0)
}

/// The text of `raw`, plain or gzip (any number of members).
fn text_of(raw: Box<dyn Read + Send>) -> io::Result<Box<dyn BufRead + Send>> {
    let mut reader = BufReader::with_capacity(READ_BUFFER, raw);
    if reader.fill_buf()?.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(BufReader::with_capacity(
            READ_BUFFER,
            MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

/// The fields an event's time is read from, in order.
pub fn time_fields(format: Format, options: &ScanOptions) -> Vec<String> {
    match &options.time_field {
        Some(field) => vec![field.clone()],
        None => format.time_fields().iter().map(|f| f.to_string()).collect(),
    }
}

/// The fields a scan reads an entry's time from, for an entry of `format` (a segment's is
/// its source's, whose fields its times were read from and its scan reads): a recorded
/// range read from other fields bounds nothing.
pub fn scanned_time_fields(format: &str, options: &ScanOptions) -> String {
    match options.format.or_else(|| format.parse::<Format>().ok()) {
        Some(format) => time_fields(format, options).join(","),
        None => String::new(),
    }
}

/// One query's evaluation over one file's events.
pub(crate) struct Scan<'q> {
    query: &'q Query,
    matcher: Matcher,
    /// The per-event commands (`eval`, `where`, …) after the search.
    pipeline: Pipeline,
    /// The search or a `search` command has bare terms: each event's text is lower-cased.
    reads_text: bool,
    /// Byte strings of which every match contains one (see `Matcher::needles`).
    needles: Option<Vec<memmem::Finder<'static>>>,
    /// `[earliest, latest)`, epoch ms, where the query bounds time.
    range: (Option<i64>, Option<i64>),
    aggregator: Aggregator,
    /// The current event's text, lower-cased, when the search has bare terms.
    lowered: Vec<u8>,
    /// The values buffer of the last event, kept for the next one's.
    spare: Values<'static>,
    recent: RecentLines,
    /// The fields each kept event carries (`Query::hit_field_names`).
    hit_names: Vec<String>,
    /// After a plain search with `sort` or `dedup`: the matches kept by that rank instead
    /// of the newest.
    ranked: Option<Ranked>,
}

/// Matches kept by a `HitRank`, cut back to the first `limit` whenever twice that many
/// are held: each cut sorts, so keeping costs O(log limit) comparisons per match.
struct Ranked {
    rank: HitRank,
    hits: Vec<Hit>,
    limit: usize,
}

/// The last matching events, as many as the query keeps (`Query::hits`) and at most
/// `MAX_HITS_TEXT` bytes of them, their buffers reused: remembering a match costs a copy,
/// not an allocation.
struct RecentLines {
    lines: VecDeque<Recent>,
    limit: usize,
    /// Bytes of text held.
    text: usize,
}

struct Recent {
    line: u64,
    time: Option<i64>,
    text: Vec<u8>,
    fields: BTreeMap<String, String>,
}

impl<'q> Scan<'q> {
    pub(crate) fn new(query: &'q Query, options: &ScanOptions) -> Scan<'q> {
        let matcher = Matcher::new(query.search.as_ref());
        let needles = matcher.needles().map(|needles| {
            needles
                .into_iter()
                .map(|n| memmem::Finder::new(&n).into_owned())
                .collect()
        });
        let pipeline = Pipeline::new(query, &options.lookups);
        let reads_text = matcher.reads_text() || pipeline.reads_text();
        Scan {
            query,
            matcher,
            pipeline,
            reads_text,
            needles,
            range: query.time_range_if_absolute(),
            aggregator: Aggregator::new(query),
            lowered: Vec::new(),
            spare: Values::default(),
            recent: RecentLines {
                lines: VecDeque::new(),
                limit: query.hit_limit(),
                text: 0,
            },
            hit_names: query.hit_field_names(),
            ranked: Some(HitRank::of(query))
                .filter(|rank| !rank.newest())
                .map(|rank| Ranked {
                    rank,
                    hits: Vec::new(),
                    limit: query.hit_limit(),
                }),
        }
    }

    /// The scan's counters. (Not the partial: reaching it adds up the timeline's run of
    /// matches, which is meant to be added once per bucket, not per event.)
    pub(crate) fn stats(&mut self) -> &mut ScanStats {
        self.aggregator.stats_mut()
    }

    pub(crate) fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// What this query reads of each event, with its time from `time_fields`.
    pub(crate) fn projection(&self, time_fields: &[String]) -> Projection {
        Projection::new(self.query, &self.matcher, time_fields)
    }

    /// Reads the events of the file named `name` (see `read_file_events`).
    fn run<R: BufRead>(&mut self, reader: R, name: &str, options: &ScanOptions) -> io::Result<()> {
        #[cfg(debug_assertions)]
        let reader = match failpoint::panics_part_way(name, reader) {
            Ok(hooked) => return self.read_events(hooked, name, options),
            Err(reader) => reader,
        };
        self.read_events(reader, name, options)
    }

    fn read_events<R: BufRead>(
        &mut self,
        mut reader: R,
        name: &str,
        options: &ScanOptions,
    ) -> io::Result<()> {
        let format = options.format_of(&mut reader)?;
        let projection = self.projection(&time_fields(format, options));
        read_file_events(
            reader,
            format,
            name,
            &mut ScanSink::new(self, format, &projection),
        )
    }

    /// One event's text: skipped unparsed when it cannot match, else read by `read` (an
    /// error is a malformed event) and evaluated.
    fn take<'a>(
        &mut self,
        number: u64,
        text: &'a [u8],
        projection: &Projection,
        read: impl FnOnce(&mut Values<'a>) -> Result<(), EventError>,
    ) {
        if self.skip(text) {
            return;
        }
        self.evaluate(projection, |values| (number, text, read(values)));
    }

    /// Reads and evaluates the events of a full (or last) block, and empties it.
    fn block(&mut self, block: &mut JsonBlock, projection: &Projection) {
        block.parse();
        for i in 0..block.len() {
            let block = &mut *block;
            self.evaluate(projection, move |values| {
                let (number, text, read) = block.read(i, projection, values);
                (number, text, read.map_err(EventError::from))
            });
        }
        block.clear();
    }

    /// Reads one event into the values buffer kept from the last (its number, its text,
    /// whether it was readable) and evaluates it, or counts it malformed.
    fn evaluate<'a>(
        &mut self,
        projection: &Projection,
        read: impl FnOnce(&mut Values<'a>) -> (u64, &'a [u8], Result<(), EventError>),
    ) {
        let mut values = std::mem::take(&mut self.spare).recycle();
        values.resize(projection.slots());
        match read(&mut values) {
            (number, text, Ok(())) => self.event(number, text, projection, &values),
            (_, _, Err(_)) => self.stats().malformed += 1,
        }
        self.spare = values.recycle();
    }

    /// Counts as read, unparsed, an event that cannot match: a malformed line among these
    /// is not noticed.
    fn skip(&mut self, text: &[u8]) -> bool {
        let skip = self.cannot_match(text);
        if skip {
            self.stats().records += 1;
        }
        skip
    }

    /// The text holds none of the needles every match contains: no need to parse it.
    fn cannot_match(&self, text: &[u8]) -> bool {
        self.needles.as_ref().is_some_and(|needles| {
            !needles.iter().any(|n| n.find(text).is_some())
                // An escape (`\u0031` is `1` in JSON) could hide one: such text is parsed.
                && memchr::memchr(b'\\', text).is_none()
        })
    }

    fn event(&mut self, number: u64, text: &[u8], projection: &Projection, values: &Values<'_>) {
        self.stats().records += 1;
        let time = || projection.time_text(values).and_then(event_time);
        // The time is read for every event only when the query bounds it; otherwise only
        // for matches (their bucket and hit order).
        let bounded = self.range != (None, None);
        let bounded_time = if bounded { time() } else { None };
        if bounded {
            let (start, end) = self.range;
            let inside = bounded_time
                .is_some_and(|t| start.is_none_or(|s| t >= s) && end.is_none_or(|e| t < e));
            if !inside {
                return;
            }
        }
        if self.reads_text {
            self.lowered.clear();
            self.lowered.extend(text.iter().map(u8::to_ascii_lowercase));
        }
        let event = projection.event(values, text);
        if !self.matcher.matches(&event, &self.lowered) {
            return;
        }
        let time = if bounded { bounded_time } else { time() };
        if self.pipeline.is_empty() {
            self.found(&event, number, time, text);
        } else if let Some(derived) = self.pipeline.apply(&event, &self.lowered, time) {
            self.found(&derived, number, time, text);
        }
    }

    /// A match, as the per-event commands left it: aggregated and kept among the hits.
    fn found(&mut self, event: &impl Fields, number: u64, time: Option<i64>, text: &[u8]) {
        self.aggregator.add(event, time);
        let fields: BTreeMap<String, String> = self
            .hit_names
            .iter()
            .filter_map(|n| {
                let value = match event.get(n) {
                    Some(v) => Some(v.into_owned()),
                    // `_time`, as `eval` reads it: the event's epoch seconds.
                    None if n == TIME_FIELD => time.map(|t| format_number(t as f64 / 1000.0)),
                    None => None,
                };
                value.map(|v| (n.clone(), v))
            })
            .collect();
        match &mut self.ranked {
            Some(ranked) => {
                let text = &text[..text.len().min(MAX_HIT_BYTES + 4)];
                ranked.hits.push(Hit {
                    time,
                    file: String::new(),
                    line: number,
                    text: String::from_utf8_lossy(text).into_owned(),
                    truncated: false,
                    fields,
                });
                if ranked.hits.len() >= 2 * ranked.limit.max(32) {
                    let held = std::mem::take(&mut ranked.hits);
                    ranked.hits = ranked.rank.keep(held, &[], ranked.limit);
                }
            }
            None => self.recent.push(number, time, text, fields),
        }
    }

    pub(crate) fn finish(self, file: &str) -> Partial {
        let mut partial = self.aggregator.finish();
        if let Some(ranked) = self.ranked {
            partial.add_hits(ranked.hits.into_iter().map(|hit| Hit {
                file: file.to_string(),
                ..hit
            }));
            return partial;
        }
        partial.add_hits(self.recent.lines.into_iter().map(|r| Hit {
            time: r.time,
            file: file.to_string(),
            line: r.line,
            text: String::from_utf8_lossy(&r.text).into_owned(),
            truncated: false,
            fields: r.fields,
        }));
        partial
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
        // A few bytes over the limit: `add_hits` cuts at a character boundary and flags it.
        let text = &text[..text.len().min(MAX_HIT_BYTES + 4)];
        let mut buffer = Vec::new();
        while self.lines.len() >= self.limit || self.text + text.len() > MAX_HITS_TEXT {
            let Some(oldest) = self.lines.pop_front() else {
                break;
            };
            self.text -= oldest.text.len();
            buffer = oldest.text;
        }
        buffer.clear();
        buffer.extend_from_slice(text);
        self.text += buffer.len();
        self.lines.push_back(Recent {
            line,
            time,
            text: buffer,
            fields,
        });
    }
}

/// A scan as the event loop's sink: every event evaluated against the query.
pub(crate) struct ScanSink<'s, 'q, 'p> {
    scan: &'s mut Scan<'q>,
    projection: &'p Projection,
    reading: Reading,
}

/// How a scan reads the events it is fed.
enum Reading {
    /// NDJSON lines, parsed a block at a time (`JsonBlock`).
    Block(JsonBlock),
    /// Rows of the other line formats, or the elements of a JSON document, one at a time.
    Rows(Rows),
}

impl<'s, 'q, 'p> ScanSink<'s, 'q, 'p> {
    pub(crate) fn new(scan: &'s mut Scan<'q>, format: Format, projection: &'p Projection) -> Self {
        let reading = match format {
            Format::Ndjson => Reading::Block(JsonBlock::default()),
            _ => Reading::Rows(Rows::new(format)),
        };
        ScanSink {
            scan,
            projection,
            reading,
        }
    }

    /// A sink reading NDJSON a line at a time, never a block: the fuzz target that checks
    /// both readings agree (`crate::fuzz`).
    pub(crate) fn line_by_line(scan: &'s mut Scan<'q>, projection: &'p Projection) -> Self {
        ScanSink {
            scan,
            projection,
            reading: Reading::Rows(Rows::new(Format::Ndjson)),
        }
    }
}

impl Sink for ScanSink<'_, '_, '_> {
    fn event(&mut self, number: u64, text: &[u8]) -> io::Result<()> {
        let ScanSink {
            scan,
            projection,
            reading,
        } = self;
        match reading {
            Reading::Block(block) => {
                if !scan.skip(text) && block.push(number, text) {
                    scan.block(block, projection);
                }
            }
            Reading::Rows(rows) => {
                if !rows.header(text, projection) {
                    scan.take(number, text, projection, |values| {
                        rows.row(text, projection, values)
                    });
                }
            }
        }
        Ok(())
    }

    fn malformed(&mut self) {
        self.scan.stats().malformed += 1;
    }

    fn end(&mut self) -> io::Result<()> {
        if let Reading::Block(block) = &mut self.reading {
            self.scan.block(block, self.projection);
        }
        Ok(())
    }
}

/// The line-based formats' per-file state (column layouts, CSV buffers).
pub(crate) enum Rows {
    Ndjson(JsonReader),
    Zeek(Zeek),
    VpcFlow(VpcFlow),
    Apache,
    Csv(Box<Csv>),
    Text,
}

impl Rows {
    pub(crate) fn new(format: Format) -> Rows {
        match format {
            Format::Ndjson | Format::Json => Rows::Ndjson(JsonReader::default()),
            Format::Zeek => Rows::Zeek(Zeek::new()),
            Format::VpcFlow => Rows::VpcFlow(VpcFlow::new()),
            Format::Apache => Rows::Apache,
            Format::Csv => Rows::Csv(Box::new(Csv::new())),
            Format::Text => Rows::Text,
        }
    }

    /// Takes a header line (Zeek directives, the CSV header, a VPC field-name line).
    pub(crate) fn header(&mut self, line: &[u8], projection: &Projection) -> bool {
        match self {
            Rows::Zeek(zeek) => zeek.header(line, projection),
            Rows::VpcFlow(vpc) => vpc.header(line, projection),
            Rows::Csv(csv) => csv.header(line, projection),
            Rows::Ndjson(_) | Rows::Apache | Rows::Text => false,
        }
    }

    /// The column formats' current column names.
    pub(crate) fn columns(&self) -> Option<&[String]> {
        match self {
            Rows::Zeek(zeek) => zeek.columns(),
            Rows::VpcFlow(vpc) => vpc.columns(),
            Rows::Csv(csv) => csv.columns(),
            Rows::Ndjson(_) | Rows::Apache | Rows::Text => None,
        }
    }

    /// Reads one event's fields; `Err` for a line that is not one of this format.
    pub(crate) fn row<'a>(
        &'a mut self,
        line: &'a [u8],
        projection: &Projection,
        values: &mut Values<'a>,
    ) -> Result<(), EventError> {
        match self {
            Rows::Ndjson(json) => Ok(json.read(line, projection, values)?),
            Rows::Zeek(zeek) => Ok(zeek.row(line, values)?),
            Rows::VpcFlow(vpc) => Ok(vpc.row(line, values)?),
            Rows::Apache => Ok(apache::extract(line, projection, values)?),
            Rows::Csv(csv) => Ok(csv.row(line, values)?),
            Rows::Text => Ok(()),
        }
    }
}

/// Debug builds only (the tests' builds), never release: `SKETCHLAKE_PANIC_ON=TEXT` makes
/// the reader of every file whose name contains TEXT panic 64 KiB into its text, so the
/// tests can show, through a whole query, that a reader's panic fails its file alone.
#[cfg(debug_assertions)]
mod failpoint {
    use std::io::{self, BufRead, Read};

    pub(super) struct PanicPartWay<R> {
        inner: R,
        left: usize,
    }

    /// `reader` made to panic part-way when `name` is one to, else `reader` as it was.
    pub(super) fn panics_part_way<R: BufRead>(name: &str, reader: R) -> Result<PanicPartWay<R>, R> {
        match std::env::var("SKETCHLAKE_PANIC_ON") {
            Ok(text) if !text.is_empty() && name.contains(&text) => Ok(PanicPartWay {
                inner: reader,
                left: 64 << 10,
            }),
            _ => Err(reader),
        }
    }

    impl<R: BufRead> BufRead for PanicPartWay<R> {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            assert!(
                self.left > 0,
                "a reader panic injected by SKETCHLAKE_PANIC_ON"
            );
            let buf = self.inner.fill_buf()?;
            let n = buf.len().min(self.left);
            Ok(&buf[..n])
        }

        fn consume(&mut self, n: usize) {
            self.left = self.left.saturating_sub(n);
            self.inner.consume(n);
        }
    }

    impl<R: BufRead> Read for PanicPartWay<R> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            self.consume(n);
            Ok(n)
        }
    }
}
