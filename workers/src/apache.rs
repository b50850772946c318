//! Apache/nginx access logs in the common or combined format:
//! `host ident user [time] "request" status bytes ["referrer" "agent"]`. Fields take the
//! names Logstash's COMBINEDAPACHELOG gives them, which most SOC content already uses.

use std::borrow::Cow;

use chrono::DateTime;

use crate::projection::{Projection, Values};

#[derive(Debug, thiserror::Error)]
#[error("not a common/combined access log line")]
pub(crate) struct NotAccessLog;

/// Every field an access log line can fill, in the order they appear.
pub(crate) const FIELDS: &[&str] = &[
    "clientip",
    "ident",
    "auth",
    "timestamp",
    "verb",
    "request",
    "httpversion",
    "response",
    "bytes",
    "referrer",
    "agent",
    "url.path",
    "url.query",
];

/// Fills `values` from one access log line.
pub(crate) fn extract<'a>(
    line: &'a [u8],
    projection: &Projection,
    values: &mut Values<'a>,
) -> Result<(), NotAccessLog> {
    let line = std::str::from_utf8(line).map_err(|_| NotAccessLog)?;
    let mut set = |name: &str, value: &'a str| {
        if value != "-"
            && let Some(slot) = projection.slot(name)
        {
            values[slot] = Some(Cow::Borrowed(value));
        }
    };
    let (clientip, rest) = line.split_once(' ').ok_or(NotAccessLog)?;
    let (ident, rest) = rest.split_once(' ').ok_or(NotAccessLog)?;
    let (auth, rest) = rest.split_once(' ').ok_or(NotAccessLog)?;
    let (timestamp, rest) = rest
        .strip_prefix('[')
        .and_then(|r| r.split_once("] "))
        .ok_or(NotAccessLog)?;
    let (request, rest) = quoted(rest).ok_or(NotAccessLog)?;
    let mut tail = rest.trim_start().splitn(3, ' ');
    let response = tail
        .next()
        .filter(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()));
    let bytes = tail
        .next()
        .filter(|s| *s == "-" || s.bytes().all(|b| b.is_ascii_digit()));
    let (Some(response), Some(bytes)) = (response, bytes) else {
        return Err(NotAccessLog);
    };
    set("clientip", clientip);
    set("ident", ident);
    set("auth", auth);
    set("timestamp", timestamp);
    // A well-formed request line is `verb target version`; anything else (a TLS hello sent
    // to port 80, a scanner's junk) is kept whole as the request.
    let parts: Vec<&str> = request.split(' ').collect();
    match parts.as_slice() {
        [verb, target, version] if version.starts_with("HTTP/") => {
            set("verb", verb);
            set("request", target);
            // The target's path and query apart, named as ECS names them: what Sigma's
            // `cs-uri-stem` and a query string's search read.
            let (path, query) = match target.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (*target, None),
            };
            set("url.path", path);
            if let Some(query) = query {
                set("url.query", query);
            }
            set("httpversion", version.trim_start_matches("HTTP/"));
        }
        _ => set("request", request),
    }
    set("response", response);
    set("bytes", bytes);
    if let Some(rest) = tail.next()
        && let Some((referrer, rest)) = quoted(rest)
    {
        set("referrer", referrer);
        if let Some((agent, _)) = quoted(rest.trim_start()) {
            set("agent", agent);
        }
    }
    Ok(())
}

/// `"…"` at the start of `text` (a `\"` inside does not end it) → (inside, after).
fn quoted(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix('"')?;
    let bytes = inner.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some((&inner[..i], &inner[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

/// `10/Oct/2000:13:55:36 -0700` → epoch ms.
pub(crate) fn parse_clf_time(text: &str) -> Option<i64> {
    DateTime::parse_from_str(text, "%d/%b/%Y:%H:%M:%S %z")
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of `FIELDS`, in order.
    fn read(line: &str) -> Result<Vec<Option<String>>, NotAccessLog> {
        let projection = Projection::for_fields(FIELDS);
        let mut values = projection.empty_values();
        extract(line.as_bytes(), &projection, &mut values)?;
        Ok(values
            .slots()
            .iter()
            .map(|v| v.clone().map(Cow::into_owned))
            .collect())
    }

    fn strs(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|s| s.map(str::to_string)).collect()
    }

    #[test]
    fn combined_lines_split_into_named_fields() {
        let line = r#"83.149.9.216 - bob [17/May/2015:10:05:03 +0000] "GET /a?b=\"c\" HTTP/1.1" 200 203023 "http://x/" "Mozilla/5.0 (X)""#;
        assert_eq!(
            read(line).expect("reads"),
            strs(&[
                Some("83.149.9.216"),
                None,
                Some("bob"),
                Some("17/May/2015:10:05:03 +0000"),
                Some("GET"),
                Some(r#"/a?b=\"c\""#),
                Some("1.1"),
                Some("200"),
                Some("203023"),
                Some("http://x/"),
                Some("Mozilla/5.0 (X)"),
                Some("/a"),
                Some(r#"b=\"c\""#),
            ])
        );
        let no_query =
            read(r#"1.2.3.4 - - [01/Jan/2020:00:00:00 +0100] "GET /x/y HTTP/1.1" 200 1"#)
                .expect("reads");
        assert_eq!(no_query[11].as_deref(), Some("/x/y"));
        assert_eq!(no_query[12], None);
    }

    #[test]
    fn common_format_and_junk_requests() {
        let got = read(r#"1.2.3.4 - - [01/Jan/2020:00:00:00 +0100] "\x16\x03\x01" 400 -"#)
            .expect("reads");
        assert_eq!(got[5].as_deref(), Some(r"\x16\x03\x01"));
        assert_eq!(got[4], None);
        assert_eq!(got[7].as_deref(), Some("400"));
        assert_eq!(got[8], None);
        assert!(read("Dec 10 06:55:46 LabSZ sshd[24200]: Failed password").is_err());
        assert!(read(r#"1.2.3.4 - - [x] "GET / HTTP/1.1" abc 1"#).is_err());
    }

    #[test]
    fn clf_times_read_with_their_offset() {
        assert_eq!(
            parse_clf_time("01/Jan/2020:01:00:00 +0100"),
            Some(1_577_836_800_000)
        );
        assert_eq!(parse_clf_time("yesterday"), None);
    }
}
