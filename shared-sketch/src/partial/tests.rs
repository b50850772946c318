//! Merging partials: in any order, the same answer.

use std::collections::HashMap;

use std::borrow::Cow;

use super::*;
use crate::aggregate::MergeError;
use crate::limits::{
    MAX_FILE_ERRORS, MAX_GROUPS, MAX_HIT_BYTES, MAX_HITS, MAX_HITS_LIMIT, MAX_HITS_TEXT,
};
use crate::query::{Fields, Query, parse};
use crate::result::AggValue;

/// An event as field → value.
struct Event(HashMap<&'static str, String>);

impl Fields for Event {
    fn get(&self, field: &str) -> Option<Cow<'_, str>> {
        self.0.get(field).map(|v| Cow::Borrowed(v.as_str()))
    }
}

fn event(pairs: &[(&'static str, &str)]) -> Event {
    Event(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
}

/// `parts` merged first to last and last to first.
fn merged_both_ways(query: &Query, parts: &[Partial]) -> (Partial, Partial) {
    let mut forward = Partial::new(query);
    let mut backward = Partial::new(query);
    for p in parts {
        forward.merge(p).unwrap();
    }
    for p in parts.iter().rev() {
        backward.merge(p).unwrap();
    }
    (forward, backward)
}

fn partial(query: &Query, values: &[&str]) -> Partial {
    let mut a = Aggregator::new(query);
    for v in values {
        a.add(&event(&[("x", v)]), None);
    }
    a.finish()
}

#[test]
fn merge_adds_counts_and_sketches() {
    let q = parse("| stats count, dc(x)").unwrap();
    let mut a = partial(&q, &["a", "b"]);
    a.merge(&partial(&q, &["b", "c", "d"])).unwrap();
    let r = a.result(&q);
    assert_eq!(r.matched, 5);
    assert_eq!(r.aggs[0].value, AggValue::Count { value: 5 });
    match &r.aggs[1].value {
        AggValue::Distinct(e) => assert_eq!(e.estimate.round(), 4.0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn numeric_aggregates_and_quantiles_merge() {
    let q = parse("| stats sum(x), avg(x), min(x), max(x), p50(x)").unwrap();
    let mut a = partial(&q, &["1", "2", "oops", "3"]);
    a.merge(&partial(&q, &["4", "100"])).unwrap();
    let values: Vec<Option<f64>> = a
        .result(&q)
        .aggs
        .into_iter()
        .map(|r| r.value.number())
        .collect();
    assert_eq!(
        values[..4],
        [Some(110.0), Some(22.0), Some(1.0), Some(100.0)]
    );
    let p50 = values[4].unwrap();
    assert!((p50 - 3.0).abs() <= 0.03, "{p50}");
}

#[test]
fn a_top_over_two_fields_counts_their_pairs() {
    let q = parse("| top 10 src, dst").unwrap();
    let mut a = Aggregator::new(&q);
    let flows = [
        ("10.0.0.1", "8.8.8.8"),
        ("10.0.0.1", "8.8.8.8"),
        ("10.0.0.1", "1.1.1.1"),
        // A separator-like value splits back exactly.
        ("a → b", "1:c"),
    ];
    for (src, dst) in flows {
        a.add(&event(&[("src", src), ("dst", dst)]), None);
    }
    // Without both fields an event is in no pair (it still matched).
    a.add(&event(&[("src", "10.0.0.9")]), None);
    let r = a.finish().result(&q);
    assert_eq!(r.matched, 5);
    let AggValue::Top { rows, .. } = &r.aggs[0].value else {
        panic!("{:?}", r.aggs[0])
    };
    let rows: Vec<(&str, Vec<&str>, u64)> = rows
        .iter()
        .map(|r| {
            let parts = r.values.iter().map(String::as_str).collect();
            (r.value.as_str(), parts, r.estimate)
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("10.0.0.1 → 8.8.8.8", vec!["10.0.0.1", "8.8.8.8"], 2),
            ("10.0.0.1 → 1.1.1.1", vec!["10.0.0.1", "1.1.1.1"], 1),
            ("a → b → 1:c", vec!["a → b", "1:c"], 1),
        ]
    );
}

#[test]
fn merge_rejects_partials_of_another_query() {
    let a = parse("| stats count, dc(x)").unwrap();
    let b = parse("| top 3 x").unwrap();
    let mut pa = Partial::new(&a);
    assert!(matches!(
        pa.merge(&Partial::new(&b)),
        Err(MergeError::Shape { .. })
    ));
    let c = parse("| stats dc(x), count").unwrap();
    assert!(matches!(
        pa.merge(&Partial::new(&c)),
        Err(MergeError::Kind { index: 0 })
    ));
    let d = parse("| stats count, dc(x) by y").unwrap();
    assert!(matches!(
        pa.merge(&Partial::new(&d)),
        Err(MergeError::Grouping)
    ));
}

#[test]
fn groups_are_exact_and_sorted_by_size() {
    let q = parse("| stats count, dc(x) by action, port | where count > 1").unwrap();
    let mut a = Aggregator::new(&q);
    for (action, port, x) in [
        ("ACCEPT", "22", "a"),
        ("REJECT", "22", "a"),
        ("REJECT", "22", "b"),
        ("REJECT", "443", "c"),
        ("ACCEPT", "22", "d"),
        ("ACCEPT", "22", "d"),
    ] {
        a.add(
            &event(&[("action", action), ("port", port), ("x", x)]),
            None,
        );
    }
    // No `port`: counted in the totals, in no group.
    a.add(&event(&[("action", "ACCEPT")]), None);
    let r = a.finish().result(&q);
    assert_eq!(r.matched, 7);
    let groups = r.groups.unwrap();
    assert!(groups.complete && groups.other.is_none());
    let rows: Vec<(Vec<String>, u64)> = groups
        .rows
        .iter()
        .map(|g| (g.key.clone(), g.matched))
        .collect();
    // REJECT/443 (one event) is filtered out by `where count > 1`.
    assert_eq!(
        rows,
        [
            (vec!["ACCEPT".into(), "22".into()], 3),
            (vec!["REJECT".into(), "22".into()], 2)
        ]
    );
    assert_eq!(
        groups.rows[0].aggs[1].value.number().map(f64::round),
        Some(2.0)
    );
}

#[test]
fn too_many_groups_keep_a_consistent_sample_whatever_the_merge_order() {
    let q = parse("| stats count by k").unwrap();
    let build = |range: std::ops::Range<u32>| {
        let mut a = Aggregator::new(&q);
        for i in range {
            // Every key twice, in different partials for odd keys.
            a.add(&event(&[("k", &format!("k{}", i % 900))]), None);
        }
        a.finish()
    };
    let parts = [build(0..700), build(700..1300), build(1300..1800)];
    let (forward, backward) = merged_both_ways(&q, &parts);
    let (f, b) = (forward.result(&q), backward.result(&q));
    assert_eq!(f, b);
    let groups = f.groups.unwrap();
    assert_eq!(groups.rows.len(), MAX_GROUPS);
    assert!(!groups.complete);
    // Named groups are exact: each key was seen twice.
    assert!(groups.rows.iter().all(|r| r.matched == 2));
    let other = groups.other.unwrap().matched;
    assert_eq!(other + 2 * MAX_GROUPS as u64, 1800);
    // The answer says so, in words.
    assert_eq!(
        f.limits,
        [format!(
            "more than 500 groups: 500 are named, and the {other} events of the rest are \
             summed in \"other\""
        )]
    );
}

#[test]
fn timechart_buckets_by_span_and_coarsens_to_fit() {
    let q = parse("| timechart span=1m count").unwrap();
    let hour = 3_600_000;
    let mut a = Aggregator::new(&q);
    for minute in 0..3 {
        for _ in 0..=minute {
            a.add(&event(&[]), Some(10 * hour + minute * 60_000 + 5_000));
        }
    }
    a.add(&event(&[]), None);
    let r = a.finish().result(&q);
    let series = r.series.unwrap();
    assert_eq!(series.span_seconds, 60);
    assert_eq!(series.untimed, 1);
    let points: Vec<(i64, u64)> = series.points.iter().map(|p| (p.time, p.matched)).collect();
    assert_eq!(
        points,
        [
            (10 * hour, 1),
            (10 * hour + 60_000, 2),
            (10 * hour + 120_000, 3)
        ]
    );

    // 3,000 distinct minutes exceed the 2,000-bucket limit: 5-minute buckets.
    let mut a = Aggregator::new(&q);
    let mut b = Aggregator::new(&q);
    for minute in 0..3000 {
        let target = if minute % 2 == 0 { &mut a } else { &mut b };
        target.add(&event(&[]), Some(minute * 60_000));
    }
    let (a, b) = (a.finish(), b.finish());
    let mut ab = a.clone();
    ab.merge(&b).unwrap();
    let mut ba = b.clone();
    ba.merge(&a).unwrap();
    let (ab, ba) = (ab.result(&q).series.unwrap(), ba.result(&q).series.unwrap());
    assert_eq!(ab, ba);
    assert_eq!(ab.span_seconds, 300);
    assert_eq!(ab.points.len(), 600);
    assert!(ab.points.iter().all(|p| p.matched == 5));
}

#[test]
fn every_query_has_a_timeline_of_its_matches() {
    let q = parse("| top 3 x").unwrap();
    let day = 86_400_000;
    // Two workers' events interleaved over 300 hours, one without a time. Unbounded, the
    // span starts at a second and widens while more than 200 buckets are needed.
    let mut a = Aggregator::new(&q);
    let mut b = Aggregator::new(&q);
    for hour in 0..300 {
        let target = if hour % 2 == 0 { &mut a } else { &mut b };
        target.add(&event(&[("x", "v")]), Some(hour * 3_600_000 + 1));
    }
    b.add(&event(&[("x", "v")]), None);
    let (a, b) = (a.finish(), b.finish());
    let (ab, ba) = merged_both_ways(&q, &[a, b]);
    let (ab, ba) = (ab.result(&q).timeline, ba.result(&q).timeline);
    assert_eq!(ab, ba);
    assert_eq!(ab.untimed, 1);
    assert_eq!(ab.span_seconds, 3 * 3600);
    assert_eq!(ab.points.len(), 100);
    assert!(
        ab.points
            .iter()
            .all(|p| p.matched == 3 && p.value == AggValue::Count { value: 3 })
    );

    // A query bounded to one day buckets it in 10 minutes from the first event.
    let mut q = parse("earliest=-1d latest=now x:v").unwrap();
    q.resolve_time(100 * day);
    let mut a = Aggregator::new(&q);
    a.add(&event(&[("x", "v")]), Some(99 * day + 1));
    assert_eq!(a.finish().result(&q).timeline.span_seconds, 600);
}

#[test]
fn timechart_without_span_fits_the_range() {
    let mut q = parse("earliest=-1d latest=now | timechart dc(x) by y").unwrap();
    q.resolve_time(86_400_000 * 100);
    let mut a = Aggregator::new(&q);
    a.add(&event(&[("x", "1"), ("y", "a")]), Some(86_400_000 * 99 + 1));
    let r = a.finish().result(&q);
    let series = r.groups.unwrap().rows[0].series.clone().unwrap();
    // One day in at most 200 buckets: 10 minutes.
    assert_eq!(series.span_seconds, 600);
    assert_eq!(series.points[0].value.number().map(f64::round), Some(1.0));
}

#[test]
fn hits_keep_the_newest_whatever_the_merge_order() {
    let q = parse("").unwrap();
    let file_partial = |file: &str, lines: u64| {
        let mut p = Partial::new(&q);
        p.add_hits((1..=lines).map(|line| Hit::new(file, line, &format!("{file}:{line}"))));
        p
    };
    let parts = [
        file_partial("2026/11/20", 80),
        file_partial("2026/11/22", 30),
        file_partial("2026/11/21", 150),
    ];
    assert_eq!(parts[2].hits.len(), MAX_HITS);
    let (forward, backward) = merged_both_ways(&q, &parts);
    assert_eq!(forward.hits, backward.hits);
    let newest = &forward.result(&q).hits;
    assert_eq!(newest.len(), MAX_HITS);
    assert_eq!(
        (newest[0].file.as_str(), newest[0].line),
        ("2026/11/22", 30)
    );
    // 30 from the 22nd, then the last 70 of the 21st.
    assert_eq!(
        (newest[99].file.as_str(), newest[99].line),
        ("2026/11/21", 81)
    );
    // `head 5` after a plain search: the 5 newest.
    let head = parse("| head 5").unwrap();
    assert_eq!(forward.result(&head).hits[..], newest[..5]);
}

#[test]
fn sorted_and_deduplicated_hits_merge_alike_in_any_order() {
    let q = parse("| sort -bytes, user | dedup user | head 200").unwrap();
    let file_partial = |file: &str, lines: u64| {
        let mut p = Partial::new(&q);
        p.add_hits((1..=lines).map(|line| {
            let mut hit = Hit::new(file, line, "x");
            hit.time = Some(line as i64 * 1000);
            hit.fields
                .insert("bytes".into(), ((line * 37) % 101).to_string());
            // Every seventh lacks `user`: dropped by dedup.
            if line % 7 != 0 {
                hit.fields.insert("user".into(), format!("u{}", line % 150));
            }
            hit
        }));
        p
    };
    let parts = [
        file_partial("a", 400),
        file_partial("b", 90),
        file_partial("c", 260),
    ];
    let (forward, backward) = merged_both_ways(&q, &parts);
    assert_eq!(forward.hits, backward.hits);
    let all = file_partial("d", 0);
    let mut whole = all.clone();
    whole.add_hits(parts.iter().flat_map(|p| p.hits.clone()));
    assert_eq!(whole.hits, forward.hits);
    let hits = forward.result(&q).hits;
    // One per user, most bytes first; each user's own largest.
    let users: std::collections::HashSet<&String> =
        hits.iter().map(|h| &h.fields["user"]).collect();
    assert_eq!(users.len(), hits.len());
    // Users u0 … u149: each has a line that is not a multiple of 7.
    assert_eq!(hits.len(), 150);
    let bytes: Vec<u64> = hits
        .iter()
        .map(|h| h.fields["bytes"].parse().unwrap())
        .collect();
    assert!(bytes.windows(2).all(|w| w[0] >= w[1]), "{bytes:?}");
}

#[test]
fn a_request_keeps_up_to_100_000_events_and_32_mib_of_text() {
    // `head N` after a plain search asks for N; so may a request, by setting `hits`.
    assert_eq!(parse("x | head 50000").unwrap().hits, 50_000);
    assert_eq!(
        parse("x | stats count | head 5").unwrap().hits,
        MAX_HITS as u32
    );
    assert!(parse("x | head 100001").is_err());
    assert!(parse("| stats count | head 5000").is_err());
    let mut q = parse("").unwrap();
    q.hits = 3000;
    let part = |q: &Query, file: &str, n: u64, len: usize| {
        let mut p = Partial::new(q);
        p.add_hits((1..=n).map(|line| Hit::new(file, line, &"x".repeat(len))));
        p
    };
    let parts = [
        part(&q, "a", 2000, 10),
        part(&q, "c", 1500, 10),
        part(&q, "b", 1000, 10),
    ];
    let (forward, backward) = merged_both_ways(&q, &parts);
    assert_eq!(forward.hits, backward.hits);
    assert_eq!(forward.hits.len(), 3000);
    // The newest: all of c's and b's, then the last 500 of a's.
    assert_eq!(
        (forward.hits[0].file.as_str(), forward.hits[0].line),
        ("a", 1501)
    );
    // Text: 4 KiB events stop at 32 MiB, the newest kept, whatever the merge order.
    q.hits = MAX_HITS_LIMIT as u32;
    let big = [part(&q, "a", 6000, 4096), part(&q, "b", 3000, 4096)];
    let (forward, backward) = merged_both_ways(&q, &big);
    assert_eq!(forward.hits, backward.hits);
    assert_eq!(forward.hits.len(), MAX_HITS_TEXT / 4096);
    assert_eq!(
        forward.hits.last().map(|h| (h.file.as_str(), h.line)),
        Some(("b", 3000))
    );
}

#[test]
fn a_long_hit_is_cut_at_a_character_boundary() {
    let q = parse("").unwrap();
    let mut p = Partial::new(&q);
    p.add_hits([Hit::new("f", 1, &"é".repeat(MAX_HIT_BYTES))]);
    let hit = &p.hits[0];
    assert!(hit.truncated && hit.text.len() <= MAX_HIT_BYTES && hit.text.len() > MAX_HIT_BYTES - 2);
}

#[test]
fn file_errors_are_capped_and_order_independent() {
    let mut a = ScanStats::default();
    let mut b = ScanStats::default();
    for i in 0..150 {
        a.add_error(format!("f{i:03}"), "bad");
        b.add_error(format!("f{:03}", 149 - i), "bad");
    }
    assert_eq!(a, b);
    assert_eq!(a.errors.len(), MAX_FILE_ERRORS);
    assert_eq!(a.failed_files, 150);
}
