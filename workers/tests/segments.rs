//! Segments and their index on real logs: every query answers the same over the segments
//! ingest writes (pages ruled out by the index) as over the source files read whole, the
//! index rules out pages for selective queries, and it stays within 5% of the data.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{real, run};
use shared_sketch::{Partial, QueryResult, parse};
use workers::{
    Detector, Ingested, ScanOptions, Segment, SegmentWriter, ingest_file, read_index, scan_segment,
};

fn sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["cowrie-honeypot", "stratus-cloudtrail"] {
        for entry in std::fs::read_dir(real(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    files.push(real("zeek-wrccdc/zeek-json/dns.json.gz"));
    files.sort();
    files
}

fn ingest(sources: &[PathBuf], out: &Path) -> Vec<Segment> {
    let mut segments = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        match ingest_file(
            source,
            &ScanOptions::default(),
            |n| out.join(format!("{i:03}-{n}.ndjson.gz")),
            &mut Detector::new(&[], "source", 0),
        )
        .unwrap()
        {
            Ingested::Segments {
                segments: written,
                malformed,
                ..
            } => {
                assert_eq!(malformed, 0, "{}", source.display());
                segments.extend(written);
            }
            Ingested::Raw(format) => panic!("{} stayed raw ({format})", source.display()),
        }
    }
    segments
}

/// `text` over the segments, as the gateway runs it: one partial per segment, merged.
fn run_segments(segments: &[Segment], text: &str) -> QueryResult {
    let mut query = parse(text).unwrap();
    query.resolve_time(0);
    let mut merged = Partial::new(&query);
    for segment in segments {
        let name = segment.path.display().to_string();
        let partial = scan_segment(&segment.path, &name, &query, &ScanOptions::default());
        assert_eq!(partial.stats.errors, vec![], "{name}");
        merged.merge(&partial).unwrap();
    }
    merged.result(&query)
}

#[test]
fn pruned_segment_scans_answer_as_full_scans_do() {
    let dir = tempfile::tempdir().unwrap();
    let sources = sources();
    let segments = ingest(&sources, dir.path());
    let pages: u64 = segments
        .iter()
        .map(|s| read_index(&s.path).unwrap().pages.len() as u64)
        .sum();
    assert!(pages > 60, "{pages} pages");

    for (query, prunes) in [
        ("| stats count, dc(src_ip) by eventid", false),
        ("src_ip:185.222.209.108 | stats count by eventid", true),
        ("src_ip:103.19.176.22 OR src_ip:105.184.22.235", true),
        ("\"Remote SSH version\" | top 5 version", true),
        ("eventid:cowrie.login.success | top 10 username", true),
        ("eventid:cowrie.login.success password:admin", true),
        ("dst_port>3000 | stats count", true),
        ("src_port<1024 | stats count", true),
        (
            "eventName:GetPasswordData | stats count by userIdentity.arn",
            true,
        ),
        ("userIdentity.type:AssumedRole | top 5 eventSource", true),
        ("qtype_name:AAAA | rare 5 query", true),
        ("NOT eventid:cowrie.session.connect | stats count", false),
        ("src_ip:185.222.* | stats count", false),
        (
            "earliest=2018-05-10T00:00:00Z latest=2018-05-12T00:00:00Z | stats count by eventid",
            true,
        ),
        (
            "username:root earliest=2018-05-19T00:00:00Z | timechart span=1d count",
            true,
        ),
        ("nosuchfield:x", true),
        // Arrays: any element matches, and the index records every element.
        ("answers:54.208.101.23 | stats count by query", true),
        ("TTLs>1000000 | stats count", true),
        (
            "resources.ARN:\"arn:aws:ssm:cn-west-3r:933175858973:parameter/credentials/stratus-red-team/credentials-15\"",
            true,
        ),
    ] {
        let full = run(&sources, query);
        let pruned = run_segments(&segments, query);
        assert_same_answer(&pruned, &full, query);
        assert_eq!(
            pruned.stats.records + pruned_rows(&segments, query),
            full.stats.records,
            "{query}"
        );
        assert_eq!(pruned.stats.pages, pages, "{query}");
        assert_eq!(
            pruned.stats.pages_pruned > 0,
            prunes,
            "{query}: {:?}",
            pruned.stats
        );
        if prunes {
            assert!(pruned.stats.bytes_read < pruned.stats.bytes, "{query}");
        }
        if query.starts_with(['a', 'T', 'r']) {
            assert!(
                full.matched > 0,
                "{query}: an array's elements are searched"
            );
        }
    }
}

/// The answers over segments and over sources agree in everything but the scan stats.
fn assert_same_answer(segments: &QueryResult, sources: &QueryResult, query: &str) {
    assert_eq!(segments.matched, sources.matched, "{query}");
    assert_eq!(segments.aggs, sources.aggs, "{query}");
    assert_eq!(segments.series, sources.series, "{query}");
    assert_eq!(segments.groups, sources.groups, "{query}");
    assert_eq!(segments.hits.len(), sources.hits.len(), "{query}");
}

/// Rows in the pages a query's scan ruled out.
fn pruned_rows(segments: &[Segment], text: &str) -> u64 {
    let mut query = parse(text).unwrap();
    query.resolve_time(0);
    let matcher = shared_sketch::Matcher::new(query.search.as_ref());
    let range = query.time_range_if_absolute();
    let mut rows = 0;
    for segment in segments {
        let index = read_index(&segment.path).unwrap();
        for page in &index.pages {
            if !page.may_overlap(range) || !matcher.may_match(&index.summary(page)) {
                rows += page.rows;
            }
        }
    }
    rows
}

/// A sidecar written before array elements were recorded (its layout then: no `layout`).
#[derive(serde::Serialize)]
struct FirstLayout<'a> {
    time_fields: &'a [String],
    pages: &'a [workers::PageIndex],
}

#[test]
fn a_sidecar_of_the_first_layout_still_serves_times_but_rules_out_no_page_by_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let sources = vec![real("zeek-wrccdc/zeek-json/dns.json.gz")];
    let segments = ingest(&sources, dir.path());
    let query = "answers:54.208.101.23 | stats count by query";
    let whole = run(&sources, query);
    for segment in &segments {
        let index = read_index(&segment.path).unwrap();
        let old = shared_sketch::codec::encode_file(&FirstLayout {
            time_fields: &index.time_fields,
            pages: &index.pages,
        })
        .unwrap();
        std::fs::write(workers::index_path(&segment.path), old).unwrap();
        let read = read_index(&segment.path).unwrap();
        assert_eq!(read.pages.len(), index.pages.len());
        assert!(read.pages.iter().all(|p| !p.complete));
        assert_eq!(
            read.pages.iter().map(|p| p.time).collect::<Vec<_>>(),
            index.pages.iter().map(|p| p.time).collect::<Vec<_>>()
        );
    }
    let pruned = run_segments(&segments, query);
    assert_same_answer(&pruned, &whole, query);
    assert_eq!(pruned.stats.pages_pruned, 0);
    assert!(whole.matched > 0);
}

#[test]
fn a_damaged_or_missing_sidecar_reads_its_segment_whole_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let sources = vec![
        real("cowrie-honeypot/cowrie.json.2018-05-06.gz"),
        real("zeek-wrccdc/zeek-json/dns.json.gz"),
    ];
    let segments = ingest(&sources, dir.path());
    let query =
        "eventid:cowrie.login.failed OR qtype_name:AAAA | stats count, dc(src_ip) by eventid";
    let whole = run(&sources, query);
    let sidecar = |i: usize| workers::index_path(&segments[i].path);
    let stored = std::fs::read(sidecar(0)).unwrap();
    for how in [
        "garbage",
        "cut short",
        "bits flipped",
        "another version",
        "missing",
    ] {
        let mut bytes = stored.clone();
        match how {
            "garbage" => bytes = b"\x0a not an index".to_vec(),
            "cut short" => bytes.truncate(stored.len() / 2),
            "bits flipped" => bytes[stored.len() / 2] ^= 0x55,
            "another version" => bytes[0] = bytes[0].wrapping_add(1),
            _ => {}
        }
        if how == "missing" {
            std::fs::remove_file(sidecar(0)).unwrap();
        } else {
            std::fs::write(sidecar(0), bytes).unwrap();
        }
        let answer = run_segments(&segments, query);
        assert_same_answer(&answer, &whole, query);
        assert_eq!(answer.stats.unindexed, 1, "{how}");
        assert!(
            answer
                .limits
                .iter()
                .any(|l| l.contains("1 segments were read whole")),
            "{how}: {:?}",
            answer.limits
        );
    }
    std::fs::write(sidecar(0), &stored).unwrap();
    let mended = run_segments(&segments, query);
    assert_eq!(mended.stats.unindexed, 0);
    assert!(
        !mended.limits.iter().any(|l| l.contains("read whole")),
        "{:?}",
        mended.limits
    );
    assert!(whole.matched > 0);
}

#[test]
fn the_index_is_small_and_segments_are_plain_gzip_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let sources = sources();
    let segments = ingest(&sources, dir.path());
    let data: u64 = segments.iter().map(|s| s.bytes).sum();
    let index: u64 = segments.iter().map(|s| s.index_bytes).sum();
    assert!(
        index * 20 <= data,
        "index {index} B for {data} B of segments"
    );

    // Any gzip reader sees every event, one JSON object per line.
    let rows: u64 = segments.iter().map(|s| s.rows).sum();
    let lines: usize = segments
        .iter()
        .map(|s| common::read_text(&s.path).lines().count())
        .sum();
    assert_eq!(lines as u64, rows);
    let full = run(&sources, "| stats count");
    assert_eq!(full.matched, rows);
}

#[test]
fn a_crash_before_finish_leaves_no_segment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.ndjson.gz");
    let writer = SegmentWriter::create(&path, vec!["timestamp".to_string()]).unwrap();
    drop(writer);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["s.ndjson.gz.part"]);
    assert!(read_index(&path).is_err());
}

/// Zeek TSV, VPC flow text, access logs and CSV become JSON rows of their named fields: every
/// query answers over the segments as over the source files, the segments' time ranges hold
/// every event exactly, and the index rules out pages for needles.
#[test]
fn converted_formats_answer_as_their_sources_do() {
    let dir = tempfile::tempdir().unwrap();
    let sources: Vec<PathBuf> = [
        "stratosphere-zeek/005-zeek-scenario-malicious/dns.log.gz",
        "stratosphere-zeek/005-zeek-scenario-malicious/conn.log.gz",
        "vpcflow-fixtures/elastic_integrations_test-extra-samples.log",
        "apache-access-hackers/hackers-access.log.gz",
        "cicids2017-improved-sample/Portscan_2500.csv.gz",
        "cicids2017-improved-sample/Heartbleed_11.csv",
    ]
    .into_iter()
    .map(real)
    .collect();
    let segments = ingest(&sources, dir.path());
    assert_eq!(segments.len(), sources.len());
    let data: u64 = segments.iter().map(|s| s.bytes).sum();
    let index: u64 = segments.iter().map(|s| s.index_bytes).sum();
    assert!(
        index * 20 <= data,
        "index {index} B for {data} B of segments"
    );
    for (source, segment) in sources.iter().zip(&segments) {
        let count = |bounds: &str| run(&[source], &format!("{bounds} | stats count")).matched;
        assert_eq!(segment.rows, count(""), "{}", source.display());
        let (lo, hi) = segment.time.unwrap();
        let (lo, hi) = (lo.div_euclid(1000), hi.div_euclid(1000) + 1);
        assert_eq!(count(&format!("earliest={lo} latest={hi}")), segment.rows);
        assert_eq!(count(&format!("latest={lo}")), 0, "{}", source.display());
        assert_eq!(count(&format!("earliest={hi}")), 0, "{}", source.display());
    }

    for (query, prunes) in [
        ("| stats count, dc(id.resp_h) by proto", false),
        ("qtype_name:A | top 5 query", false),
        (
            "id.resp_p:53 | stats count, sum(orig_bytes), p50(duration)",
            false,
        ),
        ("uid:CZrmQP263A0tTe0gr5", true),
        (
            "id.orig_h:192.168.1.116 id.resp_h:23.253.126.58 | stats count",
            true,
        ),
        ("conn_state:S0 | top 3 id.resp_p", false),
        (
            "srcaddr:\"2001:db8:1234:a100:8d6e:3477:df66:f105\" | stats count, sum(bytes)",
            true,
        ),
        ("action:REJECT | top 5 dstport", false),
        ("response>=400 | top 5 request", false),
        ("verb:POST | stats count by response", false),
        ("clientip:195.154.46.135 | stats count", true),
        ("agent:*Firefox* | stats count by verb", false),
        ("Label:Portscan | stats count, dc(dst_port)", false),
        ("dst_port<1024 | stats count by src_ip", false),
        ("src_ip:172.16.0.1 dst_port:2042 | stats count", true),
        ("earliest=2017-07-05 latest=2017-07-07 | stats count", false),
    ] {
        let full = run(&sources, query);
        let pruned = run_segments(&segments, query);
        assert_same_answer(&pruned, &full, query);
        assert!(
            full.matched > 0,
            "{query}: matches nothing, so proves nothing"
        );
        if prunes {
            assert!(pruned.stats.pages_pruned > 0, "{query}: {:?}", pruned.stats);
        }
    }
}

/// Rules as the ingest pass evaluates them: (query, whether it fires per event).
fn watches(rules: &[(&str, bool)]) -> Vec<workers::Watch> {
    rules
        .iter()
        .map(|(text, per_event)| {
            let query = parse(text).unwrap();
            workers::Watch {
                group: query.by().to_vec(),
                query,
                per_event: *per_event,
            }
        })
        .collect()
}

#[test]
fn rules_evaluated_in_ingest_roll_up_as_reading_the_source_does() {
    // During ingest the rules read each event as the segment writer parsed it: what they
    // roll up must be what reading the source file for them alone rolls up.
    let rules = watches(&[
        ("eventid:cowrie.login.failed | stats count by src_ip", false),
        ("eventid:cowrie.session.connect", true),
        ("| stats dc(eventName) by sourceIPAddress", false),
        ("errorCode:AccessDenied", true),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let mut matched = 0;
    for (i, source) in sources().iter().enumerate() {
        let mut detector = Detector::new(&rules, "source", 0);
        ingest_file(
            source,
            &ScanOptions::default(),
            |n| dir.path().join(format!("{i:03}-{n}.ndjson.gz")),
            &mut detector,
        )
        .unwrap();
        let ingested = detector.finish().unwrap();
        let (read, error) =
            workers::detect_file(source, "source", &rules, &ScanOptions::default(), 0);
        assert!(error.is_none(), "{}", source.display());
        for rollup in &ingested {
            let partials = rollup.partials().unwrap();
            matched += partials.iter().map(|(_, p)| p.matched()).sum::<u64>();
        }
        assert_eq!(
            shared_sketch::codec::encode_stored(&ingested).unwrap(),
            shared_sketch::codec::encode_stored(&read).unwrap(),
            "{}",
            source.display()
        );
    }
    assert!(matched > 10_000, "{matched} matches");
}

#[test]
fn rules_read_a_segment_skipping_the_pages_no_rule_can_match_as_reading_it_whole() {
    let rules = watches(&[
        (
            "eventid:cowrie.login.success | stats count by src_ip",
            false,
        ),
        ("errorCode:AccessDenied", true),
        ("qtype_name:AAAA | stats dc(query) by id.orig_h", false),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let options = ScanOptions::default();
    let (mut pages, mut skipped, mut matched) = (0, 0, 0);
    for segment in ingest(&sources(), dir.path()) {
        let name = segment.path.display().to_string();
        let (pruned, error, n) = workers::detect_segment(&segment.path, "s", &rules, &options, 0);
        assert!(error.is_none(), "{name}: {error:?}");
        pages += read_index(&segment.path).unwrap().pages.len();
        skipped += n;
        let (whole, error) = workers::detect_file(&segment.path, "s", &rules, &options, 0);
        assert!(error.is_none(), "{name}: {error:?}");
        let stored = |rollups: &[workers::Rollup]| -> Vec<(usize, Vec<u8>)> {
            rollups.iter().map(|r| (r.rule, r.stored.clone())).collect()
        };
        assert_eq!(stored(&pruned), stored(&whole), "{name}");
        for rollup in &pruned {
            let partials = rollup.partials().unwrap();
            matched += partials.iter().map(|(_, p)| p.matched()).sum::<u64>();
        }
    }
    // Some pages hold matches and some hold none: both kinds must be there for the
    // comparison above to mean anything.
    assert!(matched > 100, "{matched} matches");
    assert!(
        skipped > 0 && skipped < pages as u64,
        "{skipped} of {pages} pages skipped"
    );
}
