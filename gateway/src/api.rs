//! HTTP API for tools: the same query path as the WebSocket, answered once, merged by the
//! server, as JSON.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared_sketch::{Frame, Partial, Query, QueryResult};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::run::{Engine, run_query};

#[derive(Debug, Deserialize)]
pub struct QueryRequest {
    pub q: String,
}

#[derive(Debug, Serialize)]
pub struct QueryResponse {
    #[serde(flatten)]
    pub result: QueryResult,
    pub elapsed_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Query {
        message: String,
        column: Option<u32>,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, column) = match &self {
            ApiError::Query { column, .. } => (StatusCode::BAD_REQUEST, *column),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        let body = serde_json::json!({ "error": self.to_string(), "column": column });
        (status, Json(body)).into_response()
    }
}

/// `POST /api/v1/query` with `{"q": "..."}`.
pub async fn query(
    State(engine): State<Arc<Engine>>,
    Json(request): Json<QueryRequest>,
) -> Result<Json<QueryResponse>, ApiError> {
    answer(&engine, &request.q).await.map(Json)
}

/// Runs `q` to the end and merges every partial: the API's and the CLI's answer.
pub async fn answer(engine: &Arc<Engine>, q: &str) -> Result<QueryResponse, ApiError> {
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    // Dropping this future (client gone) drops `rx`, which stops the run.
    let runner = tokio::spawn({
        let engine = engine.clone();
        let cancel = cancel.clone();
        let q = q.to_string();
        async move { run_query(&engine, &q, tx, cancel).await }
    });
    let _stop_on_drop = cancel.drop_guard();
    let mut state: Option<(Query, Partial)> = None;
    while let Some(frame) = rx.recv().await {
        match frame {
            Frame::Plan(plan) => {
                let total = Partial::new(&plan.query);
                state = Some((plan.query, total));
            }
            Frame::Partial(partial) => {
                let (_, total) = state
                    .as_mut()
                    .ok_or_else(|| ApiError::Internal("partial before plan".into()))?;
                total
                    .merge(&partial)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
            }
            Frame::Progress(_) => {}
            Frame::Error(e) => {
                return Err(ApiError::Query {
                    message: e.message,
                    column: e.column,
                });
            }
            Frame::Done(progress) => {
                let (query, total) = state
                    .take()
                    .ok_or_else(|| ApiError::Internal("done before plan".into()))?;
                return Ok(QueryResponse {
                    result: total.result(&query),
                    elapsed_ms: progress.elapsed_ms,
                });
            }
        }
    }
    let why = match runner.await {
        Err(e) => e.to_string(),
        Ok(()) => "query ended without an answer".to_string(),
    };
    Err(ApiError::Internal(why))
}
