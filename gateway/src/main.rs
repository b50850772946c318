use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use gateway::auth::{Access, Role, new_key};
use gateway::catalog::{DEFAULT_TENANT, Tenant};
use gateway::compact::{Compacted, compact};
use gateway::demo::{self, DemoConfig};
use gateway::executor::{Executor, LambdaConfig, LambdaExecutor, LocalPool};
use gateway::lake::{Lake, Root, SWEEP_GRACE, Synced};
use gateway::run::{Ask, DEFAULT_TIMEOUT, Engine};
use gateway::tenants::{check_folder, normalize_origin, open_tenant_lakes, tenant_lake};
use gateway::{api, server, table};
use tracing_subscriber::EnvFilter;
use workers::{Format, ScanOptions};

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
    Serve {
        /// The lake: a folder of log files (searched recursively), registered in its catalog
        /// at start, and where ingested segments are kept; or `s3://bucket/prefix`, whose
        /// objects are listed and read where they are.
        #[arg(long, default_value = "data")]
        data: String,
        #[command(flatten)]
        catalog: CatalogArg,
        /// Ingest files arriving in this folder (it may be the data folder itself) while
        /// serving, and compact small segments.
        #[arg(long)]
        watch: Option<PathBuf>,
        /// Seconds between looks at the watched folder; a file is ingested once it has not
        /// changed for this long.
        #[arg(long, default_value_t = 2.0)]
        watch_every: f64,
        /// Address to listen on (port 0 picks a free port; the URL is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The built frontend (the `dist` folder `cargo xtask` builds).
        #[arg(long, default_value = "dist")]
        ui: PathBuf,
        /// Serve without API keys: every caller is an admin of the default tenant. Only
        /// allowed when listening on loopback (a development machine).
        #[arg(long)]
        no_auth: bool,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Tenants: each reads its own data folder, and names the web origins allowed to embed
    /// its widgets. (The default tenant's data is `serve --data`.)
    Tenant {
        /// The lake whose catalog keeps the tenants (`serve --data`).
        #[arg(long, global = true, default_value = "data")]
        data: PathBuf,
        #[command(flatten)]
        catalog: CatalogArg,
        #[command(subcommand)]
        action: TenantAction,
    },
    /// API keys: created per tenant as `admin` or `read`; the key is printed once and only
    /// its hash is kept.
    Key {
        /// The lake whose catalog keeps the keys (`serve --data`).
        #[arg(long, global = true, default_value = "data")]
        data: PathBuf,
        #[command(flatten)]
        catalog: CatalogArg,
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Run one query over a folder or file and print the merged answer (the same JSON as
    /// `POST /api/v1/query`, or a table).
    Query {
        /// A lake or folder of log files (searched recursively), or one file. A folder
        /// without a catalog is read without writing one.
        #[arg(long)]
        data: String,
        #[command(flatten)]
        catalog: CatalogArg,
        /// Output: `json` (as the HTTP API answers) or `table` (for reading).
        #[arg(long, value_enum, default_value_t = Output::Json)]
        format: Output,
        /// How many of the newest matching events to print (default 100, or `head N` after
        /// a plain search; at most 100,000).
        #[arg(long, default_value_t = 0, hide_default_value = true)]
        hits: u32,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        input: InputArgs,
        /// The query, e.g. `action:REJECT | top 10 src_ip`.
        query: String,
    },
    /// Copy log files into a lake's indexed segments (gzip NDJSON pages with an index
    /// sidecar) and register them, so queries read only the pages that may match. The
    /// sources are left as they are; formats not converted yet are registered as they are.
    /// Safe to interrupt: a rerun continues where it stopped.
    Ingest {
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
    },
    /// Copy a lake's small segments into large ones, then delete files the catalog no
    /// longer reads (after a grace period for running queries). Safe to interrupt.
    Compact {
        /// The lake: a folder, or a bucket prefix (with --catalog).
        #[arg(long)]
        data: String,
        #[command(flatten)]
        catalog: CatalogArg,
        /// Compact this tenant's segments.
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
    /// Write deterministic demo VPC flow logs with planted attack stories.
    Demo {
        #[arg(long)]
        out: PathBuf,
        /// Background records in total (the planted stories add a few percent).
        #[arg(long, default_value_t = DemoConfig::default().records)]
        records: u64,
        #[arg(long, default_value_t = DemoConfig::default().days)]
        days: u32,
        #[arg(long, default_value_t = DemoConfig::default().seed)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum TenantAction {
    /// Add a tenant, or change its data folder and embedding origins.
    Set {
        name: String,
        /// Its data folder (not for `default`, whose data is `serve --data`). Tenants'
        /// folders may not overlap.
        #[arg(long)]
        folder: Option<PathBuf>,
        /// A web origin (`https://soc.example.com`) allowed to embed its widgets; repeat
        /// for several. Replaces the list.
        #[arg(long = "allow-origin")]
        origins: Vec<String>,
    },
    /// List the tenants.
    List,
}

#[derive(Subcommand)]
enum KeyAction {
    /// Create a key and print it (it cannot be shown again).
    Create {
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
        #[arg(long, value_parser = ["admin", "read"])]
        role: String,
        /// Who or what it is for.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List the keys (never their secrets).
    List,
    /// Revoke a key by id: it stops working at once, on every gateway sharing the catalog.
    Revoke { id: String },
}

/// How queries run.
#[derive(clap::Args)]
struct RunArgs {
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
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExecutorKind {
    Local,
    Lambda,
}

/// Where the catalog is.
#[derive(clap::Args)]
struct CatalogArg {
    /// The catalog database: `postgres://…` to share one between gateways, or
    /// `sqlite://…`. Default: SQLite in the lake's `.sketchlake` folder; for a bucket
    /// lake, one in memory, rebuilt from the listing (enough to read it, not to ingest).
    #[arg(long = "catalog")]
    url: Option<String>,
}

/// How to read the data files.
#[derive(clap::Args)]
struct InputArgs {
    /// Read every file as this format (ndjson, json, zeek, vpcflow, apache, csv, text)
    /// instead of recognising each from its first bytes.
    #[arg(long)]
    input_format: Option<Format>,
    /// The field holding each event's time, instead of the format's usual one.
    #[arg(long)]
    time_field: Option<String>,
}

impl InputArgs {
    fn options(self) -> ScanOptions {
        ScanOptions {
            format: self.input_format,
            time_field: self.time_field,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Output {
    Json,
    Table,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    // A one-shot query prints its answer; only problems go to stderr.
    let level = match cli.command {
        Command::Query { .. } => "warn",
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
        Command::Serve {
            data,
            catalog,
            watch,
            watch_every,
            listen,
            ui,
            no_auth,
            run,
            input,
        } => {
            anyhow::ensure!(
                !no_auth || listen.ip().is_loopback(),
                "--no-auth serves everyone as an admin: it is only allowed on a loopback address, not {listen}"
            );
            if no_auth {
                tracing::warn!("serving without API keys (--no-auth): every caller is an admin");
            }
            let options = input.options();
            let lake = open_data(&data, catalog.url.as_deref(), false).await?;
            if watch.is_some() {
                lake.check_writable()?;
            }
            let synced = sync_data(&lake, &data, &options).await?;
            tracing::info!(lake = %lake.root, added = synced.added, changed = synced.changed, removed = synced.removed, "catalog up to date with the data folder");
            let tenants = open_tenant_lakes(&lake, &options).await?;
            let access = Access::new(&lake.catalog, no_auth).await?;
            let engine = engine(lake, tenants, &run, options.clone(), access).await?;
            let stop = tokio_util::sync::CancellationToken::new();
            if let Some(dir) = watch {
                anyhow::ensure!(
                    dir.is_dir(),
                    "watched folder {} does not exist",
                    dir.display()
                );
                let dir = std::path::absolute(dir)?;
                tokio::spawn(gateway::watch::watch(
                    engine.lake.clone(),
                    dir,
                    options,
                    seconds(watch_every, "--watch-every")?,
                    stop.clone(),
                ));
            }
            let served = serve(engine, listen, ui).await;
            stop.cancel();
            served
        }
        Command::Query {
            data,
            catalog,
            format,
            hits,
            run,
            input,
            query,
        } => {
            let options = input.options();
            let lake = open_data(&data, catalog.url.as_deref(), true).await?;
            sync_data(&lake, &data, &options).await?;
            // The command line reads files it can read anyway: as the default tenant's admin.
            let access = Access::local(&lake.catalog)?;
            let engine = engine(lake, BTreeMap::new(), &run, options, access).await?;
            let ask = Ask::new(DEFAULT_TENANT, &query, hits);
            let response = match api::answer(&engine, ask).await {
                Ok(response) => response,
                Err(api::ApiError::Query { message, column }) => {
                    // As a compiler would: the query, a caret under the column, the reason.
                    let caret = column.map_or(String::new(), |c| {
                        format!("\n  {}^", " ".repeat(c.saturating_sub(1) as usize))
                    });
                    eprintln!("error: {message}\n  {query}{caret}");
                    std::process::exit(2);
                }
                Err(e) => return Err(e.into()),
            };
            match format {
                Output::Json => println!("{}", serde_json::to_string_pretty(&response)?),
                Output::Table => print!("{}", table::render(&response.result, response.elapsed_ms)),
            }
            if let Some(why) = &response.stopped {
                eprintln!("warning: {why}");
                std::process::exit(3);
            }
            Ok(())
        }
        Command::Ingest {
            data,
            catalog,
            input,
            tenant,
            source,
        } => {
            anyhow::ensure!(
                workers::is_object_url(&source) || Path::new(&source).exists(),
                "{source} does not exist"
            );
            let lake = open_for_tenant(&data, &catalog, &tenant).await?;
            lake.check_writable()?;
            let started = std::time::Instant::now();
            let report = gateway::ingest::ingest(&lake, &source, &input.options())
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
        Command::Compact {
            data,
            catalog,
            tenant,
        } => {
            let lake = open_for_tenant(&data, &catalog, &tenant).await?;
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
        Command::Tenant {
            data,
            catalog,
            action,
        } => tenant_command(&Lake::open(&data, catalog.url.as_deref()).await?, action).await,
        Command::Key {
            data,
            catalog,
            action,
        } => key_command(&Lake::open(&data, catalog.url.as_deref()).await?, action).await,
        Command::Demo {
            out,
            records,
            days,
            seed,
        } => {
            let config = DemoConfig {
                records,
                days,
                seed,
                ..DemoConfig::default()
            };
            let started = std::time::Instant::now();
            let files =
                tokio::task::spawn_blocking(move || demo::generate(&out, &config)).await??;
            println!(
                "wrote {} demo files in {:.1?}",
                files.len(),
                started.elapsed()
            );
            Ok(())
        }
    }
}

/// The lake `serve` or `query` reads: a bucket prefix, or a local folder (for `query`, a
/// folder or one file, opened without writing into it).
async fn open_data(data: &str, catalog: Option<&str>, reading: bool) -> Result<Lake> {
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
async fn sync_data(lake: &Lake, data: &str, options: &ScanOptions) -> Result<Synced> {
    Ok(match &lake.root {
        Root::Bucket(_) => lake.sync_bucket(options).await?,
        Root::Folder(_) => lake.sync(Path::new(data), options).await?,
    })
}

/// The lake at `data` (a folder, made when missing, or a bucket prefix) with its catalog,
/// or, for another tenant, that tenant's folder with its share of the same catalog.
async fn open_for_tenant(data: &str, catalog: &CatalogArg, tenant: &str) -> Result<Lake> {
    let lake = if workers::is_object_url(data) {
        Lake::open_bucket(data, catalog.url.as_deref()).await?
    } else {
        std::fs::create_dir_all(data).with_context(|| format!("cannot create {data}"))?;
        Lake::open(Path::new(data), catalog.url.as_deref()).await?
    };
    if tenant == DEFAULT_TENANT {
        return Ok(lake);
    }
    Ok(tenant_lake(&lake, tenant).await?)
}

/// `sketchlake tenant …`, on the catalog of `lake`.
async fn tenant_command(lake: &Lake, action: TenantAction) -> Result<()> {
    match action {
        TenantAction::Set {
            name,
            folder,
            origins,
        } => {
            let origins = origins
                .iter()
                .map(|o| normalize_origin(o).map_err(anyhow::Error::msg))
                .collect::<Result<Vec<_>>>()?;
            anyhow::ensure!(
                (name == DEFAULT_TENANT) == folder.is_none(),
                "every tenant but {DEFAULT_TENANT} needs --folder; {DEFAULT_TENANT}'s data is serve --data"
            );
            let folder = match folder {
                Some(f) => {
                    anyhow::ensure!(f.is_dir(), "{} is not a folder", f.display());
                    let f = std::path::absolute(&f)?;
                    check_folder(lake, &name, &f).await?;
                    Some(f.display().to_string())
                }
                None => None,
            };
            lake.catalog
                .set_tenant(&Tenant {
                    name: name.clone(),
                    data: folder,
                    origins,
                    created_ms: gateway::lake::now_ms(),
                })
                .await?;
            println!("tenant {name} set");
        }
        TenantAction::List => {
            for t in lake.catalog.tenants().await? {
                println!(
                    "{}\t{}\t{}",
                    t.name,
                    t.data.as_deref().unwrap_or("(serve --data)"),
                    t.origins.join(" ")
                );
            }
        }
    }
    Ok(())
}

/// `sketchlake key …`, on the catalog of `lake`.
async fn key_command(lake: &Lake, action: KeyAction) -> Result<()> {
    match action {
        KeyAction::Create {
            tenant,
            role,
            label,
        } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let known = tenant == DEFAULT_TENANT
                || lake
                    .catalog
                    .tenants()
                    .await?
                    .iter()
                    .any(|t| t.name == tenant);
            anyhow::ensure!(
                known,
                "no tenant {tenant:?}: add it with `sketchlake tenant set`"
            );
            let (key, record) = new_key(&tenant, role, &label)?;
            lake.catalog.add_key(&record).await?;
            eprintln!(
                "key {} ({} of {tenant}); it is shown only now:",
                record.id,
                role.as_str()
            );
            println!("{key}");
        }
        KeyAction::List => {
            for k in lake.catalog.keys().await? {
                let state = if k.revoked_ms.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}\t{}\t{}\t{}", k.id, k.tenant, k.role, state, k.label);
            }
        }
        KeyAction::Revoke { id } => {
            anyhow::ensure!(
                lake.catalog
                    .revoke_key(&id, gateway::lake::now_ms())
                    .await?,
                "no active key {id:?}"
            );
            println!("key {id} revoked");
        }
    }
    Ok(())
}

async fn engine(
    lake: Lake,
    tenants: BTreeMap<String, Arc<Lake>>,
    run: &RunArgs,
    options: ScanOptions,
    access: Access,
) -> Result<Arc<Engine>> {
    let executor: Arc<dyn Executor> = match run.executor {
        ExecutorKind::Local => Arc::new(match run.workers {
            Some(n) => LocalPool::new(n),
            None => LocalPool::with_cores(),
        }),
        ExecutorKind::Lambda => {
            let function = run
                .function
                .as_deref()
                .context("--executor lambda needs --function")?;
            let mut config = LambdaConfig::new(function);
            config.width = run.workers.unwrap_or(config.width);
            config.timeout = seconds(run.invocation_timeout, "--invocation-timeout")?;
            config.batch_bytes = run.batch_mib.max(1) << 20;
            config.spill.clone_from(&run.spill);
            config.endpoint.clone_from(&run.lambda_endpoint);
            tracing::info!(function, in_flight = config.width, "scanning on AWS Lambda");
            Arc::new(LambdaExecutor::new(config).await)
        }
    };
    Ok(Arc::new(Engine {
        lake: Arc::new(lake),
        tenants,
        access,
        executor,
        scan: Arc::new(options),
        timeout: seconds(run.query_timeout, "--query-timeout")?,
    }))
}

/// A positive number of seconds from the command line.
fn seconds(value: f64, flag: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("{flag} takes a positive number of seconds, not {value}"))
}

async fn serve(engine: Arc<Engine>, listen: SocketAddr, ui: PathBuf) -> Result<()> {
    let ui_dir = if ui.join("index.html").is_file() {
        Some(ui)
    } else {
        tracing::warn!(ui = %ui.display(), "no built frontend there; serving the API only");
        None
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    // Tests and `cargo xtask run` read this line for the URL.
    println!("sketchlake listening on http://{addr}");
    axum::serve(listener, server::router(engine, ui_dir))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")
}

/// Ctrl-C, or SIGTERM from a service manager: stop accepting, finish what is running.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
