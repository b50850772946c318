//! Ingest: a source file in, indexed segments out. JSON sources (NDJSON, a JSON array,
//! CloudTrail's `{"Records":[...]}`) are copied event by event into segments; the source
//! file itself is left untouched. Other formats are not converted yet: they stay as they
//! are and are scanned whole, but their events' time range is read once, here, so the
//! catalog can rule them out by time like segments.

use std::io;
use std::path::{Path, PathBuf};

use crate::array::{ArrayReader, Element};
use crate::format::Format;
use crate::lines::{Line, LineReader};
use crate::scan::{ScanOptions, TimeProfile, open_text, time_fields, time_profile};
use crate::segment::{Segment, SegmentWriter};

/// Uncompressed bytes at which a segment is closed and the next begun.
pub const SEGMENT_BYTES: u64 = 256 << 20;

/// What ingesting one source file made of it.
#[derive(Debug)]
pub enum Ingested {
    Segments {
        /// The source's format.
        format: Format,
        segments: Vec<Segment>,
        /// Events that were not JSON objects: counted, left out.
        malformed: u64,
    },
    /// A format ingest does not convert: the file is scanned as it is.
    Raw {
        format: Format,
        profile: TimeProfile,
        /// The fields `profile.time` was read from.
        time_fields: Vec<String>,
    },
}

/// Writes the events of `path` into segments at `segment_path(0)`, `segment_path(1)`, …
/// (one per `SEGMENT_BYTES`).
pub fn ingest_file(
    path: &Path,
    options: &ScanOptions,
    segment_path: impl FnMut(u32) -> PathBuf,
) -> io::Result<Ingested> {
    let mut text = open_text(path)?;
    let format = options.format_of(&mut text)?;
    let time_fields = time_fields(format, options);
    if !matches!(format, Format::Ndjson | Format::Json) {
        let profile = time_profile(text, format, &time_fields)?;
        return Ok(Ingested::Raw {
            format,
            profile,
            time_fields,
        });
    }
    let mut out = Output {
        time_fields,
        writer: None,
        segments: Vec::new(),
        malformed: 0,
        segment_path,
    };
    if format == Format::Json {
        let mut elements = ArrayReader::new(text);
        while let Some(element) = elements.next_element()? {
            match element {
                Element::Json(json) => out.add(json)?,
                Element::TooLong => out.malformed += 1,
            }
        }
    } else {
        let mut lines = LineReader::new(text);
        while let Some(line) = lines.next_line()? {
            match line {
                Line::Text(text) if text.iter().all(u8::is_ascii_whitespace) => {}
                Line::Text(text) => out.add(text)?,
                Line::TooLong => out.malformed += 1,
            }
        }
    }
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
    segments: &[PathBuf],
    time_fields: Vec<String>,
    segment_path: impl FnMut(u32) -> PathBuf,
) -> io::Result<Vec<Segment>> {
    let mut out = Output {
        time_fields,
        writer: None,
        segments: Vec::new(),
        malformed: 0,
        segment_path,
    };
    for path in segments {
        let mut lines = LineReader::new(open_text(path)?);
        while let Some(line) = lines.next_line()? {
            match line {
                Line::Text(text) => out.add(text)?,
                Line::TooLong => out.malformed += 1,
            }
        }
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

struct Output<F> {
    time_fields: Vec<String>,
    writer: Option<SegmentWriter>,
    segments: Vec<Segment>,
    malformed: u64,
    segment_path: F,
}

impl<F: FnMut(u32) -> PathBuf> Output<F> {
    fn add(&mut self, json: &[u8]) -> io::Result<()> {
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
        }
        if writer.size() >= SEGMENT_BYTES {
            self.close()?;
        }
        Ok(())
    }

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
