//! Helpers for the tests on real logs in ../shared/data/real: reading a file independently
//! of the engine, and running a query over files as the gateway does (one partial per
//! file, merged).
#![allow(dead_code)] // each test binary uses its own subset

use std::io::Read;
use std::path::{Path, PathBuf};

use shared_sketch::{Partial, Query, QueryResult, parse};
use workers::{ScanOptions, scan_file};

/// A file or folder under ../shared/data/real.
pub fn real(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/real")
        .join(relative)
}

/// A file's text, gunzipped (every member) when it is gzip.
pub fn read_text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_string(&mut text)
            .unwrap();
        text
    } else {
        String::from_utf8(bytes).unwrap()
    }
}

/// Writes `bytes` to `dir/name`.
pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `text` over `files`, time bounds resolved at the epoch (tests use absolute ones).
pub fn run(files: &[impl AsRef<Path>], text: &str) -> QueryResult {
    run_with(files, text, &ScanOptions::default())
}

pub fn run_with(files: &[impl AsRef<Path>], text: &str, options: &ScanOptions) -> QueryResult {
    let mut query: Query = parse(text).unwrap();
    query.resolve_time(0);
    let mut merged = Partial::new(&query);
    for file in files {
        let name = file.as_ref().display().to_string();
        let p = scan_file(file.as_ref(), &name, &query, options);
        assert_eq!(p.stats.errors, vec![], "{name}");
        merged.merge(&p).unwrap();
    }
    merged.result(&query)
}
