//! Mergeable sketches. Each wraps an Apache DataSketches implementation, hashes explicit
//! canonical bytes (identical on x86_64 and wasm32), serializes through that library's own
//! portable byte format, and reports its error bounds alongside every estimate.

mod bytes;
mod error;
mod hll;
mod quantile;
mod rare;
mod summary;
mod topk;
mod values;

pub use error::SketchError;
pub use hll::{DistinctCount, DistinctEstimate, EXACT_LIMIT, HLL_LG_K, HLL_LG_K_RANGE};
pub use quantile::{QUANTILE_RELATIVE_ERROR, Quantiles};
pub use rare::{RARE_SAMPLE_SIZE, RARE_THRESHOLD, RareItems, RareRow, RareSummary};
pub use summary::NumericSummary;
pub use topk::{TOPK_MAP_SIZE, TopK, TopRow};
pub use values::{MAX_VALUE_BYTES, MAX_VALUES, Moments, TimedValue, ValueSet};
