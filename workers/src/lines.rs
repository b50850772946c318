//! Line splitting with a hard cap per line: one corrupt or hostile file with no newlines
//! must cost at most `MAX_LINE_BYTES` of memory, not the whole file.

use std::io::{self, BufRead};

/// Longest line kept; longer lines are skipped (and counted as malformed by the caller).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Bytes of the last line returned in place (from `inner`'s buffer), consumed on the
    /// next call: most lines lie whole in the read buffer and are never copied.
    lent: usize,
}

pub(crate) enum Line<'a> {
    Text(&'a [u8]),
    TooLong,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(4096),
            lent: 0,
        }
    }

    /// The next line without its `\n` (or `\r\n`), `TooLong` for an over-long one, `None`
    /// at the end. An I/O error (e.g. a truncated gzip stream) ends the file.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.inner.consume(std::mem::take(&mut self.lent));
        self.buf.clear();
        let whole = memchr::memchr(b'\n', self.inner.fill_buf()?).filter(|&i| i <= MAX_LINE_BYTES);
        if let Some(i) = whole {
            // Asked again, a `BufRead` returns the same unconsumed bytes without reading.
            let chunk = self.inner.fill_buf()?;
            let line = &chunk[..(i + 1).min(chunk.len())];
            self.lent = line.len();
            return Ok(Some(Line::Text(trim_newline(line))));
        }
        let mut too_long = false;
        loop {
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                if self.buf.is_empty() && !too_long {
                    return Ok(None);
                }
                break;
            }
            let (take, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if self.buf.len() + take > MAX_LINE_BYTES + 1 {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.inner.consume(take);
            if done {
                break;
            }
        }
        if too_long {
            return Ok(Some(Line::TooLong));
        }
        Ok(Some(Line::Text(trim_newline(&self.buf))))
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8]) -> Vec<Option<Vec<u8>>> {
        let mut r = LineReader::new(io::BufReader::with_capacity(7, input));
        let mut out = Vec::new();
        while let Some(line) = r.next_line().unwrap() {
            out.push(match line {
                Line::Text(t) => Some(t.to_vec()),
                Line::TooLong => None,
            });
        }
        out
    }

    #[test]
    fn splits_lines_across_buffer_boundaries() {
        let lines = collect(b"first line\r\nsecond\n\nlast-without-newline");
        let expect: Vec<Option<Vec<u8>>> = ["first line", "second", "", "last-without-newline"]
            .iter()
            .map(|s| Some(s.as_bytes().to_vec()))
            .collect();
        assert_eq!(lines, expect);
    }

    #[test]
    fn an_over_long_line_is_skipped_and_the_next_one_read() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\nok\n");
        let lines = collect(&input);
        assert_eq!(lines, vec![None, Some(b"ok".to_vec())]);
    }
}
