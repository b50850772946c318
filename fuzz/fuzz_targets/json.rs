//! The JSON document reader (arrays, CloudTrail's `Records`) on any bytes: never a crash.
#![no_main]

use workers::Format;

sketchlake_fuzz::reader_target!(
    Format::Json,
    "| stats count, dc(sourceIPAddress), values(userIdentity.type) by eventName"
);
