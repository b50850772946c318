//! `sketchlake`: parses the command line and hands each command to its file in `cli/`.

mod cli;

use std::io::IsTerminal;

use anyhow::Result;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use cli::admin::{KeyArgs, TenantArgs};
use cli::alerts::{AlertsArgs, SinkArgs};
use cli::demo::DemoArgs;
use cli::ingest::{CompactArgs, IngestArgs};
use cli::lookups::LookupArgs;
use cli::query::QueryArgs;
use cli::rules::RulesArgs;
use cli::serve::ServeArgs;

/// sketchlake: fast search over security logs where they already are.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI, the WebSocket query stream and the HTTP API.
    Serve(ServeArgs),
    /// Tenants: each reads its own data folder, and names the web origins allowed to embed
    /// its widgets. (The default tenant's data is `serve --data`.)
    Tenant(TenantArgs),
    /// API keys: created per tenant as `admin` or `read`; the key is printed once and only
    /// its hash is kept.
    Key(KeyArgs),
    /// Run one query over a folder or file and print the merged answer (the same JSON as
    /// `POST /api/v1/query`, or a table).
    Query(QueryArgs),
    /// Copy log files into a lake's indexed segments (gzip NDJSON pages with an index
    /// sidecar) and register them, so queries read only the pages that may match. The
    /// sources are left as they are; formats not converted yet are registered as they are.
    /// Safe to interrupt: a rerun continues where it stopped.
    Ingest(IngestArgs),
    /// Copy a lake's small segments into large ones, then delete files the catalog no
    /// longer reads (after a grace period for running queries). Safe to interrupt.
    Compact(CompactArgs),
    /// Write deterministic demo VPC flow logs with planted attack stories.
    Demo(DemoArgs),
    /// Detection rules: check a rules folder, run its rules' tests, list its rules,
    /// backfill them over a lake's history.
    Rules(RulesArgs),
    /// The alerts detection rules raised: list them, change their state, send what the
    /// outbox holds.
    Alerts(AlertsArgs),
    /// Where a tenant's alerts go: webhooks (signed), Slack, PagerDuty.
    Sink(SinkArgs),
    /// Lookup tables (CSV: IOC lists, asset owners) for `| lookup NAME field OUTPUT …`.
    Lookup(LookupArgs),
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    // A one-shot query prints its answer; only problems go to stderr.
    let level = match cli.command {
        Command::Query(_) => "warn",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        Command::Serve(args) => cli::serve::serve(args).await,
        Command::Tenant(args) => cli::admin::tenant(args).await,
        Command::Key(args) => cli::admin::key(args).await,
        Command::Query(args) => cli::query::query(args).await,
        Command::Ingest(args) => cli::ingest::ingest(args).await,
        Command::Compact(args) => cli::ingest::compact_lake(args).await,
        Command::Demo(args) => cli::demo::demo(args).await,
        Command::Rules(args) => cli::rules::rules(args).await,
        Command::Alerts(args) => cli::alerts::alerts(args).await,
        Command::Sink(args) => cli::alerts::sink(args).await,
        Command::Lookup(args) => cli::lookups::lookup(args).await,
    }
}
