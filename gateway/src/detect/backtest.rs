//! `sketchlake rules backtest`: rules run over a file, folder or lake through the executors
//! on the ingest pass's own engine (the `Detector`, all rules in one pass per file, as
//! `backfill` runs them), without storing anything: per rule, the events it matches, in
//! all and per file, and for a threshold rule the groups over its threshold when all the
//! data is one window.

use std::collections::BTreeMap;

use lake::LakeError;
use shared_sketch::partial::Partial;
use shared_sketch::{CodecError, MergeError};
use workers::Watch;

use super::rule::Rule;
use crate::engine::Engine;
use crate::engine::planner::plan;

/// One rule's backtest.
#[derive(Debug, Clone, Default)]
pub struct Tested {
    pub matches: u64,
    /// Matches per file (files it matched in only), by the lake's name for the file.
    pub files: BTreeMap<String, u64>,
    /// A threshold rule's groups over its threshold, all the data one window.
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
    let watches: Vec<Watch> = rules.iter().map(Rule::watch).collect();
    let everything = shared_sketch::Query {
        search: None,
        earliest: None,
        latest: None,
        command: None,
        post: Vec::new(),
        hits: 0,
    };
    let planned = plan(lake, &everything, engine.scan()).await?;
    let mut done = Backtested {
        rules: vec![Tested::default(); rules.len()],
        bytes: planned.tasks.iter().map(|t| t.bytes).sum(),
        ..Backtested::default()
    };
    // Each threshold rule's minutes merged: all the data as one window.
    let mut merged: Vec<Option<Partial>> = watches
        .iter()
        .map(|w| (!w.per_event).then(|| Partial::new(&w.query)))
        .collect();
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
            let minutes = rollup.partials().map_err(|source| BacktestError::Rollups {
                file: file.clone(),
                source,
            })?;
            for &i in std::iter::once(&rollup.rule).chain(&rollup.also) {
                let (Some(tested), Some(rule)) = (done.rules.get_mut(i), rules.get(i)) else {
                    continue;
                };
                for (_, partial) in &minutes {
                    let n = partial.matched();
                    tested.matches += n;
                    *tested.files.entry(file.clone()).or_default() += n;
                    if let Some(Some(total)) = merged.get_mut(i) {
                        total
                            .merge(partial)
                            .map_err(|source| BacktestError::Merge {
                                rule: rule.id.clone(),
                                source,
                            })?;
                    }
                }
            }
        }
    }
    for ((tested, total), watch) in done.rules.iter_mut().zip(merged).zip(&watches) {
        tested.files.retain(|_, n| *n > 0);
        if let Some(total) = total {
            let result = total.result_without_hits(&watch.query);
            tested.groups = Some(match &result.groups {
                Some(groups) => groups.rows.len(),
                // No `by`: one group, firing when its `where` holds.
                None => usize::from(!result.aggs.is_empty() && result.matched > 0),
            });
        }
    }
    Ok(done)
}
