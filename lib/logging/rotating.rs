//! A log file that rotates by size, as the original's lumberjack did: once the next line
//! would take it past `maxsize`, the file is renamed to `name-<UTC timestamp>.ext` and a new
//! one is started. Gzip and pruning of the rotated files happen on a background thread
//! ([`super::backups`]), so a write costs a size check, and a rename plus an open when it rotates.
//!
//! [`RotatingFile`] is a `std::io::Write` (what `tracing_appender::non_blocking` takes) and a
//! `tracing_subscriber::fmt::MakeWriter` (usable directly by a `fmt` layer).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

use super::backups::{self, Backups};
use crate::config::LogConfig;

/// When a log file rotates and which rotated files are kept.
#[derive(Debug, Clone, PartialEq)]
pub struct RotationPolicy {
    /// Rotate before a write that would take the file past this many bytes; 0 never rotates.
    pub max_bytes: u64,
    /// Remove rotated files older than this; `None` keeps them whatever their age.
    pub max_age: Option<Duration>,
    /// Keep at most this many rotated files; `None` keeps them all.
    pub max_backups: Option<usize>,
    /// Gzip rotated files (`.gz`).
    pub compress: bool,
}

impl RotationPolicy {
    /// The policy of the `log:` block: `maxsize` MB (0 means lumberjack's default, 100),
    /// `max-age` days and `max-backups` files (0 means no limit), `compress`.
    pub fn from_config(log: &LogConfig) -> RotationPolicy {
        let megabytes = if log.maxsize == 0 { 100 } else { log.maxsize };
        RotationPolicy {
            max_bytes: megabytes.saturating_mul(1024 * 1024),
            max_age: (log.max_age > 0)
                .then(|| Duration::from_secs(u64::from(log.max_age) * 86_400)),
            max_backups: (log.max_backups > 0).then_some(log.max_backups as usize),
            compress: log.compress,
        }
    }
}

/// A log file rotated by size. Writes go through a mutex, so one file can be shared by
/// threads; the usual owner is the single `tracing_appender::non_blocking` worker thread.
pub struct RotatingFile {
    /// The live file's path; rotated files are named after it.
    path: PathBuf,
    /// When to rotate and what to keep.
    policy: RotationPolicy,
    /// The open file and its size.
    live: Mutex<Live>,
    /// The thread that gzips and prunes rotated files.
    backups: Backups,
}

/// The file being written.
struct Live {
    /// `None` after a failed open: the next write tries again.
    file: Option<File>,
    /// Bytes in the file (what was there at open plus what we wrote).
    size: u64,
    /// The time in the last backup's name: the next one is later, so names sort by age.
    last_backup: Option<SystemTime>,
}

impl RotatingFile {
    /// Opens (appending) or creates `path` and its directory, and starts its backup thread,
    /// which first tidies the rotated files an earlier run left.
    pub fn open(path: impl Into<PathBuf>, policy: RotationPolicy) -> io::Result<RotatingFile> {
        let path = path.into();
        let (file, size) = open_append(&path)?;
        let backups = Backups::start(&path, &policy)?;
        Ok(RotatingFile {
            path,
            policy,
            live: Mutex::new(Live {
                file: Some(file),
                size,
                last_backup: None,
            }),
            backups,
        })
    }

    /// The live file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The backup thread, for the logging guard to finish at exit.
    pub(crate) fn backups(&self) -> Backups {
        self.backups.clone()
    }

    /// Writes `buf` (a whole log line, as the `fmt` layer and the non-blocking worker hand
    /// them over), rotating first if it would not fit.
    fn write_locked(&self, buf: &[u8]) -> io::Result<usize> {
        let mut live = self.live.lock();
        let max = self.policy.max_bytes;
        if live.file.is_some()
            && max > 0
            && live.size > 0
            && live.size.saturating_add(buf.len() as u64) > max
        {
            self.rotate(&mut live);
        }
        if live.file.is_none() {
            let (file, size) = open_append(&self.path)?;
            (live.file, live.size) = (Some(file), size);
        }
        let Some(file) = live.file.as_mut() else {
            unreachable!("opened above")
        };
        let n = file.write(buf)?;
        live.size += n as u64;
        Ok(n)
    }

    /// Renames the live file to its backup name and starts a new one. If the rename fails
    /// the file is kept (and rotation is tried again on the next write); if the new file
    /// cannot be created the next write tries again.
    fn rotate(&self, live: &mut Live) {
        let now = SystemTime::now();
        let at = live
            .last_backup
            .map_or(now, |last| now.max(last + Duration::from_millis(1)));
        let (backup, at) = backups::backup_name(&self.path, at);
        live.file = None;
        match std::fs::rename(&self.path, &backup) {
            Ok(()) => {
                live.last_backup = Some(at);
                self.backups.tidy_soon();
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {} // removed under us: start afresh
            Err(_) => return, // reopened (appending) by the caller
        }
        if let Ok((file, size)) = open_append(&self.path) {
            (live.file, live.size) = (Some(file), size);
        }
    }
}

/// Opens `path` for appending, creating it and its directory; returns it with its size.
fn open_append(path: &Path) -> io::Result<(File, u64)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

impl Write for &RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_locked(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // One line is one write, so a rotation never splits a line across files.
        let mut rest = buf;
        while !rest.is_empty() {
            match self.write_locked(rest)? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => rest = &rest[n..],
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Writes go straight to the file: nothing is buffered here.
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RotatingFile {
    type Writer = &'a RotatingFile;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl Drop for RotatingFile {
    fn drop(&mut self) {
        // Let a gzip in progress finish rather than leave a partial `.gz` behind.
        self.backups.finish();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("comqtt-rotating-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn policy(max_bytes: u64) -> RotationPolicy {
        RotationPolicy {
            max_bytes,
            max_age: None,
            max_backups: None,
            compress: false,
        }
    }

    /// Lines of 20 bytes: "line 0000 ........\n".
    fn line(i: usize) -> String {
        format!("line {i:04} {}\n", ".".repeat(9))
    }

    /// Writes `count` lines through `RotatingFile::open(log, policy)` and drops it (which
    /// waits for its backup thread).
    fn write_lines(log: &Path, policy: RotationPolicy, count: usize) {
        let mut file = RotatingFile::open(log, policy).unwrap();
        for i in 0..count {
            file.write_all(line(i).as_bytes()).unwrap();
        }
    }

    /// Contents of the backups (decompressed), oldest first.
    fn backup_texts(log: &Path) -> Vec<String> {
        let mut found = backups::list(log).unwrap();
        found.reverse();
        found
            .iter()
            .map(|b| {
                let bytes = std::fs::read(&b.path).unwrap();
                if b.compressed {
                    let mut text = String::new();
                    flate2::read::GzDecoder::new(&bytes[..])
                        .read_to_string(&mut text)
                        .expect("valid gzip");
                    text
                } else {
                    String::from_utf8(bytes).unwrap()
                }
            })
            .collect()
    }

    #[test]
    fn rotates_before_a_line_that_would_pass_max_bytes() {
        let dir = temp_dir("size");
        let log = dir.join("comqtt.log");
        write_lines(&log, policy(100), 12); // 5 lines per file
        let mut texts = backup_texts(&log);
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts.iter().all(|t| t.len() == 100));
        texts.push(std::fs::read_to_string(&log).unwrap());
        assert_eq!(
            texts.concat(),
            (0..12).map(line).collect::<String>(),
            "no line lost, split or reordered"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_existing_file_counts_towards_max_bytes() {
        let dir = temp_dir("existing");
        let log = dir.join("comqtt.log");
        std::fs::write(&log, "x".repeat(90)).unwrap();
        write_lines(&log, policy(100), 1);
        assert_eq!(backup_texts(&log), ["x".repeat(90)]);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), line(0));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keeps_only_the_newest_max_backups() {
        let dir = temp_dir("count");
        let log = dir.join("comqtt.log");
        write_lines(
            &log,
            RotationPolicy {
                max_backups: Some(2),
                ..policy(100)
            },
            30,
        ); // 5 rotations
        let kept = backup_texts(&log);
        assert_eq!(
            kept,
            [
                (15..20).map(line).collect::<String>(),
                (20..25).map(line).collect::<String>()
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rotated_files_are_gzipped_and_decompress_to_what_was_written() {
        let dir = temp_dir("gzip");
        let log = dir.join("comqtt.log");
        write_lines(
            &log,
            RotationPolicy {
                compress: true,
                ..policy(100)
            },
            12,
        );
        let found = backups::list(&log).unwrap();
        assert_eq!(found.len(), 2);
        assert!(
            found
                .iter()
                .all(|b| b.compressed && b.path.to_string_lossy().ends_with(".log.gz")),
            "{found:?}"
        );
        assert_eq!(
            backup_texts(&log),
            [
                (0..5).map(line).collect::<String>(),
                (5..10).map(line).collect::<String>()
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn backups_older_than_max_age_are_removed_at_start() {
        let dir = temp_dir("age");
        let log = dir.join("comqtt.log");
        let old = dir.join("comqtt-2000-01-01T00-00-00.000.log");
        let recent = dir.join(format!(
            "comqtt-{}.log",
            backups::stamp(SystemTime::now() - Duration::from_secs(86_400))
        ));
        let unrelated = dir.join("comqtt-notes.log");
        for f in [&old, &recent, &unrelated] {
            std::fs::write(f, "x").unwrap();
        }
        write_lines(
            &log,
            RotationPolicy {
                max_age: Some(Duration::from_secs(30 * 86_400)),
                ..policy(0)
            },
            1,
        );
        assert!(!old.exists(), "a backup from 2000 is past 30 days");
        assert!(recent.exists() && unrelated.exists() && log.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn max_bytes_zero_never_rotates() {
        let dir = temp_dir("never");
        let log = dir.join("comqtt.log");
        write_lines(&log, policy(0), 50);
        assert!(backups::list(&log).unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(&log).unwrap().len(), 50 * 20);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn cannot_open_under_a_regular_file() {
        let dir = temp_dir("open");
        let blocker = dir.join("not-a-dir");
        std::fs::write(&blocker, "").unwrap();
        assert!(RotatingFile::open(blocker.join("comqtt.log"), policy(100)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn config_sizes_are_megabytes_and_days_with_zero_meaning_the_default_or_no_limit() {
        let log = LogConfig {
            maxsize: 2,
            max_age: 3,
            max_backups: 0,
            compress: true,
            ..LogConfig::default()
        };
        let p = RotationPolicy::from_config(&log);
        assert_eq!(
            p,
            RotationPolicy {
                max_bytes: 2 << 20,
                max_age: Some(Duration::from_secs(3 * 86_400)),
                max_backups: None,
                compress: true
            }
        );
        let p = RotationPolicy::from_config(&LogConfig {
            maxsize: 0,
            max_age: 0,
            max_backups: 4,
            ..LogConfig::default()
        });
        assert_eq!(
            (p.max_bytes, p.max_age, p.max_backups),
            (100 << 20, None, Some(4))
        );
    }
}
