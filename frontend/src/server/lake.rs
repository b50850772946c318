//! What the page asks the gateway about the lake before the first query.

use shared_sketch::lake::{DataKind, LakeSummary};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

/// The kind of data the lake holds. Any failure reads as `Events`, the generic dashboard:
/// the page still works.
pub async fn data_kind() -> DataKind {
    summary().await.map_or(DataKind::Events, |s| s.kind)
}

/// `GET /api/v1/lake`, with the signed-in key.
async fn summary() -> Result<LakeSummary, String> {
    let js = |e: JsValue| e.as_string().unwrap_or_else(|| format!("{e:?}"));
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    if let Some(key) = super::key::stored() {
        let headers = Headers::new().map_err(js)?;
        headers
            .append("Authorization", &format!("Bearer {key}"))
            .map_err(js)?;
        init.set_headers(&headers);
    }
    let response: Response = JsFuture::from(window.fetch_with_str_and_init("/api/v1/lake", &init))
        .await
        .map_err(js)?
        .dyn_into()
        .map_err(js)?;
    if !response.ok() {
        return Err(format!("the lake summary failed ({})", response.status()));
    }
    let text = JsFuture::from(response.text().map_err(js)?)
        .await
        .map_err(js)?
        .as_string()
        .ok_or("the lake summary is not text")?;
    serde_json::from_str(&text).map_err(|e| format!("unreadable lake summary: {e}"))
}
