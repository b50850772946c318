//! A rules folder: every `*.yml` and `*.yaml` file under it (hidden ones skipped), one
//! sketchlake rule or Sigma rules each (and `sigma.yml`, how the Sigma rules run). A file that does not read, or a Sigma rule that cannot be converted, is
//! refused with its place and why, and the other rules still load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::rule::{Rule, RuleError, parse_rule};
use super::sigma::{self, Converted, Settings};

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
    // A `sigma.yml` that does not read is refused, and the Sigma rules run as by default.
    let settings = Settings::for_folder(dir).unwrap_or_else(|message| {
        loaded.refused.push(RuleError {
            file: dir.join(sigma::FOLDER_FILE),
            line: 1,
            column: 1,
            message,
        });
        Settings::default()
    });
    let settings_file = dir.join(sigma::FOLDER_FILE);
    files.retain(|f| *f != settings_file);
    for (file, rules) in read_rule_files(&files, &settings) {
        match rules {
            Ok(rules) => {
                for converted in rules {
                    match converted {
                        Converted::Rule(rule) => loaded.add(*rule),
                        Converted::Refused { title, refused, .. } => {
                            loaded.refused.push(RuleError {
                                file: file.clone(),
                                line: 1,
                                column: 1,
                                message: format!("Sigma rule {title:?} refused: {refused}"),
                            });
                        }
                    }
                }
            }
            Err(e) => loaded.refused.push(e),
        }
    }
    Ok(loaded)
}

/// The rules of each of `files`, in their order: a sketchlake rule, or Sigma rules (read
/// together, as a correlation names rules of other files), converted or refused; `Err`
/// for a file that does not read.
pub fn read_rule_files(
    files: &[PathBuf],
    settings: &Settings,
) -> Vec<(PathBuf, Result<Vec<Converted>, RuleError>)> {
    let texts: Vec<Result<String, RuleError>> = files
        .iter()
        .map(|file| {
            let text = match std::fs::metadata(file) {
                Ok(meta) if meta.len() > MAX_RULE_FILE => Err(format!(
                    "{} bytes: a rule file is at most {MAX_RULE_FILE}",
                    meta.len()
                )),
                _ => std::fs::read_to_string(file).map_err(|e| format!("cannot read it: {e}")),
            };
            text.map_err(|message| RuleError {
                file: file.clone(),
                line: 1,
                column: 1,
                message,
            })
        })
        .collect();
    // Sigma files are read together; a sketchlake rule's text stays here (`Some`).
    let mut sigma_files: Vec<(PathBuf, String)> = Vec::new();
    let own: Vec<Result<Option<String>, RuleError>> = files
        .iter()
        .zip(texts)
        .map(|(file, text)| {
            text.map(|text| {
                if sigma::is_sigma(&text) {
                    sigma_files.push((file.clone(), text));
                    None
                } else {
                    Some(text)
                }
            })
        })
        .collect();
    let mut sigma_read = sigma::read_files(&sigma_files, settings).into_iter();
    files
        .iter()
        .zip(own)
        .map(|(file, text)| {
            let rules = match text {
                Ok(None) => sigma_read
                    .next()
                    .map_or_else(|| Ok(Vec::new()), |(_, read)| read),
                Ok(Some(text)) => {
                    parse_rule(file, &text).map(|rule| vec![Converted::Rule(Box::new(rule))])
                }
                Err(e) => Err(e),
            };
            (file.clone(), rules)
        })
        .collect()
}

impl Rules {
    /// Adds `rule`, unless its id is taken: then it is refused.
    fn add(&mut self, rule: Rule) {
        match self.rules.get(&rule.id) {
            Some(first) => self.refused.push(RuleError {
                message: format!("the id {:?} is taken by {}", rule.id, first.file.display()),
                file: rule.file,
                line: 1,
                column: 1,
            }),
            None => {
                self.rules.insert(rule.id.clone(), rule);
            }
        }
    }
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

/// The rule files at `path`: itself when a file, else every `*.yml` and `*.yaml` under it
/// (hidden ones skipped), in path order.
pub fn rule_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    walk(path, &mut files)?;
    files.sort();
    Ok(files)
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
