use leptos::prelude::*;
use shared_sketch::Hit;
use shared_sketch::time::format_timestamp;
use wasm_bindgen::JsValue;

use crate::app::Answers;
use crate::format::thousands;

/// The newest matching events, newest first, one line each; click one to read it whole
/// (JSON pretty-printed) beside the list.
#[component]
pub fn Hits() -> impl IntoView {
    let Answers(answers) = expect_context::<Answers>();
    let result = answers[0];
    let hits = Memo::new(move |_| result.with(|r| r.as_ref().map(|r| (r.hits.clone(), r.matched))));
    // The chosen event by where it was read (file, line): the list changes as partials
    // merge, and the selection follows the event while it is still listed.
    let selected = RwSignal::new(None::<(String, u64)>);
    let chosen = move || {
        selected.with(|key| {
            let (file, line) = key.as_ref()?;
            hits.with(|h| {
                h.as_ref()?
                    .0
                    .iter()
                    .find(|hit| hit.line == *line && hit.file == *file)
                    .cloned()
            })
        })
    };
    move || {
        hits.get().filter(|(hits, _)| !hits.is_empty()).map(|(hits, matched)| {
            let shown = hits.len();
            let rows = hits
                .into_iter()
                .map(|hit| {
                    let time = hit.time.map(format_timestamp).unwrap_or_default();
                    let key = (hit.file.clone(), hit.line);
                    let this = key.clone();
                    view! {
                        <tr data-testid="hit-row" data-file=hit.file.clone() data-line=hit.line.to_string()
                            data-time=hit.time.map(|t| t.to_string()).unwrap_or_default()
                            class:selected=move || selected.with(|s| s.as_ref() == Some(&this))
                            on:click=move |_| selected.set(Some(key.clone()))>
                            <td class="time">{time}</td>
                            <td class="text">{hit.text}</td>
                        </tr>
                    }
                })
                .collect_view();
            view! {
                <section class="widget hits" data-testid="hits">
                    <h3>
                        <span>"Events"</span>
                        <span class="bound">{format!("newest {} of {} · click one to read it", thousands(shown as u64), thousands(matched))}</span>
                    </h3>
                    <div class="hits-body">
                        <div class="hits-list">
                            <table><tbody>{rows}</tbody></table>
                        </div>
                        {move || chosen().map(|hit| view! { <Detail hit=hit/> })}
                    </div>
                </section>
            }
        })
    }
}

/// One event whole: where it came from, and its text (JSON indented).
#[component]
fn Detail(hit: Hit) -> impl IntoView {
    let text = pretty_json(&hit.text).unwrap_or_else(|| hit.text.clone());
    view! {
        <div class="hit-detail" data-testid="hit-detail">
            <p class="bound">
                <code>{format!("{}:{}", hit.file, hit.line)}</code>
                {hit.time.map(|t| format!(" · {}", format_timestamp(t)))}
                {hit.truncated.then_some(" · cut at 4 KB")}
            </p>
            <pre data-testid="hit-json">{text}</pre>
        </div>
    }
}

/// `text` indented by the browser's own JSON, when it is JSON.
fn pretty_json(text: &str) -> Option<String> {
    let value = js_sys::JSON::parse(text).ok()?;
    if !value.is_object() {
        return None;
    }
    js_sys::JSON::stringify_with_replacer_and_space(&value, &JsValue::NULL, &JsValue::from(2))
        .ok()
        .map(String::from)
}
