use leptos::ev::KeyboardEvent;
use leptos::prelude::*;

use crate::state::{Phase, QueryRun};
use crate::stream;

const DEFAULT_QUERY: &str = "action:REJECT | top 10 src_ip";

/// The query input: Enter runs, Esc cancels.
#[component]
pub fn QueryBar(run: RwSignal<QueryRun>) -> impl IntoView {
    let text = RwSignal::new(DEFAULT_QUERY.to_string());
    let running = move || run.with(|r| r.phase == Phase::Running);
    let submit = move || stream::start(text.get_untracked(), run);
    let on_key = move |ev: KeyboardEvent| match ev.key().as_str() {
        "Enter" => submit(),
        "Escape" => stream::cancel(),
        _ => {}
    };

    view! {
        <div class="query-bar">
            <input
                data-testid="query-input"
                type="text"
                spellcheck="false"
                autocomplete="off"
                aria-label="query"
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
                on:keydown=on_key
            />
            <button data-testid="query-submit" on:click=move |_| submit()>"Run"</button>
            <Show when=running>
                <button class="secondary" data-testid="query-cancel" on:click=move |_| stream::cancel()>
                    "Cancel"
                </button>
            </Show>
        </div>
    }
}
