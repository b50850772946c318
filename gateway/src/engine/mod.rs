//! Running one query: parse it, plan a scan task per catalogued file the time range keeps,
//! run the tasks on an executor (this machine's cores or AWS Lambda), and coalesce the
//! partials that come back into a bounded stream of frames.

mod admission;
mod build;
pub mod executor;
pub mod metrics;
pub mod planner;
mod run;

pub use admission::{Admission, DEFAULT_PER_KEY, DEFAULT_PER_TENANT};
pub use build::{DEFAULT_TIMEOUT, Engine};
pub use run::{Ask, FLUSH_INTERVAL, run_query};
