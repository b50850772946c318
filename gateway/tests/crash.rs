//! Crash safety: `sketchlake ingest` and `sketchlake compact` are killed (SIGKILL) part-way,
//! again and again, each time a little later. After every kill the lake must answer exactly
//! as its source files do — nothing lost, nothing counted twice, no half-written segment
//! read — and a rerun must carry on to the end.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lake::Lake;
use lake::catalog::{Kind, State};
use lake::folder::{MANAGED_DIR, path_of};
use workers::read_index;

const EXACT: &str = "| stats count, sum(bytes), min(bytes), max(packets)";

/// Runs `sketchlake args…`, killing it after `delay`. True if it finished first.
fn run_or_kill(args: &[&str], lake: &Path, delay: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sketchlake"))
        .args(args)
        .arg("--data")
        .arg(lake)
        .args(if args[0] == "ingest" {
            vec![lake]
        } else {
            vec![]
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < delay {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{args:?} failed: {status}");
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    // It may have finished between the last look and the kill.
    child.wait().unwrap().success()
}

/// The lake answers as its sources do, and every segment the catalog lists is whole.
async fn check(lake: &Path, expected: &serde_json::Value, when: &str) {
    let opened = Lake::open(lake, None).await.unwrap();
    for e in opened.catalog.list(State::Active).await.unwrap() {
        if e.kind == Kind::Segment {
            let path = path_of(&e.uri).unwrap();
            let index = read_index(&path)
                .unwrap_or_else(|err| panic!("{when}: {} has no index: {err}", e.uri));
            let rows: u64 = index.pages.iter().map(|p| p.rows).sum();
            assert_eq!(Some(rows), e.rows, "{when}: {}", e.uri);
            let last = index.pages.last().unwrap();
            assert_eq!(
                std::fs::metadata(&path).unwrap().len(),
                last.offset + last.length,
                "{when}: {} is not whole",
                e.uri
            );
        }
    }
    drop(opened);
    let url = format!("http://{}/api/v1/query", common::start(lake, 2).await);
    let (status, body) = common::post_query(&url, EXACT).await;
    assert_eq!(status, 200, "{when}: {body}");
    assert_eq!(body["matched"], expected["matched"], "{when}");
    assert_eq!(body["aggs"], expected["aggs"], "{when}");
}

/// Kills `args` at growing delays until a run finishes; checks the lake after each kill.
async fn until_done(args: &[&str], lake: &Path, expected: &serde_json::Value) -> u32 {
    let mut delay = Duration::from_millis(60);
    let mut kills = 0;
    while !run_or_kill(args, lake, delay) {
        kills += 1;
        check(lake, expected, &format!("{args:?} killed after {delay:?}")).await;
        eprintln!("{args:?} killed after {delay:?}: the lake answers exactly");
        delay = delay.mul_f64(1.3);
    }
    kills
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_ingest_and_compaction_lose_nothing_and_show_nothing_half_written() {
    let (dir, _) = common::demo_data(200_000);
    let lake = dir.path();
    let all = common::records(lake);
    let sum = |f: &str| all.iter().map(|r| r[f].as_u64().unwrap()).sum::<u64>();
    let (min, max) = (
        all.iter()
            .map(|r| r["bytes"].as_u64().unwrap())
            .min()
            .unwrap(),
        all.iter()
            .map(|r| r["packets"].as_u64().unwrap())
            .max()
            .unwrap(),
    );
    // Exact answers from the raw files, through the same API: the sources read raw.
    let url = format!("http://{}/api/v1/query", common::start(lake, 2).await);
    let (_, expected) = common::post_query(&url, EXACT).await;
    assert_eq!(expected["matched"], all.len() as u64);
    assert_eq!(expected["aggs"][1]["value"]["value"], sum("bytes") as f64);
    assert_eq!(expected["aggs"][2]["value"]["value"], min as f64);
    assert_eq!(expected["aggs"][3]["value"]["value"], max as f64);

    // The sources sit in the lake itself: registered raw, then ingested into segments.
    let kills = until_done(&["ingest"], lake, &expected).await;
    assert!(kills >= 2, "ingest was killed only {kills} times");
    check(lake, &expected, "after ingest").await;
    let opened = Lake::open(lake, None).await.unwrap();
    let segments = opened.catalog.list(State::Active).await.unwrap();
    assert!(segments.iter().all(|e| e.kind == Kind::Segment));
    assert_eq!(segments.len(), 24, "one segment per hourly source file");
    assert_eq!(
        opened.catalog.list(State::Ingested).await.unwrap().len(),
        24
    );
    drop(opened);

    let kills = until_done(&["compact"], lake, &expected).await;
    assert!(kills >= 2, "compact was killed only {kills} times");
    check(lake, &expected, "after compaction").await;
    let opened = Lake::open(lake, None).await.unwrap();
    let active = opened.catalog.list(State::Active).await.unwrap();
    assert_eq!(active.len(), 1, "the small segments became one");

    // What the kills left behind (unfinished `.part` files, segments written but never
    // registered) and the retired segments are swept; the lake still answers the same.
    opened.sweep(Duration::ZERO).await.unwrap();
    let mut left: Vec<String> = std::fs::read_dir(lake.join(MANAGED_DIR).join("segments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let name = path_of(&active[0].uri)
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(left, [name.clone(), format!("{name}.idx")]);
    assert!(
        opened
            .catalog
            .list(State::Retired)
            .await
            .unwrap()
            .is_empty()
    );
    drop(opened);
    check(lake, &expected, "after the sweep").await;
}
