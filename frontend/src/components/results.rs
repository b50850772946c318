use leptos::prelude::*;
use shared_sketch::{AggValue, QueryResult, ScanStats};

use super::groups::GroupsTable;
use super::rare_list::RareList;
use super::series::SeriesChart;
use super::stat_tile::{DistinctTile, NumberTile};
use super::top_list::TopList;
use crate::format::{bytes, thousands};

/// One widget per aggregate of the query, in the order written.
#[component]
pub fn Results(result: Memo<Option<QueryResult>>) -> impl IntoView {
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
                .map(|agg| match agg.value {
                    AggValue::Top {
                        rows,
                        maximum_error,
                    } => view! { <TopList label=agg.label rows=rows maximum_error=maximum_error/> }
                        .into_any(),
                    AggValue::Rare(summary) => {
                        view! { <RareList label=agg.label summary=summary/> }.into_any()
                    }
                    AggValue::Distinct(estimate) => {
                        view! { <DistinctTile label=agg.label estimate=estimate/> }.into_any()
                    }
                    AggValue::Count { value } => view! {
                        <NumberTile label=agg.label value=Some(value as f64) relative_error=0.0 testid="count-value"/>
                    }
                    .into_any(),
                    AggValue::Number { value } => view! {
                        <NumberTile label=agg.label value=value relative_error=0.0 testid="stat-value"/>
                    }
                    .into_any(),
                    AggValue::Quantile { value, relative_error } => view! {
                        <NumberTile label=agg.label value=value relative_error=relative_error testid="quantile-value"/>
                    }
                    .into_any(),
                })
                .collect_view();
            view! {
                <div class="matched">
                    <span data-testid="matched">{thousands(r.matched)}</span>
                    " events matched of "
                    {thousands(r.stats.records)}
                    " scanned"
                    <IndexUse stats=r.stats.clone()/>
                </div>
                <FileProblems stats=r.stats/>
                {(!r.limits.is_empty()).then(|| view! {
                    <ul class="warning" data-testid="limits">
                        {r.limits.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                    </ul>
                })}
                {series}
                {groups}
                <div class="widgets">{widgets}</div>
            }
        })
    }
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
fn FileProblems(stats: ScanStats) -> impl IntoView {
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
