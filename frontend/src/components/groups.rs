use leptos::prelude::*;
use shared_sketch::{AggValue, GroupRow, GroupsResult};

use crate::format::{number, thousands};

/// `by`: a row per group, its count and each aggregate's value (± its error where it has
/// one); "other" last when the groups were sampled.
#[component]
pub fn GroupsTable(groups: GroupsResult) -> impl IntoView {
    let labels: Vec<String> = groups
        .rows
        .first()
        .or(groups.other.as_ref())
        .map(|r| r.aggs.iter().map(|a| a.label.clone()).collect())
        .unwrap_or_default();
    let width = groups.by.len();
    let note = (!groups.complete).then_some(
        "More groups than shown: these are a consistent sample of them (each exact); \
         the rest are counted under “other”.",
    );
    let row = move |r: GroupRow, other: bool| {
        let (testid, key_text) = if other {
            ("group-other", String::new())
        } else {
            ("group-row", r.key.join(" "))
        };
        let key = if other {
            vec![view! { <td class="other" colspan=width>"other"</td> }.into_any()]
        } else {
            r.key
                .into_iter()
                .map(|k| view! { <td><code>{k}</code></td> }.into_any())
                .collect()
        };
        view! {
            <tr data-testid=testid data-key=key_text data-matched=r.matched>
                {key}
                <td class="count">{thousands(r.matched)}</td>
                {r.aggs.into_iter().map(|a| view! { <td class="count">{cell(&a.value)}</td> }).collect_view()}
            </tr>
        }
    };
    view! {
        <div class="widget groups" data-testid="groups">
            <table>
                <thead>
                    <tr>
                        {groups.by.iter().map(|b| view! { <th>{b.clone()}</th> }).collect_view()}
                        <th class="count">"events"</th>
                        {labels.into_iter().map(|l| view! { <th class="count">{l}</th> }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {groups.rows.into_iter().map(|r| row(r, false)).collect_view()}
                    {groups.other.map(|r| row(r, true))}
                </tbody>
            </table>
            {note.map(|n| view! { <p class="bound">{n}</p> })}
        </div>
    }
}

/// One aggregate's value as a table cell.
fn cell(value: &AggValue) -> String {
    match value {
        AggValue::Distinct(d) if !d.exact => format!(
            "{} (±{})",
            number(d.estimate.round()),
            number(((d.upper - d.lower) / 2.0).round())
        ),
        AggValue::Quantile {
            value: Some(v),
            relative_error,
        } => format!("{} (±{:.0}%)", number(*v), relative_error * 100.0),
        AggValue::Top { rows, .. } => rows
            .iter()
            .take(3)
            .map(|r| format!("{} ({})", r.value, thousands(r.estimate)))
            .collect::<Vec<_>>()
            .join(", "),
        AggValue::Rare(s) => s
            .rows
            .iter()
            .take(3)
            .map(|r| format!("{} ({})", r.value, r.count))
            .collect::<Vec<_>>()
            .join(", "),
        AggValue::Values { values, complete } => {
            let more = if *complete { "" } else { ", …" };
            format!("{}{more}", values.join(", "))
        }
        AggValue::Timed {
            value: Some(value), ..
        } => value.clone(),
        other => other.number().map_or_else(|| "—".to_string(), number),
    }
}
