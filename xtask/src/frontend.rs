//! The frontend build: trunk, offline, with the tools the bootstrap installed.

use std::path::Path;

use anyhow::{Context, Result};

use crate::tools::{Toolchain, WASM_TARGET};

pub fn build(tools: &Toolchain, root: &Path) -> Result<()> {
    // Offline trunk passes --offline to cargo: fetch the wasm32 dependencies first.
    tools
        .wasm_cargo()
        .args(["fetch", "--target", WASM_TARGET])
        .run()?;
    tools
        .trunk()
        .args(["build", "--release"])
        // Otherwise trunk may try to download tools from GitHub and hang for minutes.
        .env("TRUNK_OFFLINE", "true")
        .run()?;
    let dist = root.join("dist");
    for entry in std::fs::read_dir(&dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let size = std::fs::metadata(&path)?.len();
            // What a browser downloads (the budget in #6 is 1 MB gzipped).
            let gzipped = std::process::Command::new("gzip")
                .args(["-9", "-c"])
                .arg(&path)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map_or_else(String::new, |o| {
                    format!(" ({:.0} KB gzipped)", o.stdout.len() as f64 / 1000.0)
                });
            println!(
                "==> frontend: {} is {:.0} KB{gzipped}",
                path.display(),
                size as f64 / 1000.0
            );
        }
    }
    Ok(())
}
