use leptos::ev::MouseEvent;
use leptos::prelude::*;
use shared_sketch::Series;
use shared_sketch::aggregate::SPANS;
use shared_sketch::query::format_span;
use shared_sketch::time::format_timestamp;
use wasm_bindgen::JsCast;

use crate::format::thousands;
use crate::navigate::run;
use crate::state::{answers, screen};
use crate::view::TimeRange;

/// Drags shorter than this (in pixels) are clicks: they zoom to the bar clicked.
const CLICK_PX: f64 = 4.0;

/// Matching events over time, for every view. Drag across it (or click a bar) to narrow
/// the time range to what is selected; the range picker and the address bar follow.
#[component]
pub fn Timeline() -> impl IntoView {
    let result = answers().0[0];
    let timeline = Memo::new(move |_| result.with(|r| r.as_ref().map(|r| r.timeline.clone())));
    move || {
        timeline
            .get()
            .filter(|t| !t.points.is_empty())
            .map(|t| view! { <Chart series=t/> })
    }
}

/// Bars drawn at most: a sparse series over a long range (a few events over months) is
/// summed into wider buckets to stay readable.
const MAX_BARS: i64 = 200;

/// `(bucket start, events)` at the narrowest span on the series' ladder that shows its
/// range in `MAX_BARS`; each of the series' buckets lies whole in one bar, so the counts
/// stay exact.
fn bars(series: &Series) -> (u32, Vec<(i64, u64)>) {
    let (Some(first), Some(last)) = (series.points.first(), series.points.last()) else {
        return (series.span_seconds, Vec::new());
    };
    let seconds = (last.time - first.time) / 1000 + i64::from(series.span_seconds);
    let mut span = series.span_seconds.max(1);
    while seconds / i64::from(span) > MAX_BARS {
        span = SPANS
            .into_iter()
            .find(|&s| s > span && s % span == 0)
            .unwrap_or(span.saturating_mul(2));
    }
    let width = i64::from(span) * 1000;
    let mut out: Vec<(i64, u64)> = Vec::new();
    for p in &series.points {
        let start = p.time.div_euclid(width) * width;
        match out.last_mut() {
            Some((t, n)) if *t == start => *n += p.matched,
            _ => out.push((start, p.matched)),
        }
    }
    (span, out)
}

#[component]
fn Chart(series: Series) -> impl IntoView {
    let screen = screen();
    let (span, points) = bars(&series);
    let span_ms = i64::from(span) * 1000;
    let start = points.first().map_or(0, |p| p.0);
    let end = points.last().map_or(0, |p| p.0) + span_ms;
    let width = (end - start).max(1) as f64;
    let max = points.iter().map(|p| p.1).max().unwrap_or(1).max(1);
    // The drag, as fractions of the chart's width.
    let drag = RwSignal::new(None::<(f64, f64)>);
    let fraction = |ev: &MouseEvent| -> Option<(f64, f64)> {
        let el = ev.current_target()?.dyn_into::<web_sys::Element>().ok()?;
        let rect = el.get_bounding_client_rect();
        let x = f64::from(ev.client_x()) - rect.left();
        Some(((x / rect.width()).clamp(0.0, 1.0), rect.width()))
    };
    let on_down = move |ev: MouseEvent| {
        if let Some((f, _)) = fraction(&ev) {
            ev.prevent_default();
            drag.set(Some((f, f)));
        }
    };
    let on_move = move |ev: MouseEvent| {
        if let (Some((a, _)), Some((f, _))) = (drag.get_untracked(), fraction(&ev)) {
            drag.set(Some((a, f)));
        }
    };
    let on_up = move |ev: MouseEvent| {
        let (Some((a, _)), Some((b, px))) = (drag.get_untracked(), fraction(&ev)) else {
            return;
        };
        drag.set(None);
        let at = |f: f64| start + (f * width) as i64;
        // Whole buckets: the counts on screen are exactly what the new range holds.
        let floor = |t: i64| start + (t - start).div_euclid(span_ms) * span_ms;
        let (lo, hi) = (a.min(b), a.max(b));
        let (from, to) = if (hi - lo) * px < CLICK_PX {
            let bucket = floor(at(lo));
            (bucket, bucket + span_ms)
        } else {
            (floor(at(lo)), floor(at(hi)) + span_ms)
        };
        let view = screen
            .shown
            .with_untracked(|v| v.with_range(TimeRange::between(from, to.min(end))));
        run(screen, view, true);
    };
    let bars = points
        .into_iter()
        .map(|(time, count)| {
            let x = (time - start) as f64 / width * 1000.0;
            let w = (span_ms as f64 / width * 1000.0 * 0.9).max(0.6);
            let h = count as f64 / max as f64 * 100.0;
            let title = format!("{}: {} events", format_timestamp(time), thousands(count));
            view! {
                <rect data-testid="timeline-bar" data-time=time.to_string() data-count=count.to_string()
                    x=format!("{x:.3}") y=format!("{:.3}", 100.0 - h) width=format!("{w:.3}") height=format!("{h:.3}")>
                    <title>{title}</title>
                </rect>
            }
        })
        .collect_view();
    let brush = move || {
        drag.get().map(|(a, b)| {
            view! {
                <div class="brush" data-testid="timeline-brush"
                    style:left=format!("{:.2}%", a.min(b) * 100.0)
                    style:width=format!("{:.2}%", (a - b).abs() * 100.0)></div>
            }
        })
    };
    view! {
        <section class="widget timeline" data-testid="timeline" data-span=span.to_string()>
            <h3>
                <span>"Events over time · "<span data-testid="range-label">{move || screen.shown.with(|v| v.range.label())}</span></span>
                <span class="bound">
                    {format!("per {} · max {} · drag to zoom", format_span(span), thousands(max))}
                </span>
            </h3>
            <div class="plot" data-testid="timeline-plot" on:mousedown=on_down on:mousemove=on_move on:mouseup=on_up
                on:mouseleave=move |_| drag.set(None)>
                <svg viewBox="0 0 1000 100" preserveAspectRatio="none" class="bars">{bars}</svg>
                {brush}
            </div>
            <p class="bound axis">
                <span>{format_timestamp(start)}</span>
                {(series.untimed > 0).then(|| view! {
                    <span>{format!("{} events without a time", thousands(series.untimed))}</span>
                })}
                <span>{format_timestamp(end)}</span>
            </p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_sketch::{AggValue, Point};

    fn series(span_seconds: u32, points: &[(i64, u64)]) -> Series {
        Series {
            span_seconds,
            untimed: 0,
            points: points
                .iter()
                .map(|&(time, matched)| Point {
                    time,
                    matched,
                    value: AggValue::Count { value: matched },
                })
                .collect(),
        }
    }

    #[test]
    fn sparse_series_are_summed_into_whole_wider_bars() {
        let day = 86_400_000;
        // Three events 5 s apart, one 100 days later: 5-second buckets over 100 days.
        let s = series(5, &[(0, 1), (5_000, 2), (10_000, 3), (100 * day, 4)]);
        let (span, drawn) = bars(&s);
        assert_eq!(span, 43_200, "12 hours: 100 days in at most 200 bars");
        assert_eq!(drawn, vec![(0, 6), (100 * day, 4)]);
        // A series that already fits is drawn as it is.
        let s = series(3600, &[(0, 1), (3_600_000, 2)]);
        assert_eq!(bars(&s), (3600, vec![(0, 1), (3_600_000, 2)]));
    }
}
