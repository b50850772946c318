//! The query language. It lives here, not in the gateway, so the browser can validate a query
//! as the user types with exactly the parser the server uses, and so every worker evaluates
//! it with the same code.
//!
//! ```text
//! action:REJECT dst_port:22 earliest=-7d | top 10 src_ip
//! src_ip:10.0.0.0/8 NOT dst_port:443 | stats count, dc(dst_ip), p99(bytes) by action
//! "failed password" OR "invalid user" | timechart span=1h count by src_ip
//! ```
//!
//! The reference, with examples on the real datasets, is docs/QUERY.md.

mod ast;
mod calc;
mod display;
mod eval;
mod fields;
mod parse;
mod patterns;
mod prune;

pub use ast::{
    AGGREGATES, Agg, BinOp, COMMANDS, Calc, Command, Compare, CompareOp, Expr, FUNCTIONS, Function,
    Post, Query, SortKey, Stage, StatKind, TIME_FIELD, TimeBound, TimeUnit, compound_key,
    split_compound_key,
};
pub use calc::{Derived, Pipeline, format_number};
pub use display::format_span;
pub use eval::Matcher;
pub use fields::{Fields, aliases};
pub use parse::{NotATime, ParseError, parse, parse_span, parse_with_limit};
pub use patterns::{MAX_REGEX_BYTES, compile_regex};
pub use prune::{Indexed, Summary, index_field, index_text};
