use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use shared_sketch::QueryResult;
use wasm_bindgen::JsCast;

use crate::components::{
    DashboardView, ErrorBanner, Hits, ProgressBar, QueryBar, Results, SignIn, TimePicker, Timeline,
};
use crate::dashboard::{self, MAX_QUERIES};
use crate::state::{Phase, Screen};
use crate::view::{Plan, View};
use crate::{history, lake, stream};

/// Each query slot's merged answer, derived once per change and shared by every widget.
#[derive(Clone, Copy)]
pub struct Answers(pub [Memo<Option<QueryResult>>; MAX_QUERIES]);

#[component]
pub fn App() -> impl IntoView {
    let screen = Screen::new();
    provide_context(screen);
    provide_context(Answers(std::array::from_fn(|i| {
        let run = screen.runs[i];
        Memo::new(move |_| run.with(|r| r.result()))
    })));

    // The dashboard follows the data; the first view is the address bar's.
    screen.draft.set(View::from_url());
    leptos::task::spawn_local(async move {
        let kind = lake::kind().await;
        screen.dashboard.set(dashboard::for_kind(&kind));
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
            "Escape" if !typing => stream::cancel(),
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

/// Shows `view`: runs its queries (replacing any still running) and, when `push`, records
/// it in the address bar and the history. A query that does not parse is shown in place
/// and nothing runs.
pub fn run(screen: Screen, view: View, push: bool) {
    // An embedded widget runs its saved query only: zooming or filtering has nowhere to go.
    if screen.embedded {
        return;
    }
    screen.draft.set(view.clone());
    let plan = match view.plan(screen.dashboard.get_untracked()) {
        Ok(plan) => plan,
        Err(message) => {
            stream::close_all();
            screen.problem.set(Some(message));
            screen.used.set(0);
            return;
        }
    };
    screen.problem.set(None);
    let queries = match plan {
        Plan::Command(query) => {
            screen.command.set(true);
            vec![query]
        }
        Plan::Dashboard(queries) => {
            screen.command.set(false);
            queries
        }
    };
    screen.used.set(queries.len());
    history::remember(&view.q);
    if push {
        view.push_to_url();
    }
    screen.shown.set(view);
    stream::start_all(
        queries
            .iter()
            .zip(screen.runs)
            .map(|(q, run)| (q.to_string(), q.hits, run))
            .collect(),
    );
}
