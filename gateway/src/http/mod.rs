//! The HTTP edge: `routes` (every route, in one place) served by `server`. Handlers live in
//! `api` (queries and status for tools), `ws` (the browser's query channel), `saved` (saved
//! queries), `embed` (widgets in other sites), `alerts` (alerts, rules and sinks), `metrics`
//! (counters for operators); `headers` sets the security headers of every response, `auth` finds the caller, `error` decides
//! every status and error body, `state` is what every handler is given.

mod alerts;
mod api;
mod auth;
mod embed;
mod error;
mod headers;
mod lookups;
mod metrics;
mod routes;
mod saved;
mod server;
mod state;
mod ws;

pub use api::{QueryRequest, answer};
pub use error::ApiError;
pub use metrics::router as metrics_router;
pub use routes::router;
pub use server::{DEFAULT_SEND_TIMEOUT, serve, shutdown_signal};
pub use state::AppState;
