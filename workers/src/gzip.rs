//! Whole-buffer gzip inflate by libdeflate, for gzip data small enough to hold in memory.
//!
//! libdeflate inflates a whole member about twice as fast as miniz_oxide streams it
//! (docs/BENCHMARKS.md), but it cannot stream: the member's input and all of its output
//! must be in memory at once. Files are read this way only when their text fits in
//! `WHOLE_TEXT_MAX` bytes, so memory stays bounded; anything larger, or anything
//! libdeflate rejects, is streamed by flate2 instead, which also reports exactly where a
//! damaged file stops being readable.
//!
//! The safe `libdeflater` binding reports only the output size, so it cannot walk a
//! multi-member file (concatenated gzip, as appended logs are). This module calls
//! `libdeflate_gzip_decompress_ex`, which also reports the input consumed.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// The most text a gzip file is inflated into at once. Files whose text is longer are
/// streamed. 8 MiB keeps a single-file scan well under its 30 MB budget and covers the
/// usual hourly or per-object log file.
pub(crate) const WHOLE_TEXT_MAX: usize = 8 << 20;

/// The smallest gzip member: a 10-byte header and an 8-byte trailer.
const MEMBER_MIN: usize = 18;

/// Inflates every member of `compressed` into `text` (cleared first, its allocation
/// reused), at most `max` bytes. False when the text is longer, or the data is not whole,
/// valid gzip: the caller then streams it, which keeps what can be read and says where it
/// stops.
pub(crate) fn inflate(compressed: &[u8], max: usize, text: &mut Vec<u8>) -> bool {
    text.clear();
    // The last member's trailer gives its length (ISIZE, modulo 2^32): for the usual
    // single-member file, the whole text's. A text that will not fit is not tried.
    let Some(last_len) = compressed
        .len()
        .checked_sub(4)
        .and_then(|at| compressed[at..].try_into().ok())
        .map(u32::from_le_bytes)
    else {
        return false;
    };
    if usize::try_from(last_len).map_or(true, |n| n > max) {
        return false;
    }
    let Some(decompressor) = Decompressor::new() else {
        return false;
    };
    // Reserved, not written: only the pages the text fills become resident.
    text.reserve_exact(max);
    let mut input = compressed;
    while !input.is_empty() {
        // Fewer bytes than the smallest member are junk: streaming reports them.
        if input.len() < MEMBER_MIN {
            return false;
        }
        let Some(consumed) = decompressor.member(input, text, max) else {
            return false;
        };
        input = &input[consumed..];
    }
    true
}

/// An owned libdeflate decompressor (about 10 KB of tables, no other state).
struct Decompressor(NonNull<libdeflate_decompressor>);

impl Decompressor {
    fn new() -> Option<Self> {
        // SAFETY: no preconditions; a null return (out of memory) is checked.
        NonNull::new(unsafe { libdeflate_alloc_decompressor() }).map(Self)
    }

    /// Inflates the gzip member at the start of `input`, checking its CRC and length, and
    /// appends its text to `text`, which must not grow past `max` bytes. Returns the input
    /// bytes consumed, or `None` when the member is invalid or its text does not fit.
    fn member(&self, input: &[u8], text: &mut Vec<u8>, max: usize) -> Option<usize> {
        let limit = max.saturating_sub(text.len());
        let spare = text.spare_capacity_mut();
        let room_len = limit.min(spare.len());
        let room = &mut spare[..room_len];
        let (mut consumed, mut produced) = (0usize, 0usize);
        // SAFETY: the pointers and lengths come from a live slice and the vector's spare
        // capacity; libdeflate reads at most `input.len()` bytes, writes at most
        // `room.len()`, and writes the two counts. The decompressor is owned by `self`.
        let result = unsafe {
            libdeflate_gzip_decompress_ex(
                self.0.as_ptr(),
                input.as_ptr().cast::<c_void>(),
                input.len(),
                room.as_mut_ptr().cast::<c_void>(),
                room.len(),
                &mut consumed,
                &mut produced,
            )
        };
        // A member consumes at least its header and trailer: zero would loop forever.
        if result != libdeflate_result_LIBDEFLATE_SUCCESS
            || consumed == 0
            || consumed > input.len()
            || produced > room.len()
        {
            return None;
        }
        // SAFETY: libdeflate initialised the first `produced` bytes of the spare capacity.
        unsafe { text.set_len(text.len() + produced) };
        Some(consumed)
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the pointer came from libdeflate_alloc_decompressor and is freed once.
        unsafe { libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(text).unwrap();
        encoder.finish().unwrap()
    }

    fn inflated(compressed: &[u8], max: usize) -> Option<Vec<u8>> {
        let mut text = b"left over from the last page".to_vec();
        inflate(compressed, max, &mut text).then_some(text)
    }

    #[test]
    fn one_member() {
        let text = b"{\"a\":1}\n".repeat(1000);
        assert_eq!(inflated(&gzip(&text), WHOLE_TEXT_MAX), Some(text));
    }

    #[test]
    fn members_concatenated_in_order() {
        let (first, second) = (b"first\n".repeat(500), b"second member\n".repeat(300));
        let mut both = gzip(&first);
        both.extend(gzip(&second));
        both.extend(gzip(b""));
        assert_eq!(
            inflated(&both, WHOLE_TEXT_MAX),
            Some([first, second].concat())
        );
    }

    #[test]
    fn longer_than_allowed_is_left_to_streaming() {
        let text = vec![b'x'; 4096];
        let compressed = gzip(&text);
        assert_eq!(inflated(&compressed, 4095), None);
        assert_eq!(inflated(&compressed, 4096), Some(text.clone()));
        let mut twice = compressed.clone();
        twice.extend(&compressed);
        assert_eq!(inflated(&twice, 8191), None);
    }

    #[test]
    fn damage_is_left_to_streaming() {
        let text = b"some log line\n".repeat(200);
        let compressed = gzip(&text);
        let truncated = &compressed[..compressed.len() - 5];
        assert_eq!(inflated(truncated, WHOLE_TEXT_MAX), None);
        let mut flipped = compressed.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x55;
        assert_eq!(inflated(&flipped, WHOLE_TEXT_MAX), None);
        let mut trailing = compressed;
        trailing.extend(b"junk");
        assert_eq!(inflated(&trailing, WHOLE_TEXT_MAX), None);
        assert_eq!(inflated(&[0x1f, 0x8b], WHOLE_TEXT_MAX), None);
    }
}
