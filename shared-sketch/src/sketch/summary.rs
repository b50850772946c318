//! Exact numeric aggregates (`sum`, `min`, `max`, `avg`). Integers are summed as `i128`, so
//! sums of integer fields (bytes, packets) are exact and independent of merge order;
//! only values with a fraction go through `f64`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    /// Numeric values seen (non-numeric field values are not counted).
    pub count: u64,
    int_sum: i128,
    float_sum: f64,
    min: Option<f64>,
    max: Option<f64>,
}

impl NumericSummary {
    /// Adds a field value given as text; text that is not a finite number is ignored.
    pub fn update(&mut self, text: &str) {
        let value = if let Ok(i) = text.parse::<i64>() {
            self.int_sum += i128::from(i);
            i as f64
        } else {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => {
                    self.float_sum += f;
                    f
                }
                _ => return,
            }
        };
        self.count += 1;
        self.min = Some(self.min.map_or(value, |m| m.min(value)));
        self.max = Some(self.max.map_or(value, |m| m.max(value)));
    }

    pub fn merge(&mut self, other: &NumericSummary) {
        self.count = self.count.saturating_add(other.count);
        self.int_sum = self.int_sum.saturating_add(other.int_sum);
        self.float_sum += other.float_sum;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    pub fn sum(&self) -> Option<f64> {
        (self.count > 0).then_some(self.int_sum as f64 + self.float_sum)
    }

    pub fn min(&self) -> Option<f64> {
        self.min
    }

    pub fn max(&self) -> Option<f64> {
        self.max
    }

    pub fn avg(&self) -> Option<f64> {
        self.sum().map(|s| s / self.count as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_sums_are_exact_beyond_f64_precision_and_order_free() {
        let mut a = NumericSummary::default();
        let mut b = NumericSummary::default();
        for v in [
            "9007199254740993",
            "1",
            "-3",
            "2.5",
            "not a number",
            "NaN",
            "",
        ] {
            a.update(v);
        }
        for v in ["4", "10"] {
            b.update(v);
        }
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, ba);
        assert_eq!(ab.count, 6);
        assert_eq!(ab.int_sum, 9_007_199_254_740_993 + 1 - 3 + 4 + 10);
        assert_eq!(
            (ab.min(), ab.max()),
            (Some(-3.0), Some(9_007_199_254_740_993.0))
        );
        assert_eq!(NumericSummary::default().avg(), None);
    }
}
