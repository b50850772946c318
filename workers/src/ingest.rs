//! Ingest: a source file in, indexed segments out; the source file itself is left
//! untouched. JSON sources (NDJSON, a JSON array, CloudTrail's `{"Records":[...]}`) are
//! copied event by event. Rows of the column and access-log formats (Zeek TSV, VPC flow
//! text, CSV, Apache) become JSON objects of their named fields, each value the text a
//! scan of the source reads, so a query answers alike over the source and its segments.
//! Free text has no fields to index and stays as it is.

use std::io;
use std::path::PathBuf;

use shared_sketch::partial::recycle;

use crate::apache;
use crate::events::{Sink, read_events};
use crate::format::Format;
use crate::projection::{Projection, Values};
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
    read_events(text, format, 1, &mut Copy::new(format, &mut out))?;
    let (segments, malformed) = out.finish()?;
    Ok(Ingested::Segments {
        format,
        segments,
        malformed,
    })
}

/// Ingest as the event loop's sink: each event written into segments as a JSON object.
/// JSON events are copied as they are. Rows of a column or access-log format become
/// objects of a key per field the row has (a Zeek unset `-` or an empty CSV cell is no
/// key, as a scan sees no value), each value the field's text.
struct Copy<'o, F> {
    out: &'o mut Output<F>,
    rows: Option<Converter>,
}

/// What converting rows to JSON keeps from row to row.
struct Converter {
    projection: Projection,
    rows: Rows,
    /// The current column names.
    names: Vec<String>,
    json: Vec<u8>,
    /// The scan's trick: one buffer for every row's values, emptied between rows.
    spare: Values<'static>,
}

impl<'o, F> Copy<'o, F> {
    fn new(format: Format, out: &'o mut Output<F>) -> Self {
        let rows = match format {
            Format::Json | Format::Ndjson | Format::Text => None,
            Format::Apache => Some(Converter {
                projection: Projection::for_fields(apache::FIELDS),
                rows: Rows::new(format),
                names: apache::FIELDS.iter().map(|f| f.to_string()).collect(),
                json: Vec::new(),
                spare: Vec::new(),
            }),
            _ => Some(Converter {
                projection: Projection::every_column(),
                rows: Rows::new(format),
                names: Vec::new(),
                json: Vec::new(),
                spare: Vec::new(),
            }),
        };
        Copy { out, rows }
    }
}

impl<F: FnMut(u32) -> PathBuf> Sink for Copy<'_, F> {
    fn event(&mut self, _: u64, text: &[u8]) -> io::Result<()> {
        let Some(converter) = &mut self.rows else {
            return self.out.add(text);
        };
        match converter.convert(text)? {
            Converted::Header => Ok(()),
            Converted::Object => self.out.add(&converter.json),
            Converted::Malformed => {
                self.out.malformed += 1;
                Ok(())
            }
        }
    }

    fn malformed(&mut self) {
        self.out.malformed += 1;
    }
}

/// What a line of a row format was.
enum Converted {
    Header,
    /// A row, now the JSON object in `Converter::json`.
    Object,
    Malformed,
}

impl Converter {
    fn convert(&mut self, text: &[u8]) -> io::Result<Converted> {
        let header = self.rows.header(text, &self.projection);
        // A header sets or changes the columns; so does a VPC file's first row, which
        // sets the default ones without being a header.
        if (header || self.names.is_empty())
            && let Some(columns) = self.rows.columns()
        {
            self.names = columns.to_vec();
        }
        if header {
            return Ok(Converted::Header);
        }
        let mut values: Values<'_> = recycle(std::mem::take(&mut self.spare));
        values.resize(self.names.len(), None);
        let readable = self.rows.row(text, &self.projection, &mut values).is_ok();
        let json = &mut self.json;
        if readable {
            json.clear();
            json.push(b'{');
            for (name, value) in self.names.iter().zip(&values) {
                let Some(value) = value else { continue };
                if json.len() > 1 {
                    json.push(b',');
                }
                sonic_rs::to_writer(&mut *json, name).map_err(io::Error::other)?;
                json.push(b':');
                sonic_rs::to_writer(&mut *json, value.as_ref()).map_err(io::Error::other)?;
            }
            json.push(b'}');
        }
        self.spare = recycle(values);
        Ok(if readable {
            Converted::Object
        } else {
            Converted::Malformed
        })
    }
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
