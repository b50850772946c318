#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use common::write;
use flate2::Compression;
use flate2::write::GzEncoder;
use shared_sketch::{AggValue, parse};
use workers::{ScanOptions, scan_file};

fn gzip(lines: &[String]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    for line in lines {
        writeln!(gz, "{line}").unwrap();
    }
    gz.finish().unwrap()
}

fn flows(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let action = if i % 3 == 0 { "REJECT" } else { "ACCEPT" };
            format!(
                r#"{{"srcaddr":"10.0.0.{}","dstport":{},"action":"{action}","bytes":{}}}"#,
                i % 7,
                i % 5,
                i * 10
            )
        })
        .collect()
}

fn exact_top(lines: &[String], pred: impl Fn(&str) -> bool) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    for (i, line) in lines.iter().enumerate() {
        if pred(line) {
            *counts.entry(format!("10.0.0.{}", i % 7)).or_default() += 1;
        }
    }
    counts
}

#[test]
fn filters_and_top_k_match_exact_counts_across_gzip_members() {
    let dir = tempfile::tempdir().unwrap();
    let lines = flows(1000);
    // Two gzip members back to back, as segments are written.
    let mut bytes = gzip(&lines[..400]);
    bytes.extend(gzip(&lines[400..]));
    let path = write(dir.path(), "flows.json.gz", &bytes);

    let q = parse("action:reject | top 10 src_ip").unwrap();
    let p = scan_file(&path, "flows.json.gz", &q, &ScanOptions::default());
    let exact = exact_top(&lines, |l| l.contains("REJECT"));
    assert_eq!(p.matched(), exact.values().sum::<u64>());
    assert_eq!(p.stats.records, 1000);
    assert_eq!(p.stats.errors, vec![]);
    let AggValue::Top {
        rows,
        maximum_error,
    } = &p.result(&q).aggs[0].value
    else {
        panic!("not a top")
    };
    assert_eq!(*maximum_error, 0);
    assert_eq!(rows.len(), 7);
    for row in rows {
        assert_eq!(row.estimate, exact[&row.value], "{}", row.value);
    }
}

/// Small gzip files are inflated whole, larger ones streamed: both give the same answer,
/// whatever member holds the text.
#[test]
fn gzip_files_over_the_whole_file_limit_stream_with_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let lines = flows(150_000);
    let text_len: usize = lines.iter().map(|l| l.len() + 1).sum();
    assert!(text_len > 8 << 20, "{text_len} bytes");
    let q = parse("action:reject | stats count(), dc(srcaddr), sum(bytes)").unwrap();
    let rejected = lines.iter().filter(|l| l.contains("REJECT")).count();
    let sum: u64 = (0..150_000u64).filter(|i| i % 3 == 0).map(|i| i * 10).sum();
    let small_last = {
        // The last member's trailer states a small text: the whole-file path is tried, runs
        // out of room, and the file is streamed from the start.
        let mut bytes = gzip(&lines[..149_000]);
        bytes.extend(gzip(&lines[149_000..]));
        bytes
    };
    for (name, bytes) in [("one.json.gz", gzip(&lines)), ("two.json.gz", small_last)] {
        let path = write(dir.path(), name, &bytes);
        let p = scan_file(&path, name, &q, &ScanOptions::default());
        assert_eq!(p.stats.records, 150_000, "{name}");
        assert_eq!(p.stats.errors, vec![], "{name}");
        assert_eq!(p.matched(), rejected as u64, "{name}");
        let aggs = p.result(&q).aggs;
        let total = AggValue::Number {
            value: Some(sum as f64),
        };
        assert_eq!(aggs[2].value, total, "{name}");
    }
}

#[test]
fn malformed_lines_are_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let text = "{\"a\":1}\nnot json\n[1,2]\n\n{\"a\":2}\n{\"a\":\n\u{0}\u{ff}\n";
    let path = write(dir.path(), "mixed.json", text.as_bytes());
    let q = parse("| stats count(), dc(a)").unwrap();
    let p = scan_file(&path, "mixed.json", &q, &ScanOptions::default());
    assert_eq!((p.stats.records, p.stats.malformed, p.matched()), (2, 4, 2));
}

/// NDJSON lines are parsed many at a time: bad lines among good ones, including pairs that
/// would make valid JSON together, are each counted alone, in any block.
#[test]
fn malformed_lines_among_many_are_each_counted() {
    let dir = tempfile::tempdir().unwrap();
    let bad: [&[&str]; 4] = [
        &["{\"srcaddr\":"],
        &["{\"srcaddr\":\"10.9.9.9\"},{\"srcaddr\":\"10.9.9.8\"}"],
        &[
            "{\"srcaddr\":[{\"x\":1}",
            "{\"c\":1}]},\"s\",{\"srcaddr\":\"10.9.9.7\"}",
        ],
        &["[1,2]"],
    ];
    let flows = flows(5000);
    let mut lines = Vec::new();
    let mut malformed = 0;
    for (i, line) in flows.iter().enumerate() {
        if i % 97 == 0 {
            let inserted = bad[i / 97 % bad.len()];
            malformed += inserted.len();
            lines.extend(inserted.iter().map(|l| l.to_string()));
        }
        lines.push(line.clone());
    }
    let path = write(dir.path(), "flows.json.gz", gzip(&lines));
    let q = parse("| top 10 srcaddr").unwrap();
    let p = scan_file(&path, "flows.json.gz", &q, &ScanOptions::default());
    assert_eq!(
        (p.stats.records, p.stats.malformed as usize, p.matched()),
        (5000, malformed, 5000)
    );
    let AggValue::Top { rows, .. } = &p.result(&q).aggs[0].value else {
        panic!("not a top")
    };
    let exact = exact_top(&flows, |_| true);
    assert!(rows.iter().all(|row| row.estimate == exact[&row.value]));
}

#[test]
fn a_truncated_gzip_file_keeps_what_was_read_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let lines = flows(20_000);
    let bytes = gzip(&lines);
    let path = write(dir.path(), "cut.json.gz", &bytes[..bytes.len() / 2]);
    let q = parse("| stats count()").unwrap();
    let p = scan_file(&path, "cut.json.gz", &q, &ScanOptions::default());
    assert!(
        p.matched() > 1000 && p.matched() < 20_000,
        "{}",
        p.matched()
    );
    // Every whole line inflated before the cut is counted: none waits unread.
    let mut inflated = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(&bytes[..bytes.len() / 2]).read_to_end(&mut inflated);
    let whole = inflated.iter().filter(|&&b| b == b'\n').count() as u64;
    assert_eq!(p.matched(), whole);
    assert_eq!(p.stats.failed_files, 1);
    assert_eq!(p.stats.errors[0].file, "cut.json.gz");
    assert!(
        p.stats.errors[0].message.contains("truncated"),
        "{:?}",
        p.stats.errors
    );
}

#[test]
fn a_missing_file_is_an_error_in_the_stats() {
    let q = parse("| stats count()").unwrap();
    let p = scan_file(
        Path::new("/nonexistent/x.gz"),
        "x.gz",
        &q,
        &ScanOptions::default(),
    );
    assert_eq!((p.matched(), p.stats.failed_files), (0, 1));
    assert!(p.stats.errors[0].message.contains("cannot open"));
}

#[test]
fn real_cowrie_honeypot_logs_scan_with_exact_counts() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/real/cowrie-honeypot/cowrie.json.2018-05-06.gz");
    let q = parse("eventid:cowrie.login.failed | top 5 src_ip").unwrap();
    let p = scan_file(&file, "cowrie", &q, &ScanOptions::default());
    // Independent count: decompress and count lines naively.
    let raw = std::fs::read(&file).unwrap();
    let mut text = String::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        use std::io::Read;
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .unwrap();
    } else {
        text = String::from_utf8(raw).unwrap();
    }
    let expected = text
        .lines()
        .filter(|l| {
            l.contains("\"eventid\": \"cowrie.login.failed\"")
                || l.contains("\"eventid\":\"cowrie.login.failed\"")
        })
        .count() as u64;
    assert!(expected > 0, "fixture has failed logins");
    assert_eq!(p.matched(), expected);
    assert_eq!(p.stats.errors, vec![]);
}

#[test]
fn hits_are_the_last_matching_lines_with_their_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = flows(1000);
    lines.insert(500, "not json".to_string());
    let path = write(dir.path(), "flows.json.gz", gzip(&lines));
    let q = parse("action:reject").unwrap();
    let p = scan_file(&path, "2026/flows.json.gz", &q, &ScanOptions::default());
    let expected: Vec<(u64, &String)> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("REJECT"))
        .map(|(i, l)| (i as u64 + 1, l))
        .collect();
    let tail = &expected[expected.len() - shared_sketch::MAX_HITS..];
    assert_eq!(p.hits.len(), tail.len());
    for (hit, (line, text)) in p.hits.iter().zip(tail) {
        assert_eq!(
            (hit.file.as_str(), hit.line, &hit.text),
            ("2026/flows.json.gz", *line, *text)
        );
        assert!(!hit.truncated);
    }
}
