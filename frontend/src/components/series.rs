use leptos::prelude::*;
use shared_sketch::Series;
use shared_sketch::query::format_span;
use shared_sketch::time::format_timestamp;

use crate::format::{number, thousands};

/// `timechart`: the aggregate per time bucket as bars, oldest left. Each bar's title gives
/// the bucket start (UTC), the value and the events in it.
#[component]
pub fn SeriesChart(label: String, series: Series) -> impl IntoView {
    let values: Vec<f64> = series
        .points
        .iter()
        .map(|p| p.value.number().unwrap_or(0.0))
        .collect();
    let max = values
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let n = values.len().max(1) as f64;
    let bars = series
        .points
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(i, (p, v))| {
            let h = (v / max * 100.0).max(0.0);
            let title = format!(
                "{}: {} ({} events)",
                format_timestamp(p.time),
                number(*v),
                thousands(p.matched)
            );
            view! {
                <rect x=format!("{:.3}", i as f64 / n * 1000.0) y=format!("{:.3}", 100.0 - h)
                    width=format!("{:.3}", (1000.0 / n * 0.9).max(0.5)) height=format!("{h:.3}")>
                    <title>{title}</title>
                </rect>
            }
        })
        .collect_view();
    let range = match (series.points.first(), series.points.last()) {
        (Some(a), Some(b)) => format!(
            "{} – {}",
            format_timestamp(a.time),
            format_timestamp(b.time)
        ),
        _ => "no events with a time".to_string(),
    };
    view! {
        <div class="widget series" data-testid="series">
            <h3>
                <span>{label}</span>
                <span class="bound">{format!("per {} · max {}", format_span(series.span_seconds), number(max))}</span>
            </h3>
            <svg viewBox="0 0 1000 100" preserveAspectRatio="none" class="bars">{bars}</svg>
            <p class="bound">
                {range}
                {(series.untimed > 0).then(|| format!(" · {} events without a time", thousands(series.untimed)))}
            </p>
        </div>
    }
}
