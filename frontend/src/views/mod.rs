//! The pages: the search page (its dashboard apart), the detections page, and one widget
//! alone for embedding.
//! Each is built from `components/`.

pub mod dashboard;
pub mod detections;
pub mod embed;
pub mod search;
