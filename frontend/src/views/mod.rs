//! The pages: the search page (its dashboard apart), and one widget alone for embedding.
//! Each is built from `components/`.

pub mod dashboard;
pub mod embed;
pub mod search;
