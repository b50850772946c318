//! Every reader on the real logs in ../shared/data/real: each file is recognised as its
//! format and read to the end with no malformed events, and per-format golden queries are
//! checked against exact answers computed here from the files, independently of the
//! engine.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::{read_text, real, run, run_with, write};
use serde_json::Value;
use shared_sketch::{AggValue, QueryResult};
use workers::{Format, ScanOptions, detect_format};

/// Every log file under `dir`, recursively, in path order (docs and licences left out).
fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                dirs.push(path);
            } else if !(name.ends_with(".md")
                || name.starts_with("LICENSE")
                || name.ends_with(".cff")
                || name.ends_with(".yaml"))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The format each dataset's README says a file has.
fn documented_format(path: &Path, text: &str) -> Format {
    let p = path.to_string_lossy();
    let zeek_tsv = (p.contains("zeek/") || p.contains("-zeek"))
        && text.starts_with('#')
        && !p.contains(".config"); // a labelling tool's settings
    if p.ends_with(".csv") || p.ends_with(".csv.gz") {
        Format::Csv
    } else if p.contains("apache-access-") {
        Format::Apache
    } else if p.ends_with(".log") && p.contains("vpcflow-fixtures") {
        Format::VpcFlow
    } else if zeek_tsv {
        Format::Zeek
    } else if (p.contains("stratus-cloudtrail") || p.contains("suricata-eve"))
        && (p.ends_with(".json") || p.ends_with(".json.gz"))
    {
        Format::Json
    } else if p.contains("loghub/") || p.ends_with(".txt") || p.contains(".config") {
        Format::Text
    } else {
        Format::Ndjson
    }
}

/// Events in `text` counted the simple way for its format.
fn expected_events(format: Format, text: &str) -> u64 {
    let lines = || text.lines().filter(|l| !l.trim().is_empty());
    match format {
        Format::Json => match serde_json::from_str::<Value>(text).unwrap() {
            Value::Array(events) => events.len() as u64,
            v => v["Records"].as_array().unwrap().len() as u64,
        },
        Format::Zeek => lines().filter(|l| !l.starts_with('#')).count() as u64,
        Format::Csv => lines().count() as u64 - 1,
        Format::VpcFlow if text.starts_with("version") => lines().count() as u64 - 1,
        _ => lines().count() as u64,
    }
}

#[test]
fn every_real_log_file_is_recognised_and_read_whole() {
    let mut formats: HashMap<Format, usize> = HashMap::new();
    let mut files = Vec::new();
    for dataset in std::fs::read_dir(real("")).unwrap() {
        let dataset = dataset.unwrap().path();
        let name = dataset.file_name().unwrap().to_string_lossy().to_string();
        // Detection rules and binary sketches, not logs.
        if dataset.is_dir() && name != "sigma" && name != "datasketches-serde" {
            files.extend(log_files(&dataset));
        }
    }
    assert!(files.len() > 400, "{} files", files.len());
    for file in &files {
        let text = read_text(file);
        let format = documented_format(file, &text);
        assert_eq!(detect_format(file).unwrap(), format, "{}", file.display());
        let result = run(std::slice::from_ref(file), "| stats count");
        let stats = &result.stats;
        let expected = expected_events(format, &text);
        assert_eq!(
            (stats.records, stats.malformed, stats.failed_files),
            (expected, 0, 0),
            "{}",
            file.display()
        );
        assert_eq!(result.matched, expected);
        *formats.entry(format).or_default() += 1;
    }
    for format in [
        Format::Ndjson,
        Format::Json,
        Format::Zeek,
        Format::VpcFlow,
        Format::Apache,
        Format::Csv,
        Format::Text,
    ] {
        assert!(formats.get(&format).is_some_and(|&n| n > 0), "{format}");
    }
}

fn counts(result: &QueryResult) -> HashMap<String, u64> {
    let groups = result.groups.as_ref().unwrap();
    assert!(groups.complete);
    groups
        .rows
        .iter()
        .map(|r| (r.key.join(","), r.matched))
        .collect()
}

fn tally<'a>(values: impl Iterator<Item = &'a str>) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for v in values {
        *out.entry(v.to_string()).or_default() += 1;
    }
    out
}

fn number(result: &QueryResult, i: usize) -> f64 {
    result.aggs[i].value.number().unwrap()
}

/// Top rows as (value, count) when every count is exact.
fn exact_top(result: &QueryResult) -> Vec<(String, u64)> {
    match &result.aggs[0].value {
        AggValue::Top {
            rows,
            maximum_error: 0,
        } => rows.iter().map(|r| (r.value.clone(), r.estimate)).collect(),
        other => panic!("not an exact top: {other:?}"),
    }
}

/// The `n` largest of `counts`, ties by value (the order `top` reports).
fn largest(counts: &HashMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.iter().map(|(k, c)| (k.clone(), *c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

#[test]
fn cloudtrail_arrays_and_records_files() {
    let files: Vec<PathBuf> = log_files(&real("stratus-cloudtrail"))
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("/aws."))
        .collect();
    let events: Vec<Value> = files
        .iter()
        .flat_map(|f| match serde_json::from_str(&read_text(f)).unwrap() {
            Value::Array(events) => events,
            _ => panic!("an array"),
        })
        .collect();
    let field = |e: &Value, path: &str| -> Option<String> {
        path.split('.')
            .try_fold(e, |v, k| v.get(k))
            .and_then(|v| v.as_str().map(str::to_string))
    };

    let result = run(
        &files,
        "eventSource:iam.amazonaws.com | stats count by eventName",
    );
    let exact = tally(
        events
            .iter()
            .filter(|e| field(e, "eventSource").as_deref() == Some("iam.amazonaws.com"))
            .filter_map(|e| e["eventName"].as_str()),
    );
    assert!(exact.len() > 5);
    assert_eq!(counts(&result), exact);

    // Nested fields and the common `user` name (`userIdentity.userName`).
    let result = run(&files, "userIdentity.type:IAMUser | top 5 user");
    let users = tally(
        events
            .iter()
            .filter(|e| field(e, "userIdentity.type").as_deref() == Some("IAMUser"))
            .filter_map(|e| e["userIdentity"]["userName"].as_str()),
    );
    assert_eq!(exact_top(&result), largest(&users, 5));

    // The same events as CloudTrail delivers them to S3: `{"Records": [...]}`.
    let dir = tempfile::tempdir().unwrap();
    let one = &files[0];
    let array = read_text(one);
    let wrapped = write(
        dir.path(),
        "trail.json",
        format!("{{\"Records\": {array}}}"),
    );
    let q = "| stats count, dc(eventName) by eventSource";
    assert_eq!(counts(&run(&[wrapped], q)), counts(&run(&[one], q)));
}

#[test]
fn zeek_tsv_conn_logs() {
    let file = real("stratosphere-zeek/001-zeek-scenario-malicious/conn.log.gz");
    let text = read_text(&file);
    let mut columns: Vec<String> = Vec::new();
    let mut rows: Vec<HashMap<String, String>> = Vec::new();
    for line in text.lines() {
        if let Some(names) = line.strip_prefix("#fields\t") {
            columns = names.split('\t').map(str::to_string).collect();
        } else if !line.starts_with('#') && !line.is_empty() {
            rows.push(
                columns
                    .iter()
                    .cloned()
                    .zip(line.split('\t').map(str::to_string))
                    .collect(),
            );
        }
    }
    assert!(rows.len() > 500);

    let dns = rows.iter().filter(|r| r["id.resp_p"] == "53").count() as u64;
    assert_eq!(run(&[&file], "dst_port:53 | stats count").matched, dns);

    let result = run(&[&file], "proto:tcp | top 5 id.orig_h");
    let tcp = tally(
        rows.iter()
            .filter(|r| r["proto"] == "tcp")
            .map(|r| r["id.orig_h"].as_str()),
    );
    assert_eq!(exact_top(&result), largest(&tcp, 5));

    // Unset (`-`) is absent; `sum` sees only the set values.
    let result = run(&[&file], "| stats count(), sum(orig_bytes)");
    let sum: f64 = rows
        .iter()
        .filter_map(|r| r["orig_bytes"].parse::<f64>().ok())
        .sum();
    assert_eq!(number(&result, 1), sum);
    let unset = rows.iter().filter(|r| r["orig_bytes"] == "-").count() as u64;
    let absent = run(&[&file], "NOT orig_bytes:* | stats count").matched;
    assert_eq!(absent, unset);

    // Time bounds on `ts` (epoch seconds).
    let times: Vec<f64> = rows.iter().map(|r| r["ts"].parse().unwrap()).collect();
    let mid = times[times.len() / 2].floor() as i64;
    let inside = times
        .iter()
        .filter(|&&t| (t * 1000.0) as i64 >= mid * 1000)
        .count() as u64;
    let q = format!("earliest={mid} | stats count");
    assert_eq!(run(&[&file], &q).matched, inside);

    // `#path conn` names every row's log, as `_path` does in Zeek's JSON.
    assert!(text.lines().any(|l| l == "#path\tconn"));
    assert_eq!(
        run(&[&file], "_path:conn | stats count").matched,
        rows.len() as u64
    );
    assert_eq!(run(&[&file], "_path:dns | stats count").matched, 0);
}

#[test]
fn zeek_json_dns_logs() {
    let file = real("zeek-wrccdc/zeek-json/dns.json.gz");
    let events: Vec<Value> = read_text(&file)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let result = run(
        &[&file],
        "qtype_name:A src_ip:10.47.* | stats count by rcode_name",
    );
    let exact = tally(
        events
            .iter()
            .filter(|e| e["qtype_name"] == "A")
            .filter(|e| {
                e["id.orig_h"]
                    .as_str()
                    .is_some_and(|ip| ip.starts_with("10.47."))
            })
            .filter_map(|e| e["rcode_name"].as_str()),
    );
    assert!(exact.values().sum::<u64>() > 100);
    assert_eq!(counts(&result), exact);
}

#[test]
fn vpc_flow_text_with_and_without_a_header() {
    let file = real("vpcflow-fixtures/elastic_integrations_test-extra-samples.log");
    let text = read_text(&file);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    let rejected: Vec<&Vec<&str>> = rows.iter().filter(|r| r[12] == "REJECT").collect();
    assert!(!rejected.is_empty());
    let bytes: f64 = rejected.iter().map(|r| r[9].parse::<f64>().unwrap()).sum();
    let q = "action:REJECT | stats count, sum(bytes)";
    let result = run(&[&file], q);
    assert_eq!(
        (result.matched, number(&result, 1)),
        (rejected.len() as u64, bytes)
    );

    // A custom-format file names its fields in a first line.
    let dir = tempfile::tempdir().unwrap();
    let header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol \
                  packets bytes start end action log-status";
    let with_header = write(dir.path(), "custom.log", format!("{header}\n{text}"));
    let again = run(&[with_header], q);
    assert_eq!(
        (again.matched, number(&again, 1)),
        (rejected.len() as u64, bytes)
    );
    assert_eq!(again.stats.records, rows.len() as u64);

    // Rows with no data (`-` everywhere) still have times.
    let nodata = rows.iter().filter(|r| r[13] == "NODATA").count() as u64;
    let result = run(
        &[file],
        "log-status:NODATA earliest=2015-01-01 | stats count",
    );
    assert_eq!(result.matched, nodata);
}

#[test]
fn apache_combined_access_logs() {
    let file = real("apache-access-hackers/hackers-access.log.gz");
    let text = read_text(&file);
    // Independent split: host first; status after the quoted request.
    let rows: Vec<(&str, &str)> = text
        .lines()
        .map(|l| {
            let host = l.split(' ').next().unwrap();
            let after_request = l.splitn(3, '"').nth(2).unwrap();
            (host, after_request.trim_start().split(' ').next().unwrap())
        })
        .collect();
    let redirected = tally(rows.iter().filter(|r| r.1 == "302").map(|r| r.0));
    assert!(redirected.values().sum::<u64>() > 100);
    let result = run(&[&file], "response:302 | top 10 src_ip");
    assert_eq!(exact_top(&result), largest(&redirected, 10));

    let posts = text.lines().filter(|l| l.contains("] \"POST ")).count() as u64;
    assert_eq!(run(&[&file], "verb:POST | stats count").matched, posts);

    // `_raw` is the line itself; a regex reads it as written (case and all).
    let logins = text.lines().filter(|l| l.contains("/login_")).count() as u64;
    assert!(logins > 0);
    assert_eq!(
        run(&[&file], r#"_raw~"/login_" | stats count"#).matched,
        logins
    );
    assert_eq!(
        run(&[&file], "_raw:*/LOGIN_* | stats count").matched,
        logins
    );
    assert_eq!(run(&[&file], r#"_raw~"/LOGIN_" | stats count"#).matched, 0);
    // The target's path and query apart.
    let queries = text
        .lines()
        .filter(|l| {
            l.split('"')
                .nth(1)
                .is_some_and(|r| r.split(' ').nth(1).is_some_and(|t| t.contains('?')))
        })
        .count() as u64;
    assert!(queries > 0);
    assert_eq!(run(&[&file], "url.query:* | stats count").matched, queries);

    // Hourly buckets from the `[10/Oct/2000:13:55:36 -0700]` times add up to every line.
    let series = run(&[file], "| timechart span=1h count").series.unwrap();
    assert_eq!(series.untimed, 0);
    let total: u64 = series.points.iter().map(|p| p.matched).sum();
    assert_eq!(total, rows.len() as u64);
}

#[test]
fn cicflowmeter_csv() {
    let file = real("cicids2017-improved-sample/Portscan_2500.csv.gz");
    let text = read_text(&file);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (src, dport, time) = (col("Src IP"), col("Dst Port"), col("Timestamp"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();

    let low_ports = tally(
        rows.iter()
            .filter(|r| r[dport].parse::<u32>().unwrap() < 1024)
            .map(|r| r[src]),
    );
    let result = run(&[&file], "dst_port<1024 | stats count by src_ip");
    assert_eq!(counts(&result), low_ports);

    // CICFlowMeter's `Timestamp` column (`2017-07-07 12:59:21.088203`, one width: text
    // order is time order) times every flow.
    let mut times: Vec<&str> = rows.iter().map(|r| r[time]).collect();
    times.sort_unstable();
    let cut = &times[times.len() / 2][..19];
    let before = times.iter().filter(|t| **t < cut).count() as u64;
    let q = format!("latest={} | stats count", cut.replace(' ', "T"));
    assert_eq!(run(&[&file], &q).matched, before);

    // The time field can be named: with none, the series is all untimed.
    let options = ScanOptions {
        time_field: Some("no such field".into()),
        ..ScanOptions::default()
    };
    let series = run_with(&[file], "| timechart count", &options)
        .series
        .unwrap();
    assert_eq!(series.untimed, rows.len() as u64);
}
