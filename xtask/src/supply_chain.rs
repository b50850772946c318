//! The supply chain: `cargo deny` over the Rust dependency tree (advisories, licenses,
//! duplicate versions, sources; `deny.toml`), and the end-to-end tests' npm packages
//! (advisories by `npm audit`, licenses from the lock file). An advisory database this
//! machine cannot reach is said loudly, never passed over in silence.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;
use crate::tools::{self, Toolchain};

/// Pinned: its config format is `deny.toml`'s.
const CARGO_DENY_VERSION: &str = "0.20.2";
const ADVISORY_DB: &str = "https://github.com/RustSec/advisory-db";
/// The npm packages' licenses, as `deny.toml` allows the crates'.
const NPM_LICENSES: &[&str] = &["Apache-2.0", "MIT", "ISC", "BSD-2-Clause", "BSD-3-Clause"];

pub fn check(tools: &Toolchain, root: &Path) -> Result<()> {
    let deny = tools::cargo_install(tools, "cargo-deny", CARGO_DENY_VERSION)?;
    Cmd::new(&deny)
        .args(["--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .args(["check", "licenses", "bans", "sources"])
        .run()?;
    let reachable = Cmd::new("git")
        .args(["ls-remote", "--exit-code", ADVISORY_DB, "HEAD"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .is_some();
    if reachable {
        Cmd::new(&deny)
            .args(["--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .args(["check", "advisories"])
            .run()?;
    } else {
        skipped(&format!(
            "Rust advisories: the RustSec database ({ADVISORY_DB}) cannot be reached from \
             this machine"
        ));
    }
    npm(&root.join("e2e"))
}

fn skipped(what: &str) {
    println!("\n!!! SKIPPED: {what}\n");
}

/// The e2e packages: every one's license allowed, and no advisory against any.
fn npm(e2e: &Path) -> Result<()> {
    // Node reads its own lock file: every installed package and its license.
    let listed = Cmd::new("node")
        .arg("-e")
        .arg(
            "const lock = require('./package-lock.json');\
             for (const [path, p] of Object.entries(lock.packages)) \
               if (path) console.log(path.replace(/^.*node_modules\\//, '') + ' ' + (p.license ?? ''));",
        )
        .current_dir(e2e)
        .output()
        .context("cannot read e2e/package-lock.json with node")?;
    let mut packages = 0;
    for line in listed.lines() {
        let (name, license) = line.split_once(' ').unwrap_or((line, ""));
        if license.is_empty() {
            bail!("npm package {name}: the lock file names no license");
        }
        if !NPM_LICENSES.contains(&license) {
            bail!("npm package {name}: license {license} is not allowed");
        }
        packages += 1;
    }
    println!("==> npm: {packages} packages, every license allowed");
    let audit = std::process::Command::new("npm")
        .args(["audit", "--audit-level=low"])
        .current_dir(e2e)
        .output()
        .context("cannot run npm audit")?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&audit.stderr)
    );
    if audit.status.success() {
        println!("==> npm audit: {}", said.trim());
    } else if said.contains("audit endpoint returned an error") {
        skipped("npm advisories: the registry here does not answer npm audit");
    } else {
        bail!("npm audit found advisories:\n{said}");
    }
    Ok(())
}
