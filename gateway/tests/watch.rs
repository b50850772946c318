//! `sketchlake serve --watch`: files dropped into the watched folder become searchable
//! (as indexed segments) while the server runs, and small segments are compacted, with
//! every answer along the way exact.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

#[tokio::test]
async fn files_dropped_into_the_watched_folder_become_searchable_segments() {
    let (demo, files) = common::demo_data(24_000);
    let expected = common::records(demo.path()).len() as u64;
    let lake = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    let server = common::Served::watching(
        lake.path(),
        inbox.path(),
        &["--metrics-listen".as_ref(), "127.0.0.1:0".as_ref()],
    );
    let base = &server.base;
    let url = format!("{base}/api/v1/query");

    let (status, empty) = common::post_query(&url, "| stats count").await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["matched"], 0);

    // As a log shipper does: each file written elsewhere, then renamed in whole.
    for file in &files {
        std::fs::rename(file, inbox.path().join(file.file_name().unwrap())).unwrap();
    }
    let q = "| stats count, sum(bytes) by action";
    let started = Instant::now();
    let answer = loop {
        let (status, body) = common::post_query(&url, q).await;
        assert_eq!(status, 200, "{body}");
        let matched = body["matched"].as_u64().unwrap();
        assert!(matched <= expected, "counted twice: {body}");
        // Ingested and compacted: everything, in one segment.
        if matched == expected && body["stats"]["files"] == 1 {
            break body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not ingested and compacted in time: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(answer["stats"]["pages"].as_u64().unwrap() > 0, "{answer}");

    // The same answer as a one-off query over the files themselves.
    let (status, direct) = common::post_query(
        &format!(
            "http://{}/api/v1/query",
            common::start(inbox.path(), 2).await
        ),
        q,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["groups"], direct["groups"]);

    // The operator sees the ingest caught up, on the metrics address (no key there).
    let metrics = reqwest::get(server.metrics.as_deref().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} missing from\n{metrics}"))
            .to_string()
    };
    assert_eq!(
        value("sketchlake_ingested_files_total"),
        files.len().to_string()
    );
    assert_eq!(value("sketchlake_ingest_waiting_files"), "0");
    assert_eq!(value("sketchlake_ingest_lag_seconds"), "0");
    assert_eq!(value("sketchlake_ingest_failures_total"), "0");
}
