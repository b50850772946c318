//! The JSON document reader (arrays, CloudTrail's `Records`) on any bytes: never a crash.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sketchlake_fuzz::{fixed_query, read_as};
use workers::Format;

static QUERY: OnceLock<shared_sketch::Query> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let query = fixed_query(
        &QUERY,
        "| stats count, dc(sourceIPAddress), values(userIdentity.type) by eventName",
    );
    read_as(Format::Json, data, query);
});
