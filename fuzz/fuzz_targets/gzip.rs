//! The whole-file gzip walker over libdeflate (the workspace's one `unsafe` module) on any
//! bytes: never a crash, never more text than asked for, and whatever it inflates is the
//! text flate2 streams from the same bytes. The first byte picks how the rest is read:
//! 0, as a file's bytes; 1, as text gzipped (in two members, split at the second byte's
//! share) and damaged by edits after a 0xFF (`text 0xFF edits`), so the walker meets
//! data that is nearly right.
#![no_main]

use std::io::Read;

use flate2::read::MultiGzDecoder;
use libfuzzer_sys::fuzz_target;
use sketchlake_fuzz::{damage, gzip, parts};
use workers::fuzz::inflate_whole;

/// Small enough that a fuzzed ISIZE or member often goes past it.
const MAX: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let compressed = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let [text, edits] = parts::<2>(rest);
        let split = text.len() * usize::from(edits.first().copied().unwrap_or(0)) / 256;
        let mut compressed = gzip(&text[..split]);
        compressed.extend(gzip(&text[split..]));
        damage(&mut compressed, edits.get(1..).unwrap_or_default());
        compressed
    };
    let Some(text) = inflate_whole(&compressed, MAX) else {
        return;
    };
    assert!(
        text.len() <= MAX,
        "{} bytes inflated past {MAX}",
        text.len()
    );
    let mut streamed = Vec::new();
    let read = MultiGzDecoder::new(&compressed[..]).read_to_end(&mut streamed);
    assert!(
        read.is_ok(),
        "libdeflate took gzip flate2 refuses: {read:?}"
    );
    assert!(
        text == streamed,
        "libdeflate and flate2 inflate differently"
    );
});
