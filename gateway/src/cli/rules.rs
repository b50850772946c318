//! `sketchlake rules …`: a rules folder checked, its rules' tests run, and its rules listed
//! (docs/DETECTIONS.md). Each exits 1 when anything is refused or fails, naming each.

use std::path::PathBuf;

use anyhow::{Context, Result};
use gateway::detect::{self, Rules};
use shared_sketch::query::format_span;

#[derive(clap::Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    action: RulesAction,
}

#[derive(clap::Subcommand)]
enum RulesAction {
    /// Read every rule file under DIR: each that does not read is named with its line,
    /// column and why.
    Validate { dir: PathBuf },
    /// Run every rule's tests: each failure is named with what fired instead.
    Test { dir: PathBuf },
    /// The rules under DIR, one a line: id, state, severity, window, every, name.
    List { dir: PathBuf },
}

pub fn rules(args: RulesArgs) -> Result<()> {
    match args.action {
        RulesAction::Validate { dir } => {
            let rules = load(&dir)?;
            println!(
                "{} rules read, {} refused",
                rules.rules.len(),
                rules.refused.len()
            );
            finish(refused(&rules))
        }
        RulesAction::Test { dir } => {
            let rules = load(&dir)?;
            let refused = refused(&rules);
            let (mut tests, mut failed, mut untested) = (0, 0, Vec::new());
            for rule in rules.rules.values() {
                if rule.tests.is_empty() {
                    untested.push(rule.id.as_str());
                }
                for checked in detect::check(rule) {
                    tests += 1;
                    if let Some(why) = checked.failure {
                        eprintln!(
                            "FAIL {} ({}): {}: {why}",
                            checked.rule,
                            rule.file.display(),
                            checked.test
                        );
                        failed += 1;
                    }
                }
            }
            if !untested.is_empty() {
                eprintln!("rules without tests: {}", untested.join(", "));
            }
            println!(
                "{tests} tests of {} rules: {failed} failed; {refused} rule files refused",
                rules.rules.len(),
            );
            finish(failed + refused)
        }
        RulesAction::List { dir } => {
            let rules = load(&dir)?;
            for rule in rules.rules.values() {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    rule.id,
                    rule.state.name(),
                    rule.severity.name(),
                    format_span(rule.window),
                    format_span(rule.every),
                    rule.name
                );
            }
            finish(refused(&rules))
        }
    }
}

fn load(dir: &std::path::Path) -> Result<Rules> {
    detect::load(dir).with_context(|| format!("cannot read the rules folder {}", dir.display()))
}

/// Names every refused file on stderr; how many.
fn refused(rules: &Rules) -> usize {
    for e in &rules.refused {
        eprintln!("refused: {e}");
    }
    rules.refused.len()
}

fn finish(failures: usize) -> Result<()> {
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}
