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
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{StreamExt, TryStreamExt};
use workers::{INDEX_SUFFIX, ScanOptions, Segment, Source, detect_format, index_path};

use crate::catalog::{Catalog, CatalogError, Entry, Kind, State};

/// Objects a bucket sync describes at once (each new one is a GET of its start).
const DESCRIBE_AT_ONCE: usize = 16;

/// The lake's own folder: the catalog and the segments.
pub const MANAGED_DIR: &str = ".sketchlake";

/// How long a segment file may exist without a catalog row (being written by some ingest
/// that has not committed yet), or stay on disk after it was retired (being read by a
/// query that planned it), before the sweep deletes it.
pub const SWEEP_GRACE: Duration = Duration::from_secs(3600);

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
            Root::Folder(dir) => Ok(Staging {
                dir,
                bucket: None,
                _temp: None,
            }),
            Root::Bucket(url) => {
                let temp = tempfile::Builder::new()
                    .prefix("sketchlake-staging-")
                    .tempdir()
                    .map_err(io_error(&std::env::temp_dir()))?;
                Ok(Staging {
                    dir: temp.path().to_path_buf(),
                    bucket: Some(url),
                    _temp: Some(temp),
                })
            }
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
                    let entry = crate::bucket::describe(object, &options, &known)?;
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

/// The file or object a catalog uri names.
pub fn source_of(uri: &str) -> Result<Source, LakeError> {
    workers::stores().source(uri).map_err(|e| LakeError::Store {
        url: uri.to_string(),
        message: e.to_string(),
    })
}

/// Deletes `files` (those already gone too) on a blocking thread; returns how many.
async fn delete(files: Vec<Source>) -> Result<u64, LakeError> {
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

/// Where a lake keeps its SQLite catalog by default.
fn catalog_path(root: &Path) -> PathBuf {
    root.join(MANAGED_DIR).join("catalog.db")
}

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

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn modified_ms(path: &Path) -> i64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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
fn describe(
    path: &Path,
    options: &ScanOptions,
    known: &HashMap<String, Entry>,
) -> Result<Entry, LakeError> {
    let mut entry = raw_entry(path)?;
    entry.format = match known.get(&entry.uri) {
        Some(old) if (old.bytes, old.modified_ms) == (entry.bytes, entry.modified_ms) => {
            old.format.clone()
        }
        _ => format_name(path, options).map_err(io_error(path))?,
    };
    Ok(entry)
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
fn walk(dir: &Path) -> io::Result<Vec<PathBuf>> {
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
