//! Time histogram (for `timechart` and the page's event-rate strip): exact event counts per
//! time bucket over the query's time range. The bucket width comes from the range, from a
//! ladder of clock-friendly widths, so that every partial of one query buckets identically
//! and merging is element-wise addition. Events outside the range are counted, not
//! bucketed: memory is bounded by the range, never by the data.

use serde::{Deserialize, Serialize};

use super::SketchError;

/// Bucket widths in seconds: 1 s … 1 week, steps a person reads at a glance.
pub const SPANS: [i64; 15] = [
    1, 5, 10, 30, 60, 300, 600, 1_800, 3_600, 10_800, 21_600, 43_200, 86_400, 604_800, 2_592_000,
];
/// Most buckets a histogram may have (a decoded one is held to it too).
pub const MAX_BUCKETS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Wire")]
pub struct TimeHistogram {
    /// Start of the first bucket, Unix seconds, a multiple of `span`.
    start: i64,
    /// Bucket width, seconds (one of `SPANS`).
    span: i64,
    counts: Vec<u64>,
    /// Events before `start` / at or after the last bucket's end.
    before: u64,
    after: u64,
}

impl TimeHistogram {
    /// Buckets covering `[start, end)` (Unix seconds) with the narrowest span that needs at
    /// most `target` buckets (`target` ≤ `MAX_BUCKETS`); bucket edges fall on multiples of the
    /// span, so an hourly chart starts on the hour.
    pub fn for_range(start: i64, end: i64, target: usize) -> Result<Self, SketchError> {
        let invalid = |message: String| SketchError::new("time histogram", message);
        if end <= start {
            return Err(invalid(format!("empty time range [{start}, {end})")));
        }
        let target = target.clamp(1, MAX_BUCKETS) as i64;
        // Buckets needed with edges aligned to the span: the first span that fits wins.
        let (first, span, buckets) = SPANS
            .iter()
            .find_map(|&span| {
                let first = start.div_euclid(span) * span;
                let buckets = ceil_div(end.checked_sub(first)?, span);
                (buckets <= target).then_some((first, span, buckets))
            })
            .ok_or_else(|| {
                invalid(format!(
                    "[{start}, {end}) needs more than {target} buckets of any width"
                ))
            })?;
        Ok(Self {
            start: first,
            span,
            counts: vec![0; buckets as usize],
            before: 0,
            after: 0,
        })
    }

    /// Counts one event at `time` (Unix seconds).
    pub fn update(&mut self, time: i64) {
        if time < self.start {
            self.before += 1;
            return;
        }
        match self
            .counts
            .get_mut(((time - self.start) / self.span) as usize)
        {
            Some(count) => *count += 1,
            None => self.after += 1,
        }
    }

    pub fn merge(&mut self, other: &TimeHistogram) -> Result<(), SketchError> {
        if (self.start, self.span, self.counts.len())
            != (other.start, other.span, other.counts.len())
        {
            return Err(SketchError::new(
                "time histogram",
                "partials bucket different time ranges",
            ));
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        self.before = self.before.saturating_add(other.before);
        self.after = self.after.saturating_add(other.after);
        Ok(())
    }

    /// Bucket width, seconds.
    pub fn span(&self) -> i64 {
        self.span
    }

    /// `(bucket start, count)` in time order.
    pub fn buckets(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        (0i64..)
            .map(|i| self.start + i * self.span)
            .zip(self.counts.iter().copied())
    }

    /// Events that fell outside the range: (before it, after it).
    pub fn outside(&self) -> (u64, u64) {
        (self.before, self.after)
    }

    /// Checks a decoded histogram: a valid span, aligned start, bounded length.
    fn validate(&self) -> Result<(), SketchError> {
        let ok = SPANS.contains(&self.span)
            && self.start.rem_euclid(self.span) == 0
            && !self.counts.is_empty()
            && self.counts.len() <= MAX_BUCKETS;
        if ok {
            Ok(())
        } else {
            Err(SketchError::new(
                "time histogram",
                format!(
                    "span {} s, start {}, {} buckets is not a histogram this build makes",
                    self.span,
                    self.start,
                    self.counts.len()
                ),
            ))
        }
    }
}

/// The same fields as read off the wire, checked before they become a histogram: crafted
/// bytes cannot make one this build would not (and so cannot break `merge`'s arithmetic).
#[derive(Deserialize)]
struct Wire {
    start: i64,
    span: i64,
    counts: Vec<u64>,
    before: u64,
    after: u64,
}

impl TryFrom<Wire> for TimeHistogram {
    type Error = SketchError;

    fn try_from(wire: Wire) -> Result<Self, SketchError> {
        let histogram = TimeHistogram {
            start: wire.start,
            span: wire.span,
            counts: wire.counts,
            before: wire.before,
            after: wire.after,
        };
        histogram.validate()?;
        Ok(histogram)
    }
}

/// ⌈a / b⌉ for a ≥ 0, b > 0, without overflow (`i64::div_ceil` is unstable).
fn ceil_div(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    /// 2026-11-15T00:00:00Z.
    const T0: i64 = 1_763_164_800;

    #[test]
    fn the_span_comes_from_the_range_and_edges_fall_on_it() {
        let week = TimeHistogram::for_range(T0 + 1_234, T0 + 7 * DAY, 200).unwrap();
        assert_eq!(week.span(), 3_600);
        assert_eq!(week.buckets().next(), Some((T0, 0)));
        assert_eq!(week.buckets().count(), 7 * 24);
        let hour = TimeHistogram::for_range(T0, T0 + 3_600, 100).unwrap();
        assert_eq!(hour.span(), 60);
        assert!(TimeHistogram::for_range(T0, T0, 100).is_err());
        assert!(TimeHistogram::for_range(0, i64::MAX, 10).is_err());
    }

    #[test]
    fn counts_are_exact_and_merge_in_any_order() {
        let new = || TimeHistogram::for_range(T0, T0 + DAY, 24).unwrap();
        let times: Vec<i64> = (0..10_000).map(|i| T0 - 100 + i * 9).collect();
        let whole = {
            let mut h = new();
            times.iter().for_each(|t| h.update(*t));
            h
        };
        let mut parts = [new(), new(), new()];
        for (i, t) in times.iter().enumerate() {
            parts[i % 3].update(*t);
        }
        let mut forward = new();
        let mut backward = new();
        parts.iter().for_each(|p| forward.merge(p).unwrap());
        parts.iter().rev().for_each(|p| backward.merge(p).unwrap());
        assert_eq!(forward, whole);
        assert_eq!(backward, whole);
        let in_first_hour = times
            .iter()
            .filter(|t| (T0..T0 + 3_600).contains(*t))
            .count();
        assert_eq!(whole.buckets().next(), Some((T0, in_first_hour as u64)));
        let before = times.iter().filter(|t| **t < T0).count() as u64;
        let after = times.iter().filter(|t| **t >= T0 + DAY).count() as u64;
        assert_eq!(whole.outside(), (before, after));
        assert!(before > 0 && after > 0);
        let total: u64 = whole.buckets().map(|(_, c)| c).sum();
        assert_eq!(total + before + after, times.len() as u64);
    }

    #[test]
    fn histograms_of_different_ranges_do_not_merge() {
        let mut a = TimeHistogram::for_range(T0, T0 + DAY, 24).unwrap();
        let b = TimeHistogram::for_range(T0, T0 + 2 * DAY, 24).unwrap();
        assert!(a.merge(&b).is_err());
    }

    #[test]
    fn crafted_histograms_are_refused() {
        let mut h = TimeHistogram::for_range(T0, T0 + DAY, 24).unwrap();
        assert!(h.validate().is_ok());
        h.span = 7;
        assert!(h.validate().is_err());
        let bytes = crate::sketch::bytes::encode_nested(&h);
        assert!(
            crate::sketch::bytes::decode_nested::<TimeHistogram>(&bytes, "time histogram").is_err()
        );
    }
}
