use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use shared_sketch::{Phase, parse};

use crate::complete::completions;
use crate::history;
use crate::navigate::run;
use crate::server;
use crate::state::screen;

/// The query input. The parser runs here, in wasm, as the user types: a query that does
/// not parse says where and why before it is sent. Enter runs, Esc cancels; command,
/// function and aggregate names, then past queries, are offered as suggestions.
#[component]
pub fn QueryBar() -> impl IntoView {
    let screen = screen();
    let draft = screen.draft;
    let text = move || draft.with(|v| v.q.clone());
    let problem = Memo::new(move |_| draft.with(|v| parse(&v.q).err().map(|e| e.to_string())));
    let running = move || screen.phase() == Phase::Running;
    let submit = move || run(screen, draft.get_untracked(), true);
    let on_key = move |ev: KeyboardEvent| match ev.key().as_str() {
        "Enter" => submit(),
        "Escape" => server::cancel(),
        _ => {}
    };
    // The word being typed finished (a command, function or aggregate name), then past
    // queries: refreshed as the user types, and when a view is shown, which is when a
    // query is remembered.
    let suggestions = move || {
        screen.shown.track();
        draft
            .with(|v| completions(&v.q))
            .into_iter()
            .chain(history::recent())
            .map(|q| view! { <option data-testid="query-suggestion" value=q></option> })
            .collect_view()
    };

    view! {
        <div class="query-bar">
            <div class="query-field">
                <input
                    data-testid="query-input"
                    type="text"
                    list="query-history"
                    spellcheck="false"
                    autocomplete="off"
                    aria-label="query"
                    placeholder="search, e.g. action:REJECT dst_port:22 — or a command: | top 10 src_ip   (/ to focus)"
                    class:invalid=move || problem.with(Option::is_some)
                    prop:value=text
                    on:input=move |ev| draft.update(|v| v.q = event_target_value(&ev))
                    on:keydown=on_key
                />
                <datalist id="query-history">{suggestions}</datalist>
                <Show when=move || problem.with(Option::is_some)>
                    <div class="syntax" data-testid="query-syntax">{move || problem.get().unwrap_or_default()}</div>
                </Show>
            </div>
            <button data-testid="query-submit" on:click=move |_| submit()>"Run"</button>
            <Show when=running>
                <button class="secondary" data-testid="query-cancel" on:click=move |_| server::cancel()>
                    "Cancel"
                </button>
            </Show>
        </div>
    }
}
