//! A `Partial` is what one scan task returns for one query: the matching-event count, one
//! sketch state per aggregate (per group and time bucket when the query asks), the newest
//! matching events (hits), and scan statistics.
//! Partials merge associatively and commutatively, so workers, the gateway and the browser
//! may combine them in any order.
//!
//! This folder: `merge` (the `Partial` and how two merge), `aggregator` (building one from
//! matching events), `minutes` (a query's partials per minute, as detection rules store them), `hits` (the
//! newest matching events), `stats` (what a scan read), and
//! `project` (the answer a user sees).

mod aggregator;
mod hits;
mod merge;
mod minutes;
mod project;
mod stats;
#[cfg(test)]
mod tests;

pub use aggregator::{Aggregator, recycle};
pub use hits::{Hit, HitRank};
pub use merge::Partial;
pub use minutes::MinuteRollups;
pub use stats::{FileError, ScanStats};
