use leptos::prelude::*;

use crate::state::QueryRun;

/// A query that could not run says why, in place.
#[component]
pub fn ErrorBanner(run: RwSignal<QueryRun>) -> impl IntoView {
    let error = move || run.with(|r| r.error.clone());
    view! {
        <Show when=move || error().is_some()>
            <div class="error" role="alert" data-testid="query-error">
                {move || error().unwrap_or_default()}
            </div>
        </Show>
    }
}
