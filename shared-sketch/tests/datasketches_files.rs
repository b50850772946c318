//! Sketches written by the Apache DataSketches Java, C++ and Go libraries
//! (`../shared/data/real/datasketches-serde`, cross-language test files) read back here with
//! the right answers. Estimates are compared, not bytes (the libraries' bytes differ).
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::PathBuf;

use datasketches::hash::value::raw_bytes;
use datasketches::hll::{HllSketch, HllType};
use shared_sketch::sketch::{DistinctCount, TopK};

const LANGS: [&str; 3] = ["java", "cpp", "go"];
const SIZES: [u64; 8] = [0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

fn file(lang: &str, name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/real/datasketches-serde/serialization_test_data")
        .join(format!("{lang}_generated_files/{name}_{lang}.sk"));
    std::fs::read(path).ok()
}

/// The files were made with `update(i)` for i in 0..n; Java hashes a long as its 8
/// little-endian bytes, which is what `DistinctCount::update` gets for an `i64` value.
fn our_count(n: u64) -> DistinctCount {
    let mut dc = DistinctCount::with_lg_k(12).unwrap();
    for i in 0..n {
        dc.update(&(i as i64).to_le_bytes());
    }
    dc
}

#[test]
fn our_hashing_rebuilds_javas_and_gos_sketches() {
    // The same `raw_bytes` hashing `DistinctCount` uses, into a plain sketch of the files'
    // shape: identical bytes prove identical hashes and registers. (C++ writes HLL6/HLL8
    // differently at n >= 1000, hence Java and Go here.)
    for n in SIZES {
        for (width, kind) in [(4, HllType::Hll4), (6, HllType::Hll6), (8, HllType::Hll8)] {
            let mut sketch = HllSketch::new(12, kind).unwrap();
            for i in 0..n {
                sketch.update(raw_bytes::from_slice(&(i as i64).to_le_bytes()));
            }
            let ours = sketch.serialize();
            for lang in ["java", "go"] {
                let theirs = file(lang, &format!("hll{width}_n{n}")).unwrap();
                let what = format!("{lang} hll{width} n={n}");
                // Everything but the preamble's flags byte (offset 4: Java marks large HLL4
                // sketches differently) is identical: header, registers, exceptions, HIP state.
                assert_eq!(ours.len(), theirs.len(), "{what}");
                let differing: Vec<usize> =
                    (0..ours.len()).filter(|&i| ours[i] != theirs[i]).collect();
                assert!(
                    differing.is_empty() || differing == [4],
                    "{what}: bytes differ at {differing:?}"
                );
                let decoded = HllSketch::deserialize(&theirs).unwrap();
                assert_eq!(sketch.estimate(), decoded.estimate(), "{what}");
                assert_eq!(
                    sketch.composite_estimate(),
                    decoded.composite_estimate(),
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn hll_sketches_from_java_cpp_and_go_give_their_counts() {
    let mut read = 0;
    for n in SIZES {
        let ours = our_count(n).estimate();
        for lang in LANGS {
            for width in [4, 6, 8] {
                let Some(bytes) = file(lang, &format!("hll{width}_n{n}")) else {
                    continue;
                };
                let theirs = DistinctCount::from_datasketches(&bytes)
                    .unwrap_or_else(|e| panic!("{lang} hll{width} n={n}: {e}"))
                    .estimate();
                read += 1;
                let n = n as f64;
                assert!(
                    (theirs.estimate - n).abs() <= 0.02 * n.max(1.0),
                    "{lang} hll{width}: {theirs:?} for n={n}"
                );
                assert!(
                    theirs.lower <= n && n <= theirs.upper,
                    "{lang} hll{width}: {theirs:?}"
                );
                if !ours.exact {
                    // Same registers; the HIP estimator also depends on insertion order (our
                    // exact stage replays values sorted), hence a tolerance, not equality.
                    assert!(
                        (ours.estimate - theirs.estimate).abs() <= 1e-3 * n,
                        "{lang} hll{width} n={n}: ours {ours:?} theirs {theirs:?}"
                    );
                }
            }
        }
    }
    assert_eq!(
        read,
        3 * 3 * SIZES.len(),
        "every language, width and size was found"
    );
}

#[test]
fn frequent_string_sketches_from_java_and_cpp_give_their_counts() {
    for lang in ["java", "cpp"] {
        for n in SIZES {
            let bytes = file(lang, &format!("frequent_string_n{n}")).unwrap();
            let top = TopK::from_bytes(&bytes).unwrap_or_else(|e| panic!("{lang} n={n}: {e}"));
            assert_eq!(top.total(), n, "{lang} n={n}");
            // Every item (str(i), i = 1..=n) was seen once.
            for row in top.top(64) {
                assert!(row.lower <= 1 && 1 <= row.upper, "{lang} n={n}: {row:?}");
                let i: u64 = row.value.parse().unwrap();
                assert!((1..=n).contains(&i), "{lang} n={n}: {row:?}");
            }
            if n <= 48 {
                assert_eq!(
                    top.maximum_error(),
                    0,
                    "{lang} n={n}: fits the map, so exact"
                );
                assert_eq!(top.top(64).len() as u64, n);
            }
        }

        let ascii = TopK::from_bytes(&file(lang, "frequent_string_ascii").unwrap()).unwrap();
        let rows: Vec<(String, u64)> = ascii
            .top(10)
            .into_iter()
            .map(|r| (r.value, r.estimate))
            .collect();
        let expect: Vec<(String, u64)> = [('d', 4), ('c', 3), ('b', 2), ('a', 1)]
            .into_iter()
            .map(|(c, w)| (c.to_string().repeat(29), w))
            .collect();
        assert_eq!(rows, expect, "{lang} ascii");
        assert_eq!(ascii.total(), 10);

        let utf8 = TopK::from_bytes(&file(lang, "frequent_string_utf8").unwrap()).unwrap();
        let rows = utf8.top(10);
        assert_eq!(utf8.total(), 28, "{lang} utf8");
        assert_eq!(
            rows.iter().map(|r| r.estimate).collect::<Vec<_>>(),
            [7, 6, 5, 4, 3, 2, 1]
        );
        assert!(rows.iter().all(|r| {
            r.value
                .chars()
                .any(|c| ('\u{400}'..='\u{4ff}').contains(&c))
        }));
    }
}
