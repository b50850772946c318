//! What a lake holds, for the page to open on the right dashboard: files by format, the
//! time the catalog knows of, and the kind of data a sample of files shows.

use std::collections::BTreeMap;

use crate::catalog::State;
use shared_sketch::lake::{DataKind, LakeSummary};

use crate::error::LakeError;
use crate::lake::Lake;

/// Files sampled for the kind of data, spread over the catalog's order (paths sort by
/// source and time, so a lake of several sources is sampled across them).
const SAMPLE_FILES: usize = 8;
/// Bytes of text read from each sampled file: enough for a header or a few records.
const SAMPLE_BYTES: usize = 16 * 1024;

/// What `lake` holds: its files by format, the time span its catalog knows, and the kind
/// of data a sample of its files shows.
pub async fn summarize(lake: &Lake) -> Result<LakeSummary, LakeError> {
    let entries = lake.catalog.list(State::Active).await?;
    let mut formats = BTreeMap::new();
    for e in &entries {
        *formats.entry(e.format.clone()).or_insert(0) += 1;
    }
    let step = entries.len().div_ceil(SAMPLE_FILES).max(1);
    let sample: Vec<(String, String)> = entries
        .iter()
        .step_by(step)
        .map(|e| (e.uri.clone(), e.format.clone()))
        .collect();
    // A vote, not an answer: a sample that cannot be read leaves the general dashboard.
    let kind = tokio::task::spawn_blocking(move || majority_kind(&sample))
        .await
        .unwrap_or(DataKind::Events);
    Ok(LakeSummary {
        files: entries.len() as u64,
        bytes: entries.iter().map(|e| e.bytes).sum(),
        formats,
        earliest_ms: entries.iter().filter_map(|e| e.time).map(|t| t.0).min(),
        latest_ms: entries.iter().filter_map(|e| e.time).map(|t| t.1).max(),
        kind,
    })
}

/// The most common kind among `(uri, format)` files that can be read; ties go to the more
/// specific dashboard.
fn majority_kind(sample: &[(String, String)]) -> DataKind {
    let mut votes: BTreeMap<DataKind, usize> = BTreeMap::new();
    for (uri, format) in sample {
        let head = workers::stores()
            .source(uri)
            .map_err(|e| e.to_string())
            .and_then(|source| workers::read_head(source, SAMPLE_BYTES).map_err(|e| e.to_string()));
        match head {
            Ok(head) => *votes.entry(kind_of(format, &head)).or_insert(0) += 1,
            Err(e) => tracing::debug!(%uri, error = %e, "not sampled for the lake's kind"),
        }
    }
    // `max_by_key` keeps the last of equals: iterate from Events back to Flows.
    votes
        .into_iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .map_or(DataKind::Events, |(kind, _)| kind)
}

/// The kind of data a file's first bytes show, by the field names its format writes.
pub fn kind_of(format: &str, head: &[u8]) -> DataKind {
    let has = |needle: &str| head.windows(needle.len()).any(|w| w == needle.as_bytes());
    if has("\"eventName\"") && has("\"eventSource\"") {
        DataKind::Cloudtrail
    } else if format == "vpcflow"
        || ["srcaddr", "id.orig_h", "Src IP", "src_ip"]
            .iter()
            .any(|n| has(n))
    {
        DataKind::Flows
    } else {
        DataKind::Events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_field_names() {
        let vpc = br#"{"version":2,"srcaddr":"10.0.0.1","dstaddr":"10.0.0.2"}"#;
        assert_eq!(kind_of("ndjson", vpc), DataKind::Flows);
        assert_eq!(kind_of("vpcflow", b"2 123 eni-1 10.0.0.1"), DataKind::Flows);
        let zeek = b"#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p";
        assert_eq!(kind_of("zeek", zeek), DataKind::Flows);
        let trail = br#"{"Records":[{"eventName":"GetObject","eventSource":"s3.amazonaws.com"}]}"#;
        assert_eq!(kind_of("json", trail), DataKind::Cloudtrail);
        let cowrie = br#"{"eventid":"cowrie.login.failed","src_ip":"1.2.3.4"}"#;
        assert_eq!(kind_of("ndjson", cowrie), DataKind::Flows);
        assert_eq!(
            kind_of("text", b"Dec 10 sshd[1]: Failed password"),
            DataKind::Events
        );
    }
}
