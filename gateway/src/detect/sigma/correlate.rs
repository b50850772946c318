//! Sigma correlation rules (v2) that count: `event_count`, `value_count`, and the
//! `value_sum` and `value_avg` extensions, as threshold rules over the events of the rules
//! they name: `(base) OR (base) | stats count by group | where count >= 10`, run on the
//! detection engine's minute rollups.
//!
//! Windows slide by `every` (a minute, or 1/60 of a long timespan): a rule's windows are
//! `timespan` rounded up to whole minutes, plus `every`, long. So every set of events
//! less than `timespan` apart lies whole in some window however it straddles minute
//! boundaries (never missed), and a window may also hold events up to `timespan + every`
//! apart (the edges' precision).

use std::collections::BTreeMap;
use std::path::Path;

use rsigma_parser::{
    ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType, Level, Status,
    WindowMode,
};
use shared_sketch::limits::MAX_RULE_QUERY_LEN;
use shared_sketch::query::{Expr, parse_with_limit};

use super::convert::Refused;
use super::{Settings, id_from};
use crate::detect::rule::{Dataset, Dedup, Rule, RuleState, Severity};

/// A rule a correlation names, as converted, with the field names of its log source.
pub(super) struct Base<'a> {
    pub rule: &'a Rule,
    pub fields: &'a BTreeMap<String, String>,
}

fn refuse<T>(feature: &str, detail: impl Into<String>) -> Result<T, Refused> {
    Err(Refused {
        feature: feature.to_string(),
        detail: detail.into(),
    })
}

/// The rule `correlation` is, over the events of `bases`.
pub(super) fn correlate(
    file: &Path,
    correlation: &CorrelationRule,
    bases: &[Base<'_>],
    settings: &Settings,
) -> Result<Rule, Refused> {
    if !correlation.aliases.is_empty() {
        return refuse(
            "aliases",
            "correlations whose rules name their group fields differently: not yet",
        );
    }
    if correlation.window != WindowMode::Sliding {
        return refuse(
            "window",
            format!(
                "{} windows (sketchlake's slide)",
                correlation.window.as_str()
            ),
        );
    }
    let CorrelationCondition::Threshold {
        predicates, field, ..
    } = &correlation.condition
    else {
        return refuse("condition", "condition expressions over several rules");
    };
    // A field as the bases' events name it: one name in all of them.
    let mapped = |name: &str| -> Result<String, Refused> {
        let mut names = bases
            .iter()
            .map(|b| b.fields.get(name).map_or(name, String::as_str));
        let first = names.next().unwrap_or(name);
        if names.any(|n| n != first) {
            return refuse(
                "aliases",
                format!("{name:?} is named differently in the rules' log sources"),
            );
        }
        Ok(first.to_string())
    };
    let value_field = || -> Result<String, Refused> {
        match field.as_deref() {
            Some([one]) => mapped(one),
            _ => refuse(
                "condition",
                format!(
                    "a {} correlation names one field in its condition",
                    correlation.correlation_type.as_str()
                ),
            ),
        }
    };
    let aggregate = match correlation.correlation_type {
        CorrelationType::EventCount => "count".to_string(),
        CorrelationType::ValueCount => format!("dc({})", value_field()?),
        CorrelationType::ValueSum => format!("sum({})", value_field()?),
        CorrelationType::ValueAvg => format!("avg({})", value_field()?),
        CorrelationType::ValuePercentile | CorrelationType::ValueMedian => {
            return refuse(
                "percentile",
                "percentiles here are within ±1% (DDSketch): a threshold on one would be approximate",
            );
        }
        CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
            return refuse(
                "temporal",
                format!(
                    "{} correlations: not yet",
                    correlation.correlation_type.as_str()
                ),
            );
        }
    };
    let group = correlation
        .group_by
        .iter()
        .map(|f| mapped(f))
        .collect::<Result<Vec<_>, _>>()?;
    let searches: Vec<Expr> = bases
        .iter()
        .filter_map(|b| b.rule.query.search.clone())
        .collect();
    if searches.len() != bases.len() || searches.is_empty() {
        return refuse("correlation", "a rule it names matches every event");
    }
    let search = if searches.len() == 1 {
        searches.into_iter().next().map(|s| s.to_string())
    } else {
        Some(Expr::Or(searches).to_string())
    };
    let mut text = format!("{} | stats {aggregate}", search.unwrap_or_default());
    if !group.is_empty() {
        text.push_str(&format!(" by {}", group.join(", ")));
    }
    for (op, n) in predicates {
        let op = match op {
            ConditionOperator::Lt => "<",
            ConditionOperator::Lte => "<=",
            ConditionOperator::Gt => ">",
            ConditionOperator::Gte => ">=",
            ConditionOperator::Eq => "=",
            ConditionOperator::Neq => "!=",
        };
        text.push_str(&format!(" | where {aggregate} {op} {n}"));
    }
    let query = parse_with_limit(&text, MAX_RULE_QUERY_LEN).map_err(|e| Refused {
        feature: "query".to_string(),
        detail: e.message,
    })?;
    let (window, every) = windows(correlation.timespan.seconds)?;
    let id = correlation
        .id
        .clone()
        .or_else(|| correlation.name.clone())
        .unwrap_or_else(|| id_from(file));
    Ok(Rule {
        id,
        name: correlation.title.clone(),
        description: correlation.description.clone().unwrap_or_default(),
        severity: match correlation.level {
            Some(Level::Informational) => Severity::Info,
            Some(Level::Low) => Severity::Low,
            Some(Level::High) => Severity::High,
            Some(Level::Critical) => Severity::Critical,
            Some(Level::Medium) | None => Severity::Medium,
        },
        tags: correlation.tags.clone(),
        text,
        query,
        dataset: Dataset::Logs,
        window,
        every,
        dedup: Dedup {
            fields: group,
            period: window,
        },
        sinks: settings.sinks.clone(),
        state: match correlation.status {
            Some(Status::Deprecated | Status::Unsupported) => RuleState::Paused,
            _ => settings.state,
        },
        tests: Vec::new(),
        file: file.to_path_buf(),
    })
}

/// The window and slide, in seconds, for a correlation's `timespan`: windows of the
/// timespan in whole minutes plus the slide, sliding by a minute (by 1/60 of the
/// timespan, in whole minutes, past an hour: a run then merges about 60 windows of
/// minutes, not thousands).
pub(super) fn windows(timespan: u64) -> Result<(u32, u32), Refused> {
    const MINUTE: u64 = 60;
    if timespan == 0 {
        return refuse("timespan", "a timespan of zero");
    }
    let minutes = |s: u64| s.div_ceil(MINUTE) * MINUTE;
    let every = minutes(timespan / 60).max(MINUTE);
    let window = minutes(timespan) + every;
    match (u32::try_from(window), u32::try_from(every)) {
        (Ok(window), Ok(every)) => Ok((window, every)),
        _ => refuse("timespan", format!("{timespan} seconds is too long")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_the_timespan_in_minutes_and_a_slide_longer() {
        assert_eq!(windows(300).unwrap(), (360, 60));
        assert_eq!(windows(90).unwrap(), (180, 60));
        assert_eq!(windows(3600).unwrap(), (3660, 60));
        assert_eq!(windows(86_400).unwrap(), (86_400 + 1440, 1440));
        assert!(windows(0).is_err());
    }
}
