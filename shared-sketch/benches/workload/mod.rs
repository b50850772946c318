//! The sketch benchmark's workload (issue #3), shared by the native harness
//! (`benches/sketches.rs`) and the merge timing in headless Chromium
//! (`tests/wasm_merge_bench.rs`): source IPs Zipf(s = 1.1) over 1M addresses plus 50k
//! addresses seen 1–3 times each, shuffled together, with log-normal byte counts. Seeded,
//! so both targets build the same events.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Zipf};
use shared_sketch::{Agg, AggState, Command, Partial, Query};

/// Both halves of the benchmark build the same events from it.
pub const SEED: u64 = 20261122;
pub const ZIPF_IPS: u32 = 1_000_000;
pub const RARE_IPS: u32 = 50_000;
pub const TOP_N: u32 = 100;

pub struct Workload {
    /// Text of every address, by id: Zipf ranks first, then the planted rare ones.
    pub ips: Vec<String>,
    /// One source-address id per event.
    pub src: Vec<u32>,
    /// The events' source addresses as one text, in event order: sketches read values from
    /// contiguous memory as a worker reads them from its line buffer (not through a pointer
    /// per event into a million scattered strings, which would time cache misses).
    text: String,
    /// End of each event's address in `text`.
    ends: Vec<u32>,
    /// One byte count per event.
    pub bytes: Vec<f64>,
}

/// `top 100`, `dc`, `rare` on the source address and `p99` of bytes: the four sketches.
pub fn query() -> Query {
    let ip = || "src_ip".to_string();
    // Four sketches in one partial: more than one command's worth, so built directly.
    let aggs = vec![
        Agg::Distinct { field: ip() },
        Agg::Top {
            n: TOP_N,
            fields: vec![ip()],
        },
        Agg::Rare { n: 10, field: ip() },
        Agg::Quantile {
            field: "bytes".to_string(),
            hundredths: 9900,
        },
    ];
    Query::aggregating(Command::Stats { aggs, by: vec![] })
}

/// A bijection of u32 (odd multiplier), so ranks become scattered but distinct addresses.
fn address(id: u32) -> String {
    let x = id.wrapping_mul(0x9E37_79B1).wrapping_add(0x0A00_0000);
    let [a, b, c, d] = x.to_be_bytes();
    format!("{a}.{b}.{c}.{d}")
}

impl Workload {
    pub fn generate(events: usize, seed: u64) -> Workload {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let ips: Vec<String> = (0..ZIPF_IPS + RARE_IPS).map(address).collect();
        let mut src: Vec<u32> = Vec::with_capacity(events);
        for id in ZIPF_IPS..ZIPF_IPS + RARE_IPS {
            for _ in 0..rng.random_range(1..=3) {
                src.push(id);
            }
        }
        let zipf = Zipf::new(f64::from(ZIPF_IPS), 1.1).expect("valid Zipf parameters");
        while src.len() < events {
            // Ranks 1..=n as floats.
            src.push(zipf.sample(&mut rng) as u32 - 1);
        }
        src.shuffle(&mut rng);
        let lognormal = LogNormal::<f64>::new(7.0, 1.5).expect("valid log-normal parameters");
        let bytes = (0..events)
            .map(|_| lognormal.sample(&mut rng).round().max(1.0))
            .collect();
        let mut text = String::new();
        let mut ends = Vec::with_capacity(events);
        for &id in &src {
            text.push_str(&ips[id as usize]);
            ends.push(u32::try_from(text.len()).expect("workload text fits u32 offsets"));
        }
        Workload {
            ips,
            src,
            text,
            ends,
            bytes,
        }
    }

    /// Event `i`'s source address.
    pub fn ip(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// Event index ranges of `parts` contiguous, near-equal splits (like files in time order).
    pub fn splits(&self, parts: usize) -> Vec<std::ops::Range<usize>> {
        // In u64: on wasm32 `i * n` overflows usize.
        let (n, parts) = (self.src.len() as u64, parts as u64);
        (0..parts)
            .map(|i| (i * n / parts) as usize..((i + 1) * n / parts) as usize)
            .collect()
    }

    /// Event `i`'s time: the events span a week in order, as hourly files do (the rare
    /// sketch keeps first and last seen from it).
    pub fn time(&self, i: usize) -> i64 {
        const WEEK_MS: i64 = 7 * 86_400_000;
        T0_MS + (i as i64) * WEEK_MS / (self.src.len().max(1) as i64)
    }

    /// The partial one worker would return for `range` of the events.
    pub fn partial(&self, query: &Query, range: std::ops::Range<usize>) -> Partial {
        let mut partial = Partial::new(query);
        for i in range {
            let ip = self.ip(i);
            partial.all.totals.matched += 1;
            for agg in &mut partial.all.totals.states {
                match agg {
                    AggState::Quantile(q) => q.update(self.bytes[i]),
                    other => other.update(ip, Some(self.time(i))),
                }
            }
        }
        partial
    }
}

/// 2026-11-19T00:00:00Z.
const T0_MS: i64 = 1_795_046_400_000;

/// Merges `partials` in order, as the page does frame by frame.
pub fn merge_all(partials: &[Partial]) -> Partial {
    let mut merged = partials[0].clone();
    for p in &partials[1..] {
        merged.merge(p).expect("partials of one query merge");
    }
    merged
}
