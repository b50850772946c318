use leptos::prelude::*;
use shared_sketch::time::format_timestamp;

use super::value_link::ValueLink;

/// `values(f)`: the distinct values, each a filter; says when only the first are listed.
#[component]
pub fn ValuesList(
    label: String,
    values: Vec<String>,
    complete: bool,
    field: Option<String>,
) -> impl IntoView {
    let accuracy = if complete {
        "every value".to_string()
    } else {
        format!("the first {} in text order; more exist", values.len())
    };
    let empty = values.is_empty();
    let items = values
        .into_iter()
        .map(|value| {
            let data = value.clone();
            view! {
                <li data-testid="values-row" data-value=data>
                    <ValueLink field=field.clone() value=value/>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="widget top-list" data-testid="values" data-complete=complete.to_string()>
            <h3>{label}<span class="accuracy">{accuracy}</span></h3>
            {empty.then(|| view! { <p class="empty">"no values"</p> })}
            <ul>{items}</ul>
        </section>
    }
}

/// `earliest(f)`, `latest(f)`: the value, a filter, and the event time it was seen at.
#[component]
pub fn TimedTile(
    label: String,
    value: Option<String>,
    time: Option<i64>,
    field: Option<String>,
) -> impl IntoView {
    let at = time.map_or_else(|| "no timed event had it".to_string(), format_timestamp);
    let data = value.clone().unwrap_or_default();
    view! {
        <section class="widget tile">
            <h3>{label}</h3>
            <div class="big" data-testid="timed-value" data-value=data>
                {match value {
                    Some(value) => view! { <ValueLink field=field value=value/> }.into_any(),
                    None => "—".into_any(),
                }}
            </div>
            <div class="bound">{at}</div>
        </section>
    }
}
