//! What travels over the WebSocket between the browser and the gateway (see
//! docs/PROTOCOL.md). Both directions use the codec in [`crate::codec`].

use serde::{Deserialize, Serialize};

use crate::partial::Partial;
use crate::query::{ParseError, Query};

/// Browser → gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// A first message: the query text as typed, how many of the newest matching events
    /// to keep (0: the query's own `hits`; at most `MAX_HITS_LIMIT`), and the API key it
    /// runs with (none when the gateway runs without keys).
    Query {
        q: String,
        hits: u32,
        key: Option<String>,
    },
    /// The first message of an embedded widget: it runs saved query `saved` for `widget`,
    /// framed by a page of `origin`, with a widget token naming all three
    /// (docs/EMBEDDING.md). No free-form query.
    Widget {
        token: String,
        saved: String,
        widget: String,
        origin: String,
    },
    /// Stop the running query; the gateway answers with `Done`.
    Cancel,
}

/// Gateway → browser, in this order: `Plan`, then any number of `Partial`/`Progress`,
/// then exactly one of `Done` or `Error`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Frame {
    Plan(Scope),
    /// Everything merged since the previous `Partial`; the browser merges it into its total.
    Partial(Partial),
    Progress(Progress),
    /// The query finished (or was cancelled); final progress.
    Done(Progress),
    /// The query could not run at all (e.g. it does not parse). Per-file failures are not
    /// errors: they travel in `Partial::stats` and the query completes.
    Error(QueryError),
}

/// What a query will read: the query as the gateway runs it, the files the catalog kept,
/// and what it ruled out unread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// The parsed query; the browser builds its empty `Partial` from it.
    pub query: Query,
    /// Files (raw or segments) the query reads, and their stored bytes.
    pub files: u64,
    pub bytes: u64,
    /// Files the catalog ruled out by their time range, unread, and their bytes.
    pub files_pruned: u64,
    pub bytes_pruned: u64,
}

/// Cumulative progress of the query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub elapsed_ms: u64,
    /// True when the query stopped early (cancel or client gone).
    pub cancelled: bool,
    /// Why the server stopped the query before every file was scanned (its time limit),
    /// for people: the answer covers `files_done` of `files_total`.
    pub stopped: Option<String>,
}

/// Why a query could not run, for people, and what kind of failure it is, for programs:
/// the HTTP API's status follows from the kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryError {
    pub kind: ErrorKind,
    pub message: String,
    /// 1-based column in the query text, when the error is about the text.
    pub column: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The query (or the first message) is not one the gateway can run: the caller's to fix.
    BadQuery,
    /// The caller may not run it: no key, a bad key or token, another tenant's query.
    Forbidden,
    /// What it names is not there: a tenant without data, a saved query since deleted.
    NotFound,
    /// The lake cannot be read now (its catalog is down): worth retrying later.
    LakeUnavailable,
    /// Nothing came in time.
    TimedOut,
    /// A fault of ours.
    Internal,
    /// The caller already runs as many queries as it may at once: worth retrying soon.
    Busy,
}

impl QueryError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> QueryError {
        QueryError {
            kind,
            message: message.into(),
            column: None,
        }
    }

    /// A query that does not parse, pointing at the column where it stops making sense.
    pub fn at_column(message: impl Into<String>, column: usize) -> QueryError {
        QueryError {
            column: u32::try_from(column).ok(),
            ..QueryError::new(ErrorKind::BadQuery, message)
        }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.column {
            Some(column) => write!(f, "column {column}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl From<ParseError> for QueryError {
    fn from(e: ParseError) -> QueryError {
        QueryError::at_column(e.message, e.column)
    }
}
