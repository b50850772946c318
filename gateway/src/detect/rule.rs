//! Detection rules as code: one YAML file per rule, kept in git beside the team's other
//! code. A rule is a query in the sketchlake language — a filter alone, which fires per
//! matching event, or a filter with `| stats … by … | where …`, which fires per group over
//! its threshold — with how often it runs, over what window, how alerts are deduplicated
//! and where they go, and tests that say which events make it fire.
//!
//! ```yaml
//! id: ssh-brute-force
//! name: SSH brute force
//! severity: high
//! tags: [attack.t1110]
//! query: dst_port:22 | stats count by src_ip, dst_ip | where count > 500
//! dataset: logs     # or alerts: the alerts other rules raise
//! window: 1h
//! every: 5m
//! dedup: { fields: [src_ip], period: 6h }
//! tests:
//!   - name: many sessions fire
//!     events: [{"src_ip": "192.0.2.45", "dst_ip": "10.0.1.22", "dst_port": 22}]
//!     expect: quiet
//! ```
//!
//! A rule that does not read is refused with its file, line and column, and says why.

use std::path::{Path, PathBuf};

use lake::rollups::RuleKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared_sketch::limits::MAX_RULE_QUERY_LEN;
use shared_sketch::query::{parse_span, parse_with_limit};
use shared_sketch::{Agg, Command, Query};
use workers::Watch;

/// How much an alert matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// As rule files write it.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// Whether a rule runs, and whether its alerts are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleState {
    /// Evaluated, its alerts recorded and sent.
    #[default]
    Active,
    /// Evaluated and recorded, never sent: a rule being tried out.
    Staging,
    /// Not evaluated.
    Paused,
}

impl RuleState {
    /// As rule files write it.
    pub fn name(self) -> &'static str {
        match self {
            RuleState::Active => "active",
            RuleState::Staging => "staging",
            RuleState::Paused => "paused",
        }
    }
}

/// What a rule reads: the logs, or the alerts other rules raise (to correlate them, e.g.
/// `| stats dc(rule) by entity | where dc(rule) >= 2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    #[default]
    Logs,
    Alerts,
}

/// What a rule's test expects of its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Fire,
    Quiet,
}

/// One rule, read and checked.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub description: String,
    pub severity: Severity,
    /// ATT&CK ids and the like.
    pub tags: Vec<String>,
    /// The query as written, and parsed.
    pub text: String,
    pub query: Query,
    pub dataset: Dataset,
    /// How far back each run looks, in seconds.
    pub window: u32,
    /// Seconds between runs: at most the window.
    pub every: u32,
    pub dedup: Dedup,
    /// Where alerts go, by sink name.
    pub sinks: Vec<String>,
    pub state: RuleState,
    pub tests: Vec<RuleTest>,
    /// The file it was read from.
    pub file: PathBuf,
    /// A correlation over rules that name their groups differently or must each be seen
    /// (Sigma's `aliases`, `temporal`): each rolled up on its own and joined per window.
    /// `None`: the rule is its query.
    pub joined: Option<Joined>,
}

/// A correlation's rules, each evaluated and rolled up on its own (`Rule::watches`), and
/// how a window joins their minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    /// Each rule's `filter | stats … by …`, its `by` the correlation's groups as that
    /// rule's events name them, its aggregates the rule's own query's: a group's values
    /// line up whatever the fields are called.
    pub parts: Vec<Query>,
    pub join: Join,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// The parts' minutes merged into one, and the rule's query's `where` applied.
    Merge,
    /// A group fires when at least `min` parts saw it in the window; `ordered`: seen in
    /// the parts' order (to the minute: events in one minute count as in order).
    Temporal { min: usize, ordered: bool },
}

/// An alert for the same values of `fields` within `period` seconds is not raised again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dedup {
    pub fields: Vec<String>,
    pub period: u32,
}

/// Events, and whether the rule fires on them (for a threshold rule, for which group).
#[derive(Debug, Clone)]
pub struct RuleTest {
    pub name: String,
    /// Each event a JSON object, as a log line of NDJSON would hold it.
    pub events: Vec<serde_json::Map<String, serde_json::Value>>,
    pub expect: Expect,
    /// For a rule with `by`: the group (its values, in the `by` order) that fires, or not.
    pub group: Option<Vec<String>>,
}

/// A rule file that cannot be used, and where it goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct RuleError {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A rule as its YAML says it, before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    severity: Severity,
    #[serde(default)]
    tags: Vec<String>,
    query: String,
    #[serde(default)]
    dataset: Dataset,
    window: String,
    every: Option<String>,
    dedup: Option<WrittenDedup>,
    #[serde(default)]
    sinks: Vec<String>,
    #[serde(default)]
    state: RuleState,
    #[serde(default)]
    tests: Vec<WrittenTest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenDedup {
    #[serde(default)]
    fields: Vec<String>,
    period: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenTest {
    name: String,
    events: Vec<serde_json::Value>,
    expect: Expect,
    group: Option<Vec<String>>,
}

/// The most test events one rule file may hold: tests are examples, not data sets.
const MAX_TEST_EVENTS: usize = 10_000;

/// Reads the rule in `text`, the contents of `file`.
pub fn parse_rule(file: &Path, text: &str) -> Result<Rule, RuleError> {
    let error = |line: usize, column: usize, message: String| RuleError {
        file: file.to_path_buf(),
        line,
        column,
        message,
    };
    // A key's place, for what is wrong with its value.
    let at = |key: &str, message: String| {
        let (line, column) = key_position(text, key);
        error(line, column, message)
    };
    let written: Written = yaml_serde::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        // The place is said once, in front.
        let message = e.to_string();
        let place = format!(" at line {line} column {column}");
        let message = message.strip_suffix(&place).unwrap_or(&message).to_string();
        error(line, column, message)
    })?;

    let id_ok = !written.id.is_empty()
        && written
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if !id_ok {
        return Err(at(
            "id",
            format!(
                "the id {:?} must be lower-case letters, digits, '-', '_' or '.'",
                written.id
            ),
        ));
    }
    if written.name.trim().is_empty() {
        return Err(at("name", "a rule needs a name".to_string()));
    }

    let query = parse_with_limit(&written.query, MAX_RULE_QUERY_LEN).map_err(|e| {
        let (line, column) = key_position(text, "query");
        let quoted = usize::from(matches!(value_start(text, "query"), Some('"' | '\'')));
        error(
            line,
            column + quoted + e.column.saturating_sub(1),
            format!("the query does not parse: {}", e.message),
        )
    })?;
    check_command(&query).map_err(|message| at("query", message))?;

    let span = |key: &str, value: &str| {
        parse_span(value.trim()).ok_or_else(|| {
            at(
                key,
                format!("{value:?} is not a span: 30s, 15m, 1h, 1d or 1w"),
            )
        })
    };
    let window = span("window", &written.window)?;
    let every = match &written.every {
        Some(every) => span("every", every)?,
        None => window,
    };
    if every > window {
        return Err(at(
            "every",
            format!(
                "a rule runs at least once per window: every ({}) is longer than window ({})",
                written.every.as_deref().unwrap_or_default(),
                written.window
            ),
        ));
    }
    let dedup = match written.dedup {
        Some(d) => Dedup {
            fields: d.fields,
            period: span("dedup", &d.period)?,
        },
        // Unless said otherwise: one alert per group and window.
        None => Dedup {
            fields: group_fields(&query),
            period: window,
        },
    };
    // A threshold rule's alerts are per group: what deduplicates them must be in it.
    let group = group_fields(&query);
    if query.command.is_some()
        && let Some(field) = dedup.fields.iter().find(|f| !group.contains(f))
    {
        return Err(at(
            "dedup",
            format!(
                "dedup field {field:?} is not one of the fields naming the rule's groups ({})",
                group.join(", ")
            ),
        ));
    }
    if let Some(sink) = written.sinks.iter().find(|s| s.trim().is_empty()) {
        return Err(at("sinks", format!("a sink name is empty: {sink:?}")));
    }

    let by = group.len();
    let mut tests = Vec::with_capacity(written.tests.len());
    let mut events = 0;
    for test in written.tests {
        let objects = test
            .events
            .into_iter()
            .map(|event| match event {
                serde_json::Value::Object(object) => Ok(object),
                other => Err(at(
                    "tests",
                    format!(
                        "test {:?}: an event must be an object, not {other}",
                        test.name
                    ),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        events += objects.len();
        if events > MAX_TEST_EVENTS {
            return Err(at(
                "tests",
                format!("more than {MAX_TEST_EVENTS} test events in one rule"),
            ));
        }
        if let Some(group) = &test.group
            && group.len() != by
        {
            let message = if by == 0 {
                format!(
                    "test {:?} names a group, but the rule has no `by`",
                    test.name
                )
            } else {
                format!(
                    "test {:?}: a group is {by} values (one per `by` field), not {}",
                    test.name,
                    group.len()
                )
            };
            return Err(at("tests", message));
        }
        tests.push(RuleTest {
            name: test.name,
            events: objects,
            expect: test.expect,
            group: test.group,
        });
    }

    Ok(Rule {
        id: written.id,
        name: written.name,
        description: written.description,
        severity: written.severity,
        tags: written.tags,
        text: written.query,
        query,
        dataset: written.dataset,
        window,
        every,
        dedup,
        sinks: written.sinks,
        state: written.state,
        tests,
        file: file.to_path_buf(),
        joined: None,
    })
}

impl Rule {
    /// What ingest evaluates for this rule. A threshold rule's query as it is; a filter
    /// alone is counted per value of its dedup fields (`filter | stats count by …`), each
    /// group one alert.
    pub fn watch(&self) -> Watch {
        match self.query.command {
            Some(_) => Watch {
                query: self.query.clone(),
                per_event: false,
                group: group_fields(&self.query),
            },
            None => Watch {
                query: Query {
                    command: Some(Command::Stats {
                        aggs: vec![Agg::Count],
                        by: self.dedup.fields.clone(),
                    }),
                    post: Vec::new(),
                    ..self.query.clone()
                },
                per_event: true,
                group: self.dedup.fields.clone(),
            },
        }
    }

    /// The rule's id, and the version of what it computes: the digest of its evaluated
    /// query's canonical text (and of its data set, when not the logs). Editing its name,
    /// severity or window keeps its rollups; a changed query, data set or (for a filter)
    /// dedup fields starts new ones.
    pub fn key(&self) -> RuleKey {
        let watch = self.watch();
        let mut text = format!("{}\n{}", watch.query, watch.per_event);
        if self.dataset == Dataset::Alerts {
            text.push_str("\nalerts");
        }
        if let Some(joined) = &self.joined {
            text.push_str(&format!("\n{:?}", joined.join));
            for part in &joined.parts {
                text.push_str(&format!("\n{part}"));
            }
        }
        let digest = Sha256::digest(text.as_bytes());
        RuleKey {
            id: self.id.clone(),
            version: digest[..6].iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

impl Rule {
    /// What ingest evaluates and stores for this rule, under which keys: the rule's own
    /// watch, or each part of a joined correlation (`id#0`, `id#1`, …, each versioned by
    /// its query).
    pub fn watches(&self) -> Vec<(RuleKey, Watch)> {
        let Some(joined) = &self.joined else {
            return vec![(self.key(), self.watch())];
        };
        joined
            .parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let digest = Sha256::digest(part.to_string().as_bytes());
                let key = RuleKey {
                    id: format!("{}#{i}", self.id),
                    version: digest[..6].iter().map(|b| format!("{b:02x}")).collect(),
                };
                let watch = Watch {
                    query: part.clone(),
                    per_event: false,
                    group: group_fields(part),
                };
                (key, watch)
            })
            .collect()
    }
}

/// The fields whose values name the groups a rule fires for: its `by` fields, else what
/// its `top` lists or its `rare` field; none for a filter alone.
pub fn group_fields(query: &Query) -> Vec<String> {
    match &query.command {
        _ if !query.by().is_empty() => query.by().to_vec(),
        Some(Command::Top { fields, .. }) => fields.clone(),
        Some(Command::Rare { field, .. }) => vec![field.clone()],
        _ => Vec::new(),
    }
}

/// What a rule may compute: a filter alone, or the aggregates its threshold compares.
fn check_command(query: &Query) -> Result<(), String> {
    if query.index.is_some() {
        return Err(
            "a rule watches every file as it arrives: no @index= in its query (name the \
             events by their fields)"
                .to_string(),
        );
    }
    if query.earliest.is_some() || query.latest.is_some() {
        return Err(
            "a rule's time range is its window: no earliest= or latest= in its query".to_string(),
        );
    }
    if let Some(stage) = query.stages.first() {
        // The ingest pass evaluates a rule's search only: refused, never half-run.
        let name = stage.to_string();
        let name = name.split_whitespace().next().unwrap_or_default();
        return Err(format!(
            "`{name}` does not run in rules yet: a rule's query is a search, then stats, top or rare"
        ));
    }
    if !shared_sketch::partial::HitRank::of(query).newest() {
        // A rule's samples are the newest events of each minute.
        return Err(
            "`sort` and `dedup` do not run on a rule's events: it alerts on every match, \
             with the newest as samples"
                .to_string(),
        );
    }
    match &query.command {
        None | Some(Command::Stats { .. } | Command::Top { .. } | Command::Rare { .. }) => Ok(()),
        Some(Command::Timechart { .. }) => Err(
            "a rule's window is its time bucket: write `| stats … by …` rather than `timechart`"
                .to_string(),
        ),
    }
}

/// Where the top-level `key:` is written (1-based line, and the column of its value), or
/// the file's start when it is not found.
fn key_position(text: &str, key: &str) -> (usize, usize) {
    for (i, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            let value = rest.len() - rest.trim_start().len();
            return (i + 1, key.len() + 2 + value);
        }
    }
    (1, 1)
}

/// The first character of a top-level key's value on its own line.
fn value_start(text: &str, key: &str) -> Option<char> {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.trim_start().chars().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"id: ssh-brute-force
name: SSH brute force
severity: high
tags: [attack.t1110]
query: dst_port:22 | stats count by src_ip | where count > 2
window: 1h
every: 5m
tests:
  - name: three sessions fire
    events:
      - {"src_ip": "192.0.2.45", "dst_port": 22}
      - {"src_ip": "192.0.2.45", "dst_port": 22}
      - {"src_ip": "192.0.2.45", "dst_port": 22}
    expect: fire
    group: ["192.0.2.45"]
"#;

    fn read(text: &str) -> Result<Rule, RuleError> {
        parse_rule(Path::new("rules/r.yml"), text)
    }

    #[test]
    fn a_rule_reads_with_its_defaults() {
        let rule = read(GOOD).unwrap();
        assert_eq!(rule.id, "ssh-brute-force");
        assert_eq!(rule.severity, Severity::High);
        assert_eq!((rule.window, rule.every), (3600, 300));
        assert_eq!(rule.state, RuleState::Active);
        assert_eq!(
            rule.dedup,
            Dedup {
                fields: vec!["src_ip".into()],
                period: 3600
            }
        );
        assert_eq!(rule.tests[0].events.len(), 3);
    }

    #[test]
    fn a_query_that_does_not_parse_is_pointed_at() {
        let bad = GOOD.replace("| where count > 2", "| where count >");
        let e = read(&bad).unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        // `query: ` is 7 characters; the parser stops at the end of the query text.
        let end = 7 + "dst_port:22 | stats count by src_ip | where count >".len();
        assert!(e.column > 7 && e.column <= end + 1, "{e}");
        assert!(e.to_string().starts_with("rules/r.yml:5:"), "{e}");
    }

    #[test]
    fn a_rule_query_may_be_longer_than_a_typed_one() {
        let values: Vec<String> = (0..2000).map(|i| format!("user:u{i}")).collect();
        let long = values.join(" OR ");
        assert!(long.len() > shared_sketch::limits::MAX_QUERY_LEN);
        let text = GOOD.replace(
            "query: dst_port:22 | stats count by src_ip | where count > 2",
            &format!("query: ({long}) | stats count by src_ip | where count > 2"),
        );
        assert!(read(&text).is_ok());
        let too_long = "x OR ".repeat(MAX_RULE_QUERY_LEN / 5 + 1);
        let e = read(&GOOD.replace("dst_port:22", &too_long)).unwrap_err();
        assert!(e.message.contains("longer than"), "{e}");
    }

    #[test]
    fn yaml_and_shape_errors_say_where() {
        let e = read("id: x\nname: [unclosed\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = read(&GOOD.replace("severity: high", "severity: urgent")).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e = read(&format!("{GOOD}colour: red\n")).unwrap_err();
        assert!(e.message.contains("colour"), "{e}");
    }

    #[test]
    fn what_a_rule_may_not_say_is_refused_at_its_key() {
        for (from, to, line) in [
            ("every: 5m", "every: 2h", 7),
            ("window: 1h", "window: soon", 6),
            ("id: ssh-brute-force", "id: SSH Brute", 1),
            (
                "query: dst_port:22 | stats count by src_ip | where count > 2",
                "query: dst_port:22 | timechart count",
                5,
            ),
            (
                "query: dst_port:22 | stats count by src_ip | where count > 2",
                "query: dst_port:22 | eval kb = bytes / 1024 | stats count by src_ip",
                5,
            ),
            (
                "    group: [\"192.0.2.45\"]",
                "    group: [\"a\", \"b\"]",
                8,
            ),
        ] {
            let e = read(&GOOD.replace(from, to)).unwrap_err();
            assert_eq!(e.line, line, "{to}: {e}");
        }
    }
}
