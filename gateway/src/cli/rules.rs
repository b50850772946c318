//! `sketchlake rules …`: a rules folder checked, its rules' tests run, its rules listed,
//! and rules backfilled over a lake's history (docs/DETECTIONS.md). Each exits 1 when
//! anything is refused or fails, naming each.

use std::path::PathBuf;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use gateway::detect::{self, Dataset, Deliverer, Loaded, Rules, run_rules};
use lake::DEFAULT_TENANT;
use shared_sketch::query::format_span;
use shared_sketch::time::{format_timestamp, now_ms};

use super::args::{CatalogArg, InputArgs, RunArgs, open_for_tenant};

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
    /// Run rules over the lake's history through the executors (this machine's cores, or
    /// Lambda workers), replacing their stored minutes from --since on; then run them, so
    /// the alerts history holds are raised (deduplicated against those raised before).
    Backfill(Box<BackfillArgs>),
}

#[derive(clap::Args)]
struct BackfillArgs {
    /// The lake.
    #[arg(long)]
    data: String,
    #[command(flatten)]
    catalog: CatalogArg,
    #[arg(long, default_value = DEFAULT_TENANT)]
    tenant: String,
    /// The rules folder the rules are read from.
    #[arg(long, default_value = "rules")]
    rules: PathBuf,
    /// How far back: a span before now (`30d`, `-30d`) or a time (`2026-11-01T00:00:00Z`).
    #[arg(long, default_value = "-30d", allow_hyphen_values = true)]
    since: String,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    input: InputArgs,
    /// The ids of the rules to backfill.
    #[arg(required = true)]
    ids: Vec<String>,
}

pub async fn rules(args: RulesArgs) -> Result<()> {
    match args.action {
        RulesAction::Backfill(args) => backfill(*args).await,
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

async fn backfill(args: BackfillArgs) -> Result<()> {
    let BackfillArgs {
        data,
        catalog,
        tenant,
        rules,
        since,
        run,
        input,
        ids,
    } = args;
    let folder = load(&rules)?;
    refused(&folder);
    let chosen = ids
        .iter()
        .map(|id| {
            folder
                .rules
                .get(id)
                .cloned()
                .with_context(|| format!("no rule {id:?} in {}", rules.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(rule) = chosen.iter().find(|r| r.dataset == Dataset::Alerts) {
        bail!(
            "{} reads the alerts, not the logs: its first run reads every alert, so it has nothing to backfill",
            rule.id
        );
    }
    let now = now_ms();
    let since_ms = since_ms(&since, now)?;
    let lake = open_for_tenant(&data, &catalog, &tenant).await?;
    let options = input.options();
    let engine = run.engine(lake, options.clone()).await?;
    let started = std::time::Instant::now();
    let done = detect::backfill(&engine, &chosen, since_ms)
        .await
        .context("backfill failed")?;
    for (file, why) in &done.unreadable {
        eprintln!("not read to the end ({why}): {file}");
    }
    println!(
        "backfilled {} rules from {} over {} files ({} bytes; {} ruled out by time, {} pages no rule can match skipped by the index) in {:.1?}: {} minute rollups",
        chosen.len(),
        format_timestamp(since_ms),
        done.files,
        done.bytes,
        done.pruned,
        done.pages_skipped,
        started.elapsed(),
        done.rollups,
    );
    let loaded = Loaded {
        rules: chosen.into_iter().map(|r| (r.id.clone(), r)).collect(),
        ..Loaded::default()
    };
    let lake = engine.lake();
    let ran = run_rules(lake, &loaded, &options, now)
        .await
        .context("running the rules failed")?;
    let drained = Deliverer::new(lake.catalog.clone())?
        .drain(Duration::from_secs(20))
        .await?;
    println!(
        "{} windows evaluated, {} alerts raised, {} folded into earlier ones; {} deliveries sent, {} pending",
        ran.windows,
        ran.raised.len(),
        ran.duplicates,
        drained.delivered,
        drained.pending
    );
    Ok(())
}

/// `-30d`, `30d` (a span before `now`) or a time, as epoch ms.
fn since_ms(since: &str, now: i64) -> Result<i64> {
    let span = since.trim().trim_start_matches('-');
    if let Some(seconds) = shared_sketch::query::parse_span(span) {
        return Ok(now - i64::from(seconds) * 1000);
    }
    shared_sketch::time::parse_timestamp(since)
        .with_context(|| format!("--since {since:?} is neither a span (30d) nor a time"))
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
