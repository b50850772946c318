use leptos::prelude::*;

use crate::navigate::run;
use crate::state::screen;
use crate::view::{PRESETS, TimeRange};

/// The time range: presets, or absolute bounds (ISO times, `-2d`, `now`) typed or brushed
/// on the histogram. A range written in the query itself (`earliest=`) wins over this.
#[component]
pub fn TimePicker() -> impl IntoView {
    let screen = screen();
    let draft = screen.draft;
    let custom = RwSignal::new(false);
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    // The inputs show the range on screen whenever it changes (a brush, Back).
    Effect::new(move |_| {
        let range = draft.with(|v| v.range);
        from.set(range.earliest.map(|b| b.to_string()).unwrap_or_default());
        to.set(range.latest.map(|b| b.to_string()).unwrap_or_default());
        custom.set(range.preset().is_none());
    });
    let selected = move || {
        draft
            .with(|v| v.range.preset())
            .map_or_else(|| "custom".to_string(), |i| i.to_string())
    };
    let choose = move |value: String| match value.parse::<usize>() {
        Ok(i) => {
            let range = TimeRange::parse(PRESETS[i].0, None).unwrap_or_default();
            custom.set(false);
            run(screen, draft.with_untracked(|v| v.with_range(range)), true);
        }
        Err(_) => custom.set(true),
    };
    let apply =
        move || match TimeRange::parse(Some(&from.get_untracked()), Some(&to.get_untracked())) {
            Ok(range) => {
                error.set(None);
                run(screen, draft.with_untracked(|v| v.with_range(range)), true);
            }
            Err(message) => error.set(Some(message)),
        };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" {
            apply();
        }
    };
    view! {
        <div class="time-picker" data-testid="time-picker">
            <select data-testid="time-preset" aria-label="time range" prop:value=selected
                on:change=move |ev| choose(event_target_value(&ev))>
                {PRESETS.iter().enumerate().map(|(i, (_, label))| view! {
                    <option value=i.to_string()>{*label}</option>
                }).collect_view()}
                <option value="custom">"Custom…"</option>
            </select>
            <Show when=move || custom.get()>
                <input data-testid="time-from" class="bound-input" placeholder="earliest: 2026-11-17T00:00:00Z or -2d"
                    prop:value=move || from.get() on:input=move |ev| from.set(event_target_value(&ev)) on:keydown=on_key/>
                <span class="muted">"→"</span>
                <input data-testid="time-to" class="bound-input" placeholder="latest: now"
                    prop:value=move || to.get() on:input=move |ev| to.set(event_target_value(&ev)) on:keydown=on_key/>
                <button class="secondary" data-testid="time-apply" on:click=move |_| apply()>"Apply"</button>
            </Show>
            <Show when=move || error.with(Option::is_some)>
                <span class="syntax" data-testid="time-error">{move || error.get().unwrap_or_default()}</span>
            </Show>
        </div>
    }
}
