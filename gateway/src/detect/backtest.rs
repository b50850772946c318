//! `sketchlake rules backtest`: rules run over a file, folder or lake through the executors
//! on the ingest pass's own engine (the `Detector`, all rules in one pass per file, as
//! `backfill` runs them), without storing anything: per rule, the events it matches, in
//! all and per file, and for a threshold rule the groups that fire in any of its windows
//! (evaluated as its runs evaluate them, over the minutes).

use std::collections::{BTreeMap, BTreeSet};

use lake::LakeError;
use shared_sketch::partial::Partial;
use shared_sketch::{CodecError, MergeError};
use workers::Watch;

use super::rule::Rule;
use super::run::{minutes_in, window_ends, window_fires};
use crate::engine::Engine;
use crate::engine::planner::plan;

/// One rule's backtest.
#[derive(Debug, Clone, Default)]
pub struct Tested {
    pub matches: u64,
    /// Matches per file (files it matched in only), by the lake's name for the file.
    pub files: BTreeMap<String, u64>,
    /// A threshold rule's groups that fire in some window, as its runs would raise them.
    pub groups: Option<usize>,
}

/// What a backtest read, and each rule's answer, in the order the rules were given.
#[derive(Debug, Default)]
pub struct Backtested {
    pub rules: Vec<Tested>,
    pub files: u64,
    pub bytes: u64,
    /// Files that could not be read to the end, with why (what was read counts).
    pub unreadable: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("{file}: a worker's rollups do not decode: {source}")]
    Rollups { file: String, source: CodecError },
    #[error("rule {rule}: minutes do not merge: {source}")]
    Merge { rule: String, source: MergeError },
}

/// Evaluates `rules` over every file of the engine's lake.
pub async fn backtest(engine: &Engine, rules: &[Rule]) -> Result<Backtested, BacktestError> {
    let lake = engine.lake();
    // Each watch, and the rule it is for: a joined correlation has a watch per part.
    let (owners, watches): (Vec<usize>, Vec<Watch>) = rules
        .iter()
        .enumerate()
        .flat_map(|(i, rule)| rule.watches().into_iter().map(move |(_, w)| (i, w)))
        .unzip();
    let everything = shared_sketch::Query {
        search: None,
        earliest: None,
        latest: None,
        index: None,
        command: None,
        stages: Vec::new(),
        post: Vec::new(),
        hits: 0,
    };
    let planned = plan(lake, &everything, engine.scan()).await?;
    let mut done = Backtested {
        rules: vec![Tested::default(); rules.len()],
        bytes: planned.tasks.iter().map(|t| t.bytes).sum(),
        ..Backtested::default()
    };
    // Each threshold watch's minutes, each merged over the files.
    let mut minutes: Vec<BTreeMap<i64, Partial>> = vec![BTreeMap::new(); watches.len()];
    let mut answers =
        engine
            .executor()
            .detect(watches.clone().into(), engine.scan().clone(), planned.tasks);
    while let Some(answer) = answers.recv().await {
        done.files += 1;
        let file = lake.name_of(&answer.url);
        if let Some(why) = answer.error {
            done.unreadable.push((file.clone(), why));
        }
        for rollup in &answer.rollups {
            let decoded = rollup.partials().map_err(|source| BacktestError::Rollups {
                file: file.clone(),
                source,
            })?;
            for &i in std::iter::once(&rollup.rule).chain(&rollup.also) {
                let Some(&owner) = owners.get(i) else {
                    continue;
                };
                let (Some(tested), Some(rule)) = (done.rules.get_mut(owner), rules.get(owner))
                else {
                    continue;
                };
                for (minute, partial) in &decoded {
                    let n = partial.matched();
                    tested.matches += n;
                    *tested.files.entry(file.clone()).or_default() += n;
                    if !watches[i].per_event {
                        let kept = minutes[i]
                            .entry(*minute)
                            .or_insert_with(|| Partial::new(&watches[i].query));
                        kept.merge(partial).map_err(|source| BacktestError::Merge {
                            rule: rule.id.clone(),
                            source,
                        })?;
                    }
                }
            }
        }
    }
    // Each watch's minutes in minute order, as the runs read them from the catalog.
    let minutes: Vec<Vec<(i64, Partial)>> = minutes
        .into_iter()
        .map(|m| m.into_iter().collect())
        .collect();
    for (i, (tested, rule)) in done.rules.iter_mut().zip(rules).enumerate() {
        tested.files.retain(|_, n| *n > 0);
        let parts: Vec<&[(i64, Partial)]> = owners
            .iter()
            .zip(&minutes)
            .filter(|(owner, _)| **owner == i)
            .map(|(_, m)| m.as_slice())
            .collect();
        if rule.query.command.is_some() {
            tested.groups = Some(fired_groups(rule, &parts));
        }
    }
    Ok(done)
}

/// The groups a threshold rule fires for in any of its windows over its watches' minutes
/// (one watch, or a joined correlation's parts; each in minute order).
fn fired_groups(rule: &Rule, parts: &[&[(i64, Partial)]]) -> usize {
    let mut spans: Vec<(i64, i64)> = parts
        .iter()
        .flat_map(|m| m.iter().map(|&(k, _)| (k, k)))
        .collect();
    spans.sort_unstable();
    spans.dedup();
    let (window, every) = (i64::from(rule.window) * 1000, i64::from(rule.every) * 1000);
    let mut groups: BTreeSet<Vec<String>> = BTreeSet::new();
    for end in window_ends(&spans, window, every) {
        let in_window: Vec<&[(i64, Partial)]> = parts
            .iter()
            .map(|m| minutes_in(m, end - window, end))
            .collect();
        groups.extend(window_fires(rule, &in_window).into_iter().map(|(g, _)| g));
    }
    groups.len()
}
