//! Ingest: a source file in, indexed segments out; the source file itself is left
//! untouched. JSON sources (NDJSON, a JSON array, CloudTrail's `{"Records":[...]}`) are
//! copied event by event. Rows of the column and access-log formats (Zeek TSV, VPC flow
//! text, CSV, Apache) become JSON objects of their named fields, each value the text a
//! scan of the source reads, so a query answers alike over the source and its segments.
//! Free text has no fields to index and stays as it is.

use std::io;
use std::path::PathBuf;

use crate::convert::{Copy, Objects};
use crate::detect::Detector;
use crate::events::{read_events, read_file_events};
use crate::format::Format;
use crate::scan::{ScanOptions, open_text, time_fields};
use crate::segment::{Segment, SegmentWriter};
use crate::source::Source;

/// Uncompressed bytes at which a segment is closed and the next begun.
pub const SEGMENT_BYTES: u64 = 256 << 20;

/// What ingesting one source file made of it.
#[derive(Debug)]
pub enum Ingested {
    Segments {
        /// The source's format.
        format: Format,
        segments: Vec<Segment>,
        /// Events that could not be read (not a JSON object, not a row of the format):
        /// counted, left out, as a scan of the source skips them.
        malformed: u64,
    },
    /// Free text, which ingest does not convert: the file is scanned as it is.
    Raw(Format),
}

/// Writes the events of `source` (a local file or an object) into segments at
/// `segment_path(0)`, `segment_path(1)`, … (one per `SEGMENT_BYTES`), and hands each to
/// `detector` in the same pass, as parsed for the segment's index. A free-text file is not
/// read (rules run on it where it is, with `detect_file`).
pub fn ingest_file(
    source: impl Into<Source>,
    options: &ScanOptions,
    segment_path: impl FnMut(u32) -> PathBuf,
    detector: &mut Detector<'_>,
) -> io::Result<Ingested> {
    let source = source.into();
    let mut text = open_text(&source)?;
    let format = options.format_of(&mut text)?;
    if format == Format::Text {
        return Ok(Ingested::Raw(format));
    }
    let time_fields = time_fields(format, options);
    detector.read_time_from(&time_fields);
    let mut out = Output {
        time_fields,
        writer: None,
        segments: Vec::new(),
        malformed: 0,
        segment_path,
        detector: detector.has_rules().then_some(detector),
    };
    read_file_events(
        text,
        format,
        &source.name(),
        &mut Copy::new(format, &mut out),
    )?;
    let (segments, malformed) = out.finish()?;
    Ok(Ingested::Segments {
        format,
        segments,
        malformed,
    })
}

/// Copies the events of `segments` (as ingest wrote them, read whole) into new segments at
/// `segment_path(0)`, `segment_path(1)`, … (one per `SEGMENT_BYTES`): many small segments
/// become few large ones. Their time was read from `time_fields`, as it will be again.
pub fn compact_segments(
    segments: &[Source],
    time_fields: Vec<String>,
    segment_path: impl FnMut(u32) -> PathBuf,
) -> io::Result<Vec<Segment>> {
    let mut out = Output {
        time_fields,
        writer: None,
        segments: Vec::new(),
        malformed: 0,
        segment_path,
        detector: None,
    };
    for segment in segments {
        read_events(
            open_text(segment)?,
            Format::Ndjson,
            1,
            &mut Copy::new(Format::Ndjson, &mut out),
        )?;
    }
    let (segments, malformed) = out.finish()?;
    if malformed > 0 {
        // Ingest wrote only JSON objects of bounded size: this is not one of its segments.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a segment holds lines that are not JSON objects",
        ));
    }
    Ok(segments)
}

struct Output<'d, 'w, F> {
    time_fields: Vec<String>,
    writer: Option<SegmentWriter>,
    segments: Vec<Segment>,
    malformed: u64,
    segment_path: F,
    /// The rules, evaluated on each event as the writer parsed it: one parse for both
    /// (measured: parsing again for the rules was a sixth of their cost at 100 rules).
    detector: Option<&'d mut Detector<'w>>,
}

impl<F: FnMut(u32) -> PathBuf> Objects for Output<'_, '_, F> {
    fn object(&mut self, number: u64, json: &[u8]) -> io::Result<()> {
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                let n = u32::try_from(self.segments.len()).unwrap_or(u32::MAX);
                let path = (self.segment_path)(n);
                self.writer
                    .insert(SegmentWriter::create(&path, self.time_fields.clone())?)
            }
        };
        if !writer.add_json(json)? {
            self.malformed += 1;
        } else if let (Some(detector), Some(object)) = (&mut self.detector, writer.parsed()) {
            detector.parsed(number, json, object);
        }
        if writer.size() >= SEGMENT_BYTES {
            self.close()?;
        }
        Ok(())
    }

    fn malformed(&mut self) {
        self.malformed += 1;
    }
}

impl<F: FnMut(u32) -> PathBuf> Output<'_, '_, F> {
    fn close(&mut self) -> io::Result<()> {
        if let Some(writer) = self.writer.take() {
            self.segments.extend(writer.finish()?);
        }
        Ok(())
    }

    /// The segments written, and the events left out as malformed.
    fn finish(mut self) -> io::Result<(Vec<Segment>, u64)> {
        self.close()?;
        Ok((self.segments, self.malformed))
    }
}
