//! The query language. It lives here, not in the gateway, so the browser can validate a query
//! as the user types with exactly the parser the server uses.
//!
//! ```text
//! action:REJECT dst_port:22 | top 10 src_ip
//! src_ip:10.0.3.17 | stats count(), dc(dst_ip), sum(bytes), p99(bytes)
//! ```

mod ast;
mod fields;
mod parse;

pub use ast::{Agg, Filter, Query, StatKind};
pub use fields::aliases;
pub use parse::{ParseError, parse};
