//! Lookup tables over HTTP (`/api/v1/lookups`): the CSV tables `| lookup NAME …` reads,
//! kept in the catalog per tenant. Read keys list them; admin keys put and delete.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use lake::LookupInfo;
use shared_sketch::time::now_ms;

use super::error::ApiError;
use super::state::AppState;
use crate::access::Principal;

/// `PUT /api/v1/lookups/{name}` with the CSV as the body: 201 with the table's name, rows
/// and columns; 400 (with the line) for a file that does not read whole or a bad name.
pub async fn put(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<LookupInfo>), ApiError> {
    caller.admin()?;
    let catalog = state.catalog().for_tenant(&caller.tenant);
    let info = catalog.put_lookup(&name, &body, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `GET /api/v1/lookups`: the caller's tenant's tables, by name.
pub async fn list(
    State(state): State<AppState>,
    caller: Principal,
) -> Result<Json<Vec<LookupInfo>>, ApiError> {
    let catalog = state.catalog().for_tenant(&caller.tenant);
    Ok(Json(catalog.lookups().await?))
}

/// `DELETE /api/v1/lookups/{name}`: 204, or 404 when the tenant has no such table.
pub async fn delete(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.admin()?;
    let catalog = state.catalog().for_tenant(&caller.tenant);
    if catalog.delete_lookup(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no lookup table `{name}`")))
    }
}
