//! Backups of a rotating log file: their names, their gzip and their pruning.
//!
//! A log file `dir/comqtt.log` rotates to `dir/comqtt-2026-07-21T10-15-30.123.log` (the UTC
//! time of the rotation, lumberjack's layout), gzipped to `…123.log.gz` when `compress` is on.
//! Tidying (gzip, then removing backups beyond `max-backups` or older than `max-age`) runs on
//! one background thread per log file, never on the thread that writes log lines: the writer
//! only asks for a tidy-up ([`Backups::tidy_soon`]) and goes on.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use super::rotating::RotationPolicy;

/// Length of the timestamp in a backup's name: `2026-07-21T10-15-30.123`.
const STAMP_LEN: usize = 23;

/// The background thread that tidies the backups of one log file.
///
/// Cloning shares the thread. [`Backups::finish`] lets it complete the requests already made
/// and waits for it; requests made afterwards are ignored (the next start tidies up).
#[derive(Clone)]
pub(crate) struct Backups {
    /// Shared by the writer and the logging guard, which both may finish it.
    inner: Arc<Inner>,
}

struct Inner {
    /// Wakes the thread; `None` once finished.
    requests: Mutex<Option<mpsc::Sender<()>>>,
    /// Joined by `finish`.
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Backups {
    /// Starts the thread for the backups of `path` and asks it for a first tidy-up, which
    /// compresses and prunes what an earlier run left behind.
    pub(crate) fn start(path: &Path, policy: &RotationPolicy) -> io::Result<Backups> {
        let (tx, rx) = mpsc::channel::<()>();
        let (path, policy) = (path.to_path_buf(), policy.clone());
        let thread = std::thread::Builder::new()
            .name("comqtt-log-backups".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    // Requests made while we were busy are served by this one pass.
                    while rx.try_recv().is_ok() {}
                    tidy(&path, &policy, SystemTime::now());
                }
            })?;
        let backups = Backups {
            inner: Arc::new(Inner {
                requests: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
            }),
        };
        backups.tidy_soon();
        Ok(backups)
    }

    /// Asks for a tidy-up without waiting for it.
    pub(crate) fn tidy_soon(&self) {
        if let Some(tx) = &*self.inner.requests.lock() {
            let _ = tx.send(());
        }
    }

    /// Completes the tidy-ups requested so far and stops the thread.
    pub(crate) fn finish(&self) {
        drop(self.inner.requests.lock().take());
        let thread = self.inner.thread.lock().take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// A rotated file found next to the log file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Backup {
    /// Where it is.
    pub(crate) path: PathBuf,
    /// When it was rotated (from its name).
    pub(crate) rotated_at: SystemTime,
    /// Whether it is gzipped (`.gz`).
    pub(crate) compressed: bool,
}

/// `dir/stem` and `.ext` of a log file: its backups are `dir/stem-<stamp>.ext[.gz]`.
fn stem_and_ext(path: &Path) -> (PathBuf, String) {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (path.with_file_name(stem), ext)
}

/// The name a rotation at `at` gives the log file `path`, and the time in it: the first free
/// one from `at` on, a millisecond later each time. The caller passes an `at` later than its
/// previous rotation's, so names stay unique and sort by time even when several rotations
/// fall within one millisecond and older backups have been removed meanwhile.
pub(crate) fn backup_name(path: &Path, at: SystemTime) -> (PathBuf, SystemTime) {
    let (stem, ext) = stem_and_ext(path);
    let mut at = at;
    loop {
        let candidate = PathBuf::from(format!("{}-{}{ext}", stem.display(), stamp(at)));
        if !candidate.exists() && !gz_path(&candidate).exists() {
            return (candidate, at);
        }
        at += Duration::from_millis(1);
    }
}

/// `file` with `.gz` appended.
fn gz_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

/// The backups of the log file `path`, newest first. Files whose names only look similar
/// (another log file's, no valid timestamp) are not included.
pub(crate) fn list(path: &Path) -> io::Result<Vec<Backup>> {
    let (stem, ext) = stem_and_ext(path);
    let prefix = format!(
        "{}-",
        stem.file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        if rest.len() < STAMP_LEN || !rest.is_char_boundary(STAMP_LEN) {
            continue;
        }
        let (stamp_text, tail) = rest.split_at(STAMP_LEN);
        let compressed = if tail == ext {
            false
        } else if tail.strip_suffix(".gz") == Some(ext.as_str()) {
            true
        } else {
            continue;
        };
        if let Some(rotated_at) = parse_stamp(stamp_text) {
            found.push(Backup {
                path: entry.path(),
                rotated_at,
                compressed,
            });
        }
    }
    found.sort_by(|a, b| {
        b.rotated_at
            .cmp(&a.rotated_at)
            .then(b.compressed.cmp(&a.compressed))
    });
    Ok(found)
}

/// One tidy-up of the backups of `path` at time `now`: remove those beyond `max_backups` and
/// those older than `max_age`, then gzip the rest if `compress` is on. Failures are logged
/// and left for the next tidy-up.
pub(crate) fn tidy(path: &Path, policy: &RotationPolicy, now: SystemTime) {
    let backups = match list(path) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot list log backups");
            return;
        }
    };
    for (i, backup) in backups.iter().enumerate() {
        let too_many = policy.max_backups.is_some_and(|n| i >= n);
        let too_old = policy
            .max_age
            .is_some_and(|age| now.duration_since(backup.rotated_at).is_ok_and(|d| d > age));
        if too_many || too_old {
            if let Err(e) = std::fs::remove_file(&backup.path) {
                tracing::warn!(file = %backup.path.display(), error = %e, "cannot remove an old log backup");
            }
        } else if policy.compress
            && !backup.compressed
            && let Err(e) = gzip(&backup.path)
        {
            tracing::warn!(file = %backup.path.display(), error = %e, "cannot gzip a log backup");
        }
    }
}

/// Compresses `file` to `file.gz` and removes `file`; on failure removes the partial `.gz`.
pub(crate) fn gzip(file: &Path) -> io::Result<PathBuf> {
    let target = gz_path(file);
    let written = (|| {
        let mut input = File::open(file)?;
        let mut encoder = flate2::write::GzEncoder::new(
            BufWriter::new(File::create(&target)?),
            flate2::Compression::default(),
        );
        io::copy(&mut input, &mut encoder)?;
        encoder.finish()?.flush()
    })();
    match written {
        Ok(()) => {
            std::fs::remove_file(file)?;
            Ok(target)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&target);
            Err(e)
        }
    }
}

/// `at` in UTC as `YYYY-MM-DDTHH-MM-SS.mmm` (no `:`, which some file systems refuse).
pub(crate) fn stamp(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}-{:02}-{:02}.{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        since.subsec_millis()
    )
}

/// The inverse of [`stamp`]; `None` for anything else.
pub(crate) fn parse_stamp(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != STAMP_LEN
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b'-'
        || b[16] != b'-'
        || b[19] != b'.'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let digits = &text[range];
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse().ok())
            .flatten()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 || y < 1970
    {
        return None;
    }
    let days = days_from_civil(y as i64, m as u32, d as u32);
    let secs = days as u64 * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms))
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("comqtt-backups-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn stamps_are_utc_and_parse_back() {
        assert_eq!(stamp(UNIX_EPOCH), "1970-01-01T00-00-00.000");
        // 2024-02-29T23:59:58.250Z, a leap day.
        let t = UNIX_EPOCH + Duration::from_millis(1_709_251_198_250);
        assert_eq!(stamp(t), "2024-02-29T23-59-58.250");
        assert_eq!(parse_stamp("2024-02-29T23-59-58.250"), Some(t));
        let now = SystemTime::now();
        let ms = now.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        assert_eq!(
            parse_stamp(&stamp(now)),
            Some(UNIX_EPOCH + Duration::from_millis(ms))
        );
        for bad in [
            "2024-02-29T23:59:58.250",
            "2024-13-01T00-00-00.000",
            "info.log",
            "2024-02-29T23-59-58.25x",
        ] {
            assert_eq!(parse_stamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_this_files_backups_are_listed_newest_first() {
        let dir = temp_dir("list");
        for name in [
            "co-2020-01-01T00-00-00.000.log",
            "co-2021-01-01T00-00-00.000.log.gz",
            "co-info-2022-01-01T00-00-00.000.log", // another file's backup
            "co-2022-01-01T00-00-00.000.txt",
            "co.log",
            "co-notastamp.log",
        ] {
            std::fs::write(dir.join(name), "x").unwrap();
        }
        let found = list(&dir.join("co.log")).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|b| b.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "co-2021-01-01T00-00-00.000.log.gz",
                "co-2020-01-01T00-00-00.000.log"
            ]
        );
        assert!(found[0].compressed && !found[1].compressed);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn backup_names_are_unique_within_a_millisecond() {
        let dir = temp_dir("names");
        let log = dir.join("app.log");
        let at = UNIX_EPOCH + Duration::from_secs(86_400);
        let (first, first_at) = backup_name(&log, at);
        assert_eq!(
            (first.clone(), first_at),
            (dir.join("app-1970-01-02T00-00-00.000.log"), at)
        );
        std::fs::write(gz_path(&first), "").unwrap();
        let (second, second_at) = backup_name(&log, at);
        assert_eq!(second, dir.join("app-1970-01-02T00-00-00.001.log"));
        assert_eq!(second_at, at + Duration::from_millis(1));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
