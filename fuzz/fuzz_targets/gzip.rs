//! The whole-file gzip walker over libdeflate (the workspace's one `unsafe` module) on any
//! bytes: never a crash, never more text than asked for, and whatever it inflates is the
//! text flate2 streams from the same bytes (or, where flate2 refuses a damaged stream that
//! libdeflate's leniency reads, the text that was gzipped). The first byte picks how the rest is read:
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
    let mut original = None;
    let compressed = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let [text, edits] = parts::<2>(rest);
        original = Some(text);
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
    if let Err(refused) = MultiGzDecoder::new(&compressed[..]).read_to_end(&mut streamed) {
        // libdeflate is more lenient than zlib and miniz_oxide (flate2's) about codes a
        // damaged stream declares but that decode to the same text — what zlib calls an
        // invalid distance code (found by this target). What it then inflates has passed
        // each member's CRC-32 and size; when the text gzipped is known, it is that text.
        if let Some(original) = original {
            assert!(
                text == original,
                "libdeflate inflated other text from a stream flate2 refuses: {refused}"
            );
        }
        return;
    }
    assert!(
        text == streamed,
        "libdeflate and flate2 inflate differently"
    );
});
