//! Keys and widget tokens never reach the logs: a real `sketchlake serve`, logging at
//! debug level, is sent a right key, wrong keys, a read key over the WebSocket and a widget
//! token, and then its whole log is read.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use futures_util::SinkExt;
use serde_json::json;
use shared_sketch::{ClientMessage, encode};
use tokio_tungstenite::tungstenite::Message;

const ORIGIN: &str = "https://soc.example.com";

#[tokio::test]
async fn keys_and_tokens_are_never_logged() {
    let (data, _) = common::demo_data(2_000);
    let lake = data.path().to_str().unwrap();
    let key = |role: &str| {
        let (key, _) = common::cli(&[
            "key", "create", "--data", lake, "--tenant", "default", "--role", role,
        ]);
        key.trim().to_string()
    };
    let (admin, read) = (key("admin"), key("read"));
    common::cli(&[
        "tenant",
        "set",
        "default",
        "--data",
        lake,
        "--allow-origin",
        ORIGIN,
    ]);
    let log_path = data.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sketchlake"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data", lake])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .find_map(|l| l.ok().filter(|l| l.starts_with("sketchlake listening on")))
        .unwrap();
    let base = line.rsplit(' ').next().unwrap().to_string();
    let client = reqwest::Client::new();
    let post = |path: &str, key: &str, body: serde_json::Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(key)
            .json(&body)
            .send()
    };

    let answered = post("/api/v1/query", &admin, json!({ "q": "| stats count" }))
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    // A wrong secret for a real key id, and keys that are not keys at all.
    let forged = format!("{}{}", &admin[..admin.len() - 6], "abcdef");
    for wrong in [forged.as_str(), "slk_nothing_here", "not-a-key"] {
        let refused = post("/api/v1/query", wrong, json!({ "q": "| stats count" }))
            .await
            .unwrap();
        assert_eq!(refused.status(), 401, "{wrong}");
    }
    let saved = post(
        "/api/v1/saved",
        &admin,
        json!({ "name": "talkers", "q": "| top 5 srcaddr" }),
    )
    .await
    .unwrap();
    let saved: serde_json::Value = saved.json().await.unwrap();
    let saved = saved["id"].as_str().unwrap().to_string();
    let minted = post(
        "/api/v1/widget-tokens",
        &admin,
        json!({ "saved": saved, "widget": "top-talkers", "origin": ORIGIN }),
    )
    .await
    .unwrap();
    assert_eq!(minted.status(), 201);
    let token: serde_json::Value = minted.json().await.unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    // The token over the WebSocket, as a widget sends it, and the read key as the page does;
    // then the token where a key belongs.
    let ws = base.replace("http://", "ws://") + "/ws";
    for message in [
        ClientMessage::Widget {
            token: token.clone(),
            saved: saved.clone(),
            widget: "top-talkers".into(),
            origin: ORIGIN.into(),
        },
        ClientMessage::Query {
            q: "| stats count".into(),
            hits: 0,
            key: Some(read.clone()),
        },
    ] {
        let (mut socket, _) = tokio_tungstenite::connect_async(ws.as_str()).await.unwrap();
        socket
            .send(Message::Binary(encode(&message).unwrap().into()))
            .await
            .unwrap();
        let frames = common::frames_until_close(&mut socket).await;
        assert!(frames.len() > 1, "{frames:?}");
    }
    let misused = post("/api/v1/query", &token, json!({ "q": "| stats count" }))
        .await
        .unwrap();
    assert_eq!(misused.status(), 401);
    child.kill().unwrap();
    child.wait().unwrap();

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("query finished"),
        "the log holds what was done:\n{log}"
    );
    // The id part of a key (`slk_<id>_`) may be logged; its secret never is.
    let secret = |key: &str| key.rsplit('_').next().unwrap().to_string();
    let signature = token.rsplit('.').next().unwrap().to_string();
    for (what, needle) in [
        ("the admin key's secret", secret(&admin)),
        ("the read key's secret", secret(&read)),
        ("a forged key", forged.clone()),
        ("the widget token", token.clone()),
        ("the widget token's signature", signature),
    ] {
        assert!(!log.contains(&needle), "{what} is in the log:\n{log}");
    }
}
