//! The Detections page (`/detections`): the rules (state, last run, alerts over the last
//! day), and the alerts newest first, coloured by severity, read again every few seconds so
//! new ones arrive by themselves. An alert opens to its sample events and a link to the
//! search of its query, narrowed to its group, over its window.

use std::time::Duration;

use leptos::prelude::*;
use shared_sketch::alert::{Alert, RuleInfo, RuleList};
use shared_sketch::time::format_timestamp;
use web_sys::UrlSearchParams;

use crate::format::plural;
use crate::server::api::get_json;

/// How often the page asks again.
const REFRESH: Duration = Duration::from_secs(3);

#[component]
pub fn Detections() -> impl IntoView {
    let rules = RwSignal::new(None::<Result<RuleList, String>>);
    let alerts = RwSignal::new(None::<Result<Vec<Alert>, String>>);
    let selected = RwSignal::new(None::<String>);
    let refresh = move || {
        leptos::task::spawn_local(async move {
            rules.set(Some(get_json("/api/v1/rules").await));
            alerts.set(Some(get_json("/api/v1/alerts?limit=500").await));
        });
    };
    refresh();
    if let Ok(interval) = set_interval_with_handle(refresh, REFRESH) {
        on_cleanup(move || interval.clear());
    }

    let rules_view = move || match rules.get() {
        None => view! { <p class="muted">"Loading rules…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" data-testid="rules-error">{e}</p> }.into_any(),
        Some(Ok(list)) => view! {
            <table class="rules" data-testid="rules">
                <thead><tr>
                    <th>"Rule"</th><th>"State"</th><th>"Severity"</th><th>"Window"</th>
                    <th>"Last run"</th><th>"Alerts, last 24 h"</th>
                </tr></thead>
                <tbody>{list.rules.into_iter().map(rule_row).collect_view()}</tbody>
            </table>
            {list.refused.into_iter().map(|why| view! {
                <p class="error" data-testid="rule-refused">"Refused: " {why}</p>
            }).collect_view()}
        }
        .into_any(),
    };

    let alerts_view = move || match alerts.get() {
        None => view! { <p class="muted">"Loading alerts…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" data-testid="alerts-error">{e}</p> }.into_any(),
        Some(Ok(list)) if list.is_empty() => {
            view! { <p class="muted" data-testid="no-alerts">"No alerts."</p> }.into_any()
        }
        Some(Ok(list)) => view! {
            <ul class="alerts" data-testid="alerts">
                {list.into_iter().map(|alert| alert_row(alert, selected)).collect_view()}
            </ul>
        }
        .into_any(),
    };

    let detail = move || {
        let id = selected.get()?;
        let alert = alerts.with(|a| {
            a.as_ref()?
                .as_ref()
                .ok()?
                .iter()
                .find(|a| a.id == id)
                .cloned()
        })?;
        Some(alert_detail(alert))
    };

    view! {
        <header class="top">
            <span class="brand">"sketchlake"</span>
            <nav class="pages">
                <a href="/" data-testid="nav-search">"Search"</a>
                <a href="/detections" class="here" data-testid="nav-detections">"Detections"</a>
            </nav>
        </header>
        <main class="detections">
            <section><h2>"Rules"</h2>{rules_view}</section>
            <section class="alert-pane">
                <div><h2>"Alerts"</h2>{alerts_view}</div>
                {detail}
            </section>
        </main>
    }
}

fn rule_row(rule: RuleInfo) -> impl IntoView {
    let last_run = rule.last_run_ms.map_or_else(|| "never".to_string(), ago);
    let total: u32 = rule.alerts_24h.iter().sum();
    view! {
        <tr data-testid="rule-row" data-rule=rule.id.clone() data-state=rule.state.clone()>
            <td>
                <div class="rule-name">{rule.name.clone()}</div>
                <code class="muted">{rule.id.clone()}</code>
                {rule.kept.then(|| view! {
                    <span class="badge warn" title="its file no longer reads">"last good version"</span>
                })}
            </td>
            <td><span class=format!("badge state-{}", rule.state)>{rule.state.clone()}</span></td>
            <td><span class=format!("sev sev-{}", rule.severity)>{rule.severity.clone()}</span></td>
            <td>{span(rule.window)} " every " {span(rule.every)}</td>
            <td data-testid="rule-last-run">{last_run}</td>
            <td title=format!("{total} alerts in the last 24 hours")>
                {sparkline(&rule.alerts_24h)} " " {total}
            </td>
        </tr>
    }
}

fn alert_row(alert: Alert, selected: RwSignal<Option<String>>) -> impl IntoView {
    let id = alert.id.clone();
    let chosen = {
        let id = id.clone();
        move || selected.get().as_deref() == Some(id.as_str())
    };
    view! {
        <li class=format!("alert alert-{}", alert.severity) class:chosen=chosen
            data-testid="alert-row" data-rule=alert.rule.clone()
            data-group=alert.group.join(",") data-window-start=alert.window.0
            data-window-end=alert.window.1 data-severity=alert.severity.clone()
            on:click=move |_| selected.set(Some(id.clone()))>
            <span class=format!("sev sev-{}", alert.severity)>{alert.severity.clone()}</span>
            <span class="alert-name">{alert.name.clone()}</span>
            <span class="entity">{alert.entity()}</span>
            <span class="muted">{window(&alert)}</span>
            <span class="count">{plural(alert.count, "event")}</span>
            {alert.staging.then(|| view! {
                <span class="badge warn" data-testid="alert-staging">"staging: not sent"</span>
            })}
            <span class="badge">{alert.state.name()}</span>
        </li>
    }
}

fn alert_detail(alert: Alert) -> impl IntoView {
    let search = search_url(&alert);
    view! {
        <aside class="alert-detail" data-testid="alert-detail">
            <h3>{alert.name.clone()}</h3>
            <p><span class=format!("sev sev-{}", alert.severity)>{alert.severity.clone()}</span>
               " " {alert.entity()}</p>
            <p class="muted">{window(&alert)}</p>
            <p>{plural(alert.count, "event")} "; first "
               {alert.first_ms.map_or("–".to_string(), format_timestamp)} ", last "
               {alert.last_ms.map_or("–".to_string(), format_timestamp)}</p>
            <p><code>{alert.query.clone()}</code></p>
            <a class="button" href=search data-testid="alert-open-search">"Open in search"</a>
            <h4>"Sample events"</h4>
            <ol class="samples">
                {alert.samples.iter().map(|s| view! {
                    <li data-testid="alert-sample">
                        <div class="muted">{format!("{}:{}", s.file, s.line)}</div>
                        <pre>{s.text.clone()}</pre>
                    </li>
                }).collect_view()}
            </ol>
        </aside>
    }
}

fn window(alert: &Alert) -> String {
    format!(
        "{} → {}",
        format_timestamp(alert.window.0),
        format_timestamp(alert.window.1)
    )
}

/// The search page on the alert's query, narrowed to its group, over its window.
fn search_url(alert: &Alert) -> String {
    let mut q: Vec<String> = alert
        .fields
        .iter()
        .zip(&alert.group)
        .map(|(f, v)| format!("{f}:\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    q.push(alert.query.clone());
    let Ok(params) = UrlSearchParams::new() else {
        return "/".to_string();
    };
    params.append("q", &q.join(" "));
    params.append("earliest", &format_timestamp(alert.window.0));
    params.append("latest", &format_timestamp(alert.window.1));
    format!("/?{}", String::from(params.to_string()))
}

/// Seconds as a span: `15m`, `1h`.
fn span(seconds: u32) -> String {
    shared_sketch::query::format_span(seconds)
}

/// How long ago `ms` was, roughly.
fn ago(ms: i64) -> String {
    let seconds = ((js_sys::Date::now() as i64 - ms) / 1000).max(0);
    match seconds {
        0..60 => format!("{seconds} s ago"),
        60..3600 => format!("{} min ago", seconds / 60),
        _ => format!("{} h ago", seconds / 3600),
    }
}

/// Alerts per hour as bars, oldest first.
fn sparkline(counts: &[u32]) -> impl IntoView + use<> {
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let h = if n == 0 {
                1.0
            } else {
                2.0 + 14.0 * f64::from(n) / f64::from(max)
            };
            view! { <rect x=i * 3 y=16.0 - h width="2" height=h class:empty=n == 0/> }
        })
        .collect_view();
    view! { <svg class="sparkline" width="72" height="16" data-testid="rule-sparkline">{bars}</svg> }
}
