//! The gateway: serves the frontend, accepts queries over WebSocket and HTTP, plans one scan
//! task per data file, runs them on an executor, and streams merged partials back.

pub mod api;
pub mod demo;
pub mod executor;
pub mod ingest;
pub mod planner;
pub mod run;
pub mod server;
pub mod table;
pub mod ws;
