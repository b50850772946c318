//! The command line, a file per command group; `main.rs` only dispatches.

pub mod admin;
pub mod alerts;
pub mod args;
pub mod demo;
pub mod ingest;
pub mod lookups;
pub mod query;
pub mod rules;
pub mod serve;
mod table;
