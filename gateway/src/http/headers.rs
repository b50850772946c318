//! The headers every response carries: a strict Content-Security-Policy (the page loads
//! its own script, wasm, styles and socket, and nothing else; no inline script, no
//! framing but `/embed/…`'s), `X-Content-Type-Options: nosniff` and `Referrer-Policy:
//! no-referrer` (a query in a URL never leaves in a Referer).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
use axum::middleware::Next;
use axum::response::Response;

/// What the page may load, before its `frame-ancestors`. `wasm-unsafe-eval` lets it
/// compile its own wasm (and allows no `eval`); styles may be inline because the charts
/// set `style` attributes, which run no code.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    base-uri 'none'; form-action 'none'";

/// The policy of a page that `frame_ancestors` may frame (`'none'`, or one origin).
pub fn page_policy(frame_ancestors: &str) -> String {
    format!("{PAGE_POLICY}; frame-ancestors {frame_ancestors}")
}

/// Sets the headers on every response that has not set its own policy (`/embed/…` sets
/// who may frame it).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(CONTENT_SECURITY_POLICY)
        && let Ok(policy) = HeaderValue::from_str(&page_policy("'none'"))
    {
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
