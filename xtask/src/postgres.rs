//! A throwaway PostgreSQL server on loopback for the catalog tests: a fresh cluster in a
//! temporary folder, on a free port, stopped and deleted when dropped. PostgreSQL refuses
//! to run as root, so as root it runs as the `postgres` user Debian's package creates.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cmd::Cmd;

pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
    /// `postgres://…` for the tests.
    pub url: String,
}

/// The newest installed server's binaries (`/usr/lib/postgresql/<major>/bin`).
pub fn server_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").is_file().then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

impl Postgres {
    pub fn start() -> Result<Postgres> {
        let bin = server_bin().context("no PostgreSQL server under /usr/lib/postgresql")?;
        let as_postgres = crate::tools::is_root();
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        // Not under the user's cache: the `postgres` user must be able to reach it.
        let dir = std::env::temp_dir().join(format!("sketchlake-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        if as_postgres {
            Cmd::new("chown").arg("postgres").arg(&dir).run()?;
        }
        let server = Postgres {
            url: format!("postgres://sketchlake@127.0.0.1:{port}/postgres"),
            bin,
            dir,
            as_postgres,
        };
        server
            .cmd("initdb")
            .arg("-D")
            .arg(server.dir.join("data"))
            .args([
                "-U",
                "sketchlake",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .run()?;
        server
            .cmd("pg_ctl")
            .arg("-D")
            .arg(server.dir.join("data"))
            .arg("-l")
            .arg(server.dir.join("log"))
            .args(["-w", "-o"])
            .arg(format!(
                "-k {} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off",
                server.dir.display()
            ))
            .arg("start")
            .run()?;
        println!("==> PostgreSQL on 127.0.0.1:{port}");
        Ok(server)
    }

    /// A shell command that restarts the server (fast: sessions are cut), for the tests
    /// of a catalog restarted under a gateway and an ingest.
    pub fn restart_command(&self) -> String {
        let user = if self.as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        };
        format!(
            "{user}'{}' -D '{}' -l '{}' -m fast -w restart",
            self.bin.join("pg_ctl").display(),
            self.dir.join("data").display(),
            self.dir.join("log").display()
        )
    }

    fn cmd(&self, program: &str) -> Cmd {
        let program = self.bin.join(program);
        if self.as_postgres {
            Cmd::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(program)
        } else {
            Cmd::new(program)
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let stopped = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .run();
        if let Err(e) = stopped {
            eprintln!("xtask: could not stop PostgreSQL: {e:#}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
