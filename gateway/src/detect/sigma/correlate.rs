//! Sigma correlation rules (v2) on the detection engine's minute rollups. Those that count
//! (`event_count`, `value_count`, and the `value_sum` and `value_avg` extensions) over
//! rules naming their groups alike are one threshold rule:
//! `(base) OR (base) | stats count by group | where count >= 10`. With `aliases` (rules
//! naming a group differently), and for `temporal` and `temporal_ordered`, each rule is
//! rolled up on its own, by its own names, and the runs join the rules' minutes per
//! window (`Joined`): merged, or a group seen by enough of the rules (in order).
//!
//! Windows slide by `every` (a minute, or 1/60 of a long timespan): a rule's windows are
//! `timespan` rounded up to whole minutes, plus `every`, long. So every set of events
//! less than `timespan` apart lies whole in some window however it straddles minute
//! boundaries (never missed), and a window may also hold events up to `timespan + every`
//! apart (the edges' precision).

use std::collections::BTreeMap;
use std::path::Path;

use rsigma_parser::{
    ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType, WindowMode,
};
use shared_sketch::limits::MAX_RULE_QUERY_LEN;
use shared_sketch::query::{Expr, parse_with_limit};

use super::convert::{Refused, refuse};
use super::settings::{Settings, id_from, severity, state};
use crate::detect::rule::{Dataset, Dedup, Join, Joined, Rule};

/// A rule a correlation names, as converted, with the field names of its log source.
pub(super) struct Base<'a> {
    pub rule: &'a Rule,
    pub fields: &'a BTreeMap<String, String>,
}

/// The rule `correlation` is, over the events of `bases` (in the order it names them).
/// `unconditioned`: it was written without a `condition`.
pub(super) fn correlate(
    file: &Path,
    correlation: &CorrelationRule,
    bases: &[Base<'_>],
    settings: &Settings,
    unconditioned: bool,
) -> Result<Rule, Refused> {
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
    // A field of the correlation (an alias, or a field of the rules) as rule `i`'s events
    // name it: the alias's field for that rule, through its log source's names.
    let named_in = |i: usize, name: &str| -> Result<String, Refused> {
        let field = match correlation.aliases.iter().find(|a| a.alias == name) {
            Some(alias) => match alias.mapping.get(&correlation.rules[i]) {
                Some(field) => field.as_str(),
                None => {
                    return refuse(
                        "aliases",
                        format!(
                            "alias {name:?} names no field for rule {:?}",
                            correlation.rules[i]
                        ),
                    );
                }
            },
            None => name,
        };
        Ok(bases[i]
            .fields
            .get(field)
            .map_or(field, String::as_str)
            .to_string())
    };
    let per_rule = |name: &str| -> Result<Vec<String>, Refused> {
        (0..bases.len()).map(|i| named_in(i, name)).collect()
    };
    let value_field = || -> Result<Vec<String>, Refused> {
        match field.as_deref() {
            Some([one]) => per_rule(one),
            _ => refuse(
                "condition",
                format!(
                    "a {} correlation names one field in its condition",
                    correlation.correlation_type.as_str()
                ),
            ),
        }
    };
    // The aggregate each rule's events compute (by its own field names), and the
    // correlation's name for it.
    let (aggregates, label): (Vec<String>, String) = match correlation.correlation_type {
        CorrelationType::EventCount
        | CorrelationType::Temporal
        | CorrelationType::TemporalOrdered => {
            (vec!["count".to_string(); bases.len()], "count".to_string())
        }
        CorrelationType::ValueCount | CorrelationType::ValueSum | CorrelationType::ValueAvg => {
            let f = match correlation.correlation_type {
                CorrelationType::ValueCount => "dc",
                CorrelationType::ValueSum => "sum",
                _ => "avg",
            };
            let fields = value_field()?;
            let name = field
                .as_deref()
                .and_then(|f| f.first())
                .cloned()
                .unwrap_or_default();
            (
                fields.iter().map(|v| format!("{f}({v})")).collect(),
                format!("{f}({name})"),
            )
        }
        CorrelationType::ValuePercentile | CorrelationType::ValueMedian => {
            return refuse(
                "percentile",
                "percentiles here are within ±1% (DDSketch): a threshold on one would be approximate",
            );
        }
    };
    let groups: Vec<Vec<String>> = (0..bases.len())
        .map(|i| {
            correlation
                .group_by
                .iter()
                .map(|g| named_in(i, g))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()?;
    let mut searches = Vec::with_capacity(bases.len());
    for base in bases {
        match &base.rule.query.search {
            Some(search) => searches.push(search.clone()),
            None => return refuse("correlation", "a rule it names matches every event"),
        }
    }
    let op = |op: &ConditionOperator| match op {
        ConditionOperator::Lt => "<",
        ConditionOperator::Lte => "<=",
        ConditionOperator::Gt => ">",
        ConditionOperator::Gte => ">=",
        ConditionOperator::Eq => "=",
        ConditionOperator::Neq => "!=",
    };
    let by = |fields: &[String]| {
        if fields.is_empty() {
            String::new()
        } else {
            format!(" by {}", fields.join(", "))
        }
    };
    let temporal = matches!(
        correlation.correlation_type,
        CorrelationType::Temporal | CorrelationType::TemporalOrdered
    );
    let alike =
        groups.iter().all(|g| *g == groups[0]) && aggregates.iter().all(|a| *a == aggregates[0]);
    let (text, joined) = if !temporal && alike {
        // One query over all the rules' events.
        let search = if searches.len() == 1 {
            searches[0].to_string()
        } else {
            Expr::Or(searches).to_string()
        };
        let mut text = format!("{search} | stats {}{}", aggregates[0], by(&groups[0]));
        for (o, n) in predicates {
            text.push_str(&format!(" | where {} {} {n}", aggregates[0], op(o)));
        }
        (text, None)
    } else {
        // Each rule rolled up by its own names, joined per window under the correlation's.
        let parts = searches
            .iter()
            .zip(&aggregates)
            .zip(&groups)
            .map(|((search, aggregate), group)| {
                let text = format!("{search} | stats {aggregate}{}", by(group));
                parse_with_limit(&text, MAX_RULE_QUERY_LEN).map_err(|e| Refused {
                    feature: "query".to_string(),
                    detail: e.message,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut text = format!("| stats {label}{}", by(&correlation.group_by));
        let join = if temporal {
            // How many of the rules a group must be seen by: all, unless the condition
            // says at least N.
            let min = match predicates.as_slice() {
                _ if unconditioned => bases.len(),
                [] => bases.len(),
                [(ConditionOperator::Gte, n)] => usize::try_from(*n).unwrap_or(usize::MAX),
                [(ConditionOperator::Gt, n)] => usize::try_from(*n).unwrap_or(usize::MAX - 1) + 1,
                _ => {
                    return refuse(
                        "condition",
                        "a temporal correlation's condition is `gte: N` (or `gt`)",
                    );
                }
            };
            let ordered = correlation.correlation_type == CorrelationType::TemporalOrdered;
            if ordered && min != bases.len() {
                return refuse(
                    "condition",
                    "a temporal_ordered correlation is over all its rules, in order",
                );
            }
            Join::Temporal { min, ordered }
        } else {
            for (o, n) in predicates {
                text.push_str(&format!(" | where {label} {} {n}", op(o)));
            }
            Join::Merge
        };
        (text, Some(Joined { parts, join }))
    };
    let query = parse_with_limit(&text, MAX_RULE_QUERY_LEN).map_err(|e| Refused {
        feature: "query".to_string(),
        detail: e.message,
    })?;
    // What a person reads: the joined rules' queries, then the correlation's.
    let text = match &joined {
        Some(joined) => {
            let parts: Vec<String> = joined.parts.iter().map(|p| format!("({p})")).collect();
            let kind = match joined.join {
                Join::Merge => "merged".to_string(),
                Join::Temporal { min, ordered } => {
                    format!(
                        "{} by at least {min} of",
                        if ordered { "in order" } else { "seen" }
                    )
                }
            };
            format!("{kind} {} {text}", parts.join(" ; "))
        }
        None => text,
    };
    let (window, every) = windows(correlation.timespan.seconds)?;
    let id = correlation
        .id
        .clone()
        .or_else(|| correlation.name.clone())
        .unwrap_or_else(|| id_from(file));
    let dedup = if joined.is_some() {
        correlation.group_by.clone()
    } else {
        groups[0].clone()
    };
    Ok(Rule {
        id,
        name: correlation.title.clone(),
        description: correlation.description.clone().unwrap_or_default(),
        severity: severity(correlation.level),
        tags: correlation.tags.clone(),
        text,
        query,
        dataset: Dataset::Logs,
        window,
        every,
        dedup: Dedup {
            fields: dedup,
            period: window,
        },
        sinks: settings.sinks.clone(),
        state: state(correlation.status, settings),
        tests: Vec::new(),
        file: file.to_path_buf(),
        joined,
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
