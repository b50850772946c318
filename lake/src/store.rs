//! The files and objects a catalog names, reached through the workers' stores.

use std::path::Path;

use workers::Source;

use crate::error::{LakeError, blocking};
use crate::folder::MANAGED_DIR;

/// The file or object a catalog uri names.
pub fn source_of(uri: &str) -> Result<Source, LakeError> {
    workers::stores().source(uri).map_err(|e| LakeError::Store {
        url: uri.to_string(),
        message: e.to_string(),
    })
}

/// Deletes `files` (those already gone too) on a blocking thread; returns how many.
pub(crate) async fn delete(files: Vec<Source>) -> Result<u64, LakeError> {
    if files.is_empty() {
        return Ok(0);
    }
    blocking(Path::new(MANAGED_DIR), move || {
        for file in &files {
            file.delete().map_err(|e| LakeError::Store {
                url: format!("{file:?}"),
                message: format!("delete failed: {e}"),
            })?;
        }
        Ok(files.len() as u64)
    })
    .await
}
