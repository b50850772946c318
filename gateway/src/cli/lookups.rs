//! `sketchlake lookup …`: a tenant's lookup tables (IOC lists, asset owners), kept in a
//! lake's catalog for `| lookup NAME …`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use lake::DEFAULT_TENANT;
use shared_sketch::time::now_ms;

use super::args::{CatalogArg, open_data};

#[derive(clap::Args)]
pub struct LookupArgs {
    /// The lake whose catalog keeps the tables (`serve --data`).
    #[arg(long, global = true, default_value = "data")]
    data: String,
    #[command(flatten)]
    catalog: CatalogArg,
    /// Whose table it is.
    #[arg(long, global = true, default_value = DEFAULT_TENANT)]
    tenant: String,
    #[command(subcommand)]
    action: LookupAction,
}

#[derive(clap::Subcommand)]
enum LookupAction {
    /// Keep a CSV file (a header row, then rows) as the table NAME, replacing any of that
    /// name. A file that does not read whole is refused, with its line.
    Put { name: String, file: PathBuf },
    /// List the tables: name, rows, bytes, columns.
    List,
    /// Remove the table NAME.
    Delete { name: String },
}

pub async fn lookup(args: LookupArgs) -> Result<()> {
    let lake = open_data(&args.data, args.catalog.url.as_deref(), false).await?;
    let catalog = lake.catalog.for_tenant(&args.tenant);
    match args.action {
        LookupAction::Put { name, file } => {
            let csv =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let info = catalog
                .put_lookup(&name, &csv, now_ms())
                .await
                .with_context(|| format!("{}", file.display()))?;
            println!(
                "lookup {} kept: {} rows, columns {}",
                info.name,
                info.rows,
                info.columns.join(", ")
            );
        }
        LookupAction::List => {
            for t in catalog.lookups().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    t.name,
                    t.rows,
                    t.bytes,
                    t.columns.join(",")
                );
            }
        }
        LookupAction::Delete { name } => {
            anyhow::ensure!(
                catalog.delete_lookup(&name).await?,
                "no lookup table {name} for tenant {}",
                args.tenant
            );
            println!("lookup {name} deleted");
        }
    }
    Ok(())
}
