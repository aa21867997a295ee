//! A throwaway Postgres for tests: `initdb` into a temporary directory, `postgres` on a free loopback
//! port (as the `postgres` user when the tests run as root: Postgres refuses root), stopped (and its
//! files removed) on drop. Debian's `postgresql` package provides the binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    stopped: bool,
}

/// The newest `/usr/lib/postgresql/N/bin` (or `pg_ctl` on PATH).
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, p)| p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .expect("PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run does)")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a Postgres binary, as `postgres` when we are root.
fn run(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let exe = bin.join(tool);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl PgServer {
    /// A fresh cluster, running. Blocking (initdb takes about a second).
    pub fn start() -> Self {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("ats-pg-")
            .tempdir()
            .expect("tempdir");
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(
                ok,
                "chown of the Postgres test directory to postgres failed"
            );
        }
        let data = dir.path().join("data");
        let data_s = data.to_string_lossy().into_owned();
        let out = run(
            &bin,
            "initdb",
            &[
                "-D",
                &data_s,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = Self {
            dir,
            bin,
            port: 0,
            stopped: true,
        };
        // The free port may be taken between the probe and the start: try a few.
        for _ in 0..5 {
            server.port = free_port();
            if server.try_start() {
                return server;
            }
        }
        panic!(
            "postgres did not start: {}",
            std::fs::read_to_string(server.dir.path().join("log")).unwrap_or_default()
        );
    }

    fn try_start(&mut self) -> bool {
        let data = self.dir.path().join("data").to_string_lossy().into_owned();
        let log = self.dir.path().join("log").to_string_lossy().into_owned();
        let sock = self.dir.path().to_string_lossy().into_owned();
        let opts = format!(
            "-p {} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port
        );
        let out = run(
            &self.bin,
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-o", &opts, "-w", "-t", "30", "start",
            ],
        );
        self.stopped = !out.status.success();
        out.status.success()
    }

    /// The server's own database (`postgres`).
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    pub fn url_of(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Stops the server (fast shutdown): an outage for the gateway; `restart` brings it back.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        let data = self.dir.path().join("data").to_string_lossy().into_owned();
        let _ = run(
            &self.bin,
            "pg_ctl",
            &["-D", &data, "-m", "fast", "-w", "stop"],
        );
        self.stopped = true;
    }

    /// Starts a stopped server again on the same port and data.
    pub fn restart(&mut self) {
        assert!(self.try_start(), "postgres did not restart");
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if !self.stopped {
            let data = self.dir.path().join("data").to_string_lossy().into_owned();
            let _ = run(
                &self.bin,
                "pg_ctl",
                &["-D", &data, "-m", "immediate", "-w", "stop"],
            );
        }
    }
}
