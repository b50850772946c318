//! The Zeek TSV reader on any bytes: never a crash, every line at most one event.
#![no_main]

use workers::Format;

sketchlake_fuzz::reader_target!(
    Format::Zeek,
    "| stats count, dc(id.orig_h), p50(duration) by id.resp_p"
);
