//! A dashboard: the panels for the lake's kind of data, over the shown search.

use leptos::prelude::*;

use crate::components::{FileProblems, Limits, Matched, agg_widget};
use crate::dashboard::Panel;
use crate::state::{answers, screen};

/// The dashboard for the lake's kind of data over the shown search: its panels fill in as
/// each query's partials merge.
#[component]
pub fn DashboardView() -> impl IntoView {
    let screen = screen();
    let main = answers().0[0];
    move || {
        let dashboard = screen.dashboard.get();
        let panels = dashboard
            .panels
            .iter()
            .map(|panel| view! { <PanelView panel=panel/> })
            .collect_view();
        view! {
            <div class="dashboard-head">
                <span class="dashboard-name" data-testid="dashboard-name">{dashboard.name}</span>
                {move || main.get().map(|r| view! {
                    <Matched matched=r.matched stats=r.stats.clone()/>
                    <FileProblems stats=r.stats/>
                    <Limits limits=r.limits/>
                })}
            </div>
            <div class="dashboard">{panels}</div>
        }
    }
}

/// One panel: the aggregates it names, found in its query's answer by their labels.
#[component]
fn PanelView(panel: &'static Panel) -> impl IntoView {
    let result = answers().0[panel.query];
    let multi = panel.aggs.len() > 1;
    let widgets = move || {
        result.get().map(|r| {
            panel
                .aggs
                .iter()
                .filter_map(|&label| {
                    let agg = r.aggs.iter().find(|a| a.label == label)?.clone();
                    let title = if multi {
                        agg.label
                    } else {
                        panel.title.to_string()
                    };
                    Some(agg_widget(title, agg.value, agg.fields))
                })
                .collect_view()
        })
    };
    view! {
        <div class="panel" class:multi=multi data-testid=panel.testid>
            {multi.then(|| view! { <h3 class="panel-title">{panel.title}</h3> })}
            <div class="panel-body">{widgets}</div>
        </div>
    }
}
