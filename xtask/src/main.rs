//! `cargo xtask <command>`: every routine task, so nobody has to remember a command line.
//!
//! - `bootstrap` — install what the build and tests need (idempotent; seconds when done)
//! - `run [--listen ADDR] [--data DIR]` — build everything, make demo data, serve the UI
//! - `test` — every test: fmt, clippy, native, wasm in headless Chromium, e2e
//! - `bench sketches` — sketch accuracy, sizes and speed (figures in docs/BENCHMARKS.md)

mod cmd;
mod frontend;
mod tools;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use cmd::Cmd;
use tools::{Needs, Toolchain};

fn main() {
    if let Err(e) = real_main() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root()?;
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("bootstrap") => Toolchain::bootstrap(&root, Needs::Everything).map(|_| ()),
        Some("run") => run(&root, &args[1..]),
        Some("test") => test(&root),
        Some("bench") => bench(&root, args.get(1).map(String::as_str)),
        _ => {
            eprintln!(
                "usage: cargo xtask <bootstrap | run [--listen ADDR] [--data DIR] | test | bench sketches>"
            );
            bail!("unknown command")
        }
    }
}

fn workspace_root() -> Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(manifest
        .parent()
        .context("xtask lives in the workspace")?
        .to_path_buf())
}

fn flag(args: &[String], name: &str) -> Result<Option<String>> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .cloned()
            .map(Some)
            .with_context(|| format!("{name} needs a value")),
    }
}

/// Builds the frontend and the gateway (release), creates demo data in an empty data folder,
/// and serves.
fn run(root: &Path, args: &[String]) -> Result<()> {
    let listen = flag(args, "--listen")?.unwrap_or_else(|| "127.0.0.1:8080".into());
    let data = PathBuf::from(flag(args, "--data")?.unwrap_or_else(|| "data".into()));
    let tools = Toolchain::bootstrap(root, Needs::Build)?;
    frontend::build(&tools, root)?;
    tools
        .cargo()
        .args(["build", "--release", "-p", "gateway"])
        .run()?;
    let bin = tools.target_dir.join("release/sketchlake");
    let empty = std::fs::read_dir(&data).map_or(true, |mut d| d.next().is_none());
    if empty {
        println!(
            "==> {} is empty: writing demo data (1M VPC flow records, 7 days)",
            data.display()
        );
        Cmd::new(&bin).arg("demo").arg("--out").arg(&data).run()?;
    }
    println!("==> serving; open the URL below (Ctrl-C stops)");
    Cmd::new(&bin)
        .args(["serve", "--listen", &listen, "--ui", "dist", "--data"])
        .arg(&data)
        .run()
}

/// Benchmarks print their figures; docs/BENCHMARKS.md records them with this command.
fn bench(root: &Path, which: Option<&str>) -> Result<()> {
    match which {
        Some("sketches") => {
            let tools = Toolchain::bootstrap(root, Needs::Everything)?;
            println!("\n==> native: 10M events, 64 partials, against exact answers");
            tools
                .cargo()
                .args(["bench", "-p", "shared-sketch", "--bench", "sketches"])
                .run()?;
            println!("\n==> headless Chromium: 1,000-way merge (release wasm)");
            tools
                .browser_test("wasm_merge_bench")?
                .arg("--release")
                .env("WASM_BINDGEN_TEST_TIMEOUT", "900")
                .args(["--", "--nocapture"])
                .run()
        }
        _ => bail!("usage: cargo xtask bench sketches"),
    }
}

/// A named test step.
type Step<'a> = (&'static str, Box<dyn Fn() -> Result<()> + 'a>);

/// Every test, in order of cost; stops at the first failure.
fn test(root: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let tools = Toolchain::bootstrap(root, Needs::Everything)?;
    let steps: Vec<Step<'_>> = vec![
        (
            "format",
            Box::new(|| tools.cargo().args(["fmt", "--all", "--check"]).run()),
        ),
        (
            "clippy (native)",
            Box::new(|| {
                tools
                    .cargo()
                    .args([
                        "clippy",
                        "--workspace",
                        "--exclude",
                        "frontend",
                        "--all-targets",
                        "--",
                        "-D",
                        "warnings",
                    ])
                    .run()
            }),
        ),
        (
            "clippy (wasm32)",
            Box::new(|| {
                tools
                    .wasm_cargo()
                    .args([
                        "clippy",
                        "-p",
                        "frontend",
                        "-p",
                        "shared-sketch",
                        "--all-targets",
                    ])
                    .args(["--target", tools::WASM_TARGET, "--", "-D", "warnings"])
                    .run()
            }),
        ),
        (
            "native tests",
            Box::new(|| {
                tools
                    .cargo()
                    .args(["test", "--workspace", "--exclude", "frontend"])
                    .run()
            }),
        ),
        (
            "wasm tests in headless Chromium",
            Box::new(|| tools.browser_test("wasm")?.run()),
        ),
        ("frontend build", Box::new(|| frontend::build(&tools, root))),
        (
            "end-to-end in headless Chromium",
            Box::new(|| {
                tools.cargo().args(["build", "-p", "gateway"]).run()?;
                let artifacts = root.join("e2e/artifacts");
                std::fs::create_dir_all(&artifacts)?;
                let mut suites: Vec<PathBuf> = std::fs::read_dir(root.join("e2e"))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
                    .collect();
                suites.sort();
                Cmd::new("node")
                    .args(["--test", "--test-reporter=spec"])
                    .args(&suites)
                    .env("SKETCHLAKE_BIN", tools.target_dir.join("debug/sketchlake"))
                    .env("SKETCHLAKE_UI", root.join("dist"))
                    .env("E2E_ARTIFACTS", &artifacts)
                    .run()
            }),
        ),
    ];
    let total = steps.len();
    for (i, (name, step)) in steps.iter().enumerate() {
        println!("\n==> [{}/{total}] {name}", i + 1);
        let t = std::time::Instant::now();
        if let Err(e) = step() {
            println!("\nxtask test: {} passed, 1 failed (step `{name}`)", i);
            return Err(e.context(format!("step `{name}` failed")));
        }
        println!("==> [{}/{total}] {name}: ok in {:.0?}", i + 1, t.elapsed());
    }
    println!("\nall test steps passed in {:.0?}", started.elapsed());
    println!("xtask test: {total} passed, 0 failed");
    Ok(())
}
