//! The page's calls to the gateway's HTTP API, with the signed-in key.

use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

/// `GET path`, its JSON answer read as `T`; a failure says what failed, in words.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, String> {
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
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(js)?
        .dyn_into()
        .map_err(js)?;
    let text = JsFuture::from(response.text().map_err(js)?)
        .await
        .map_err(js)?
        .as_string()
        .ok_or("the answer is not text")?;
    if !response.ok() {
        // The gateway's errors are `{"error": "…"}`.
        let why = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or(text);
        return Err(format!("{path}: {} {why}", response.status()));
    }
    serde_json::from_str(&text).map_err(|e| format!("{path}: unreadable answer: {e}"))
}
