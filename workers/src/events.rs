//! The one loop that reads a file's events — the lines of a line format, the elements of a
//! JSON document — and hands each to a `Sink`, as ripgrep's searcher feeds its sink. It
//! owns what every reader of events must do alike: blank lines are skipped (and still
//! numbered), a line longer than `MAX_LINE_BYTES` is a malformed event, and a read error
//! ends the loop only after the sink has had everything read before it. Scanning
//! (`scan::ScanSink`) and the JSON conversion ingest and rules read (`convert::Copy`) are
//! two sinks.

use std::io::{self, BufRead};

use crate::apache::NotAccessLog;
use crate::array::{ArrayReader, Element};
use crate::columns::{PATH, RowError, log_named_by_file};
use crate::format::Format;
use crate::json::JsonError;
use crate::lines::{Line, LineReader};

/// What the event loop feeds.
pub(crate) trait Sink {
    /// The text of event `number`: its line number in the file, or its place in a JSON
    /// document (from 1).
    fn event(&mut self, number: u64, text: &[u8]) -> io::Result<()>;

    /// An event too long to be read: counted, skipped.
    fn malformed(&mut self);

    /// The input has ended, or failed: whatever the sink holds back is taken in now.
    fn end(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why one event could not be read as one of its format: it is counted malformed and
/// skipped, never a failure of the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EventError {
    #[error(transparent)]
    Json(#[from] JsonError),
    #[error(transparent)]
    Row(#[from] RowError),
    #[error(transparent)]
    AccessLog(#[from] NotAccessLog),
}

/// `read_events` for the file named `name` (its path or key), whose events are numbered
/// from 1. The events of a Zeek JSON log named only by its file (`conn.log.gz`) are given
/// `_path` as Zeek's streaming writers give it, and as the Zeek TSV reader takes it from
/// `#path`: every reading of the file (scan, ingest, rules) sees the same events, and
/// the ones ingest copies into segments keep it (see `Stamped`).
pub(crate) fn read_file_events<R: BufRead>(
    text: R,
    format: Format,
    name: &str,
    sink: &mut impl Sink,
) -> io::Result<()> {
    match log_named_by_file(name) {
        Some(log) if format == Format::Ndjson => {
            read_events(text, format, 1, &mut Stamped::new(log, sink))
        }
        _ => read_events(text, format, 1, sink),
    }
}

/// Feeds on the events of a Zeek JSON log named by its file, each Zeek record without a
/// `_path` given one first: `{"ts":…` becomes `{"_path":"conn","ts":…`. A record is
/// Zeek's by how its writer begins every one (`ts` first); other lines pass unchanged.
struct Stamped<'s, S> {
    /// `{"_path":"conn",`
    prefix: Vec<u8>,
    sink: &'s mut S,
    buffer: Vec<u8>,
}

impl<'s, S: Sink> Stamped<'s, S> {
    fn new(log: &str, sink: &'s mut S) -> Self {
        // The log name is `[a-z0-9_]+`: nothing to escape.
        let prefix = format!("{{\"{PATH}\":\"{log}\",").into_bytes();
        Stamped {
            prefix,
            sink,
            buffer: Vec::new(),
        }
    }
}

impl<S: Sink> Sink for Stamped<'_, S> {
    fn event(&mut self, number: u64, text: &[u8]) -> io::Result<()> {
        let start = text.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let zeek = text[start..].starts_with(b"{\"ts\":")
            && memchr::memmem::find(text, b"\"_path\"").is_none();
        if !zeek {
            return self.sink.event(number, text);
        }
        self.buffer.clear();
        self.buffer.extend_from_slice(&self.prefix);
        self.buffer.extend_from_slice(&text[start + 1..]);
        self.sink.event(number, &self.buffer)
    }

    fn malformed(&mut self) {
        self.sink.malformed();
    }

    fn end(&mut self) -> io::Result<()> {
        self.sink.end()
    }
}

/// Feeds `sink` the events of `text`, read as `format`: the elements of a JSON document,
/// or lines numbered from `first_line`. Ends the sink, also when reading fails part-way.
pub(crate) fn read_events<R: BufRead>(
    text: R,
    format: Format,
    first_line: u64,
    sink: &mut impl Sink,
) -> io::Result<()> {
    let read = match format {
        Format::Json => elements(ArrayReader::new(text), sink),
        _ => lines(LineReader::new(text), first_line, sink),
    };
    let ended = sink.end();
    read.and(ended)
}

fn lines<R: BufRead>(
    mut lines: LineReader<R>,
    first_line: u64,
    sink: &mut impl Sink,
) -> io::Result<()> {
    let mut number = first_line.saturating_sub(1);
    while let Some(line) = lines.next_line()? {
        number += 1;
        match line {
            Line::Text(text) if text.iter().all(u8::is_ascii_whitespace) => {}
            Line::Text(text) => sink.event(number, text)?,
            Line::TooLong => sink.malformed(),
        }
    }
    Ok(())
}

fn elements<R: BufRead>(mut elements: ArrayReader<R>, sink: &mut impl Sink) -> io::Result<()> {
    let mut number = 0u64;
    while let Some(element) = elements.next_element()? {
        number += 1;
        match element {
            Element::Json(text) => sink.event(number, text)?,
            Element::TooLong => sink.malformed(),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what the loop hands over.
    #[derive(Default)]
    struct Seen {
        events: Vec<(u64, String)>,
        malformed: u64,
        ended: bool,
    }

    impl Sink for Seen {
        fn event(&mut self, number: u64, text: &[u8]) -> io::Result<()> {
            self.events
                .push((number, String::from_utf8_lossy(text).into_owned()));
            Ok(())
        }
        fn malformed(&mut self) {
            self.malformed += 1;
        }
        fn end(&mut self) -> io::Result<()> {
            self.ended = true;
            Ok(())
        }
    }

    #[test]
    fn lines_are_numbered_blank_ones_skipped_and_long_ones_malformed() {
        let long = "x".repeat(crate::lines::MAX_LINE_BYTES + 1);
        let text = format!("a\n\n  \n{long}\nb\n");
        let mut seen = Seen::default();
        read_events(text.as_bytes(), Format::Text, 10, &mut seen).unwrap();
        assert_eq!(seen.events, [(10, "a".to_string()), (14, "b".to_string())]);
        assert_eq!((seen.malformed, seen.ended), (1, true));
    }

    #[test]
    fn a_json_document_yields_its_elements() {
        let mut seen = Seen::default();
        let text = br#"{"Records":[{"a":1},{"b":2}]}"#;
        read_events(&text[..], Format::Json, 1, &mut seen).unwrap();
        assert_eq!(
            seen.events,
            [(1, r#"{"a":1}"#.to_string()), (2, r#"{"b":2}"#.to_string())]
        );
    }

    #[test]
    fn a_zeek_json_log_named_by_its_file_names_its_records() {
        let text = concat!(
            "{\"ts\":1.5,\"uid\":\"C1\"}\n",
            "{\"_path\":\"dns\",\"ts\":2}\n",
            "{\"ts\":3,\"note\":{\"_path\":\"x\"}}\n",
            "{\"msg\":\"not Zeek's\"}\n",
            "{\"ts\":4\n",
        );
        let stamped = [
            (1, "{\"_path\":\"conn\",\"ts\":1.5,\"uid\":\"C1\"}"),
            (2, "{\"_path\":\"dns\",\"ts\":2}"),
            // A `_path` anywhere is left alone (the record may name its log itself).
            (3, "{\"ts\":3,\"note\":{\"_path\":\"x\"}}"),
            (4, "{\"msg\":\"not Zeek's\"}"),
            // Malformed stays malformed: the reader that parses it says so.
            (5, "{\"_path\":\"conn\",\"ts\":4"),
        ];
        for name in [
            "logs/2024-05-01/conn.log.gz",
            "s3://bucket/zeek/conn.2024-05-01-00-00-00.log",
            "conn.00:00:00-01:00:00.log.gz",
        ] {
            let mut seen = Seen::default();
            read_file_events(text.as_bytes(), Format::Ndjson, name, &mut seen).unwrap();
            let want: Vec<_> = stamped.iter().map(|(n, t)| (*n, t.to_string())).collect();
            assert_eq!(seen.events, want, "{name}");
            assert!(seen.ended);
        }
        for name in [
            "events.ndjson",
            "conn.json.gz",
            "Conn.log",
            "app-1.log",
            ".log",
        ] {
            let mut seen = Seen::default();
            read_file_events(text.as_bytes(), Format::Ndjson, name, &mut seen).unwrap();
            assert_eq!(seen.events[0].1, "{\"ts\":1.5,\"uid\":\"C1\"}", "{name}");
        }
    }

    /// A reader that fails after its first line.
    struct Failing(bool);

    impl io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            unreachable!("read through BufRead")
        }
    }

    impl BufRead for Failing {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            if self.0 {
                Err(io::Error::other("disk gone"))
            } else {
                Ok(b"first\n")
            }
        }
        fn consume(&mut self, n: usize) {
            self.0 |= n > 0;
        }
    }

    #[test]
    fn a_read_error_ends_the_sink_after_what_was_read() {
        let mut seen = Seen::default();
        let failed = read_events(Failing(false), Format::Text, 1, &mut seen);
        assert!(failed.is_err());
        assert_eq!(seen.events, [(1, "first".to_string())]);
        assert!(seen.ended);
    }
}
