use leptos::prelude::*;

use crate::state::{failure, screen};

/// Why the view on screen is not (wholly) answered, in place: a query that does not parse,
/// or a query the server could not run. Each message once.
#[component]
pub fn ErrorBanner() -> impl IntoView {
    let screen = screen();
    let errors = move || {
        let mut errors: Vec<String> = screen.problem.get().into_iter().collect();
        for run in screen.active() {
            if let Some(e) = run.with(failure)
                && !errors.contains(&e)
            {
                errors.push(e);
            }
        }
        errors
    };
    view! {
        <Show when=move || !errors().is_empty()>
            <div class="error" role="alert" data-testid="query-error">
                {move || errors().join("\n")}
            </div>
        </Show>
    }
}
