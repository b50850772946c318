//! A segment's index sidecar from a bucket others can write to: decoded with limits, then
//! used to rule out pages as a scan does, never a crash. The first byte picks how the
//! rest is read: 0, as stored (version byte, gzip, bincode); 1, as bincode behind a good
//! version byte and gzip, so the fuzzer reaches the decoder past the checksum.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shared_sketch::codec::FILE_VERSION;
use shared_sketch::{Matcher, Query};
use sketchlake_fuzz::{fixed_query, gzip};
use workers::{ScanOptions, SegmentIndex};

static QUERIES: [OnceLock<Query>; 4] = [const { OnceLock::new() }; 4];
const TEXTS: [&str; 4] = [
    "src_ip:10.0.0.5",
    "dst_port>1000 eventid:cowrie.login*",
    "username:root OR bytes<=0",
    "NOT proto:tcp id.orig_h:10.0.0.0/8",
];
/// Time bounds a page may or may not overlap (epoch ms).
const RANGES: [(Option<i64>, Option<i64>); 3] = [
    (Some(1_525_600_000_000), None),
    (None, Some(1_525_600_000_000)),
    (Some(i64::MIN), Some(i64::MAX)),
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let index = if mode % 2 == 0 {
        SegmentIndex::decode(rest)
    } else {
        let mut stored = vec![FILE_VERSION];
        stored.extend(gzip(rest));
        SegmentIndex::decode(&stored)
    };
    let Ok(index) = index else {
        return;
    };
    let _ = index.time_fields_read(&ScanOptions::default());
    for (cell, text) in QUERIES.iter().zip(TEXTS) {
        let query = fixed_query(cell, text);
        let matcher = Matcher::new(query.search.as_ref());
        for page in &index.pages {
            let _ = matcher.may_match(&index.summary(page));
            for range in RANGES {
                let _ = page.may_overlap(range);
            }
        }
    }
});
