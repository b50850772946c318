//! Where scan input lives: a local file, or an object in S3 (through `object_store`). The
//! scan loop is synchronous and runs on a blocking thread; an object is read through the
//! async store from there, streamed whole or range-read page by page, so a scan's memory
//! stays bounded whichever the file is on.
//!
//! Local files are read with `std::fs` rather than `object_store`'s `LocalFileSystem`:
//! that is a blocking read either way, and a plain `File` streams with no runtime and no
//! extra copy (the local scan is the one the benchmarks measure).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use tokio::io::AsyncWriteExt;
use tokio::runtime::Handle;
use tokio_util::io::{StreamReader, SyncIoBridge};
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0:?} is not a file:// or s3:// URL")]
    Unsupported(String),
    #[error("{url}: {source}")]
    Store {
        url: String,
        source: object_store::Error,
    },
    #[error("{0}: object storage needs a Tokio runtime")]
    NoRuntime(String),
}

/// One file to read: a local path, or an object in a store.
#[derive(Clone)]
pub enum Source {
    File(PathBuf),
    Object(Object),
}

/// An object, with the store it is in and the runtime its reads are driven on.
#[derive(Clone)]
pub struct Object {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    url: String,
    runtime: Handle,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Object(object) => f.write_str(&object.url),
        }
    }
}

impl From<&Path> for Source {
    fn from(path: &Path) -> Source {
        Source::File(path.to_path_buf())
    }
}

impl From<&PathBuf> for Source {
    fn from(path: &PathBuf) -> Source {
        Source::File(path.clone())
    }
}

impl From<PathBuf> for Source {
    fn from(path: PathBuf) -> Source {
        Source::File(path)
    }
}

impl From<&Source> for Source {
    fn from(source: &Source) -> Source {
        source.clone()
    }
}

impl Source {
    /// The file's path or the object's URL.
    pub fn name(&self) -> Cow<'_, str> {
        match self {
            Source::File(path) => path.to_string_lossy(),
            Source::Object(object) => Cow::Borrowed(&object.url),
        }
    }

    /// The file or object at `suffix` appended to this one's name (an index sidecar).
    pub fn suffixed(&self, suffix: &str) -> Source {
        match self {
            Source::File(path) => {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                Source::File(PathBuf::from(name))
            }
            Source::Object(object) => Source::Object(Object {
                store: object.store.clone(),
                path: ObjectPath::from(format!("{}{suffix}", object.path)),
                url: format!("{}{suffix}", object.url),
                runtime: object.runtime.clone(),
            }),
        }
    }

    /// The whole file as a stream, and its size.
    pub fn open(&self) -> io::Result<(Box<dyn Read + Send>, u64)> {
        match self {
            Source::File(path) => {
                let file = std::fs::File::open(path)?;
                let bytes = file.metadata()?.len();
                Ok((Box::new(file), bytes))
            }
            Source::Object(object) => {
                let got = object.block_on(object.store.get(&object.path))?;
                let bytes = got.meta.size;
                let stream = got.into_stream().map_err(io::Error::other);
                let reader = SyncIoBridge::new_with_handle(
                    StreamReader::new(stream),
                    object.runtime.clone(),
                );
                Ok((Box::new(reader), bytes))
            }
        }
    }

    /// The start of the file, at least `limit` bytes of it when it has that many: of an
    /// object, only those are asked for (a ranged GET).
    pub fn open_head(&self, limit: u64) -> io::Result<Box<dyn Read + Send>> {
        let Source::Object(object) = self else {
            return Ok(self.open()?.0);
        };
        match object.block_on(object.store.get_range(&object.path, 0..limit)) {
            Ok(bytes) => Ok(Box::new(io::Cursor::new(bytes))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
            // An empty object has no first byte to start a range at (S3 answers 416).
            Err(_) => Ok(self.open()?.0),
        }
    }

    /// `range` of the file into `buf` (replacing what it held).
    pub fn read_range(&self, range: Range<u64>, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        let wanted = range.end - range.start;
        match self {
            Source::File(path) => {
                use std::io::{Seek, SeekFrom};
                let mut file = std::fs::File::open(path)?;
                file.seek(SeekFrom::Start(range.start))?;
                file.take(wanted).read_to_end(buf)?;
            }
            Source::Object(object) => {
                let bytes = object.block_on(object.store.get_range(&object.path, range))?;
                buf.extend_from_slice(&bytes);
            }
        }
        if buf.len() as u64 != wanted {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than its index says",
            ));
        }
        Ok(())
    }

    /// The whole file, when at most `limit` bytes (an index sidecar).
    pub fn read_all(&self, limit: u64) -> io::Result<Vec<u8>> {
        let (reader, bytes) = self.open()?;
        if bytes > limit {
            return Err(io::Error::other(format!(
                "{bytes} bytes, more than the {limit} allowed"
            )));
        }
        let mut all = Vec::with_capacity(bytes as usize);
        reader.take(limit).read_to_end(&mut all)?;
        Ok(all)
    }

    /// Writes `bytes` as the whole file (a spilled answer).
    pub fn write(&self, bytes: Vec<u8>) -> io::Result<()> {
        match self {
            Source::File(path) => std::fs::write(path, bytes),
            Source::Object(object) => {
                object.block_on(object.store.put(&object.path, PutPayload::from(bytes)))?;
                Ok(())
            }
        }
    }

    /// Copies the local file `from` into this file or object.
    pub fn upload(&self, from: &Path) -> io::Result<()> {
        match self {
            Source::File(path) => std::fs::copy(from, path).map(drop),
            Source::Object(object) => object.upload(from),
        }
    }

    /// Deletes the file; one already gone is not an error.
    pub fn delete(&self) -> io::Result<()> {
        let outcome = match self {
            Source::File(path) => std::fs::remove_file(path),
            Source::Object(object) => object.block_on(object.store.delete(&object.path)),
        };
        match outcome {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

impl Object {
    /// Runs an object-store request to completion from a blocking thread.
    fn block_on<T>(&self, request: impl Future<Output = object_store::Result<T>>) -> io::Result<T> {
        self.runtime.block_on(request).map_err(|e| match e {
            object_store::Error::NotFound { .. } => {
                io::Error::new(io::ErrorKind::NotFound, format!("{}: not found", self.url))
            }
            e => io::Error::other(format!("{}: {e}", self.url)),
        })
    }

    /// Streams the local file `from` into the object, in parts when large, so a segment of
    /// any size uploads in bounded memory.
    fn upload(&self, from: &Path) -> io::Result<()> {
        let mut file = std::fs::File::open(from)?;
        let mut writer = BufWriter::new(self.store.clone(), self.path.clone());
        let copied = self.runtime.block_on(async {
            let mut buf = vec![0; 1 << 20];
            loop {
                // A blocking read inside block_on: this is a blocking thread already.
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                writer.write_all(&buf[..n]).await?;
            }
            writer.shutdown().await
        });
        copied.map_err(|e| {
            // Discards the parts already sent. Should that fail too, they stay until a
            // bucket lifecycle rule (AbortIncompleteMultipartUpload) clears them.
            let _ = self.runtime.block_on(writer.abort());
            io::Error::new(e.kind(), format!("{}: {e}", self.url))
        })
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn path(&self) -> &ObjectPath {
        &self.path
    }
}

/// Object-store clients by bucket: one client (and its connection pool) per bucket for
/// the process, however many files are read.
#[derive(Default)]
pub struct Stores {
    buckets: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl Stores {
    /// The file or object `url` names: `file:///abs/path` or `s3://bucket/key`. S3
    /// settings (endpoint, region, credentials) come from the usual `AWS_*` variables.
    /// Must be called within a Tokio runtime when `url` is an object's.
    pub fn source(&self, url: &str) -> Result<Source, SourceError> {
        let unsupported = || SourceError::Unsupported(url.to_string());
        let parsed = Url::parse(url).map_err(|_| unsupported())?;
        match parsed.scheme() {
            "file" => parsed
                .to_file_path()
                .map(Source::File)
                .map_err(|()| unsupported()),
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(unsupported)?;
                let runtime =
                    Handle::try_current().map_err(|_| SourceError::NoRuntime(url.to_string()))?;
                let path =
                    ObjectPath::from_url_path(parsed.path()).map_err(|e| SourceError::Store {
                        url: url.to_string(),
                        source: e.into(),
                    })?;
                Ok(Source::Object(Object {
                    store: self.bucket(bucket, url)?,
                    path,
                    url: url.to_string(),
                    runtime,
                }))
            }
            _ => Err(unsupported()),
        }
    }

    fn bucket(&self, bucket: &str, url: &str) -> Result<Arc<dyn ObjectStore>, SourceError> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = buckets.get(bucket) {
            return Ok(store.clone());
        }
        let store: Arc<dyn ObjectStore> = Arc::new(
            AmazonS3Builder::from_env()
                .with_retry(retries())
                .with_bucket_name(bucket)
                .build()
                .map_err(|source| SourceError::Store {
                    url: url.to_string(),
                    source,
                })?,
        );
        buckets.insert(bucket.to_string(), store.clone());
        Ok(store)
    }
}

/// How a request the store failed (5xx, throttling, a connection lost, a body cut off
/// mid-object, which is asked for again from where it stopped) is retried: with backoff
/// from 100 ms to 2 s, at most 5 times within 20 s. Then its file is reported failed in
/// the query's answer. object_store's default, 10 retries within 3 minutes, would hold a
/// query on one bad object longer than an analyst waits.
fn retries() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 5,
        retry_timeout: Duration::from_secs(20),
    }
}

/// The process's object-store clients: every scan, listing and spill shares them.
pub fn stores() -> &'static Stores {
    static STORES: std::sync::LazyLock<Stores> = std::sync::LazyLock::new(Stores::default);
    &STORES
}

/// Whether `url` names an object in a store rather than a local file.
pub fn is_object_url(url: &str) -> bool {
    url.starts_with("s3://")
}
