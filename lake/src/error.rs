//! What goes wrong in a lake, and running its file work off the async threads.

use std::io;
use std::path::{Path, PathBuf};

use crate::catalog::CatalogError;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0} is not an absolute file path")]
    NotAFilePath(String),
    #[error(
        "{0}: segments written to a bucket are listed only by the catalog, and this one would be lost on exit: name one with --catalog (a SQLite file or PostgreSQL)"
    )]
    CatalogInMemory(String),
    #[error("{url}: {message}")]
    Store { url: String, message: String },
    #[error("no tenant {0:?} with a folder of its own (sketchlake tenant set … --folder)")]
    NoTenant(String),
    #[error("tenant {tenant}'s folder {} overlaps tenant {other}'s", path.display())]
    Overlap {
        tenant: String,
        other: String,
        path: PathBuf,
    },
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> LakeError + '_ {
    move |source| LakeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs file work on a blocking thread, off the async workers; `path` names the work in
/// errors, a panic in it included.
pub(crate) async fn blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> Result<T, LakeError> + Send + 'static,
) -> Result<T, LakeError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| io_error(path)(io::Error::other(e)))?
}
