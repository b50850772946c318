use leptos::prelude::*;

use super::results::{FileProblems, Limits, Matched, agg_widget};
use crate::app::Answers;
use crate::dashboard::Panel;
use crate::state::screen;

/// The dashboard for the lake's kind of data over the shown search: its panels fill in as
/// each query's partials merge.
#[component]
pub fn DashboardView() -> impl IntoView {
    let screen = screen();
    let Answers(answers) = expect_context::<Answers>();
    let main = answers[0];
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

#[component]
fn PanelView(panel: &'static Panel) -> impl IntoView {
    let screen = screen();
    let Answers(answers) = expect_context::<Answers>();
    let result = answers[panel.query];
    let run = screen.runs[panel.query];
    let multi = panel.aggs.len() > 1;
    let widgets = move || {
        let aggs = run.with(|r| r.plan.as_ref().map(|p| p.query.aggs()).unwrap_or_default());
        result.get().map(|r| {
            panel
                .aggs
                .iter()
                .filter_map(|&i| {
                    let value = r.aggs.get(i)?;
                    let fields = aggs.get(i).map(|a| a.fields().to_vec()).unwrap_or_default();
                    let label = if multi {
                        value.label.clone()
                    } else {
                        panel.title.to_string()
                    };
                    Some(agg_widget(label, value.value.clone(), fields))
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
