use leptos::prelude::*;
use shared_sketch::{AggValue, ScanStats};

use super::groups::GroupsTable;
use super::rare_list::RareList;
use super::series::SeriesChart;
use super::stat_tile::{DistinctTile, NumberTile};
use super::top_list::TopList;
use super::values_list::{TimedTile, ValuesList};
use crate::format::{bytes, thousands};
use crate::state::answers;

/// A command's answer: one widget per aggregate of the query, in the order written.
#[component]
pub fn Results() -> impl IntoView {
    let result = answers().0[0];
    move || {
        result.get().map(|r| {
            let chart_label = r.aggs.first().map(|a| a.label.clone()).unwrap_or_default();
            let series = r
                .series
                .map(|s| view! { <SeriesChart label=chart_label.clone() series=s/> });
            let groups = r.groups.map(|g| view! { <GroupsTable groups=g/> });
            let widgets = r
                .aggs
                .into_iter()
                .map(|agg| agg_widget(agg.label, agg.value, agg.fields))
                .collect_view();
            view! {
                <Matched matched=r.matched stats=r.stats.clone()/>
                <FileProblems stats=r.stats/>
                <Limits limits=r.limits/>
                {series}
                {groups}
                <div class="widgets">{widgets}</div>
            }
        })
    }
}

/// The widget for one aggregate's value; `fields` (what the aggregate reads) make listed
/// values clickable filters.
pub fn agg_widget(label: String, value: AggValue, fields: Vec<String>) -> AnyView {
    match value {
        AggValue::Top {
            rows,
            maximum_error,
        } => view! { <TopList label=label rows=rows maximum_error=maximum_error fields=fields/> }
            .into_any(),
        AggValue::Rare(summary) => {
            let field = fields.into_iter().next();
            view! { <RareList label=label summary=summary field=field/> }.into_any()
        }
        AggValue::Distinct(estimate) => {
            view! { <DistinctTile label=label estimate=estimate/> }.into_any()
        }
        AggValue::Count { value } => view! {
            <NumberTile label=label value=Some(value as f64) relative_error=0.0 testid="count-value"/>
        }
        .into_any(),
        AggValue::Number { value } => view! {
            <NumberTile label=label value=value relative_error=0.0 testid="stat-value"/>
        }
        .into_any(),
        AggValue::Quantile {
            value,
            relative_error,
        } => view! {
            <NumberTile label=label value=value relative_error=relative_error testid="quantile-value"/>
        }
        .into_any(),
        AggValue::Values { values, complete } => {
            let field = fields.into_iter().next();
            view! { <ValuesList label=label values=values complete=complete field=field/> }
                .into_any()
        }
        AggValue::Timed { value, time } => {
            let field = fields.into_iter().next();
            view! { <TimedTile label=label value=value time=time field=field/> }.into_any()
        }
    }
}

/// How many events matched of how many read, and what the index saved.
#[component]
pub fn Matched(matched: u64, stats: ScanStats) -> impl IntoView {
    view! {
        <div class="matched">
            <span data-testid="matched">{thousands(matched)}</span>
            " events matched of "
            {thousands(stats.records)}
            " scanned"
            <IndexUse stats=stats/>
        </div>
    }
}

/// The limits the answer reached, in words: what it leaves out, and why.
#[component]
pub fn Limits(limits: Vec<String>) -> impl IntoView {
    (!limits.is_empty()).then(|| {
        view! {
            <ul class="warning" data-testid="limits">
                {limits.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
            </ul>
        }
    })
}

/// What the segments' indexes saved: bytes actually read, and pages ruled out unread.
#[component]
fn IndexUse(stats: ScanStats) -> impl IntoView {
    (stats.pages > 0).then(|| {
        view! {
            <span data-testid="index-use" data-pages=stats.pages data-pages-pruned=stats.pages_pruned
                data-bytes=stats.bytes data-bytes-read=stats.bytes_read>
                {format!(
                    " · read {} of {} · {} of {} pages ruled out by the index",
                    bytes(stats.bytes_read),
                    bytes(stats.bytes),
                    thousands(stats.pages_pruned),
                    thousands(stats.pages),
                )}
            </span>
        }
    })
}

/// Lines and files that could not be read: the answer excludes them, so say so.
#[component]
pub fn FileProblems(stats: ScanStats) -> impl IntoView {
    let shown = stats.errors.len() as u64;
    let more = stats.failed_files.saturating_sub(shown);
    (stats.failed_files > 0 || stats.malformed > 0).then(|| {
        view! {
            <div class="warning" data-testid="scan-warnings">
                {(stats.malformed > 0)
                    .then(|| format!("{} malformed lines skipped. ", thousands(stats.malformed)))}
                {(stats.failed_files > 0)
                    .then(|| format!("{} files could not be read to the end:", thousands(stats.failed_files)))}
                <ul>
                    {stats
                        .errors
                        .into_iter()
                        .map(|e| view! { <li><code>{e.file}</code>": "{e.message}</li> })
                        .collect_view()}
                    {(more > 0).then(|| view! { <li>{format!("… and {more} more")}</li> })}
                </ul>
            </div>
        }
    })
}
