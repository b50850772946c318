//! The access-log reader (Apache/nginx) on any bytes: never a crash, every line at most one event.
#![no_main]

use workers::Format;

sketchlake_fuzz::reader_target!(
    Format::Apache,
    "| stats count, dc(clientip), p99(bytes) by response"
);
