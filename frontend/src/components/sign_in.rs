use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use shared_sketch::ErrorKind;

use crate::server::key;
use crate::state::screen;

/// Asks for an API key when the gateway refused a query for want of one, and offers to
/// sign out when one is kept. Either reloads the page, which then runs with the new key.
#[component]
pub fn SignIn() -> impl IntoView {
    let screen = screen();
    let refused = move || {
        screen.active().iter().any(|run| {
            run.with(|r| {
                r.error
                    .as_ref()
                    .is_some_and(|e| e.kind == ErrorKind::Forbidden)
            })
        })
    };
    let draft = RwSignal::new(String::new());
    let reload = || {
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
        }
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        key::store(&draft.get_untracked());
        reload();
    };
    let signed_in = key::stored().is_some();
    view! {
        <Show when=refused>
            <form class="sign-in" data-testid="sign-in" on:submit=submit>
                <label for="api-key">"This sketchlake needs an API key"</label>
                <input id="api-key" type="password" autocomplete="off" placeholder="slk_…"
                    data-testid="key-input"
                    prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev))/>
                <button type="submit" data-testid="sign-in-button">"Sign in"</button>
            </form>
        </Show>
        {signed_in.then(|| view! {
            <button class="link sign-out" data-testid="sign-out" on:click=move |_| {
                key::forget();
                reload();
            }>"sign out"</button>
        })}
    }
}
