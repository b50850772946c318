//! The wire codec on hostile bytes, as the page and the gateway decode them: a frame
//! stream folded into an answer, a browser's message, a stored partial. The first byte
//! picks how the rest is read:
//!
//! - 0: the bytes as received (version byte, gzip, bincode);
//! - 1: the bytes as bincode behind a good version byte and gzip, so the fuzzer reaches
//!   the decoder past the checksum;
//! - 2: `query 0xFF events 0xFF edits`: real frames of that query over those events
//!   (plan, partial, done), their bincode damaged by `edits`, then folded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared_sketch::codec::{WIRE_VERSION, decode_stored, encode_stored};
use shared_sketch::frame::Progress;
use shared_sketch::{ClientMessage, Fold, Frame, Partial, Scope, decode, decode_frame, parse};
use sketchlake_fuzz::{damage, gzip, parts};
use workers::{ScanOptions, scan_text};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => decode_all(rest),
        1 => {
            let mut wrapped = vec![WIRE_VERSION];
            wrapped.extend(gzip(rest));
            decode_all(&wrapped);
            let mut stored = vec![WIRE_VERSION];
            stored.extend_from_slice(rest);
            if let Ok(partial) = decode_stored::<Partial>(&stored) {
                merge_twice(&partial);
            }
        }
        _ => damaged_stream(rest),
    }
});

/// Every way the product decodes a message from the network.
fn decode_all(bytes: &[u8]) {
    let _ = decode::<ClientMessage>(bytes);
    if let Ok(frame) = decode_frame(bytes) {
        fold(vec![frame]);
    }
}

/// A partial merged into itself and into a copy: as the page merges what arrives.
fn merge_twice(partial: &Partial) {
    let mut total = partial.clone();
    if total.merge(partial).is_ok() {
        let _ = total.merge(&total.clone());
    }
}

fn fold(frames: Vec<Frame>) {
    let mut fold = Fold::default();
    for frame in frames {
        fold.apply(frame);
    }
    let _ = fold.result();
    let _ = fold.outcome();
}

fn damaged_stream(data: &[u8]) {
    let [query, events, edits] = parts::<3>(data);
    let Ok(query) = std::str::from_utf8(query).map(parse) else {
        return;
    };
    let Ok(query) = query else {
        return;
    };
    let partial = scan_text(events, "events", &query, &ScanOptions::default());
    let frames = [
        Frame::Plan(Scope {
            query,
            files: 1,
            bytes: events.len() as u64,
            files_pruned: 0,
            bytes_pruned: 0,
        }),
        Frame::Partial(partial),
        Frame::Done(Progress::default()),
    ];
    // The edits fall on the plan or the partial, as their first byte says.
    let target = usize::from(edits.first().is_some_and(|b| b & 1 == 1));
    let decoded = frames
        .iter()
        .enumerate()
        .filter_map(|(i, frame)| {
            let mut body = encode_stored(frame).ok()?;
            if i == target {
                damage(&mut body[1..], edits.get(1..).unwrap_or_default());
            }
            decode_stored::<Frame>(&body).ok()
        })
        .collect();
    fold(decoded);
}
