//! Every bound on what a query may ask and an answer may hold, in one place: the parser
//! refuses what exceeds them, and partials keep within them however they merge.

/// File errors kept in full; beyond this only the count grows (10,000 corrupt files must
/// not make a 10,000-line frame).
pub const MAX_FILE_ERRORS: usize = 100;
/// Matching events an answer keeps by default: the newest by (time, file, line) — file
/// names in a lake sort by time too. A request may ask for more (`Query::hits`).
pub const MAX_HITS: usize = 100;
/// The most matching events a request may ask for (the page's events list).
pub const MAX_HITS_LIMIT: usize = 100_000;
/// The most text the kept events may hold together, whatever their number: 100,000
/// CloudTrail events of 4 KB must not make a 400 MB answer.
pub const MAX_HITS_TEXT: usize = 32 << 20;
/// A hit's text is cut to this many bytes (at a character boundary): a 1 MiB line must not
/// make a 100 MiB frame.
pub const MAX_HIT_BYTES: usize = 4096;

/// Named groups per partial (and after any merge); the rest are counted as "other".
pub const MAX_GROUPS: usize = 500;
/// Most buckets of a `timechart` with `span=`; a finer span is coarsened to fit.
pub const MAX_BUCKETS: u32 = 2_000;
/// Largest N accepted by `top N`, `rare N` and `head N` (but `head` after a plain search,
/// which keeps events, takes up to `MAX_HITS_LIMIT`): a list longer than this is no longer
/// a summary (and top-K bounds would be too wide to be useful).
pub const MAX_LIST_N: u32 = 1000;
/// Longest query accepted; a query is typed by a person, anything longer is an accident.
pub const MAX_QUERY_LEN: usize = 8 * 1024;
/// The longest query a detection rule may hold (rule files are the team's own code; a
/// Sigma rule may list hundreds of values).
pub const MAX_RULE_QUERY_LEN: usize = 256 * 1024;
/// Deepest nesting of parentheses and `NOT`s: bounds the parser's recursion.
pub const MAX_DEPTH: usize = 64;
/// Most fields after `by`.
pub const MAX_BY_FIELDS: usize = 4;
/// Most fields `table` and `dedup` name.
pub const MAX_COLUMNS: usize = 64;
