//! Sigma rules (SigmaHQ's format), read with `rsigma-parser` and converted into sketchlake
//! rules: the detection becomes a search in the query language (`convert`), the
//! `logsource` picks the events it sees and names their fields (`logsources`). They then
//! run on the detection engine as any rule does. Why, and how the answers were checked
//! against pySigma: docs/decisions/0015-sigma-rules.md.

mod convert;
mod correlate;
mod logsources;
mod settings;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rsigma_parser::{SigmaCollection, SigmaRule};
use shared_sketch::limits::MAX_RULE_QUERY_LEN;
use shared_sketch::parse;
use shared_sketch::query::{Expr, parse_with_limit};

pub use convert::Refused;
use correlate::{Base, correlate};
pub use logsources::{Entry, Logsources};
pub use settings::{FOLDER_FILE, Settings};
use settings::{id_from, severity, state};

use super::rule::{Dedup, Rule, RuleError, RuleState};

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

/// Every rule of the Sigma files `files` (path, text), per file in their order: read
/// together, as a correlation names rules of any file beside it. `Err` for a file that
/// does not read as Sigma at all.
pub fn read_files(
    files: &[(PathBuf, String)],
    settings: &Settings,
) -> Vec<(PathBuf, Result<Vec<Converted>, RuleError>)> {
    // Every file parsed and its rules converted, once.
    let read: Vec<(&PathBuf, Result<Parsed, RuleError>)> = files
        .iter()
        .map(|(file, text)| {
            let parsed = parse_file(file, text).map(|collection| Parsed {
                unconditioned: unconditioned(text),
                rules: collection
                    .rules
                    .iter()
                    .map(|sigma| {
                        let fields = settings
                            .sources
                            .find(&sigma.logsource)
                            .map(|m| m.fields.clone())
                            .unwrap_or_default();
                        (convert(file, sigma, settings), fields)
                    })
                    .collect(),
                collection,
            });
            (file, parsed)
        })
        .collect();
    // The rules a correlation may name, by their ids and names.
    let mut named: HashMap<&str, &Conversion> = HashMap::new();
    for (_, parsed) in &read {
        let Ok(parsed) = parsed else { continue };
        for (sigma, conversion) in parsed.collection.rules.iter().zip(&parsed.rules) {
            for name in sigma.id.iter().chain(&sigma.name) {
                named.insert(name, conversion);
            }
        }
    }
    let mut out: Vec<(PathBuf, Result<Vec<Converted>, RuleError>)> = Vec::new();
    let mut quiet: Vec<String> = Vec::new();
    let mut loud: Vec<String> = Vec::new();
    for (file, parsed) in &read {
        let parsed = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                out.push(((*file).clone(), Err(e.clone())));
                continue;
            }
        };
        let collection = &parsed.collection;
        let mut rules: Vec<Converted> = collection
            .rules
            .iter()
            .zip(&parsed.rules)
            .map(|(sigma, (converted, _))| match converted {
                Ok(rule) => Converted::Rule(Box::new(rule.clone())),
                Err(refused) => Converted::Refused {
                    id: sigma.id.clone(),
                    title: sigma.title.clone(),
                    refused: refused.clone(),
                },
            })
            .collect();
        for correlation in &collection.correlations {
            let bases = correlation
                .rules
                .iter()
                .map(|name| match named.get(name.as_str()) {
                    Some((Ok(rule), fields)) => Ok(Base { rule, fields }),
                    Some((Err(why), _)) => Err(Refused {
                        feature: "correlation".to_string(),
                        detail: format!("the rule {name:?} it correlates is refused: {why}"),
                    }),
                    None => Err(Refused {
                        feature: "correlation".to_string(),
                        detail: format!("no Sigma rule beside it has the id or name {name:?}"),
                    }),
                })
                .collect::<Result<Vec<Base<'_>>, Refused>>();
            let unconditioned = parsed.unconditioned.contains(&correlation.title);
            match bases
                .and_then(|bases| correlate(file, correlation, &bases, settings, unconditioned))
            {
                Ok(rule) => {
                    let used =
                        correlation
                            .rules
                            .iter()
                            .filter_map(|n| match named.get(n.as_str()) {
                                Some((Ok(base), _)) => Some(base.id.clone()),
                                _ => None,
                            });
                    if correlation.generate {
                        loud.extend(used);
                    } else {
                        quiet.extend(used);
                    }
                    rules.push(Converted::Rule(Box::new(rule)));
                }
                Err(refused) => rules.push(Converted::Refused {
                    id: correlation.id.clone(),
                    title: correlation.title.clone(),
                    refused,
                }),
            }
        }
        for filter in &collection.filters {
            rules.push(Converted::Refused {
                id: filter.id.clone(),
                title: filter.title.clone(),
                refused: Refused {
                    feature: "filter".to_string(),
                    detail: "Sigma filters (exclusions applied to other rules)".to_string(),
                },
            });
        }
        if rules.is_empty() {
            out.push((
                (*file).clone(),
                Err(file_error(file, "a Sigma file without a rule".to_string())),
            ));
            continue;
        }
        out.push(((*file).clone(), Ok(rules)));
    }
    // A rule a correlation uses raises no alerts of its own unless one says `generate`.
    for (_, read) in &mut out {
        for converted in read.iter_mut().flatten() {
            if let Converted::Rule(rule) = converted
                && quiet.contains(&rule.id)
                && !loud.contains(&rule.id)
            {
                rule.state = RuleState::Paused;
            }
        }
    }
    out
}

/// A Sigma file read: its documents, and each rule converted (with its log source's field
/// names, which a correlation over it groups by).
struct Parsed {
    collection: SigmaCollection,
    rules: Vec<Conversion>,
    /// The titles of its correlations written without a `condition`.
    unconditioned: Vec<String>,
}

/// The titles of the correlations in `text` written without a `condition`: a temporal
/// one then needs all its rules (the parser fills in "at least one").
fn unconditioned(text: &str) -> Vec<String> {
    use serde::de::Deserialize as _;
    let mut out = Vec::new();
    for document in yaml_serde::Deserializer::from_str(text) {
        let Ok(value) = yaml_serde::Value::deserialize(document) else {
            break;
        };
        let Some(correlation) = value.get("correlation") else {
            continue;
        };
        if correlation.get("condition").is_none()
            && let Some(title) = value.get("title").and_then(|t| t.as_str())
        {
            out.push(title.to_string());
        }
    }
    out
}

/// A Sigma rule converted, and its log source's field names.
type Conversion = (Result<Rule, Refused>, BTreeMap<String, String>);

fn file_error(file: &Path, message: String) -> RuleError {
    RuleError {
        file: file.to_path_buf(),
        line: 1,
        column: 1,
        message,
    }
}

fn parse_file(file: &Path, text: &str) -> Result<SigmaCollection, RuleError> {
    let collection = rsigma_parser::parse_sigma_yaml(text)
        .map_err(|e| file_error(file, format!("not a Sigma rule: {e}")))?;
    if let Some(first) = collection.errors.first() {
        return Err(file_error(file, format!("not a Sigma rule: {first}")));
    }
    Ok(collection)
}

/// The sketchlake rule a Sigma rule is.
fn convert(file: &Path, sigma: &SigmaRule, settings: &Settings) -> Result<Rule, Refused> {
    let Some(mapped) = settings.sources.find(&sigma.logsource) else {
        return Err(Refused {
            feature: "logsource".to_string(),
            detail: format!(
                "no mapping for {}; add one to the rules folder's {FOLDER_FILE}",
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
        severity: severity(sigma.level),
        tags: sigma.tags.clone(),
        text,
        query,
        dataset: super::Dataset::Logs,
        window: settings.window,
        every: settings.window,
        dedup: Dedup {
            fields: Vec::new(),
            period: settings.window,
        },
        sinks: settings.sinks.clone(),
        state: state(sigma.status, settings),
        tests: Vec::new(),
        file: file.to_path_buf(),
        joined: None,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Severity, load};

    const SIGMA: &str = "title: Okta MFA reset
id: 1f2e3d4c-0000-4000-8000-000000000001
status: test
level: high
logsource: {product: okta, service: okta}
detection:
    selection:
        eventType: user.mfa.factor.reset_all
    condition: selection
";

    #[test]
    fn a_folder_runs_its_sigma_rules_as_its_sigma_yml_says() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("okta_mfa_reset.yml"), SIGMA).unwrap();
        std::fs::write(
            dir.path().join("ssh.yml"),
            "id: ssh\nname: SSH\nseverity: low\nquery: dst_port:22\nwindow: 1h\n",
        )
        .unwrap();
        // Without a mapping for Okta, the Sigma rule is refused naming its logsource.
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.rules.len(), 1);
        assert!(
            loaded.refused[0]
                .message
                .contains("{product: okta, service: okta}"),
            "{}",
            loaded.refused[0]
        );

        std::fs::write(
            dir.path().join(FOLDER_FILE),
            "sinks: [soc]\nstate: staging\nwindow: 15m\nlogsources:\n  - logsource: {product: okta}\n    events: 'eventType:*'\n",
        )
        .unwrap();
        let loaded = load(dir.path()).unwrap();
        assert!(loaded.refused.is_empty(), "{:?}", loaded.refused);
        let rule = &loaded.rules["1f2e3d4c-0000-4000-8000-000000000001"];
        assert_eq!(rule.name, "Okta MFA reset");
        assert_eq!(rule.severity, Severity::High);
        assert_eq!(rule.sinks, ["soc"]);
        assert_eq!(rule.state, RuleState::Staging);
        assert_eq!(
            (rule.window, rule.every, rule.dedup.period),
            (900, 900, 900)
        );
        assert_eq!(
            rule.text,
            r#"eventType:* AND eventType:"user.mfa.factor.reset_all""#
        );
        assert!(loaded.rules.contains_key("ssh"));

        // A `sigma.yml` that does not read is refused; the rules run as by default.
        std::fs::write(dir.path().join(FOLDER_FILE), "sinks: [soc]\ncolour: red\n").unwrap();
        let loaded = load(dir.path()).unwrap();
        assert!(loaded.refused.iter().any(|e| e.message.contains("colour")));
    }

    #[test]
    fn sigma_is_told_from_sketchlake_rules_by_its_keys() {
        assert!(is_sigma(SIGMA));
        assert!(is_sigma("title: c\ncorrelation:\n  type: event_count\n"));
        assert!(!is_sigma("id: x\nname: y\nquery: detection:1\n"));
    }
}
