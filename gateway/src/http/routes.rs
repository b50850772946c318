//! Every route, in one place.

use std::path::PathBuf;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post, put};
use tower_http::services::{ServeDir, ServeFile};

use super::error::ApiError;
use super::state::AppState;
use super::{alerts, api, embed, headers, lookups, metrics, saved, ws};

/// Every route, over `state`, with the built frontend in `ui_dir` (none: the API alone).
pub fn router(state: AppState, ui_dir: Option<PathBuf>) -> Router {
    let routes = Router::new()
        .route("/ws", get(ws::handler))
        .route("/api/v1/query", post(api::query))
        .route("/api/v1/query/stream", get(api::stream))
        .route("/api/v1/status", get(api::status))
        .route("/metrics", get(metrics::admin))
        .route("/api/v1/lake", get(api::lake))
        .route("/api/v1/saved", get(saved::list).post(saved::create))
        .route("/api/v1/saved/{id}", get(saved::get).delete(saved::delete))
        .route("/api/v1/lookups", get(lookups::list))
        .route(
            "/api/v1/lookups/{name}",
            put(lookups::put)
                .delete(lookups::delete)
                // A table may be larger than a request usually is.
                .layer(DefaultBodyLimit::max(
                    shared_sketch::lookup::MAX_LOOKUP_BYTES + 1,
                )),
        )
        .route("/api/v1/widget-tokens", post(embed::mint))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/search", get(alerts::search))
        .route("/api/v1/alerts/{id}", get(alerts::get))
        .route("/api/v1/alerts/{id}/state", post(alerts::set_state))
        .route("/api/v1/rules", get(alerts::rules))
        .route("/api/v1/sinks", get(alerts::sinks))
        .route("/embed/loader.js", get(embed::loader))
        .route(
            "/embed/{widget}",
            get({
                let ui = ui_dir.clone();
                move |State(state), Path(widget), Query(params)| async move {
                    embed::page(state, ui.as_deref(), widget, params).await
                }
            }),
        )
        .with_state(state);
    let routes = match ui_dir {
        Some(dir) => {
            let index = ServeFile::new(dir.join("index.html"));
            routes.fallback_service(ServeDir::new(dir).fallback(index))
        }
        None => routes.fallback(|| async {
            ApiError::Unavailable(
                "The frontend is not built: `cargo xtask run` builds and serves it.".into(),
            )
        }),
    };
    routes.layer(axum::middleware::from_fn(headers::security_headers))
}
