//! The frontend build: cargo (wasm32, the `wasm-release` profile), wasm-bindgen, wasm-opt,
//! and a `dist` folder whose asset names carry a hash of their content, so a browser never
//! runs a stale module against a new page. This is all trunk did for us; building trunk
//! itself cost more of a cold CI run than the whole frontend build (decision 0013).

use std::hash::Hasher;
use std::path::Path;

use anyhow::{Context, Result};

use crate::tools::{Toolchain, WASM_TARGET, linted};

/// Where `frontend/index.html` wants the asset links.
const ASSETS_MARKER: &str =
    "<!-- assets: `cargo xtask` writes the stylesheet, module and wasm links here -->";

/// The page's wasm, linted by clippy as it compiles when `lint` (the tests' build; a lint
/// there must not stop `cargo xtask run`).
pub fn cargo_build(tools: &Toolchain, lint: bool) -> Result<()> {
    let cargo = tools
        .wasm_cargo()
        .args(["build", "-p", "frontend", "--bin", "frontend"])
        .args(["--target", WASM_TARGET, "--profile", "wasm-release"]);
    if lint { linted(cargo) } else { cargo }.run()
}

pub fn build(tools: &Toolchain, root: &Path, lint: bool) -> Result<()> {
    cargo_build(tools, lint)?;
    let wasm = tools
        .wasm_target_dir()
        .join(WASM_TARGET)
        .join("wasm-release/frontend.wasm");

    let stage = root.join("dist.partial");
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(&stage)?;
    tools
        .wasm_bindgen()
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--out-name",
            "frontend",
        ])
        .arg("--out-dir")
        .arg(&stage)
        .arg(&wasm)
        .run()?;
    let bg = stage.join("frontend_bg.wasm");
    tools
        .wasm_opt()
        .arg(format!("--output={}", bg.display()))
        .arg("-Oz")
        .arg(&bg)
        .run()?;

    // Content-named assets; the JS module is told where its wasm is, by name.
    let js = std::fs::read(stage.join("frontend.js"))?;
    let wasm_bytes = std::fs::read(&bg)?;
    let css = std::fs::read(root.join("frontend/style.css"))?;
    let tag = content_tag(&[&js, &wasm_bytes]);
    let (js_name, wasm_name) = (
        format!("frontend-{tag}.js"),
        format!("frontend-{tag}_bg.wasm"),
    );
    let css_name = format!("style-{}.css", content_tag(&[&css]));
    std::fs::rename(stage.join("frontend.js"), stage.join(&js_name))?;
    std::fs::rename(&bg, stage.join(&wasm_name))?;
    std::fs::write(stage.join(&css_name), &css)?;

    let template = std::fs::read_to_string(root.join("frontend/index.html"))?;
    anyhow::ensure!(
        template.contains(ASSETS_MARKER),
        "frontend/index.html has lost its assets marker"
    );
    // The module that starts the app is a file, not an inline script: the page's
    // Content-Security-Policy allows scripts from the gateway alone.
    let boot = format!(
        "import init from '/{js_name}';\nawait init({{ module_or_path: '/{wasm_name}' }});\n"
    );
    let boot_name = format!("boot-{}.js", content_tag(&[boot.as_bytes()]));
    std::fs::write(stage.join(&boot_name), &boot)?;
    let links = format!(
        r#"<link rel="stylesheet" href="/{css_name}" />
  <link rel="modulepreload" href="/{js_name}" crossorigin="anonymous" />
  <link rel="preload" href="/{wasm_name}" as="fetch" type="application/wasm" crossorigin="anonymous" />
  <script type="module" src="/{boot_name}"></script>"#
    );
    std::fs::write(
        stage.join("index.html"),
        template.replace(ASSETS_MARKER, &links),
    )?;

    // Swap the new folder in whole: a server reading `dist` never sees half a build.
    let dist = root.join("dist");
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::rename(&stage, &dist)
        .with_context(|| format!("moving {} to {}", stage.display(), dist.display()))?;
    report_size(&dist.join(&wasm_name))
}

/// A short name for some bytes: `DefaultHasher::new()` has fixed keys, so the same bytes
/// give the same name on every run (a new Rust may pick other names; they only have to
/// change when the bytes do).
fn content_tag(parts: &[&[u8]]) -> String {
    let mut h = std::hash::DefaultHasher::new();
    for part in parts {
        h.write(part);
    }
    format!("{:016x}", h.finish())
}

/// What a browser downloads (the budget in #6 is 1 MB gzipped).
fn report_size(path: &Path) -> Result<()> {
    let size = std::fs::metadata(path)?.len();
    let gzipped = std::process::Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
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
    Ok(())
}
