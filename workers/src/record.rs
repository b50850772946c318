//! One event, and how a query names its fields.

use std::borrow::Cow;

use serde_json::{Map, Value};
use shared_sketch::query::{Fields, aliases};
use shared_sketch::time::{epoch_seconds, parse_timestamp};

/// Where JSON formats keep the event's time, tried in order: Cowrie and generic
/// (`timestamp`, `@timestamp`), CloudTrail (`eventTime`), Zeek (`ts`), VPC flow logs
/// (`start`), and common others.
const TIME_FIELDS: &[&str] = &[
    "timestamp",
    "@timestamp",
    "eventTime",
    "ts",
    "time",
    "start",
    "date",
];

/// One JSON object event.
pub struct Record {
    fields: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not a JSON object")]
    NotAnObject,
}

impl Record {
    pub fn parse(line: &[u8]) -> Result<Record, RecordError> {
        match serde_json::from_slice(line)? {
            Value::Object(fields) => Ok(Record { fields }),
            _ => Err(RecordError::NotAnObject),
        }
    }

    /// The field's value as canonical text (strings as they are, numbers as JSON writes
    /// them, booleans as `true`/`false`); `None` when absent, null, or not a scalar.
    ///
    /// `a.b` names a key `a.b` if the record has one (Zeek flattens `id.orig_h`), else the
    /// nested `b` inside `a` (CloudTrail's `userIdentity.arn`). A common name such as
    /// `src_ip` falls back to its format-specific names when the record lacks it.
    pub fn get(&self, field: &str) -> Option<Cow<'_, str>> {
        std::iter::once(field)
            .chain(aliases(field).iter().copied())
            .find_map(|name| self.lookup(name))
            .and_then(scalar_text)
    }

    /// The event's time in epoch milliseconds: the first of `TIME_FIELDS` present, read as
    /// an ISO-8601 text or a number of epoch seconds (milliseconds when it is that large).
    pub fn time(&self) -> Option<i64> {
        let value = TIME_FIELDS.iter().find_map(|f| self.fields.get(*f))?;
        match value {
            Value::String(s) => parse_timestamp(s),
            // Whole numbers from 10¹¹ up are milliseconds (seconds would be past year 5000).
            Value::Number(n) => match n.as_i64() {
                Some(ms) if ms.unsigned_abs() >= 100_000_000_000 => Some(ms),
                Some(seconds) => seconds.checked_mul(1000),
                None => epoch_seconds(&n.to_string()),
            },
            _ => None,
        }
    }

    fn lookup(&self, path: &str) -> Option<&Value> {
        if let Some(v) = self.fields.get(path) {
            return Some(v);
        }
        let (head, rest) = path.split_once('.')?;
        let mut value = self.fields.get(head)?;
        for part in rest.split('.') {
            value = value.as_object()?.get(part)?;
        }
        Some(value)
    }
}

impl Fields for Record {
    fn get(&self, field: &str) -> Option<Cow<'_, str>> {
        Record::get(self, field)
    }
}

fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(json: &str) -> Record {
        Record::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn scalars_become_canonical_text() {
        let r = rec(r#"{"s":"x","n":22,"f":1.5,"b":true,"z":null,"a":[1]}"#);
        assert_eq!(r.get("s").as_deref(), Some("x"));
        assert_eq!(r.get("n").as_deref(), Some("22"));
        assert_eq!(r.get("f").as_deref(), Some("1.5"));
        assert_eq!(r.get("b").as_deref(), Some("true"));
        assert_eq!(r.get("z"), None);
        assert_eq!(r.get("a"), None);
        assert_eq!(r.get("missing"), None);
    }

    #[test]
    fn dotted_names_match_flat_keys_then_nested_objects() {
        let zeek = rec(r#"{"id.orig_h":"10.0.0.1"}"#);
        assert_eq!(zeek.get("id.orig_h").as_deref(), Some("10.0.0.1"));
        let trail = rec(r#"{"userIdentity":{"arn":"arn:aws:iam::1:user/bob"}}"#);
        assert_eq!(
            trail.get("userIdentity.arn").as_deref(),
            Some("arn:aws:iam::1:user/bob")
        );
    }

    #[test]
    fn common_names_fall_back_to_format_names() {
        let vpc = rec(r#"{"srcaddr":"10.0.0.1","dstport":443}"#);
        assert_eq!(vpc.get("src_ip").as_deref(), Some("10.0.0.1"));
        assert_eq!(vpc.get("dst_port").as_deref(), Some("443"));
        let own = rec(r#"{"src_ip":"1.1.1.1","srcaddr":"2.2.2.2"}"#);
        assert_eq!(own.get("src_ip").as_deref(), Some("1.1.1.1"));
    }

    #[test]
    fn times_come_from_the_format_field() {
        let noon = 1_714_564_800_000;
        assert_eq!(
            rec(r#"{"timestamp":"2024-05-01T12:00:00.000000Z"}"#).time(),
            Some(noon)
        );
        assert_eq!(
            rec(r#"{"eventTime":"2024-05-01T12:00:00Z"}"#).time(),
            Some(noon)
        );
        assert_eq!(rec(r#"{"ts":1714564800.25}"#).time(), Some(noon + 250));
        assert_eq!(rec(r#"{"start":1714564800}"#).time(), Some(noon));
        assert_eq!(rec(r#"{"time":1714564800000}"#).time(), Some(noon));
        assert_eq!(rec(r#"{"timestamp":"soon"}"#).time(), None);
        assert_eq!(rec(r#"{"a":1}"#).time(), None);
    }

    #[test]
    fn non_objects_are_errors() {
        assert!(matches!(
            Record::parse(b"[1,2]"),
            Err(RecordError::NotAnObject)
        ));
        assert!(matches!(
            Record::parse(b"{\"a\":"),
            Err(RecordError::Json(_))
        ));
    }
}
