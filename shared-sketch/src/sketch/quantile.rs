//! Quantiles (`p50(f)` … `percentile(f, q)`): DDSketch with 1% relative accuracy — every
//! reported quantile is within ±1% of the true value at that rank, at any rank, which is
//! what tail latencies and byte counts need. (KLL, with rank error instead of value error,
//! was measured at −47% value error at p99.9: issue #3.)
//!
//! The guarantee holds over the top ~17 decades of the values seen (2,048 bins at 1%):
//! far more than bytes, packets or durations span; below that the smallest bins merge.
//! Travels in DDSketch's Java-compatible byte format.

use std::fmt;

use sketches_ddsketch::{Config, DDSketch};

use super::error::SketchError;

/// Relative accuracy of every quantile value.
pub const QUANTILE_RELATIVE_ERROR: f64 = 0.01;

/// A mergeable distribution of numbers.
///
/// ```
/// use shared_sketch::sketch::Quantiles;
/// let mut q = Quantiles::new();
/// for v in 1..=1000 {
///     q.update(v as f64);
/// }
/// let p99 = q.quantile(0.99).unwrap();
/// assert!((p99 - 990.0).abs() <= 0.01 * 990.0 + 1.0);
/// ```
#[derive(Clone)]
pub struct Quantiles {
    sketch: DDSketch,
}

impl Quantiles {
    pub fn new() -> Self {
        Self {
            sketch: DDSketch::new(Config::defaults()),
        }
    }

    /// Adds a value; NaN and infinities are not numbers a log holds, and are ignored.
    pub fn update(&mut self, value: f64) {
        if value.is_finite() {
            self.sketch.add(value);
        }
    }

    pub fn merge(&mut self, other: &Quantiles) -> Result<(), SketchError> {
        self.sketch
            .merge(&other.sketch)
            .map_err(|e| SketchError::new("DDSketch", e.to_string()))
    }

    /// The value at quantile `q` (0..=1), or `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.sketch.quantile(q).ok().flatten()
    }

    pub fn count(&self) -> u64 {
        self.sketch.count() as u64
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.sketch.to_java_bytes()
    }

    /// Reads `to_bytes` output; only sketches with our accuracy are accepted (merging
    /// sketches of different accuracies is meaningless).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SketchError> {
        let corrupt = |message: String| SketchError::new("DDSketch", message);
        let sketch = DDSketch::from_java_bytes(bytes).map_err(|e| corrupt(e.to_string()))?;
        let mut ours = Self::new();
        ours.sketch
            .merge(&sketch)
            .map_err(|e| corrupt(format!("not a 1%-accuracy sketch: {e}")))?;
        Ok(ours)
    }
}

impl Default for Quantiles {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Quantiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quantiles")
            .field("count", &self.count())
            .finish()
    }
}

super::bytes::serde_via_bytes!(Quantiles);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_one_percent_of_the_true_values() {
        // A heavy tail over 8.7 decades, as bytes per flow are.
        let values: Vec<f64> = (1..=100_000u32)
            .map(|i| (f64::from(i) / 5000.0).exp())
            .collect();
        let (mut a, mut b) = (Quantiles::new(), Quantiles::new());
        for (i, v) in values.iter().enumerate() {
            if i % 2 == 0 {
                a.update(*v)
            } else {
                b.update(*v)
            }
        }
        a.merge(&b).unwrap();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for q in [0.5, 0.9, 0.99, 0.999] {
            let truth = sorted[((q * (sorted.len() - 1) as f64).round()) as usize];
            let got = a.quantile(q).unwrap();
            assert!(
                (got - truth).abs() <= 0.0101 * truth,
                "q={q}: {got} vs {truth}"
            );
        }
    }

    #[test]
    fn bytes_round_trip_and_garbage_is_an_error() {
        let mut q = Quantiles::new();
        for v in [1.0, 10.0, 100.0, 1000.0, -5.0, 0.0] {
            q.update(v);
        }
        q.update(f64::NAN);
        let back = Quantiles::from_bytes(&q.to_bytes()).unwrap();
        assert_eq!(back.count(), 6);
        assert_eq!(back.quantile(0.5), q.quantile(0.5));
        assert!(Quantiles::from_bytes(&[]).is_err());
        assert!(Quantiles::from_bytes(&[0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn empty_has_no_quantile() {
        assert_eq!(Quantiles::new().quantile(0.5), None);
    }
}
