//! sketchlake's browser UI. Partials stream in over WebSockets and are merged here, in
//! wasm, by the same `shared-sketch` code the workers used to build them.
//!
//! `views/` are the pages, built from `components/`; `server/` is all the page says to the
//! gateway; `state` holds what arrived; `navigate` shows a view; `view` and `dashboard` are
//! what a view and a dashboard are.

mod complete;
mod components;
mod dashboard;
mod format;
mod history;
mod navigate;
mod server;
mod state;
mod view;
mod views;

fn main() {
    console_error_panic_hook::set_once();
    let path = web_sys::window().and_then(|w| w.location().pathname().ok());
    match views::embed::widget_of_path() {
        Some(widget) => leptos::mount::mount_to_body(move || {
            leptos::view! { <views::embed::Embed widget=widget/> }
        }),
        None if path.as_deref() == Some("/detections") => {
            leptos::mount::mount_to_body(views::detections::Detections)
        }
        None => leptos::mount::mount_to_body(views::search::App),
    }
}
