//! `cargo xtask bench sketches`, browser half: the 1,000-way merge measured where it runs,
//! in headless Chromium. The same seeded workload as the native harness, cut into 1,000
//! partials, encoded to wire bytes here; then timed: decoding and merging all of them (what
//! the page does with frames) and merging already-decoded ones. Not part of `xtask test`.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)] // a bench: a panic is the report

#[allow(dead_code)] // the native harness reads the rest
#[path = "../benches/workload/mod.rs"]
mod workload;

use shared_sketch::{Partial, decode, encode};
use wasm_bindgen_test::*;
use workload::{SEED, merge_all};

wasm_bindgen_test_configure!(run_in_browser);

const EVENTS: usize = 10_000_000;
const PARTS: usize = 1_000;
const REPS: usize = 5;

fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..REPS)
        .map(|_| {
            let t = js_sys::Date::now();
            f();
            js_sys::Date::now() - t
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[REPS / 2]
}

#[wasm_bindgen_test]
fn thousand_way_merge_in_the_browser() {
    let t = js_sys::Date::now();
    let w = workload::Workload::generate(EVENTS, SEED);
    let query = workload::query();
    let frames: Vec<Vec<u8>> = w
        .splits(PARTS)
        .into_iter()
        .map(|r| encode(&w.partial(&query, r)).unwrap())
        .collect();
    drop(w);
    let built = js_sys::Date::now() - t;
    let bytes: usize = frames.iter().map(Vec::len).sum();
    let decoded: Vec<Partial> = frames.iter().map(|f| decode(f).unwrap()).collect();
    assert_eq!(merge_all(&decoded).matched(), EVENTS as u64);

    let merge = median_ms(|| {
        std::hint::black_box(merge_all(&decoded));
    });
    let decode_merge = median_ms(|| {
        let decoded: Vec<Partial> = frames.iter().map(|f| decode(f).unwrap()).collect();
        std::hint::black_box(merge_all(&decoded));
    });
    console_log!(
        "BENCH wasm: {PARTS}-way merge {merge:.0} ms; decode + merge {decode_merge:.0} ms \
         ({:.1} MiB of frames; workload built and encoded in {:.1} s; median of {REPS})",
        bytes as f64 / 1_048_576.0,
        built / 1e3
    );
}
