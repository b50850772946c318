//! Rare values (`rare [N] field`): the values seen least often, with exact counts.
//!
//! A consistent bottom-k sample: every partial keeps the `k` distinct values whose stable
//! 64-bit hash (xxh3 of the value's bytes) is smallest, with their exact local counts. A
//! merge keeps the `k` smallest hashes of both and adds counts. Each partial's cutoff is at
//! least the merged cutoff, so every value in the merged sample was counted by *every*
//! partial that saw it: its count is the exact global count, and a value that is frequent
//! anywhere shows up as frequent — nothing is rare by accident of partitioning.
//!
//! While fewer than `k` distinct values exist, the sample is everything and the answer is
//! exact. Beyond, the sample is a uniform random subset (by hash) of the distinct values,
//! covering the fraction `cutoff / 2^64`; rare values found in it are exact, and the total
//! number of rare values is estimated as (rare in sample) / fraction.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::SketchError;

/// Distinct values sampled per partial.
pub const RARE_SAMPLE_SIZE: usize = 1024;
/// A value seen at most this many times (globally) is rare.
pub const RARE_THRESHOLD: u64 = 3;

#[derive(Clone, Default, PartialEq)]
pub struct RareItems {
    /// hash → (value, exact count); at most `RARE_SAMPLE_SIZE` entries, the smallest hashes.
    sample: BTreeMap<u64, (String, u64)>,
    /// True once a value was turned away: the sample no longer holds every value.
    saturated: bool,
}

/// One rare value with its exact count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RareRow {
    pub value: String,
    pub count: u64,
}

/// What `rare` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RareSummary {
    /// The least frequent values in the sample, rarest first (ties by value).
    pub rows: Vec<RareRow>,
    /// Fraction of all distinct values the sample covers (1 when exact).
    pub sample_fraction: f64,
    /// Values seen at most `RARE_THRESHOLD` times: exact when `sample_fraction` is 1,
    /// otherwise estimated from the sample.
    pub rare_total: f64,
    pub threshold: u64,
}

impl RareItems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, value: &str) {
        let hash = xxh3_64(value.as_bytes());
        if let Some((_, count)) = self.sample.get_mut(&hash) {
            *count += 1;
            return;
        }
        if self.sample.len() >= RARE_SAMPLE_SIZE {
            match self.sample.last_key_value() {
                Some((&largest, _)) if hash < largest => {
                    self.sample.pop_last();
                }
                _ => {
                    self.saturated = true;
                    return;
                }
            }
            self.saturated = true;
        }
        self.sample.insert(hash, (value.to_string(), 1));
    }

    pub fn merge(&mut self, other: &RareItems) {
        for (hash, (value, count)) in &other.sample {
            self.sample
                .entry(*hash)
                .and_modify(|(_, c)| *c = c.saturating_add(*count))
                .or_insert_with(|| (value.clone(), *count));
        }
        self.saturated |= other.saturated;
        if self.sample.len() > RARE_SAMPLE_SIZE {
            self.saturated = true;
            while self.sample.len() > RARE_SAMPLE_SIZE {
                self.sample.pop_last();
            }
        }
        // A value kept by one side but beyond the other side's cutoff was not counted
        // there: only hashes below both cutoffs are exact. Drop the rest.
        let cutoff = [self.cutoff(), other.cutoff()].into_iter().flatten().min();
        if let Some(cutoff) = cutoff {
            self.sample.retain(|hash, _| *hash <= cutoff);
        }
    }

    /// The largest hash a saturated sample keeps (`None` while it keeps everything).
    fn cutoff(&self) -> Option<u64> {
        if self.saturated {
            self.sample.last_key_value().map(|(hash, _)| *hash)
        } else {
            None
        }
    }

    pub fn summary(&self, n: usize) -> RareSummary {
        let sample_fraction = match self.cutoff() {
            None => 1.0,
            Some(cutoff) => (cutoff as f64 + 1.0) / 2f64.powi(64),
        };
        let rare_in_sample = self
            .sample
            .values()
            .filter(|(_, c)| *c <= RARE_THRESHOLD)
            .count();
        let mut rows: Vec<RareRow> = self
            .sample
            .values()
            .map(|(value, count)| RareRow {
                value: value.clone(),
                count: *count,
            })
            .collect();
        rows.sort_by(|a, b| a.count.cmp(&b.count).then_with(|| a.value.cmp(&b.value)));
        rows.truncate(n);
        RareSummary {
            rows,
            sample_fraction,
            rare_total: rare_in_sample as f64 / sample_fraction,
            threshold: RARE_THRESHOLD,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = Wire {
            saturated: self.saturated,
            values: self.sample.values().cloned().collect(),
        };
        super::bytes::encode_nested(&wire)
    }

    /// Reads `to_bytes` output. Hashes are recomputed from the values, so crafted bytes
    /// cannot place a value outside the hash order; sizes are checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SketchError> {
        let corrupt = |message: String| SketchError {
            sketch: "rare items",
            message,
        };
        let wire: Wire = super::bytes::decode_nested(bytes, "rare items")?;
        let n = wire.values.len();
        if n > RARE_SAMPLE_SIZE {
            return Err(corrupt(format!(
                "{n} sampled values, at most {RARE_SAMPLE_SIZE} allowed"
            )));
        }
        let sample: BTreeMap<u64, (String, u64)> = wire
            .values
            .into_iter()
            .map(|(value, count)| (xxh3_64(value.as_bytes()), (value, count)))
            .collect();
        if sample.len() != n || sample.values().any(|(_, c)| *c == 0) {
            return Err(corrupt("duplicate values or zero counts".into()));
        }
        Ok(Self {
            sample,
            saturated: wire.saturated,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    saturated: bool,
    /// In hash order.
    values: Vec<(String, u64)>,
}

impl fmt::Debug for RareItems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RareItems")
            .field("sampled", &self.sample.len())
            .field("saturated", &self.saturated)
            .finish()
    }
}

super::bytes::serde_via_bytes!(RareItems);

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn feed(items: &mut RareItems, value: &str, times: u64) {
        for _ in 0..times {
            items.update(value);
        }
    }

    #[test]
    fn exact_while_the_sample_holds_everything() {
        let mut r = RareItems::new();
        feed(&mut r, "frequent", 100);
        feed(&mut r, "twice", 2);
        feed(&mut r, "once-b", 1);
        feed(&mut r, "once-a", 1);
        let s = r.summary(3);
        assert_eq!(s.sample_fraction, 1.0);
        assert_eq!(s.rare_total, 3.0);
        let rows: Vec<(&str, u64)> = s.rows.iter().map(|r| (r.value.as_str(), r.count)).collect();
        assert_eq!(rows, [("once-a", 1), ("once-b", 1), ("twice", 2)]);
    }

    #[test]
    fn a_value_rare_in_one_partial_but_frequent_in_another_is_not_rare() {
        let (mut a, mut b) = (RareItems::new(), RareItems::new());
        feed(&mut a, "10.0.0.1", 1);
        feed(&mut b, "10.0.0.1", 50);
        // Saturate both with noise so cutoffs apply.
        for i in 0..5000 {
            a.update(&format!("a{i}"));
            b.update(&format!("b{i}"));
        }
        a.merge(&b);
        let s = a.summary(RARE_SAMPLE_SIZE);
        assert!(
            s.rows
                .iter()
                .all(|r| r.value != "10.0.0.1" || r.count == 51),
            "{:?}",
            s.rows
        );
    }

    #[test]
    fn sampled_counts_are_exact_and_the_rare_total_is_estimated() {
        // 20,000 values seen once, 2,000 seen 10 times, split over 8 partials.
        let mut truth: HashMap<String, u64> = HashMap::new();
        let mut parts = vec![RareItems::new(); 8];
        for i in 0..20_000u32 {
            let v = format!("rare-{i}");
            parts[(i % 8) as usize].update(&v);
            *truth.entry(v).or_default() += 1;
        }
        for i in 0..2_000u32 {
            for j in 0..10u32 {
                let v = format!("common-{i}");
                parts[((i + j) % 8) as usize].update(&v);
                *truth.entry(v).or_default() += 1;
            }
        }
        let mut total = RareItems::new();
        for p in &parts {
            total.merge(p);
        }
        for (value, count) in total.sample.values() {
            assert_eq!(*count, truth[value], "{value}");
        }
        let s = total.summary(10);
        assert!(s.sample_fraction < 0.1 && s.sample_fraction > 0.02, "{s:?}");
        assert!((s.rare_total - 20_000.0).abs() / 20_000.0 < 0.15, "{s:?}");
        assert!(
            s.rows
                .iter()
                .all(|r| r.count == 1 && r.value.starts_with("rare-"))
        );
    }

    #[test]
    fn merge_order_does_not_matter_and_bytes_round_trip() {
        let mut parts = vec![RareItems::new(); 5];
        for i in 0..9000u32 {
            parts[(i % 5) as usize].update(&format!("v{}", i % 3000));
        }
        let mut fwd = RareItems::new();
        let mut bwd = RareItems::new();
        for p in &parts {
            fwd.merge(p);
        }
        for p in parts.iter().rev() {
            bwd.merge(p);
        }
        assert_eq!(fwd, bwd);
        assert_eq!(RareItems::from_bytes(&fwd.to_bytes()).unwrap(), fwd);
        assert!(RareItems::from_bytes(&[1, 2, 3]).is_err());
    }
}
