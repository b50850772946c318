//! wasm32 half of the cross-target check, run in headless Chromium by wasm-bindgen-test:
//! bytes encoded natively decode here to identical answers, and encoding here gives the
//! very same bytes. Plus the merge/codec behaviour the browser relies on.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)] // a panic is the failure report

mod common;

use common::*;
use shared_sketch::{AggValue, CodecError, Partial, decode, decode_frame, encode, parse};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn result_json(query_text: &str, partial: &Partial) -> String {
    let query = parse(query_text).unwrap();
    serde_json::to_string_pretty(&partial.result(&query)).unwrap()
}

#[wasm_bindgen_test]
fn native_bytes_decode_to_identical_answers() {
    let dc: Partial = decode(DC_VECTOR).unwrap();
    assert_eq!(result_json(VECTOR_QUERY, &dc), DC_RESULT);
    let top: Partial = decode(TOP_VECTOR).unwrap();
    assert_eq!(result_json(TOP_QUERY, &top), TOP_RESULT);
}

#[wasm_bindgen_test]
fn wasm_encodes_the_same_bytes_as_native() {
    let (_, dc) = vector_partial(VECTOR_QUERY);
    assert_eq!(encode(&dc).unwrap(), DC_VECTOR);
    let (_, top) = vector_partial(TOP_QUERY);
    assert_eq!(encode(&top).unwrap(), TOP_VECTOR);
}

#[wasm_bindgen_test]
fn merging_decoded_partials_equals_merging_originals() {
    let (query, a) = vector_partial(VECTOR_QUERY);
    let mut via_wire: Partial = decode(&encode(&a).unwrap()).unwrap();
    via_wire.merge(&decode(DC_VECTOR).unwrap()).unwrap();
    let mut direct = a.clone();
    direct.merge(&a).unwrap();
    let (l, r) = (via_wire.result(&query), direct.result(&query));
    assert_eq!(l.matched, 40_000);
    assert_eq!(
        serde_json::to_string(&l).unwrap(),
        serde_json::to_string(&r).unwrap()
    );
    match &l.aggs[1].value {
        AggValue::Distinct(e) => assert!(e.lower <= e.estimate && e.estimate <= e.upper),
        other => panic!("{other:?}"),
    }
}

#[wasm_bindgen_test]
fn corrupt_frames_are_errors_not_panics() {
    assert!(matches!(decode_frame(&[]), Err(CodecError::Empty)));
    let mut bytes = DC_VECTOR.to_vec();
    bytes.truncate(bytes.len() / 3);
    assert!(decode_frame(&bytes).is_err());
    let mut flipped = DC_VECTOR.to_vec();
    for i in (8..flipped.len()).step_by(17) {
        flipped[i] ^= 0xA5;
    }
    assert!(decode::<Partial>(&flipped).is_err());
    // A Partial is not a Frame: the wrong type is an error too, not garbage.
    // (its leading count reads as a frame tag that does not exist).
    assert!(decode_frame(DC_VECTOR).is_err());
}
