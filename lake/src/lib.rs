//! A lake: the log files a team keeps (a local folder or an `s3://bucket/prefix`), the
//! indexed segments ingest writes beside them, and the catalog of what queries may read.
//! Everything that keeps a lake: syncing the catalog with the files, ingest, compaction,
//! the sweep of files no longer read, the upkeep of a watched folder, tenants' lakes, and
//! the summary the page opens on. It knows nothing of HTTP or of how queries run: the
//! gateway plans scans from the catalog and serves them.

pub mod alerts;
pub mod bucket;
pub mod catalog;
pub mod compact;
pub mod error;
pub mod evaluate;
pub mod folder;
pub mod ingest;
pub mod lake;
pub mod lookups;
pub mod rollups;
pub mod staging;
pub mod store;
pub mod summary;
pub mod tenants;
pub mod watch;

pub use catalog::{Catalog, CatalogError, DEFAULT_TENANT, Entry, Kind, State};
pub use error::LakeError;
pub use lake::{Lake, Root, SWEEP_GRACE, Synced};
pub use lookups::{LookupInfo, LookupsError};
