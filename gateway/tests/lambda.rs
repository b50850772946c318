//! The Lambda + S3 path against real local endpoints: `cargo xtask test` starts an S3
//! server (moto) and the Lambda Invoke API (cargo-lambda's emulator) on loopback and passes
//! them in `AWS_ENDPOINT_URL` and `SKETCHLAKE_TEST_LAMBDA`; these tests upload real logs and
//! segments to a bucket and start `worker` processes (`SKETCHLAKE_WORKER_BIN`) themselves.
//! They are ignored by a plain `cargo test`, and fail when run without the rig: a test of
//! the Lambda path never passes without having run it.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::response::IntoResponse;
use gateway::engine::executor::{Executor, LambdaConfig, LambdaExecutor, LocalPool};
use gateway::engine::{Ask, Engine};
use gateway::http;
use lake::bucket::list_all;
use lake::catalog::DEFAULT_TENANT;
use lake::catalog::State;
use lake::compact::compact;
use lake::ingest::ingest;
use lake::{Lake, LakeError, Synced};
use shared_sketch::Answer as QueryResponse;
use workers::{Detector, Ingested, ScanOptions, ingest_file};

/// Where the rig is, when it is.
struct Rig {
    s3: String,
    lambda: String,
    worker: PathBuf,
}

/// Why these tests are ignored unless asked for: the rig they need.
const NEEDS_THE_RIG: &str = "needs the rig: cargo xtask test lambda";

fn rig() -> Rig {
    let found = (
        std::env::var("AWS_ENDPOINT_URL"),
        std::env::var("SKETCHLAKE_TEST_LAMBDA"),
        std::env::var("SKETCHLAKE_WORKER_BIN"),
    );
    match found {
        (Ok(s3), Ok(lambda), Ok(worker)) => Rig {
            s3,
            lambda,
            worker: PathBuf::from(worker),
        },
        _ => panic!(
            "AWS_ENDPOINT_URL, SKETCHLAKE_TEST_LAMBDA or SKETCHLAKE_WORKER_BIN is not set: \
             this test {NEEDS_THE_RIG}"
        ),
    }
}

/// The tests share the emulator's functions and their worker processes: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `worker` processes serving `function`, killed when dropped.
struct Workers(Vec<Child>);

impl Workers {
    fn start(rig: &Rig, function: &str, n: usize) -> Workers {
        let children = (0..n)
            .map(|_| {
                Command::new(&rig.worker)
                    .env(
                        "AWS_LAMBDA_RUNTIME_API",
                        format!("{}/.rt/{function}", rig.lambda),
                    )
                    .env("AWS_LAMBDA_FUNCTION_NAME", function)
                    .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        Workers(children)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A fresh bucket holding the Cowrie honeypot logs: two days in three as they are
/// (`raw/`), the third ingested into segments with their index sidecars (`segments/`).
/// Returns its URL.
async fn seeded_bucket(rig: &Rig) -> String {
    let root = format!("s3://{}/lake", new_bucket(rig).await);
    let upload_root = root.clone();
    tokio::task::spawn_blocking(move || {
        let logs = common::real("cowrie-honeypot");
        let staging = tempfile::tempdir().unwrap();
        for (i, file) in sorted_files(&logs).iter().enumerate() {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if i % 3 != 0 {
                upload(&format!("{upload_root}/raw/{name}"), file);
            } else {
                let ingested = ingest_file(
                    file,
                    &ScanOptions::default(),
                    |n| staging.path().join(format!("{name}.{n}.ndjson.gz")),
                    &mut Detector::new(&[], &name, 0),
                );
                let Ok(Ingested::Segments { segments, .. }) = ingested else {
                    panic!("{name} did not ingest: {ingested:?}");
                };
                for segment in segments {
                    let key = segment
                        .path
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    upload(
                        &format!("{upload_root}/segments/{key}.idx"),
                        &workers::index_path(&segment.path),
                    );
                    upload(&format!("{upload_root}/segments/{key}"), &segment.path);
                }
            }
        }
    })
    .await
    .unwrap();
    root
}

/// A new, empty bucket's name.
async fn new_bucket(rig: &Rig) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let bucket = format!(
        "lake-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let created = reqwest::Client::new()
        .put(format!("{}/{bucket}", rig.s3))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{created:?}");
    bucket
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Writes a local file to `url` through the same object store client the scans use.
fn upload(url: &str, file: &Path) {
    workers::stores().source(url).unwrap().upload(file).unwrap();
}

async fn engine(root: &str, executor: Arc<dyn Executor>) -> Arc<Engine> {
    let lake = Lake::open_bucket(root, None).await.unwrap();
    lake.sync_bucket(&ScanOptions::default()).await.unwrap();
    served(lake, executor)
}

fn served(lake: Lake, executor: Arc<dyn Executor>) -> Arc<Engine> {
    Arc::new(Engine::new(lake, executor).with_timeout(Duration::from_secs(120)))
}

async fn lambda(
    rig: &Rig,
    function: &str,
    edit: impl FnOnce(&mut LambdaConfig),
) -> Arc<LambdaExecutor> {
    let mut config = LambdaConfig::new(function);
    config.endpoint = Some(rig.lambda.clone());
    // Small batches: several invocations per query, so retries meet real fan-out.
    config.batch_bytes = 256 * 1024;
    edit(&mut config);
    Arc::new(LambdaExecutor::new(config).await)
}

/// The lookup table `QUERIES` name: it travels in every Lambda request with the query.
const BAD_IPS: &[u8] = b"ip,threat\n185.222.209.108,scanner\n5.188.87.49,brute\n";

async fn answer(engine: &Arc<Engine>, q: &str) -> QueryResponse {
    engine
        .lake()
        .catalog
        .put_lookup("bad_ips", BAD_IPS, 0)
        .await
        .unwrap();
    http::answer(engine, Ask::new(DEFAULT_TENANT, q, 0))
        .await
        .unwrap()
}

/// The same answer, but for the time taken and for sketch estimates, which depend on the
/// order partials are merged in (it differs from run to run of the local pool too): each
/// estimate lies in the other's error interval. A difference is reported briefly (an
/// answer is tens of KB of JSON).
fn assert_same(got: &QueryResponse, expected: &QueryResponse, q: &str) {
    let json = |r: &QueryResponse| {
        let mut json = serde_json::to_value(r).unwrap();
        json.as_object_mut().unwrap().remove("elapsed_ms");
        json
    };
    let (got, expected) = (json(got), json(expected));
    if let Err(at) = same(&got, &expected, String::new()) {
        panic!("{q}: the answers differ at {at}");
    }
}

fn same(a: &serde_json::Value, b: &serde_json::Value, at: String) -> Result<(), String> {
    use serde_json::Value;
    let interval = |v: &Value| {
        Some((
            v["estimate"].as_f64()?,
            v["lower"].as_f64()?,
            v["upper"].as_f64()?,
        ))
    };
    if let (Some((ea, la, ua)), Some((eb, lb, ub))) = (interval(a), interval(b)) {
        return if (lb..=ub).contains(&ea) && (la..=ua).contains(&eb) {
            Ok(())
        } else {
            Err(format!("{at}: {a} vs {b}"))
        };
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => x
            .iter()
            .try_for_each(|(k, v)| same(v, y.get(k).unwrap_or(&Value::Null), format!("{at}.{k}"))),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .try_for_each(|(i, (v, w))| same(v, w, format!("{at}[{i}]"))),
        _ if a == b => Ok(()),
        _ => Err(format!("{at}: {} vs {}", cut(a), cut(b))),
    }
}

fn cut(v: &serde_json::Value) -> String {
    v.to_string().chars().take(600).collect()
}

/// The Cowrie logs read where they are on disk, by the local pool.
async fn cowrie_on_disk() -> Arc<Engine> {
    let folder = common::real("cowrie-honeypot");
    let lake = Lake::open_for_reading(&folder, None).await.unwrap();
    lake.sync(&folder, &ScanOptions::default()).await.unwrap();
    served(lake, Arc::new(LocalPool::new(2)))
}

/// `got` holds the events and groups the files on disk answer `q` with.
async fn assert_as_on_disk(got: &QueryResponse, on_disk: &Arc<Engine>, q: &str) {
    let disk = answer(on_disk, q).await;
    assert_eq!(got.result.matched, disk.result.matched, "{q}");
    let groups = |r: &QueryResponse| serde_json::to_value(&r.result.groups).unwrap();
    if let Err(at) = same(&groups(got), &groups(&disk), "groups".into()) {
        panic!("{q}: the groups differ from the files on disk at {at}");
    }
}

const QUERIES: &[&str] = &[
    "| stats count(), dc(src_ip) by eventid",
    "eventid:cowrie.login.failed | top 5 username",
    "| rare 5 src_ip",
    "src_ip:185.222.209.108 | timechart span=1d count()",
    "earliest=2018-05-20T00:00:00Z latest=2018-05-25T00:00:00Z | stats p50(duration), p99(duration)",
    // The per-event commands, a lookup shipped with the query, and events kept by a sort.
    r#"| lookup bad_ips ip AS src_ip OUTPUT threat | rex field=message "from (?<peer>[0-9.]+)" | eval kind = coalesce(threat, "none") | stats count, dc(peer) by kind"#,
    "eventid:cowrie.session.closed | sort 20 -duration, session | dedup src_ip",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the rig: cargo xtask test lambda"]
async fn lambda_and_s3_answer_as_the_local_pool_does() {
    let rig = rig();
    let _one = ONE_AT_A_TIME.lock().await;
    let root = seeded_bucket(&rig).await;
    let _workers = Workers::start(&rig, "worker", 4);
    let local = engine(&root, Arc::new(LocalPool::new(2))).await;
    let remote = engine(&root, lambda(&rig, "worker", |_| {}).await).await;
    let on_disk = cowrie_on_disk().await;
    for q in QUERIES {
        let expected = answer(&local, q).await;
        assert!(expected.result.matched > 0, "{q}: nothing matched");
        let errors = &expected.result.stats.errors;
        assert!(errors.is_empty(), "{q}: {errors:?}");
        let got = answer(&remote, q).await;
        assert_same(&got, &expected, q);
        // The same events as the files on disk, a third of them read from segments.
        assert_as_on_disk(&got, &on_disk, q).await;
    }
    let all = answer(&remote, "| stats count()").await;
    assert!(all.result.stats.pages > 0, "segments were read by page");
    let pruned = answer(&remote, "src_ip:203.0.113.99").await;
    assert!(
        pruned.result.stats.pages_pruned > 0,
        "the index ruled pages out"
    );
    let status = remote.executor().status();
    assert_eq!(status.kind, "lambda");
    assert_eq!((status.retried, status.failed), (0, 0));
    // Small batches: more than one invocation per query.
    assert!(status.started > QUERIES.len() as u64 * 2, "{status:?}");
}

/// Ingest and compaction on a bucket lake with a catalog of its own: segments are uploaded
/// under the lake's hidden folder, listed by the catalog alone; the sources ingested (half
/// of them objects already in the bucket) are not read again; queries through the pool and
/// through Lambda answer as the files on disk do, before and after compaction; the sweep
/// deletes what compaction retired and what a killed ingest left unregistered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the rig: cargo xtask test lambda"]
async fn ingest_and_compaction_write_segments_into_the_bucket() {
    let rig = rig();
    let _one = ONE_AT_A_TIME.lock().await;
    let options = ScanOptions::default();
    let root = format!("s3://{}/lake", new_bucket(&rig).await);
    let raw = format!("{root}/raw");
    // Half the days were delivered to the bucket, as logs are; the rest are on this machine.
    let (mut delivered, mut local) = (Vec::new(), Vec::new());
    for (i, file) in sorted_files(&common::real("cowrie-honeypot"))
        .into_iter()
        .enumerate()
    {
        if i % 2 == 0 {
            &mut delivered
        } else {
            &mut local
        }
        .push(file);
    }
    {
        let (raw, delivered) = (raw.clone(), delivered.clone());
        tokio::task::spawn_blocking(move || {
            for file in &delivered {
                let name = file.file_name().unwrap().to_string_lossy();
                upload(&format!("{raw}/{name}"), file);
            }
        })
        .await
        .unwrap();
    }

    // A lake read with a catalog in memory could not list the segments it wrote.
    let forgetful = Lake::open_bucket(&root, None).await.unwrap();
    let refused = ingest(&forgetful, &raw, &options, &Default::default())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, LakeError::CatalogInMemory(_)),
        "{refused}"
    );

    let dir = tempfile::tempdir().unwrap();
    let catalog = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("catalog.db").display()
    );
    let lake = Lake::open_bucket(&root, Some(&catalog)).await.unwrap();
    let synced = lake.sync_bucket(&options).await.unwrap();
    assert_eq!(synced.added, delivered.len() as u64);
    let from_bucket = ingest(&lake, &raw, &options, &Default::default())
        .await
        .unwrap();
    let mut segments = from_bucket.segments;
    assert_eq!(from_bucket.files, delivered.len() as u64);
    for file in &local {
        let report = ingest(
            &lake,
            &file.display().to_string(),
            &options,
            &Default::default(),
        )
        .await
        .unwrap();
        assert!(report.failed.is_empty() && report.kept.is_empty());
        segments += report.segments;
    }
    // Ingested sources are not read again, and the lake's own segments are not forgotten.
    assert_eq!(lake.sync_bucket(&options).await.unwrap(), Synced::default());
    let stored = list_all(&format!("{root}/.sketchlake/segments"))
        .await
        .unwrap();
    assert_eq!(stored.len() as u64, 2 * segments, "segments and sidecars");
    let active = lake.catalog.list(State::Active).await.unwrap();
    assert!(active.iter().all(|e| e.uri.starts_with(&root)));
    assert_eq!(active.len() as u64, segments);

    let _workers = Workers::start(&rig, "worker", 4);
    let reopened = || async {
        let lake = Lake::open_bucket(&root, Some(&catalog)).await.unwrap();
        lake.sync_bucket(&options).await.unwrap();
        lake
    };
    let local_pool = served(reopened().await, Arc::new(LocalPool::new(2)));
    let remote = served(reopened().await, lambda(&rig, "worker", |_| {}).await);
    let on_disk = cowrie_on_disk().await;
    let check = |when: &'static str| {
        let (local_pool, remote, on_disk) = (&local_pool, &remote, &on_disk);
        async move {
            for q in QUERIES {
                for engine in [local_pool, remote] {
                    let got = answer(engine, q).await;
                    let errors = &got.result.stats.errors;
                    assert!(errors.is_empty(), "{when}: {q}: {errors:?}");
                    assert_as_on_disk(&got, on_disk, q).await;
                }
            }
        }
    };
    check("ingested").await;

    let mut merged = 0;
    loop {
        let step = compact(&lake).await.unwrap();
        if step.merged == 0 {
            break;
        }
        merged += step.merged;
    }
    assert_eq!(merged, segments, "every small segment was compacted");
    // What an ingest killed before its catalog commit leaves: a segment no row names,
    // never read, swept with the retired ones.
    let stray = format!("{root}/.sketchlake/segments/killed.0.ndjson.gz");
    let copy = local[0].clone();
    tokio::task::spawn_blocking(move || upload(&stray, &copy))
        .await
        .unwrap();
    check("compacted").await;
    let deleted = lake.sweep(Duration::ZERO).await.unwrap();
    assert_eq!(deleted, 2 * segments + 1);
    let active = lake.catalog.list(State::Active).await.unwrap();
    let stored = list_all(&format!("{root}/.sketchlake/segments"))
        .await
        .unwrap();
    assert_eq!(
        stored.len(),
        2 * active.len(),
        "only the compacted segments are left"
    );
    check("swept").await;
}

/// Formats are read from an object's first bytes, an empty object's too (it has no first
/// byte for a ranged read to start at).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the rig: cargo xtask test lambda"]
async fn formats_are_read_from_the_start_of_objects_empty_ones_too() {
    let rig = rig();
    let root = format!("s3://{}/lake", new_bucket(&rig).await);
    let logs = sorted_files(&common::real("cowrie-honeypot"));
    let (gz, empty) = (
        format!("{root}/cowrie.json.gz"),
        format!("{root}/empty.log"),
    );
    {
        let (gz, empty) = (gz.clone(), empty.clone());
        tokio::task::spawn_blocking(move || {
            upload(&gz, &logs[0]);
            workers::stores()
                .source(&empty)
                .unwrap()
                .write(Vec::new())
                .unwrap();
        })
        .await
        .unwrap();
    }
    let lake = Lake::open_bucket(&root, None).await.unwrap();
    let synced = lake.sync_bucket(&ScanOptions::default()).await.unwrap();
    assert_eq!(synced.added, 2);
    let formats: BTreeMap<String, String> = lake
        .catalog
        .list(State::Active)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.uri, e.format))
        .collect();
    assert_eq!(formats[&gz], "ndjson");
    assert_eq!(formats[&empty], "text");
}

/// A file larger than the uploader's buffer goes up as a multipart upload (a large
/// segment's way to the bucket) and reads back byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the rig: cargo xtask test lambda"]
async fn a_large_file_uploads_in_parts_and_reads_back_the_same() {
    let rig = rig();
    let bucket = format!("s3://{}", new_bucket(&rig).await);
    let object = workers::stores()
        .source(&format!("{bucket}/large.bin"))
        .unwrap();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("large.bin");
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let bytes: Vec<u8> = (0..24 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        std::fs::write(&file, &bytes).unwrap();
        object.upload(&file).unwrap();
        assert!(
            object.read_all(32 << 20).unwrap() == bytes,
            "read back differs"
        );
    })
    .await
    .unwrap();
    // S3 tags an object put in parts `"<hash>-<parts>"`.
    let stored = list_all(&bucket).await.unwrap();
    let tag = stored[0].1.e_tag.clone().unwrap_or_default();
    let parts = tag
        .trim_matches('"')
        .rsplit_once('-')
        .map(|(_, n)| n.parse::<u32>());
    assert!(
        matches!(parts, Some(Ok(n)) if n > 1),
        "{tag}: not put in parts"
    );
}

/// A Lambda API in front of the emulator that refuses the first `refusals` invocations
/// as Lambda does when over its concurrency (429, `TooManyRequestsException`) and passes
/// the rest through. Returns its address.
async fn throttling_proxy(emulator: String, refusals: u32) -> String {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode, Uri};
    let seen = Arc::new(AtomicU32::new(0));
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let (seen, client, emulator) = (seen.clone(), client.clone(), emulator.clone());
        async move {
            if seen.fetch_add(1, Ordering::SeqCst) < refusals {
                let body = r#"{"Type":"User","message":"Rate Exceeded.","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}"#;
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("x-amzn-errortype", "TooManyRequestsException"), ("content-type", "application/json")],
                    body.to_string(),
                )
                    .into_response();
            }
            let mut forward = client.post(format!("{emulator}{uri}")).body(body);
            for (name, value) in &headers {
                if name != "host" && name != "content-length" {
                    forward = forward.header(name.as_str(), value.as_bytes());
                }
            }
            let answer = forward.send().await.unwrap();
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            (status, answer.bytes().await.unwrap()).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the rig: cargo xtask test lambda"]
async fn throttled_invocations_wait_and_complete() {
    let rig = rig();
    let _one = ONE_AT_A_TIME.lock().await;
    let root = seeded_bucket(&rig).await;
    let _workers = Workers::start(&rig, "worker", 4);
    let local = engine(&root, Arc::new(LocalPool::new(2))).await;
    let proxy = throttling_proxy(rig.lambda.clone(), 6).await;
    let executor = lambda(&rig, "worker", |c| c.endpoint = Some(proxy)).await;
    let remote = engine(&root, executor).await;
    let q = "| stats count(), dc(src_ip) by eventid";
    let (got, expected) = (answer(&remote, q).await, answer(&local, q).await);
    assert_same(&got, &expected, q);
    let status = remote.executor().status();
    assert!(status.retried >= 6, "{status:?}");
    assert_eq!(status.failed, 0);
}

/// Serves one invocation of `function` as a crashed worker does: the runtime reports the
/// error to the Lambda API (what `lambda_runtime` does when the handler panics).
async fn crash_once(rig: &Rig, function: &str) {
    let runtime = format!("{}/.rt/{function}/2018-06-01/runtime", rig.lambda);
    let client = reqwest::Client::new();
    let next = client
        .get(format!("{runtime}/invocation/next"))
        .send()
        .await
        .unwrap();
    let id = next.headers()["lambda-runtime-aws-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    client
        .post(format!("{runtime}/invocation/{id}/error"))
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.ExitError")
        .body(r#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: crashed: signal: killed"}"#)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the rig: cargo xtask test lambda"]
async fn a_crashed_invocation_is_run_again() {
    let rig = rig();
    let _one = ONE_AT_A_TIME.lock().await;
    let root = seeded_bucket(&rig).await;
    let local = engine(&root, Arc::new(LocalPool::new(2))).await;
    // One batch for the whole query: its first attempt crashes, the retry is scanned.
    let executor = lambda(&rig, "worker-flaky", |c| c.batch_bytes = 64 << 20).await;
    let remote = engine(&root, executor).await;
    let q = "| top 5 src_ip";
    let expected = answer(&local, q).await;
    let query = tokio::spawn({
        let remote = remote.clone();
        async move { answer(&remote, q).await }
    });
    crash_once(&rig, "worker-flaky").await;
    let _workers = Workers::start(&rig, "worker-flaky", 1);
    let got = query.await.unwrap();
    assert_eq!(got.result.matched, expected.result.matched);
    assert!(
        got.result.stats.errors.is_empty(),
        "{:?}",
        got.result.stats.errors
    );
    let status = remote.executor().status();
    assert_eq!((status.retried, status.failed), (1, 0), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the rig: cargo xtask test lambda"]
async fn a_worker_that_never_answers_is_reported_and_the_query_completes() {
    let rig = rig();
    let _one = ONE_AT_A_TIME.lock().await;
    let root = seeded_bucket(&rig).await;
    // Nothing serves `worker-silent`: every invocation waits until abandoned.
    let executor = lambda(&rig, "worker-silent", |c| {
        c.timeout = Duration::from_millis(500);
        c.attempts = 2;
        c.batch_bytes = 64 << 20;
    })
    .await;
    let remote = engine(&root, executor).await;
    let got = answer(&remote, "| stats count()").await;
    let stats = &got.result.stats;
    assert_eq!(got.result.matched, 0);
    assert_eq!(stats.failed_files, stats.files, "{stats:?}");
    assert!(stats.files > 0);
    let message = &stats.errors[0].message;
    assert!(
        message.contains("worker worker-silent failed (2 attempts): no answer within 0.5 s"),
        "{message}"
    );
    let status = remote.executor().status();
    assert_eq!((status.retried, status.failed), (1, 1), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the rig: cargo xtask test lambda"]
async fn a_cancelled_query_stops_waiting_for_its_invocations() {
    let rig = rig();
    let _one = ONE_AT_A_TIME.lock().await;
    let root = seeded_bucket(&rig).await;
    // Invocations nobody answers, with a long timeout: only cancelling ends them.
    let executor = lambda(&rig, "worker-silent", |c| {
        c.timeout = Duration::from_secs(600);
        c.width = 4;
    })
    .await;
    let remote = engine(&root, executor).await;
    let (frames, mut received) = tokio::sync::mpsc::channel(64);
    let cancel = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn({
        let (remote, cancel) = (remote.clone(), cancel.clone());
        async move {
            let ask = Ask::new(DEFAULT_TENANT, "| stats count()", 0);
            gateway::engine::run_query(&remote, &ask, frames, cancel).await;
        }
    });
    let status = || remote.executor().status();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while status().running < 4 {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = status().started;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .unwrap()
        .unwrap();
    let mut last = None;
    while let Some(frame) = received.recv().await {
        last = Some(frame);
    }
    let Some(shared_sketch::Frame::Done(progress)) = last else {
        panic!("no Done frame: {last:?}");
    };
    assert!(progress.cancelled);
    // In-flight invocations are abandoned and no others start.
    while status().running > 0 {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status().started,
        started,
        "no invocation started after the cancel"
    );
}

/// A rule's backfill through Lambda workers, over raw objects and segments in S3, stores and
/// raises what the same backfill through the local pool does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the rig: cargo xtask test lambda"]
async fn a_backfill_through_lambda_workers_raises_what_the_local_pool_does() {
    use gateway::detect::{Loaded, backfill, parse_rule, run_rules};
    let rig = rig();
    let _one = ONE_AT_A_TIME.lock().await;
    let root = seeded_bucket(&rig).await;
    let _workers = Workers::start(&rig, "worker", 4);
    let rule = parse_rule(
        Path::new("logins.yml"),
        "id: failed-logins\nname: Failed logins\nseverity: low\n\
         query: \"eventid:cowrie.login.failed | stats count by src_ip | where count > 5\"\n\
         window: 1d\nevery: 1d\n",
    )
    .unwrap();
    let executors: [Arc<dyn Executor>; 2] = [
        Arc::new(LocalPool::new(2)),
        lambda(&rig, "worker", |_| {}).await,
    ];
    let mut outcomes = Vec::new();
    for executor in executors {
        let engine = engine(&root, executor).await;
        let done = backfill(&engine, std::slice::from_ref(&rule), 0)
            .await
            .unwrap();
        assert!(done.unreadable.is_empty(), "{:?}", done.unreadable);
        let loaded = Loaded {
            rules: [(rule.id.clone(), rule.clone())].into_iter().collect(),
            ..Loaded::default()
        };
        let ran = run_rules(engine.lake(), &loaded, &ScanOptions::default(), 1)
            .await
            .unwrap();
        let mut alerts: Vec<(Vec<String>, (i64, i64), u64)> = ran
            .raised
            .iter()
            .map(|a| (a.group.clone(), a.window, a.count))
            .collect();
        alerts.sort();
        outcomes.push((done.files, done.rollups, alerts));
    }
    assert!(
        !outcomes[0].2.is_empty(),
        "nothing fired: {:?}",
        outcomes[0]
    );
    assert_eq!(outcomes[0], outcomes[1]);
}

/// The faults the S3 proxy injects into each object's GETs, attempt by attempt; the
/// attempts after these pass through.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// 503 SlowDown, as S3 answers when throttling.
    SlowDown,
    /// 500 InternalError.
    Internal,
    /// Half the object, then the connection is cut.
    CutMidObject,
    /// The object trickled out in 16 KiB pieces, 20 ms apart.
    Slow,
}

/// An S3 endpoint in front of the rig's: GETs of each object meet `each_object` in turn,
/// then pass; GETs of keys containing `always` fail with 500 every time; the first
/// listing is refused with 503. Returns its address and the count of faults injected.
async fn faulty_s3(
    s3: String,
    each_object: &'static [Fault],
    always: Option<&'static str>,
) -> (String, Arc<AtomicU32>) {
    use axum::body::{Body, Bytes};
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use futures_util::StreamExt;
    let attempts = Arc::new(std::sync::Mutex::new(BTreeMap::<String, usize>::new()));
    let injected = Arc::new(AtomicU32::new(0));
    let client = reqwest::Client::new();
    let counted = injected.clone();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (attempts, injected, client, s3) =
                (attempts.clone(), counted.clone(), client.clone(), s3.clone());
            async move {
                let error = |status: StatusCode, code: &str| {
                    let xml = format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>injected</Message></Error>");
                    (status, [("content-type", "application/xml")], xml).into_response()
                };
                let path = uri.path().to_string();
                let listing = uri.query().is_some_and(|q| q.contains("list-type"));
                let fault = if method != Method::GET {
                    None
                } else if always.is_some_and(|key| path.contains(key)) {
                    Some(None)
                } else {
                    let key = if listing { "list".to_string() } else { path.clone() };
                    let mut attempts = attempts.lock().unwrap();
                    let n = attempts.entry(key).or_default();
                    *n += 1;
                    match listing {
                        true => (*n == 1).then_some(Some(Fault::SlowDown)),
                        false => each_object.get(*n - 1).map(|f| Some(*f)),
                    }
                };
                if let Some(fault) = fault {
                    injected.fetch_add(1, Ordering::SeqCst);
                    match fault {
                        None | Some(Fault::Internal) => {
                            return error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError");
                        }
                        Some(Fault::SlowDown) => {
                            return error(StatusCode::SERVICE_UNAVAILABLE, "SlowDown");
                        }
                        Some(Fault::CutMidObject | Fault::Slow) => {}
                    }
                }
                let mut forward = client
                    .request(method.clone(), format!("{s3}{uri}"))
                    .body(body);
                for (name, value) in &headers {
                    if name != "host" && name != "content-length" {
                        forward = forward.header(name.as_str(), value.as_bytes());
                    }
                }
                let answer = forward.send().await.unwrap();
                let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
                let mut response = axum::http::Response::builder().status(status);
                for (name, value) in answer.headers() {
                    response = response.header(name.as_str(), value.as_bytes());
                }
                let whole = answer.bytes().await.unwrap();
                let body = match fault {
                    Some(Some(Fault::CutMidObject)) => {
                        let half = whole.slice(..whole.len() / 2);
                        Body::from_stream(futures_util::stream::iter([
                            Ok(half),
                            Err(std::io::Error::other("connection cut mid-object")),
                        ]))
                    }
                    Some(Some(Fault::Slow)) => {
                        let pieces: Vec<Bytes> = whole
                            .chunks(16 << 10)
                            .map(Bytes::copy_from_slice)
                            .collect();
                        Body::from_stream(futures_util::stream::iter(pieces).then(
                            |piece| async move {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                Ok::<_, std::io::Error>(piece)
                            },
                        ))
                    }
                    _ => Body::from(whole),
                };
                response.body(body).unwrap()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), injected)
}

/// `sketchlake query --data ROOT Q` with S3 at `s3`, as its own process: its answer, in
/// at most a minute (a query that hangs fails the test).
async fn query_through(s3: &str, root: &str, q: &str) -> serde_json::Value {
    // Into files, not pipes: a child blocked on a full pipe would look hung.
    let (stdout, stderr) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
    let mut child = Command::new(env!("CARGO_BIN_EXE_sketchlake"))
        .args(["query", "--data", root, q])
        .env("AWS_ENDPOINT_URL", s3)
        .stdout(stdout.try_clone().unwrap())
        .stderr(stderr.try_clone().unwrap())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{q}: no answer within a minute");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let read = |mut file: std::fs::File| {
        use std::io::{Read, Seek};
        let mut text = String::new();
        file.rewind().unwrap();
        file.read_to_string(&mut text).unwrap();
        text
    };
    assert!(child.wait().unwrap().success(), "{}", read(stderr));
    let mut answer: serde_json::Value = serde_json::from_str(&read(stdout)).unwrap();
    answer.as_object_mut().unwrap().remove("elapsed_ms");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the rig: cargo xtask test lambda"]
async fn a_failing_bucket_is_retried_or_its_files_reported_and_never_hangs() {
    let rig = rig();
    let root = seeded_bucket(&rig).await;
    let q = "| stats count(), dc(src_ip) by eventid";
    let direct = query_through(&rig.s3, &root, q).await;
    assert_eq!(direct["stats"]["failed_files"], 0);

    // Every object and index is refused, failed, cut off half-way and trickled out before
    // it is read whole, and the first listing is refused: retried, the answer is exact.
    let faults = &[
        Fault::SlowDown,
        Fault::Internal,
        Fault::CutMidObject,
        Fault::Slow,
    ];
    let (proxy, injected) = faulty_s3(rig.s3.clone(), faults, None).await;
    let through = query_through(&proxy, &root, q).await;
    if let Err(at) = same(&through, &direct, String::new()) {
        panic!("{q} through faults: the answers differ at {at}");
    }
    assert!(injected.load(Ordering::SeqCst) > 20, "{injected:?}");

    // One raw file fails every time: given up after the retries, reported, and the
    // others answer.
    let lost = "cowrie.json.2018-05-07.gz";
    let (proxy, _) = faulty_s3(rig.s3.clone(), &[], Some(lost)).await;
    let started = std::time::Instant::now();
    let partial = query_through(&proxy, &root, "| stats count()").await;
    let whole = query_through(&rig.s3, &root, "| stats count()").await;
    let alone = query_through(&rig.s3, &format!("{root}/raw/{lost}"), "| stats count()").await;
    assert_eq!(partial["stats"]["failed_files"], 1, "{partial}");
    assert_eq!(
        partial["matched"].as_u64().unwrap(),
        whole["matched"].as_u64().unwrap() - alone["matched"].as_u64().unwrap()
    );
    let failed = &partial["stats"]["errors"][0];
    assert!(failed["file"].as_str().unwrap().ends_with(lost), "{failed}");
    assert!(
        failed["message"].as_str().unwrap().contains("500"),
        "{failed}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}
