//! What the page asks the gateway about the lake before the first query.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

/// The kind of data the lake holds (`GET /api/v1/lake`): `flows`, `cloudtrail` or
/// `events`. Any failure reads as `events`, the generic dashboard: the page still works.
pub async fn kind() -> String {
    fetch_kind().await.unwrap_or_else(|_| "events".to_string())
}

async fn fetch_kind() -> Result<String, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    if let Some(key) = crate::key::stored() {
        let headers = Headers::new()?;
        headers.append("Authorization", &format!("Bearer {key}"))?;
        init.set_headers(&headers);
    }
    let response: Response = JsFuture::from(window.fetch_with_str_and_init("/api/v1/lake", &init))
        .await?
        .dyn_into()?;
    if !response.ok() {
        return Err(JsValue::from_str("the lake summary failed"));
    }
    let body = JsFuture::from(response.json()?).await?;
    Reflect::get(&body, &JsValue::from_str("kind"))?
        .as_string()
        .ok_or_else(|| JsValue::from_str("no kind in the lake summary"))
}
