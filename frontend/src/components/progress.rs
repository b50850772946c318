use leptos::prelude::*;

use crate::format::{bytes, plural, thousands};
use shared_sketch::Phase;

use crate::state::screen;

/// Files and bytes scanned of the plan, the scan rate, and — once every query of the view
/// is finished — the marker tests and people wait for. The figures are the first query's:
/// a dashboard's other queries read the same files.
#[component]
pub fn ProgressBar() -> impl IntoView {
    let screen = screen();
    let run = screen.runs[0];
    let progress = move || run.with(|r| r.progress.clone());
    let phase = move || screen.phase();
    let percent = move || {
        let p = progress();
        if p.bytes_total == 0 {
            if phase() == Phase::Done { 100.0 } else { 0.0 }
        } else {
            100.0 * p.bytes_done as f64 / p.bytes_total as f64
        }
    };
    let summary = move || {
        let p = progress();
        let secs = p.elapsed_ms as f64 / 1000.0;
        let rate = if secs > 0.0 {
            p.bytes_done as f64 / secs
        } else {
            0.0
        };
        let pruned = run.with(|r| r.scope.as_ref().map_or(0, |scope| scope.files_pruned));
        let pruned = if pruned > 0 {
            format!(" ({} more ruled out by time)", thousands(pruned))
        } else {
            String::new()
        };
        format!(
            "{} / {} files{pruned} · {} / {} · {}/s · {:.1} s · {} merged",
            thousands(p.files_done),
            thousands(p.files_total),
            bytes(p.bytes_done),
            bytes(p.bytes_total),
            bytes(rate as u64),
            secs,
            plural(
                screen.active().iter().map(|r| r.with(|r| r.partials)).sum(),
                "partial"
            ),
        )
    };
    // Cancelled or stopped: the answer covers part of the data, so it must not look finished.
    let partial = move || {
        screen
            .active()
            .iter()
            .any(|r| r.with(|r| r.progress.cancelled || r.progress.stopped.is_some()))
    };
    let done_text = move || {
        let p = progress();
        if p.cancelled {
            format!(
                "cancelled: the answer covers {} of {} files",
                thousands(p.files_done),
                thousands(p.files_total)
            )
        } else if let Some(why) = p.stopped {
            why
        } else {
            format!("done in {:.2} s", p.elapsed_ms as f64 / 1000.0)
        }
    };

    let planned = move || screen.used.get() != 0 && run.with(|r| r.scope.is_some());
    view! {
        // Hidden until there is a plan to measure against (a query that fails to parse has none).
        <Show when=planned>
            <section class="progress" data-testid="progress">
                <div class="bar"><div class="fill" style:width=move || format!("{:.1}%", percent())></div></div>
                <div class="progress-text">
                    <span>{summary}</span>
                    <Show when=move || phase() == Phase::Done>
                        <span class="done" class:partial=partial data-testid="query-done">{done_text}</span>
                    </Show>
                </div>
            </section>
        </Show>
    }
}
