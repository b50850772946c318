use leptos::prelude::*;
use shared_sketch::result::RareSummary;
use shared_sketch::time::format_timestamp;

use super::value_link::ValueLink;
use crate::format::thousands;

/// The least frequent values, with exact counts and when each was first and last seen,
/// and how much of the data they stand for.
#[component]
pub fn RareList(label: String, summary: RareSummary, field: Option<String>) -> impl IntoView {
    let RareSummary {
        rows,
        sample_fraction,
        rare_total,
        rare_total_lower,
        rare_total_upper,
        confidence,
        threshold,
    } = summary;
    let note = if sample_fraction >= 1.0 {
        format!(
            "exact · {} values seen ≤ {threshold}×",
            thousands(rare_total as u64)
        )
    } else {
        format!(
            "sample of {:.1}% of values · ≈ {} seen ≤ {threshold}× ({:.0}%: {}–{})",
            sample_fraction * 100.0,
            thousands(rare_total.round() as u64),
            confidence * 100.0,
            thousands(rare_total_lower.round() as u64),
            thousands(rare_total_upper.round() as u64)
        )
    };
    let empty = rows.is_empty();
    let items = rows
        .into_iter()
        .map(|row| {
            let value = row.value.clone();
            let when = |t: Option<i64>| t.map(format_timestamp).unwrap_or_default();
            let ms = |t: Option<i64>| t.map(|t| t.to_string()).unwrap_or_default();
            view! {
                <tr
                    data-testid="rare-row"
                    data-value=row.value
                    data-count=row.count.to_string()
                    data-first=ms(row.first_seen)
                    data-last=ms(row.last_seen)
                >
                    <td><ValueLink field=field.clone() value=value/></td>
                    <td class="count">{thousands(row.count)}</td>
                    <td class="time" title="first seen">{when(row.first_seen)}</td>
                    <td class="time" title="last seen">{when(row.last_seen)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="widget rare-list">
            <h3>{label}<span class="accuracy" data-testid="rare-note">{note}</span></h3>
            {empty.then(|| view! { <p class="empty">"no values"</p> })}
            <table>
                <thead>
                    <tr><th>"value"</th><th class="count">"count"</th><th>"first seen"</th><th>"last seen"</th></tr>
                </thead>
                <tbody>{items}</tbody>
            </table>
        </section>
    }
}
