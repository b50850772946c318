//! `sketchlake rules backfill`: a new or changed rule run over history. The lake's files
//! whose time range reaches `[since, now)` are planned as a query's are (ruled out by the
//! catalog's times), and the executor — this machine's pool or Lambda workers — evaluates
//! the rules on each, returning its rollups. The rules' stored minutes from `since` on are
//! replaced by what the files hold now, so a backfill run twice counts nothing twice; the
//! runs that follow evaluate the windows they touch, raising what history holds (deduplicated
//! against alerts already raised).

use std::collections::HashMap;

use lake::rollups::{Detected, RuleKey};
use lake::{CatalogError, Kind, LakeError};
use shared_sketch::Query;
use shared_sketch::query::TimeBound;
use workers::{Rollup, Watch};

use super::rule::Rule;
use crate::engine::Engine;
use crate::engine::planner::plan;

/// What one backfill read and stored.
#[derive(Debug, Default)]
pub struct Backfilled {
    pub files: u64,
    pub bytes: u64,
    /// Files the catalog's times ruled out.
    pub pruned: u64,
    /// Segment pages the index showed no rule can match, skipped unread.
    pub pages_skipped: u64,
    /// Minute rollups stored, over all rules.
    pub rollups: u64,
    /// Files that could not be read to the end, with why (what was read counts).
    pub unreadable: Vec<(String, String)>,
}

/// Evaluates `rules` over the engine's lake from `since_ms` on, through its executor.
pub async fn backfill(
    engine: &Engine,
    rules: &[Rule],
    since_ms: i64,
) -> Result<Backfilled, LakeError> {
    let lake = engine.lake();
    // A joined correlation's parts are rolled up and stored each under its own key.
    let (keys, watches): (Vec<RuleKey>, Vec<Watch>) = rules.iter().flat_map(Rule::watches).unzip();
    for key in &keys {
        lake.catalog.delete_rollups_since(key, since_ms).await?;
    }
    // What a query `earliest=<since>` plans.
    let range = Query {
        search: None,
        earliest: Some(TimeBound::At(since_ms)),
        latest: None,
        index: None,
        command: None,
        stages: Vec::new(),
        post: Vec::new(),
        hits: 0,
    };
    let planned = plan(lake, &range, engine.scan()).await?;
    let mut done = Backfilled {
        pruned: planned.pruned,
        ..Backfilled::default()
    };
    let segments: HashMap<String, bool> = planned
        .tasks
        .iter()
        .map(|t| (t.file.url.clone(), t.file.segment))
        .collect();
    done.bytes = planned.tasks.iter().map(|t| t.bytes).sum();
    let mut answers =
        engine
            .executor()
            .detect(watches.into(), engine.scan().clone(), planned.tasks);
    while let Some(answer) = answers.recv().await {
        done.files += 1;
        done.pages_skipped += answer.pages_skipped;
        if let Some(why) = answer.error {
            done.unreadable.push((lake.name_of(&answer.url), why));
        }
        let segment = segments.get(&answer.url).copied().unwrap_or(true);
        if segment {
            // A segment's events before `since` are counted by the rollups stored then.
            let mut rollups: Vec<Rollup> = Vec::new();
            for rollup in answer.rollups {
                let kept = rollup.since(since_ms).map_err(|e| CatalogError::Row {
                    uri: answer.url.clone(),
                    why: format!("rule rollups: {e}"),
                })?;
                rollups.extend(kept);
            }
            done.rollups += per_rule(&rollups);
            lake.catalog
                .append_rollups(Detected {
                    source: answer.url,
                    modified_ms: 0,
                    rules: keys.clone(),
                    rollups,
                })
                .await?;
        } else {
            // A file read where it is is evaluated whole, as the runs would: its rollups
            // replace all it had, and it is not read again until it changes.
            let modified_ms = match lake.catalog.get(&answer.url).await? {
                Some(entry) if entry.kind == Kind::Raw => entry.modified_ms,
                _ => 0,
            };
            done.rollups += per_rule(&answer.rollups);
            lake.catalog
                .add_rollups(Detected {
                    source: answer.url,
                    modified_ms,
                    rules: keys.clone(),
                    rollups: answer.rollups,
                })
                .await?;
        }
    }
    Ok(done)
}

/// Minute rollups counted per rule: one made for several rules that roll up alike counts
/// for each.
fn per_rule(rollups: &[Rollup]) -> u64 {
    rollups
        .iter()
        .map(|r| r.minutes * (1 + r.also.len() as u64))
        .sum()
}
