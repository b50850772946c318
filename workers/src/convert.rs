//! Events as JSON objects, whatever their format: what ingest writes into segments and
//! what the rules evaluated in the same pass read. JSON events are passed on as they are;
//! rows of the column and access-log formats become objects of their named fields.

use std::io;

use crate::apache;
use crate::events::Sink;
use crate::format::Format;
use crate::projection::{Projection, Values};
use crate::scan::Rows;

/// Where converted events go: JSON objects, by their number in the source.
pub(crate) trait Objects {
    fn object(&mut self, number: u64, json: &[u8]) -> io::Result<()>;

    /// A source event that could not be converted.
    fn malformed(&mut self);
}

/// The event loop's sink that hands each event on as a JSON object. JSON events are
/// passed as they are. Rows of a column or access-log format become objects of a key per
/// field the row has (a Zeek unset `-` or an empty CSV cell is no key, as a scan sees no
/// value), each value the field's text.
pub(crate) struct Copy<'o, O> {
    out: &'o mut O,
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

impl<'o, O: Objects> Copy<'o, O> {
    pub(crate) fn new(format: Format, out: &'o mut O) -> Self {
        let rows = match format {
            Format::Json | Format::Ndjson | Format::Text => None,
            Format::Apache => Some(Converter {
                projection: Projection::for_fields(apache::FIELDS),
                rows: Rows::new(format),
                names: apache::FIELDS.iter().map(|f| f.to_string()).collect(),
                json: Vec::new(),
                spare: Values::default(),
            }),
            _ => Some(Converter {
                projection: Projection::every_column(),
                rows: Rows::new(format),
                names: Vec::new(),
                json: Vec::new(),
                spare: Values::default(),
            }),
        };
        Copy { out, rows }
    }
}

impl<O: Objects> Sink for Copy<'_, O> {
    fn event(&mut self, number: u64, text: &[u8]) -> io::Result<()> {
        let Some(converter) = &mut self.rows else {
            return self.out.object(number, text);
        };
        match converter.convert(text)? {
            Converted::Header => Ok(()),
            Converted::Object => self.out.object(number, &converter.json),
            Converted::Malformed => {
                self.out.malformed();
                Ok(())
            }
        }
    }

    fn malformed(&mut self) {
        self.out.malformed();
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
        let mut values: Values<'_> = std::mem::take(&mut self.spare).recycle();
        values.resize(self.names.len());
        let readable = self.rows.row(text, &self.projection, &mut values).is_ok();
        let json = &mut self.json;
        if readable {
            json.clear();
            json.push(b'{');
            for (name, value) in self.names.iter().zip(values.slots()) {
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
        self.spare = values.recycle();
        Ok(if readable {
            Converted::Object
        } else {
            Converted::Malformed
        })
    }
}
