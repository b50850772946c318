use leptos::prelude::*;
use shared_sketch::TopRow;

use super::value_link::ValueLink;
use crate::format::thousands;

/// Heavy hitters as a bar list. Counts are exact while the sketch says so; otherwise each
/// shows its deterministic error bound.
#[component]
pub fn TopList(
    label: String,
    rows: Vec<TopRow>,
    maximum_error: u64,
    /// The fields listed (several for combinations such as source → destination): their
    /// values become filters.
    fields: Vec<String>,
) -> impl IntoView {
    let largest = rows.first().map_or(1, |r| r.estimate.max(1));
    let accuracy = if maximum_error == 0 {
        "exact counts".to_string()
    } else {
        format!("counts ± up to {}", thousands(maximum_error))
    };
    let empty = rows.is_empty();
    let items = rows
        .into_iter()
        .map(|row| {
            let width = format!("{:.1}%", 100.0 * row.estimate as f64 / largest as f64);
            let bound =
                (row.upper > row.lower).then(|| format!("±{}", thousands(row.upper - row.lower)));
            let title = format!(
                "{}: true count between {} and {}",
                row.value,
                thousands(row.lower),
                thousands(row.upper)
            );
            // Each part of a combination filters on its own field.
            let parts = if fields.len() == row.values.len() {
                fields.iter().cloned().zip(row.values.clone()).collect()
            } else {
                vec![(String::new(), row.value.clone())]
            };
            let links = parts
                .into_iter()
                .enumerate()
                .map(|(i, (field, value))| {
                    let field = (!field.is_empty()).then_some(field);
                    view! {
                        {(i > 0).then_some(view! { <span class="arrow">"→"</span> })}
                        <ValueLink field=field value=value/>
                    }
                })
                .collect_view();
            view! {
                <li
                    data-testid="topk-row"
                    data-value=row.value
                    data-estimate=row.estimate.to_string()
                    data-lower=row.lower.to_string()
                    data-upper=row.upper.to_string()
                    title=title
                >
                    <span class="values">{links}</span>
                    <span class="track"><span class="fill" style:width=width></span></span>
                    <span class="count">{thousands(row.estimate)}</span>
                    <span class="bound">{bound}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="widget top-list">
            <h3>{label}<span class="accuracy">{accuracy}</span></h3>
            {empty.then(|| view! { <p class="empty">"no values"</p> })}
            <ol>{items}</ol>
        </section>
    }
}
