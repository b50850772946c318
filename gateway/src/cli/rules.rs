//! `sketchlake rules …`: a rules folder checked, its rules' tests run, its rules listed,
//! rules backfilled over a lake's history, Sigma rules converted, and rules backtested
//! over any data (docs/DETECTIONS.md). Each exits 1 when anything is refused or fails,
//! naming each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use gateway::detect::sigma::{self, Converted, Settings};
use gateway::detect::{self, Dataset, Deliverer, Loaded, Rules, run_rules};
use lake::DEFAULT_TENANT;
use shared_sketch::query::format_span;
use shared_sketch::time::{format_timestamp, now_ms};

use super::args::{CatalogArg, InputArgs, RunArgs, open_data, open_for_tenant, sync_data};
use super::query::Output;

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
    /// Convert Sigma rules (files or folders): each rule's sketchlake query, or the
    /// feature it needs that sketchlake does not support. Exit 1 when any is refused.
    ImportSigma {
        /// Instead of each rule, how many were converted and how many refused, by reason.
        #[arg(long)]
        report: bool,
        /// How Sigma rules run and map log sources, as a rules folder's `sigma.yml`
        /// says it (default: the folder's own, when a path is a folder holding one).
        #[arg(long)]
        sigma: Option<PathBuf>,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run rules (sketchlake or Sigma; files or folders) over a file, folder or lake
    /// through the normal executors: per rule, the events it matches, and for a threshold
    /// rule the groups over its threshold across the whole data.
    Backtest(Box<BacktestArgs>),
}

#[derive(clap::Args)]
struct BacktestArgs {
    /// A lake or folder of log files (searched recursively), or one file.
    #[arg(long)]
    data: String,
    #[command(flatten)]
    catalog: CatalogArg,
    /// `json` (`{"rules": [{"file", "id", "title", "matches", "groups", "refused"}]}`) or
    /// `table`.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    format: Output,
    /// How Sigma rules run and map log sources, as a rules folder's `sigma.yml` says it
    /// (default: the folder's own, when a path is a folder holding one).
    #[arg(long)]
    sigma: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    input: InputArgs,
    /// Rule files or folders.
    #[arg(required = true)]
    rules: Vec<PathBuf>,
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
        RulesAction::Backtest(args) => backtest(*args).await,
        RulesAction::ImportSigma {
            report,
            sigma,
            paths,
        } => import_sigma(&paths, sigma.as_deref(), report),
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

/// Every rule in `paths` (files, or folders searched recursively), Sigma or sketchlake, in
/// path order; a file that does not read is one refused entry. Sigma rules run as `sigma`
/// says, else as a folder's own `sigma.yml` does.
fn read_rules(paths: &[PathBuf], sigma: Option<&Path>) -> Result<Vec<Read>> {
    let mut out = Vec::new();
    for path in paths {
        let settings_file = match sigma {
            Some(file) => Some(file.to_path_buf()),
            None => Some(path.join(sigma::FOLDER_FILE)).filter(|f| f.is_file()),
        };
        let mut settings = Settings::default();
        if let Some(file) = &settings_file {
            settings.add_file(file).map_err(anyhow::Error::msg)?;
        }
        let mut files =
            detect::rule_files(path).with_context(|| format!("cannot read {}", path.display()))?;
        files.retain(|f| settings_file.as_ref() != Some(f));
        for (file, read) in detect::read_rule_files(&files, &settings) {
            match read {
                Ok(rules) => out.extend(rules.into_iter().map(|converted| Read {
                    file: file.clone(),
                    converted: Ok(converted),
                })),
                Err(e) => out.push(Read {
                    file,
                    converted: Err(e.message),
                }),
            }
        }
    }
    Ok(out)
}

/// One rule as read: converted or refused, or its file's error.
struct Read {
    file: PathBuf,
    converted: Result<Converted, String>,
}

impl Read {
    /// The id and title, when the file read.
    fn names(&self) -> (Option<String>, String) {
        match &self.converted {
            Ok(Converted::Rule(rule)) => (Some(rule.id.clone()), rule.name.clone()),
            Ok(Converted::Refused { id, title, .. }) => (id.clone(), title.clone()),
            Err(_) => (None, String::new()),
        }
    }

    /// Why it is refused, as (reason, detail): the Sigma feature, or the file's error.
    fn refused(&self) -> Option<(String, String)> {
        match &self.converted {
            Ok(Converted::Rule(_)) => None,
            Ok(Converted::Refused { refused, .. }) => {
                Some((refused.feature.clone(), refused.to_string()))
            }
            Err(message) => Some(("unreadable".to_string(), message.clone())),
        }
    }
}

fn import_sigma(paths: &[PathBuf], sigma: Option<&Path>, report: bool) -> Result<()> {
    let read = read_rules(paths, sigma)?;
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    let mut converted = 0;
    for r in &read {
        let (id, title) = r.names();
        match (&r.converted, r.refused()) {
            (Ok(Converted::Rule(rule)), _) => {
                converted += 1;
                if !report {
                    println!(
                        "{}\t{}\t{}\t{}",
                        r.file.display(),
                        rule.id,
                        rule.name,
                        rule.text
                    );
                }
            }
            (_, Some((reason, detail))) => {
                *refused.entry(reason).or_default() += 1;
                if !report {
                    eprintln!(
                        "refused: {} {} {title:?}: {detail}",
                        r.file.display(),
                        id.unwrap_or_default()
                    );
                }
            }
            _ => {}
        }
    }
    let total: usize = refused.values().sum();
    println!(
        "{} rules: {converted} converted, {total} refused",
        read.len()
    );
    if report {
        let mut reasons: Vec<_> = refused.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (reason, count) in reasons {
            println!("  {count:>5}  {reason}");
        }
    }
    finish(total)
}

/// One rule's backtest, as `--format json` prints it.
#[derive(serde::Serialize)]
struct Backtested {
    file: String,
    id: Option<String>,
    title: String,
    matches: Option<u64>,
    /// Groups over the threshold (threshold rules only), all the data one window.
    groups: Option<usize>,
    refused: Option<String>,
    /// Matches per data file, where there are any.
    files: BTreeMap<String, u64>,
}

async fn backtest(args: BacktestArgs) -> Result<()> {
    let BacktestArgs {
        data,
        catalog,
        format,
        sigma,
        run,
        input,
        rules,
    } = args;
    let read = read_rules(&rules, sigma.as_deref())?;
    let options = input.options();
    let lake = open_data(&data, catalog.url.as_deref(), true).await?;
    sync_data(&lake, &data, &options).await?;
    let engine = run.engine(lake, options).await?;
    let runnable: Vec<detect::Rule> = read
        .iter()
        .filter_map(|r| match &r.converted {
            Ok(Converted::Rule(rule)) => Some((**rule).clone()),
            _ => None,
        })
        .collect();
    let done = detect::backtest(&engine, &runnable)
        .await
        .context("backtest failed")?;
    for (file, why) in &done.unreadable {
        eprintln!("not read to the end ({why}): {file}");
    }
    let mut answers = done.rules.into_iter();
    let mut out = Vec::with_capacity(read.len());
    for r in &read {
        let (id, title) = r.names();
        let tested = match &r.converted {
            Ok(Converted::Rule(_)) => answers.next(),
            _ => None,
        };
        out.push(Backtested {
            file: r.file.display().to_string(),
            id,
            title,
            matches: tested.as_ref().map(|t| t.matches),
            groups: tested.as_ref().and_then(|t| t.groups),
            refused: r.refused().map(|(_, detail)| detail),
            files: tested.map(|t| t.files).unwrap_or_default(),
        });
    }
    match format {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "rules": out }))?
        ),
        Output::Table => {
            let count = |n: Option<String>| n.unwrap_or_else(|| "-".to_string());
            println!("{:>9}  {:>6}  rule", "matches", "groups");
            for row in &out {
                println!(
                    "{:>9}  {:>6}  {}  {}{}",
                    count(row.matches.map(|m| m.to_string())),
                    count(row.groups.map(|g| g.to_string())),
                    row.id.as_deref().unwrap_or("-"),
                    row.title,
                    row.refused
                        .as_ref()
                        .map_or(String::new(), |why| format!("  [refused: {why}]"))
                );
            }
            eprintln!(
                "{} rules over {} files ({} bytes)",
                out.len(),
                done.files,
                done.bytes
            );
        }
    }
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
