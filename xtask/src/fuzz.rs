//! `cargo xtask fuzz [TARGET] [--seconds N] [--runs N]`: the coverage-guided fuzz targets
//! of `fuzz/` (libFuzzer), built with the flags cargo-fuzz passes, on corpora seeded from
//! the real logs and kept in the cache between runs. `cargo xtask test` runs each briefly.
//!
//! No nightly toolchain or cargo-fuzz is needed: coverage comes from LLVM's sanitizer
//! coverage passes, which stable rustc runs (`-Cpasses=sancov-module`); only the address
//! sanitizer needs nightly, and the code is safe Rust but for the libdeflate call, whose
//! target checks its answers against flate2 instead (docs/RELIABILITY.md).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;
use crate::tools::{self, Toolchain};

/// Every target, in `fuzz/Cargo.toml`'s order.
pub const TARGETS: &[&str] = &[
    "query",
    "frame",
    "sidecar",
    "ndjson",
    "ndjson_lines",
    "json",
    "csv",
    "zeek",
    "vpcflow",
    "access_log",
    "gzip",
    "rule",
    "sigma",
];

/// cargo-fuzz's instrumentation: edge coverage as 8-bit counters with their PC table, and
/// comparisons traced so libFuzzer can solve for the bytes a branch compares against.
const RUSTFLAGS: &str = "-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    --cfg fuzzing";

/// Inputs longer than this are not tried: every reader meets its line and block limits
/// well below it, and short inputs keep executions fast.
const MAX_LEN: u32 = 16 * 1024;
/// An input taking longer than this is a hang, and fails the run like a crash.
const TIMEOUT_SECONDS: u32 = 10;

/// How long each target runs.
pub struct Budget {
    pub seconds: u64,
    /// Stop after this many executions, if sooner.
    pub runs: Option<u64>,
}

pub fn command(root: &Path, args: &[String]) -> Result<()> {
    let mut only = None;
    let (mut seconds, mut runs) = (None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<u64> {
            args.next()
                .with_context(|| format!("{name} needs a value"))?
                .parse()
                .with_context(|| format!("{name} takes a number"))
        };
        match arg.as_str() {
            "--seconds" => seconds = Some(value("--seconds")?),
            "--runs" => runs = Some(value("--runs")?),
            target if only.is_none() && TARGETS.contains(&target) => only = Some(target),
            other => bail!(
                "usage: cargo xtask fuzz [TARGET] [--seconds N] [--runs N]; `{other}` is \
                 not one of {}",
                TARGETS.join(", ")
            ),
        }
    }
    // A run count alone is not cut short by the default time.
    let budget = Budget {
        seconds: seconds.unwrap_or(if runs.is_some() { 24 * 3600 } else { 60 }),
        runs,
    };
    let tools = Toolchain::bootstrap(root, tools::Needs::Build)?;
    let targets: Vec<&str> = only.map_or_else(|| TARGETS.to_vec(), |t| vec![t]);
    run(&tools, root, &targets, &budget)
}

/// Builds the targets, seeds their corpora and runs each for `budget`; fails at the first
/// crash, hang or failed check, naming the input that caused it.
pub fn run(tools: &Toolchain, root: &Path, targets: &[&str], budget: &Budget) -> Result<()> {
    let bins = build(tools, root)?;
    let corpora = seed(tools, root)?;
    let artifacts = tools::cache_dir()?.join("fuzz/artifacts");
    std::fs::create_dir_all(&artifacts)?;
    println!(
        "\n{:<14} {:>12} {:>8} {:>10} {:>8} {:>8}",
        "target", "executions", "seconds", "exec/s", "edges", "corpus"
    );
    for target in targets {
        let figures = run_target(&bins, root, &corpora, &artifacts, target, budget)?;
        println!(
            "{target:<14} {:>12} {:>8.0} {:>10.0} {:>8} {:>8}",
            figures.executions,
            figures.seconds,
            figures.executions as f64 / figures.seconds.max(0.001),
            figures.edges,
            figures.corpus
        );
    }
    Ok(())
}

/// Builds every target (release, instrumented; clippy lints the targets' own crate as it
/// compiles it) into the build folder's `fuzz` folder, and returns where they are.
fn build(tools: &Toolchain, root: &Path) -> Result<PathBuf> {
    let host = Cmd::new("rustc")
        .arg("-vV")
        .output()
        .and_then(|v| {
            v.lines()
                .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        })
        .context("cannot read the host triple from `rustc -vV`")?;
    let target_dir = tools.target_dir.join("fuzz");
    // `--target` keeps the instrumentation off build scripts and proc macros, which are
    // not linked with libFuzzer.
    tools::linted(tools.cargo())
        .args(["build", "--release", "--bins", "--manifest-path"])
        .arg(root.join("fuzz/Cargo.toml"))
        .args(["--target", &host])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", RUSTFLAGS)
        .run()?;
    Ok(target_dir.join(host).join("release"))
}

/// The corpora, in the cache: seeded from the real logs, the docs' queries, the rules and
/// the sidecars of a lake ingested from real logs (`xtask/fuzz/seeds.py`), then grown by
/// every run.
fn seed(tools: &Toolchain, root: &Path) -> Result<PathBuf> {
    let cache = tools::cache_dir()?.join("fuzz");
    let lake = cache.join("lake");
    if !lake.join("ingested").is_file() {
        // The test build's binary: built already where the tests ran.
        crate::test_build(tools).arg("--no-run").run()?;
        let bin = tools.target_dir.join("debug/sketchlake");
        let _ = std::fs::remove_dir_all(&lake);
        let real = root.join("../shared/data/real");
        for source in [
            "cowrie-honeypot/cowrie.json.2018-05-06.gz",
            "zeek-wrccdc/zeek-json/dns.json.gz",
            "stratus-cloudtrail/all_detonations.ndjson.gz",
            "stratosphere-zeek/004-zeek-scenario-ssh/ssh.log.gz",
            "cicids2017-improved-sample/Botnet_736.csv.gz",
        ] {
            Cmd::new(&bin)
                .args(["ingest", "--data"])
                .arg(&lake)
                .arg(real.join(source))
                .run()?;
        }
        std::fs::write(lake.join("ingested"), b"")?;
    }
    let corpora = cache.join("corpus");
    Cmd::new("python3")
        .arg(root.join("xtask/fuzz/seeds.py"))
        .arg("--real")
        .arg(root.join("../shared/data/real"))
        .arg("--root")
        .arg(root)
        .arg("--sidecars")
        .arg(&lake)
        .arg("--out")
        .arg(&corpora)
        .run()?;
    Ok(corpora)
}

struct Figures {
    executions: u64,
    seconds: f64,
    edges: u64,
    corpus: u64,
}

/// Runs one target on its corpus (which it grows) and on its committed regressions (the
/// inputs of bugs it found, which it only reads); its log is kept beside the corpora.
fn run_target(
    bins: &Path,
    root: &Path,
    corpora: &Path,
    artifacts: &Path,
    target: &str,
    budget: &Budget,
) -> Result<Figures> {
    let log_path = corpora.with_file_name("logs").join(format!("{target}.log"));
    std::fs::create_dir_all(log_path.parent().context("a log folder")?)?;
    let log = std::fs::File::create(&log_path)?;
    let mut cmd = Command::new(bins.join(target));
    cmd.arg(format!("-max_total_time={}", budget.seconds))
        .arg(format!("-max_len={MAX_LEN}"))
        .arg(format!("-timeout={TIMEOUT_SECONDS}"))
        .arg("-print_final_stats=1")
        .arg(format!(
            "-artifact_prefix={}/{target}-",
            artifacts.display()
        ))
        .arg(corpora.join(target));
    if let Some(runs) = budget.runs {
        cmd.arg(format!("-runs={runs}"));
    }
    let regressions = root.join("fuzz/regressions").join(target);
    if regressions.is_dir() {
        cmd.arg(&regressions);
    }
    let started = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(log)
        .status()
        .with_context(|| format!("cannot start the fuzz target {target}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        for line in tail.iter().rev() {
            eprintln!("  {line}");
        }
        bail!(
            "fuzz target {target} failed ({status}); its log is {}, and the input is in {} \
             (replay it with `{} INPUT`; once fixed, keep it in fuzz/regressions/{target}/)",
            log_path.display(),
            artifacts.display(),
            bins.join(target).display()
        );
    }
    // From the end: a brief run of the same target elsewhere (`cargo xtask test` beside a
    // long run) may have written into the same log.
    let stat = |name: &str| {
        text.lines()
            .rev()
            .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    // The last status line: `#N  DONE  cov: E ft: F corp: C/S …`.
    let last = text
        .lines()
        .rev()
        .find(|l| l.contains(" cov: "))
        .unwrap_or("");
    let field = |name: &str| {
        last.split_whitespace()
            .skip_while(|w| *w != name)
            .nth(1)
            .and_then(|v| v.split('/').next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Figures {
        executions: stat("number_of_executed_units"),
        seconds,
        edges: field("cov:"),
        corpus: field("corp:"),
    })
}
