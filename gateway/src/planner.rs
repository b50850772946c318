//! Turns a query into scan tasks. For now: every data file under the root is one task,
//! and a segment (a file with an index sidecar beside it, as `sketchlake ingest` writes)
//! is scanned through its index. Time pruning of whole segments arrives with the catalog.

use std::io;
use std::path::Path;

use workers::index_path;

use crate::executor::ScanTask;

/// `root` itself when it is a file, else every regular, non-hidden file under it, in path
/// order (deterministic plans).
pub fn list_files(root: &Path) -> io::Result<Vec<ScanTask>> {
    let mut tasks = Vec::new();
    if root.is_file() {
        let name = root.file_name().map_or_else(
            || root.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        tasks.push(ScanTask {
            name,
            bytes: root.metadata()?.len(),
            segment: index_path(root).is_file(),
            path: root.to_path_buf(),
        });
        return Ok(tasks);
    }
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            // Sidecars are read with their segment; `.part` files are unfinished writes.
            if file_name.starts_with('.')
                || file_name.ends_with(".idx")
                || file_name.ends_with(".part")
            {
                continue;
            }
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() {
                tasks.push(ScanTask {
                    name: relative_name(root, &path),
                    bytes: entry.metadata()?.len(),
                    segment: index_path(&path).is_file(),
                    path,
                });
            }
        }
    }
    tasks.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(tasks)
}

fn relative_name(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_nested_files_in_order_and_skips_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        for name in [
            "b/c/2.json.gz",
            "a.json",
            "b/1.json",
            ".hidden",
            "b/.tmp",
            "s.ndjson.gz",
            "s.ndjson.gz.idx",
            "t.ndjson.gz.part",
        ] {
            std::fs::write(dir.path().join(name), b"{}\n").unwrap();
        }
        let names: Vec<String> = list_files(dir.path())
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(
            names,
            ["a.json", "b/1.json", "b/c/2.json.gz", "s.ndjson.gz"]
        );
        let tasks = list_files(dir.path()).unwrap();
        assert_eq!(
            tasks.iter().map(|t| t.segment).collect::<Vec<_>>(),
            [false, false, false, true]
        );
        let one = list_files(&dir.path().join("b/1.json")).unwrap();
        assert_eq!((one.len(), one[0].name.as_str()), (1, "1.json"));
    }
}
