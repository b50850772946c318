//! Every HTTP status and error body the gateway answers, decided here: `{"error": "…",
//! "column": N|null}`.

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};
use lake::CatalogError;
use shared_sketch::{ErrorKind, QueryError};

use crate::access::AuthError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query that could not run: its kind says whose fault and which status.
    #[error("{}", .0.message)]
    Query(QueryError),
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
    /// Something the gateway needs is missing (the built frontend): not the caller's fault.
    #[error("{0}")]
    Unavailable(String),
    /// The caller is over a limit: ask again after `retry_after` seconds.
    #[error("{message}")]
    TooMany { message: String, retry_after: u64 },
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        ApiError::Query(e)
    }
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

impl From<lake::LookupsError> for ApiError {
    fn from(e: lake::LookupsError) -> Self {
        match e {
            lake::LookupsError::Catalog(e) => e.into(),
            lake::LookupsError::Missing(_) => ApiError::NotFound(e.to_string()),
            e => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Catalog(e) => e.into(),
            AuthError::Forbidden(_) => ApiError::Forbidden(e.to_string()),
            AuthError::Random(_) | AuthError::Signing(_) => ApiError::Internal(e.to_string()),
            AuthError::Throttled { retry_after } => ApiError::TooMany {
                message: e.to_string(),
                retry_after,
            },
            e => ApiError::Unauthorized(e.to_string()),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Query(e) => match e.kind {
                ErrorKind::BadQuery => StatusCode::BAD_REQUEST,
                ErrorKind::Forbidden => StatusCode::FORBIDDEN,
                ErrorKind::NotFound => StatusCode::NOT_FOUND,
                ErrorKind::LakeUnavailable => StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::TimedOut => StatusCode::GATEWAY_TIMEOUT,
                ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                ErrorKind::Busy => StatusCode::TOO_MANY_REQUESTS,
            },
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> serde_json::Value {
        let column = match self {
            ApiError::Query(e) => e.column,
            _ => None,
        };
        serde_json::json!({ "error": self.to_string(), "column": column })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        let retry_after = match &self {
            ApiError::TooMany { retry_after, .. } => Some(*retry_after),
            // A query slot frees when a query ends: soon.
            ApiError::Query(e) if e.kind == ErrorKind::Busy => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(RETRY_AFTER, seconds.into());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_follows_the_kind() {
        let status = |kind| ApiError::Query(QueryError::new(kind, "x")).status();
        assert_eq!(status(ErrorKind::BadQuery), StatusCode::BAD_REQUEST);
        assert_eq!(
            status(ErrorKind::LakeUnavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(status(ErrorKind::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            status(ErrorKind::Internal),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
