//! A real gateway on a free loopback port, for the integration tests.
#![allow(dead_code)] // each test binary uses its own subset

pub mod receiver;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gateway::access::Access;
use gateway::demo::{self, DemoConfig};

use gateway::engine::Engine;
use gateway::engine::executor::LocalPool;
use gateway::http::AppState;
use lake::Lake;
use workers::ScanOptions;

/// How long the tests' gateways wait for a client to read: short, so that the test of a
/// client that never reads is.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(3);

/// Serves `data` (the lake's catalog if it has one, synced with its files; nothing is
/// written into folders the tests do not own) with `workers` scan slots; returns the bound
/// address.
pub async fn start(data: &Path, workers: usize) -> SocketAddr {
    start_with(data, workers, gateway::engine::DEFAULT_TIMEOUT).await
}

/// `start`, with queries stopped after `timeout`.
pub async fn start_with(data: &Path, workers: usize, timeout: Duration) -> SocketAddr {
    let lake = Lake::open_for_reading(data, None).await.unwrap();
    lake.sync(data, &ScanOptions::default()).await.unwrap();
    let access = Access::local(&lake.catalog).unwrap();
    let engine = Engine::new(lake, Arc::new(LocalPool::new(workers))).with_timeout(timeout);
    serve(engine, access, None).await
}

/// Serves `engine` with `access` (and the built frontend in `ui`) on a free loopback port.
pub async fn serve(engine: Engine, access: Access, ui: Option<PathBuf>) -> SocketAddr {
    serve_state(AppState::new(Arc::new(engine), access), ui).await
}

/// `serve`, of a state made by the test (with rules, say).
pub async fn serve_state(state: AppState, ui: Option<PathBuf>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(gateway::http::serve(
        listener,
        state,
        ui,
        SEND_TIMEOUT,
        std::future::pending(),
    ));
    addr
}

/// A new, empty database `name` on the PostgreSQL server whose admin URL is `admin`: its
/// URL. Tests run in parallel, each in a database of its own.
pub async fn new_database(admin: &str, name: &str) -> String {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// A file or folder of the shared real datasets (read-only: never serve or ingest into it).
pub fn real(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/real")
        .join(relative)
}

/// One day of demo data with `records` background records in a fresh temp folder.
pub fn demo_data(records: u64) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let config = DemoConfig {
        records,
        days: 1,
        ..DemoConfig::default()
    };
    let files = demo::generate(dir.path(), &config).unwrap();
    (dir, files)
}

/// `POST {"q": q}` to `url`; the status and the JSON body.
pub async fn post_query(url: &str, q: &str) -> (u16, serde_json::Value) {
    post(url, serde_json::json!({ "q": q })).await
}

/// `POST`s `body` to `url`: the status and the JSON answer.
pub async fn post(url: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Every record of every gzip file under `dir`, parsed independently of the scan engine.
pub fn records(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for path in lake::folder::list_files(dir).unwrap() {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        out.extend(
            text.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()),
        );
    }
    out
}

/// `GET {query_url}/stream?q=…`: the NDJSON lines, parsed.
pub async fn stream_query(query_url: &str, q: &str) -> Vec<serde_json::Value> {
    reqwest::Client::new()
        .get(format!("{query_url}/stream"))
        .query(&[("q", q)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs the `sketchlake` binary with `args`; fails the test unless it exits 0. Returns its
/// stdout and stderr.
pub fn cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sketchlake"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "sketchlake failed: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// `sketchlake ingest --data LAKE SOURCE`; its stdout and stderr.
pub fn ingest(lake: &Path, source: &Path) -> (String, String) {
    cli(&[
        "ingest".as_ref(),
        "--data".as_ref(),
        lake.as_os_str(),
        source.as_os_str(),
    ])
}

/// The message of the one `Error` frame a refused query gets.
pub fn only_error(frames: &[shared_sketch::Frame]) -> &str {
    match frames {
        [shared_sketch::Frame::Error(e)] => &e.message,
        other => panic!("expected one Error frame, got {other:?}"),
    }
}

/// Every frame a query socket sends until the server closes it.
pub async fn frames_until_close<S>(mut socket: S) -> Vec<shared_sketch::Frame>
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut frames = Vec::new();
    while let Some(message) = socket.next().await {
        match message.unwrap() {
            Message::Binary(bytes) => frames.push(shared_sketch::decode_frame(&bytes).unwrap()),
            Message::Close(_) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    frames
}

/// `sketchlake serve --no-auth --listen 127.0.0.1:0 …` as its own process, killed when
/// this is dropped, however the test ends.
pub struct Served {
    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub base: String,
    /// `http://…/metrics` when served with `--metrics-listen`.
    pub metrics: Option<String>,
    child: std::process::Child,
}

impl Served {
    /// `serve` over the lake `data`, ingesting what lands in `inbox` (looked at every
    /// 0.2 s), with `more` arguments.
    pub fn watching(
        data: &std::path::Path,
        inbox: &std::path::Path,
        more: &[&std::ffi::OsStr],
    ) -> Served {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sketchlake"))
            .args(["serve", "--no-auth", "--listen", "127.0.0.1:0"])
            .args(["--watch-every", "0.2"])
            .arg("--data")
            .arg(data)
            .arg("--watch")
            .arg(inbox)
            .args(more)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut served = Served {
            base: String::new(),
            metrics: None,
            child,
        };
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let url = line.rsplit(' ').next().unwrap().to_string();
            if line.starts_with("sketchlake metrics on") {
                served.metrics = Some(url);
            } else if line.starts_with("sketchlake listening on") {
                served.base = url;
                break;
            }
        }
        served
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
