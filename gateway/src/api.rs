//! HTTP API for tools: the same query path as the WebSocket, answered once, merged by the
//! server, as JSON.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared_sketch::{Frame, Partial, Progress, Query, QueryResult};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::auth::{AuthError, Principal};
use crate::catalog::CatalogError;
use crate::run::{Ask, Engine, run_query};
use crate::summary::{LakeSummary, summarize};

#[derive(Debug, Deserialize)]
pub struct QueryRequest {
    pub q: String,
    /// How many of the newest matching events to return (default: the query's own, 100
    /// unless `head N` follows a plain search; at most 100,000).
    #[serde(default)]
    pub hits: u32,
}

#[derive(Debug, Serialize)]
pub struct QueryResponse {
    #[serde(flatten)]
    pub result: QueryResult,
    pub elapsed_ms: u64,
    /// Set when the server stopped the query early (its time limit): the answer covers
    /// only part of the data, and says which part.
    pub stopped: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Query {
        message: String,
        column: Option<u32>,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A name in use is the caller's conflict; anything else the catalog says is ours.
impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NameTaken { .. } => ApiError::Conflict(e.to_string()),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Catalog(e) => e.into(),
            AuthError::Forbidden(_) => ApiError::Forbidden(e.to_string()),
            AuthError::Random(_) | AuthError::Signing(_) => ApiError::Internal(e.to_string()),
            e => ApiError::Unauthorized(e.to_string()),
        }
    }
}

impl ApiError {
    fn body(&self) -> serde_json::Value {
        let column = match self {
            ApiError::Query { column, .. } => *column,
            _ => None,
        };
        serde_json::json!({ "error": self.to_string(), "column": column })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Query { .. } | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(self.body())).into_response()
    }
}

/// `POST /api/v1/query` with `{"q": "..."}`: the final answer. A query stopped at its time
/// limit answers 504, with what it has and why in the body, so scripts do not take a
/// partial answer for a whole one.
pub async fn query(
    State(engine): State<Arc<Engine>>,
    caller: Principal,
    Json(request): Json<QueryRequest>,
) -> Result<Response, ApiError> {
    let ask = Ask::new(&caller.tenant, &request.q, request.hits);
    let response = answer(&engine, ask).await?;
    let status = if response.stopped.is_some() {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::OK
    };
    Ok((status, Json(response)).into_response())
}

/// `GET /api/v1/status`: the executor's scans in flight and started, and the query time
/// limit — enough to see that a gateway is busy, idle, or stuck.
pub async fn status(
    State(engine): State<Arc<Engine>>,
    _caller: Principal,
) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "executor": engine.executor.status(),
        "query_timeout_s": engine.timeout.as_secs_f64(),
    }))
}

/// `GET /api/v1/lake`: files by format, known time span, and the kind of data (the page
/// opens the matching dashboard).
pub async fn lake(
    State(engine): State<Arc<Engine>>,
    caller: Principal,
) -> Result<Json<LakeSummary>, ApiError> {
    let lake = engine.lake_for(&caller.tenant).ok_or_else(|| {
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
    State(engine): State<Arc<Engine>>,
    caller: Principal,
    axum::extract::Query(request): axum::extract::Query<QueryRequest>,
) -> Response {
    let run = Run::start(&engine, Ask::new(&caller.tenant, &request.q, request.hits));
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
pub async fn answer(engine: &Arc<Engine>, ask: Ask) -> Result<QueryResponse, ApiError> {
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
    Done(Box<QueryResponse>),
}

/// One query running for an API caller, its partials merged as they arrive. Dropping it
/// (the caller went away) stops the query.
struct Run {
    frames: mpsc::Receiver<Frame>,
    merged: Option<(Query, Partial)>,
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
            merged: None,
            _stop: cancel.drop_guard(),
        }
    }

    async fn next(&mut self) -> Result<Event, ApiError> {
        loop {
            let frame =
                self.frames.recv().await.ok_or_else(|| {
                    ApiError::Internal("the query ended without an answer".into())
                })?;
            match frame {
                Frame::Plan(plan) => {
                    let summary = serde_json::json!({
                        "query": plan.query.to_string(),
                        "files": plan.files,
                        "bytes": plan.bytes,
                        "files_pruned": plan.files_pruned,
                        "bytes_pruned": plan.bytes_pruned,
                    });
                    let total = Partial::new(&plan.query);
                    self.merged = Some((plan.query, total));
                    return Ok(Event::Plan(summary));
                }
                Frame::Partial(partial) => {
                    let (_, total) = self
                        .merged
                        .as_mut()
                        .ok_or_else(|| ApiError::Internal("partial before plan".into()))?;
                    total
                        .merge(&partial)
                        .map_err(|e| ApiError::Internal(e.to_string()))?;
                }
                Frame::Progress(progress) => return Ok(Event::Progress(progress)),
                Frame::Error(e) => {
                    return Err(ApiError::Query {
                        message: e.message,
                        column: e.column,
                    });
                }
                Frame::Done(progress) => {
                    let (query, total) = self
                        .merged
                        .take()
                        .ok_or_else(|| ApiError::Internal("done before plan".into()))?;
                    return Ok(Event::Done(Box::new(QueryResponse {
                        result: total.result(&query),
                        elapsed_ms: progress.elapsed_ms,
                        stopped: progress.stopped,
                    })));
                }
            }
        }
    }
}
