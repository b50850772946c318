//! The browser's live query channel (docs/PROTOCOL.md): one query per connection. The
//! first client message is the query with its API key, or a widget's token; the server
//! streams binary frames until `Done` or `Error`, then closes. A `Cancel` message or a
//! closed socket stops the scan.
//!
//! Browsers send cookies and the page's `Origin` with a WebSocket upgrade from any site, so
//! an upgrade whose `Origin` is not this gateway's own is refused (cross-site WebSocket
//! hijacking). Clients that are not browsers send no `Origin`, and must still present a
//! key or token in their first message.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use shared_sketch::query::NotATime;
use shared_sketch::{ClientMessage, ErrorKind, Frame, QueryError, decode, encode_frame};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::embed::allowed_origins;
use super::error::ApiError;
use super::state::AppState;
use crate::access::AuthError;
use crate::engine::{Ask, run_query};

/// Client messages are a query or a cancel: small.
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
const FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// A socket's read buffer, allocated when it opens: 128 KiB by default, which made a
/// thousand idle sockets cost 128 MiB. A query message is a few hundred bytes.
const READ_BUFFER: usize = 4 * 1024;

pub async fn handler(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    if !same_origin(&headers) {
        tracing::warn!(origin = ?headers.get(ORIGIN), "refused a cross-site websocket");
        let refused = "cross-site WebSocket refused: Origin is not this gateway";
        return ApiError::Forbidden(refused.into()).into_response();
    }
    // A throttled address (too many wrong keys) is refused before the upgrade, with 429.
    let from = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    if let Err(e) = state.access.admit(from) {
        return ApiError::from(e).into_response();
    }
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| session(socket, state, from))
}

/// No `Origin` (not a browser), or one naming the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), headers.get(HOST).map(|h| h.to_str()))
    else {
        return false;
    };
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    let Some(name) = url.host_str() else {
        return false;
    };
    let authority = match url.port() {
        Some(port) => format!("{name}:{port}"),
        None => name.to_string(),
    };
    authority.eq_ignore_ascii_case(host)
}

/// What the first message may run: its key's tenant's query, or a widget token's saved
/// query. The error says why not.
async fn authorize(
    state: &AppState,
    message: ClientMessage,
    from: Option<IpAddr>,
) -> Result<Ask, QueryError> {
    let forbidden = |message: String| QueryError::new(ErrorKind::Forbidden, message);
    let unavailable =
        |e: lake::CatalogError| QueryError::new(ErrorKind::LakeUnavailable, e.to_string());
    match message {
        ClientMessage::Query { q, hits, key } => {
            let caller = state
                .access
                .principal_from(from, key.as_deref())
                .await
                .map_err(refusal)?;
            Ok(Ask::new(&caller.tenant, &q, hits).with_key(caller.key))
        }
        ClientMessage::Widget {
            token,
            saved,
            widget,
            origin,
        } => {
            let grant = state.access.verify_from(from, &token).map_err(refusal)?;
            if grant.saved != saved {
                return Err(forbidden(
                    "this widget token is for another saved query".into(),
                ));
            }
            if grant.widget != widget {
                return Err(forbidden(format!(
                    "this widget token is for the {} widget",
                    grant.widget
                )));
            }
            if grant.origin != origin {
                return Err(forbidden(format!(
                    "this widget token is for pages of {}",
                    grant.origin
                )));
            }
            let catalog = state.catalog();
            let origins = allowed_origins(catalog, &grant.tenant)
                .await
                .map_err(unavailable)?;
            if !origins.contains(&origin) {
                return Err(forbidden(format!(
                    "{origin} may no longer embed these widgets"
                )));
            }
            let query = catalog
                .saved_query(&grant.tenant, &saved)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| {
                    QueryError::new(ErrorKind::NotFound, "the saved query no longer exists")
                })?;
            let bound = |b: &Option<String>| {
                b.as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(|e: NotATime| QueryError::new(ErrorKind::BadQuery, e.to_string()))
            };
            Ok(Ask {
                within: (bound(&grant.earliest)?, bound(&grant.latest)?),
                ..Ask::new(&grant.tenant, &query.q, 0)
            })
        }
        ClientMessage::Cancel => Err(QueryError::new(
            ErrorKind::BadQuery,
            "the first message must be a query",
        )),
    }
}

/// Why a key or token was not taken: the caller's (forbidden), unless the catalog could
/// not be read or a token not made.
fn refusal(e: AuthError) -> QueryError {
    let kind = match e {
        AuthError::Catalog(_) => ErrorKind::LakeUnavailable,
        AuthError::Random(_) | AuthError::Signing(_) => ErrorKind::Internal,
        _ => ErrorKind::Forbidden,
    };
    QueryError::new(kind, e.to_string())
}

async fn session(socket: WebSocket, state: AppState, from: Option<IpAddr>) {
    let (mut sink, mut stream) = socket.split();
    let bad = |message: &str| QueryError::new(ErrorKind::BadQuery, message);
    let ask = match tokio::time::timeout(FIRST_MESSAGE_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(Message::Binary(bytes)))) => match decode::<ClientMessage>(&bytes) {
            Ok(message) => authorize(&state, message, from).await,
            Err(e) => Err(bad(&format!("unreadable message: {e}"))),
        },
        Ok(Some(Ok(Message::Text(_)))) => Err(bad("messages must be binary frames")),
        Ok(None | Some(Ok(Message::Close(_))) | Some(Err(_))) => return,
        Ok(Some(Ok(_))) => Err(bad("the first message must be a query")),
        Err(_) => Err(QueryError::new(ErrorKind::TimedOut, "no query received")),
    };
    let ask = match ask {
        Ok(ask) => ask,
        Err(error) => {
            tracing::warn!(message = %error.message, "refused a websocket client");
            let frame = Frame::Error(error);
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
        let engine = state.engine.clone();
        async move { run_query(&engine, &ask, tx, cancel).await }
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
                    Ok(ClientMessage::Query { .. } | ClientMessage::Widget { .. }) | Err(_) => {
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
