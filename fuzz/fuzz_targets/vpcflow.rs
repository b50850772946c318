//! The VPC flow log reader on any bytes: never a crash, every line at most one event.
#![no_main]

use workers::Format;

sketchlake_fuzz::reader_target!(
    Format::VpcFlow,
    "| stats count, dc(srcaddr), sum(bytes) by dstport"
);
