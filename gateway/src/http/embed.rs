//! Embedding widgets in other sites (docs/EMBEDDING.md):
//! - `POST /api/v1/widget-tokens` (admin key): mints a widget token for a saved query;
//! - `GET /embed/loader.js`: defines `<sketchlake-widget>`, which frames the widget;
//! - `GET /embed/{widget}`: the page alone, framed only by the origin the loader names,
//!   and only when the tenant allows that origin (`Content-Security-Policy:
//!   frame-ancestors`). Every other page of the gateway may not be framed at all.

use std::path::Path;

use axum::Json;
use axum::extract::State;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lake::{Catalog, CatalogError};
use serde::{Deserialize, Serialize};
use shared_sketch::query::TimeBound;
use shared_sketch::widget::Widget;

use super::error::ApiError;
use super::headers::page_policy;
use super::saved::not_found;
use super::state::AppState;
use crate::access::{DEFAULT_TOKEN_SECONDS, Grant, MAX_TOKEN_SECONDS, Principal};

const LOADER: &str = include_str!("../../assets/loader.js");

#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    /// The saved query's id.
    pub saved: String,
    pub widget: String,
    /// The web origin that will embed it (`https://soc.example.com`): one of the tenant's.
    pub origin: String,
    /// Lifetime (default 15 minutes, at most a day).
    #[serde(default)]
    pub seconds: Option<u64>,
    /// The time range the widget may show (`-24h`, `now`, an ISO time).
    #[serde(default)]
    pub earliest: Option<String>,
    #[serde(default)]
    pub latest: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub token: String,
    pub expires_at: u64,
}

/// `POST /api/v1/widget-tokens`: a token for one widget of one saved query, for one origin.
pub async fn mint(
    State(state): State<AppState>,
    caller: Principal,
    Json(request): Json<TokenRequest>,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    caller.admin()?;
    if Widget::named(&request.widget).is_none() {
        return Err(ApiError::BadRequest(format!(
            "unknown widget {:?}: one of {}",
            request.widget,
            Widget::names()
        )));
    }
    for bound in [&request.earliest, &request.latest].into_iter().flatten() {
        bound
            .parse::<TimeBound>()
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    }
    let catalog = state.catalog();
    catalog
        .saved_query(&caller.tenant, &request.saved)
        .await?
        .ok_or_else(|| not_found(&request.saved))?;
    if !allowed_origins(catalog, &caller.tenant)
        .await?
        .contains(&request.origin)
    {
        return Err(ApiError::BadRequest(format!(
            "{:?} is not among tenant {:?}'s embedding origins (sketchlake tenant set … --allow-origin)",
            request.origin, caller.tenant
        )));
    }
    let seconds = request.seconds.unwrap_or(DEFAULT_TOKEN_SECONDS);
    if seconds == 0 || seconds > MAX_TOKEN_SECONDS {
        return Err(ApiError::BadRequest(format!(
            "a widget token lives 1 to {MAX_TOKEN_SECONDS} seconds"
        )));
    }
    let grant = Grant {
        tenant: caller.tenant,
        saved: request.saved,
        widget: request.widget,
        origin: request.origin,
        earliest: request.earliest,
        latest: request.latest,
    };
    let (token, expires_at) = state.access.mint(grant, seconds)?;
    Ok((
        StatusCode::CREATED,
        Json(TokenResponse { token, expires_at }),
    ))
}

/// The origins `tenant` lets embed its widgets.
pub async fn allowed_origins(catalog: &Catalog, tenant: &str) -> Result<Vec<String>, CatalogError> {
    Ok(catalog
        .tenants()
        .await?
        .into_iter()
        .find(|t| t.name == tenant)
        .map(|t| t.origins)
        .unwrap_or_default())
}

/// `GET /embed/loader.js`, with CORS for origins some tenant lets embed: a portal can then
/// load it with `crossorigin` and pin it with an `integrity` hash.
pub async fn loader(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut response = (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
            (VARY, "Origin"),
        ],
        LOADER,
    )
        .into_response();
    if let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok())
        && let Ok(tenants) = state.catalog().tenants().await
        && tenants
            .iter()
            .any(|t| t.origins.iter().any(|o| o == origin))
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        response
            .headers_mut()
            .insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct EmbedParams {
    #[serde(default)]
    pub tenant: String,
    /// The origin of the page framing the widget, as the loader saw it.
    #[serde(default)]
    pub origin: String,
}

/// `GET /embed/{widget}`: the app's page, which shows the widget alone. Framed only by
/// `origin`, and only if the tenant allows it; otherwise by nobody.
pub async fn page(
    state: AppState,
    ui: Option<&Path>,
    widget: String,
    params: EmbedParams,
) -> Response {
    let Some(ui) = ui else {
        return ApiError::Unavailable("The frontend is not built.".into()).into_response();
    };
    if Widget::named(&widget).is_none() {
        return ApiError::NotFound(format!("no widget {widget:?}")).into_response();
    }
    let allowed = match allowed_origins(state.catalog(), &params.tenant).await {
        Ok(origins) => origins.contains(&params.origin),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let ancestors = page_policy(if allowed { &params.origin } else { "'none'" });
    match index_html(ui).await {
        Ok(html) => (
            [
                (CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
                (CONTENT_SECURITY_POLICY, ancestors),
                (CACHE_CONTROL, "no-store".to_string()),
            ],
            html,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("cannot read the page: {e}")).into_response(),
    }
}

async fn index_html(ui: &Path) -> std::io::Result<String> {
    tokio::fs::read_to_string(ui.join("index.html")).await
}
