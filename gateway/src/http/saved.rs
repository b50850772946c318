//! Saved queries over HTTP (`/api/v1/saved`): a query kept under a name in the catalog
//! database, so every gateway sharing the catalog knows it. They are what embedded widgets
//! run. Each belongs to the tenant of the key that saved it; read keys list and read them,
//! admin keys also save and delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use lake::catalog::SavedQuery;
use serde::Deserialize;
use shared_sketch::parse;
use shared_sketch::time::now_ms;

use super::error::ApiError;
use super::state::AppState;
use crate::access::{Principal, random_hex};

/// Longest name accepted, in characters.
const MAX_NAME: usize = 200;
/// Longest query text accepted, in bytes (a query is a line, not a document).
const MAX_QUERY: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
pub struct SaveRequest {
    pub name: String,
    pub q: String,
}

/// `POST /api/v1/saved` `{"name", "q"}`: 201 with the saved query and its id; 400 for a
/// query that does not parse (with its column) or a bad name; 409 for a name in use.
pub async fn create(
    State(state): State<AppState>,
    caller: Principal,
    Json(request): Json<SaveRequest>,
) -> Result<(StatusCode, Json<SavedQuery>), ApiError> {
    caller.admin()?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "a saved query needs a name of 1 to {MAX_NAME} characters, without control characters"
        )));
    }
    if request.q.len() > MAX_QUERY {
        return Err(ApiError::BadRequest(format!(
            "a saved query is at most {MAX_QUERY} bytes"
        )));
    }
    parse(&request.q).map_err(|e| ApiError::Query(e.into()))?;
    let saved = SavedQuery {
        id: new_id()?,
        tenant: caller.tenant,
        name: name.to_string(),
        q: request.q,
        created_ms: now_ms(),
    };
    state.catalog().save_query(&saved).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// `GET /api/v1/saved`: the saved queries, by name.
pub async fn list(
    State(state): State<AppState>,
    caller: Principal,
) -> Result<Json<Vec<SavedQuery>>, ApiError> {
    Ok(Json(state.catalog().saved_queries(&caller.tenant).await?))
}

/// `GET /api/v1/saved/{id}`: one saved query, or 404.
pub async fn get(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
) -> Result<Json<SavedQuery>, ApiError> {
    let saved = state.catalog().saved_query(&caller.tenant, &id).await?;
    saved.map(Json).ok_or_else(|| not_found(&id))
}

/// `DELETE /api/v1/saved/{id}`: 204, or 404 when there is none.
pub async fn delete(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.admin()?;
    let catalog = state.catalog();
    if catalog.delete_saved_query(&caller.tenant, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&id))
    }
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no saved query {id:?}"))
}

/// 128 random bits from the OS, as `sq_` and 32 hex digits: ids are not guessable.
fn new_id() -> Result<String, ApiError> {
    let hex = random_hex(16)
        .map_err(|e| ApiError::Internal(format!("no randomness from the OS: {e}")))?;
    Ok(format!("sq_{hex}"))
}
