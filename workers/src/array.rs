//! Events inside one JSON document: a top-level array of objects (Stratus Red Team, Suricata
//! exports) or CloudTrail's delivery file, `{"Records": [ ... ]}`. The document is streamed:
//! only the current element is held (up to `MAX_LINE_BYTES`), however large the file.

use std::io::{self, BufRead};

use crate::lines::MAX_LINE_BYTES;

pub(crate) enum Element<'a> {
    Json(&'a [u8]),
    TooLong,
}

pub(crate) struct ArrayReader<R> {
    inner: R,
    state: Splitter,
}

/// The byte-at-a-time state of the scan through the document.
struct Splitter {
    element: Vec<u8>,
    /// Nesting depth at the current byte (1 inside the top-level container).
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// The depth inside the events array, once its `[` is seen.
    events_depth: Option<usize>,
    /// The last string closed at depth 1 of a top-level object (for `"Records"`).
    last_key: Vec<u8>,
    capturing: bool,
    too_long: bool,
    finished: bool,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ArrayError {
    #[error("not a JSON array or CloudTrail {{\"Records\": [...]}} file")]
    NotAnArray,
}

impl<R: BufRead> ArrayReader<R> {
    pub fn new(inner: R) -> Self {
        ArrayReader {
            inner,
            state: Splitter {
                element: Vec::new(),
                depth: 0,
                in_string: false,
                escaped: false,
                events_depth: None,
                last_key: Vec::new(),
                capturing: false,
                too_long: false,
                finished: false,
            },
        }
    }

    /// The next element's bytes, `None` after the array closes (or the file ends: a
    /// truncated document keeps every whole element before the cut).
    pub fn next_element(&mut self) -> io::Result<Option<Element<'_>>> {
        self.state.element.clear();
        self.state.too_long = false;
        loop {
            if self.state.finished {
                return Ok(None);
            }
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                self.state.finished = true;
                return Ok(None);
            }
            let mut used = chunk.len();
            let mut done = false;
            for (i, &b) in chunk.iter().enumerate() {
                match self.state.step(b) {
                    Ok(Step::More) => {}
                    Ok(Step::Element) => {
                        used = i + 1;
                        done = true;
                        break;
                    }
                    Ok(Step::End) => {
                        used = i + 1;
                        break;
                    }
                    Err(e) => {
                        self.state.finished = true;
                        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                    }
                }
            }
            self.inner.consume(used);
            if done {
                return Ok(Some(if self.state.too_long {
                    Element::TooLong
                } else {
                    Element::Json(&self.state.element)
                }));
            }
        }
    }
}

impl Splitter {
    fn step(&mut self, b: u8) -> Result<Step, ArrayError> {
        if self.capturing && !self.too_long {
            if self.element.len() >= MAX_LINE_BYTES {
                self.too_long = true;
                self.element.clear();
            } else {
                self.element.push(b);
            }
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            } else if self.depth == 1 && self.events_depth.is_none() && self.last_key.len() < 16 {
                self.last_key.push(b);
            }
            return Ok(Step::More);
        }
        match b {
            b'"' if self.depth == 0 => return Err(ArrayError::NotAnArray),
            b'"' => {
                self.in_string = true;
                if self.depth == 1 {
                    self.last_key.clear();
                }
                self.start_element_at(b);
            }
            b'{' | b'[' => {
                match (self.depth, b) {
                    (0, b'[') => self.events_depth = Some(1),
                    (0, _) => {} // a top-level object: its "Records" array holds the events
                    (1, b'[') if self.events_depth.is_none() && self.last_key == b"Records" => {
                        self.events_depth = Some(2);
                    }
                    _ => self.start_element_at(b),
                }
                self.depth += 1;
            }
            b'}' | b']' => {
                if self.depth == 0 {
                    return Err(ArrayError::NotAnArray);
                }
                self.depth -= 1;
                match self.events_depth {
                    Some(d) if self.depth + 1 == d => {
                        self.finished = true;
                        if self.capturing {
                            // A scalar last element: it ends at the bracket.
                            self.element.pop();
                            self.capturing = false;
                            return Ok(Step::Element);
                        }
                        return Ok(Step::End);
                    }
                    Some(d) if self.depth == d && self.capturing => {
                        self.capturing = false;
                        return Ok(Step::Element);
                    }
                    _ => {}
                }
            }
            b',' if self.capturing && Some(self.depth) == self.events_depth => {
                // A scalar element ends at the comma (the comma is not part of it).
                self.element.pop();
                self.capturing = false;
                return Ok(Step::Element);
            }
            b if b.is_ascii_whitespace() || b == b',' || b == b':' => {}
            b'\xEF' | b'\xBB' | b'\xBF' if self.depth == 0 => {} // UTF-8 byte order mark
            _ if self.depth == 0 => return Err(ArrayError::NotAnArray),
            _ => self.start_element_at(b),
        }
        Ok(Step::More)
    }

    /// A value starts at `b`: inside the events array, that is a new element.
    fn start_element_at(&mut self, b: u8) {
        if !self.capturing && self.events_depth == Some(self.depth) {
            self.capturing = true;
            self.element.clear();
            self.element.push(b);
        }
    }
}

enum Step {
    More,
    Element,
    End,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(input: &str) -> Result<Vec<String>, io::Error> {
        let mut reader = ArrayReader::new(io::BufReader::with_capacity(5, input.as_bytes()));
        let mut out = Vec::new();
        while let Some(e) = reader.next_element()? {
            out.push(match e {
                Element::Json(b) => String::from_utf8_lossy(b).into_owned(),
                Element::TooLong => "<too long>".to_string(),
            });
        }
        Ok(out)
    }

    #[test]
    fn splits_a_top_level_array() {
        let got =
            elements("\u{feff} [ {\"a\":\"x]}\\\"\"}, {\"b\":[1,{\"c\":2}]} ,7]").expect("reads");
        assert_eq!(got, [r#"{"a":"x]}\""}"#, r#"{"b":[1,{"c":2}]}"#, "7"]);
    }

    #[test]
    fn finds_cloudtrail_records_after_other_keys() {
        let doc =
            r#"{"note":"[{]", "Other":[{"x":1}], "Records":[{"eventName":"A"},{"eventName":"B"}]}"#;
        assert_eq!(
            elements(doc).expect("reads"),
            [r#"{"eventName":"A"}"#, r#"{"eventName":"B"}"#]
        );
        assert!(elements(r#"{"Nothing":[]}"#).expect("reads").is_empty());
    }

    #[test]
    fn a_truncated_document_keeps_whole_elements() {
        assert_eq!(
            elements(r#"[{"a":1},{"b":"#).expect("reads"),
            [r#"{"a":1}"#]
        );
    }

    #[test]
    fn other_documents_are_errors() {
        assert!(elements("hello").is_err());
        assert!(elements("]").is_err());
    }
}
