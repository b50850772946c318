//! Distinct counts (`dc(field)`) with HyperLogLog: Apache DataSketches HLL at lg_k = 14
//! (16,384 registers), relative standard error ≈ 1.04/√k ≈ 0.8%, reported to the user as a
//! 95% (two standard deviation) interval. Small cardinalities stay exact-ish for free: the
//! library keeps a list/set of coupons until it is worth switching to registers.

use std::fmt;

use datasketches::common::NumStdDev;
use datasketches::hash::value::raw_bytes;
use datasketches::hll::{HllSketch, HllType, HllUnion};
use serde::{Deserialize, Serialize};

use super::SketchError;

/// log2 of the number of HLL registers.
pub const HLL_LG_K: u8 = 14;
/// The bounds' confidence: two standard deviations.
const BOUND_STD_DEVS: NumStdDev = NumStdDev::Two;
const BOUND_CONFIDENCE: f64 = 0.954;

/// A mergeable distinct count. Held as a union (8-bit registers, fast to update and merge);
/// travels as a 4-bit-register sketch, half the bytes.
/// ```
/// use shared_sketch::sketch::DistinctCount;
/// let mut a = DistinctCount::new();
/// a.update(b"10.0.0.1");
/// let mut b = DistinctCount::from_bytes(&a.to_bytes()).unwrap();
/// b.update(b"10.0.0.2");
/// a.merge(&b);
/// assert_eq!(a.estimate().estimate.round(), 2.0);
/// ```
#[derive(Clone)]
pub struct DistinctCount {
    union: HllUnion,
}

/// An estimate with its interval, as shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DistinctEstimate {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
    /// Probability that the true count lies in `lower..=upper`.
    pub confidence: f64,
}

impl DistinctCount {
    pub fn new() -> Self {
        Self {
            // HLL_LG_K is a valid lg_k (4..=21) by construction.
            union: HllUnion::new(HLL_LG_K).expect("HLL_LG_K is in the library's range"),
        }
    }

    /// Adds one value, given as its canonical bytes.
    pub fn update(&mut self, value: &[u8]) {
        self.union.update_value(raw_bytes::from_slice(value));
    }

    pub fn merge(&mut self, other: &DistinctCount) {
        self.union.update(&other.union.to_sketch(HllType::Hll8));
    }

    pub fn estimate(&self) -> DistinctEstimate {
        DistinctEstimate {
            estimate: self.union.estimate(),
            lower: self.union.lower_bound(BOUND_STD_DEVS),
            upper: self.union.upper_bound(BOUND_STD_DEVS),
            confidence: BOUND_CONFIDENCE,
        }
    }

    /// The DataSketches HLL byte format (compatible with the Java and C++ libraries).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.union.to_sketch(HllType::Hll4).serialize()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SketchError> {
        let sketch = HllSketch::deserialize(bytes).map_err(|e| SketchError {
            sketch: "HLL",
            message: e.to_string(),
        })?;
        let mut count = Self::new();
        count.union.update(&sketch);
        Ok(count)
    }
}

impl Default for DistinctCount {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DistinctCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DistinctCount")
            .field("estimate", &self.union.estimate())
            .finish()
    }
}

super::bytes::serde_via_bytes!(DistinctCount);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_is_within_its_bounds_at_scale() {
        let mut dc = DistinctCount::new();
        for i in 0..200_000u32 {
            dc.update(&i.to_le_bytes());
        }
        let e = dc.estimate();
        assert!(e.lower <= 200_000.0 && 200_000.0 <= e.upper, "{e:?}");
        assert!((e.estimate - 200_000.0).abs() / 200_000.0 < 0.03, "{e:?}");
    }

    #[test]
    fn merge_of_overlapping_halves_counts_the_union() {
        let (mut a, mut b) = (DistinctCount::new(), DistinctCount::new());
        for i in 0..3000u32 {
            a.update(&i.to_le_bytes());
        }
        for i in 2000..5000u32 {
            b.update(&i.to_le_bytes());
        }
        a.merge(&b);
        let e = a.estimate();
        assert!(e.lower <= 5000.0 && 5000.0 <= e.upper, "{e:?}");
    }

    #[test]
    fn bytes_round_trip_keeps_the_estimate() {
        let mut dc = DistinctCount::new();
        for i in 0..50_000u32 {
            dc.update(&i.to_be_bytes());
        }
        let back = DistinctCount::from_bytes(&dc.to_bytes()).unwrap();
        assert_eq!(back.estimate(), dc.estimate());
    }

    #[test]
    fn garbage_bytes_are_an_error() {
        assert!(DistinctCount::from_bytes(&[1, 2, 3]).is_err());
        assert!(DistinctCount::from_bytes(&[]).is_err());
    }
}
