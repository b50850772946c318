//! The browser's live query channel (docs/PROTOCOL.md): one query per connection. The
//! first client message is the query; the server streams binary frames until `Done` or
//! `Error`, then closes. A `Cancel` message or a closed socket stops the scan.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use shared_sketch::{ClientMessage, Frame, QueryError, decode, encode_frame};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::run::{Engine, run_query};

/// Client messages are a query or a cancel: small.
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
const FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn handler(ws: WebSocketUpgrade, State(engine): State<Arc<Engine>>) -> Response {
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| session(socket, engine))
}

async fn session(socket: WebSocket, engine: Arc<Engine>) {
    let (mut sink, mut stream) = socket.split();
    let text = match tokio::time::timeout(FIRST_MESSAGE_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(Message::Binary(bytes)))) => match decode::<ClientMessage>(&bytes) {
            Ok(ClientMessage::Query { q, hits }) => Ok((q, hits)),
            Ok(ClientMessage::Cancel) => Err("the first message must be a query".to_string()),
            Err(e) => Err(format!("unreadable message: {e}")),
        },
        Ok(Some(Ok(Message::Text(_)))) => Err("messages must be binary frames".to_string()),
        Ok(None | Some(Ok(Message::Close(_))) | Some(Err(_))) => return,
        Ok(Some(Ok(_))) => Err("the first message must be a query".to_string()),
        Err(_) => Err("no query received".to_string()),
    };
    let (text, hits) = match text {
        Ok(query) => query,
        Err(message) => {
            tracing::warn!(%message, "refused a websocket client");
            let frame = Frame::Error(QueryError {
                message,
                column: None,
            });
            if let Ok(bytes) = encode_frame(&frame) {
                let _ = sink.send(Message::Binary(bytes.into())).await;
            }
            let _ = sink.close().await;
            return;
        }
    };

    let cancel = CancellationToken::new();
    let _stop_on_exit = cancel.clone().drop_guard();
    let (tx, mut frames) = mpsc::channel(16);
    tokio::spawn({
        let cancel = cancel.clone();
        async move { run_query(&engine, &text, hits, tx, cancel).await }
    });
    let mut client_open = true;
    loop {
        tokio::select! {
            frame = frames.recv() => {
                let Some(frame) = frame else { break };
                let bytes = match encode_frame(&frame) {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot encode a frame");
                        break;
                    }
                };
                if sink.send(Message::Binary(bytes.into())).await.is_err() {
                    return;
                }
            }
            message = stream.next(), if client_open => match message {
                Some(Ok(Message::Binary(bytes))) => match decode::<ClientMessage>(&bytes) {
                    Ok(ClientMessage::Cancel) => cancel.cancel(),
                    Ok(ClientMessage::Query { .. }) | Err(_) => {
                        tracing::warn!("ignored an unexpected message during a query");
                    }
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    client_open = false;
                    cancel.cancel();
                }
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = sink.close().await;
}
