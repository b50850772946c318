//! Folder lakes: walking a local folder for the catalog, and naming its files by URL.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use shared_sketch::time::epoch_ms;
use workers::{ScanOptions, Source, detect_format};

use crate::catalog::Entry;
use crate::error::{LakeError, io_error};

/// The lake's own folder: the catalog and the segments.
pub const MANAGED_DIR: &str = ".sketchlake";

/// The catalog's name for a local file: a `file://` URL.
pub fn uri_of(path: &Path) -> Result<String, LakeError> {
    url::Url::from_file_path(path)
        .map(String::from)
        .map_err(|()| LakeError::NotAFilePath(path.display().to_string()))
}

/// The local file a `file://` uri names.
pub fn path_of(uri: &str) -> Result<PathBuf, LakeError> {
    url::Url::parse(uri)
        .ok()
        .and_then(|u| u.to_file_path().ok())
        .ok_or_else(|| LakeError::NotAFilePath(uri.to_string()))
}

/// A file's modification time, epoch ms (0 when it cannot be read).
pub(crate) fn modified_ms(path: &Path) -> i64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_or(0, epoch_ms)
}

/// A raw catalog entry for the file at `path`, read where it is; its format is left for
/// the caller to fill in.
pub fn raw_entry(path: &Path) -> Result<Entry, LakeError> {
    let bytes = std::fs::metadata(path).map_err(io_error(path))?.len();
    Ok(Entry::raw(
        uri_of(path)?,
        String::new(),
        bytes,
        modified_ms(path),
    ))
}

/// `raw_entry` with the file's format, detected only when the file is new or changed.
pub(crate) fn describe(
    path: &Path,
    options: &ScanOptions,
    known: &HashMap<String, Entry>,
) -> Result<Entry, LakeError> {
    let mut entry = raw_entry(path)?;
    entry.format = match known.get(&entry.uri) {
        Some(old)
            if (old.bytes, old.modified_ms) == (entry.bytes, entry.modified_ms)
                && !old.format.is_empty() =>
        {
            old.format.clone()
        }
        _ => format_name(path, options).unwrap_or_else(|e| unknown_format(&entry.uri, &e)),
    };
    Ok(entry)
}

/// The format of a file whose start could not be read: none. The file is registered all
/// the same, so that a query reads it (and reports it failed if it still cannot be read)
/// rather than miss it silently; the next sync tries again.
pub(crate) fn unknown_format(uri: &str, why: &dyn std::fmt::Display) -> String {
    tracing::warn!(%uri, error = %why, "cannot read the start of a file to learn its format");
    String::new()
}

/// The format `options` names, or else the one `file`'s first bytes show. Blocking.
pub fn format_name(file: impl Into<Source>, options: &ScanOptions) -> io::Result<String> {
    match options.format {
        Some(format) => Ok(format.to_string()),
        None => detect_format(file).map(|f| f.to_string()),
    }
}

/// `root` itself when it is a file, else every regular, non-hidden file under it (hidden
/// folders, the lake's own among them, are skipped), in path order.
pub fn list_files(root: &Path) -> Result<Vec<PathBuf>, LakeError> {
    if root.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut files = walk(root).map_err(io_error(root))?;
    files.retain(|path| {
        path.strip_prefix(root).is_ok_and(|relative| {
            !relative
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        })
    });
    Ok(files)
}

/// Every regular file under `dir`, sorted.
pub(crate) fn walk(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}
