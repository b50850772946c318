//! Distinct counts (`dc(field)`): exact while a count has at most [`EXACT_LIMIT`] distinct
//! values, then Apache DataSketches HLL at lg_k = 14 by default (16,384 registers, relative
//! standard error ≈ 1.04/√k ≈ 0.8%), reported as a 95% (two standard deviation) interval.
//!
//! In the HLL stage the library's HIP estimator integrates coupons in the order they arrive,
//! including when a union leaves its coupon (list/set) mode. The same data merged in another
//! order, or a partial that crossed the wire (serialization reorders coupons), can therefore
//! differ by up to about half a percent (measured), each estimate inside the other's 95%
//! interval (`tests/properties.rs`). The exact stage, and the registers
//! themselves, are order-independent to the bit.
//!
//! The exact stage matters for security questions, where small distinct counts are the
//! interesting ones ("how many users did this key act as?") and an analyst should see "3",
//! not "≈ 3.0002". Values are hashed into the HLL as their explicit bytes, with the same
//! hash (MurmurHash3 x64 128, seed 9001) as the Java and C++ libraries' `update(byte[])`.

use std::fmt;

use datasketches::common::NumStdDev;
use datasketches::hash::value::raw_bytes;
use datasketches::hll::{HllSketch, HllType, HllUnion};
use serde::{Deserialize, Serialize};

use super::error::SketchError;

/// Default log2 of the number of HLL registers.
pub const HLL_LG_K: u8 = 14;
/// lg_k a user may choose: 10 (≈ 3.3% error, 1 KiB) to 16 (≈ 0.4%, 64 KiB).
pub const HLL_LG_K_RANGE: std::ops::RangeInclusive<u8> = 10..=16;
/// Distinct values kept exactly before switching to HLL.
pub const EXACT_LIMIT: usize = 1000;
/// The bounds' confidence: two standard deviations.
const BOUND_STD_DEVS: NumStdDev = NumStdDev::Two;
const BOUND_CONFIDENCE: f64 = 0.954;

/// A mergeable distinct count.
///
/// ```
/// use shared_sketch::sketch::DistinctCount;
/// let mut a = DistinctCount::new();
/// a.update(b"10.0.0.1");
/// let mut b = DistinctCount::from_bytes(&a.to_bytes()).unwrap();
/// b.update(b"10.0.0.2");
/// a.merge(&b);
/// let e = a.estimate();
/// assert!(e.exact && e.estimate == 2.0);
/// ```
#[derive(Clone)]
pub struct DistinctCount {
    lg_k: u8,
    state: State,
}

#[derive(Clone)]
enum State {
    /// At most `EXACT_LIMIT` values, as their bytes, sorted and distinct (the same bytes
    /// on every target). A sorted vector rather than a tree: rule rollups hold millions of
    /// counts of one or two values, and a tree's node per count was most of what making,
    /// storing and dropping them cost (measured, docs/BENCHMARKS.md).
    Exact(Vec<Vec<u8>>),
    /// Held as a union (8-bit registers: fast to update and merge); travels as a sketch
    /// with 4-bit registers, half the bytes.
    Sketch(HllUnion),
}

/// An estimate with its interval, as shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DistinctEstimate {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
    /// Probability that the true count lies in `lower..=upper` (1 when exact).
    pub confidence: f64,
    /// Counted value by value: `estimate` is the true count.
    pub exact: bool,
}

impl DistinctCount {
    /// lg_k = [`HLL_LG_K`].
    pub fn new() -> Self {
        Self {
            lg_k: HLL_LG_K,
            state: State::Exact(Vec::new()),
        }
    }

    /// A count whose HLL stage has 2^`lg_k` registers, `lg_k` in [`HLL_LG_K_RANGE`].
    pub fn with_lg_k(lg_k: u8) -> Result<Self, SketchError> {
        if !HLL_LG_K_RANGE.contains(&lg_k) {
            return Err(SketchError::new(
                "HLL",
                format!("lg_k {lg_k} is outside {HLL_LG_K_RANGE:?}"),
            ));
        }
        Ok(Self {
            lg_k,
            state: State::Exact(Vec::new()),
        })
    }

    /// Adds one value, given as its canonical bytes.
    pub fn update(&mut self, value: &[u8]) {
        match &mut self.state {
            State::Exact(values) => {
                if let Err(at) = values.binary_search_by(|v| v.as_slice().cmp(value)) {
                    values.insert(at, value.to_vec());
                    if values.len() > EXACT_LIMIT {
                        self.promote();
                    }
                }
            }
            State::Sketch(union) => union.update_value(raw_bytes::from_slice(value)),
        }
    }

    /// Switches to HLL (feeding it every value held so far) if not there yet.
    fn promote(&mut self) -> &mut HllUnion {
        if let State::Exact(values) = &mut self.state {
            let values = std::mem::take(values);
            let mut union = new_union(self.lg_k);
            for value in &values {
                union.update_value(raw_bytes::from_slice(value));
            }
            self.state = State::Sketch(union);
        }
        match &mut self.state {
            State::Sketch(union) => union,
            State::Exact(_) => unreachable!("promoted just above"),
        }
    }

    pub fn merge(&mut self, other: &DistinctCount) {
        match (&mut self.state, &other.state) {
            (State::Exact(mine), State::Exact(theirs)) => {
                *mine = union_sorted(std::mem::take(mine), theirs);
                if mine.len() > EXACT_LIMIT {
                    self.promote();
                }
            }
            (State::Sketch(union), State::Exact(theirs)) => {
                for value in theirs {
                    union.update_value(raw_bytes::from_slice(value));
                }
            }
            (_, State::Sketch(theirs)) => self.promote().update(&theirs.to_sketch(HllType::Hll8)),
        }
    }

    pub fn estimate(&self) -> DistinctEstimate {
        match &self.state {
            State::Exact(values) => {
                let n = values.len() as f64;
                DistinctEstimate {
                    estimate: n,
                    lower: n,
                    upper: n,
                    confidence: 1.0,
                    exact: true,
                }
            }
            State::Sketch(union) => DistinctEstimate {
                estimate: union.estimate(),
                lower: union.lower_bound(BOUND_STD_DEVS),
                upper: union.upper_bound(BOUND_STD_DEVS),
                confidence: BOUND_CONFIDENCE,
                exact: false,
            },
        }
    }

    /// The portable form: the exact values, or the DataSketches HLL byte format (which the
    /// Java and C++ libraries read too).
    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = match &self.state {
            State::Exact(values) => WireOut::Exact {
                lg_k: self.lg_k,
                values,
            },
            State::Sketch(union) => WireOut::Hll(union.to_sketch(HllType::Hll4).serialize()),
        };
        super::bytes::encode_nested(&wire)
    }

    /// Reads `to_bytes` output; hostile input is an error, never a panic or a huge
    /// allocation (the bytes bound what can be decoded).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SketchError> {
        let corrupt = |message: String| SketchError::new("HLL", message);
        let wire: Wire = super::bytes::decode_nested(bytes, "HLL")?;
        match wire {
            Wire::Exact { lg_k, values } => {
                let mut count = Self::with_lg_k(lg_k)?;
                let n = values.len();
                let mut set = values;
                set.sort_unstable();
                set.dedup();
                if n > EXACT_LIMIT || set.len() != n {
                    return Err(corrupt(format!(
                        "exact set of {n} values is not a set within {EXACT_LIMIT}"
                    )));
                }
                count.state = State::Exact(set);
                Ok(count)
            }
            Wire::Hll(bytes) => Self::from_datasketches(&bytes),
        }
    }

    /// Reads a DataSketches HLL sketch (any lg_k, any register width, from any of the
    /// Apache libraries). Registers beyond [`HLL_LG_K_RANGE`] are folded down to its top.
    pub fn from_datasketches(bytes: &[u8]) -> Result<Self, SketchError> {
        let sketch =
            HllSketch::deserialize(bytes).map_err(|e| SketchError::new("HLL", e.to_string()))?;
        let lg_k = sketch
            .lg_config_k()
            .clamp(*HLL_LG_K_RANGE.start(), *HLL_LG_K_RANGE.end());
        let mut union = new_union(lg_k);
        union.update(&sketch);
        Ok(Self {
            lg_k,
            state: State::Sketch(union),
        })
    }
}

fn new_union(lg_k: u8) -> HllUnion {
    // Every lg_k reaching here is in HLL_LG_K_RANGE, inside the library's 4..=21.
    HllUnion::new(lg_k).expect("lg_k is in the library's range")
}

/// What travels: bincode of this, inside the frame's own bincode (as bytes, so a corrupt
/// sketch is a clean error of this sketch alone).
#[derive(Deserialize)]
enum Wire {
    Exact { lg_k: u8, values: Vec<Vec<u8>> },
    Hll(Vec<u8>),
}

/// `Wire` as written, borrowing the values rather than copying them (the same bytes).
#[derive(Serialize)]
enum WireOut<'a> {
    Exact { lg_k: u8, values: &'a [Vec<u8>] },
    Hll(Vec<u8>),
}

/// The sorted, distinct union of two sorted, distinct lists, in one pass.
fn union_sorted(mine: Vec<Vec<u8>>, theirs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(mine.len() + theirs.len());
    let mut theirs = theirs.iter().peekable();
    for value in mine {
        while let Some(next) = theirs.next_if(|t| t.as_slice() < value.as_slice()) {
            out.push(next.clone());
        }
        theirs.next_if(|t| **t == value);
        out.push(value);
    }
    out.extend(theirs.cloned());
    out
}

impl Default for DistinctCount {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DistinctCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DistinctCount")
            .field("lg_k", &self.lg_k)
            .field("estimate", &self.estimate())
            .finish()
    }
}

super::bytes::serde_via_bytes!(DistinctCount);

#[cfg(test)]
mod tests {
    use super::*;

    fn count_of(range: std::ops::Range<u32>) -> DistinctCount {
        let mut dc = DistinctCount::new();
        for i in range {
            dc.update(&i.to_le_bytes());
        }
        dc
    }

    #[test]
    fn exact_up_to_the_limit_then_an_estimate_within_bounds() {
        let at_limit = count_of(0..EXACT_LIMIT as u32);
        let e = at_limit.estimate();
        assert!(e.exact);
        assert_eq!((e.estimate, e.lower, e.upper), (1000.0, 1000.0, 1000.0));

        let past = count_of(0..EXACT_LIMIT as u32 + 1);
        let e = past.estimate();
        assert!(!e.exact);
        assert!(e.lower <= 1001.0 && 1001.0 <= e.upper, "{e:?}");
    }

    #[test]
    fn estimate_is_within_its_bounds_at_scale() {
        let e = count_of(0..200_000).estimate();
        assert!(e.lower <= 200_000.0 && 200_000.0 <= e.upper, "{e:?}");
        assert!((e.estimate - 200_000.0).abs() / 200_000.0 < 0.03, "{e:?}");
    }

    #[test]
    fn exact_merges_are_the_sorted_union() {
        let set = |values: &[u32]| {
            let mut dc = DistinctCount::new();
            for v in values {
                dc.update(&v.to_be_bytes());
            }
            dc
        };
        let mut a = set(&[5, 1, 9, 3]);
        a.merge(&set(&[2, 3, 9, 10, 0]));
        a.merge(&set(&[]));
        let State::Exact(values) = &a.state else {
            panic!("still exact")
        };
        let expected: Vec<Vec<u8>> = [0u32, 1, 2, 3, 5, 9, 10]
            .iter()
            .map(|v| v.to_be_bytes().to_vec())
            .collect();
        assert_eq!(values, &expected);
        // The bytes are those of the same values added in any order.
        assert_eq!(a.to_bytes(), set(&[10, 9, 5, 3, 2, 1, 0]).to_bytes());
        let back = DistinctCount::from_bytes(&a.to_bytes()).expect("reads");
        assert_eq!(back.to_bytes(), a.to_bytes());
    }

    #[test]
    fn merges_across_stages_count_the_union() {
        // exact + exact staying exact, exact + exact crossing the limit, exact + sketch both ways.
        let mut a = count_of(0..600);
        a.merge(&count_of(300..900));
        assert_eq!(a.estimate().estimate, 900.0);
        a.merge(&count_of(800..1500));
        let e = a.estimate();
        assert!(!e.exact && e.lower <= 1500.0 && 1500.0 <= e.upper, "{e:?}");

        let mut small = count_of(0..10);
        small.merge(&count_of(5..5000));
        let mut big = count_of(5..5000);
        big.merge(&count_of(0..10));
        for e in [small.estimate(), big.estimate()] {
            assert!(e.lower <= 5000.0 && 5000.0 <= e.upper, "{e:?}");
        }
        assert_eq!(
            small.to_bytes(),
            big.to_bytes(),
            "merge order does not show in the bytes"
        );
    }

    #[test]
    fn bytes_round_trip_in_both_stages() {
        for n in [0, 7, 1000, 50_000] {
            let dc = count_of(0..n);
            let back = DistinctCount::from_bytes(&dc.to_bytes()).unwrap();
            assert_eq!(back.estimate(), dc.estimate(), "n = {n}");
            assert_eq!(back.to_bytes(), dc.to_bytes(), "n = {n}");
        }
    }

    #[test]
    fn lg_k_is_configurable_within_its_range() {
        assert!(DistinctCount::with_lg_k(9).is_err());
        assert!(DistinctCount::with_lg_k(17).is_err());
        let mut small = DistinctCount::with_lg_k(10).unwrap();
        for i in 0..100_000u32 {
            small.update(&i.to_le_bytes());
        }
        let e = small.estimate();
        assert!(e.lower <= 100_000.0 && 100_000.0 <= e.upper, "{e:?}");
        assert!(small.to_bytes().len() < count_of(0..100_000).to_bytes().len());
    }

    #[test]
    fn garbage_bytes_are_an_error() {
        assert!(DistinctCount::from_bytes(&[1, 2, 3]).is_err());
        assert!(DistinctCount::from_bytes(&[]).is_err());
        // An "exact" set claiming a forbidden lg_k, and one with a duplicate.
        let bad_lg_k = bincode::serde::encode_to_vec(
            WireOut::Exact {
                lg_k: 30,
                values: &[],
            },
            bincode::config::standard(),
        )
        .unwrap();
        assert!(DistinctCount::from_bytes(&bad_lg_k).is_err());
        let duplicate = bincode::serde::encode_to_vec(
            WireOut::Exact {
                lg_k: 14,
                values: &[vec![1], vec![1]],
            },
            bincode::config::standard(),
        )
        .unwrap();
        assert!(DistinctCount::from_bytes(&duplicate).is_err());
    }
}
