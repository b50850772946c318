use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use gateway::demo::{self, DemoConfig};
use gateway::executor::LocalPool;
use gateway::run::Engine;
use gateway::server;
use tracing_subscriber::EnvFilter;

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

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match Cli::parse().command {
        Command::Serve {
            data,
            listen,
            ui,
            workers,
        } => serve(data, listen, ui, workers).await,
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

async fn serve(
    data: PathBuf,
    listen: SocketAddr,
    ui: PathBuf,
    workers: Option<usize>,
) -> Result<()> {
    anyhow::ensure!(
        data.is_dir(),
        "data folder {} does not exist",
        data.display()
    );
    let executor = match workers {
        Some(n) => LocalPool::new(n),
        None => LocalPool::with_cores(),
    };
    let engine = Arc::new(Engine {
        data_dir: data,
        executor: Arc::new(executor),
    });
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
