//! The NDJSON reader (64-line blocks) on any bytes: never a crash, every line at most one event.
#![no_main]

use workers::Format;

sketchlake_fuzz::reader_target!(
    Format::Ndjson,
    "| stats count, dc(src_ip), p50(duration), values(eventid) by eventid"
);
