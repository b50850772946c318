//! What a Lambda worker is asked and answers, run in-process: the answer decodes to the
//! same partial as a direct scan, a refused request says why, and an answer over Lambda's
//! 6 MB response limit is spilled to a file and read back (then deleted).
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::io::Write;

use shared_sketch::parse;
use workers::{
    FileTask, MAX_PAYLOAD_BYTES, ScanOptions, ScanRequest, ScanResponse, scan_file, stores,
};

fn task(path: &std::path::Path) -> FileTask {
    FileTask {
        url: url::Url::from_file_path(path).unwrap().to_string(),
        name: "events.json".to_string(),
        segment: false,
    }
}

/// `lines` JSON events, each with 3 KB of incompressible text.
fn events(dir: &std::path::Path, lines: usize) -> std::path::PathBuf {
    let path = dir.join("events.json");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..lines {
        let noise: String = (0..3000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect();
        writeln!(
            out,
            r#"{{"ts": {i}, "user": "u{}", "noise": "{noise}"}}"#,
            i % 7
        )
        .unwrap();
    }
    drop(out);
    path
}

#[test]
fn an_answer_decodes_to_the_scan_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    let path = events(dir.path(), 50);
    let query = parse("| stats count() by user").unwrap();
    let request =
        ScanRequest::new(&query, &ScanOptions::default(), vec![task(&path)], None).unwrap();
    let response = request.run(stores(), "id").unwrap();
    assert!(matches!(response, ScanResponse::Partial(_)));
    let got = response.into_partial(stores()).unwrap();
    let direct = scan_file(
        path.as_path(),
        "events.json",
        &query,
        &ScanOptions::default(),
    );
    assert_eq!(got.result(&query), direct.result(&query));
}

#[test]
fn a_request_that_does_not_decode_is_refused_with_why() {
    let mut request = ScanRequest::new(
        &parse("x").unwrap(),
        &ScanOptions::default(),
        vec![task(std::path::Path::new("/nonexistent"))],
        None,
    )
    .unwrap();
    request.query = "not base64!".to_string();
    let error = request.run(stores(), "id").unwrap_err().to_string();
    assert!(error.starts_with("the query does not decode"), "{error}");
    request.files.clear();
    assert_eq!(
        request.run(stores(), "id").unwrap_err().to_string(),
        "no files to scan"
    );
}

#[test]
fn an_answer_over_the_response_limit_is_spilled_and_read_back_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = events(dir.path(), 8000);
    let mut query = parse("ts>=0").unwrap();
    query.hits = 100_000;
    let spill = dir.path().join("spill");
    std::fs::create_dir(&spill).unwrap();
    let folder = url::Url::from_directory_path(&spill).unwrap().to_string();

    // Without a spill folder, the worker says why it cannot answer.
    let request =
        ScanRequest::new(&query, &ScanOptions::default(), vec![task(&path)], None).unwrap();
    let error = request.run(stores(), "req-1").unwrap_err().to_string();
    assert!(error.contains("over Lambda's response limit"), "{error}");

    let request = ScanRequest::new(
        &query,
        &ScanOptions::default(),
        vec![task(&path)],
        Some(folder.clone()),
    )
    .unwrap();
    let ScanResponse::Spilled(url) = request.run(stores(), "req-2").unwrap() else {
        panic!("not spilled");
    };
    assert_eq!(
        url,
        format!("{}/req-2.partial", folder.trim_end_matches('/'))
    );
    let spilled = std::fs::metadata(spill.join("req-2.partial"))
        .unwrap()
        .len();
    assert!(
        spilled as usize * 4 / 3 > MAX_PAYLOAD_BYTES,
        "{spilled} bytes"
    );
    let partial = ScanResponse::Spilled(url).into_partial(stores()).unwrap();
    let direct = scan_file(
        path.as_path(),
        "events.json",
        &query,
        &ScanOptions::default(),
    );
    assert_eq!(partial.matched(), direct.matched());
    assert_eq!(partial.hits.len(), direct.hits.len());
    assert!(
        !spill.join("req-2.partial").exists(),
        "read once, then deleted"
    );
}
