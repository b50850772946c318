//! A rule's tests: its events scanned by the very code a scan of the lake runs, and what
//! fires compared with what the test expects.

use shared_sketch::{AggValue, Query, QueryResult};
use workers::{ScanOptions, scan_text};

use super::rule::{Expect, Rule, RuleTest};

/// One test's outcome: `None` when it passed, else why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub rule: String,
    pub test: String,
    pub failure: Option<String>,
}

/// Runs every test of `rule`.
pub fn check(rule: &Rule) -> Vec<Checked> {
    rule.tests
        .iter()
        .map(|test| Checked {
            rule: rule.id.clone(),
            test: test.name.clone(),
            failure: failure(rule, test),
        })
        .collect()
}

/// Why `test` fails, if it does.
fn failure(rule: &Rule, test: &RuleTest) -> Option<String> {
    let mut text = Vec::new();
    for event in &test.events {
        // An object serializes always; one line each, as NDJSON.
        text.extend(serde_json::to_vec(event).unwrap_or_default());
        text.push(b'\n');
    }
    let name = format!("{} test {:?}", rule.id, test.name);
    let partial = scan_text(&text, &name, &rule.query, &ScanOptions::default());
    let result = partial.result(&rule.query);
    if let Some(e) = result.stats.errors.first() {
        return Some(format!("its events cannot be read: {}", e.message));
    }
    let fired = firing(&rule.query, &result);
    let shown = || {
        fired
            .iter()
            .map(|g| format!("[{}]", g.join(", ")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match (test.expect, &test.group) {
        (Expect::Fire, None) if fired.is_empty() => Some("expected to fire; quiet".to_string()),
        (Expect::Quiet, None) if !fired.is_empty() => {
            Some(format!("expected quiet; fired for {}", shown()))
        }
        (Expect::Fire, Some(group)) if !fired.contains(group) => Some(format!(
            "expected to fire for [{}]; fired for {}",
            group.join(", "),
            if fired.is_empty() {
                "none".to_string()
            } else {
                shown()
            }
        )),
        (Expect::Quiet, Some(group)) if fired.contains(group) => {
            Some(format!("expected [{}] quiet; it fired", group.join(", ")))
        }
        _ => None,
    }
}

/// The groups a rule's answer fires for, each as its group's values (see `group_fields`):
/// none, or, for a rule without groups, one empty group when it fires.
pub fn firing(query: &Query, result: &QueryResult) -> Vec<Vec<String>> {
    fired(query, result)
        .into_iter()
        .map(|(group, _)| group)
        .collect()
}

/// `firing`, with how many events each group's answer counts.
pub fn fired(query: &Query, result: &QueryResult) -> Vec<(Vec<String>, u64)> {
    if result.matched == 0 {
        return Vec::new();
    }
    if let Some(groups) = &result.groups {
        let by = query.by().len();
        return groups
            .rows
            .iter()
            // The row of groups past the limit ("other") names no group.
            .filter(|row| row.key.len() == by)
            .map(|row| (row.key.clone(), row.matched))
            .collect();
    }
    match result.aggs.first().map(|a| &a.value) {
        // A filter alone fires per matching event.
        None if query.command.is_none() => vec![(Vec::new(), result.matched)],
        // `where` left no answer: under the threshold.
        None => Vec::new(),
        Some(AggValue::Top { rows, .. }) => rows
            .iter()
            .map(|r| (r.values.clone(), r.estimate))
            .collect(),
        Some(AggValue::Rare(summary)) => summary
            .rows
            .iter()
            .map(|r| (vec![r.value.clone()], r.count))
            .collect(),
        Some(_) => vec![(Vec::new(), result.matched)],
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::detect::rule::parse_rule;

    fn rule(query: &str, tests: &str) -> Rule {
        let text = format!(
            "id: r\nname: R\nseverity: low\nquery: \"{query}\"\nwindow: 1h\ntests:\n{tests}"
        );
        parse_rule(Path::new("r.yml"), &text).unwrap()
    }

    #[test]
    fn a_threshold_fires_for_the_group_over_it_and_not_the_others() {
        let r = rule(
            "dst_port:22 | stats count by src_ip | where count > 1",
            r#"  - name: two from a, one from b
    events: [{"src_ip": "a", "dst_port": 22}, {"src_ip": "a", "dst_port": 22}, {"src_ip": "b", "dst_port": 22}]
    expect: fire
    group: [a]
  - name: b stays quiet
    events: [{"src_ip": "a", "dst_port": 22}, {"src_ip": "a", "dst_port": 22}, {"src_ip": "b", "dst_port": 22}]
    expect: quiet
    group: [b]
  - name: this one is wrong
    events: [{"src_ip": "a", "dst_port": 22}]
    expect: fire
"#,
        );
        let checked = check(&r);
        assert_eq!(checked[0].failure, None);
        assert_eq!(checked[1].failure, None);
        assert_eq!(
            checked[2].failure.as_deref(),
            Some("expected to fire; quiet")
        );
    }

    #[test]
    fn a_filter_fires_per_matching_event() {
        let r = rule(
            "eventName:ConsoleLogin errorMessage:*",
            r#"  - name: a failed login
    events: [{"eventName": "ConsoleLogin", "errorMessage": "Failed authentication"}]
    expect: fire
  - name: a good one
    events: [{"eventName": "ConsoleLogin"}]
    expect: quiet
  - name: wrongly quiet
    events: [{"eventName": "ConsoleLogin", "errorMessage": "x"}]
    expect: quiet
"#,
        );
        let failures: Vec<_> = check(&r).into_iter().map(|c| c.failure).collect();
        assert_eq!(failures[..2], [None, None]);
        assert_eq!(failures[2].as_deref(), Some("expected quiet; fired for []"));
    }
}
