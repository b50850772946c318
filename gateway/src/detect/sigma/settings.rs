//! How a folder's Sigma rules run, which they do not say themselves (`sigma.yml`), and the
//! rule fields every Sigma rule and correlation maps alike.

use std::path::Path;

use rsigma_parser::{Level, Status};
use serde::Deserialize;
use shared_sketch::query::parse_span;

use super::logsources::{Entry, Logsources};
use crate::detect::rule::{RuleState, Severity};

/// The file at the top of a rules folder saying how its Sigma rules run (it is not a rule).
pub const FOLDER_FILE: &str = "sigma.yml";

/// How Sigma rules run, which say nothing of it themselves: where their alerts go, their
/// state, their window, and how log sources map. The defaults, then a rules folder's
/// `sigma.yml`:
///
/// ```yaml
/// sinks: [soc-slack]      # where alerts go (default: none, recorded only)
/// state: staging          # active (default), staging or paused
/// window: 5m              # one alert per rule per window of matches (default 5m)
/// logsources:             # added to (and overriding) the shipped mappings
///   - logsource: {product: okta}
///     events: 'eventType:*'
/// ```
#[derive(Debug, Clone)]
pub struct Settings {
    pub sinks: Vec<String>,
    pub state: RuleState,
    /// Seconds.
    pub window: u32,
    pub sources: Logsources,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenSettings {
    #[serde(default)]
    sinks: Vec<String>,
    state: Option<RuleState>,
    window: Option<String>,
    #[serde(default)]
    logsources: Vec<Entry>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            sinks: Vec::new(),
            state: RuleState::Active,
            // Sigma rules match single events: the window is only how often their alerts
            // are raised (one per rule per window, with the count and sample events).
            window: 300,
            sources: Logsources::shipped(),
        }
    }
}

impl Settings {
    /// The defaults, then `dir`'s `sigma.yml` when it has one.
    pub fn for_folder(dir: &Path) -> Result<Settings, String> {
        let mut settings = Settings::default();
        let file = dir.join(FOLDER_FILE);
        if file.is_file() {
            settings.add_file(&file)?;
        }
        Ok(settings)
    }

    /// What `file` says, over what was read before.
    pub fn add_file(&mut self, file: &Path) -> Result<(), String> {
        let fail = |e: String| format!("{}: {e}", file.display());
        let text =
            std::fs::read_to_string(file).map_err(|e| fail(format!("cannot read it: {e}")))?;
        let written: WrittenSettings =
            yaml_serde::from_str(&text).map_err(|e| fail(e.to_string()))?;
        if let Some(sink) = written.sinks.iter().find(|s| s.trim().is_empty()) {
            return Err(fail(format!("a sink name is empty: {sink:?}")));
        }
        if !written.sinks.is_empty() {
            self.sinks = written.sinks;
        }
        if let Some(state) = written.state {
            self.state = state;
        }
        if let Some(window) = written.window {
            self.window = parse_span(window.trim())
                .ok_or_else(|| fail(format!("window {window:?} is not a span: 5m, 1h, …")))?;
        }
        self.sources.extend(written.logsources).map_err(fail)
    }
}

/// A Sigma `level` as a severity (`medium` when it says none).
pub(super) fn severity(level: Option<Level>) -> Severity {
    match level {
        Some(Level::Informational) => Severity::Info,
        Some(Level::Low) => Severity::Low,
        Some(Level::High) => Severity::High,
        Some(Level::Critical) => Severity::Critical,
        Some(Level::Medium) | None => Severity::Medium,
    }
}

/// A Sigma rule's state: SigmaHQ's retired rules are kept, not run; the others as the
/// folder's `sigma.yml` says.
pub(super) fn state(status: Option<Status>, settings: &Settings) -> RuleState {
    match status {
        Some(Status::Deprecated | Status::Unsupported) => RuleState::Paused,
        _ => settings.state,
    }
}

/// A rule without an id is named by its file: `aws_root_login.yml` → `aws_root_login`.
pub(super) fn id_from(file: &Path) -> String {
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
