//! A lake: a folder of log files, the segments ingest writes beside them, and the catalog
//! of what queries read. Its layout:
//!
//! ```text
//! DIR/…                          log files, registered and read where they are
//! DIR/.sketchlake/catalog.db     the catalog (unless --catalog names another database)
//! DIR/.sketchlake/segments/…     segments and their .idx sidecars, managed by the catalog
//! ```
//!
//! A file under `segments/` is read only once the catalog lists it, so a segment that a
//! crash left unregistered is never half-visible: the sweep deletes it later.
//!
//! A lake may instead be a bucket prefix (`s3://bucket/prefix`), laid out the same way:
//! its log files are listed and catalogued by URL and read where they are, by the
//! gateway's pool or by workers on AWS Lambda, and ingest uploads segments to
//! `s3://bucket/prefix/.sketchlake/segments/`. Its catalog is `--catalog` (SQLite or
//! PostgreSQL), or, for a lake only read, one in memory rebuilt from the listing; segments
//! can only be written with a catalog that outlives the process, which is what lists them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use shared_sketch::time::now_ms;
use workers::{INDEX_SUFFIX, ScanOptions};

use crate::catalog::{Catalog, Entry, Kind, State};
use crate::error::{LakeError, blocking, io_error};
use crate::folder::{MANAGED_DIR, describe, list_files, modified_ms, path_of, uri_of, walk};
use crate::staging::Staging;
use crate::store::{delete, source_of};

/// Objects a bucket sync describes at once (each new one is a GET of its start).
const DESCRIBE_AT_ONCE: usize = 16;

/// How long a segment file may exist without a catalog row (being written by some ingest
/// that has not committed yet), or stay on disk after it was retired (being read by a
/// query that planned it), before the sweep deletes it.
pub const SWEEP_GRACE: Duration = Duration::from_secs(3600);

/// A lake: where its files are, and the catalog of what queries read.
pub struct Lake {
    pub root: Root,
    pub catalog: Catalog,
}

/// Where a lake's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// An absolute local folder.
    Folder(PathBuf),
    /// `s3://bucket/prefix`, without a trailing slash.
    Bucket(String),
}

impl std::fmt::Display for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Root::Folder(path) => write!(f, "{}", path.display()),
            Root::Bucket(url) => f.write_str(url),
        }
    }
}

/// What a sync of the lake's files changed in the catalog.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Synced {
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
}

impl Lake {
    /// Opens the lake at `root` with its catalog: `catalog_url`, or the SQLite file in the
    /// lake's own folder (created when missing).
    pub async fn open(root: &Path, catalog_url: Option<&str>) -> Result<Lake, LakeError> {
        let root = std::path::absolute(root).map_err(io_error(root))?;
        let url = match catalog_url {
            Some(url) => url.to_string(),
            None => {
                let dir = root.join(MANAGED_DIR);
                std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
                format!("sqlite://{}?mode=rwc", catalog_path(&root).display())
            }
        };
        Ok(Lake {
            catalog: Catalog::open(&url).await?,
            root: Root::Folder(root),
        })
    }

    /// Opens the lake of the log files under the bucket prefix `url` (`s3://bucket/prefix`)
    /// with its catalog: `catalog_url`, or one in memory. The caller syncs it.
    pub async fn open_bucket(url: &str, catalog_url: Option<&str>) -> Result<Lake, LakeError> {
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|u| u.scheme() == "s3" && u.host_str().is_some_and(|h| !h.is_empty()));
        if parsed.is_none() {
            return Err(LakeError::Store {
                url: url.to_string(),
                message: "not an s3://bucket/prefix URL".to_string(),
            });
        }
        Ok(Lake {
            catalog: Catalog::open(catalog_url.unwrap_or("sqlite::memory:")).await?,
            root: Root::Bucket(url.trim_end_matches('/').to_string()),
        })
    }

    /// For reading `data` (a folder or one file) without writing into it: the lake's own
    /// catalog when it has one (or `catalog_url` names one), else a catalog in memory.
    /// The caller syncs it with the files.
    pub async fn open_for_reading(
        data: &Path,
        catalog_url: Option<&str>,
    ) -> Result<Lake, LakeError> {
        if catalog_url.is_some() || catalog_path(data).is_file() {
            return Lake::open(data, catalog_url).await;
        }
        let root = if data.is_file() {
            data.parent().unwrap_or(data)
        } else {
            data
        };
        Ok(Lake {
            root: Root::Folder(std::path::absolute(root).map_err(io_error(root))?),
            catalog: Catalog::open("sqlite::memory:").await?,
        })
    }

    /// Where the lake keeps its segments: a local folder, or a bucket folder's URL.
    fn segments_home(&self) -> Result<Root, LakeError> {
        Ok(match &self.root {
            Root::Folder(root) => Root::Folder(root.join(MANAGED_DIR).join("segments")),
            Root::Bucket(url) => {
                if self.catalog.in_memory() {
                    return Err(LakeError::CatalogInMemory(url.clone()));
                }
                Root::Bucket(format!("{url}/{MANAGED_DIR}/segments"))
            }
        })
    }

    /// Fails unless new segments can be written into the lake (see `CatalogInMemory`).
    pub fn check_writable(&self) -> Result<(), LakeError> {
        self.segments_home().map(drop)
    }

    /// A local folder to write new segments in, for `Staging::publish` to put in the lake.
    pub fn staging(&self) -> Result<Staging, LakeError> {
        match self.segments_home()? {
            Root::Folder(dir) => Ok(Staging::folder(dir)),
            Root::Bucket(url) => Staging::upload_to(url),
        }
    }

    /// How reports name a local file: relative to the lake's root when under it.
    pub fn name(&self, path: &Path) -> String {
        match &self.root {
            Root::Folder(root) => path.strip_prefix(root).unwrap_or(path),
            Root::Bucket(_) => path,
        }
        .display()
        .to_string()
    }

    /// How reports name the file at catalog `uri`: relative to the lake's root.
    pub fn name_of(&self, uri: &str) -> String {
        match (&self.root, path_of(uri)) {
            (Root::Folder(_), Ok(path)) => self.name(&path),
            (Root::Bucket(root), _) => uri
                .strip_prefix(root.as_str())
                .map_or(uri, |rest| rest.trim_start_matches('/'))
                .to_string(),
            (Root::Folder(_), Err(_)) => uri.to_string(),
        }
    }

    /// Whether the file at `uri` lies under folders matching `glob` (`@index=`): its
    /// folders, relative to the lake's root, hold `glob`'s parts (`aws/cloud*`) in a row,
    /// each part matched with `*` as any run of characters, ASCII case ignored. A `uri`
    /// ending in `/` is a folder (a compacted segment's source).
    pub fn in_index(&self, glob: &str, uri: &str) -> bool {
        let name = self.name_of(uri);
        let mut folders: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
        if !uri.ends_with('/') {
            folders.pop();
        }
        let parts: Vec<&str> = glob.split('/').filter(|p| !p.is_empty()).collect();
        !parts.is_empty()
            && folders
                .windows(parts.len())
                .any(|w| w.iter().zip(&parts).all(|(f, p)| wildcard(p, f)))
    }

    /// Brings the catalog up to date with the log files at `scope` (a file, or a folder
    /// searched recursively; the lake's own folder excepted): new files are registered as
    /// raw, changed ones updated, and raw files that are gone forgotten. A source that
    /// ingest copied into segments is not read again; if it changed afterwards, that is
    /// reported and the segments stay as they were.
    pub async fn sync(&self, scope: &Path, options: &ScanOptions) -> Result<Synced, LakeError> {
        let scope = std::path::absolute(scope).map_err(io_error(scope))?;
        let known = self.entries(&[Kind::Raw]).await?;
        let (files, known) = {
            let (within, options) = (scope.clone(), options.clone());
            blocking(&scope, move || {
                let files = list_files(&within)?
                    .into_iter()
                    .map(|path| {
                        describe(&path, &options, &known).map(|e| (path.display().to_string(), e))
                    })
                    .collect::<Result<Vec<_>, LakeError>>()?;
                Ok((files, known))
            })
            .await?
        };
        let scope_uri = uri_of(&scope)?;
        self.apply(&scope_uri, files, known).await
    }

    /// Brings a bucket lake's catalog up to date with the log files under its prefix, as
    /// `sync` does for a folder; a new or changed object's format is read from its start.
    pub async fn sync_bucket(&self, options: &ScanOptions) -> Result<Synced, LakeError> {
        let Root::Bucket(root) = &self.root else {
            return Err(LakeError::Store {
                url: self.root.to_string(),
                message: "not a bucket lake".to_string(),
            });
        };
        // Segments placed under the prefix (a `KEY` with its `KEY.idx`) are found by
        // listing, like raw files; the lake's own, under its hidden folder, are not listed
        // and so not synced: the catalog alone knows them.
        let managed = format!("{root}/{MANAGED_DIR}/");
        let mut known = self.entries(&[Kind::Raw, Kind::Segment]).await?;
        known.retain(|uri, _| !uri.starts_with(&managed));
        let listed = crate::bucket::list_objects(root).await?;
        // A new object is described by a GET of its start: many at once, so a first sync
        // of a large bucket takes round trips in parallel, not one after another.
        let known = std::sync::Arc::new(known);
        let files: Vec<(String, Entry)> = futures_util::stream::iter(listed)
            .map(|object| {
                let (options, known) = (options.clone(), known.clone());
                blocking(Path::new(root), move || {
                    let entry = crate::bucket::describe(object, &options, &known);
                    Ok((entry.uri.clone(), entry))
                })
            })
            .buffered(DESCRIBE_AT_ONCE)
            .try_collect()
            .await?;
        let known = std::sync::Arc::unwrap_or_clone(known);
        self.apply(root, files, known).await
    }

    /// Registers new and changed files among `files` (under `scope_uri`), and forgets
    /// raw files under it that are gone.
    async fn apply(
        &self,
        scope_uri: &str,
        files: Vec<(impl std::fmt::Display, Entry)>,
        known: HashMap<String, Entry>,
    ) -> Result<Synced, LakeError> {
        let mut synced = Synced::default();
        let mut register = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (file, fresh) in files {
            seen.insert(fresh.uri.clone());
            match known.get(&fresh.uri) {
                None => {
                    synced.added += 1;
                    register.push(fresh);
                }
                // (A bucket object becomes a segment when its sidecar appears beside it.)
                Some(old)
                    if (old.bytes, old.modified_ms, old.kind)
                        == (fresh.bytes, fresh.modified_ms, fresh.kind) => {}
                Some(old) if old.state == State::Ingested => {
                    tracing::warn!(%file, "changed after it was ingested; its segments hold the earlier contents");
                }
                Some(_) => {
                    synced.changed += 1;
                    register.push(fresh);
                }
            }
        }
        let gone: Vec<String> = known
            .into_keys()
            .filter(|uri| {
                (uri == scope_uri || uri.starts_with(&format!("{scope_uri}/")))
                    && !seen.contains(uri)
            })
            .collect();
        synced.removed = gone.len() as u64;
        self.catalog.register(&register).await?;
        self.catalog.remove(&gone).await?;
        Ok(synced)
    }

    /// Files of `kinds` in the catalog (read in place, or ingested), by uri.
    async fn entries(&self, kinds: &[Kind]) -> Result<HashMap<String, Entry>, LakeError> {
        let mut known = HashMap::new();
        for state in [State::Active, State::Ingested] {
            for e in self.catalog.list(state).await? {
                if kinds.contains(&e.kind) {
                    known.insert(e.uri.clone(), e);
                }
            }
        }
        Ok(known)
    }

    /// Deletes segment files the catalog does not read: retired ones, and ones a crash left
    /// unregistered, once older than `grace`. Returns how many files were deleted.
    pub async fn sweep(&self, grace: Duration) -> Result<u64, LakeError> {
        let now = now_ms();
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let mut keep = std::collections::HashSet::new();
        for state in [State::Active, State::Ingested] {
            for e in self.catalog.list(state).await? {
                keep.insert(e.uri);
            }
        }
        let mut doomed = Vec::new();
        let mut forget = Vec::new();
        for e in self.catalog.list(State::Retired).await? {
            if now.saturating_sub(e.modified_ms) < grace_ms {
                keep.insert(e.uri);
                continue;
            }
            let segment = source_of(&e.uri)?;
            doomed.push(segment.suffixed(INDEX_SUFFIX));
            doomed.push(segment);
            forget.push(e.uri);
        }
        let mut deleted = delete(doomed).await?;
        self.catalog.remove(&forget).await?;
        // What is left in the segments folder that no catalog row names: written by an
        // ingest or compaction that has not committed yet, or that crashed before it did.
        let files = match self.segments_home()? {
            Root::Folder(dir) => {
                let at = dir.clone();
                blocking(&at, move || {
                    if !dir.is_dir() {
                        return Ok(Vec::new());
                    }
                    walk(&dir)
                        .map_err(io_error(&dir))?
                        .into_iter()
                        .map(|path| {
                            let uri = uri_of(&path)?;
                            Ok((uri, modified_ms(&path)))
                        })
                        .collect()
                })
                .await?
            }
            Root::Bucket(url) => crate::bucket::list_all(&url)
                .await?
                .into_iter()
                .map(|(url, meta)| (url, meta.last_modified.timestamp_millis()))
                .collect(),
        };
        let mut orphans = Vec::new();
        for (uri, modified) in files {
            let segment = [INDEX_SUFFIX, ".part"]
                .iter()
                .find_map(|suffix| uri.strip_suffix(suffix))
                .unwrap_or(&uri);
            if keep.contains(segment) || now.saturating_sub(modified) < grace_ms {
                continue;
            }
            tracing::info!(file = %uri, "deleting a segment file the catalog does not list");
            orphans.push(source_of(&uri)?);
        }
        deleted += delete(orphans).await?;
        Ok(deleted)
    }
}

/// Where a lake keeps its SQLite catalog by default.
fn catalog_path(root: &Path) -> PathBuf {
    root.join(MANAGED_DIR).join("catalog.db")
}

/// `pattern` (with `*`: any run of characters) matches all of `text`, ASCII case ignored.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    // The classic two-pointer match: on a mismatch, the last `*` takes one more byte.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && p[i] != b'*' && p[i].eq_ignore_ascii_case(&t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == b'*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod index_tests {
    use super::wildcard;

    #[test]
    fn wildcards_match_whole_names() {
        for (p, t, want) in [
            ("cloudtrail", "CloudTrail", true),
            ("cloud*", "cloudtrail", true),
            ("*trail", "cloudtrail", true),
            ("c*t*l", "cloudtrail", true),
            ("cloud", "cloudtrail", false),
            ("*x*", "cloudtrail", false),
            ("*", "", true),
        ] {
            assert_eq!(wildcard(p, t), want, "{p} {t}");
        }
    }
}
