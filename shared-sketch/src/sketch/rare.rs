//! Rare values (`rare [N] field`): the values seen least often, with exact counts.
//!
//! A consistent bottom-k sample: every partial keeps the `k` distinct values whose stable
//! 64-bit hash (xxh3 of the value's bytes) is smallest, with their exact local counts, and
//! the cutoff hash below which it holds *every* value it saw. A merge keeps the values below
//! both cutoffs (at most `k`, the smallest) and adds counts, so every value in the merged
//! sample was counted by every partial that saw it: its count is the exact global count,
//! and a value that is frequent anywhere shows up as frequent — nothing is rare by accident
//! of partitioning.
//!
//! Each sampled value also keeps the earliest and latest event time it was seen at, to the
//! second: merged by min and max over the same partials as its count, so they are exact
//! too. On the wire they are offsets from the sample's earliest time, a few bytes each.
//!
//! While fewer than `k` distinct values exist, the sample is everything and the answer is
//! exact. Beyond, the sample is a uniform random subset (by hash) of the distinct values,
//! covering the fraction `(cutoff + 1) / 2^64`; rare values found in it are exact, and the
//! total number of rare values is estimated as (rare in sample) / fraction, with relative
//! standard error ≈ 1/√(rare in sample).

use std::fmt;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::error::SketchError;

/// Distinct values sampled per partial.
pub const RARE_SAMPLE_SIZE: usize = 1024;
/// A value seen at most this many times (globally) is rare.
pub const RARE_THRESHOLD: u64 = 3;
/// Confidence of `RareSummary`'s interval on the rare total (normal approximation).
const RARE_TOTAL_CONFIDENCE: f64 = 0.95;
const Z_95: f64 = 1.96;

#[derive(Clone, Default, PartialEq)]
pub struct RareItems {
    /// Ascending by hash; at most `RARE_SAMPLE_SIZE` entries.
    sample: Vec<Sampled>,
    /// `Some(c)`: the sample holds exactly the values with hash ≤ `c` (others were turned
    /// away). `None`: it holds every value seen.
    cutoff: Option<u64>,
}

#[derive(Clone, PartialEq)]
struct Sampled {
    hash: u64,
    value: String,
    count: u64,
    seen: Seen,
}

/// The earliest and latest event times a value was seen at, in whole seconds since the
/// epoch (floored), when any of its events had a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Seen(Option<(i64, i64)>);

impl Seen {
    fn at(time_ms: Option<i64>) -> Seen {
        Seen(time_ms.map(|t| {
            let second = t.div_euclid(1000);
            (second, second)
        }))
    }

    fn add(&mut self, other: Seen) {
        self.0 = match (self.0, other.0) {
            (Some((f1, l1)), Some((f2, l2))) => Some((f1.min(f2), l1.max(l2))),
            (a, b) => a.or(b),
        };
    }

    /// (first, last) in epoch milliseconds.
    fn ms(self) -> (Option<i64>, Option<i64>) {
        let to_ms = |s: i64| s.saturating_mul(1000);
        (self.0.map(|(f, _)| to_ms(f)), self.0.map(|(_, l)| to_ms(l)))
    }
}

/// One rare value with its exact count, and when it was first and last seen (epoch ms, to
/// the second; `None` when none of its events had a time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RareRow {
    pub value: String,
    pub count: u64,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
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
    /// Interval on `rare_total` at `confidence` (equal to it when exact).
    pub rare_total_lower: f64,
    pub rare_total_upper: f64,
    pub confidence: f64,
    pub threshold: u64,
}

impl RareItems {
    pub fn new() -> Self {
        Self::default()
    }

    /// One event holding `value`, at `time` (epoch ms) when it has one.
    pub fn update(&mut self, value: &str, time: Option<i64>) {
        let hash = xxh3_64(value.as_bytes());
        if self.cutoff.is_some_and(|c| hash > c) {
            return;
        }
        let at = match self.sample.binary_search_by_key(&hash, |s| s.hash) {
            Ok(i) => {
                self.sample[i].count += 1;
                self.sample[i].seen.add(Seen::at(time));
                return;
            }
            Err(at) => at,
        };
        let full = self.sample.len() >= RARE_SAMPLE_SIZE;
        if full && at == self.sample.len() {
            // Turned away: from now on the sample holds exactly what lies at or below its last.
            self.cutoff = self.sample.last().map(|s| s.hash);
            return;
        }
        if full {
            self.sample.pop();
        }
        self.sample.insert(
            at,
            Sampled {
                hash,
                value: value.to_string(),
                count: 1,
                seen: Seen::at(time),
            },
        );
        if full {
            self.cutoff = self.sample.last().map(|s| s.hash);
        }
    }

    /// Keeps the values below both cutoffs, at most `RARE_SAMPLE_SIZE`, in one linear pass.
    pub fn merge(&mut self, other: &RareItems) {
        let mut cutoff = match (self.cutoff, other.cutoff) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let limit = cutoff.unwrap_or(u64::MAX);
        let mut mine = std::mem::take(&mut self.sample)
            .into_iter()
            .filter(|s| s.hash <= limit)
            .peekable();
        let mut theirs = other.sample.iter().filter(|s| s.hash <= limit).peekable();
        let mut merged = Vec::with_capacity(RARE_SAMPLE_SIZE);
        loop {
            let next = match (mine.peek(), theirs.peek()) {
                (None, None) => break,
                (Some(_), None) => mine.next(),
                (None, Some(_)) => theirs.next().cloned(),
                (Some(a), Some(b)) if a.hash < b.hash => mine.next(),
                (Some(a), Some(b)) if a.hash > b.hash => theirs.next().cloned(),
                (Some(_), Some(_)) => {
                    let (count, seen) = theirs
                        .next()
                        .map_or((0, Seen::default()), |b| (b.count, b.seen));
                    mine.next().map(|mut a| {
                        a.count = a.count.saturating_add(count);
                        a.seen.add(seen);
                        a
                    })
                }
            };
            if merged.len() == RARE_SAMPLE_SIZE {
                // More values lie below the cutoff than the sample holds: tighten it.
                cutoff = merged.last().map(|s: &Sampled| s.hash);
                break;
            }
            merged.extend(next);
        }
        self.sample = merged;
        self.cutoff = cutoff;
    }

    pub fn summary(&self, n: usize) -> RareSummary {
        let rare_in_sample = self
            .sample
            .iter()
            .filter(|s| s.count <= RARE_THRESHOLD)
            .count() as f64;
        let mut rows: Vec<RareRow> = self
            .sample
            .iter()
            .map(|s| {
                let (first_seen, last_seen) = s.seen.ms();
                RareRow {
                    value: s.value.clone(),
                    count: s.count,
                    first_seen,
                    last_seen,
                }
            })
            .collect();
        rows.sort_by(|a, b| a.count.cmp(&b.count).then_with(|| a.value.cmp(&b.value)));
        rows.truncate(n);
        let (sample_fraction, rare_total, lower, upper, confidence) = match self.cutoff {
            None => (1.0, rare_in_sample, rare_in_sample, rare_in_sample, 1.0),
            Some(cutoff) => {
                let fraction = (cutoff as f64 + 1.0) / 2f64.powi(64);
                let total = rare_in_sample / fraction;
                // None found: the rule of three bounds the total at 95%.
                let (lower, upper) = if rare_in_sample == 0.0 {
                    (0.0, 3.0 / fraction)
                } else {
                    let spread = Z_95 / rare_in_sample.sqrt();
                    (
                        (total * (1.0 - spread)).max(rare_in_sample),
                        total * (1.0 + spread),
                    )
                };
                (fraction, total, lower, upper, RARE_TOTAL_CONFIDENCE)
            }
        };
        RareSummary {
            rows,
            sample_fraction,
            rare_total,
            rare_total_lower: lower,
            rare_total_upper: upper,
            confidence,
            threshold: RARE_THRESHOLD,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let base = self
            .sample
            .iter()
            .filter_map(|s| s.seen.0)
            .map(|(f, _)| f)
            .min();
        let offsets = |seen: Seen| {
            let (first, last) = seen.0?;
            let from_base = first.checked_sub(base?)?;
            Some((from_base.unsigned_abs(), last.abs_diff(first)))
        };
        let wire = Wire {
            cutoff: self.cutoff,
            base,
            values: self
                .sample
                .iter()
                .map(|s| (s.value.clone(), s.count, offsets(s.seen)))
                .collect(),
        };
        super::bytes::encode_nested(&wire)
    }

    /// Reads `to_bytes` output. Hashes are recomputed from the values, so crafted bytes
    /// cannot place a value outside the hash order or above the cutoff; sizes are checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SketchError> {
        let corrupt = |message: String| SketchError::new("rare items", message);
        let wire: Wire = super::bytes::decode_nested(bytes, "rare items")?;
        let n = wire.values.len();
        if n > RARE_SAMPLE_SIZE {
            return Err(corrupt(format!(
                "{n} sampled values, at most {RARE_SAMPLE_SIZE} allowed"
            )));
        }
        let times = |offsets: Option<Offsets>| -> Result<Seen, SketchError> {
            let Some((from_base, span)) = offsets else {
                return Ok(Seen(None));
            };
            let add = |t: Option<i64>, d: u64| t?.checked_add(i64::try_from(d).ok()?);
            match add(add(wire.base, from_base), span).zip(add(wire.base, from_base)) {
                Some((last, first)) => Ok(Seen(Some((first, last)))),
                None => Err(corrupt("a first or last seen time out of range".into())),
            }
        };
        let mut sample = Vec::with_capacity(n);
        for (value, count, offsets) in wire.values {
            sample.push(Sampled {
                hash: xxh3_64(value.as_bytes()),
                value,
                count,
                seen: times(offsets)?,
            });
        }
        sample.sort_by_key(|s| s.hash);
        sample.dedup_by_key(|s| s.hash);
        if sample.len() != n || sample.iter().any(|s| s.count == 0) {
            return Err(corrupt("duplicate values or zero counts".into()));
        }
        if let (Some(c), Some(last)) = (wire.cutoff, sample.last())
            && last.hash > c
        {
            return Err(corrupt("a sampled value lies above the cutoff".into()));
        }
        Ok(Self {
            sample,
            cutoff: wire.cutoff,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    cutoff: Option<u64>,
    /// The earliest first-seen second of the sample.
    base: Option<i64>,
    /// In hash order: value, count, and when timed, its offsets.
    values: Vec<(String, u64, Option<Offsets>)>,
}

/// (first seen − `Wire::base`, last seen − first seen) in seconds: small numbers, so a few
/// bytes each.
type Offsets = (u64, u64);

impl fmt::Debug for RareItems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RareItems")
            .field("sampled", &self.sample.len())
            .field("cutoff", &self.cutoff)
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
            items.update(value, None);
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
        // First and last seen, to the second, through the wire; untimed events add none.
        r.update("timed", Some(1_795_046_401_500));
        r.update("timed", None);
        r.update("timed", Some(1_795_046_399_999));
        let r = RareItems::from_bytes(&r.to_bytes()).unwrap();
        let timed = r
            .summary(10)
            .rows
            .into_iter()
            .find(|row| row.value == "timed")
            .unwrap();
        assert_eq!(
            (timed.count, timed.first_seen, timed.last_seen),
            (3, Some(1_795_046_399_000), Some(1_795_046_401_000))
        );
        let once = r
            .summary(10)
            .rows
            .into_iter()
            .find(|row| row.value == "once-a")
            .unwrap();
        assert_eq!((once.first_seen, once.last_seen), (None, None));
    }

    #[test]
    fn a_value_rare_in_one_partial_but_frequent_in_another_is_not_rare() {
        let (mut a, mut b) = (RareItems::new(), RareItems::new());
        feed(&mut a, "10.0.0.1", 1);
        feed(&mut b, "10.0.0.1", 50);
        // Saturate both with noise so cutoffs apply.
        for i in 0..5000 {
            a.update(&format!("a{i}"), None);
            b.update(&format!("b{i}"), None);
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
            parts[(i % 8) as usize].update(&v, None);
            *truth.entry(v).or_default() += 1;
        }
        for i in 0..2_000u32 {
            for j in 0..10u32 {
                let v = format!("common-{i}");
                parts[((i + j) % 8) as usize].update(&v, None);
                *truth.entry(v).or_default() += 1;
            }
        }
        let mut total = RareItems::new();
        for p in &parts {
            total.merge(p);
        }
        for s in &total.sample {
            assert_eq!(s.count, truth[&s.value], "{}", s.value);
        }
        let s = total.summary(10);
        assert!(s.sample_fraction < 0.1 && s.sample_fraction > 0.02, "{s:?}");
        assert!((s.rare_total - 20_000.0).abs() / 20_000.0 < 0.15, "{s:?}");
        assert!(s.rare_total_lower <= 20_000.0 && 20_000.0 <= s.rare_total_upper);
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
            let time = (i % 7 != 0).then_some(i64::from(i) * 1000);
            parts[(i % 5) as usize].update(&format!("v{}", i % 3000), time);
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
        // `vK` is seen at i = K, K + 3000 and K + 6000, timed unless i is a multiple of 7:
        // each sampled row holds the earliest and latest of those, whatever the merge.
        for row in fwd.summary(RARE_SAMPLE_SIZE).rows {
            let k: i64 = row.value[1..].parse().unwrap();
            let times: Vec<i64> = [k, k + 3000, k + 6000]
                .into_iter()
                .filter(|i| i % 7 != 0)
                .map(|i| i * 1000)
                .collect();
            assert_eq!(row.count, 3);
            assert_eq!(row.first_seen, times.first().copied(), "{}", row.value);
            assert_eq!(row.last_seen, times.last().copied(), "{}", row.value);
        }
        assert!(RareItems::from_bytes(&[1, 2, 3]).is_err());
    }
}
