//! A fresh directory for one test's files (config, logs, data), removed on drop unless the
//! test failed (then it is kept for a look).

use std::path::PathBuf;

use super::free_port;

/// A directory under the system's temp dir, unique to this process and test.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory named after `what`.
    pub fn new(what: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "comqtt-{what}-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a temp dir");
        TempDir(dir)
    }

    /// The path of `name` in it.
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    /// A file in it with `text`; returns its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).expect("writing a temp file");
        path
    }

    /// The text of file `name` in it.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// The names in it, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("reading a temp dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// One file under the system's temp dir, removed on drop unless the test failed.
pub struct TempFile(PathBuf);

impl TempFile {
    /// Writes `text` to a file named after `what`, unique to this process.
    pub fn new(what: &str, text: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "comqtt-{what}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::write(&path, text).expect("writing a temp file");
        TempFile(path)
    }
}

impl std::ops::Deref for TempFile {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}
