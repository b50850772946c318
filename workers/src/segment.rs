//! Segments: what ingest writes. A segment is NDJSON in gzip members of about `PAGE_BYTES`
//! each (a page), so zcat, DuckDB or Athena read it as one file while a worker range-reads
//! and inflates only the pages its index sidecar (`index.rs`) cannot rule out.
//!
//! Writing goes to `*.part` files that are synced, then renamed into place, sidecar first:
//! a crash leaves at worst a stray `.part` file, never a segment without its index, and the
//! catalog names a segment only after both are in place.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;
use shared_sketch::query::{Indexed, index_field, index_text};
use shared_sketch::{Partial, Query};

use crate::events::{Sink, read_events};
use crate::format::{Format, event_time};
use crate::gzip;
use crate::index::{self, PageIndex, PageSummary, SegmentIndex};
use crate::json::JsonReader;
use crate::scan::{Scan, ScanOptions, ScanSink, scan_file};
use crate::source::Source;

/// Uncompressed bytes per page (gzip member).
pub const PAGE_BYTES: usize = 1 << 20;
const GZIP_LEVEL: u32 = 6;

/// The sidecar of the segment at `path`.
pub fn index_path(path: &Path) -> PathBuf {
    suffixed(path, INDEX_SUFFIX)
}

/// What a sidecar's name adds to its segment's.
pub const INDEX_SUFFIX: &str = ".idx";

/// Where `path` is written until it is complete.
fn part_path(path: &Path) -> PathBuf {
    suffixed(path, ".part")
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A segment written and in place.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub path: PathBuf,
    pub rows: u64,
    /// Compressed size.
    pub bytes: u64,
    pub index_bytes: u64,
    /// Earliest and latest event time (epoch ms) among rows with one.
    pub time: Option<(i64, i64)>,
    /// The fields `time` was read from (see `SegmentIndex::time_fields`).
    pub time_fields: Vec<String>,
}

/// Writes one segment and its sidecar.
pub struct SegmentWriter {
    path: PathBuf,
    out: BufWriter<File>,
    written: u64,
    /// The open page's lines.
    page: Vec<u8>,
    summary: PageSummary,
    index: SegmentIndex,
    rows: u64,
    /// Uncompressed bytes written and pending.
    text_bytes: u64,
    json: JsonReader,
    /// Per time field (in order): the time read from the current event's value, if it
    /// has the field.
    times: Vec<Option<Option<i64>>>,
}

impl SegmentWriter {
    /// Starts `path` (written as `path.part` until `finish`). Each row's time is read from
    /// the first of `time_fields` it has, as a scan reads it.
    pub fn create(path: &Path, time_fields: Vec<String>) -> io::Result<SegmentWriter> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        Ok(SegmentWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(File::create(part_path(path))?),
            written: 0,
            page: Vec::with_capacity(PAGE_BYTES + 64 * 1024),
            summary: PageSummary::default(),
            times: vec![None; time_fields.len()],
            index: SegmentIndex {
                time_fields,
                pages: Vec::new(),
                layout: index::LAYOUT,
            },
            rows: 0,
            text_bytes: 0,
            json: JsonReader::default(),
        })
    }

    /// Uncompressed bytes so far.
    pub fn size(&self) -> u64 {
        self.text_bytes
    }

    /// Adds one JSON object (its text as read: line breaks between tokens become spaces,
    /// so it stays one line). `false`, and nothing written, when it is not one.
    pub(crate) fn add_json(&mut self, text: &[u8]) -> io::Result<bool> {
        self.times.iter_mut().for_each(|t| *t = None);
        let (summary, times, time_fields) =
            (&mut self.summary, &mut self.times, &self.index.time_fields);
        let complete = match self.json.for_each_field(text, |name, value| {
            let rank = time_fields.iter().position(|f| f == name);
            index_field(name, value, |i| {
                // No tokens for times (see `SegmentIndex::time_fields`).
                if rank.is_none() || matches!(i, Indexed::Number(..)) {
                    summary.record(i);
                }
            });
            if let Some(rank) = rank {
                times[rank] = Some(event_time(value));
            }
        }) {
            Ok(complete) => complete,
            Err(_) => return Ok(false),
        };
        let time = self.times.iter().find_map(|t| *t).flatten();
        let start = self.page.len();
        self.page.extend(
            text.iter()
                .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
        );
        index_text(&self.page[start..], |i| self.summary.record(i));
        self.page.push(b'\n');
        self.text_bytes += (self.page.len() - start) as u64;
        self.summary.add_row(time, complete);
        self.rows += 1;
        if self.page.len() >= PAGE_BYTES {
            self.seal_page()?;
        }
        Ok(true)
    }

    /// The object the last `add_json` that returned `true` added, as it parsed it.
    pub(crate) fn parsed(&self) -> Option<&sonic_rs::Object> {
        self.json.parsed()
    }

    fn seal_page(&mut self) -> io::Result<()> {
        if self.summary.rows() == 0 {
            return Ok(());
        }
        let first_line = self.rows - self.summary.rows() + 1;
        let mut gz = GzEncoder::new(Vec::new(), Compression::new(GZIP_LEVEL));
        gz.write_all(&self.page)?;
        let member = gz.finish()?;
        self.out.write_all(&member)?;
        let length = member.len() as u64;
        self.index
            .pages
            .push(self.summary.finish(self.written, length, first_line));
        self.written += length;
        self.page.clear();
        Ok(())
    }

    /// Seals the last page, syncs both files and moves them into place. A segment with no
    /// rows is removed instead (`None`).
    pub fn finish(mut self) -> io::Result<Option<Segment>> {
        self.seal_page()?;
        let part = part_path(&self.path);
        let file = self
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        if self.rows == 0 {
            drop(file);
            fs::remove_file(&part)?;
            return Ok(None);
        }
        file.sync_all()?;
        drop(file);

        let index = shared_sketch::codec::encode_file(&self.index).map_err(io::Error::other)?;
        let index_path = index_path(&self.path);
        let index_part = part_path(&index_path);
        let mut sidecar = File::create(&index_part)?;
        sidecar.write_all(&index)?;
        sidecar.sync_all()?;
        drop(sidecar);
        fs::rename(&index_part, &index_path)?;
        fs::rename(&part, &self.path)?;
        if let Some(dir) = self.path.parent() {
            // The renames themselves must survive a crash.
            File::open(dir)?.sync_all()?;
        }
        let time = self
            .index
            .pages
            .iter()
            .filter_map(|p| p.time)
            .fold(None, |acc, (lo, hi)| {
                Some(acc.map_or((lo, hi), |(a, b): (i64, i64)| (a.min(lo), b.max(hi))))
            });
        Ok(Some(Segment {
            path: self.path,
            rows: self.rows,
            bytes: self.written,
            index_bytes: index.len() as u64,
            time,
            time_fields: self.index.time_fields,
        }))
    }
}

/// The most bytes a sidecar may hold: an index is a few KB per page, and a damaged or
/// hostile one must not cost more than this to refuse.
const MAX_INDEX_BYTES: u64 = 64 << 20;

/// Reads a segment's sidecar.
pub fn read_index(segment: impl Into<Source>) -> io::Result<SegmentIndex> {
    let bytes = segment
        .into()
        .suffixed(INDEX_SUFFIX)
        .read_all(MAX_INDEX_BYTES)?;
    SegmentIndex::decode(&bytes)
}

impl SegmentIndex {
    /// A sidecar's bytes, as `SegmentWriter` wrote them, of this layout or the first. The
    /// bytes are untrusted (a bucket others can write to): anything else is an error.
    pub fn decode(bytes: &[u8]) -> io::Result<SegmentIndex> {
        match shared_sketch::codec::decode_file::<SegmentIndex>(bytes) {
            Ok(index) if index.layout == index::LAYOUT => Ok(index),
            Ok(index) => Err(io::Error::other(format!(
                "index layout {} is not this version's ({})",
                index.layout,
                index::LAYOUT
            ))),
            Err(e) => shared_sketch::codec::decode_file::<index::FirstLayout>(bytes)
                .map(SegmentIndex::from)
                .map_err(|_| io::Error::other(e)),
        }
    }
}

/// Scans a segment, reading only the pages its index cannot rule out. Without a readable
/// index the segment is scanned whole, as the gzip NDJSON file it is.
pub fn scan_segment(
    segment: impl Into<Source>,
    name: &str,
    query: &Query,
    options: &ScanOptions,
) -> Partial {
    let segment = segment.into();
    let index = match read_index(&segment) {
        Ok(index) => index,
        Err(e) => {
            // Exact either way, only slower: the answer counts it, the log says why.
            tracing::warn!(segment = name, error = %e, "unreadable index: scanning the segment whole");
            let mut partial = scan_file(segment, name, query, options);
            partial.stats.unindexed += 1;
            return partial;
        }
    };
    let mut scan = Scan::new(query, options);
    let stats = scan.stats();
    stats.files = 1;
    stats.pages = index.pages.len() as u64;
    stats.bytes = index.pages.last().map_or(0, |p| p.offset + p.length);
    if let Err(e) = read_pages(&mut scan, &segment, &index, query, options) {
        scan.stats()
            .add_error(name, format!("cannot read the segment: {e}"));
    }
    scan.finish(name)
}

fn read_pages(
    scan: &mut Scan<'_>,
    segment: &Source,
    index: &SegmentIndex,
    query: &Query,
    options: &ScanOptions,
) -> io::Result<()> {
    let time_fields = index.time_fields_read(options);
    // Page times were read from the index's fields: they bound a scan reading the same.
    let range = if time_fields == index.time_fields {
        query.time_range_if_absolute()
    } else {
        (None, None)
    };
    let projection = scan.projection(&time_fields);
    let mut buffers = PageBuffers::default();
    for page in &index.pages {
        if !page.may_overlap(range) || !scan.matcher().may_match(&index.summary(page)) {
            scan.stats().pages_pruned += 1;
            continue;
        }
        scan.stats().bytes_read += page.length;
        let mut sink = ScanSink::new(scan, Format::Ndjson, &projection);
        read_page(segment, page, &mut buffers, &mut sink)?;
    }
    Ok(())
}

/// A page as read and as inflated, kept from page to page.
#[derive(Default)]
pub(crate) struct PageBuffers {
    compressed: Vec<u8>,
    text: Vec<u8>,
}

/// Reads one page's rows into `sink`: inflated whole when it fits, else streamed.
pub(crate) fn read_page(
    segment: &Source,
    page: &PageIndex,
    buffers: &mut PageBuffers,
    sink: &mut impl Sink,
) -> io::Result<()> {
    let PageBuffers { compressed, text } = buffers;
    segment.read_range(page.offset..page.offset + page.length, compressed)?;
    if gzip::inflate(compressed, gzip::WHOLE_TEXT_MAX, text) {
        read_events(&text[..], Format::Ndjson, page.first_line, sink)
    } else {
        let inflated = BufReader::new(MultiGzDecoder::new(&compressed[..]));
        read_events(inflated, Format::Ndjson, page.first_line, sink)
    }
}
