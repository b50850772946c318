//! `sketchlake serve`: the web UI, the WebSocket query stream and the HTTP API, and, with
//! `--watch`, the upkeep of a folder of arriving files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use gateway::access::Access;
use gateway::detect::{self, Deliverer, RuleBook};
use gateway::http::{self, AppState};
use lake::DEFAULT_TENANT;
use lake::tenants::open_tenant_lakes;

use super::args::{CatalogArg, InputArgs, RunArgs, open_data, seconds, sync_data};

#[derive(clap::Args)]
pub struct ServeArgs {
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
    /// Also serve `GET /metrics` (Prometheus) here, without keys: an address only the
    /// monitoring network reaches. On the main address it needs an admin key.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// The built frontend (the `dist` folder `cargo xtask` builds).
    #[arg(long, default_value = "dist")]
    ui: PathBuf,
    /// Serve without API keys: every caller is an admin of the default tenant. Only
    /// allowed when listening on loopback (a development machine).
    #[arg(long)]
    no_auth: bool,
    /// Seconds a write to a client may wait for it to read; then its connection is
    /// dropped and its query stopped.
    #[arg(long, default_value_t = http::DEFAULT_SEND_TIMEOUT.as_secs_f64())]
    send_timeout: f64,
    /// Detection rules (a rules folder, read again whenever a file in it changes): run
    /// every --watch-every seconds over what arrived, their alerts sent to their sinks.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Another tenant's detection rules: `TENANT=DIR` (repeatable), run as `--rules` are,
    /// over that tenant's data, their alerts that tenant's.
    #[arg(long = "tenant-rules", value_name = "TENANT=DIR")]
    tenant_rules: Vec<String>,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    input: InputArgs,
}

pub async fn serve(args: ServeArgs) -> Result<()> {
    let ServeArgs {
        data,
        catalog,
        watch,
        watch_every,
        listen,
        metrics_listen,
        ui,
        no_auth,
        send_timeout,
        rules,
        tenant_rules,
        run,
        input,
    } = args;
    let open_book = |dir: &Path| {
        RuleBook::open(dir)
            .map(Arc::new)
            .with_context(|| format!("cannot read rules folder {}", dir.display()))
    };
    let book = rules.as_deref().map(open_book).transpose()?;
    let mut tenant_books = Vec::new();
    for given in &tenant_rules {
        let Some((tenant, dir)) = given.split_once('=') else {
            anyhow::bail!("--tenant-rules takes TENANT=DIR, not {given:?}");
        };
        anyhow::ensure!(
            tenant != DEFAULT_TENANT,
            "the default tenant's rules are --rules, not --tenant-rules"
        );
        tenant_books.push((tenant.to_string(), open_book(Path::new(dir))?));
    }
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
    let engine = run
        .engine(lake, options.clone())
        .await?
        .with_tenants(tenants);
    let engine = Arc::new(engine);
    let stop = tokio_util::sync::CancellationToken::new();
    let every = seconds(watch_every, "--watch-every")?;
    let send_timeout = seconds(send_timeout, "--send-timeout")?;
    // Rung by the watched folder's ingest: the rules run at once on what arrived.
    let arrived = Arc::new(tokio::sync::Notify::new());
    let watching = book.clone();
    let rules_now = move || {
        watching
            .as_ref()
            .map(|b| b.loaded().watching())
            .unwrap_or_default()
    };
    if let Some(dir) = watch {
        anyhow::ensure!(
            dir.is_dir(),
            "watched folder {} does not exist",
            dir.display()
        );
        let dir = std::path::absolute(dir)?;
        tokio::spawn(lake::watch::watch(
            engine.lake().clone(),
            dir,
            options.clone(),
            rules_now,
            every,
            (
                arrived.clone(),
                stop.clone(),
                engine.metrics().watch.clone(),
            ),
        ));
    }
    let mut state = AppState::new(engine.clone(), access);
    // Alerts in the outbox go out whether or not this gateway runs rules (a CLI ingest
    // leaves what it could not deliver for the next `serve`).
    let deliverer = Deliverer::new(engine.lake().catalog.clone())?;
    tokio::spawn(deliverer.clone().run(stop.clone()));
    // Each tenant's rules run over its own lake; the default tenant's are also woken by
    // the watched folder's ingest (another's data arrives by `ingest --tenant`: the tick).
    let books = book.map(|b| (DEFAULT_TENANT.to_string(), b));
    for (tenant, book) in tenant_books.into_iter().chain(books) {
        let lake = engine.lake_for(&tenant).cloned().with_context(|| {
            format!("--tenant-rules: no tenant {tenant:?} (sketchlake tenant set)")
        })?;
        let woken = if tenant == DEFAULT_TENANT {
            arrived.clone()
        } else {
            Arc::new(tokio::sync::Notify::new())
        };
        tokio::spawn(detect::keep_running(
            lake,
            book.clone(),
            options.clone(),
            deliverer.clone(),
            (every, woken, stop.clone()),
        ));
        state = state.with_rules(&tenant, book);
    }
    if let Some(address) = metrics_listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} (--metrics-listen)"))?;
        println!(
            "sketchlake metrics on http://{}/metrics",
            listener.local_addr()?
        );
        let routes = http::metrics_router(state.clone());
        let stopped = stop.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, routes)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    let catalog = state.catalog().clone();
    let served = listen_and_serve(state, listen, ui, send_timeout).await;
    stop.cancel();
    catalog.close().await;
    served
}

async fn listen_and_serve(
    state: AppState,
    listen: SocketAddr,
    ui: PathBuf,
    send_timeout: std::time::Duration,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    // Tests and `cargo xtask run` read this line for the URL.
    println!("sketchlake listening on http://{}", listener.local_addr()?);
    http::serve(
        listener,
        state,
        Some(ui),
        send_timeout,
        http::shutdown_signal(),
    )
    .await
    .context("server failed")
}
