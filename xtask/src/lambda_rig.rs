//! The local AWS rig for the Lambda + S3 tests: an S3 server (moto) and the Lambda Invoke
//! API (cargo-lambda's emulator), on loopback, stopped when dropped. Both come from PyPI
//! into a venv in the cache (`rig/venv`), made once. The tests start the `worker`
//! processes themselves (how many, for which function, and when is what they test).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::tools::python_venv;

/// Pinned: the rig's behaviour is what the tests were written against.
const PACKAGES: &[&str] = &["moto[server]==5.2.5"];
/// A prebuilt wheel; `--no-deps` leaves out the zig package, only used to cross-compile.
const NO_DEPS_PACKAGES: &[&str] = &["cargo-lambda==1.9.2"];

/// The function names the emulator serves: it routes only names that are binaries of the
/// cargo project it runs in, so the rig gives it a manifest of its own naming them.
pub const FUNCTIONS: &[&str] = &["worker", "worker-flaky", "worker-silent"];

pub struct LambdaRig {
    children: Vec<Child>,
    /// The venv's `bin`: its Python has boto3 (a moto dependency), a signed S3 client for
    /// the end-to-end tests' uploads, and cfn-lint (another) checks the deploy template.
    bin: PathBuf,
    dir: PathBuf,
    pub s3: String,
    pub lambda: String,
}

/// Makes the rig's venv (once; the bootstrap calls this) and returns its `bin`.
pub fn install() -> Result<PathBuf> {
    python_venv(
        &crate::tools::cache_dir()?.join("rig/venv"),
        PACKAGES,
        NO_DEPS_PACKAGES,
    )
}

impl LambdaRig {
    pub fn start() -> Result<LambdaRig> {
        let bin = install()?;
        let dir = std::env::temp_dir().join(format!("sketchlake-rig-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src"))?;
        let mut manifest = String::from(
            "[package]\nname = \"sketchlake-rig\"\nversion = \"0.0.0\"\nedition = \"2024\"\n",
        );
        for name in FUNCTIONS {
            manifest.push_str(&format!(
                "\n[[bin]]\nname = \"{name}\"\npath = \"src/main.rs\"\n"
            ));
        }
        std::fs::write(dir.join("Cargo.toml"), manifest)?;
        std::fs::write(dir.join("src/main.rs"), "fn main() {}\n")?;

        let mut rig = LambdaRig {
            children: Vec::new(),
            bin: bin.clone(),
            s3: String::new(),
            lambda: String::new(),
            dir,
        };
        let s3_port = free_port()?;
        rig.spawn(
            Command::new(bin.join("moto_server")).args([
                "-H",
                "127.0.0.1",
                "-p",
                &s3_port.to_string(),
            ]),
            "moto.log",
        )?;
        let lambda_port = free_port()?;
        rig.spawn(
            Command::new(bin.join("cargo-lambda"))
                .args([
                    "lambda",
                    "watch",
                    "--only-lambda-apis",
                    "-A",
                    "127.0.0.1",
                    "-P",
                ])
                .arg(lambda_port.to_string())
                .current_dir(&rig.dir),
            "cargo-lambda.log",
        )?;
        rig.s3 = format!("http://127.0.0.1:{s3_port}");
        rig.lambda = format!("http://127.0.0.1:{lambda_port}");
        wait_for(&rig.s3, "GET", "/", "200")?;
        // The emulator answers 404 for an unknown function once it listens.
        wait_for(
            &rig.lambda,
            "POST",
            "/2015-03-31/functions/__probe__/invocations",
            "404",
        )?;
        println!(
            "==> S3 (moto) on {}, Lambda API (cargo-lambda) on {}",
            rig.s3, rig.lambda
        );
        Ok(rig)
    }

    fn spawn(&mut self, command: &mut Command, log: &str) -> Result<()> {
        let log = std::fs::File::create(self.dir.join(log))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        self.children.push(child);
        Ok(())
    }

    /// What a test process needs to reach the rig: S3 settings as AWS tools read them,
    /// and the Lambda API's address.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.s3.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "sketchlake".into()),
            ("AWS_SECRET_ACCESS_KEY", "sketchlake".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("SKETCHLAKE_TEST_LAMBDA", self.lambda.clone()),
            ("SKETCHLAKE_RIG_PYTHON", self.python().display().to_string()),
        ]
    }

    /// The venv's Python, with boto3.
    pub fn python(&self) -> PathBuf {
        self.bin.join("python")
    }

    pub fn bin(&self) -> &std::path::Path {
        &self.bin
    }
}

impl Drop for LambdaRig {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits (up to 30 s) until `method path` on `base` answers `status`. Plain HTTP/1.0 over
/// a socket: xtask stays std-only.
fn wait_for(base: &str, method: &str, path: &str, status: &str) -> Result<()> {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let answered = std::net::TcpStream::connect(addr).and_then(|mut socket| {
            socket.set_read_timeout(Some(Duration::from_secs(2)))?;
            write!(
                socket,
                "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"
            )?;
            let mut head = [0u8; 12];
            socket.read_exact(&mut head)?;
            Ok(String::from_utf8_lossy(&head[9..12]).into_owned())
        });
        if answered.is_ok_and(|s| s == status) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{base} did not answer {method} {path} with {status} within 30 s")
}
