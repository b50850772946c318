//! The toolchain bootstrap. Every tool is checked first and installed only when missing or
//! at the wrong version, into a prefix under `~/.cache/sketchlake` that outlives clones, so
//! a second run takes seconds. The versions and the work-arounds come from
//! `../shared/TOOLCHAIN.md` (verified on these machines).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Ships a working wasm-opt; Debian 12's binaryen 108 produces wasm that fails at start-up.
const BINARYEN_VERSION: &str = "123.0.0";
/// wasm-bindgen-cli is built once per machine, and it spends a second or two on a build: no
/// LTO, many codegen units and opt-level 1 build it in a fraction of its release time
/// (decision 0013).
const FAST_INSTALL_ENV: [(&str, &str); 4] = [
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Enough to build the frontend and the gateway.
    Build,
    /// Also the browser and e2e packages, for tests.
    Everything,
}

/// How Rust reaches wasm32 on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WasmRust {
    /// `rustup target add` worked.
    Rustup,
    /// Debian's rustc-web with std built from source (rustup could not download).
    DebianWeb,
}

pub struct Toolchain {
    pub target_dir: PathBuf,
    tools_dir: PathBuf,
    wasm: WasmRust,
    /// PATH with our tools first.
    path: OsString,
}

impl Toolchain {
    pub fn bootstrap(root: &Path, needs: Needs) -> Result<Toolchain> {
        let started = std::time::Instant::now();
        let cache = cache_dir()?;
        let tools_dir = cache.join("tools");
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| cache.join("target"), PathBuf::from);
        println!(
            "==> bootstrap (tools in {}, build output in {})",
            tools_dir.display(),
            target_dir.display()
        );
        let mut path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .collect::<Vec<_>>();
        path.insert(0, tools_dir.join("bin"));
        path.insert(1, tools_dir.join("npm/node_modules/.bin"));
        let path = std::env::join_paths(path)?;

        let mut apt = Apt::default();
        let wasm = ensure_wasm_rust(&mut apt)?;
        if !command_works("npm", &["--version"]) {
            apt.install(&["nodejs", "npm"])?;
        }
        // What the tests need from Debian, PyPI and npm is fetched and unpacked while
        // wasm-bindgen-cli compiles: one waits on the network and the disk, the other on
        // the cores.
        std::thread::scope(|scope| -> Result<()> {
            let packages = (needs == Needs::Everything).then(|| {
                scope.spawn(move || -> Result<std::time::Duration> {
                    let t = std::time::Instant::now();
                    test_packages(&mut apt, root)?;
                    Ok(t.elapsed())
                })
            });
            let t = std::time::Instant::now();
            ensure_wasm_bindgen(&tools_dir, &lock_version(root, "wasm-bindgen")?)?;
            ensure_wasm_opt(&tools_dir)?;
            println!("==> bootstrap: build tools ready in {:.1?}", t.elapsed());
            if let Some(packages) = packages {
                let took = packages
                    .join()
                    .map_err(|_| anyhow::anyhow!("installing the test packages panicked"))??;
                println!("==> bootstrap: test packages ready in {took:.1?}");
            }
            Ok(())
        })?;
        println!(
            "==> bootstrap done in {:.1?} (wasm32 via {wasm:?})",
            started.elapsed()
        );
        Ok(Toolchain {
            target_dir,
            tools_dir,
            wasm,
            path,
        })
    }

    /// Plain native cargo.
    pub fn cargo(&self) -> Cmd {
        cargo_cmd()
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("PATH", &self.path)
    }

    /// cargo for wasm32 builds, with the Debian fallback's environment when in use. That
    /// environment is only ever set on these commands: in `.cargo/config.toml` it would
    /// break native builds.
    pub fn wasm_cargo(&self) -> Cmd {
        self.with_wasm_env(cargo_cmd())
    }

    /// `cargo test` of one shared-sketch test target in headless Chromium through
    /// wasm-bindgen-test-runner.
    pub fn browser_test(&self, test: &str) -> Result<Cmd> {
        let tmp = self.target_dir.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        Ok(self
            .wasm_cargo()
            .args(["test", "-p", "shared-sketch", "--target", WASM_TARGET])
            .args(["--test", test])
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                "wasm-bindgen-test-runner",
            )
            .env("CHROMEDRIVER", CHROMEDRIVER)
            // chromedriver leaves profile folders behind: keep them out of /tmp.
            .env("TMPDIR", &tmp))
    }

    /// Where wasm32 builds go (the Debian fallback's std differs: a folder of its own).
    pub fn wasm_target_dir(&self) -> PathBuf {
        match self.wasm {
            WasmRust::Rustup => self.target_dir.clone(),
            WasmRust::DebianWeb => self.target_dir.join("debian-web"),
        }
    }

    pub fn wasm_bindgen(&self) -> Cmd {
        Cmd::new(self.tools_dir.join("bin/wasm-bindgen"))
    }

    pub fn wasm_opt(&self) -> Cmd {
        Cmd::new(self.tools_dir.join("npm/node_modules/.bin/wasm-opt"))
    }

    fn with_wasm_env(&self, cmd: Cmd) -> Cmd {
        let cmd = cmd
            .env("PATH", &self.path)
            .env("CARGO_TARGET_DIR", self.wasm_target_dir());
        match self.wasm {
            WasmRust::Rustup => cmd,
            WasmRust::DebianWeb => cmd
                .env("RUSTUP_TOOLCHAIN", "debian-web")
                .env("RUSTC_BOOTSTRAP", "1")
                .env("CARGO_UNSTABLE_BUILD_STD", "std,panic_abort")
                .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", "wasm-ld-19"),
        }
    }
}

/// `cmd` (a cargo build) with clippy linting the workspace's own crates as it compiles
/// them, warnings denied: what `cargo clippy` does, in a build instead of a check. The
/// dependencies, which clippy never lints, are then the build's own: a separate
/// `cargo clippy` compiled all of them a second time, in check mode (decision 0013).
/// `CLIPPY_ARGS` is cargo-clippy's way of passing `-- -D warnings` to the driver.
pub fn linted(cmd: Cmd) -> Cmd {
    cmd.env("RUSTC_WORKSPACE_WRAPPER", "clippy-driver").env(
        "CLIPPY_ARGS",
        "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
    )
}

/// cargo. In CI (`CI` set) without incremental compilation: every clone there is new, so
/// its incremental caches would be written and never read (decision 0013).
fn cargo_cmd() -> Cmd {
    let cargo = Cmd::new("cargo");
    if std::env::var_os("CI").is_some() {
        cargo.env("CARGO_INCREMENTAL", "0")
    } else {
        cargo
    }
}

/// Everything the project keeps between runs: tools, build output, the rig's and the
/// benches' venvs and data. `SKETCHLAKE_CACHE` moves it (an empty folder is a cold start).
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SKETCHLAKE_CACHE") {
        return Ok(PathBuf::from(dir));
    }
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".cache"),
    };
    Ok(base.join("sketchlake"))
}

fn command_works(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> bool {
    Cmd::new(program).args(args).output().is_some()
}

/// A cargo-installed tool at `version` (its own lock file; built fast, as
/// wasm-bindgen-cli is), installed into our tools folder when missing or another version.
pub fn cargo_install(tools: &Toolchain, package: &str, version: &str) -> Result<PathBuf> {
    let bin = tools.tools_dir.join("bin").join(package);
    let has = version_of(&bin).is_some_and(|v| v.split_whitespace().any(|w| w == version));
    if !has {
        println!("==> installing {package} {version} (one-time, a few minutes)");
        Cmd::new("cargo")
            .args(["install", "--locked", "--force", "--root"])
            .arg(&tools.tools_dir)
            .arg(format!("{package}@{version}"))
            .envs(FAST_INSTALL_ENV)
            .run()?;
    }
    Ok(bin)
}

fn version_of(program: &Path) -> Option<String> {
    Cmd::new(program)
        .arg("--version")
        .output()
        .map(|s| s.trim().to_string())
}

/// The version Cargo.lock resolved for `package`.
fn lock_version(root: &Path, package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&needle)
        .with_context(|| format!("{package} is not in Cargo.lock"))?
        + needle.len();
    let len = lock[start..].find('"').context("malformed Cargo.lock")?;
    Ok(lock[start..start + len].to_string())
}

/// True when running as root (apt-get installs; PostgreSQL must drop to its own user).
pub fn is_root() -> bool {
    Cmd::new("id")
        .arg("-u")
        .output()
        .is_some_and(|uid| uid.trim() == "0")
}

/// apt-get, with one `update` per run at most.
#[derive(Default)]
struct Apt {
    updated: bool,
}

impl Apt {
    fn install(&mut self, packages: &[&str]) -> Result<()> {
        if !is_root() {
            bail!(
                "missing Debian packages; run: sudo apt-get install -y {}",
                packages.join(" ")
            );
        }
        if !self.updated {
            Cmd::new("apt-get").args(["update", "-qq"]).run()?;
            self.updated = true;
        }
        Cmd::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .run()
    }
}

/// Chromium and chromedriver, PostgreSQL (the catalog tests run against a real server
/// too), the Lambda rig's venv and the end-to-end tests' npm packages.
fn test_packages(apt: &mut Apt, root: &Path) -> Result<()> {
    if !(Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()) {
        apt.install(&["chromium", "chromium-driver"])?;
    }
    if crate::postgres::server_bin().is_none() {
        apt.install(&["postgresql"])?;
    }
    crate::lambda_rig::install()?;
    ensure_e2e_packages(root)
}

fn ensure_wasm_rust(apt: &mut Apt) -> Result<WasmRust> {
    let installed = Cmd::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .unwrap_or_default();
    if installed.lines().any(|t| t.trim() == WASM_TARGET) {
        return Ok(WasmRust::Rustup);
    }
    let linked = Cmd::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .unwrap_or_default();
    if linked.lines().any(|t| t.starts_with("debian-web"))
        && Path::new("/usr/bin/wasm-ld-19").exists()
    {
        return Ok(WasmRust::DebianWeb);
    }
    // Toolchain downloads may be unreachable: bound the attempt, then fall back.
    let added = Cmd::new("timeout")
        .args(["300", "rustup", "target", "add", WASM_TARGET])
        .run();
    if added.is_ok() {
        return Ok(WasmRust::Rustup);
    }
    println!(
        "==> rustup could not add {WASM_TARGET}; falling back to Debian's rustc-web + build-std"
    );
    apt.install(&["rustc-web", "cargo-web", "rust-web-src", "lld-19"])?;
    Cmd::new("rustup")
        .args(["toolchain", "link", "debian-web", "/usr"])
        .run()?;
    Ok(WasmRust::DebianWeb)
}

/// wasm-bindgen-cli must equal the `wasm-bindgen` crate in Cargo.lock. Its published lock
/// file can name crates the registry mirror lacks (webpki-roots 1.0.11), so it is built from
/// the downloaded source, re-resolving just that crate when `--locked` cannot fetch.
fn ensure_wasm_bindgen(tools: &Path, version: &str) -> Result<()> {
    let want = format!("wasm-bindgen {version}");
    let runner = tools.join("bin/wasm-bindgen-test-runner");
    if version_of(&tools.join("bin/wasm-bindgen")).as_deref() == Some(want.as_str())
        && runner.exists()
    {
        return Ok(());
    }
    println!(
        "==> installing wasm-bindgen-cli {version} to match Cargo.lock (one-time, several minutes)"
    );
    let fetch = tools.join(format!("src/fetch-wasm-bindgen-cli-{version}"));
    std::fs::create_dir_all(fetch.join("src"))?;
    std::fs::write(
        fetch.join("Cargo.toml"),
        format!(
            "[package]\nname = \"fetch-wasm-bindgen-cli\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [dependencies]\nwasm-bindgen-cli = \"={version}\"\n[workspace]\n"
        ),
    )?;
    std::fs::write(fetch.join("src/lib.rs"), "")?;
    Cmd::new("cargo").arg("fetch").current_dir(&fetch).run()?;

    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let crate_dir = format!("wasm-bindgen-cli-{version}");
    let source = std::fs::read_dir(cargo_home.join("registry/src"))?
        .filter_map(|e| e.ok().map(|e| e.path().join(&crate_dir)))
        .find(|p| p.join("Cargo.toml").exists())
        .with_context(|| {
            format!(
                "{crate_dir} was not unpacked under {}",
                cargo_home.display()
            )
        })?;
    let build = tools.join("src").join(&crate_dir);
    if build.exists() {
        std::fs::remove_dir_all(&build)?;
    }
    copy_dir(&source, &build)?;
    if Cmd::new("cargo")
        .args(["fetch", "--locked"])
        .current_dir(&build)
        .run()
        .is_err()
    {
        println!(
            "==> its lock file names a crate version the registry lacks; re-resolving webpki-roots"
        );
        Cmd::new("cargo")
            .args(["update", "-p", "webpki-roots"])
            .current_dir(&build)
            .run()?;
    }
    Cmd::new("cargo")
        .args(["install", "--locked", "--path"])
        .arg(&build)
        .arg("--root")
        .arg(tools)
        .envs(FAST_INSTALL_ENV)
        .run()
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn ensure_wasm_opt(tools: &Path) -> Result<()> {
    let major = BINARYEN_VERSION
        .split('.')
        .next()
        .unwrap_or(BINARYEN_VERSION);
    let found = version_of(&tools.join("npm/node_modules/.bin/wasm-opt"));
    if found.is_some_and(|v| v.contains(&format!("version {major}"))) {
        return Ok(());
    }
    println!("==> installing wasm-opt from npm binaryen@{BINARYEN_VERSION}");
    let prefix = tools.join("npm");
    std::fs::create_dir_all(&prefix)?;
    Cmd::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix)
        .arg(format!("binaryen@{BINARYEN_VERSION}"))
        .run()
}

/// The e2e tests' npm packages (playwright-core, no bundled browser), exactly as locked.
fn ensure_e2e_packages(root: &Path) -> Result<()> {
    let e2e = root.join("e2e");
    let lock =
        std::fs::read(e2e.join("package-lock.json")).context("reading e2e/package-lock.json")?;
    let stamp = e2e.join("node_modules/.xtask-installed-lock");
    if std::fs::read(&stamp).is_ok_and(|installed| installed == lock) {
        return Ok(());
    }
    Cmd::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&e2e)
        .run()?;
    std::fs::write(&stamp, lock)?;
    Ok(())
}

/// A Python venv at `venv` holding `packages` (and `no_deps`, installed without their
/// dependencies), made once: a stamp file named after the pins says it is complete.
/// Returns its `bin` folder.
pub fn python_venv(venv: &Path, packages: &[&str], no_deps: &[&str]) -> Result<PathBuf> {
    let bin = venv.join("bin");
    let stamp = venv.join(format!("{}+{}", packages.join("+"), no_deps.join("+")));
    if stamp.is_file() {
        return Ok(bin);
    }
    println!(
        "==> installing {} into {}",
        [packages, no_deps].concat().join(", "),
        venv.display()
    );
    Cmd::new("python3").args(["-m", "venv"]).arg(venv).run()?;
    let pip = || Cmd::new(bin.join("python")).args(["-m", "pip", "install", "--quiet"]);
    if !packages.is_empty() {
        pip().args(packages).run()?;
    }
    if !no_deps.is_empty() {
        pip().arg("--no-deps").args(no_deps).run()?;
    }
    std::fs::write(&stamp, b"")?;
    Ok(bin)
}
