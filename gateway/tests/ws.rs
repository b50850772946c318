//! The WebSocket protocol (docs/PROTOCOL.md) over a real socket: frames decode and merge to
//! the exact answer, and hostile client messages get an `Error` frame, never a crash.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::path::Path;

use futures_util::{SinkExt, StreamExt};
use shared_sketch::{AggValue, ClientMessage, Fold, Frame, decode_frame, encode};
use tokio_tungstenite::tungstenite::Message;

async fn start(data: &Path) -> String {
    format!("ws://{}/ws", common::start(data, 1).await)
}

/// Sends `first`, returns every frame until the server closes.
async fn exchange(url: &str, first: Message) -> Vec<Frame> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    socket.send(first).await.unwrap();
    common::frames_until_close(&mut socket).await
}

fn query(q: &str) -> Message {
    Message::Binary(
        encode(&ClientMessage::Query {
            q: q.into(),
            hits: 0,
            key: None,
        })
        .unwrap()
        .into(),
    )
}

#[tokio::test]
async fn a_query_streams_plan_partials_progress_done_and_merges_exactly() {
    let (dir, _) = common::demo_data(12_000);
    let url = start(dir.path()).await;

    let frames = exchange(&url, query("action:REJECT | stats count()")).await;
    let Some(Frame::Plan(plan)) = frames.first() else {
        panic!("{frames:?}")
    };
    assert_eq!(plan.files, 24);
    let mut fold = Fold::default();
    for frame in &frames {
        match frame {
            Frame::Plan(_) | Frame::Partial(_) | Frame::Done(_) => {}
            Frame::Progress(p) => assert!(p.files_done <= p.files_total),
            other => panic!("unexpected {other:?}"),
        }
        fold.apply(frame.clone());
    }
    let Some(Frame::Done(done)) = frames.last() else {
        panic!("{frames:?}")
    };
    assert_eq!(
        (done.files_done, done.files_total, done.cancelled),
        (24, 24, false)
    );

    // The same query through the HTTP path gives the same count.
    let http_url = url
        .replace("ws://", "http://")
        .replace("/ws", "/api/v1/query");
    let (_, http) = common::post_query(&http_url, "action:REJECT | stats count()").await;
    let result = fold.answer().expect("a whole answer").result;
    assert!(matches!(result.aggs[0].value, AggValue::Count { value } if value == result.matched));
    assert_eq!(http["matched"], result.matched);
    assert!(result.matched > 0);
}

#[tokio::test]
async fn hostile_first_messages_get_an_error_frame_and_the_server_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let url = start(dir.path()).await;

    let garbage = exchange(&url, Message::Binary(vec![1, 0x1f, 0x8b, 0, 0, 9].into())).await;
    assert!(
        common::only_error(&garbage).contains("unreadable message"),
        "{garbage:?}"
    );

    let wrong_version = exchange(&url, Message::Binary(vec![200, 1, 2, 3].into())).await;
    assert!(
        common::only_error(&wrong_version).contains("wire version 200"),
        "{wrong_version:?}"
    );

    let text = exchange(&url, Message::Text("{\"q\": \"x:y\"}".into())).await;
    assert!(common::only_error(&text).contains("binary"), "{text:?}");

    let cancel_first = exchange(
        &url,
        Message::Binary(encode(&ClientMessage::Cancel).unwrap().into()),
    )
    .await;
    assert!(
        common::only_error(&cancel_first).contains("first message"),
        "{cancel_first:?}"
    );

    let bad_query = exchange(&url, query("| stats dc(")).await;
    match bad_query.as_slice() {
        [Frame::Error(e)] => assert_eq!(e.column, Some(12)),
        other => panic!("{other:?}"),
    }

    // Still serving: an empty data folder answers with zero files.
    let frames = exchange(&url, query("| stats count()")).await;
    assert!(
        matches!(frames.last(), Some(Frame::Done(d)) if d.files_total == 0),
        "{frames:?}"
    );
}

/// Three days of demo data (72 files) on one scan slot: a scan long enough to stop part-way.
fn three_days() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = gateway::demo::DemoConfig {
        records: 200_000,
        days: 3,
        ..Default::default()
    };
    gateway::demo::generate(dir.path(), &config).unwrap();
    dir
}

async fn executor_status(addr: std::net::SocketAddr) -> serde_json::Value {
    let url = format!("http://{addr}/api/v1/status");
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// Polls the status until no scan runs and none has started for 200 ms; returns how many
/// scans have started in all.
async fn settled_scans(addr: std::net::SocketAddr) -> u64 {
    let mut last = None;
    for _ in 0..50 {
        let status = executor_status(addr).await;
        let started = status["executor"]["started"].as_u64().unwrap();
        if status["executor"]["running"] == 0 && last == Some(started) {
            return started;
        }
        last = Some(started);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("scans still starting 10 s after the query stopped");
}

/// Opens a socket to the gateway at `addr` and sends `q` as the first message.
async fn send_query(
    addr: std::net::SocketAddr,
    q: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    socket.send(query(q)).await.unwrap();
    socket
}

#[tokio::test]
async fn a_cancel_message_stops_the_query_and_its_answer_covers_what_it_says() {
    let dir = three_days();
    let addr = common::start(dir.path(), 1).await;
    let mut socket = send_query(addr, "| stats count()").await;
    let cancel = encode(&ClientMessage::Cancel).unwrap();
    socket.send(Message::Binary(cancel.into())).await.unwrap();

    let (mut files_in_partials, mut done) = (0, None);
    while let Some(message) = socket.next().await {
        match message.unwrap() {
            Message::Binary(bytes) => match decode_frame(&bytes).unwrap() {
                Frame::Partial(p) => files_in_partials += p.stats.files,
                Frame::Done(d) => done = Some(d),
                _ => {}
            },
            Message::Close(_) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let done = done.unwrap();
    assert!(done.cancelled, "{done:?}");
    assert_eq!(done.files_total, 72);
    assert!(done.files_done < 72, "{done:?}");
    assert_eq!(files_in_partials, done.files_done);
    // Tasks not started when the cancel arrived never start.
    let started = settled_scans(addr).await;
    assert!(started < 72, "{started} scans started");
}

#[tokio::test]
async fn closing_the_socket_stops_outstanding_scans_and_the_server_carries_on() {
    let dir = three_days();
    let addr = common::start(dir.path(), 1).await;
    let mut socket = send_query(addr, "| stats count()").await;
    let Some(Ok(Message::Binary(plan))) = socket.next().await else {
        panic!("no plan")
    };
    assert!(matches!(decode_frame(&plan).unwrap(), Frame::Plan(p) if p.files == 72));
    drop(socket);

    let started = settled_scans(addr).await;
    assert!(
        started < 72,
        "{started} scans started after the client left"
    );

    // The next query runs every file.
    let frames = exchange(&format!("ws://{addr}/ws"), query("| stats count()")).await;
    assert!(
        matches!(frames.last(), Some(Frame::Done(d)) if d.files_done == 72 && !d.cancelled),
        "{frames:?}"
    );
    assert_eq!(settled_scans(addr).await, started + 72);
}
