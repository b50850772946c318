//! The log formats a worker reads, how a file's format is recognised from its first bytes,
//! and where each format keeps an event's time.

use std::fmt;
use std::str::FromStr;

use shared_sketch::time::parse_timestamp;

use crate::apache;
use crate::columns::{is_vpc_header, is_vpc_v2_row};
use crate::projection::Projection;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One JSON object per line (Cowrie, Zeek JSON, CloudTrail from Firehose, …).
    Ndjson,
    /// One JSON document: an array of events or CloudTrail's `{"Records": [...]}`.
    Json,
    Zeek,
    VpcFlow,
    /// Apache/nginx common or combined access log.
    Apache,
    Csv,
    /// Lines of free text: bare-term search only.
    Text,
}

pub const FORMATS: &[(Format, &str)] = &[
    (Format::Ndjson, "ndjson"),
    (Format::Json, "json"),
    (Format::Zeek, "zeek"),
    (Format::VpcFlow, "vpcflow"),
    (Format::Apache, "apache"),
    (Format::Csv, "csv"),
    (Format::Text, "text"),
];

/// JSON formats' time fields, tried in order: Cowrie and generic (`timestamp`,
/// `@timestamp`), CloudTrail (`eventTime`), Zeek (`ts`), VPC flow (`start`), others.
const JSON_TIME_FIELDS: &[&str] = &[
    "timestamp",
    "@timestamp",
    "eventTime",
    "ts",
    "time",
    "start",
    "date",
];

impl Format {
    /// Recognises a format from the start of a file (already decompressed).
    pub fn detect(head: &[u8]) -> Format {
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let start = head
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(head.len());
        let head = &head[start..];
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let first = lines.next().unwrap_or_default();
        match head.first() {
            // An array of events: `[` then an object (`[Sun Dec 04 …] [error]` is a text log).
            Some(b'[') if array_of_objects(head) => return Format::Json,
            Some(b'{') if starts_with_records_key(head) => return Format::Json,
            Some(b'{') => return Format::Ndjson,
            Some(b'#') if first.starts_with(b"#separator") || first.starts_with(b"#fields") => {
                return Format::Zeek;
            }
            _ => {}
        }
        if apache::extract(first, &Projection::default(), &mut Default::default()).is_ok() {
            Format::Apache
        } else if is_vpc_header(first) || is_vpc_v2_row(first) {
            Format::VpcFlow
        } else if looks_like_csv(first, lines.next()) {
            Format::Csv
        } else {
            Format::Text
        }
    }

    /// Where this format keeps an event's time, tried in order.
    pub fn time_fields(self) -> &'static [&'static str] {
        match self {
            Format::Ndjson | Format::Json => JSON_TIME_FIELDS,
            Format::Zeek => &["ts"],
            Format::VpcFlow => &["start"],
            Format::Apache => &["timestamp"],
            // CICFlowMeter writes `Timestamp`.
            Format::Csv => &["timestamp", "Timestamp", "time", "date", "@timestamp"],
            Format::Text => &[],
        }
    }

    pub fn name(self) -> &'static str {
        FORMATS
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("?", |(_, name)| name)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown format {0:?}: expected one of ndjson, json, zeek, vpcflow, apache, csv, text")]
pub struct UnknownFormat(String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        FORMATS
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(s))
            .map(|(f, _)| *f)
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

fn array_of_objects(head: &[u8]) -> bool {
    head[1..]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|&b| b == b'{' || b == b']')
}

/// `{` then `"Records"` as the first key, as CloudTrail delivers to S3.
fn starts_with_records_key(head: &[u8]) -> bool {
    let rest = &head[1..];
    let start = rest
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(rest.len());
    rest[start..].starts_with(b"\"Records\"")
}

/// A header of two or more non-empty names and a next line of as many cells (a header
/// alone is not enough to tell CSV from prose with a comma).
fn looks_like_csv(first: &[u8], second: Option<&[u8]>) -> bool {
    let header = csv_cells(first);
    let names_ok = first
        .split(|&b| b == b',')
        .all(|name| !name.is_empty() && name.len() <= 128);
    header >= 2
        && names_ok
        && second.is_some_and(|line| !line.is_empty() && csv_cells(line) == header)
}

/// Cells in a CSV line, honouring quotes.
fn csv_cells(line: &[u8]) -> usize {
    let mut quoted = false;
    1 + line
        .iter()
        .filter(|&&b| {
            if b == b'"' {
                quoted = !quoted;
            }
            b == b',' && !quoted
        })
        .count()
}

/// An event's time field text → epoch ms: ISO-8601 and friends, epoch seconds (or
/// milliseconds, for whole numbers from 10¹¹ up), or an access log's `10/Oct/2000:13:55:36
/// -0700`.
pub(crate) fn event_time(text: &str) -> Option<i64> {
    if let Ok(whole) = text.parse::<i64>() {
        return if whole.unsigned_abs() >= 100_000_000_000 {
            Some(whole)
        } else {
            whole.checked_mul(1000)
        };
    }
    parse_timestamp(text).or_else(|| apache::parse_clf_time(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_from_their_first_lines() {
        let cases: &[(&str, Format)] = &[
            ("{\"eventid\":\"cowrie.login\"}\n{\"a\":1}", Format::Ndjson),
            ("\u{feff}[\n {\"eventName\":\"X\"}]", Format::Json),
            ("{\n  \"Records\": [", Format::Json),
            ("#separator \\x09\n#set_separator\t,", Format::Zeek),
            (
                "2 123456789010 eni-1235b8ca123456789 1.2.3.4 5.6.7.8 1 2 6 20 4249 1418530010 \
                 1418530070 ACCEPT OK",
                Format::VpcFlow,
            ),
            (
                "version account-id interface-id srcaddr dstaddr\n2 1 eni-1 1.2.3.4 5.6.7.8",
                Format::VpcFlow,
            ),
            (
                "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"x\"",
                Format::Apache,
            ),
            (
                "id,Src IP,Timestamp\n1,\"1.2.3.4\",2017-07-07 12:59:21",
                Format::Csv,
            ),
            (
                "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping, checking",
                Format::Text,
            ),
            ("", Format::Text),
            (
                "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok",
                Format::Text,
            ),
            (
                "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open",
                Format::Text,
            ),
        ];
        for (head, format) in cases {
            assert_eq!(Format::detect(head.as_bytes()), *format, "{head}");
        }
    }

    #[test]
    fn names_round_trip() {
        for (format, name) in FORMATS {
            assert_eq!(name.parse::<Format>().expect("known"), *format);
            assert_eq!(format.to_string(), *name);
        }
        assert!("parquet".parse::<Format>().is_err());
    }

    #[test]
    fn event_times_in_every_written_form() {
        let noon = 1_714_564_800_000;
        for text in [
            "2024-05-01T12:00:00.000000Z",
            "2024-05-01 12:00:00",
            "1714564800",
            "1714564800.000",
            "1714564800000",
            "01/May/2024:14:00:00 +0200",
        ] {
            assert_eq!(event_time(text), Some(noon), "{text}");
        }
        assert_eq!(event_time("1714564800.25"), Some(noon + 250));
        assert_eq!(event_time("soon"), None);
    }
}
