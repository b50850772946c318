//! A segment's index sidecar: per page (one gzip member of the segment), its byte range,
//! rows, time range, a bloom filter of its tokens and each field's numeric range — what
//! `Matcher::may_match` needs to skip the page (see `shared_sketch::query::prune`).
//! Written with the shared codec (version byte + gzip(bincode)) and decoded with its
//! limits: a corrupt or outdated sidecar is an error, and the segment is then read whole.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use shared_sketch::query::{Indexed, Summary};
use xxhash_rust::xxh3::xxh3_128;

/// Filter bits per distinct token when the budget allows: with 10 probes, about 0.1% false
/// positives.
const BITS_PER_TOKEN: usize = 14;
/// A page's filter takes at most this share of the page's compressed bytes (per mille),
/// so the sidecar stays within 5% of the segment however many tokens a page has; a denser
/// page gets a filter with more false positives instead.
const FILTER_BUDGET_PER_MILLE: u64 = 40;
/// Fields with a numeric range kept per page; a page with more is never pruned by numbers.
const MAX_NUMERIC_FIELDS: usize = 256;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentIndex {
    /// The fields each event's time was read from, in order: a scan reading time from
    /// other fields cannot prune by these pages' times. No tokens are kept for their
    /// values (unique per event, they would only fill the filters).
    pub time_fields: Vec<String>,
    pub pages: Vec<PageIndex>,
    /// `LAYOUT` when written: what the pages record has changed since the first sidecars
    /// (see `LAYOUT`), and a segment whose sidecar says otherwise is read whole.
    pub layout: u32,
}

/// 2: array elements are recorded (a page holding `[22]` could be ruled out for `port:22`
/// before). A sidecar of layout 1 ends where this field begins: see `FirstLayout`.
pub const LAYOUT: u32 = 2;

/// A sidecar written before `layout` was: its times and rows hold, its tokens and numbers
/// lack array elements, so its pages are never ruled out by them.
#[derive(Deserialize)]
pub(crate) struct FirstLayout {
    time_fields: Vec<String>,
    pages: Vec<PageIndex>,
}

impl From<FirstLayout> for SegmentIndex {
    fn from(old: FirstLayout) -> SegmentIndex {
        SegmentIndex {
            time_fields: old.time_fields,
            pages: old
                .pages
                .into_iter()
                .map(|page| PageIndex {
                    complete: false,
                    ..page
                })
                .collect(),
            layout: LAYOUT,
        }
    }
}

impl SegmentIndex {
    /// The fields a reading of the segment takes events' times from: those ingest read
    /// them from (a Zeek row's `ts`, a CSV row's `Timestamp`), unless the options name one.
    pub fn time_fields_read(&self, options: &crate::scan::ScanOptions) -> Vec<String> {
        match &options.time_field {
            Some(field) => vec![field.clone()],
            None => self.time_fields.clone(),
        }
    }

    /// What `Matcher::may_match` asks of one of this segment's pages.
    pub fn summary<'a>(&'a self, page: &'a PageIndex) -> impl Summary + 'a {
        PageSummaryView {
            page,
            untokenized: &self.time_fields,
        }
    }
}

struct PageSummaryView<'a> {
    page: &'a PageIndex,
    untokenized: &'a [String],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageIndex {
    /// The page's gzip member: byte offset and length in the segment.
    pub offset: u64,
    pub length: u64,
    pub rows: u64,
    /// Line number of the page's first row in the segment (1-based).
    pub first_line: u64,
    /// Earliest and latest event time (epoch ms) among rows with a time.
    pub time: Option<(i64, i64)>,
    pub tokens: Bloom,
    /// Field → the least and greatest number it holds; `None` when the page had more
    /// numeric fields than are kept (then nothing is ruled out by numbers).
    pub numbers: Option<Vec<(String, f64, f64)>>,
    /// Every field of every row was recorded. A row nested past the reader's depth limit
    /// was not: then the page is never ruled out.
    pub complete: bool,
}

impl PageIndex {
    /// Some row may fall in `[start, end)`.
    pub fn may_overlap(&self, (start, end): (Option<i64>, Option<i64>)) -> bool {
        if start.is_none() && end.is_none() {
            return true;
        }
        self.time
            .is_some_and(|(lo, hi)| start.is_none_or(|s| hi >= s) && end.is_none_or(|e| lo < e))
    }
}

impl Summary for PageSummaryView<'_> {
    fn may_contain(&self, token: &[u8]) -> bool {
        !self.page.complete || self.page.tokens.may_contain(token)
    }

    fn has_tokens(&self, field: &str) -> bool {
        !self.untokenized.iter().any(|f| f == field)
    }

    fn numbers(&self, field: &str) -> Option<(f64, f64)> {
        const ANY: (f64, f64) = (f64::NEG_INFINITY, f64::INFINITY);
        match &self.page.numbers {
            Some(ranges) if self.page.complete => ranges
                .iter()
                .find(|(f, _, _)| f == field)
                .map(|&(_, lo, hi)| (lo, hi)),
            _ => Some(ANY),
        }
    }
}

/// A bloom filter over xxh3-128 of each token's bytes (two 64-bit halves give the
/// probes), so it reads the same on every platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bloom {
    probes: u8,
    words: Vec<u64>,
}

impl Bloom {
    /// A filter holding `hashes` (xxh3-128 of each token; duplicates allowed) in at most
    /// `max_bits` bits (at least 64).
    fn build(hashes: &mut Vec<u128>, max_bits: usize) -> Bloom {
        hashes.sort_unstable();
        hashes.dedup();
        let tokens = hashes.len().max(1);
        let words = (tokens * BITS_PER_TOKEN).min(max_bits).div_ceil(64).max(1);
        // The number of probes that minimises false positives: bits per token × ln 2.
        let probes = ((words * 64) as f64 / tokens as f64 * std::f64::consts::LN_2)
            .round()
            .clamp(1.0, 16.0) as u8;
        let mut bloom = Bloom {
            probes,
            words: vec![0; words],
        };
        for &hash in hashes.iter() {
            for bit in bits(probes, words, hash) {
                bloom.words[bit / 64] |= 1 << (bit % 64);
            }
        }
        bloom
    }

    pub fn may_contain(&self, token: &[u8]) -> bool {
        bits(self.probes, self.words.len(), xxh3_128(token)).all(|bit| {
            self.words
                .get(bit / 64)
                .is_some_and(|w| w & (1 << (bit % 64)) != 0)
        })
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.words.len() * 8
    }
}

/// The bits a token's hash sets in a filter of `words` words.
fn bits(probes: u8, words: usize, hash: u128) -> impl Iterator<Item = usize> {
    let bits = (words as u64 * 64).max(64);
    let (h1, h2) = (hash as u64, (hash >> 64) as u64 | 1);
    (0..u64::from(probes)).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % bits) as usize)
}

/// Gathers one page's summary as its rows are written.
#[derive(Debug, Default)]
pub(crate) struct PageSummary {
    incomplete: bool,
    rows: u64,
    time: Option<(i64, i64)>,
    hashes: Vec<u128>,
    numbers: HashMap<String, (f64, f64)>,
}

impl PageSummary {
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// One row; `complete` when all its fields were recorded.
    pub(crate) fn add_row(&mut self, time: Option<i64>, complete: bool) {
        self.rows += 1;
        self.incomplete |= !complete;
        if let Some(t) = time {
            self.time = Some(self.time.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
        }
    }

    pub(crate) fn record(&mut self, indexed: Indexed<'_>) {
        match indexed {
            Indexed::Token(token) => self.hashes.push(xxh3_128(&token)),
            Indexed::Number(field, n) => match self.numbers.get_mut(field) {
                Some((lo, hi)) => {
                    *lo = lo.min(n);
                    *hi = hi.max(n);
                }
                None => {
                    self.numbers.insert(field.to_string(), (n, n));
                }
            },
        }
    }

    /// The finished page at `offset..offset + length` of its segment; the summary is
    /// empty again after.
    pub(crate) fn finish(&mut self, offset: u64, length: u64, first_line: u64) -> PageIndex {
        let numbers = (self.numbers.len() <= MAX_NUMERIC_FIELDS).then(|| {
            let mut ranges: Vec<(String, f64, f64)> = self
                .numbers
                .drain()
                .map(|(field, (lo, hi))| (field, lo, hi))
                .collect();
            ranges.sort_by(|a, b| a.0.cmp(&b.0));
            ranges
        });
        let page = PageIndex {
            offset,
            length,
            rows: self.rows,
            first_line,
            time: self.time,
            tokens: Bloom::build(
                &mut self.hashes,
                (length * 8 * FILTER_BUDGET_PER_MILLE / 1000) as usize,
            ),
            numbers,
            complete: !self.incomplete,
        };
        *self = PageSummary::default();
        page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bloom_holds_what_it_was_given_and_rarely_more() {
        let tokens: Vec<Vec<u8>> = (0..5000)
            .map(|i| format!("ip=10.0.{i}").into_bytes())
            .collect();
        let mut hashes: Vec<u128> = tokens.iter().map(|t| xxh3_128(t)).collect();
        let bloom = Bloom::build(&mut hashes, usize::MAX);
        assert!(tokens.iter().all(|t| bloom.may_contain(t)));
        let false_positives = (0..100_000)
            .filter(|i| bloom.may_contain(format!("ip=192.168.{i}").as_bytes()))
            .count();
        // 14 bits and 10 probes per token: about 0.1%.
        assert!(false_positives < 250, "{false_positives} in 100,000");
        assert_eq!(bloom.bytes(), (5000 * 14usize).div_ceil(64) * 8);

        // Over budget: fewer bits, more false positives, still no false negatives.
        let small = Bloom::build(&mut hashes, 5000 * 4);
        assert_eq!(small.bytes(), (5000 * 4usize).div_ceil(64) * 8);
        assert!(tokens.iter().all(|t| small.may_contain(t)));
    }

    #[test]
    fn pages_bound_time_and_numbers() {
        let mut summary = PageSummary::default();
        summary.add_row(Some(2_000), true);
        summary.add_row(None, true);
        summary.add_row(Some(1_000), true);
        summary.record(Indexed::Number("bytes", 5.0));
        summary.record(Indexed::Number("bytes", -1.0));
        let page = summary.finish(0, 10, 1);
        assert_eq!(page.time, Some((1_000, 2_000)));
        assert_eq!(page.rows, 3);
        let segment = SegmentIndex {
            time_fields: vec!["ts".to_string()],
            pages: vec![page.clone()],
            layout: LAYOUT,
        };
        let view = segment.summary(&page);
        assert_eq!(view.numbers("bytes"), Some((-1.0, 5.0)));
        assert_eq!(view.numbers("packets"), None);
        assert!(!view.has_tokens("ts") && view.has_tokens("bytes"));
        assert!(page.may_overlap((Some(2_000), None)));
        assert!(!page.may_overlap((Some(2_001), None)));
        assert!(!page.may_overlap((None, Some(1_000))));
        assert!(page.may_overlap((None, None)));
        assert_eq!(summary.rows(), 0);
    }
}
