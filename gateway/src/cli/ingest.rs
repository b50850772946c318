//! `sketchlake ingest` and `sketchlake compact`: copying log files into a lake's indexed
//! segments, and small segments into large ones. Both are safe to interrupt.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use gateway::detect::{Deliverer, RuleBook, run_rules};
use lake::DEFAULT_TENANT;
use lake::SWEEP_GRACE;
use lake::compact::{Compacted, compact};
use shared_sketch::time::now_ms;

use super::args::{CatalogArg, InputArgs, open_for_tenant};

#[derive(clap::Args)]
pub struct IngestArgs {
    /// The lake to ingest into: a folder, or a bucket prefix (`s3://bucket/prefix`,
    /// with --catalog).
    #[arg(long, visible_alias = "out")]
    data: String,
    #[command(flatten)]
    catalog: CatalogArg,
    #[command(flatten)]
    input: InputArgs,
    /// Ingest into this tenant's folder (`sketchlake tenant set`), catalogued in the
    /// lake's catalog as that tenant's.
    #[arg(long, default_value = DEFAULT_TENANT)]
    tenant: String,
    /// Detection rules to evaluate on the events as they are ingested (a rules folder):
    /// their alerts are raised and sent before ingest exits.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// A log file, a folder of them (searched recursively), or a bucket prefix
    /// (`s3://bucket/prefix`: every object under it).
    source: String,
}

/// How long a CLI ingest waits for its alerts' deliveries before leaving the rest in the
/// outbox (for `serve`, or `sketchlake alerts deliver`).
const DELIVERY_WAIT: Duration = Duration::from_secs(20);

#[derive(clap::Args)]
pub struct CompactArgs {
    /// The lake: a folder, or a bucket prefix (with --catalog).
    #[arg(long)]
    data: String,
    #[command(flatten)]
    catalog: CatalogArg,
    /// Compact this tenant's segments.
    #[arg(long, default_value = DEFAULT_TENANT)]
    tenant: String,
}

pub async fn ingest(args: IngestArgs) -> Result<()> {
    let IngestArgs {
        data,
        catalog,
        input,
        tenant,
        rules,
        source,
    } = args;
    let book = rules
        .map(|dir| {
            RuleBook::open(&dir)
                .with_context(|| format!("cannot read rules folder {}", dir.display()))
        })
        .transpose()?;
    let loaded = book.as_ref().map(RuleBook::loaded);
    if let Some(loaded) = &loaded {
        for error in &loaded.refused {
            eprintln!("rule refused: {error}");
        }
    }
    let watching = loaded.as_ref().map(|l| l.watching()).unwrap_or_default();
    anyhow::ensure!(
        workers::is_object_url(&source) || Path::new(&source).exists(),
        "{source} does not exist"
    );
    let lake = open_for_tenant(&data, &catalog, &tenant).await?;
    lake.check_writable()?;
    let started = std::time::Instant::now();
    let options = input.options();
    let report = lake::ingest::ingest(&lake, &source, &options, &watching)
        .await
        .context("ingest failed")?;
    for (file, format) in &report.kept {
        eprintln!("read in place ({format}: no fields to index): {file}");
    }
    for (file, why) in &report.failed {
        eprintln!("registered as it is (cannot be read to the end: {why}): {file}");
    }
    println!(
        "ingested {} files into {} segments in {:.1?}: {} rows, {} malformed, {} bytes, index {} bytes; {} ingested before",
        report.files - report.skipped,
        report.segments,
        started.elapsed(),
        report.rows,
        report.malformed,
        report.bytes,
        report.index_bytes,
        report.skipped,
    );
    if loaded.is_none() && report.segments > 0 {
        warn_rules_unseen(&lake).await?;
    }
    if let Some(loaded) = loaded {
        let ran = run_rules(&lake, &loaded, &options, now_ms())
            .await
            .context("running the rules failed")?;
        let staging = ran.raised.iter().filter(|a| a.staging).count();
        let drained = Deliverer::new(lake.catalog.clone())?
            .drain(DELIVERY_WAIT)
            .await?;
        println!(
            "rules: {} evaluated, {} windows, {} alerts raised ({staging} in staging), {} folded into earlier ones; {} deliveries sent, {} pending",
            loaded.rules.len(),
            ran.windows,
            ran.raised.len(),
            ran.duplicates,
            drained.delivered,
            drained.pending,
        );
    }
    Ok(())
}

/// Rules see ingested events only in the pass that ingests them: an ingest without
/// `--rules` into a lake whose rules have run says so, rather than leave a detection
/// silently missed.
async fn warn_rules_unseen(lake: &lake::Lake) -> Result<()> {
    let runs = lake.catalog.last_runs().await?;
    if let Some(newest) = runs.iter().map(|(_, ms)| *ms).max() {
        eprintln!(
            "note: this lake has detection rules ({} ran, the last at {}); they did not see these events, \
             which rules read only in the pass that ingests them. Ingest with --rules DIR, or run \
             `sketchlake rules backfill --since …` for them.",
            runs.len(),
            shared_sketch::time::format_timestamp(newest),
        );
    }
    Ok(())
}

pub async fn compact_lake(args: CompactArgs) -> Result<()> {
    let lake = open_for_tenant(&args.data, &args.catalog, &args.tenant).await?;
    lake.check_writable()?;
    let mut total = Compacted::default();
    loop {
        let step = compact(&lake).await?;
        if step.merged == 0 {
            break;
        }
        total.merged += step.merged;
        total.into += step.into;
        total.rows += step.rows;
    }
    let deleted = lake.sweep(SWEEP_GRACE).await?;
    println!(
        "compacted {} segments into {} ({} rows); deleted {deleted} files no longer read",
        total.merged, total.into, total.rows
    );
    Ok(())
}
