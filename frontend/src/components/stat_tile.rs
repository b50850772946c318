use leptos::prelude::*;
use shared_sketch::result::DistinctEstimate;

use crate::format::{number, thousands};

/// A distinct count: exact below a thousand values; above, the estimate with its ±
/// half-interval, and the interval on hover.
#[component]
pub fn DistinctTile(label: String, estimate: DistinctEstimate) -> impl IntoView {
    let DistinctEstimate {
        estimate,
        lower,
        upper,
        confidence,
        exact,
    } = estimate;
    let half = ((upper - lower) / 2.0).max(0.0);
    let relative = if estimate > 0.0 {
        100.0 * half / estimate
    } else {
        0.0
    };
    let title = format!(
        "{:.0}% interval: {} – {}",
        confidence * 100.0,
        thousands(lower.floor() as u64),
        thousands(upper.ceil() as u64)
    );
    view! {
        <section class="widget tile">
            <h3>{label}</h3>
            <div
                class="big"
                data-testid="dc-value"
                data-estimate=format!("{estimate:.3}")
                data-lower=format!("{lower:.3}")
                data-upper=format!("{upper:.3}")
                title=title.clone()
            >
                {thousands(estimate.round() as u64)}
            </div>
            <div class="bound" title=title>
                {if exact {
                    "exact".to_string()
                } else {
                    format!("± {} ({relative:.1}%)", thousands(half.round() as u64))
                }}
            </div>
        </section>
    }
}

/// One number with what it is worth: "exact", or its ± bound and the interval on hover.
#[component]
pub fn NumberTile(
    label: String,
    value: Option<f64>,
    /// ± this fraction of the value (0 for exact numbers).
    relative_error: f64,
    testid: &'static str,
) -> impl IntoView {
    let (text, bound, title) = match value {
        None => (
            "—".to_string(),
            "no numeric values".to_string(),
            String::new(),
        ),
        Some(v) if relative_error == 0.0 => (number(v), "exact".to_string(), String::new()),
        Some(v) => {
            let spread = (v * relative_error).abs();
            // No false precision: a ±1% value shows as a rounded, approximate number.
            let shown = if v.abs() >= 100.0 {
                number(v.round())
            } else {
                format!("{v:.2}")
            };
            (
                format!("≈ {shown}"),
                format!("± {:.0}%", relative_error * 100.0),
                format!(
                    "true value between {} and {}",
                    number(v - spread),
                    number(v + spread)
                ),
            )
        }
    };
    view! {
        <section class="widget tile">
            <h3>{label}</h3>
            <div class="big" data-testid=testid data-value=value.map(|v| v.to_string()).unwrap_or_default() title=title.clone()>
                {text}
            </div>
            <div class="bound" title=title>{bound}</div>
        </section>
    }
}
