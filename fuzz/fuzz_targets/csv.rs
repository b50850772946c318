//! The CSV reader on any bytes: never a crash, every line at most one event.
#![no_main]

use workers::Format;

sketchlake_fuzz::reader_target!(Format::Csv, "| stats count, dc(Protocol), p90(id) by Label");
