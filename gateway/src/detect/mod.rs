//! Detection rules: queries that run on the data as it arrives. `rule` reads one rule
//! file, `folder` a rules folder, `book` keeps a folder's rules current, `check` runs a
//! rule's own tests, `run` evaluates rules' windows by event time and raises alerts,
//! `deliver` sends them, `backfill` runs rules over history through the executors,
//! `backtest` runs them over any data without storing anything,
//! `dataset` makes alerts a data set that searches and rules read; `sigma` reads Sigma
//! rules as sketchlake rules.

mod backfill;
mod backtest;
mod book;
mod check;
mod dataset;
mod deliver;
mod folder;
mod rule;
mod run;
pub mod sigma;

pub use backfill::{Backfilled, backfill};
pub use backtest::{BacktestError, Backtested, Tested, backtest};
pub use book::{Loaded, RuleBook};
pub use check::{Checked, check};
pub use dataset::{ALERTS_SOURCE, SearchError, alert_event, search_alerts};
pub use deliver::{Deliverer, Drained, IDEMPOTENCY_HEADER, SIGNATURE_HEADER};
pub use folder::{Rules, load, read_rule_files, rule_files};
pub use rule::{
    Dataset, Dedup, Expect, Join, Joined, Rule, RuleError, RuleState, RuleTest, Severity,
    parse_rule,
};
pub use run::{Ran, keep_running, run_rules};
