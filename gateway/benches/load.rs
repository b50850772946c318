//! `cargo xtask bench load`: a release gateway (`SKETCHLAKE_BENCH_BIN`) over the scan
//! bench's lake (`SKETCHLAKE_BENCH_LAKE`, 4M flows in 168 indexed segments), held under
//! load; figures in docs/RELIABILITY.md.
//!
//! 1. Idle: each query of the mix, and a needle query's latency, alone.
//! 2. Load: 50 WebSocket and 50 HTTP clients each asking one query after another, from a
//!    mix of whole-lake scans, day- and hour-bounded aggregations and needles, for
//!    `SKETCHLAKE_LOAD_SECONDS` (300). Every answer must be whole (no error, not stopped)
//!    and count what the same query counted alone. Meanwhile the needle is asked once a
//!    second, and the gateway's RSS and `/metrics` are sampled.
//! 3. 1,000 idle WebSockets (upgraded, no query yet): what they cost the gateway in memory.
//!
//! Fails (exit code 101) if a query is lost or fails, if the needle's median latency under
//! load is over 3× its idle median, or if the gateway's peak RSS passes `RSS_BOUND_MIB`.
#![allow(clippy::unwrap_used)] // a bench: a panic is the failure report

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use shared_sketch::{ClientMessage, Fold, decode_frame, encode};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

const WS_CLIENTS: usize = 50;
const HTTP_CLIENTS: usize = 50;
const IDLE_SOCKETS: usize = 1000;
const NEEDLE_RUNS: usize = 30;
/// Peak RSS the gateway must stay under, in MiB: 16 at start, plus for each of the 128
/// queries the tenant may run at once its bounded state (16 frames queued, one coalesced
/// partial, the hits it keeps; ~0.3 MiB measured) at 0.5 MiB, plus 16 MiB for each of
/// the two scan slots (a segment's pages and the reader's buffers). Figures:
/// docs/RELIABILITY.md.
const RSS_BOUND_MIB: u64 = 128;

/// The mix the clients draw from, in turn (each client starts at its own place): the
/// kinds of query a SOC asks during an incident.
const MIX: &[&str] = &[
    "earliest=2026-11-20T00:00:00Z latest=2026-11-21T00:00:00Z | timechart span=1h count by action",
    "action:REJECT earliest=2026-11-22T00:00:00Z latest=2026-11-22T06:00:00Z | top 5 dstport",
    "dstport:22 earliest=2026-11-19T00:00:00Z latest=2026-11-20T00:00:00Z | stats count, dc(srcaddr)",
    "| top 10 srcaddr",
    "earliest=2026-11-18T00:00:00Z latest=2026-11-19T00:00:00Z | stats sum(bytes), p99(bytes) by protocol",
    "dstaddr:10.0.0.23 dstport:389 | stats count by srcaddr | sort 5 -count",
    "action:REJECT | stats dc(srcaddr), count",
    "earliest=2026-11-21T12:00:00Z latest=2026-11-21T13:00:00Z | rare 5 srcaddr",
];

fn main() {
    let bin = std::env::var("SKETCHLAKE_BENCH_BIN").expect("SKETCHLAKE_BENCH_BIN");
    let lake = std::env::var("SKETCHLAKE_BENCH_LAKE").expect("SKETCHLAKE_BENCH_LAKE");
    let seconds: u64 = std::env::var("SKETCHLAKE_LOAD_SECONDS")
        .map_or(300, |s| s.parse().expect("SKETCHLAKE_LOAD_SECONDS"));
    let gateway = Gateway::start(&bin, &lake);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench(&gateway, Duration::from_secs(seconds)));
}

/// The gateway under test, its own process.
struct Gateway {
    child: Child,
    base: String,
    metrics: String,
}

impl Gateway {
    fn start(bin: &str, lake: &str) -> Gateway {
        // 100 clients of one tenant at once: the tenant's limit (32 by default) is raised
        // to let them all in; what is measured is the gateway, not its refusals.
        let mut child = Command::new(bin)
            .args(["serve", "--no-auth", "--listen", "127.0.0.1:0"])
            .args(["--metrics-listen", "127.0.0.1:0", "--ui", "/nonexistent"])
            .args(["--max-queries-per-tenant", "128"])
            .args(["--data", lake])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (mut base, mut metrics) = (String::new(), String::new());
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let url = line.rsplit(' ').next().unwrap().to_string();
            if line.starts_with("sketchlake metrics on") {
                metrics = url;
            } else if line.starts_with("sketchlake listening on") {
                base = url;
                break;
            }
        }
        assert!(!base.is_empty(), "the gateway did not start");
        Gateway {
            child,
            base,
            metrics,
        }
    }

    /// (VmRSS, VmHWM) in KiB.
    fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
                .unwrap()
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn metrics_text(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

fn parse_metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A query's outcome as a client sees it: how many events it counted, or why it failed.
type Outcome = Result<u64, String>;

async fn over_http(http: &reqwest::Client, base: &str, q: &str) -> Outcome {
    let response = http
        .post(format!("{base}/api/v1/query"))
        .json(&serde_json::json!({ "q": q }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status}: {body}"));
    }
    body["matched"]
        .as_u64()
        .ok_or_else(|| format!("no count: {body}"))
}

async fn over_websocket(base: &str, q: &str) -> Outcome {
    let url = format!("{}/ws", base.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| e.to_string())?;
    let ask = ClientMessage::Query {
        q: q.into(),
        hits: 0,
        key: None,
    };
    socket
        .send(Message::Binary(encode(&ask).unwrap().into()))
        .await
        .map_err(|e| e.to_string())?;
    let mut fold = Fold::default();
    while let Some(message) = socket.next().await {
        match message.map_err(|e| e.to_string())? {
            Message::Binary(bytes) => {
                fold.apply(decode_frame(&bytes).map_err(|e| e.to_string())?);
                if let Some(outcome) = fold.outcome() {
                    let answer = outcome.map_err(|e| e.message)?;
                    return match answer.stopped {
                        Some(why) => Err(why),
                        None => Ok(answer.result.matched),
                    };
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    Err("the socket closed before the answer".into())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, mut ms: Vec<f64>) -> f64 {
    ms.sort_by(f64::total_cmp);
    let (p50, p95, max) = (
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        ms[ms.len() - 1],
    );
    println!(
        "{name}: {} runs, p50 {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms",
        ms.len()
    );
    p50
}

async fn timed(http: &reqwest::Client, base: &str, q: &str) -> (f64, Outcome) {
    let started = Instant::now();
    let outcome = over_http(http, base, q).await;
    (started.elapsed().as_secs_f64() * 1e3, outcome)
}

async fn bench(gateway: &Gateway, duration: Duration) {
    let http = reqwest::Client::new();
    let base = gateway.base.as_str();
    let (rss_start, _) = gateway.rss_kib();
    println!("gateway at {base}, RSS {} MiB at start", rss_start / 1024);

    // The needle: the rarest source in the lake.
    let rare = over_http_json(&http, base, "| rare 1 srcaddr").await;
    let address = rare["aggs"][0]["value"]["rows"][0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no rare source in {rare}"))
        .to_string();
    let needle = format!("srcaddr:{address} | stats count");

    // 1. Idle: every query of the mix alone (its count, for checking answers under load),
    // then the needle.
    let mut expected = BTreeMap::new();
    for q in MIX {
        let (ms, outcome) = timed(&http, base, q).await;
        let matched = outcome.unwrap_or_else(|e| panic!("{q}: {e}"));
        println!("alone: {ms:8.1} ms  {matched:>9} events  {q}");
        expected.insert(*q, matched);
    }
    let needle_count = timed(&http, base, &needle).await.1.unwrap();
    let mut idle = Vec::new();
    for _ in 0..NEEDLE_RUNS {
        let (ms, outcome) = timed(&http, base, &needle).await;
        assert_eq!(outcome, Ok(needle_count));
        idle.push(ms);
    }
    let idle_p50 = summary(&format!("needle alone ({needle})"), idle);

    // 2. Load.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let latencies = Arc::new(Mutex::new(BTreeMap::<&str, Vec<f64>>::new()));
    let before = metrics_text(&http, &gateway.metrics).await;
    let started = Instant::now();
    let mut clients = Vec::new();
    for client in 0..WS_CLIENTS + HTTP_CLIENTS {
        let (stop, done, failures, latencies, expected) = (
            stop.clone(),
            done.clone(),
            failures.clone(),
            latencies.clone(),
            expected.clone(),
        );
        let (http, base) = (http.clone(), base.to_string());
        clients.push(tokio::spawn(async move {
            let mut turn = client;
            while !stop.load(Ordering::Relaxed) {
                let q = MIX[turn % MIX.len()];
                turn += 1;
                let asked = Instant::now();
                let outcome = if client < WS_CLIENTS {
                    over_websocket(&base, q).await
                } else {
                    over_http(&http, &base, q).await
                };
                let ms = asked.elapsed().as_secs_f64() * 1e3;
                match outcome {
                    Ok(n) if n == expected[q] => {
                        done.fetch_add(1, Ordering::Relaxed);
                        latencies.lock().await.entry(q).or_default().push(ms);
                    }
                    Ok(n) => failures
                        .lock()
                        .await
                        .push(format!("{q}: counted {n}, alone {}", expected[q])),
                    Err(e) => failures.lock().await.push(format!("{q}: {e}")),
                }
            }
        }));
    }
    let mut under_load = Vec::new();
    let (mut peak_running, mut peak_slots) = (0.0f64, 0.0f64);
    let mut rss_samples = Vec::new();
    while started.elapsed() < duration {
        let (ms, outcome) = timed(&http, base, &needle).await;
        match outcome {
            Ok(n) if n == needle_count => under_load.push(ms),
            other => failures.lock().await.push(format!("needle: {other:?}")),
        }
        let text = metrics_text(&http, &gateway.metrics).await;
        peak_running = peak_running.max(parse_metric(&text, "sketchlake_queries_running"));
        peak_slots = peak_slots.max(parse_metric(&text, "sketchlake_executor_slots_in_use"));
        rss_samples.push(gateway.rss_kib().0);
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(Duration::from_millis(ms as u64)))
            .await;
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = metrics_text(&http, &gateway.metrics).await;
    let (_, peak_rss) = gateway.rss_kib();

    // 3. Idle sockets, after the load: the peak above is the load's alone.
    idle_sockets(gateway, base).await;

    println!(
        "\nload: {WS_CLIENTS} WebSocket + {HTTP_CLIENTS} HTTP clients for {elapsed:.0} s: {} queries answered whole, {:.2} a second",
        done.load(Ordering::Relaxed),
        done.load(Ordering::Relaxed) as f64 / elapsed
    );
    for (q, ms) in std::mem::take(&mut *latencies.lock().await) {
        summary(&format!("  {q}"), ms);
    }
    let needle_p50 = summary("needle under load", under_load);
    let delta = |name: &str| parse_metric(&after, name) - parse_metric(&before, name);
    for outcome in [
        "finished",
        "failed",
        "rejected",
        "cancelled",
        "stopped",
        "busy",
    ] {
        let line = format!("sketchlake_queries_total{{outcome=\"{outcome}\"}}");
        println!(
            "/metrics {line}: +{}",
            parse_metric(&after, &line) - parse_metric(&before, &line)
        );
    }
    println!(
        "/metrics: peak queries running {peak_running}, peak slots in use {peak_slots} of {}; scanned {:.1} GB, pruned {:.1} GB; files failed +{}",
        parse_metric(&after, "sketchlake_executor_slots"),
        delta("sketchlake_scanned_bytes_total") / 1e9,
        delta("sketchlake_pruned_bytes_total") / 1e9,
        delta("sketchlake_failed_files_total"),
    );
    rss_samples.sort_unstable();
    let peak_rss = peak_rss / 1024;
    println!(
        "gateway RSS: {} MiB at start, median {} MiB under load, peak {peak_rss} MiB (bound {RSS_BOUND_MIB} MiB)",
        rss_start / 1024,
        rss_samples[rss_samples.len() / 2] / 1024
    );
    let ratio = needle_p50 / idle_p50;
    println!("needle median under load / alone: {ratio:.2}× (bound 3×)");

    let failures = failures.lock().await;
    for failure in failures.iter().take(20) {
        println!("FAILED {failure}");
    }
    assert!(failures.is_empty(), "{} queries failed", failures.len());
    assert_eq!(delta("sketchlake_failed_files_total"), 0.0);
    assert!(ratio <= 3.0, "the needle slowed {ratio:.2}× under load");
    assert!(peak_rss < RSS_BOUND_MIB, "peak RSS {peak_rss} MiB");
}

async fn over_http_json(http: &reqwest::Client, base: &str, q: &str) -> serde_json::Value {
    http.post(format!("{base}/api/v1/query"))
        .json(&serde_json::json!({ "q": q }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Opens `IDLE_SOCKETS` WebSockets that ask nothing, and reports what they cost.
async fn idle_sockets(gateway: &Gateway, base: &str) {
    let url = format!("{}/ws", base.replacen("http", "ws", 1));
    let (before, _) = gateway.rss_kib();
    let started = Instant::now();
    let mut sockets = Vec::with_capacity(IDLE_SOCKETS);
    for _ in 0..IDLE_SOCKETS {
        sockets.push(tokio_tungstenite::connect_async(&url).await.unwrap().0);
    }
    // Let the gateway settle its side of every upgrade.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (held, _) = gateway.rss_kib();
    println!(
        "{IDLE_SOCKETS} idle WebSockets (opened in {:.1} s): RSS {:.1} → {:.1} MiB, {:.1} KiB each",
        started.elapsed().as_secs_f64(),
        before as f64 / 1024.0,
        held as f64 / 1024.0,
        held.saturating_sub(before) as f64 / IDLE_SOCKETS as f64
    );
    drop(sockets);
}
