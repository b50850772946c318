//! The search page: the query bar over the timeline, the dashboard for the lake's data or
//! a command's own answer, and the events.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use shared_sketch::Phase;
use wasm_bindgen::JsCast;

use super::dashboard::DashboardView;
use crate::components::{
    ErrorBanner, Hits, ProgressBar, QueryBar, Results, SignIn, TimePicker, Timeline,
};
use crate::dashboard;
use crate::navigate::run;
use crate::server;
use crate::state::Screen;
use crate::view::View;

#[component]
pub fn App() -> impl IntoView {
    let screen = Screen::provide(false);

    // The dashboard follows the data; the first view is the address bar's.
    screen.draft.set(View::from_url());
    leptos::task::spawn_local(async move {
        let kind = server::data_kind().await;
        screen.dashboard.set(dashboard::for_kind(kind));
        run(screen, View::from_url(), false);
    });
    // Back and Forward show the views they lead to.
    let popstate = window_event_listener(leptos::ev::popstate, move |_| {
        run(screen, View::from_url(), false);
    });
    // `/` focuses the query bar from anywhere; Esc cancels from anywhere.
    let keys = window_event_listener(leptos::ev::keydown, move |ev: KeyboardEvent| {
        let typing = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
        match ev.key().as_str() {
            "/" if !typing => {
                ev.prevent_default();
                if let Some(input) = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.query_selector("[data-testid=query-input]").ok().flatten())
                    .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
                {
                    let _ = input.focus();
                }
            }
            "Escape" if !typing => server::cancel(),
            _ => {}
        }
    });
    on_cleanup(move || {
        popstate.remove();
        keys.remove();
    });

    let command = screen.command;
    view! {
        <header class="top">
            <span class="brand">"sketchlake"</span>
            <nav class="pages">
                <a href="/detections" data-testid="nav-detections">"Detections"</a>
            </nav>
            <QueryBar/>
            <TimePicker/>
            <SignIn/>
        </header>
        <main>
            <ProgressBar/>
            <ErrorBanner/>
            <Show when=move || screen.phase() == Phase::Running>
                <div class="partial-badge" data-testid="partial-badge">"partial results — still streaming"</div>
            </Show>
            <Timeline/>
            {move || if command.get() {
                view! { <Results/> }.into_any()
            } else {
                view! { <DashboardView/> }.into_any()
            }}
            <Hits/>
        </main>
    }
}
