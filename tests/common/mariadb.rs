//! A real MariaDB server (Debian package `mariadb-server`) as a child process on a free
//! loopback port, in its own data directory; killed and removed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, run_tool};

/// A running MariaDB with user `root` and no password.
pub struct MariaDb {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl MariaDb {
    /// Creates a data directory, starts the server and waits until it answers.
    pub fn start() -> MariaDb {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("comqtt-mariadb-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mariadb dir");
        let data = dir.join("data");
        let install = Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                &format!("--datadir={}", data.display()),
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .output()
            .expect("mariadb-install-db is required (scripts/test installs mariadb-server)");
        assert!(
            install.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&install.stderr)
        );
        let log = std::fs::File::create(dir.join("server.log")).expect("mariadb log");
        let child = Command::new("mariadbd")
            .args([
                "--no-defaults",
                &format!("--datadir={}", data.display()),
                "--user=root",
                &format!("--port={port}"),
                "--bind-address=127.0.0.1",
                &format!("--socket={}", dir.join("sock").display()),
                &format!("--pid-file={}", dir.join("pid").display()),
                "--skip-log-bin",
                "--innodb-flush-log-at-trx-commit=0",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mariadbd is required (scripts/test installs mariadb-server)");
        let server = MariaDb { port, dir, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if server.try_sql("select 1").is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "MariaDB did not answer on port {port}: {}",
            std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default()
        );
    }

    fn try_sql(&self, sql: &str) -> Result<String, String> {
        let port = self.port.to_string();
        let out = run_tool(
            "mariadb",
            &[
                "--no-defaults",
                "-h",
                "127.0.0.1",
                "-P",
                &port,
                "-u",
                "root",
                "-N",
                "-B",
                "-e",
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

    /// Runs SQL, failing the test on an error.
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("mariadb {sql:?} failed: {e}"))
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
