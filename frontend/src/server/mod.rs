//! Everything the page says to the gateway and hears back, typed: the query channel (one
//! WebSocket per query, binary frames folded with `shared-sketch`), the lake summary
//! (`GET /api/v1/lake`, read into `shared-sketch`'s own type), the detections (`api`), and
//! the API key the page sends with all of them.

pub mod api;
pub mod key;
mod lake;
mod socket;

pub use lake::data_kind;
pub use socket::{cancel, close_all, start_all, start_one};
