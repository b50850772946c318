//! Where new segments are written before the catalog lists them.

use std::path::PathBuf;

use shared_sketch::time::now_ms;
use workers::{INDEX_SUFFIX, Segment, index_path};

use crate::catalog::{Entry, Kind, State};
use crate::error::{LakeError, io_error};
use crate::folder::uri_of;
use crate::store::source_of;

/// Where new segments are written before the catalog lists them: the lake's own segments
/// folder, or, for a bucket lake, a temporary local folder they are uploaded from (it
/// holds one source's, or one compaction step's, segments at most).
pub struct Staging {
    pub dir: PathBuf,
    /// The bucket folder segments are uploaded to (`s3://…/.sketchlake/segments`).
    bucket: Option<String>,
    /// Removes the local folder, and whatever a failed upload left in it, when dropped.
    _temp: Option<tempfile::TempDir>,
}

impl Staging {
    /// Puts a segment written under `dir` (from a source in `format`) where the lake keeps
    /// it, and returns its catalog entry. Blocking: a bucket lake's segment is uploaded,
    /// sidecar too, before any catalog row names it.
    pub fn publish(
        &self,
        segment: &Segment,
        format: &str,
        source: Option<&str>,
    ) -> Result<Entry, LakeError> {
        let uri = match &self.bucket {
            None => uri_of(&segment.path)?,
            Some(folder) => {
                let name = segment
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| LakeError::NotAFilePath(segment.path.display().to_string()))?;
                let url = format!("{folder}/{name}");
                let object = source_of(&url)?;
                let local = [segment.path.clone(), index_path(&segment.path)];
                for (from, to) in local
                    .iter()
                    .zip([object.clone(), object.suffixed(INDEX_SUFFIX)])
                {
                    to.upload(from).map_err(|e| LakeError::Store {
                        url: url.clone(),
                        message: format!("upload failed: {e}"),
                    })?;
                    // Uploaded: no longer needed here.
                    std::fs::remove_file(from).map_err(io_error(from))?;
                }
                url
            }
        };
        Ok(Entry {
            index_uri: Some(format!("{uri}{INDEX_SUFFIX}")),
            uri,
            kind: Kind::Segment,
            format: format.to_string(),
            time: segment.time,
            time_fields: segment.time_fields.join(","),
            rows: Some(segment.rows),
            bytes: segment.bytes,
            source: source.map(str::to_string),
            modified_ms: now_ms(),
            state: State::Active,
        })
    }
}

impl Staging {
    /// Segments written straight into the lake's folder `dir`.
    pub(crate) fn folder(dir: PathBuf) -> Staging {
        Staging {
            dir,
            bucket: None,
            _temp: None,
        }
    }

    /// Segments written into a temporary local folder, then uploaded to `bucket` (the
    /// bucket folder's URL).
    pub(crate) fn upload_to(bucket: String) -> Result<Staging, LakeError> {
        let temp = tempfile::Builder::new()
            .prefix("sketchlake-staging-")
            .tempdir()
            .map_err(io_error(&std::env::temp_dir()))?;
        Ok(Staging {
            dir: temp.path().to_path_buf(),
            bucket: Some(bucket),
            _temp: Some(temp),
        })
    }
}
