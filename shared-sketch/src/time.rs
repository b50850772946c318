//! Times are milliseconds since the Unix epoch, UTC, everywhere in sketchlake. This module
//! reads the written forms a query (and a log) uses and writes the canonical one.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Epoch milliseconds now, by the system clock. Native only: in the browser (wasm32) the
/// page reads its own clock and passes the time in.
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> i64 {
    epoch_ms(std::time::SystemTime::now())
}

/// A system time (a file's modification time, say) as epoch milliseconds: 0 before 1970.
pub fn epoch_ms(time: std::time::SystemTime) -> i64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Reads an ISO-8601 / RFC 3339 time (`2024-05-01T12:00:00Z`, with an offset, fractional
/// seconds, a space for the `T`, or no zone: UTC), a date (`2024-05-01`, midnight UTC), or
/// epoch seconds (`1714564800`, `1714564800.25`).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.bytes().next().is_some_and(|b| b.is_ascii_digit()) && !text.contains('-') {
        return epoch_seconds(text);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    if let Some(t) = text
        .strip_suffix('Z')
        .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").ok())
    {
        return Some(t.and_utc().timestamp_millis());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// `1714564800` or `1714564800.123456` (seconds since the epoch) → milliseconds.
pub fn epoch_seconds(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || whole.len() > 12 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    seconds.checked_mul(1000)?.checked_add(millis)
}

/// `2024-05-01T12:00:00Z`, with `.123` when the milliseconds are not zero.
pub fn format_timestamp(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) if ms % 1000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_forms_agree() {
        let noon = 1_714_564_800_000; // 2024-05-01T12:00:00Z
        for text in [
            "2024-05-01T12:00:00Z",
            "2024-05-01T14:00:00+02:00",
            "2024-05-01T12:00:00",
            "2024-05-01 12:00:00",
            "2024-05-01 12:00:00Z",
            "2024-05-01T12:00",
            "1714564800",
            "1714564800.000",
        ] {
            assert_eq!(parse_timestamp(text), Some(noon), "{text}");
        }
        assert_eq!(parse_timestamp("2024-05-01"), Some(noon - 12 * 3_600_000));
        assert_eq!(
            parse_timestamp("2024-05-01T12:00:00.250Z"),
            Some(noon + 250)
        );
        assert_eq!(parse_timestamp("1714564800.25"), Some(noon + 250));
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "12.5.6",
            "1e9",
            "99999999999999999",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn canonical_form_round_trips() {
        for ms in [0, 1_714_564_800_000, 1_714_564_800_250] {
            assert_eq!(parse_timestamp(&format_timestamp(ms)), Some(ms));
        }
        assert_eq!(format_timestamp(1_714_564_800_000), "2024-05-01T12:00:00Z");
    }
}
