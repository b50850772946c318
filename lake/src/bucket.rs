//! Bucket lakes: listing the log files under an `s3://bucket/prefix` for the catalog.
//! An object with an index sidecar beside it (`KEY` and `KEY.idx`, as ingest writes them)
//! is a segment: queries range-read only the pages its index cannot rule out.

use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt;
use object_store::{ObjectMeta, ObjectStoreExt};
use workers::{Format, INDEX_SUFFIX, ScanOptions, Source, detect_format, read_index};

use crate::catalog::{Entry, Kind, State};
use crate::error::LakeError;
use crate::folder::unknown_format;
use crate::store::source_of;

/// An object under a bucket lake's prefix: its URL and what the listing says of it.
pub struct Listed {
    pub url: String,
    pub meta: ObjectMeta,
    /// It has an index sidecar: a segment.
    pub segment: bool,
}

impl Listed {
    /// Its catalog entry as a raw file of `format`.
    pub fn raw_entry(self, format: String) -> Entry {
        let modified_ms = self.meta.last_modified.timestamp_millis();
        Entry::raw(self.url, format, self.meta.size, modified_ms)
    }
}

/// Every object under `root` (`s3://bucket/prefix`), with its URL, in no set order.
pub async fn list_all(root: &str) -> Result<Vec<(String, ObjectMeta)>, LakeError> {
    let error = |message: String| LakeError::Store {
        url: root.to_string(),
        message,
    };
    let Source::Object(prefix) = source_of(root)? else {
        return Err(error("not an object URL".to_string()));
    };
    let bucket = root
        .strip_prefix("s3://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    let objects: Vec<ObjectMeta> = prefix
        .store()
        .list(Some(prefix.path()))
        .try_collect()
        .await
        .map_err(|e| error(e.to_string()))?;
    Ok(objects
        .into_iter()
        .map(|meta| (format!("s3://{bucket}/{}", meta.location), meta))
        .collect())
}

/// What the store says of the object `url`, if there is one.
async fn head(url: &str) -> Result<Option<ObjectMeta>, LakeError> {
    let Source::Object(object) = source_of(url)? else {
        return Ok(None);
    };
    match object.store().head(object.path()).await {
        Ok(meta) => Ok(Some(meta)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(LakeError::Store {
            url: url.to_string(),
            message: e.to_string(),
        }),
    }
}

/// Every object under `root` (`s3://bucket/prefix`) but those under a hidden folder (as in
/// a local lake: `.sketchlake/` and the like), in key order; or, when `root` names one
/// object, that object.
pub async fn list_objects(root: &str) -> Result<Vec<Listed>, LakeError> {
    let hidden_below = format!("{}/", root.trim_end_matches('/'));
    let mut all = list_all(root).await?;
    if all.is_empty() {
        all.extend(head(root).await?.map(|meta| (root.to_string(), meta)));
    }
    let mut listed: Vec<Listed> = all
        .into_iter()
        .filter(|(url, _)| {
            let relative = url.strip_prefix(&hidden_below).unwrap_or(url);
            !relative.split('/').any(|part| part.starts_with('.'))
        })
        .map(|(url, meta)| Listed {
            url,
            meta,
            segment: false,
        })
        .collect();
    listed.sort_by(|a, b| a.url.cmp(&b.url));
    let urls: HashSet<String> = listed.iter().map(|l| l.url.clone()).collect();
    listed.retain_mut(|l| {
        l.segment = urls.contains(&format!("{}{INDEX_SUFFIX}", l.url));
        let sidecar = l
            .url
            .strip_suffix(INDEX_SUFFIX)
            .is_some_and(|segment| urls.contains(segment));
        !sidecar
    });
    Ok(listed)
}

/// The catalog entry for a listed object: a segment, described by its index, or a raw
/// file, whose format is detected from its first bytes only when it is new or changed.
/// Blocking (reads the object's start, or the sidecar). An object that cannot be read
/// now is described all the same, with what could not be read left unknown.
pub fn describe(listed: Listed, options: &ScanOptions, known: &HashMap<String, Entry>) -> Entry {
    let modified_ms = listed.meta.last_modified.timestamp_millis();
    let bytes = listed.meta.size;
    if listed.segment {
        // A segment whose index cannot be read now is registered without what the index
        // tells (its time, its rows): queries read it whole, as they do any segment whose
        // index is unreadable, and say so.
        let index = workers::stores()
            .source(&listed.url)
            .map_err(|e| e.to_string())
            .and_then(|source| read_index(source).map_err(|e| e.to_string()))
            .inspect_err(|why| {
                tracing::warn!(url = %listed.url, error = %why, "cannot read a segment's index");
            })
            .ok();
        let pages = index.as_ref().map_or(&[][..], |i| &i.pages[..]);
        let times = pages.iter().filter_map(|p| p.time);
        return Entry {
            kind: Kind::Segment,
            format: Format::Ndjson.to_string(),
            time: times
                .clone()
                .map(|t| t.0)
                .min()
                .zip(times.map(|t| t.1).max()),
            time_fields: index
                .as_ref()
                .map_or(String::new(), |i| i.time_fields.join(",")),
            rows: index.as_ref().map(|i| i.pages.iter().map(|p| p.rows).sum()),
            index_uri: Some(format!("{}{INDEX_SUFFIX}", listed.url)),
            uri: listed.url,
            bytes,
            source: None,
            modified_ms,
            state: State::Active,
        };
    }
    let format = match known.get(&listed.url) {
        Some(old)
            if (old.bytes, old.modified_ms) == (bytes, modified_ms) && !old.format.is_empty() =>
        {
            old.format.clone()
        }
        _ => match options.format {
            Some(format) => format.to_string(),
            None => workers::stores()
                .source(&listed.url)
                .map_err(|e| e.to_string())
                .and_then(|source| detect_format(source).map_err(|e| e.to_string()))
                .map_or_else(
                    |why| unknown_format(&listed.url, &why),
                    |format| format.to_string(),
                ),
        },
    };
    listed.raw_entry(format)
}
