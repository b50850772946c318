use leptos::prelude::*;

use crate::components::{ErrorBanner, ProgressBar, QueryBar, Results};
use crate::state::{Phase, QueryRun};

#[component]
pub fn App() -> impl IntoView {
    let run = RwSignal::new(QueryRun::default());
    // Derived once per change and shared by every widget.
    let result = Memo::new(move |_| run.with(QueryRun::result));
    let phase = Memo::new(move |_| run.with(|r| r.phase));

    view! {
        <header class="top">
            <span class="brand">"sketchlake"</span>
            <QueryBar run=run/>
        </header>
        <main>
            <ProgressBar run=run/>
            <ErrorBanner run=run/>
            <Show when=move || phase.get() == Phase::Running>
                <div class="partial-badge">"partial results — still streaming"</div>
            </Show>
            <Results result=result/>
        </main>
    }
}
