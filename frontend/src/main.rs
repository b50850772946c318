//! sketchlake's browser UI. Partials stream in over WebSockets and are merged here, in
//! wasm, by the same `shared-sketch` code the workers used to build them.

mod app;
mod components;
mod dashboard;
mod format;
mod history;
mod lake;
mod state;
mod stream;
mod view;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
