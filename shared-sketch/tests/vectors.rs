//! Native half of the cross-target check: the checked-in vectors are exactly what this build
//! encodes. Regenerate (after an intended wire change, with a WIRE_VERSION bump) with
//! `UPDATE_VECTORS=1 cargo test -p shared-sketch --test vectors`.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::path::Path;

use common::*;
use shared_sketch::{Partial, decode, encode};

fn check(query_text: &str, name: &str, bytes: &[u8], result_json: &str) {
    let (query, partial) = vector_partial(query_text);
    let encoded = encode(&partial).unwrap();
    let result = serde_json::to_string_pretty(&partial.result(&query)).unwrap();
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
        std::fs::write(dir.join(format!("{name}.bin")), &encoded).unwrap();
        std::fs::write(dir.join(format!("{name}.result.json")), &result).unwrap();
        return;
    }
    assert_eq!(
        encoded, bytes,
        "{name}: native encoding changed; see this file's docs"
    );
    assert_eq!(result, result_json, "{name}: native answers changed");
    let decoded: Partial = decode(bytes).unwrap();
    let again = serde_json::to_string_pretty(&decoded.result(&query)).unwrap();
    assert_eq!(again, result_json, "{name}: decoding changed the answers");
}

#[test]
fn distinct_count_vector_matches_native_encoding() {
    check(VECTOR_QUERY, "dc-partial", DC_VECTOR, DC_RESULT);
}

#[test]
fn top_k_vector_matches_native_encoding() {
    check(TOP_QUERY, "top-partial", TOP_VECTOR, TOP_RESULT);
}
