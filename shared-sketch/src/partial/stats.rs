//! What a scan read: sums that merge exactly, and the first failures.

use serde::{Deserialize, Serialize};

use crate::limits::MAX_FILE_ERRORS;

/// What a scan read. Sums merge exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanStats {
    /// Data files scanned (including those that failed part-way).
    pub files: u64,
    /// Bytes of those files as stored (compressed).
    pub bytes: u64,
    /// Of those bytes, how many were read: all of a plain file, the pages of a segment
    /// that its index could not rule out.
    pub bytes_read: u64,
    /// Pages of indexed segments considered, and how many of them the index ruled out.
    pub pages: u64,
    pub pages_pruned: u64,
    /// Records read.
    pub records: u64,
    /// Lines that were not valid records: counted, skipped.
    pub malformed: u64,
    /// Files that could not be read to the end.
    pub failed_files: u64,
    /// Segments read whole because their index sidecar could not be read (missing,
    /// damaged, of another version): their answer is exact, only slower.
    pub unindexed: u64,
    /// The first `MAX_FILE_ERRORS` of those failures, ordered by file.
    pub errors: Vec<FileError>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileError {
    pub file: String,
    pub message: String,
}

impl ScanStats {
    pub fn merge(&mut self, other: &ScanStats) {
        self.files = self.files.saturating_add(other.files);
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.bytes_read = self.bytes_read.saturating_add(other.bytes_read);
        self.pages = self.pages.saturating_add(other.pages);
        self.pages_pruned = self.pages_pruned.saturating_add(other.pages_pruned);
        self.records = self.records.saturating_add(other.records);
        self.malformed = self.malformed.saturating_add(other.malformed);
        self.failed_files = self.failed_files.saturating_add(other.failed_files);
        self.unindexed = self.unindexed.saturating_add(other.unindexed);
        // Sorted, deduplicated, truncated: the same whatever the merge order.
        self.errors.extend(other.errors.iter().cloned());
        self.errors.sort();
        self.errors.dedup();
        self.errors.truncate(MAX_FILE_ERRORS);
    }

    /// Records a file that failed part-way (or entirely).
    pub fn add_error(&mut self, file: impl Into<String>, message: impl Into<String>) {
        self.failed_files += 1;
        self.merge(&ScanStats {
            errors: vec![FileError {
                file: file.into(),
                message: message.into(),
            }],
            ..ScanStats::default()
        });
    }
}
