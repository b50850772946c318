//! Mergeable sketches. Each wraps an Apache DataSketches implementation, hashes explicit
//! canonical bytes (identical on x86_64 and wasm32), serializes through that library's own
//! portable byte format, and reports its error bounds alongside every estimate.

mod bytes;
mod hll;
mod topk;

pub use hll::{DistinctCount, DistinctEstimate, HLL_LG_K};
pub use topk::{TOPK_MAP_SIZE, TopK};

/// A sketch's bytes could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt {sketch} sketch: {message}")]
pub struct SketchError {
    pub sketch: &'static str,
    pub message: String,
}
