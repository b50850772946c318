//! Faults the gateway must survive with its answers intact, as a user meets them: a reader
//! that panics part-way through a file; the catalog's PostgreSQL restarted under a serving
//! gateway and under an ingest; the disk full during an ingest. (Faults of the bucket are
//! in `lambda.rs`, beside the S3 server they need; a corrupt or missing index in
//! `workers`' segment tests.)
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `sketchlake query --data DATA Q`, its reader panicking on files whose name contains
/// `panic_on` (debug builds only: `SKETCHLAKE_PANIC_ON`): its answer, and its stderr.
fn query(data: &Path, q: &str, panic_on: &str) -> (serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sketchlake"))
        .args(["query", "--data"])
        .arg(data)
        .arg(q)
        .env("SKETCHLAKE_PANIC_ON", panic_on)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

#[test]
fn a_reader_that_panics_fails_its_file_alone_and_the_query_answers() {
    let logs = common::real("cowrie-honeypot");
    let broken = "cowrie.json.2018-06-18";
    let q = "| stats count(), dc(src_ip)";
    let (whole, _) = query(&logs, q, "");
    let (alone, _) = query(&logs.join(format!("{broken}.gz")), q, "");
    let (answer, stderr) = query(&logs, q, broken);
    assert_eq!(answer["stats"]["failed_files"], 1, "{answer}");
    let failed = &answer["stats"]["errors"][0];
    assert!(
        failed["file"].as_str().unwrap().contains(broken),
        "{failed}"
    );
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("a bug in sketchlake"),
        "{failed}"
    );
    // The rest answers: every other file's events, none of the broken one's (what it
    // read before it panicked is dropped with it).
    let count = |a: &serde_json::Value| a["matched"].as_u64().unwrap();
    assert_eq!(count(&answer), count(&whole) - count(&alone));
    assert!(count(&alone) > 0);
    // Its files read alike: all but the one.
    assert_eq!(answer["stats"]["files"], whole["stats"]["files"]);
    assert!(stderr.contains("a reader panicked"), "{stderr}");
}

/// A fresh database on the tests' PostgreSQL server, and the shell command that restarts
/// that server (`cargo xtask test` passes both).
async fn postgres() -> (String, String) {
    let (Ok(admin), Ok(restart)) = (
        std::env::var("SKETCHLAKE_TEST_POSTGRES"),
        std::env::var("SKETCHLAKE_TEST_POSTGRES_RESTART"),
    ) else {
        panic!(
            "SKETCHLAKE_TEST_POSTGRES(_RESTART) is not set: this test needs the PostgreSQL \
             server `cargo xtask test` starts"
        );
    };
    let name = format!("restarted_{}", std::process::id());
    (common::new_database(&admin, &name).await, restart)
}

fn restart(command: &str) {
    let status = Command::new("sh")
        .args(["-c", command])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{command}");
}

/// `sketchlake ARGS`, as its own process.
fn sketchlake(args: &[&std::ffi::OsStr]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sketchlake"));
    command.args(args);
    command
}

/// How many events `| stats count()` counts in `data` (with the catalog at `catalog`).
fn count(data: &Path, catalog: Option<&str>) -> u64 {
    let mut command = sketchlake(&["query".as_ref(), "--data".as_ref(), data.as_os_str()]);
    if let Some(url) = catalog {
        command.args(["--catalog", url]);
    }
    let out = command.arg("| stats count()").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    answer["matched"].as_u64().unwrap()
}

/// A gateway serving `lake` with its catalog at `catalog`, killed when dropped.
struct Gateway(Child, String);

impl Gateway {
    fn start(lake: &Path, catalog: &str) -> Gateway {
        let mut child = sketchlake(&["serve".as_ref(), "--data".as_ref(), lake.as_os_str()])
            .args(["--catalog", catalog, "--no-auth", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let url = BufReader::new(stdout)
            .lines()
            .map(Result::unwrap)
            .find_map(|l| {
                l.strip_prefix("sketchlake listening on ")
                    .map(str::to_string)
            })
            .unwrap();
        Gateway(child, url)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_restarted_under_an_ingest_and_a_gateway_loses_and_doubles_nothing() {
    let (catalog, restart_command) = postgres().await;
    // Four days of hourly demo files: 96 files, an ingest of some seconds.
    let source = tempfile::tempdir().unwrap();
    let made = sketchlake(&["demo".as_ref(), "--out".as_ref(), source.path().as_os_str()])
        .args(["--records", "600000", "--days", "4"])
        .output()
        .unwrap();
    assert!(made.status.success());
    let expected = count(source.path(), None);
    let lake = tempfile::tempdir().unwrap();
    let ingest = || {
        sketchlake(&[
            "ingest".as_ref(),
            "--data".as_ref(),
            lake.path().as_os_str(),
            "--catalog".as_ref(),
            catalog.as_ref(),
            source.path().as_os_str(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };

    // An ingest with the catalog restarted under it, part-way: it finishes, or fails
    // saying why; run again, it carries on. Every event is then in the lake once.
    let mut running = ingest();
    let segments = lake.path().join(".sketchlake/segments");
    let written = || std::fs::read_dir(&segments).map_or(0, |d| d.count());
    let started = Instant::now();
    while written() < 20 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        running.try_wait().unwrap().is_none(),
        "the ingest ended before the restart: give it more to do"
    );
    restart(&restart_command);
    let first = running.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&first.stderr).into_owned();
    eprintln!(
        "the ingest under the restart: {}",
        if first.status.success() {
            "finished".to_string()
        } else {
            format!("failed: {}", said.trim())
        }
    );
    if !first.status.success() {
        assert!(
            said.contains("catalog") || said.contains("database") || said.contains("connection"),
            "the ingest failed without saying why clearly: {said}"
        );
        let again = ingest().wait_with_output().unwrap();
        assert!(
            again.status.success(),
            "{}",
            String::from_utf8_lossy(&again.stderr)
        );
    }
    assert_eq!(count(lake.path(), Some(&catalog)), expected, "{said}");

    // Queries asked of a gateway while its catalog restarts: each answers whole, or is
    // refused clearly; none hangs; and once the catalog is back, all answer.
    let gateway = Gateway::start(lake.path(), &catalog);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let url = gateway.1.clone();
    let ask = move || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client
                .post(format!("{url}/api/v1/query"))
                .json(&serde_json::json!({ "q": "| stats count()" }))
                .send()
                .await
                .expect("an answer, not a hang");
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let asking = tokio::spawn({
        let ask = ask.clone();
        async move {
            let mut seen = Vec::new();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(6) {
                seen.push(ask().await);
            }
            seen
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    tokio::task::spawn_blocking(move || restart(&restart_command))
        .await
        .unwrap();
    let seen = asking.await.unwrap();
    let (mut answered, mut refused) = (0, 0);
    for (status, body) in &seen {
        match status {
            200 => {
                assert_eq!(body["matched"].as_u64(), Some(expected), "{body}");
                answered += 1;
            }
            _ => {
                assert!(body["error"].is_string(), "{status}: {body}");
                refused += 1;
            }
        }
    }
    assert!(answered > 0, "{seen:?}");
    eprintln!("during the restart: {answered} answered whole, {refused} refused clearly");
    let (status, body) = ask().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["matched"].as_u64(), Some(expected));
}

/// Runs `script` with `sh` in a mount namespace of its own (`unshare`), where it may mount
/// a small tmpfs; returns its stdout.
fn in_mount_namespace(script: &str, env: &[(&str, &std::ffi::OsStr)]) -> String {
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-ec", script])
        .envs(env.iter().copied())
        .output()
        .expect("this test needs `unshare` (util-linux) to mount a small disk");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_full_disk_fails_the_ingest_clearly_and_the_lake_answers_as_before() {
    let logs = common::real("cowrie-honeypot");
    let first = tempfile::tempdir().unwrap();
    for day in ["05-06", "05-07", "05-08"] {
        let name = format!("cowrie.json.2018-{day}.gz");
        std::fs::copy(logs.join(&name), first.path().join(&name)).unwrap();
    }
    let big = logs.join("cowrie.json.2018-06-18.gz");
    let lake = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    // The lake on a 2 MiB disk: the first files ingest; the disk is then filled to 32 KiB
    // short of full (a hidden folder, which no sync reads), and a large file's ingest
    // meets the full disk. Then, with room made, it ingests.
    let script = r#"
        mount -t tmpfs -o size=2m tmpfs "$LAKE"
        "$BIN" ingest --data "$LAKE" "$FIRST" 2>/dev/null
        "$BIN" query --data "$LAKE" '| stats count() by eventid' > "$OUT/before.json"
        mkdir "$LAKE/.filler"
        free=$(df -k --output=avail "$LAKE" | tail -1)
        dd if=/dev/zero of="$LAKE/.filler/zeros" bs=1k count=$((free - 32)) 2>/dev/null
        if "$BIN" ingest --data "$LAKE" "$BIG" 2> "$OUT/full.err"; then
            echo "the ingest did not fail on a full disk" >&2; exit 1
        fi
        "$BIN" query --data "$LAKE" '| stats count() by eventid' > "$OUT/after.json"
        rm -r "$LAKE/.filler"
        "$BIN" ingest --data "$LAKE" "$BIG" 2>/dev/null
        "$BIN" query --data "$LAKE" '| stats count()' > "$OUT/room.json"
    "#;
    in_mount_namespace(
        script,
        &[
            ("BIN", env!("CARGO_BIN_EXE_sketchlake").as_ref()),
            ("LAKE", lake.path().as_os_str()),
            ("FIRST", first.path().as_os_str()),
            ("BIG", big.as_os_str()),
            ("OUT", out.path().as_os_str()),
        ],
    );
    let read = |name: &str| -> serde_json::Value {
        let mut answer: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.path().join(name)).unwrap()).unwrap();
        answer.as_object_mut().unwrap().remove("elapsed_ms");
        answer
    };
    let said = std::fs::read_to_string(out.path().join("full.err")).unwrap();
    assert!(said.contains("No space left on device"), "{said}");
    assert_eq!(read("before.json"), read("after.json"));
    let expected = count(first.path(), None) + count(&big, None);
    assert_eq!(read("room.json")["matched"].as_u64(), Some(expected));
}
