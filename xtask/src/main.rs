//! `cargo xtask <command>`: every routine task, so nobody has to remember a command line.
//!
//! - `bootstrap` — install what the build and tests need (idempotent; seconds when done)
//! - `run [--listen ADDR] [--data DIR]` — build everything, make demo data, serve the UI
//! - `test [STEP]` — every test: fmt, clippy, native, wasm in headless Chromium, e2e; or
//!   only the steps whose names contain STEP, in any case (`cargo xtask test end-to-end`)
//! - `bench sketches` — sketch accuracy, sizes and speed (figures in docs/BENCHMARKS.md)
//! - `bench scan [--baseline BIN]` — scan speed against DuckDB and ClickHouse (chdb), peak
//!   RSS; with another build's binary, this build against it in the same run
//! - `bench lambda` — a query over 216 segments in S3 through Lambda workers (8 and 32)
//! - `bench lake` — planning over 10,000 catalogued segments; frames vs partials
//! - `bench detections` — ingest with 0, 10, 100 rules; the matcher; runs over 10,000
//!   stored minutes; a file to its webhook alert
//! - `fuzz [TARGET] [--seconds N] [--runs N]` — the libFuzzer targets of `fuzz/` on their
//!   corpora (docs/RELIABILITY.md)

mod cmd;
mod frontend;
mod fuzz;
mod lambda_rig;
#[cfg(test)]
mod modules;
mod postgres;
mod supply_chain;
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
        Some("test") => test(&root, args.get(1).map(String::as_str)),
        Some("bench") => bench(&root, &args[1..]),
        Some("fuzz") => fuzz::command(&root, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <bootstrap | run [--listen ADDR] [--data DIR] | test [STEP] | bench sketches|scan|lake|lambda|detections|load | fuzz [TARGET] [--seconds N] [--runs N]>"
            );
            bail!("unknown command")
        }
    }
}

fn workspace_root() -> Result<PathBuf> {
    // `cargo run` names the checkout it was run in. The path compiled in can be another
    // checkout's: clones sharing one CARGO_TARGET_DIR share the xtask binary.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
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

/// Builds the `sketchlake` binary (release) and returns its path.
fn release_binary(tools: &Toolchain) -> Result<PathBuf> {
    tools
        .cargo()
        .args(["build", "--release", "-p", "gateway"])
        .run()?;
    Ok(tools.target_dir.join("release/sketchlake"))
}

/// Builds the frontend and the gateway (release), creates demo data in an empty data folder,
/// and serves.
fn run(root: &Path, args: &[String]) -> Result<()> {
    let listen = flag(args, "--listen")?.unwrap_or_else(|| "127.0.0.1:8080".into());
    let data = PathBuf::from(flag(args, "--data")?.unwrap_or_else(|| "data".into()));
    let tools = Toolchain::bootstrap(root, Needs::Build)?;
    frontend::build(&tools, root, false)?;
    let bin = release_binary(&tools)?;
    let empty = std::fs::read_dir(&data).map_or(true, |mut d| d.next().is_none());
    if empty {
        println!(
            "==> {} is empty: writing demo data (1M VPC flow records, 7 days)",
            data.display()
        );
        Cmd::new(&bin).arg("demo").arg("--out").arg(&data).run()?;
    }
    // On this machine only, the page works without a key; anywhere else keys are required
    // (`sketchlake key create`, docs/EMBEDDING.md).
    let loopback = listen
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    println!("==> serving, with the example detection rules; open the URL below (Ctrl-C stops)");
    Cmd::new(&bin)
        .args([
            "serve",
            "--listen",
            &listen,
            "--ui",
            "dist",
            "--rules",
            "rules/examples",
            "--data",
        ])
        .arg(&data)
        .args(loopback.then_some("--no-auth"))
        .run()
}

/// Benchmarks print their figures; docs/BENCHMARKS.md records them with this command.
fn bench(root: &Path, args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
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
        Some("scan") => match &args[1..] {
            [] => bench_scan(root, None),
            [flag, baseline] if flag == "--baseline" => bench_scan(root, Some(Path::new(baseline))),
            _ => bail!("usage: cargo xtask bench scan [--baseline SKETCHLAKE_BINARY]"),
        },
        Some("lambda") => bench_lambda(root),
        Some("detections") => bench_detections(root),
        Some("load") => bench_load(root),
        Some("lake") => {
            let tools = Toolchain::bootstrap(root, Needs::Build)?;
            let postgres = postgres::Postgres::start()?;
            tools
                .cargo()
                .args(["bench", "-p", "gateway", "--bench", "lake"])
                .env("SKETCHLAKE_BENCH_POSTGRES", &postgres.url)
                .run()
        }
        _ => {
            bail!("usage: cargo xtask bench <sketches | scan | lake | lambda | detections | load>")
        }
    }
}

/// Demo background records for the scan benchmark: 4M VPC flow records ≈ 1.1 GB of NDJSON.
const SCAN_BENCH_RECORDS: u64 = 4_000_000;
/// The engines we compare against, pinned so figures are reproducible.
const SCAN_BENCH_PACKAGES: &[&str] = &["duckdb==2.0.0", "chdb==4.4.0"];

/// The reference the Sigma test checks answers against: pySigma 1.5 (the newest its DuckDB
/// backend accepts) with that backend, and DuckDB.
const SIGMA_REFERENCE_PACKAGES: &[&str] = &[
    "pysigma==1.5.1",
    "pysigma-backend-duckdb==0.1.4",
    "duckdb==2.0.0",
];

/// sketchlake vs DuckDB vs ClickHouse (chdb) on the same demo data, and, with a
/// `baseline` binary (another commit's release build), this build against it, interleaved.
/// The data and the Python venv are made once in the cache's `bench` folder and reused.
fn bench_scan(root: &Path, baseline: Option<&Path>) -> Result<()> {
    anyhow::ensure!(
        Path::new("/usr/bin/time").is_file(),
        "the scan bench measures peak RSS with GNU time: apt-get install time"
    );
    let tools = Toolchain::bootstrap(root, Needs::Build)?;
    let bin = release_binary(&tools)?;
    let cache = tools::cache_dir()?.join("bench");
    let data = scan_bench_data(&bin, &cache)?;
    let python = tools::python_venv(&cache.join("venv"), SCAN_BENCH_PACKAGES, &[])?.join("python");
    Cmd::new(&python)
        .arg(root.join("xtask/bench/scan.py"))
        .arg("--sketchlake")
        .arg(&bin)
        .arg("--data")
        .arg(&data)
        .arg("--segments")
        .arg(cache.join(format!("vpc-{SCAN_BENCH_RECORDS}-segments")))
        .args(
            baseline
                .map(|b| ["--baseline".as_ref(), b.as_os_str()])
                .into_iter()
                .flatten(),
        )
        .run()
}

/// The scan bench's demo flows, written once into the cache's `bench` folder by `bin`.
fn scan_bench_data(bin: &Path, cache: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(cache)?;
    let data = cache.join(format!("vpc-{SCAN_BENCH_RECORDS}"));
    if !data.is_dir() {
        println!(
            "==> writing {SCAN_BENCH_RECORDS} demo records to {}",
            data.display()
        );
        let partial = cache.join("vpc.partial");
        let _ = std::fs::remove_dir_all(&partial);
        Cmd::new(bin)
            .args([
                "demo",
                "--records",
                &SCAN_BENCH_RECORDS.to_string(),
                "--out",
            ])
            .arg(&partial)
            .run()?;
        std::fs::rename(&partial, &data)?;
    }
    Ok(data)
}

/// A release gateway held under 100 clients' queries for 5 minutes
/// (`SKETCHLAKE_LOAD_SECONDS`), over the scan bench's flows ingested into a lake of
/// indexed segments, made once in the cache's `bench` folder.
fn bench_load(root: &Path) -> Result<()> {
    let tools = Toolchain::bootstrap(root, Needs::Build)?;
    let bin = release_binary(&tools)?;
    let cache = tools::cache_dir()?.join("bench");
    let data = scan_bench_data(&bin, &cache)?;
    // The catalog names files by absolute path: the lake is ingested where it stays, and
    // the stamp says the ingest finished.
    let lake = cache.join(format!("vpc-{SCAN_BENCH_RECORDS}-lake"));
    if !lake.join("ingested").is_file() {
        let _ = std::fs::remove_dir_all(&lake);
        std::fs::create_dir_all(&lake)?;
        Cmd::new(&bin)
            .args(["ingest", "--data"])
            .arg(&lake)
            .arg(&data)
            .run()?;
        std::fs::write(lake.join("ingested"), b"")?;
    }
    tools
        .cargo()
        .args(["bench", "-p", "gateway", "--bench", "load"])
        .env("SKETCHLAKE_BENCH_BIN", &bin)
        .env("SKETCHLAKE_BENCH_LAKE", &lake)
        .run()
}

/// Detection rules' cost: ingest with 0, 10 and 100 rules over the scan bench's flows,
/// the matcher alone, scheduled runs over stored rollups, and a file's way to a webhook.
fn bench_detections(root: &Path) -> Result<()> {
    let tools = Toolchain::bootstrap(root, Needs::Build)?;
    let bin = release_binary(&tools)?;
    let data = scan_bench_data(&bin, &tools::cache_dir()?.join("bench"))?;
    let rsigma = rsigma()?;
    tools
        .cargo()
        .args(["bench", "-p", "gateway", "--bench", "detections"])
        .env("SKETCHLAKE_BENCH_DATA", &data)
        .env("SKETCHLAKE_BENCH_RSIGMA", &rsigma)
        .run()
}

/// The Sigma engine the detections bench compares with: rsigma's command line, built
/// once into the cache with its own release profile. 0.23.0 is the newest that builds with
/// our Rust 1.95, and the version of the parser we use.
fn rsigma() -> Result<PathBuf> {
    let root = tools::cache_dir()?.join("rsigma");
    let bin = root.join("bin/rsigma");
    if !bin.exists() {
        Cmd::new("cargo")
            .args(["install", "--locked", "rsigma@0.23.0", "--root"])
            .arg(&root)
            .run()?;
    }
    Ok(bin)
}

/// A query over >= 200 segments in S3 through the Lambda executor, with 8 and 32 worker
/// processes on the local rig. The demo data and its segments are made once in the cache's
/// `bench` folder and reused.
fn bench_lambda(root: &Path) -> Result<()> {
    let tools = Toolchain::bootstrap(root, Needs::Build)?;
    tools
        .cargo()
        .args([
            "build",
            "--release",
            "-p",
            "gateway",
            "-p",
            "workers",
            "--bins",
        ])
        .run()?;
    let (bin, worker) = (
        tools.target_dir.join("release/sketchlake"),
        tools.target_dir.join("release/worker"),
    );
    let cache = tools::cache_dir()?.join("bench");
    // Nine days of hourly files: 216 files, one segment each. The catalog names files by
    // absolute path, so the lake is ingested where it stays; a rerun of an interrupted
    // ingest carries on, and the stamp says it finished.
    let (source, lake) = (cache.join("lambda-source"), cache.join("lambda-lake-216"));
    if !lake.join("ingested").is_file() {
        if !source.join("done").is_file() {
            let _ = std::fs::remove_dir_all(&source);
            Cmd::new(&bin)
                .args(["demo", "--records", "2000000", "--days", "9", "--out"])
                .arg(source.join("flows"))
                .run()?;
            std::fs::write(source.join("done"), b"")?;
        }
        std::fs::create_dir_all(&lake)?;
        Cmd::new(&bin)
            .args(["ingest", "--data"])
            .arg(&lake)
            .arg(source.join("flows"))
            .run()?;
        std::fs::write(lake.join("ingested"), b"")?;
    }
    let rig = lambda_rig::LambdaRig::start()?;
    Cmd::new(rig.python())
        .arg(root.join("xtask/bench/lambda.py"))
        .arg("--sketchlake")
        .arg(&bin)
        .arg("--worker")
        .arg(&worker)
        .arg("--lake")
        .arg(&lake)
        .args(["--lambda-api", &rig.lambda])
        .envs(rig.env())
        .run()
}

/// The one test build: `cargo test` of the whole workspace, whose binaries
/// (`target/debug/sketchlake` and `worker`) the Lambda and end-to-end tests start too. Any
/// other feature set or profile would compile the dependency tree again.
fn test_build(tools: &Toolchain) -> Cmd {
    tools::linted(tools.cargo()).args(["test", "--workspace"])
}

/// How long `cargo xtask test` fuzzes each target.
const FUZZ_TEST_SECONDS: u64 = 10;

/// A named test step.
type Step<'a> = (&'static str, Box<dyn Fn() -> Result<()> + 'a>);

/// Every test (or those whose step names contain `only`), in order of cost; stops at the
/// first failure.
fn test(root: &Path, only: Option<&str>) -> Result<()> {
    let started = std::time::Instant::now();
    let tools = Toolchain::bootstrap(root, Needs::Everything)?;
    // Stopped when dropped, after the last step.
    let postgres = postgres::Postgres::start()?;
    let rig = lambda_rig::LambdaRig::start()?;
    let worker_bin = tools.target_dir.join("debug/worker");
    let steps: Vec<Step<'_>> = vec![
        (
            "format",
            Box::new(|| {
                tools.cargo().args(["fmt", "--all", "--check"]).run()?;
                tools
                    .cargo()
                    .args(["fmt", "--all", "--check", "--manifest-path"])
                    .arg(root.join("fuzz/Cargo.toml"))
                    .run()
            }),
        ),
        (
            // clippy lints our crates while the test build compiles them (see
            // `tools::linted`): the dependencies are compiled once, for the tests.
            "clippy (native)",
            Box::new(|| test_build(&tools).args(["--all-targets", "--no-run"]).run()),
        ),
        (
            // Likewise on wasm32: shared-sketch's test build (the wasm tests') and the
            // frontend's release build (the page's).
            "clippy (wasm32)",
            Box::new(|| {
                tools::linted(tools.wasm_cargo())
                    .args([
                        "test",
                        "-p",
                        "shared-sketch",
                        "--target",
                        tools::WASM_TARGET,
                    ])
                    .args(["--all-targets", "--no-run"])
                    .run()?;
                frontend::cargo_build(&tools, true)
            }),
        ),
        (
            "native tests (with PostgreSQL and the Lambda + S3 rig)",
            Box::new(|| {
                // The Lambda tests, ignored by a plain `cargo test`, run here with the rig;
                // they start `worker` processes of their own: the binary this same build
                // makes for the workers' integration tests.
                test_build(&tools)
                    .env("SKETCHLAKE_TEST_POSTGRES", &postgres.url)
                    .env(
                        "SKETCHLAKE_TEST_POSTGRES_RESTART",
                        postgres.restart_command(),
                    )
                    .env("SKETCHLAKE_WORKER_BIN", &worker_bin)
                    .envs(rig.env())
                    .args(["--", "--include-ignored"])
                    .run()
            }),
        ),
        (
            "Sigma rules against pySigma (its DuckDB backend) over the real logs",
            Box::new(|| {
                test_build(&tools).arg("--no-run").run()?;
                let python = tools::python_venv(
                    &tools::cache_dir()?.join("sigma/venv"),
                    SIGMA_REFERENCE_PACKAGES,
                    &[],
                )?
                .join("python");
                Cmd::new(python)
                    .arg(root.join("xtask/sigma/reference.py"))
                    .arg("--bin")
                    .arg(tools.target_dir.join("debug/sketchlake"))
                    .arg("--real")
                    .arg(root.join("../shared/data/real"))
                    .arg("--logsources")
                    .arg(root.join("gateway/src/detect/sigma/logsources.yml"))
                    .run()
            }),
        ),
        (
            "supply chain (cargo deny, npm)",
            Box::new(|| supply_chain::check(&tools, root)),
        ),
        (
            // Each libFuzzer target on its saved corpus and its past crashes, briefly: the
            // long runs are `cargo xtask fuzz`, their figures in docs/RELIABILITY.md.
            "fuzz targets, briefly, on their corpora",
            Box::new(|| {
                let budget = fuzz::Budget {
                    seconds: FUZZ_TEST_SECONDS,
                    runs: None,
                };
                fuzz::run(&tools, root, fuzz::TARGETS, &budget)
            }),
        ),
        (
            // The worker's deployment template, checked as CloudFormation would.
            "deployment template (cfn-lint)",
            Box::new(|| {
                Cmd::new(rig.bin().join("cfn-lint"))
                    .arg(root.join("deploy/template.yaml"))
                    .run()
            }),
        ),
        (
            "wasm tests in headless Chromium",
            Box::new(|| tools::linted(tools.browser_test("wasm")?).run()),
        ),
        (
            "frontend build",
            Box::new(|| frontend::build(&tools, root, true)),
        ),
        (
            "end-to-end in headless Chromium",
            Box::new(|| {
                // The gateway and worker binaries of the native tests' build (a no-op after
                // them): one build of every dependency serves all the tests.
                test_build(&tools).arg("--no-run").run()?;
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
                    .env("SKETCHLAKE_WORKER_BIN", &worker_bin)
                    .envs(rig.env())
                    .run()
            }),
        ),
    ];
    let steps: Vec<Step<'_>> = steps
        .into_iter()
        .filter(|(name, _)| {
            only.is_none_or(|only| name.to_lowercase().contains(&only.to_lowercase()))
        })
        .collect();
    if steps.is_empty() {
        bail!("no test step is named like {only:?}");
    }
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
