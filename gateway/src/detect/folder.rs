//! A rules folder: every `*.yml` and `*.yaml` file under it (hidden ones skipped), one
//! rule each. A file that does not read is refused with its place and why, and the other
//! rules still load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::rule::{Rule, RuleError, parse_rule};

/// The largest rule file read: a rule with its tests, not a data set.
const MAX_RULE_FILE: u64 = 4 << 20;

/// What a rules folder holds: the rules that read, by id, and the files that do not.
#[derive(Debug, Default)]
pub struct Rules {
    pub rules: BTreeMap<String, Rule>,
    pub refused: Vec<RuleError>,
}

/// Reads every rule file under `dir`. Fails only when `dir` itself cannot be read.
pub fn load(dir: &Path) -> std::io::Result<Rules> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    let mut loaded = Rules::default();
    for file in files {
        let refuse = |message: String| RuleError {
            file: file.clone(),
            line: 1,
            column: 1,
            message,
        };
        let text = match std::fs::metadata(&file) {
            Ok(meta) if meta.len() > MAX_RULE_FILE => Err(format!(
                "{} bytes: a rule file is at most {MAX_RULE_FILE}",
                meta.len()
            )),
            _ => std::fs::read_to_string(&file).map_err(|e| format!("cannot read it: {e}")),
        };
        let rule = text
            .map_err(refuse)
            .and_then(|text| parse_rule(&file, &text));
        match rule {
            Ok(rule) => match loaded.rules.get(&rule.id) {
                Some(first) => loaded.refused.push(RuleError {
                    message: format!("the id {:?} is taken by {}", rule.id, first.file.display()),
                    ..refuse(String::new())
                }),
                None => {
                    loaded.rules.insert(rule.id.clone(), rule);
                }
            },
            Err(e) => loaded.refused.push(e),
        }
    }
    Ok(loaded)
}

/// The rule files under `dir` with their size and modification time: a folder whose
/// stamp is unchanged holds the same rules.
pub fn stamp(dir: &Path) -> std::io::Result<Vec<(PathBuf, u64, Option<SystemTime>)>> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    Ok(files
        .into_iter()
        .map(|file| {
            let meta = std::fs::metadata(&file).ok();
            let size = meta.as_ref().map_or(0, std::fs::Metadata::len);
            let modified = meta.and_then(|m| m.modified().ok());
            (file, size, modified)
        })
        .collect())
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, files)?;
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            files.push(path);
        }
    }
    Ok(())
}
