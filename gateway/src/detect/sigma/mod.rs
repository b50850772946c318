//! Sigma rules (SigmaHQ's format), read with `rsigma-parser` and converted into sketchlake
//! rules: the detection becomes a search in the query language (`convert`), the
//! `logsource` picks the events it sees and names their fields (`logsources`). They then
//! run on the detection engine as any rule does. Why, and how the answers were checked
//! against pySigma: docs/decisions/0015-sigma-rules.md.

mod convert;
mod logsources;

use std::collections::HashMap;
use std::path::Path;

use rsigma_parser::{Level, SigmaRule, Status};
use shared_sketch::limits::MAX_RULE_QUERY_LEN;
use shared_sketch::parse;
use shared_sketch::query::{Expr, parse_with_limit};

pub use convert::Refused;
pub use logsources::{FOLDER_FILE, Logsources};

use super::rule::{Dedup, Rule, RuleError, RuleState, Severity};

/// The window and period a Sigma rule runs with: Sigma rules match single events, so this
/// is only how often their alerts are raised (one per rule per window, with the count
/// and sample events).
const WINDOW: u32 = 300;

/// Whether `text` is a Sigma document rather than a sketchlake rule: a top-level
/// `detection` with a `logsource`, or a `correlation`.
pub fn is_sigma(text: &str) -> bool {
    let has = |key: &str| {
        text.lines().any(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
    };
    (has("detection") && has("logsource")) || has("correlation")
}

/// One rule of a Sigma file: converted, or refused with the feature it needs.
#[derive(Debug)]
pub enum Converted {
    Rule(Box<Rule>),
    Refused {
        id: Option<String>,
        title: String,
        refused: Refused,
    },
}

/// Every rule in the Sigma file `file` holding `text`. `Err` when the file does not read
/// as Sigma at all.
pub fn read(file: &Path, text: &str, sources: &Logsources) -> Result<Vec<Converted>, RuleError> {
    let error = |message: String| RuleError {
        file: file.to_path_buf(),
        line: 1,
        column: 1,
        message,
    };
    let collection = rsigma_parser::parse_sigma_yaml(text)
        .map_err(|e| error(format!("not a Sigma rule: {e}")))?;
    if let Some(first) = collection.errors.first() {
        return Err(error(format!("not a Sigma rule: {first}")));
    }
    let mut out: Vec<Converted> = collection
        .rules
        .iter()
        .map(|rule| match convert(file, rule, sources) {
            Ok(converted) => Converted::Rule(Box::new(converted)),
            Err(refused) => Converted::Refused {
                id: rule.id.clone(),
                title: rule.title.clone(),
                refused,
            },
        })
        .collect();
    for correlation in &collection.correlations {
        out.push(Converted::Refused {
            id: correlation.id.clone(),
            title: correlation.title.clone(),
            refused: Refused {
                feature: "correlation".to_string(),
                detail: format!(
                    "{} correlations are not converted yet",
                    correlation.correlation_type.as_str()
                ),
            },
        });
    }
    for filter in &collection.filters {
        out.push(Converted::Refused {
            id: filter.id.clone(),
            title: filter.title.clone(),
            refused: Refused {
                feature: "filter".to_string(),
                detail: "Sigma filters (exclusions applied to other rules)".to_string(),
            },
        });
    }
    if out.is_empty() {
        return Err(error("a Sigma file without a rule".to_string()));
    }
    Ok(out)
}

/// The sketchlake rule a Sigma rule is.
fn convert(file: &Path, sigma: &SigmaRule, sources: &Logsources) -> Result<Rule, Refused> {
    let Some(mapped) = sources.find(&sigma.logsource) else {
        return Err(Refused {
            feature: "logsource".to_string(),
            detail: format!(
                "no mapping for {}; add one to {FOLDER_FILE}",
                describe(&sigma.logsource)
            ),
        });
    };
    let fields: HashMap<&str, &str> = mapped
        .fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let detection = convert::detection(sigma, &fields)?;
    let events = parse(&mapped.events)
        .map_err(|e| Refused {
            feature: "logsource".to_string(),
            detail: format!("events {:?} does not parse: {e}", mapped.events),
        })?
        .search;
    let search = match events {
        Some(events) => Expr::And(vec![events, detection]),
        None => detection,
    };
    let text = search.to_string();
    let query = parse_with_limit(&text, MAX_RULE_QUERY_LEN).map_err(|e| Refused {
        feature: "query".to_string(),
        detail: e.message,
    })?;
    let id = sigma.id.clone().unwrap_or_else(|| id_from(file));
    let id_ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if !id_ok {
        return Err(Refused {
            feature: "id".to_string(),
            detail: format!("the id {id:?} must be lower-case letters, digits, '-', '_' or '.'"),
        });
    }
    Ok(Rule {
        id,
        name: sigma.title.clone(),
        description: sigma.description.clone().unwrap_or_default(),
        severity: match sigma.level {
            Some(Level::Informational) => Severity::Info,
            Some(Level::Low) => Severity::Low,
            Some(Level::High) => Severity::High,
            Some(Level::Critical) => Severity::Critical,
            Some(Level::Medium) | None => Severity::Medium,
        },
        tags: sigma.tags.clone(),
        text,
        query,
        dataset: super::Dataset::Logs,
        window: WINDOW,
        every: WINDOW,
        dedup: Dedup {
            fields: Vec::new(),
            period: WINDOW,
        },
        sinks: Vec::new(),
        // SigmaHQ's retired rules are kept, not run.
        state: match sigma.status {
            Some(Status::Deprecated | Status::Unsupported) => RuleState::Paused,
            _ => RuleState::Active,
        },
        tests: Vec::new(),
        file: file.to_path_buf(),
    })
}

/// A rule without an id is named by its file: `aws_root_login.yml` → `aws_root_login`.
fn id_from(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn describe(logsource: &rsigma_parser::LogSource) -> String {
    let mut keys: Vec<String> = [
        ("product", &logsource.product),
        ("category", &logsource.category),
        ("service", &logsource.service),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
    .collect();
    let mut custom: Vec<_> = logsource.custom.iter().collect();
    custom.sort();
    keys.extend(custom.into_iter().map(|(k, v)| format!("{k}: {v}")));
    format!("{{{}}}", keys.join(", "))
}
