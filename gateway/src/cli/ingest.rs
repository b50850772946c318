//! `sketchlake ingest` and `sketchlake compact`: copying log files into a lake's indexed
//! segments, and small segments into large ones. Both are safe to interrupt.

use std::path::Path;

use anyhow::{Context, Result};
use lake::DEFAULT_TENANT;
use lake::SWEEP_GRACE;
use lake::compact::{Compacted, compact};

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
    /// A log file, a folder of them (searched recursively), or a bucket prefix
    /// (`s3://bucket/prefix`: every object under it).
    source: String,
}

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
        source,
    } = args;
    anyhow::ensure!(
        workers::is_object_url(&source) || Path::new(&source).exists(),
        "{source} does not exist"
    );
    let lake = open_for_tenant(&data, &catalog, &tenant).await?;
    lake.check_writable()?;
    let started = std::time::Instant::now();
    let report = lake::ingest::ingest(&lake, &source, &input.options())
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
