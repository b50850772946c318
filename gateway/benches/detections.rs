//! `cargo xtask bench detections`: what detection rules cost (figures in
//! docs/BENCHMARKS.md). Every comparison is a ratio of runs made in the same process.
//!
//! 1. Ingest of the scan bench's lake (`SKETCHLAKE_BENCH_DATA`: 4M demo flows, 4.1M with
//!    the planted stories) with 0, 10 and 100 active rules, each into a fresh lake.
//! 2. The matcher alone on parsed events with 100 rules, on one core: a detector pass over
//!    the same events in memory with 100 rules and with none; the difference is the rules.
//! 3. A scheduled run over 10,000 stored minute rollups: one window over all of them, and
//!    a 1-hour window every 5 minutes across them.
//! 4. From a file landing in the watched folder to the webhook receiving its alert, with
//!    `serve`'s default watch interval.
//! 5. Sigma: the CloudTrail rules of the SigmaHQ subset, on one core, over real CloudTrail
//!    records (../shared/data/real) repeated: sketchlake's detector, and rsigma's engine
//!    (`rsigma engine eval`) when `SKETCHLAKE_BENCH_RSIGMA` names its binary, over the same
//!    events in the same run.
#![allow(clippy::unwrap_used)] // a bench: a panic is the failure report

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gateway::detect::{Loaded, Rule, parse_rule, run_rules};
use lake::Lake;
use lake::rollups::{Detected, Watching};
use workers::{Detector, ScanOptions, Watch};

#[tokio::main]
async fn main() {
    let data = match std::env::var("SKETCHLAKE_BENCH_DATA") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => {
            panic!("SKETCHLAKE_BENCH_DATA names the demo flows: run `cargo xtask bench detections`")
        }
    };
    // `SKETCHLAKE_BENCH_ONLY=matcher` (or runs, latency, ingest) runs one part.
    let only = std::env::var("SKETCHLAKE_BENCH_ONLY").ok();
    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if part("matcher") {
        matcher(&data);
    }
    if part("runs") {
        scheduled_runs().await;
    }
    if part("latency") {
        latency().await;
    }
    if part("ingest") {
        ingest(&data).await;
    }
    if part("sigma") {
        sigma();
    }
}

/// Real CloudTrail records, one JSON object a line: stratus-cloudtrail's detonations,
/// otrf-aws and Panther's fixtures.
fn cloudtrail_records(real: &Path) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for dir in ["stratus-cloudtrail", "otrf-aws", "panther-test-events"] {
        for file in lake::folder::list_files(&real.join(dir)).unwrap() {
            let name = file.to_string_lossy().to_string();
            let json = name.ends_with(".json") || name.ends_with(".json.gz");
            if (json && !name.contains("all_detonations")) || name.contains("AWS_CloudTrail") {
                files.push(file);
            }
        }
    }
    let mut out = Vec::new();
    for file in files {
        let mut text = String::new();
        if file.extension().is_some_and(|e| e == "gz") {
            std::io::Read::read_to_string(
                &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&file).unwrap()),
                &mut text,
            )
            .unwrap();
        } else {
            text = std::fs::read_to_string(&file).unwrap();
        }
        let records: Vec<serde_json::Value> = match serde_json::from_str(&text) {
            Ok(serde_json::Value::Array(records)) => records,
            Ok(serde_json::Value::Object(mut doc)) => match doc.remove("Records") {
                Some(serde_json::Value::Array(records)) => records,
                _ => vec![serde_json::Value::Object(doc)],
            },
            _ => text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
        };
        out.extend(
            records
                .into_iter()
                .filter(|r| r.get("eventSource").is_some() && r.get("eventName").is_some())
                .map(|r| serde_json::to_vec(&r).unwrap()),
        );
    }
    out
}

fn sigma() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/real");
    // The CloudTrail rules (`rules-placeholder/` holds the one needing `expand`).
    let rules_dir = real.join("sigma/rules-subset/aws_cloudtrail/rules");
    let folder = gateway::detect::load(&rules_dir).unwrap();
    let rules: Vec<Rule> = folder.rules.into_values().collect();
    let records = cloudtrail_records(&real);
    let n: usize = std::env::var("SKETCHLAKE_BENCH_SIGMA_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(500_000);
    let events: Vec<Vec<u8>> = records.iter().cycle().take(n).cloned().collect();
    let bytes: usize = events.iter().map(Vec::len).sum();
    let watched = watches(&rules);
    let median = |mut runs: Vec<Duration>| {
        runs.sort();
        runs[runs.len() / 2]
    };
    let parse_only = never_matching(&watched);
    let (mut parse, mut ours, mut rolled) = (Vec::new(), Vec::new(), Vec::new());
    let mut matches = 0;
    for _ in 0..3 {
        parse.push(detector_pass(&parse_only, &events, false).0);
        let (took, found) = detector_pass(&watched, &events, false);
        ours.push(took);
        matches = found;
        rolled.push(detector_pass(&watched, &events, true).0);
    }
    let (parse, ours, rolled) = (median(parse), median(ours), median(rolled));
    let rate = |d: Duration| n as f64 / d.as_secs_f64() / 1e6;
    println!(
        "\nsigma, one core: {} CloudTrail rules ({} refused), {n} events ({} distinct real \
         records, {:.0} MB): sketchlake parsing them {parse:.2?}; parsing and matching {ours:.2?} \
         ({:.2} M events/s, {matches} rule matches; the rules alone {:.2} M events/s); with \
         rolling up {rolled:.2?} ({:.2} M events/s)",
        rules.len(),
        folder.refused.len(),
        records.len(),
        bytes as f64 / 1e6,
        rate(ours),
        n as f64 / ours.saturating_sub(parse).as_secs_f64() / 1e6,
        rate(rolled),
    );
    let Ok(rsigma) = std::env::var("SKETCHLAKE_BENCH_RSIGMA") else {
        println!("  rsigma: not run (SKETCHLAKE_BENCH_RSIGMA names its binary)");
        return;
    };
    // The same events and rules: rsigma reads NDJSON and writes a line per match.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.ndjson");
    let mut text = Vec::with_capacity(bytes + n);
    for event in &events {
        text.extend_from_slice(event);
        text.push(b'\n');
    }
    std::fs::write(&input, text).unwrap();
    // `rsigma engine eval` over the events with `rules`, pinned to one core, three times:
    // the median time, and the matches it wrote (a line each).
    let rsigma_eval = |rules: &Path| {
        let mut runs = Vec::new();
        let mut matches = 0;
        for _ in 0..3 {
            let started = Instant::now();
            let out = std::process::Command::new("taskset")
                .args([
                    "-c",
                    "0",
                    &rsigma,
                    "engine",
                    "eval",
                    "--quiet",
                    "--no-stats",
                ])
                .args(["--output-format", "ndjson", "-r"])
                .arg(rules)
                .arg("-e")
                .arg(format!("@{}", input.display()))
                .output()
                .unwrap();
            runs.push(started.elapsed());
            assert!(
                out.status.success(),
                "rsigma failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            matches = out
                .stdout
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count();
        }
        (median(runs), matches)
    };
    let (theirs, rsigma_matches) = rsigma_eval(&rules_dir);
    // rsigma reading and parsing the events: one rule that matches none.
    let quiet = dir.path().join("quiet");
    std::fs::create_dir(&quiet).unwrap();
    std::fs::write(
        quiet.join("never.yml"),
        "title: never\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {eventName: NoSuchEventEver}\n  condition: sel\n",
    )
    .unwrap();
    let (reading, _) = rsigma_eval(&quiet);
    println!(
        "  rsigma engine eval, pinned to one core: {theirs:.2?} ({:.2} M events/s, {rsigma_matches} \
         matches, reading the file and writing its matches included); with one rule matching \
         nothing {reading:.2?}, so its rules alone {:.2} M events/s; sketchlake / rsigma: {:.2}x \
         the rate, {:.2}x the rules alone",
        rate(theirs),
        n as f64 / theirs.saturating_sub(reading).as_secs_f64() / 1e6,
        theirs.as_secs_f64() / ours.as_secs_f64(),
        theirs.saturating_sub(reading).as_secs_f64() / ours.saturating_sub(parse).as_secs_f64(),
    );
}

/// `n` rules over flow logs, as a team would write them: most name a port and an action
/// (looked up by value), some a network or a size (tried on every event); ten count every
/// rejected flow's port by source (scan detection), the broadest. The generator repeats a
/// family's filter at several thresholds, so of 100 rules many roll up alike and are
/// evaluated once (27 computations). `distinct` makes each rule its own computation: its
/// filter also leaves out a source no flow has (`NOT src_ip:240.0.0.i`, reserved space),
/// the same matches at the cost of 100 rules. The bench prints how many rules an event
/// matches on average.
fn rules(n: usize, distinct: bool) -> Vec<Rule> {
    const PORTS: [u16; 20] = [
        21, 22, 23, 25, 53, 80, 110, 135, 139, 143, 389, 443, 445, 1433, 3306, 3389, 5432, 5900,
        6379, 8080,
    ];
    (0..n)
        .map(|i| {
            let port = PORTS[i % PORTS.len()];
            let query = match i % 10 {
                0..=4 => format!(
                    "dst_port:{port} action:REJECT | stats count by src_ip | where count > {}",
                    50 + i
                ),
                5..=6 => format!(
                    "dst_port:{port} action:ACCEPT bytes>10000000 | stats count, sum(bytes) by src_ip, dst_ip | where sum(bytes) > {}",
                    1_000_000_000 + i
                ),
                7 => format!(
                    "action:REJECT | stats dc(dst_port) by src_ip | where dc(dst_port) > {}",
                    100 + i
                ),
                8 => format!(
                    "src_ip:10.{}.0.0/16 NOT dst_ip:10.0.0.0/8 bytes>1000000 | stats sum(bytes) by src_ip, dst_ip | where sum(bytes) > 1000000000",
                    i % 4
                ),
                _ => format!("bytes>{} dst_port:{port}", 400_000_000 + i),
            };
            let query = match query.split_once(" | ") {
                Some((filter, rest)) if distinct => {
                    format!("{filter} NOT src_ip:240.0.0.{i} | {rest}")
                }
                None if distinct => format!("{query} NOT src_ip:240.0.0.{i}"),
                _ => query,
            };
            let text = format!(
                "id: rule-{i}\nname: Rule {i}\nseverity: medium\nquery: \"{query}\"\nwindow: 1h\nevery: 5m\n"
            );
            parse_rule(Path::new("bench.yml"), &text).unwrap()
        })
        .collect()
}

fn watches(rules: &[Rule]) -> Vec<Watch> {
    rules.iter().map(Rule::watch).collect()
}

/// The demo flows' events, as NDJSON lines in memory (at most `limit`).
fn events(data: &Path, limit: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for file in lake::folder::list_files(data).unwrap() {
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&file).unwrap()),
            &mut text,
        )
        .unwrap();
        out.extend(text.lines().map(|l| l.as_bytes().to_vec()));
        if out.len() >= limit {
            out.truncate(limit);
            break;
        }
    }
    out
}

/// Events per detector: ingest makes one per source file, and the scan bench's files hold
/// an hour of flows, about this many.
const EVENTS_PER_FILE: usize = 24_400;

/// Detectors over `rules`, one per `EVENTS_PER_FILE` events: `roll_up` false only finds
/// the rules each event matches; true also rolls the matches up and encodes them, as
/// ingest does.
fn detector_pass(rules: &[Watch], events: &[Vec<u8>], roll_up: bool) -> (Duration, usize) {
    let started = Instant::now();
    let mut matches = 0;
    for (f, file) in events.chunks(EVENTS_PER_FILE).enumerate() {
        let mut detector = Detector::new(rules, "bench", 0);
        detector.read_time_from(&workers::time_fields(
            workers::Format::Ndjson,
            &ScanOptions::default(),
        ));
        for (i, event) in file.iter().enumerate() {
            if roll_up {
                detector.object((f * EVENTS_PER_FILE + i) as u64, event);
            } else {
                matches += detector.count_matching(event).unwrap_or(0);
            }
        }
        std::hint::black_box(detector.finish().expect("rollups encode"));
    }
    (started.elapsed(), matches)
}

/// The same rules behind a test no event passes: the same fields parsed, none tried.
fn never_matching(watched: &[Watch]) -> Vec<Watch> {
    watched
        .iter()
        .map(|w| {
            let mut w = w.clone();
            let never = shared_sketch::parse("nosuchfield:1").unwrap().search;
            w.query.search = match (never, w.query.search.take()) {
                (Some(never), Some(search)) => {
                    Some(shared_sketch::query::Expr::And(vec![never, search]))
                }
                (never, search) => never.or(search),
            };
            w
        })
        .collect()
}

fn matcher(data: &Path) {
    let n: usize = std::env::var("SKETCHLAKE_BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000_000);
    let events = events(data, n);
    let hundred = rules(100, true);
    let watched = watches(&hundred);
    let parse_only = never_matching(&watched);
    let median = |mut runs: Vec<Duration>| {
        runs.sort();
        runs[runs.len() / 2]
    };
    let (mut parse, mut matching, mut rolled) = (Vec::new(), Vec::new(), Vec::new());
    let mut found = 0;
    for _ in 0..3 {
        parse.push(detector_pass(&parse_only, &events, false).0);
        let (took, matched) = detector_pass(&watched, &events, false);
        matching.push(took);
        found = matched;
        rolled.push(detector_pass(&watched, &events, true).0);
    }
    let (parse, matching, rolled) = (median(parse), median(matching), median(rolled));
    let count = events.len() as f64;
    let rate = |d: Duration| count / d.as_secs_f64() / 1e6;
    println!(
        "\nmatcher, one core, {} events ({:.2} rule matches per event): parsing them {parse:.2?} ({:.2} M events/s); \
         parsing and finding the matches of 100 rules {matching:.2?}; the 100 rules alone {:.2} M events/s; \
         parsing, matching and rolling up {rolled:.2?} ({:.2} M events/s)",
        events.len(),
        found as f64 / count,
        rate(parse),
        count / matching.saturating_sub(parse).as_secs_f64() / 1e6,
        rate(rolled),
    );
}

/// Rollups of one rule for `minutes` minutes, five sources each minute.
async fn stored_rollups(lake: &Lake, rule: &Rule, minutes: i64) {
    let watches = [rule.watch()];
    let key = rule.key();
    // A day of minutes per source file.
    for day in 0..(minutes + 1439) / 1440 {
        let mut detector = Detector::new(&watches, "bench", 0);
        detector.read_time_from(&["ts".to_string()]);
        for minute in day * 1440..((day + 1) * 1440).min(minutes) {
            for s in 0..5 {
                let event = format!(
                    r#"{{"ts": {}, "src_ip": "192.0.2.{s}", "dst_ip": "10.0.1.22", "dst_port": 22}}"#,
                    1_794_700_800 + minute * 60 + s
                );
                detector.object(minute as u64, event.as_bytes());
            }
        }
        lake.catalog
            .add_rollups(Detected {
                source: format!("file:///bench/day-{day}.json"),
                modified_ms: 0,
                rules: vec![key.clone()],
                rollups: detector.finish().unwrap(),
            })
            .await
            .unwrap();
    }
}

async fn scheduled_runs() {
    const MINUTES: i64 = 10_000;
    for (window, every, what) in [
        ("1w", "1w", "one 1-week window over them"),
        ("1h", "5m", "1-hour windows every 5 minutes across them"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path(), None).await.unwrap();
        let text = format!(
            "id: ssh\nname: SSH\nseverity: low\nquery: \"dst_port:22 | stats count by src_ip | where count > 1000000\"\nwindow: {window}\nevery: {every}\n"
        );
        let rule = parse_rule(Path::new("ssh.yml"), &text).unwrap();
        stored_rollups(&lake, &rule, MINUTES).await;
        let loaded = Loaded {
            rules: [(rule.id.clone(), rule)].into_iter().collect(),
            ..Loaded::default()
        };
        let key = loaded.rules["ssh"].key();
        let started = Instant::now();
        let (spans, _) = lake.catalog.rollups_since(&key, 0).await.unwrap();
        let listing = started.elapsed();
        let started = Instant::now();
        let read = lake.catalog.rollups(&key, (0, i64::MAX)).await.unwrap();
        let reading = started.elapsed();
        let started = Instant::now();
        let mut merged = shared_sketch::Partial::new(&loaded.rules["ssh"].watch().query);
        for (_, partial) in &read {
            merged.merge(partial).unwrap();
        }
        let merging = started.elapsed();
        println!(
            "  {} rows of minutes listed in {listing:.1?}; read and decoded in {reading:.1?}; merged in {merging:.1?}",
            spans.len()
        );
        let started = Instant::now();
        let ran = run_rules(&lake, &loaded, &ScanOptions::default(), 0)
            .await
            .unwrap();
        let took = started.elapsed();
        println!(
            "scheduled run over {} stored minute rollups, {what}: {took:.1?} ({} windows; reading and decoding the rollups alone {reading:.1?})",
            read.len(),
            ran.windows
        );
    }
}

/// Serves a lake with a watched folder and one rule sending to a receiver here; drops files
/// and times each alert's arrival.
async fn latency() {
    let received: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let received = received.clone();
            move || async move {
                received.lock().unwrap().push(Instant::now());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (lake, inbox, rules, elsewhere) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    std::fs::write(
        rules.path().join("ssh.yml"),
        "id: ssh\nname: SSH\nseverity: high\nquery: \"dst_port:22 | stats count by src_ip | where count > 5\"\nwindow: 1h\nevery: 5m\nsinks: [hook]\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_sketchlake");
    let status = std::process::Command::new(bin)
        .args([
            "sink", "set", "hook", "--kind", "webhook", "--secret", "s", "--url", &hook, "--data",
        ])
        .arg(lake.path())
        .output()
        .unwrap();
    assert!(status.status.success());
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--no-auth", "--listen", "127.0.0.1:0", "--data"])
        .arg(lake.path())
        .arg("--watch")
        .arg(inbox.path())
        .arg("--rules")
        .arg(rules.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let mut took = Vec::new();
    for i in 0..5 {
        let text: String = (0..6)
            .map(|m| {
                format!(
                    "{{\"ts\":{},\"src_ip\":\"192.0.2.{i}\",\"dst_port\":22}}\n",
                    1_794_700_800 + i * 86_400 + m * 60
                )
            })
            .collect();
        let staged = elsewhere.path().join(format!("{i}.json"));
        std::fs::write(&staged, text).unwrap();
        let landed = Instant::now();
        std::fs::rename(&staged, inbox.path().join(format!("{i}.json"))).unwrap();
        while received.lock().unwrap().len() <= i as usize {
            assert!(
                landed.elapsed() < Duration::from_secs(60),
                "no alert in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        took.push(received.lock().unwrap()[i as usize] - landed);
    }
    let _ = child.kill();
    let _ = child.wait();
    took.sort();
    println!(
        "file landing in the watched folder → webhook receiving its alert (default 2 s watch interval), 5 files: median {:.2?}, max {:.2?}",
        took[2], took[4]
    );
}

async fn ingest(data: &Path) {
    let source = data.display().to_string();
    let mut results: Vec<(String, Duration, f64)> = Vec::new();
    // `SKETCHLAKE_BENCH_RULES=0,100d` measures those alone: a count of the rules as
    // written (at most 100), or with `d`, of distinct ones (`rules`).
    let sets: Vec<String> = std::env::var("SKETCHLAKE_BENCH_RULES")
        .unwrap_or_else(|_| "0,10,100,100d".to_string())
        .split(',')
        .map(|set| set.trim().to_string())
        .collect();
    let reversed: Vec<String> = sets.iter().rev().cloned().collect();
    // Twice, in opposite orders, so drift over the run does not favour one.
    for order in [&sets, &reversed] {
        for set in order {
            let distinct = set.ends_with('d');
            let n: usize = set.trim_end_matches('d').parse().unwrap();
            let all = rules(100, distinct);
            let watching = Watching::new(all[..n].iter().map(|r| (r.key(), r.watch())).collect());
            let dir = tempfile::tempdir().unwrap();
            let lake = Lake::open(dir.path(), None).await.unwrap();
            let (started, cpu_before) = (Instant::now(), cpu_seconds());
            let report = lake::ingest::ingest(&lake, &source, &ScanOptions::default(), &watching)
                .await
                .unwrap();
            let (took, cpu) = (started.elapsed(), cpu_seconds() - cpu_before);
            println!(
                "ingest of {} flows in {} files with {set:>4} rules: {took:.1?} wall, {cpu:.1} s CPU",
                report.rows, report.files
            );
            results.push((set.clone(), took, cpu));
        }
    }
    // Summed over both orders, per set.
    let total = |set: &str| -> (f64, f64) {
        results
            .iter()
            .filter(|(s, _, _)| *s == set)
            .fold((0.0, 0.0), |(w, c), (_, d, cpu)| {
                (w + d.as_secs_f64(), c + cpu)
            })
    };
    let (wall0, cpu0) = total("0");
    for set in sets.iter().filter(|s| *s != "0") {
        let (wall, cpu) = total(set);
        println!(
            "ingest with {set} rules: wall time {:+.1}% of none, CPU time {:+.1}%",
            (wall / wall0 - 1.0) * 100.0,
            (cpu / cpu0 - 1.0) * 100.0
        );
    }
}

/// The process's CPU time so far, user and system, every thread (Linux: /proc/self/stat,
/// in clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // utime and stime are the 14th and 15th fields; `after` starts at the 3rd.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}
