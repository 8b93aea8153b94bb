//! Numbers as an operator reads them in a narrow column: counts (`12345`, `1.2M`), rates
//! (`0.5`, `950`, `12.3k`), byte sizes in binary units (`512 B`, `1.5 KiB`), durations
//! (`45s`, `12m05s`, `3h12m`, `4d03h`) and UTC times (`2026-05-01 12:00:00Z`).

use std::time::Duration;

/// A count: exact below 100,000, then `k`, `M`, `G` with one decimal.
pub fn count(n: u64) -> String {
    if n < 100_000 {
        n.to_string()
    } else {
        scaled(n as f64, 1000.0, &["", "k", "M", "G", "T", "P"])
    }
}

/// A per-second rate: one decimal below 10, whole numbers below 10,000, then `k`, `M`, `G`.
pub fn rate(r: f64) -> String {
    if !r.is_finite() || r <= 0.0 {
        "0".to_string()
    } else if r < 10.0 {
        let s = format!("{r:.1}");
        s.strip_suffix(".0").map(String::from).unwrap_or(s)
    } else if r < 10_000.0 {
        format!("{r:.0}")
    } else {
        scaled(r, 1000.0, &["", "k", "M", "G", "T", "P"])
    }
}

/// A byte size in binary units: `512 B`, `1.5 KiB`, `12.3 MiB`.
pub fn bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else {
        scaled(
            n as f64,
            1024.0,
            &[" B", " KiB", " MiB", " GiB", " TiB", " PiB"],
        )
    }
}

/// Bytes per second: `512 B/s`, `1.5 KiB/s`.
pub fn bytes_rate(r: f64) -> String {
    if !r.is_finite() || r <= 0.0 {
        "0 B/s".to_string()
    } else {
        format!("{}/s", bytes(r.round() as u64))
    }
}

/// `value` divided by `base` until below it, with one decimal and the unit reached.
fn scaled(mut value: f64, base: f64, units: &[&str]) -> String {
    let mut unit = 0;
    while value >= base && unit + 1 < units.len() {
        value /= base;
        unit += 1;
    }
    // 999.96 would print as "1000.0": carry it to the next unit.
    if format!("{value:.1}").starts_with(&format!("{}", base as u64)) && unit + 1 < units.len() {
        value /= base;
        unit += 1;
    }
    format!("{value:.1}{}", units[unit])
}

/// An uptime or age in seconds: `45s`, `12m05s`, `3h12m`, `4d03h`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// A short interval: `250ms`, `1s`, `2.5s`, `1m`.
pub fn duration_ms(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Unix seconds as a UTC time: `2026-05-01 12:00:00Z`.
pub fn utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) of the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(count(0), "0");
        assert_eq!(count(99_999), "99999");
        assert_eq!(count(123_456), "123.5k");
        assert_eq!(count(12_300_000), "12.3M");
    }

    #[test]
    fn rates() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(0.54), "0.5");
        assert_eq!(rate(3.0), "3");
        assert_eq!(rate(950.4), "950");
        assert_eq!(rate(12_345.0), "12.3k");
        assert_eq!(rate(999_990.0), "1.0M");
        assert_eq!(rate(f64::NAN), "0");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(15 * 1024 * 1024 + 200 * 1024), "15.2 MiB");
        assert_eq!(bytes_rate(2048.0), "2.0 KiB/s");
        assert_eq!(bytes_rate(0.0), "0 B/s");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(725), "12m05s");
        assert_eq!(duration(3 * 3600 + 12 * 60 + 9), "3h12m");
        assert_eq!(duration(4 * 86_400 + 3 * 3600), "4d03h");
        assert_eq!(duration_ms(Duration::from_millis(250)), "250ms");
        assert_eq!(duration_ms(Duration::from_secs(2)), "2s");
        assert_eq!(duration_ms(Duration::from_millis(2500)), "2.5s");
        assert_eq!(duration_ms(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00Z");
        assert_eq!(utc(1_777_636_800), "2026-05-01 12:00:00Z");
    }
}
