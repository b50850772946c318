//! `GET /metrics`: the gateway's counters in Prometheus's text format, for an admin key of
//! the default tenant (the operator's: the counters cover every tenant) on the main
//! listener, or for anyone who reaches `serve --metrics-listen` (an address kept to the
//! monitoring network).

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shared_sketch::time::now_ms;

use super::error::ApiError;
use super::state::AppState;
use crate::access::Principal;

/// The text format's media type (version 0.0.4).
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn admin(State(state): State<AppState>, caller: Principal) -> Result<Response, ApiError> {
    caller.admin()?;
    if caller.tenant != lake::DEFAULT_TENANT {
        return Err(ApiError::Forbidden(
            "the metrics cover every tenant: they need an admin key of the default tenant".into(),
        ));
    }
    Ok(page(&state).await)
}

/// The routes of `--metrics-listen`: `/metrics` alone, without keys.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(state): State<AppState>| async move { page(&state).await }),
        )
        .with_state(state)
}

async fn page(state: &AppState) -> Response {
    let deliveries = match state.catalog().delivery_counts().await {
        Ok(counts) => Some(counts),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot count alert deliveries");
            None
        }
    };
    let engine = &state.engine;
    let text = engine
        .metrics()
        .render(&engine.executor().status(), deliveries, now_ms());
    ([(CONTENT_TYPE, TEXT_FORMAT)], text).into_response()
}
