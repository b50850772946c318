//! sketchlake's browser UI. Partials stream in over a WebSocket and are merged here, in
//! wasm, by the same `shared-sketch` code the workers used to build them.

mod app;
mod components;
mod format;
mod state;
mod stream;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
