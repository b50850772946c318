//! `sketchlake demo`: deterministic demo VPC flow logs with planted attack stories.

use std::path::PathBuf;

use anyhow::Result;
use gateway::demo::{DemoConfig, generate};

#[derive(clap::Args)]
pub struct DemoArgs {
    #[arg(long)]
    out: PathBuf,
    /// Background records in total (the planted stories add a few percent).
    #[arg(long, default_value_t = DemoConfig::default().records)]
    records: u64,
    #[arg(long, default_value_t = DemoConfig::default().days)]
    days: u32,
    #[arg(long, default_value_t = DemoConfig::default().seed)]
    seed: u64,
}

pub async fn demo(args: DemoArgs) -> Result<()> {
    let config = DemoConfig {
        records: args.records,
        days: args.days,
        seed: args.seed,
        ..DemoConfig::default()
    };
    let started = std::time::Instant::now();
    let out = args.out;
    let files = tokio::task::spawn_blocking(move || generate(&out, &config)).await??;
    println!(
        "wrote {} demo files in {:.1?}",
        files.len(),
        started.elapsed()
    );
    Ok(())
}
