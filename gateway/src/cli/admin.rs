//! `sketchlake tenant …` and `sketchlake key …`: tenants and API keys, kept in a lake's
//! catalog.

use std::path::PathBuf;

use anyhow::Result;
use gateway::access::{Role, new_key};
use lake::catalog::Tenant;
use lake::tenants::{check_folder, normalize_origin};
use lake::{DEFAULT_TENANT, Lake};
use shared_sketch::time::now_ms;

use super::args::CatalogArg;

#[derive(clap::Args)]
pub struct TenantArgs {
    /// The lake whose catalog keeps the tenants (`serve --data`).
    #[arg(long, global = true, default_value = "data")]
    data: PathBuf,
    #[command(flatten)]
    catalog: CatalogArg,
    #[command(subcommand)]
    action: TenantAction,
}

#[derive(clap::Subcommand)]
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

#[derive(clap::Args)]
pub struct KeyArgs {
    /// The lake whose catalog keeps the keys (`serve --data`).
    #[arg(long, global = true, default_value = "data")]
    data: PathBuf,
    #[command(flatten)]
    catalog: CatalogArg,
    #[command(subcommand)]
    action: KeyAction,
}

#[derive(clap::Subcommand)]
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

/// `sketchlake tenant …`.
pub async fn tenant(args: TenantArgs) -> Result<()> {
    let lake = Lake::open(&args.data, args.catalog.url.as_deref()).await?;
    match args.action {
        TenantAction::Set {
            name,
            folder,
            origins,
        } => {
            let origins = origins
                .iter()
                .map(|o| normalize_origin(o).map_err(anyhow::Error::from))
                .collect::<Result<Vec<_>>>()?;
            anyhow::ensure!(
                (name == DEFAULT_TENANT) == folder.is_none(),
                "every tenant but {DEFAULT_TENANT} needs --folder; {DEFAULT_TENANT}'s data is serve --data"
            );
            let folder = match folder {
                Some(f) => {
                    anyhow::ensure!(f.is_dir(), "{} is not a folder", f.display());
                    let f = std::path::absolute(&f)?;
                    check_folder(&lake, &name, &f).await?;
                    Some(f.display().to_string())
                }
                None => None,
            };
            lake.catalog
                .set_tenant(&Tenant {
                    name: name.clone(),
                    data: folder,
                    origins,
                    created_ms: now_ms(),
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

/// `sketchlake key …`.
pub async fn key(args: KeyArgs) -> Result<()> {
    let lake = Lake::open(&args.data, args.catalog.url.as_deref()).await?;
    match args.action {
        KeyAction::Create {
            tenant,
            role,
            label,
        } => {
            let role: Role = role.parse()?;
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
                lake.catalog.revoke_key(&id, now_ms()).await?,
                "no active key {id:?}"
            );
            println!("key {id} revoked");
        }
    }
    Ok(())
}
