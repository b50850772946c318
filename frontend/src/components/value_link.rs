use leptos::ev::MouseEvent;
use leptos::prelude::*;

use crate::navigate::run;
use crate::state::screen;

/// A value from the answer, as an analyst uses it: click to add `field:value` to the
/// search (Alt-click: `NOT field:value`), or ↗ to pivot to a new search for it alone.
/// Without a field (an aggregate of no field) it is plain text.
#[component]
pub fn ValueLink(field: Option<String>, value: String) -> impl IntoView {
    let screen = screen();
    let Some(field) = field.filter(|_| !screen.embedded) else {
        return view! { <span class="value">{value}</span> }.into_any();
    };
    let (f, v) = (field.clone(), value.clone());
    let filter = move |ev: MouseEvent| {
        let view = screen
            .shown
            .with_untracked(|s| s.with_filter(&f, &v, ev.alt_key()));
        run(screen, view, true);
    };
    let (f, v) = (field.clone(), value.clone());
    let pivot = move |_| {
        let view = screen.shown.with_untracked(|s| s.pivot(&f, &v));
        run(screen, view, true);
    };
    let title = format!("add {field}:{value} to the search (Alt: exclude it)");
    view! {
        <span class="value">
            <button class="link" data-testid="value-filter" title=title on:click=filter>{value.clone()}</button>
            <button class="link pivot" data-testid="value-pivot" title=format!("new search: {field}:{value}") on:click=pivot>"↗"</button>
        </span>
    }
    .into_any()
}
