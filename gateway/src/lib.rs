//! The gateway: serves the frontend, accepts queries over WebSocket and HTTP, plans one scan
//! task per catalogued file, runs them on an executor, and streams merged partials back.
//!
//! In layers, each using only those below it: `http` (routes, the API, the WebSocket,
//! embedding; every HTTP status decided in `http::error`) over `engine` (running one query:
//! plan, execute, coalesce) and `access` (keys and widget tokens), over the `lake` crate.
//! The command line (`src/cli/`, in the binary) uses all of them.

pub mod access;
pub mod demo;
pub mod detect;
pub mod engine;
pub mod http;

pub use engine::{Ask, Engine};
