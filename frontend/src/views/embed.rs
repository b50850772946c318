//! `/embed/<widget>`: one widget alone, in a frame the loader script placed on another
//! site (docs/EMBEDDING.md). It runs the saved query its widget token names — the token and
//! the saved query's id arrive in the URL fragment, which is removed at once — and tells
//! the framing page when it started and how tall it is. Values are plain text here: a
//! widget token runs its saved query and nothing else, so there is nothing to filter to.

use leptos::prelude::*;
use shared_sketch::time::format_timestamp;
use shared_sketch::widget::Widget;
use shared_sketch::{AggValue, ClientMessage, ErrorKind, Phase};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::components::{Hits, Timeline, agg_widget};
use crate::server;
use crate::state::{Screen, answers, failure, running};

/// What the page was opened with.
struct Opened {
    widget: String,
    token: String,
    saved: String,
    /// The framing page's origin, as the loader saw it; messages go only there.
    origin: String,
}

/// `Some(widget)` when the page is an embed page.
pub fn widget_of_path() -> Option<String> {
    let path = web_sys::window()?.location().pathname().ok()?;
    path.strip_prefix("/embed/")
        .filter(|w| !w.is_empty() && !w.contains('/'))
        .map(str::to_string)
}

fn opened(widget: String) -> Result<Opened, String> {
    let window = web_sys::window().ok_or("no window")?;
    let location = window.location();
    let params = |text: String| {
        web_sys::UrlSearchParams::new_with_str(&text).map_err(|_| "unreadable address".to_string())
    };
    let fragment = params(
        location
            .hash()
            .unwrap_or_default()
            .trim_start_matches('#')
            .into(),
    )?;
    let query = params(location.search().unwrap_or_default())?;
    // The token is not left in the address bar or the history.
    if let Ok(history) = window.history() {
        let here = format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        );
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&here));
    }
    let token = fragment.get("token").filter(|t| !t.is_empty());
    let saved = fragment.get("saved").filter(|t| !t.is_empty());
    match (token, saved) {
        (Some(token), Some(saved)) => Ok(Opened {
            widget,
            token,
            saved,
            origin: query.get("origin").unwrap_or_default(),
        }),
        _ => Err(
            "this widget was opened without its token: embed it with the loader \
                  (docs/EMBEDDING.md)"
                .into(),
        ),
    }
}

/// Posts `{type, height}` to the framing page, if it is of `origin`.
fn tell(origin: &str, kind: &str, height: Option<f64>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(Some(parent)) = window.parent() else {
        return;
    };
    if origin.is_empty() {
        return;
    }
    let message = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&message, &"type".into(), &kind.into());
    if let Some(height) = height {
        let _ = js_sys::Reflect::set(&message, &"height".into(), &height.into());
    }
    let _ = parent.post_message(&message, origin);
}

/// The widget's own height (the document's would never shrink below the frame's).
fn page_height() -> Option<f64> {
    let element = web_sys::window()?
        .document()?
        .query_selector("main.embed")
        .ok()??;
    Some(f64::from(element.scroll_height()))
}

#[component]
pub fn Embed(widget: String) -> impl IntoView {
    let screen = Screen::provide(true);
    let run = screen.runs[0];

    let opened = opened(widget.clone());
    let origin = opened
        .as_ref()
        .map(|o| o.origin.clone())
        .unwrap_or_default();
    match &opened {
        Ok(o) => {
            tell(&o.origin, "sketchlake:ready", None);
            screen.used.set(1);
            server::start_one(
                ClientMessage::Widget {
                    token: o.token.clone(),
                    saved: o.saved.clone(),
                    widget: o.widget.clone(),
                    origin: o.origin.clone(),
                },
                run,
            );
        }
        Err(message) => run.update(|r| {
            r.fail(ErrorKind::BadQuery, message.clone());
        }),
    }
    // The framing page sizes the frame to the content, whenever its size changes (a
    // redraw of the run, or a list drawn later from its own state).
    let main = NodeRef::<leptos::html::Main>::new();
    Effect::new(move |_| {
        let Some(element) = main.get() else {
            return;
        };
        let origin = origin.clone();
        let resized =
            Closure::<dyn FnMut()>::new(move || tell(&origin, "sketchlake:size", page_height()));
        if let Ok(observer) = web_sys::ResizeObserver::new(resized.as_ref().unchecked_ref()) {
            observer.observe(&element);
        }
        // It observes for the page's lifetime.
        resized.forget();
    });

    let result = answers().0[0];
    let body = move || match Widget::named(&widget) {
        Some(Widget::Histogram) => view! { <Timeline/> }.into_any(),
        Some(Widget::Hits) => view! { <Hits/> }.into_any(),
        kind => result
            .get()
            .map(|r| {
                r.aggs
                    .into_iter()
                    .filter(|agg| kind.is_some_and(|kind| shows(kind, &agg.value)))
                    .map(|agg| agg_widget(agg.label, agg.value, agg.fields))
                    .collect_view()
            })
            .into_any(),
    };
    // The time the answer covers: the saved query's range, narrowed to the token's.
    let range = move || {
        let bounds = run.with(|r| r.scope.as_ref().map(|s| s.query.time_range_if_absolute()));
        let at = |t: Option<i64>, open: &str| t.map_or(open.to_string(), format_timestamp);
        match bounds {
            Some((None, None)) => "sketchlake · all time".to_string(),
            Some((start, end)) => format!("sketchlake · {} → {}", at(start, "…"), at(end, "now")),
            None => "sketchlake".to_string(),
        }
    };
    let problem = move || run.with(|r| (r.phase == Phase::Failed).then(|| failure(r)).flatten());
    view! {
        <main class="embed" data-testid="embed" node_ref=main>
            {move || problem().map(|message| view! {
                <div class="error" role="alert" data-testid="embed-problem">{message}</div>
            })}
            <Show when=move || run.with(|r| running(r.phase))>
                <div class="partial-badge" data-testid="partial-badge">"partial results — still streaming"</div>
            </Show>
            <div class="embed-body" data-testid="embed-body">{body}</div>
            <div class="embed-foot" data-testid="embed-range">{range}</div>
        </main>
    }
}

/// Whether `widget` shows an aggregate with this value.
fn shows(widget: Widget, value: &AggValue) -> bool {
    matches!(
        (widget, value),
        (Widget::TopTalkers, AggValue::Top { .. })
            | (Widget::RareIps, AggValue::Rare(_))
            | (Widget::Distinct, AggValue::Distinct(_))
            | (Widget::Percentiles, AggValue::Quantile { .. })
    )
}
