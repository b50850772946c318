//! The gateway: serves the frontend, accepts queries over WebSocket and HTTP, plans one scan
//! task per catalogued file, runs them on an executor, and streams merged partials back.

pub mod api;
pub mod auth;
pub mod bucket;
pub mod catalog;
pub mod compact;
pub mod demo;
pub mod embed;
pub mod executor;
pub mod ingest;
pub mod lake;
pub mod planner;
pub mod run;
pub mod saved;
pub mod server;
pub mod summary;
pub mod table;
pub mod tenants;
pub mod watch;
pub mod ws;
