//! `sketchlake alerts …` and `sketchlake sink …`: the alerts rules raised, and where a
//! tenant's alerts go, kept in a lake's catalog.

use std::time::Duration;

use anyhow::{Context, Result};
use gateway::access::random_hex;
use gateway::detect::{Deliverer, SearchError, search_alerts};
use lake::alerts::{AlertState, Sink, SinkKind, check_sink_url};
use lake::{DEFAULT_TENANT, Lake};
use shared_sketch::query::parse_span;
use shared_sketch::time::{format_timestamp, now_ms};

use super::args::{CatalogArg, open_for_tenant};
use super::query::{Output, bad_query, print_answer};

/// The lake whose catalog keeps the alerts, and whose.
#[derive(clap::Args)]
pub struct LakeArgs {
    /// The lake (`serve --data`, `ingest --data`).
    #[arg(long, global = true, default_value = "data")]
    data: String,
    #[command(flatten)]
    catalog: CatalogArg,
    #[arg(long, global = true, default_value = DEFAULT_TENANT)]
    tenant: String,
}

#[derive(clap::Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    lake: LakeArgs,
    #[command(subcommand)]
    action: AlertsAction,
}

#[derive(clap::Subcommand)]
enum AlertsAction {
    /// The alerts raised, newest first.
    List {
        /// Raised within this span before now (`24h`, `7d`); all when not given.
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, value_parser = ["table", "json"], default_value = "table")]
        format: String,
    },
    /// Search the alerts with the query language: each alert is an event with its `rule`,
    /// `severity`, `entity`, group fields, `count` and `time`, e.g.
    /// `severity:high | stats dc(rule) by entity`.
    Search {
        query: String,
        #[arg(long, value_enum, default_value_t = Output::Table)]
        format: Output,
    },
    /// Mark an alert acknowledged or closed (or new again).
    Set {
        id: String,
        #[arg(value_parser = ["new", "acknowledged", "closed"])]
        state: String,
    },
    /// Send what is due in the outbox (alerts a CLI ingest could not deliver before it
    /// exited), waiting at most --wait seconds.
    Deliver {
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
}

#[derive(clap::Args)]
pub struct SinkArgs {
    #[command(flatten)]
    lake: LakeArgs,
    #[command(subcommand)]
    action: SinkAction,
}

#[derive(clap::Subcommand)]
enum SinkAction {
    /// Add a sink, or change one. Rules name it in their `sinks:`.
    Set {
        name: String,
        #[arg(long, value_parser = ["webhook", "slack", "pagerduty"])]
        kind: String,
        /// Where to POST: `https://…`, or `http://` on this machine only. For PagerDuty,
        /// its Events API v2 endpoint (`https://events.pagerduty.com/v2/enqueue`).
        #[arg(long)]
        url: String,
        /// A webhook's signing key (made up and printed once when not given); PagerDuty's
        /// routing key (required).
        #[arg(long)]
        secret: Option<String>,
    },
    /// The sinks (never their secrets).
    List,
    /// Remove a sink. Deliveries waiting for it stay, and go out if it is set again.
    Delete { name: String },
}

impl LakeArgs {
    /// The lake, speaking for the tenant.
    async fn open(&self) -> Result<Lake> {
        open_for_tenant(&self.data, &self.catalog, &self.tenant).await
    }
}

pub async fn alerts(args: AlertsArgs) -> Result<()> {
    let lake = args.lake.open().await?;
    let catalog = &lake.catalog;
    match args.action {
        AlertsAction::List {
            since,
            limit,
            format,
        } => {
            let since = match since {
                Some(span) => {
                    let seconds = parse_span(&span)
                        .with_context(|| format!("{span:?} is not a span (24h, 7d)"))?;
                    now_ms() - i64::from(seconds) * 1000
                }
                None => i64::MIN,
            };
            let alerts = catalog.alerts(since, limit).await?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&alerts)?);
                return Ok(());
            }
            println!(
                "raised                severity  rule                      group                               window (event time)                          count  state"
            );
            for a in &alerts {
                let group = a.entity();
                println!(
                    "{:<21} {:<9} {:<25} {:<35} {} – {}  {:>6}  {}{}",
                    format_timestamp(a.created_ms - a.created_ms % 1000),
                    a.severity,
                    a.rule,
                    group,
                    format_timestamp(a.window.0),
                    format_timestamp(a.window.1),
                    a.count,
                    a.state.name(),
                    if a.staging {
                        " (staging: not sent)"
                    } else {
                        ""
                    },
                );
            }
            eprintln!("{} alerts", alerts.len());
        }
        AlertsAction::Search { query, format } => {
            let answer = match search_alerts(catalog, &query, now_ms()).await {
                Ok(answer) => answer,
                Err(SearchError::Query(e)) => bad_query(&query, &e.into()),
                Err(SearchError::Catalog(e)) => return Err(e.into()),
                Err(SearchError::Lookup(e)) => return Err(e.into()),
            };
            print_answer(&answer, format)?;
        }
        AlertsAction::Set { id, state } => {
            let state = AlertState::parse(&state).context("unknown state")?;
            anyhow::ensure!(catalog.set_alert_state(&id, state).await?, "no alert {id}");
            println!("alert {id} {}", state.name());
        }
        AlertsAction::Deliver { wait } => {
            let drained = Deliverer::new(catalog.clone())?
                .drain(Duration::from_secs(wait))
                .await?;
            println!(
                "{} deliveries sent; {} pending",
                drained.delivered, drained.pending
            );
        }
    }
    Ok(())
}

pub async fn sink(args: SinkArgs) -> Result<()> {
    let lake = args.lake.open().await?;
    let catalog = &lake.catalog;
    match args.action {
        SinkAction::Set {
            name,
            kind,
            url,
            secret,
        } => {
            let kind = SinkKind::parse(&kind).context("unknown sink kind")?;
            check_sink_url(&url).map_err(anyhow::Error::msg)?;
            anyhow::ensure!(
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                "a sink name is letters, digits, '-', '_' or '.'"
            );
            let secret = match (kind, secret) {
                (_, Some(secret)) => secret,
                (SinkKind::PagerDuty, None) => {
                    anyhow::bail!("a PagerDuty sink needs its routing key: --secret")
                }
                (SinkKind::Webhook, None) => {
                    let made = random_hex(32)?;
                    println!("signing secret (shown once): {made}");
                    made
                }
                (SinkKind::Slack, None) => String::new(),
            };
            catalog
                .set_sink(&Sink {
                    tenant: lake.catalog.tenant().to_string(),
                    name: name.clone(),
                    kind,
                    url,
                    secret,
                    created_ms: now_ms(),
                })
                .await?;
            println!("sink {name} set ({})", kind.name());
        }
        SinkAction::List => {
            for s in catalog.sinks().await? {
                // A Slack webhook's URL is its secret: only its host is shown.
                let url = match (s.kind, url::Url::parse(&s.url)) {
                    (SinkKind::Slack, Ok(u)) => {
                        format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or(""))
                    }
                    _ => s.url.clone(),
                };
                println!("{}\t{}\t{url}", s.name, s.kind.name());
            }
        }
        SinkAction::Delete { name } => {
            anyhow::ensure!(catalog.delete_sink(&name).await?, "no sink {name}");
            println!("sink {name} deleted");
        }
    }
    Ok(())
}
