//! HTTP API for tools: the same query path as the WebSocket, answered once, merged by the
//! server, as JSON.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use lake::summary::summarize;
use serde::Deserialize;
use shared_sketch::lake::LakeSummary;
use shared_sketch::{Answer, ErrorKind, Fold, Frame, Progress, QueryError};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::error::ApiError;
use super::state::AppState;
use crate::access::Principal;
use crate::engine::{Ask, Engine, run_query};

#[derive(Debug, Deserialize)]
pub struct QueryRequest {
    pub q: String,
    /// How many of the newest matching events to return (default: the query's own, 100
    /// unless `head N` follows a plain search; at most 100,000).
    #[serde(default)]
    pub hits: u32,
}

/// `POST /api/v1/query` with `{"q": "..."}`: the final answer. A query stopped at its time
/// limit answers 504, with what it has and why in the body, so scripts do not take a
/// partial answer for a whole one.
pub async fn query(
    State(state): State<AppState>,
    caller: Principal,
    Json(request): Json<QueryRequest>,
) -> Result<Response, ApiError> {
    let ask = Ask::new(&caller.tenant, &request.q, request.hits).with_key(caller.key);
    let response = answer(&state.engine, ask).await?;
    let status = if response.stopped.is_some() {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::OK
    };
    Ok((status, Json(response)).into_response())
}

/// `GET /api/v1/status`: the executor's scans in flight and started, and the query time
/// limit — enough to see that a gateway is busy, idle, or stuck.
pub async fn status(State(state): State<AppState>, _caller: Principal) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "executor": state.engine.executor().status(),
        "query_timeout_s": state.engine.timeout().as_secs_f64(),
    }))
}

/// `GET /api/v1/lake`: files by format, known time span, and the kind of data (the page
/// opens the matching dashboard).
pub async fn lake(
    State(state): State<AppState>,
    caller: Principal,
) -> Result<Json<LakeSummary>, ApiError> {
    let lake = state.engine.lake_for(&caller.tenant).ok_or_else(|| {
        ApiError::NotFound(format!("tenant {:?} has no data here", caller.tenant))
    })?;
    summarize(lake)
        .await
        .map(Json)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// `GET /api/v1/query/stream?q=...`: newline-delimited JSON as the query runs — one
/// `{"plan": …}`, then `{"progress": …}` (at most ~10 a second), then `{"result": …}` (the
/// same answer as `POST /api/v1/query`) or `{"error": …}`. Closing the connection stops
/// the query.
pub async fn stream(
    State(state): State<AppState>,
    caller: Principal,
    axum::extract::Query(request): axum::extract::Query<QueryRequest>,
) -> Response {
    let ask = Ask::new(&caller.tenant, &request.q, request.hits).with_key(caller.key);
    let run = Run::start(&state.engine, ask);
    let lines = futures_util::stream::unfold(Some(run), |run| async move {
        let mut run = run?;
        let (line, more) = match run.next().await {
            Ok(Event::Plan(plan)) => (serde_json::json!({ "plan": plan }), true),
            Ok(Event::Progress(progress)) => (serde_json::json!({ "progress": progress }), true),
            Ok(Event::Done(response)) => (serde_json::json!({ "result": response }), false),
            Err(e) => (e.body(), false),
        };
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        Some((
            Ok::<_, std::convert::Infallible>(bytes),
            more.then_some(run),
        ))
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response()
}

/// Runs `ask` to the end and merges every partial: the API's and the CLI's answer.
pub async fn answer(engine: &Arc<Engine>, ask: Ask) -> Result<Answer, ApiError> {
    let mut run = Run::start(engine, ask);
    loop {
        if let Event::Done(response) = run.next().await? {
            return Ok(*response);
        }
    }
}

/// What an API caller hears of a running query.
enum Event {
    Plan(serde_json::Value),
    Progress(Progress),
    Done(Box<Answer>),
}

/// One query running for an API caller, its frames folded as they arrive. Dropping it
/// (the caller went away) stops the query.
struct Run {
    frames: mpsc::Receiver<Frame>,
    fold: Fold,
    _stop: DropGuard,
}

impl Run {
    fn start(engine: &Arc<Engine>, ask: Ask) -> Run {
        let (tx, frames) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        tokio::spawn({
            let engine = engine.clone();
            let cancel = cancel.clone();
            async move { run_query(&engine, &ask, tx, cancel).await }
        });
        Run {
            frames,
            fold: Fold::default(),
            _stop: cancel.drop_guard(),
        }
    }

    async fn next(&mut self) -> Result<Event, ApiError> {
        loop {
            let Some(frame) = self.frames.recv().await else {
                let message = "the query ended without an answer";
                return Err(QueryError::new(ErrorKind::Internal, message).into());
            };
            let (plan, progress) = (
                matches!(frame, Frame::Plan(_)),
                matches!(frame, Frame::Progress(_)),
            );
            self.fold.apply(frame);
            if let Some(outcome) = self.fold.outcome() {
                return Ok(Event::Done(Box::new(outcome?)));
            }
            if progress {
                return Ok(Event::Progress(self.fold.progress.clone()));
            }
            if plan && let Some(scope) = &self.fold.scope {
                return Ok(Event::Plan(serde_json::json!({
                    "query": scope.query.to_string(),
                    "files": scope.files,
                    "bytes": scope.bytes,
                    "files_pruned": scope.files_pruned,
                    "bytes_pruned": scope.bytes_pruned,
                })));
            }
        }
    }
}
