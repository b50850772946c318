//! `sketchlake query`: one query over a folder, a file or a bucket, answered as the HTTP API
//! answers it (JSON) or as a table.

use std::sync::Arc;

use anyhow::Result;
use gateway::engine::Ask;
use gateway::http::{ApiError, answer};
use lake::DEFAULT_TENANT;
use shared_sketch::fold::Answer;
use shared_sketch::{ErrorKind, QueryError};

use super::args::{CatalogArg, InputArgs, RunArgs, open_data, sync_data};
use super::table;

#[derive(clap::Args)]
pub struct QueryArgs {
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
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(super) enum Output {
    Json,
    Table,
}

pub async fn query(args: QueryArgs) -> Result<()> {
    let QueryArgs {
        data,
        catalog,
        format,
        hits,
        run,
        input,
        query,
    } = args;
    let options = input.options();
    let lake = open_data(&data, catalog.url.as_deref(), true).await?;
    sync_data(&lake, &data, &options).await?;
    let engine = Arc::new(run.engine(lake, options).await?);
    let ask = Ask::new(DEFAULT_TENANT, &query, hits);
    let response = match answer(&engine, ask).await {
        Ok(response) => response,
        Err(ApiError::Query(e)) if e.kind == ErrorKind::BadQuery => bad_query(&query, &e),
        Err(e) => return Err(e.into()),
    };
    print_answer(&response, format)?;
    if let Some(why) = &response.stopped {
        eprintln!("warning: {why}");
        std::process::exit(3);
    }
    Ok(())
}

/// Says why `query` does not parse as a compiler would (the query, a caret under the
/// column, the reason) and exits with 2.
pub(super) fn bad_query(query: &str, e: &QueryError) -> ! {
    let caret = e.column.map_or(String::new(), |c| {
        format!("\n  {}^", " ".repeat(c.saturating_sub(1) as usize))
    });
    eprintln!("error: {}\n  {query}{caret}", e.message);
    std::process::exit(2);
}

/// Prints `answer` as the HTTP API answers (JSON) or as a table.
pub(super) fn print_answer(answer: &Answer, format: Output) -> Result<()> {
    match format {
        Output::Json => println!("{}", serde_json::to_string_pretty(answer)?),
        Output::Table => print!("{}", table::render(&answer.result, answer.elapsed_ms)),
    }
    Ok(())
}
