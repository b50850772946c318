//! Hostile clients: paths that climb out of the page's folder, bodies and WebSocket
//! messages too large or malformed, and queries built to be slow. Each gets a clear
//! refusal or its answer, reads nothing it should not, and the gateway goes on serving.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use gateway::access::Access;
use gateway::engine::Engine;
use gateway::engine::executor::LocalPool;
use lake::Lake;
use shared_sketch::{ClientMessage, Frame, decode_frame, encode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use workers::ScanOptions;

const SECRET: &str = "TOPSECRET-not-for-the-web";

/// A gateway over demo data with a built page in `root/ui`, and a secret file beside the
/// page's folder.
async fn rig() -> (SocketAddr, tempfile::TempDir, tempfile::TempDir) {
    rig_with(|engine| engine).await
}

/// `rig`, its engine set by `set`.
async fn rig_with(
    set: impl FnOnce(Engine) -> Engine,
) -> (SocketAddr, tempfile::TempDir, tempfile::TempDir) {
    let (data, _) = common::demo_data(2_000);
    let root = tempfile::tempdir().unwrap();
    // The events a whole query counts.
    let events = common::records(data.path()).len();
    std::fs::write(root.path().join("events"), events.to_string()).unwrap();
    let ui = root.path().join("ui");
    std::fs::create_dir(&ui).unwrap();
    std::fs::write(ui.join("index.html"), "<html>the app</html>").unwrap();
    std::fs::write(root.path().join("secret.txt"), SECRET).unwrap();
    let lake = Lake::open_for_reading(data.path(), None).await.unwrap();
    lake.sync(data.path(), &ScanOptions::default())
        .await
        .unwrap();
    let access = Access::local(&lake.catalog).unwrap();
    let engine = set(Engine::new(lake, Arc::new(LocalPool::new(2))));
    let addr = common::serve(engine, access, Some(ui)).await;
    (addr, data, root)
}

/// One request as written, byte for byte (an HTTP client would tidy the path): the
/// status and the whole response.
async fn raw(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// A whole query answers, counting every event of the data (`root/events` says how many).
async fn still_serves(addr: SocketAddr, root: &tempfile::TempDir) {
    let events: u64 = std::fs::read_to_string(root.path().join("events"))
        .unwrap()
        .parse()
        .unwrap();
    let (status, body) =
        common::post_query(&format!("http://{addr}/api/v1/query"), "| stats count").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["matched"], events);
}

#[tokio::test]
async fn paths_never_leave_the_pages_folder() {
    let (addr, _data, root) = rig().await;
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%5csecret.txt",
        "/ui/../../secret.txt",
        "/./../secret.txt",
        "/%252e%252e/secret.txt",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/embed/..%2f..%2fsecret.txt",
        "/embed/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/embed/../../secret.txt",
        "/embed/top-talkers/..%2f..%2f..%2fsecret.txt",
        "/embed/loader.js/../../secret.txt",
    ] {
        let (status, response) = get(addr, path).await;
        assert!(status != 0, "{path}: no HTTP answer: {response:?}");
        assert!(
            !response.contains(SECRET) && !response.contains("root:x:0"),
            "{path} read a file outside the page's folder: {response}"
        );
    }
    // The page itself is served, and an unknown path is the app (it routes in the browser).
    let (status, page) = get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("the app"));
    still_serves(addr, &root).await;
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused_clearly() {
    let (addr, _data, root) = rig().await;
    let post = |body: String, content_type: &str| {
        format!(
            "POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    // A body past the limit (2 MB): 413, before it is parsed.
    let huge = format!("{{\"q\": \"{}\"}}", "a".repeat(3 << 20));
    let (status, _) = raw(addr, &post(huge, "application/json")).await;
    assert_eq!(status, 413);
    for (body, content_type, expected) in [
        ("{\"q\": ", "application/json", 400),
        ("[1, 2, 3]", "application/json", 422),
        ("{\"q\": 7}", "application/json", 422),
        ("q=| stats count", "application/x-www-form-urlencoded", 415),
        ("\u{0}\u{1}\u{2}", "application/json", 400),
    ] {
        let (status, response) = raw(addr, &post(body.to_string(), content_type)).await;
        assert_eq!(status, expected, "{body:?}: {response}");
    }
    // A query past its length limit is refused with why.
    let long = format!("{{\"q\": \"{}\"}}", "a ".repeat(5_000));
    let (status, response) = raw(addr, &post(long, "application/json")).await;
    assert_eq!(status, 400, "{response}");
    assert!(response.contains("longer than"), "{response}");
    // A request line or headers that are not HTTP.
    let (status, _) = raw(addr, "GARBAGE\r\n\r\n").await;
    assert!(status == 400 || status == 0);
    still_serves(addr, &root).await;
}

#[tokio::test]
async fn oversized_and_malformed_socket_messages_end_that_socket_only() {
    let (addr, _data, root) = rig().await;
    let url = format!("ws://{addr}/ws");
    // Bytes that are not a message: one error frame says why.
    for garbage in [vec![0u8; 0], vec![0xFF; 16], b"not a frame".to_vec()] {
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        socket.send(Message::Binary(garbage.into())).await.unwrap();
        let frames = common::frames_until_close(&mut socket).await;
        assert!(matches!(frames.as_slice(), [Frame::Error(_)]), "{frames:?}");
    }
    // A message past the socket's limit (64 KiB): the socket is closed, nothing runs.
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let message = ClientMessage::Query {
        q: "x".repeat(1 << 20),
        hits: 0,
        key: None,
    };
    let _ = socket
        .send(Message::Binary(encode(&message).unwrap().into()))
        .await;
    let mut ended = false;
    while let Some(next) = socket.next().await {
        match next {
            Ok(Message::Binary(bytes)) => {
                let frame = decode_frame(&bytes).unwrap();
                assert!(matches!(frame, Frame::Error(_)), "{frame:?}");
            }
            Ok(Message::Close(_)) | Err(_) => {
                ended = true;
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(ended || socket.next().await.is_none());
    still_serves(addr, &root).await;
}

#[tokio::test]
async fn queries_built_to_be_slow_answer_or_are_refused() {
    let (addr, _data, root) = rig().await;
    let url = format!("http://{addr}/api/v1/query");
    let wildcards = format!("srcaddr:{}", "*1".repeat(2_000));
    let bare_wildcards = format!("{}x", "*a".repeat(2_000));
    let ors = (0..500)
        .map(|i| format!("dstport:{i}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let nested = format!("{}a{}", "(".repeat(200), ")".repeat(200));
    let regex = format!("srcaddr~\"{}\"", "(a|a)*".repeat(500));
    for (what, q, expected) in [
        ("thousands of wildcards in a field", wildcards.as_str(), 200),
        ("thousands of bare wildcards", bare_wildcards.as_str(), 200),
        ("five hundred ORs", ors.as_str(), 200),
        ("nesting past the limit", nested.as_str(), 400),
        ("a regex that could backtrack", regex.as_str(), 200),
    ] {
        let (status, body) = common::post_query(&url, q).await;
        assert_eq!(status, expected, "{what}: {body}");
        if status == 400 {
            assert!(
                body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{what}: {body}"
            );
        }
    }
    still_serves(addr, &root).await;
}

#[tokio::test]
async fn a_tenant_past_its_queries_at_once_is_told_to_retry() {
    // No query at once: every query is one too many, whatever the timing.
    let (addr, _data, _root) = rig_with(|engine| engine.with_limits(0, 0)).await;
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/query"))
        .json(&serde_json::json!({ "q": "| stats count" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("already runs 0 queries at once")
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let ask = ClientMessage::Query {
        q: "| stats count".into(),
        hits: 0,
        key: None,
    };
    socket
        .send(Message::Binary(encode(&ask).unwrap().into()))
        .await
        .unwrap();
    let frames = common::frames_until_close(&mut socket).await;
    assert!(
        matches!(frames.as_slice(), [Frame::Error(e)] if e.kind == shared_sketch::ErrorKind::Busy),
        "{frames:?}"
    );
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_and_the_gateway_goes_on() {
    let (data, _) = common::demo_data(40_000);
    let addr = common::start(data.path(), 2).await;
    // A socket that takes little in: the answer (every event, ~10 MB of JSON) cannot sit
    // in the sockets' buffers, so the gateway's writes wait on this client.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let body = r#"{"q": "*", "hits": 100000}"#;
    let request = format!(
        "POST /api/v1/query HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // It reads nothing for longer than the gateway waits on a write.
    tokio::time::sleep(common::SEND_TIMEOUT * 4).await;
    let mut got = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stream.read_to_end(&mut got),
    )
    .await
    .expect("the gateway closed the connection");
    let text = String::from_utf8_lossy(&got);
    let (head, rest) = text.split_once("\r\n\r\n").expect("a response began");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("a whole answer, sized")
        .parse()
        .unwrap();
    assert!(
        rest.len() < length,
        "the connection was dropped before the answer's end: {} of {length} bytes ({read:?})",
        rest.len()
    );
    assert!(
        length > 8 << 20,
        "the answer outgrows the buffers: {length}"
    );
    // The gateway answers others meanwhile and after.
    let (status, body) =
        common::post_query(&format!("http://{addr}/api/v1/query"), "| stats count").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["matched"].as_u64().unwrap() >= 40_000, "{body}");
}
