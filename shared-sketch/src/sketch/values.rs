//! Exact aggregates of a field's text and numbers that merge in any order to the same
//! answer: `values(f)` (the distinct values, the first `MAX_VALUES` in text order),
//! `earliest(f)`/`latest(f)` (the value at the earliest or latest event time) and the
//! moments behind `stdev(f)`/`var(f)`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::SketchError;

/// Distinct values `values(f)` keeps: a list to read, not a count (use `dc(f)` for that).
pub const MAX_VALUES: usize = 100;
/// A kept value is cut to this many bytes (at a character boundary).
pub const MAX_VALUE_BYTES: usize = 1024;

fn clip(value: &str) -> &str {
    let mut end = value.len().min(MAX_VALUE_BYTES);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// The distinct values of a field, the `MAX_VALUES` first in text order. Keeping the
/// smallest (not the first seen) makes any merge order give the same set: a value one side
/// left out has `MAX_VALUES` smaller ones on that side alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ValueSetWire")]
pub struct ValueSet {
    values: BTreeSet<String>,
    /// Some distinct value was left out.
    cut: bool,
}

#[derive(Deserialize)]
struct ValueSetWire {
    values: BTreeSet<String>,
    cut: bool,
}

impl TryFrom<ValueSetWire> for ValueSet {
    type Error = SketchError;

    fn try_from(w: ValueSetWire) -> Result<Self, SketchError> {
        if w.values.len() > MAX_VALUES {
            return Err(SketchError::new(
                "values",
                format!("{} values over the limit {MAX_VALUES}", w.values.len()),
            ));
        }
        if w.values.iter().any(|v| v.len() > MAX_VALUE_BYTES) {
            return Err(SketchError::new("values", "a value over the size limit"));
        }
        Ok(ValueSet {
            values: w.values,
            cut: w.cut,
        })
    }
}

impl ValueSet {
    pub fn update(&mut self, value: &str) {
        let value = clip(value);
        if self.values.contains(value) {
            return;
        }
        if self.values.len() >= MAX_VALUES {
            self.cut = true;
            match self.values.last() {
                Some(last) if value < last.as_str() => {
                    self.values.pop_last();
                }
                _ => return,
            }
        }
        self.values.insert(value.to_string());
    }

    pub fn merge(&mut self, other: &ValueSet) {
        for value in &other.values {
            self.update(value);
        }
        self.cut |= other.cut;
    }

    /// The kept values, in text order.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(String::as_str)
    }

    /// Every distinct value is kept.
    pub fn complete(&self) -> bool {
        !self.cut
    }
}

/// A field's value at an event time: `earliest(f)` keeps the least (time, value), `latest(f)`
/// the greatest, so events at the same millisecond resolve alike in any merge order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "(i64, String)", into = "(i64, String)")]
pub struct TimedValue {
    /// Epoch milliseconds.
    pub time: i64,
    pub value: String,
}

impl TryFrom<(i64, String)> for TimedValue {
    type Error = SketchError;

    fn try_from((time, value): (i64, String)) -> Result<Self, SketchError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(SketchError::new(
                "earliest/latest",
                "a value over the size limit",
            ));
        }
        Ok(TimedValue { time, value })
    }
}

impl From<TimedValue> for (i64, String) {
    fn from(t: TimedValue) -> Self {
        (t.time, t.value)
    }
}

impl TimedValue {
    /// Keeps the earlier (`latest` false) or later of `self` and the value at `time`.
    pub fn keep(slot: &mut Option<TimedValue>, time: i64, value: &str, latest: bool) {
        let value = clip(value);
        let better = match slot {
            None => true,
            Some(kept) => {
                let candidate = (time, value);
                let current = (kept.time, kept.value.as_str());
                if latest {
                    candidate > current
                } else {
                    candidate < current
                }
            }
        };
        if better {
            *slot = Some(TimedValue {
                time,
                value: value.to_string(),
            });
        }
    }

    pub fn merge(slot: &mut Option<TimedValue>, other: &Option<TimedValue>, latest: bool) {
        if let Some(other) = other {
            TimedValue::keep(slot, other.time, &other.value, latest);
        }
    }
}

/// Count, mean and sum of squared deviations of a field's numeric values (Welford), merged
/// by Chan et al.'s pairwise formula: the variance without the cancellation of Σx² − (Σx)²/n.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "(u64, f64, f64)", into = "(u64, f64, f64)")]
pub struct Moments {
    count: u64,
    mean: f64,
    m2: f64,
}

impl TryFrom<(u64, f64, f64)> for Moments {
    type Error = SketchError;

    fn try_from((count, mean, m2): (u64, f64, f64)) -> Result<Self, SketchError> {
        if !mean.is_finite()
            || !m2.is_finite()
            || m2 < 0.0
            || (count == 0 && (mean, m2) != (0.0, 0.0))
        {
            return Err(SketchError::new(
                "moments",
                "not a count, mean and square sum",
            ));
        }
        Ok(Moments { count, mean, m2 })
    }
}

impl From<Moments> for (u64, f64, f64) {
    fn from(m: Moments) -> Self {
        (m.count, m.mean, m.m2)
    }
}

impl Moments {
    /// Adds a value given as text; text that is not a finite number is ignored.
    pub fn update(&mut self, text: &str) {
        let Ok(x) = text.trim().parse::<f64>() else {
            return;
        };
        if !x.is_finite() {
            return;
        }
        self.merge(&Moments {
            count: 1,
            mean: x,
            m2: 0.0,
        });
    }

    pub fn merge(&mut self, other: &Moments) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        let (n_a, n_b) = (self.count as f64, other.count as f64);
        let n = n_a + n_b;
        let delta = other.mean - self.mean;
        let mean = self.mean + delta * (n_b / n);
        let m2 = self.m2 + other.m2 + delta * delta * (n_a * n_b / n);
        // Overflowing values (1e300²) leave the last finite state rather than poison it.
        if mean.is_finite() && m2.is_finite() {
            self.mean = mean;
            self.m2 = m2;
            self.count = self.count.saturating_add(other.count);
        }
    }

    /// The variance: of a sample (`population` false, divides by n − 1, Splunk's `var`) or
    /// of the whole population (`varp`). `None` without enough values.
    pub fn variance(&self, population: bool) -> Option<f64> {
        let divisor = if population {
            self.count
        } else {
            self.count.checked_sub(1)?
        };
        (divisor > 0).then(|| self.m2 / divisor as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_the_first_hundred_in_text_order_whatever_the_merge_order() {
        let all: Vec<String> = (0..250).map(|i| format!("v{i:03}")).collect();
        let mut forward = ValueSet::default();
        for v in &all {
            forward.update(v);
        }
        let mut parts: Vec<ValueSet> = (0..5).map(|_| ValueSet::default()).collect();
        for (i, v) in all.iter().rev().enumerate() {
            parts[i * 7 % 5].update(v);
            parts[i * 7 % 5].update(v);
        }
        let mut merged = ValueSet::default();
        for part in parts.iter().rev() {
            merged.merge(part);
        }
        assert_eq!(merged, forward);
        assert!(!merged.complete());
        let kept: Vec<&str> = merged.values().collect();
        assert_eq!(kept.len(), MAX_VALUES);
        assert_eq!((kept[0], kept[99]), ("v000", "v099"));

        let mut few = ValueSet::default();
        for v in ["b", "a", "b"] {
            few.update(v);
        }
        assert!(few.complete());
        assert_eq!(few.values().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn earliest_and_latest_break_ties_by_value() {
        let (mut early, mut late) = (None, None);
        for (time, value) in [(5, "m"), (1, "z"), (1, "a"), (9, "b"), (9, "c")] {
            TimedValue::keep(&mut early, time, value, false);
            TimedValue::keep(&mut late, time, value, true);
        }
        assert_eq!(
            early.as_ref().map(|t| (t.time, t.value.as_str())),
            Some((1, "a"))
        );
        assert_eq!(
            late.as_ref().map(|t| (t.time, t.value.as_str())),
            Some((9, "c"))
        );
    }

    #[test]
    fn moments_give_the_sample_and_population_variance() {
        let mut a = Moments::default();
        let mut b = Moments::default();
        for x in ["2", "4", "4", "4"] {
            a.update(x);
        }
        for x in ["5", "5", "7", "9", "x", "inf"] {
            b.update(x);
        }
        a.merge(&b);
        assert_eq!(a.count, 8);
        assert_eq!(a.variance(true), Some(4.0));
        assert!((a.variance(false).unwrap_or(0.0) - 32.0 / 7.0).abs() < 1e-12);
        assert_eq!(Moments::default().variance(true), None);
        let mut one = Moments::default();
        one.update("3");
        assert_eq!(one.variance(false), None);
        assert_eq!(one.variance(true), Some(0.0));
    }

    #[test]
    fn crafted_states_are_refused() {
        let too_many: BTreeSet<String> = (0..=MAX_VALUES).map(|i| i.to_string()).collect();
        let wire = ValueSetWire {
            values: too_many,
            cut: false,
        };
        assert!(ValueSet::try_from(wire).is_err());
        assert!(Moments::try_from((3, 1.0, -1.0)).is_err());
        assert!(Moments::try_from((0, 1.0, 0.0)).is_err());
        assert!(TimedValue::try_from((0, "x".repeat(MAX_VALUE_BYTES + 1))).is_err());
    }
}
