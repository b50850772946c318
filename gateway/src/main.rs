use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use gateway::demo::{self, DemoConfig};
use gateway::executor::LocalPool;
use gateway::run::Engine;
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
        /// Folder of log files to search (searched recursively).
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Address to listen on (port 0 picks a free port; the URL is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The built frontend (trunk's dist folder).
        #[arg(long, default_value = "dist")]
        ui: PathBuf,
        /// Scan tasks run at once (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Run one query over a folder or file and print the merged answer (the same JSON as
    /// `POST /api/v1/query`, or a table).
    Query {
        /// Folder of log files (searched recursively) or one file.
        #[arg(long)]
        data: PathBuf,
        /// Output: `json` (as the HTTP API answers) or `table` (for reading).
        #[arg(long, value_enum, default_value_t = Output::Json)]
        format: Output,
        /// Scan tasks run at once (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
        #[command(flatten)]
        input: InputArgs,
        /// The query, e.g. `action:REJECT | top 10 src_ip`.
        query: String,
    },
    /// Copy log files into indexed segments (gzip NDJSON pages with an index sidecar), so
    /// queries over `--out` read only the pages that may match. The sources are left as
    /// they are; JSON sources are converted, other formats are reported and not copied.
    Ingest {
        /// Folder to write the segments to (the folder to query afterwards).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        input: InputArgs,
        /// A log file, or a folder of them (searched recursively).
        source: PathBuf,
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
            listen,
            ui,
            workers,
            input,
        } => {
            anyhow::ensure!(
                data.is_dir(),
                "data folder {} does not exist",
                data.display()
            );
            let engine = engine(data, workers, input);
            serve(engine, listen, ui).await
        }
        Command::Query {
            data,
            format,
            workers,
            input,
            query,
        } => {
            anyhow::ensure!(data.exists(), "{} does not exist", data.display());
            let response = match api::answer(&engine(data, workers, input), &query).await {
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
            Ok(())
        }
        Command::Ingest { out, input, source } => {
            anyhow::ensure!(source.exists(), "{} does not exist", source.display());
            let options = input.options();
            let started = std::time::Instant::now();
            let report = tokio::task::spawn_blocking(move || {
                gateway::ingest::ingest(&source, &out, &options)
            })
            .await?
            .context("ingest failed")?;
            for (file, format) in &report.kept {
                eprintln!("kept as it is ({format}: not converted yet): {file}");
            }
            println!(
                "ingested {} files into {} segments in {:.1?}: {} rows, {} malformed, {} bytes, index {} bytes",
                report.files,
                report.segments,
                started.elapsed(),
                report.rows,
                report.malformed,
                report.bytes,
                report.index_bytes
            );
            Ok(())
        }
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

fn engine(data: PathBuf, workers: Option<usize>, input: InputArgs) -> Arc<Engine> {
    let executor = match workers {
        Some(n) => LocalPool::new(n),
        None => LocalPool::with_cores(),
    };
    Arc::new(Engine {
        data_dir: data,
        executor: Arc::new(executor),
        scan: Arc::new(input.options()),
    })
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
