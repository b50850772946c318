//! Formats whose events are rows of named columns: Zeek TSV (`#fields` header), AWS VPC
//! flow logs (space-separated, header line or the default version 2 order) and CSV with a
//! header row. Only the columns the projection names are kept; values borrow from the line.

use std::borrow::Cow;

use crate::projection::{Projection, Values};

/// The version 2 default VPC flow log format, for files without a header line.
pub(crate) const VPC_V2_FIELDS: &[&str] = &[
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];

/// Which column fills which slot.
struct Layout {
    /// (column, slot), by column.
    wanted: Vec<(usize, usize)>,
    /// Every column's name, in order.
    names: Vec<String>,
}

impl Layout {
    /// The projection's columns; with `Projection::every_column`, all of them, slot = column.
    fn new<'n>(names: impl Iterator<Item = &'n str>, projection: &Projection) -> Layout {
        let names: Vec<String> = names.map(str::to_string).collect();
        let wanted = names
            .iter()
            .enumerate()
            .filter_map(|(column, name)| {
                if projection.reads_every_column() {
                    Some((column, column))
                } else {
                    projection.slot(name).map(|slot| (column, slot))
                }
            })
            .collect();
        Layout { wanted, names }
    }

    /// Fills `values` from the row's cells; `value` reads a cell (`None`: the format's mark
    /// for "no value").
    fn fill<'a>(
        &self,
        cells: impl Iterator<Item = &'a [u8]>,
        value: impl Fn(&'a [u8]) -> Option<Cow<'a, str>>,
        values: &mut Values<'a>,
    ) -> Result<(), RowError> {
        let mut wanted = self.wanted.iter().peekable();
        let mut count = 0;
        for (column, cell) in cells.enumerate() {
            count += 1;
            while let Some(&&(c, slot)) = wanted.peek() {
                if c != column {
                    break;
                }
                values[slot] = value(cell);
                wanted.next();
            }
        }
        if count == self.names.len() {
            Ok(())
        } else {
            Err(RowError::Width {
                expected: self.names.len(),
                found: count,
            })
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum RowError {
    #[error("{found} columns where the header has {expected}")]
    Width { expected: usize, found: usize },
    #[error("no #fields header before the first row")]
    NoHeader,
    #[error("unparsable CSV row")]
    Csv,
}

/// Zeek's TSV writer: `#` lines set the separator, the markers for unset and empty
/// values, the log's name and the column names; a later `#fields` (logs concatenated)
/// starts a new layout.
pub(crate) struct Zeek {
    separator: u8,
    unset: Vec<u8>,
    empty: Vec<u8>,
    /// `#path`: the log's name (`conn`, `dns`), given to each row as `_path`, the field
    /// Zeek's JSON streaming writes, so one query or Sigma rule reads both alike.
    path: Option<String>,
    /// The layout's last column is `path`, added to the file's own.
    path_column: bool,
    layout: Option<Layout>,
}

impl Zeek {
    pub fn new() -> Zeek {
        Zeek {
            separator: b'\t',
            unset: b"-".to_vec(),
            empty: b"(empty)".to_vec(),
            path: None,
            path_column: false,
            layout: None,
        }
    }

    /// Reads a `#` directive; false for a data row.
    pub fn header(&mut self, line: &[u8], projection: &Projection) -> bool {
        let Some(directive) = line.strip_prefix(b"#") else {
            return false;
        };
        if let Some(sep) = directive.strip_prefix(b"separator ") {
            if let Some(b) = unescape_byte(sep) {
                self.separator = b;
            }
            return true;
        }
        let mut parts = directive.split(|&b| b == self.separator);
        let name = parts.next().unwrap_or_default();
        let rest: Vec<&[u8]> = parts.collect();
        match (name, rest.as_slice()) {
            (b"unset_field", [v]) => self.unset = v.to_vec(),
            (b"empty_field", [v]) => self.empty = v.to_vec(),
            (b"path", [v]) => self.path = Some(String::from_utf8_lossy(v).into_owned()),
            (b"fields", names) => {
                let mut names: Vec<Cow<'_, str>> =
                    names.iter().map(|n| String::from_utf8_lossy(n)).collect();
                self.path_column = self.path.is_some() && !names.iter().any(|n| n == PATH);
                if self.path_column {
                    names.push(Cow::Borrowed(PATH));
                }
                self.layout = Some(Layout::new(names.iter().map(|n| n.as_ref()), projection));
            }
            _ => {}
        }
        true
    }

    /// The current layout's column names (none before `#fields`).
    pub fn columns(&self) -> Option<&[String]> {
        self.layout.as_ref().map(|l| l.names.as_slice())
    }

    pub fn row<'a>(&'a self, line: &'a [u8], values: &mut Values<'a>) -> Result<(), RowError> {
        let layout = self.layout.as_ref().ok_or(RowError::NoHeader)?;
        let path = self
            .path
            .as_deref()
            .filter(|_| self.path_column)
            .map(str::as_bytes);
        let cells = line.split(move |&b| b == self.separator).chain(path);
        layout.fill(
            cells,
            |cell| match cell {
                _ if cell == self.unset => None,
                // An empty set or string: present, with no text.
                _ if cell == self.empty => Some(Cow::Borrowed("")),
                _ => Some(String::from_utf8_lossy(cell)),
            },
            values,
        )
    }
}

/// The field naming a Zeek record's log.
pub(crate) const PATH: &str = "_path";

/// The Zeek log a file holds, by the name Zeek gives its files: `conn.log`, rotated
/// `conn.2024-05-01-00-00-00.log`, archived `conn.00:00:00-01:00:00.log.gz`. Zeek's JSON
/// writer names the log nowhere else (its streaming writers add `_path`; see `Stamped`).
pub(crate) fn log_named_by_file(name: &str) -> Option<&str> {
    let base = name.rsplit(['/', '\\']).next()?;
    let base = base.strip_suffix(".gz").unwrap_or(base);
    let log = base.strip_suffix(".log")?.split('.').next()?;
    let named = !log.is_empty()
        && log
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    named.then_some(log)
}

/// `\x09` → tab (how Zeek writes its separator).
fn unescape_byte(text: &[u8]) -> Option<u8> {
    match text {
        [b'\\', b'x', hex @ ..] => u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok(),
        [b] => Some(*b),
        _ => None,
    }
}

/// AWS VPC flow logs in text form. A first line of field names (as a custom format
/// writes) sets the layout; without one it is the version 2 default.
pub(crate) struct VpcFlow {
    layout: Option<Layout>,
}

impl VpcFlow {
    pub fn new() -> VpcFlow {
        VpcFlow { layout: None }
    }

    pub fn header(&mut self, line: &[u8], projection: &Projection) -> bool {
        if self.layout.is_some() {
            return false;
        }
        let header = is_vpc_header(line);
        let layout = if header {
            let names = String::from_utf8_lossy(line);
            Layout::new(names.split_ascii_whitespace(), projection)
        } else {
            Layout::new(VPC_V2_FIELDS.iter().copied(), projection)
        };
        self.layout = Some(layout);
        header
    }

    pub fn columns(&self) -> Option<&[String]> {
        self.layout.as_ref().map(|l| l.names.as_slice())
    }

    pub fn row<'a>(&self, line: &'a [u8], values: &mut Values<'a>) -> Result<(), RowError> {
        let layout = self.layout.as_ref().ok_or(RowError::NoHeader)?;
        let cells = line.split(|&b| b == b' ').filter(|c| !c.is_empty());
        layout.fill(cells, |cell| present(cell, b"-"), values)
    }
}

/// A line of VPC flow log field names (`version account-id interface-id srcaddr …`).
pub(crate) fn is_vpc_header(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let names: Vec<&str> = text.split_ascii_whitespace().collect();
    names.len() >= 4
        && names
            .iter()
            .any(|n| ["srcaddr", "interface-id", "log-status"].contains(n))
        && names.iter().all(|n| {
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit())
        })
}

/// A line of the version 2 default format: 14 fields, ending in a log status.
pub(crate) fn is_vpc_v2_row(line: &[u8]) -> bool {
    let cells: Vec<&[u8]> = line
        .split(|&b| b == b' ')
        .filter(|c| !c.is_empty())
        .collect();
    cells.len() == VPC_V2_FIELDS.len()
        && cells[0].iter().all(u8::is_ascii_digit)
        && [&b"OK"[..], b"NODATA", b"SKIPDATA"].contains(&cells[13])
}

/// CSV with a header row, one record per line (as log exporters write it; a quoted line
/// break splits a record, and both halves then count as malformed).
pub(crate) struct Csv {
    parser: csv_core::Reader,
    layout: Option<Layout>,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl Csv {
    pub fn new() -> Csv {
        Csv {
            parser: csv_core::Reader::new(),
            layout: None,
            out: Vec::new(),
            ends: Vec::new(),
        }
    }

    pub fn header(&mut self, line: &[u8], projection: &Projection) -> bool {
        if self.layout.is_some() {
            return false;
        }
        if self.split(line).is_ok() {
            let names: Vec<String> = cells(&self.out, &self.ends)
                .map(|c| String::from_utf8_lossy(c).trim().to_string())
                .collect();
            self.layout = Some(Layout::new(names.iter().map(String::as_str), projection));
        }
        true
    }

    pub fn columns(&self) -> Option<&[String]> {
        self.layout.as_ref().map(|l| l.names.as_slice())
    }

    pub fn row<'a>(&'a mut self, line: &[u8], values: &mut Values<'a>) -> Result<(), RowError> {
        self.split(line)?;
        let layout = self.layout.as_ref().ok_or(RowError::NoHeader)?;
        layout.fill(
            cells(&self.out, &self.ends),
            |cell| present(cell, b""),
            values,
        )
    }

    /// Parses one line into `out` (the cells' unquoted bytes, end to end) and `ends`.
    fn split(&mut self, line: &[u8]) -> Result<(), RowError> {
        use csv_core::ReadRecordResult as R;
        self.parser.reset();
        self.out.resize(line.len().max(16), 0);
        self.ends.resize(line.len() / 2 + 2, 0);
        let mut input = line;
        let mut terminated = false;
        let (mut written, mut cells) = (0, 0);
        loop {
            let (result, read, wrote, ended) =
                self.parser
                    .read_record(input, &mut self.out[written..], &mut self.ends[cells..]);
            input = &input[read..];
            written += wrote;
            cells += ended;
            match result {
                R::Record => break,
                R::InputEmpty if !terminated => {
                    input = b"\n";
                    terminated = true;
                }
                R::OutputFull => self.out.resize(self.out.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::InputEmpty | R::End => return Err(RowError::Csv),
            }
        }
        // The parser counts `ends` from the record's start across calls.
        self.ends.truncate(cells);
        Ok(())
    }
}

/// A cell's text, or `None` when it is the format's `absent` mark.
fn present<'a>(cell: &'a [u8], absent: &[u8]) -> Option<Cow<'a, str>> {
    (cell != absent).then(|| String::from_utf8_lossy(cell))
}

/// The cells of a parsed record: `out` cut at `ends`.
fn cells<'o>(out: &'o [u8], ends: &'o [usize]) -> impl Iterator<Item = &'o [u8]> {
    ends.iter().scan(0, move |start, &end| {
        let cell = &out[*start..end];
        *start = end;
        Some(cell)
    })
}
