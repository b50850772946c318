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
use crate::columns::RowError;
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
