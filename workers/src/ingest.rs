//! Ingest: a source file in, indexed segments out; the source file itself is left
//! untouched. JSON sources (NDJSON, a JSON array, CloudTrail's `{"Records":[...]}`) are
//! copied event by event. Rows of the column and access-log formats (Zeek TSV, VPC flow
//! text, CSV, Apache) become JSON objects of their named fields, each value the text a
//! scan of the source reads, so a query answers alike over the source and its segments.
//! Free text has no fields to index and stays as it is.

use std::io::{self, BufRead};
use std::path::PathBuf;

use shared_sketch::partial::recycle;

use crate::apache;
use crate::array::{ArrayReader, Element};
use crate::format::Format;
use crate::lines::{Line, LineReader};
use crate::plan::{Plan, Values};
use crate::scan::{Rows, ScanOptions, open_text, time_fields};
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
/// `segment_path(0)`, `segment_path(1)`, … (one per `SEGMENT_BYTES`).
pub fn ingest_file(
    source: impl Into<Source>,
    options: &ScanOptions,
    segment_path: impl FnMut(u32) -> PathBuf,
) -> io::Result<Ingested> {
    let mut text = open_text(&source.into())?;
    let format = options.format_of(&mut text)?;
    if format == Format::Text {
        return Ok(Ingested::Raw(format));
    }
    let mut out = Output {
        time_fields: time_fields(format, options),
        writer: None,
        segments: Vec::new(),
        malformed: 0,
        segment_path,
    };
    match format {
        Format::Json => {
            let mut elements = ArrayReader::new(text);
            while let Some(element) = elements.next_element()? {
                match element {
                    Element::Json(json) => out.add(json)?,
                    Element::TooLong => out.malformed += 1,
                }
            }
        }
        Format::Ndjson => {
            let mut lines = LineReader::new(text);
            while let Some(line) = lines.next_line()? {
                match line {
                    Line::Text(text) if text.iter().all(u8::is_ascii_whitespace) => {}
                    Line::Text(text) => out.add(text)?,
                    Line::TooLong => out.malformed += 1,
                }
            }
        }
        _ => convert_rows(text, format, &mut out)?,
    }
    let (segments, malformed) = out.finish()?;
    Ok(Ingested::Segments {
        format,
        segments,
        malformed,
    })
}

/// Rows of a column or access-log format into `out` as JSON objects: a key per field the
/// row has (a Zeek unset `-` or an empty CSV cell is no key, as a scan sees no value), each
/// value the field's text.
fn convert_rows<F: FnMut(u32) -> PathBuf>(
    text: impl BufRead,
    format: Format,
    out: &mut Output<F>,
) -> io::Result<()> {
    let plan = match format {
        Format::Apache => Plan::for_fields(apache::FIELDS),
        _ => Plan::every_column(),
    };
    let mut names: Vec<String> = match format {
        Format::Apache => apache::FIELDS.iter().map(|f| f.to_string()).collect(),
        _ => Vec::new(),
    };
    let mut lines = LineReader::new(text);
    let mut rows = Rows::new(format);
    let mut json = Vec::new();
    let mut spare: Values<'static> = Vec::new();
    while let Some(line) = lines.next_line()? {
        let text = match line {
            Line::Text(text) if text.iter().all(u8::is_ascii_whitespace) => continue,
            Line::Text(text) => text,
            Line::TooLong => {
                out.malformed += 1;
                continue;
            }
        };
        let header = rows.header(text, &plan);
        // A header sets or changes the columns; so does a VPC file's first row, which
        // sets the default ones without being a header.
        if (header || names.is_empty())
            && let Some(columns) = rows.columns()
        {
            names = columns.to_vec();
        }
        if header {
            continue;
        }
        // The scan's trick: one buffer for every row's values, emptied between rows.
        let mut values: Values<'_> = recycle(std::mem::take(&mut spare));
        values.resize(names.len(), None);
        let readable = rows.row(text, &plan, &mut values).is_ok();
        if readable {
            json.clear();
            json.push(b'{');
            for (name, value) in names.iter().zip(&values) {
                let Some(value) = value else { continue };
                if json.len() > 1 {
                    json.push(b',');
                }
                sonic_rs::to_writer(&mut json, name).map_err(io::Error::other)?;
                json.push(b':');
                sonic_rs::to_writer(&mut json, value.as_ref()).map_err(io::Error::other)?;
            }
            json.push(b'}');
        }
        spare = recycle(values);
        if !readable {
            out.malformed += 1;
            continue;
        }
        out.add(&json)?;
    }
    Ok(())
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
    };
    for segment in segments {
        let mut lines = LineReader::new(open_text(segment)?);
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
