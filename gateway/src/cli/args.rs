//! Arguments several commands share, and turning them into what the library takes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use gateway::engine::executor::{Executor, LambdaConfig, LambdaExecutor, LocalPool};
use gateway::engine::{DEFAULT_PER_KEY, DEFAULT_PER_TENANT, DEFAULT_TIMEOUT, Engine};
use lake::{DEFAULT_TENANT, Lake, Root, Synced};
use workers::{Format, ScanOptions};

/// How queries run.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Where scans run: this machine's cores, or the `worker` function on AWS Lambda
    /// (docs/DEPLOY.md).
    #[arg(long, value_enum, default_value = "local")]
    executor: ExecutorKind,
    /// Scan tasks run at once (default: one per core; 1000 Lambda invocations).
    #[arg(long)]
    workers: Option<usize>,
    /// The worker function's name or ARN (`--executor lambda`).
    #[arg(long, required_if_eq("executor", "lambda"))]
    function: Option<String>,
    /// Seconds one invocation may take before it is abandoned and retried.
    #[arg(long, default_value_t = 120.0)]
    invocation_timeout: f64,
    /// Where workers write answers too large for Lambda's 6 MB response
    /// (`s3://bucket/prefix`, writable by the function and readable by the gateway).
    #[arg(long)]
    spill: Option<String>,
    /// Files smaller than this many MiB are batched into one invocation, up to this many
    /// MiB in all.
    #[arg(long, default_value_t = 64)]
    batch_mib: u64,
    /// The Lambda API's URL, instead of the region's (a VPC endpoint, a local emulator).
    #[arg(long)]
    lambda_endpoint: Option<String>,
    /// Seconds a query may run; then it stops and its answer says what it covers.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT.as_secs_f64())]
    query_timeout: f64,
    /// Queries one API key may run at once; more are answered 429 (busy).
    #[arg(long, default_value_t = DEFAULT_PER_KEY)]
    max_queries_per_key: usize,
    /// Queries one tenant's keys and widgets may run at once, together.
    #[arg(long, default_value_t = DEFAULT_PER_TENANT)]
    max_queries_per_tenant: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExecutorKind {
    Local,
    Lambda,
}

impl RunArgs {
    /// The engine that runs queries over `lake` as these arguments say.
    pub async fn engine(&self, lake: Lake, scan: ScanOptions) -> Result<Engine> {
        let executor: Arc<dyn Executor> = match self.executor {
            ExecutorKind::Local => Arc::new(match self.workers {
                Some(n) => LocalPool::new(n),
                None => LocalPool::with_cores(),
            }),
            ExecutorKind::Lambda => {
                let function = self
                    .function
                    .as_deref()
                    .context("--executor lambda needs --function")?;
                let mut config = LambdaConfig::new(function);
                config.width = self.workers.unwrap_or(config.width);
                config.timeout = seconds(self.invocation_timeout, "--invocation-timeout")?;
                config.batch_bytes = self.batch_mib.max(1) << 20;
                config.spill.clone_from(&self.spill);
                config.endpoint.clone_from(&self.lambda_endpoint);
                tracing::info!(function, in_flight = config.width, "scanning on AWS Lambda");
                Arc::new(LambdaExecutor::new(config).await)
            }
        };
        Ok(Engine::new(lake, executor)
            .with_scan(scan)
            .with_timeout(seconds(self.query_timeout, "--query-timeout")?)
            .with_limits(self.max_queries_per_key, self.max_queries_per_tenant))
    }
}

/// Where the catalog is.
#[derive(clap::Args)]
pub struct CatalogArg {
    /// The catalog database: `postgres://…` to share one between gateways, or
    /// `sqlite://…`. Default: SQLite in the lake's `.sketchlake` folder; for a bucket
    /// lake, one in memory, rebuilt from the listing (enough to read it, not to ingest).
    #[arg(long = "catalog")]
    pub url: Option<String>,
}

/// How to read the data files.
#[derive(clap::Args)]
pub struct InputArgs {
    /// Read every file as this format (ndjson, json, zeek, vpcflow, apache, csv, text)
    /// instead of recognising each from its first bytes.
    #[arg(long)]
    input_format: Option<Format>,
    /// The field holding each event's time, instead of the format's usual one.
    #[arg(long)]
    time_field: Option<String>,
}

impl InputArgs {
    pub fn options(self) -> ScanOptions {
        ScanOptions {
            format: self.input_format,
            time_field: self.time_field,
            ..ScanOptions::default()
        }
    }
}

/// A positive number of seconds from the command line.
pub fn seconds(value: f64, flag: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("{flag} takes a positive number of seconds, not {value}"))
}

/// The lake `serve` or `query` reads: a bucket prefix, or a local folder (for `query`, a
/// folder or one file, opened without writing into it).
pub async fn open_data(data: &str, catalog: Option<&str>, reading: bool) -> Result<Lake> {
    if workers::is_object_url(data) {
        return Ok(Lake::open_bucket(data, catalog).await?);
    }
    let path = Path::new(data);
    if reading {
        anyhow::ensure!(path.exists(), "{data} does not exist");
        return Ok(Lake::open_for_reading(path, catalog).await?);
    }
    anyhow::ensure!(path.is_dir(), "data folder {data} does not exist");
    Ok(Lake::open(path, catalog).await?)
}

/// Brings `lake`'s catalog up to date with the files at `data` (the lake's folder or
/// bucket prefix; for `query`, possibly one file).
pub async fn sync_data(lake: &Lake, data: &str, options: &ScanOptions) -> Result<Synced> {
    Ok(match &lake.root {
        Root::Bucket(_) => lake.sync_bucket(options).await?,
        Root::Folder(_) => lake.sync(Path::new(data), options).await?,
    })
}

/// The lake at `data` (a folder, made when missing, or a bucket prefix) with its catalog,
/// or, for another tenant, that tenant's folder with its share of the same catalog.
pub async fn open_for_tenant(data: &str, catalog: &CatalogArg, tenant: &str) -> Result<Lake> {
    let lake = if workers::is_object_url(data) {
        Lake::open_bucket(data, catalog.url.as_deref()).await?
    } else {
        std::fs::create_dir_all(data).with_context(|| format!("cannot create {data}"))?;
        Lake::open(Path::new(data), catalog.url.as_deref()).await?
    };
    if tenant == DEFAULT_TENANT {
        return Ok(lake);
    }
    Ok(lake::tenants::tenant_lake(&lake, tenant).await?)
}
