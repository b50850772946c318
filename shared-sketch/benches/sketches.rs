//! `cargo xtask bench sketches`: accuracy, size and speed of every sketch against exact
//! answers on the issue #3 workload (10M events split into 64 partials). A measured harness
//! rather than criterion because most of what it reports is error, not time; timings are
//! medians of repeated runs in this one process.
//!
//! `SKETCH_BENCH_EVENTS=1000000` runs a smaller workload for a quick look.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a bench: a panic is the report

mod workload;

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use flate2::{Compression, write::GzEncoder};
use shared_sketch::sketch::{DistinctCount, Quantiles, RARE_THRESHOLD, RareItems, TopK};
use shared_sketch::{AggState, Partial, decode, encode};
use workload::{SEED, TOP_N, Workload, merge_all};

const PARTS: usize = 64;
const DC_TRIALS: u64 = 40;
const QUANTILES: [f64; 4] = [0.5, 0.9, 0.99, 0.999];

/// Exact answers, counted value by value.
struct Truth {
    /// Events per address id.
    counts: Vec<u64>,
    distinct: usize,
    /// Ids in descending count order (ties by id).
    ranked: Vec<u32>,
    rare: usize,
    sorted_bytes: Vec<f64>,
    ids: HashMap<String, u32>,
}

impl Truth {
    fn of(w: &Workload) -> Truth {
        let mut counts = vec![0u64; w.ips.len()];
        for &id in &w.src {
            counts[id as usize] += 1;
        }
        let mut ranked: Vec<u32> = (0..counts.len() as u32)
            .filter(|&id| counts[id as usize] > 0)
            .collect();
        ranked.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
        let rare = counts
            .iter()
            .filter(|&&c| (1..=RARE_THRESHOLD).contains(&c))
            .count();
        let mut sorted_bytes = w.bytes.clone();
        sorted_bytes.sort_by(f64::total_cmp);
        let ids = w.ips.iter().cloned().zip(0..).collect();
        Truth {
            ids,
            distinct: ranked.len(),
            counts,
            ranked,
            rare,
            sorted_bytes,
        }
    }

    fn count_of(&self, ip: &str) -> u64 {
        self.ids.get(ip).map_or(0, |&id| self.counts[id as usize])
    }
}

/// One line of the report: what, target, measured, and whether it holds.
struct Report(Vec<[String; 4]>);

impl Report {
    fn row(&mut self, what: &str, target: &str, measured: String, ok: Option<bool>) {
        let mark = match ok {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        self.0
            .push([what.into(), target.into(), measured, mark.into()]);
    }

    fn print(&self) {
        println!("\n| measure | target | measured | met |\n|---|---|---|---|");
        for [a, b, c, d] in &self.0 {
            println!("| {a} | {b} | {c} | {d} |");
        }
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn timed<T>(reps: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap().len()
}

/// Median time to build one fresh sketch per split from its events.
fn feed<S>(
    splits: &[std::ops::Range<usize>],
    new: impl Fn() -> S,
    update: impl Fn(&mut S, usize),
) -> Duration {
    timed(3, || {
        for r in splits {
            let mut sketch = new();
            r.clone().for_each(|i| update(&mut sketch, i));
            std::hint::black_box(sketch);
        }
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn pct(x: f64) -> String {
    format!("{:.3}%", x * 100.0)
}

fn main() {
    let events: usize = std::env::var("SKETCH_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let t = Instant::now();
    let w = Workload::generate(events, SEED);
    let truth = Truth::of(&w);
    println!(
        "workload: {events} events, {} distinct sources ({} rare: seen ≤ {RARE_THRESHOLD} times), \
         {PARTS} partials; generated and counted exactly in {:.1?}",
        truth.distinct,
        truth.rare,
        t.elapsed()
    );
    let query = workload::query();
    let splits = w.splits(PARTS);
    let t = Instant::now();
    let partials: Vec<Partial> = splits
        .iter()
        .map(|r| w.partial(&query, r.clone()))
        .collect();
    let build = t.elapsed();
    let merged = merge_all(&partials);
    let mut report = Report(Vec::new());

    accuracy(&truth, &merged, &mut report);
    dc_rms(truth.distinct, &mut report);
    sizes(&query, &partials, &merged, &mut report);
    speed(&w, &splits, &partials, build, &mut report);
    report.print();
}

fn accuracy(truth: &Truth, merged: &Partial, report: &mut Report) {
    let [
        AggState::Distinct(dc),
        AggState::Top(top),
        AggState::Rare(rare),
        AggState::Quantile(quantiles),
    ] = &merged.all.totals.states[..]
    else {
        panic!("the workload query has four aggregates");
    };

    let e = dc.estimate();
    let error = e.estimate / truth.distinct as f64 - 1.0;
    report.row(
        "dc: error on this workload",
        "",
        format!(
            "{} (estimate {:.0}, true {}, {:.0}% interval [{:.0}, {:.0}])",
            pct(error),
            e.estimate,
            truth.distinct,
            e.confidence * 100.0,
            e.lower,
            e.upper
        ),
        None,
    );

    let n = TOP_N as usize;
    let rows = top.top(n);
    let true_nth = truth.counts[truth.ranked[n - 1] as usize];
    let true_next = truth.counts[truth.ranked[n] as usize];
    let mut max_error = 0f64;
    let mut within_bounds = true;
    let mut wrong_members = 0;
    for row in &rows {
        let true_count = truth.count_of(&row.value);
        max_error = max_error.max((row.estimate as f64 / true_count as f64 - 1.0).abs());
        within_bounds &= row.lower <= true_count && true_count <= row.upper;
        // With ties at the boundary any of the tied values is a correct member.
        if true_count < true_nth {
            wrong_members += 1;
        }
    }
    report.row(
        "top-100: values not in the true top 100",
        "0",
        format!(
            "{wrong_members} (100th true count {true_nth}, 101st {true_next}; \
             every true count within its [lower, upper]: {within_bounds})"
        ),
        Some(wrong_members == 0 && rows.len() == n),
    );
    report.row(
        "top-100: max count error",
        "≤ 0.2%",
        format!(
            "{} (sketch maximum error {})",
            pct(max_error),
            top.maximum_error()
        ),
        Some(max_error <= 0.002),
    );

    let summary = rare.summary(usize::MAX);
    let reported: Vec<_> = summary
        .rows
        .iter()
        .filter(|r| r.count <= RARE_THRESHOLD)
        .collect();
    let truly_rare = reported
        .iter()
        .filter(|r| (1..=RARE_THRESHOLD).contains(&truth.count_of(&r.value)))
        .count();
    let exact = reported
        .iter()
        .filter(|r| truth.count_of(&r.value) == r.count)
        .count();
    let precision = truly_rare as f64 / reported.len() as f64;
    report.row(
        "rare: precision (reported rare values truly rare)",
        "1.0",
        format!("{precision:.4} ({truly_rare} of {})", reported.len()),
        Some(truly_rare == reported.len()),
    );
    report.row(
        "rare: counts exact within the sample",
        "all",
        format!("{exact} of {}", reported.len()),
        Some(exact == reported.len()),
    );
    let total_error = summary.rare_total / truth.rare as f64 - 1.0;
    let t = truth.rare as f64;
    report.row(
        "rare: estimated number of rare values",
        "±1%",
        format!(
            "{} (estimate {:.0}, true {}, {:.0}% interval [{:.0}, {:.0}], holds the truth: {}; \
             sample fraction {:.5})",
            pct(total_error),
            summary.rare_total,
            truth.rare,
            summary.confidence * 100.0,
            summary.rare_total_lower,
            summary.rare_total_upper,
            summary.rare_total_lower <= t && t <= summary.rare_total_upper,
            summary.sample_fraction
        ),
        Some(total_error.abs() <= 0.01),
    );

    let n = truth.sorted_bytes.len();
    let errors: Vec<(f64, f64)> = QUANTILES
        .iter()
        .map(|&q| {
            let exact = truth.sorted_bytes[(q * (n - 1) as f64).floor() as usize];
            (q, quantiles.quantile(q).unwrap() / exact - 1.0)
        })
        .collect();
    let worst = errors.iter().map(|(_, e)| e.abs()).fold(0f64, f64::max);
    let errors: Vec<String> = errors
        .iter()
        .map(|(q, e)| format!("p{}: {}", q * 100.0, pct(*e)))
        .collect();
    report.row(
        "quantiles: value error",
        "≤ 1%",
        errors.join(", "),
        Some(worst <= 0.01),
    );
}

/// RMS relative error of `dc` over independent trials of `distinct` values, each split
/// into `PARTS` partials and merged (HLL error depends on the hashes, not on frequencies).
fn dc_rms(distinct: usize, report: &mut Report) {
    let mut squares = 0.0;
    let mut covered = 0;
    for trial in 0..DC_TRIALS {
        let mut parts: Vec<DistinctCount> = (0..PARTS).map(|_| DistinctCount::new()).collect();
        for i in 0..distinct as u64 {
            let value = (trial << 40 | i).to_le_bytes();
            parts[(i as usize * PARTS) / distinct].update(&value);
        }
        let mut merged = parts[0].clone();
        for p in &parts[1..] {
            merged.merge(p);
        }
        let e = merged.estimate();
        squares += (e.estimate / distinct as f64 - 1.0).powi(2);
        covered += usize::from(e.lower <= distinct as f64 && distinct as f64 <= e.upper);
    }
    let rms = (squares / DC_TRIALS as f64).sqrt();
    report.row(
        "dc: RMS error over trials",
        "≤ 0.8%",
        format!(
            "{} ({DC_TRIALS} trials of {distinct} values in {PARTS} partials; \
             true count inside the interval in {covered})",
            pct(rms)
        ),
        Some(rms <= 0.008),
    );
}

fn sizes(
    query: &shared_sketch::Query,
    partials: &[Partial],
    merged: &Partial,
    report: &mut Report,
) {
    let encoded: Vec<Vec<u8>> = partials.iter().map(|p| encode(p).unwrap()).collect();
    let largest = encoded.iter().map(Vec::len).max().unwrap();
    let mean = encoded.iter().map(Vec::len).sum::<usize>() / encoded.len();
    let per_sketch: Vec<String> = partials[0]
        .all
        .totals
        .states
        .iter()
        .map(|agg| {
            let (name, raw) = match agg {
                AggState::Distinct(s) => ("dc", s.to_bytes()),
                AggState::Top(s) => ("top", s.to_bytes()),
                AggState::Rare(s) => ("rare", s.to_bytes()),
                AggState::Quantile(s) => ("p99", s.to_bytes()),
                _ => unreachable!("four sketches"),
            };
            format!("{name} {:.1}", gzip_len(&raw) as f64 / 1024.0)
        })
        .collect();
    report.row(
        "wire size of one 4-sketch partial (gzipped frame)",
        "≤ 32 KiB",
        format!(
            "max {:.1} KiB, mean {:.1} KiB (first partial, KiB gzipped: {})",
            largest as f64 / 1024.0,
            mean as f64 / 1024.0,
            per_sketch.join(", ")
        ),
        Some(largest <= 32 * 1024),
    );
    let json = serde_json::to_vec(&partials[0]).unwrap();
    report.row(
        "wire vs JSON, same partial",
        "report",
        format!(
            "wire {} B; JSON {} B ({:.1}x), JSON gzipped {} B ({:.2}x)",
            encoded[0].len(),
            json.len(),
            json.len() as f64 / encoded[0].len() as f64,
            gzip_len(&json),
            gzip_len(&json) as f64 / encoded[0].len() as f64
        ),
        None,
    );
    let result = serde_json::to_vec(&merged.result(query)).unwrap();
    report.row(
        "merged answer as the API's JSON (rows, not sketches)",
        "report",
        format!("{} B, {} B gzipped", result.len(), gzip_len(&result)),
        None,
    );
}

fn speed(
    w: &Workload,
    splits: &[std::ops::Range<usize>],
    partials: &[Partial],
    build: Duration,
    report: &mut Report,
) {
    let events = w.src.len() as f64;
    let rate = |d: Duration| format!("{:.1}M/s", events / d.as_secs_f64() / 1e6);
    let ip = |i: usize| w.ip(i);
    // Each sketch alone, fresh per split as in a worker, on one core.
    let rates = [
        (
            "dc",
            feed(splits, DistinctCount::new, |s, i| {
                s.update(ip(i).as_bytes())
            }),
        ),
        ("top", feed(splits, TopK::new, |s, i| s.update(ip(i)))),
        (
            "rare",
            feed(splits, RareItems::new, |s, i| {
                s.update(ip(i), Some(w.time(i)))
            }),
        ),
        (
            "quantile",
            feed(splits, Quantiles::new, |s, i| s.update(w.bytes[i])),
        ),
    ];
    for (name, d) in rates {
        report.row(
            &format!("updates/s/core: {name}"),
            "≥ 15M/s",
            rate(d),
            Some(events / d.as_secs_f64() >= 15e6),
        );
    }
    report.row(
        "updates/s/core: all four sketches of one event",
        "report",
        rate(build),
        None,
    );
    let merge = timed(21, || merge_all(partials));
    report.row(
        "64-way merge (native, decoded partials)",
        "≤ 10 ms",
        ms(merge),
        Some(merge <= Duration::from_millis(10)),
    );
    let names = ["dc", "top", "rare", "quantile"];
    let each: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let alone: Vec<Partial> = partials
                .iter()
                .map(|p| {
                    let mut alone = p.clone();
                    alone.all.totals.states = vec![p.all.totals.states[k].clone()];
                    alone
                })
                .collect();
            format!("{name} {}", ms(timed(21, || merge_all(&alone))))
        })
        .collect();
    report.row(
        "64-way merge, each sketch alone",
        "report",
        each.join(", "),
        None,
    );
    let encoded: Vec<Vec<u8>> = partials.iter().map(|p| encode(p).unwrap()).collect();
    let decode_merge = timed(11, || {
        let decoded: Vec<Partial> = encoded.iter().map(|b| decode(b).unwrap()).collect();
        merge_all(&decoded)
    });
    report.row(
        "64-way decode + merge (native, from wire bytes)",
        "report",
        ms(decode_merge),
        None,
    );
}
