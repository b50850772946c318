//! sketchlake's browser UI. Partials stream in over WebSockets and are merged here, in
//! wasm, by the same `shared-sketch` code the workers used to build them.

mod app;
mod components;
mod dashboard;
mod embed;
mod format;
mod history;
mod key;
mod lake;
mod state;
mod stream;
mod view;

fn main() {
    console_error_panic_hook::set_once();
    match embed::widget_of_path() {
        Some(widget) => leptos::mount::mount_to_body(move || {
            leptos::view! { <embed::Embed widget=widget/> }
        }),
        None => leptos::mount::mount_to_body(app::App),
    }
}
