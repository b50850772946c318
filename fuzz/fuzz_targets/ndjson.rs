//! The NDJSON reader (64-line blocks) on any bytes: never a crash, every line at most one event.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sketchlake_fuzz::{fixed_query, read_as};
use workers::Format;

static QUERY: OnceLock<shared_sketch::Query> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let query = fixed_query(
        &QUERY,
        "| stats count, dc(src_ip), p50(duration), values(eventid) by eventid",
    );
    read_as(Format::Ndjson, data, query);
});
