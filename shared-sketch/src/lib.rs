//! The code every side of sketchlake shares: the workers build [`Partial`]s with it, the
//! gateway merges and frames them, and the browser (compiled to wasm32) decodes and merges
//! them again. Anything that crosses a wire is defined here exactly once.
//!
//! Pure computation: no I/O, no async runtime, identical bytes and answers on x86_64 and
//! wasm32 (every hash is over explicit canonical bytes, never `usize` or slices through
//! `std::hash::Hash`).

pub mod aggregate;
pub mod alert;
pub mod codec;
pub mod fold;
pub mod frame;
pub mod lake;
pub mod limits;
pub mod lookup;
pub mod partial;
pub mod query;
pub mod result;
pub mod sketch;
pub mod time;
pub mod widget;

pub use aggregate::{AggState, MergeError};
pub use codec::{CodecError, decode, decode_frame, encode, encode_frame};
pub use fold::{Answer, Fold, Phase};
pub use frame::{ClientMessage, ErrorKind, Frame, Progress, QueryError, Scope};
pub use limits::{MAX_HIT_BYTES, MAX_HITS, MAX_HITS_LIMIT, MAX_HITS_TEXT};
pub use partial::{Aggregator, FileError, Hit, Partial, ScanStats};
pub use query::{Agg, Command, Fields, Matcher, ParseError, Query, StatKind, parse};
pub use result::{AggResult, AggValue, GroupRow, GroupsResult, Point, QueryResult, Series, TopRow};
