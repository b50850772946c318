//! Differential: NDJSON read 64 lines at a time as one document (how every scan reads it)
//! and read a line at a time must give the same answer, whatever the bytes. The first
//! part of the input is the query (`query 0xFF text`); a part that is not a query reads
//! several fields of every event.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shared_sketch::codec::encode_stored;
use shared_sketch::{Query, parse};
use sketchlake_fuzz::{fixed_query, parts};
use workers::fuzz::scan_ndjson;

static QUERY: OnceLock<Query> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let [query, text] = parts::<2>(data);
    let parsed = std::str::from_utf8(query).ok().and_then(|q| parse(q).ok());
    let query = parsed.as_ref().unwrap_or_else(|| {
        fixed_query(
            &QUERY,
            "| stats count, dc(src_ip), values(a.b), p50(n) by eventid | sort -count",
        )
    });
    let block = scan_ndjson(text, query, true);
    let lines = scan_ndjson(text, query, false);
    let (block, lines) = (encode_stored(&block), encode_stored(&lines));
    assert!(
        block.is_ok() && block.ok() == lines.ok(),
        "the block and line readers disagree on {:?}",
        String::from_utf8_lossy(text)
    );
});
