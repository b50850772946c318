//! The rules a gateway runs, from a rules folder kept in git: read at start, and read
//! again whenever a file in it changes, without a restart. A rule whose file stops reading
//! (a broken edit, a half-written save) keeps running as it last read, and the error is
//! shown, so a typo never switches a detection off.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use lake::rollups::Watching;

use super::folder::{load, stamp};
use super::rule::{Dataset, Rule, RuleError, RuleState};

/// The rules as last read.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rules: BTreeMap<String, Rule>,
    /// Files that do not read, and why.
    pub refused: Vec<RuleError>,
    /// Ids of rules whose file no longer reads, running as they last read.
    pub kept: Vec<String>,
}

impl Loaded {
    /// The rules ingest evaluates: active ones and those in staging, over the logs.
    pub fn watching(&self) -> Watching {
        Watching::new(
            self.rules
                .values()
                .filter(|r| r.state != RuleState::Paused && r.dataset == Dataset::Logs)
                .flat_map(Rule::watches)
                .collect(),
        )
    }
}

type Stamp = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// A rules folder, and the rules it last held.
#[derive(Debug)]
pub struct RuleBook {
    dir: PathBuf,
    /// The folder's stamp when last read (none before), and what it held.
    current: RwLock<(Option<Stamp>, Arc<Loaded>)>,
}

impl RuleBook {
    /// Reads the rules in `dir`; fails only when `dir` cannot be read.
    pub fn open(dir: &Path) -> std::io::Result<RuleBook> {
        let book = RuleBook {
            dir: dir.to_path_buf(),
            current: RwLock::new((None, Arc::new(Loaded::default()))),
        };
        book.reload()?;
        Ok(book)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The rules as last read.
    pub fn loaded(&self) -> Arc<Loaded> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        current.1.clone()
    }

    /// Reads the folder again if a file in it changed; returns whether it did. An
    /// unreadable folder leaves the rules as they were.
    pub fn reload(&self) -> std::io::Result<bool> {
        let now = stamp(&self.dir)?;
        let previous = {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            if current.0.as_ref() == Some(&now) {
                return Ok(false);
            }
            current.1.clone()
        };
        let read = load(&self.dir)?;
        let mut loaded = Loaded {
            rules: read.rules,
            refused: read.refused,
            kept: Vec::new(),
        };
        for error in &loaded.refused {
            let last_good = previous.rules.values().find(|r| r.file == error.file);
            if let Some(rule) = last_good
                && !loaded.rules.contains_key(&rule.id)
            {
                tracing::warn!(rule = %rule.id, %error, "rule file no longer reads; running its last good version");
                loaded.kept.push(rule.id.clone());
                loaded.rules.insert(rule.id.clone(), rule.clone());
            } else {
                tracing::warn!(%error, "rule file refused");
            }
        }
        tracing::info!(dir = %self.dir.display(), rules = loaded.rules.len(), refused = loaded.refused.len(), "rules read");
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *current = (Some(now), Arc::new(loaded));
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "id: a\nname: A\nseverity: low\nquery: \"dst_port:22\"\nwindow: 5m\n";

    #[test]
    fn a_broken_edit_keeps_the_last_good_rule_and_a_fix_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.yml");
        std::fs::write(&file, RULE).unwrap();
        let book = RuleBook::open(dir.path()).unwrap();
        assert_eq!(book.loaded().rules["a"].text, "dst_port:22");
        assert!(!book.reload().unwrap(), "nothing changed");

        std::fs::write(&file, format!("{RULE}oops: [\n")).unwrap();
        assert!(book.reload().unwrap());
        let loaded = book.loaded();
        assert_eq!(loaded.rules["a"].text, "dst_port:22");
        assert_eq!(loaded.kept, ["a"]);
        assert_eq!(loaded.refused.len(), 1);

        std::fs::write(&file, RULE.replace("22", "23")).unwrap();
        assert!(book.reload().unwrap());
        let loaded = book.loaded();
        assert_eq!(loaded.rules["a"].text, "dst_port:23");
        assert!(loaded.kept.is_empty() && loaded.refused.is_empty());

        std::fs::remove_file(&file).unwrap();
        book.reload().unwrap();
        assert!(book.loaded().rules.is_empty());
    }
}
