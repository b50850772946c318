//! Routes, in one place.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use tower_http::services::{ServeDir, ServeFile};

use crate::run::Engine;
use crate::{api, embed, saved, ws};

pub fn router(engine: Arc<Engine>, ui_dir: Option<PathBuf>) -> Router {
    let routes = Router::new()
        .route("/ws", get(ws::handler))
        .route("/api/v1/query", post(api::query))
        .route("/api/v1/query/stream", get(api::stream))
        .route("/api/v1/status", get(api::status))
        .route("/api/v1/lake", get(api::lake))
        .route("/api/v1/saved", get(saved::list).post(saved::create))
        .route("/api/v1/saved/{id}", get(saved::get).delete(saved::delete))
        .route("/api/v1/widget-tokens", post(embed::mint))
        .route("/embed/loader.js", get(embed::loader))
        .route(
            "/embed/{widget}",
            get({
                let ui = ui_dir.clone();
                move |State(engine), Path(widget), Query(params)| async move {
                    embed::page(engine, ui.as_deref(), widget, params).await
                }
            }),
        )
        .with_state(engine);
    let routes = match ui_dir {
        Some(dir) => {
            let index = ServeFile::new(dir.join("index.html"));
            routes.fallback_service(ServeDir::new(dir).fallback(index))
        }
        None => routes.fallback(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The frontend is not built: `cargo xtask run` builds and serves it.",
            )
        }),
    };
    routes.layer(axum::middleware::from_fn(embed::no_framing))
}
