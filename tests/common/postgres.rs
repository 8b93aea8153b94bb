//! A real PostgreSQL server (Debian package) as a child process on a free loopback port, in
//! its own data directory; stopped and removed when dropped. `initdb` refuses to run as
//! root, so the server runs as the `postgres` user (created by the package).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{free_port, run_tool};

/// A running PostgreSQL cluster with trust authentication for user `postgres`.
pub struct Postgres {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

/// The newest `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is required (scripts/test installs the postgresql package)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("no /usr/lib/postgresql/<version>/bin/initdb (scripts/test installs postgresql)")
}

fn as_postgres(command: &str) -> std::process::Output {
    Command::new("su")
        .args(["postgres", "-s", "/bin/sh", "-c", command])
        .output()
        .expect("su postgres")
}

impl Postgres {
    /// Creates a cluster in a fresh directory and starts it; waits until it answers.
    pub fn start() -> Postgres {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("comqtt-pg-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("postgres dir");
        let chown = Command::new("chown")
            .args(["-R", "postgres:postgres", dir.to_str().unwrap_or_default()])
            .status()
            .expect("chown");
        assert!(chown.success(), "chown of {}", dir.display());
        let bin = bin_dir();
        let d = dir.display();
        let out = as_postgres(&format!(
            "{}/initdb -D {d}/data -A trust -U postgres --no-sync -E UTF8",
            bin.display()
        ));
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = as_postgres(&format!(
            "{}/pg_ctl -D {d}/data -o \"-p {port} -k {d} -h 127.0.0.1 -c fsync=off\" -l {d}/pg.log -w start",
            bin.display()
        ));
        let server = Postgres { port, dir, bin };
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(server.dir.join("pg.log")).unwrap_or_default()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if server.try_psql("postgres", "select 1").is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("PostgreSQL did not answer on port {port}");
    }

    fn try_psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let port = self.port.to_string();
        let out = run_tool(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-c",
                sql,
            ],
            Duration::from_secs(20),
        );
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        }
    }

    /// Runs SQL in database `db`, failing the test on an error.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.try_psql(db, sql)
            .unwrap_or_else(|e| panic!("psql {sql:?} failed: {e}"))
    }

    /// Stops the server at once (a datasource that went away).
    pub fn stop(&self) {
        let _ = as_postgres(&format!(
            "{}/pg_ctl -D {}/data -m immediate -w stop",
            self.bin.display(),
            self.dir.display()
        ));
    }

    /// Starts it again after [`Postgres::stop`].
    pub fn restart(&self) {
        let d = self.dir.display();
        let out = as_postgres(&format!(
            "{}/pg_ctl -D {d}/data -o \"-p {} -k {d} -h 127.0.0.1 -c fsync=off\" -l {d}/pg.log -w start",
            self.bin.display(),
            self.port
        ));
        assert!(out.status.success(), "pg_ctl restart failed");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
