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
            println!(
                "==> frontend: {} is {:.0} KB",
                path.display(),
                size as f64 / 1000.0
            );
        }
    }
    Ok(())
}
