//! `cargo xtask bench lake`: the catalog and the stream at scale (figures in
//! docs/BENCHMARKS.md).
//!
//! 1. Planning over a catalog of 10,000 segments (a year of hourly-ish segments): the
//!    catalog query plus turning rows into scan tasks, for a query over everything and for
//!    one bounded to a day. SQLite always; PostgreSQL too when `SKETCHLAKE_BENCH_POSTGRES`
//!    names a server (`cargo xtask bench lake` starts one).
//! 2. A query over 1,000 real segments (42 days of hourly demo files, ingested): frames and
//!    bytes the client receives, against the count and bytes of every partial the workers
//!    produced — what coalescing between flushes saves.
#![allow(clippy::unwrap_used)] // a bench: a panic is the failure report

use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway::demo::{self, DemoConfig};
use gateway::engine::executor::LocalPool;
use gateway::engine::planner::plan;
use gateway::engine::{Ask, Engine, run_query};
use lake::Lake;
use lake::catalog::{DEFAULT_TENANT, Entry, Kind, State};
use shared_sketch::{Frame, encode, encode_frame, parse};
use tokio_util::sync::CancellationToken;
use workers::ScanOptions;

const SEGMENTS: i64 = 10_000;
const RUNS: usize = 20;
const HOUR_MS: i64 = 3_600_000;
/// 2026-01-01T00:00:00Z.
const YEAR_START_MS: i64 = 1_767_225_600_000;

#[tokio::main]
async fn main() {
    planning("sqlite", None).await;
    if let Ok(url) = std::env::var("SKETCHLAKE_BENCH_POSTGRES") {
        planning("postgres", Some(&url)).await;
    }
    streaming().await;
}

async fn planning(backend: &str, url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path(), url).await.unwrap();
    // 10,000 segments spread over a year: 52.56 minutes each.
    let span = 365 * 24 * HOUR_MS / SEGMENTS;
    let entries: Vec<Entry> = (0..SEGMENTS)
        .map(|i| {
            let uri = format!("file:///lake/.sketchlake/segments/s{i:05}.ndjson.gz");
            let start = YEAR_START_MS + i * span;
            Entry {
                index_uri: Some(format!("{uri}.idx")),
                uri,
                kind: Kind::Segment,
                format: "ndjson".to_string(),
                time: Some((start, start + span - 1)),
                time_fields: workers::time_fields(workers::Format::Ndjson, &ScanOptions::default())
                    .join(","),
                rows: Some(250_000),
                bytes: 25 << 20,
                source: None,
                modified_ms: 0,
                state: State::Active,
            }
        })
        .collect();
    let started = Instant::now();
    lake.catalog.register(&entries).await.unwrap();
    println!(
        "\n{backend}: registered {SEGMENTS} segments in one transaction in {:.0?}",
        started.elapsed()
    );
    let day = YEAR_START_MS + 180 * 24 * HOUR_MS;
    let options = ScanOptions::default();
    println!(
        "| {backend}: query | tasks | pruned | plan, median | plan, max | of which the catalog query |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for text in [
        "src_ip:10.0.0.5 | stats count".to_string(),
        format!(
            "src_ip:10.0.0.5 earliest={} latest={} | stats count",
            day / 1000,
            (day + 24 * HOUR_MS) / 1000
        ),
    ] {
        let mut query = parse(&text).unwrap();
        query.resolve_time(YEAR_START_MS);
        let mut times = Vec::with_capacity(RUNS);
        let mut last = None;
        for _ in 0..RUNS {
            let t = Instant::now();
            last = Some(plan(&lake, &query, &options).await.unwrap());
            times.push(t.elapsed());
        }
        times.sort();
        let planned = last.unwrap();
        let mut catalog_times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = Instant::now();
            lake.catalog
                .plan(query.time_range_if_absolute(), |f| {
                    workers::scanned_time_fields(f, &options)
                })
                .await
                .unwrap();
            catalog_times.push(t.elapsed());
        }
        catalog_times.sort();
        println!(
            "| `{text}` | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
            planned.tasks.len(),
            planned.pruned,
            ms(times[RUNS / 2]),
            ms(times[RUNS - 1]),
            ms(catalog_times[RUNS / 2])
        );
    }
}

async fn streaming() {
    let data = tempfile::tempdir().unwrap();
    let lake_dir = tempfile::tempdir().unwrap();
    let config = DemoConfig {
        records: 420_000,
        days: 42,
        ..DemoConfig::default()
    };
    let files = demo::generate(data.path(), &config).unwrap();
    let lake = Lake::open(lake_dir.path(), None).await.unwrap();
    let report = lake::ingest::ingest(
        &lake,
        &data.path().display().to_string(),
        &ScanOptions::default(),
        &Default::default(),
    )
    .await
    .unwrap();
    println!(
        "\nstreaming: {} demo files ingested into {} segments ({} rows)",
        files.len(),
        report.segments,
        report.rows
    );
    let engine = Arc::new(Engine::new(lake, Arc::new(LocalPool::with_cores())));
    println!(
        "| query | segments | partials | partial bytes | frames | frame bytes | bytes saved | wall |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for text in [
        "| stats count, dc(srcaddr), p99(bytes)",
        "action:REJECT | top 10 srcaddr",
        "| stats count, sum(bytes) by dstport",
    ] {
        // Every partial the workers produce, as the gateway would receive them.
        let mut query = parse(text).unwrap();
        query.resolve_time(0);
        let planned = plan(engine.lake(), &query, engine.scan()).await.unwrap();
        let segments = planned.tasks.len();
        let mut partials =
            engine
                .executor()
                .execute(Arc::new(query), engine.scan().clone(), planned.tasks);
        let (mut count, mut partial_bytes) = (0u64, 0usize);
        while let Some(p) = partials.recv().await {
            count += 1;
            partial_bytes += encode(&p).unwrap().len();
        }
        // What the client receives for the same query.
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let started = Instant::now();
        let runner = tokio::spawn({
            let engine = engine.clone();
            let ask = Ask::new(DEFAULT_TENANT, text, 0);
            async move { run_query(&engine, &ask, tx, CancellationToken::new()).await }
        });
        let (mut frames, mut frame_bytes) = (0u64, 0usize);
        while let Some(frame) = rx.recv().await {
            frames += 1;
            frame_bytes += encode_frame(&frame).unwrap().len();
            if let Frame::Error(e) = frame {
                panic!("{text}: {}", e.message);
            }
        }
        runner.await.unwrap();
        let wall = started.elapsed();
        println!(
            "| `{text}` | {segments} | {count} | {} | {frames} | {} | {:.1}× | {:.2} s |",
            kib(partial_bytes),
            kib(frame_bytes),
            partial_bytes as f64 / frame_bytes as f64,
            wall.as_secs_f64()
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}
