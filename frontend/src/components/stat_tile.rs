use leptos::prelude::*;
use shared_sketch::result::DistinctEstimate;

use crate::format::thousands;

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

/// An exact count.
#[component]
pub fn CountTile(label: String, value: u64) -> impl IntoView {
    view! {
        <section class="widget tile">
            <h3>{label}</h3>
            <div class="big" data-testid="count-value">{thousands(value)}</div>
            <div class="bound">"exact"</div>
        </section>
    }
}
